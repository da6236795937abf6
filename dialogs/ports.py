"""What the domain needs from the outside world, as protocols the adapters implement.

The engine is synchronous: a command is a few reads and one atomic write, fast on SQLite and on
Redis over loopback. Delivery is separate and asynchronous (the Notifier), fed from the outbox.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from dialogs.audit import AuditTrail, CaseRead
from dialogs.case import Case
from dialogs.directory import Person
from dialogs.events import Event
from dialogs.notifications import Notification
from policy.model import Policy

# A message's key and when it was sent -> whether it was marked (see Store.marking_on_loop)
MarkSent = Callable[[str, datetime], Awaitable[bool]]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


@dataclass(frozen=True)
class Deadline:
    """A durable due time. ``key`` is unique per case, kind, stage, step and due instant."""

    key: str
    case_id: str
    kind: str
    stage: int
    step_id: str | None
    due_at: datetime


@dataclass(frozen=True)
class ClaimedDeadline:
    deadline: Deadline
    worker: str
    lease_until: datetime


@dataclass(frozen=True)
class CaseSave:
    """One case's write, as ``Store.save_case`` takes it, for ``Store.save_cases``."""

    case: Case
    expected_version: int
    events: list[Event]
    notifications: list[Notification]
    deadlines: list[Deadline]


@dataclass(frozen=True)
class OutboxItem:
    notification: Notification
    attempts: int


class StaleVersion(Exception):
    """Raised by a store when the case's stored version is not the one the command read."""


class CaseExists(ValueError):
    """Raised by ``create_case`` when the case's id or reference is taken; nothing is written.
    The id is the guard that makes raising idempotent across replicas (see Engine._raise)."""


class StoreExtras(Protocol):
    """Chat-platform and operations support shared by every store."""

    def save_conversation_reference(self, platform: str, user_key: str, reference: str) -> None:
        """Keep the latest reference (opaque JSON) for proactive messages to one user."""
        ...

    def conversation_reference(self, platform: str, user_key: str) -> str | None: ...

    def save_session(self, key: str, value: str, expires_at: datetime) -> None:
        """Keep one person's half-finished conversation (it may hold a child's details) until
        ``expires_at``, replacing any earlier one."""
        ...

    def session(self, key: str, now: datetime) -> str | None:
        """The conversation kept under ``key``, or None once it has expired."""
        ...

    def delete_session(self, key: str) -> None: ...

    def purge_sessions(self, now: datetime) -> int:
        """Remove every expired conversation; returns how many. Run by the scheduler, so an
        abandoned intake does not keep a child's details in the store."""
        ...

    def mark_once(self, key: str, now: datetime, ttl_seconds: float) -> bool:
        """True the first time ``key`` is marked within ``ttl_seconds``; False for a repeat
        (platform retries, duplicate clicks)."""
        ...

    def open_case_counts(self) -> dict[tuple[str, int], int]:
        """Open cases by (partnership id, stage), for metrics: counters kept in the same write as
        each case, so a scrape does not grow with the number of cases."""
        ...

    def recount_open_cases(self) -> None:
        """Rebuild those counters from the cases themselves, in one write (an operator's repair;
        a module that removes cases any other way than save_case calls it afterwards)."""
        ...


class AuditLog(Protocol):
    """Who read a case, and the raw logs ``audit verify`` checks (dialogs/audit.py)."""

    def record_read(self, read: CaseRead, window_seconds: float) -> bool:
        """Append ``read`` to its case's hash-chained read log, unless the same reader read the
        case the same way (kind) less than ``window_seconds`` before; True if it was kept.
        Never changes the case or its version, so no card goes stale because someone looked."""
        ...

    def reads(self, case_id: str) -> list[CaseRead]: ...

    def case_ids(self, partnership_id: str | None = None) -> list[str]:
        """Every case, open or closed, oldest first."""
        ...

    def audit_trail(self, case_id: str) -> AuditTrail | None:
        """The case's events and reads exactly as stored, with the chain heads and the pack
        snapshot, read at one instant; None if there is no such case."""
        ...


