"""A neutral card with inputs (the intake form, an action's form) as a Slack modal.

The command the form submits and its control data ride in ``private_metadata``, with how many
times the form has been redrawn in place (its block ids' suffix, adapters/slack/inputs.py).
"""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from adapters.slack.blocks import body_blocks, control_of, fit, within
from adapters.slack.inputs import input_blocks
from dialogs import texts
from dialogs.cards import Card, CardAction

CALLBACK_ID = "escalation-form"
MAX_MODAL_BLOCKS = 100


def submit_action(card: Card) -> CardAction | None:
    return next((a for a in card.actions if a.submits_inputs), None)


def modal(card: Card, notice: str = "", redraw: int = 0) -> dict[str, Any]:
    """The card's inputs as a modal that submits its one submitting button; ``redraw``: how
    many times this form has been drawn again in place."""
    action = submit_action(card)
    verb, data = (action.command, action.data) if action else ("", {})
    control = control_of(card)
    metadata = json.dumps({"v": verb, "d": {**control, **data}, "n": redraw},
                          separators=(",", ":"))
    shown = card.model_copy(update={"text": notice or card.text}) if notice else card
    inputs: list[Block] = [b for f in card.inputs for b in input_blocks(f, control, redraw)]
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


def _metadata(raw: Any) -> dict[str, Any] | None:
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def read_metadata(raw: Any) -> tuple[str, dict[str, str]] | None:
    """(verb, control data) of a modal the bot opened; None for anything else."""
    parsed = _metadata(raw)
    if parsed is None or not isinstance(parsed.get("v"), str):
        return None
    data = parsed.get("d")
    if not isinstance(data, dict):
        return None
    return parsed["v"], {str(k): str(v) for k, v in data.items()}


def redraws_of(view: dict[str, Any]) -> int:
    parsed = _metadata(view.get("private_metadata")) or {}
    count = parsed.get("n")
    return count if isinstance(count, int) and 0 <= count < 10_000 else 0
