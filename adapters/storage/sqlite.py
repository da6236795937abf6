"""The Store port on one SQLite file, for a single host running one or several bot processes.

Every command is one ``BEGIN IMMEDIATE`` transaction, so the case, its history, its outbox and its
deadlines change together or not at all, and two processes never interleave writes. WAL with
``synchronous=FULL`` means a transaction that returned has reached the disk: a kill or power cut
loses nothing the engine was told was saved.

Instants are stored as fixed-width UTC text (``2024-05-01T09:00:00.000000``): it sorts like time,
round-trips microseconds exactly (the lease fencing token depends on that), and reads well in the
sqlite3 shell. Anything naive is refused: guessing its zone would move deadlines silently.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.storage.wal_checkpoint import (
    BACKSTOP_PAGES,
    WAL_SIZE_LIMIT_BYTES,
    WalCheckpointer,
)
from dialogs.audit import (
    AuditTrail,
    CaseRead,
    ChainHead,
    chain_events,
    chain_read,
    chain_stored,
    pack_hash,
    read_genesis,
)
from dialogs.case import Case, CaseStatus
from dialogs.directory import Person
from dialogs.events import Event
from dialogs.notifications import Notification
from dialogs.ports import (
    CaseExists,
    CaseSave,
    ClaimedDeadline,
    Deadline,
    MarkSent,
    OutboxItem,
    StaleVersion,
)
from policy.model import Policy

SCHEMA_VERSION = 4
BUSY_TIMEOUT_MS = 5000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cases (id TEXT PRIMARY KEY, reference TEXT NOT NULL UNIQUE,
    partnership_id TEXT NOT NULL, status TEXT NOT NULL, version INTEGER NOT NULL,
    json TEXT NOT NULL, stage INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS cases_by_status ON cases (status, partnership_id);
CREATE TABLE IF NOT EXISTS case_parties (case_id TEXT NOT NULL REFERENCES cases (id),
    email TEXT NOT NULL, case_seq INTEGER NOT NULL DEFAULT 0, is_open INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (case_id, email));
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id TEXT NOT NULL REFERENCES cases (id), at TEXT NOT NULL, type TEXT NOT NULL,
    json TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_case ON events (case_id, seq);
CREATE TABLE IF NOT EXISTS sequences (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS policy_snapshots (policy_id TEXT NOT NULL, version TEXT NOT NULL,
    json TEXT NOT NULL, PRIMARY KEY (policy_id, version));
CREATE TABLE IF NOT EXISTS people (email TEXT PRIMARY KEY, partnership_id TEXT NOT NULL,
    json TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS people_by_partnership ON people (partnership_id, email);
CREATE TABLE IF NOT EXISTS identities (platform TEXT NOT NULL, user_id TEXT NOT NULL,
    email TEXT NOT NULL, PRIMARY KEY (platform, user_id));
CREATE UNIQUE INDEX IF NOT EXISTS identities_by_email ON identities (platform, email);
CREATE TABLE IF NOT EXISTS last_platforms (email TEXT PRIMARY KEY, platform TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deadlines (key TEXT PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES cases (id), kind TEXT NOT NULL, stage INTEGER NOT NULL,
    step_id TEXT, due_at TEXT NOT NULL, claimed_by TEXT, lease_until TEXT);
CREATE INDEX IF NOT EXISTS deadlines_by_due ON deadlines (due_at);
CREATE INDEX IF NOT EXISTS deadlines_by_case ON deadlines (case_id);
CREATE TABLE IF NOT EXISTS outbox (key TEXT PRIMARY KEY, case_id TEXT NOT NULL,
    recipient TEXT NOT NULL, deliver_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, sent_at TEXT, json TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, deliver_at);
CREATE TABLE IF NOT EXISTS conversation_references (platform TEXT NOT NULL,
    user_key TEXT NOT NULL, reference TEXT NOT NULL, PRIMARY KEY (platform, user_key));
CREATE TABLE IF NOT EXISTS once_markers (key TEXT PRIMARY KEY, expires_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dialog_sessions (key TEXT PRIMARY KEY, value TEXT NOT NULL,
    expires_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS dialog_sessions_by_expiry ON dialog_sessions (expires_at);
CREATE TABLE IF NOT EXISTS case_reads (seq INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id TEXT NOT NULL, at TEXT NOT NULL, reader TEXT NOT NULL, kind TEXT NOT NULL,
    json TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS case_reads_by_case ON case_reads (case_id, seq);
CREATE INDEX IF NOT EXISTS case_reads_by_reader ON case_reads (case_id, reader, kind, seq);
CREATE TABLE IF NOT EXISTS chain_heads (case_id TEXT NOT NULL, log TEXT NOT NULL,
    count INTEGER NOT NULL, head TEXT NOT NULL, PRIMARY KEY (case_id, log));
CREATE TABLE IF NOT EXISTS audit_migrations (at TEXT NOT NULL, cases INTEGER NOT NULL,
    events INTEGER NOT NULL, note TEXT NOT NULL);
"""
# Before schema 3, half-finished conversations were kept with the conversation references,
# forever; they may hold a child's name and date of birth, so the migration removes them.
_OLD_SESSIONS = "dialog-session"

# Open cases by (partnership, stage), kept by triggers in the same transaction as every write of
# ``cases`` (ours and any other module's, such as retention's deletions), so /metrics reads a
# handful of rows instead of counting every open case. A database made before this table is
# counted once when a store opens it (see docs/decisions.md).
_COUNTS_TABLE = """CREATE TABLE open_case_counts (partnership_id TEXT NOT NULL,
    stage INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (partnership_id, stage))"""
