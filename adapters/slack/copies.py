"""Every Slack message that shows a case, so that after anyone acts each one is redrawn in
place (``chat.update``) in the case's new state for its own reader, and no stale button stays
live. Teams does this with a card's ``refresh``; Slack has nothing like it, so the bot keeps the
channel and ``ts`` of each copy in the store (shared by replicas), per case.

Channel posts are not kept: they carry no buttons. A copy Slack no longer has (deleted) is
dropped; any other failure to redraw one is logged and left for the next change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.blocks import fallback_text, message_blocks
from dialogs.conversation import ConversationService
from dialogs.ports import Store

COPIES = "slack-copies"  # store: case id -> [[reader's email, channel, ts, version], ...]
MAX_COPIES = 200  # per case: the oldest are let go (their buttons are checked by version anyway)
GONE = {"message_not_found", "channel_not_found", "cant_update_message"}
log = logging.getLogger("escalation_bot.slack")


class SlackCopies:
    def __init__(
        self, client: AsyncWebClient, store: Store, conversation: ConversationService
    ) -> None:
        self.client, self.store, self.conversation = client, store, conversation
        # one redraw of a case at a time in this process: two at once (the clicker's turn and
        # the engine's watcher) would both see a copy as old and update it twice
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}  # case id -> (lock, users)

    def _load(self, case_id: str) -> list[list[str]]:
        raw = self.store.conversation_reference(COPIES, case_id)
        return list(json.loads(raw)) if raw else []

    def _save(self, case_id: str, copies: list[list[str]]) -> None:
        self.store.save_conversation_reference(COPIES, case_id, json.dumps(copies[-MAX_COPIES:]))

    def _set(self, case_id: str, reader: str, channel: str, ts: str, version: str) -> None:
        copies = [c for c in self._load(case_id) if c[1:3] != [channel, ts]]
        self._save(case_id, [*copies, [reader, channel, ts, version]])

    async def remember(
        self, case_id: str, reader: str, channel: str, ts: str, version: int | None
    ) -> None:
        """``version``: the case version the message shows (None: unknown, redrawn next time)."""
        if case_id and channel and ts:
            drawn = "" if version is None else str(version)
            # under the case's lock: the list is one stored value, and a redraw writing it at
            # the same moment would otherwise lose this copy (its buttons left a version behind)
            async with self._locked(case_id):
                await asyncio.to_thread(self._set, case_id, reader, channel, ts, drawn)

    async def refresh(self, case_id: str, skip_ts: str = "") -> None:
        """Redraw every copy of the case drawn from an older version as it stands now; a copy
        already showing this version keeps its words (``skip_ts``, the message just posted,
        included: it is redrawn only if the case moved while it was being sent)."""
        async with self._locked(case_id):
            await self._refresh(case_id, skip_ts)

    @contextlib.asynccontextmanager
    async def _locked(self, case_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(case_id) or (asyncio.Lock(), 0)
        self._locks[case_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[case_id]
            if users == 1:
                del self._locks[case_id]
            else:
                self._locks[case_id] = (lock, users - 1)

    async def _refresh(self, case_id: str, skip_ts: str) -> None:
        case = await asyncio.to_thread(self.store.get_case, case_id)
        if case is None:
            return
        copies = await asyncio.to_thread(self._load, case_id)
        gone: list[list[str]] = []
        for reader, channel, ts, drawn in copies:
            # the message just posted (``skip_ts``) keeps its words only while it is current:
            # drawn from a version the case has since left (a change made meanwhile, on any
            # platform or by the scheduler), it is redrawn like any other copy
            if drawn == str(case.version):
                continue
            card = await asyncio.to_thread(self.conversation.case_card, case, reader)
            try:
                await self.client.chat_update(
                    channel=channel, ts=ts, text=fallback_text(card), blocks=message_blocks(card)
                )
            except SlackApiError as exc:
                error = exc.response.get("error")
                if error in GONE:
                    gone.append([reader, channel, ts, drawn])
                else:
                    log.warning("slack copy not redrawn: %s", error)
                continue
            await asyncio.to_thread(self._set, case_id, reader, channel, ts, str(case.version))
        if gone:
            def drop() -> None:
                self._save(case_id, [c for c in self._load(case_id) if c not in gone])

            await asyncio.to_thread(drop)
