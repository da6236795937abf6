"""Shared factories for the engine tests: the real bootstrap, SQLite store, scheduler and clock.

Nothing here mocks or patches the bot. Time moves only through the SimulatedClock; deadlines fire
only through ``scheduler.runner.fire_due_deadlines``; messages go out only through
``deliver_due_notifications`` into a ConsoleNotifier's sink.

Imported as ``from support import ...`` (the same way ``test_store_sqlite`` imports
``store_contract``): ``tests`` has no ``__init__.py``, and adding one would break that module.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from redis_support import URL, fresh_prefix

from adapters.console.render import ConsoleNotifier
from adapters.storage.redis import RedisStore
from adapters.storage.sqlite import SqliteStore
from bot.bootstrap import App, bootstrap
from bot.demo import demo_answers, outcome_answers
from dialogs.case import Case, Participant
from dialogs.clock import SimulatedClock
from dialogs.commands import (
    Command,
    Escalate,
    RaiseConcern,
    RecordDecision,
    RecordInput,
    Resolve,
    Withdraw,
)
from dialogs.directory import Person
from dialogs.engine import Outcome
from dialogs.events import Event
from dialogs.notifications import Notification, RecipientKind
from policy.model import Policy
from scheduler.runner import TickResult, deliver_due_notifications, fire_due_deadlines

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = REPO / "examples" / "partnerships.yaml"

LONDON = ZoneInfo("Europe/London")
JERSEY = ZoneInfo("Europe/Jersey")

# Monday 1 February 2027, 10:00 in London and Jersey (GMT, so also 10:00 UTC). No public holiday
# in England or Jersey falls within weeks of it.
START = datetime(2027, 2, 1, 10, 0, tzinfo=UTC)
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)

# partnership id -> policy id, as examples/partnerships.yaml wires them
PARTNERSHIPS = {
    "northbay": "nsscp",
    "havenport": "st-helens",
    "carrow": "sp-jersey",
    "carrow-board": "jersey-spb-2014",
}

CHILD_NAME = "Jamie Example"  # what demo_answers puts in every case
CHILD_DOB = date(2016, 4, 12)
CHILD_IDS = "ICS 000000 (demo)"


def local(
    day: int, hour: int, minute: int = 0, *, month: int = 2, zone: ZoneInfo = LONDON
) -> datetime:
    """A wall-clock instant in 2027 in a partnership's zone."""
    return datetime(2027, month, day, hour, minute, tzinfo=zone)


# ---- the application -------------------------------------------------------------------------


def app_for(
    tmp_path: Path, start: datetime = START, config: Path = EXAMPLE_CONFIG, name: str = "bot"
) -> tuple[App, SimulatedClock]:
    """A fully wired bot (real SQLite file under tmp_path) on a simulated clock."""
    clock = SimulatedClock(start)
    app = bootstrap(config, tmp_path / f"{name}.sqlite3", clock)
    return app, clock


STORES = ["sqlite", "redis"]


@contextmanager
def app_on_store(kind: str, tmp_path: Path, label: str = "test") -> Iterator[App]:
    """The bot at START on a real SQLite file or a real Redis (its own key prefix, removed
    afterwards): for tests that must hold on both stores."""
    clock = SimulatedClock(START)
    if kind == "redis":
        with fresh_prefix(label) as prefix:
            built = bootstrap(EXAMPLE_CONFIG, tmp_path / "unused.sqlite3", clock,
                              store=RedisStore(URL, prefix))
            try:
                yield built
            finally:
                built.close()
        return
    path = tmp_path / "bot.sqlite3"
    built = bootstrap(EXAMPLE_CONFIG, path, clock, store=SqliteStore(path))
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    """The bot at START; its clock is ``app.clock`` (a SimulatedClock)."""
    built, _ = app_for(tmp_path)
    yield built
    built.close()


def clock_of(app: App) -> SimulatedClock:
    clock = app.clock
    assert isinstance(clock, SimulatedClock)
    return clock


