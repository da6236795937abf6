"""A neutral card with inputs (the intake form, an action's form) as a Slack modal, and a
submitted modal's values back as the strings a Teams card would have sent.

Each input is a block whose ``block_id`` is the field's id, so the engine's own validation
errors go back inline on the right field (``response_action: errors``). The command the form
submits and its control data ride in ``private_metadata``.
"""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    DatePickerElement,
    InputBlock,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    StaticMultiSelectElement,
    StaticSelectElement,
)
from slack_sdk.models.blocks.block_elements import InputInteractiveElement
from slack_sdk.models.views import View

from adapters.slack.blocks import body_blocks, control_of, fit, within
from dialogs import texts
from dialogs.cards import Card, CardAction, CardInput, InputKind

CALLBACK_ID = "escalation-form"
VALUE = "value"  # every input's action_id
MAX_MODAL_BLOCKS = 100
OPTION_TEXT = 75


def submit_action(card: Card) -> CardAction | None:
    return next((a for a in card.actions if a.submits_inputs), None)


def _options(choices: list[tuple[str, str]]) -> list[Option]:
    return [Option(value=value, text=fit(label, OPTION_TEXT)) for value, label in choices]


def _element(field: CardInput) -> InputInteractiveElement:
    kind, value = field.kind, field.value
    if kind in {InputKind.CHOICE, InputKind.BOOLEAN}:
        choices = field.choices or [("yes", "Yes"), ("no", "No")]
        options = _options(choices)
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


def _input_block(field: CardInput) -> InputBlock:
    hint = field.error or field.help or None
    return InputBlock(block_id=field.id, label=fit(field.label, 2000), element=_element(field),
                      optional=not field.required, hint=fit(hint, 2000) if hint else None)


def modal(card: Card, notice: str = "") -> dict[str, Any]:
    """The card's inputs as a modal that submits its one submitting button."""
    action = submit_action(card)
    verb, data = (action.command, action.data) if action else ("", {})
    metadata = json.dumps({"v": verb, "d": {**control_of(card), **data}}, separators=(",", ":"))
    shown = card.model_copy(update={"text": notice or card.text}) if notice else card
    inputs: list[Block] = [_input_block(f) for f in card.inputs]
    blocks = within([*body_blocks(shown), *inputs], MAX_MODAL_BLOCKS, keep_last=len(inputs))
    view = View(
        type="modal",
        callback_id=CALLBACK_ID,
        title=texts.SLACK_MODAL_TITLE,
        submit=fit(action.label, 24) if action else None,
        close=texts.SLACK_MODAL_CLOSE,
        private_metadata=metadata,
        blocks=blocks,
    )
    return view.to_dict()


def read_metadata(raw: Any) -> tuple[str, dict[str, str]] | None:
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("v"), str):
        return None
    data = parsed.get("d")
    return (parsed["v"], {str(k): str(v) for k, v in data.items()}) if isinstance(data, dict) \
        else None


def _one(element: dict[str, Any]) -> str:
    if "selected_option" in element:
        return str((element["selected_option"] or {}).get("value") or "")
    if "selected_options" in element:
        return ",".join(str(o.get("value") or "") for o in element["selected_options"] or [])
    if "selected_date" in element:
        return str(element["selected_date"] or "")
    return str(element.get("value") or "")


def values_of(view: dict[str, Any]) -> dict[str, str]:
    """The submitted fields by id, as text: dates as YYYY-MM-DD, several choices comma-joined,
    as Teams sends them."""
    state = ((view.get("state") or {}).get("values")) or {}
    values: dict[str, str] = {}
    for block_id, elements in state.items():
        if isinstance(elements, dict) and isinstance(elements.get(VALUE), dict):
            values[str(block_id)] = _one(elements[VALUE])
    return values


def field_errors(card: Card) -> dict[str, str]:
    """The errors the engine put on the redrawn form, by block id."""
    return {f.id: f.error for f in card.inputs if f.error}