class RetentionSupport(Protocol):
    """What the retention pass needs (dialogs.retention decides; these only read and write).

    Each write re-checks in its transaction what the pass read, so a case changed or a row
    delivered in between is left alone, never half removed."""

    def all_cases(self, partnership_id: str | None = None) -> list[Case]:
        """Every case, open and closed, oldest first."""
        ...

    def outbox_keys(self, case_ids: list[str]) -> dict[str, list[str]]:
        """The keys of every outbox row of each case, whatever its status, in the order they
        were written; a case with none is absent. One call for many cases: on Redis it is one
        scan of the outbox."""
        ...

    def anonymise_case(
        self, case: Case, expected_version: int, events: list[Event], outbox_keys: list[str]
    ) -> None:
        """Atomically, as ``save_case`` with no deadlines and no notifications: the case replaced
        by its anonymised form, ``events`` appended, its deadlines removed, and the outbox rows
        ``outbox_keys`` of this case removed (their cards hold the child's details). Raises
        StaleVersion and writes nothing if the case moved on."""
        ...

    def sent_notification_keys(self, sent_before: datetime) -> list[str]:
        """Keys of the notifications delivered at or before ``sent_before``."""
        ...

    def delete_sent_notifications(self, keys: list[str], sent_before: datetime) -> int:
        """Remove those of ``keys`` still delivered at or before ``sent_before``; how many."""
        ...

    def expired_counts(self, now: datetime) -> tuple[int, int]:
        """(duplicate-guard markers, conversations) that have expired by ``now``."""
        ...

    def purge_markers(self, now: datetime) -> int:
        """Remove every ``mark_once`` marker expired by ``now``; returns how many."""
        ...


