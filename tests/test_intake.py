"""The /escalate conversation (dialogs.intake), answer by answer, for every bundled procedure.

Each question is first answered wrongly where a wrong answer exists (the error is shown and the
conversation stays where it was), then properly. What comes out the end is a RaiseConcern the
real engine accepts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from support import (
    LONDON,
    PARTNERSHIPS,
    START,
    app_for,
    continuing_pathway,
    demo_answers,
    derived_config,
    pending,
    policy_of,
    practitioners,
    raise_case,
)

from bot.bootstrap import App
from dialogs import intake
from dialogs.directory import Person
from dialogs.intake import IntakeSession, IntakeState, Reply
from policy.model import FieldKind, FormField, Policy

TODAY = START.date()
YES_NO_AGAIN = "Answer with the number of one of the choices (1, 2), or yes or no."


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    built, _ = app_for(tmp_path_factory.mktemp("intake"))
    yield built
    built.close()


class Chat:
    """One person's /escalate conversation, as an adapter would hold it between messages."""

    def __init__(self, app: App, partnership: str, actor: Person | None = None) -> None:
        self.app = app
        self.partnership = partnership
        self.policy: Policy = policy_of(app, partnership)
        self.raiser, self.counterpart = practitioners(app, partnership)
        self.actor = actor or self.raiser
        self.people = app.engine.people(partnership)
        self.session: IntakeSession = intake.start(self.policy, partnership, self.actor.email)

    @property
    def state(self) -> IntakeState:
        self.prompt()  # first skip what needs no asking, as drawing the next prompt does
        return self.session.state

    def prompt(self) -> intake.Prompt:
        return intake.prompt(self.policy, self.session)

    def field(self) -> FormField | None:
        return self.prompt().field

    def say(self, text: str) -> Reply:
        reply = intake.answer(self.policy, self.session, text, TODAY, self.people)
        self.session = reply.session
        return reply

    def refused(self, text: str) -> Reply:
        """A wrong answer: an error, and the conversation exactly where it was."""
        before = self.session.model_copy(deep=True)
        where = (self.state, self.session.index, self.prompt().text)
        reply = self.say(text)
        assert reply.error, f"{text!r} was accepted at {where}"
        assert (self.state, self.session.index, self.prompt().text) == where
        if text.strip().lower() != self.actor.email:
            assert self.session.answers == before.answers
        return reply

    def accepted(self, text: str) -> Reply:
        reply = self.say(text)
        assert not reply.error, reply.error
        return reply


def wrong_answers(field: FormField, actor: str) -> list[str]:
    """Answers that must be refused for ``field`` (none exist for optional free text)."""
    if field.kind is FieldKind.PERSON:
        wrong = ["not-an-email", "ghost@nowhere.example"]
        return [*wrong, actor] if field.id == "counterpart" else wrong
    if field.kind is FieldKind.DATE:
        return ["ASAP", "31/02/2016", "12/04/2099"]  # a date of birth cannot be in the future
    if field.kind is FieldKind.CHOICE:
        return ["zzz", str(len(field.choices) + 1)]
    if field.kind is FieldKind.NUMBER:
        return ["two", "-1", "1.5"]
    if field.kind in {FieldKind.TEXT, FieldKind.LONG_TEXT} and field.required:
        return ["", "   "]
    return []


def right_answer(chat: Chat, field: FormField) -> str:
    demo = demo_answers(chat.policy, chat.counterpart)
    if field.kind is FieldKind.CHOICE:
        return field.choices[0].label  # by label; ids and numbers work too
    if field.id == "raiser_line_manager":
        line_manager = chat.actor.line_manager
        assert line_manager is not None
        return line_manager
    if not field.required and field.kind is not FieldKind.DATE:
        return "-"  # skip the optional ones
    return demo[field.id]


def answer_every_question(chat: Chat) -> list[str]:
    asked: list[str] = []
    while chat.state is IntakeState.QUESTIONS:
        field = chat.field()
        assert field is not None
        asked.append(field.id)
        for wrong in wrong_answers(field, chat.actor.email):
            chat.refused(wrong)
        chat.accepted(right_answer(chat, field))
    return asked


# ---- the whole conversation, every procedure -------------------------------------------------


