"""The apps the Slack ack benchmark serves, each as an aiohttp application with ``POST
/slack/events`` and ``GET /healthz``, built by a factory named ``module:function``.

``bare_app`` is the baseline: a Bolt ``AsyncApp`` that acks the slash command and any button and
does nothing else, on the same aiohttp adapter functions our route uses. Until the Slack adapter
is merged it stands in for "ours" too; after, ``--slack-ours bench.slack_apps:our_app`` (the
bot's own web app, as `serve` builds it) measures ours.

Both read the same environment the bot does: ``SLACK_SIGNING_SECRET``, ``SLACK_BOT_TOKEN`` and
``SLACK_API_URL`` (the benchmark's fake Web API on loopback).

Usage: python -m bench.slack_apps MODULE:FUNCTION PORT
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


def bare_app() -> web.Application:
    bolt = AsyncApp(
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        client=AsyncWebClient(
            token=os.environ["SLACK_BOT_TOKEN"],
            base_url=os.environ.get("SLACK_API_URL", "https://slack.com/api/"),
        ),
    )

    @bolt.command(re.compile(r".*"))
    async def command(ack: Any) -> None:
        await ack()

    @bolt.action(re.compile(r".*"))
    async def click(ack: Any) -> None:
        await ack()

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    app = web.Application()
    app.router.add_post("/slack/events", events)
    app.router.add_get("/healthz", healthz)
    return app


def our_app() -> web.Application:
    """The bot's own web app, built from the environment as `serve` builds it, for
    ``--slack-ours bench.slack_apps:our_app`` once the Slack adapter serves ``/slack/events``
    (until then, and without ``SLACK_BOT_TOKEN``, it says so instead of timing 404s)."""
    from bot.bootstrap import bootstrap_from_settings
    from bot.server import build_web_app
    from bot.settings import Settings
    from dialogs.clock import SystemClock

    settings = Settings.from_env()
    app = bootstrap_from_settings(settings, SystemClock(), os.environ)
    web_app = build_web_app(app, settings)
    routes = {(r.method, r.resource.canonical) for r in web_app.router.routes() if r.resource}
    if ("POST", "/slack/events") not in routes:
        app.close()
        raise ValueError(
            "the bot serves no POST /slack/events: the Slack adapter is not merged, or"
            " SLACK_BOT_TOKEN is unset"
        )
    return web_app


def load_factory(path: str) -> Any:
    """``module:function``; ValueError with the reason if it cannot be found."""
    module_name, _, name = path.partition(":")
    if not module_name or not name:
        raise ValueError(f"{path!r}: give MODULE:FUNCTION, e.g. bench.slack_apps:bare_app")
    try:
        factory = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"{path!r}: {exc}") from None
    if not callable(factory):
        raise ValueError(f"{path!r} is not a function")
    return factory


async def build(path: str) -> web.Application:
    made = load_factory(path)()
    if inspect.isawaitable(made):
        made = await made
    if not isinstance(made, web.Application):
        raise ValueError(f"{path!r} returned {type(made).__name__}, not an aiohttp Application")
    return made


def main() -> None:
    path, port = sys.argv[1], int(sys.argv[2])
    web.run_app(build(path), host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
