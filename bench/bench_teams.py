"""Teams message-turn latency: our bot against a bare botbuilder echo bot, measured in one run.

Both servers run as their own processes pinned to the same single core (``taskset``) and answer
the same stream of messages from concurrent clients on loopback; each turn includes the bot's
reply POSTed to a fake Bot Connector served by this process. Latency is from sending the activity
to the bot's HTTP answer, which comes after its reply was delivered. Our bot's turn is a real one:
`status` for a directory person (identity, store reads, the answer sent). Each
concurrency runs 4 ABBA rounds (bare, ours, ours, bare) and reports the ratio per round, with
each server process's CPU time per turn (from /proc: steadier than latency on a loaded machine);
the report also has each server's cold start (process spawned to /readyz, or /healthz for the bare
bot, 200).
"""

from __future__ import annotations

import asyncio
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
    cold: dict[str, float] = {}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        ours_port, echo_port = _free_port(), _free_port()
        env = {**os.environ, "ESCALATION_BOT_PORT": str(ours_port),
               "ESCALATION_BOT_DATABASE": str(ctx.workdir / "teams-bench.sqlite3"),
               "ESCALATION_BOT_TICK_SECONDS": "5", "ESCALATION_BOT_LOG_LEVEL": "WARNING"}
        started = time.perf_counter()
        processes.append(subprocess.Popen(_pinned([sys.executable, "-m", "bot.cli", "serve"]),
                                          cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        await _wait(f"http://127.0.0.1:{ours_port}/readyz", poll=0.01)
        cold["ours_serve_to_readyz_s"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        processes.append(subprocess.Popen(_pinned([sys.executable, "-m", "bench.echo_bot",
                                                   str(echo_port)]), cwd=ROOT,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        await _wait(f"http://127.0.0.1:{echo_port}/healthz", poll=0.01)
        cold["bare_echo_to_healthz_s"] = round(time.perf_counter() - started, 3)
        ctx.log(f"teams: cold start {cold}")
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
    if cold["ours_serve_to_readyz_s"] >= 0.8:
        problems.append(f"cold start {cold['ours_serve_to_readyz_s']} s is not under 0.8 s")
    return {
        "pinned_to_core": 1 if shutil.which("taskset") else None,
        "abba_rounds": rounds, "turns_per_half": half,
        "results": results, "ratio_by_concurrency": ratios, "rounds": per_round,
        "cold_start": cold,
        "rows": per_round,
        "problems": problems,
    }


@benchmark("teams", order=40)
def teams(ctx: Context) -> Result:
    """Teams message-turn latency, p50/p99, next to a bare botbuilder echo bot."""
    return asyncio.run(_measure(ctx))
