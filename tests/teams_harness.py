"""The Teams test harness: the real bot (``build_web_app``, the real botbuilder adapter and our
route) over real HTTP on loopback, and fake Bot Connectors capturing everything the bot sends.

``connector`` is tenant-1's Bot Connector, the one the directory's people talk through; ``other``
is a second one on another loopback port (a stranger's, or another tenant's), so a test can see a
message go where it should not. Imported as ``from teams_harness import ...`` (``tests`` has no
``__init__.py``; see ``support.py``).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from adapters.teams.files import DocumentRenderer
from bot.bootstrap import App, bootstrap
from bot.delivery import render_form
from bot.demo import demo_answers
from bot.server import TICKER_KEY, build_web_app
from bot.settings import Settings
from dialogs.case import Case
from dialogs.clock import SimulatedClock

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "partnerships.yaml"
MONDAY = datetime(2027, 2, 1, 10, tzinfo=UTC)  # NSSCP stage 1 due Tue 17:00, stage 2 Thu 17:00
TENANT = "tenant-1"
ADAPTIVE = "application/vnd.microsoft.card.adaptive"
FILE_CONSENT = "application/vnd.microsoft.teams.card.file.consent"
FILE_INFO = "application/vnd.microsoft.teams.card.file.info"

DANA = ("dana.marsh@council.northbay.example", "00000000-0000-0000-0000-0000000000020")
HANA = ("hana.moss@health.northbay.example", "00000000-0000-0000-0000-0000000000021")
CAL = ("cal.birch@council.northbay.example", "00000000-0000-0000-0000-0000000000022")
GUS = ("gus.penn@health.northbay.example", "00000000-0000-0000-0000-0000000000023")
BEA = ("bea.lane@council.northbay.example", "00000000-0000-0000-0000-0000000000025")
IVO = ("ivo.fell@partnership.northbay.example", "00000000-0000-0000-0000-0000000000024")
STRANGER = ("nobody@nowhere.example", "99999999-0000-0000-0000-000000000000")


def tenant_of_request(body: dict[str, Any]) -> str:
    """The tenant of a create-conversation request, where Teams reads it."""
    tenant = ((body.get("channelData") or {}).get("tenant") or {}).get("id")
    return str(tenant or body.get("tenantId") or "")


@dataclass
class Connector:
    """A fake Bot Connector: records what the bot sends; refuses chosen people with 403 and a new
    chat without a tenant with 400, as Teams does."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    uploads: dict[str, bytes] = field(default_factory=dict)  # OneDrive: file id -> bytes
    upload_status: int = 201  # what the upload endpoint answers (500: OneDrive failing)
    failing: dict[str, int] = field(default_factory=dict)  # conversation -> status it answers
    # the member records Teams keeps, by user id ("29:<aad>"): what TeamsInfo.get_member reads
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    member_lookups: list[tuple[str, str]] = field(default_factory=list)
    # each posted activity's Authorization and User-Agent headers, in order
    headers: list[tuple[str, str]] = field(default_factory=list)

    def add_member(self, who: tuple[str, str], name: str = "", upn: str = "",
                   email: str | None = None) -> None:
        """A member record as the Bot Connector returns it: email and userPrincipalName."""
        address, aad = who
        self.members[f"29:{aad}"] = {
            "id": f"29:{aad}", "name": name or address, "aadObjectId": aad,
            "email": address if email is None else email, "userPrincipalName": upn or address,
            "tenantId": TENANT, "userRole": "user",
        }

    async def get_member(self, request: web.Request) -> web.Response:
        """GET /v3/conversations/{id}/members/{userId}; 404 as Teams answers for a stranger."""
        member = request.match_info["member"]
        self.member_lookups.append((request.match_info["conversation"], member))
        if member not in self.members:
            return web.json_response(
                {"error": {"code": "MemberNotFoundInConversation", "message": "not found"}},
                status=404,
            )
        return web.json_response(self.members[member])

    async def upload(self, request: web.Request) -> web.Response:
        """OneDrive's upload session, as a bot's PUT reaches it: the whole file in one range."""
        data = await request.read()
        size = len(data)
        if request.headers.get("Content-Range") != f"bytes 0-{size - 1}/{size}":
            return web.json_response({"error": "bad Content-Range"}, status=400)
        if request.headers.get("Content-Length") != str(size):
            return web.json_response({"error": "bad Content-Length"}, status=400)
        if self.upload_status >= 300:
            return web.json_response({"error": "failing"}, status=self.upload_status)
        self.uploads[request.match_info["file"]] = data
        return web.json_response({"id": request.match_info["file"], "size": size}, status=201)

    def consent_cards_to(self, conversation: str) -> list[dict[str, Any]]:
        """The FileConsentCard attachments sent into a chat (name and content)."""
        return [
            attachment
            for activity in self.sent
            if activity["_conversation"] == conversation
            for attachment in activity.get("attachments") or []
            if attachment["contentType"] == FILE_CONSENT
        ]

    def file_info_cards_to(self, conversation: str) -> list[dict[str, Any]]:
        return [
            attachment
            for activity in self.sent
            if activity["_conversation"] == conversation
            for attachment in activity.get("attachments") or []
            if attachment["contentType"] == FILE_INFO
        ]

    async def post_activity(self, request: web.Request) -> web.Response:
        self.headers.append((request.headers.get("Authorization", ""),
                             request.headers.get("User-Agent", "")))
        status = self.failing.get(request.match_info["conversation"])
        if status is not None:
            return web.json_response({"error": {"code": "ServiceError"}}, status=status)
        activity = await request.json()
        activity["_conversation"] = request.match_info["conversation"]
        self.sent.append(activity)
        return web.json_response({"id": f"activity-{next(self.ids)}"})

    async def create_conversation(self, request: web.Request) -> web.Response:
        body = await request.json()
        if not tenant_of_request(body):
            return web.json_response({"error": {"code": "BadArgument"}}, status=400)
        member = body["members"][0]["id"]
        if member in self.refuse:
            return web.json_response({"error": {"code": "Forbidden"}}, status=403)
        self.created.append(body)
        return web.json_response({"id": f"a:chat-with-{member}"})

    def cards_to(self, conversation: str) -> list[dict[str, Any]]:
        """The Adaptive Cards sent into a chat (file cards: ``consent_cards_to``)."""
        return [
            attachment["content"]
            for activity in self.sent
            if activity["_conversation"] == conversation
            for attachment in activity.get("attachments") or []
            if attachment["contentType"] == ADAPTIVE
        ]

    def texts_to(self, conversation: str) -> list[str]:
        return [a.get("text") or "" for a in self.sent if a["_conversation"] == conversation]

    def web_app(self) -> web.Application:
        fake = web.Application()
        fake.router.add_post("/v3/conversations/{conversation}/activities", self.post_activity)
        fake.router.add_post(
            "/v3/conversations/{conversation}/activities/{reply_to}", self.post_activity
        )
        fake.router.add_post("/v3/conversations", self.create_conversation)
        fake.router.add_get(
            "/v3/conversations/{conversation}/members/{member}", self.get_member
        )
        fake.router.add_put("/upload/{file}", self.upload)
        return fake


