"""A lapsed deadline is never lost to a party acting at the same moment (issue 7, defect 1).

The scheduler claims a stage deadline and reads the case; a party's command commits in between;
the scheduler's write is refused as stale. Before the fix the refusal counted as "not applied",
the claim (kept by the party's save, same row) was completed, and the case's only stage deadline
was deleted: the case never escalated.

The race is forced deterministically: the scheduler's engine runs on a real store wrapped so that,
just before its first save, a party's command commits through an ordinary engine on the same
store. Both stores run it. The soak at the end lets real threads race on Redis and SQLite.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from support import (
    STORES,
    app_on_store,
    current,
    history,
    local,
    raise_case,
    record,
)

from bot.bootstrap import App, ClosableStore
from dialogs.case import Case
from dialogs.clock import SimulatedClock
from dialogs.commands import RecordDiscussion
from dialogs.engine import Engine
from dialogs.errors import DomainError
from dialogs.events import EventType
from scheduler.runner import fire_due_deadlines

# NSSCP (northbay): raised Monday 1 Feb 2027 10:00, stage 1 due Tuesday 2 Feb 17:00.
STAGE_ONE_LAPSED = local(2, 17, 1)


class PartyActsFirst:
    """A real store whose first ``save_case`` (or ``save_cases``) is preceded by another party's
    committed command: the scheduler has read the case, and someone else writes before it does."""

    def __init__(self, inner: ClosableStore, party_acts: Callable[[], None], times: int = 1):
        self._inner = inner
        self._party_acts = party_acts
        self._left = times

    def save_case(self, *args: Any, **kwargs: Any) -> None:
        if self._left > 0:
            self._left -= 1
            self._party_acts()
        self._inner.save_case(*args, **kwargs)

    def save_cases(self, *args: Any, **kwargs: Any) -> list[Exception | None]:
        """The scheduler writes a batch of lapses at once: the party gets in before that."""
        if self._left > 0:
            self._left -= 1
            self._party_acts()
        return self._inner.save_cases(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture(params=STORES)
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[App]:
    with app_on_store(request.param, tmp_path, "race") as built:
        yield built


def _clock(app: App) -> SimulatedClock:
    assert isinstance(app.clock, SimulatedClock)
    return app.clock


def _record_by_counterpart(app: App, case: Case) -> Callable[[], None]:
    def act() -> None:
        now = current(app, case)
        counterpart = next(p for p in now.participants if p.email != now.raised_by)
        app.engine.handle(
            RecordDiscussion(
                actor=counterpart.email,
                case_id=now.id,
                expected_version=now.version,
                record=record("We spoke; still apart on the plan."),
            )
        )

    return act


def _escalations(app: App, case: Case) -> int:
    return sum(1 for e in history(app, case) if e.type is EventType.STAGE_ENTERED and e.stage == 2)


def _scheduler_engine(app: App, store: Any) -> Engine:
    return Engine(store, app.clock, app.config, app.policies)


def test_a_lapse_racing_a_party_still_escalates_once(app: App) -> None:
    case = raise_case(app, "northbay")
    _clock(app).set(STAGE_ONE_LAPSED)
    racing = PartyActsFirst(app.store, _record_by_counterpart(app, case))

    result = fire_due_deadlines(racing, _scheduler_engine(app, racing), app.clock, "worker-1")

    stored = current(app, case)
    assert any(e.type is EventType.DISCUSSION_RECORDED for e in history(app, case))
    assert stored.stage == 2, "the lapse was lost to the party's save"
    assert _escalations(app, case) == 1
    assert result.fired == 1
    assert [d.kind for d in app.store.deadlines_for_case(case.id) if d.kind == "stage"] == ["stage"]
    assert all(d.stage == 2 for d in app.store.deadlines_for_case(case.id))


def test_a_lapse_that_stays_stale_is_released_not_deleted(app: App) -> None:
    """A case written by others on every try: the scheduler gives up for this tick, and the
    deadline stays, claimable again at once, so the next tick escalates the case."""
    case = raise_case(app, "northbay")
    _clock(app).set(STAGE_ONE_LAPSED)
    racing = PartyActsFirst(app.store, _record_by_counterpart(app, case), times=100)

    first = fire_due_deadlines(racing, _scheduler_engine(app, racing), app.clock, "worker-1")

    assert first.fired == 0
    assert current(app, case).stage == 1
    stage_rows = [d for d in app.store.deadlines_for_case(case.id) if d.kind == "stage"]
    assert len(stage_rows) == 1, "the case's only stage deadline was deleted"

    second = fire_due_deadlines(app.store, app.engine, app.clock, "worker-2")
    assert second.fired == 1
    assert current(app, case).stage == 2
    assert _escalations(app, case) == 1


def test_a_save_by_anyone_voids_a_claim_on_a_deadline_it_keeps(app: App) -> None:
    """The store-level fence: a worker whose claim predates the case's latest write cannot delete
    the row the case now holds."""
    case = raise_case(app, "northbay")
    _clock(app).set(STAGE_ONE_LAPSED)
    claims = app.store.claim_due(app.clock.now(), "worker-1", 60, 10)
    stage_claim = next(c for c in claims if c.deadline.kind == "stage")
    _record_by_counterpart(app, case)()

    assert app.store.complete_deadline(stage_claim) is False
    again = app.store.claim_due(app.clock.now(), "worker-2", 60, 10)
    assert [c.deadline.key for c in again if c.deadline.kind == "stage"] == [
        stage_claim.deadline.key
    ]


# ---- soak: real threads, real stores ----------------------------------------------------------

SOAK_CASES = 150
CLICKS_PER_CASE = 6


class Contention:
    """The scheduler's observer, counting how often a fire met a person's write."""

    def __init__(self) -> None:
        self.retried = self.released = 0
        self._lock = threading.Lock()

    def claimed(self, seconds: float, count: int) -> None:
        pass

    def fired(self, lag_seconds: float) -> None:
        pass

    def contended(self, released: bool) -> None:
        with self._lock:
            if released:
                self.released += 1
            else:
                self.retried += 1

    def delivered(self, recipient_kind: str, ok: bool) -> None:
        pass


@pytest.fixture
def busy_interpreter() -> Iterator[None]:
    """Switch threads every few microseconds, so reads and writes of different threads
    interleave inside commands as they would across processes."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


