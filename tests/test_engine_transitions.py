"""The transition table, command by command and state by state, through the real engine.

Every closed state is reached for real (a resolution, a final decision after escalating through
every stage, a withdrawal), and every command is tried in every state. Refusals must change
nothing: not the case, its history, its outbox or its deadlines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from support import (
    app_for,
    channel_notes,
    clock_of,
    current,
    decide,
    drain,
    escalate,
    escalate_to,
    handle,
    history,
    pending,
    policy_of,
    raise_case,
    record,
    resolve,
    snapshot,
    withdraw,
)

from bot.bootstrap import App
from dialogs.actions import action_states
from dialogs.case import Case, CaseStatus, Side
from dialogs.commands import (
    CASE_COMMANDS,
    Acknowledge,
    ActionInput,
    AddParticipant,
    Command,
    CompleteStep,
    DeadlineLapsed,
    Escalate,
    HandOver,
    RecordDecision,
    RecordDeliveryFailure,
    RecordDiscussion,
    Resolve,
    UpdateAction,
    Withdraw,
)
from dialogs.errors import CaseNotFound, IllegalTransition, InvalidInput, NotAllowed, StaleCase
from dialogs.events import EventType
from dialogs.transitions import TRANSITIONS, Refusal

NB = "northbay"
DANA = "dana.marsh@council.northbay.example"  # practitioner, council: the raiser
HANA = "hana.moss@health.northbay.example"  # practitioner, health: the counterpart
CAL = "cal.birch@council.northbay.example"  # council line manager
GUS = "gus.penn@health.northbay.example"  # health line manager
BEA = "bea.lane@council.northbay.example"  # council senior manager
JO = "jo.holt@partnership.northbay.example"  # delegated safeguarding partner
IVO = "ivo.fell@partnership.northbay.example"  # NSSCP business manager
NIA = "nia.stone@school.havenport.example"  # practitioner in another partnership


def as_a_party(command: Command) -> Command:
    """The same command from the raiser: someone who can see the case, so the refusal under
    test is the one they get (anyone else is told the case cannot be found)."""
    return command.model_copy(update={"actor": DANA}) if command.actor in (BEA, JO) else command


def build(command_type: type[Command], case: Case) -> Command:
    """A well-formed command of each type, from the person entitled to issue it."""
    base = {"actor": DANA, "case_id": case.id, "expected_version": case.version}
    if command_type is Acknowledge:
        return Acknowledge(**{**base, "actor": HANA})
    if command_type is RecordDiscussion:
        return RecordDiscussion(**base, record=record())
    if command_type is Resolve:
        return Resolve(**base, record=record(), outcome_answers={"policy_helpfulness": "Clear."})
    if command_type is Escalate:
        return Escalate(**base, unresolved="Whether an assessment is needed now.")
    if command_type is CompleteStep:
        return CompleteStep(**{**base, "actor": BEA}, step_id="refer-to-partnership")
    if command_type is RecordDecision:
        return RecordDecision(**{**base, "actor": JO}, decision="Assessment starts Monday.")
    if command_type is HandOver:
        return HandOver(**base, to_email=CAL, reason="Annual leave.")
    if command_type is Withdraw:
        return Withdraw(**base, reason="Agreed outside the procedure.")
    if command_type is AddParticipant:
        return AddParticipant(**base, email=BEA)
    if command_type is DeadlineLapsed:
        return DeadlineLapsed(
            case_id=case.id, kind="stage", stage=case.stage, due_at=case.stage_due_at
        )
    if command_type is UpdateAction:
        states = action_states(case)
        return UpdateAction(
            **base, action_id=states[0].id if states else "1.1.1", done=True
        )
    if command_type is RecordDeliveryFailure:
        return RecordDeliveryFailure(
            case_id=case.id, notification_key=f"{case.id}:v1:raised-counterpart:person:{HANA}",
            notification_kind="raised-counterpart", recipient=HANA,
            reason="Teams refused (403): the app is not installed for them",
        )
    raise AssertionError(f"no builder for {command_type.__name__}")


def with_an_action(app: App, case: Case) -> Case:
    due = app.clock.now().date() + timedelta(days=7)
    handle(app, RecordDiscussion(
        actor=DANA, case_id=case.id, expected_version=case.version,
        record=record(agreed_actions=[ActionInput(
            description="Share the chronology", owner="Dana", due=due.isoformat())]),
    ))
    return current(app, case)


# ---- the table itself ------------------------------------------------------------------------


@pytest.mark.parametrize("status", list(CaseStatus))
def test_the_table_names_every_command_in_every_state(status: CaseStatus) -> None:
    assert set(TRANSITIONS[status]) == set(CASE_COMMANDS)
    agreed = status in (CaseStatus.RESOLVED, CaseStatus.FINAL_DECISION)
    for command_type, entry in TRANSITIONS[status].items():
        if status is CaseStatus.OPEN:
            assert callable(entry) and not isinstance(entry, Refusal)
        elif agreed and command_type in (UpdateAction, DeadlineLapsed):
            # what was agreed is still followed up after the case closes
            assert callable(entry) and not isinstance(entry, Refusal)
        elif command_type is DeadlineLapsed:
            assert entry is Refusal.IGNORE
        elif command_type is RecordDeliveryFailure:
            assert callable(entry) and not isinstance(entry, Refusal)  # the record is kept
        else:
            assert entry is Refusal.CLOSED


# ---- closed states, reached for real ---------------------------------------------------------


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """One bot for the module: every test works on cases of its own, so they cannot interfere.
    Its clock only moves forward, to the due time of a case raised at the clock's own time."""
    app, _ = app_for(tmp_path_factory.mktemp("transitions"))
    yield app
    app.close()