def card_text(card: dict[str, Any]) -> str:
    return json.dumps(card)


@dataclass
class Harness:
    app: App
    clock: SimulatedClock
    connector: Connector
    bot_url: str
    connector_url: str
    web_app: web.Application
    http: ClientSession
    other: Connector
    other_url: str

    def activity(self, who: tuple[str, str], **fields: Any) -> dict[str, Any]:
        email, aad = who
        return {
            "type": "message",
            "id": f"in-{uuid.uuid4().hex}",  # Teams gives every activity its own id
            "channelId": "msteams",
            "serviceUrl": self.connector_url,
            "from": {"id": f"29:{aad}", "aadObjectId": aad, "name": email},
            "recipient": {"id": "28:bot", "name": "Escalation bot"},
            "conversation": {"id": f"a:chat-with-{aad}", "conversationType": "personal",
                             "tenantId": TENANT},
            "channelData": {"tenant": {"id": TENANT}},
            **fields,
        }

    async def post(self, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        async with self.http.post(self.bot_url, json=body, headers=headers) as response:
            text = await response.text()
            return response.status, json.loads(text) if text else None

    async def post_raw(self, data: bytes | str, headers: dict[str, str]) -> int:
        async with self.http.post(self.bot_url, data=data, headers=headers) as response:
            await response.read()
            return response.status

    async def say(self, who: tuple[str, str], text: str) -> int:
        status, _ = await self.post(self.activity(who, text=text))
        await self.tick()
        return status

    async def click(
        self, who: tuple[str, str], verb: str, data: dict[str, Any]
    ) -> dict[str, Any]:
        body = self.activity(who, type="invoke", name="adaptiveCard/action",
                             value={"action": {"type": "Action.Execute", "verb": verb,
                                               "data": data}})
        status, response = await self.post(body)
        assert status == 200, response
        assert response["statusCode"] == 200 and response["type"].endswith("card.adaptive")
        await self.tick()
        return dict(response["value"])

    async def consent(
        self, who: tuple[str, str], card: dict[str, Any], action: str = "accept"
    ) -> tuple[int, Any, str]:
        """Press Allow (or Decline) on a FileConsentCard, as Teams does: it creates the file in
        the person's OneDrive and sends ``fileConsent/invoke`` with where to upload it. Returns
        the invoke's status and body, and the file's id on the fake OneDrive."""
        file_id = uuid.uuid4().hex
        context = card["content"]["acceptContext" if action == "accept" else "declineContext"]
        value: dict[str, Any] = {"type": "fileUpload", "action": action, "context": context}
        if action == "accept":
            value["uploadInfo"] = {
                "contentUrl": f"https://contoso.sharepoint.example/personal/{file_id}",
                "name": card["name"],
                "uploadUrl": f"{self.connector_url}/upload/{file_id}",
                "uniqueId": file_id,
                "fileType": card["name"].rsplit(".", 1)[-1],
            }
        body = self.activity(who, type="invoke", name="fileConsent/invoke", value=value)
        status, response = await self.post(body)
        return status, response, file_id

    async def tick(self) -> None:
        await self.web_app[TICKER_KEY].tick()

    def case(self) -> Case:
        (case,) = self.app.store.open_cases() or [
            c for c in self.app.store.cases_for_person(DANA[0], include_closed=True)
        ]
        return case


def in_tenant(activity: dict[str, Any], tenant: str) -> dict[str, Any]:
    """The activity as Teams would send it from another tenant."""
    activity["conversation"]["tenantId"] = tenant
    activity["channelData"] = {**activity.get("channelData", {}), "tenant": {"id": tenant}}
    return activity


def intake_values(app: App, counterpart: str = HANA[0]) -> dict[str, str]:
    policy = app.policies.get("nsscp")
    people = app.engine.people("northbay")
    return {**demo_answers(policy, people[counterpart]), "child_dob": "2016-04-12"}


def settings_for(tmp_path: Path, config: Path = CONFIG, **overrides: Any) -> Settings:
    """No credentials (loopback mode) and tenant-1 configured as MicrosoftAppTenantId, unless
    ``overrides`` say otherwise."""
    settings = Settings(config_path=config, database_path=tmp_path / "bot.sqlite3",
                        extra_packs=None, tick_seconds=3600, worker_id="test",
                        microsoft_app_tenant_id=TENANT)
    return replace(settings, **overrides)


@contextlib.asynccontextmanager
async def open_harness(
    tmp_path: Path,
    config: Path = CONFIG,
    render: DocumentRenderer = render_form,
    **overrides: Any,
) -> AsyncIterator[Harness]:
    connector, other = Connector(), Connector()
    fake_server = TestServer(connector.web_app(), host="127.0.0.1")
    other_server = TestServer(other.web_app(), host="127.0.0.1")
    await fake_server.start_server()
    await other_server.start_server()
    clock = SimulatedClock(MONDAY)
    app = bootstrap(config, tmp_path / "bot.sqlite3", clock)
    web_app = build_web_app(app, settings_for(tmp_path, config, **overrides), render)
    bot_server = TestServer(web_app, host="127.0.0.1")
    await bot_server.start_server()
    try:
        async with ClientSession() as http:
            yield Harness(app, clock, connector, str(bot_server.make_url("/api/messages")),
                          str(fake_server.make_url("")).rstrip("/"), web_app, http, other,
                          str(other_server.make_url("")).rstrip("/"))
    finally:
        await bot_server.close()
        await other_server.close()
        await fake_server.close()
