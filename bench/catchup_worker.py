"""A freshly started bot process's scheduler, for the ``catchup`` benchmark.

``python -m bench.catchup_worker --store sqlite --path FILE --clock ISO`` (or ``--store redis --url
URL --prefix P``) wires the production app on an existing store, as ``escalation-bot serve`` does,
runs the ticker's first tick (the reconcile pass: ``fire_due_deadlines`` until nothing is due, then
one delivery batch) and prints one JSON line with its timings. The clock is a ShiftedClock that
reads ``--clock`` when the process starts, so it continues the parent's shifted time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import datetime
from pathlib import Path

from adapters.storage.redis import RedisStore
from adapters.storage.sqlite import SqliteStore
from bench.common import CONFIG, NullNotifier, Recorder, TimedEngine, TimedStore, summary
from bot.bootstrap import bootstrap
from dialogs.clock import ShiftedClock
from scheduler.ticker import Ticker


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=["sqlite", "redis"], required=True)
    parser.add_argument("--path")
    parser.add_argument("--url")
    parser.add_argument("--prefix")
    parser.add_argument("--clock", required=True)
    parser.add_argument("--worker", default="catchup")
    args = parser.parse_args()
    process_started = time.perf_counter()
    clock = ShiftedClock(datetime.fromisoformat(args.clock))
    if args.store == "sqlite":
        store = SqliteStore(Path(args.path))
        database = Path(args.path)
    else:
        store = RedisStore(args.url, args.prefix)
        database = Path("/nonexistent/unused.sqlite3")
    app = bootstrap(CONFIG, database, clock, store=store)
    wired = time.perf_counter()
    recorder = Recorder()
    engine = TimedEngine(app.engine)
    timed_store = TimedStore(store)
    ticker = Ticker(timed_store, engine, clock, NullNotifier(),  # type: ignore[arg-type]
                    worker=args.worker, interval_seconds=1.0, lease_seconds=60.0, batch=100,
                    observer=recorder)
    tick_started = time.perf_counter()
    result = asyncio.run(ticker.tick())
    finished = time.perf_counter()
    backlog = store.count_due(clock.now())
    store.close()
    print(json.dumps({
        "worker": args.worker,
        "wire_seconds": round(wired - process_started, 3),
        "tick_seconds": round(finished - tick_started, 3),
        "fired": result.fired,
        "skipped": result.skipped,
        "failed": result.failed,
        "backlog_after": backlog,
        "claims": recorder.claim_summary(),
        "handle_ms": summary(engine.handle_seconds, 1000),
        "complete_ms": summary(timed_store.complete_seconds, 1000),
        "delivered_in_first_tick": recorder.delivered_ok,
        "lag_s": summary(recorder.lags, 1, 3),
    }))


if __name__ == "__main__":
    main()
