"""Run the benchmarks: ``.venv/bin/python -m bench.run [--sizes 1000,10000,100000]
[--stores sqlite,redis] [--quick] [--only NAME[,NAME]] [--list] [--readme]``.

Prints the JSON report to stdout (progress goes to stderr), writes the same JSON to
``bench/results/<timestamp>.json`` and prints a short table per benchmark to stderr.
Benchmarks live in ``bench/bench_*.py`` and register themselves (see bench/registry.py).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import platform
import sqlite3
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bench
from bench.common import DEFAULT_REDIS_URL, redis_reachable
from bench.registry import BENCHMARKS, Context, Result
from bench.targets import targets, write_readme

RESULTS = Path(__file__).resolve().parent / "results"
FULL_SIZES = [1000, 10_000, 100_000]
QUICK_SIZES = [1000, 10_000]


def discover() -> None:
    """Import every ``bench/bench_*.py`` so its benchmarks register."""
    for module in pkgutil.iter_modules(bench.__path__):
        if module.name.startswith("bench_"):
            importlib.import_module(f"bench.{module.name}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Run the registered benchmarks (bench/bench_*.py); see bench/README.md. "
        "JSON report on stdout and in bench/results/, tables on stderr.")
    parser.add_argument("--sizes", help="open-case counts, e.g. 1000,10000,100000 "
                        f"(default {','.join(map(str, FULL_SIZES))}; --quick: "
                        f"{','.join(map(str, QUICK_SIZES))})")
    parser.add_argument("--stores", default="sqlite,redis", help="sqlite,redis (default both)")
    parser.add_argument("--quick", action="store_true",
                        help="sizes 1k and 10k only, and the shorter variant of each benchmark")
    parser.add_argument("--only", help="comma-separated benchmark names (see --list)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--workdir", help="folder for SQLite files (default: the system temp "
                        "folder; use a real disk, not tmpfs, for honest fsync costs)")
    parser.add_argument("--due", type=int, default=1000,
                        help="scheduler: deadlines falling due during the lag run (default 1000)")
    parser.add_argument("--window", type=float, default=10.0,
                        help="scheduler: seconds over which they fall due (default 10)")
    parser.add_argument("--tick", type=float, default=1.0,
                        help="scheduler: ticker interval in seconds (default 1, as production)")
    parser.add_argument("--scrape", type=float, default=0.0,
                        help="scheduler: also scrape /metrics' collectors every S seconds during "
                        "the lag run, from a thread, as Prometheus would (default 0: off)")
    parser.add_argument("--catchup", type=int, default=10_000,
                        help="catchup: lapsed deadlines at restart (default 10000)")
    parser.add_argument("--slack-ours", default="bench.slack_apps:bare_app", metavar="MOD:FN",
                        help="slack: factory of our app (an aiohttp Application serving POST "
                        "/slack/events); default the bare Bolt app, until the adapter is merged")
    parser.add_argument("--slack-bare", default="bench.slack_apps:bare_app", metavar="MOD:FN",
                        help="slack: factory of the baseline app (default the bare Bolt app)")
    parser.add_argument("--slack-action-id", default="bench_click",
                        help="slack: the action_id the button clicks carry (default bench_click)")
    parser.add_argument("--slack-requests", type=int, default=0,
                        help="slack: requests per app, kind and concurrency in each ABBA half "
                        "(default 400, --quick 150)")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/")
    parser.add_argument("--readme", action="store_true",
                        help="write this run's targets and tables into bench/README.md "
                        "(between its results markers; see bench/targets.py)")
    return parser.parse_args(argv)


def code_version() -> dict[str, Any]:
    """Which code was measured: the commit and any tracked files changed outside bench/ (the tree
    may be edited while a run is going on; see bench/README.md)."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    info: dict[str, Any] = {"label": os.environ.get("BENCH_CODE_VERSION")}
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                 "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        info["git"] = f"unavailable: {exc}"
        return info
    if head.returncode != 0:
        info["git"] = "not a git checkout"
        return info
    info["commit"] = head.stdout.strip()
    info["modified_outside_bench"] = [line[3:] for line in status.stdout.splitlines()
                                      if not line[3:].startswith("bench/")]
    return info


