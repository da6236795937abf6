"""`escalation-bot serve`: settings, logging, bootstrap and the aiohttp server, in that order."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import replace

from aiohttp import web
from redis.exceptions import RedisError

from bot import logs
from bot.bootstrap import bootstrap_from_settings
from bot.server import build_web_app
from bot.settings import Settings, SettingsError
from dialogs.clock import ShiftedClock, SystemClock
from dialogs.ports import Clock

log = logging.getLogger("escalation_bot.server")


def run_server(host: str | None, port: int | None) -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"settings: {exc}", file=sys.stderr)
        return 1
    settings = replace(settings, host=host or settings.host, port=port or settings.port)
    logs.configure(settings.log_level)
    clock: Clock = ShiftedClock(settings.clock_start) if settings.clock_start else SystemClock()
    try:
        app = bootstrap_from_settings(settings, clock, os.environ)
    except RedisError as exc:
        print(f"store: cannot use Redis at {settings.redis_url}: {exc}", file=sys.stderr)
        return 1
    for problems in app.policies.broken.values():  # the configuration does not use them
        log.warning(
            "pack not loaded: no partnership uses it",
            extra={"file": problems.path, "problems": len(problems.problems)},
        )
    try:
        web_app = build_web_app(app, settings)
    except SettingsError as exc:
        app.close()
        print(f"settings: {exc}", file=sys.stderr)
        return 1
    store_kind = "redis" if settings.redis_url else "sqlite"
    log.info("starting", extra={"host": settings.host, "port": settings.port, "store": store_kind})
    web.run_app(
        web_app,
        host=settings.host,
        port=settings.port,
        print=None,
        access_log=None,
    )
    return 0
