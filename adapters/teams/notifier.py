"""Proactive Teams messages: to a person (their stored 1:1 chat, or a new one) or to a channel.

A person the bot has no 1:1 chat with is reached by creating one with their AAD object id in
*their own* tenant: the tenant seen on their own activities, else the configured
MicrosoftAppTenantId; and through that tenant's service reference, kept from the activities of
the directory's people in it. With no tenant or no service reference known the delivery waits
(retried), rather than going through someone else's. Teams answers 403 when the app is not
installed for that person: that is a permanent failure, which the scheduler records on the case
and reports to the business team, so nothing is silently lost.

Delivery is at-least-once (a crash between Teams taking a message and the outbox marking it sent
repeats it), so every message carries an activity id derived from its notification key: a repeat
has the same id as the first copy. botbuilder clears outgoing ids, so the connector client is
called directly. Teams assigns its own ids and documents no de-duplication on ours: in Teams a
repeat can still show twice (see README, "Children's data").

A message to a person that files forms is followed by a FileConsentCard per form (files.py);
without a renderer, or when a form cannot be drawn, the card itself says how to get the form.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from botbuilder.core import BotAdapter, CardFactory, MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    Attachment,
    ChannelAccount,
    ConversationParameters,
    ConversationReference,
)

from adapters.teams.activity import reference_json, service_key
from adapters.teams.bot import CHANNELS, PLATFORM, TENANTS
from adapters.teams.cards import adaptive_card
from adapters.teams.files import TeamsFiles
from dialogs import texts
from dialogs.notifications import Notification, RecipientKind
from dialogs.ports import DeliveryFailed, Store

CHANNEL_PREFIX = "teams:"
log = logging.getLogger("escalation_bot.teams")


def activity_id(notification_key: str) -> str:
    """The same notification always gets the same id. A digest rather than the key itself, which
    names the recipient's address and the case."""
    return "escalation-" + hashlib.sha256(notification_key.encode()).hexdigest()[:32]


async def post_with_id(
    turn_context: TurnContext,
    card: dict[str, Any] | Attachment,
    notification_key: str,
    *,
    alert: bool = False,
) -> None:
    """Send ``card`` (an Adaptive Card, or any other attachment) into the turn's conversation
    under our own activity id, as ``TurnContext.send_activity`` would, except that it (and
    CloudAdapter.send_activities) sets every outgoing ``id`` to None. ``alert``: an urgent
    message (immediate risk) also raises a Teams notification in the person's activity feed
    (``channelData.notification.alert``), not only a new message in the chat."""
    attachment = card if isinstance(card, Attachment) else CardFactory.adaptive_card(card)
    message: Activity = MessageFactory.attachment(attachment)
    reference = TurnContext.get_conversation_reference(turn_context.activity)
    message = TurnContext.apply_conversation_reference(message, reference)
    message.input_hint = message.input_hint or "acceptingInput"
    message.id = activity_id(notification_key)
    if alert:
        message.channel_data = {**(message.channel_data or {}), "notification": {"alert": True}}
    client = turn_context.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
    conversation_id = message.conversation.id
    if message.reply_to_id:
        await client.conversations.reply_to_activity(conversation_id, message.reply_to_id, message)
    else:
        await client.conversations.send_to_conversation(conversation_id, message)


def _status(error: Exception) -> int | None:
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    return int(status) if isinstance(status, int) else None


