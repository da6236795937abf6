"""Socket Mode against a fake of Slack's Socket Mode on 127.0.0.1 (tests/fake_socket_mode.py):
the real slack-bolt AsyncApp and AsyncSocketModeHandler, a real WebSocket, envelopes acked over it,
and the two ways a link dies in production (a cut connection, a silent stall), each restored by the
watchdog so that the next envelope is delivered and acked.

The watchdog's time is a SimulatedClock: "30 s of silence" is a clock move, not a wait. Only the
socket work takes real time, on loopback, in milliseconds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from fake_socket_mode import APP_TOKEN, BOT_TOKEN, FakeSocketMode, slash_command
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.bootstrap import bootstrap
from bot.server import build_web_app
from bot.settings import Settings
from bot.slack_socket import SocketModeLink, WatchdogRule, attach_socket_mode
from dialogs.clock import SimulatedClock

CONFIG = Path(__file__).resolve().parents[1] / "examples" / "partnerships.yaml"
START = datetime(2027, 2, 1, 10, tzinfo=UTC)
# check() is called by the tests; the background loop only makes the first connection
RULE = WatchdogRule(check_seconds=3600, connect_timeout=3, close_timeout=1)


def bare_app(fake: FakeSocketMode) -> AsyncApp:
    """The barest Bolt app: fake credentials, its Web API at the fake, /escalate acked with the
    text it was given (so the ack's payload shows which envelope it answers)."""
    app = AsyncApp(
        signing_secret="fake-signing-secret",
        client=AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url),
    )

    @app.command("/escalate")
    async def escalate(ack: Any, command: dict[str, Any]) -> None:
        await ack(f"received: {command['text']}")

    return app


async def until(condition: Callable[[], bool], within: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSocketMode]:
    server = FakeSocketMode()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


def link_for(
    fake: FakeSocketMode, clock: SimulatedClock, token: str = APP_TOKEN, **rule: Any
) -> SocketModeLink:
    chosen = WatchdogRule(**{**RULE.__dict__, **rule})
    return SocketModeLink(bare_app(fake), token, clock, rule=chosen)


@pytest.fixture
async def connected(fake: FakeSocketMode, clock: SimulatedClock) -> AsyncIterator[SocketModeLink]:
    link = link_for(fake, clock)
    await link.start()
    await fake.wait_connections(1)
    await until(lambda: link.state == "connected")
    await first_pong(link)
    yield link
    await link.close()


def client_of(link: SocketModeLink) -> Any:
    assert link._attempt is not None
    return link._attempt.client


async def first_pong(link: SocketModeLink) -> None:
    """The pong to the ping a new connection sends, seen by a check, as the watchdog's own
    loop sees it within ``check_seconds`` of its arrival."""
    await until(lambda: client_of(link).last_ping_pong_time is not None)
    await link.check()


async def next_pong(link: SocketModeLink) -> None:
    before = client_of(link).last_ping_pong_time
    await until(lambda: client_of(link).last_ping_pong_time != before)


async def delivered(fake: FakeSocketMode, text: str) -> dict[str, Any]:
    envelope = await fake.send(slash_command(text))
    return await fake.ack(envelope)


# ---- the protocol ----------------------------------------------------------------------------


async def test_a_slash_command_envelope_is_acked_over_the_socket(
    fake: FakeSocketMode, connected: SocketModeLink
) -> None:
    ack = await delivered(fake, "help")
    assert ack["payload"] == {"text": "received: help"}
    assert fake.opens == 1 and len(fake.connections) == 1
    status = connected.status()
    assert status["state"] == "connected" and status["reconnects"] == 0
    assert connected.problem() is None


async def test_a_healthy_link_is_left_alone(
    fake: FakeSocketMode, connected: SocketModeLink
) -> None:
    await connected.check()
    await connected.check()
    assert fake.opens == 1
    assert connected.state == "connected"


async def test_close_ends_the_websocket(fake: FakeSocketMode, clock: SimulatedClock) -> None:
    link = link_for(fake, clock)
    await link.start()
    first = await fake.wait_connections(1)
    await until(lambda: link.state == "connected")
    await link.close()
    await asyncio.wait_for(first.closed.wait(), 3)
    assert link.state == "stopped"
    await link.check()  # a closed link stays closed
    assert fake.opens == 1


# ---- the watchdog ----------------------------------------------------------------------------


async def test_a_dropped_connection_is_restored_and_the_next_envelope_delivered(
    fake: FakeSocketMode, connected: SocketModeLink
) -> None:
    await delivered(fake, "before")
    await fake.drop()
    client = client_of(connected)
    await until(lambda: client.current_session.closed)
    await connected.check()
    second = await fake.wait_connections(2)
    await until(lambda: connected.state == "connected")
    assert fake.opens == 2 and connected.reconnects == 1
    ack = await delivered(fake, "after the drop")
    assert ack["payload"] == {"text": "received: after the drop"}
    assert not second.socket.closed


