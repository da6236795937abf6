"""Who sees a child's details: parties 1:1, never a shared channel, never the history.

Whole cases run for every bundled procedure - raised, reminded, lapsed stage by stage, steps
overdue, the final decision overdue and re-alerted, decided or resolved, withdrawn - and nothing
is delivered, so the outbox still holds every message the engine ever queued.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from support import (
    CHILD_DOB,
    CHILD_IDS,
    CHILD_NAME,
    PARTNERSHIPS,
    START,
    app_for,
    channel_notes,
    current,
    decide,
    derived_config,
    escalate,
    fire,
    handle,
    history,
    pending,
    people_with,
    person_notes,
    policy_of,
    raise_case,
    record,
    resolve,
    withdraw,
)

from adapters.email.attachments import Attachments
from adapters.email.message import build_message
from bot.bootstrap import App
from bot.demo import outcome_answers
from dialogs.case import Case, CaseStatus
from dialogs.clock import SimulatedClock
from dialogs.commands import (
    Acknowledge,
    AddParticipant,
    CompleteStep,
    Escalate,
    HandOver,
    RecordDiscussion,
    Resolve,
)
from dialogs.errors import CaseNotFound, NotAllowed
from dialogs.notifications import RecipientKind

SECRETS = [
    CHILD_NAME,
    "Jamie",
    CHILD_DOB.isoformat(),  # 2016-04-12
    CHILD_DOB.strftime("%d/%m/%Y"),  # 12/04/2016
    CHILD_IDS,
]
# the child's ICS number on its own; as a word, since a Message-ID's digest may hold "000000"
CHILD_NUMBER = re.compile(r"(?<![0-9a-z])000000(?![0-9a-z])")


def leaks(text: str) -> list[str]:
    lowered = text.lower()
    found = [s for s in SECRETS if s.lower() in lowered]
    return found + (["000000"] if CHILD_NUMBER.search(lowered) else [])


def calendar_of(app: App, case: Case) -> Any:
    return app.engine.calendar_for(app.config.partnership(case.partnership_id),
                                   app.engine.policy_for(case))


def lapse_through_every_stage(app: App, clock: SimulatedClock, partnership: str) -> Case:
    """Raise; let every deadline pass (reminder, steps, stages, the overdue decision) until the
    partnership's decision is two working days late; then the decision-maker decides."""
    case = raise_case(app, partnership)
    calendar = calendar_of(app, case)
    policy = app.engine.policy_for(case)
    clock.set(calendar.start_of_due_day(case.stage_due_at))  # the due-day reminder
    fire(app)
    while current(app, case).stage < policy.final_stage.number:
        clock.set(max(clock.now(), current(app, case).stage_due_at))
        fire(app)
    due = current(app, case).stage_due_at
    clock.set(due + timedelta(minutes=1))
    fire(app)
    for _ in range(2):  # two more working mornings of overdue alerts
        clock.set(calendar.at(calendar.next_working_day(calendar.local(clock.now()).date()),
                              calendar.start_of_business))
        fire(app)
    case = current(app, case)
    assert case.overdue_since is not None
    final = policy.final_stage
    decider = people_with(app, partnership, final.decision_by or final.holder_roles[0])[0]
    return decide(app, case, decider.email)


def talk_it_through(app: App, partnership: str) -> Case:
    """Acknowledge, record, hand over to one's line manager, escalate, add someone, resolve."""
    case = raise_case(app, partnership)
    raiser, counterpart = case.raised_by, case.participants[1].email
    handle(app, Acknowledge(actor=counterpart, case_id=case.id))
    handle(app, RecordDiscussion(actor=raiser, case_id=case.id, record=record("Spoke by phone.")))
    manager = app.engine.people(partnership)[raiser].line_manager
    assert manager is not None
    handle(app, HandOver(actor=raiser, case_id=case.id, to_email=manager, reason="Leave."))
    case = escalate(app, case, actor=counterpart)
    case = escalate(app, case, actor=counterpart)  # SP Jersey needs two to leave stage 1
    team = people_with(app, partnership, policy_of(app, partnership).business_team_role)[0]
    handle(app, AddParticipant(actor=counterpart, case_id=case.id, email=team.email))
    return resolve(app, case, actor=manager)


