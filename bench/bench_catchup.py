"""Benchmark ``catchup``: a restart with 10,000 lapsed deadlines.

Per store: ``--catchup`` open cases (copies of real raises, see bench/common.py) whose only
deadline is their stage deadline, already past, as if the bot had been down. Two patterns:

- ``instant``: every one lapsed at the same moment, 17:00 on the previous working day (stage
  deadlines are all at end of business, so this is what a night's downtime leaves);
- ``spread``: lapsed at random over the last 30 minutes.

Then one fresh process (``python -m bench.catchup_worker``: the production ``bootstrap`` and the
production ticker, started as ``serve`` starts it: its first tick at once, then passes back to back
while a backlog remains) works until nothing is due. Reported: the drain, from the ticker's start
to the last deadline fired and to the last notification delivered; wall time from spawn to exit;
``status`` turns (a directory person with no cases) and the ``/readyz`` store read, probed every
0.1 s during the drain and then on the idle process; and per case the number of
``deadline_lapsed`` events in its history (exactly one each; anything else is a duplicate or a
miss, and both are asserted zero). Unless ``--quick``, the same again with two fresh processes
started together on the same store (two replicas restarting), which exercises the lease: still
exactly one event per case.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

from bench.common import (
    CLOCK_START,
    ROOT,
    Serials,
    StoreHandle,
    bulk_load,
    lapsed_counts,
    make_templates,
    open_store,
    populate_due,
    shifted_clock,
    wire,
)
from bench.registry import Context, Result, benchmark
from bench.sizes import measure

TARGET_SECONDS = 20.0  # issue 13: 10,000 lapsed, one process
LAPSED_AT = CLOCK_START - timedelta(hours=17)  # Monday 1 February 2027 17:00 UTC (= local)


def _spawn(handle: StoreHandle, ctx: Context, clock_iso: str, worker: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "bench.catchup_worker", "--store", handle.kind,
               "--clock", clock_iso, "--worker", worker]
    if handle.kind == "sqlite":
        command += ["--path", str(handle.path)]
    else:
        command += ["--url", ctx.redis_url, "--prefix", str(handle.prefix)]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def run_one(ctx: Context, kind: str, count: int, workers: int, pattern: str) -> Result:
    rng = random.Random(count + workers)
    with open_store(kind, ctx.workdir, ctx.redis_url, f"catchup{workers}") as handle:
        clock = shifted_clock()
        app = wire(handle, clock)
        store = handle.store
        templates = make_templates(app)
        now = clock.now()
        if pattern == "instant":
            due_times = [LAPSED_AT] * count
        else:
            due_times = sorted(now - timedelta(seconds=rng.uniform(1, 1800))
                               for _ in range(count))
        ctx.log(f"catchup {kind}: writing {count} cases lapsed ({pattern})")
        started = time.perf_counter()
        with bulk_load(handle):
            copies = populate_due(store, templates, due_times, Serials())
        populate_s = time.perf_counter() - started
        due_before = store.count_due(clock.now())
        size_before = measure(handle)
        ctx.log(f"catchup {kind}: {due_before} due; starting {workers} fresh process(es)")
        spawned = time.perf_counter()
        clock_iso = clock.now().isoformat()
        procs = [_spawn(handle, ctx, clock_iso, f"replica-{i + 1}") for i in range(workers)]
        outputs = []
        for proc in procs:
            out, err = proc.communicate(timeout=1800)
            if proc.returncode != 0:
                raise RuntimeError(f"catchup worker failed ({proc.returncode}):\n{err[-3000:]}")
            outputs.append(json.loads(out.strip().splitlines()[-1]))
        wall = time.perf_counter() - spawned
        backlog = store.count_due(clock.now())
        notes_due = store.count_due_notifications(clock.now())
        size_after = measure(handle)
        counts = lapsed_counts(store, [c.case.id for c in copies])
        stages = _stages(store, [c.case.id for c in copies])
    fired = sum(o["fired"] for o in outputs)
    return {
        "store": kind,
        "lapsed": count,
        "pattern": pattern,
        "workers": workers,
        "populate_seconds": round(populate_s, 1),
        "due_before": due_before,
        "wall_seconds": round(wall, 2),
        "drain_seconds": max(o["drained_seconds"] for o in outputs),
        "deadlines_drain_seconds": max(o["deadlines_drained_seconds"] for o in outputs),
        "deadlines_per_second": round(
            count / max(max(o["deadlines_drained_seconds"] for o in outputs), 1e-9), 1),
        "fired": fired,
        "delivered": sum(o["delivered"] for o in outputs),
        "backlog_after": backlog,
        "notifications_due_after": notes_due,
        "deadline_lapsed_per_case": counts,
        "duplicates": counts["extra_events"],
        "missed": counts["zero"],
        "cases_by_stage_after": stages,
        "store_growth_bytes_per_lapse": _growth(size_before, size_after, fired),
        "workers_detail": outputs,
    }


def _growth(before: dict[str, Any], after: dict[str, Any], fired: int) -> dict[str, Any]:
    """What firing added to the store per lapsed deadline (history, outbox, new deadlines)."""
    out: dict[str, Any] = {"bytes": round((after["total"] - before["total"]) / max(fired, 1))}
    if "usage_sum" in after:  # Redis: also the prefix's own MEMORY USAGE, immune to neighbours
        out["memory_usage"] = round((after["usage_sum"] - before["usage_sum"]) / max(fired, 1))
        out["used_memory_disturbed"] = before["foreign_keys"] != after["foreign_keys"]
    return out


def _pair(stats: dict[str, Any]) -> str:
    return f"{stats.get('p50')}/{stats.get('p99')}"


def _stages(store: Any, case_ids: list[str]) -> dict[str, int]:
    stages: dict[str, int] = {}
    for case_id in case_ids:
        case = store.get_case(case_id)
        key = "missing" if case is None else str(case.stage)
        stages[key] = stages.get(key, 0) + 1
    return stages


@benchmark("catchup", order=20)
def catchup(ctx: Context) -> Result:
    """Restart with N lapsed deadlines: time for a fresh process to fire them all, duplicates."""
    variants = [("instant", 1)]
    if not ctx.quick:
        variants += [("instant", 2), ("spread", 1)]
    runs, rows, problems = [], [], []
    for kind in ctx.stores:
        for pattern, workers in variants:
            run = run_one(ctx, kind, ctx.catchup_count, workers, pattern)
            runs.append(run)
            detail = run["workers_detail"][0]
            rows.append({
                "store": kind,
                "lapsed": run["lapsed"],
                "pattern": pattern,
                "processes": workers,
                "drain s": run["drain_seconds"],
                "deadlines s": run["deadlines_drain_seconds"],
                "wall s": run["wall_seconds"],
                "per s": run["deadlines_per_second"],
                "fired": run["fired"],
                "duplicates": run["duplicates"],
                "missed": run["missed"],
                "status p50/p99 ms during": _pair(detail["status_turn_during_ms"]),
                "status p50/p99 ms idle": _pair(detail["status_turn_idle_ms"]),
                "readyz p50/p99 ms during": _pair(detail["readyz_read_during_ms"]),
                "write/case ms": detail["write_per_case_ms"].get("p50"),
                "bytes/lapse": run["store_growth_bytes_per_lapse"].get(
                    "memory_usage", run["store_growth_bytes_per_lapse"]["bytes"]),
            })
            if run["drain_seconds"] > TARGET_SECONDS:
                problems.append(f"{kind} {pattern} x{workers}: drained in "
                                f"{run['drain_seconds']} s, over the {TARGET_SECONDS:.0f} s target")
            if run["duplicates"] or run["missed"]:
                problems.append(f"{kind} {pattern} x{workers}: deadline_lapsed per case "
                                f"{run['deadline_lapsed_per_case']}")
            if run["backlog_after"]:
                problems.append(f"{kind} {pattern} x{workers}: {run['backlog_after']} deadlines "
                                "still due")
    return {"target": {"seconds": TARGET_SECONDS, "duplicates": 0}, "runs": runs, "rows": rows,
            "problems": problems}