async def test_a_silent_stall_is_noticed_by_the_clock_and_restored(
    fake: FakeSocketMode, connected: SocketModeLink, clock: SimulatedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = fake.connections[0]
    fake.stall()  # open, but no pongs and nothing delivered: the SDK still thinks it is fine
    clock.advance(timedelta(seconds=29))
    await connected.check()
    assert fake.opens == 1, "replaced before the rule's 30 s of silence"
    clock.advance(timedelta(seconds=2))
    with caplog.at_level(logging.WARNING, logger="escalation_bot.slack.socket"):
        await connected.check()
    await fake.wait_connections(2)
    assert any("nothing received for 31s" in r.getMessage() for r in caplog.records)
    await until(lambda: connected.state == "connected")
    ack = await delivered(fake, "after the stall")
    assert ack["payload"] == {"text": "received: after the stall"}
    await asyncio.wait_for(first.closed.wait(), 3)  # the zombie is closed, not left open
    assert connected.reconnects == 1


async def test_pongs_keep_a_quiet_link_but_a_long_idle_one_is_refreshed(
    fake: FakeSocketMode, clock: SimulatedClock
) -> None:
    link = link_for(fake, clock, ping_interval=0.05)
    await link.start()
    first = await fake.wait_connections(1)
    await until(lambda: link.state == "connected")
    try:
        await first_pong(link)
        for _ in range(3):  # 3 x 20 s: silent but for pongs, and each check sees a newer one
            clock.advance(timedelta(seconds=20))
            await next_pong(link)
            await link.check()
        assert fake.opens == 1, "a link that answers pings was replaced"
        clock.advance(timedelta(seconds=541))
        await next_pong(link)
        await link.check()  # pongs, but no frame from Slack for 601 s: refreshed
        await fake.wait_connections(2)
        await until(lambda: link.state == "connected")
        await asyncio.wait_for(first.closed.wait(), 3)
        ack = await delivered(fake, "after the refresh")
        assert ack["payload"] == {"text": "received: after the refresh"}
    finally:
        await link.close()


async def test_a_client_whose_processing_task_died_is_replaced(
    fake: FakeSocketMode, connected: SocketModeLink
) -> None:
    """The SDK starts its message processor once per client and never again: when it dies the
    WebSocket still answers pings, and nothing is ever delivered (python-slack-sdk #1446)."""
    processor = client_of(connected).message_processor
    processor.cancel()
    await until(processor.done)
    await connected.check()
    await fake.wait_connections(2)
    await until(lambda: connected.state == "connected")
    ack = await delivered(fake, "after the new client")
    assert ack["payload"] == {"text": "received: after the new client"}


async def test_a_websocket_that_never_says_hello_is_replaced(
    fake: FakeSocketMode, connected: SocketModeLink, clock: SimulatedClock
) -> None:
    connected._attempt.hello = False  # type: ignore[union-attr]  # as if hello never came
    clock.advance(timedelta(seconds=16))
    await connected.check()
    await fake.wait_connections(2)
    assert fake.opens == 2


async def test_closing_while_the_websocket_opens_leaves_no_client_running(
    fake: FakeSocketMode, clock: SimulatedClock
) -> None:
    fake.hold_handshakes = True
    link = link_for(fake, clock)
    await link.start()
    await until(lambda: fake.handshakes == 1)
    await asyncio.wait_for(link.close(), 3)
    assert link.state == "stopped"
    running = [t for t in asyncio.all_tasks()
               if "process_messages" in repr(t.get_coro()) and not t.done()]
    assert running == [], "a Slack client of the abandoned attempt is still reading"


# ---- what it says ----------------------------------------------------------------------------


async def test_while_slack_is_unreachable_it_says_since_when_and_keeps_trying(
    fake: FakeSocketMode, clock: SimulatedClock
) -> None:
    fake.unreachable = True
    link = link_for(fake, clock)
    await link.start()
    try:
        await until(lambda: "apps.connections.open" in link.status().get("reason", ""))
        status = link.status()
        assert status["state"] == "connecting" and status["since"] == START.isoformat()
        assert link.problem() is None  # within the grace
        clock.advance(timedelta(seconds=45))
        assert link.status()["for_seconds"] == 45.0
        problem = link.problem()
        assert problem is not None and problem.startswith("Slack Socket Mode connecting for 45s")
        fake.unreachable = False
        await link.check()
        await until(lambda: link.state == "connected")
        assert link.problem() is None
    finally:
        await link.close()


async def test_reconnecting_is_reported_with_its_start_and_reason(
    fake: FakeSocketMode, connected: SocketModeLink, clock: SimulatedClock
) -> None:
    fake.stall()
    fake.unreachable = True
    clock.advance(timedelta(seconds=31))
    await connected.check()
    stalled_at = clock.now()
    status = connected.status()
    assert status["state"] == "reconnecting"
    assert status["since"] == stalled_at.isoformat()
    assert status["reason"] == (
        "nothing received for 31s; apps.connections.open answered HTTP 503"
    )
    clock.advance(timedelta(seconds=31))
    assert (connected.problem() or "").startswith("Slack Socket Mode reconnecting for 31s")
    fake.unreachable = False
    await connected.check()
    await until(lambda: connected.state == "connected")
    assert connected.reconnects == 1


async def test_a_refused_app_token_is_one_line_naming_the_variable(
    fake: FakeSocketMode, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    link = link_for(fake, clock, token="xapp-1-A0FAKE-1-revoked")
    with caplog.at_level(logging.ERROR, logger="escalation_bot.slack.socket"):
        await link.start()
        await until(lambda: link.state == "refused")
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "SLACK_APP_TOKEN" in line and "invalid_auth" in line and "connections:write" in line
    assert "\n" not in line and not any(r.exc_info for r in caplog.records)
    assert (link.problem() or "").startswith("Slack Socket Mode: Slack refused SLACK_APP_TOKEN")
    await link.check()  # a refused token is not retried: it cannot fix itself
    assert fake.opens == 0 and fake.connections == []
    await link.close()


# ---- in the server ---------------------------------------------------------------------------


async def test_the_server_opens_the_link_and_readyz_reports_it(
    fake: FakeSocketMode, clock: SimulatedClock, tmp_path: Path
) -> None:
    """attach_socket_mode on the real web app: the link opens on start-up, /readyz shows its
    state and since when, turns 503 when it has been reconnecting beyond the grace, and the
    WebSocket is closed on shutdown."""
    app = bootstrap(CONFIG, tmp_path / "bot.sqlite3", clock)
    settings = Settings(config_path=CONFIG, database_path=tmp_path / "bot.sqlite3",
                        extra_packs=None, tick_seconds=3600, worker_id="test")
    web_app = build_web_app(app, settings)
    link = link_for(fake, clock)
    attach_socket_mode(web_app, link)
    server = TestServer(web_app, host="127.0.0.1")
    await server.start_server()
    try:
        async with ClientSession() as http:

            async def readyz() -> tuple[int, dict[str, Any]]:
                async with http.get(server.make_url("/readyz")) as response:
                    return response.status, await response.json()

            await fake.wait_connections(1)
            await until(lambda: link.state == "connected")
            status, body = await readyz()
            assert status == 200, body
            assert body["slack_socket_mode"]["state"] == "connected"
            assert body["slack_socket_mode"]["reconnects"] == 0

            await first_pong(link)
            fake.stall()
            fake.unreachable = True
            clock.advance(timedelta(seconds=31))
            await link.check()
            status, body = await readyz()
            assert status == 200  # a reconnection within the grace is not a reason to refuse
            shown = body["slack_socket_mode"]
            assert shown["state"] == "reconnecting" and shown["since"] == clock.now().isoformat()
            clock.advance(timedelta(seconds=40))
            status, body = await readyz()
            assert status == 503
            assert any(p.startswith("Slack Socket Mode reconnecting for 40s")
                       for p in body["problems"])
            fake.unreachable = False
            await link.check()
            await until(lambda: link.state == "connected")
            status, body = await readyz()
            assert status == 200 and body["slack_socket_mode"]["reconnects"] == 1
            second = fake.connections[-1]
    finally:
        await server.close()
    await asyncio.wait_for(second.closed.wait(), 3)
    assert link.state == "stopped"


# ---- the setting -----------------------------------------------------------------------------


def test_the_app_token_setting_is_optional_and_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    assert Settings.from_env().slack_app_token == ""
    monkeypatch.setenv("SLACK_APP_TOKEN", f" {APP_TOKEN} ")
    assert Settings.from_env().slack_app_token == APP_TOKEN


def test_a_token_that_is_not_an_app_token_stops_start_up_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "SLACK_APP_TOKEN": "xoxb-123-456-secretpart",
           "ESCALATION_BOT_DATABASE": str(tmp_path / "bot.sqlite3")}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", "--port", "0"], env=env, capture_output=True,
        text=True, timeout=60,
    )
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("settings: SLACK_APP_TOKEN='xoxb-...' is not an app-level token")
    assert "xapp-" in line and "secretpart" not in line
