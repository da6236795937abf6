"""The two loops that move cases without a person: fire lapsed deadlines, deliver the outbox.

Claiming is exactly-once (the store's lease); running is at-least-once, which is safe because the
engine fences every deadline against the case's current state and every notification has a key.
Issue 3 wraps these in an APScheduler ticker; the demo and tests call them directly on a
simulated clock.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol, runtime_checkable

from dialogs import texts
from dialogs.audit import CaseRead, ReadKind
from dialogs.case import Case
from dialogs.commands import DeadlineLapsed, RecordDeliveryFailure
from dialogs.engine import Engine, Outcome, Prepared
from dialogs.errors import DomainError, StaleCase
from dialogs.notifications import Notification, RecipientKind
from dialogs.ports import (
    ClaimedDeadline,
    Clock,
    DeliveryFailed,
    Notifier,
    OutboxItem,
    StaleVersion,
    Store,
)

log = logging.getLogger("escalation_bot.scheduler")
# the platform name bot.delivery's router gives email (scheduler.runner.NamesPlatforms)
EMAIL_PLATFORM = "email"



@dataclass(frozen=True)
class Backoff:
    """How a delivery that may work later is retried: ``first`` after the first failure, each
    wait ``factor`` times the last, ``attempts`` tries in all. After the last the failure is
    final: recorded on the case and reported to the business team, like a refusal. The default,
    1, 2, 4, 8, 16 and 32 minutes, rides out a mail server's restart or a short outage and tells
    the business team about a longer one within about an hour, while the message can still be
    passed on the same working day."""

    first: timedelta = timedelta(minutes=1)
    factor: int = 2
    attempts: int = 7

    def delay(self, attempt: int) -> timedelta | None:
        """The wait after failed try number ``attempt`` (from 1), or None if it was the last."""
        if attempt >= self.attempts:
            return None
        return self.first * int(self.factor ** (attempt - 1))


BACKOFF = Backoff()
# Lapses written per store write: one commit (one fsync) for this many, instead of two per lapse,
# while a person's turn waiting on the store's lock waits for at most this many cases' rows.
WRITE_CHUNK = 25
# Re-reads after a stale refusal before a claim is given back for the next tick: each retry
# follows a person's committed write, so more than a few in a row means a very busy case.
STALE_RETRIES = 5


class Observer(Protocol):
    """What the scheduler reports for metrics; the composition root decides where it goes."""

    def claimed(self, seconds: float, count: int) -> None: ...

    def fired(self, lag_seconds: float) -> None: ...

    def contended(self, released: bool) -> None:
        """A fire refused as stale: retried, or (``released``) given back for the next tick."""
        ...

    def delivered(self, platform: str, ok: bool) -> None: ...


@runtime_checkable
class NamesPlatforms(Protocol):
    """A notifier that routes to several platforms says which one carries a notification
    ("teams", "email", "webhook"), so metrics count by platform rather than recipient kind."""

    def platform_for(self, notification: Notification) -> str: ...


class NoObserver:
    def claimed(self, seconds: float, count: int) -> None:
        pass

    def fired(self, lag_seconds: float) -> None:
        pass

    def contended(self, released: bool) -> None:
        pass

    def delivered(self, platform: str, ok: bool) -> None:
        pass


@dataclass(frozen=True)
class TickResult:
    fired: int
    skipped: int
    failed: int = 0
    # stopped at its bound with a full last batch: more is due now (a backlog), so the ticker
    # runs another pass at once instead of waiting for the next interval
    more: bool = False


def fire_due_deadlines(
    store: Store,
    engine: Engine,
    clock: Clock,
    worker: str,
    *,
    lease_seconds: float = 60.0,
    batch: int = 100,
    observer: Observer | None = None,
    max_batches: int | None = None,
    progress: Callable[[], None] = lambda: None,
) -> TickResult:
    """Fire what is due. ``max_batches`` bounds one call, so a large backlog after downtime is
    worked through over several ticks, with deliveries and readiness in between."""
    observer = observer or NoObserver()
    fired = skipped = failed = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        batches += 1
        started = time.perf_counter()
        claims = store.claim_due(clock.now(), worker, lease_seconds, batch)
        observer.claimed(time.perf_counter() - started, len(claims))
        if not claims:
            return TickResult(fired, skipped, failed)
        verdicts = _fire_batch(store, engine, clock, claims, observer)
        fired += verdicts.count("fired")
        skipped += verdicts.count("skipped")
        failed += verdicts.count("failed")
        progress()
        if "stale" in verdicts:
            break  # what was given back waits for the next tick, not a hot loop in this one
        if max_batches is not None and batches >= max_batches and len(claims) >= batch:
            return TickResult(fired, skipped, failed, more=True)
    return TickResult(fired, skipped, failed)


def _lapse(claim: ClaimedDeadline) -> DeadlineLapsed:
    deadline = claim.deadline
    return DeadlineLapsed(
        case_id=deadline.case_id,
        kind=deadline.kind,
        stage=deadline.stage,
        step_id=deadline.step_id,
        due_at=deadline.due_at,
    )


def _fire_batch(
    store: Store, engine: Engine, clock: Clock, claims: list[ClaimedDeadline], observer: Observer
) -> list[str]:
    """Work through a claimed batch ``WRITE_CHUNK`` lapses at a time: decide each, then write the
    chunk, with the completions of those that changed nothing, in one ``save_cases``. A backlog
    pays one commit per chunk instead of two per deadline, and a chunk's lapses count as fired
    as soon as it is written. A save refused as stale (a person's command, or another lapse of
    the same case in this batch, got there first) goes through ``_fire``, which re-reads.

    A fired lapse's claim needs no completing: its save replaced the case's deadlines, which
    removed the claimed row or, where the case still holds it, voided the claim (see
    ``Store.save_case``), exactly as a completion after the save would have found."""
    verdicts: list[str] = ["failed"] * len(claims)
    again: list[int] = []
    # one read for the batch; a case claimed twice (a stage and a step deadline) is read once
    # and its second lapse refused as stale on write, then decided alone on a fresh read
    read = store.get_cases([claim.deadline.case_id for claim in claims])
    with engine.one_directory_read():
        for start in range(0, len(claims), WRITE_CHUNK):
            decided: list[tuple[int, Prepared]] = []
            completions: list[ClaimedDeadline] = []
            for i in range(start, min(start + WRITE_CHUNK, len(claims))):
                answer = _decide(engine, claims[i], read)
                if isinstance(answer, Prepared):
                    decided.append((i, answer))
                elif answer == "skipped":
                    completions.append(claims[i])
                    verdicts[i] = "skipped"
                elif answer == "again":
                    again.append(i)
            if not decided and not completions:
                continue
            written = store.save_cases([prepared.save for _, prepared in decided], completions)
            for (i, prepared), refusal in zip(decided, written, strict=True):
                deadline = claims[i].deadline
                if refusal is None:
                    engine.saved(prepared)
                    observer.fired((clock.now() - deadline.due_at).total_seconds())
                    verdicts[i] = "fired"
                elif isinstance(refusal, StaleVersion):
                    observer.contended(released=False)
                    again.append(i)
                else:
                    log.error("deadline %s for case %s not written: %s", deadline.kind,
                              deadline.case_id, type(refusal).__name__)
    for i in again:
        verdicts[i] = _fire(store, engine, clock, claims[i], observer)
    return verdicts


def _decide(engine: Engine, claim: ClaimedDeadline, read: dict[str, Case]) -> Prepared | str:
    """One claimed lapse decided: the write to make, or "skipped" (nothing owed: complete
    it), "again" (decide it alone, re-reading) or "failed" (left to its lease, as in _fire)."""
    kind = claim.deadline.kind
    try:
        answer = engine.decide(_lapse(claim), read)
    except StaleCase:
        return "again"
    except DomainError as exc:
        log.info("deadline %s not applied: %s", kind, type(exc).__name__)
        return "skipped"
    except Exception:
        log.exception("deadline %s for case %s failed", kind, claim.deadline.case_id)
        return "failed"
    return "skipped" if isinstance(answer, Outcome) else answer


def _fire(
    store: Store, engine: Engine, clock: Clock, claim: ClaimedDeadline, observer: Observer
) -> str:
    """Apply one claimed deadline: "fired", "skipped" (fenced off or not applicable), "stale"
    (given back for the next tick) or "failed" (left to its lease, to be retried).

    A stale refusal means a person's command committed between the engine's read and its write.
    The lapse is still owed: the engine re-reads and tries again. Only a verdict reached on the
    case as it now stands completes the claim, and the store refuses the completion if a later
    write of the case voided it, so a deadline the case still holds is never deleted."""
    deadline = claim.deadline
    command = _lapse(claim)
    for _ in range(STALE_RETRIES):
        try:
            outcome = engine.handle(command)
        except StaleCase:
            observer.contended(released=False)
            continue
        except DomainError as exc:
            # the case is gone or closed: nothing is owed; logged without case details
            log.info("deadline %s not applied: %s", deadline.kind, type(exc).__name__)
            store.complete_deadline(claim)
            return "skipped"
        except Exception:
            # A bug must not stop every other case's deadlines. The claim is left to expire,
            # so the deadline is retried after the lease and the failure stays visible.
            log.exception("deadline %s for case %s failed", deadline.kind, deadline.case_id)
            return "failed"
        store.complete_deadline(claim)
        if outcome.changed:
            observer.fired((clock.now() - deadline.due_at).total_seconds())
            return "fired"
        return "skipped"
    log.info("deadline %s for case %s still contended; released for the next tick",
             deadline.kind, deadline.case_id)
    store.release_deadline(claim)
    observer.contended(released=True)
    return "stale"


async def deliver_due_notifications(
    store: Store,
    notifier: Notifier,
    clock: Clock,
    *,
    worker: str = "local",
    lease_seconds: float = 60.0,
    batch: int = 100,
    observer: Observer | None = None,
    engine: Engine | None = None,
    max_batches: int = 1,
    progress: Callable[[], None] = lambda: None,
    backoff: Backoff = BACKOFF,
) -> tuple[int, int]:
    """Send what is due; returns (sent, failed). A failure that may pass is retried with
    ``backoff``; one that cannot, or the last try, fails for good. With ``engine`` every failure
    goes on the case's history and a final one alerts the business team: nothing is dropped,
    and nothing is marked sent that was not. Claims another batch while the last came back
    full, up to ``max_batches``, so the 09:00 queue of alerts held overnight drains in a few
    ticks rather than one batch per tick."""
    observer = observer or NoObserver()
    sent = failed = 0
    items: list[OutboxItem] = []
    for _ in range(max_batches):
        if items and len(items) < batch:
            break
        items = await asyncio.get_running_loop().run_in_executor(
            None, store.claim_notifications, clock.now(), worker, lease_seconds, batch
        )
        if not items:
            break
        done = await _deliver_batch(
            store, notifier, clock, items, observer, engine, progress, backoff
        )
        sent, failed = sent + done[0], failed + done[1]
    return sent, failed


def platform_namer(notifier: Notifier) -> Callable[[Notification], str]:
    """Asked once per batch: isinstance against a runtime-checkable Protocol walks the
    protocol's members each time (3 % of a catch-up's CPU when it was asked per message)."""
    if isinstance(notifier, NamesPlatforms):
        return notifier.platform_for
    return lambda note: note.recipient.kind.value


async def _deliver_batch(
    store: Store,
    notifier: Notifier,
    clock: Clock,
    items: list[OutboxItem],
    observer: Observer,
    engine: Engine | None,
    progress: Callable[[], None],
    backoff: Backoff,
) -> tuple[int, int]:
    sent = failed = 0
    loop = asyncio.get_running_loop()
    platform_of = platform_namer(notifier)
    async with store.marking_on_loop() as mark_now:
        for item in items:
            progress()
            note = item.notification
            platform = platform_of(note)
            try:
                await notifier.deliver(note)
            except DeliveryFailed as exc:
                failure = exc
            except Exception as exc:
                # a bug in one adapter must not stop the batch, nor count as sent: it is a
                # failure like any other, retried and in the end reported
                log.exception("delivering notification %s raised", note.key)
                failure = DeliveryFailed(
                    texts.DELIVERY_BROKE.format(error=type(exc).__name__), False
                )
            else:
                # Marked before the next message is sent, so a killed worker repeats at most
                # one. On the loop when the store can do it without blocking it (SQLite's few
                # statements with its lock free, Redis's round trip awaited); otherwise off the
                # loop, as a turn's writes are, so a busy store never holds up the turns and
                # probes answered meanwhile. Two thread hand-offs per message cost more than
                # the mark itself. An email with forms also writes a read per form: never on
                # the loop.
                with_reads = platform == EMAIL_PLATFORM and bool(note.documents)
                if with_reads or not await mark_now(note.key, clock.now()):
                    await loop.run_in_executor(None, _sent, store, clock, note, platform)
                else:
                    # a platform that answers at once and a mark that never waits would hold
                    # the loop for the whole batch: let the turns and probes waiting have it
                    await asyncio.sleep(0)
                observer.delivered(platform, True)
                sent += 1
                continue
            failed += 1
            observer.delivered(platform, False)
            await loop.run_in_executor(
                None, _failed, store, engine, clock, note, failure, item.attempts + 1, backoff,
                platform,
            )
    return sent, failed


def _sent(store: Store, clock: Clock, note: Notification, platform: str) -> None:
    store.mark_sent(note.key, clock.now())
    if platform == EMAIL_PLATFORM and note.documents:
        _note_documents_sent(store, clock, note)


def _note_documents_sent(store: Store, clock: Clock, note: Notification) -> None:
    """An email carries its forms as attachments, the child's details in them: each one sent is
    a read in the case's log, in the recipient's name (a person or the partnership mailbox)."""
    for document in note.documents:
        store.record_read(CaseRead(
            case_id=note.case_id, at=clock.now(), reader=note.recipient.address.lower(),
            kind=ReadKind.DOCUMENT, platform=EMAIL_PLATFORM,
            detail=f"{document.form_id} attached",
        ), 0.0)


def _failed(
    store: Store,
    engine: Engine | None,
    clock: Clock,
    note: Notification,
    failure: DeliveryFailed,
    attempt: int,
    backoff: Backoff,
    platform: str,
) -> None:
    """Keep the row for its next try, or fail it for good; put it on the case either way."""
    delay = None if failure.permanent else backoff.delay(attempt)
    if delay is not None:
        minutes = max(1, round(delay.total_seconds() / 60))
        reason = texts.DELIVERY_RETRYING.format(
            reason=failure.reason, attempt=attempt, attempts=backoff.attempts, minutes=minutes
        )
    elif not failure.permanent:
        reason = texts.DELIVERY_GAVE_UP.format(reason=failure.reason, attempts=attempt)
    else:
        reason = failure.reason
    store.mark_failed(note.key, reason, clock.now() + delay if delay is not None else None)
    # One line per failed try, whatever the platform: ids, kinds and the reason only (reasons
    # never carry a message's content); the fields again as data for whatever reads the log.
    case = note.reference or note.case_id
    log.warning(
        "notification %s (%s) for case %s not delivered by %s: %s",
        note.key, note.kind, case, platform, reason,
        extra={
            "notification": note.key,
            "kind": note.kind,
            "case": case,
            "platform": platform,
            "try": attempt,
            "error": failure.reason,
            "final": delay is None,
        },
    )
    if engine is not None and note.case_id:  # no case: nothing to put it on (dialogs.people)
        _record_failure(engine, note, reason, final=delay is None)


def _record_failure(engine: Engine, note: Notification, reason: str, *, final: bool) -> None:
    """The failure goes on the case; a final one also alerts the business team. A person's
    command committing in between is re-read and retried, as a lapse is, so it is not lost."""
    if not note.case_id:
        return  # a message of no case (the scheduled report): the log line above is its record
    command = RecordDeliveryFailure(
        case_id=note.case_id,
        notification_key=note.key,
        notification_kind=note.kind,
        recipient=_who(note),
        reason=reason,
        final=final,
    )
    for _ in range(STALE_RETRIES):
        try:
            engine.handle(command)
            return
        except StaleCase:
            continue
        except Exception:
            log.exception("could not record a failed delivery for case %s", note.case_id)
            return
    log.warning("could not record a failed delivery for case %s: it kept changing", note.case_id)


def _who(note: Notification) -> str:
    """What failed: a webhook copy is the webhook's failure, not its original's, whose own
    delivery is a separate row."""
    recipient = note.recipient
    if recipient.kind is RecipientKind.PERSON:
        return recipient.address
    return f"{recipient.kind.value}:{recipient.address}"
