"""Reading Teams activities: the parts botbuilder reads wrongly or not at all (the tenant, the
channel, the bot's @mention) and the shape of a card action. Pure functions of an activity."""

from __future__ import annotations

import json
import threading
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ConversationReference


def without_bot_mention(activity: Activity) -> str:
    """The message's text without the bot's @mention. botbuilder's ``remove_recipient_mention``
    raises on a malformed mention entity (no type, no ``mentioned``, no recipient) and reads the
    mentioned name as a regular expression; this reads only well-formed mentions, literally."""
    text = activity.text if isinstance(activity.text, str) else ""
    bot_id = activity.recipient.id if activity.recipient is not None else None
    for entity in activity.entities or []:
        kind = getattr(entity, "type", None)  # a null in the list deserialises as None
        if not (isinstance(kind, str) and kind.lower() == "mention"):
            continue
        fields = getattr(entity, "additional_properties", None) or {}
        mentioned, mention_text = fields.get("mentioned"), fields.get("text")
        if (
            bot_id
            and isinstance(mentioned, dict)
            and mentioned.get("id") == bot_id
            and isinstance(mention_text, str)
            and mention_text
        ):
            text = text.replace(mention_text, "")
    return text.strip()


def card_action(value: Any) -> tuple[str, dict[str, Any]] | None:
    """The verb and data of an Action.Execute invoke's value; None if it is malformed."""
    action = value.get("action") if isinstance(value, dict) else None
    if not isinstance(action, dict):
        return None
    verb, data = action.get("verb"), action.get("data", {})
    if not isinstance(verb, str) or not verb or not isinstance(data, dict | None):
        return None
    return verb, data or {}


def tenant_of(activity: Activity) -> str:
    """The activity's tenant, where Teams sends it: ``channelData.tenant.id``, else the
    conversation's ``tenantId``. botbuilder reads only ``conversation.tenantID`` (capital D), which
    Teams never sends, so its own ``conversation.tenant_id`` is empty for every Teams activity."""
    data = activity.channel_data
    if isinstance(data, dict):
        tenant = data.get("tenant")
        if isinstance(tenant, dict) and isinstance(tenant.get("id"), str) and tenant["id"]:
            return str(tenant["id"])
    conversation = activity.conversation
    if conversation is None:
        return ""
    extra = getattr(conversation, "additional_properties", None) or {}
    for raw in (conversation.tenant_id, extra.get("tenantId")):
        if isinstance(raw, str) and raw:
            return raw
    return ""


def service_key(tenant: str) -> str:
    """Where a tenant's service reference (service URL, bot account, tenant) is kept, to open new
    1:1 chats in that tenant. (Older databases kept one ``_service`` for all: it is ignored.)"""
    return f"_service:{tenant}"


def channel_id_of(activity: Activity) -> str:
    """The channel a channel activity came from, without the thread (``;messageid=``) part."""
    data = activity.channel_data
    channel = data.get("channel") if isinstance(data, dict) else None
    if isinstance(channel, dict) and isinstance(channel.get("id"), str) and channel["id"]:
        return str(channel["id"])
    conversation_id = activity.conversation.id if activity.conversation else None
    return (conversation_id or "").split(";", 1)[0]


def _reference(activity: Activity) -> ConversationReference:
    reference = TurnContext.get_conversation_reference(activity)  # copies of the accounts
    reference.activity_id = None
    if reference.conversation is not None and not reference.conversation.tenant_id:
        reference.conversation.tenant_id = tenant_of(activity) or None
    return reference


def reference_json(activity: Activity) -> str:
    """The activity's conversation reference, its tenant filled in (see ``tenant_of``), without
    the activity's own id: a proactive message replies to nothing (the SDK's continuation gets
    a fresh id), and without it a person's next message from the same chat gives the same
    reference, so the bot writes nothing."""
    return json.dumps(_reference(activity).serialize())


MAX_REMEMBERED = 10_000  # people, each with their latest reference: a bound, not a working set


class ReferenceJson:
    """``reference_json`` for every turn, without serialising the same reference again: msrest's
    serialiser costs ~0.3 ms, comparing the reference's parts with the last one's ~5 us. Keyed by
    the sender; the store is still read and compared each turn (another replica may have saved
    another chat since)."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[tuple[Any, ...], str]] = {}
        self._lock = threading.Lock()

    def __call__(self, sender: str, activity: Activity) -> str:
        reference = _reference(activity)
        key = (reference.user, reference.bot, reference.conversation, reference.channel_id,
               reference.locale, reference.service_url)
        with self._lock:
            last = self._last.get(sender)
        if last is not None and last[0] == key:
            return last[1]
        made = json.dumps(reference.serialize())
        with self._lock:
            if len(self._last) >= MAX_REMEMBERED and sender not in self._last:
                self._last.pop(next(iter(self._last)))
            self._last[sender] = (key, made)
        return made
