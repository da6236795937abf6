"""Benchmark ``scheduler``: claim and fire cost, and due-to-processed lag, with N open cases.

Per store and size N:

1. four real raises (templates), then N - due - raises background copies whose deadlines are all
   1 to 37 days ahead, then ``--raises`` more real raises timed at that size;
2. the store's read paths at N: an empty ``claim_due``, ``count_due`` and ``open_case_counts``
   (the metrics scrape) and ``next_due``;
3. ``due`` more copies whose only deadline is their stage deadline, due at a steady rate over the
   next ``window`` seconds (starting a little after the last one is written);
4. the production ``scheduler.ticker.Ticker`` (APScheduler, tick every ``tick`` seconds, lease 60 s,
   batch 100, its delivery step included, with a notifier that returns at once) on the real-time
   ``ShiftedClock`` until every due deadline has fired. Lag per deadline is what the scheduler's
   Observer reports: clock time after ``engine.handle`` minus the deadline's due time.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from bench.common import (
    NullNotifier,
    Recorder,
    Serials,
    TimedEngine,
    TimedStore,
    bulk_load,
    lapsed_counts,
    make_templates,
    open_store,
    populate_background,
    populate_due,
    shifted_clock,
    summary,
    time_raises,
    timed,
    wire,
)
from bench.registry import Context, Result, benchmark
from scheduler.ticker import Ticker

LAG_TARGET_P99_S = 2.0
TIMED_RAISES = 100


class TimedTicker(Ticker):
    """The production Ticker, with each tick's duration recorded (scheduling is untouched)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tick_seconds: list[float] = []

    async def tick(self, **options: Any) -> Any:
        started = time.perf_counter()
        try:
            return await super().tick(**options)
        finally:
            self.tick_seconds.append(time.perf_counter() - started)


