"""Slack ack latency: a slash command and a button click, from clients on loopback at 1, 10 and
50 at once, against our app and a bare Bolt app that only acks, measured in the same run.

Both apps run as their own processes pinned to the same single core (``taskset -c 1``) and are
measured in turn, in ABBA order (bare, ours, ours, bare) for each kind and concurrency, so a drift
in the machine's load falls on both alike. Every request is signed as Slack signs it
(bench/slack_requests.py) and must be answered 200: a 401 would mean the signing broke, not that
the app is fast. Latency is from sending the request to reading the whole HTTP answer (the ack).

Slack wants the ack within 3 s; our aim is p99 under 50 ms and within 1.5x of the bare app at
every concurrency. "Ours" is a factory named with ``--slack-ours MODULE:FUNCTION`` that returns
an aiohttp Application serving ``POST /slack/events`` and ``GET /healthz`` (see
bench/slack_apps.py); until the Slack adapter is merged the default is the bare app itself, and
the report says so. Both get ``SLACK_SIGNING_SECRET``, ``SLACK_BOT_TOKEN`` and ``SLACK_API_URL``,
the last pointing at a fake Web API served by this process (``auth.test``, ``users.info``,
``views.open``, ``chat.*``...), so work after the ack never leaves the machine.
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
from collections import Counter
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, TCPConnector, web

from bench.registry import Context, Result, benchmark
from bench.slack_requests import block_actions_body, signature_headers, slash_command_body

ROOT = Path(__file__).resolve().parents[1]
LEVELS = (1, 10, 50)
KINDS = ("slash command", "button click")
ABBA = ("bare", "ours", "ours", "bare")
SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench-token"
USER = "U0BENCHDANA"
EMAIL = "dana.marsh@council.northbay.example"  # in the example directory
DEFAULT_FACTORY = "bench.slack_apps:bare_app"
AIM_P99_MS, AIM_RATIO = 50.0, 1.5


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pinned(command: list[str]) -> tuple[list[str], int | None]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", "1", *command], 1
    return command, None


class FakeWebApi:
    """Enough of Slack's Web API for work after an ack: every call answered ok, counted."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        await request.read()
        self.calls[method] += 1
        user = {"id": USER, "name": "dana", "real_name": "Dana Marsh", "team_id": "T0BENCH",
                "profile": {"email": EMAIL, "real_name": "Dana Marsh"}}
        answers: dict[str, dict[str, Any]] = {
            "auth.test": {"team_id": "T0BENCH", "user_id": "U0BOT", "bot_id": "B0BOT",
                          "team": "Bench", "user": "bot", "url": "https://bench.slack.example/"},
            "users.info": {"user": user},
            "users.lookupByEmail": {"user": user},
            "conversations.open": {"channel": {"id": "D0BENCH"}},
            "chat.postMessage": {"channel": "D0BENCH", "ts": f"{time.time():.6f}",
                                 "message": {"text": ""}},
            "chat.update": {"channel": "D0BENCH", "ts": f"{time.time():.6f}"},
            "chat.postEphemeral": {"message_ts": f"{time.time():.6f}"},
            "views.open": {"view": {"id": "V0BENCH", "hash": "h"}},
            "views.update": {"view": {"id": "V0BENCH", "hash": "h"}},
            "views.publish": {"view": {"id": "V0BENCH", "hash": "h"}},
        }
        return web.json_response({"ok": True, **answers.get(method, {})})


async def _wait(url: str, process: subprocess.Popen[bytes], within: float = 60) -> None:
    deadline = time.monotonic() + within
    async with ClientSession() as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{url}: the app exited with {process.returncode}")
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def _body(kind: str, n: int, action_id: str) -> bytes:
    if kind == "slash command":
        return slash_command_body(n, USER, "status")
    return block_actions_body(n, USER, action_id, value=f"bench-{n}")


async def _load(http: ClientSession, url: str, kind: str, total: int, concurrency: int,
                action_id: str) -> list[float]:
    latencies: list[float] = []
    counter = iter(range(total))

    async def client() -> None:
        for n in counter:
            body = _body(kind, n, action_id)
            headers = signature_headers(body, SECRET)
            started = time.perf_counter()
            async with http.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{kind} {n} to {url} answered {response.status}")
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies


def _summary(latencies: list[float], seconds: float) -> dict[str, float]:
    ordered = sorted(latencies)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return {"requests": len(ordered), "p50_ms": round(pick(0.50), 2),
            "p99_ms": round(pick(0.99), 2), "max_ms": round(ordered[-1] * 1000, 2),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 2),
            "requests_per_s": round(len(ordered) / seconds, 1)}


