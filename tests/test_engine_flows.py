"""Whole cases through each bundled procedure, on the real engine, store, scheduler and clock.

Every due time below is worked out by hand from the calendar rule (README / policy.calendar): an
allowance of N >= 1 working days is due at 17:00 local on the Nth working day strictly after the
start date; 0 means 17:00 the same day if that is a working day and it is not yet 17:00.
Everything starts on Monday 1 February 2027 (GMT in London and Jersey; no holidays nearby):

    February 2027   Mo Tu We Th Fr Sa Su
                     1  2  3  4  5  6  7
                     8  9 10 11 12 13 14
                    15 16 17 18 19 20 21
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, timedelta
from pathlib import Path
from typing import Any

import pytest
from support import (
    JERSEY,
    LONDON,
    app_for,
    current,
    decide,
    deliveries,
    derived_config,
    emails,
    escalate,
    escalate_to,
    fire,
    handle,
    history,
    joined_at,
    local,
    pending,
    person_notes,
    policy_of,
    raise_case,
    raise_command,
    record,
    roster,
    snapshot,
    someone,
    to_channel,
)

from bot.bootstrap import App
from bot.demo import outcome_answers
from dialogs.case import AgreedAction, Case, CaseStatus, Side
from dialogs.commands import (
    Acknowledge,
    ActionInput,
    AddParticipant,
    CompleteStep,
    HandOver,
    RecordDiscussion,
    Resolve,
)
from dialogs.errors import IllegalTransition, InvalidInput, NotAllowed
from dialogs.events import Event, EventType
from dialogs.notifications import Notification, RecipientKind

# ---- the example directory -------------------------------------------------------------------

NB, HP, IC, CB = "northbay", "havenport", "carrow", "carrow-board"

COUNCIL, HEALTH = "northbay-council", "northbay-health"
DANA = "dana.marsh@council.northbay.example"  # practitioner (raiser)
HANA = "hana.moss@health.northbay.example"  # practitioner (counterpart)
CAL = "cal.birch@council.northbay.example"  # line manager
GUS = "gus.penn@health.northbay.example"  # line manager
BEA = "bea.lane@council.northbay.example"  # senior manager
FERN = "fern.ash@health.northbay.example"  # senior manager
JO = "jo.holt@partnership.northbay.example"  # delegated safeguarding partner
KIT = "kit.reed@partnership.northbay.example"  # delegated safeguarding partner
NB_TEAM = "console:northbay-business-team"

SCHOOL, SOCIAL_CARE = "havenport-school", "havenport-social-care"
NIA = "nia.stone@school.havenport.example"  # practitioner (raiser)
QUIN = "quin.hale@socialcare.havenport.example"  # practitioner (counterpart)
MAX = "max.vale@school.havenport.example"  # first line manager
PIP = "pip.crane@socialcare.havenport.example"  # first line manager
LOU = "lou.gray@school.havenport.example"  # second tier manager
OLI = "oli.hart@socialcare.havenport.example"  # second tier manager
SOL = "sol.frost@partnership.havenport.example"  # partnership decision maker
HP_MAILBOX = "scpescalations@sthelens.gov.uk"
HP_TEAM = "console:havenport-business-team"

POLICE, CHILDREN = "carrow-police", "carrow-children"
WYN = "wyn.birch@police.carrow.example"  # practitioner (raiser)
ALEX = "alex.penn@children.carrow.example"  # practitioner (counterpart)
VIC = "vic.lane@police.carrow.example"  # first line manager
ZED = "zed.ash@children.carrow.example"  # first line manager
UMA = "uma.rowe@police.carrow.example"  # senior manager
YAS = "yas.wren@children.carrow.example"  # senior manager
TAM = "tam.dale@police.carrow.example"  # professional lead
XAN = "xan.marsh@children.carrow.example"  # professional lead
IC_TEAM = "console:carrow-business-team"

ADULT_CARE, HOUSING = "carrow-adult-care", "carrow-housing"
HANA_S = "hana.stone@adultcare.carrow-board.example"  # practitioner (raiser)
MAX_F = "max.frost@housing.carrow-board.example"  # practitioner (counterpart)
DANA_H = "dana.holt@adultcare.carrow-board.example"  # board representative
IVO_H = "ivo.hart@housing.carrow-board.example"  # board representative
OLI_R = "oli.rowe@partnership.carrow-board.example"  # board chair
CB_TEAM = "console:carrow-board-business-team"


def jersey(day: int, hour: int, minute: int = 0) -> Any:
    return local(day, hour, minute, zone=JERSEY)


def events_of(app: Any, case: Case, kind: EventType) -> list[Event]:
    return [e for e in history(app, case) if e.type is kind]


def titles(notes: list[Notification]) -> list[str]:
    return [n.card.title for n in notes]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """One bot at START for the tests that never move its clock; each works on its own cases."""
    app, _ = app_for(tmp_path_factory.mktemp("flows"))
    yield app
    app.close()


def open_count(app: App) -> int:
    return len(app.store.open_cases())


# ---- NSSCP -----------------------------------------------------------------------------------


def test_nsscp_case_from_raise_to_the_partnerships_decision(tmp_path: Path) -> None:
    app, clock = app_for(tmp_path)

    # Mon 1 Feb 10:00: Dana raises; stage 1 (1 working day) is due Tue 2 Feb 17:00
    case = raise_case(app, NB)
    assert case.reference == "NB-0001"
    assert (case.stage, case.stage_started_at, case.stage_due_at) == (1, local(1, 10), local(2, 17))
    assert roster(joined_at(case, 1)) == {("practitioner", COUNCIL), ("practitioner", HEALTH)}
    assert case.participant(DANA).side is Side.RAISING  # type: ignore[union-attr]
    assert case.participant(HANA).side is Side.RECEIVING  # type: ignore[union-attr]
    sent = deliveries(app)  # working time: everything goes at once
    assert {n.recipient.address for n in person_notes(sent)} == {DANA, HANA}
    assert titles(to_channel(sent, NB_TEAM)) == ["New professional difference NB-0001: stage 1"]

    # Tue 2 Feb 17:01: nobody has escalated; the scheduler does
    clock.set(local(2, 17, 1))
    assert fire(app).fired == 1  # (the 09:00 reminder, never run, is now moot and skipped)
    case = current(app, case)
    # the next stage starts at the lapsed due time (Tue 17:00), not when the scheduler ran
    assert (case.stage, case.stage_started_at) == (2, local(2, 17))
    assert case.stage_due_at == local(4, 17)  # 2 working days after Tue: Thu 4 Feb
    assert roster(joined_at(case, 2)) == {("line_manager", COUNCIL), ("line_manager", HEALTH)}
    assert emails(joined_at(case, 2)) == {CAL, GUS}
    lapse = events_of(app, case, EventType.DEADLINE_LAPSED)
    assert [(e.summary, e.actor, e.stage) for e in lapse] == [
        ("escalated: deadline lapsed", "scheduler", 1)
    ]
    alert = "Case NB-0001: stage 1 deadline lapsed; now stage 2, Line managers"
    queued = [n for n in to_channel(pending(app, case), NB_TEAM) if n.card.title == alert]
    assert [n.deliver_at for n in queued] == [local(3, 9)]  # after hours: next working morning
    assert titles(to_channel(deliveries(app), NB_TEAM)) == []
    clock.set(local(3, 9))
    morning = deliveries(app)
    assert titles(to_channel(morning, NB_TEAM)) == [alert]
    assert titles(to_channel(morning, "console:northbay-managers")) == [alert]
    assert {n.recipient.address for n in person_notes(morning) if n.kind == "stage-prompt"} == {
        CAL,
        GUS,
    }

    # Wed 3 Feb 10:00: the line managers cannot agree; stage 3 (2 days) due Fri 5 Feb 17:00
    clock.set(local(3, 10))
    case = escalate(app, case, actor=CAL)
    assert (case.stage, case.stage_due_at) == (3, local(5, 17))
    assert roster(joined_at(case, 3)) == {("senior_manager", COUNCIL), ("senior_manager", HEALTH)}
    assert emails(joined_at(case, 3)) == {BEA, FERN}
    assert titles(to_channel(deliveries(app), "console:northbay-senior-managers")) == [
        "Case NB-0001 escalated to stage 3, Senior managers"
    ]

    # Thu 4 Feb 11:00: to the partnership; stage 4 (3 days) due Tue 9 Feb 17:00
    clock.set(local(4, 11))
    case = escalate(app, case, actor=BEA)
    assert (case.stage, case.stage_due_at) == (4, local(9, 17))
    assert roster(joined_at(case, 4)) == {("delegated_safeguarding_partners", COUNCIL)}
    assert emails(joined_at(case, 4)) == {JO, KIT}
    assert {p.side for p in joined_at(case, 4)} == {Side.PARTNERSHIP}
    assert titles(to_channel(deliveries(app), NB_TEAM)) == [
        "Case NB-0001 escalated to stage 4, Safeguarding Partnership"
    ]

    # Fri 5 Feb 10:00: the DSPs decide
    clock.set(local(5, 10))
    case = decide(app, case, JO)
    assert case.status is CaseStatus.FINAL_DECISION
    assert case.resolution is not None
    assert (case.resolution.stage, case.resolution.working_days_taken) == (4, 4)
    assert app.store.deadlines_for_case(case.id) == []
    done = deliveries(app)
    assert titles(to_channel(done, NB_TEAM)) == [
        "Case NB-0001: the decision was recorded at stage 4"
    ]
    told = {n.recipient.address for n in person_notes(done) if n.kind == "decided"}
    assert told == {DANA, HANA, CAL, GUS, BEA, FERN, JO, KIT}
    form = [n for n in done if n.kind == "form-appendix-1"]
    assert [n.recipient.address for n in form] == ["ivo.fell@partnership.northbay.example"]
    assert [e.type for e in history(app, case)][-1] is EventType.DECISION_RECORDED


@pytest.mark.parametrize(
    ("arrive", "refer_due"),
    # at close, the same day would be due at once: the next working day instead (issue 9)
    [(local(4, 11), local(4, 17)), (local(4, 17), local(5, 17)), (local(4, 18), local(5, 17))],
    ids=["in-the-day", "at-close", "after-hours"],
)
def test_nsscp_stage_4_refer_is_due_the_same_day_and_the_dsps_have_3_days(
    tmp_path: Path, arrive: Any, refer_due: Any
) -> None:
    app, clock = app_for(tmp_path)
    case = escalate_to(app, raise_case(app, NB), 3)
    clock.set(arrive)
    case = escalate(app, case, actor=BEA)
    refer, respond = case.step("refer-to-partnership"), case.step("partnership-response")
    assert refer is not None and respond is not None
    assert (refer.started_at, refer.due_at) == (arrive, refer_due)
    response_due = local(9, 17)  # Thu 4 Feb + 3 working days (Fri, Mon, Tue)
    assert (respond.started_at, respond.due_at) == (arrive, response_due)
    assert case.stage_due_at == response_due


def test_nsscp_an_overdue_referral_reminds_its_owners_and_the_business_team(tmp_path: Path) -> None:
    app, clock = app_for(tmp_path)
    case = escalate_to(app, raise_case(app, NB), 4)  # Mon 10:00: refer due Mon 17:00
    deliveries(app)
    clock.set(local(1, 17))
    assert fire(app).fired == 1
    case = current(app, case)
    assert case.stage == 4
    refer = case.step("refer-to-partnership")
    assert refer is not None and refer.lapsed and not refer.done
    lapsed = events_of(app, case, EventType.STEP_LAPSED)
    assert [e.data["step"] for e in lapsed] == ["refer-to-partnership"]
    clock.set(local(2, 9))
    sent = deliveries(app)
    owners = {n.recipient.address for n in sent if n.kind == "step-lapsed-refer-to-partnership"}
    assert owners == {BEA, FERN, NB_TEAM}
    assert titles(to_channel(sent, NB_TEAM)) == [
        "Case NB-0001: 'Refer to the Safeguarding Partnership' is overdue"
    ]
    assert fire(app).fired == 0  # once only
    # it can still be done late, by its owner
    handle(app, CompleteStep(actor=FERN, case_id=case.id, expected_version=case.version,
                             step_id="refer-to-partnership"))
    assert current(app, case).step("refer-to-partnership").done  # type: ignore[union-attr]


def test_the_final_stage_lapsing_realerts_the_business_team_each_working_day(
    tmp_path: Path,
) -> None:
    app, clock = app_for(tmp_path)
    case = escalate_to(app, raise_case(app, NB), 4)
    assert case.stage_due_at == local(4, 17)  # entered Mon 1 Feb: 3 working days
    overdue = "Case NB-0001: the partnership's decision at stage 4 is overdue"

    def alerts() -> list[Event]:
        return events_of(app, case, EventType.FINAL_STAGE_OVERDUE)

    clock.set(local(4, 17, 1))  # Thu, a minute after it was due
    fire(app)
    assert len(alerts()) == 1
    stored = current(app, case)
    assert (stored.stage, stored.status) == (4, CaseStatus.OPEN)
    assert stored.overdue_since == local(4, 17, 1)
    assert overdue not in titles(deliveries(app))  # after hours: held for the morning
    # the next alert is counted from when this one reaches the team (Fri 09:00), not from when
    # it was queued, or both would go out together on Friday morning (issue 9)
    assert [d.due_at for d in app.store.deadlines_for_case(case.id) if d.kind == "overdue"] == [
        local(8, 9)
    ]

    clock.set(local(5, 9))  # Fri 09:00: yesterday's alert goes out, once
    assert fire(app).fired == 0
    assert len(alerts()) == 1
    assert titles(to_channel(deliveries(app), NB_TEAM)).count(overdue) == 1
    clock.set(local(5, 16))
    assert fire(app).fired == 0  # not twice in a day
    clock.set(local(6, 9))  # Saturday: not a working day
    assert fire(app).fired == 0
    clock.set(local(8, 9))  # Mon 8 Feb 09:00
    fire(app)
    assert len(alerts()) == 2
    assert titles(to_channel(deliveries(app), NB_TEAM)) == [overdue]
    clock.set(local(9, 9))  # Tue 9 Feb 09:00
    fire(app)
    assert len(alerts()) == 3
    assert titles(to_channel(deliveries(app), NB_TEAM)) == [overdue]

    clock.set(local(9, 10))
    decide(app, case, KIT)
    assert app.store.deadlines_for_case(case.id) == []
    clock.set(local(10, 9))
    assert fire(app).fired == 0
    assert len(alerts()) == 3


def test_a_reminder_at_nine_on_the_due_day_goes_once_to_the_current_holders(
    tmp_path: Path,
) -> None:
    app, clock = app_for(tmp_path)
    case = raise_case(app, NB)  # due Tue 2 Feb 17:00
    deliveries(app)
    clock.set(local(2, 8, 59))
    assert fire(app).fired == 0
    clock.set(local(2, 9))
    assert fire(app).fired == 1
    sent = deliveries(app)
    reminders = [n for n in sent if n.kind == "reminder"]
    assert {n.recipient.address for n in reminders} == {DANA, HANA}
    assert set(titles(reminders)) == {"Reminder: case NB-0001, stage 1, is due today at 17:00"}
    assert len(events_of(app, case, EventType.REMINDER_SENT)) == 1
    clock.set(local(2, 9, 30))
    assert fire(app).fired == 0
    assert [n for n in deliveries(app) if n.kind == "reminder"] == []

    # at stage 2 the reminder goes to the line managers who now hold it, not the practitioners
    clock.set(local(2, 10))
    case = escalate(app, case)
    assert case.stage_due_at == local(4, 17)
    deliveries(app)
    clock.set(local(4, 9))
    fire(app)
    reminders = [n for n in deliveries(app) if n.kind == "reminder"]
    assert {n.recipient.address for n in reminders} == {CAL, GUS}
    assert len(events_of(app, case, EventType.REMINDER_SENT)) == 2


@pytest.mark.parametrize(
    ("raised", "due", "morning"),
    [
        (local(1, 20), local(2, 17), local(2, 9)),  # Monday evening
        (local(5, 18), local(8, 17), local(8, 9)),  # Friday evening: Monday
        (local(6, 11), local(8, 17), local(8, 9)),  # Saturday
        (local(1, 7, 30), local(2, 17), local(1, 9)),  # before opening: the same morning
    ],
    ids=["mon-evening", "fri-evening", "saturday", "early-morning"],
)
def test_out_of_hours_messages_wait_for_working_time_but_the_raiser_hears_at_once(
    tmp_path: Path, raised: Any, due: Any, morning: Any
) -> None:
    app, clock = app_for(tmp_path, start=raised)
    case = raise_case(app, NB)
    assert case.stage_due_at == due
    now = deliveries(app)
    assert [(n.recipient.address, n.kind) for n in now] == [(DANA, "raised-confirm")]
    waiting = pending(app, case)
    assert waiting and {n.deliver_at for n in waiting} == {morning}
    clock.set(morning - timedelta(minutes=1))
    assert deliveries(app) == []
    clock.set(morning)
    sent = deliveries(app)
    assert {(n.recipient.address, n.kind) for n in sent} == {
        (HANA, "raised-counterpart"),
        (NB_TEAM, "business-alert"),
    }
    assert pending(app, case) == []


# ---- St Helens -------------------------------------------------------------------------------


def test_st_helens_case_from_raise_to_resolution_with_its_coloured_forms(tmp_path: Path) -> None:
    app, clock = app_for(tmp_path)
    case = raise_case(app, HP)
    assert (case.reference, case.stage, case.stage_due_at) == ("HP-0001", 1, local(2, 17))
    assert roster(joined_at(case, 1)) == {("practitioner", SCHOOL), ("practitioner", SOCIAL_CARE)}
    sent = deliveries(app)
    assert titles([n for n in sent if n.recipient.address == HP_MAILBOX]) == [
        "Orange Stage 1 Notification Form (orange)"
    ]
    assert titles(to_channel(sent, HP_TEAM)) == ["New professional difference HP-0001: stage 1"]

    # Mon 11:00: Quin cannot agree; stage 2 (2 working days) due Wed 3 Feb 17:00
    clock.set(local(1, 11))
    case = escalate(app, case, actor=QUIN)
    assert (case.stage, case.stage_due_at) == (2, local(3, 17))
    assert roster(joined_at(case, 2)) == {
        ("first_line_manager", SCHOOL),
        ("first_line_manager", SOCIAL_CARE),
    }
    assert emails(joined_at(case, 2)) == {MAX, PIP}
    sent = deliveries(app)
    assert titles([n for n in sent if n.recipient.address == HP_MAILBOX]) == [
        "Green Stage 2 Notification Form (green)"
    ]
    assert titles(to_channel(sent, "console:havenport-managers")) == [
        "Case HP-0001 escalated to stage 2, 1st line manager to 1st line manager"
    ]

    # Wed 3 Feb 17:00 exactly: lapses to stage 3 (5 working days) due Wed 10 Feb 17:00
    clock.set(local(3, 17))
    assert fire(app).fired == 1
    case = current(app, case)
    assert (case.stage, case.stage_due_at) == (3, local(10, 17))
    assert emails(joined_at(case, 3)) == {LOU, OLI}
    assert roster(joined_at(case, 3)) == {
        ("second_tier_manager", SCHOOL),
        ("second_tier_manager", SOCIAL_CARE),
    }
    assert [e.summary for e in events_of(app, case, EventType.DEADLINE_LAPSED)] == [
        "escalated: deadline lapsed"
    ]
    clock.set(local(4, 9))
    sent = deliveries(app)
    assert titles(to_channel(sent, HP_TEAM)) == [
        "Case HP-0001: stage 2 deadline lapsed; now stage 3, 2nd tier management"
    ]
    assert titles([n for n in sent if n.recipient.address == HP_MAILBOX]) == [
        "Blue Stage 3 Notification Form (blue)"
    ]

    # Thu 4 Feb 10:00: the second tier managers agree
    clock.set(local(4, 10))
    policy = app.engine.policy_for(case)
    outcome = handle(
        app,
        Resolve(actor=LOU, case_id=case.id, expected_version=case.version, record=record(),
                outcome_answers=outcome_answers(policy)),
    )
    case = current(app, case)
    assert outcome.case is not None and case.status is CaseStatus.RESOLVED
    assert case.resolution is not None
    assert (case.resolution.stage, case.resolution.working_days_taken) == (3, 3)
    sent = deliveries(app)
    assert "Purple Resolution Outcome Form (purple)" in titles(
        [n for n in sent if n.recipient.address == HP_MAILBOX]
    )
    assert titles(to_channel(sent, HP_TEAM)) == ["Case HP-0001 resolved at stage 3"]


@pytest.mark.parametrize(
    ("start", "due", "brought_in", "who"),
    [
        (2, local(3, 17), {("first_line_manager", SCHOOL), ("first_line_manager", SOCIAL_CARE)},
         {MAX, PIP}),
        (3, local(8, 17), {("second_tier_manager", SCHOOL), ("second_tier_manager", SOCIAL_CARE)},
         {LOU, OLI}),
        (4, local(4, 17), {("partnership_decision_maker", SCHOOL)}, {SOL}),
    ],
)
def test_st_helens_may_start_later_when_the_child_is_at_immediate_risk(
    shared: App, start: int, due: Any, brought_in: set[tuple[str, str]], who: set[str]
) -> None:
    app = shared
    case = raise_case(app, HP, immediate_risk="yes", start_stage=start)
    assert case.immediate_risk
    assert (case.stage, case.stage_due_at) == (start, due)
    assert roster(joined_at(case, start)) == brought_in
    assert emails(joined_at(case, start)) == who
    assert emails(joined_at(case, 1)) == {NIA, QUIN}
    raised = events_of(app, case, EventType.CONCERN_RAISED)
    assert raised[0].data == {"start_stage": str(start)}
    entered = events_of(app, case, EventType.STAGE_ENTERED)
    assert [e.stage for e in entered] == [start]
    prompts = [n for n in pending(app, case) if n.kind == "stage-prompt"]
    assert {n.recipient.address for n in prompts} == who


@pytest.mark.parametrize(
    ("partnership", "risk", "start", "words"),
    [
        (HP, "no", 2, "only for a child at immediate risk"),
        (HP, "yes", 5, "not stage 5"),
        (HP, "yes", 0, "not stage 0"),
        (NB, "no", 2, "only for a child at immediate risk"),
        (NB, "yes", 4, "a case at immediate risk starts at stage 2, not stage 4"),
        (IC, "yes", 2, "always starts at stage 1"),
        (CB, "yes", 3, "always starts at stage 1"),
    ],
)
def test_a_later_start_is_refused_without_risk_at_other_stages_or_elsewhere(
    shared: App, partnership: str, risk: str, start: int, words: str
) -> None:
    app = shared
    before = open_count(app)
    with pytest.raises(InvalidInput) as refused:
        raise_case(app, partnership, immediate_risk=risk, start_stage=start)
    assert set(refused.value.field_errors) == {"start_stage"}
    assert words in refused.value.field_errors["start_stage"]
    assert open_count(app) == before


# ---- the Jersey pathway question -------------------------------------------------------------


@pytest.mark.parametrize("partnership", [IC, CB])
def test_jersey_packs_need_the_professional_difference_pathway(
    shared: App, partnership: str
) -> None:
    app = shared
    before = open_count(app)
    with pytest.raises(InvalidInput) as missing:
        raise_case(app, partnership, pathway_choice=None)
    assert set(missing.value.field_errors) == {"pathway"}
    assert "We disagree about safeguarding" in missing.value.field_errors["pathway"]
    with pytest.raises(InvalidInput) as unknown:
        raise_case(app, partnership, pathway_choice="made-up")
    assert set(unknown.value.field_errors) == {"pathway"}
    with pytest.raises(InvalidInput) as signposted:
        raise_case(app, partnership, pathway_choice="casp")
    assert "Community Adult Support Panel (CASP)" in signposted.value.field_errors["pathway"]
    with pytest.raises(InvalidInput) as baseline:
        raise_case(app, partnership, pathway_choice="baseline")
    assert "Early Help" in baseline.value.field_errors["pathway"]
    assert open_count(app) == before
    assert raise_case(app, partnership).stage == 1  # the continuing choice is accepted


def test_packs_without_a_pathway_ignore_the_choice(shared: App) -> None:
    app = shared
    assert raise_case(app, NB, pathway_choice=None).stage == 1


# ---- SP Jersey -------------------------------------------------------------------------------


def test_sp_jersey_first_escalation_moves_to_the_first_line_managers_within_stage_1(
    tmp_path: Path,
) -> None:
    app, clock = app_for(tmp_path)
    case = raise_case(app, IC)
    assert (case.stage, case.stage_due_at) == (1, jersey(8, 17))  # 5 working days
    discuss = case.step("practitioners-discuss")
    assert discuss is not None and discuss.due_at == jersey(2, 17)
    assert case.step("first-line-managers-discuss") is None
    assert emails(case.active_participants()) == {WYN, ALEX}  # managers join with their step

    clock.set(jersey(1, 14))
    case = escalate(app, case, actor=ALEX)
    assert case.stage == 1
    assert case.stage_due_at == jersey(8, 17)  # the stage's own clock keeps running
    assert case.step("practitioners-discuss").done  # type: ignore[union-attr]
    managers = case.step("first-line-managers-discuss")
    assert managers is not None and not managers.done
    assert (managers.started_at, managers.due_at) == (jersey(1, 14), jersey(2, 17))
    assert roster([p for p in case.participants if p.role == "first_line_manager"]) == {
        ("first_line_manager", POLICE),
        ("first_line_manager", CHILDREN),
    }
    moved = events_of(app, case, EventType.ESCALATED)
    assert [e.summary for e in moved] == [
        "moved to step 'First line managers discuss': a party could not agree"
    ]
    sent = deliveries(app)
    prompts = [n for n in sent if n.kind == "step-prompt"]
    assert {n.recipient.address for n in prompts} == {VIC, ZED}
    assert set(titles(prompts)) == {"Case IC-0001: 'First line managers discuss' is now yours"}

    # the second escalation leaves stage 1 for the senior managers (5 days: Tue 9 Feb)
    clock.set(jersey(2, 10))
    case = escalate(app, case, actor=ZED)
    assert (case.stage, case.stage_due_at) == (2, jersey(9, 17))
    assert emails(joined_at(case, 2)) == {UMA, YAS}
    assert roster(joined_at(case, 2)) == {("senior_manager", POLICE), ("senior_manager", CHILDREN)}


def test_sp_jersey_case_where_the_practitioners_step_lapses_then_resolves_at_stage_3(
    tmp_path: Path,
) -> None:
    app, clock = app_for(tmp_path)
    case = raise_case(app, IC)

    # Tue 2 Feb 17:00: the practitioners' day is up; the first line managers take over
    clock.set(jersey(2, 17))
    assert fire(app).fired == 1
    case = current(app, case)
    assert case.stage == 1
    managers = case.step("first-line-managers-discuss")
    assert managers is not None and managers.due_at == jersey(3, 17)
    assert emails([p for p in case.participants if p.role == "first_line_manager"]) == {VIC, ZED}
    moved = events_of(app, case, EventType.ESCALATED)
    assert [(e.summary, e.actor) for e in moved] == [
        ("moved to step 'First line managers discuss': step deadline lapsed", "scheduler")
    ]

    # Wed 3 Feb 10:00: they cannot agree; stage 2 (5 days) due Wed 10 Feb 17:00
    clock.set(jersey(3, 10))
    case = escalate(app, case, actor=VIC)
    assert (case.stage, case.stage_due_at) == (2, jersey(10, 17))
    assert emails(joined_at(case, 2)) == {UMA, YAS}

    # Wed 10 Feb 17:00: the senior managers let it lapse; stage 3 due Wed 17 Feb 17:00
    deliveries(app)
    clock.set(jersey(10, 17))
    fire(app)
    case = current(app, case)
    assert (case.stage, case.stage_due_at) == (3, jersey(17, 17))
    assert roster(joined_at(case, 3)) == {
        ("professional_lead", POLICE),
        ("professional_lead", CHILDREN),
    }
    assert emails(joined_at(case, 3)) == {TAM, XAN}
    inform = case.step("inform-professional-leads")
    assert inform is not None and inform.due_at == jersey(11, 17)
    assert [e.summary for e in events_of(app, case, EventType.DEADLINE_LAPSED)] == [
        "escalated: deadline lapsed"
    ]
    clock.set(jersey(11, 9))
    assert titles(to_channel(deliveries(app), IC_TEAM)) == [
        "Case IC-0001: stage 2 deadline lapsed; now stage 3, Professional Leads"
    ]

    # the professional leads agree
    clock.set(jersey(11, 10))
    handle(app, Resolve(actor=TAM, case_id=case.id, expected_version=case.version,
                        record=record()))
    case = current(app, case)
    assert case.status is CaseStatus.RESOLVED
    assert case.resolution is not None and case.resolution.stage == 3
    assert all(s.done for s in case.steps)
    assert app.store.deadlines_for_case(case.id) == []
    assert titles(to_channel(deliveries(app), IC_TEAM)) == ["Case IC-0001 resolved at stage 3"]


# ---- Jersey SPB 2014 -------------------------------------------------------------------------


def test_jersey_2014_case_through_six_stages_to_the_chairs_recommendation(tmp_path: Path) -> None:
    app, clock = app_for(tmp_path)
    case = raise_case(app, CB)
    assert (case.reference, case.stage, case.stage_due_at) == ("CB-0001", 1, jersey(8, 17))
    assert emails(joined_at(case, 1)) == {HANA_S, MAX_F}

    clock.set(jersey(1, 11))
    case = escalate(app, case, actor=MAX_F)  # stage 2: 2 days
    assert (case.stage, case.stage_due_at) == (2, jersey(3, 17))
    assert roster(joined_at(case, 2)) == {("manager", ADULT_CARE), ("manager", HOUSING)}

    clock.set(jersey(3, 17))  # lapses into stage 3: 5 days from Wed
    fire(app)
    case = current(app, case)
    assert (case.stage, case.stage_due_at) == (3, jersey(10, 17))
    assert joined_at(case, 3) == []  # the managers already hold it
    assert [e.summary for e in events_of(app, case, EventType.DEADLINE_LAPSED)] == [
        "escalated: deadline lapsed"
    ]

    clock.set(jersey(4, 10))
    case = escalate(app, case)  # stage 4: 2 days
    assert (case.stage, case.stage_due_at) == (4, jersey(8, 17))
    assert roster(joined_at(case, 4)) == {
        ("safeguarding_manager", ADULT_CARE),
        ("safeguarding_manager", HOUSING),
    }

    clock.set(jersey(5, 10))
    case = escalate(app, case)  # stage 5: 3 days
    assert (case.stage, case.stage_due_at) == (5, jersey(10, 17))
    assert roster(joined_at(case, 5)) == {
        ("head_of_service", ADULT_CARE),
        ("head_of_service", HOUSING),
    }

    clock.set(jersey(8, 10))
    case = escalate(app, case)  # stage 6: 7 days = Wed 17 Feb; refer within 2 = Wed 10 Feb
    assert (case.stage, case.stage_due_at) == (6, jersey(17, 17))
    assert roster(joined_at(case, 6)) == {
        ("board_representative", ADULT_CARE),
        ("board_representative", HOUSING),
    }
    assert emails(joined_at(case, 6)) == {DANA_H, IVO_H}
    assert case.participant(OLI_R) is None  # the Chair joins when the referral reaches them
    refer = case.step("refer-to-board-chair")
    assert refer is not None and refer.due_at == jersey(10, 17)
    assert case.step("chair-recommendation") is None

    # the Chair's step has not started; only a board representative may refer
    before = snapshot(app, case)
    with pytest.raises(IllegalTransition, match="no open step 'chair-recommendation'"):
        handle(app, CompleteStep(actor=OLI_R, case_id=case.id, expected_version=case.version,
                                 step_id="chair-recommendation"))
    # the raiser is on the case but not a board representative; the Chair is not on it yet
    for not_owner, refusal in ((HANA_S, "Only Agency representative to the Board"),
                               (OLI_R, "Only the people involved in case CB-0001")):
        with pytest.raises(NotAllowed, match=refusal):
            handle(app, CompleteStep(actor=not_owner, case_id=case.id,
                                     expected_version=case.version,
                                     step_id="refer-to-board-chair"))
    assert snapshot(app, case) == before

    # Tue 9 Feb 10:00: the referral is made; the Chair has 5 working days (Tue 16 Feb)
    clock.set(jersey(9, 10))
    handle(app, CompleteStep(actor=IVO_H, case_id=case.id, expected_version=case.version,
                             step_id="refer-to-board-chair"))
    case = current(app, case)
    chair = case.step("chair-recommendation")
    assert chair is not None and (chair.started_at, chair.due_at) == (jersey(9, 10), jersey(16, 17))
    assert case.step("refer-to-board-chair").done  # type: ignore[union-attr]
    oli = case.participant(OLI_R)
    assert oli is not None and (oli.side, oli.stage) == (Side.PARTNERSHIP, 6)
    prompts = [n for n in deliveries(app) if n.kind == "step-prompt"]
    assert [(n.recipient.address, n.card.title) for n in prompts] == [
        (OLI_R, "Case CB-0001: 'Chair's recommendation' is now yours")
    ]
    with pytest.raises(NotAllowed, match="Only Chair of the Safeguarding Partnership Board"):
        handle(app, CompleteStep(actor=DANA_H, case_id=case.id, expected_version=case.version,
                                 step_id="chair-recommendation"))

    clock.set(jersey(12, 10))
    case = decide(app, case, OLI_R)
    assert case.status is CaseStatus.FINAL_DECISION
    assert case.resolution is not None
    assert (case.resolution.stage, case.resolution.working_days_taken) == (6, 9)
    assert titles(to_channel(deliveries(app), CB_TEAM)) == [
        "Case CB-0001: the recommendation was recorded at stage 6"
    ]


# ---- nobody known for a tier -----------------------------------------------------------------


def _without_health_line_manager(data: dict[str, Any]) -> None:
    data["people"] = [p for p in data["people"] if p["email"] != GUS]
    for entry in data["people"]:
        if entry.get("line_manager") == GUS:
            entry["line_manager"] = FERN


def test_an_empty_tier_is_reported_and_filled_by_adding_someone(tmp_path: Path) -> None:
    config = derived_config(tmp_path, _without_health_line_manager)
    app, clock = app_for(tmp_path, config=config)
    case = raise_case(app, NB)
    deliveries(app)
    case = escalate(app, case, actor=HANA)
    assert case.stage == 2
    assert roster(joined_at(case, 2)) == {("line_manager", COUNCIL)}  # nobody for health
    empty = events_of(app, case, EventType.TIER_EMPTY)
    assert [(e.stage, e.data, e.summary) for e in empty] == [
        (2, {"role": "line_manager"}, "nobody known as Line manager for Northbay Community Health")
    ]
    sent = deliveries(app)
    asked = [n for n in sent if n.kind == "tier-empty-line_manager-northbay-health"]
    raiser = [n for n in asked if n.recipient.kind is RecipientKind.PERSON]
    assert [n.recipient.address for n in raiser] == [DANA]
    assert "add NB-0001 their.email@agency" in raiser[0].card.title
    assert titles(to_channel(asked, NB_TEAM)) == [
        "Case NB-0001: nobody is known for Line manager at Northbay Community Health; please help"
    ]
    app.close()

    # the business team puts a health line manager in the directory; the bot restarts with it
    def with_new_manager(data: dict[str, Any]) -> None:
        _without_health_line_manager(data)
        data["people"].append({
            "email": "gil.young@health.northbay.example", "name": "Gil Young",
            "agency": HEALTH, "role": "line_manager", "line_manager": FERN,
        })

    config = derived_config(tmp_path, with_new_manager, name="partnerships-2.yaml")
    app, clock = app_for(tmp_path, start=clock.now(), config=config)
    case = current(app, case)
    handle(app, AddParticipant(actor=DANA, case_id=case.id, expected_version=case.version,
                               email="gil.young@health.northbay.example"))
    case = current(app, case)
    gil = case.participant("gil.young@health.northbay.example")
    assert gil is not None
    assert (gil.side, gil.stage, gil.role) == (Side.RECEIVING, 2, "line_manager")
    assert roster(joined_at(case, 2)) == {("line_manager", COUNCIL), ("line_manager", HEALTH)}
    added = [n for n in deliveries(app) if n.kind == "added"]
    assert [(n.recipient.address, n.card.title) for n in added] == [
        ("gil.young@health.northbay.example", "You have been added to case NB-0001")
    ]
    # and Gil now holds stage 2 for health: the due-day reminder reaches them
    clock.set(local(3, 9))
    fire(app)
    reminded = {n.recipient.address for n in deliveries(app) if n.kind == "reminder"}
    assert reminded == {CAL, "gil.young@health.northbay.example"}
    app.close()


# ---- agreed actions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "words"),
    [
        (ActionInput(description="Joint visit", owner="Cal Birch", due="ASAP"),
         "'ASAP' is not a date"),
        (ActionInput(description="Joint visit", owner="Cal Birch", due="tbc"),
         "'tbc' is not a date"),
        (ActionInput(description="Joint visit", owner="Cal Birch", due="next week"),
         "'next week' is not a date I can read"),
        (ActionInput(description="Joint visit", owner="Cal Birch", due="31/02/2027"),
         "'31/02/2027' is not a date I can read"),
        (ActionInput(description="Joint visit", owner="Cal Birch", due="29/01/2027"),
         "29/01/2027 has already passed"),
        (ActionInput(description="Joint visit", owner="Cal Birch", due=""),
         "give the actual date"),
        (ActionInput(description="Joint visit", owner=" ", due="15/02/2027"),
         "say who will do it"),
        (ActionInput(description="", owner="Cal Birch", due="15/02/2027"),
         "say what will be done"),
    ],
    ids=["asap", "tbc", "words", "no-such-day", "past", "no-date", "no-owner", "no-description"],
)
def test_agreed_actions_need_an_owner_and_a_real_date_from_today_on(
    shared: App, action: ActionInput, words: str
) -> None:
    app = shared
    case = raise_case(app, NB)
    before = snapshot(app, case)
    with pytest.raises(InvalidInput) as refused:
        handle(app, RecordDiscussion(actor=DANA, case_id=case.id, expected_version=case.version,
                                     record=record(agreed_actions=[action])))
    assert set(refused.value.field_errors) == {"agreed_actions"}
    message = refused.value.field_errors["agreed_actions"]
    assert message.startswith("Action 1: ")
    assert words in message
    assert snapshot(app, case) == before


def test_agreed_actions_in_uk_dates_are_stored(shared: App) -> None:
    app = shared
    case = raise_case(app, NB)
    actions = [
        ActionInput(description="Joint home visit", owner="Cal Birch", due="15/02/2027"),
        ActionInput(description="Share the plan", owner="Gus Penn", due="01/02/2027"),  # today
        ActionInput(description="", owner="", due=""),  # an empty row is ignored
    ]
    handle(app, RecordDiscussion(actor=DANA, case_id=case.id, expected_version=case.version,
                                 record=record(agreed_actions=actions)))
    stored = current(app, case).record_for(1).agreed_actions
    assert stored == [
        AgreedAction(description="Joint home visit", owner="Cal Birch", due=date(2027, 2, 15)),
        AgreedAction(description="Share the plan", owner="Gus Penn", due=date(2027, 2, 1)),
    ]
    # a later record adds to them rather than replacing them
    case = current(app, case)
    more = [ActionInput(description="Review", owner="Dana Marsh", due="2027-03-01")]
    handle(app, RecordDiscussion(actor=HANA, case_id=case.id, expected_version=case.version,
                                 record=record("Reviewed.", agreed_actions=more)))
    stage_one = current(app, case).record_for(1)
    assert [a.due for a in stage_one.agreed_actions] == [
        date(2027, 2, 15), date(2027, 2, 1), date(2027, 3, 1)
    ]
    assert stage_one.recorded_by == [DANA, HANA]


# ---- who may raise -------------------------------------------------------------------------


def test_a_raise_names_someone_in_the_directory_and_not_yourself(shared: App) -> None:
    app = shared
    before = open_count(app)
    with pytest.raises(NotAllowed, match="not in the partnership's directory"):
        raise_case(app, NB, actor="stranger@nowhere.example")
    with pytest.raises(InvalidInput) as other_partnership:
        raise_case(app, NB, counterpart=someone(app, HP, NIA))
    assert set(other_partnership.value.field_errors) == {"counterpart"}
    with pytest.raises(InvalidInput) as yourself:
        raise_case(app, NB, counterpart=someone(app, NB, DANA))
    assert "yourself" in yourself.value.field_errors["counterpart"]
    with pytest.raises(InvalidInput) as missing:
        handle(app, raise_command(app, NB, child_name=None, summary="  "))
    assert {"child_name", "summary"} <= set(missing.value.field_errors)
    assert open_count(app) == before


def test_a_difference_is_raised_with_another_agency(shared: App) -> None:
    app = shared
    with pytest.raises(InvalidInput) as refused:
        raise_case(app, NB, counterpart=someone(app, NB, CAL))
    assert set(refused.value.field_errors) == {"counterpart"}


def test_acknowledgements_are_per_stage(shared: App) -> None:
    app = shared
    case = raise_case(app, NB)
    handle(app, Acknowledge(actor=HANA, case_id=case.id, expected_version=case.version))
    assert current(app, case).acknowledged_by == [HANA]
    case = escalate(app, case)
    assert case.acknowledged_by == []
    handle(app, Acknowledge(actor=GUS, case_id=case.id, expected_version=case.version))
    assert current(app, case).acknowledged_by == [GUS]


# ---- Easter and the clocks going forward -----------------------------------------------------


@pytest.mark.parametrize(("partnership", "zone"), [(NB, LONDON), (IC, JERSEY)])
def test_deadlines_skip_easter_and_stay_at_17_local_after_the_clocks_change(
    tmp_path: Path, partnership: str, zone: Any
) -> None:
    """Raised Thu 25 Mar 2027 10:00 GMT. Good Friday (26) and Easter Monday (29) are holidays in
    England and Jersey; the clocks go forward on Sun 28. One working day is Tue 30 Mar, 17:00
    BST = 16:00 UTC; the due-day reminder is 09:00 BST = 08:00 UTC."""
    thursday = local(25, 10, month=3, zone=zone)
    app, clock = app_for(tmp_path, start=thursday)
    case = raise_case(app, partnership)
    step = case.step("practitioners-discuss")
    first_due = step.due_at if step is not None else case.stage_due_at
    tuesday_17 = local(30, 17, month=3, zone=zone)
    assert first_due == tuesday_17
    assert first_due.astimezone(UTC).hour == 16
    deliveries(app)
    clock.set(local(25, 18, month=3, zone=zone))
    handle(app, Acknowledge(actor=case.participants[1].email, case_id=case.id))
    waiting = [n for n in pending(app, case) if n.kind == "acknowledged"]
    assert [n.deliver_at for n in waiting] == [local(30, 9, month=3, zone=zone)]
    clock.set(local(29, 12, month=3, zone=zone))  # Easter Monday: nothing is due
    assert fire(app).fired == 0
    assert deliveries(app) == []
    clock.set(local(30, 9, month=3, zone=zone))
    fire(app)
    assert {n.kind for n in deliveries(app)} >= {"acknowledged"}
    clock.set(tuesday_17 - timedelta(minutes=1))
    assert fire(app).fired == 0
    clock.set(tuesday_17)
    assert fire(app).fired == 1
    moved = current(app, case)
    if partnership == NB:
        assert moved.stage == 2
        assert moved.stage_due_at == local(1, 17, month=4, zone=zone)  # Thu 1 Apr
    else:
        managers = moved.step("first-line-managers-discuss")
        assert managers is not None and managers.due_at == local(31, 17, month=3, zone=zone)


def test_st_helens_resolution_files_only_the_purple_outcome_form(shared: App) -> None:
    app = shared
    case = escalate(app, raise_case(app, HP))
    filed_before = [n.kind for n in pending(app, case) if n.recipient.address == HP_MAILBOX]
    assert filed_before == ["form-notification-stage-1", "form-notification-stage-2"]
    handle(app, Resolve(actor=NIA, case_id=case.id, expected_version=current(app, case).version,
                        record=record(), outcome_answers=outcome_answers(policy_of(app, HP))))
    filed = [n.kind for n in pending(app, case) if n.recipient.address == HP_MAILBOX]
    assert filed.count("form-notification-stage-2") == 1
    assert filed.count("form-resolution-outcome") == 1


# ---- handing over, then escalating -----------------------------------------------------------

IDA = "ida.quill@health.northbay.example"  # health practitioner, managed by Roy
ROY = "roy.bell@health.northbay.example"
UNA = "una.vey@council.northbay.example"  # council practitioner, managed by Ned
NED = "ned.orr@council.northbay.example"


def _with_second_teams(data: dict[str, Any]) -> None:
    data["people"] += [
        {"email": IDA, "name": "Ida Quill", "agency": HEALTH, "role": "practitioner",
         "line_manager": ROY},
        {"email": ROY, "name": "Roy Bell", "agency": HEALTH, "role": "line_manager",
         "line_manager": FERN},
        {"email": UNA, "name": "Una Vey", "agency": COUNCIL, "role": "practitioner",
         "line_manager": NED},
        {"email": NED, "name": "Ned Orr", "agency": COUNCIL, "role": "line_manager",
         "line_manager": BEA},
    ]


def test_after_hand_overs_each_side_escalates_to_the_new_holders_manager(tmp_path: Path) -> None:
    app, _ = app_for(tmp_path, config=derived_config(tmp_path, _with_second_teams))
    case = raise_case(app, NB)
    handle(app, HandOver(actor=DANA, case_id=case.id, to_email=UNA, reason="Leave."))
    handle(app, HandOver(actor=HANA, case_id=case.id, to_email=IDA, reason="Leave."))
    case = escalate(app, case, actor=IDA)
    stage_two = {(p.email, p.side) for p in joined_at(case, 2)}
    assert (NED, Side.RAISING) in stage_two  # follows the hand-over: passes today
    assert stage_two == {(NED, Side.RAISING), (ROY, Side.RECEIVING)}
    app.close()
