"""Bytes per case before and after the retention pass, on SQLite and on Redis:
``.venv/bin/python -m bench.retention_bytes [--cases 200] [--stores sqlite,redis]``.

Each case is real: raised through the engine (round-robin over the example's partnerships with a
retention period), a discussion recorded, resolved, and everything it queued delivered. Then the
clock moves past the retention period (6 years and a month) and the same plan and apply the
`retention` command runs are run. SQLite counts the pages of every table and index (dbstat, after
a checkpoint; freed pages are not counted, since the next writes reuse them); Redis sums
``MEMORY USAGE`` of every key under the run's prefix. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import DEFAULT_REDIS_URL, NullNotifier, open_store, raise_command, wire
from bench.sizes import redis_families, sqlite_bytes
from bot.demo import outcome_answers
from bot.retention import apply_plan, plan_retention
from dialogs.clock import SimulatedClock
from dialogs.commands import RecordDiscussion, RecordInput, Resolve
from scheduler.runner import deliver_due_notifications

START = datetime(2027, 2, 1, 10, 0, tzinfo=UTC)


def _bytes(handle: Any) -> dict[str, Any]:
    if handle.kind == "sqlite":
        measured = sqlite_bytes(handle)
        return {"total": sum(measured["tables"].values()), "by": measured["tables"]}
    import random

    families = redis_families(handle, random.Random(0))
    return {"total": sum(v["bytes"] for v in families.values()),
            "by": {k: v["bytes"] for k, v in families.items()}}


def run(kind: str, cases: int, workdir: Path) -> dict[str, Any]:
    with open_store(kind, workdir, DEFAULT_REDIS_URL, "retention") as handle:
        clock = SimulatedClock(START)
        app = wire(handle, clock)
        chosen = [p for p in app.config.partnerships if p.retention is not None]
        for n in range(cases):
            partnership = chosen[n % len(chosen)]
            outcome = app.engine.handle(raise_command(app, partnership))
            case = outcome.case
            assert case is not None
            app.engine.handle(RecordDiscussion(
                actor=case.raised_by, case_id=case.id,
                record=RecordInput(summary="Both views heard; Jamie's school attendance.")))
            case = app.store.get_case(case.id)
            assert case is not None
            app.engine.handle(Resolve(
                actor=case.raised_by, case_id=case.id, expected_version=case.version,
                record=RecordInput(summary="Agreed a joint assessment for Jamie."),
                outcome_answers=outcome_answers(app.engine.policy_for(case))))
        clock.advance(timedelta(days=7))  # past any out-of-hours hold
        while asyncio.run(deliver_due_notifications(app.store, NullNotifier(), clock))[0]:
            pass
        before = _bytes(handle)
        clock.set(START + timedelta(days=40))  # delivered more than 30 days ago: pruned only
        month = apply_plan(app, plan_retention(app, None, "examples/partnerships.yaml"))
        pruned = _bytes(handle)
        clock.set(START + timedelta(days=6 * 365 + 40))
        plan = plan_retention(app, None, "examples/partnerships.yaml")
        applied = apply_plan(app, plan)
        after = _bytes(handle)
        return {
            "store": kind, "cases": cases, "anonymised": len(applied.anonymised),
            "outbox_rows_removed": sum(len(c.outbox_keys) for c in plan.cases),
            "bytes_per_case_before": round(before["total"] / cases),
            "sent_pruned_after_30_days": month.sent_removed,
            "bytes_per_case_after_30_days": round(pruned["total"] / cases),
            "bytes_per_case_after": round(after["total"] / cases),
            "before": before["by"], "after_30_days": pruned["by"], "after": after["by"],
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--stores", default="sqlite,redis")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        results = [run(kind, args.cases, Path(workdir)) for kind in args.stores.split(",")]
    json.dump(results, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
