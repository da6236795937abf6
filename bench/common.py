"""Shared parts of the benchmarks: stores, a wired app, realistic case copies, statistics.

Cases. Raising through the engine costs about 2 ms a case (three store writes, the intake checks,
the cards), so 100,000 raises would take minutes per store. The benchmarks therefore raise one real
case per partnership of ``examples/partnerships.yaml`` through ``Engine.handle(RaiseConcern)`` and
use those as templates: a copy is the real ``Case`` with a new id and reference and every instant
(raised, stage start and due, steps) shifted by one offset, its real history events (instants
shifted the same) and its real outbox notifications (new keys), written with ``store.create_case``
and the deadlines ``dialogs.deadlines.deadlines_for`` derives from the copied state. That is what a
raise writes, minus the reference sequence and the policy snapshot (written once, by the templates).

The copies' notifications are written with ``deliver_at`` in 2200, so the ticker under test does not
spend its delivery step on half a million synthetic messages; in production they would be long
sent. Rows and bytes are the same.

Clock. Everything runs on ``ShiftedClock(CLOCK_START)``: real time, read as if it were Tuesday
2 February 2027 10:00 UTC (10:00 local in London and Jersey, a working day), so notifications are
due at once and results do not depend on the hour the benchmark runs.
"""

from __future__ import annotations

import math
import os
import random
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis

from adapters.storage.redis import RedisStore
from adapters.storage.sqlite import SqliteStore
from bot.bootstrap import App, bootstrap
from bot.demo import demo_answers
from dialogs.case import Case
from dialogs.clock import ShiftedClock
from dialogs.commands import RaiseConcern
from dialogs.deadlines import deadlines_for, reminder_key
from dialogs.events import Event, EventType
from dialogs.notifications import Notification
from dialogs.ports import Deadline
from policy.calendar import WorkingCalendar
from policy.config import Partnership
from policy.model import Policy

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "partnerships.yaml"
CLOCK_START = datetime(2027, 2, 2, 10, 0, tzinfo=UTC)
FAR_FUTURE = datetime(2200, 1, 1, tzinfo=UTC)
DEFAULT_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


# ---- statistics ---------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: list[float], scale: float = 1.0, digits: int = 3) -> dict[str, Any]:
    """count, mean, p50, p90, p99, max of ``values`` times ``scale`` (1000 for ms)."""
    if not values:
        return {"count": 0}

    def r(x: float | None) -> float | None:
        return None if x is None else round(x * scale, digits)

    return {
        "count": len(values),
        "mean": r(sum(values) / len(values)),
        "p50": r(percentile(values, 50)),
        "p90": r(percentile(values, 90)),
        "p99": r(percentile(values, 99)),
        "max": r(max(values)),
    }


# ---- stores -------------------------------------------------------------------------------------
@dataclass
class StoreHandle:
    kind: str
    store: Any
    path: Path | None = None
    prefix: str | None = None
    client: redis.Redis | None = None  # a separate admin connection (INFO, MEMORY, cleanup)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": str(self.path) if self.path else None,
                "prefix": self.prefix}


def delete_prefix(client: redis.Redis, prefix: str) -> int:
    """SCAN + DEL of ``{prefix}:*`` only; never FLUSHDB: the server may hold other data."""
    deleted = 0
    batch: list[str] = []
    for key in client.scan_iter(match="{" + prefix + "}:*", count=2000):
        batch.append(key)
        if len(batch) >= 1000:
            deleted += int(client.delete(*batch))
            batch = []
    if batch:
        deleted += int(client.delete(*batch))
    return deleted


