"""Replicas of `escalation-bot serve` sharing one Redis: a lapsed deadline escalates each case
exactly once and its business-team alert reaches the webhook, even when a replica is SIGKILLed.

Only real parts: `python -m bot.cli serve` processes, the Redis on 127.0.0.1:6379 (each test has
its own key prefix and deletes only ``{prefix}:*`` afterwards, never FLUSHDB), and a local aiohttp
webhook receiver that checks every signature and records every POST.

The cases are raised in this process on a SimulatedClock at R = Mon 1 Feb 2027 10:00 (London is
on GMT): NSSCP stage 1 is due D1 = Tue 2 Feb 17:00, stage 2 (which starts at D1) Thu 4 Feb 17:00.
The servers' clocks start at D1 + 1 minute and run in real time, so every stage-1 deadline is
due and no stage-2 one is: each case must escalate exactly once. Person and channel messages of
the escalation wait for 09:00 the next working day; its webhook copies go at once. The copy of
the business team's channel alert ("Case NB-0001: stage 1 deadline lapsed; now stage 2, Line
managers") is the per-case escalation alert counted here. The raise's own webhook copies (10:00
Monday) are delivered too, and are not counted as alerts.

Outbox delivery is at least once by design: a process killed after a POST and before it marks the
row sent re-sends that row after the lease. Delivery is one POST at a time, so each kill can
cause at most one duplicate POST; the tests report the duplicates they see and hold the system to
that bound, to no duplicate escalation and to no missing alert.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from redis_support import fresh_prefix
from support import EXAMPLE_CONFIG, LONDON, raise_command, someone

from adapters.storage.redis import RedisStore
from adapters.webhook.signing import KEY_HEADER, SIGNATURE_HEADER, verify
from bot.bootstrap import bootstrap, load_policies
from dialogs.case import Case
from dialogs.clock import SimulatedClock
from dialogs.events import EventType
from dialogs.notifications import RecipientKind

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
URL = "redis://127.0.0.1:6379/0"
SECRET_ENV = "ESCALATION_TEST_WEBHOOK_SECRET"
SECRET = "replica-test-secret"
NORTHBAY = "northbay"
BUSINESS_TEAM = "console:northbay-business-team"
DANA = "dana.marsh@council.northbay.example"  # practitioner, Northbay Council
HANA = "hana.moss@health.northbay.example"  # practitioner, Northbay Community Health

R = datetime(2027, 2, 1, 10, 0, tzinfo=LONDON)  # raised: Monday 10:00
D1 = datetime(2027, 2, 2, 17, 0, tzinfo=LONDON)  # stage 1 due: Tuesday 17:00
D2 = datetime(2027, 2, 4, 17, 0, tzinfo=LONDON)  # stage 2 due: Thursday 17:00
SERVE_FROM = D1 + timedelta(minutes=1)
# Nothing of the escalation but its webhook copies falls due before Wednesday 09:00.
WEBHOOKS_DUE_BY = D1 + timedelta(hours=1)

TICK_SECONDS = 0.2
LEASE_SECONDS = 4.0
READY_WITHIN = 30.0
DONE_WITHIN = 90.0
POLL = 0.02


# ---- Redis -------------------------------------------------------------------------------------


@pytest.fixture
def prefix() -> Iterator[str]:
    """A fresh key prefix; afterwards only its own keys are deleted (SCAN + DEL)."""
    with fresh_prefix("test-replicas") as name:
        yield name


# ---- the webhook receiver ----------------------------------------------------------------------


def is_escalation_alert(payload: dict[str, Any]) -> bool:
    recipient = payload.get("recipient") or {}
    return (
        payload.get("kind") == "business-alert"
        and recipient.get("kind") == "channel"
        and recipient.get("address") == BUSINESS_TEAM
        and "deadline lapsed" in str(payload.get("title"))
    )


class Receiver:
    """An aiohttp server on 127.0.0.1 in its own thread and event loop. Every POST's signature
    is verified (a bad one is answered 401 and recorded); every good one answered 200 and
    recorded as (X-Escalation-Key, payload)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.refused: list[str] = []
        self.alert_cases: set[str] = set()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        signature = request.headers.get(SIGNATURE_HEADER, "")
        key = request.headers.get(KEY_HEADER, "")
        if not verify(SECRET, body, signature, int(time.time())):
            with self._lock:
                self.refused.append(f"bad signature for {key!r}")
            return web.Response(status=401)
        payload = json.loads(body)
        with self._lock:
            if payload.get("key") != key:
                self.refused.append(f"header key {key!r} != payload key {payload.get('key')!r}")
            self.posts.append((key, payload))
            if is_escalation_alert(payload):
                self.alert_cases.add(str(payload["case_id"]))
        return web.Response(status=200)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def alerts_seen(self) -> int:
        with self._lock:
            return len(self.alert_cases)

    def snapshot(self) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
        with self._lock:
            return list(self.posts), list(self.refused)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    hook.start()
    yield hook
    hook.stop()