async def _measure(ctx: Context) -> Result:
    ours_factory = str(ctx.extra.get("slack_ours") or DEFAULT_FACTORY)
    bare_factory = str(ctx.extra.get("slack_bare") or DEFAULT_FACTORY)
    action_id = str(ctx.extra.get("slack_action_id") or "bench_click")
    per_half = int(ctx.extra.get("slack_requests") or (150 if ctx.quick else 400))

    fake = FakeWebApi()
    api = web.Application()
    api.router.add_route("*", "/api/{method}", fake.handle)
    runner = web.AppRunner(api, access_log=None)
    await runner.setup()
    api_port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", api_port).start()

    ports = {"ours": _free_port(), "bare": _free_port()}
    factories = {"ours": ours_factory, "bare": bare_factory}
    env = {**os.environ, "SLACK_SIGNING_SECRET": SECRET, "SLACK_BOT_TOKEN": TOKEN,
           "SLACK_API_URL": f"http://127.0.0.1:{api_port}/api/",
           "ESCALATION_BOT_DATABASE": str(ctx.workdir / "slack-bench.sqlite3"),
           "ESCALATION_BOT_TICK_SECONDS": "5", "ESCALATION_BOT_LOG_LEVEL": "WARNING"}
    env.pop("SLACK_APP_TOKEN", None)  # over HTTP, not Socket Mode
    processes: dict[str, subprocess.Popen[bytes]] = {}
    core: int | None = None
    samples: dict[tuple[str, str, int], list[float]] = {}
    seconds: dict[tuple[str, str, int], float] = {}
    try:
        for name in ("bare", "ours"):
            command, core = _pinned([sys.executable, "-m", "bench.slack_apps", factories[name],
                                     str(ports[name])])
            processes[name] = subprocess.Popen(command, cwd=ROOT, env=env,
                                               stdout=subprocess.DEVNULL)
        for name, process in processes.items():
            await _wait(f"http://127.0.0.1:{ports[name]}/healthz", process)
        urls = {name: f"http://127.0.0.1:{port}/slack/events" for name, port in ports.items()}
        async with ClientSession(connector=TCPConnector(limit=0)) as http:
            for name in ("bare", "ours"):  # warm up: imports, auth.test, first store reads
                for kind in KINDS:
                    await _load(http, urls[name], kind, 100, 10, action_id)
            for concurrency in LEVELS:
                for kind in KINDS:
                    for name in ABBA:
                        key = (name, kind, concurrency)
                        started = time.perf_counter()
                        got = await _load(http, urls[name], kind, per_half, concurrency, action_id)
                        seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - started
                        samples.setdefault(key, []).extend(got)
                    ctx.log(f"slack: {kind}, {concurrency} at once: done")
    finally:
        for process in processes.values():
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        await runner.cleanup()

    results: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    ratios: dict[str, float] = {}
    problems: list[str] = []
    for concurrency in LEVELS:
        for kind in KINDS:
            summaries = {name: _summary(samples[(name, kind, concurrency)],
                                        seconds[(name, kind, concurrency)])
                         for name in ("bare", "ours")}
            ratio = round(summaries["ours"]["p99_ms"] / summaries["bare"]["p99_ms"], 2)
            label = f"{kind}, {concurrency} at once"
            ratios[label] = ratio
            results[label] = {**summaries, "p99_ratio": ratio}
            for name in ("bare", "ours"):
                rows.append({"app": name, "kind": kind, "concurrency": concurrency,
                             **summaries[name]})
            ours = summaries["ours"]
            if ours["p99_ms"] >= AIM_P99_MS:
                problems.append(f"{label}: ours p99 {ours['p99_ms']} ms is not under the"
                                f" {AIM_P99_MS:.0f} ms aim")
            if ratio > AIM_RATIO:
                problems.append(f"{label}: ours p99 is {ratio}x the bare app's, above"
                                f" {AIM_RATIO}x")
    if ours_factory == bare_factory:
        problems.append(f"ours is {ours_factory}, the same factory as the bare app: pass"
                        " --slack-ours with the bot's own factory to measure it")
    return {
        "factories": factories, "pinned_to_core": core, "requests_per_half": per_half,
        "order": "ABBA per kind and concurrency: " + ", ".join(ABBA),
        "results": results, "p99_ratio": ratios, "web_api_calls": dict(fake.calls),
        "rows": rows, "problems": problems,
    }


@benchmark("slack", order=45)
def slack(ctx: Context) -> Result:
    """Slack ack latency, slash command and button, 1/10/50 at once, next to a bare Bolt app."""
    return asyncio.run(_measure(ctx))
