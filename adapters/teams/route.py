"""POST /api/messages, written around CloudAdapter.process_activity rather than .process: the
latter answers 500 to invokes with a body (Action.Execute). Malformed requests get 400 or 415,
failed authentication 401, and 503 while no token can be checked (Microsoft's signing keys
unavailable); a fault in our own code is logged and answered with an apology."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity

from adapters.teams.auth import Unauthorized
from adapters.teams.bot import TeamsBot
from adapters.teams.signing_keys import KeysUnavailable

log = logging.getLogger("escalation_bot.teams")
RETRY_AFTER_SECONDS = 30
APOLOGY = "Sorry, something went wrong on my side and nothing was changed. Please try again."


class TeamsEndpoint:
    def __init__(self, adapter: CloudAdapter, bot: TeamsBot) -> None:
        self.adapter = adapter
        self.bot = bot
        adapter.on_turn_error = self._on_turn_error

    async def _on_turn_error(self, context: TurnContext, error: Exception) -> None:
        log.error("teams turn failed: %s", type(error).__name__, exc_info=error)
        await context.send_activity(APOLOGY)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if "application/json" not in request.headers.get("Content-Type", ""):
            return web.json_response({"error": "expected application/json"}, status=415)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "body is not an activity"}, status=400)
        try:
            activity = Activity().deserialize(body)
        except Exception:  # msrest raises several types for a malformed activity
            return web.json_response({"error": "body is not an activity"}, status=400)
        if not activity.type:
            return web.json_response({"error": "activity has no type"}, status=400)
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


def _plain(body: Any) -> Any:
    serialize = getattr(body, "serialize", None)
    return serialize() if callable(serialize) else body