@pytest.mark.parametrize("partnership", list(PARTNERSHIPS), ids=list(PARTNERSHIPS.values()))
def test_the_conversation_for_each_procedure_ends_in_a_case(app: App, partnership: str) -> None:
    chat = Chat(app, partnership)
    policy = chat.policy

    if policy.pathway is not None:  # the Jersey packs ask which process fits first
        assert chat.state is IntakeState.PATHWAY
        prompt = chat.prompt()
        assert prompt.text == policy.pathway.question
        assert [c[0] for c in prompt.choices] == [o.id for o in policy.pathway.options]
        chat.refused("something else")
        chat.refused("9")
        number = 1 + [o.id for o in policy.pathway.options].index("professional-difference")
        chat.accepted(str(number))
        assert chat.session.pathway_choice == continuing_pathway(policy)
    assert chat.state is IntakeState.IMMEDIATE_RISK
    assert chat.prompt().text == next(f for f in policy.intake if f.id == "immediate_risk").label
    assert chat.refused("perhaps").error == YES_NO_AGAIN
    reply = chat.accepted("no")
    assert reply.guidance == ""

    for index, route in enumerate(policy.special_routes):
        assert (chat.state, chat.session.index) == (IntakeState.SPECIAL_ROUTES, index)
        assert chat.prompt().text == route.applies_when
        chat.refused("dunno")
        chat.accepted("no")

    assert chat.state is IntakeState.QUESTIONS
    asked = answer_every_question(chat)
    expected = [f.id for f in intake.asked_questions(policy) if f.id != "counterpart_agency"]
    assert asked == expected  # their agency comes from the directory, so it is not asked

    assert chat.state is IntakeState.CONFIRM
    summary = chat.prompt().text
    assert summary.startswith("Send this?\n")
    assert "Jamie Example" in summary
    assert chat.counterpart.agency_name in summary
    chat.refused("maybe")
    chat.accepted("yes")
    assert chat.state is IntakeState.DONE

    answers = chat.session.answers
    assert answers["counterpart"] == chat.counterpart.email
    assert answers["counterpart_agency"] == chat.counterpart.agency_name
    assert answers["child_dob"] == "2016-04-12"
    assert answers["reason"] == next(f for f in policy.intake if f.id == "reason").choices[0].id

    command = intake.to_command(chat.session)
    assert (command.actor, command.partnership_id, command.start_stage) == (
        chat.raiser.email, partnership, 1
    )
    assert command.pathway_choice == continuing_pathway(policy)
    outcome = app.engine.handle(command)
    case = outcome.case
    assert case is not None and case.stage == 1
    assert case.child.name == "Jamie Example"
    assert case.receiving_agency == chat.counterpart.agency
    assert case.raised_by == chat.raiser.email


# ---- pathways, risk, start stage and special routes ------------------------------------------


@pytest.mark.parametrize("partnership", ["carrow", "carrow-board"])
def test_every_signposting_pathway_ends_the_conversation_with_its_signpost(
    app: App, partnership: str
) -> None:
    policy = policy_of(app, partnership)
    assert policy.pathway is not None
    signposts = [o for o in policy.pathway.options if not o.continues_to_procedure]
    assert len(signposts) == 4
    for option in signposts:
        for way_of_saying in (option.id, option.label.upper()):
            chat = Chat(app, partnership)
            chat.accepted(way_of_saying)
            assert chat.state is IntakeState.SIGNPOSTED
            assert chat.session.closing_text == option.signpost
            assert chat.prompt().text == option.signpost
            assert chat.session.pathway_choice == option.id
            assert chat.say("yes").session.state is IntakeState.SIGNPOSTED  # nothing more


@pytest.mark.parametrize("partnership", ["northbay", "carrow", "carrow-board"])
def test_immediate_risk_shows_the_guidance_and_carries_on_where_the_pack_starts(
    app: App, partnership: str
) -> None:
    """Stage 1 for the Jersey packs; NSSCP's case at risk skips the peer discussion (stage 2)."""
    chat = Chat(app, partnership)
    risk = chat.policy.immediate_risk
    if chat.policy.pathway is not None:
        chat.accepted("professional-difference")
    reply = chat.accepted("yes")
    assert risk.guidance in reply.guidance
    assert f"Do this now: {risk.action}" in reply.guidance
    assert chat.state is IntakeState.QUESTIONS  # no start-stage question here
    assert chat.session.answers["immediate_risk"] == "yes"
    assert chat.session.start_stage == risk.start_stage == (2 if partnership == "northbay" else 1)


