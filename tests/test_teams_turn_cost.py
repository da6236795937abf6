"""What one Teams turn costs the bot beyond the SDK's own work (issue 13): the connector and
user-token clients are built once, not per turn; a turn that changes nothing writes nothing to
the store; a turn that queues nothing starts no delivery tick. Real bot, real SQLite, real HTTP."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from teams_harness import DANA, HANA, STRANGER, Harness, open_harness

from adapters.storage.sqlite import SqliteStore
from adapters.teams.auth import KeptClients
from bot.server import TICKER_KEY

pytestmark = pytest.mark.asyncio


def kept_clients(h: Harness) -> KeptClients:
    (route,) = [r for r in h.web_app.router.routes() if r.resource and
                r.resource.canonical == "/api/messages"]
    endpoint = route.handler.__self__  # type: ignore[attr-defined]
    kept: KeptClients = endpoint.adapter.bot_framework_authentication.kept
    return kept


@contextmanager
def write_transactions(store: SqliteStore) -> Iterator[list[str]]:
    """Every write transaction the store's own connection begins, and the rows it changes."""
    db: sqlite3.Connection = store._db
    begun: list[str] = []
    with store._lock:  # see changing_writes
        db.set_trace_callback(lambda sql: begun.append(sql) if sql.startswith("BEGIN") else None)
    changes = db.total_changes
    try:
        yield begun
    finally:
        with store._lock:
            db.set_trace_callback(None)
        begun.append(f"rows changed: {db.total_changes - changes}")


@contextmanager
def changing_writes(store: SqliteStore) -> Iterator[list[int]]:
    """The rows each committed write transaction changed, for those that changed any (a tick
    already running claims nothing and changes nothing; a turn's writes change rows)."""
    db: sqlite3.Connection = store._db
    changed: list[int] = []
    began = [db.total_changes]

    def traced(sql: str) -> None:
        if sql.startswith("BEGIN"):
            began[0] = db.total_changes
        elif sql.startswith("COMMIT") and db.total_changes > began[0]:
            changed.append(db.total_changes - began[0])

    # Under the store's lock: set_trace_callback waits for the connection's mutex holding the
    # GIL, and a scheduler pass in a worker thread holds that mutex while its trace callback
    # waits for the GIL (a deadlock, seen once the ticker woke for deadlines between ticks).
    with store._lock:
        db.set_trace_callback(traced)
    try:
        yield changed
    finally:
        with store._lock:
            db.set_trace_callback(None)


def tick_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks()
            if getattr(t.get_coro(), "__qualname__", "") == "Ticker.tick"]


async def test_a_status_turn_from_the_same_chat_writes_nothing(tmp_path: Path) -> None:
    async with open_harness(tmp_path) as h:
        assert await h.say(DANA, "status") in (200, 201)  # the first turn keeps the chat
        store = h.app.store
        assert isinstance(store, SqliteStore)
        sent = len(h.connector.sent)
        with write_transactions(store) as begun:
            status, _ = await h.post(h.activity(DANA, text="status"))
            await asyncio.gather(*tick_tasks())
        assert status in (200, 201)
        assert len(h.connector.sent) == sent + 1  # the status card was still sent
        assert begun == ["rows changed: 0"]
        # and the chat it would message later is still there, without any one activity's id
        reference = store.conversation_reference("teams", DANA[1])
        assert reference is not None and '"activityId"' not in reference


async def test_a_first_turn_still_keeps_the_chat_and_a_new_one_replaces_it(
    tmp_path: Path,
) -> None:
    async with open_harness(tmp_path) as h:
        await h.say(HANA, "help")
        first = h.app.store.conversation_reference("teams", HANA[1])
        assert first is not None and "chat-with" in first
        moved = h.activity(HANA, text="help")
        moved["conversation"]["id"] = "a:another-chat"
        await h.post(moved)
        second = h.app.store.conversation_reference("teams", HANA[1])
        assert second is not None and "a:another-chat" in second


async def test_the_connector_client_is_built_once_per_service_url(tmp_path: Path) -> None:
    async with open_harness(tmp_path) as h:
        kept = kept_clients(h)
        await h.say(DANA, "status")
        built, served = kept.built, kept.served
        assert len(kept.connectors) == 1
        for _ in range(3):
            assert await h.say(DANA, "status") in (200, 201)
        assert kept.built == built  # nothing new built for the same service URL
        assert kept.served >= served + 6  # the SDK still asked for both clients each turn
        other = h.activity(DANA, text="status", serviceUrl=h.other_url)
        await h.post(other)
        assert len(kept.connectors) == 2 and kept.built == built + 1
        assert h.other.sent, "the reply went through the second service URL's client"