@pytest.fixture(scope="module", params=list(PARTNERSHIPS), ids=list(PARTNERSHIPS.values()))
def whole_flows(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[App, str, list[Case]]]:
    partnership = request.param
    app, clock = app_for(tmp_path_factory.mktemp(partnership))
    cases = [
        lapse_through_every_stage(app, clock, partnership),
        talk_it_through(app, partnership),
        withdraw(app, raise_case(app, partnership)),
    ]
    if partnership == "havenport":
        cases.append(raise_case(app, partnership, immediate_risk="yes", start_stage=3))
    yield app, partnership, cases
    app.close()


def test_the_flows_really_ran(whole_flows: tuple[App, str, list[Case]]) -> None:
    app, _, cases = whole_flows
    statuses = [current(app, c).status for c in cases[:3]]
    assert statuses == [CaseStatus.FINAL_DECISION, CaseStatus.RESOLVED, CaseStatus.WITHDRAWN]
    kinds = {n.kind for n in channel_notes(pending(app))}
    assert {"business-alert", "overdue", "resolved", "decided", "withdrawn"} <= kinds


def test_channel_messages_never_carry_the_childs_details(
    whole_flows: tuple[App, str, list[Case]],
) -> None:
    app, _, _ = whole_flows
    channel = channel_notes(pending(app))
    assert len(channel) >= 10
    for note in channel:
        assert leaks(note.model_dump_json()) == [], (note.kind, note.card.title)
        assert leaks(note.card.all_text()) == []


def test_parties_are_told_the_childs_name_one_to_one(
    whole_flows: tuple[App, str, list[Case]],
) -> None:
    app, _, cases = whole_flows
    notes = person_notes(pending(app))
    assert notes
    for case in cases:
        parties = {p.email for p in current(app, case).participants}
        to_parties = [n for n in notes if n.case_id == case.id and n.recipient.address in parties]
        assert to_parties
        for note in to_parties:
            assert CHILD_NAME in note.card.all_text(), (note.kind, note.recipient.address)


def test_the_history_holds_no_child_details(whole_flows: tuple[App, str, list[Case]]) -> None:
    app, _, cases = whole_flows
    for case in cases:
        events = history(app, case)
        assert events
        for event in events:
            assert leaks(event.model_dump_json()) == [], event.summary


def test_person_messages_go_only_to_people_entitled_to_see_the_case(
    whole_flows: tuple[App, str, list[Case]],
) -> None:
    app, _, _ = whole_flows
    for note in person_notes(pending(app)):
        case = current(app, note.case_id)
        if note.kind.startswith("form-"):
            continue  # forms go where the policy's copies_to sends them (see the test below)
        was_party = note.recipient.address in {p.email for p in case.participants}
        assert was_party or app.engine.can_view(case, note.recipient.address), note.kind


def test_emails_carry_the_childs_details_only_in_their_body_and_forms(
    whole_flows: tuple[App, str, list[Case]],
) -> None:
    """Everything queued for a person or a mailbox, drawn as the email it would be: the subject,
    every other header and every attachment's file name say nothing about the child (a subject
    shows on a lock screen, a file name in a download folder); the body may, 1:1."""
    app, _, _ = whole_flows
    attachments = Attachments(lambda document, fmt: document.all_text().encode())
    emailed = [n for n in pending(app)
               if n.recipient.kind in (RecipientKind.PERSON, RecipientKind.MAILBOX)]
    assert len({n.kind.split("-")[0] for n in emailed}) >= 5  # many kinds of message
    for note in emailed:
        message = build_message(note, sender="Bot <bot@partnership.example>",
                                to=note.recipient.address, attachments=attachments,
                                now=note.deliver_at)
        for name, value in message.items():
            assert leaks(str(value)) == [], (name, value)
        for part in message.iter_attachments():
            assert leaks(part.get_filename() or "") == []
            assert CHILD_NAME.encode() in part.get_content()  # the form is the child's record