def test_st_helens_offers_a_later_start_when_the_child_is_at_risk(app: App) -> None:
    chat = Chat(app, "havenport")
    reply = chat.accepted("y")
    assert "need not start at Stage 1" in reply.guidance
    assert chat.state is IntakeState.START_STAGE
    prompt = chat.prompt()
    assert [c[0] for c in prompt.choices] == ["1", "2", "3", "4"]
    assert prompt.choices[3][1] == "Stage 4: Key partner final decision"
    assert chat.refused("7").error == (
        "Answer with the number of one of the choices (1, 2, 3, 4), or its words."
    )
    chat.refused("stage five")
    chat.accepted("Stage 3")
    assert chat.session.start_stage == 3
    assert chat.state is IntakeState.SPECIAL_ROUTES
    chat.accepted("no")
    chat.accepted("no")
    answer_every_question(chat)
    assert "Start at stage 3" in chat.prompt().text
    chat.accepted("yes")
    case = app.engine.handle(intake.to_command(chat.session)).case
    assert case is not None and case.stage == 3 and case.immediate_risk
    assert {p.email for p in case.participants if p.stage == 3} == {
        "lou.gray@school.havenport.example",
        "oli.hart@socialcare.havenport.example",
    }


@pytest.mark.parametrize(
    ("answers", "route_to"),
    [(["yes"], "Independent Reviewing Officer (IRO)"), (["no", "yes"], "Child Protection Chair")],
    ids=["looked-after", "cp-conference"],
)
def test_st_helens_special_routes_signpost_elsewhere(
    app: App, answers: list[str], route_to: str
) -> None:
    chat = Chat(app, "havenport")
    chat.accepted("no")
    for text in answers:
        chat.accepted(text)
    assert chat.state is IntakeState.SIGNPOSTED
    assert chat.session.closing_text.startswith(f"Take this to {route_to}.")
    assert chat.prompt().text == chat.session.closing_text


# ---- back and cancel -------------------------------------------------------------------------


def test_back_returns_to_the_previous_question(app: App) -> None:
    chat = Chat(app, "northbay")
    chat.accepted("no")
    assert chat.field().id == "counterpart"  # type: ignore[union-attr]
    chat.accepted(chat.counterpart.email)
    assert chat.field().id == "child_name"  # type: ignore[union-attr]
    chat.accepted("Jamie Example")
    assert chat.field().id == "child_dob"  # type: ignore[union-attr]

    reply = chat.say("back")
    assert reply.error == ""
    assert chat.field().id == "child_name"  # type: ignore[union-attr]
    chat.accepted("Robin Example")
    assert chat.session.answers["child_name"] == "Robin Example"
    assert chat.field().id == "child_dob"  # type: ignore[union-attr]

    chat.say("back")
    chat.say("BACK")
    assert chat.field().id == "counterpart"  # the prefilled agency is skipped going back too
    chat.say("back")
    assert chat.state is IntakeState.IMMEDIATE_RISK
    reply = chat.say("back")  # nowhere further back: taken as an answer, and refused
    assert reply.error == YES_NO_AGAIN
    assert chat.state is IntakeState.IMMEDIATE_RISK


def test_back_from_the_confirmation_returns_to_the_last_question(app: App) -> None:
    chat = Chat(app, "carrow")
    chat.accepted("professional-difference")
    chat.accepted("no")
    answer_every_question(chat)
    assert chat.state is IntakeState.CONFIRM
    chat.say("back")
    assert chat.field().id == "chronology"  # type: ignore[union-attr]
    chat.accepted("-")
    assert chat.state is IntakeState.CONFIRM


@pytest.mark.parametrize("word", ["cancel", "Stop", " quit "])
@pytest.mark.parametrize("after", [0, 1, 3, 6], ids=lambda n: f"after-{n}-answers")
def test_cancel_ends_the_conversation_anywhere(app: App, word: str, after: int) -> None:
    chat = Chat(app, "havenport")
    script = ["yes", "2", "no", "no", chat.counterpart.email, "-"]
    for text in script[:after]:
        chat.accepted(text)
    chat.say(word)
    assert chat.state is IntakeState.CANCELLED
    assert chat.prompt().text == "Cancelled. Nothing was sent."
    chat.say("yes")
    assert chat.state is IntakeState.CANCELLED


def test_no_at_the_confirmation_cancels(app: App) -> None:
    chat = Chat(app, "northbay")
    chat.accepted("no")
    answer_every_question(chat)
    chat.accepted("no")
    assert chat.state is IntakeState.CANCELLED
    assert chat.session.closing_text == "Cancelled. Nothing was sent."


