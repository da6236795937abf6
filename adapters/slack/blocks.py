"""Neutral cards as Block Kit, built with slack_sdk.models so Slack's limits (characters per
text, fields per section, blocks per message) are checked here, before anything is sent, rather
than found out as an ``invalid_blocks`` answer.

Each button's ``value`` carries its command and the card's control data (case id, version,
step), so a click arrives with what the Teams card would have sent and a stale click is caught
by the version, as in Teams.
"""

from __future__ import annotations

import json
import re
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from dialogs import texts
from dialogs.cards import Card, CardAction

ACTION_PREFIX = "esc:"
MAX_BLOCKS = 50  # a message; a modal or the App Home tab allows 100
SECTION_TEXT = 3000
HEADER_TEXT = 150
BUTTON_TEXT = 75
BUTTONS_PER_ROW = 25
STYLES = {"positive": "primary", "destructive": "danger"}


def fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mrkdwn(text: str) -> str:
    """Our texts are written with **bold**; Slack's mrkdwn bolds with one star and reads
    <, > and & as markup."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"\*\*(.+?)\*\*", r"*\1*", escaped)


def _sections(text: str) -> list[Block]:
    """Long text in as many sections as it takes, split on line ends where it can be."""
    blocks: list[Block] = []
    text = mrkdwn(text)
    while text:
        cut = len(text) if len(text) <= SECTION_TEXT else text.rfind("\n", 0, SECTION_TEXT)
        cut = cut if cut > 0 else SECTION_TEXT
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text[:cut])))
        text = text[cut:].lstrip("\n")
    return blocks


def control_of(card: Card) -> dict[str, str]:
    control: dict[str, str] = {}
    if card.case_id is not None:
        control["case_id"] = card.case_id
    if card.case_version is not None:
        control["version"] = str(card.case_version)
    return control


def button_value(verb: str, data: dict[str, str]) -> str:
    return json.dumps({"v": verb, "d": data}, separators=(",", ":"))


def read_button_value(raw: Any) -> tuple[str, dict[str, str]] | None:
    """(verb, data) from a button's value; None for anything our buttons never send."""
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("v"), str) or not parsed["v"]:
        return None
    data = parsed.get("d")
    if not isinstance(data, dict):
        return None
    return parsed["v"], {str(k): str(v) for k, v in data.items()}


def button(action: CardAction, control: dict[str, str], index: int | str) -> ButtonElement:
    return ButtonElement(
        text=fit(action.label, BUTTON_TEXT),
        action_id=f"{ACTION_PREFIX}{index}",
        value=button_value(action.command, {**control, **action.data}),
        style=STYLES.get(action.style),
    )


def body_blocks(card: Card) -> list[Block]:
    """Everything a card shows but its inputs and buttons."""
    blocks: list[Block] = [HeaderBlock(text=fit(card.title, HEADER_TEXT))]
    if card.text:
        blocks += _sections(card.text)
    if card.facts:
        blocks += _sections("\n".join(f"**{f.label}**: {f.value}" for f in card.facts))
    for heading, items in card.sections:
        blocks += _sections(f"**{heading}**\n" + "\n".join(f"• {item}" for item in items))
    for block in [*card.record, *card.notes]:
        lines = "\n".join(block.lines)
        if block.collapsed:  # Slack cannot fold a block away: earlier stages in small print
            blocks.append(ContextBlock(elements=[MarkdownTextObject(
                text=fit(mrkdwn(f"**{block.title}**\n{lines}"), SECTION_TEXT))]))
        else:
            blocks += _sections(f"**{block.title}**\n{lines}")
    return blocks


def message_blocks(card: Card, with_buttons: bool = True) -> list[dict[str, Any]]:
    """A card as a message's blocks. ``with_buttons`` False: a channel post, where no case is
    ever run. Raises SlackObjectFormationError when Slack would refuse the message."""
    blocks = body_blocks(card)
    control = control_of(card)
    buttons = [button(a, control, i) for i, a in enumerate(card.actions)] if with_buttons else []
    for start in range(0, len(buttons), BUTTONS_PER_ROW):
        blocks.append(ActionsBlock(elements=list(buttons[start : start + BUTTONS_PER_ROW])))
    return [block.to_dict() for block in within(blocks, MAX_BLOCKS, keep_last=len(buttons))]


def within(blocks: list[Block], limit: int, keep_last: int) -> list[Block]:
    """At most ``limit`` blocks: the first ones (title, what to do, immediate-risk guidance)
    and the last ``keep_last`` (buttons, a form's inputs) are kept; what goes is from the
    middle (the oldest of the record), with a line saying where the rest is."""
    if len(blocks) <= limit:
        return blocks
    tail = blocks[len(blocks) - keep_last :] if keep_last else []
    head = blocks[: limit - len(tail) - 1]
    note = ContextBlock(elements=[MarkdownTextObject(text=mrkdwn(texts.SLACK_CUT_SHORT))])
    return [*head, note, *tail]


def fallback_text(card: Card) -> str:
    """What a notification or a screen reader shows when blocks are not drawn."""
    return fit(card.title, HEADER_TEXT)