def test_reports_carry_no_child_detail_even_where_people_wrote_one(
    whole_flows: tuple[App, str, list[Case]],
) -> None:
    """The report over these whole flows, plus a case whose reflection answers name the child
    (as people do), in every format: counts, references and the answers with the child taken
    out. Its HTML is read as a browser shows it (tags and the charts' colours dropped)."""
    from adapters.documents import render_report_csv, render_report_html, render_report_json
    from dialogs.reports.build import build_report
    from dialogs.reports.figures import Period

    app, partnership, _ = whole_flows
    case = raise_case(app, partnership)
    policy = app.engine.policy_for(case)
    answers = outcome_answers(policy)
    told = f"{CHILD_NAME} (born {CHILD_DOB.strftime('%d/%m/%Y')}, {CHILD_IDS}) was kept waiting"
    for field_id in ("what_worked_well", "what_worried_you", "what_needs_to_change",
                     "policy_helpfulness"):
        if field_id in answers:
            answers[field_id] = told
    handle(app, Resolve(actor=case.raised_by, case_id=case.id, expected_version=case.version,
                        record=record(f"Agreed about {CHILD_NAME}."), outcome_answers=answers))
    day = START.date()
    built = build_report(app.store, app.config, app.policies, partnership_id=partnership,
                         period=Period(day, day + timedelta(days=365)), now=app.clock.now())
    assert built.figures.cases >= 4
    if told in answers.values():  # St Helens and NSSCP ask about the process; SP Jersey not
        assert any("[removed]" in a for answers in built.figures.reflections.values()
                   for a in answers)
    report = built.report
    assert leaks(report.all_text()) == []
    html = render_report_html(report).decode()
    shown = re.sub(r"<[^>]+>", " ", html).replace("#000000", "")
    assert leaks(shown) == []
    for drawn in (render_report_csv(report), render_report_json(report)):
        assert leaks(drawn.decode()) == []


# ---- who may look ----------------------------------------------------------------------------

NB = "northbay"
DANA = "dana.marsh@council.northbay.example"
BEA = "bea.lane@council.northbay.example"  # senior manager: not on a stage 1 case
JO = "jo.holt@partnership.northbay.example"  # DSP: decides at stage 4
IVO = "ivo.fell@partnership.northbay.example"  # NSSCP business manager
NIA = "nia.stone@school.havenport.example"  # another partnership
RAE = "rae.knox@partnership.havenport.example"  # another partnership's business unit


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    app, _ = app_for(tmp_path_factory.mktemp("privacy"))
    yield app
    app.close()


def test_a_colleague_not_on_the_case_can_neither_see_nor_act(shared: App) -> None:
    app = shared
    case = raise_case(app, NB)
    for outsider in (BEA, JO, NIA, RAE):
        with pytest.raises(NotAllowed, match="I can't find case"):
            app.engine.view(case.reference, outsider)
        with pytest.raises(NotAllowed):
            app.engine.history(case.id, outsider)
        with pytest.raises(NotAllowed):
            handle(app, Escalate(actor=outsider, case_id=case.id, expected_version=case.version,
                                 unresolved="Me too."))
        with pytest.raises(NotAllowed):
            handle(app, Resolve(actor=outsider, case_id=case.id, expected_version=case.version,
                                record=record()))
        with pytest.raises(NotAllowed):
            handle(app, Acknowledge(actor=outsider, case_id=case.id))
        with pytest.raises(NotAllowed):
            handle(app, AddParticipant(actor=outsider, case_id=case.id, email=outsider))
    assert current(app, case).version == case.version


