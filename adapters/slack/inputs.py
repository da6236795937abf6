"""A card's inputs as a modal's input blocks, and a submitted modal's state back as the strings
a Teams card would have sent (dates as YYYY-MM-DD, several choices comma-joined).

Each input's block id is its field id, so the engine's errors go back on the right field. A
form redrawn in place (a row added or removed) gets a new suffix on every block id: Slack keeps
what was typed into a block id it has seen, whatever the new view says, so without one a removed
row's text would stay in the row that took its place.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ContextBlock,
    DatePickerElement,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    StaticMultiSelectElement,
    StaticSelectElement,
)
from slack_sdk.models.blocks.block_elements import InputInteractiveElement

from adapters.slack.blocks import button, fit, mrkdwn
from dialogs.cards import Card, CardInput, InputKind

VALUE = "value"  # every input's action_id
OPTION_TEXT = 75
SUFFIX = "~"


def block_id(field_id: str, redraw: int) -> str:
    return field_id if not redraw else f"{field_id}{SUFFIX}{redraw}"


def _options(choices: list[tuple[str, str]]) -> list[Option]:
    return [Option(value=value, text=fit(label, OPTION_TEXT)) for value, label in choices]


def _element(field: CardInput) -> InputInteractiveElement:
    kind, value = field.kind, field.value
    if kind in {InputKind.CHOICE, InputKind.BOOLEAN}:
        options = _options(field.choices or [("yes", "Yes"), ("no", "No")])
        chosen = next((o for o in options if o.value == value), None)
        if kind is InputKind.BOOLEAN:
            return RadioButtonsElement(action_id=VALUE, options=options, initial_option=chosen)
        return StaticSelectElement(action_id=VALUE, options=options, initial_option=chosen)
    if kind is InputKind.MULTI_CHOICE:
        options = _options(field.choices)
        wanted = set(value.split(",")) if value else set()
        initial = [o for o in options if o.value in wanted] or None
        return StaticMultiSelectElement(action_id=VALUE, options=options, initial_options=initial)
    if kind is InputKind.DATE:
        iso = value if len(value) == 10 and value[4] == "-" else None  # anything else: retyped
        return DatePickerElement(action_id=VALUE, initial_date=iso)
    if kind is InputKind.NUMBER:
        return NumberInputElement(action_id=VALUE, is_decimal_allowed=False, min_value="0",
                                  initial_value=value or None)
    multiline = kind in {InputKind.LONG_TEXT, InputKind.ACTIONS}
    placeholder = "One per line: what; who; DD/MM/YYYY" if kind is InputKind.ACTIONS else None
    if kind is InputKind.PERSON:
        placeholder = "their.name@agency"
    return PlainTextInputElement(action_id=VALUE, multiline=multiline, placeholder=placeholder,
                                 initial_value=value or None)


def _note(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=fit(mrkdwn(text), 3000))])


def input_blocks(field: CardInput, control: dict[str, str], redraw: int) -> list[Block]:
    """One field's blocks: an input, or for repeating rows a heading, each row's inputs under
    its title with its Remove button, and an Add button."""
    if field.kind is not InputKind.ROWS:
        hint = field.error or field.help or None
        return [InputBlock(block_id=block_id(field.id, redraw), label=fit(field.label, 2000),
                           element=_element(field), optional=not field.required,
                           hint=fit(hint, 2000) if hint else None)]
    blocks: list[Block] = [_note(f"**{field.label}**")]
    blocks += [_note(line) for line in (field.error, field.help) if line]
    for number, row in enumerate(field.rows, start=1):
        blocks.append(_note(f"**{row.title}**"))
        for part in row.inputs:
            blocks += input_blocks(part, control, redraw)
        if row.remove is not None:
            blocks.append(ActionsBlock(elements=[button(row.remove, control, f"row:{number}")]))
    if field.add is not None:
        blocks.append(ActionsBlock(elements=[button(field.add, control, "row:add")]))
    return blocks


def _one(element: dict[str, Any]) -> str:
    if "selected_option" in element:
        return str((element["selected_option"] or {}).get("value") or "")
    if "selected_options" in element:
        return ",".join(str(o.get("value") or "") for o in element["selected_options"] or [])
    if "selected_date" in element:
        return str(element["selected_date"] or "")
    return str(element.get("value") or "")


def values_of(view: dict[str, Any]) -> dict[str, str]:
    """The submitted fields by id, as text."""
    state = ((view.get("state") or {}).get("values")) or {}
    values: dict[str, str] = {}
    for key, elements in state.items():
        if isinstance(elements, dict) and isinstance(elements.get(VALUE), dict):
            values[str(key).split(SUFFIX, 1)[0]] = _one(elements[VALUE])
    return values


def _fields(inputs: list[CardInput]) -> list[CardInput]:
    out: list[CardInput] = []
    for field in inputs:
        out.append(field)
        out += _fields([part for row in field.rows for part in row.inputs])
    return out


def field_errors(card: Card, redraw: int) -> dict[str, str]:
    """The engine's errors on the redrawn form, by the submitted view's block ids. A whole
    rows field's error goes on its first input (Slack shows errors only on input blocks)."""
    errors: dict[str, str] = {}
    for field in _fields(card.inputs):
        if not field.error:
            continue
        if field.kind is InputKind.ROWS:
            first = next((p for row in field.rows for p in row.inputs), None)
            if first is not None:
                key = block_id(first.id, redraw)
                errors[key] = " ".join(filter(None, [field.error, errors.get(key, "")]))
        else:
            errors[block_id(field.id, redraw)] = field.error
    return errors
