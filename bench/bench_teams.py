"""Teams message-turn latency: our bot against a bare botbuilder echo bot, measured in one run.

Both servers run as their own processes pinned to the same single core (``taskset``) and answer
the same stream of messages from concurrent clients on loopback; each turn includes the bot's
reply POSTed to a fake Bot Connector served by this process. Latency is from sending the activity
to the bot's HTTP answer, which comes after its reply was delivered. Our bot's turn is a real one:
`status` for a directory person (identity, store read, a card rendered and sent).
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


async def _wait(url: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    async with ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            await asyncio.sleep(0.1)
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
    total = 300 if ctx.quick else 1500
    levels = (1, 8)
    results: dict[str, Any] = {}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        ours_port, echo_port = _free_port(), _free_port()
        env = {**os.environ, "ESCALATION_BOT_PORT": str(ours_port),
               "ESCALATION_BOT_DATABASE": str(ctx.workdir / "teams-bench.sqlite3"),
               "ESCALATION_BOT_TICK_SECONDS": "5", "ESCALATION_BOT_LOG_LEVEL": "WARNING"}
        processes.append(subprocess.Popen(_pinned([sys.executable, "-m", "bot.cli", "serve"]),
                                          cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        processes.append(subprocess.Popen(_pinned([sys.executable, "-m", "bench.echo_bot",
                                                   str(echo_port)]), cwd=ROOT,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        await _wait(f"http://127.0.0.1:{ours_port}/readyz")
        await _wait(f"http://127.0.0.1:{echo_port}/healthz")
        for concurrency in levels:
            for name, port, text in (("bare echo bot", echo_port, "hello"),
                                     ("escalation bot (status)", ours_port, "status")):
                url = f"http://127.0.0.1:{port}/api/messages"
                await _load(url, service_url, text, 50, concurrency)  # warm up
                started = time.perf_counter()
                latencies = await _load(url, service_url, text, total, concurrency)
                key = f"{name}, {concurrency} client(s)"
                results[key] = _summary(latencies, time.perf_counter() - started)
                ctx.log(f"teams: {key}: {results[key]}")
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
        ratio = ratios[concurrency] = round(ours["p99_ms"] / bare["p99_ms"], 2)
        if ours["p99_ms"] >= 100:
            problems.append(f"{concurrency} client(s): p99 {ours['p99_ms']} ms is not under the"
                            " 100 ms aim")
        if ratio > 1.5:
            problems.append(f"{concurrency} client(s): p99 is {ratio}x the bare bot's, above 1.5x")
    return {
        "pinned_to_core": 1 if shutil.which("taskset") else None,
        "results": results, "p99_ratio_by_concurrency": ratios,
        "rows": [{"server": k, **v} for k, v in results.items()],
        "problems": problems,
    }


@benchmark("teams", order=40)
def teams(ctx: Context) -> Result:
    """Teams message-turn latency, p50/p99, next to a bare botbuilder echo bot."""
    return asyncio.run(_measure(ctx))