def test_changing_immediate_risk_to_no_forgets_the_later_start(app: App) -> None:
    chat = Chat(app, "havenport")
    chat.accepted("yes")
    chat.accepted("3")
    chat.say("back")
    chat.say("back")
    assert chat.state is IntakeState.IMMEDIATE_RISK
    chat.accepted("no")
    chat.accepted("no")
    chat.accepted("no")
    answer_every_question(chat)
    assert "Start at stage" not in chat.prompt().text
    chat.accepted("yes")
    case = app.engine.handle(intake.to_command(chat.session)).case
    assert case is not None and case.stage == 1


def _with_police(data: dict[str, Any]) -> None:
    data["agencies"].append(
        {"id": "northbay-police", "name": "Northbay Police", "partnership": "northbay"}
    )
    data["people"].append({"email": "pat.oak@police.northbay.example", "name": "Pat Oak",
                           "agency": "northbay-police", "role": "practitioner"})


def test_changing_the_counterpart_changes_their_agency(tmp_path: Path) -> None:
    app, _ = app_for(tmp_path, config=derived_config(tmp_path, _with_police))
    chat = Chat(app, "northbay")
    chat.accepted("no")
    chat.accepted(chat.counterpart.email)
    assert chat.session.answers["counterpart_agency"] == "Northbay Community Health"
    chat.say("back")
    chat.accepted("pat.oak@police.northbay.example")
    assert chat.session.answers["counterpart_agency"] == "Northbay Police"
    app.close()


# ---- the whole card at once ------------------------------------------------------------------


def card_values(chat: Chat) -> dict[str, str]:
    return demo_answers(chat.policy, chat.counterpart)


@pytest.mark.parametrize("partnership", list(PARTNERSHIPS), ids=list(PARTNERSHIPS.values()))
def test_a_card_with_bad_values_gets_an_error_for_each_field(app: App, partnership: str) -> None:
    chat = Chat(app, partnership)
    values = {
        **card_values(chat),
        "child_dob": "31/02/2016",
        "counterpart": "ghost@nowhere.example",
        "child_name": "  ",
        "immediate_risk": "maybe",
        "reason": "not a reason",
    }
    session, errors = intake.submit_form(chat.policy, chat.session, values, TODAY, chat.people)
    assert set(errors) == {"child_dob", "counterpart", "child_name", "immediate_risk", "reason"}
    assert "'31/02/2016' is not a date I can read" in errors["child_dob"]
    assert "ghost@nowhere.example is not in the partnership's directory" in errors["counterpart"]
    assert errors["child_name"] == "This is needed."
    assert errors["immediate_risk"] == "Answer yes or no."
    assert errors["reason"].startswith("Pick one of: ")
    assert not {"child_dob", "counterpart", "child_name"} & set(session.answers)

    future = {**card_values(chat), "child_dob": "01/01/2030"}
    _, errors = intake.submit_form(chat.policy, chat.session, future, TODAY, chat.people)
    assert errors == {"child_dob": "A date of birth cannot be in the future."}
    yourself = {**card_values(chat), "counterpart": chat.raiser.email.upper()}
    _, errors = intake.submit_form(chat.policy, chat.session, yourself, TODAY, chat.people)
    assert set(errors) == {"counterpart"}
    missing = {k: v for k, v in card_values(chat).items() if k not in {"summary", "counterpart"}}
    _, errors = intake.submit_form(chat.policy, chat.session, missing, TODAY, chat.people)
    assert errors == {"summary": "This is needed.", "counterpart": "This is needed."}


@pytest.mark.parametrize("partnership", list(PARTNERSHIPS), ids=list(PARTNERSHIPS.values()))
def test_a_good_card_gives_clean_answers_the_engine_accepts(app: App, partnership: str) -> None:
    chat = Chat(app, partnership)
    if chat.policy.pathway is not None:
        chat.accepted("professional-difference")
    values = {
        **card_values(chat),
        "child_dob": "12/4/2016",
        "counterpart": chat.counterpart.email.upper(),
    }
    values.pop("counterpart_agency", None)
    session, errors = intake.submit_form(chat.policy, chat.session, values, TODAY, chat.people)
    assert errors == {}
    assert session.answers["child_dob"] == "2016-04-12"
    assert session.answers["counterpart"] == chat.counterpart.email
    assert session.answers["counterpart_agency"] == chat.counterpart.agency_name
    assert session.answers["immediate_risk"] == "no"
    case = app.engine.handle(intake.to_command(session)).case
    assert case is not None and case.stage == 1
    assert case.child.date_of_birth is not None
    assert case.child.date_of_birth.isoformat() == "2016-04-12"


