"""A freshly started bot process's scheduler, for the ``catchup`` benchmark.

``python -m bench.catchup_worker --store sqlite --path FILE --clock ISO`` (or ``--store redis --url
URL --prefix P``) wires the production app on an existing store, as ``escalation-bot serve`` does
(its collector settings included: bot.heap), starts the production ticker (APScheduler, its first
tick at once, then the catch-up that runs passes back to back while a backlog remains) and waits
until nothing is due: every deadline fired and every notification delivered (to a notifier that
takes them at once: the bot is measured, not Teams). Meanwhile it does what a person and Kubernetes
would: every ``--probe-every`` seconds a ``status`` turn through the conversation service, from a
directory person with no cases, and the store read ``/readyz`` makes, each off the event loop as
the server runs them, and their latencies are reported beside the drain's, with the same probes on
the idle process afterwards. It prints one JSON line. The clock is a ShiftedClock that reads
``--clock`` when the process starts, so it continues the parent's shifted time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from adapters.storage.redis import RedisStore
from adapters.storage.sqlite import SqliteStore
from bench.common import CONFIG, NullNotifier, Recorder, summary
from bot.bootstrap import App, bootstrap
from bot.heap import settle_heap
from dialogs.clock import ShiftedClock
from dialogs.conversation import ConversationService
from dialogs.ports import Store
from scheduler.ticker import Ticker


class TimedWrites:
    """The store as the scheduler sees it, with its batch reads and writes timed."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.save_seconds: list[tuple[float, int]] = []
        self.totals: dict[str, list[Any]] = {}

    def save_cases(self, saves: list[Any], completed: list[Any]) -> list[Exception | None]:
        started = time.perf_counter()
        try:
            return self.store.save_cases(saves, completed)
        finally:
            self.save_seconds.append((time.perf_counter() - started, len(saves) + len(completed)))

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.store, name)
        if not callable(found):
            return found
        totals = self.totals.setdefault(name, [0.0, 0])
        if name == "marking_on_loop":
            return lambda: self._timed_marks(found)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return found(*args, **kwargs)
            finally:
                totals[0] += time.perf_counter() - started
                totals[1] += 1
        return timed

    @asynccontextmanager
    async def _timed_marks(self, marking: Any) -> AsyncIterator[Any]:
        totals = self.totals.setdefault("mark on the loop", [0.0, 0])
        async with marking() as mark:
            async def timed(key: str, at: datetime) -> bool:
                started = time.perf_counter()
                try:
                    return bool(await mark(key, at))
                finally:
                    totals[0] += time.perf_counter() - started
                    totals[1] += 1
            yield timed

    def seconds_in(self) -> dict[str, dict[str, float]]:
        """Where the drain's store time went: seconds and calls per store method."""
        spent = {"save_cases": [sum(s for s, _ in self.save_seconds), len(self.save_seconds)],
                 **self.totals}
        return {name: {"s": round(total, 2), "calls": calls}
                for name, (total, calls) in sorted(spent.items(), key=lambda kv: -kv[1][0])
                if total >= 0.01}


class FireTimedTicker(Ticker):
    """The production Ticker, with the time its passes spend deciding and writing lapses (the
    worker thread's fire step) summed, so the drain splits into deadlines and delivery."""

    fire_seconds = 0.0

    def _fire(self) -> Any:
        started = time.perf_counter()
        try:
            return super()._fire()
        finally:
            self.fire_seconds += time.perf_counter() - started


def _quiet_person(app: App) -> str:
    """A directory person who is party to no case: the 'status with 0 cases' turn."""
    for partnership in app.config.partnerships:
        for email in sorted(app.engine.people(partnership.id)):
            if not app.store.cases_for_person(email, include_closed=True, limit=1):
                return email
    raise RuntimeError("every directory person is party to a case; no quiet person to probe")


async def _probe(service: ConversationService, store: Store, person: str) -> tuple[float, float]:
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    replies = await loop.run_in_executor(None, service.on_text, person, "status")
    turn = time.perf_counter() - started
    if not replies:
        raise RuntimeError("the status probe got no answer")
    started = time.perf_counter()
    await loop.run_in_executor(None, store.next_due)
    return turn, time.perf_counter() - started


