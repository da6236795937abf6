"""Benchmark ``memory``: bytes per open case.

Per store and size N: four real raises, a baseline measurement, then N - 4 open copies of them
(see bench/common.py: the real case JSON, its history events, its outbox rows, its deadlines) and
the same measurement again; bytes per case = delta / copies.

- Redis: ``INFO memory`` ``used_memory`` delta (what the allocator holds for the data, so it
  includes each key's overhead and the shared indexes' growth). Also a breakdown by key family
  from ``MEMORY USAGE key SAMPLES 0`` on a sample of up to 2,000 keys per family, scaled by the
  family's key count. Robust when other clients use the same server; ``used_memory`` is not, so
  the report flags a run where the number of other keys changed.
- SQLite: database file plus WAL after ``PRAGMA wal_checkpoint(TRUNCATE)`` (so the WAL is empty and
  everything is in the main file), delta / N; and a per-table/index breakdown from ``dbstat``.

Once per store, a calibration with real raises: 1,000 ``Engine.handle(RaiseConcern)`` calls and
their notifications delivered (marked sent, as they would be in production), measured the same
way, to show the copies are representative.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from bench.common import (
    NullNotifier,
    Serials,
    bulk_load,
    make_templates,
    open_store,
    populate_background,
    shifted_clock,
    time_raises,
    wire,
)
from bench.registry import Context, Result, benchmark
from bench.sizes import measure
from scheduler.runner import deliver_due_notifications

CALIBRATION_RAISES = 1000


def per_case(before: dict[str, Any], after: dict[str, Any], count: int) -> float | None:
    return round((after["total"] - before["total"]) / count, 1) if count else None


def table_delta(before: dict[str, Any], after: dict[str, Any], count: int) -> dict[str, float]:
    names = set(before.get("tables", {})) | set(after.get("tables", {}))
    delta = {n: (after["tables"].get(n, 0) - before["tables"].get(n, 0)) / count for n in names}
    return {n: round(v, 1) for n, v in sorted(delta.items(), key=lambda kv: -kv[1]) if v}


# ---- runs ---------------------------------------------------------------------------------------
def run_size(ctx: Context, kind: str, n: int) -> Result:
    rng = random.Random(n)
    with open_store(kind, ctx.workdir, ctx.redis_url, f"mem{n}") as handle:
        clock = shifted_clock()
        app = wire(handle, clock)
        templates = make_templates(app)
        copies = max(0, n - len(templates))
        before = measure(handle)
        ctx.log(f"memory {kind} N={n}: populating {copies} copies")
        started = time.perf_counter()
        with bulk_load(handle):
            populate_background(handle.store, templates, copies, Serials(), rng,
                                progress=ctx.log)
        populate_s = time.perf_counter() - started
        after = measure(handle)
        result: Result = {
            "store": kind,
            "open_cases": n,
            "copies": copies,
            "populate_seconds": round(populate_s, 1),
            "bytes_before": before["total"],
            "bytes_after": after["total"],
            "bytes_per_case": per_case(before, after, copies),
        }
        if kind == "sqlite":
            result["bytes_per_case_by_table"] = table_delta(before, after, copies)
            result["wal_after_checkpoint"] = after["wal"]
        else:
            result.update(redis_detail(before, after, copies))
        return result


def redis_detail(before: dict[str, Any], after: dict[str, Any], count: int) -> dict[str, Any]:
    names = set(before["families"]) | set(after["families"])
    by_family = {
        f: round((after["families"].get(f, {}).get("bytes", 0)
                  - before["families"].get(f, {}).get("bytes", 0)) / max(count, 1), 1)
        for f in names
    }
    disturbed = before["foreign_keys"] != after["foreign_keys"]
    return {
        "memory_usage_per_case": round((after["usage_sum"] - before["usage_sum"])
                                       / max(count, 1), 1),
        "memory_usage_per_case_by_family": dict(
            sorted(((f, v) for f, v in by_family.items() if v), key=lambda kv: -kv[1])),
        "keys_per_case": round((after["own_keys"] - before["own_keys"]) / max(count, 1), 2),
        "used_memory_disturbed": disturbed,
        "foreign_keys_before_after": [before["foreign_keys"], after["foreign_keys"]],
    }


async def _deliver_all(app: Any) -> int:
    notifier, total = NullNotifier(), 0
    while True:
        sent, failed = await deliver_due_notifications(
            app.store, notifier, app.clock, worker="bench", batch=500)
        total += sent
        if sent + failed == 0:
            return total


def run_calibration(ctx: Context, kind: str) -> Result:
    """Real raises through the engine, their notifications delivered; bytes per case."""
    with open_store(kind, ctx.workdir, ctx.redis_url, "memcal") as handle:
        clock = shifted_clock()
        app = wire(handle, clock)
        make_templates(app)  # the policy snapshots, as in the other runs
        asyncio.run(_deliver_all(app))
        before = measure(handle)
        time_raises(app, CALIBRATION_RAISES)
        delivered = asyncio.run(_deliver_all(app))
        after = measure(handle)
        result: Result = {
            "store": kind,
            "real_raises": CALIBRATION_RAISES,
            "notifications_delivered": delivered,
            "bytes_per_case": per_case(before, after, CALIBRATION_RAISES),
        }
        if kind == "sqlite":
            result["bytes_per_case_by_table"] = table_delta(before, after, CALIBRATION_RAISES)
        else:
            result.update(redis_detail(before, after, CALIBRATION_RAISES))
        return result


@benchmark("memory", order=30)
def memory(ctx: Context) -> Result:
    """Bytes per open case: Redis used_memory delta, SQLite file+WAL delta after checkpoint."""
    runs, calibration, rows = [], [], []
    for kind in ctx.stores:
        cal = run_calibration(ctx, kind)
        calibration.append(cal)
        rows.append({"store": kind, "open": f"{CALIBRATION_RAISES} real",
                     "bytes/case": cal["bytes_per_case"],
                     "MEMORY USAGE/case": cal.get("memory_usage_per_case"),
                     "keys/case": cal.get("keys_per_case"), "MiB total": None,
                     "populate s": None})
        for n in ctx.sizes:
            run = run_size(ctx, kind, n)
            runs.append(run)
            rows.append({
                "store": kind,
                "open": n,
                "bytes/case": run["bytes_per_case"],
                "MEMORY USAGE/case": run.get("memory_usage_per_case"),
                "keys/case": run.get("keys_per_case"),
                "MiB total": round(run["bytes_after"] / 2**20, 1),
                "populate s": run["populate_seconds"],
            })
    problems = [
        f"{r['store']} N={r.get('open_cases', 'real raises')}: used_memory delta disturbed by "
        f"another client (foreign keys {r['foreign_keys_before_after']}); trust MEMORY USAGE"
        for r in [*calibration, *runs] if r.get("used_memory_disturbed")
    ]
    return {"runs": runs, "calibration": calibration, "rows": rows, "problems": problems}
