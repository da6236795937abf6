"""The ticker: one pass fires lapsed deadlines and delivers the outbox; started, APScheduler runs
it on its interval until stopped."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from adapters.console.render import ConsoleNotifier
from bot.bootstrap import bootstrap
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