def redis_reachable(url: str) -> str | None:
    """None if a PING answers, else why not."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except redis.RedisError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@contextmanager
def open_store(kind: str, workdir: Path, redis_url: str, label: str) -> Iterator[StoreHandle]:
    """A fresh, empty store; removed afterwards (SQLite file and WAL, or the prefix's keys)."""
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=workdir))
        path = folder / "bench.sqlite3"
        store = SqliteStore(path)
        handle = StoreHandle(kind, store, path=path)
        try:
            yield handle
        finally:
            store.close()
            for name in ("bench.sqlite3", "bench.sqlite3-wal", "bench.sqlite3-shm"):
                (folder / name).unlink(missing_ok=True)
            folder.rmdir()
    elif kind == "redis":
        prefix = f"bench-{label}-{uuid.uuid4().hex[:10]}"
        store = RedisStore(redis_url, prefix)
        admin = redis.Redis.from_url(redis_url, decode_responses=True)
        handle = StoreHandle(kind, store, prefix=prefix, client=admin)
        try:
            yield handle
        finally:
            store.close()
            delete_prefix(admin, prefix)
            admin.close()
    else:
        raise ValueError(f"unknown store {kind!r} (sqlite or redis)")


@contextmanager
def bulk_load(handle: StoreHandle) -> Iterator[None]:
    """SQLite only: ``synchronous = OFF`` on the store's own connection while copies are written
    (2-3x faster: no fsync per case), then back to the store's ``FULL`` before anything is
    measured. Same rows, same pages; only population time changes. Redis: nothing to do."""
    db = getattr(handle.store, "_db", None) if handle.kind == "sqlite" else None
    if db is None:
        yield
        return
    (before,) = db.execute("PRAGMA synchronous").fetchone()
    db.execute("PRAGMA synchronous = OFF")
    try:
        yield
    finally:
        db.execute(f"PRAGMA synchronous = {int(before)}")
        (restored,) = db.execute("PRAGMA synchronous").fetchone()
        if restored != before:
            raise RuntimeError(f"synchronous is {restored}, not {before}, after population")


def wire(handle: StoreHandle, clock: Any) -> App:
    """The production composition root on the given store (people upserted, real Engine)."""
    unused = handle.path or Path(tempfile.gettempdir()) / "bench-unused.sqlite3"
    return bootstrap(CONFIG, unused, clock, store=handle.store)


# ---- raising real cases -------------------------------------------------------------------------
def _practitioners(app: App, partnership: Partnership) -> tuple[Any, Any]:
    policy = app.policies.get(partnership.policy)
    people = app.engine.people(partnership.id)
    agencies = [a.id for a in app.config.agencies if a.partnership == partnership.id]
    found = []
    for agency in agencies:
        group = sorted(
            (p for p in people.values() if p.agency == agency and p.role == policy.raiser_role),
            key=lambda p: p.email,
        )
        if group:
            found.append(group[0])
    if len(found) < 2:
        raise RuntimeError(f"{partnership.id} needs practitioners in two agencies")
    return found[0], found[1]


def raise_command(app: App, partnership: Partnership) -> RaiseConcern:
    """What the demo raises: a practitioner in one agency against one in another."""
    policy = app.policies.get(partnership.policy)
    raiser, counterpart = _practitioners(app, partnership)
    choice = None
    if policy.pathway is not None:
        choice = next(o.id for o in policy.pathway.options if o.continues_to_procedure)
    return RaiseConcern(
        actor=raiser.email,
        partnership_id=partnership.id,
        answers=demo_answers(policy, counterpart),
        pathway_choice=choice,
    )


@dataclass
class Template:
    """A case raised by the real engine, with what its raise wrote."""

    case: Case
    events: list[Event]
    notifications: list[Notification]
    policy: Policy
    calendar: WorkingCalendar
    prefix: str
    has_steps: bool = field(init=False)

    def __post_init__(self) -> None:
        self.has_steps = bool(self.case.steps)


def make_templates(app: App) -> list[Template]:
    """One real raise per partnership in the example config (four procedures)."""
    templates = []
    for partnership in app.config.partnerships:
        outcome = app.engine.handle(raise_command(app, partnership))
        assert outcome.case is not None
        policy = app.engine.policy_for(outcome.case)
        templates.append(
            Template(
                case=outcome.case,
                events=list(outcome.events),
                notifications=list(outcome.notifications),
                policy=policy,
                calendar=app.engine.calendar_for(partnership, policy),
                prefix=partnership.reference_prefix,
            )
        )
    return templates


def time_raises(app: App, count: int) -> list[float]:
    """Seconds per real ``Engine.handle(RaiseConcern)``, round-robin over the partnerships."""
    commands = [raise_command(app, p) for p in app.config.partnerships]
    seconds = []
    for i in range(count):
        started = time.perf_counter()
        app.engine.handle(commands[i % len(commands)])
        seconds.append(time.perf_counter() - started)
    return seconds