@pytest.fixture(autouse=True)
def _deliver_after_each_test(shared: App) -> Iterator[None]:
    """Keep the shared outbox short: once each test is done, move on to working time (if the
    test left the clock at a deadline after hours) and deliver what is due."""
    yield
    calendar = shared.config.partnership(NB).calendar(policy_of(shared, NB))
    clock_of(shared).set(calendar.next_working_time(shared.clock.now()))
    drain(shared)


@pytest.fixture(scope="module")
def closed(shared: App) -> tuple[App, dict[CaseStatus, Case]]:
    app = shared
    resolved = resolve(app, raise_case(app, NB))
    at_last_stage = escalate_to(app, raise_case(app, NB), 4)
    decided = decide(app, at_last_stage, JO)
    withdrawn = withdraw(app, raise_case(app, NB))
    cases = {
        CaseStatus.RESOLVED: resolved,
        CaseStatus.FINAL_DECISION: decided,
        CaseStatus.WITHDRAWN: withdrawn,
    }
    return app, cases


def test_closed_states_were_reached_through_the_procedure(
    closed: tuple[App, dict[CaseStatus, Case]],
) -> None:
    app, cases = closed
    for status, case in cases.items():
        stored = current(app, case)
        assert stored.status is status
        assert app.store.deadlines_for_case(case.id) == []  # a closed case has no deadlines
    decided = current(app, cases[CaseStatus.FINAL_DECISION])
    assert decided.stage == 4
    assert decided.resolution is not None and decided.resolution.final_decision
    escalations = [e for e in history(app, decided) if e.type is EventType.ESCALATED]
    assert [e.data.get("from_stage") for e in escalations] == ["1", "2", "3"]


CLOSED_WORDS = {
    CaseStatus.RESOLVED: "resolved at stage 1",
    CaseStatus.FINAL_DECISION: "final decision recorded",
    CaseStatus.WITHDRAWN: "withdrawn",
}


@pytest.mark.parametrize("command_type", CASE_COMMANDS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "status", [s for s in CaseStatus if s is not CaseStatus.OPEN], ids=lambda s: s.value
)
def test_a_closed_case_refuses_every_person_and_ignores_the_scheduler(
    closed: tuple[App, dict[CaseStatus, Case]], status: CaseStatus, command_type: type[Command]
) -> None:
    app, cases = closed
    case = current(app, cases[status])
    before = snapshot(app, case)
    command = as_a_party(build(command_type, case))
    if command_type is DeadlineLapsed:
        outcome = handle(app, command)
        assert not outcome.changed
        assert outcome.events == [] and outcome.notifications == []
    elif command_type is RecordDeliveryFailure:
        # the one thing a closed case still takes: the record of a message that never arrived
        outcome = handle(app, command)
        assert [e.type for e in outcome.events] == [EventType.DELIVERY_FAILED]
        assert outcome.case is not None and outcome.case.status is status
        return
    elif command_type is UpdateAction and status is not CaseStatus.WITHDRAWN:
        # the follow-up of agreed actions goes on; these cases agreed none
        with pytest.raises(IllegalTransition, match="has no agreed action") as refused:
            handle(app, command)
        assert case.reference in refused.value.message
    else:
        with pytest.raises(IllegalTransition) as refused:
            handle(app, command)
        message = refused.value.message
        assert case.reference in message
        assert "Nothing was changed" in message
        assert CLOSED_WORDS[status] in message
    assert snapshot(app, case) == before