class Store(StoreExtras, RetentionSupport, AuditLog, Protocol):
    # cases and history
    def create_case(
        self,
        case: Case,
        events: list[Event],
        notifications: list[Notification],
        deadlines: list[Deadline],
    ) -> None: ...

    def save_case(
        self,
        case: Case,
        expected_version: int,
        events: list[Event],
        notifications: list[Notification],
        deadlines: list[Deadline],
    ) -> None:
        """Atomically: case (now at expected_version + 1), events, outbox, and the case's deadlines
        replaced by ``deadlines``; claims on the rows kept are voided, because whoever holds one
        read the case before this write. Raises StaleVersion and writes nothing if the stored
        version differs."""
        ...

    def save_cases(
        self, saves: list[CaseSave], completed: list[ClaimedDeadline]
    ) -> list[Exception | None]:
        """Several cases' writes and deadline completions in one write (one commit, one round
        trip), so a scheduler firing a backlog pays one commit per batch, not two per case.
        Each save is applied as ``save_case`` would or not at all: the answer has, per save, None
        (saved) or what ``save_case`` would have raised (StaleVersion, KeyError, ValueError),
        and a refused save leaves the others in place. Each claim is then completed as
        ``complete_deadline`` would (fenced by its lease). The scheduler's write: a store may
        commit it without waiting for the disk (a lapse lost to a power cut is due again, its
        deadline row being in the same write), which a person's ``save_case`` never is."""
        ...

    def get_case(self, case_id: str) -> Case | None: ...

    def get_cases(self, case_ids: list[str]) -> dict[str, Case]:
        """The cases found among ``case_ids``, by id, in one read (one query, one round trip):
        what a scheduler batch reads before deciding its lapses."""
        ...

    def find_case_by_reference(self, reference: str) -> Case | None: ...

    def cases_for_person(
        self, email: str, include_closed: bool = False, limit: int | None = None
    ) -> list[Case]:
        """The cases the person is an active party to, oldest first; with ``limit`` only the
        latest that many, read through a per-person index, so a turn costs the same at any
        number of cases (a party to thousands still gets one page)."""
        ...

    def open_cases(self, partnership_id: str | None = None) -> list[Case]: ...

    def history(self, case_id: str) -> list[Event]: ...

    def partnership_cases(self, partnership_id: str) -> list[Case]:
        """Every case of one partnership, open or closed, oldest first: what reports count."""
        ...

    def next_sequence(self, name: str) -> int: ...

    # frozen policy versions
    def save_policy_snapshot(self, policy: Policy) -> None: ...

    def policy_snapshot(self, policy_id: str, version: str) -> Policy | None: ...

    # directory
    def upsert_people(self, people: list[Person]) -> None: ...

    def person(self, email: str) -> Person | None: ...

    def people(self, partnership_id: str) -> list[Person]: ...

    # platform identities, learned or configured (dialogs.people.Directory reads them)
    def save_identities(self, platform: str, accounts: dict[str, str]) -> None:
        """Bind people (email -> account) to their accounts on ``platform`` (a Teams AAD object
        id, a Slack user id), in one write: one account per person and one person per account,
        so any earlier binding of either is replaced."""
        ...

    def identity(self, platform: str, email: str) -> str | None: ...

    def email_for_identity(self, platform: str, user_id: str) -> str | None: ...

    def save_last_platform(self, email: str, platform: str) -> None:
        """The platform of the person's latest message, where they get what is sent to them."""
        ...

    def last_platform(self, email: str) -> str | None: ...

    def save_arrival(
        self,
        references: Sequence[tuple[str, str, str]] = (),
        identity: tuple[str, str, str] | None = None,
        last_platform: tuple[str, str] | None = None,
    ) -> None:
        """What a person's turn tells the bot about them, in one write: conversation references
        (platform, key, reference) as ``save_conversation_reference``, an account binding
        (platform, email, account) as ``save_identities``, and the platform they used last
        (email, platform) as ``save_last_platform``. Nothing given writes nothing."""
        ...

    def queue_notifications(self, notifications: list[Notification]) -> None:
        """Outbox rows that belong to no case (who asked to be added to the directory); a key
        already queued adds nothing, as for a case's notifications."""
        ...

    # deadlines
    def claim_due(
        self, now: datetime, worker: str, lease_seconds: float, limit: int
    ) -> list[ClaimedDeadline]: ...

    def complete_deadline(self, claim: ClaimedDeadline) -> bool:
        """Remove a claimed deadline; False if the lease was lost to another worker."""
        ...

    def release_deadline(self, claim: ClaimedDeadline) -> bool:
        """Give a claim back unfired (claimable again at once); False if the claim was lost,
        to another worker or to a write of the case that voided it."""
        ...

    def deadlines_for_case(self, case_id: str) -> list[Deadline]: ...

    def next_due(self) -> datetime | None: ...

    def count_due(self, now: datetime) -> int:
        """Deadlines due at or before ``now`` and not yet completed: the scheduler's backlog."""
        ...

    # outbox
    def due_notifications(self, now: datetime, limit: int) -> list[OutboxItem]:
        """A read-only look at what is due (tests, operators). Delivery uses the claim."""
        ...

    def claim_notifications(
        self, now: datetime, worker: str, lease_seconds: float, limit: int
    ) -> list[OutboxItem]:
        """Take up to ``limit`` due notifications for one worker: each is hidden from other
        workers for ``lease_seconds`` (its deliver_at moves to now + lease), so several replicas
        never deliver the same one at once; one whose worker dies is due again after the lease."""
        ...

    def count_due_notifications(self, now: datetime) -> int:
        """Pending notifications due at or before ``now``: the delivery backlog."""
        ...

    def mark_sent(self, key: str, at: datetime) -> None: ...

    def marking_on_loop(self) -> AbstractAsyncContextManager[MarkSent]:
        """For one delivery batch, on the event loop: a function that marks a message sent if
        that can be done without blocking the loop (no waiting on a lock or another writer; a
        network round trip only if awaited) and says whether it did. False leaves the row as it
        was, for ``mark_sent`` off the loop. A delivery's mark must be written before the next
        message is sent (a killed worker then repeats at most one), and a thread hand-off per
        message cost more than the mark itself. Whatever the marks need (a connection of the
        loop's) lives as long as the batch."""
        ...

    def mark_failed(self, key: str, error: str, retry_at: datetime | None) -> None: ...

    def notification(self, key: str) -> tuple[Notification, str] | None:
        """A notification and its status: pending, sent or failed."""
        ...


class Notifier(Protocol):
    async def deliver(self, notification: Notification) -> None:
        """Deliver or raise DeliveryFailed; implementations must be safe to call twice."""
        ...


class DeliveryFailed(Exception):
    def __init__(self, reason: str, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
