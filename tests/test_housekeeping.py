"""What the scheduler's housekeeping keeps true (issue 7, defect 10), on both stores:

- an abandoned typed intake does not keep the child's name and date of birth in the store
  indefinitely: conversations expire 24 hours after the last answer and are removed, and are
  removed at once when a case is raised or the conversation cancelled;
- a store that lost the directory (Redis restarted empty) gets it back on the next tick, rather
  than everyone being told they are not in the directory until a restart.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from redis_support import URL, delete_prefix
from support import STORES, app_on_store, practitioners

from adapters.storage.redis import RedisStore
from adapters.storage.sqlite import SqliteStore
from bot.bootstrap import App
from bot.demo import demo_answers
from bot.server import Housekeeping
from dialogs import intake, texts
from dialogs.clock import SimulatedClock
from dialogs.conversation import SESSION_LIFETIME, ConversationService

CHILD = "Zebedee Quill"


@pytest.fixture(params=STORES)
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[App]:
    with app_on_store(request.param, tmp_path, "housekeeping") as built:
        yield built


def _clock(app: App) -> SimulatedClock:
    assert isinstance(app.clock, SimulatedClock)
    return app.clock


def _service(app: App) -> ConversationService:
    return ConversationService(app.engine, app.store, today=lambda: app.clock.now().date())


def _stored_anywhere(app: App, needle: str) -> bool:
    """Whether ``needle`` is anywhere in the store's own bytes, not only through its API."""
    store = app.store
    if isinstance(store, SqliteStore):
        data = store.path.read_bytes()
        wal = store.path.with_name(store.path.name + "-wal")
        data += wal.read_bytes() if wal.exists() else b""
        return needle.encode() in data
    assert isinstance(store, RedisStore)
    client = redis.Redis.from_url(URL)
    try:
        for key in client.scan_iter(match="{" + store.prefix + "}:*"):
            if client.type(key) == b"string" and needle.encode() in (client.get(key) or b""):
                return True
            if client.type(key) == b"hash" and any(
                needle.encode() in value for value in client.hgetall(key).values()
            ):
                return True
        return False
    finally:
        client.close()


def _start_typing_an_intake(app: App) -> str:
    """Answer the typed intake, as a person would, up to and including the child's name."""
    raiser, counterpart = practitioners(app, "northbay")
    policy = app.policies.get("nsscp")
    answers = demo_answers(policy, counterpart)
    service = _service(app)
    service.on_text(raiser.email, "escalate")
    for _ in range(20):
        raw = json.loads(app.store.session(raiser.email, app.clock.now()) or "{}")
        session = intake.IntakeSession.model_validate(raw["intake_session"])
        field = intake.prompt(policy, session).field
        if field is None:
            service.on_text(raiser.email, "no")  # the immediate-risk question
            continue
        service.on_text(raiser.email, CHILD if field.id == "child_name" else answers[field.id])
        if field.id == "child_name":
            break
    assert CHILD in (app.store.session(raiser.email, app.clock.now()) or "")
    return raiser.email


def test_an_abandoned_intake_is_removed_after_a_day(app: App) -> None:
    actor = _start_typing_an_intake(app)
    assert CHILD in (app.store.session(actor, app.clock.now()) or "")
    housekeeping = Housekeeping(app)

    _clock(app).advance(SESSION_LIFETIME - timedelta(minutes=5))
    housekeeping()
    assert app.store.session(actor, app.clock.now()) is not None  # still theirs to finish

    _clock(app).advance(timedelta(minutes=10))
    housekeeping()
    assert app.store.session(actor, app.clock.now()) is None
    assert app.store.purge_sessions(app.clock.now()) == 0  # already removed, not just hidden
    if isinstance(app.store, RedisStore):
        assert not _stored_anywhere(app, CHILD)
    # and the next line typed is not read as an answer to a forgotten question
    (reply,) = _service(app).on_text(actor, "12/04/2016")
    assert reply.text.startswith("I didn't catch that")


def test_a_cancelled_intake_is_removed_at_once(app: App) -> None:
    actor = _start_typing_an_intake(app)
    _service(app).on_text(actor, "cancel")
    assert app.store.session(actor, app.clock.now()) is None
    assert app.store.purge_sessions(app.clock.now() + timedelta(days=2)) == 0


def test_a_store_that_lost_the_directory_gets_it_back_on_the_next_tick(app: App) -> None:
    raiser, _ = practitioners(app, "northbay")
    if isinstance(app.store, RedisStore):
        client = redis.Redis.from_url(URL)
        try:
            delete_prefix(client, app.store.prefix)  # Redis came back empty
        finally:
            client.close()
    else:
        with app.store._write() as db:  # the people table emptied by an operator's mistake
            db.execute("DELETE FROM people")
    (lost,) = _service(app).on_text(raiser.email, "escalate")
    assert lost.text == texts.NOT_IN_DIRECTORY.format(email=raiser.email)

    Housekeeping(app)()

    assert app.store.person(raiser.email) is not None
    replies = _service(app).on_text(raiser.email, "escalate")
    assert replies[0].card is not None  # the intake form, as before