def test_a_closed_case_refuses_even_with_a_stale_version(
    closed: tuple[App, dict[CaseStatus, Case]],
) -> None:
    app, cases = closed
    case = current(app, cases[CaseStatus.RESOLVED])
    before = snapshot(app, case)
    with pytest.raises(IllegalTransition, match="is closed"):
        handle(app, Escalate(actor=DANA, case_id=case.id, expected_version=1, unresolved="x"))
    assert snapshot(app, case) == before


# ---- open: the happy path of every command ---------------------------------------------------


def _acknowledged(app: App, before: Case, after: Case) -> None:
    assert after.acknowledged_by == [HANA]


def _recorded(app: App, before: Case, after: Case) -> None:
    assert after.record_for(1).summary == record().summary
    assert after.record_for(1).recorded_by == [DANA]


def _resolved(app: App, before: Case, after: Case) -> None:
    assert after.status is CaseStatus.RESOLVED
    assert after.resolution is not None and after.resolution.stage == 1
    assert after.resolution.by == DANA


def _escalated(app: App, before: Case, after: Case) -> None:
    assert (before.stage, after.stage) == (1, 2)
    assert after.record_for(1).unresolved == "Whether an assessment is needed now."


def _step_done(app: App, before: Case, after: Case) -> None:
    step = after.step("refer-to-partnership")
    assert step is not None and step.done
    response = after.step("partnership-response")
    assert response is not None and not response.done


def _decided(app: App, before: Case, after: Case) -> None:
    assert after.status is CaseStatus.FINAL_DECISION
    assert after.resolution is not None
    assert after.resolution.summary == "Assessment starts Monday."
    assert after.resolution.by == JO


def _handed_over(app: App, before: Case, after: Case) -> None:
    assert after.participant(DANA) is None
    cal = after.participant(CAL)
    assert cal is not None and cal.side is Side.RAISING
    assert after.raised_by == CAL


def _withdrawn(app: App, before: Case, after: Case) -> None:
    assert after.status is CaseStatus.WITHDRAWN
    assert after.withdrawn_reason == "Agreed outside the procedure."


def _added(app: App, before: Case, after: Case) -> None:
    bea = after.participant(BEA)
    assert bea is not None and bea.side is Side.RAISING and bea.stage == 1


def _failure_recorded(app: App, before: Case, after: Case) -> None:
    (event,) = [e for e in history(app, after) if e.type is EventType.DELIVERY_FAILED]
    assert HANA in event.summary and "403" in event.summary
    assert after.stage == before.stage and after.status is before.status


def _action_done(app: App, before: Case, after: Case) -> None:
    (state,) = action_states(after)
    assert state.done and state.updates[-1].by == DANA


def _lapsed(app: App, before: Case, after: Case) -> None:
    assert (before.stage, after.stage) == (1, 2)
    assert any(e.summary == "escalated: deadline lapsed" for e in history(app, after))


HAPPY: dict[type[Command], tuple[int, EventType, Callable[[App, Case, Case], None]]] = {
    Acknowledge: (1, EventType.ACKNOWLEDGED, _acknowledged),
    RecordDiscussion: (1, EventType.DISCUSSION_RECORDED, _recorded),
    Resolve: (1, EventType.RESOLVED, _resolved),
    Escalate: (1, EventType.ESCALATED, _escalated),
    CompleteStep: (4, EventType.STEP_COMPLETED, _step_done),
    RecordDecision: (4, EventType.DECISION_RECORDED, _decided),
    HandOver: (1, EventType.HANDED_OVER, _handed_over),
    Withdraw: (1, EventType.WITHDRAWN, _withdrawn),
    AddParticipant: (1, EventType.PARTICIPANT_ADDED, _added),
    DeadlineLapsed: (1, EventType.DEADLINE_LAPSED, _lapsed),
    RecordDeliveryFailure: (1, EventType.DELIVERY_FAILED, _failure_recorded),
    UpdateAction: (1, EventType.ACTION_UPDATED, _action_done),
}