def machine(redis_url: str, stores: list[str]) -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
    }
    if "redis" in stores:
        import redis

        try:
            client = redis.Redis.from_url(redis_url, decode_responses=True)
            server = client.info("server")
            persistence = client.info("persistence")
            info["redis"] = {
                "version": server.get("redis_version"),
                "aof_enabled": persistence.get("aof_enabled"),
                "appendfsync": client.config_get("appendfsync").get("appendfsync"),
            }
            client.close()
        except Exception as exc:  # the report says why rather than failing
            info["redis"] = {"error": str(exc)}
    return info


def format_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "  (no rows)"
    columns = list(rows[0])
    for row in rows[1:]:
        columns += [c for c in row if c not in columns]
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  " + "  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  " + "  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True))
              for r in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    discover()
    if args.list:
        for item in sorted(BENCHMARKS.values(), key=lambda b: (b.order, b.name)):
            print(f"{item.name:12} {item.description}")
        return 0
    names = sorted(BENCHMARKS, key=lambda n: (BENCHMARKS[n].order, n))
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in BENCHMARKS]
        if unknown:
            print(f"unknown benchmark(s) {unknown}; known: {names}", file=sys.stderr)
            return 2
        names = wanted
    if args.sizes:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    else:
        sizes = QUICK_SIZES if args.quick else FULL_SIZES
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    skipped: dict[str, str] = {}
    if "redis" in stores:
        why = redis_reachable(args.redis_url)
        if why is not None:
            skipped["redis"] = f"unreachable at {args.redis_url}: {why}"
            stores.remove("redis")
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.gettempdir())
    workdir.mkdir(parents=True, exist_ok=True)
    ctx = Context(
        sizes=sizes, stores=stores, quick=args.quick, redis_url=args.redis_url,
        workdir=workdir, due=args.due, window_seconds=args.window,
        tick_seconds=args.tick, catchup_count=args.catchup, scrape_seconds=args.scrape,
        extra={"slack_ours": args.slack_ours, "slack_bare": args.slack_bare,
               "slack_action_id": args.slack_action_id, "slack_requests": args.slack_requests},
    )
    started = datetime.now(UTC)
    report: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "args": {"sizes": sizes, "stores": stores, "quick": args.quick, "only": names,
                 "due": args.due, "window_s": args.window, "tick_s": args.tick,
                 "catchup": args.catchup, "scrape_s": args.scrape},
        "skipped_stores": skipped,
        "machine": machine(args.redis_url, stores),
        "code": code_version(),
        "benchmarks": {},
    }
    for name in names:
        ctx.log(f"== {name}")
        load_before = os.getloadavg()
        began = time.perf_counter()
        try:
            result: Result = BENCHMARKS[name].run(ctx)
        except Exception:
            result = {"error": traceback.format_exc()}
            ctx.log(f"{name} failed:\n{result['error']}")
        result["seconds"] = round(time.perf_counter() - began, 1)
        # other processes on the machine skew every timing: say how busy it was
        result["load_average_1m_before_after"] = [round(load_before[0], 2),
                                                  round(os.getloadavg()[0], 2)]
        report["benchmarks"][name] = result
    report["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    report["targets"] = targets(report)
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if not args.no_save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
        path.write_text(text + "\n")
        report["saved_to"] = str(path)
    print_tables(report)
    if args.readme:
        write_readme(report)
        print("wrote the results section of bench/README.md", file=sys.stderr)
    return 0


def print_tables(report: dict[str, Any]) -> None:
    out = sys.stderr
    code = report.get("code", {})
    print(f"\nbench {report['started_at']} .. {report['finished_at']}"
          f"  cpus={report['machine'].get('cpus')}"
          f"  code={code.get('commit') or code.get('label') or code.get('git')}", file=out)
    if code.get("modified_outside_bench"):
        print(f"  uncommitted changes measured too: {code['modified_outside_bench']}", file=out)
    for store, why in report["skipped_stores"].items():
        print(f"  skipped {store}: {why}", file=out)
    for name, result in report["benchmarks"].items():
        print(f"\n{name} ({result.get('seconds')} s)", file=out)
        if "error" in result:
            print("  ERROR: " + result["error"].strip().splitlines()[-1], file=out)
            continue
        print(format_table(result.get("rows", [])), file=out)
        for problem in result.get("problems", []):
            print(f"  ! {problem}", file=out)
    print("\ntargets (issue 13; bench/targets.py)", file=out)
    print(format_table(report.get("targets", [])), file=out)
    if "saved_to" in report:
        print(f"\nsaved {report['saved_to']}", file=out)


if __name__ == "__main__":
    raise SystemExit(main())
