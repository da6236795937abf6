"""The retention schedule (issue 12): a closed case past its partnership's retention period loses
the child's details and every free text, keeps its statistics, and says so in its history; the
same pass prunes delivered notifications and expired markers. Run on real SQLite and real Redis,
through the same plan and apply functions the `retention` command runs."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from redis_support import URL
from support import (
    EXAMPLE_CONFIG,
    START,
    STORES,
    app_for,
    app_on_store,
    clock_of,
    current,
    drain,
    handle,
    pending,
    raise_case,
    record,
    resolve,
    withdraw,
)

from adapters.storage.redis import RedisStore
from adapters.storage.sqlite import SqliteStore
from bot.bootstrap import App
from bot.cli import main
from bot.retention import apply_plan, plan_retention, run_retention
from dialogs import texts
from dialogs.case import Case, CaseStatus
from dialogs.clock import SimulatedClock
from dialogs.commands import ActionInput, RecordDiscussion
from dialogs.events import EventType
from dialogs.history_view import history_line, known_people
from dialogs.retention import (
    RETENTION_ACTOR,
    SENT_NOTIFICATION_DAYS,
    anonymise,
    due,
    retention_ends,
)

CHILDREN = {
    "due": ("Adaline Dueworth", "03/05/2015"),
    "withdrawn": ("Bonifacio Withdrew", "04/06/2014"),
    "open": ("Cyprian Stillopen", "05/07/2013"),
    "recent": ("Dimitra Recentclose", "06/08/2012"),
}


def _raise(app: App, which: str, partnership: str = "northbay") -> Case:
    name, dob = CHILDREN[which]
    first = name.split()[0]
    return raise_case(app, partnership, child_name=name, child_dob=dob,
                      summary=f"{first} needs an assessment; we disagree.",
                      impact_on_child=f"{first} is missing school.",
                      outcome_sought=f"A plan for {first}.")


def _talk(app: App, case: Case, which: str) -> None:
    first = CHILDREN[which][0].split()[0]
    handle(app, RecordDiscussion(actor=case.raised_by, case_id=case.id, record=record(
        f"Spoke about {first} at length.", agreed_actions=[ActionInput(
            description=f"Visit {first} at home", owner=case.participants[1].email,
            due=(app.clock.now() + timedelta(days=14)).strftime("%d/%m/%Y"))])))


def store_text(app: App) -> str:
    """Everything the store holds, as text: a child's name anywhere in it is found."""
    store = app.store
    if isinstance(store, SqliteStore):
        db = sqlite3.connect(store.path)
        try:
            return "\n".join(db.iterdump())
        finally:
            db.close()
    assert isinstance(store, RedisStore)
    client = redis.Redis.from_url(URL, decode_responses=True)
    try:
        parts = []
        for key in client.scan_iter(match="{" + store.prefix + "}:*", count=1000):
            kind = client.type(key)
            if kind == "string":
                parts.append(str(client.get(key)))
            elif kind == "hash":
                parts.append(json.dumps(client.hgetall(key)))
            elif kind == "list":
                parts.append(json.dumps(client.lrange(key, 0, -1)))
            elif kind == "set":
                parts.append(json.dumps(sorted(client.smembers(key))))
            elif kind == "zset":
                parts.append(json.dumps(client.zrange(key, 0, -1)))
        return "\n".join(parts)
    finally:
        client.close()


def all_outbox(app: App) -> dict[str, list[str]]:
    return app.store.outbox_keys([c.id for c in app.store.all_cases()])


def statistics(case: Case) -> dict[str, Any]:
    """What a QA report reads from a case: none of it may change."""
    return {
        "reference": case.reference, "status": case.status, "stage": case.stage,
        "raised_at": case.raised_at, "raising": case.raising_agency,
        "receiving": case.receiving_agency, "reason": case.reason,
        "risk": case.immediate_risk, "policy": (case.policy_id, case.policy_version),
        "stages": [s.model_dump() for s in case.stages_run],
        "steps": [s.model_dump() for s in case.steps],
        "participants": [p.model_dump() for p in case.participants],
        "resolution": None if case.resolution is None else (
            case.resolution.at, case.resolution.stage, case.resolution.final_decision,
            case.resolution.working_days_taken),
        "entries": [(e.id, e.kind, e.at, e.by, e.stage, e.step_id, e.outcome,
                     [(a.owner, a.due) for a in e.agreed_actions]) for e in case.record],
    }


@pytest.fixture(params=STORES)
def on_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[App]:
    with app_on_store(request.param, tmp_path, "retention") as built:
        yield built


