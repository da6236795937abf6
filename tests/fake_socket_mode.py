"""A fake of Slack's Socket Mode on 127.0.0.1: the Web API's ``apps.connections.open`` (and the
``auth.test`` a Bolt app calls before its first listener runs) and the WebSocket it hands out.

It plays the protocol as Slack documents it: the app-level token is checked, each open issues a
one-time ``ws://`` URL, a new WebSocket is greeted with ``hello``, envelopes go out as
``{"envelope_id", "type", "payload", "accepts_response_payload"}`` and the app's ack comes back as
``{"envelope_id", "payload"?}``. Pings are answered unless the connection is made a zombie.

Two ways to break a connection, as reported in production:

- ``drop()``: the TCP connection is cut with no close frame (a NAT timeout, a proxy restart);
- ``stall()``: the connection stays open but Slack stops using it: no frames, no pongs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

APP_TOKEN = "xapp-1-A0FAKE-1-fake"
BOT_TOKEN = "xoxb-fake-bot-token"


@dataclass
class Connection:
    number: int
    socket: web.WebSocketResponse
    zombie: bool = False
    pings: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)


class FakeSocketMode:
    def __init__(self) -> None:
        self.opens = 0
        self.refuse_opens: str | None = None  # an error apps.connections.open answers with
        self.unreachable = False  # apps.connections.open answers 503 (Slack down)
        self.hold_handshakes = False  # WebSocket upgrades wait, unanswered (a stuck proxy)
        self.handshakes = 0
        self._release = asyncio.Event()
        self.tickets: dict[str, int] = {}
        self.connections: list[Connection] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self._ack_events: dict[str, asyncio.Event] = {}
        self._connected = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    # ---- serving ---------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/apps.connections.open", self._open)
        app.router.add_post("/api/auth.test", self._auth_test)
        app.router.add_get("/link/", self._link)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        self._release.set()
        for connection in self.connections:
            with contextlib.suppress(Exception):
                await connection.socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    @staticmethod
    async def _token(request: web.Request) -> str:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header[len("Bearer "):]
        form = await request.post()
        return str(form.get("token", "") or request.query.get("token", ""))

    async def _open(self, request: web.Request) -> web.Response:
        if self.unreachable:
            return web.Response(status=503, text="unavailable")
        token = await self._token(request)
        if self.refuse_opens:
            return web.json_response({"ok": False, "error": self.refuse_opens})
        if not token.startswith("xapp-"):
            return web.json_response({"ok": False, "error": "not_allowed_token_type"})
        if token != APP_TOKEN:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        self.opens += 1
        ticket = uuid.uuid4().hex
        self.tickets[ticket] = self.opens
        host = self.url.replace("http://", "ws://")
        return web.json_response({"ok": True, "url": f"{host}/link/?ticket={ticket}&app_id=A0FAKE"})

    async def _auth_test(self, request: web.Request) -> web.Response:
        if await self._token(request) != BOT_TOKEN:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        return web.json_response({
            "ok": True, "url": "https://fake.slack.example/", "team": "Fake", "user": "bot",
            "team_id": "T0FAKE", "user_id": "U0BOT", "bot_id": "B0BOT",
        })

    async def _link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if self.tickets.pop(ticket, None) is None:  # a ticket is good for one connection
            return web.Response(status=401, text="invalid ticket")
        self.handshakes += 1
        if self.hold_handshakes:
            await self._release.wait()
        socket = web.WebSocketResponse(autoping=False)
        await socket.prepare(request)
        connection = Connection(len(self.connections) + 1, socket)
        self.connections.append(connection)
        await socket.send_str(json.dumps({
            "type": "hello", "num_connections": len(self.live()),
            "debug_info": {"host": "fake", "approximate_connection_time": 18060},
            "connection_info": {"app_id": "A0FAKE"},
        }))
        async with self._connected:
            self._connected.notify_all()
        try:
            async for message in socket:
                if message.type == WSMsgType.PING:
                    if not connection.zombie:
                        connection.pings += 1
                        await socket.pong(message.data)
                elif message.type == WSMsgType.TEXT and not connection.zombie:
                    self._heard(json.loads(message.data))
        finally:
            connection.closed.set()
        return socket

    def _heard(self, frame: dict[str, Any]) -> None:
        envelope = frame.get("envelope_id")
        if isinstance(envelope, str):
            self.acks[envelope] = frame
            self._ack_events.setdefault(envelope, asyncio.Event()).set()

    # ---- what a test does ------------------------------------------------------------------

    def live(self) -> list[Connection]:
        return [c for c in self.connections if not c.socket.closed and not c.zombie]

    async def wait_connections(self, count: int, within: float = 3.0) -> Connection:
        """Until ``count`` WebSockets have been opened in all; the newest."""
        async def enough() -> None:
            async with self._connected:
                await self._connected.wait_for(lambda: len(self.connections) >= count)

        await asyncio.wait_for(enough(), within)
        return self.connections[count - 1]

    async def send(self, payload: dict[str, Any], kind: str = "slash_commands") -> str:
        """An envelope on the newest live connection; its id."""
        live = self.live()
        if not live:
            raise AssertionError("no live Socket Mode connection to deliver on")
        envelope = uuid.uuid4().hex
        self._ack_events[envelope] = asyncio.Event()
        await live[-1].socket.send_str(json.dumps({
            "envelope_id": envelope, "type": kind, "payload": payload,
            "accepts_response_payload": kind != "events_api",
        }))
        return envelope

    async def ack(self, envelope: str, within: float = 3.0) -> dict[str, Any]:
        await asyncio.wait_for(self._ack_events[envelope].wait(), within)
        return self.acks[envelope]

    async def drop(self) -> None:
        """Cut the newest connection's TCP stream: no close frame, as a dead network does."""
        connection = self.connections[-1]
        transport = connection.socket._req.transport if connection.socket._req else None  # type: ignore[attr-defined]
        assert transport is not None
        transport.abort()
        await asyncio.wait_for(connection.closed.wait(), 3)

    def stall(self) -> None:
        """The newest connection stays open and silent: no pongs, nothing delivered."""
        self.connections[-1].zombie = True


def slash_command(text: str = "", user: str = "U0DANA") -> dict[str, Any]:
    """A slash command's payload as Socket Mode carries it (the same fields as the HTTP form)."""
    return {
        "token": "legacy-verification-token", "team_id": "T0FAKE", "team_domain": "fake",
        "channel_id": "D0DM", "channel_name": "directmessage", "user_id": user,
        "user_name": "dana", "command": "/escalate", "text": text,
        "api_app_id": "A0FAKE", "is_enterprise_install": "false",
        "response_url": "https://hooks.slack.example/commands/T0FAKE/1/x",
        "trigger_id": "1.2.3",
    }
