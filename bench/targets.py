"""The figures the performance issue (13) sets targets for, read out of one ``bench.run`` report.

``bench.run`` prints this table after the benchmarks' own, keeps it in the JSON report under
``targets``, and with ``--readme`` writes it, with every benchmark's table, into bench/README.md
between the ``results:begin`` and ``results:end`` markers, so the README's figures are always
one run's. ``python -m bench.targets REPORT.json [--readme]`` does the same from a saved report.
Each figure is taken from the largest size the run measured; a benchmark the run left out shows
"not run", never an older number.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parent / "README.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def _largest(rows: list[dict[str, Any]], store: str, size_key: str) -> dict[str, Any] | None:
    mine = [r for r in rows if r.get("store") == store and isinstance(r.get(size_key), int)]
    return max(mine, key=lambda r: r[size_key]) if mine else None


def _smallest(rows: list[dict[str, Any]], store: str, size_key: str) -> dict[str, Any] | None:
    mine = [r for r in rows if r.get("store") == store and isinstance(r.get(size_key), int)]
    return min(mine, key=lambda r: r[size_key]) if mine else None


def _met(value: float | None, limit: float) -> str:
    if value is None:
        return "not run"
    return "met" if value < limit else "NOT met"


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per figure and store: what was measured, at what size, the target, met or not."""
    bench = report.get("benchmarks", {})
    stores = report.get("args", {}).get("stores", ["sqlite", "redis"])
    rows: list[dict[str, Any]] = []

    def add(figure: str, store: str, measured: Any, at: str, target: str, verdict: str) -> None:
        rows.append({"figure": figure, "store": store, "measured": measured, "at": at,
                     "target": target, "verdict": verdict})

    reads = bench.get("reads", {}).get("rows", [])
    for store in stores:
        big, small = _largest(reads, store, "N"), _smallest(reads, store, "N")
        if big is None or small is None:
            for figure in ("status turn, 0 cases (p50 ms)", "/metrics scrape (p50 ms)",
                           "/readyz store read (p50 ms)"):
                add(figure, store, "not run", "", "", "not run")
            continue
        status = big["status 0 cases p50 ms"]
        add("status turn, 0 cases (p50 ms)", store,
            f"{small['status 0 cases p50 ms']} -> {status}", f"N={small['N']} -> {big['N']}",
            "< 25, flat", _met(status, 25))
        add("/metrics scrape (p50 ms)", store, big["metrics p50 ms"], f"N={big['N']}", "< 50",
            _met(big["metrics p50 ms"], 50))
        add("/readyz store read (p50 ms)", store, big["readyz p50 ms"], f"N={big['N']}", "< 5",
            _met(big["readyz p50 ms"], 5))
    catchup = bench.get("catchup", {}).get("rows", [])
    for store in stores:
        one = [r for r in catchup if r.get("store") == store and r.get("processes") == 1
               and r.get("pattern") == "instant"]
        if not one:
            add("catch-up drain, 1 process (s)", store, "not run", "", "< 20", "not run")
            continue
        row = one[0]
        clean = row["duplicates"] == 0 and row["missed"] == 0
        if not clean:
            verdict = "NOT met (duplicates or misses)"
        elif row["lapsed"] < 10_000:
            verdict = f"not comparable ({row['lapsed']} lapsed, the target is for 10,000)"
        else:
            verdict = _met(row["drain s"], 20)
        add("catch-up drain, 1 process (s)", store,
            f"{row['drain s']} (deadlines {row['deadlines s']})",
            f"{row['lapsed']} lapsed, dup {row['duplicates']}, missed {row['missed']}", "< 20",
            verdict)
        add("status turn during catch-up (p50/p99 ms)", store,
            row["status p50/p99 ms during"], f"idle {row['status p50/p99 ms idle']}",
            "report", "reported")
    teams = bench.get("teams", {})
    ratios = teams.get("ratio_by_concurrency", {})
    per_round = teams.get("rounds", [])
    for clients, ratio in sorted(ratios.items(), key=lambda kv: int(kv[0])):
        mine = [r for r in per_round if str(r.get("clients")) == str(clients)]
        spread = ", ".join(f"{r['p50_ratio']}/{r['p99_ratio']}" for r in mine)
        worst = max(ratio["p50"], ratio["p99"])
        add(f"Teams turn / bare SDK, {clients} client(s) (p50/p99)", "sqlite",
            f"{ratio['p50']}/{ratio['p99']}", f"rounds {spread}", "<= 0.7",
            "met" if worst <= 0.7 else "NOT met")
    if not ratios:
        add("Teams turn / bare SDK", "sqlite", "not run", "", "<= 0.7", "not run")
    cold = bench.get("cold_start", {})
    if cold:
        ours, bare = cold["ours_serve_to_readyz_s"], cold["bare_echo_to_healthz_s"]
        cpu = cold.get("ours_cpu_at_ready_s")
        add("cold start, serve to /readyz (s, median of ABBA starts)", "sqlite",
            f"{ours['median']} ({ours['min']}-{ours['max']}, {ours['n']} starts"
            + (f"; CPU {cpu['median']}" if cpu else "") + ")",
            f"bare echo bot {bare['median']} ({bare['min']}-{bare['max']}), load"
            f" {cold.get('load_1min')}", "< 0.8", _met(ours["median"], 0.8))
    else:
        add("cold start, serve to /readyz (s)", "sqlite", "not run", "", "< 0.8", "not run")
    scheduler = bench.get("scheduler", {}).get("rows", [])
    for store in stores:
        big = _largest(scheduler, store, "open")
        if big is None:
            add("deadline lag p99 (s)", store, "not run", "", "< 1", "not run")
            continue
        add("deadline lag p99 (s)", store, big["lag p99 s"], f"N={big['open']}", "< 1",
            _met(big["lag p99 s"], 1))
    memory = bench.get("memory", {}).get("rows", [])
    for store in stores:
        big = _largest(memory, store, "open")
        if big is None:
            add("bytes per open case", store, "not run", "", "report", "not run")
            continue
        add("bytes per open case", store, big.get("MEMORY USAGE/case") or big["bytes/case"],
            f"N={big['open']}", "report", "reported")
    return rows


