"""`escalation-bot audit verify` and `audit export REF`: the business team's proof of a history.

Both run on the server beside the bot, on its store (``--db`` for a SQLite file, else the store
the bot itself uses: Redis when ESCALATION_BOT_REDIS_URL is set). Neither needs the
configuration: everything they say comes from the store. Neither prints a child's details: the
events and reads hold none (dialogs/events.py, dialogs/audit.py), and the case header exported is
its reference, partnership, pack and status only.
"""

from __future__ import annotations

import csv
import getpass
import heapq
import io
import json
import sqlite3
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError

from adapters.storage.redis import RedisStore
from adapters.storage.sqlite import SqliteStore
from bot.bootstrap import ClosableStore
from bot.settings import Settings, SettingsError, shown_url
from bot.whole_file import CannotWrite, write_whole
from dialogs import texts
from dialogs.audit import AuditTrail, Break, CaseRead, entry_hash, verify_trail
from dialogs.case import Case
from dialogs.directory import Person
from dialogs.events import Event
from dialogs.history_view import BOT_ACTORS, known_people, named

EXIT_OK, EXIT_BROKEN = 0, 1
CSV_COLUMNS = (
    "n", "log", "at", "what", "stage", "who", "who_name", "who_agency", "platform", "summary",
    "summary_named", "detail", "prev", "hash",
)
OPERATOR_PREFIX = "os:"


class AuditProblem(Exception):
    """Something the person running the command can fix; the message says what and how."""


def operator() -> str:
    """Who ran a command on the server, as its read log names them: the operating-system
    account, the one identity the machine vouches for."""
    return OPERATOR_PREFIX + getpass.getuser()


def open_store(database: str | None) -> tuple[ClosableStore, str]:
    """``--db`` always means that SQLite file; otherwise the store the bot itself would use.
    A missing file is refused rather than created: an empty new database would only say that
    every history is intact."""
    try:
        settings = Settings.from_env(None, database)
    except SettingsError as exc:
        raise AuditProblem(f"settings: {exc}") from None
    if settings.redis_url and database is None:
        try:
            store = RedisStore(settings.redis_url, prefix=settings.redis_prefix)
        except RedisError as exc:
            raise AuditProblem(
                texts.AUDIT_NO_REDIS.format(url=shown_url(settings.redis_url), reason=exc)
            ) from None
        return store, settings.redis_url
    path = settings.database_path
    if not path.is_file():
        raise AuditProblem(texts.AUDIT_NO_DATABASE.format(path=path))
    try:
        return SqliteStore(path), str(path)
    except (sqlite3.Error, RuntimeError) as exc:
        raise AuditProblem(texts.AUDIT_BAD_DATABASE.format(path=path, reason=exc)) from None


def _guarded(run: Callable[..., int], *args: Any) -> int:
    try:
        return run(*args)
    except AuditProblem as exc:
        print(exc, file=sys.stderr)
        return EXIT_BROKEN
    except RedisError as exc:
        print(texts.AUDIT_NO_REDIS.format(url="the configured Redis", reason=exc),
              file=sys.stderr)
        return EXIT_BROKEN


# ---- verify ----------------------------------------------------------------------------------
def run_verify(partnership: str | None, database: str | None) -> int:
    return _guarded(_verify, partnership, database)


def _verify(partnership: str | None, database: str | None) -> int:
    store, where = open_store(database)
    try:
        ids = store.case_ids(partnership)
        if partnership is not None and not ids:
            raise AuditProblem(
                texts.AUDIT_NO_PARTNERSHIP_CASES.format(partnership=partnership, store=where)
            )
        events = reads = broken = 0
        for case_id in ids:
            trail = store.audit_trail(case_id)
            if trail is None:  # removed since it was listed (retention): nothing left to check
                continue
            events, reads = events + len(trail.events), reads + len(trail.reads)
            found = verify_trail(trail)
            if found is not None:
                broken += 1
                print(describe(found))
    finally:
        store.close()
    if broken:
        print(texts.AUDIT_BROKEN.format(broken=broken, cases=texts.counted(len(ids), "case"),
                                        have="has" if broken == 1 else "have", store=where,
                                        events=texts.counted(events, "event"),
                                        reads=texts.counted(reads, "read")))
        return EXIT_BROKEN
    print(texts.AUDIT_VERIFIED.format(cases=texts.counted(len(ids), "case"),
                                      events=texts.counted(events, "event"),
                                      reads=texts.counted(reads, "read"), store=where))
    return EXIT_OK


def describe(found: Break) -> str:
    """One line: the case, which entry (number, type, time) and what differs."""
    if not found.number:
        return texts.AUDIT_BREAK_LOG.format(reference=found.reference, log=found.log,
                                            what=found.what)
    entry = texts.AUDIT_BREAK_ENTRY.format(type=found.entry_type, at=found.at) \
        if found.entry_type else ""
    return texts.AUDIT_BREAK.format(reference=found.reference, log=found.log[:-1],
                                    number=found.number, what_entry=entry, what=found.what)


