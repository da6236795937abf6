"""Slack Socket Mode: the bot dials out to Slack over a WebSocket instead of Slack POSTing to a
public URL, for councils and trusts whose networks let nothing in.

slack-bolt's ``AsyncSocketModeHandler`` does the protocol (``apps.connections.open``, ``hello``,
envelopes and their acks, Slack's ``disconnect`` refreshes). What it does not do reliably is
notice that a connection has stopped delivering: bolt-python and python-slack-sdk have open and
recurring reports of a client that reconnected, logs "a new session has been established", and
then never delivers another event, while the process looks healthy. The SDK's own reconnect
runs inside the very client that got stuck, so this module watches from outside and, when the
rule in ``SocketModeLink.check`` says the connection is dead or stuck, replaces the whole
handler (a new client, a new WebSocket) rather than asking the old one to try again.

Time comes from the Clock port, so tests move it instead of waiting; only the watchdog's
check interval is real sleeping, and tests call ``check()`` themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import WSMessage, web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.server import add_readiness_probe
from dialogs.ports import Clock

log = logging.getLogger("escalation_bot.slack.socket")

# Slack's answers to apps.connections.open that no retry will change: the token itself is wrong.
TOKEN_REFUSED = frozenset(
    {"invalid_auth", "not_authed", "not_allowed_token_type", "token_revoked", "account_inactive",
     "missing_scope", "token_expired"}
)

CONNECTED, CONNECTING, RECONNECTING, REFUSED, STOPPED = (
    "connected", "connecting", "reconnecting", "refused", "stopped",
)


@dataclass(frozen=True)
class WatchdogRule:
    """When a Socket Mode connection counts as dead or stuck (docs/decisions.md, "Socket Mode").

    - ``silent_seconds``: nothing came in (no frame and no answer to the client's pings, which
      it sends every ``ping_interval``) for this long. Three missed pongs: shorter than the
      SDK's own four, so ours, which replaces the client, acts first.
    - ``idle_seconds``: no frame from Slack (hello, envelope, disconnect) for this long although
      pings are answered. The reported silent stalls look exactly like this, and a quiet
      workspace looks like it too; a fresh connection costs one ``apps.connections.open`` (Slack
      allows one a minute or more), so the link is refreshed rather than trusted.
    - ``hello_seconds``: a new WebSocket that has not said ``hello`` within this long.
    - ``ready_grace_seconds``: how long /readyz tolerates a link that is not connected (a
      refresh takes well under a second; a longer gap means Slack cannot reach this replica).
    """

    ping_interval: float = 10.0
    silent_seconds: float = 30.0
    idle_seconds: float = 600.0
    hello_seconds: float = 15.0
    check_seconds: float = 5.0
    connect_timeout: float = 15.0
    close_timeout: float = 5.0
    ready_grace_seconds: float = 30.0


class _Attempt:
    """One handler (one SocketModeClient) and what the watchdog has seen on it."""

    def __init__(self, handler: AsyncSocketModeHandler, now: datetime) -> None:
        self.handler = handler
        self.opened_at = now
        self.last_frame = now  # a text frame from Slack
        self.last_life = now  # a text frame or a pong
        self.seen_pong: float | None = None
        self.hello = False

    @property
    def client(self) -> Any:
        return self.handler.client


class SocketModeLink:
    """The bot's Socket Mode connection to Slack, kept alive by a watchdog.

    ``start()`` begins connecting and returns at once (the server must come up, and say in
    /readyz what the link is doing, even while Slack is unreachable); ``close()`` ends it.
    ``web_client`` is the Web API client that calls ``apps.connections.open`` (default: the
    app's own, so it follows ``SLACK_API_URL``).
    """

    def __init__(
        self,
        app: AsyncApp,
        app_token: str,
        clock: Clock,
        *,
        web_client: AsyncWebClient | None = None,
        rule: WatchdogRule | None = None,
        on_frame: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.app = app
        self.app_token = app_token
        self.clock = clock
        self.web_client = web_client or app.client
        self.rule = rule or WatchdogRule()
        self._on_frame = on_frame
        self._attempt: _Attempt | None = None
        self._state = STOPPED
        self._since = clock.now()
        self._reason = ""
        self._cause = ""  # why the current reconnection began
        self.reconnects = 0
        self._watchdog: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    # ---- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._set(CONNECTING, "starting")
        self._watchdog = asyncio.get_running_loop().create_task(self._watch())

    async def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        async with self._lock:
            attempt, self._attempt = self._attempt, None
            if attempt is not None:
                await self._close(attempt)
        self._set(STOPPED, "closed")

    async def _watch(self) -> None:
        try:
            await self.check()
            while True:
                await asyncio.sleep(self.rule.check_seconds)
                await self.check()
        except asyncio.CancelledError:
            raise
        except Exception:  # the watchdog must outlive anything it watches
            log.exception("Slack Socket Mode watchdog failed; restarting it")
            self._watchdog = asyncio.get_running_loop().create_task(self._watch())

    # ---- the rule --------------------------------------------------------------------------

    async def check(self) -> None:
        """Look at the link once and replace it if the rule says it is dead or stuck."""
        async with self._lock:
            if self._state in (REFUSED, STOPPED):
                return
            reason = await self._problem()
            if reason is not None:
                await self._replace(reason)

    async def _problem(self) -> str | None:
        attempt = self._attempt
        if attempt is None:
            return "not connected"
        client = attempt.client
        now = self.clock.now()
        pong = client.last_ping_pong_time
        if pong is not None and pong != attempt.seen_pong:
            attempt.seen_pong = pong
            attempt.last_life = max(attempt.last_life, now)
        if not await client.is_connected():
            return "the WebSocket is closed"
        tasks = (client.message_receiver, client.current_session_monitor, client.message_processor)
        if any(task is None or task.done() for task in tasks):
            return "the Slack client stopped reading its WebSocket"
        if not attempt.hello:
            if (now - attempt.opened_at).total_seconds() > self.rule.hello_seconds:
                return f"no hello within {self.rule.hello_seconds:.0f}s"
            return None
        silent = (now - attempt.last_life).total_seconds()
        if silent > self.rule.silent_seconds:
            return f"nothing received for {silent:.0f}s"
        idle = (now - attempt.last_frame).total_seconds()
        if idle > self.rule.idle_seconds:
            return f"no frame from Slack for {idle:.0f}s"
        return None

    # ---- connecting ------------------------------------------------------------------------

    async def _replace(self, reason: str) -> None:
        """A new handler first, then the old one closed: a refresh of a link that still works
        loses nothing, and a failed attempt leaves the old one as it was for the next check."""
        old = self._attempt
        self._cause = reason
        if self._state == CONNECTED:
            log.warning("Slack Socket Mode: reconnecting (%s)", reason, extra={"reason": reason})
            self._set(RECONNECTING, reason)
        new = await self._open()
        if new is None:
            return
        self._attempt = new
        if old is not None:
            self.reconnects += 1
            await self._close(old)
        if new.hello and self._state != CONNECTED:
            self._connected()

    async def _open(self) -> _Attempt | None:
        """Our own ``apps.connections.open`` first, so a refused token is one line and a stop
        (the SDK would retry it forever, a traceback each time), then the SDK's connect."""
        try:
            url = await asyncio.wait_for(self._ticket(), self.rule.connect_timeout)
        except SlackApiError as exc:
            data = getattr(exc.response, "data", None)
            error = str(data.get("error", "")) if isinstance(data, dict) else ""
            if error in TOKEN_REFUSED:
                log.error(
                    "Slack Socket Mode: Slack refused SLACK_APP_TOKEN (%s); fix: create an"
                    " app-level token with the connections:write scope (your app > Basic"
                    " Information > App-Level Tokens) and set SLACK_APP_TOKEN to it", error,
                )
                self._set(REFUSED, f"Slack refused SLACK_APP_TOKEN ({error})")
                return None
            status = getattr(exc.response, "status_code", "")
            self._failed(f"apps.connections.open answered {error or f'HTTP {status}'}")
            return None
        except Exception as exc:  # unreachable, timed out, aiohttp's client errors
            self._failed(f"apps.connections.open failed: {type(exc).__name__}")
            return None
        handler = AsyncSocketModeHandler(
            self.app, self.app_token, web_client=self.web_client,
            ping_interval=self.rule.ping_interval,
        )
        attempt = _Attempt(handler, self.clock.now())
        handler.client.on_message_listeners.append(self._listener(attempt))
        handler.client.wss_uri = url  # connect() uses it as is; the ticket was ours to check
        try:
            await asyncio.wait_for(handler.connect_async(), self.rule.connect_timeout)  # type: ignore[no-untyped-call]
        except Exception as exc:
            await self._close(attempt)
            self._failed(f"the WebSocket did not open: {type(exc).__name__}")
            return None
        except BaseException:  # shut down while connecting: leave no client behind
            await asyncio.shield(self._close(attempt))
            raise
        return attempt

    async def _ticket(self) -> str:
        response = await self.web_client.apps_connections_open(app_token=self.app_token)
        return str(response["url"])

    def _failed(self, reason: str) -> None:
        log.warning("Slack Socket Mode: cannot connect (%s); trying again", reason,
                    extra={"reason": reason})
        reason = f"{self._cause}; {reason}" if self._cause else reason
        if self._state not in (CONNECTING, RECONNECTING):
            self._set(RECONNECTING, reason)
        else:
            self._reason = reason

    async def _close(self, attempt: _Attempt) -> None:
        """Bounded: a stuck client's close can hang forever, and must not take the link with it."""
        try:
            await asyncio.wait_for(
                attempt.handler.close_async(),  # type: ignore[no-untyped-call]
                self.rule.close_timeout,
            )
        except Exception as exc:
            log.warning("Slack Socket Mode: the old connection did not close cleanly (%s)",
                        type(exc).__name__)

    def _listener(self, attempt: _Attempt) -> Callable[[WSMessage], Any]:
        async def heard(message: WSMessage) -> None:
            now = self.clock.now()
            attempt.last_frame = attempt.last_life = now
            frame = _frame(message)
            if frame.get("type") == "hello":
                attempt.hello = True
                if self._attempt is attempt and self._state != CONNECTED:
                    self._connected()
            if self._on_frame is not None:
                self._on_frame(frame)

        return heard

    def _connected(self) -> None:
        log.info("Slack Socket Mode: connected", extra={"reconnects": self.reconnects})
        self._set(CONNECTED, "hello")

    # ---- what /readyz says -----------------------------------------------------------------

    def _set(self, state: str, reason: str) -> None:
        if state != self._state:
            self._since = self.clock.now()
        self._state, self._reason = state, reason

    @property
    def state(self) -> str:
        return self._state

    name = "slack_socket_mode"

    def status(self) -> dict[str, Any]:
        """What /readyz shows under ``slack_socket_mode``: the state, since when, and why."""
        seconds = (self.clock.now() - self._since).total_seconds()
        body: dict[str, Any] = {
            "state": self._state,
            "since": self._since.isoformat(),
            "for_seconds": round(seconds, 1),
            "reconnects": self.reconnects,
        }
        if self._state != CONNECTED:
            body["reason"] = self._reason
        return body

    def problem(self) -> str | None:
        """A reason for /readyz to answer 503: refused, or not connected beyond the grace."""
        if self._state == REFUSED:
            return f"Slack Socket Mode: {self._reason}"
        if self._state in (CONNECTING, RECONNECTING):
            seconds = (self.clock.now() - self._since).total_seconds()
            if seconds > self.rule.ready_grace_seconds:
                return f"Slack Socket Mode {self._state} for {seconds:.0f}s ({self._reason})"
        return None


def _frame(message: WSMessage) -> dict[str, Any]:
    import json

    try:
        data = json.loads(message.data)
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


SOCKET_MODE_KEY = web.AppKey("slack_socket_mode", SocketModeLink)


def attach_socket_mode(web_app: web.Application, link: SocketModeLink) -> None:
    """Open the link when the server starts, close it when it stops, and let /readyz see it."""
    web_app[SOCKET_MODE_KEY] = link
    add_readiness_probe(web_app, link)

    async def start(_: web.Application) -> None:
        await link.start()

    async def stop(_: web.Application) -> None:
        await link.close()

    web_app.on_startup.append(start)
    web_app.on_cleanup.insert(0, stop)
