"""The long-running process: an aiohttp application that runs the scheduler ticker and answers
health, readiness and metrics. The chat platforms' routes are added by their own modules."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from adapters.teams.files import DocumentRenderer
from bot.bootstrap import App, restore_directory
from bot.delivery import build_notifier, email_notifier, render_form
from bot.heap import settle_heap
from bot.metrics import Metrics
from bot.settings import Settings
from bot.slack import ROUTE as SLACK_ROUTE
from bot.slack import Slack, build_slack
from bot.teams import build_teams
from dialogs.directory import people_from_config
from dialogs.people import Directory
from dialogs.reach import TEAMS
from scheduler.reports import queue_due_reports
from scheduler.ticker import Ticker

log = logging.getLogger("escalation_bot.server")

APP_KEY = web.AppKey("escalation_app", App)
TICKER_KEY = web.AppKey("ticker", Ticker)
METRICS_KEY = web.AppKey("metrics", Metrics)
SLACK_KEY = web.AppKey("slack", Slack)  # only when Slack is on

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ReadinessProbe(Protocol):
    """Something else /readyz reports on (a Slack Socket Mode link): shown under ``name``, and
    a reason to answer 503 while ``problem()`` gives one."""

    name: str

    def status(self) -> dict[str, Any]: ...

    def problem(self) -> str | None: ...


PROBES_KEY: web.AppKey[list[ReadinessProbe]] = web.AppKey("readiness_probes")


def add_readiness_probe(web_app: web.Application, probe: ReadinessProbe) -> None:
    if PROBES_KEY not in web_app:
        web_app[PROBES_KEY] = []
    web_app[PROBES_KEY].append(probe)


def _route_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[METRICS_KEY]
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        metrics.requests.labels(route=_route_name(request), status=str(status)).inc()


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    """Ready when the store answers and the scheduler is moving: ticking, or working through a
    backlog batch by batch (which /metrics reports). Catching up is not a reason to refuse
    turns, which do not wait for the scheduler. Probes (Slack Socket Mode) add their state and
    any problem."""
    app = request.app[APP_KEY]
    ticker = request.app[TICKER_KEY]
    problems = []
    try:
        await asyncio.get_running_loop().run_in_executor(None, app.store.next_due)
    except Exception as exc:  # any store failure means not ready; the type is enough to say why
        problems.append(f"store unreachable: {type(exc).__name__}")
    since = ticker.seconds_since_progress()
    allowed = max(3 * ticker.interval_seconds, 5.0)
    if since is None:
        problems.append("scheduler has not started")
    elif since > allowed:
        problems.append(f"scheduler has not moved for {since:.1f}s")
    shown: dict[str, Any] = {}
    for probe in request.app.get(PROBES_KEY, []):
        shown[probe.name] = probe.status()
        problem = probe.problem()
        if problem:
            problems.append(problem)
    body = {"status": "ready" if not problems else "not ready", "problems": problems, **shown}
    return web.json_response(body, status=200 if not problems else 503)


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[METRICS_KEY].registry
    body = await asyncio.get_running_loop().run_in_executor(None, generate_latest, registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


class Housekeeping:
    """Run by the ticker before each tick, off the event loop: the directory is put back if the
    store lost it (every tick: one lookup), and expired conversations are removed (each minute:
    they may hold a child's details, and nobody will come back for them). Each minute too, the
    scheduled reports owed that day are queued (scheduler.reports)."""

    PURGE_EVERY = timedelta(minutes=1)

    def __init__(self, app: App) -> None:
        self.app = app
        self._people = people_from_config(app.config)  # the config does not change while serving
        self._next_purge: datetime | None = None

    def __call__(self) -> None:
        restored = restore_directory(self.app, self._people)
        if restored:
            log.warning("the directory was missing from the store; wrote %d people back", restored)
        now = self.app.clock.now()
        if self._next_purge is None or now >= self._next_purge:
            self._next_purge = now + self.PURGE_EVERY
            purged = self.app.store.purge_sessions(now)
            if purged:
                log.info("removed %d expired conversations", purged)
            # on a report date: the summary and the report, queued once across replicas
            queue_due_reports(self.app.store, self.app.config, self.app.policies, self.app.clock)


def build_web_app(
    app: App, settings: Settings, render: DocumentRenderer = render_form
) -> web.Application:
    """Raises SettingsError (bad credentials mode, missing webhook secret) before anything runs.
    ``render`` draws forms for Teams files (tests pass one that fails as a missing font does)."""
    metrics_ = Metrics(app.store, app.clock)
    ticker_ref: list[Ticker] = []
    seen = [app.engine.queued]

    def deliver_soon() -> None:
        # after a person's turn, send what it queued now rather than on the next tick; a turn
        # that queued nothing (status, help, a question answered) starts no tick
        if ticker_ref and app.engine.queued != seen[0]:
            seen[0] = app.engine.queued
            asyncio.get_running_loop().create_task(ticker_ref[0].tick())

    teams = build_teams(app, settings, deliver_soon, render)
    socket_mode = bool(settings.slack_app_token)
    slack = build_slack(app, settings, deliver_soon, socket_mode=socket_mode)
    directory = Directory(app.store)
    notifier = build_notifier(
        app.config,
        teams=teams.notifier,
        has_teams=lambda email: bool(teams.aad_for_email(email)),
        email=email_notifier(settings.smtp, app.clock),
        slack=slack.notifier if slack else None,
        has_slack=slack.people.known if slack else None,
        choose=directory.platform_for,
    )

    def ticked(lag: float) -> None:
        metrics_.tick_lag.observe(lag)
        metrics_.ticked(datetime.now(UTC))

    ticker = Ticker(
        app.store,
        app.engine,
        app.clock,
        notifier,
        worker=settings.worker_id,
        interval_seconds=settings.tick_seconds,
        lease_seconds=settings.lease_seconds,
        observer=metrics_,
        on_tick=ticked,
        housekeeping=Housekeeping(app),
    )
    ticker_ref.append(ticker)
    web_app = web.Application(middlewares=[count_requests])
    web_app[APP_KEY] = app
    web_app[TICKER_KEY] = ticker
    web_app[METRICS_KEY] = metrics_
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/readyz", readyz)
    web_app.router.add_get("/metrics", metrics)
    web_app.router.add_post("/api/messages", teams.endpoint.handle)
    if slack is not None:
        web_app[SLACK_KEY] = slack
        if settings.slack_signing_secret:  # without one nothing POSTed could be verified
            web_app.router.add_post(SLACK_ROUTE, slack.route())
        if socket_mode:
            from bot.slack_socket import SocketModeLink, attach_socket_mode  # it imports us

            attach_socket_mode(
                web_app, SocketModeLink(slack.bolt, settings.slack_app_token, app.clock)
            )

    async def start(_: web.Application) -> None:
        if slack is not None:
            slack.start()
            # the directory's people not on Teams: found on Slack by their email, once
            slack.warm(lambda: [
                p.email for partnership in app.config.partnerships
                for p in app.store.people(partnership.id) if not directory.account(TEAMS, p.email)
            ])
        ticker.start()
        # everything loaded so far (packs, SDKs, the directory) lives as long as the process:
        # out of the collector's way, with young collections far rarer than Python's default;
        # then collection on again (`serve` starts with it off: bot.cli)
        settle_heap()
        log.info("scheduler started", extra={"worker": settings.worker_id})

    async def stop(_: web.Application) -> None:
        ticker.stop()
        if slack is not None:
            await slack.close()
        await notifier.close()
        await teams.close()
        app.close()

    web_app.on_startup.append(start)
    web_app.on_cleanup.append(stop)
    return web_app