# ---- export ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Export:
    case: dict[str, str]
    chain: str
    entries: list[dict[str, str]]


def run_export(reference: str, fmt: str, out: str | None, database: str | None) -> int:
    return _guarded(_export, reference, fmt, out, database)


def _export(reference: str, fmt: str, out: str | None, database: str | None) -> int:
    store, where = open_store(database)
    try:
        ref = reference.strip()
        case = store.get_case(ref) or store.find_case_by_reference(ref.upper())
        if case is None:
            raise AuditProblem(texts.AUDIT_UNKNOWN_CASE.format(reference=ref, store=where))
        trail = store.audit_trail(case.id)
        if trail is None:
            raise AuditProblem(texts.AUDIT_UNKNOWN_CASE.format(reference=ref, store=where))
        found = verify_trail(trail)
        exported = build_export(
            case, trail, {p.email.lower(): p for p in store.people(case.partnership_id)},
            describe(found) if found is not None else texts.AUDIT_INTACT,
        )
    finally:
        store.close()
    text = to_json(exported) if fmt == "json" else to_csv(exported)
    if out is None:
        sys.stdout.write(text)
        return EXIT_OK
    _write(Path(out), text)
    print(texts.AUDIT_WROTE.format(path=out), file=sys.stderr)
    return EXIT_OK


def build_export(
    case: Case, trail: AuditTrail, people: Mapping[str, Person], chain: str
) -> Export:
    """Events and reads merged by time, each log keeping its own order; every person by email
    and by name, as the directory or the case knows them. Read from the one trail ``verify``
    checked, so what is exported is what was proved (or shown broken in ``chain``)."""
    known = known_people(case, people, {})
    events = [(Event.model_validate_json(row), entry_hash(row)) for row in trail.events]
    reads = [(CaseRead.model_validate_json(row), entry_hash(row)) for row in trail.reads]

    def who(email: str) -> tuple[str, str]:
        if email in BOT_ACTORS:
            return texts.HISTORY_THE_BOT, ""
        if email.startswith(OPERATOR_PREFIX):
            return texts.AUDIT_OPERATOR.format(user=email[len(OPERATOR_PREFIX):]), ""
        return known.get(email.lower(), (texts.HISTORY_UNKNOWN_PERSON, ""))

    def event_rows() -> Iterator[tuple[str, dict[str, str]]]:
        for event, digest in events:
            name, agency = who(event.actor)
            yield event.at.isoformat(), {
                "log": "event", "at": event.at.isoformat(), "what": event.type.value,
                "stage": str(event.stage), "who": event.actor, "who_name": name,
                "who_agency": agency, "platform": event.platform,
                "summary": event.summary, "summary_named": named(event.summary, known),
                "detail": json.dumps(event.data, sort_keys=True) if event.data else "",
                "prev": event.prev, "hash": digest,
            }

    def read_rows() -> Iterator[tuple[str, dict[str, str]]]:
        for read, digest in reads:
            name, agency = who(read.reader)
            summary = texts.AUDIT_READ_SUMMARIES[read.kind.value].format(detail=read.detail)
            yield read.at.isoformat(), {
                "log": "read", "at": read.at.isoformat(), "what": f"read_{read.kind.value}",
                "stage": "", "who": read.reader, "who_name": name, "who_agency": agency,
                "platform": read.platform, "summary": summary, "summary_named": summary,
                "detail": read.detail, "prev": read.prev,
                "hash": digest,
            }

    merged = heapq.merge(event_rows(), read_rows(), key=lambda row: _instant_key(row[0]))
    entries = [{"n": str(n), **row} for n, (_, row) in enumerate(merged, start=1)]
    header = {
        "reference": case.reference, "partnership": case.partnership_id,
        "policy": case.policy_id, "policy_version": case.policy_version,
        "status": case.status.value, "stage": str(case.stage),
        "raised_at": case.raised_at.isoformat(),
    }
    return Export(case=header, chain=chain, entries=entries)


def _instant_key(at: str) -> float:
    return datetime.fromisoformat(at).timestamp()


def to_json(exported: Export) -> str:
    return json.dumps(
        {"case": exported.case, "chain": exported.chain, "entries": exported.entries},
        indent=2, ensure_ascii=False,
    ) + "\n"


def to_csv(exported: Export) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(exported.entries)
    return buffer.getvalue()


def _write(target: Path, text: str) -> None:
    try:
        write_whole(target, text.encode("utf-8"))
    except CannotWrite as exc:
        said = texts.AUDIT_CANNOT_WRITE.format(path=target, reason=exc.reason)
        raise AuditProblem(said) from None