# ---- what the raiser is told is true (issue 10, point 6) ----------------------------------------


@pytest.mark.parametrize(
    ("hour", "said"),
    [
        (10, "Hana Moss is being told now."),
        (20, "Hana Moss will be told at 09:00 on Tue 2 Feb (outside working hours now)."),
    ],
)
def test_the_raiser_is_told_when_the_counterpart_will_hear(
    tmp_path: Path, hour: int, said: str
) -> None:
    start = datetime(2027, 2, 1, hour, 0, tzinfo=LONDON)  # a Monday
    app, _ = app_for(tmp_path, start=start)
    try:
        case = raise_case(app, "northbay")
        confirm = next(n for n in pending(app, case) if n.kind == "raised-confirm")
        assert confirm.card.title.endswith(said)
        ping = next(n for n in pending(app, case) if n.kind == "raised-counterpart")
        assert (ping.deliver_at <= start) == (hour == 10)
    finally:
        app.close()



# ---- menus take their own numbers (issue 10, point 3) -------------------------------------------


def test_menus_take_their_numbers_their_words_and_yes_or_no(app: App) -> None:
    base = policy_of(app, "havenport")
    risk = base.immediate_risk.model_copy(update={"allowed_start_stages": [3, 4]})
    policy = base.model_copy(update={"immediate_risk": risk})
    people = app.engine.people("havenport")
    raiser = next(p for p in people.values() if p.role == policy.raiser_role)
    session = intake.start(policy, "havenport", raiser.email)

    def say(text: str) -> Reply:
        nonlocal session
        reply = intake.answer(policy, session, text, TODAY, people)
        session = reply.session
        return reply

    assert intake.prompt(policy, session).choices == (("yes", "Yes"), ("no", "No"))
    say("1")  # Yes, by its number
    assert session.answers["immediate_risk"] == "yes"
    menu = intake.prompt(policy, session).choices
    assert [label for _, label in menu][1].startswith("Stage 3")
    say("2")  # the second item of the menu: stage 3, not stage 2
    assert session.start_stage == 3
    say("back")
    say("stage 4")  # a stage by its number, said as a stage
    assert session.start_stage == 4
    say("2")  # No, by its number, to the special route
    say("n")
    assert session.state is IntakeState.QUESTIONS


@pytest.mark.parametrize(("typed", "state"), [("2", IntakeState.CANCELLED),
                                             ("cancel", IntakeState.CANCELLED),
                                             ("1", IntakeState.DONE),
                                             ("send", IntakeState.DONE)])
def test_send_or_cancel_takes_its_numbers_and_words(
    app: App, typed: str, state: IntakeState
) -> None:
    chat = Chat(app, "northbay")
    chat.accepted("no")
    while chat.state is IntakeState.SPECIAL_ROUTES:
        chat.accepted("no")
    answer_every_question(chat)
    assert chat.prompt().choices == (("yes", "Send"), ("no", "Cancel"))
    chat.say(typed)
    assert chat.state is state


# ---- read back as people write (issue 10, point 12) ---------------------------------------------


def test_a_day_the_month_lacks_is_said_so() -> None:
    from dialogs.validation import parse_date

    with pytest.raises(ValueError, match="February 2027 has 28 days"):
        parse_date("31/02/2027")
    with pytest.raises(ValueError, match="April 2027 has 30 days"):
        parse_date("31/04/2027")
    assert parse_date("29/02/2028").isoformat() == "2028-02-29"  # a leap year has it
    # a card's date input sends ISO: the same answer, not "a date I can read"
    with pytest.raises(ValueError, match="February 2027 has 28 days"):
        parse_date("2027-02-31")


def test_a_two_digit_year_is_this_centurys() -> None:
    """'4/1/27' typed on a phone is 4 January 2027 (the issue 10 trial saw it refused)."""
    from dialogs.validation import parse_date

    assert parse_date("4/1/27").isoformat() == "2027-01-04"
    assert parse_date("31/12/26").isoformat() == "2026-12-31"


def test_the_summary_before_send_reads_as_the_person_wrote_it(app: App) -> None:
    chat = Chat(app, "northbay")
    chat.accepted("no")
    while chat.state is IntakeState.SPECIAL_ROUTES:
        chat.accepted("no")
    answer_every_question(chat)
    summary = chat.prompt().text
    dob = chat.session.answers["child_dob"]
    assert dob and dob not in summary  # not the ISO form it is kept in
    day = datetime.fromisoformat(dob).strftime("%d/%m/%Y")
    assert day in summary
    assert "?:" not in summary
