"""The Slack benchmark's requests are what a real Bolt app accepts (so the benchmark cannot rot
into timing 401s): signed as Slack signs them, parsed into the command and the click they say,
and refused when tampered with or replayed. Timings themselves belong to bench/, not here."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bench.bench_slack import SECRET, TOKEN, USER, FakeWebApi, _body
from bench.slack_apps import build
from bench.slack_requests import signature_headers

ACTION = "bench_click"


@pytest.fixture
async def web_api() -> AsyncIterator[str]:
    api = web.Application()
    api.router.add_route("*", "/api/{method}", FakeWebApi().handle)
    server = TestServer(api, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("/api/"))
    await server.close()


async def served(app: web.Application) -> TestServer:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


def recording_app(api_url: str, heard: list[dict[str, Any]]) -> web.Application:
    """A real AsyncApp, request verification on, that keeps what its listeners were given."""
    bolt = AsyncApp(signing_secret=SECRET, client=AsyncWebClient(token=TOKEN, base_url=api_url))

    @bolt.command("/escalate")
    async def command(ack: Any, command: dict[str, Any]) -> None:
        heard.append(command)
        await ack()

    @bolt.action(ACTION)
    async def click(ack: Any, body: dict[str, Any]) -> None:
        heard.append(body)
        await ack()

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    app = web.Application()
    app.router.add_post("/slack/events", events)
    return app


async def post(server: TestServer, body: bytes, headers: dict[str, str]) -> int:
    async with ClientSession() as http, http.post(
        server.make_url("/slack/events"), data=body, headers=headers
    ) as response:
        await response.read()
        return response.status


async def test_the_bench_requests_reach_a_real_apps_listeners(web_api: str) -> None:
    heard: list[dict[str, Any]] = []
    server = await served(recording_app(web_api, heard))
    try:
        command = _body("slash command", 7, ACTION)
        assert await post(server, command, signature_headers(command, SECRET)) == 200
        click = _body("button click", 8, ACTION)
        assert await post(server, click, signature_headers(click, SECRET)) == 200
    finally:
        await server.close()
    slash, block_actions = heard
    assert (slash["command"], slash["text"], slash["user_id"]) == ("/escalate", "status", USER)
    assert slash["trigger_id"] == "7.7.bench"
    assert block_actions["type"] == "block_actions"
    assert block_actions["user"]["id"] == USER
    [action] = block_actions["actions"]
    assert (action["action_id"], action["value"]) == (ACTION, "bench-8")


async def test_a_tampered_or_replayed_bench_request_is_refused(web_api: str) -> None:
    heard: list[dict[str, Any]] = []
    server = await served(recording_app(web_api, heard))
    try:
        body = _body("slash command", 1, ACTION)
        headers = signature_headers(body, SECRET)
        assert await post(server, body.replace(b"status", b"statuz"), headers) == 401
        assert await post(server, body, signature_headers(body, "another-secret")) == 401
        six_minutes_ago = int(time.time()) - 360
        assert await post(server, body, signature_headers(body, SECRET, six_minutes_ago)) == 401
    finally:
        await server.close()
    assert heard == []


async def test_the_bare_factory_acks_what_the_benchmark_sends(
    web_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_API_URL", web_api)
    server = await served(await build("bench.slack_apps:bare_app"))
    try:
        for kind in ("slash command", "button click"):
            body = _body(kind, 3, ACTION)
            assert await post(server, body, signature_headers(body, SECRET)) == 200, kind
        forged = _body("button click", 4, ACTION)
        assert await post(server, forged, signature_headers(forged, "wrong")) == 401
    finally:
        await server.close()


async def test_a_factory_that_is_not_there_is_named() -> None:
    with pytest.raises(ValueError, match="give MODULE:FUNCTION"):
        await build("bench.slack_apps")
    with pytest.raises(ValueError, match=r"'bench\.slack_apps:nothing'"):
        await build("bench.slack_apps:nothing")
