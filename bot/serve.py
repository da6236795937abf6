"""`escalation-bot serve`: settings, logging, the listening socket, bootstrap and the aiohttp
server, in that order. What a person can get wrong at start-up (a bad setting, a taken port, a
missing configuration file, a database the bot cannot use) ends in one line naming the thing and
the fix, and exit 1, never a traceback."""

from __future__ import annotations

import contextlib
import errno
import gc
import logging
import os
import socket
import sqlite3
import sys
from dataclasses import replace
from pathlib import Path

from aiohttp import web

from bot import logs
from bot.bootstrap import bootstrap_from_settings
from bot.server import build_web_app
from bot.serving_mark import serving
from bot.settings import Settings, SettingsError, shown_url
from bot.slack import check_slack
from dialogs.clock import ShiftedClock, SystemClock
from dialogs.ports import Clock

log = logging.getLogger("escalation_bot.server")

PORT_IN_USE = (
    "serve: {address} is already in use (another `escalation-bot serve` or `make run`?);"
    " fix: stop it, or choose another port with --port or ESCALATION_BOT_PORT"
)
CANNOT_LISTEN = (
    "serve: cannot listen on {address}: {error}; fix: choose another address or port with"
    " --host/--port or ESCALATION_BOT_HOST/ESCALATION_BOT_PORT"
)
NOT_A_PORT = (
    "serve: {port} is not a port number; fix: choose one from 1 to 65535 with --port or"
    " ESCALATION_BOT_PORT"
)
CONFIG_MISSING = (
    "config: {path} does not exist; fix: set ESCALATION_BOT_CONFIG to your configuration file,"
    " or unset it to run the fictional example"
)
DATABASE_CORRUPT = (
    "store: {path} is not a SQLite database the bot can use ({error}); fix: set"
    " ESCALATION_BOT_DATABASE to the bot's database file, or move this one aside to start empty"
)
DATABASE_UNREADABLE = (
    "store: cannot open the database {path} ({error}); fix: set ESCALATION_BOT_DATABASE to a"
    " file the bot may read and write"
)


def _display(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything else is opened, so a taken port stops
    start-up before the store or the scheduler has done anything. OSError: cannot bind."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    infos = socket.getaddrinfo(
        host or None, port, family if host else socket.AF_UNSPEC, socket.SOCK_STREAM,
        flags=socket.AI_PASSIVE,
    )
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        if os.name == "posix":  # as aiohttp does: a restart may rebind while old sockets linger
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _database_problem(path: Path, error: Exception) -> str:
    reason = str(error) or type(error).__name__
    if isinstance(error, sqlite3.DatabaseError) and not isinstance(error, sqlite3.OperationalError):
        return DATABASE_CORRUPT.format(path=path, error=reason)
    if isinstance(error, OSError):
        reason = error.strerror or reason
    return DATABASE_UNREADABLE.format(path=path, error=reason)


def run_server(host: str | None, port: int | None) -> int:
    """Collection is back on when this returns, whether or not the server started (the CLI
    turns it off for start-up; bot.server's start() turns it on once serving)."""
    try:
        return _run_server(host, port)
    finally:
        gc.enable()


def _run_server(host: str | None, port: int | None) -> int:
    try:
        settings = Settings.from_env()
        # before the port or the store: nothing is opened to refuse
        check_slack(settings, socket_mode=bool(settings.slack_app_token))
    except SettingsError as exc:
        print(f"settings: {exc}", file=sys.stderr)
        return 1
    settings = replace(settings, host=host or settings.host, port=port or settings.port)
    if not 0 < settings.port < 65536:
        # the socket layer would wrap it (70000 listens on 4464) and the log would name 70000
        print(NOT_A_PORT.format(port=settings.port), file=sys.stderr)
        return 1
    if not settings.config_path.exists():
        print(CONFIG_MISSING.format(path=settings.config_path), file=sys.stderr)
        return 1
    address = _display(settings.host, settings.port)
    try:
        sock = listen(settings.host, settings.port)
    except OSError as exc:
        if getattr(exc, "errno", None) == errno.EADDRINUSE:
            print(PORT_IN_USE.format(address=address), file=sys.stderr)
        else:
            error = exc.strerror or str(exc)
            print(CANNOT_LISTEN.format(address=address, error=error), file=sys.stderr)
        return 1
    try:
        return _serve(settings, sock)
    finally:
        sock.close()


def _serve(settings: Settings, sock: socket.socket) -> int:
    logs.configure(settings.log_level)
    clock: Clock = ShiftedClock(settings.clock_start) if settings.clock_start else SystemClock()
    redis_errors: tuple[type[Exception], ...] = ()
    if settings.redis_url:  # the client library only when it is used (bot.bootstrap.open_store)
        from redis.exceptions import RedisError

        redis_errors = (RedisError,)
    try:
        app = bootstrap_from_settings(settings, clock, os.environ)
    except redis_errors as exc:
        shown = shown_url(settings.redis_url)
        print(f"store: cannot use Redis at {shown}: {exc}", file=sys.stderr)
        return 1
    except (sqlite3.Error, OSError) as exc:
        if settings.redis_url:
            raise
        print(_database_problem(settings.database_path, exc), file=sys.stderr)
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
    marked = contextlib.nullcontext() if settings.redis_url else serving(settings.database_path)
    with marked:  # the terminal chat warns before playing its clock through a live server
        web.run_app(web_app, sock=sock, print=None, access_log=None)
    return 0