def _scenario(app: App) -> dict[str, Case]:
    """Two cases closed in Feb 2027, one left open, one closed a year later; everything that
    was due delivered at the time."""
    clock = clock_of(app)
    cases = {which: _raise(app, which) for which in ("due", "withdrawn", "open")}
    _talk(app, cases["due"], "due")
    _talk(app, cases["open"], "open")
    resolve(app, cases["due"])
    withdraw(app, cases["withdrawn"], reason="Bonifacio's family moved away.")
    drain(app)
    clock.advance(timedelta(days=365))
    cases["recent"] = _raise(app, "recent")
    _talk(app, cases["recent"], "recent")
    resolve(app, cases["recent"])
    drain(app)
    return {which: current(app, case) for which, case in cases.items()}


def test_retention_removes_exactly_what_the_dry_run_listed(on_store: App) -> None:
    app = on_store
    cases = _scenario(app)
    clock_of(app).set(START + timedelta(days=6 * 366))  # past 2033-02-01, before 2034
    outbox_before = all_outbox(app)
    untouched = {w: (current(app, cases[w]), app.store.history(cases[w].id))
                 for w in ("open", "recent")}

    plan = plan_retention(app, None, "partnerships.yaml")
    assert {item.due.case.reference for item in plan.cases} == {
        cases["due"].reference, cases["withdrawn"].reference}
    listed = {item.due.case.id: item for item in plan.cases}
    due_case = listed[cases["due"].id]
    assert due_case.outbox_keys == outbox_before[cases["due"].id]  # every row of the case
    assert {"child.name", "child.date_of_birth", "summary", "impact_on_child", "outcome_sought",
            "record[1.1].text", "record[1.1].agreed_actions[0].description",
            "resolution.summary"} <= set(due_case.anonymised.fields)
    assert "record[1.1].agreed_actions[0].owner" not in due_case.anonymised.fields  # a party
    assert "withdrawn_reason" in listed[cases["withdrawn"].id].anonymised.fields
    assert due_case.deadlines == len(app.store.deadlines_for_case(cases["due"].id))

    histories = {item.due.case.id: app.store.history(item.due.case.id) for item in plan.cases}
    applied = apply_plan(app, plan)
    assert sorted(applied.anonymised) == sorted(c.due.case.reference for c in plan.cases)
    assert applied.stale == []

    for case_id, item in listed.items():
        after = current(app, case_id)
        assert after == item.anonymised.case  # exactly the anonymised form the dry run showed
        assert after.version == item.due.case.version + 1
        assert after.anonymised_at == app.clock.now()
        assert after.child.name == texts.RETENTION_REMOVED and after.child.date_of_birth is None
        assert statistics(after) == statistics(item.due.case)
        for key in item.outbox_keys:
            assert app.store.notification(key) is None
        assert app.store.deadlines_for_case(case_id) == []
        *kept, last = app.store.history(case_id)
        assert kept == histories[case_id]  # the history is appended to, never rewritten
        assert CHILDREN["due"][0] not in last.model_dump_json()
        assert last.type is EventType.RETENTION_APPLIED and last.actor == RETENTION_ACTOR
        assert last.data["fields"].split(",") == item.anonymised.fields
        assert last.data["outbox_rows_removed"] == str(len(item.outbox_keys))
    # the rows of the other cases: only the delivered ones older than 30 days went, as listed
    outbox_after = all_outbox(app)
    for which in ("open", "recent"):
        before = outbox_before[cases[which].id]
        assert outbox_after.get(cases[which].id, []) == [k for k in before
                                                         if k not in plan.sent_keys]
        assert (current(app, cases[which]), app.store.history(cases[which].id)) \
            == untouched[which]
    assert applied.sent_removed == len(plan.sent_keys) > 0
    # nothing of the two children is anywhere in the store any more; the others still are
    text = store_text(app)
    for which in ("due", "withdrawn"):
        name = CHILDREN[which][0]
        assert name not in text and name.split()[0] not in text, which
    for which in ("open", "recent"):
        assert CHILDREN[which][0] in text
    # a second pass finds nothing more to do
    again = plan_retention(app, None, "partnerships.yaml")
    assert again.cases == [] and again.sent_keys == []


def test_open_and_in_retention_cases_are_untouched_at_the_boundary(on_store: App) -> None:
    app = on_store
    case = resolve(app, _raise(app, "due"))
    closed = case.resolution.at if case.resolution else START
    ends = retention_ends(closed, 6)
    clock_of(app).set(ends - timedelta(microseconds=1))
    assert plan_retention(app, None, "x").cases == []
    clock_of(app).set(ends)
    (item,) = plan_retention(app, None, "x").cases
    assert item.due.ends_at == ends
    open_case = _raise(app, "open")
    assert [c.due.case.id for c in plan_retention(app, None, "x").cases] == [case.id]
    assert current(app, open_case).status is CaseStatus.OPEN


