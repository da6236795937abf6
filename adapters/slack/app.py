"""The Bolt app: one AsyncApp for slash commands, buttons, modals and events, whichever way
they arrive (``POST /slack/events`` here, or Socket Mode wrapping the same app).

Bolt verifies every HTTP request (HMAC v0 over the body, timestamps within five minutes) before
any listener runs. Every listener acks first and then works inside ``guarded``: an exception
after the ack is one log line, never Bolt's "unhandled request" 404 three seconds later. An
event Slack sends again (``X-Slack-Retry-Num``, or the same ``event_id`` at another replica) is
acked and dropped by a marker in the shared store.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.blocks import ACTION_PREFIX
from adapters.slack.home import publish_home
from adapters.slack.modals import CALLBACK_ID
from adapters.slack.runtime import BOLT_LOG, InFlight, guarded
from adapters.slack.submissions import after_submission, submission
from adapters.slack.turns import SlackTurns
from dialogs.ports import Store

EVENT_MARK_SECONDS = 24 * 3600  # Slack retries an event for at most about an hour
log = logging.getLogger("escalation_bot.slack")


def build_slack_app(
    client: AsyncWebClient,
    signing_secret: str,
    turns: SlackTurns,
    store: Store,
    now: Callable[[], datetime],
    in_flight: InFlight | None = None,
) -> AsyncApp:
    """The whole Slack side of the bot. Socket Mode passes this same app to its handler; over
    HTTP, ``slack_route`` serves it."""
    app = AsyncApp(client=client, signing_secret=signing_secret, logger=BOLT_LOG,
                   process_before_response=False)
    track = (in_flight or InFlight()).track

    @app.middleware
    async def once(req: AsyncBoltRequest, next: Callable[[], Awaitable[None]]) -> Any:
        event_id = req.body.get("event_id") if isinstance(req.body, dict) else None
        if isinstance(event_id, str) and event_id:
            first = await asyncio.to_thread(
                store.mark_once, f"slack:event:{event_id}", now(), EVENT_MARK_SECONDS
            )
            if not first:
                return BoltResponse(status=200, body="")  # acked again, done once already
        return await next()

    @app.command("/escalate")
    async def command(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        track()
        await ack()
        await guarded("command", turns.command(client, body))

    @app.action(re.compile("^" + re.escape(ACTION_PREFIX)))
    async def button(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        track()
        await ack()
        await guarded("button", turns.button(client, body))

    @app.view(CALLBACK_ID)
    async def form(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        track()
        try:  # the answer (errors, or the form again) must be in the ack itself
            answer, replies, user, actor = await submission(turns, body)
        except Exception as exc:
            await ack()
            log.warning("slack form failed before the ack: %s", type(exc).__name__)
            return
        await ack(**answer)
        await guarded("form", after_submission(turns, client, replies, user, actor))

    @app.event("message")
    async def message(ack: Any, event: dict[str, Any], client: AsyncWebClient) -> None:
        track()
        await ack()
        await guarded("message", turns.message(client, event))

    @app.event("app_home_opened")
    async def home(ack: Any, event: dict[str, Any], client: AsyncWebClient) -> None:
        track()
        await ack()
        await guarded("home", publish_home(turns, client, event))

    return app


def slack_route(app: AsyncApp) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``POST /slack/events``: slack-bolt's aiohttp adapter only converts requests and
    responses, so the route is ours. A body too large to be Slack's is refused unread."""

    async def handle(request: web.Request) -> web.Response:
        if (request.content_length or 0) > 1_000_000:
            log.warning("slack request refused: body too large")
            return web.Response(status=413)
        try:  # Bolt parses the body as it builds its request: a broken one raises there
            bolt_request = await to_bolt_request(request)
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            log.warning("slack request refused: body not readable (%s)", type(exc).__name__)
            return web.Response(status=400)
        response = await app.async_dispatch(bolt_request)
        if response.status == 401:
            log.warning("slack request refused: signature or timestamp not valid")
        return await to_aiohttp_response(response)

    return handle