_RECOUNT = (
    "INSERT INTO open_case_counts (partnership_id, stage, n)"
    " SELECT partnership_id, stage, COUNT(*) FROM cases WHERE status = 'open'"
    " GROUP BY partnership_id, stage"
)
_ADD = """INSERT INTO open_case_counts (partnership_id, stage, n)
    VALUES (NEW.partnership_id, NEW.stage, 1)
    ON CONFLICT (partnership_id, stage) DO UPDATE SET n = n + 1;"""
_REMOVE = """UPDATE open_case_counts SET n = n - 1
    WHERE partnership_id = OLD.partnership_id AND stage = OLD.stage;"""
_COUNT_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS open_count_insert AFTER INSERT ON cases"
    f" WHEN NEW.status = 'open' BEGIN {_ADD} END",
    "CREATE TRIGGER IF NOT EXISTS open_count_delete AFTER DELETE ON cases"
    f" WHEN OLD.status = 'open' BEGIN {_REMOVE} END",
    "CREATE TRIGGER IF NOT EXISTS open_count_leave AFTER UPDATE OF status, partnership_id, stage"
    f" ON cases WHEN OLD.status = 'open' BEGIN {_REMOVE} END",
    "CREATE TRIGGER IF NOT EXISTS open_count_enter AFTER UPDATE OF status, partnership_id, stage"
    f" ON cases WHEN NEW.status = 'open' BEGIN {_ADD} END",
)
# What makes next_due one index probe: the instant each row becomes claimable, as an expression
# the query repeats word for word (SQLite uses an expression index only for the same expression).
_CLAIMABLE_AT = "CASE WHEN claimed_by IS NULL THEN due_at ELSE MAX(due_at, lease_until) END"


