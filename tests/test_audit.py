"""Who did and who saw what: reads recorded through the chat, `audit verify` and `audit export`
on the CLI, and the one-off linking of histories written before the chains, on both stores.

The tampering is done straight in the database (sqlite3 / redis-py), never through the store.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from redis_support import URL
from support import (
    EXAMPLE_CONFIG,
    STORES,
    app_on_store,
    clock_of,
    current,
    escalate_to,
    practitioners,
    raise_case,
)

from adapters.storage.redis import RedisStore
from adapters.storage.sqlite import SqliteStore
from bot.audit import operator
from bot.bootstrap import App
from bot.cli import main
from bot.record import run_record
from dialogs import texts
from dialogs.audit import READ_WINDOW, ReadKind, verify_trail
from dialogs.conversation import REFRESH_VERB, ConversationService

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(params=STORES)
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[App]:
    with app_on_store(str(request.param), tmp_path, "audit") as built:
        yield built


@pytest.fixture(autouse=True)
def no_bot_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands as the business team runs them: only the settings each test gives."""
    for name in list(os.environ):
        if name.startswith("ESCALATION_BOT_"):
            monkeypatch.delenv(name)


def point_cli_at(app: App, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The argv that makes `audit` use the app's store: --db for SQLite, settings for Redis."""
    store = app.store
    if isinstance(store, RedisStore):
        monkeypatch.setenv("ESCALATION_BOT_REDIS_URL", URL)
        monkeypatch.setenv("ESCALATION_BOT_REDIS_PREFIX", store.prefix)
        return []
    assert isinstance(store, SqliteStore)
    return ["--db", str(store.path)]


def where(app: App) -> str:
    store = app.store
    return URL if isinstance(store, RedisStore) else str(getattr(store, "path", ""))


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def rewrite_event(app: App, case_id: str, index: int, old: str, new: str) -> None:
    """Change one stored event's text behind the store's back."""
    store = app.store
    if isinstance(store, RedisStore):
        client = redis.Redis.from_url(URL, decode_responses=True)
        key = store.key("case-events", case_id)
        row = str(client.lindex(key, index))
        assert old in row
        client.lset(key, index, row.replace(old, new))
        client.close()
        return
    assert isinstance(store, SqliteStore)
    db = sqlite3.connect(store.path)
    with db:
        seq, row = db.execute(
            "SELECT seq, json FROM events WHERE case_id = ? ORDER BY seq LIMIT 1 OFFSET ?",
            (case_id, index),
        ).fetchone()
        assert old in row
        db.execute("UPDATE events SET json = ? WHERE seq = ?", (row.replace(old, new), seq))
    db.close()


def service(app: App, platform: str = "teams") -> ConversationService:
    return ConversationService(
        app.engine, app.store, today=lambda: app.clock.now().date(), platform=platform
    )


# ---- reads through the chat ------------------------------------------------------------------
def test_show_history_and_open_are_read_events_that_move_no_version(app: App) -> None:
    case = raise_case(app, "northbay")
    raiser, counterpart = practitioners(app, "northbay")
    chat = service(app)
    chat.on_text(raiser.email, f"show {case.reference}")
    chat.on_text(raiser.email, f"show {case.reference}")  # again at once: recorded once
    chat.on_text(raiser.email, f"history {case.reference}")
    chat.on_action(counterpart.email, REFRESH_VERB, {"case_id": case.id}, {})
    clock_of(app).advance(READ_WINDOW + timedelta(seconds=1))
    chat.on_text(raiser.email, f"show {case.reference}")  # after the window: recorded again

    reads = app.store.reads(case.id)
    assert [(r.reader, r.kind, r.platform) for r in reads] == [
        (raiser.email, ReadKind.SHOW, "teams"),
        (raiser.email, ReadKind.HISTORY, "teams"),
        (counterpart.email, ReadKind.CARD, "teams"),
        (raiser.email, ReadKind.SHOW, "teams"),
    ]
    assert current(app, case).version == case.version  # every card drawn before is still fresh
    trail = app.store.audit_trail(case.id)
    assert trail is not None and verify_trail(trail) is None


def test_someone_refused_a_look_leaves_no_read(app: App) -> None:
    case = raise_case(app, "northbay")
    (stranger, _) = practitioners(app, "havenport")
    replies = service(app).on_text(stranger.email, f"show {case.reference}")
    assert replies[0].card is None  # told there is no such case
    assert app.store.reads(case.id) == []


def test_a_record_document_is_a_read_by_the_operator(app: App, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    case = escalate_to(app, raise_case(app, "northbay"), 2)
    argv = point_cli_at(app, monkeypatch)
    database = argv[1] if argv else None
    out = tmp_path / "forms"
    out.mkdir()
    code = run_record(case.reference, None, "docx", str(out), database, str(EXAMPLE_CONFIG))
    assert code == 0
    (read,) = app.store.reads(case.id)
    assert (read.reader, read.kind, read.platform, read.detail) == (
        operator(), ReadKind.DOCUMENT, "cli", "appendix-1 docx")


# ---- audit verify ----------------------------------------------------------------------------
def test_verify_passes_a_clean_store_with_one_line(
    app: App, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = escalate_to(app, raise_case(app, "northbay"), 2)
    raise_case(app, "havenport")
    service(app).on_text(first.raised_by, f"show {first.reference}")
    events = sum(len(app.store.history(i)) for i in app.store.case_ids())
    code, out, err = cli(capsys, "audit", "verify", *point_cli_at(app, monkeypatch))
    assert (code, err) == (0, "")
    assert out == (f"audit verify: 2 cases, {events} events and 1 read checked in "
                   f"{where(app)}: every history is intact.\n")


def test_verify_names_the_first_break_and_exits_1(
    app: App, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    case = escalate_to(app, raise_case(app, "northbay"), 2)
    raise_case(app, "northbay")
    second = app.store.history(case.id)[1]
    rewrite_event(app, case.id, 1, f'"summary":"{second.summary}"',
                  '"summary":"nothing to see"')
    code, out, err = cli(capsys, "audit", "verify", *point_cli_at(app, monkeypatch))
    assert (code, err) == (1, "")
    lines = out.splitlines()
    stored_at = second.at.isoformat().replace("+00:00", "Z")  # as the JSON holds it
    assert lines[0] == (
        f"{case.reference}: event 2 ({second.type.value} at {stored_at}): changed"
        " content: it is not what was recorded (entry 3 holds the hash of something else)"
    )
    assert lines[1].startswith(f"audit verify: 1 of 2 cases in {where(app)} has a broken")
    assert len(lines) == 2


def test_verify_of_one_partnership_and_of_an_unknown_one(
    app: App, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    raise_case(app, "northbay")
    case = raise_case(app, "havenport")
    argv = point_cli_at(app, monkeypatch)
    code, out, _ = cli(capsys, "audit", "verify", "--partnership", "havenport", *argv)
    assert code == 0
    assert out.startswith("audit verify: 1 case, ")
    assert len(app.store.history(case.id)) > 0
    code, out, err = cli(capsys, "audit", "verify", "--partnership", "nowhere", *argv)
    assert (code, out) == (1, "")
    assert err == texts.AUDIT_NO_PARTNERSHIP_CASES.format(partnership="nowhere",
                                                          store=where(app)) + "\n"


def test_verify_refuses_a_missing_database_without_creating_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.sqlite3"
    code, out, err = cli(capsys, "audit", "verify", "--db", str(missing))
    assert (code, out) == (1, "")
    assert err == texts.AUDIT_NO_DATABASE.format(path=missing) + "\n"
    assert not missing.exists()


def test_verify_as_a_real_process_exits_1_on_a_break(tmp_path: Path) -> None:
    with app_on_store("sqlite", tmp_path) as built:
        case = raise_case(built, "northbay")
        rewrite_event(built, case.id, 0, '"stage":1', '"stage":2')
        database = str(getattr(built.store, "path", ""))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ESCALATION_BOT_")}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "audit", "verify", "--db", database],
        cwd=tmp_path, env={**clean, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith(f"{case.reference}: event 1 (concern_raised at ")
    assert "changed content" in result.stdout and "Traceback" not in result.stderr


# ---- audit export ----------------------------------------------------------------------------
def test_export_json_holds_every_event_and_read_by_name_and_email(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    case = escalate_to(app, raise_case(app, "northbay"), 2)
    raiser, counterpart = practitioners(app, "northbay")
    service(app).on_text(counterpart.email, f"history {case.reference}")
    service(app, "slack").on_text(counterpart.email, f"ack {case.reference}")
    argv = point_cli_at(app, monkeypatch)
    out = tmp_path / "history.json"
    code, printed, err = cli(capsys, "audit", "export", case.reference.lower(), "--out",
                             str(out), *argv)
    assert (code, printed) == (0, "")
    assert err == texts.AUDIT_WROTE.format(path=out) + "\n"
    exported = json.loads(out.read_text())
    assert exported["case"]["reference"] == case.reference
    assert exported["chain"] == texts.AUDIT_INTACT
    events = app.store.history(case.id)
    entries = exported["entries"]
    assert [e["what"] for e in entries if e["log"] == "event"] == [e.type.value for e in events]
    assert [e["prev"] for e in entries if e["log"] == "event"] == [e.prev for e in events]
    (read,) = [e for e in entries if e["log"] == "read"]
    assert (read["what"], read["who"], read["who_name"], read["platform"]) == (
        "read_history", counterpart.email, counterpart.name, "teams")
    acked = [e for e in entries if e["what"] == "acknowledged"]
    assert [(e["who"], e["platform"]) for e in acked] == [(counterpart.email, "slack")]
    assert {e["platform"] for e in entries if e["what"] != "acknowledged"} <= {"", "teams"}
    raised = entries[0]
    assert (raised["who"], raised["who_name"], raised["who_agency"]) == (
        raiser.email, raiser.name, raiser.agency_name)
    assert counterpart.name in raised["summary_named"]
    assert counterpart.email in raised["summary"]
    assert [e["n"] for e in entries] == [str(n) for n in range(1, len(entries) + 1)]
    assert "Jamie Example" not in out.read_text()  # no child details in a history


def test_export_csv_reads_back_and_says_when_the_chain_is_broken(
    app: App, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    case = raise_case(app, "northbay")
    argv = point_cli_at(app, monkeypatch)
    code, printed, _ = cli(capsys, "audit", "export", case.reference, "--format", "csv", *argv)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(printed)))
    events = app.store.history(case.id)
    assert [(r["what"], r["who"], r["summary"]) for r in rows] == [
        (e.type.value, e.actor, e.summary) for e in events]
    assert rows[1]["prev"] == rows[0]["hash"]  # each row links to the one before

    rewrite_event(app, case.id, 0, '"stage":1', '"stage":3')
    code, printed, _ = cli(capsys, "audit", "export", case.reference, *argv)
    assert code == 0  # the history is still exported: it is the evidence
    assert json.loads(printed)["chain"].startswith(f"{case.reference}: event 1 (")


def test_export_of_an_unknown_case_says_so(
    app: App, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = cli(capsys, "audit", "export", "NB-0999", *point_cli_at(app, monkeypatch))
    assert (code, out) == (1, "")
    assert err == texts.AUDIT_UNKNOWN_CASE.format(reference="NB-0999", store=where(app)) + "\n"


# ---- histories written before the chains -----------------------------------------------------
def test_an_old_sqlite_file_is_linked_once_and_the_linking_recorded(tmp_path: Path) -> None:
    with app_on_store("sqlite", tmp_path) as built:
        cases = [escalate_to(built, raise_case(built, "northbay"), 2),
                 raise_case(built, "havenport")]
        before = {c.id: built.store.history(c.id) for c in cases}
        path = Path(str(getattr(built.store, "path", "")))
    db = sqlite3.connect(path)
    with db:  # back to what schema 3 wrote: no hashes, no heads
        db.execute("UPDATE events SET json = json_remove(json, '$.prev')")
        db.execute("DELETE FROM chain_heads")
        db.execute("DELETE FROM audit_migrations")
        db.execute("UPDATE schema_version SET version = 3")
    db.close()
    with SqliteStore(path) as store:
        for case in cases:
            trail = store.audit_trail(case.id)
            assert trail is not None and verify_trail(trail) is None
            assert store.history(case.id) == before[case.id]  # same content, same links
    db = sqlite3.connect(path)
    (row,) = db.execute("SELECT cases, events, note FROM audit_migrations").fetchall()
    db.close()
    assert row[:2] == (2, sum(len(events) for events in before.values()))


def test_an_old_redis_store_is_linked_once_and_the_linking_recorded(tmp_path: Path) -> None:
    with app_on_store("redis", tmp_path) as built:
        store = built.store
        assert isinstance(store, RedisStore)
        cases = [escalate_to(built, raise_case(built, "northbay"), 2),
                 raise_case(built, "havenport")]
        before = {c.id: store.history(c.id) for c in cases}
        client = redis.Redis.from_url(URL, decode_responses=True)
        for case in cases:  # back to what was written before chaining: no hashes, no heads
            key = store.key("case-events", case.id)
            rows = [json.loads(str(r)) for r in client.lrange(key, 0, -1)]
            client.delete(key, store.key("chain", case.id))
            client.rpush(key, *[json.dumps({k: v for k, v in r.items() if k != "prev"})
                                for r in rows])
        client.delete(store.key("audit-chained"))
        again = RedisStore(URL, store.prefix)
        for case in cases:
            trail = again.audit_trail(case.id)
            assert trail is not None and verify_trail(trail) is None
            assert again.history(case.id) == before[case.id]
        record = json.loads(str(client.get(store.key("audit-chained"))))
        assert (record["cases"], record["events"]) == (
            2, sum(len(events) for events in before.values()))
        # a later write continues the chain it found
        escalate_to(built, current(built, cases[1]), 2)
        trail = again.audit_trail(cases[1].id)
        assert trail is not None and verify_trail(trail) is None
        again.close()
        client.close()