# ---- the serve processes -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@dataclass
class Replica:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    started: float  # time.monotonic() at Popen
    clock_start: datetime

    def clock_now_at_most(self) -> datetime:
        """An upper bound on the process's clock: it was set after Popen, so reads no later."""
        return self.clock_start + timedelta(seconds=time.monotonic() - self.started)


@dataclass
class Fleet:
    config: Path
    prefix: str
    workdir: Path
    replicas: list[Replica] = field(default_factory=list)

    def start(self, name: str, clock_start: datetime, worker: str | None = None) -> Replica:
        port = free_port()
        env = {
            **os.environ,
            "ESCALATION_BOT_CONFIG": str(self.config),
            "ESCALATION_BOT_DATABASE": str(self.workdir / f"{name}-unused.sqlite3"),
            "ESCALATION_BOT_REDIS_URL": URL,
            "ESCALATION_BOT_REDIS_PREFIX": self.prefix,
            "ESCALATION_BOT_HOST": "127.0.0.1",
            "ESCALATION_BOT_PORT": str(port),
            "ESCALATION_BOT_WORKER_ID": worker or name,
            "ESCALATION_BOT_TICK_SECONDS": str(TICK_SECONDS),
            "ESCALATION_BOT_LEASE_SECONDS": str(LEASE_SECONDS),
            "ESCALATION_BOT_CLOCK_START": clock_start.isoformat(),
            "ESCALATION_BOT_LOG_LEVEL": "INFO",
            SECRET_ENV: SECRET,
        }
        log = self.workdir / f"{name}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve"],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        replica = Replica(name, port, process, log, time.monotonic(), clock_start)
        self.replicas.append(replica)
        return replica

    def wait_ready(self, replicas: list[Replica], within: float = READY_WITHIN) -> None:
        deadline = time.monotonic() + within
        waiting = list(replicas)
        while waiting:
            for replica in list(waiting):
                code = replica.process.poll()
                assert code is None, f"{replica.name} exited with {code} before it was ready"
                try:
                    status, _ = http_get(replica.port, "/readyz")
                except OSError:
                    status = 0
                if status == 200:
                    waiting.remove(replica)
            assert time.monotonic() < deadline, (
                f"not ready within {within:.0f}s: {[r.name for r in waiting]}"
            )
            time.sleep(0.1)

    def kill(self, replica: Replica) -> None:
        os.kill(replica.process.pid, signal.SIGKILL)
        replica.process.wait(timeout=10)

    def stop_all(self) -> None:
        for replica in self.replicas:
            if replica.process.poll() is None:
                os.kill(replica.process.pid, signal.SIGKILL)
        for replica in self.replicas:
            replica.process.wait(timeout=10)

    def dump_logs(self, lines: int = 80) -> None:
        """Each process's stderr (stdout too) without the routine lines: one per notification
        recorded by the log notifier, and APScheduler skipping ticks while a long one runs."""
        routine = (
            "no platform adapter delivers it",
            "alert to console:",
            "maximum number of running instances",
        )
        for replica in self.replicas:
            text = replica.log.read_text(encoding="utf-8", errors="replace").splitlines()
            kept = [line for line in text if not any(r in line for r in routine)]
            print(
                f"\n---- {replica.name} (exit {replica.process.poll()}): {len(text)} lines,"
                f" {len(text) - len(kept)} routine; the rest, at most {lines} ----"
            )
            print("\n".join(kept[-lines:]))


