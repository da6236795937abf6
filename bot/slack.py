"""Wire the Slack adapter: the Web API client, the Bolt app, its route and its notifier.

Without SLACK_BOT_TOKEN Slack is off (said once in the log). Over HTTP a token needs
SLACK_SIGNING_SECRET, or nobody could tell Slack's requests from anyone else's: the bot refuses
to start, naming the variable. Socket Mode (SLACK_APP_TOKEN) builds the same app with
``build_slack(..., socket_mode=True)`` and wraps ``Slack.bolt``; there is no public URL, so no
signing secret is needed.

slack_bolt, slack_sdk and the Slack adapter are imported by ``build_slack``, only when a token is
set: importing them costs ~0.2-0.8 s of every start, which a bot without Slack never needs
(``tests/test_cold_start.py`` keeps it so).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from bot.settings import Settings, SettingsError, is_loopback

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    from adapters.slack.identity import SlackPeople
    from adapters.slack.notifier import SlackNotifier
    from adapters.slack.redraws import Redraws
    from adapters.slack.runtime import InFlight
    from bot.bootstrap import App

ROUTE = "/slack/events"
log = logging.getLogger("escalation_bot.slack")


def api_url(settings: Settings) -> str:
    """SLACK_API_URL, ending in '/' as the client needs; whoever answers there sees the bot's
    token, so it must be https, or http on loopback (tests, local trials)."""
    url = settings.slack_api_url
    if not url:
        return ""
    parts = urlsplit(url)
    local = parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname)
    if not parts.hostname or not (parts.scheme == "https" or local):
        raise SettingsError(
            f"SLACK_API_URL={url!r} must be an https:// URL (or http:// on 127.0.0.1, for tests);"
            " unset it to use Slack's own, https://slack.com/api/"
        )
    return url if url.endswith("/") else url + "/"


def check_slack(settings: Settings, socket_mode: bool = False) -> None:
    api_url(settings)
    if settings.slack_bot_token and not settings.slack_signing_secret and not socket_mode:
        raise SettingsError(
            "SLACK_BOT_TOKEN is set but SLACK_SIGNING_SECRET is not, so Slack's requests cannot"
            " be verified; fix: set SLACK_SIGNING_SECRET to the app's Signing Secret (Basic"
            " Information in the app's settings), or unset SLACK_BOT_TOKEN to run without Slack"
        )


@dataclass
class Slack:
    bolt: AsyncApp
    client: AsyncWebClient
    notifier: SlackNotifier
    people: SlackPeople
    in_flight: InFlight
    redraws: Redraws

    def start(self) -> None:
        """Serving: from now on every change to a case redraws its Slack copies. Web API calls
        share one HTTP session (slack_sdk otherwise opens a session and a connection per call,
        which on a busy core costs the acks; Bolt's per-request clients take this one too)."""
        self.client.session = aiohttp.ClientSession()
        self.redraws.start()

    async def close(self) -> None:
        """Let the work after each ack finish before the store is closed under it."""
        self.redraws.stop()
        await self.in_flight.settled(timeout=10.0)
        if self.client.session is not None:
            await self.client.session.close()

    def warm(self, who: Callable[[], list[str]]) -> None:
        """Look people up by email in the background (``who`` reads them from the store):
        hundreds of lookups at Slack's rate limits must not hold up start-up. Only people with
        no Slack binding cost a call. Shutdown waits for it as for any reply."""

        async def lookups() -> None:
            emails = await asyncio.to_thread(who)
            found = await self.people.warm(emails)
            log.info("Slack: found %d of %d people by their email", found, len(emails))

        self.in_flight.track(asyncio.get_running_loop().create_task(lookups()))

    def route(self) -> Callable[[web.Request], Awaitable[web.Response]]:
        from adapters.slack.app import slack_route

        return slack_route(self.bolt)


def build_slack(
    app: App,
    settings: Settings,
    after_turn: Callable[[], None] = lambda: None,
    socket_mode: bool = False,
) -> Slack | None:
    """None when Slack is off. Raises SettingsError for settings that cannot work."""
    if not settings.slack_bot_token:
        log.info("Slack is off: SLACK_BOT_TOKEN is not set")
        return None
    check_slack(settings, socket_mode)
    # Slack is on: only now its SDKs (see the module's docstring)
    from adapters.slack.app import build_slack_app
    from adapters.slack.copies import SlackCopies
    from adapters.slack.identity import SlackPeople
    from adapters.slack.notifier import SlackNotifier
    from adapters.slack.redraws import Redraws
    from adapters.slack.runtime import InFlight, web_client
    from adapters.slack.turns import SlackTurns
    from dialogs.conversation import ConversationService
    from dialogs.people import Directory

    client = web_client(settings.slack_bot_token, api_url(settings))
    conversation = ConversationService(
        app.engine, app.store, today=lambda: app.clock.now().date(), platform="slack"
    )
    people = SlackPeople(client, Directory(app.store))  # configured ids: seeded at start-up
    copies = SlackCopies(client, app.store, conversation)
    turns = SlackTurns(conversation, people, copies, app.store, after_turn)
    in_flight = InFlight()
    bolt = build_slack_app(
        client, settings.slack_signing_secret, turns, app.store, app.clock.now, in_flight
    )
    notifier = SlackNotifier(client, app.store, people, copies)
    redraws = Redraws(copies, in_flight)
    app.engine.watch(redraws.changed)
    return Slack(bolt, client, notifier, people, in_flight, redraws)
