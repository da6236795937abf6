"""Readiness means able to serve, not done catching up (issue 7, defect 10).

Before: after a restart with 1,151 held messages, /readyz answered 503 "has not completed its
first tick" for 26 s while the first tick drained the backlog, though turns were fast. Now the
scheduler reports progress after every batch; /readyz is 200 while a drain moves, 503 when the
scheduler has stopped moving, and /metrics shows the backlog of due messages.

Delivery goes to a gated fake platform (a Notifier that waits until the test lets it go), so the
test holds the drain in the middle without sleeping on any deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from support import raise_command

from bot.bootstrap import App, bootstrap
from bot.server import TICKER_KEY, build_web_app
from bot.settings import Settings
from dialogs.clock import SimulatedClock
from dialogs.notifications import Notification
from scheduler.ticker import Ticker

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "partnerships.yaml"
MONDAY = datetime(2027, 2, 1, 10, tzinfo=UTC)


class GatedPlatform:
    """A platform that accepts the first message at once and holds every later one until the
    gate opens: a slow connector during a big drain."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.delivered: list[str] = []

    async def deliver(self, notification: Notification) -> None:
        if self.delivered:
            await self.gate.wait()
        self.delivered.append(notification.key)

    async def close(self) -> None:
        pass


@dataclass
class Served:
    app: App
    url: str
    platform: GatedPlatform
    http: ClientSession
    ticker: Ticker

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(self.url + path) as response:
            return response.status, await response.text()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    app = bootstrap(CONFIG, tmp_path / "bot.sqlite3", SimulatedClock(MONDAY))
    settings = Settings(config_path=CONFIG, database_path=tmp_path / "bot.sqlite3",
                        extra_packs=None, tick_seconds=3600, worker_id="test")
    web_app = build_web_app(app, settings)
    platform = GatedPlatform()
    ticker = web_app[TICKER_KEY]
    ticker.notifier = platform
    server = TestServer(web_app, host="127.0.0.1")
    await server.start_server()
    async with ClientSession() as http:
        yield Served(app, str(server.make_url("")).rstrip("/"), platform, http, ticker)
    platform.gate.set()
    await server.close()


async def _until(done: Callable[[], bool]) -> None:
    for _ in range(1000):
        if done():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("timed out")


async def test_ready_while_a_tick_drains_a_backlog_and_the_backlog_is_a_metric(
    served: Served,
) -> None:
    app = served.app
    for _ in range(4):  # three messages each: counterpart, raiser, business team
        app.engine.handle(raise_command(app, "northbay"))

    served.ticker.batch = 5  # claimed five at a time: the rest waits, visibly, as the backlog
    drain = asyncio.get_running_loop().create_task(served.ticker.tick())
    await _until(lambda: bool(served.platform.delivered))

    status, body = await served.get("/readyz")
    assert status == 200, body
    _, metrics = await served.get("/metrics")
    assert "escalation_notifications_due 7.0" in metrics  # 12 queued, 5 taken by the worker

    served.platform.gate.set()
    await drain
    assert len(served.platform.delivered) == 12
    _, metrics = await served.get("/metrics")
    assert "escalation_notifications_due 0.0" in metrics