@pytest.fixture
def fleet(tmp_path: Path, prefix: str, receiver: Receiver) -> Iterator[Fleet]:
    """Children are SIGKILLed at teardown whatever happened (the tests print their logs when
    they fail)."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    data["webhooks"] = [{"id": "receiver", "url": receiver.url, "secret_env": SECRET_ENV}]
    config = tmp_path / "partnerships.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    group = Fleet(config, prefix, tmp_path)
    try:
        yield group
    finally:
        group.stop_all()


def metric(text: str, sample_name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == sample_name and all(
                sample.labels.get(k) == v for k, v in labels.items()
            ):
                return float(sample.value)
    return None


# ---- cases -------------------------------------------------------------------------------------


def raise_cases(config: Path, prefix: str, workdir: Path, count: int) -> list[Case]:
    """NSSCP cases at R, raised through the real engine on the shared store; the practitioners of
    the two agencies take turns to raise, each about the other."""
    store = RedisStore(URL, prefix)
    app = bootstrap(config, workdir / "raiser-unused.sqlite3", SimulatedClock(R), store=store)
    try:
        dana, hana = someone(app, NORTHBAY, DANA), someone(app, NORTHBAY, HANA)
        cases = []
        for i in range(count):
            raiser, counterpart = (dana, hana) if i % 2 == 0 else (hana, dana)
            outcome = app.engine.handle(
                raise_command(app, NORTHBAY, raiser=raiser, counterpart=counterpart)
            )
            assert outcome.case is not None
            cases.append(outcome.case)
        assert all(c.stage == 1 and c.stage_due_at == D1 for c in cases)
        return cases
    finally:
        app.close()


def wait_until(what: str, done: Callable[[], bool], within: float = DONE_WITHIN) -> float:
    started = time.monotonic()
    while not done():
        assert time.monotonic() - started < within, f"timed out after {within:.0f}s: {what}"
        time.sleep(0.1)
    return time.monotonic() - started


def all_at_stage_two(store: RedisStore, count: int) -> bool:
    return store.open_case_counts() == {(NORTHBAY, 2): count}


def pending_webhook_copies(store: RedisStore) -> int:
    """Webhook copies still to send. (Messages to people stay pending here too, retried, since no
    Teams conversation exists in this test: never dropped, but not what these tests count.)"""
    items = store.due_notifications(WEBHOOKS_DUE_BY, 100_000)
    return sum(1 for i in items if i.notification.recipient.kind is RecipientKind.WEBHOOK)


def webhooks_drained(store: RedisStore) -> bool:
    return pending_webhook_copies(store) == 0


@dataclass
class Deliveries:
    posts: int
    duplicates: int  # POSTs beyond the first for their key
    duplicated_keys: list[str]
    first_posted: list[int]  # where each duplicated key was first POSTed (0 = the first POST)


def check_escalated_once(
    store: RedisStore, receiver: Receiver, cases: list[Case], stage_name: str
) -> Deliveries:
    """Exactly one deadline_lapsed per case, stage 2 from D1, one escalation alert each; the
    duplicate POSTs are returned for the caller to judge and report."""
    for case in cases:
        stored = store.get_case(case.id)
        assert stored is not None
        assert (stored.stage, stored.stage_started_at, stored.stage_due_at) == (2, D1, D2), (
            case.reference
        )
        lapsed = [e for e in store.history(case.id) if e.type is EventType.DEADLINE_LAPSED]
        assert len(lapsed) == 1, f"{case.reference}: {len(lapsed)} deadline_lapsed events"
        assert lapsed[0].summary == "escalated: deadline lapsed"

    posts, refused = receiver.snapshot()
    assert refused == [], refused[:5]
    unsent = [
        key for key, payload in posts
        if is_escalation_alert(payload) and (store.notification(key) or (None, ""))[1] != "sent"
    ]
    assert unsent == [], f"escalation alerts delivered but not marked sent: {unsent[:5]}"
    reference_of = {c.id: c.reference for c in cases}
    alert_keys: dict[str, set[str]] = {}
    for key, payload in posts:
        if is_escalation_alert(payload):
            alert_keys.setdefault(str(payload["case_id"]), set()).add(key)
            reference = reference_of[str(payload["case_id"])]
            expected = f"Case {reference}: stage 1 deadline lapsed; now stage 2, {stage_name}"
            assert payload["title"] == expected
    missing = [c.reference for c in cases if c.id not in alert_keys]
    assert missing == [], f"{len(missing)} cases without an escalation alert: {missing[:10]}"
    several = {i: k for i, k in alert_keys.items() if len(k) != 1}
    assert several == {}, f"cases with more than one escalation alert key: {several}"
    assert len(alert_keys) == len(cases)
    distinct = {k for keys in alert_keys.values() for k in keys}
    assert len(distinct) == len(cases)

    counts = Counter(key for key, _ in posts)
    duplicated = sorted(k for k, n in counts.items() if n > 1)
    keys = [key for key, _ in posts]
    first = [keys.index(k) for k in duplicated]
    return Deliveries(len(posts), sum(n - 1 for n in counts.values()), duplicated, first)


# ---- the acceptance tests ----------------------------------------------------------------------


def test_three_replicas_one_killed_escalate_every_case_once(
    fleet: Fleet, receiver: Receiver, prefix: str, tmp_path: Path
) -> None:
    count = 1000
    began = time.monotonic()
    cases = raise_cases(fleet.config, prefix, tmp_path, count)
    raised = time.monotonic() - began
    store = RedisStore(URL, prefix)
    try:
        replicas = [fleet.start(f"replica-{n}", SERVE_FROM) for n in range(3)]
        fleet.wait_ready(replicas)
        ready = time.monotonic() - began

        threshold = 100
        deadline = time.monotonic() + DONE_WITHIN
        while receiver.alerts_seen() < threshold:
            assert time.monotonic() < deadline, "no escalation alerts arrived"
            time.sleep(POLL)
        # Kill the replica that has delivered the most webhooks so far: it is mid-delivery.
        sent = {}
        for replica in replicas:
            _, text = http_get(replica.port, "/metrics")
            sent[replica.name] = metric(
                text, "escalation_notifications_sent_total", platform="webhook"
            ) or 0.0
        victim = max(replicas, key=lambda r: sent[r.name])
        fleet.kill(victim)
        posts_at_kill = len(receiver.snapshot()[0])
        alerts_at_kill = receiver.alerts_seen()
        killed_at = time.monotonic() - began
        assert alerts_at_kill < count, "every alert was delivered before the kill"

        survivors = [r for r in replicas if r is not victim]
        waited = wait_until(
            "every case at stage 2 with its escalation alert delivered, and no webhook pending",
            lambda: all_at_stage_two(store, count)
            and receiver.alerts_seen() == count
            and webhooks_drained(store),
        )
        for replica in survivors:
            assert replica.process.poll() is None, f"{replica.name} died"

        stage_two = stage_two_name()
        result = check_escalated_once(store, receiver, cases, stage_two)
        for replica in survivors:
            status, text = http_get(replica.port, "/metrics")
            assert status == 200
            webhooks_sent = metric(text, "escalation_notifications_sent_total", platform="webhook")
            assert webhooks_sent is not None and webhooks_sent > 0, replica.name
            open_at_two = metric(text, "escalation_open_cases", partnership=NORTHBAY, stage="2")
            assert open_at_two == count, replica.name
            assert metric(text, "escalation_open_cases", partnership=NORTHBAY, stage="1") is None

        report = (
            f"1,000 cases, 3 replicas, {victim.name} SIGKILLed after {alerts_at_kill} alerts"
            f" (webhooks sent per replica at the kill: {sent}); raised in {raised:.1f}s, ready"
            f" at {ready:.1f}s, killed at {killed_at:.1f}s, done {waited:.1f}s after the kill;"
            f" {result.posts} webhook POSTs ({posts_at_kill} before the kill),"
            f" {result.duplicates} duplicate POST(s): {result.duplicated_keys}, first POSTed as"
            f" number {result.first_posted}"
        )
        print(report)
        # At least once by design: only the one POST in flight when the process died can repeat.
        assert result.duplicates <= 1, report
    except BaseException:
        fleet.dump_logs()
        raise
    finally:
        store.close()


def test_the_only_replica_killed_mid_claim_and_restarted_escalates_every_case_once(
    fleet: Fleet, receiver: Receiver, prefix: str, tmp_path: Path
) -> None:
    count = 600
    began = time.monotonic()
    cases = raise_cases(fleet.config, prefix, tmp_path, count)
    store = RedisStore(URL, prefix)
    try:
        first = fleet.start("replica", SERVE_FROM)
        # Kill it while it is working through the stage-1 deadlines: some cases escalated, the
        # rest still claimed by it or waiting, so the restart must take over deadline claims as
        # well as leased outbox rows. (Its first tick is the backlog, so /readyz is not awaited.)
        deadline = time.monotonic() + DONE_WITHIN
        while store.open_case_counts().get((NORTHBAY, 2), 0) < 20:
            assert first.process.poll() is None, "the replica exited"
            assert time.monotonic() < deadline, "no case escalated"
            time.sleep(POLL)
        first_clock = first.clock_now_at_most()
        fleet.kill(first)
        posts_at_kill = len(receiver.snapshot()[0])
        killed_at = time.monotonic() - began
        alerts_at_kill = receiver.alerts_seen()
        at_stage_two = store.open_case_counts().get((NORTHBAY, 2), 0)
        stage_one_deadlines = sum(
            1 for c in cases for d in store.deadlines_for_case(c.id) if d.stage == 1
        )
        pending_webhooks = pending_webhook_copies(store)
        assert alerts_at_kill < count, "every alert was delivered before the kill"
        assert stage_one_deadlines > 0, "the replica finished every deadline before the kill"

        # The same worker id, as a restarted container would have; its clock is past every lease
        # the dead process can hold, so it must take them over at once.
        restart_from = first_clock + timedelta(seconds=LEASE_SECONDS + 1)
        second = fleet.start("replica-restarted", restart_from, worker="replica")
        fleet.wait_ready([second])
        waited = wait_until(
            "every case at stage 2 with its escalation alert delivered, and no webhook pending",
            lambda: all_at_stage_two(store, count)
            and receiver.alerts_seen() == count
            and webhooks_drained(store),
        )
        result = check_escalated_once(store, receiver, cases, stage_two_name())
        report = (
            f"600 cases, one replica SIGKILLed at {killed_at:.1f}s after {alerts_at_kill} alert(s)"
            f" with {at_stage_two} cases at stage 2, {stage_one_deadlines} stage-1 deadlines"
            f" left and {pending_webhooks} webhook copies pending; restarted, done {waited:.1f}s"
            f" later; {result.posts} webhook POSTs ({posts_at_kill} before the kill),"
            f" {result.duplicates} duplicate POST(s): {result.duplicated_keys}, first POSTed as"
            f" number {result.first_posted}"
        )
        print(report)
        assert result.duplicates <= 1, report
    except BaseException:
        fleet.dump_logs()
        raise
    finally:
        store.close()


def stage_two_name() -> str:
    return load_policies().get("nsscp").stage(2).name