def _utc(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: the store needs timezone-aware instants")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _deadline(row: sqlite3.Row) -> Deadline:
    return Deadline(
        key=row["key"],
        case_id=row["case_id"],
        kind=row["kind"],
        stage=row["stage"],
        step_id=row["step_id"],
        due_at=_instant(row["due_at"]),
    )


def _head(db: sqlite3.Connection, case_id: str, log: str) -> ChainHead | None:
    row = db.execute(
        "SELECT count, head FROM chain_heads WHERE case_id = ? AND log = ?", (case_id, log)
    ).fetchone()
    return None if row is None else ChainHead(int(row["count"]), str(row["head"]))


def _set_head(db: sqlite3.Connection, case_id: str, log: str, head: ChainHead) -> None:
    db.execute(
        "INSERT INTO chain_heads (case_id, log, count, head) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (case_id, log) DO UPDATE SET count = excluded.count, head = excluded.head",
        (case_id, log, head.count, head.head),
    )


def _pack(db: sqlite3.Connection, policy_id: str, version: str) -> str | None:
    row = db.execute(
        "SELECT json FROM policy_snapshots WHERE policy_id = ? AND version = ?",
        (policy_id, version),
    ).fetchone()
    return None if row is None else str(row["json"])


def _append_events(db: sqlite3.Connection, case: Case, events: list[Event]) -> None:
    """Inside the write's transaction, so the head read here is the one the events follow:
    BEGIN IMMEDIATE and the version check already let one writer at a time reach a case."""
    if not events:
        return
    head = _head(db, case.id, "events")
    if head is None:
        prev = pack_hash(_pack(db, case.policy_id, case.policy_version), case.policy_id,
                         case.policy_version)
        head = ChainHead(0, prev)
    stored, last = chain_events(events, head.head)
    db.executemany(
        "INSERT INTO events (case_id, at, type, json) VALUES (?, ?, ?, ?)",
        [(e.case_id, _utc(e.at), e.type.value, text) for e, text in zip(events, stored,
                                                                        strict=True)],
    )
    _set_head(db, case.id, "events", ChainHead(head.count + len(events), last))


def _chain_existing(db: sqlite3.Connection) -> None:
    """The one-off migration to schema 4: every case's events as they stand are linked once,
    and a row in audit_migrations says when, so the chain proves nothing about changes made
    before that moment (docs/decisions.md)."""
    cases = events = 0
    for case in db.execute(
        "SELECT id, json_extract(json, '$.policy_id') AS policy,"
        " json_extract(json, '$.policy_version') AS version FROM cases ORDER BY rowid"
    ).fetchall():
        rows = db.execute(
            "SELECT seq, json FROM events WHERE case_id = ? ORDER BY seq", (case["id"],)
        ).fetchall()
        if not rows or _head(db, case["id"], "events") is not None:
            continue
        genesis = pack_hash(_pack(db, case["policy"], case["version"]), case["policy"],
                            case["version"])
        stored, last = chain_stored([r["json"] for r in rows], genesis)
        db.executemany(
            "UPDATE events SET json = ? WHERE seq = ?",
            [(text, r["seq"]) for text, r in zip(stored, rows, strict=True)],
        )
        _set_head(db, case["id"], "events", ChainHead(len(rows), last))
        cases, events = cases + 1, events + len(rows)
    db.execute(
        "INSERT INTO audit_migrations (at, cases, events, note) VALUES (?, ?, ?, ?)",
        (_utc(datetime.now(UTC)), cases, events, "events chained as found at schema 4"),
    )


def _cases(rows: Iterable[sqlite3.Row]) -> list[Case]:
    return [Case.model_validate_json(row["json"]) for row in rows]


_MARK_SENT = "UPDATE outbox SET status = 'sent', sent_at = ?"


def _mark_row(db: sqlite3.Connection, key: str, update: str, *args: str) -> None:
    """An unknown key means the notifier and the store disagree; say so rather than drop it."""
    if db.execute(update + " WHERE key = ?", (*args, key)).rowcount == 0:
        raise KeyError(f"no notification {key!r} in the outbox")


def _notification(row: sqlite3.Row) -> Notification:
    return Notification.model_validate_json(row["json"])


# Rows of a person's cases newest first, from ``case_seq`` (exclusive) down; the order and the
# range come from the parties indexes, so LIMIT ends the read after a page.
PERSON_PAGE = 500
NEXT_DUE_SQL = f"SELECT MIN({_CLAIMABLE_AT}) AS next FROM deadlines"


def person_cases_sql(include_closed: bool) -> str:
    """The query behind cases_for_person (tests check its plan)."""
    scope = "" if include_closed else " AND p.is_open = 1"
    return (
        "SELECT c.json, p.case_seq FROM case_parties p CROSS JOIN cases c ON c.id = p.case_id"
        f" WHERE p.email = ?{scope} AND p.case_seq < ? ORDER BY p.case_seq DESC LIMIT ?"
    )


_SAVE_REFERENCE = (
    "INSERT INTO conversation_references (platform, user_key, reference) VALUES (?, ?, ?)"
    " ON CONFLICT (platform, user_key) DO UPDATE SET reference = excluded.reference"
)
_SAVE_LAST_PLATFORM = (
    "INSERT INTO last_platforms (email, platform) VALUES (?, ?)"
    " ON CONFLICT (email) DO UPDATE SET platform = excluded.platform"
)


class SqliteStore:
    """One connection per store object, shared by threads under a lock: sqlite3 connections are
    not safe for concurrent use, and an aiohttp app calls the store from executor threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path,
            isolation_level=None,
            check_same_thread=False,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
        self._db.row_factory = sqlite3.Row
        self._checkpointer: WalCheckpointer | None = None
        try:
            for pragma in (
                f"busy_timeout = {BUSY_TIMEOUT_MS}",
                "synchronous = FULL",
                "foreign_keys = ON",
            ):
                self._db.execute(f"PRAGMA {pragma}")
            (mode,) = self._db.execute("PRAGMA journal_mode = WAL").fetchone()
            with self._write() as db:
                self._migrate(db, self.path)
            if str(mode).lower() == "wal":  # not for an in-memory database
                self._db.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")
                self._db.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT_BYTES}")
                self._checkpointer = WalCheckpointer(self.path, busy_timeout_ms=BUSY_TIMEOUT_MS,
                                                     writes=self._lock)
        except BaseException:
            self._db.close()
            raise

    @staticmethod
    def _migrate(db: sqlite3.Connection, path: Path) -> None:
        # executescript would COMMIT our transaction; statement by statement keeps the schema
        # creation atomic when several processes open a fresh file at once.
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        row = db.execute("SELECT version FROM schema_version").fetchone()
        if row is None:
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        elif row["version"] in (1, 2, 3):
            if row["version"] == 1:
                # v2 keeps each case's stage in a column, so /metrics counts without parsing JSON
                columns = {c["name"] for c in db.execute("PRAGMA table_info(cases)")}
                if "stage" not in columns:
                    db.execute("ALTER TABLE cases ADD COLUMN stage INTEGER NOT NULL DEFAULT 0")
                db.execute("UPDATE cases SET stage = json_extract(json, '$.stage')")
            if row["version"] < 3:
                # v3 keeps conversations in dialog_sessions, with an expiry
                db.execute(
                    "DELETE FROM conversation_references WHERE platform = ?", (_OLD_SESSIONS,)
                )
            # v4 hash-chains every case's events (dialogs.audit)
            _chain_existing(db)
            db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
        elif row["version"] != SCHEMA_VERSION:
            raise RuntimeError(
                f"{path} has schema version {row['version']}; this code knows {SCHEMA_VERSION}"
            )
        db.execute(
            "CREATE INDEX IF NOT EXISTS open_cases_by_stage"
            " ON cases (status, partnership_id, stage)"
        )
        SqliteStore._migrate_reads(db)

    @staticmethod
    def _migrate_reads(db: sqlite3.Connection) -> None:
        """Indexes for bounded per-person reads and counters for /metrics. Found missing rather
        than versioned, so a database of any earlier schema gets them on open, inside the same
        transaction as the rest of the migration (two processes opening it at once count once)."""
        columns = {c["name"] for c in db.execute("PRAGMA table_info(case_parties)")}
        if "case_seq" not in columns:
            db.execute("ALTER TABLE case_parties ADD COLUMN case_seq INTEGER NOT NULL DEFAULT 0")
            db.execute("ALTER TABLE case_parties ADD COLUMN is_open INTEGER NOT NULL DEFAULT 0")
            db.execute(
                "UPDATE case_parties SET (case_seq, is_open) = (SELECT c.rowid,"
                " c.status = 'open' FROM cases c WHERE c.id = case_parties.case_id)"
            )
        db.execute("DROP INDEX IF EXISTS case_parties_by_email")
        # a person's open cases newest first, and all of them newest first: LIMIT stops early
        db.execute(
            "CREATE INDEX IF NOT EXISTS case_parties_open"
            " ON case_parties (email, is_open, case_seq)"
        )
        db.execute(
            "CREATE INDEX IF NOT EXISTS case_parties_by_person ON case_parties (email, case_seq)"
        )
        db.execute(f"CREATE INDEX IF NOT EXISTS deadlines_claimable ON deadlines ({_CLAIMABLE_AT})")
        known = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'open_case_counts'"
        ).fetchone()
        if known is None:
            db.execute(_COUNTS_TABLE)
            db.execute(_RECOUNT)
        for trigger in _COUNT_TRIGGERS:
            db.execute(trigger)

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _write(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """IMMEDIATE takes the write lock up front, so read-then-write (version checks, claims)
        cannot be overtaken by another process between the read and the write.

        ``durable=False``: committed without waiting for the disk (``synchronous=NORMAL`` for
        this one commit). Only for a write whose loss to a power cut repeats work rather than
        loses it: a message marked sent is sent again, a claim is not held, a lapse comes back
        with its deadline row to be fired again. A process crash loses nothing even so (the WAL
        is in the OS's cache), and the next durable commit syncs it with its own: one WAL, so a
        power cut can only take a suffix of such commits, never one under a later person's."""
        with self._lock, self._transaction(durable=durable) as db:
            yield db

    @contextmanager
    def _transaction(self, *, durable: bool) -> Iterator[sqlite3.Connection]:
        """``_write`` without taking the lock: for a caller that already holds it."""
        if not durable:
            self._db.execute("PRAGMA synchronous = NORMAL")
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
                if self._checkpointer is not None:
                    self._checkpointer.written()
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        finally:
            if not durable:
                self._db.execute("PRAGMA synchronous = FULL")

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A deferred transaction that only reads: under WAL it sees one committed state
        throughout and blocks no writer."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._db.execute("ROLLBACK")

    def _rows(self, sql: str, *args: object) -> list[sqlite3.Row]:
        """Reads run outside a transaction: under WAL each statement sees one committed state."""
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # ---- cases and history -------------------------------------------------------------------
    def create_case(
        self,
        case: Case,
        events: list[Event],
        notifications: list[Notification],
        deadlines: list[Deadline],
    ) -> None:
        self._check_owned(case, events, deadlines)
        with self._write() as db:
            try:
                db.execute(
                    "INSERT INTO cases (id, reference, partnership_id, status, version, json,"
                    " stage) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        case.id,
                        case.reference,
                        case.partnership_id,
                        case.status.value,
                        case.version,
                        case.model_dump_json(),
                        case.stage,
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise CaseExists(f"case {case.id} / {case.reference} already exists") from exc
            self._write_children(db, case, events, notifications, deadlines)

    def save_case(
        self,
        case: Case,
        expected_version: int,
        events: list[Event],
        notifications: list[Notification],
        deadlines: list[Deadline],
    ) -> None:
        save = CaseSave(case, expected_version, events, notifications, deadlines)
        self._check_save(save)
        with self._write() as db:
            self._apply_save(db, save)

    def save_cases(
        self, saves: list[CaseSave], completed: list[ClaimedDeadline]
    ) -> list[Exception | None]:
        """One BEGIN IMMEDIATE ... COMMIT (one fsync) for the lot; each save in its own
        savepoint, so one refused save is rolled back alone."""
        answers: list[Exception | None] = [None] * len(saves)
        checked: list[tuple[int, CaseSave]] = []
        for i, save in enumerate(saves):
            try:
                self._check_save(save)
            except ValueError as exc:
                answers[i] = exc
            else:
                checked.append((i, save))
        if not checked and not completed:
            return answers
        # the scheduler's write: its deadline rows are in the same transaction, so a power cut
        # that takes it puts the lapses back as due (see _write)
        with self._write(durable=False) as db:
            for i, save in checked:
                db.execute("SAVEPOINT case_save")
                try:
                    self._apply_save(db, save)
                except (StaleVersion, KeyError, ValueError, sqlite3.IntegrityError) as exc:
                    db.execute("ROLLBACK TO case_save")
                    answers[i] = exc
                db.execute("RELEASE case_save")
            self._complete(db, completed)
        return answers

    def _check_save(self, save: CaseSave) -> None:
        case, expected_version = save.case, save.expected_version
        if case.version != expected_version + 1:
            raise ValueError(
                f"case {case.id} is at version {case.version}; saving over {expected_version}"
                f" needs version {expected_version + 1}"
            )
        self._check_owned(case, save.events, save.deadlines)

    def _apply_save(self, db: sqlite3.Connection, save: CaseSave) -> None:
        case, expected_version = save.case, save.expected_version
        updated = db.execute(
            "UPDATE cases SET reference = ?, partnership_id = ?, status = ?, version = ?,"
            " json = ?, stage = ? WHERE id = ? AND version = ?",
            (
                case.reference,
                case.partnership_id,
                case.status.value,
                case.version,
                case.model_dump_json(),
                case.stage,
                case.id,
                expected_version,
            ),
        ).rowcount
        if updated == 0:
            if db.execute("SELECT 1 FROM cases WHERE id = ?", (case.id,)).fetchone() is None:
                raise KeyError(f"no case {case.id} to save; create it first")
            raise StaleVersion(f"case {case.id} is no longer at version {expected_version}")
        self._write_children(db, case, save.events, save.notifications, save.deadlines)

    @staticmethod
    def _check_owned(case: Case, events: list[Event], deadlines: list[Deadline]) -> None:
        """Another case's event or deadline in this write is an engine bug; refuse it before
        anything is written rather than file it under the wrong case."""
        strays = [e.case_id for e in events if e.case_id != case.id]
        strays += [d.case_id for d in deadlines if d.case_id != case.id]
        if strays:
            raise ValueError(f"writing case {case.id} with items of other cases: {strays}")

    def queue_notifications(self, notifications: list[Notification]) -> None:
        with self._write() as db:
            self._write_outbox(db, notifications)

    @staticmethod
    def _write_outbox(db: sqlite3.Connection, notifications: list[Notification]) -> None:
        # the key is the idempotency guard: a retried command or re-fired deadline adds nothing
        db.executemany(
            "INSERT OR IGNORE INTO outbox (key, case_id, recipient, deliver_at, status, json)"
            " VALUES (?, ?, ?, ?, 'pending', ?)",
            [
                (
                    n.key,
                    n.case_id,
                    n.recipient.model_dump_json(),
                    _utc(n.deliver_at),
                    n.model_dump_json(),
                )
                for n in notifications
            ],
        )

    @classmethod
    def _write_children(
        cls,
        db: sqlite3.Connection,
        case: Case,
        events: list[Event],
        notifications: list[Notification],
        deadlines: list[Deadline],
    ) -> None:
        # parties: everyone ever on the case, with the case's creation order and whether it is
        # open, so a person's latest cases are one index range that LIMIT stops early
        (seq,) = db.execute("SELECT rowid FROM cases WHERE id = ?", (case.id,)).fetchone()
        is_open = int(case.status is CaseStatus.OPEN)
        db.execute("DELETE FROM case_parties WHERE case_id = ?", (case.id,))
        db.executemany(
            "INSERT OR IGNORE INTO case_parties (case_id, email, case_seq, is_open)"
            " VALUES (?, ?, ?, ?)",
            [(case.id, p.email.lower(), seq, is_open) for p in case.participants],
        )
        _append_events(db, case, events)
        cls._write_outbox(db, notifications)
        # Deadlines are derived from the case, so replace them wholesale. Any claim on a row the
        # write keeps is voided: the worker holding it read the case before this write, so its
        # completion must not delete what the case now holds (it re-reads and fires again).
        db.execute("DELETE FROM deadlines WHERE case_id = ?", (case.id,))
        unique = {d.key: d for d in deadlines}.values()
        db.executemany(
            "INSERT INTO deadlines (key, case_id, kind, stage, step_id, due_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(d.key, d.case_id, d.kind, d.stage, d.step_id, _utc(d.due_at)) for d in unique],
        )

    def get_case(self, case_id: str) -> Case | None:
        rows = self._rows("SELECT json FROM cases WHERE id = ?", case_id)
        return Case.model_validate_json(rows[0]["json"]) if rows else None

    def get_cases(self, case_ids: list[str]) -> dict[str, Case]:
        wanted = list(dict.fromkeys(case_ids))
        found: dict[str, Case] = {}
        for start in range(0, len(wanted), 500):  # well under SQLite's bound on parameters
            chunk = wanted[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            for row in self._rows(f"SELECT id, json FROM cases WHERE id IN ({marks})", *chunk):
                found[row["id"]] = Case.model_validate_json(row["json"])
        return found

    def find_case_by_reference(self, reference: str) -> Case | None:
        rows = self._rows("SELECT json FROM cases WHERE reference = ?", reference)
        return Case.model_validate_json(rows[0]["json"]) if rows else None

    def cases_for_person(
        self, email: str, include_closed: bool = False, limit: int | None = None
    ) -> list[Case]:
        """Oldest first; with ``limit``, only the latest that many. The parties table also lists
        people who have left a case, so the active check happens on the loaded case, where the
        truth is, and a page short of leavers reads the next one. CROSS JOIN keeps the parties
        index outermost: left to itself the planner walks every open case instead."""
        sql = person_cases_sql(include_closed)
        found: list[Case] = []
        before = None
        while limit is None or len(found) < limit:
            page = PERSON_PAGE if limit is None else max(limit - len(found), 1)
            rows = self._rows(sql, email.lower(), before if before is not None else 2**62, page)
            found += [c for c in _cases(rows) if c.is_party(email)]
            if len(rows) < page:
                break
            before = rows[-1]["case_seq"]
        found = found if limit is None else found[:limit]
        return found[::-1]

    def open_cases(self, partnership_id: str | None = None) -> list[Case]:
        sql = f"SELECT json FROM cases WHERE status = '{CaseStatus.OPEN.value}'"
        if partnership_id is None:
            return _cases(self._rows(sql + " ORDER BY rowid"))
        return _cases(self._rows(sql + " AND partnership_id = ? ORDER BY rowid", partnership_id))

    def history(self, case_id: str) -> list[Event]:
        rows = self._rows("SELECT json FROM events WHERE case_id = ? ORDER BY seq", case_id)
        return [Event.model_validate_json(row["json"]) for row in rows]

    def partnership_cases(self, partnership_id: str) -> list[Case]:
        rows = self._rows(
            "SELECT json FROM cases WHERE partnership_id = ? ORDER BY rowid", partnership_id
        )
        return _cases(rows)
    # ---- the audit trail ---------------------------------------------------------------------
    def record_read(self, read: CaseRead, window_seconds: float) -> bool:
        """Appended to the case's read log unless the same reader read the case the same way
        less than ``window_seconds`` before ``read.at``; never touches the case or its version."""
        with self._write() as db:
            last = db.execute(
                "SELECT at FROM case_reads WHERE case_id = ? AND reader = ? AND kind = ?"
                " ORDER BY seq DESC LIMIT 1",
                (read.case_id, read.reader, read.kind.value),
            ).fetchone()
            if last is not None and window_seconds > 0 and _utc(read.at) < _utc(
                _instant(last["at"]) + timedelta(seconds=window_seconds)
            ):
                return False
            head = _head(db, read.case_id, "reads") or ChainHead(0, read_genesis(read.case_id))
            text, digest = chain_read(read, head.head)
            db.execute(
                "INSERT INTO case_reads (case_id, at, reader, kind, json) VALUES (?, ?, ?, ?, ?)",
                (read.case_id, _utc(read.at), read.reader, read.kind.value, text),
            )
            _set_head(db, read.case_id, "reads", ChainHead(head.count + 1, digest))
        return True

    def reads(self, case_id: str) -> list[CaseRead]:
        rows = self._rows("SELECT json FROM case_reads WHERE case_id = ? ORDER BY seq", case_id)
        return [CaseRead.model_validate_json(row["json"]) for row in rows]

    def case_ids(self, partnership_id: str | None = None) -> list[str]:
        if partnership_id is None:
            rows = self._rows("SELECT id FROM cases ORDER BY rowid")
        else:
            rows = self._rows(
                "SELECT id FROM cases WHERE partnership_id = ? ORDER BY rowid", partnership_id
            )
        return [str(row["id"]) for row in rows]

    def audit_trail(self, case_id: str) -> AuditTrail | None:
        """Read in one transaction, so a write landing meanwhile cannot look like a break."""
        with self._snapshot() as db:
            case = db.execute(
                "SELECT reference, json_extract(json, '$.policy_id') AS policy,"
                " json_extract(json, '$.policy_version') AS version FROM cases WHERE id = ?",
                (case_id,),
            ).fetchone()
            if case is None:
                return None
            events = db.execute(
                "SELECT json FROM events WHERE case_id = ? ORDER BY seq", (case_id,)
            ).fetchall()
            reads = db.execute(
                "SELECT json FROM case_reads WHERE case_id = ? ORDER BY seq", (case_id,)
            ).fetchall()
            return AuditTrail(
                case_id=case_id,
                reference=str(case["reference"]),
                policy_id=str(case["policy"]),
                policy_version=str(case["version"]),
                pack=_pack(db, case["policy"], case["version"]),
                events=[str(row["json"]) for row in events],
                reads=[str(row["json"]) for row in reads],
                event_head=_head(db, case_id, "events"),
                read_head=_head(db, case_id, "reads"),
            )

    def next_sequence(self, name: str) -> int:
        with self._write() as db:
            (row,) = db.execute(
                "INSERT INTO sequences (name, value) VALUES (?, 1)"
                " ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
                (name,),
            ).fetchall()
        return int(row["value"])

    # ---- frozen policy versions --------------------------------------------------------------
    def save_policy_snapshot(self, policy: Policy) -> None:
        """First write wins: a case must keep the rules it was raised under, even if someone
        edits the pack without bumping its version."""
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO policy_snapshots (policy_id, version, json)"
                " VALUES (?, ?, ?)",
                (policy.id, policy.version, policy.model_dump_json()),
            )

    def policy_snapshot(self, policy_id: str, version: str) -> Policy | None:
        rows = self._rows(
            "SELECT json FROM policy_snapshots WHERE policy_id = ? AND version = ?",
            policy_id,
            version,
        )
        return Policy.model_validate_json(rows[0]["json"]) if rows else None

    # ---- directory ---------------------------------------------------------------------------
    def upsert_people(self, people: list[Person]) -> None:
        with self._write() as db:
            db.executemany(
                "INSERT INTO people (email, partnership_id, json) VALUES (?, ?, ?)"
                " ON CONFLICT (email) DO UPDATE SET partnership_id = excluded.partnership_id,"
                " json = excluded.json",
                [(p.email.lower(), p.partnership_id, p.model_dump_json()) for p in people],
            )

    def person(self, email: str) -> Person | None:
        rows = self._rows("SELECT json FROM people WHERE email = ?", email.lower())
        return Person.model_validate_json(rows[0]["json"]) if rows else None

    def save_identities(self, platform: str, accounts: dict[str, str]) -> None:
        if not accounts:
            return
        with self._write() as db:
            for email, user_id in accounts.items():
                self._bind(db, platform, email, user_id)

    @staticmethod
    def _bind(db: sqlite3.Connection, platform: str, email: str, user_id: str) -> None:
        db.execute(
            "DELETE FROM identities WHERE platform = ? AND (user_id = ? OR email = ?)",
            (platform, user_id, email.lower()),
        )
        db.execute(
            "INSERT INTO identities (platform, user_id, email) VALUES (?, ?, ?)",
            (platform, user_id, email.lower()),
        )

    def save_arrival(
        self,
        references: Sequence[tuple[str, str, str]] = (),
        identity: tuple[str, str, str] | None = None,
        last_platform: tuple[str, str] | None = None,
    ) -> None:
        if not references and identity is None and last_platform is None:
            return
        with self._write() as db:
            if identity is not None:
                self._bind(db, *identity)
            for platform, user_key, reference in references:
                db.execute(_SAVE_REFERENCE, (platform, user_key, reference))
            if last_platform is not None:
                db.execute(_SAVE_LAST_PLATFORM, (last_platform[0].lower(), last_platform[1]))

    def identity(self, platform: str, email: str) -> str | None:
        rows = self._rows(
            "SELECT user_id FROM identities WHERE platform = ? AND email = ?",
            platform,
            email.lower(),
        )
        return str(rows[0]["user_id"]) if rows else None

    def email_for_identity(self, platform: str, user_id: str) -> str | None:
        rows = self._rows(
            "SELECT email FROM identities WHERE platform = ? AND user_id = ?", platform, user_id
        )
        return str(rows[0]["email"]) if rows else None

    def save_last_platform(self, email: str, platform: str) -> None:
        with self._write() as db:
            db.execute(_SAVE_LAST_PLATFORM, (email.lower(), platform))

    def last_platform(self, email: str) -> str | None:
        rows = self._rows("SELECT platform FROM last_platforms WHERE email = ?", email.lower())
        return str(rows[0]["platform"]) if rows else None

    def people(self, partnership_id: str) -> list[Person]:
        rows = self._rows(
            "SELECT json FROM people WHERE partnership_id = ? ORDER BY email", partnership_id
        )
        return [Person.model_validate_json(row["json"]) for row in rows]

    # ---- deadlines ---------------------------------------------------------------------------
    def claim_due(
        self, now: datetime, worker: str, lease_seconds: float, limit: int
    ) -> list[ClaimedDeadline]:
        """Select and mark under one write lock, so no two workers hold a live lease on a row."""
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        at, lease_until = _utc(now), _instant(_utc(now + timedelta(seconds=lease_seconds)))
        with self._write(durable=False) as db:  # a claim lost to a power cut is not held
            rows = db.execute(
                "SELECT * FROM deadlines WHERE due_at <= ?"
                " AND (claimed_by IS NULL OR lease_until < ?) ORDER BY due_at, key LIMIT ?",
                (at, at, max(limit, 0)),
            ).fetchall()
            db.executemany(
                "UPDATE deadlines SET claimed_by = ?, lease_until = ? WHERE key = ?",
                [(worker, _utc(lease_until), row["key"]) for row in rows],
            )
        return [ClaimedDeadline(_deadline(row), worker, lease_until) for row in rows]

    def complete_deadline(self, claim: ClaimedDeadline) -> bool:
        """Worker and lease end together are the fencing token: a worker whose lease expired and
        was re-claimed cannot delete the row from under the new holder."""
        with self._write() as db:
            return self._complete(db, [claim]) == 1

    @staticmethod
    def _complete(db: sqlite3.Connection, claims: list[ClaimedDeadline]) -> int:
        deleted = 0
        for claim in claims:
            deleted += db.execute(
                "DELETE FROM deadlines WHERE key = ? AND claimed_by = ? AND lease_until = ?",
                (claim.deadline.key, claim.worker, _utc(claim.lease_until)),
            ).rowcount
        return deleted

    def release_deadline(self, claim: ClaimedDeadline) -> bool:
        """Give a claim back unfired, so the next tick may take the row at once."""
        with self._write() as db:
            released = db.execute(
                "UPDATE deadlines SET claimed_by = NULL, lease_until = NULL"
                " WHERE key = ? AND claimed_by = ? AND lease_until = ?",
                (claim.deadline.key, claim.worker, _utc(claim.lease_until)),
            ).rowcount
        return released == 1

    def deadlines_for_case(self, case_id: str) -> list[Deadline]:
        rows = self._rows("SELECT * FROM deadlines WHERE case_id = ? ORDER BY due_at, key", case_id)
        return [_deadline(row) for row in rows]

    def next_due(self) -> datetime | None:
        """When the next deadline becomes claimable: its due time, or for one held under a lease
        the lease's end, so a scheduler sleeping until then never spins on a row it cannot take.
        One probe of the ``deadlines_claimable`` index: /readyz asks on every probe."""
        (row,) = self._rows(NEXT_DUE_SQL)
        return None if row["next"] is None else _instant(row["next"])

    def count_due(self, now: datetime) -> int:
        (row,) = self._rows("SELECT COUNT(*) AS n FROM deadlines WHERE due_at <= ?", _utc(now))
        return int(row["n"])

    # ---- outbox ------------------------------------------------------------------------------
    def due_notifications(self, now: datetime, limit: int) -> list[OutboxItem]:
        """A retry is a pending row whose deliver_at moved on; the notification itself is
        returned as the engine wrote it."""
        rows = self._rows(
            "SELECT json, attempts FROM outbox WHERE status = 'pending' AND deliver_at <= ?"
            " ORDER BY deliver_at, rowid LIMIT ?",
            _utc(now),
            max(limit, 0),
        )
        return [OutboxItem(_notification(row), row["attempts"]) for row in rows]

    def claim_notifications(
        self, now: datetime, worker: str, lease_seconds: float, limit: int
    ) -> list[OutboxItem]:
        """The lease is the row's deliver_at moved forward: no extra state, and a worker that dies
        simply lets the row fall due again."""
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        with self._write(durable=False) as db:  # a claim lost to a power cut is not held
            rows = db.execute(
                "SELECT key, json, attempts FROM outbox WHERE status = 'pending'"
                " AND deliver_at <= ? ORDER BY deliver_at, rowid LIMIT ?",
                (_utc(now), max(limit, 0)),
            ).fetchall()
            lease_until = _utc(now + timedelta(seconds=lease_seconds))
            db.executemany(
                "UPDATE outbox SET deliver_at = ? WHERE key = ?",
                [(lease_until, row["key"]) for row in rows],
            )
        return [OutboxItem(_notification(row), row["attempts"]) for row in rows]

    def count_due_notifications(self, now: datetime) -> int:
        """Due and not taken by a worker (a claim moves deliver_at to the lease's end)."""
        (row,) = self._rows(
            "SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending' AND deliver_at <= ?",
            _utc(now),
        )
        return int(row["n"])

    def mark_sent(self, key: str, at: datetime) -> None:
        """Not waited for on disk (see ``_write``): a backlog of 60,000 messages paid an fsync
        each, and a mark lost to a power cut only sends its message again."""
        self._mark(key, _MARK_SENT, _utc(at), durable=False)

    @asynccontextmanager
    async def marking_on_loop(self) -> AsyncIterator[MarkSent]:
        yield self.try_mark_sent

    async def try_mark_sent(self, key: str, at: datetime) -> bool:
        """``mark_sent`` if it can be done at once, or False: the lock is taken without waiting,
        and SQLite's write lock likewise (``busy_timeout`` 0 for this one write), so a turn's
        write in a worker thread, the checkpointer's locked finish or another process writing
        the file make this False at once rather than hold up the event loop that calls it. The
        write itself is the mark's few statements, committed without waiting for the disk."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            self._db.execute("PRAGMA busy_timeout = 0")
            try:
                with self._transaction(durable=False) as db:
                    _mark_row(db, key, _MARK_SENT, _utc(at))
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                    return False
                raise
            finally:
                self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        finally:
            self._lock.release()
        return True

    def mark_failed(self, key: str, error: str, retry_at: datetime | None) -> None:
        if retry_at is None:
            self._mark(
                key,
                "UPDATE outbox SET status = 'failed', last_error = ?, attempts = attempts + 1",
                error,
            )
        else:
            self._mark(
                key,
                "UPDATE outbox SET deliver_at = ?, last_error = ?, attempts = attempts + 1",
                _utc(retry_at),
                error,
            )

    def _mark(self, key: str, update: str, *args: str, durable: bool = True) -> None:
        with self._write(durable=durable) as db:
            _mark_row(db, key, update, *args)

    def notification(self, key: str) -> tuple[Notification, str] | None:
        rows = self._rows("SELECT json, status FROM outbox WHERE key = ?", key)
        return (_notification(rows[0]), rows[0]["status"]) if rows else None

    # ---- retention ---------------------------------------------------------------------------
    def all_cases(self, partnership_id: str | None = None) -> list[Case]:
        if partnership_id is None:
            return _cases(self._rows("SELECT json FROM cases ORDER BY rowid"))
        return _cases(
            self._rows("SELECT json FROM cases WHERE partnership_id = ? ORDER BY rowid",
                       partnership_id)
        )

    def outbox_keys(self, case_ids: list[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for start in range(0, len(case_ids), 500):  # under SQLite's limit on parameters
            chunk = case_ids[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self._rows(
                f"SELECT key, case_id FROM outbox WHERE case_id IN ({marks}) ORDER BY rowid",
                *chunk,
            )
            for row in rows:
                found.setdefault(str(row["case_id"]), []).append(str(row["key"]))
        return found

    def anonymise_case(
        self, case: Case, expected_version: int, events: list[Event], outbox_keys: list[str]
    ) -> None:
        """One transaction: the version check and the case as save_case does it, then the listed
        rows of this case's outbox (a key of another case is left alone)."""
        if case.version != expected_version + 1:
            raise ValueError(
                f"case {case.id} is at version {case.version}; saving over {expected_version}"
                f" needs version {expected_version + 1}"
            )
        self._check_owned(case, events, [])
        with self._write() as db:
            updated = db.execute(
                "UPDATE cases SET status = ?, version = ?, json = ?, stage = ?"
                " WHERE id = ? AND version = ?",
                (case.status.value, case.version, case.model_dump_json(), case.stage, case.id,
                 expected_version),
            ).rowcount
            if updated == 0:
                if db.execute("SELECT 1 FROM cases WHERE id = ?", (case.id,)).fetchone() is None:
                    raise KeyError(f"no case {case.id} to anonymise")
                raise StaleVersion(f"case {case.id} is no longer at version {expected_version}")
            self._write_children(db, case, events, [], [])
            db.executemany(
                "DELETE FROM outbox WHERE key = ? AND case_id = ?",
                [(key, case.id) for key in outbox_keys],
            )

    def sent_notification_keys(self, sent_before: datetime) -> list[str]:
        rows = self._rows(
            "SELECT key FROM outbox WHERE status = 'sent' AND sent_at <= ? ORDER BY rowid",
            _utc(sent_before),
        )
        return [str(row["key"]) for row in rows]

    def delete_sent_notifications(self, keys: list[str], sent_before: datetime) -> int:
        cutoff = _utc(sent_before)
        with self._write() as db:
            return sum(
                db.execute(
                    "DELETE FROM outbox WHERE key = ? AND status = 'sent' AND sent_at <= ?",
                    (key, cutoff),
                ).rowcount
                for key in keys
            )

    def expired_counts(self, now: datetime) -> tuple[int, int]:
        at = _utc(now)
        (markers,) = self._rows("SELECT COUNT(*) AS n FROM once_markers WHERE expires_at <= ?", at)
        (sessions,) = self._rows(
            "SELECT COUNT(*) AS n FROM dialog_sessions WHERE expires_at <= ?", at
        )
        return int(markers["n"]), int(sessions["n"])

    def purge_markers(self, now: datetime) -> int:
        with self._write() as db:
            return int(
                db.execute("DELETE FROM once_markers WHERE expires_at <= ?", (_utc(now),))
                .rowcount
            )

    # ---- platform support and metrics --------------------------------------------------------
    def save_conversation_reference(self, platform: str, user_key: str, reference: str) -> None:
        with self._write() as db:
            db.execute(_SAVE_REFERENCE, (platform, user_key, reference))

    def conversation_reference(self, platform: str, user_key: str) -> str | None:
        rows = self._rows(
            "SELECT reference FROM conversation_references WHERE platform = ? AND user_key = ?",
            platform,
            user_key,
        )
        return str(rows[0]["reference"]) if rows else None

    def save_session(self, key: str, value: str, expires_at: datetime) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO dialog_sessions (key, value, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
                " expires_at = excluded.expires_at",
                (key, value, _utc(expires_at)),
            )

    def session(self, key: str, now: datetime) -> str | None:
        rows = self._rows(
            "SELECT value FROM dialog_sessions WHERE key = ? AND expires_at > ?", key, _utc(now)
        )
        return str(rows[0]["value"]) if rows else None

    def delete_session(self, key: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM dialog_sessions WHERE key = ?", (key,))

    def purge_sessions(self, now: datetime) -> int:
        with self._write() as db:
            return int(
                db.execute("DELETE FROM dialog_sessions WHERE expires_at <= ?", (_utc(now),))
                .rowcount
            )

    def mark_once(self, key: str, now: datetime, ttl_seconds: float) -> bool:
        with self._write() as db:
            db.execute(
                "DELETE FROM once_markers WHERE key = ? AND expires_at <= ?", (key, _utc(now))
            )
            inserted = db.execute(
                "INSERT OR IGNORE INTO once_markers (key, expires_at) VALUES (?, ?)",
                (key, _utc(now + timedelta(seconds=ttl_seconds))),
            ).rowcount
        return inserted == 1

    def open_case_counts(self) -> dict[tuple[str, int], int]:
        """From the counters the triggers keep: /metrics calls this on every scrape, and counting
        the cases themselves grew with every open case."""
        rows = self._rows("SELECT partnership_id, stage, n FROM open_case_counts WHERE n > 0")
        return {(row["partnership_id"], int(row["stage"])): int(row["n"]) for row in rows}

    def recount_open_cases(self) -> None:
        """Count the open cases afresh, in one write. The triggers keep the counters right for
        every write of ``cases``; this is for an operator who doubts them."""
        with self._write() as db:
            db.execute("DELETE FROM open_case_counts")
            db.execute(_RECOUNT)
