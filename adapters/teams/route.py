"""POST /api/messages, written around CloudAdapter.process_activity rather than .process: the
latter answers 500 to invokes with a body (Action.Execute). Malformed requests get a 4xx and one
log line (see inbound.py), failed authentication 401, and 503 while no token can be checked
(Microsoft's signing keys unavailable); a fault in our own code is logged and answered with an
apology."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity

from adapters.teams.auth import Unauthorized
from adapters.teams.bot import ReplyFailed, TeamsBot
from adapters.teams.inbound import Refused, RequestChecks, parse_json
from adapters.teams.signing_keys import KeysUnavailable
from dialogs import texts

log = logging.getLogger("escalation_bot.teams")
RETRY_AFTER_SECONDS = 30


class TeamsEndpoint:
    def __init__(self, adapter: CloudAdapter, bot: TeamsBot, local: bool = False) -> None:
        self.adapter = adapter
        self.bot = bot
        self.checks = RequestChecks(local)
        adapter.on_turn_error = self._on_turn_error

    async def _on_turn_error(self, context: TurnContext, error: Exception) -> None:
        """Never raises: a failure here would be answered 500 with a second traceback."""
        if isinstance(error, ReplyFailed):
            # the connector did not take the bot's answer: one line, and no apology to send
            # through the same connector
            log.warning("teams reply not delivered", extra={"error": error.reason})
            return
        log.error("teams turn failed: %s", type(error).__name__, exc_info=error)
        try:
            await context.send_activity(texts.APOLOGY)
        except Exception as exc:  # the connector is unreachable too: nothing more to say
            log.warning("teams apology not delivered", extra={"error": type(exc).__name__})

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            activity = await self._read(request)
        except Refused as refused:
            log.warning(
                "teams request refused", extra={"status": refused.status, "reason": refused.reason}
            )
            return web.json_response({"error": refused.reason}, status=refused.status)

        try:
            response = await self.adapter.process_activity(
                request.headers.get("Authorization", ""), activity, self.bot.on_turn
            )
        except Unauthorized as refusal:
            # raised before the turn starts: the bot never saw this activity
            log.warning("teams request refused: %s", refusal)
            return web.json_response({"error": "unauthorized"}, status=401)
        except KeysUnavailable as failure:
            log.warning("teams request not verified: %s", failure)
            return web.json_response(
                {"error": "cannot verify the token right now"},
                status=503,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        if response is None:
            return web.Response(status=201)
        return web.json_response(_plain(response.body), status=response.status)

    async def _read(self, request: web.Request) -> Activity:
        self.checks.headers(request.headers)
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise Refused(413, "body is too large") from None
        body = parse_json(raw)
        if not isinstance(body, dict):
            raise Refused(400, "body is not an activity")
        self.checks.activity(body)
        try:
            return Activity().deserialize(body)
        except Exception:  # msrest raises several types for a malformed activity
            raise Refused(400, "body is not an activity") from None


def _plain(body: Any) -> Any:
    serialize = getattr(body, "serialize", None)
    return serialize() if callable(serialize) else body