class TeamsNotifier:
    def __init__(
        self,
        adapter: CloudAdapter,
        app_id: str,
        store: Store,
        aad_for_email: Callable[[str], str | None],
        tenant_id: str = "",
        files: TeamsFiles | None = None,
    ) -> None:
        self.adapter, self.app_id, self.store = adapter, app_id, store
        self.aad_for_email = aad_for_email
        self.tenant_id = tenant_id  # MicrosoftAppTenantId, if configured
        self.files = files  # None: no renderer, so forms are not sent as files

    async def _messages(
        self, notification: Notification, refresh_for: list[str] | None = None
    ) -> list[tuple[dict[str, Any] | Attachment, str]]:
        """The card, then a FileConsentCard per form and format, each with its own stable id.
        Where the forms cannot be sent as files the card says how to get them instead."""
        card = notification.card
        consents: list[Attachment] = []
        if notification.documents and notification.recipient.kind is RecipientKind.PERSON:
            if self.files is not None:
                try:
                    consents = await self.files.consent_cards(notification)
                except Exception as exc:  # a form that cannot be drawn (a font missing)
                    log.warning("teams form not offered as a file: %s", type(exc).__name__)
            if not consents:
                reference = notification.reference or notification.documents[0].case_reference
                note = texts.TEAMS_FILE_NOT_SENT.format(reference=reference)
                text = "\n\n".join(filter(None, [card.text, note]))
                card = card.model_copy(update={"text": text})
        messages: list[tuple[dict[str, Any] | Attachment, str]] = [
            (adaptive_card(card, refresh_for), notification.key)
        ]
        messages += [
            (consent, f"{notification.key}:file:{index}") for index, consent in enumerate(consents)
        ]
        return messages

    async def deliver(self, notification: Notification) -> None:
        recipient = notification.recipient
        if recipient.kind is RecipientKind.CHANNEL:
            channel_id = recipient.address.removeprefix(CHANNEL_PREFIX)
            raw = self.store.conversation_reference(CHANNELS, channel_id)
            if not raw:
                raise DeliveryFailed(f"the bot is not installed in channel {channel_id}", True)
            await self._send(_reference(raw), notification, refresh_for=[])
            return
        aad = self.aad_for_email(recipient.address)
        if not aad:
            raise DeliveryFailed("this person has no Teams account in the directory", True)
        raw = self.store.conversation_reference(PLATFORM, aad)
        if raw:
            reference = _reference(raw)
            user_id = reference.user.id if reference.user else ""
            await self._send(reference, notification, refresh_for=[user_id] if user_id else [])
            return
        await self._create_and_send(aad, notification)

    async def _send(
        self, reference: ConversationReference, notification: Notification, refresh_for: list[str]
    ) -> None:
        messages = await self._messages(notification, refresh_for)
        errors: list[Exception] = []

        async def send(turn_context: TurnContext) -> None:
            # caught here: an exception escaping would reach the adapter's on_turn_error, which
            # apologises into the chat and swallows it, and the message would count as sent
            try:
                for card, key in messages:
                    await post_with_id(turn_context, card, key, alert=notification.urgent)
            except Exception as exc:
                errors.append(exc)

        try:
            await self.adapter.continue_conversation(reference, send, self.app_id)
        except Exception as exc:
            raise _failure(exc) from exc
        if errors:
            raise _failure(errors[0]) from errors[0]

    async def _create_and_send(self, aad: str, notification: Notification) -> None:
        tenant = self.store.conversation_reference(TENANTS, aad) or self.tenant_id
        if not tenant:
            raise DeliveryFailed(
                "no Teams tenant known for this person: they have not messaged the bot and"
                " MicrosoftAppTenantId is not set",
                False,
            )
        raw = self.store.conversation_reference(PLATFORM, service_key(tenant))
        if not raw:
            raise DeliveryFailed(
                f"no Teams service URL known yet for tenant {tenant}: nobody in the directory"
                " has messaged the bot from it",
                False,
            )
        seen = _reference(raw)
        parameters = ConversationParameters(
            is_group=False,
            bot=seen.bot,
            members=[ChannelAccount(id=aad, aad_object_id=aad)],
            tenant_id=tenant,
            channel_data={"tenant": {"id": tenant}},
        )
        messages = await self._messages(notification)
        store = self.store
        errors: list[Exception] = []

        async def send(turn_context: TurnContext) -> None:
            try:
                for card, key in messages:
                    await post_with_id(turn_context, card, key, alert=notification.urgent)
            except Exception as exc:
                errors.append(exc)
                return
            # only a chat that worked is remembered for next time
            store.save_conversation_reference(PLATFORM, aad, reference_json(turn_context.activity))

        try:
            await self.adapter.create_conversation(
                self.app_id, send, parameters, seen.channel_id or "msteams", seen.service_url
            )
        except Exception as exc:
            raise _failure(exc) from exc
        if errors:
            raise _failure(errors[0]) from errors[0]


def _reference(raw: str) -> ConversationReference:
    return ConversationReference().deserialize(json.loads(raw))


def _failure(error: Exception) -> DeliveryFailed:
    status = _status(error)
    if status == 403:
        return DeliveryFailed("Teams refused (403): the app is not installed for them", True)
    if status is not None and 400 <= status < 500 and status != 429:
        return DeliveryFailed(f"Teams refused ({status})", True)
    if status is not None:  # 429, 5xx: Teams is there but unwell; it may pass
        return DeliveryFailed(f"Teams answered {status} ({type(error).__name__})", False)
    return DeliveryFailed(f"Teams unreachable: {type(error).__name__}", False)
