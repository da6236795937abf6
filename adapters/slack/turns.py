"""What a slash command, a button, a modal or a direct message becomes: a call on the same
ConversationService Teams uses, and its answer drawn in Slack. Nothing here decides who may do
what: the conversation service and the engine do, for both platforms alike.

Every answer about a case goes to the person's direct messages with the app, whichever
channel the command was typed in; forms open as modals, which only their opener sees.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.blocks import fallback_text, message_blocks, mrkdwn, read_button_value
from adapters.slack.copies import SlackCopies
from adapters.slack.identity import SlackPeople, SlackUser
from adapters.slack.inputs import values_of
from adapters.slack.modals import CALLBACK_ID, modal, redraws_of, submit_action
from dialogs import texts
from dialogs.conversation import REFRESH_VERB, ConversationService, Reply
from dialogs.ports import Store
from dialogs.reach import SLACK

_LINK = re.compile(r"<(?:mailto:)?([^|>]+)\|([^>]*)>|<(?:mailto:)?([^|>]+)>")


def plain(text: str) -> str:
    """What the person typed: Slack sends an email as <mailto:a@b|a@b> and escapes &, <, >."""
    def unlinked(found: re.Match[str]) -> str:
        return found.group(2) if found.group(1) else found.group(3)

    return html.unescape(_LINK.sub(unlinked, text))


class SlackTurns:
    def __init__(
        self,
        conversation: ConversationService,
        people: SlackPeople,
        copies: SlackCopies,
        store: Store,
        after_turn: Callable[[], None] = lambda: None,
    ) -> None:
        self.conversation, self.people, self.copies = conversation, people, copies
        self.store, self.after_turn = store, after_turn

    async def actor(self, user: str) -> str | None:
        """The directory email of a Slack user (their binding, else matched by the email
        ``users.info`` gives and bound), or None for someone not in the directory. Each request
        from someone known records Slack as the platform they used last."""
        email, _ = await self._identify(user)
        return email

    async def who(self, user: str) -> tuple[str | None, list[Reply]]:
        """The actor, or None and what to tell a stranger: how to be added (and their business
        team is told who asked, through the same path as Teams)."""
        email, found = await self._identify(user)
        if email is not None:
            return email, []
        address, name = (found.email or None, found.name) if found else (None, "")
        replies = await asyncio.to_thread(self.conversation.unknown, SLACK, address, name)
        return None, replies

    async def _identify(self, user: str) -> tuple[str | None, SlackUser | None]:
        email, found = await self.people.bound(user), None
        if email is None and user:
            found = await self.people.profile(user)
            email = await self.people.learn(user, found) if found else None
        if email is not None and await asyncio.to_thread(self.store.person, email) is None:
            email = None  # bound, but no longer in the directory
        if email is not None:
            await asyncio.to_thread(self.conversation.arrived, email, SLACK)
        return email, found

    async def tell(self, client: AsyncWebClient, channel: str, replies: list[Reply]) -> None:
        """Text replies only (a stranger's answer)."""
        for reply in replies:
            if reply.text:
                await client.chat_postMessage(channel=channel, text=mrkdwn(reply.text))

    async def say(self, client: AsyncWebClient, user: str, actor: str, replies: list[Reply],
                  channel: str = "") -> None:
        """Each reply as a direct message; every card of a case is kept as a copy to redraw."""
        for reply in replies:
            if reply.card is None:
                if reply.text:
                    await client.chat_postMessage(channel=channel or user, text=mrkdwn(reply.text))
                continue
            card = reply.card
            if reply.text and reply.text != card.text:
                await client.chat_postMessage(channel=channel or user, text=mrkdwn(reply.text))
            answer = await client.chat_postMessage(
                channel=channel or user, text=fallback_text(card), blocks=message_blocks(card)
            )
            if card.case_id:
                await self.copies.remember(card.case_id, actor, str(answer.get("channel")),
                                           str(answer.get("ts")), card.case_version)
                await self.copies.refresh(card.case_id, skip_ts=str(answer.get("ts")))

    async def command(self, client: AsyncWebClient, body: dict[str, Any]) -> None:
        user, text = str(body.get("user_id") or ""), plain(str(body.get("text") or "")).strip()
        actor, stranger = await self.who(user)
        if actor is None:
            await self.tell(client, user, stranger)
            return
        replies = await asyncio.to_thread(self.conversation.on_text, actor, text or "escalate")
        form = next((r.card for r in replies if r.card and submit_action(r.card)), None)
        if form is not None and body.get("trigger_id"):
            # the trigger id lives three seconds: the modal first, the typed fallback after
            await client.views_open(trigger_id=str(body["trigger_id"]), view=modal(form))
            replies = [r for r in replies if r.card is not form]
        await self.say(client, user, actor, replies)
        channel = str(body.get("channel_id") or "")
        if replies and channel and not channel.startswith("D"):  # typed in a channel
            await client.chat_postEphemeral(
                channel=channel, user=user, text=mrkdwn(texts.SLACK_CHANNEL_ONLY_DM)
            )
        self.after_turn()

    async def button(self, client: AsyncWebClient, body: dict[str, Any]) -> None:
        action = (body.get("actions") or [{}])[0]
        parsed = read_button_value(action.get("value"))
        user = str((body.get("user") or {}).get("id") or "")
        if parsed is None:
            raise ValueError("a button value the bot never sends")
        actor, stranger = await self.who(user)
        if actor is None:
            await self.tell(client, user, stranger)
            return
        verb, data = parsed
        view = body.get("view") or {}
        in_form = view.get("callback_id") == CALLBACK_ID  # Add or Remove a row, in a modal
        values = {k: plain(v) for k, v in values_of(view).items()} if in_form else {}
        result = await asyncio.to_thread(
            self.conversation.on_action, actor, verb, data, values,
            str(action.get("action_ts") or ""),
        )
        card = result.card
        if in_form:  # the same modal, redrawn in place with every value kept
            redrawn = modal(card, notice=result.message, redraw=redraws_of(view) + 1)
            await client.views_update(view_id=str(view.get("id") or ""),
                                      hash=view.get("hash"), view=redrawn)
        elif card.inputs and submit_action(card) and body.get("trigger_id"):
            await client.views_open(trigger_id=str(body["trigger_id"]), view=modal(card))
        elif verb == REFRESH_VERB:  # an Open button: the case's card, as a new message
            await self.say(client, user, actor, [Reply(card=card)])
        else:
            channel = str((body.get("container") or {}).get("channel_id") or "")
            if result.message and channel:  # only the clicker sees why nothing changed, say
                await client.chat_postEphemeral(
                    channel=channel, user=user, text=mrkdwn(result.message)
                )
            elif result.message:
                await client.chat_postMessage(channel=user, text=mrkdwn(result.message))
            if data.get("case_id"):
                await self.copies.refresh(data["case_id"])
        self.after_turn()

    async def message(self, client: AsyncWebClient, event: dict[str, Any]) -> None:
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return  # the bot's own posts, edits, joins: not a person talking to it
        user, channel = str(event.get("user") or ""), str(event.get("channel") or "")
        actor, stranger = await self.who(user)
        if actor is None:
            await self.tell(client, channel, stranger)
            return
        text = plain(str(event.get("text") or ""))
        replies = await asyncio.to_thread(self.conversation.on_text, actor, text)
        await self.say(client, user, actor, replies, channel=channel)
        self.after_turn()