# ---- copies -------------------------------------------------------------------------------------
@dataclass
class Copy:
    case: Case
    events: list[Event]
    notifications: list[Notification]
    deadlines: list[Deadline]


def copy_case(
    template: Template, serial: int, shift: timedelta, *, only_stage_deadline: bool = False
) -> Copy:
    """The template with a new id and reference and every instant moved by ``shift``.

    ``only_stage_deadline``: mark the stage's reminder as already sent (as it would be by 09:00 on
    the due day), so the copy's only deadline is its stage deadline; needs a template without steps.
    """
    source = template.case
    new_id = uuid.uuid4().hex
    updates: dict[str, Any] = {
        "id": new_id,
        "reference": f"{template.prefix}-{serial:06d}",
        "raised_at": source.raised_at + shift,
        "stage_started_at": source.stage_started_at + shift,
        "stage_due_at": source.stage_due_at + shift,
        "steps": [
            s.model_copy(update={"started_at": s.started_at + shift, "due_at": s.due_at + shift})
            for s in source.steps
        ],
    }
    if only_stage_deadline:
        if source.steps:
            raise ValueError("only_stage_deadline needs a template without steps")
        due = updates["stage_due_at"]
        reminder = reminder_key(source.stage, template.calendar.start_of_due_day(due))
        updates["reminded"] = [*source.reminded, reminder]
    case = source.model_copy(update=updates)
    events = [e.model_copy(update={"case_id": new_id, "at": e.at + shift}) for e in template.events]
    notes = [
        n.model_copy(update={"key": new_id + n.key[len(source.id):], "case_id": new_id,
                             "deliver_at": FAR_FUTURE})
        for n in template.notifications
    ]
    deadlines = deadlines_for(case, template.policy, template.calendar)
    if only_stage_deadline and [d.kind for d in deadlines] != ["stage"]:
        raise AssertionError(f"copy has deadlines {[d.kind for d in deadlines]}, expected stage")
    return Copy(case, events, notes, deadlines)


def write_copy(store: Any, copy: Copy) -> None:
    store.create_case(copy.case, copy.events, copy.notifications, copy.deadlines)


class Serials:
    """Reference numbers for copies, clear of the engine's own sequence (NB-0001...)."""

    def __init__(self) -> None:
        self._next = 100_000

    def __call__(self) -> int:
        self._next += 1
        return self._next


def populate_background(
    store: Any,
    templates: list[Template],
    count: int,
    serials: Serials,
    rng: random.Random,
    *,
    max_shift_days: float = 30.0,
    progress: Any = None,
) -> list[float]:
    """``count`` open copies whose deadlines all lie between ~1 and ~37 days ahead (the templates'
    own deadlines are at least 23 h after their raise, and each copy is shifted 0..30 days later):
    the open cases a scheduler must not touch. Returns seconds per ``create_case``."""
    seconds = []
    for i in range(count):
        template = templates[i % len(templates)]
        shift = timedelta(seconds=rng.uniform(0, max_shift_days * 86400))
        copy = copy_case(template, serials(), shift)
        started = time.perf_counter()
        write_copy(store, copy)
        seconds.append(time.perf_counter() - started)
        if progress is not None and (i + 1) % 20_000 == 0:
            progress(f"  populated {i + 1}/{count}")
    return seconds


def stepless(templates: list[Template]) -> list[Template]:
    return [t for t in templates if not t.has_steps]


def populate_due(
    store: Any,
    templates: list[Template],
    due_times: list[datetime],
    serials: Serials,
) -> list[Copy]:
    """One copy per due time whose only deadline is its stage deadline at exactly that time."""
    usable = stepless(templates)
    written = []
    for i, due in enumerate(due_times):
        template = usable[i % len(usable)]
        copy = copy_case(template, serials(), due - template.case.stage_due_at,
                         only_stage_deadline=True)
        write_copy(store, copy)
        written.append(copy)
    return written


