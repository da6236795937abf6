"""Sending the same intake twice raises one case (issue 7, defect 7).

Before: the same intake card sent twice made two cases, ten parallel double submits made twenty
(on two Redis replicas too), and a crash between commit and reply left the person to retry into a
duplicate. Now every intake (card or typed conversation) has an id, the case id is derived from
it, and the stores' unique case id makes the second raise find the first, on both stores and
across store objects standing in for replicas.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis_support import URL, fresh_prefix
from support import EXAMPLE_CONFIG, START, practitioners, raise_command

from adapters.storage.redis import RedisStore
from adapters.storage.sqlite import SqliteStore
from bot.bootstrap import App, bootstrap
from bot.demo import demo_answers
from dialogs import intake
from dialogs.clock import SimulatedClock
from dialogs.commands import RaiseConcern
from dialogs.conversation import INTAKE_VERB, ConversationService
from dialogs.events import EventType


@pytest.fixture(params=["sqlite", "redis"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def apps(store_kind: str, tmp_path: Path) -> Iterator[tuple[App, App]]:
    """Two bots on one store, each with its own store object (connection), as two replicas."""
    clock = SimulatedClock(START)
    if store_kind == "redis":
        with fresh_prefix("raise") as prefix:
            first = bootstrap(EXAMPLE_CONFIG, tmp_path / "a.sqlite3", clock,
                              store=RedisStore(URL, prefix))
            second = bootstrap(EXAMPLE_CONFIG, tmp_path / "b.sqlite3", clock,
                               store=RedisStore(URL, prefix))
            yield first, second
            first.close()
            second.close()
    else:
        path = tmp_path / "shared.sqlite3"
        first = bootstrap(EXAMPLE_CONFIG, path, clock, store=SqliteStore(path))
        second = bootstrap(EXAMPLE_CONFIG, path, clock, store=SqliteStore(path))
        yield first, second
        first.close()
        second.close()


def keyed(app: App, key: str) -> RaiseConcern:
    return raise_command(app, "northbay").model_copy(update={"request_key": key})


def raised_events(app: App) -> int:
    return sum(
        1
        for case in app.store.open_cases()
        for event in app.store.history(case.id)
        if event.type is EventType.CONCERN_RAISED
    )


def test_the_same_intake_twice_is_one_case(apps: tuple[App, App]) -> None:
    app, _ = apps
    first = app.engine.handle(keyed(app, "intake-1"))
    second = app.engine.handle(keyed(app, "intake-1"))

    assert first.case is not None and second.case is not None
    assert second.case.id == first.case.id
    assert not second.changed and second.notifications == []
    assert f"already sent: it is case {first.case.reference}" in second.reply
    assert len(app.store.open_cases()) == 1 and raised_events(app) == 1
    # the repeat took no reference number: the next concern is NB-0002
    third = app.engine.handle(keyed(app, "intake-2"))
    assert third.case is not None and third.case.reference.endswith("-0002")


def test_the_same_key_from_another_person_is_their_own_case(apps: tuple[App, App]) -> None:
    """Keys are scoped to the person: nobody can reach another's case by sending their key."""
    app, _ = apps
    raiser, counterpart = practitioners(app, "northbay")
    mine = app.engine.handle(keyed(app, "same-key"))
    policy = app.policies.get("nsscp")
    theirs = app.engine.handle(
        RaiseConcern(actor=counterpart.email, partnership_id="northbay",
                     answers=demo_answers(policy, raiser), request_key="same-key")
    )
    assert mine.case is not None and theirs.case is not None
    assert theirs.changed and theirs.case.id != mine.case.id
    assert theirs.case.raised_by == counterpart.email


def test_unkeyed_raises_are_separate_cases(apps: tuple[App, App]) -> None:
    """Commands from the CLI or older callers carry no key: each is its own concern."""
    app, _ = apps
    app.engine.handle(raise_command(app, "northbay"))
    app.engine.handle(raise_command(app, "northbay"))
    assert len(app.store.open_cases()) == 2


