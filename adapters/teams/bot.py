"""The Teams bot: turns activities into calls on the conversation service and draws the answers.

No business rules live here. The bot remembers, from authenticated activities of people in the
directory only: their 1:1 chat (to message them later), their tenant, and that tenant's service
reference (to open a new 1:1 chat with someone else in the same tenant). Channel references are
kept only for the channels the configuration names as alert destinations. A stranger's message
changes nothing the bot will later send through.

A sender whose Entra ID object id the directory does not hold yet is looked up once in their 1:1
chat (``TeamsInfo.get_member``: the Bot Connector's member record, fetched with the bot's own
credentials, so the sender cannot choose what it says) and matched by its email or sign-in name;
a match binds the account to that person in the store (dialogs.people.Directory.learn).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Collection
from functools import partial
from typing import Any, TypeVar

from botbuilder.core import (
    ActivityHandler,
    CardFactory,
    InvokeResponse,
    MessageFactory,
    TurnContext,
)
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema import Activity, ActivityTypes
from botbuilder.schema.teams import TeamsChannelAccount

from adapters.teams.activity import (
    ReferenceJson,
    card_action,
    channel_id_of,
    service_key,
    tenant_of,
    without_bot_mention,
)
from adapters.teams.cards import adaptive_card, split_action_data
from adapters.teams.files import FILE_CONSENT, FileConsent
from dialogs import texts
from dialogs.conversation import ActionResult, ConversationService, Reply
from dialogs.people import Directory
from dialogs.ports import Store
from dialogs.reach import TEAMS

log = logging.getLogger("escalation_bot.teams")

PLATFORM = "teams"  # a person's 1:1 chat, by AAD object id; and each tenant's service reference
TENANTS = "teams-tenant"  # a person's tenant, as seen on their own activities, by AAD object id
CHANNELS = "teams-channel"  # an alert channel's reference, by channel id
CARD_ACTION = "adaptiveCard/action"
ACTOR = "escalation.actor"  # turn state: the sender's directory email, or None
MEMBER = "escalation.member"  # turn state: a stranger's member record, if Teams gave one
REPLIES = "escalation.replies"  # turn state: the answer to a typed message, worked out already
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"

T = TypeVar("T")


class ReplyFailed(Exception):
    """The connector did not take one of the bot's answers (unreachable, or it refused)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TeamsBot(ActivityHandler):
    def __init__(
        self,
        conversation: ConversationService,
        store: Store,
        email_for_aad: Callable[[str], str | None],
        after_turn: Callable[[], None] = lambda: None,
        alert_channels: Collection[str] = frozenset(),
        file_consent: FileConsent | None = None,
        directory: Directory | None = None,
    ) -> None:
        self.conversation = conversation
        self.directory = directory  # None: only accounts the directory already holds
        self._people = directory or Directory(store)
        self._reference_json = ReferenceJson()
        self.store = store
        self.email_for_aad = email_for_aad
        self.after_turn = after_turn
        self.alert_channels = frozenset(alert_channels)
        self.file_consent = file_consent  # None: forms are not sent as files

    async def _sync(self, fn: Callable[..., T], *args: Any) -> T:
        """The engine and store are synchronous: keep them off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(None, partial(fn, *args))

    async def on_turn(self, turn_context: TurnContext) -> None:
        # the adapter calls this only once the request is authenticated (a valid Bot Framework
        # token, or in no-credential mode the route's loopback checks)
        activity = turn_context.activity
        actor, look_up, replies = await self._sync(self._arrive_and_answer, activity, None)
        if look_up:
            sender = activity.from_property
            member = await self._member(turn_context, sender.id) if sender and sender.id else None
            if member is not None:
                turn_context.turn_state[MEMBER] = member
                addresses = [member.email or "", member.user_principal_name or ""]
                actor, _, replies = await self._sync(self._arrive_and_answer, activity, addresses)
        turn_context.turn_state[ACTOR] = actor
        if replies is not None:
            turn_context.turn_state[REPLIES] = replies
        await super().on_turn(turn_context)
        self.after_turn()

    def _arrive_and_answer(
        self, activity: Activity, addresses: list[str] | None
    ) -> tuple[str | None, bool, list[Reply] | None]:
        """``_arrive``, then for a typed message in a 1:1 chat from someone in the directory its
        answer too: a turn's store and engine work in one thread-pool hand-off."""
        actor, look_up = self._arrive(activity, addresses)
        if actor is None or activity.type != ActivityTypes.message or _submitted(activity):
            return actor, look_up, None
        conversation = activity.conversation
        if conversation is not None and conversation.conversation_type not in (None, "personal"):
            return actor, look_up, None
        return actor, look_up, self.conversation.on_text(actor, without_bot_mention(activity))

    def _arrive(
        self, activity: Activity, addresses: list[str] | None
    ) -> tuple[str | None, bool]:
        """Who sent the activity, and what it tells the bot about them, written in one store
        write (Store.save_arrival) and only where it differs from what is stored: a person's
        next turn from the same chat writes nothing. One thread-pool hand-off for it all.

        The sender is their directory email: from the account the store holds, else (in a 1:1
        chat) matched among ``addresses``, the member record Teams gives for them. Returns the
        email (None for a stranger) and whether that member record should be fetched first
        (``addresses`` None, the account unknown): then nothing is written yet."""
        references: list[tuple[str, str, str]] = []
        conversation = activity.conversation
        kind = (conversation.conversation_type or "personal") if conversation else ""
        if kind == "channel":
            channel = channel_id_of(activity)
            if channel in self.alert_channels:
                reference = TurnContext.get_conversation_reference(activity)
                if reference.conversation is not None:
                    reference.conversation.id = channel  # post alerts as new threads
                reference.activity_id = None
                references.append((CHANNELS, channel, json.dumps(reference.serialize())))
        sender = activity.from_property
        # ids kept lower-case: GUIDs in either case
        aad = (sender.aad_object_id or "").lower() if sender is not None else ""
        actor = self.email_for_aad(aad) if aad else None
        identity: tuple[str, str, str] | None = None
        if actor is None and aad and kind == "personal" and self.directory is not None:
            if addresses is None and sender is not None and sender.id:
                return None, True  # ask Teams who this is, then come back
            actor = self.directory.match(TEAMS, aad, addresses or [])
            if actor is not None:
                identity = (TEAMS, actor, aad)
        last: tuple[str, str] | None = None
        if actor is not None:
            # only people in the directory: a stranger changes nothing the bot sends through
            tenant = tenant_of(activity)
            if conversation is not None and (kind == "personal" or tenant):
                reference_ = self._reference_json(aad, activity)
                if kind == "personal":
                    references.append((PLATFORM, aad, reference_))
                if tenant:
                    references.append((TENANTS, aad, tenant))
                    references.append((PLATFORM, service_key(tenant), reference_))
            if activity.type in (ActivityTypes.message, ActivityTypes.invoke):
                # what is sent to them goes to the platform they used last (dialogs.reach)
                last = self._people.use_to_save(actor, TEAMS)
        changed = [
            (platform, key, value)
            for platform, key, value in references
            if self.store.conversation_reference(platform, key) != value
        ]
        self.store.save_arrival(changed, identity, last)
        return actor, False

    async def _member(self, turn_context: TurnContext, user_id: str) -> TeamsChannelAccount | None:
        try:
            member: TeamsChannelAccount = await TeamsInfo.get_member(turn_context, user_id)
        except Exception as exc:  # not found, connector down, no credentials: stays unknown
            log.warning("teams member lookup failed: %s", type(exc).__name__)
            return None
        return member

    async def _unknown(self, turn_context: TurnContext) -> list[Reply]:
        member = turn_context.turn_state.get(MEMBER)
        email = (member.email or member.user_principal_name or "") if member else ""
        name = (member.name or "") if member else ""
        return await self._sync(self.conversation.unknown, TEAMS, email or None, name)

    def _actor(self, turn_context: TurnContext) -> str | None:
        actor: str | None = turn_context.turn_state.get(ACTOR)
        return actor

    def _refresh_for(self, turn_context: TurnContext) -> list[str]:
        sender = turn_context.activity.from_property
        return [sender.id] if sender and sender.id else []

    async def _say(self, turn_context: TurnContext, activity: Activity | str) -> None:
        try:
            await turn_context.send_activity(activity)
        except Exception as exc:  # msrest, aiohttp and the connector's own errors alike
            raise ReplyFailed(type(exc).__name__) from exc

    async def _send(self, turn_context: TurnContext, replies: list[Reply]) -> None:
        for reply in replies:
            if reply.card is not None:
                card = adaptive_card(reply.card, self._refresh_for(turn_context))
                activity = MessageFactory.attachment(CardFactory.adaptive_card(card))
                activity.text = reply.text or None
                await self._say(turn_context, activity)
            elif reply.text:
                await self._say(turn_context, reply.text)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        conversation = turn_context.activity.conversation
        if conversation is not None and conversation.conversation_type not in (None, "personal"):
            # Cases carry a child's details: never run one where a whole team or group can read it
            await self._say(turn_context, texts.TEAMS_GROUP_REFUSAL)
            return
        actor = self._actor(turn_context)
        if actor is None:
            await self._send(turn_context, await self._unknown(turn_context))
            return
        value = turn_context.activity.value
        if _submitted(turn_context.activity):
            # Action.Submit from an older client
            data = {k: v for k, v in value.items() if k != "verb"}
            result = await self._action(
                actor, value["verb"], data, turn_context.activity.id or ""
            )
            await self._send(turn_context, [Reply(text=result.message, card=result.card)])
            return
        replies: list[Reply] | None = turn_context.turn_state.get(REPLIES)
        if replies is None:  # answered in on_turn's hand-off, unless a handler came another way
            text = without_bot_mention(turn_context.activity)
            replies = await self._sync(self.conversation.on_text, actor, text)
        await self._send(turn_context, replies)

    async def _action(
        self, actor: str, verb: str, data: dict[str, Any], request_id: str
    ) -> ActionResult:
        """``request_id`` is Teams' activity id: the same activity sent twice raises one case."""
        control, values = split_action_data(data)
        return await self._sync(
            self.conversation.on_action, actor, verb, control, values, request_id
        )

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        activity = turn_context.activity
        if activity.name == FILE_CONSENT and self.file_consent is not None:
            # Allow or Decline on a form's FileConsentCard (adapters/teams/files.py)
            return await self.file_consent.on_invoke(turn_context)
        if activity.name != CARD_ACTION:
            # the SDK answers 501 to invokes nobody handles; the bot takes only card actions
            # (and file consents)
            return _refusal("unsupported invoke")
        found = card_action(activity.value)
        if found is None:
            return _refusal("malformed card action")
        conversation = activity.conversation
        if conversation is not None and conversation.conversation_type not in (None, "personal"):
            # the answer replaces the card for everyone in a team or group: never a case there
            return _message_response(texts.TEAMS_GROUP_REFUSAL)
        actor = self._actor(turn_context)
        if actor is None:
            replies = await self._unknown(turn_context)
            return _message_response("\n\n".join(r.text for r in replies if r.text))
        result = await self._action(actor, *found, activity.id or "")
        card = adaptive_card(result.card, self._refresh_for(turn_context))
        return InvokeResponse(
            status=200, body={"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": card}
        )

    async def on_members_added_activity(
        self, members_added: list[Any], turn_context: TurnContext
    ) -> None:
        recipient = turn_context.activity.recipient
        for member in members_added:
            if member is not None and (recipient is None or member.id != recipient.id):
                await self._say(turn_context, texts.TEAMS_WELCOME)


def _submitted(activity: Activity) -> bool:
    """A message carrying an Action.Submit's values (an older client's card click)."""
    value = activity.value
    return isinstance(value, dict) and isinstance(value.get("verb"), str) and bool(value["verb"])


def _refusal(reason: str) -> InvokeResponse:
    log.warning("teams request refused", extra={"status": 400, "reason": reason})
    return InvokeResponse(status=400, body={"error": reason})


def _message_response(text: str) -> InvokeResponse:
    return InvokeResponse(
        status=200,
        body={
            "statusCode": 200,
            "type": "application/vnd.microsoft.activity.message",
            "value": text,
        },
    )


__all__ = ["ActivityTypes", "TeamsBot"]