def test_soak_concurrent_lapses_and_clicks_escalate_every_case_exactly_once(
    app: App, busy_interpreter: None
) -> None:
    """Every case's stage-1 deadline lapses while its counterpart records a discussion, from two
    scheduler workers and two clicking threads at once. Every case escalates, exactly once, and
    the run is shown to have raced (a soak that never met a stale write would prove nothing)."""
    # in the order the scheduler claims them (due time, then key), so clicks and fires meet
    cases = sorted((raise_case(app, "northbay") for _ in range(SOAK_CASES)), key=lambda c: c.id)
    _clock(app).set(STAGE_ONE_LAPSED + timedelta(minutes=1))
    errors: list[BaseException] = []
    contention = Contention()
    start = threading.Barrier(4)
    done = threading.Event()

    def clicker() -> None:
        """Counterparts recording discussions on the case the scheduler is about to escalate,
        a few times each (a person, not a flood), until it has: clicks landing as it lapses."""
        start.wait()
        for case in cases:
            for _ in range(CLICKS_PER_CASE):
                if done.is_set() or current(app, case).stage != 1:
                    break
                try:
                    _record_by_counterpart(app, case)()
                except DomainError:
                    continue  # stale, as a person would see it, and clicked again
                except BaseException as exc:
                    errors.append(exc)
                    return

    def worker(name: str) -> None:
        start.wait()
        try:
            for _ in range(2000):
                fire_due_deadlines(app.store, app.engine, app.clock, name, batch=5,
                                   observer=contention, max_batches=2)
                if app.store.count_due(app.clock.now()) == 0:
                    break
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    threads = [
        threading.Thread(target=clicker),
        threading.Thread(target=clicker),
        threading.Thread(target=worker, args=("worker-a",)),
        threading.Thread(target=worker, args=("worker-b",)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    # a claim given back in the last round is fired by the next tick
    fire_due_deadlines(app.store, app.engine, app.clock, "worker-c", observer=contention)

    assert contention.retried > 0, "the soak never raced a person's write; it proves nothing"
    stuck = [c.reference for c in cases if current(app, c).stage != 2]
    assert stuck == [], f"{len(stuck)} of {SOAK_CASES} cases never escalated: {stuck[:5]}"
    twice = [c.reference for c in cases if _escalations(app, c) != 1]
    assert twice == []
    for case in cases:
        kinds = [d.kind for d in app.store.deadlines_for_case(case.id)]
        assert kinds.count("stage") == 1, (case.reference, kinds)
    print(f"soak: {SOAK_CASES} cases, {contention.retried} stale retries,"
          f" {contention.released} released")
