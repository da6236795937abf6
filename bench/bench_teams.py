"""Teams message-turn latency: our bot against a bare botbuilder echo bot, measured in one run.

Both servers run as their own processes pinned to the same single core (``taskset``) and answer
the same stream of messages from concurrent clients on loopback; each turn includes the bot's
reply POSTed to a fake Bot Connector served by this process. Latency is from sending the activity
to the bot's HTTP answer, which comes after its reply was delivered. Our bot's turn is a real one:
`status` for a directory person (identity, store reads, the answer sent). Each
concurrency runs 4 ABBA rounds (bare, ours, ours, bare) and reports the ratio per round, with
each server process's CPU time per turn (from /proc: steadier than latency on a loaded machine).

``cold_start`` (its own benchmark, the same two servers): each server spawned from nothing,
pinned like the rest, until /readyz (ours, on its embedded defaults with a fresh database) or
/healthz (the bare bot) answers 200, polled every 10 ms; ABBA rounds (bare, ours, ours, bare),
each start's wall time and the process's CPU time at that moment, reported as median, min and
max. The project's own modules are compiled to bytecode first, as an installed bot has them (pip
compiles at install; the bare bot's libraries are compiled already): a checkout run with
PYTHONDONTWRITEBYTECODE would otherwise compile ~90 modules from source on every start.
"""

from __future__ import annotations

import asyncio
import compileall
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web

from bench.registry import Context, Result, benchmark