async def _drain(app: App, store: Store, ticker: Ticker, clock: ShiftedClock,
                 probe_every: float) -> dict[str, Any]:
    service = ConversationService(app.engine, app.store, today=lambda: clock.now().date(),
                                  platform="teams")
    person = _quiet_person(app)
    loop = asyncio.get_running_loop()
    turns: list[float] = []
    ready: list[float] = []
    worst_since_progress = 0.0
    started = time.perf_counter()
    deadlines_done = notes_done = None
    ticker.start()
    try:
        while notes_done is None:
            await asyncio.sleep(probe_every)
            turn, readyz = await _probe(service, store, person)
            turns.append(turn)
            ready.append(readyz)
            since = ticker.seconds_since_progress()
            worst_since_progress = max(worst_since_progress, since or 0.0)
            now = clock.now()
            if deadlines_done is None and not await loop.run_in_executor(
                None, store.count_due, now
            ):
                deadlines_done = time.perf_counter() - started
            if deadlines_done is not None and not ticker.catching_up() and not (
                await loop.run_in_executor(None, store.count_due_notifications, now)
            ):
                notes_done = time.perf_counter() - started
    finally:
        ticker.stop()
    idle_turns, idle_ready = [], []
    for _ in range(20):
        turn, readyz = await _probe(service, store, person)
        idle_turns.append(turn)
        idle_ready.append(readyz)
    return {
        "deadlines_drained_seconds": round(deadlines_done or 0.0, 2),
        "drained_seconds": round(notes_done, 2),
        "status_turn_during_ms": summary(turns, 1000),
        "readyz_read_during_ms": summary(ready, 1000),
        "status_turn_idle_ms": summary(idle_turns, 1000),
        "readyz_read_idle_ms": summary(idle_ready, 1000),
        "longest_without_progress_s": round(worst_since_progress, 3),
        "ticks": ticker.ticks,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=["sqlite", "redis"], required=True)
    parser.add_argument("--path")
    parser.add_argument("--url")
    parser.add_argument("--prefix")
    parser.add_argument("--clock", required=True)
    parser.add_argument("--worker", default="catchup")
    parser.add_argument("--probe-every", type=float, default=0.1)
    args = parser.parse_args()
    process_started = time.perf_counter()
    clock = ShiftedClock(datetime.fromisoformat(args.clock))
    store: SqliteStore | RedisStore
    if args.store == "sqlite":
        store = SqliteStore(Path(args.path))
        database = Path(args.path)
    else:
        store = RedisStore(args.url, args.prefix)
        database = Path("/nonexistent/unused.sqlite3")
    app = bootstrap(CONFIG, database, clock, store=store)
    settle_heap()  # as serve does once its startup is built
    wired = time.perf_counter()
    recorder = Recorder()
    timed = TimedWrites(store)
    notifier = NullNotifier()
    ticker = FireTimedTicker(timed, app.engine, clock, notifier,  # type: ignore[arg-type]
                    worker=args.worker, interval_seconds=1.0, lease_seconds=60.0, batch=100,
                    observer=recorder)
    drained = asyncio.run(_drain(app, store, ticker, clock, args.probe_every))
    backlog = store.count_due(clock.now())
    store.close()
    per_case = [seconds / max(n, 1) for seconds, n in timed.save_seconds]
    print(json.dumps({
        "worker": args.worker,
        "wire_seconds": round(wired - process_started, 3),
        **drained,
        "fired": len(recorder.lags),
        "delivered": notifier.count,
        "backlog_after": backlog,
        "claims": recorder.claim_summary(),
        "contended": recorder.contentions,
        "batch_write_ms": summary([s for s, _ in timed.save_seconds], 1000),
        "write_per_case_ms": summary(per_case, 1000, 4),
        "lag_s": summary(recorder.lags, 1, 3),
        "fire_seconds": round(ticker.fire_seconds, 2),
        "store_seconds": timed.seconds_in(),
    }))


if __name__ == "__main__":
    main()