def test_every_command_has_a_happy_path() -> None:
    assert set(HAPPY) == set(CASE_COMMANDS)


@pytest.mark.parametrize("command_type", CASE_COMMANDS, ids=lambda c: c.__name__)
def test_an_open_case_accepts_every_command(shared: App, command_type: type[Command]) -> None:
    stage, event_type, check = HAPPY[command_type]
    app = shared
    case = escalate_to(app, raise_case(app, NB), stage)
    if command_type is DeadlineLapsed:
        clock_of(app).set(case.stage_due_at)
    if command_type is UpdateAction:
        case = with_an_action(app, case)
    events_before = len(history(app, case))
    outcome = handle(app, build(command_type, case))
    assert outcome.changed
    assert outcome.case is not None
    after = current(app, case)
    assert after.version == case.version + 1
    assert event_type in [e.type for e in outcome.events]
    assert len(history(app, case)) == events_before + len(outcome.events)
    check(app, case, after)


# ---- open: guards ----------------------------------------------------------------------------


@pytest.fixture
def nb(shared: App) -> tuple[App, Case]:
    """A new NSSCP case, just raised by Dana (council) about Hana (health)."""
    return shared, raise_case(shared, NB)


def test_acknowledging_twice_is_refused_and_changes_nothing(nb: tuple[App, Case]) -> None:
    app, case = nb
    handle(app, Acknowledge(actor=HANA, case_id=case.id, expected_version=case.version))
    case = current(app, case)
    before = snapshot(app, case)
    with pytest.raises(IllegalTransition, match="already acknowledged") as refused:
        handle(app, Acknowledge(actor=HANA, case_id=case.id, expected_version=case.version))
    assert case.reference in refused.value.message
    assert "Nothing was changed" in refused.value.message
    assert snapshot(app, case) == before


def test_escalating_without_saying_what_is_unresolved_is_refused(nb: tuple[App, Case]) -> None:
    app, case = nb
    before = snapshot(app, case)
    with pytest.raises(InvalidInput) as refused:
        handle(app, Escalate(actor=DANA, case_id=case.id, expected_version=case.version,
                             unresolved="   "))
    assert set(refused.value.field_errors) == {"unresolved"}
    assert "unresolved" in refused.value.field_errors["unresolved"]
    assert snapshot(app, case) == before


def test_escalating_at_the_final_stage_is_refused(nb: tuple[App, Case]) -> None:
    app, case = nb
    case = escalate_to(app, case, 4)
    before = snapshot(app, case)
    with pytest.raises(IllegalTransition, match="last stage") as refused:
        handle(app, Escalate(actor=DANA, case_id=case.id, expected_version=case.version,
                             unresolved="Still apart."))
    assert case.reference in refused.value.message
    assert "Delegated Safeguarding Partners" in refused.value.message  # who decides there
    assert snapshot(app, case) == before


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_a_final_decision_before_the_final_stage_is_refused(
    nb: tuple[App, Case], stage: int
) -> None:
    app, case = nb
    case = escalate_to(app, case, stage)
    before = snapshot(app, case)
    # the deciders are not on the case yet: to them it does not exist
    with pytest.raises(NotAllowed, match="I can't find that case"):
        handle(app, RecordDecision(actor=JO, case_id=case.id, expected_version=case.version,
                                   decision="Do it."))
    # a party is told why not
    with pytest.raises(IllegalTransition, match="only at stage 4") as refused:
        handle(app, RecordDecision(actor=DANA, case_id=case.id, expected_version=case.version,
                                   decision="Do it."))
    assert f"is at stage {stage}" in refused.value.message
    assert snapshot(app, case) == before