ROOT = Path(__file__).resolve().parents[1]
AAD = "00000000-0000-0000-0000-0000000000020"  # Dana Marsh in the example directory


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pinned(command: list[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", "1", *command]
    return command


async def _wait(url: str, within: float = 60, poll: float = 0.1) -> None:
    deadline = time.monotonic() + within
    async with ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            await asyncio.sleep(poll)
    raise RuntimeError(f"{url} did not come up")


PACKAGES = ("adapters", "bot", "dialogs", "policy", "scheduler")


def _cpu_seconds(pid: int) -> float | None:
    """The process's user + system CPU time so far (Linux /proc), or None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3), "n": len(values)}


async def _start(command: list[str], url: str, env: dict[str, str]) -> tuple[
        subprocess.Popen[bytes], float, float | None]:
    """Spawn ``command``; when ``url`` first answers 200: the process, seconds since the spawn
    and its CPU seconds then."""
    started = time.perf_counter()
    process = subprocess.Popen(_pinned(command), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        await _wait(url, poll=0.01)
    except BaseException:
        process.terminate()
        process.wait(10)
        raise
    return process, time.perf_counter() - started, _cpu_seconds(process.pid)


def _ours(port: int, database: Path) -> tuple[list[str], str, dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ESCALATION_BOT_", "SLACK_"))}
    env.update({"ESCALATION_BOT_PORT": str(port), "ESCALATION_BOT_DATABASE": str(database),
                "ESCALATION_BOT_TICK_SECONDS": "5", "ESCALATION_BOT_LOG_LEVEL": "WARNING"})
    return [sys.executable, "-m", "bot.cli", "serve"], f"http://127.0.0.1:{port}/readyz", env


def _bare(port: int) -> tuple[list[str], str, dict[str, str]]:
    command = [sys.executable, "-m", "bench.echo_bot", str(port)]
    return command, f"http://127.0.0.1:{port}/healthz", dict(os.environ)


async def _cold_starts(ctx: Context, rounds: int) -> dict[str, Any]:
    for package in PACKAGES:  # as installed: see the module's docstring
        compileall.compile_dir(ROOT / package, quiet=1)
    walls: dict[str, list[float]] = {"ours": [], "bare": []}
    cpus: dict[str, list[float]] = {"ours": [], "bare": []}
    for number in range(rounds):
        for name in ("bare", "ours", "ours", "bare"):
            port = _free_port()
            database = ctx.workdir / f"cold-{number}-{len(walls[name])}.sqlite3"
            command, url, env = _ours(port, database) if name == "ours" else _bare(port)
            process, wall, cpu = await _start(command, url, env)
            process.terminate()
            process.wait(10)
            walls[name].append(wall)
            if cpu is not None:
                cpus[name].append(cpu)
    result: dict[str, Any] = {
        "rounds": rounds, "load_1min": round(os.getloadavg()[0], 1),
        "ours_serve_to_readyz_s": _spread(walls["ours"]),
        "bare_echo_to_healthz_s": _spread(walls["bare"]),
        "wall_ratio_median": round(statistics.median(walls["ours"])
                                   / statistics.median(walls["bare"]), 2),
    }
    if cpus["ours"] and cpus["bare"]:
        result["ours_cpu_at_ready_s"] = _spread(cpus["ours"])
        result["bare_cpu_at_ready_s"] = _spread(cpus["bare"])
    ctx.log(f"teams: cold start {result}")
    return result


def _activity(service_url: str, n: int, text: str) -> dict[str, Any]:
    return {
        "type": "message", "id": f"m{n}", "channelId": "msteams", "serviceUrl": service_url,
        "text": text, "from": {"id": f"29:{AAD}", "aadObjectId": AAD, "name": "Dana"},
        "recipient": {"id": "28:bot"},
        "conversation": {"id": f"a:{AAD}", "conversationType": "personal", "tenantId": "t"},
    }


async def _load(url: str, service_url: str, text: str, total: int, concurrency: int) -> list[float]:
    latencies: list[float] = []
    counter = iter(range(total))

    async def client(http: ClientSession) -> None:
        for n in counter:
            started = time.perf_counter()
            async with http.post(url, json=_activity(service_url, n, text)) as response:
                await response.read()
                if response.status >= 300:
                    raise RuntimeError(f"turn {n} answered {response.status}")
            latencies.append(time.perf_counter() - started)

    async with ClientSession() as http:
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
    return latencies


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux); 0.0 where /proc is absent."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _summary(latencies: list[float], seconds: float) -> dict[str, float]:
    ordered = sorted(latencies)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return {"turns": len(ordered), "p50_ms": round(pick(0.50), 2), "p99_ms": round(pick(0.99), 2),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 2),
            "turns_per_s": round(len(ordered) / seconds, 1)}


async def _measure(ctx: Context) -> Result:
    received = 0

    async def connector(request: web.Request) -> web.Response:
        nonlocal received
        await request.read()
        received += 1
        return web.json_response({"id": f"r{received}"})

    fake = web.Application()
    fake.router.add_post("/v3/conversations/{c}/activities", connector)
    fake.router.add_post("/v3/conversations/{c}/activities/{r}", connector)
    runner = web.AppRunner(fake, access_log=None)
    await runner.setup()
    fake_port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", fake_port).start()
    service_url = f"http://127.0.0.1:{fake_port}"
    rounds = 4  # ABBA: bare, ours, ours, bare, so drift in the machine's load falls on both
    half = 100 if ctx.quick else 400
    levels = (1, 8)
    results: dict[str, Any] = {}
    per_round: list[dict[str, Any]] = []
    processes: list[subprocess.Popen[bytes]] = []
    try:
        ours_port, echo_port = _free_port(), _free_port()
        for command, url, env in (_ours(ours_port, ctx.workdir / "teams-bench.sqlite3"),
                                  _bare(echo_port)):
            processes.append((await _start(command, url, env))[0])
        servers = {"bare": (echo_port, "hello"), "ours": (ours_port, "status")}
        pids = {"ours": processes[0].pid, "bare": processes[1].pid}
        for concurrency in levels:
            for port, text in servers.values():  # warm up
                await _load(f"http://127.0.0.1:{port}/api/messages", service_url, text, 50,
                            concurrency)
            samples: dict[str, list[float]] = {"bare": [], "ours": []}
            seconds: dict[str, float] = {"bare": 0.0, "ours": 0.0}
            for number in range(1, rounds + 1):
                this: dict[str, list[float]] = {"bare": [], "ours": []}
                cpu = {"bare": 0.0, "ours": 0.0}
                for name in ("bare", "ours", "ours", "bare"):
                    port, text = servers[name]
                    began, before = time.perf_counter(), received
                    used = _cpu_seconds(pids[name])
                    this[name] += await _load(f"http://127.0.0.1:{port}/api/messages",
                                              service_url, text, half, concurrency)
                    cpu[name] += _cpu_seconds(pids[name]) - used
                    seconds[name] += time.perf_counter() - began
                    if received - before < half:  # each turn must have sent its reply
                        raise RuntimeError(f"{name}: {received - before} replies to {half} turns")
                ours_r, bare_r = _summary(this["ours"], 1), _summary(this["bare"], 1)
                row = {"clients": concurrency, "round": number,
                       "bare_p50_ms": bare_r["p50_ms"], "ours_p50_ms": ours_r["p50_ms"],
                       "p50_ratio": round(ours_r["p50_ms"] / bare_r["p50_ms"], 2),
                       "bare_p99_ms": bare_r["p99_ms"], "ours_p99_ms": ours_r["p99_ms"],
                       "p99_ratio": round(ours_r["p99_ms"] / bare_r["p99_ms"], 2),
                       # the server process's CPU per turn: less at the mercy of the machine's
                       # load than latency (which waits for the core whenever others run)
                       "bare_cpu_ms": round(cpu["bare"] * 1000 / (2 * half), 2),
                       "ours_cpu_ms": round(cpu["ours"] * 1000 / (2 * half), 2)}
                per_round.append(row)
                ctx.log(f"teams: {row}")
                for name in this:
                    samples[name] += this[name]
            for name, label in (("bare", "bare echo bot"), ("ours", "escalation bot (status)")):
                results[f"{label}, {concurrency} client(s)"] = _summary(samples[name],
                                                                        seconds[name])
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)
        await runner.cleanup()
    problems = []
    ratios = {}
    for concurrency in levels:
        ours = results[f"escalation bot (status), {concurrency} client(s)"]
        bare = results[f"bare echo bot, {concurrency} client(s)"]
        ratios[concurrency] = {
            "p50": round(ours["p50_ms"] / bare["p50_ms"], 2),
            "p99": round(ours["p99_ms"] / bare["p99_ms"], 2),
        }
        for q in ("p50", "p99"):
            if ratios[concurrency][q] > 0.7:
                problems.append(f"{concurrency} client(s): {q} is {ratios[concurrency][q]}x the"
                                " bare bot's, above the 0.7x target")
    return {
        "pinned_to_core": 1 if shutil.which("taskset") else None,
        "abba_rounds": rounds, "turns_per_half": half,
        "results": results, "ratio_by_concurrency": ratios, "rounds": per_round,
        "rows": per_round,
        "problems": problems,
    }


@benchmark("teams", order=40)
def teams(ctx: Context) -> Result:
    """Teams message-turn latency, p50/p99, next to a bare botbuilder echo bot."""
    return asyncio.run(_measure(ctx))


@benchmark("cold_start", order=39)
def cold_start(ctx: Context) -> Result:
    """Cold start: `serve` spawned to /readyz 200 next to the bare echo bot's /healthz, ABBA."""
    result = asyncio.run(_cold_starts(ctx, rounds=3 if ctx.quick else 5))
    rows = []
    for name, wall, cpu in (("escalation bot serve -> /readyz", "ours_serve_to_readyz_s",
                             "ours_cpu_at_ready_s"),
                            ("bare echo bot -> /healthz", "bare_echo_to_healthz_s",
                             "bare_cpu_at_ready_s")):
        rows.append({"server": name, **{f"wall_{k}_s": v for k, v in result[wall].items()
                                        if k != "n"},
                     **{f"cpu_{k}_s": v for k, v in result.get(cpu, {}).items() if k != "n"},
                     "starts": result[wall]["n"]})
    median = result["ours_serve_to_readyz_s"]["median"]
    problems = []
    if median >= 0.8:
        problems.append(f"cold start median {median} s is not under 0.8 s (the bare bot's:"
                        f" {result['bare_echo_to_healthz_s']['median']} s, load"
                        f" {result['load_1min']})")
    return {**result, "rows": rows, "problems": problems}