def test_a_refusal_does_not_tell_an_outsider_that_a_case_exists(shared: App) -> None:
    """Someone who may not see a case gets the answer a reference that does not exist gets,
    whatever they try: looking, or acting on it."""
    app = shared
    case = raise_case(app, NB)
    with pytest.raises(CaseNotFound) as missing:
        app.engine.view("NB-0999", BEA)
    with pytest.raises(NotAllowed) as hidden:
        app.engine.view(case.reference, BEA)
    assert str(hidden.value.message) == missing.value.message.replace("NB-0999", case.reference)
    for command in (
        Escalate(actor=BEA, case_id=case.id, expected_version=case.version, unresolved="Me."),
        Acknowledge(actor=BEA, case_id=case.id),
        HandOver(actor=BEA, case_id=case.id, to_email=JO, reason="Leave."),
    ):
        with pytest.raises(NotAllowed) as refused:
            handle(app, command)
        assert case.reference not in refused.value.message
        assert refused.value.message.startswith("I can't find")


def test_a_hand_over_reason_stays_out_of_the_history(shared: App) -> None:
    """Free text may name the child ("Annual leave (about Jamie)"): it is kept with the case's
    sensitive fields, and the history says only who handed over to whom."""
    app = shared
    case = raise_case(app, NB)
    reason = f"Annual leave (about {CHILD_NAME})"
    manager = app.engine.people(NB)[case.raised_by].line_manager
    assert manager is not None
    handle(app, HandOver(actor=case.raised_by, case_id=case.id, to_email=manager, reason=reason))
    for event in history(app, case):
        assert leaks(event.model_dump_json()) == [], event.summary
    (note,) = current(app, case).handovers
    assert note.reason == reason and note.to == manager and note.by == case.raised_by


def test_parties_and_the_business_team_can_see_the_case(shared: App) -> None:
    app = shared
    case = raise_case(app, NB)
    for viewer in (DANA, DANA.upper(), "hana.moss@health.northbay.example", IVO):
        assert app.engine.view(case.reference, viewer).id == case.id
    assert app.engine.view(case.reference.lower(), IVO).id == case.id
    assert app.engine.view(case.id, IVO).id == case.id
    assert app.engine.history(case.reference, IVO)[0].type == "concern_raised"
    with pytest.raises(CaseNotFound):
        app.engine.view("NB-9999", IVO)


def test_the_decision_role_can_see_the_case_once_it_reaches_their_stage(shared: App) -> None:
    app = shared
    case = raise_case(app, NB)
    for _ in range(2):
        case = escalate(app, case)
    with pytest.raises(NotAllowed):
        app.engine.view(case.reference, JO)
    case = escalate(app, case)
    assert case.stage == 4
    assert app.engine.view(case.reference, JO).id == case.id
    assert app.engine.view(case.reference, "kit.reed@partnership.northbay.example")


def test_someone_who_handed_over_can_no_longer_act(shared: App) -> None:
    app = shared
    case = raise_case(app, NB)
    handle(app, HandOver(actor=DANA, case_id=case.id, to_email="cal.birch@council.northbay.example",
                         reason="Leave."))
    with pytest.raises(NotAllowed):
        app.engine.view(case.reference, DANA)
    with pytest.raises(NotAllowed):
        handle(app, Escalate(actor=DANA, case_id=case.id, unresolved="x"))


# ---- a third agency in Northbay, not involved in the case --------------------------------------

POLICE_SENIOR = "sam.yew@police.northbay.example"
POLICE_HEAD = "tia.fir@police.northbay.example"


def _with_police(data: dict[str, Any]) -> None:
    data["agencies"].append({"id": "northbay-police", "name": "Northbay Police",
                             "partnership": "northbay"})
    data["people"] += [
        {"email": "pat.oak@police.northbay.example", "name": "Pat Oak",
         "agency": "northbay-police", "role": "practitioner", "line_manager": POLICE_SENIOR},
        {"email": POLICE_SENIOR, "name": "Sam Yew", "agency": "northbay-police",
         "role": "senior_manager", "line_manager": POLICE_HEAD},
        {"email": POLICE_HEAD, "name": "Tia Fir", "agency": "northbay-police",
         "role": "head_of_safeguarding"},
    ]