@pytest.mark.parametrize("actor", [DANA, HANA, BEA], ids=["raiser", "counterpart", "senior"])
def test_a_final_decision_by_a_role_that_does_not_decide_is_refused(
    nb: tuple[App, Case], actor: str
) -> None:
    app, case = nb
    case = escalate_to(app, case, 4)
    before = snapshot(app, case)
    with pytest.raises(NotAllowed, match="Only Delegated Safeguarding Partners"):
        handle(app, RecordDecision(actor=actor, case_id=case.id, expected_version=case.version,
                                   decision="Do it."))
    assert snapshot(app, case) == before


def test_the_decision_role_records_the_final_decision(nb: tuple[App, Case]) -> None:
    app, case = nb
    case = escalate_to(app, case, 4)
    decided = decide(app, case, JO)
    assert decided.status is CaseStatus.FINAL_DECISION
    assert app.store.deadlines_for_case(case.id) == []
    alerts = [n for n in channel_notes(pending(app, case)) if n.kind == "decided"]
    assert len(alerts) == 1


def test_a_decision_needs_words(nb: tuple[App, Case]) -> None:
    app, case = nb
    case = escalate_to(app, case, 4)
    before = snapshot(app, case)
    with pytest.raises(InvalidInput) as refused:
        handle(app, RecordDecision(actor=JO, case_id=case.id, expected_version=case.version,
                                   decision="  "))
    assert set(refused.value.field_errors) == {"decision"}
    assert snapshot(app, case) == before


@pytest.mark.parametrize("step_id", ["no-such-step", "partnership-response-2", ""])
def test_completing_an_unknown_step_is_refused(nb: tuple[App, Case], step_id: str) -> None:
    app, case = nb
    case = escalate_to(app, case, 4)
    before = snapshot(app, case)
    with pytest.raises(IllegalTransition, match="has no open step") as refused:
        handle(app, CompleteStep(actor=BEA, case_id=case.id, expected_version=case.version,
                                 step_id=step_id))
    assert case.reference in refused.value.message
    # and which steps are open, by name (issue 10, point 4: ids are not shown to people)
    assert "Its open steps: Refer to the Safeguarding Partnership" in refused.value.message
    assert snapshot(app, case) == before


def test_completing_a_step_twice_is_refused(nb: tuple[App, Case]) -> None:
    app, case = nb
    case = escalate_to(app, case, 4)
    handle(app, build(CompleteStep, case))
    case = current(app, case)
    before = snapshot(app, case)
    with pytest.raises(IllegalTransition, match="has no open step"):
        handle(app, build(CompleteStep, case))
    assert snapshot(app, case) == before


def test_completing_a_step_at_a_stage_without_steps_is_refused(nb: tuple[App, Case]) -> None:
    app, case = nb
    before = snapshot(app, case)
    with pytest.raises(IllegalTransition, match="has no open step") as refused:
        handle(app, as_a_party(build(CompleteStep, case)))
    assert f"Stage 1 of case {case.reference}" in refused.value.message
    assert refused.value.message.endswith("It has no open steps.")
    assert snapshot(app, case) == before


def test_completing_a_step_owned_by_another_role_is_refused(nb: tuple[App, Case]) -> None:
    app, case = nb
    case = escalate_to(app, case, 4)
    before = snapshot(app, case)
    with pytest.raises(NotAllowed, match="Only Senior manager"):
        handle(app, CompleteStep(actor=DANA, case_id=case.id, expected_version=case.version,
                                 step_id="refer-to-partnership"))
    assert snapshot(app, case) == before


@pytest.mark.parametrize(
    "to_email", [DANA, DANA.upper(), NIA, "nobody@nowhere.example"],
    ids=["self", "self-upper-case", "other-partnership", "unknown"],
)
def test_handing_over_to_yourself_or_outside_the_partnership_is_refused(
    nb: tuple[App, Case], to_email: str
) -> None:
    app, case = nb
    before = snapshot(app, case)
    with pytest.raises(InvalidInput) as refused:
        handle(app, HandOver(actor=DANA, case_id=case.id, expected_version=case.version,
                             to_email=to_email, reason="Leave."))
    assert set(refused.value.field_errors) == {"to_email"}
    assert snapshot(app, case) == before