def derived_config(tmp_path: Path, edit: Any, name: str = "partnerships.yaml") -> Path:
    """Write a copy of the example config, changed by ``edit(data)``, and return its path."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


# ---- people ----------------------------------------------------------------------------------


def policy_of(app: App, partnership_id: str) -> Policy:
    return app.policies.get(app.config.partnership(partnership_id).policy)


def agencies_of(app: App, partnership_id: str) -> list[str]:
    return [a.id for a in app.config.agencies if a.partnership == partnership_id]


def people_with(
    app: App, partnership_id: str, role: str, agency: str | None = None
) -> list[Person]:
    return sorted(
        (
            p
            for p in app.engine.people(partnership_id).values()
            if p.role == role and (agency is None or p.agency == agency)
        ),
        key=lambda p: p.email,
    )


def person(app: App, partnership_id: str, role: str, agency: str | None = None) -> Person:
    """The one person holding ``role`` (in ``agency``, if given) in the partnership."""
    found = people_with(app, partnership_id, role, agency)
    assert found, f"nobody is {role} in {agency or partnership_id}"
    return found[0]


def practitioners(app: App, partnership_id: str) -> tuple[Person, Person]:
    """A raiser-role holder in each of the partnership's first two agencies (config order)."""
    policy = policy_of(app, partnership_id)
    first, second = agencies_of(app, partnership_id)[:2]
    return (
        person(app, partnership_id, policy.raiser_role, first),
        person(app, partnership_id, policy.raiser_role, second),
    )


def someone(app: App, partnership_id: str, email: str) -> Person:
    return app.engine.people(partnership_id)[email]


# ---- commands --------------------------------------------------------------------------------


def continuing_pathway(policy: Policy) -> str | None:
    if policy.pathway is None:
        return None
    return next(o.id for o in policy.pathway.options if o.continues_to_procedure)


_RAISE_FIELDS = {"actor", "start_stage", "pathway_choice"}


def raise_command(
    app: App,
    partnership_id: str,
    *,
    raiser: Person | None = None,
    counterpart: Person | None = None,
    **overrides: Any,
) -> RaiseConcern:
    """A valid RaiseConcern from a practitioner in one agency about one in the other.

    ``overrides`` named actor, start_stage or pathway_choice change the command; anything else
    replaces (or, set to None, removes) an intake answer.
    """
    policy = policy_of(app, partnership_id)
    default_raiser, default_counterpart = practitioners(app, partnership_id)
    raiser = raiser or default_raiser
    counterpart = counterpart or default_counterpart
    answers = demo_answers(policy, counterpart)
    fields: dict[str, Any] = {
        "actor": raiser.email,
        "pathway_choice": continuing_pathway(policy),
    }
    for key, value in overrides.items():
        if key in _RAISE_FIELDS:
            fields[key] = value
        elif value is None:
            answers.pop(key, None)
        else:
            answers[key] = value
    return RaiseConcern(partnership_id=partnership_id, answers=answers, **fields)


def raise_case(app: App, partnership_id: str, **overrides: Any) -> Case:
    outcome = app.engine.handle(raise_command(app, partnership_id, **overrides))
    assert outcome.case is not None
    return outcome.case


def handle(app: App, command: Command) -> Outcome:
    return app.engine.handle(command)


def current(app: App, case: Case | str) -> Case:
    """The case as stored now."""
    case_id = case if isinstance(case, str) else case.id
    found = app.store.get_case(case_id)
    assert found is not None
    return found


def escalate(
    app: App, case: Case, actor: str | None = None, unresolved: str = "Still apart."
) -> Case:
    case = current(app, case)
    outcome = app.engine.handle(
        Escalate(
            actor=actor or case.raised_by,
            case_id=case.id,
            expected_version=case.version,
            unresolved=unresolved,
        )
    )
    assert outcome.case is not None
    return outcome.case


def escalate_to(app: App, case: Case, stage: int) -> Case:
    """Escalate (as the raiser) until the case reaches ``stage``."""
    case = current(app, case)
    for _ in range(20):
        if case.stage >= stage:
            return case
        case = escalate(app, case)
    raise AssertionError(f"case never reached stage {stage}")