def test_answers_kept_only_where_the_pack_says_they_cannot_hold_a_name(on_store: App) -> None:
    app = on_store  # Havenport runs St Helens: its reason is a choice of categories
    case = resolve(app, _raise(app, "due", partnership="havenport"))
    clock_of(app).set(START + timedelta(days=6 * 366))
    (item,) = plan_retention(app, "havenport", "x").cases
    kept = item.anonymised.case
    policy = app.engine.policy_for(case)
    kinds = {f.id: f for f in policy.intake}
    assert kept.reason == case.reason
    for key, value in kept.answers.items():
        field = kinds.get(key)
        structured = field is not None and not field.sensitive and field.kind.value in {
            "choice", "multi_choice", "boolean", "number", "date", "person"}
        if structured or not case.answers[key]:
            assert value == case.answers[key], key
        else:
            assert value == texts.RETENTION_REMOVED, key
            assert f"answers.{key}" in item.anonymised.fields


def test_delivered_notifications_go_after_30_days_and_due_ones_stay(on_store: App) -> None:
    app = on_store
    clock = clock_of(app)
    early = _raise(app, "open")
    drain(app)
    clock.advance(timedelta(days=SENT_NOTIFICATION_DAYS - 1))
    later = _raise(app, "recent")
    drain(app)
    waiting = _raise(app, "due")  # not delivered: pending rows
    waiting_rows = [n.key for n in pending(app, waiting)]
    assert waiting_rows
    clock.advance(timedelta(days=2))
    plan = plan_retention(app, None, "x")
    rows = all_outbox(app)
    assert set(plan.sent_keys) == set(rows[early.id])
    apply_plan(app, plan)
    after = all_outbox(app)
    assert early.id not in after
    assert after[later.id] == rows[later.id]
    assert after[waiting.id] == rows[waiting.id] == waiting_rows


def test_expired_markers_and_conversations_are_pruned_live_ones_kept(on_store: App) -> None:
    app = on_store
    now = app.clock.now()
    app.store.mark_once("slack:old", now, 60)
    app.store.mark_once("slack:live", now, 86_400)
    app.store.save_session("someone@x.example", '{"child": "Adaline"}', now + timedelta(minutes=5))
    clock_of(app).advance(timedelta(hours=1))
    plan = plan_retention(app, None, "x")
    assert (plan.markers, plan.sessions) == (1, 1)
    applied = apply_plan(app, plan)
    assert (applied.markers_removed, applied.sessions_removed) == (1, 1)
    later = app.clock.now()
    assert app.store.mark_once("slack:live", later, 60) is False
    assert app.store.mark_once("slack:old", later, 60) is True
    assert app.store.expired_counts(later) == (0, 0)


def test_a_case_changed_after_the_plan_is_left_alone(on_store: App) -> None:
    app = on_store
    case = resolve(app, _raise(app, "due"))
    clock_of(app).set(START + timedelta(days=6 * 366))
    plan = plan_retention(app, None, "x")
    # an action follow-up, a late correction: anything that saves the case moves its version
    moved = current(app, case)
    app.store.save_case(moved.model_copy(update={"version": moved.version + 1}),
                        moved.version, [], [], [])
    applied = apply_plan(app, plan)
    assert applied.stale == [case.reference] and applied.anonymised == []
    assert current(app, case).child.name == CHILDREN["due"][0]


def test_retention_ends_on_the_same_day_years_later() -> None:
    closed = datetime(2028, 2, 29, 15, 30, tzinfo=UTC)
    assert retention_ends(closed, 6) == datetime(2034, 2, 28, 15, 30, tzinfo=UTC)
    assert retention_ends(closed, 4) == datetime(2032, 2, 29, 15, 30, tzinfo=UTC)


def test_no_schedule_means_nothing_is_due(tmp_path: Path) -> None:
    app, clock = app_for(tmp_path)
    case = resolve(app, _raise(app, "due"))
    clock.set(datetime(2100, 1, 1, tzinfo=UTC))
    assert due(case, None, clock.now()) is None
    assert due(case, 6, clock.now()) is not None
    app.close()


# ---- the command -----------------------------------------------------------------------------


def _old_database(tmp_path: Path) -> tuple[Path, Case]:
    """A case resolved in 2018: past a 6-year schedule by the real clock."""
    app, _ = app_for(tmp_path, start=datetime(2018, 3, 5, 10, tzinfo=UTC))
    case = resolve(app, _raise(app, "due"))
    drain(app)
    app.close()
    return tmp_path / "bot.sqlite3", case