@pytest.fixture
def three_agencies(tmp_path: Path) -> Iterator[App]:
    app, _ = app_for(tmp_path, config=derived_config(tmp_path, _with_police))
    yield app
    app.close()


def test_an_uninvolved_agency_cannot_see_the_case(three_agencies: App) -> None:
    app = three_agencies
    case = raise_case(app, NB)
    for _ in range(3):
        case = escalate(app, case)
    for outsider in (POLICE_SENIOR, POLICE_HEAD):
        with pytest.raises(NotAllowed):
            app.engine.view(case.reference, outsider)


def test_only_people_on_the_case_complete_its_steps(three_agencies: App) -> None:
    app = three_agencies
    case = raise_case(app, NB)
    for _ in range(3):
        case = escalate(app, case)
    assert case.stage == 4
    with pytest.raises(NotAllowed):
        handle(app, CompleteStep(actor=POLICE_SENIOR, case_id=case.id,
                                 expected_version=case.version, step_id="refer-to-partnership"))
    step = current(app, case).step("refer-to-partnership")
    assert step is not None and not step.done


def test_appendix_1_goes_only_to_the_raising_agencys_head(three_agencies: App) -> None:
    """Seed 001, stage 3: "a copy ... to ... your own agency Head of Safeguarding", the agency
    raising the issue, which keeps the record; never an uninvolved agency's."""
    app = three_agencies
    case = raise_case(app, NB)
    for _ in range(2):
        case = escalate(app, case)
    case = resolve(app, case)
    forms = [n for n in pending(app, case) if n.kind == "form-appendix-1"]
    recipients = {n.recipient.address for n in forms}
    assert "alex.rowe@council.northbay.example" in recipients  # the council raised it
    assert "eli.wren@health.northbay.example" not in recipients  # health received it
    assert POLICE_HEAD not in recipients


# ---- the channel guard itself ----------------------------------------------------------------


def test_a_family_name_that_is_part_of_an_agency_name_can_still_be_raised(shared: App) -> None:
    case = raise_case(shared, "havenport", child_name="Haven")
    assert case.child.name == "Haven"


def test_a_lapse_into_a_stage_whose_name_contains_the_family_name_still_escalates(
    tmp_path: Path,
) -> None:
    app, clock = app_for(tmp_path)
    case = raise_case(app, "havenport", child_name="Key")
    case = escalate(app, case)
    case = escalate(app, case)
    assert case.stage == 3
    clock.set(case.stage_due_at)
    fire(app)
    case = current(app, case)
    assert case.stage == 4
    assert [e.summary for e in history(app, case)][-1] == "entered stage 4: deadline lapsed"


def test_the_empty_tier_alert_names_the_role_and_agency_but_not_the_child(tmp_path: Path) -> None:
    def without_health_line_manager(data: dict[str, Any]) -> None:
        gus = "gus.penn@health.northbay.example"
        data["people"] = [p for p in data["people"] if p["email"] != gus]
        for entry in data["people"]:
            if entry.get("line_manager") == gus:
                entry["line_manager"] = "fern.ash@health.northbay.example"

    app, _ = app_for(tmp_path, config=derived_config(tmp_path, without_health_line_manager))
    case = escalate(app, raise_case(app, NB))
    alerts = [n for n in channel_notes(pending(app, case)) if n.kind.startswith("tier-empty")]
    assert len(alerts) == 1
    assert "Line manager at Northbay Community Health" in alerts[0].card.title
    assert leaks(alerts[0].model_dump_json()) == []
    asked = [n for n in person_notes(pending(app, case)) if n.kind.startswith("tier-empty")]
    assert [n.recipient.address for n in asked] == [DANA]
    assert CHILD_NAME in asked[0].card.all_text()  # 1:1 to the raiser, who may see it
    app.close()
