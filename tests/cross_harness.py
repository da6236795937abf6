"""One bot serving Teams and Slack at once, for cases whose parties are on both: the real bot web
app (``build_web_app``) over HTTP on loopback with the fake Bot Connectors (teams_harness.py) and
the fake Slack Web API (fake_slack.py) together, so a test drives each platform as its users do
and sees what the bot sent on each.

The directory is the example's Northbay, split: the council's people (Dana, Cal, Bea, Alex) are
on Slack only, the health trust's (Hana, Fern, Eli) on Teams only, and Gus Penn (the health
trust's line manager) on both. Alerts go to both platforms: the business team and stage 3 to
Slack channels, stage 2 to a Teams channel.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from fake_slack import SECRET, TOKEN, FakeSlack, SlackHarness
from slack_config import slack_id
from support import derived_config
from teams_harness import MONDAY, Connector, Harness, settings_for

from bot.bootstrap import bootstrap
from bot.server import SLACK_KEY, build_web_app
from dialogs.case import Case
from dialogs.clock import SimulatedClock

ON_SLACK = {"dana.marsh@council.northbay.example", "cal.birch@council.northbay.example",
            "bea.lane@council.northbay.example", "alex.rowe@council.northbay.example"}
ON_BOTH = {"gus.penn@health.northbay.example"}
BUSINESS = "CNBBUSINESS"  # Slack channel ids
SENIOR = "CNBSENIOR"
MANAGERS = "19:northbay-managers@thread.tacv2"  # a Teams channel


def cross_config(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The config's path, and the Slack users the fake knows (id -> email)."""
    users: dict[str, str] = {}

    def edit(data: dict[str, Any]) -> None:
        for person in data["people"]:
            email = person["email"]
            if email in ON_SLACK | ON_BOTH:
                users[slack_id(email)] = email
                person["slack_user_id"] = slack_id(email)
            if email in ON_SLACK:
                person.pop("teams_aad_object_id", None)
        alerts = data["partnerships"][0]["alerts"]
        alerts["business_team"] = f"slack:{BUSINESS}"
        alerts["stages"] = {2: f"teams:{MANAGERS}", 3: f"slack:{SENIOR}"}

    return derived_config(tmp_path, edit), users


@dataclass
class Both:
    """The Teams and the Slack harness over the same bot, store and clock."""

    teams: Harness
    slack: SlackHarness

    @property
    def fake(self) -> FakeSlack:
        return self.slack.fake

    @property
    def connector(self) -> Connector:
        return self.teams.connector

    async def settle(self) -> None:
        """The Slack work each ack or change left running, then a tick, then its Slack work."""
        await self.slack.settle()

    def case(self) -> Case:
        (case,) = self.teams.app.store.open_cases()
        return case

    def slack_copies(self, user: str) -> list[dict[str, Any]]:
        """Each message the bot posted in a Slack user's DM, as it is drawn now."""
        return [self.fake.current(p) for p in self.fake.posts_to(user) if "_at" in p]

    @staticmethod
    def versions(message: dict[str, Any]) -> set[str | None]:
        """The case versions a Slack message's buttons carry."""
        return {json.loads(b["value"])["d"].get("version") for b in FakeSlack.buttons(message)}


@contextlib.asynccontextmanager
async def open_both(tmp_path: Path) -> AsyncIterator[Both]:
    config, users = cross_config(tmp_path)
    connector, other, fake = Connector(), Connector(), FakeSlack(users=users)
    servers = [TestServer(x.web_app(), host="127.0.0.1") for x in (connector, other, fake)]
    for server in servers:
        await server.start_server()
    clock = SimulatedClock(MONDAY)
    app = bootstrap(config, tmp_path / "bot.sqlite3", clock)
    api = str(servers[2].make_url("/api/"))
    settings = settings_for(tmp_path, config, slack_bot_token=TOKEN,
                            slack_signing_secret=SECRET, slack_api_url=api)
    web_app = build_web_app(app, settings)
    bot = TestServer(web_app, host="127.0.0.1")
    await bot.start_server()
    await web_app[SLACK_KEY].in_flight.settled()  # the start-up lookups by email
    try:
        async with ClientSession() as http:
            teams = Harness(app, clock, connector, str(bot.make_url("/api/messages")),
                            str(servers[0].make_url("")).rstrip("/"), web_app, http, other,
                            str(servers[1].make_url("")).rstrip("/"))
            slack = SlackHarness(app, clock, fake, str(bot.make_url("/slack/events")), web_app,
                                 http)
            yield Both(teams, slack)
    finally:
        await bot.close()
        for server in servers:
            await server.close()