async def test_a_turn_that_queues_nothing_starts_no_tick(tmp_path: Path) -> None:
    async with open_harness(tmp_path) as h:
        ticker = h.web_app[TICKER_KEY]
        await h.say(DANA, "status")
        await asyncio.gather(*tick_tasks())
        before = ticker.ticks
        await h.post(h.activity(DANA, text="status"))
        await h.post(h.activity(DANA, text="help"))
        await asyncio.gather(*tick_tasks())
        assert ticker.ticks == before
        # a stranger's message queues a request to the business team: that turn ticks
        h.connector.add_member(STRANGER, name="No Body", upn=STRANGER[0])
        await h.post(h.activity(STRANGER, text="hello"))
        await asyncio.gather(*tick_tasks())
        assert ticker.ticks == before + 1


async def test_a_first_turn_from_a_new_chat_is_one_write(tmp_path: Path) -> None:
    """The chat, the tenant, the tenant's service reference and the platform last used: kept
    together in one write, not one synced commit each."""
    async with open_harness(tmp_path) as h:
        store = h.app.store
        assert isinstance(store, SqliteStore)
        with changing_writes(store) as writes:
            status, _ = await h.post(h.activity(DANA, text="status"))
            await asyncio.gather(*tick_tasks())
        assert status in (200, 201)
        assert len(writes) == 1, writes
        assert store.conversation_reference("teams", DANA[1]) is not None
        assert store.conversation_reference("teams-tenant", DANA[1]) == "tenant-1"
        assert store.conversation_reference("teams", "_service:tenant-1") is not None
        assert store.last_platform(DANA[0]) == "teams"


async def test_a_person_learned_on_their_first_turn_is_one_write_too(tmp_path: Path) -> None:
    """Their account bound by email (dialogs.people.Directory.learn) goes in the same write."""
    from test_people_teams import hana_by_email_only

    async with open_harness(tmp_path, hana_by_email_only(tmp_path)) as h:
        store = h.app.store
        assert isinstance(store, SqliteStore)
        h.connector.add_member(HANA, name="Hana Moss", upn=HANA[0])
        with changing_writes(store) as writes:
            status, _ = await h.post(h.activity(HANA, text="status"))
            await asyncio.gather(*tick_tasks())
        assert status in (200, 201)
        assert len(writes) == 1, writes
        assert store.identity("teams", HANA[0]) == HANA[1]
        assert store.last_platform(HANA[0]) == "teams"
        assert store.conversation_reference("teams", HANA[1]) is not None
        with write_transactions(store) as again:  # known now, same chat: nothing to write
            await h.post(h.activity(HANA, text="status"))
            await asyncio.gather(*tick_tasks())
        assert again == ["rows changed: 0"]


async def test_a_remembered_reference_is_the_one_the_activity_gives() -> None:
    """ReferenceJson serialises a sender's reference once while its parts stay the same, and
    anew when any part changes (chat, tenant, service URL, the person's name)."""
    from botbuilder.schema import Activity

    from adapters.teams.activity import ReferenceJson, reference_json

    def activity(**changes: Any) -> Activity:
        body: dict[str, Any] = {
            "type": "message", "id": f"in-{len(changes)}", "channelId": "msteams",
            "serviceUrl": "https://smba.example/emea/", "locale": "en-GB",
            "from": {"id": "29:a", "aadObjectId": "a", "name": "Dana"},
            "recipient": {"id": "28:bot", "name": "Escalation bot"},
            "conversation": {"id": "a:chat-1", "conversationType": "personal"},
            "channelData": {"tenant": {"id": "tenant-1"}},
        }
        for path, value in changes.items():
            *parents, leaf = path.split("__")
            node = body
            for parent in parents:
                node = node[parent]
            node[leaf] = value
        return Activity().deserialize(body)

    remembered = ReferenceJson()
    first = remembered("a", activity())
    assert first == reference_json(activity()) and '"tenantID": "tenant-1"' in first
    assert remembered("a", activity(id="in-other")) is first  # only the activity's own id moved
    for change in ({"conversation__id": "a:chat-2"}, {"serviceUrl": "https://smba.example/uk/"},
                   {"channelData__tenant__id": "tenant-2"}, {"from__name": "Dana M"},
                   {"locale": "cy-GB"}):
        assert remembered("a", activity(**change)) == reference_json(activity(**change)) != first
    assert remembered("b", activity()) == first
