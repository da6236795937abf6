"""Check first, then ask (issue 10, point 1): nobody is offered a button, or asked a form's
questions, only to be told no at the end; and every button offered is one the engine lets its
reader press (dialogs.permissions asks the engine's questions first; the engine stays the
authority).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import (
    PARTNERSHIPS,
    app_for,
    current,
    escalate_to,
    pending,
    person_notes,
    policy_of,
    practitioners,
    raise_case,
    resolve,
)

from bot.bootstrap import App
from dialogs import intake, texts
from dialogs.conversation import ConversationService
from dialogs.errors import NotAllowed


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    built, _ = app_for(tmp_path)
    yield built
    built.close()


def service(app: App) -> ConversationService:
    return ConversationService(app.engine, app.store, today=lambda: app.clock.now().date())


@pytest.mark.parametrize("partnership", sorted(PARTNERSHIPS))
def test_a_practitioner_is_not_offered_the_final_decision_nor_asked_for_it(
    app: App, partnership: str
) -> None:
    policy = policy_of(app, partnership)
    case = escalate_to(app, raise_case(app, partnership), policy.final_stage.number)
    talk = service(app)
    card = talk.case_card(case, case.raised_by)
    assert "decide" not in {a.command for a in card.actions}
    data = {"case_id": case.id, "version": str(case.version)}
    result = talk.on_action(case.raised_by, "decide", data, {})
    assert result.card.inputs == []  # no questions asked
    assert result.message.startswith("Only ") and case.reference in result.message
    deciders = [p.email for p in current(app, case).active_participants()
                if p.role == policy.final_stage.decision_by]
    for decider in deciders:  # on the case already (Jersey 2014's Chair joins on referral)
        offered = talk.case_card(current(app, case), decider)
        assert "decide" in {a.command for a in offered.actions}
    assert deciders or partnership == "carrow-board"


def test_the_raiser_is_not_offered_acknowledge_and_the_counterpart_is(app: App) -> None:
    case = raise_case(app, "northbay")
    notes = person_notes(pending(app, case))
    mine = next(n for n in notes if n.recipient.address == case.raised_by)
    theirs = next(n for n in notes if n.recipient.address != case.raised_by
                  and n.kind == "raised-counterpart")
    assert "acknowledge" not in {a.command for a in mine.card.actions}
    assert "acknowledge" in {a.command for a in theirs.card.actions}


def test_a_closed_case_asks_nothing_before_saying_it_is_closed(app: App) -> None:
    case = resolve(app, raise_case(app, "northbay"))
    data = {"case_id": case.id, "version": str(case.version)}
    result = service(app).on_action(case.raised_by, "escalate", data, {})
    assert result.card.inputs == []
    assert "is closed" in result.message and "Nothing was changed" in result.message


@pytest.mark.parametrize("partnership", sorted(PARTNERSHIPS))
def test_every_button_offered_is_one_the_engine_lets_its_reader_press(
    app: App, partnership: str
) -> None:
    """At every stage, for every party: no offered button is refused as not allowed."""
    policy = policy_of(app, partnership)
    talk = service(app)
    case = raise_case(app, partnership)
    for number in range(case.stage, policy.final_stage.number + 1):
        case = escalate_to(app, case, number)
        for party in current(app, case).active_participants():
            card = talk.case_card(current(app, case), party.email)
            for action in card.actions:
                if action.command not in {"record", "resolve", "escalate", "decide",
                                          "handover"}:
                    continue
                data = {"case_id": case.id, "version": str(current(app, case).version),
                        **action.data}
                opened = talk.on_action(party.email, action.command, data, {})
                assert opened.card.inputs, (party.email, action.command, opened.message)


def test_a_same_agency_counterpart_is_refused_when_named_not_after_send(app: App) -> None:
    policy = policy_of(app, "northbay")
    raiser, _ = practitioners(app, "northbay")
    colleague = next(p for p in app.store.people("northbay")
                     if p.agency == raiser.agency and p.email != raiser.email)
    people = app.engine.people("northbay")
    session = intake.start(policy, "northbay", raiser.email)
    while intake.prompt(policy, session).field is None or (
        intake.prompt(policy, session).field.id != "counterpart"  # type: ignore[union-attr]
    ):
        field = intake.prompt(policy, session).field
        answer = "no" if field is None or field.id == "immediate_risk" else "x"
        if field is not None and field.kind.value == "date":
            answer = "12/04/2016"
        if field is not None and field.choices:
            answer = "1"
        session = intake.answer(policy, session, answer, app.clock.now().date(), people).session
    reply = intake.answer(policy, session, colleague.email, app.clock.now().date(), people)
    assert reply.error == texts.SAME_AGENCY.format(email=colleague.email)
    assert intake.prompt(policy, reply.session).field.id == "counterpart"  # type: ignore[union-attr]


def test_the_engine_still_refuses_what_is_not_offered(app: App) -> None:
    """Hiding a button is not the guard: the command itself is still refused."""
    from dialogs.commands import RecordDecision

    policy = policy_of(app, "northbay")
    case = escalate_to(app, raise_case(app, "northbay"), policy.final_stage.number)
    with pytest.raises(NotAllowed):
        app.engine.handle(RecordDecision(actor=case.raised_by, case_id=case.id,
                                         expected_version=case.version, decision="Do it."))


def test_the_card_says_same_agency_with_its_other_errors_not_in_a_second_round(
    app: App,
) -> None:
    """A card with a bad date and a same-agency counterpart shows both at once: fixing the date
    must not be rewarded with a new refusal."""
    from teams_harness import intake_values

    raiser, _ = practitioners(app, "northbay")
    colleague = next(p for p in app.store.people("northbay")
                     if p.agency == raiser.agency and p.email != raiser.email)
    values = {**intake_values(app), "counterpart": colleague.email, "child_dob": "31/02/2016"}
    result = service(app).on_action(raiser.email, "intake", {}, values)
    errors = {i.id: i.error for i in result.card.inputs if i.error}
    assert errors["counterpart"] == texts.SAME_AGENCY.format(email=colleague.email)
    assert "February 2016 has 29 days" in errors["child_dob"]
    assert app.store.open_cases() == []


def test_the_business_team_is_offered_what_it_may_do_typed_or_on_the_card(app: App) -> None:
    """Card and typed commands agree for the business team: it may refer and decide on the
    partnership's behalf, so its card offers that; acknowledging is a party's receipt, refused
    typed as it is absent from the card (the trial saw 'Ivo Fell has acknowledged')."""
    policy = policy_of(app, "northbay")
    team = next(p for p in app.store.people("northbay") if p.role == policy.business_team_role)
    case = raise_case(app, "northbay")
    talk = service(app)
    offered = {a.command for a in talk.case_card(case, team.email).actions}
    assert "acknowledge" not in offered and "escalate" in offered
    said = " ".join(r.text for r in talk.on_text(team.email, f"ack {case.reference}"))
    assert said == texts.ACK_PARTIES_ONLY.format(reference=case.reference)
    assert current(app, case).acknowledged_by == []
    final = escalate_to(app, case, policy.final_stage.number)
    assert "decide" in {a.command for a in talk.case_card(final, team.email).actions}
    closed = resolve(app, current(app, case))
    assert talk.case_card(closed, team.email).actions == []