def test_handing_over_to_someone_already_on_the_case_is_refused(nb: tuple[App, Case]) -> None:
    app, case = nb
    before = snapshot(app, case)
    with pytest.raises(InvalidInput, match="already involved"):
        handle(app, HandOver(actor=DANA, case_id=case.id, expected_version=case.version,
                             to_email=HANA, reason="Leave."))
    assert snapshot(app, case) == before


def test_the_business_team_cannot_hand_over_a_case_it_is_not_a_party_to(
    nb: tuple[App, Case],
) -> None:
    app, case = nb
    before = snapshot(app, case)
    with pytest.raises(NotAllowed):
        handle(app, HandOver(actor=IVO, case_id=case.id, expected_version=case.version,
                             to_email=CAL, reason="Reassigning."))
    assert snapshot(app, case) == before


def test_handing_over_goes_to_a_colleague_in_the_same_agency(nb: tuple[App, Case]) -> None:
    app, case = nb
    fern = "fern.ash@health.northbay.example"  # senior manager at Northbay Community Health
    before = snapshot(app, case)
    with pytest.raises(InvalidInput):
        handle(app, HandOver(actor=DANA, case_id=case.id, expected_version=case.version,
                             to_email=fern, reason="Leave."))
    assert snapshot(app, case) == before


def test_the_receiving_side_cannot_withdraw(nb: tuple[App, Case]) -> None:
    app, case = nb
    case = escalate(app, case)  # the health line manager joins on the receiving side
    for actor in (HANA, GUS):
        before = snapshot(app, case)
        with pytest.raises(NotAllowed, match="raising agency or the business team"):
            handle(app, Withdraw(actor=actor, case_id=case.id, expected_version=case.version,
                                 reason="We think it is fine."))
        assert snapshot(app, case) == before


def test_withdrawing_needs_a_reason(nb: tuple[App, Case]) -> None:
    app, case = nb
    before = snapshot(app, case)
    with pytest.raises(InvalidInput) as refused:
        handle(app, Withdraw(actor=DANA, case_id=case.id, expected_version=case.version,
                             reason=" "))
    assert set(refused.value.field_errors) == {"reason"}
    assert snapshot(app, case) == before


def test_the_business_team_may_withdraw(nb: tuple[App, Case]) -> None:
    app, case = nb
    assert withdraw(app, case, actor=IVO).status is CaseStatus.WITHDRAWN


@pytest.mark.parametrize(
    "email", ["nobody@nowhere.example", NIA, "not an email", HANA],
    ids=["unknown", "other-partnership", "garbage", "already-a-party"],
)
def test_adding_someone_unknown_or_already_there_is_refused(
    nb: tuple[App, Case], email: str
) -> None:
    app, case = nb
    before = snapshot(app, case)
    with pytest.raises(InvalidInput) as refused:
        handle(app, AddParticipant(actor=DANA, case_id=case.id, expected_version=case.version,
                                   email=email))
    assert set(refused.value.field_errors) == {"email"}
    assert snapshot(app, case) == before


def test_adding_a_partnership_role_puts_them_on_the_partnership_side(nb: tuple[App, Case]) -> None:
    app, case = nb
    handle(app, AddParticipant(actor=DANA, case_id=case.id, expected_version=case.version,
                               email=JO))
    jo = current(app, case).participant(JO)
    assert jo is not None and jo.side is Side.PARTNERSHIP


def test_recording_a_discussion_needs_a_summary(nb: tuple[App, Case]) -> None:
    app, case = nb
    before = snapshot(app, case)
    with pytest.raises(InvalidInput) as refused:
        handle(app, RecordDiscussion(actor=DANA, case_id=case.id, expected_version=case.version,
                                     record=record(summary="")))
    assert set(refused.value.field_errors) == {"summary"}
    assert snapshot(app, case) == before


def test_resolving_needs_a_summary(nb: tuple[App, Case]) -> None:
    app, case = nb
    before = snapshot(app, case)
    with pytest.raises(InvalidInput) as refused:
        handle(app, Resolve(actor=HANA, case_id=case.id, expected_version=case.version,
                            record=record(summary=""), outcome_answers={}))
    assert "summary" in refused.value.field_errors
    assert snapshot(app, case) == before


