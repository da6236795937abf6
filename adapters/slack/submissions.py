"""A submitted modal: read before the ack, because Slack takes the form's errors (or the form
drawn again) only in the ack itself; what it led to is sent after, as any other reply."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.inputs import field_errors, values_of
from adapters.slack.modals import modal, read_metadata, redraws_of
from adapters.slack.turns import SlackTurns, plain
from dialogs.conversation import Reply


async def submission(
    turns: SlackTurns, body: dict[str, Any]
) -> tuple[dict[str, Any], list[Reply], str, str]:
    """Before the ack (Slack wants errors in it): what to answer, and what to send after.
    Returns (ack arguments, replies to send, the submitter's Slack id, their directory email or
    "" for a stranger)."""
    view = body.get("view") or {}
    user = str((body.get("user") or {}).get("id") or "")
    found = read_metadata(view.get("private_metadata"))
    if found is None:
        raise ValueError("a modal the bot never opened")
    actor, stranger = await turns.who(user)
    if actor is None:
        return {}, stranger, user, ""
    verb, data = found
    values = {k: plain(v) for k, v in values_of(view).items()}
    result = await asyncio.to_thread(turns.conversation.on_action, actor, verb, data, values)
    redraw = redraws_of(view)
    errors = field_errors(result.card, redraw)
    if errors:
        return {"response_action": "errors", "errors": errors}, [], user, actor
    if result.card.inputs:  # the form again, with a line that is about no one field
        update = modal(result.card, notice=result.message, redraw=redraw + 1)
        return {"response_action": "update", "view": update}, [], user, actor
    return {}, [Reply(card=result.card)], user, actor


async def after_submission(
    turns: SlackTurns, client: AsyncWebClient, replies: list[Reply], user: str, actor: str
) -> None:
    if not replies:
        return
    await turns.say(client, user, actor, replies)
    turns.after_turn()
