"""POST /api/messages, written around CloudAdapter.process_activity rather than .process: the
latter answers 500 to invokes with a body (Action.Execute). Malformed requests get 400 or 415,
failed authentication 401; a fault in our own code is logged and answered with an apology."""

from __future__ import annotations

import logging
from typing import Any

import jwt
from aiohttp import web
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity

from adapters.teams.bot import TeamsBot

log = logging.getLogger("escalation_bot.teams")
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
        except (PermissionError, jwt.PyJWTError):
            # a missing, malformed or unverifiable token: refuse, never a 500
            return web.json_response({"error": "unauthorized"}, status=401)
        if response is None:
            return web.Response(status=201)
        return web.json_response(_plain(response.body), status=response.status)


def _plain(body: Any) -> Any:
    serialize = getattr(body, "serialize", None)
    return serialize() if callable(serialize) else body