def test_resolving_with_an_invalid_action_date_changes_nothing(nb: tuple[App, Case]) -> None:
    app, case = nb
    before = snapshot(app, case)
    bad = record(agreed_actions=[ActionInput(description="Visit", owner="Dana", due="ASAP")])
    with pytest.raises(InvalidInput) as refused:
        handle(app, Resolve(actor=DANA, case_id=case.id, expected_version=case.version,
                            record=bad))
    assert set(refused.value.field_errors) == {"agreed_actions"}
    assert snapshot(app, case) == before
    assert current(app, case).status is CaseStatus.OPEN


def test_a_lapse_for_a_deadline_the_case_has_moved_past_is_a_no_op(nb: tuple[App, Case]) -> None:
    app, case = nb
    clock_of(app).set(case.stage_due_at)
    stale = [
        DeadlineLapsed(case_id=case.id, kind="stage", stage=1,
                       due_at=case.stage_due_at - timedelta(days=1)),
        DeadlineLapsed(case_id=case.id, kind="stage", stage=2, due_at=case.stage_due_at),
        DeadlineLapsed(case_id=case.id, kind="overdue", stage=1, due_at=case.stage_due_at),
        DeadlineLapsed(case_id=case.id, kind="step", stage=1, step_id="refer-to-partnership",
                       due_at=case.stage_due_at),
    ]
    before = snapshot(app, case)
    for command in stale:
        assert not handle(app, command).changed
    assert snapshot(app, case) == before


# ---- versions --------------------------------------------------------------------------------


# the scheduler's and the delivery loop's commands have no card, hence no version to go stale
@pytest.mark.parametrize("command_type",
                         [c for c in CASE_COMMANDS if c not in (DeadlineLapsed,
                                                                RecordDeliveryFailure)],
                         ids=lambda c: c.__name__)
def test_a_stale_card_changes_nothing(nb: tuple[App, Case], command_type: type[Command]) -> None:
    app, case = nb
    handle(app, Acknowledge(actor=DANA, case_id=case.id, expected_version=case.version))
    moved = current(app, case)
    assert moved.version == case.version + 1
    before = snapshot(app, moved)
    outbox_before = len(pending(app))
    stale = as_a_party(build(command_type, case))  # drawn before the acknowledgement
    with pytest.raises(StaleCase) as refused:
        handle(app, stale)
    assert moved.reference in refused.value.message
    assert "Nothing was changed" in refused.value.message
    assert snapshot(app, moved) == before
    assert len(pending(app)) == outbox_before


def test_two_managers_escalating_from_the_same_card_escalate_once(nb: tuple[App, Case]) -> None:
    app, case = nb
    case = escalate(app, case)
    assert case.stage == 2
    card_version = case.version
    first = handle(app, Escalate(actor=CAL, case_id=case.id, expected_version=card_version,
                                 unresolved="Threshold for assessment."))
    assert first.case is not None and first.case.stage == 3
    after_first = snapshot(app, case)
    with pytest.raises(StaleCase, match="now at stage 3") as refused:
        handle(app, Escalate(actor=GUS, case_id=case.id, expected_version=card_version,
                             unresolved="Threshold for assessment."))
    assert "Nothing was changed" in refused.value.message
    assert snapshot(app, case) == after_first
    final = current(app, case)
    assert final.stage == 3
    escalations = [e for e in history(app, case) if e.type is EventType.ESCALATED]
    assert [e.data["from_stage"] for e in escalations] == ["1", "2"]
    assert [e.actor for e in escalations] == [DANA, CAL]
    senior = [p for p in final.participants if p.stage == 3]
    assert sorted(p.email for p in senior) == [BEA, "fern.ash@health.northbay.example"]


def test_a_command_without_a_version_is_not_fenced(nb: tuple[App, Case]) -> None:
    """Typed in a chat with no card: expected_version None applies to the case as it is now."""
    app, case = nb
    handle(app, Acknowledge(actor=HANA, case_id=case.id, expected_version=case.version))
    outcome = handle(app, Acknowledge(actor=DANA, case_id=case.id))
    assert outcome.changed
    assert sorted(current(app, case).acknowledged_by) == [DANA, HANA]


def test_unknown_case_is_reported_by_reference(nb: tuple[App, Case]) -> None:
    app, _ = nb
    with pytest.raises(CaseNotFound, match="NB-9999"):
        handle(app, Acknowledge(actor=DANA, case_id="NB-9999"))
