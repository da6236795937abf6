"""Slack messages from the outbox: a person's in their direct messages with the app, an alert
as a post in a ``slack:<channel id>`` channel (never with buttons: a case is not run where a
whole channel reads it; the engine has already kept the child's details out of it).

Delivery is at-least-once, so the ts of each message sent is kept under its notification key:
sent again after a crash, the same message is redrawn (``chat.update``) rather than posted twice.
After a person's message is posted, the case's other copies are redrawn in its new state.
"""

from __future__ import annotations

import asyncio

import aiohttp
from slack_sdk.errors import SlackApiError, SlackObjectFormationError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.blocks import fallback_text, message_blocks
from adapters.slack.copies import SlackCopies
from adapters.slack.identity import SlackPeople
from dialogs import texts
from dialogs.cards import Card
from dialogs.notifications import Notification, RecipientKind
from dialogs.ports import DeliveryFailed, Store

CHANNEL_PREFIX = "slack:"
SENT = "slack-sent"  # store: notification key -> "channel ts"
LATER = {"ratelimited", "service_unavailable", "fatal_error", "internal_error", "request_timeout"}


class SlackNotifier:
    def __init__(
        self, client: AsyncWebClient, store: Store, people: SlackPeople, copies: SlackCopies
    ) -> None:
        self.client, self.store, self.people, self.copies = client, store, people, copies

    async def deliver(self, notification: Notification) -> None:
        recipient = notification.recipient
        try:
            if recipient.kind is RecipientKind.CHANNEL:
                channel = recipient.address.removeprefix(CHANNEL_PREFIX)
                await self._post(notification, channel, notification.card, with_buttons=False)
                return
            user = await self.people.user_for(recipient.address)
            if user is None:
                raise DeliveryFailed("Slack has no user with this email address", True)
            card = notification.card
            if notification.documents:
                note = texts.SLACK_FILE_NOT_SENT.format(
                    reference=notification.reference or notification.documents[0].case_reference
                )
                text = "\n\n".join(filter(None, [card.text, note]))
                card = card.model_copy(update={"text": text})
            channel, ts = await self._post(notification, user, card, with_buttons=True)
            await self.copies.remember(
                notification.case_id, recipient.address, channel, ts, card.case_version
            )
            await self.copies.refresh(notification.case_id, skip_ts=ts)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or exc.response.status_code)
            raise DeliveryFailed(f"Slack refused ({error})", error not in LATER) from exc
        except SlackObjectFormationError as exc:  # the card does not fit Slack's limits
            raise DeliveryFailed(f"message does not fit Slack's limits: {exc}", True) from exc
        except (TimeoutError, OSError, aiohttp.ClientError) as exc:  # after the client's retries
            raise DeliveryFailed(f"Slack unreachable: {type(exc).__name__}", False) from exc

    async def _post(
        self, notification: Notification, channel: str, card: Card, with_buttons: bool
    ) -> tuple[str, str]:
        blocks = message_blocks(card, with_buttons=with_buttons)
        text = fallback_text(card)
        earlier = await asyncio.to_thread(self.store.conversation_reference, SENT, notification.key)
        if earlier:
            sent_channel, ts = earlier.split(" ", 1)
            await self.client.chat_update(channel=sent_channel, ts=ts, text=text, blocks=blocks)
            return sent_channel, ts
        answer = await self.client.chat_postMessage(channel=channel, text=text, blocks=blocks)
        sent_channel, ts = str(answer.get("channel") or channel), str(answer.get("ts") or "")
        await asyncio.to_thread(
            self.store.save_conversation_reference, SENT, notification.key, f"{sent_channel} {ts}"
        )
        return sent_channel, ts
