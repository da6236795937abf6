"""The App Home tab: the person's open cases, what is due from them, an Open button each (the
status card, drawn whenever the tab is opened, leaving any half-finished conversation alone)."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.blocks import message_blocks, mrkdwn
from adapters.slack.turns import SlackTurns
from dialogs import texts


async def publish_home(turns: SlackTurns, client: AsyncWebClient, event: dict[str, Any]) -> None:
    if event.get("tab") != "home":
        return
    user = str(event.get("user") or "")
    actor = await turns.actor(user)
    if actor is None:
        blocks = [{"type": "section", "text": {"type": "mrkdwn",
                                                "text": mrkdwn(texts.SLACK_HOME_NOT_KNOWN)}}]
    else:
        replies = await asyncio.to_thread(turns.conversation.status, actor)
        blocks = []
        for reply in replies:
            if reply.card is not None:
                blocks += message_blocks(reply.card)
            elif reply.text:
                blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                           "text": mrkdwn(reply.text)}})
    await client.views_publish(user_id=user, view={"type": "home", "blocks": blocks})