class SkippedTicks(logging.Handler):
    """Counts APScheduler's 'skipped: maximum number of running instances reached' warnings:
    a tick that could not start because the previous one was still running."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "maximum number of running instances" in record.getMessage():
            self.count += 1


@contextmanager
def counting_skipped_ticks() -> Iterator[SkippedTicks]:
    handler = SkippedTicks()
    logger = logging.getLogger("apscheduler")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


class Scraper:
    """What Prometheus does to a replica: every ``interval`` seconds, from another thread (the
    server runs ``generate_latest`` in an executor), collect the production metrics registry,
    whose collector reads ``open_case_counts`` and ``count_due`` from the store."""

    def __init__(self, store: Any, clock: Any, interval: float, start_at: Any) -> None:
        from bot.metrics import Metrics

        self.registry = Metrics(store, clock).registry
        self.clock, self.interval, self.start_at = clock, interval, start_at
        self.seconds: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from prometheus_client import generate_latest

        wait = max(0.0, (self.start_at - self.clock.now()).total_seconds())
        while not self._stop.wait(wait):
            started = time.perf_counter()
            generate_latest(self.registry)
            took = time.perf_counter() - started
            self.seconds.append(took)
            wait = max(0.0, self.interval - took)

    def __enter__(self) -> Scraper:
        if self.interval > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def redis_blocking_during(client: Any, fn: Any) -> dict[str, Any]:
    """Run ``fn`` while another connection PINGs Redis in a loop: the worst PING is how long
    the server's single thread was busy with ``fn``'s script, i.e. what every replica waited."""
    stop = threading.Event()
    pings: list[float] = []

    def ping() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            client.ping()
            pings.append(time.perf_counter() - started)

    thread = threading.Thread(target=ping, daemon=True)
    thread.start()
    time.sleep(0.05)
    started = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - started
    stop.set()
    thread.join()
    return {"call_ms": round(elapsed * 1000, 1),
            "worst_concurrent_ping_ms": round(max(pings) * 1000, 1) if pings else None}


async def _run_ticker(
    ticker: Ticker, recorder: Recorder, clock: Any, expected: int, give_up_at: Any
) -> bool:
    ticker.start()
    try:
        while len(recorder.lags) < expected and clock.now() < give_up_at:
            await asyncio.sleep(0.05)
        # let the tick in progress finish before the store is touched again
        async with ticker._lock:
            pass
    finally:
        ticker.stop()
    return len(recorder.lags) >= expected


def run_one(ctx: Context, kind: str, n: int) -> Result:
    rng = random.Random(n)
    with open_store(kind, ctx.workdir, ctx.redis_url, f"sched{n}") as handle:
        clock = shifted_clock()
        app = wire(handle, clock)
        store = handle.store
        templates = make_templates(app)
        raises = min(TIMED_RAISES, max(0, n // 10))
        due = max(0, min(ctx.due, n - len(templates) - raises))
        background = n - len(templates) - raises - due
        serials = Serials()

        ctx.log(f"scheduler {kind} N={n}: populating {background} background copies")
        started = time.perf_counter()
        with bulk_load(handle):
            create_s = populate_background(store, templates, background, serials, rng,
                                           progress=ctx.log)
        populate_s = time.perf_counter() - started
        raise_s = time_raises(app, raises)

        now = clock.now()
        reads = {
            "claim_due_empty_ms": timed(store.claim_due, now, "probe", 60.0, 100),
            "count_due_ms": timed(store.count_due, now),
            "next_due_ms": timed(store.next_due),
            "open_case_counts_ms": timed(store.open_case_counts, repeat=3),
        }
        open_cases = sum(store.open_case_counts().values())
        if kind == "redis":
            reads["open_case_counts_blocks_redis"] = redis_blocking_during(
                handle.client, store.open_case_counts)

        # the due slice, written with the store's own durability: first due time far enough
        # ahead to write them all before the ticker starts
        lead = max(2.0, 0.006 * due + 1.0)
        first = clock.now() + timedelta(seconds=lead)
        step = ctx.window_seconds / max(due, 1)
        due_times = [first + timedelta(seconds=i * step) for i in range(due)]
        copies = populate_due(store, templates, due_times, serials)
        headroom = (first - clock.now()).total_seconds()
        ctx.log(f"scheduler {kind} N={n}: {due} due over {ctx.window_seconds}s, "
                f"first in {headroom:.1f}s; ticking every {ctx.tick_seconds}s")

        recorder = Recorder()
        timed_engine = TimedEngine(app.engine)
        timed_store = TimedStore(store)
        notifier = NullNotifier()
        ticker = TimedTicker(
            timed_store, timed_engine, clock, notifier,  # type: ignore[arg-type]
            worker="bench-ticker", interval_seconds=ctx.tick_seconds, lease_seconds=60.0,
            batch=100, observer=recorder, on_tick=recorder.on_tick,
        )
        last_due = due_times[-1] if due_times else clock.now()
        give_up = last_due + timedelta(seconds=max(120.0, ctx.window_seconds * 6))
        with counting_skipped_ticks() as skipped, \
                Scraper(store, clock, ctx.scrape_seconds, first) as scraper:
            completed = asyncio.run(_run_ticker(ticker, recorder, clock, due, give_up))
        backlog = store.count_due(clock.now())
        pending_notes = len(store.due_notifications(clock.now(), 1_000_000))
        duplicates = lapsed_counts(store, [c.case.id for c in copies])

    lag = summary(recorder.lags, 1, 3)
    claims = recorder.claim_summary()
    result: Result = {
        "store": kind,
        "open_cases": n,
        "open_cases_counted": open_cases,
        "population": {
            "templates_raised": len(templates),
            "background_copies": background,
            "timed_raises": raises,
            "due_copies": due,
            "populate_seconds": round(populate_s, 1),
            "create_case_ms_while_populating": summary(create_s, 1000),
            "raise_ms_at_n": summary(raise_s, 1000),
        },
        "reads_at_n": reads,
        "lag_run": {
            "tick_interval_s": ctx.tick_seconds,
            "window_s": ctx.window_seconds,
            "rate_per_s": round(due / ctx.window_seconds, 1) if due else 0,
            "headroom_before_first_due_s": round(headroom, 2),
            "completed": completed,
            "fired": len(recorder.lags),
            "lag_s": lag,
            "claims": claims,
            "handle_ms": summary(timed_engine.handle_seconds, 1000),
            "complete_ms": summary(timed_store.complete_seconds, 1000),
            "fire_cost_ms_mean": _fire_cost(timed_engine, timed_store),
            "metrics_scrape_every_s": ctx.scrape_seconds or None,
            "metrics_scrapes_ms": summary(scraper.seconds, 1000),
            "ticks": ticker.ticks,
            "tick_duration_ms": summary(ticker.tick_seconds, 1000),
            "ticks_skipped_still_running": skipped.count,
            "tick_start_lag_ms": summary(recorder.tick_lags, 1000),
            "delivered": recorder.delivered_ok,
            "claim_notifications_ms": summary(timed_store.claim_notification_seconds, 1000),
            "mark_sent_ms": summary(timed_store.mark_sent_seconds, 1000),
            "deadline_backlog_after": backlog,
            "notifications_due_undelivered_after": pending_notes,
            "deadline_lapsed_per_case": duplicates,
        },
    }
    return result


def _fire_cost(engine: TimedEngine, store: TimedStore) -> float | None:
    if not engine.handle_seconds:
        return None
    handle = sum(engine.handle_seconds) / len(engine.handle_seconds)
    complete = sum(store.complete_seconds) / max(len(store.complete_seconds), 1)
    return round((handle + complete) * 1000, 3)


@benchmark("scheduler", order=10)
def scheduler(ctx: Context) -> Result:
    """Claim/fire cost and due-to-fired lag (p50/p99) with N open cases, via the real Ticker."""
    runs = []
    rows = []
    problems = []
    for kind in ctx.stores:
        for n in ctx.sizes:
            run = run_one(ctx, kind, n)
            runs.append(run)
            lag_run = run["lag_run"]
            lag = lag_run["lag_s"]
            claims = lag_run["claims"]
            rows.append({
                "store": kind,
                "open": n,
                "due": run["population"]["due_copies"],
                "lag p50 s": lag.get("p50"),
                "lag p99 s": lag.get("p99"),
                "lag max s": lag.get("max"),
                "claim batch p50 ms": claims["nonempty_batch_ms"].get("p50"),
                "claim batch p99 ms": claims["nonempty_batch_ms"].get("p99"),
                "empty claim p50 ms": claims["empty_claim_ms"].get("p50"),
                "tick max ms": lag_run["tick_duration_ms"].get("max"),
                "skipped ticks": lag_run["ticks_skipped_still_running"],
                "fire p50 ms": lag_run["handle_ms"].get("p50"),
                "complete p50 ms": lag_run["complete_ms"].get("p50"),
                "raise p50 ms": run["population"]["raise_ms_at_n"].get("p50"),
                "metrics scrape ms": run["reads_at_n"]["open_case_counts_ms"].get("p50"),
            })
            p99 = lag.get("p99")
            if lag_run["headroom_before_first_due_s"] < 0.5:
                problems.append(f"{kind} N={n}: the due slice was still being written when it "
                                "fell due; lag overstated")
            if not lag_run["completed"]:
                problems.append(f"{kind} N={n}: only {lag_run['fired']} of "
                                f"{run['population']['due_copies']} deadlines fired in time")
            elif p99 is not None and p99 > LAG_TARGET_P99_S:
                problems.append(
                    f"{kind} N={n}: lag p99 {p99} s over the {LAG_TARGET_P99_S} s target")
            dup = lag_run["deadline_lapsed_per_case"]
            if dup["more"] or dup["zero"]:
                problems.append(f"{kind} N={n}: deadline_lapsed per case {dup}")
    return {"target": {"lag_p99_s": LAG_TARGET_P99_S}, "runs": runs, "rows": rows,
            "problems": problems}
