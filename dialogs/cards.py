"""A platform-neutral card: what the person should see and may do, not how a client draws it.

Teams renders it as an Adaptive Card, Slack as Block Kit, the console as text. Every action carries
the case id and the version it was drawn from, so a stale or second click is recognised.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class InputKind(StrEnum):
    TEXT = "text"
    LONG_TEXT = "long_text"
    DATE = "date"
    CHOICE = "choice"
    MULTI_CHOICE = "multi_choice"
    BOOLEAN = "boolean"
    PERSON = "person"
    ACTIONS = "actions"  # agreed actions as one text, a line each (cards now use ROWS)
    NUMBER = "number"
    ROWS = "rows"  # repeating rows of the same few inputs: ``CardInput.rows``


class Neutral(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Fact(Neutral):
    label: str
    value: str


class CardAction(Neutral):
    """A button. ``command`` names the engine command it issues; ``data`` its fixed arguments."""

    command: str
    label: str
    style: str = "default"
    data: dict[str, str] = Field(default_factory=dict)
    submits_inputs: bool = False
    checks_inputs: bool = Field(
        default=True,
        description="False: the inputs go as they stand, needed ones empty too. An edit of the"
        " card (add a row), not its sending; the bot checks them when the card is sent",
    )


class CardInput(Neutral):
    id: str
    label: str
    kind: InputKind = InputKind.TEXT
    required: bool = False
    choices: list[tuple[str, str]] = Field(default_factory=list)
    value: str = ""
    error: str = ""
    help: str = ""
    rows: list[InputRow] = Field(
        default_factory=list,
        description="ROWS only: each row's own inputs, drawn stacked under its title (a phone"
        " has no room for columns)",
    )
    add: CardAction | None = Field(
        default=None, description="ROWS only: the button that draws the card with one more row"
    )

    def texts(self) -> list[str]:
        parts = [f"{self.label} {self.value} {self.help}"]
        for row in self.rows:
            parts.append(row.title)
            parts += [text for field in row.inputs for text in field.texts()]
            parts += [row.remove.label] if row.remove else []
        parts += [self.add.label] if self.add else []
        return parts


class InputRow(Neutral):
    """One row of a repeating input ("Action 2"): its inputs, and a button that takes it out."""

    title: str
    inputs: list[CardInput]
    remove: CardAction | None = None


class RecordBlock(Neutral):
    """One stage of a case's written record. On a phone only the stage that matters now is
    open; earlier ones are folded behind their title (Teams: Action.ToggleVisibility)."""

    title: str
    lines: list[str]
    collapsed: bool = False


class Card(Neutral):
    title: str
    text: str = ""
    facts: list[Fact] = Field(default_factory=list)
    sections: list[tuple[str, list[str]]] = Field(
        default_factory=list, description="Headed bullet lists: principles, questions, tools"
    )
    inputs: list[CardInput] = Field(default_factory=list)
    actions: list[CardAction] = Field(default_factory=list)
    record: list[RecordBlock] = Field(
        default_factory=list, description="The record so far, a block per stage (1:1 only)"
    )
    notes: list[RecordBlock] = Field(
        default_factory=list,
        description="What the procedure says about the record: where it is kept, its"
        " principles (folded: reading, not news)",
    )
    case_id: str | None = None
    case_version: int | None = None

    def all_text(self) -> str:
        """Every visible string, for the guard that keeps child data out of channels."""
        parts = [self.title, self.text]
        parts += [f"{f.label} {f.value}" for f in self.facts]
        for heading, items in self.sections:
            parts.append(heading)
            parts.extend(items)
        parts += [text for field in self.inputs for text in field.texts()]
        parts += [a.label for a in self.actions]
        for block in [*self.record, *self.notes]:
            parts.append(block.title)
            parts.extend(block.lines)
        return "\n".join(parts)


CardInput.model_rebuild()
