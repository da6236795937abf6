"""The Bot Connector calls over one shared aiohttp session (adapters/teams/connector_http.py): the
SDK's ConnectorClient given our pipeline, against the fake Bot Connector over real HTTP. These
fail if botbuilder stops taking a pipeline through ``pipeline_type`` or changes how credentials
sign a request."""

from __future__ import annotations

import asyncio
import inspect
import logging
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from botbuilder.schema import Activity, ConversationAccount
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import AppCredentials, MicrosoftAppCredentials
from botframework.connector.models import ErrorResponseException
from msrest.exceptions import ClientRequestError
from teams_harness import DANA, Connector, open_harness
from test_teams_turn_cost import kept_clients

from adapters.teams.connector_http import (
    SessionPipeline,
    SharedSession,
    env_proxy,
    on_shared_session,
)
from adapters.teams.notifier import _failure

pytestmark = pytest.mark.asyncio


class FixedToken(AppCredentials):  # type: ignore[misc]
    """The SDK's AppCredentials with the token acquisition (MSAL, in production) answered here:
    everything else, signing a session included, is the SDK's."""

    def __init__(self, token: str) -> None:
        super().__init__(app_id="app-1")
        self.token = token

    def get_access_token(self, force_refresh: bool = False) -> str:
        return self.token


@pytest_asyncio.fixture
async def connector() -> AsyncIterator[tuple[Connector, str]]:
    fake = Connector()
    server = TestServer(fake.web_app(), host="127.0.0.1")
    await server.start_server()
    try:
        yield fake, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def client_for(credentials: object, url: str, shared: SharedSession) -> ConnectorClient:
    made = ConnectorClient(credentials, base_url=url)  # as the SDK's connector factory builds it
    made.config.add_user_agent("Microsoft-BotFramework/3.1 (test)")
    return on_shared_session(made, url, shared)


def message(text: str = "hello") -> Activity:
    return Activity(type="message", text=text, conversation=ConversationAccount(id="a:chat-1"))


async def test_the_sdk_takes_a_pipeline_and_sends_through_the_shared_session(
    connector: tuple[Connector, str],
) -> None:
    fake, url = connector
    assert "pipeline_type" in inspect.signature(ConnectorClient.__init__).parameters
    shared = SharedSession()
    try:
        client = client_for(FixedToken("token-1"), url, shared)
        answer = await client.conversations.send_to_conversation("a:chat-1", message("héllo"))
        assert answer.id == "activity-1"  # the SDK deserialised our response
        assert shared.requests == 1  # through our sender, not msrest's requests driver
        assert fake.texts_to("a:chat-1") == ["héllo"]
        authorization, agent = fake.headers[0]
        assert authorization == "Bearer token-1"
        assert "Microsoft-BotFramework/3.1 (test)" in agent  # the SDK factory's user agent kept
        await client.conversations.reply_to_activity("a:chat-1", "in-1", message("again"))
        assert shared.requests == 2 and len(fake.sent) == 2
    finally:
        await shared.close()


async def test_without_app_credentials_no_token_is_sent(connector: tuple[Connector, str]) -> None:
    """Local no-credential mode: the SDK's anonymous credentials sign nothing."""
    fake, url = connector
    shared = SharedSession()
    try:
        client = client_for(MicrosoftAppCredentials(None, None), url, shared)
        await client.conversations.send_to_conversation("a:chat-1", message())
        assert fake.headers == [("", fake.headers[0][1])]
    finally:
        await shared.close()


