"""A fake Slack Web API on 127.0.0.1 and the Slack test harness: the real Bolt app in the real
aiohttp server (``build_web_app``), over HTTP, with every request signed as Slack signs it.

The fake records every call with its parameters merged from the query string, a form body and
a JSON body (slack_sdk sends some methods one way, some the other), answers ``auth.test``, and
returns ``chat.postMessage`` / ``chat.update`` / ``views.open`` / ``users.*`` shapes as Slack
does. ``fail`` queues answers for a method (a 429 with Retry-After, an error) before the normal
one. Imported as ``from fake_slack import ...`` (``tests`` has no ``__init__.py``).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from slack_sdk.signature import SignatureVerifier

from bot.bootstrap import App, ClosableStore, bootstrap
from bot.server import SLACK_KEY, TICKER_KEY, build_web_app
from bot.settings import Settings
from dialogs.clock import SimulatedClock

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "partnerships.yaml"
MONDAY = datetime(2027, 2, 1, 10, tzinfo=UTC)
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-test-token"


@dataclass
class FakeSlack:
    users: dict[str, str] = field(default_factory=dict)  # Slack user id -> email
    names: dict[str, str] = field(default_factory=dict)  # Slack user id -> profile's real name
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failures: dict[str, list[tuple[int, dict[str, Any], dict[str, str]]]] = field(
        default_factory=dict
    )
    ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    socket: Any = None  # a FakeSocketMode: apps.connections.open is passed to it

    def fail(self, method: str, status: int, body: dict[str, Any], **headers: str) -> None:
        self.failures.setdefault(method, []).append((status, body, headers))

    def of(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]

    def posts_to(self, channel: str) -> list[dict[str, Any]]:
        return [p for p in self.of("chat.postMessage") if p.get("channel") == channel]

    @staticmethod
    def blocks(params: dict[str, Any]) -> list[dict[str, Any]]:
        raw = params.get("blocks") or []
        return list(json.loads(raw) if isinstance(raw, str) else raw)

    @staticmethod
    def buttons(params: dict[str, Any]) -> list[dict[str, Any]]:
        return [e for b in FakeSlack.blocks(params) if b["type"] == "actions"
                for e in b["elements"]]

    async def api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        else:
            params.update(dict(await request.post()))
        self.calls.append((method, params))
        if method == "apps.connections.open" and self.socket is not None:
            return await self.socket._open(request)  # type: ignore[no-any-return]
        queued = self.failures.get(method)
        if queued:
            status, body, headers = queued.pop(0)
            return web.json_response(body, status=status, headers=headers)
        answer = self.answer(method, params)
        if method == "chat.postMessage" and answer.get("ok"):
            params["_at"] = (answer["channel"], answer["ts"])  # where it now is, to update
        return web.json_response(answer)

    def current(self, posted: dict[str, Any]) -> dict[str, Any]:
        """A posted message as it is drawn now: its latest chat.update, if any."""
        channel, ts = posted["_at"]
        updates = [u for u in self.of("chat.update") if (u["channel"], u["ts"]) == (channel, ts)]
        return updates[-1] if updates else posted

    def answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "url": "https://northbay.slack.example/", "team": "Northbay",
                    "user": "escalation", "team_id": "T0NB", "user_id": "UBOT", "bot_id": "BBOT"}
        if method in {"chat.postMessage", "chat.update"}:
            channel = str(params.get("channel", ""))
            if channel.startswith("U"):  # a user id: the app's direct messages with them
                channel = "D" + channel[1:]
            ts = params.get("ts") or f"1700000000.{next(self.ts):06d}"
            return {"ok": True, "channel": channel, "ts": ts,
                    "message": {"text": params.get("text", ""), "ts": ts}}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000000.{next(self.ts):06d}"}
        if method in {"views.open", "views.publish", "views.update"}:
            view = params.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            return {"ok": True, "view": {"id": f"V{next(self.ts)}", **(view or {})}}
        if method == "users.lookupByEmail":
            email = str(params.get("email", "")).lower()
            user = next((u for u, e in self.users.items() if e == email), None)
            if user is None:
                return {"ok": False, "error": "users_not_found"}
            return {"ok": True, "user": {"id": user, "profile": {"email": email}}}
        if method == "users.info":
            user = str(params.get("user", ""))
            if user not in self.users:
                return {"ok": False, "error": "user_not_found"}
            profile = {"email": self.users[user], "real_name": self.names.get(user, "")}
            return {"ok": True, "user": {"id": user, "profile": profile}}
        return {"ok": False, "error": "unknown_method"}

    def web_app(self) -> web.Application:
        fake = web.Application()
        fake.router.add_route("*", "/api/{method}", self.api)
        return fake


def sign(body: str, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}


@dataclass
class SlackHarness:
    app: App
    clock: SimulatedClock
    fake: FakeSlack
    url: str
    web_app: web.Application
    http: ClientSession

    async def post(self, body: str, content_type: str, **headers: str) -> tuple[int, str, float]:
        """(status, body, seconds) for one request, signed unless ``headers`` say otherwise."""
        sent = {"Content-Type": content_type, **sign(body), **headers}
        started = time.perf_counter()
        async with self.http.post(self.url, data=body.encode(), headers=sent) as response:
            text = await response.text()
            return response.status, text, time.perf_counter() - started

    async def settle(self) -> None:
        """Wait for the work each ack left running, then send what it queued."""
        await self.web_app[SLACK_KEY].in_flight.settled()
        await self.web_app[TICKER_KEY].tick()
        await self.web_app[SLACK_KEY].in_flight.settled()

    async def form(self, fields: dict[str, str], **headers: str) -> tuple[int, str, float]:
        result = await self.post(urlencode(fields), "application/x-www-form-urlencoded",
                                 **headers)
        await self.settle()
        return result

    async def command(self, user: str, text: str = "", channel: str = "") -> int:
        fields = {"command": "/escalate", "text": text, "user_id": user, "team_id": "T0NB",
                  "channel_id": channel or "D" + user[1:], "trigger_id": f"trig-{uuid.uuid4()}",
                  "response_url": "https://hooks.slack.example/commands/1"}
        status, _, _ = await self.form(fields)
        return status

    async def interact(self, payload: dict[str, Any], **headers: str) -> tuple[int, str, float]:
        return await self.form({"payload": json.dumps(payload)}, **headers)

    async def click(self, user: str, button: dict[str, Any], posted: dict[str, Any]) -> int:
        """Press ``button`` on the message ``posted`` (a chat.postMessage the fake recorded)."""
        channel = str(posted.get("channel", ""))
        channel = "D" + channel[1:] if channel.startswith("U") else channel
        payload = {"type": "block_actions", "user": {"id": user}, "team": {"id": "T0NB"},
                   "trigger_id": f"trig-{uuid.uuid4()}", "api_app_id": "A0NB",
                   "container": {"type": "message", "channel_id": channel},
                   "channel": {"id": channel},
                   "actions": [{"type": "button", "action_id": button["action_id"],
                                "value": button["value"], "action_ts": str(time.time())}]}
        status, _, _ = await self.interact(payload)
        return status

    @staticmethod
    def state_of(view: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
        """A modal's state as Slack sends it, filled in with ``values`` by field id (a block
        id's redraw suffix, "~2", is Slack's business, as it is to a person)."""
        state: dict[str, Any] = {}
        for block in view["blocks"]:
            field = str(block.get("block_id", "")).split("~", 1)[0]
            if block["type"] != "input" or field not in values:
                continue
            kind, value = block["element"]["type"], values[field]
            if kind in {"static_select", "radio_buttons"}:
                entry: dict[str, Any] = {"selected_option": {"value": value}}
            elif kind == "multi_static_select":
                entry = {"selected_options": [{"value": v} for v in value.split(",") if v]}
            elif kind == "datepicker":
                entry = {"selected_date": value}
            else:
                entry = {"value": value}
            state[block["block_id"]] = {"value": {"type": kind, **entry}}
        return {"values": state}

    async def submit(self, user: str, view: dict[str, Any], values: dict[str, str]
                     ) -> dict[str, Any]:
        """Submit a modal the bot opened, filled in with ``values``; returns the ack's body."""
        payload = {"type": "view_submission", "user": {"id": user}, "team": {"id": "T0NB"},
                   "api_app_id": "A0NB",
                   "view": {**view, "id": "V1", "state": self.state_of(view, values)}}
        status, text, _ = await self.interact(payload)
        assert status == 200, text
        return dict(json.loads(text)) if text else {}

    async def press_in(self, user: str, view: dict[str, Any], action_id: str,
                       values: dict[str, str]) -> dict[str, Any]:
        """Press a button inside a modal (Add or Remove a row) with ``values`` typed so far;
        returns the modal as the bot redrew it (views.update)."""
        pressed = next(e for b in view["blocks"] if b["type"] == "actions"
                       for e in b["elements"] if e["action_id"] == action_id)
        payload = {"type": "block_actions", "user": {"id": user}, "team": {"id": "T0NB"},
                   "container": {"type": "view", "view_id": "V1"},
                   "view": {**view, "id": "V1", "hash": "h1", "state": self.state_of(view, values)},
                   "actions": [{"type": "button", "action_id": action_id,
                                "value": pressed["value"], "action_ts": str(time.time())}]}
        status, _, _ = await self.interact(payload)
        assert status == 200
        update = self.fake.of("views.update")[-1]
        assert update["view_id"] == "V1" and update["hash"] == "h1"
        raw = update["view"]
        return dict(json.loads(raw) if isinstance(raw, str) else raw)

    async def event(self, event: dict[str, Any], event_id: str = "", **headers: str
                    ) -> tuple[int, float]:
        body = json.dumps({"type": "event_callback", "team_id": "T0NB", "api_app_id": "A0NB",
                           "event_id": event_id or f"Ev{uuid.uuid4().hex[:10]}",
                           "event_time": int(time.time()), "event": event})
        status, _, seconds = await self.post(body, "application/json", **headers)
        await self.settle()
        return status, seconds

    async def dm(self, user: str, text: str) -> int:
        status, _ = await self.event({"type": "message", "channel_type": "im", "user": user,
                                      "channel": "D" + user[1:], "text": text,
                                      "ts": f"{time.time():.6f}"})
        return status

    def last_modal(self) -> dict[str, Any]:
        view = self.fake.of("views.open")[-1]["view"]
        return dict(json.loads(view) if isinstance(view, str) else view)

    async def tick(self) -> None:
        await self.settle()