def lapsed_counts(store: Any, case_ids: list[str]) -> dict[str, int]:
    """How many cases have 0, 1 or more ``deadline_lapsed`` events in their history."""
    counts = {"zero": 0, "one": 0, "more": 0, "extra_events": 0}
    for case_id in case_ids:
        n = sum(1 for e in store.history(case_id) if e.type is EventType.DEADLINE_LAPSED)
        if n == 0:
            counts["zero"] += 1
        elif n == 1:
            counts["one"] += 1
        else:
            counts["more"] += 1
            counts["extra_events"] += n - 1
    return counts


def shifted_clock() -> ShiftedClock:
    return ShiftedClock(CLOCK_START)


# ---- timing wrappers ----------------------------------------------------------------------------
class Recorder:
    """The scheduler's Observer, plus the ticker's on_tick; keeps every sample."""

    def __init__(self) -> None:
        self.claims: list[tuple[float, int]] = []
        self.lags: list[float] = []
        self.delivered_ok = 0
        self.delivered_failed = 0
        self.tick_lags: list[float] = []
        self.contentions = 0

    def claimed(self, seconds: float, count: int) -> None:
        self.claims.append((seconds, count))

    def fired(self, lag_seconds: float) -> None:
        self.lags.append(lag_seconds)

    def contended(self, released: bool) -> None:
        self.contentions += 1

    def delivered(self, recipient_kind: str, ok: bool) -> None:
        if ok:
            self.delivered_ok += 1
        else:
            self.delivered_failed += 1

    def on_tick(self, lag: float) -> None:
        self.tick_lags.append(lag)

    def claim_summary(self) -> dict[str, Any]:
        full = [s for s, n in self.claims if n > 0]
        empty = [s for s, n in self.claims if n == 0]
        per_item = [s / n for s, n in self.claims if n > 0]
        return {
            "nonempty_batch_ms": summary(full, 1000),
            "empty_claim_ms": summary(empty, 1000),
            "per_claimed_deadline_ms": summary(per_item, 1000, 4),
            "claimed_total": sum(n for _, n in self.claims),
            "batches": len(full),
        }


class TimedEngine:
    """Wraps the real engine so each ``handle`` the scheduler makes is timed."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.handle_seconds: list[float] = []

    def handle(self, command: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.engine.handle(command)
        finally:
            self.handle_seconds.append(time.perf_counter() - started)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


class TimedStore:
    """Wraps a store for the scheduler only (the engine keeps the bare one): times the
    deadline completions and the delivery writes."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.complete_seconds: list[float] = []
        self.mark_sent_seconds: list[float] = []
        self.claim_notification_seconds: list[float] = []

    def complete_deadline(self, claim: Any) -> bool:
        started = time.perf_counter()
        try:
            return bool(self.store.complete_deadline(claim))
        finally:
            self.complete_seconds.append(time.perf_counter() - started)

    def mark_sent(self, key: str, at: datetime) -> None:
        started = time.perf_counter()
        try:
            self.store.mark_sent(key, at)
        finally:
            self.mark_sent_seconds.append(time.perf_counter() - started)

    @asynccontextmanager
    async def marking_on_loop(self) -> AsyncIterator[Any]:
        async with self.store.marking_on_loop() as mark:
            async def timed(key: str, at: datetime) -> bool:
                started = time.perf_counter()
                try:
                    return bool(await mark(key, at))
                finally:
                    self.mark_sent_seconds.append(time.perf_counter() - started)
            yield timed

    def claim_notifications(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.store.claim_notifications(*args, **kwargs)
        finally:
            self.claim_notification_seconds.append(time.perf_counter() - started)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


class NullNotifier:
    """Delivers instantly: the benchmarks measure the bot, not Teams or Slack."""

    def __init__(self) -> None:
        self.count = 0

    async def deliver(self, notification: Notification) -> None:
        self.count += 1


def timed(fn: Any, *args: Any, repeat: int = 5) -> dict[str, Any]:
    """Run ``fn(*args)`` ``repeat`` times; ms per call."""
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn(*args)
        seconds.append(time.perf_counter() - started)
    return summary(seconds, 1000)


def now_utc() -> datetime:
    return datetime.now(UTC)
