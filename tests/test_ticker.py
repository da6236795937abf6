"""The ticker: one pass fires lapsed deadlines and delivers the outbox; started, APScheduler runs
it on its interval until stopped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.console.render import ConsoleNotifier
from bot.bootstrap import App, bootstrap
from bot.demo import demo_answers
from dialogs.clock import SimulatedClock
from dialogs.commands import RaiseConcern
from dialogs.notifications import RecipientKind
from scheduler.ticker import Ticker

ROOT = Path(__file__).resolve().parents[1]
RAISED = datetime(2027, 2, 1, 10, tzinfo=UTC)


async def test_a_tick_escalates_a_lapsed_case_and_delivers(tmp_path: Path) -> None:
    clock = SimulatedClock(RAISED)
    app = bootstrap(ROOT / "examples/partnerships.yaml", tmp_path / "db.sqlite3", clock)
    notifier = ConsoleNotifier(echo=False)
    ticker = Ticker(app.store, app.engine, clock, notifier, worker="t1")
    try:
        counterpart = app.engine.people("northbay")["hana.moss@health.northbay.example"]
        case = app.engine.handle(
            RaiseConcern(
                actor="dana.marsh@council.northbay.example",
                partnership_id="northbay",
                answers=demo_answers(app.policies.get("nsscp"), counterpart),
            )
        ).case
        assert case is not None
        first = await ticker.tick()
        # the raise's messages, in working hours: counterpart ping, raiser's confirmation and the
        # business team's alert (stage 1 has no tier channel in the example)
        assert (first.fired, len(notifier.sink)) == (0, 3)
        clock.set(datetime(2027, 2, 3, 9, 30, tzinfo=UTC))  # Wed: stage 1 lapsed Tue 17:00
        second = await ticker.tick()
        assert second.fired == 1
        escalated = app.store.get_case(case.id)
        assert escalated is not None and escalated.stage == 2
        channels = [
            n.recipient.address
            for n in notifier.sink[3:]
            if n.recipient.kind is RecipientKind.CHANNEL
        ]
        assert "console:northbay-business-team" in channels
        assert (await ticker.tick()).fired == 0  # nothing twice
        assert ticker.ticks == 3 and ticker.seconds_since_tick() is not None
    finally:
        app.close()


async def test_started_it_ticks_on_its_interval_until_stopped(tmp_path: Path) -> None:
    clock = SimulatedClock(RAISED)
    app = bootstrap(ROOT / "examples/partnerships.yaml", tmp_path / "db.sqlite3", clock)
    lags: list[float] = []
    ticker = Ticker(
        app.store,
        app.engine,
        clock,
        ConsoleNotifier(echo=False),
        worker="t2",
        interval_seconds=0.05,
        on_tick=lags.append,
    )
    try:
        ticker.start()
        for _ in range(200):  # bounded: the real scheduler must tick within ~10 s
            if ticker.ticks >= 3:
                break
            await asyncio.sleep(0.05)
        ticker.stop()
        ticks = ticker.ticks
        assert ticks >= 3
        assert len(lags) >= 2 and all(lag >= 0 for lag in lags)
        await asyncio.sleep(0.2)
        assert ticker.ticks == ticks  # stopped means stopped
    finally:
        ticker.stop()
        app.close()


STAGE_1_LAPSES = datetime(2027, 2, 2, 17, tzinfo=UTC)  # a case raised at RAISED: Tue 17:00


async def until(done: Callable[[], bool], seconds: float = 5.0) -> bool:
    """Poll a real background job, bounded (the scheduler's own timers, not the deadlines)."""
    for _ in range(int(seconds / 0.02)):
        if done():
            return True
        await asyncio.sleep(0.02)
    return done()


@asynccontextmanager
async def started_just_before_a_lapse(tmp_path: Path) -> AsyncIterator[tuple[App, Ticker, str]]:
    """A case whose stage deadline is 0.2 s (simulated) away, and a ticker whose interval is a
    minute, started and past its first tick: only a wake can fire the deadline in time."""
    clock = SimulatedClock(RAISED)
    app = bootstrap(ROOT / "examples/partnerships.yaml", tmp_path / "db.sqlite3", clock)
    ticker = Ticker(app.store, app.engine, clock, ConsoleNotifier(echo=False), worker="tw",
                    interval_seconds=60.0)
    try:
        counterpart = app.engine.people("northbay")["hana.moss@health.northbay.example"]
        case = app.engine.handle(RaiseConcern(
            actor="dana.marsh@council.northbay.example", partnership_id="northbay",
            answers=demo_answers(app.policies.get("nsscp"), counterpart))).case
        assert case is not None
        clock.set(STAGE_1_LAPSES - timedelta(seconds=0.2))
        ticker.start()
        assert await until(lambda: ticker.ticks >= 1) and ticker.ticks == 1
        assert stage_of(app, case.id) == 1
        yield app, ticker, case.id
    finally:
        ticker.stop()
        app.close()


def stage_of(app: App, case_id: str) -> int | None:
    stored = app.store.get_case(case_id)
    return None if stored is None else stored.stage


async def test_started_it_wakes_for_a_deadline_due_before_the_next_interval(
    tmp_path: Path,
) -> None:
    """Issue 13's deadline lag: a deadline falling due between two interval ticks waited for the
    next one (up to a whole interval). The ticker now wakes when the next deadline is due."""
    async with started_just_before_a_lapse(tmp_path) as (app, ticker, case_id):
        clock = app.engine.clock
        assert isinstance(clock, SimulatedClock)
        clock.set(STAGE_1_LAPSES + timedelta(seconds=0.5))  # simulated time reaches it
        assert await until(lambda: stage_of(app, case_id) == 2)
        # the case is saved before the pass's delivery ends it
        assert await until(lambda: ticker.ticks >= 2)
        assert ticker.wakes >= 1 and ticker.ticks == 2  # the woken pass, not an interval's
        ticker.stop()
        woken = ticker.wakes
        await asyncio.sleep(0.1)
        assert ticker.wakes == woken  # stopped means no wake either


async def test_a_wake_that_finds_a_pass_running_waits_for_it_rather_than_being_lost(
    tmp_path: Path,
) -> None:
    """A pass not started by the ticker's own jobs (the tick after a turn) may hold the ticker
    when the wake comes; that pass does not arm the next wake, so a wake that gave up then left
    the deadline to the next interval tick. It waits for the pass and runs after it."""
    async with started_just_before_a_lapse(tmp_path) as (app, ticker, case_id):
        clock = app.engine.clock
        assert isinstance(clock, SimulatedClock)
        async with ticker._lock:  # a pass of someone else's is running when the wake comes
            clock.set(STAGE_1_LAPSES + timedelta(seconds=0.5))
            assert await until(lambda: ticker.wakes >= 1)
        assert await until(lambda: stage_of(app, case_id) == 2)


async def test_a_later_reading_of_next_due_never_moves_an_armed_wake_later(
    tmp_path: Path,
) -> None:
    """Two passes can arm a wake at once (an interval tick and a woken pass, each reading
    next_due off the loop); the one whose reading lands last must not push back a sooner wake
    the other armed, which would leave that deadline to the next interval tick."""
    async with started_just_before_a_lapse(tmp_path) as (app, ticker, case_id):
        clock = app.engine.clock
        assert isinstance(clock, SimulatedClock)
        armed = ticker._wake
        assert armed is not None  # the first tick armed it, ~0.2 s ahead
        await asyncio.sleep(0.05)
        # a reading landing now (the simulated clock has not moved) would wake 0.05 s later
        await ticker._arm_wake(found=True)
        assert ticker._wake is armed and not armed.cancelled()
        clock.set(STAGE_1_LAPSES + timedelta(seconds=0.5))
        assert await until(lambda: stage_of(app, case_id) == 2)


async def test_delivery_keeps_claiming_while_batches_come_back_full(tmp_path: Path) -> None:
    from store_contract import at, make_case, make_notification

    from adapters.storage.sqlite import SqliteStore
    from scheduler.runner import deliver_due_notifications

    store = SqliteStore(tmp_path / "outbox.db")
    try:
        notes = [make_notification(f"n{i}", deliver_at=at(0)) for i in range(5)]
        store.create_case(make_case(), [], notes, [])
        notifier = ConsoleNotifier(echo=False)
        clock = SimulatedClock(at(1))
        sent, failed = await deliver_due_notifications(store, notifier, clock, batch=2,
                                                       max_batches=2)
        assert (sent, failed) == (4, 0)  # two full batches, then the bound
        sent, _ = await deliver_due_notifications(store, notifier, clock, batch=2, max_batches=5)
        assert sent == 1  # the last, short batch ends the loop
        assert sorted(n.key for n in notifier.sink) == [f"n{i}" for i in range(5)]
    finally:
        store.close()


async def test_a_backlog_of_deadlines_is_worked_through_over_several_ticks(
    tmp_path: Path,
) -> None:
    clock = SimulatedClock(RAISED)
    app = bootstrap(ROOT / "examples/partnerships.yaml", tmp_path / "db.sqlite3", clock)
    try:
        counterpart = app.engine.people("northbay")["hana.moss@health.northbay.example"]
        answers = demo_answers(app.policies.get("nsscp"), counterpart)
        for _ in range(5):
            app.engine.handle(RaiseConcern(actor="dana.marsh@council.northbay.example",
                                           partnership_id="northbay", answers=answers))
        clock.set(datetime(2027, 2, 2, 17, 1, tzinfo=UTC))  # all five stage-1 deadlines lapsed
        from scheduler.runner import fire_due_deadlines

        # due: five 09:00 reminders (moot now, skipped) and five stage deadlines, in due order
        first = fire_due_deadlines(app.store, app.engine, clock, "w", batch=2, max_batches=1)
        assert first.fired + first.skipped == 2  # one batch, then the call returns
        assert app.store.count_due(clock.now()) == 8
        rest = fire_due_deadlines(app.store, app.engine, clock, "w", batch=2)
        assert (first.fired + rest.fired, first.skipped + rest.skipped) == (5, 5)
        assert {c.stage for c in app.store.open_cases()} == {2}
    finally:
        app.close()


async def test_a_backlog_past_one_ticks_bound_drains_in_passes_back_to_back(
    tmp_path: Path,
) -> None:
    """Issue 13: the bound on one pass protects live traffic, but a backlog must not wait an
    interval per pass. The interval's tick starts a catch-up that runs passes back to back until
    nothing is due, answering other work (a person's status) in between."""
    from dialogs.conversation import ConversationService
    from scheduler.ticker import DEADLINE_BATCHES_PER_TICK

    clock = SimulatedClock(RAISED)
    app = bootstrap(ROOT / "examples/partnerships.yaml", tmp_path / "db.sqlite3", clock)
    raiser = "dana.marsh@council.northbay.example"
    ticker = Ticker(app.store, app.engine, clock, ConsoleNotifier(echo=False), worker="t",
                    batch=1, interval_seconds=3600)
    try:
        counterpart = app.engine.people("northbay")["hana.moss@health.northbay.example"]
        answers = demo_answers(app.policies.get("nsscp"), counterpart)
        cases = 2 * DEADLINE_BATCHES_PER_TICK + 3  # two reminders and stage deadlines each
        for _ in range(cases):
            app.engine.handle(RaiseConcern(actor=raiser, partnership_id="northbay",
                                           answers=answers))
        await ticker.tick()  # the raises' messages out of the way
        clock.set(datetime(2027, 2, 2, 17, 1, tzinfo=UTC))
        assert app.store.count_due(clock.now()) == 2 * cases
        service = ConversationService(app.engine, app.store, today=lambda: RAISED.date(),
                                      platform="teams")
        answered_while_catching_up = 0

        async def person_asks_for_status() -> None:
            nonlocal answered_while_catching_up
            while app.store.count_due(clock.now()):
                loop = asyncio.get_running_loop()
                replies = await loop.run_in_executor(None, service.on_text, raiser, "status")
                assert replies
                answered_while_catching_up += ticker.catching_up()
                await asyncio.sleep(0)

        asker = asyncio.create_task(person_asks_for_status())
        await ticker._scheduled_tick()  # the interval's tick: one bounded pass, then catch-up
        assert ticker.catching_up()
        assert ticker._catch_up is not None
        await ticker._catch_up
        await asker
        assert app.store.count_due(clock.now()) == 0
        assert {c.stage for c in app.store.open_cases()} == {2}
        assert ticker.ticks >= 1 + (2 * cases) // DEADLINE_BATCHES_PER_TICK
        assert answered_while_catching_up > 0
        assert not (await ticker.tick()).more  # caught up: the next pass finds nothing
    finally:
        ticker.stop()
        app.close()


async def test_a_pass_says_more_only_when_it_stopped_at_its_bound(tmp_path: Path) -> None:
    clock = SimulatedClock(RAISED)
    app = bootstrap(ROOT / "examples/partnerships.yaml", tmp_path / "db.sqlite3", clock)
    try:
        counterpart = app.engine.people("northbay")["hana.moss@health.northbay.example"]
        answers = demo_answers(app.policies.get("nsscp"), counterpart)
        for _ in range(3):
            app.engine.handle(RaiseConcern(actor="dana.marsh@council.northbay.example",
                                           partnership_id="northbay", answers=answers))
        clock.set(datetime(2027, 2, 2, 17, 1, tzinfo=UTC))  # six due
        from scheduler.runner import fire_due_deadlines

        bounded = fire_due_deadlines(app.store, app.engine, clock, "w", batch=2, max_batches=2)
        assert (bounded.fired + bounded.skipped, bounded.more) == (4, True)
        last = fire_due_deadlines(app.store, app.engine, clock, "w", batch=2, max_batches=2)
        assert (last.fired + last.skipped, last.more) == (2, False)  # the second batch: empty
        exact = fire_due_deadlines(app.store, app.engine, clock, "w", batch=3, max_batches=1)
        assert (exact.fired + exact.skipped, exact.more) == (0, False)
    finally:
        app.close()


async def test_a_tick_cut_short_by_shutdown_logs_one_line_not_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Stopping the server while a tick runs cancels it: that is a normal stop, not a fault, so
    the log gets one INFO line and APScheduler no ERROR with a traceback."""
    import logging
    import threading

    clock = SimulatedClock(RAISED)
    app = bootstrap(ROOT / "examples/partnerships.yaml", tmp_path / "db.sqlite3", clock)
    busy, release = threading.Event(), threading.Event()

    def housekeeping() -> None:  # a tick still working when the server stops
        busy.set()
        release.wait(5)

    ticker = Ticker(app.store, app.engine, clock, ConsoleNotifier(echo=False), worker="t1",
                    housekeeping=housekeeping)
    try:
        with caplog.at_level(logging.INFO):
            running = asyncio.ensure_future(ticker._scheduled_tick())
            while not busy.is_set():
                await asyncio.sleep(0)
            running.cancel()
            await asyncio.wait([running])
        assert not running.cancelled() and running.exception() is None
        stopped = [r for r in caplog.records if r.name == "escalation_bot.scheduler"]
        assert [r.levelname for r in stopped] == ["INFO"]
        assert all(r.exc_info is None for r in caplog.records)
    finally:
        release.set()
        app.close()
