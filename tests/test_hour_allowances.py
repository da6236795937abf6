"""Allowances in hours, and "immediately" (issue 9, "Pack format").

A pack may say "within 48 working hours" (counted inside business hours on working days),
"within 1 hour" on the clock (elapsed hours), and "acknowledge immediately" (prompt at once, at
any hour, flagged urgent, with the acknowledgement deadline its allowance sets). Everything here
runs the real bootstrap, SQLite store, engine and the scheduler's deadline loop on the simulated
clock, on Saltmere's invented pack (tests/hour_packs.py); the arithmetic's boundaries are also
pinned on the calendar itself.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hour_packs import HOURS_PACK, hours_pack_data, on_pack, write_pack
from support import (
    LONDON,
    clock_of,
    current,
    deliveries,
    derived_config,
    escalate_to,
    fire,
    pending,
    policy_of,
    raise_case,
    resolve,
)

from adapters.email.message import subject
from bot.bootstrap import App, bootstrap
from bot.cli import main
from dialogs.case import CaseStatus
from dialogs.clock import SimulatedClock
from dialogs.commands import CompleteStep
from dialogs.events import EventType
from dialogs.notifications import RecipientKind
from policy.calendar import WorkingCalendar
from policy.model import Allowance, AllowanceUnit, due_after
from policy.timeline import what_if_timeline

NB = "northbay"
DANA = "dana.marsh@council.northbay.example"  # practitioner, council: raises every case
CAL = "cal.birch@council.northbay.example"  # Dana's line manager
GUS = "gus.penn@health.northbay.example"  # line manager, health
BEA = "bea.lane@council.northbay.example"  # senior manager, council
FERN = "fern.ash@health.northbay.example"  # senior manager, health
BUSINESS_TEAM = "console:northbay-business-team"

FRIDAY_4PM = datetime(2027, 2, 5, 16, 0, tzinfo=LONDON)


def _app(
    tmp_path: Path, start: datetime, data: dict[str, Any] | None = None, **business: str
) -> App:
    packs = write_pack(tmp_path, data or hours_pack_data())
    config = derived_config(tmp_path, on_pack((data or {}).get("id", HOURS_PACK), **business))
    return bootstrap(config, tmp_path / "bot.sqlite3", SimulatedClock(start), packs)


def _calendar(app: App) -> WorkingCalendar:
    return app.engine.calendar_for(app.config.partnership(NB), policy_of(app, NB))


def _kinds(app: App, case_id: str) -> dict[str, list[datetime]]:
    found: dict[str, list[datetime]] = {}
    for deadline in app.store.deadlines_for_case(case_id):
        found.setdefault(deadline.kind, []).append(deadline.due_at)
    return found


# ---- working hours ---------------------------------------------------------------------------


def test_48_working_hours_raised_friday_at_4pm_fall_in_a_later_week(tmp_path: Path) -> None:
    """One hour on Friday, eight a day after it: the 48th working hour is at 16:00 on the
    Monday after next, not Sunday afternoon."""
    app = _app(tmp_path, FRIDAY_4PM)
    case = raise_case(app, NB)
    due = datetime(2027, 2, 15, 16, 0, tzinfo=LONDON)
    assert case.stage_due_at == due
    assert [(d.kind, d.due_at) for d in app.store.deadlines_for_case(case.id)
            if d.kind == "stage"] == [("stage", due)]
    (window, *_) = what_if_timeline(policy_of(app, NB), FRIDAY_4PM, _calendar(app))
    assert window.due == due
    app.close()


def test_working_hours_started_at_8pm_count_from_the_next_opening(tmp_path: Path) -> None:
    """Raised Monday 20:00: the count starts Tuesday 09:00; six full days end on a close,
    and a deadline on the close is due at the close, not at the next opening."""
    app = _app(tmp_path, datetime(2027, 2, 1, 20, 0, tzinfo=LONDON))
    case = raise_case(app, NB)
    assert case.stage_due_at == datetime(2027, 2, 9, 17, 0, tzinfo=LONDON)
    app.close()


def test_working_hours_started_on_a_bank_holiday_skip_every_holiday(tmp_path: Path) -> None:
    """Raised on Monday 27 December 2027 (the Christmas substitute day): nothing counts until
    Wednesday 29th; Monday 3 January 2028 (the New Year substitute) does not count either."""
    app = _app(tmp_path, datetime(2027, 12, 27, 10, 0, tzinfo=LONDON))
    case = raise_case(app, NB)
    assert case.stage_due_at == datetime(2028, 1, 6, 17, 0, tzinfo=LONDON)
    app.close()


def test_working_hours_follow_the_partnerships_own_business_hours(tmp_path: Path) -> None:
    """Northbay works 08:00 to 18:00: ten-hour days. Friday 16:00 + 48: 2 on Friday, 40 Monday
    to Thursday, 6 on Friday 12 February: due 14:00."""
    app = _app(tmp_path, FRIDAY_4PM, start_of_business="08:00", end_of_business="18:00")
    case = raise_case(app, NB)
    due = datetime(2027, 2, 12, 14, 0, tzinfo=LONDON)
    assert case.stage_due_at == due
    assert what_if_timeline(policy_of(app, NB), FRIDAY_4PM, _calendar(app))[0].due == due
    app.close()


def test_working_hours_boundaries_on_the_calendar() -> None:
    calendar = WorkingCalendar(country="GB", subdivision="ENG", time_zone="Europe/London")
    hours = Allowance(amount=1, unit=AllowanceUnit.WORKING_HOURS)
    two = Allowance(amount=2, unit=AllowanceUnit.WORKING_HOURS)
    # started in the last hour: due at the close
    assert due_after(FRIDAY_4PM, hours, calendar) == datetime(2027, 2, 5, 17, 0, tzinfo=LONDON)
    # the rest carries over the weekend to Monday's opening
    assert due_after(FRIDAY_4PM, two, calendar) == datetime(2027, 2, 8, 10, 0, tzinfo=LONDON)
    # started at the close or before the opening: counted from an opening
    close = datetime(2027, 2, 5, 17, 0, tzinfo=LONDON)
    assert due_after(close, two, calendar) == datetime(2027, 2, 8, 11, 0, tzinfo=LONDON)
    early = datetime(2027, 2, 8, 7, 30, tzinfo=LONDON)
    assert due_after(early, two, calendar) == datetime(2027, 2, 8, 11, 0, tzinfo=LONDON)
    # minutes are kept
    odd = datetime(2027, 2, 8, 16, 45, tzinfo=LONDON)
    assert due_after(odd, two, calendar) == datetime(2027, 2, 9, 10, 45, tzinfo=LONDON)
    # closure days do not count
    closed = WorkingCalendar(
        country="GB", subdivision="ENG", time_zone="Europe/London",
        closure_days=[datetime(2027, 2, 8).date()],
    )
    assert due_after(FRIDAY_4PM, two, closed) == datetime(2027, 2, 9, 10, 0, tzinfo=LONDON)
    # zero hours would be due the moment it started: refused (the pack check says so first)
    with pytest.raises(ValueError, match="at least 1 hour"):
        calendar.add_working_hours(FRIDAY_4PM, 0)


# ---- elapsed hours ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "due"),
    [
        # last Sunday of March: the clocks go forward, so 24 hours later reads an hour later
        (datetime(2027, 3, 27, 10, 0, tzinfo=LONDON), datetime(2027, 3, 28, 11, 0, tzinfo=LONDON)),
        # last Sunday of October: the clocks go back, so it reads an hour earlier
        (datetime(2027, 10, 30, 10, 0, tzinfo=LONDON), datetime(2027, 10, 31, 9, 0, tzinfo=LONDON)),
    ],
    ids=["march", "october"],
)
def test_elapsed_hours_are_real_hours_across_a_clock_change(start: datetime, due: datetime) -> None:
    calendar = WorkingCalendar(country="GB", subdivision="ENG", time_zone="Europe/London")
    got = due_after(start, Allowance(amount=24, unit=AllowanceUnit.ELAPSED_HOURS), calendar)
    assert got == due
    # in UTC: Python subtracts two times of one zone as wall-clock times
    assert (got.astimezone(UTC) - start.astimezone(UTC)).total_seconds() == 24 * 3600
    assert got.utcoffset() == due.utcoffset()


def test_an_elapsed_stage_lapses_through_the_scheduler_across_the_march_change(
    tmp_path: Path,
) -> None:
    """Stage 3 allows 72 elapsed hours. Entered Friday 26 March 2027 12:00 (GMT), it is due
    Monday 29th at 13:00 BST, 72 real hours later; the scheduler moves the case on then, and
    not a minute before."""
    entered = datetime(2027, 3, 26, 12, 0, tzinfo=LONDON)
    app = _app(tmp_path, entered)
    clock = clock_of(app)
    case = escalate_to(app, raise_case(app, NB), 3)
    due = datetime(2027, 3, 29, 13, 0, tzinfo=LONDON)
    assert case.stage_due_at == due
    assert (due.astimezone(UTC) - entered.astimezone(UTC)).total_seconds() == 72 * 3600

    clock.set(datetime(2027, 3, 29, 11, 59, tzinfo=UTC))
    fire(app)
    assert current(app, case).stage == 3
    clock.set(due)
    fire(app)
    after = current(app, case)
    assert after.stage == 4
    assert after.stages_run[-1].started_at == due
    app.close()


# ---- immediately -----------------------------------------------------------------------------


def test_acknowledge_immediately_prompts_at_10pm_and_lapses_through_the_scheduler(
    tmp_path: Path,
) -> None:
    """Raised Monday 22:00, not at immediate risk: Dana's line manager is prompted at once,
    flagged urgent, to acknowledge within an hour; everything else waits for 09:00. At 23:00
    the acknowledgement lapses through the scheduler and the line manager and the business team
    are told at once, flagged."""
    ten_pm = datetime(2027, 2, 1, 22, 0, tzinfo=LONDON)
    app = _app(tmp_path, ten_pm)
    clock = clock_of(app)
    case = raise_case(app, NB)
    assert not case.immediate_risk
    step = case.step("acknowledge")
    assert step is not None
    assert (step.started_at, step.due_at) == (ten_pm, datetime(2027, 2, 1, 23, 0, tzinfo=LONDON))

    sent = deliveries(app)
    prompts = [n for n in sent if n.kind == "step-now-acknowledge"]
    assert CAL in {n.recipient.address for n in prompts}
    assert all(n.urgent and n.deliver_at == ten_pm for n in prompts)
    (to_cal,) = [n for n in prompts if n.recipient.address == CAL]
    assert to_cal.card.title == (
        "Now: case NB-0001: 'Acknowledge the concern' is yours,"
        " due Mon 01 Feb 2027, 23:00 (within 1 hour, day or night)"
    )
    # the email subject says it is urgent, and no more than the reference and the kind
    assert subject(to_cal) == "[NB-0001] Urgent: Stage 1: a step needs you now"
    # nothing else to anyone but the raiser went out at 22:00: it waits for working time
    others = [n for n in sent if n.kind != "step-now-acknowledge"
              and n.recipient.kind is not RecipientKind.WEBHOOK]
    assert {n.recipient.address for n in others} <= {DANA}
    assert not any(n.urgent for n in others)
    waiting = [n for n in pending(app, case)]
    assert waiting and all(n.deliver_at == datetime(2027, 2, 2, 9, 0, tzinfo=LONDON)
                           for n in waiting)

    clock.set(datetime(2027, 2, 1, 23, 0, tzinfo=LONDON))
    fire(app)
    lapsed = current(app, case).step("acknowledge")
    assert lapsed is not None and lapsed.lapsed
    sent = deliveries(app)
    late = [n for n in sent if n.kind == "step-lapsed-acknowledge"]
    assert CAL in {n.recipient.address for n in late}
    assert BUSINESS_TEAM in {n.recipient.address for n in late}
    assert all(n.urgent for n in late if n.recipient.kind is not RecipientKind.WEBHOOK)
    history = [e.type for e in app.store.history(case.id)]
    assert EventType.STEP_LAPSED in history
    app.close()


def test_an_immediately_stage_prompts_its_holders_at_once(tmp_path: Path) -> None:
    """Stage 3 says prompt: immediately. Escalated to at 19:00, the senior managers are prompted
    at once, flagged, with the due time and the allowance in words."""
    app = _app(tmp_path, datetime(2027, 2, 1, 10, 0, tzinfo=LONDON))
    clock = clock_of(app)
    case = escalate_to(app, raise_case(app, NB), 2)
    deliveries(app)
    clock.set(datetime(2027, 2, 1, 19, 0, tzinfo=LONDON))
    case = escalate_to(app, case, 3)
    prompts = [n for n in pending(app, case) if n.kind == "stage-prompt"]
    assert {n.recipient.address for n in prompts} >= {BEA, FERN}
    assert all(n.urgent and n.deliver_at == clock.now() for n in prompts)
    assert prompts[0].card.title == (
        "Now: case NB-0001: stage 3, Senior managers, is yours,"
        " due Thu 04 Feb 2027, 19:00 (within 72 hours, day or night)"
    )
    app.close()


# ---- reminders -------------------------------------------------------------------------------


def _short_stage_pack() -> dict[str, Any]:
    data = hours_pack_data()
    data["id"] = "saltmere-short"
    data["stages"][0]["allowance"] = {"amount": 2, "unit": "working_hours"}
    return data


def test_a_two_hour_stage_gets_no_due_today_reminder(tmp_path: Path) -> None:
    """Raised Friday 16:00 with 2 working hours: due Monday 10:00. A 'due today' reminder at
    Monday 09:00 would only repeat the prompt an hour before the deadline: there is none, and
    the lapse still moves the case on at 10:00."""
    app = _app(tmp_path, FRIDAY_4PM, _short_stage_pack())
    clock = clock_of(app)
    case = raise_case(app, NB)
    due = datetime(2027, 2, 8, 10, 0, tzinfo=LONDON)
    assert case.stage_due_at == due
    assert "reminder" not in _kinds(app, case.id)
    clock.set(datetime(2027, 2, 8, 9, 0, tzinfo=LONDON))
    fire(app)
    assert not [n for n in pending(app, case) if n.kind == "reminder"]
    clock.set(due)
    fire(app)
    assert current(app, case).stage == 2
    app.close()


def test_a_48_hour_stage_is_reminded_on_its_due_day_with_the_minute(tmp_path: Path) -> None:
    """48 working hours run six days: the reminder at 09:00 on the due day is kept, and says
    the hour it is due."""
    app = _app(tmp_path, FRIDAY_4PM)
    clock = clock_of(app)
    case = raise_case(app, NB)
    reminder_at = datetime(2027, 2, 15, 9, 0, tzinfo=LONDON)
    assert _kinds(app, case.id)["reminder"] == [reminder_at]
    clock.set(reminder_at)
    fire(app)
    reminders = [n for n in pending(app, case) if n.kind == "reminder"]
    assert reminders
    assert {n.card.title for n in reminders} == {
        "Reminder: case NB-0001, stage 1, is due today at 16:00"
    }
    app.close()


# ---- end to end ------------------------------------------------------------------------------


def test_a_case_runs_through_hour_allowances_end_to_end(tmp_path: Path) -> None:
    """Saltmere's pack, whole: the acknowledgement done in time; stage 1's 48 working hours
    lapse into stage 2; its 4-working-hour briefing is prompted with the hours in words and
    lapses; the case is escalated to stage 3 and resolved there."""
    app = _app(tmp_path, datetime(2027, 2, 1, 10, 0, tzinfo=LONDON))
    clock = clock_of(app)
    case = raise_case(app, NB)
    # the line manager acknowledges within the hour
    clock.set(datetime(2027, 2, 1, 10, 30, tzinfo=LONDON))
    outcome = app.engine.handle(
        CompleteStep(actor=CAL, case_id=case.id, expected_version=current(app, case).version,
                     step_id="acknowledge")
    )
    assert outcome.case is not None
    done = outcome.case.step("acknowledge")
    assert done is not None and done.done
    # Monday 10:00 + 48 working hours = Tuesday 9 February 10:00
    due = datetime(2027, 2, 9, 10, 0, tzinfo=LONDON)
    assert current(app, case).stage_due_at == due
    clock.set(due)
    fire(app)
    case = current(app, case)
    assert case.stage == 2
    brief = case.step("brief-senior-managers")
    assert brief is not None
    assert (brief.started_at, brief.due_at) == (due, datetime(2027, 2, 9, 14, 0, tzinfo=LONDON))
    prompts = [n for n in pending(app, case) if n.kind == "step-prompt"]
    assert {n.recipient.address for n in prompts} == {BEA, FERN}
    step_facts = [f.value for f in prompts[0].card.facts if f.label == "Step"]
    assert step_facts == [
        "Brief the senior managers, by Tue 09 Feb 2027, 14:00 (within 4 working hours)"
    ]
    # the briefing lapses through the scheduler
    clock.set(brief.due_at)
    fire(app)
    lapsed = current(app, case).step("brief-senior-managers")
    assert lapsed is not None and lapsed.lapsed
    clock.set(datetime(2027, 2, 9, 15, 0, tzinfo=LONDON))
    case = escalate_to(app, case, 3)
    assert case.stage_due_at == datetime(2027, 2, 12, 15, 0, tzinfo=LONDON)
    due_fact = [f.value for f in prompts[0].card.facts if f.label == "Due"]
    assert due_fact == ["Thu 11 Feb 2027, 17:00"]  # stage 2 is in working days: as ever
    case = resolve(app, case, BEA)
    assert case.status is CaseStatus.RESOLVED
    app.close()


# ---- what people read ------------------------------------------------------------------------


def test_policy_show_and_timeline_say_hours(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    packs = write_pack(tmp_path, hours_pack_data())
    pack = str(packs / f"{HOURS_PACK}.yaml")
    assert main(["timeline", "--pack", pack, "--start", "2027-02-05T16:00"]) == 0
    out = capsys.readouterr().out
    assert (
        "Stage 1 Practitioner to practitioner: Fri 05 Feb 2027 16:00 -> due Mon 15 Feb 2027"
        " 16:00 (within 48 working hours)"
    ) in out
    assert "    Acknowledge the concern: due Fri 05 Feb 2027 17:00 (within 1 hour, day or night)"\
        in out
    assert "(within 72 hours, day or night)" in out
    assert main(["timeline", "--pack", pack, "--start", "2027-02-05T16:00", "--json"]) == 0
    stages = json.loads(capsys.readouterr().out)["stages"]
    assert stages[0]["allowance"] == {"amount": 48, "unit": "working_hours"}
    assert stages[0]["due"] == "2027-02-15T16:00:00+00:00"
    assert stages[1]["allowance"] == {"amount": 2, "unit": "working_days"}


def test_policy_list_and_show_say_hours(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    packs = write_pack(tmp_path, hours_pack_data())
    monkeypatch.setenv("ESCALATION_BOT_PACKS", str(packs))
    assert main(["policy", "show", HOURS_PACK]) == 0
    out = capsys.readouterr().out
    assert "Stage 1: Practitioner to practitioner - within 48 working hours;" in out
    assert (
        "    step acknowledge: Acknowledge the concern - within 1 hour, day or night,"
        " Line manager, starts with_stage, on lapse remind; prompted immediately, at any hour"
    ) in out
    assert "Stage 2: Line managers - 2 working day(s);" in out
    assert main(["policy", "list"]) == 0
    assert "48wh/2/72h/3" in capsys.readouterr().out


# ---- pack checks -----------------------------------------------------------------------------


def test_policy_check_reports_every_allowance_problem_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad unit, both forms, neither, and zero hours, all in one run, each with its line."""
    data = hours_pack_data()
    one, two, three = data["stages"][0], data["stages"][1], data["stages"][2]
    one["allowance"] = {"amount": 48, "unit": "working_hour"}  # misspelt unit
    two["allowance"] = {"amount": 2, "unit": "working_days"}  # and allowance_working_days: 2
    del three["allowance"]  # neither
    two["steps"][0]["allowance"] = {"amount": 0, "unit": "working_hours"}
    packs = write_pack(tmp_path, data)
    path = packs / f"{HOURS_PACK}.yaml"
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()

    def line_of(fragment: str, after: str = "", nth: int = 0) -> int:
        start = next(i for i, line in enumerate(lines) if after in line) if after else 0
        found = [i for i, line in enumerate(lines) if i >= start and fragment in line]
        return found[nth] + 1

    assert main(["policy", "check", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{path}: 4 problem(s)\n")
    unit = line_of("unit: working_hour")
    assert f"  line {unit}, stages[0].allowance.unit: Input should be 'working_days'," in err
    assert "'working_hours' or 'elapsed_hours'" in err
    assert "stages[1]: gives both allowance_working_days and allowance" in err
    assert "fix: keep one: allowance_working_days: N, or allowance: {amount: N" in err
    assert "stages[2].allowance_working_days: missing: the stage or step gives no allowance" in err
    zero = line_of("amount: 0")
    assert (
        f"  line {zero}, stages[1].steps[0].allowance.amount: 0 working_hours is too short"
    ) in err
    assert "for 'immediately' add prompt: immediately" in err
    # the both/neither problems point at their stage: its first line
    assert f"  line {line_of('- number: 2')}, stages[1]: gives both" in err
    assert f"  line {line_of('- number: 3')}, stages[2].allowance_working_days:" in err


def test_every_bundled_pack_still_passes_and_says_the_same() -> None:
    """Old packs are unchanged: every allowance reads as the working days it always gave."""
    from policy.loader import PolicyRegistry

    for policy in PolicyRegistry.bundled().all():
        for stage in policy.stages:
            assert stage.time_allowed.unit is AllowanceUnit.WORKING_DAYS
            assert stage.time_allowed.amount == stage.allowance_working_days
            for step in stage.steps:
                assert step.time_allowed.amount == step.allowance_working_days