def test_ten_parallel_double_submits_on_two_replicas_make_ten_cases(
    apps: tuple[App, App],
) -> None:
    first, second = apps
    barrier = threading.Barrier(20)
    errors: list[BaseException] = []
    outcomes: list[str] = []
    lock = threading.Lock()

    def submit(app: App, key: str) -> None:
        barrier.wait()
        try:
            outcome = app.engine.handle(keyed(app, key))
        except BaseException as exc:
            errors.append(exc)
            return
        assert outcome.case is not None
        with lock:
            outcomes.append(outcome.case.id)

    threads = [
        threading.Thread(target=submit, args=(app, f"intake-{n}"))
        for n in range(10)
        for app in (first, second)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(outcomes) == 20 and len(set(outcomes)) == 10
    assert len(first.store.open_cases()) == 10
    assert raised_events(first) == 10


def _service(app: App) -> ConversationService:
    return ConversationService(app.engine, app.store, today=lambda: app.clock.now().date())


def _card_values(app: App) -> dict[str, str]:
    _, counterpart = practitioners(app, "northbay")
    return {**demo_answers(app.policies.get("nsscp"), counterpart), "child_dob": "2016-04-12"}


def test_an_intake_card_sent_twice_answers_with_the_first_case(apps: tuple[App, App]) -> None:
    app, replica = apps
    raiser, _ = practitioners(app, "northbay")
    (card_reply, _) = _service(app).on_text(raiser.email, "escalate")
    assert card_reply.card is not None
    (send,) = card_reply.card.actions
    assert send.command == INTAKE_VERB and send.data["intake_id"]

    first = _service(app).on_action(raiser.email, INTAKE_VERB, send.data, _card_values(app))
    # the same card again, through the other replica (a retry after a lost reply)
    again = _service(replica).on_action(raiser.email, INTAKE_VERB, send.data, _card_values(app))

    assert len(app.store.open_cases()) == 1
    (case,) = app.store.open_cases()
    assert f"Case {case.reference} raised" in first.message
    assert f"already sent: it is case {case.reference}" in again.message
    assert again.card.case_id == case.id  # they are shown the case the first send made


def test_a_request_id_repeated_without_a_card_id_raises_once(apps: tuple[App, App]) -> None:
    """An intake card drawn before cards carried their id: the platform's request id is the
    key, so a platform retry of the same request is still one case."""
    app, _ = apps
    raiser, _ = practitioners(app, "northbay")
    service = _service(app)
    for _ in range(2):
        service.on_action(raiser.email, INTAKE_VERB, {}, _card_values(app), request_id="act-7")
    assert len(app.store.open_cases()) == 1
    service.on_action(raiser.email, INTAKE_VERB, {}, _card_values(app), request_id="act-8")
    assert len(app.store.open_cases()) == 2


def test_the_typed_intake_and_its_card_are_one_intake(apps: tuple[App, App]) -> None:
    """Someone sends the card, and also finishes answering in the chat (or the other way
    round): the typed conversation raises with the card's key, so it finds the same case."""
    app, _ = apps
    raiser, _ = practitioners(app, "northbay")
    service = _service(app)
    (card_reply, _) = service.on_text(raiser.email, "escalate")
    assert card_reply.card is not None
    (send,) = card_reply.card.actions
    stored = json.loads(app.store.session(raiser.email, app.clock.now()) or "{}")
    typed = intake.IntakeSession.model_validate(stored["intake_session"])
    typed.answers = raise_command(app, "northbay").answers

    service.on_action(raiser.email, INTAKE_VERB, send.data, _card_values(app))
    outcome = app.engine.handle(intake.to_command(typed))

    assert intake.to_command(typed).request_key == send.data["intake_id"]
    assert not outcome.changed
    assert len(app.store.open_cases()) == 1
