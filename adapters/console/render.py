"""Neutral cards as plain text: the console's whole adapter, and a readable log for the demo."""

from __future__ import annotations

from dialogs import texts
from dialogs.cards import Card, CardInput, InputKind
from dialogs.notifications import Notification, RecipientKind


def render_card(card: Card, indent: str = "  ") -> str:
    lines = [f"{indent}** {card.title} **"]
    if card.text:
        lines.append(f"{indent}{card.text}")
    for fact in card.facts:
        lines.append(f"{indent}{fact.label}: {fact.value}")
    for heading, items in card.sections:
        lines.append(f"{indent}{heading}:")
        lines.extend(f"{indent}  - {item}" for item in items)
    for block in card.record:  # a terminal has room: every stage, none folded
        lines.append(f"{indent}{block.title}")
        lines.extend(f"{indent}  {line}" for line in block.lines)
    for note in card.notes:  # the procedure's reading: folded ones by title only
        if note.collapsed:
            lines.append(f"{indent}▸ {note.title} ({len(note.lines)})")
            continue
        lines.append(f"{indent}{note.title}")
        lines.extend(f"{indent}  {line}" for line in note.lines)
    for field in card.inputs:
        lines.extend(_input_lines(field, indent))
    if card.actions:
        lines.append(indent + " ".join(f"[{a.label}]" for a in card.actions))
    return "\n".join(lines)


def _input_lines(field: CardInput, indent: str) -> list[str]:
    """An input as a line; repeating rows as a heading per row with its inputs under it."""
    error = f"  <- {field.error}" if field.error else ""
    if field.kind is InputKind.ROWS:
        lines = [f"{indent}{field.label}:{error}"]
        for row in field.rows:
            lines.append(f"{indent}  {row.title}")
            for part in row.inputs:
                lines.extend(_input_lines(part, indent + "    "))
            if row.remove is not None:
                lines.append(f"{indent}    [{row.remove.label}]")
        if field.add is not None:
            lines.append(f"{indent}  [{field.add.label}]")
        return lines
    kind = "" if field.kind is InputKind.TEXT else f" ({field.kind.value})"
    return [f"{indent}[ ] {field.label}{kind}{error}"]


def render_notification(note: Notification) -> str:
    where = {
        RecipientKind.PERSON: "1:1 to",
        RecipientKind.CHANNEL: "channel",
        RecipientKind.MAILBOX: "mailbox",
    }[note.recipient.kind]
    mark = f" {texts.URGENT_MARK}" if note.urgent else ""
    return f"-> {where} {note.recipient.address}{mark}\n{render_card(note.card)}"


class ConsoleNotifier:
    """Prints each delivery; ``sink`` collects the text so the demo and tests can read it back."""

    def __init__(self, echo: bool = True) -> None:
        self.echo = echo
        self.sink: list[Notification] = []

    async def deliver(self, notification: Notification) -> None:
        self.sink.append(notification)
        if self.echo:
            print(render_notification(notification), flush=True)