def settings_for(tmp_path: Path, config: Path, api: str, **overrides: Any) -> Settings:
    settings = Settings(config_path=config, database_path=tmp_path / "bot.sqlite3",
                        extra_packs=None, tick_seconds=3600, worker_id="test",
                        slack_bot_token=TOKEN, slack_signing_secret=SECRET, slack_api_url=api)
    return replace(settings, **overrides)


@contextlib.asynccontextmanager
async def open_slack(
    tmp_path: Path,
    users: dict[str, str],
    config: Path = CONFIG,
    failures: list[tuple[str, int, dict[str, Any]]] = (),  # type: ignore[assignment]
    store: ClosableStore | None = None,
    socket: Any = None,
    **overrides: Any,
) -> AsyncIterator[SlackHarness]:
    """``failures``: answers the fake gives first, from start-up on (method, status, body);
    ``socket``: a FakeSocketMode that Socket Mode (``slack_app_token=...``) connects to."""
    fake = FakeSlack(users={u: e.lower() for u, e in users.items()}, socket=socket)
    for method, status, body in failures:
        fake.fail(method, status, body)
    fake_server = TestServer(fake.web_app(), host="127.0.0.1")
    await fake_server.start_server()
    clock = SimulatedClock(MONDAY)
    app = bootstrap(config, tmp_path / "bot.sqlite3", clock, store=store)
    api = str(fake_server.make_url("/api/"))
    web_app = build_web_app(app, settings_for(tmp_path, config, api, **overrides))
    server = TestServer(web_app, host="127.0.0.1")
    await server.start_server()
    await web_app[SLACK_KEY].in_flight.settled()  # the start-up lookups by email
    try:
        async with ClientSession() as http:
            yield SlackHarness(app, clock, fake, str(server.make_url("/slack/events")), web_app,
                               http)
    finally:
        await server.close()
        await fake_server.close()