async def test_a_refusal_is_the_sdks_error_with_its_status(
    connector: tuple[Connector, str],
) -> None:
    fake, url = connector
    fake.failing["a:chat-1"] = 403
    shared = SharedSession()
    try:
        client = client_for(FixedToken("t"), url, shared)
        with pytest.raises(ErrorResponseException) as raised:
            await client.conversations.send_to_conversation("a:chat-1", message())
        assert _failure(raised.value).permanent
        assert "403" in str(_failure(raised.value))
        fake.failing["a:chat-1"] = 502
        with pytest.raises(ErrorResponseException) as raised:
            await client.conversations.send_to_conversation("a:chat-1", message())
        failure = _failure(raised.value)
        assert not failure.permanent and "502" in str(failure)
        assert shared.requests == 2  # no retries in the sender: the outbox retries
    finally:
        await shared.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_an_unreachable_connector_is_tried_again_then_msrests_request_error() -> None:
    """As the requests driver did: three more connection attempts, at once, then after 1.6 and
    3.2 s (the waits recorded here, not slept)."""
    waited: list[float] = []

    async def wait(seconds: float) -> None:
        waited.append(seconds)

    shared = SharedSession(sleep=wait)
    try:
        client = client_for(FixedToken("t"), f"http://127.0.0.1:{closed_port()}", shared)
        with pytest.raises(ClientRequestError) as raised:
            await client.conversations.send_to_conversation("a:chat-1", message())
        failure = _failure(raised.value)
        assert not failure.permanent and "unreachable: ClientRequestError" in str(failure)
        assert shared.requests == 4 and waited == [0.0, 1.6, 3.2]
    finally:
        await shared.close()


async def test_a_connector_that_never_answers_times_out() -> None:
    """The configuration's timeout (msrest's connection timeout, 100 s by default) applies."""
    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/v3/conversations/{c}/activities", hang)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    shared = SharedSession()
    try:
        url = str(server.make_url("")).rstrip("/")
        made = ConnectorClient(FixedToken("t"), base_url=url)
        made.config.connection.timeout = 0.2
        client = ConnectorClient(
            made.config.credentials, base_url=url,
            pipeline_type=lambda config: SessionPipeline(made.config, shared),
        )
        started = time.monotonic()
        with pytest.raises(ClientRequestError):
            await client.conversations.send_to_conversation("a:chat-1", message())
        assert time.monotonic() - started < 5
    finally:
        release.set()
        await shared.close()
        await server.close()


async def test_a_turns_replies_go_through_the_shared_session(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with open_harness(tmp_path) as h:
        kept = kept_clients(h)
        assert await h.say(DANA, "status") in (200, 201)
        sent = kept.session.requests
        assert sent >= 1 and len(h.connector.sent) >= 1
        await h.say(DANA, "help")
        assert kept.session.requests == sent + 1
        # a reply the connector refuses: one log line, the turn still answered
        caplog.set_level(logging.WARNING)
        h.connector.failing[f"a:chat-with-{DANA[1]}"] = 500
        status, _ = await h.post(h.activity(DANA, text="help"))
        assert status < 500
        lines = [r for r in caplog.records if r.getMessage() == "teams reply not delivered"]
        assert [getattr(r, "error", None) for r in lines] == ["ErrorResponseException"]


async def test_the_environments_proxy_is_used_and_read_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTP(S)_PROXY and NO_PROXY, as requests honoured them: read when the client is built,
    not on every request."""
    seen: list[str] = []

    async def proxy(request: web.Request) -> web.Response:
        seen.append(f"{request.host} {request.path}")
        return web.json_response({"id": "via-proxy"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", str(server.make_url("")).rstrip("/"))
    shared = SharedSession()
    try:
        client = client_for(FixedToken("t"), "http://connector.invalid", shared)
        monkeypatch.delenv("HTTP_PROXY")  # read already: a later change is not looked up
        answer = await client.conversations.send_to_conversation("a:chat-1", message())
        assert answer.id == "via-proxy"
        assert seen == ["connector.invalid /v3/conversations/a:chat-1/activities"]
    finally:
        await shared.close()
        await server.close()
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "smba.trafficmanager.net")
    assert env_proxy("https://smba.trafficmanager.net/emea/") is None
    assert env_proxy("https://other.example/") == "http://proxy.invalid:3128"