def record(summary: str = "Both views heard; agreed a way forward.", **fields: Any) -> RecordInput:
    return RecordInput(summary=summary, **fields)


def resolve(app: App, case: Case, actor: str | None = None) -> Case:
    case = current(app, case)
    policy = app.engine.policy_for(case)
    outcome = app.engine.handle(
        Resolve(
            actor=actor or case.raised_by,
            case_id=case.id,
            expected_version=case.version,
            record=record(),
            outcome_answers=outcome_answers(policy),
        )
    )
    assert outcome.case is not None
    return outcome.case


def decide(app: App, case: Case, actor: str) -> Case:
    case = current(app, case)
    policy = app.engine.policy_for(case)
    outcome = app.engine.handle(
        RecordDecision(
            actor=actor,
            case_id=case.id,
            expected_version=case.version,
            decision="A joint assessment starts next week.",
            outcome_answers=outcome_answers(policy),
        )
    )
    assert outcome.case is not None
    return outcome.case


def withdraw(
    app: App, case: Case, actor: str | None = None, reason: str = "Resolved outside."
) -> Case:
    case = current(app, case)
    outcome = app.engine.handle(
        Withdraw(actor=actor or case.raised_by, case_id=case.id, expected_version=case.version,
                 reason=reason)
    )
    assert outcome.case is not None
    return outcome.case


# ---- scheduler and delivery ------------------------------------------------------------------


def fire(app: App) -> TickResult:
    """Run the scheduler's deadline loop once at the clock's current time."""
    return fire_due_deadlines(app.store, app.engine, app.clock, "test-worker")


def deliveries(app: App) -> list[Notification]:
    """Deliver everything due now; return what the console adapter received."""
    notifier = ConsoleNotifier(echo=False)
    sent, failed = asyncio.run(deliver_due_notifications(app.store, notifier, app.clock))
    assert failed == 0
    assert sent == len(notifier.sink)
    return notifier.sink


def drain(app: App) -> None:
    """Deliver everything due now, in as many batches as it takes."""
    while deliveries(app):
        pass


def pending(app: App, case: Case | None = None) -> list[Notification]:
    """Every notification still waiting in the outbox, whenever it is due."""
    items = [i.notification for i in app.store.due_notifications(FAR_FUTURE, 100_000)]
    return [n for n in items if case is None or n.case_id == case.id]


def channel_notes(notes: list[Notification]) -> list[Notification]:
    return [n for n in notes if n.recipient.kind is RecipientKind.CHANNEL]


def person_notes(notes: list[Notification], email: str | None = None) -> list[Notification]:
    return [
        n
        for n in notes
        if n.recipient.kind is RecipientKind.PERSON
        and (email is None or n.recipient.address == email)
    ]


def to_channel(notes: list[Notification], destination: str) -> list[Notification]:
    return [n for n in channel_notes(notes) if n.recipient.address == destination]


def history(app: App, case: Case) -> list[Event]:
    return app.store.history(case.id)


def joined_at(case: Case, stage: int) -> list[Participant]:
    return [p for p in case.participants if p.stage == stage and p.active]


def roster(participants: list[Participant]) -> set[tuple[str, str]]:
    """(role, agency) pairs: who was brought in, by role and agency."""
    return {(p.role, p.agency) for p in participants}


def emails(participants: list[Participant] | list[Person]) -> set[str]:
    return {p.email for p in participants}


def business_team_channel(app: App, partnership_id: str) -> str:
    return app.config.partnership(partnership_id).alerts.business_team


def next_day_at(moment: datetime, hour: int, zone: ZoneInfo = LONDON) -> datetime:
    day = moment.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(day, time(hour), tzinfo=zone)


def snapshot(app: App, case: Case) -> tuple[Any, ...]:
    """Everything a refused command must leave alone: the case, its history, outbox, deadlines."""
    stored = current(app, case)
    return (
        stored.model_dump_json(),
        [e.model_dump_json() for e in history(app, case)],
        sorted(n.key for n in pending(app, case)),
        sorted(d.key for d in app.store.deadlines_for_case(case.id)),
    )
