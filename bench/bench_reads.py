"""What a person's turn and the probes cost as open cases grow (issue 13's bounded reads).

At each size N, on each store, with N open copies of real cases written:

- ``status`` from a person in the directory with no case: ``ConversationService.on_text``, the
  dialog turn every adapter calls (the platform's own HTTP and card rendering are not included;
  the Teams and Slack benchmarks measure those). The target is < 25 ms and flat from 1k to 100k.
- ``status`` from a party to every copy of one partnership (a quarter of N): the card is bounded
  by ``STATUS_PAGE`` and the store reads one page, so this stays flat too.
- a ``/metrics`` scrape: ``generate_latest`` on the process's registry, which reads the open-case
  counters, the deadline backlog and the delivery backlog (< 50 ms at 100k);
- ``/readyz``'s store read, ``next_due`` (< 5 ms at 100k).

On Redis every figure includes the server's answer time, which a loaded shared server inflates
whatever the command; the row carries a plain ``PING``'s p50 beside them to show that floor.
"""

from __future__ import annotations

import random
import time
from typing import Any

from prometheus_client import generate_latest

from bench.common import (
    Serials,
    bulk_load,
    make_templates,
    open_store,
    populate_background,
    shifted_clock,
    summary,
    wire,
)
from bench.registry import Context, Result, benchmark
from bot.metrics import Metrics
from dialogs.conversation import STATUS_PAGE, ConversationService

TARGETS_MS = {"status_no_cases": 25.0, "metrics": 50.0, "readyz": 5.0}
REPEAT = 15


def _timed_ms(fn: Any, repeat: int = REPEAT) -> dict[str, Any]:
    fn()  # warm: scripts loaded, pages cached, as for a running bot
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - started)
    return summary(seconds, 1000)


def run_one(ctx: Context, kind: str, n: int) -> Result:
    with open_store(kind, ctx.workdir, ctx.redis_url, f"reads{n}") as handle:
        clock = shifted_clock()
        app = wire(handle, clock)
        templates = make_templates(app)
        ctx.log(f"reads {kind} N={n}: populating {n - len(templates)} copies")
        with bulk_load(handle):
            populate_background(handle.store, templates, max(0, n - len(templates)), Serials(),
                                random.Random(n), progress=ctx.log)
        parties = {p.email for t in templates for p in t.case.participants}
        everyone = [p.email for part in app.config.partnerships
                    for p in app.engine.people(part.id).values()]
        stranger = next(email for email in sorted(everyone) if email not in parties)
        busiest = templates[0].case.raised_by
        service = ConversationService(app.engine, app.store, today=lambda: clock.now().date())
        busy_cases = len(app.store.cases_for_person(busiest))
        metrics = Metrics(app.store, clock)
        measured = {
            "status_no_cases_ms": _timed_ms(lambda: service.on_text(stranger, "status")),
            "status_busy_party_ms": _timed_ms(lambda: service.on_text(busiest, "status")),
            "metrics_scrape_ms": _timed_ms(lambda: generate_latest(metrics.registry)),
            "readyz_next_due_ms": _timed_ms(app.store.next_due),
        }
        if handle.client is not None:  # the shared server's own answer time, for the noise
            measured["redis_ping_ms"] = _timed_ms(handle.client.ping)
        card = service.on_text(busiest, "status")[0].card
        listed = len(card.facts) if card is not None else 0
    return {"store": kind, "open_cases": n, "busy_party_cases": busy_cases,
            "busy_party_card_lines": listed, **measured}


@benchmark("reads", order=15)
def reads(ctx: Context) -> Result:
    """Status turn, /metrics scrape and /readyz at each size, both stores (flat in N)."""
    runs = [run_one(ctx, kind, n) for kind in ctx.stores for n in ctx.sizes]
    rows, problems = [], []
    for run in runs:
        row = {
            "store": run["store"], "N": run["open_cases"],
            "status 0 cases p50 ms": run["status_no_cases_ms"]["p50"],
            "status 0 cases p99 ms": run["status_no_cases_ms"]["p99"],
            "busy party's cases": run["busy_party_cases"],
            "status busy party p50 ms": run["status_busy_party_ms"]["p50"],
            "metrics p50 ms": run["metrics_scrape_ms"]["p50"],
            "readyz p50 ms": run["readyz_next_due_ms"]["p50"],
            "redis PING p50 ms": run.get("redis_ping_ms", {}).get("p50"),
        }
        rows.append(row)
        for key, target in (("status_no_cases_ms", TARGETS_MS["status_no_cases"]),
                            ("metrics_scrape_ms", TARGETS_MS["metrics"]),
                            ("readyz_next_due_ms", TARGETS_MS["readyz"])):
            p50 = run[key]["p50"]
            if p50 is not None and p50 > target:
                problems.append(f"{run['store']} N={run['open_cases']}: {key} p50 {p50} ms "
                                f"over the {target} ms target")
        if run["busy_party_card_lines"] > STATUS_PAGE:
            problems.append(f"{run['store']} N={run['open_cases']}: the status card lists "
                            f"{run['busy_party_card_lines']} cases, more than {STATUS_PAGE}")
    return {"runs": runs, "rows": rows, "problems": problems, "targets_ms": TARGETS_MS}