def test_the_command_lists_then_does_it_and_names_no_child(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, case = _old_database(tmp_path)
    args = ["retention", "--db", str(db), "--config", str(EXAMPLE_CONFIG)]
    assert main([*args, "--dry-run"]) == 0
    listing = capsys.readouterr()
    assert f"{case.reference}: closed 2018-03-05, retention (6 years) ended 2024-03-05;" \
        " would anonymise" in listing.out
    assert "child.name" in listing.out and "outbox row(s)" in listing.out
    assert "carrow-board: no retention period configured" in listing.out
    name = CHILDREN["due"][0]
    assert name.split()[0] not in listing.out + listing.err
    with SqliteStore(db) as store:
        before = store.get_case(case.id)
        assert before is not None and before.child.name == name  # the dry run changed nothing

    assert main(args) == 0
    done = capsys.readouterr()
    assert "anonymising" in done.out and "Retention: 1 case(s) anonymised." in done.out
    assert name.split()[0] not in done.out + done.err
    with SqliteStore(db) as store:
        after = store.get_case(case.id)
        assert after is not None and after.child.name == texts.RETENTION_REMOVED
        assert store.history(case.id)[-1].type is EventType.RETENTION_APPLIED

    assert main([*args, "--dry-run"]) == 0
    assert texts.RETENTION_NOTHING_DUE in capsys.readouterr().out


def test_the_command_refuses_an_unknown_partnership_and_a_missing_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, _ = _old_database(tmp_path)
    config = ["--config", str(EXAMPLE_CONFIG)]
    assert main(["retention", "--dry-run", "--partnership", "nowhere", "--db", str(db),
                 *config]) == 1
    err = capsys.readouterr().err
    assert "retention: there is no partnership 'nowhere'" in err and "northbay" in err
    assert main(["retention", "--db", str(tmp_path / "none.sqlite3"), *config]) == 1
    assert "retention: there is no database at" in capsys.readouterr().err
    assert not (tmp_path / "none.sqlite3").exists()
    assert main(["retention", "--dry-run", "--partnership", "carrow-board", "--db", str(db),
                 *config]) == 0
    out = capsys.readouterr().out
    assert "carrow-board: no retention period configured" in out
    assert "northbay" not in out
    with pytest.raises(SystemExit) as usage:
        main(["retention", "--bogus"])
    assert usage.value.code == 2


def test_run_retention_with_a_clock_and_a_redis_down(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ESCALATION_BOT_REDIS_URL", "redis://127.0.0.1:1/0")
    assert run_retention(True, None, None, str(EXAMPLE_CONFIG),
                         clock=SimulatedClock(START)) == 1
    assert "retention: cannot use Redis at redis://127.0.0.1:1/0" in capsys.readouterr().err


def test_a_date_of_birth_is_not_a_statistic(tmp_path: Path) -> None:
    app, clock = app_for(tmp_path)
    case = resolve(app, _raise(app, "due"))
    assert case.child.date_of_birth == date(2015, 5, 3)
    clock.set(START + timedelta(days=6 * 366))
    (item,) = plan_retention(app, None, "x").cases
    dumped = item.anonymised.case.model_dump_json()
    assert "2015-05-03" not in dumped and "Adaline" not in dumped
    app.close()


def test_the_history_shows_the_removal_as_the_bot_and_names_no_child(tmp_path: Path) -> None:
    app, clock = app_for(tmp_path)
    case = resolve(app, _raise(app, "due"))
    clock.set(START + timedelta(days=6 * 366))
    apply_plan(app, plan_retention(app, None, "x"))
    event = app.store.history(case.id)[-1]
    partnership = app.engine.partnership(case.partnership_id)
    calendar = app.engine.calendar_for(partnership, app.engine.policy_for(case))
    line = history_line(event, known_people(current(app, case), {}, {}), calendar)
    assert texts.HISTORY_THE_BOT in line and "child's details removed: closed 2027-02-01" in line
    assert "Adaline" not in line
    app.close()


def test_an_owner_typed_before_owners_were_parties_is_removed(tmp_path: Path) -> None:
    app, clock = app_for(tmp_path)
    case = _raise(app, "due")
    _talk(app, case, "due")
    case = resolve(app, case)
    entry = case.record[0]
    legacy = entry.agreed_actions[0].model_copy(update={"owner": "Adaline's aunt"})
    case = case.model_copy(update={"record": [
        entry.model_copy(update={"agreed_actions": [*entry.agreed_actions, legacy]}),
        *case.record[1:]]})
    clock.set(START + timedelta(days=6 * 366))
    found = due(case, 6, clock.now())
    assert found is not None
    kept = anonymise(case, app.engine.policy_for(case), clock.now())
    first, second = kept.case.record[0].agreed_actions
    assert first.owner == case.participants[1].email
    assert second.owner == texts.RETENTION_REMOVED
    assert "record[1.1].agreed_actions[1].owner" in kept.fields
    assert "record[1.1].agreed_actions[0].owner" not in kept.fields
    app.close()