def markdown_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(no rows)\n"
    columns = list(rows[0])
    for row in rows[1:]:
        columns += [c for c in row if c not in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_md(row.get(c)) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def _md(value: Any) -> str:
    if value is None:
        return "-"
    return str(value).replace("|", "/")


def results_section(report: dict[str, Any]) -> str:
    """The README's generated part: the run's header, the targets, every benchmark's table."""
    machine = report.get("machine", {})
    code = report.get("code", {})
    args = report.get("args", {})
    out = [
        BEGIN,
        "<!-- generated by bench/targets.py from one `python -m bench.run` report: edit the code,"
        " not this text -->",
        f"Run {report.get('started_at')} .. {report.get('finished_at')}, commit "
        f"`{(code.get('commit') or code.get('label') or '?')[:12]}`, {machine.get('cpus')} CPUs,"
        f" Python {machine.get('python')}, SQLite {machine.get('sqlite')}, Redis "
        f"{machine.get('redis', {}).get('version')}; sizes {args.get('sizes')}, "
        f"`--quick` {args.get('quick')}.",
        "",
    ]
    if code.get("modified_outside_bench"):
        out += [f"Uncommitted changes were measured too: {code['modified_outside_bench']}.", ""]
    out += ["### Targets (issue 13)", "", markdown_table(report.get("targets") or
                                                          targets(report))]
    for name, result in report.get("benchmarks", {}).items():
        load = result.get("load_average_1m_before_after")
        out += [f"### `{name}` ({result.get('seconds')} s, load average {load})", ""]
        if "error" in result:
            out += ["ERROR: " + str(result["error"]).strip().splitlines()[-1], ""]
            continue
        out.append(markdown_table(result.get("rows", [])))
        for problem in result.get("problems", []):
            out.append(f"- {problem}")
        if result.get("problems"):
            out.append("")
    out.append(END)
    return "\n".join(out) + "\n"


def write_readme(report: dict[str, Any], readme: Path = README) -> None:
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{readme} has no {BEGIN} ... {END} markers to write between")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(head + results_section(report).rstrip("\n") + tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.targets",
                                     description="The issue-13 figures from a saved report.")
    parser.add_argument("report", type=Path, help="a bench/results/*.json file")
    parser.add_argument("--readme", action="store_true",
                        help="write the results section of bench/README.md from it")
    args = parser.parse_args(argv)
    report = json.loads(args.report.read_text())
    report["targets"] = targets(report)  # read again: this code may be newer than the run
    sys.stdout.write(markdown_table(report["targets"]))
    if args.readme:
        write_readme(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
