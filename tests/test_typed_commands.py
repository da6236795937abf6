"""One conversation engine (issue 10, point 8): the case commands the terminal chat knew (`ack`,
`record`, `resolve`, `escalate`, `decide`, `done`, `notyet`, `handover`, `add`, `withdraw`) are
the conversation service's, so every platform's typed text gets them (someone on a phone in
Teams types what a card's buttons do), checked first as their buttons are; and the terminal chat
stays a thin driver that cannot grow its own dialogs again.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import (
    REPO,
    app_for,
    clock_of,
    current,
    escalate_to,
    history,
    policy_of,
    raise_case,
    resolve,
)
from teams_harness import DANA, HANA, Harness, intake_values, open_harness
from test_action_follow_up import _asked, the_action
from test_step_outcomes import CAL, lowmoor_app

from bot.bootstrap import App
from bot.chat import Chat
from dialogs import texts, typed_commands
from dialogs.case import Case, CaseStatus
from dialogs.conversation import ConversationService, Reply
from dialogs.events import EventType


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    built, _ = app_for(tmp_path)
    yield built
    built.close()


@pytest.fixture
def lowmoor(tmp_path: Path) -> Iterator[App]:
    built = lowmoor_app(tmp_path)
    yield built
    built.close()


def service(app: App) -> ConversationService:
    return ConversationService(app.engine, app.store, today=lambda: app.clock.now().date())


def said(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies)


def other_party(app: App, partnership: str = "northbay") -> tuple[Case, str, str]:
    case = raise_case(app, partnership)
    them = next(p.email for p in case.participants if p.email != case.raised_by)
    return case, case.raised_by, them


# ---- acknowledge --------------------------------------------------------------------------------


def test_the_counterpart_acknowledges_by_typing_and_a_repeat_changes_nothing(app: App) -> None:
    case, raiser, them = other_party(app)
    reference = case.reference
    talk = service(app)
    (done,) = talk.on_text(them, f"ack {reference}")
    assert done.text == texts.ACKNOWLEDGED.format(name="Hana Moss", reference=reference)
    assert done.card is not None and done.card.case_id  # the case as it now stands
    (again,) = talk.on_text(them, f"ACK {reference.lower()}")
    assert again.text == texts.DUPLICATE_ACK.format(reference=reference)
    (raisers,) = talk.on_text(raiser, f"ack {reference}")
    assert raisers.text == texts.RAISER_NEED_NOT_ACK.format(reference=reference)
    case = current(app, case)
    acks = [e for e in history(app, case) if e.type is EventType.ACKNOWLEDGED]
    assert len(acks) == 1


def test_an_outsider_typing_a_command_learns_nothing_of_the_case(app: App) -> None:
    case, _, _ = other_party(app)
    reference = case.reference
    outsider = "nia.stone@school.havenport.example"
    (reply,) = service(app).on_text(outsider, f"ack {reference}")
    (none,) = service(app).on_text(outsider, "ack NB-9999")
    assert reply.text == none.text.replace("NB-9999", reference) and reply.card is None
    assert not current(app, case).acknowledged_by


# ---- conversations: checked first, then asked one question at a time ---------------------------


def test_escalate_on_a_closed_case_asks_nothing(app: App) -> None:
    case = resolve(app, raise_case(app, "northbay"))
    talk = service(app)
    (reply,) = talk.on_text(case.raised_by, f"escalate {case.reference}")
    assert reply.text.startswith(f"Case {case.reference} is closed")
    assert not talk.asking(case.raised_by)


def test_a_practitioner_typing_decide_is_refused_before_any_question(app: App) -> None:
    policy = policy_of(app, "northbay")
    case = escalate_to(app, raise_case(app, "northbay"), policy.final_stage.number)
    talk = service(app)
    (reply,) = talk.on_text(case.raised_by, f"decide {case.reference}")
    assert reply.text.startswith("Only ") and case.reference in reply.text
    assert not talk.asking(case.raised_by)


def test_escalate_ref_asks_what_remains_then_moves_the_case_on(app: App) -> None:
    case, raiser, _ = other_party(app)
    reference = case.reference
    talk = service(app)
    (question,) = talk.on_text(raiser, f"escalate {reference}")
    assert question.text.startswith("What remains unresolved?")
    assert talk.asking(raiser)
    (moved,) = talk.on_text(raiser, "Whether a joint assessment is needed")
    assert "moved to stage 2" in moved.text
    assert current(app, case).stage == 2 and not talk.asking(raiser)


def test_record_ref_asks_each_part_and_keeps_what_was_answered(app: App) -> None:
    case, raiser, _ = other_party(app)
    reference = case.reference
    talk = service(app)
    assert talk.on_text(raiser, f"record {reference}")[-1].text.startswith("What was discussed")
    # an answer that starts like a word of a command is an answer, not a command
    for answer in ["Record of both views", "Share the chronology", "Dana Marsh", "04/02/2027",
                   "no"]:
        replies = talk.on_text(raiser, answer)
    while talk.asking(raiser):
        replies = talk.on_text(raiser, "-")
    assert f"record for case {reference} saved" in said(replies)
    entry = current(app, case).record[-1]
    assert entry.text == "Record of both views"
    assert [a.description for a in entry.agreed_actions] == ["Share the chronology"]


def test_withdraw_and_handover_and_add_by_typing(app: App) -> None:
    case, raiser, them = other_party(app)
    reference = case.reference
    talk = service(app)
    (added,) = talk.on_text(raiser, f"add {reference} gus.penn@health.northbay.example")
    assert "Gus Penn" in added.text
    assert "gus.penn@health.northbay.example" in {
        p.email for p in current(app, case).active_participants()
    }
    # again: one line, nothing to correct, so the reason alone (not "Please correct: Their
    # email: ...", as the issue 10 trial saw)
    (again,) = talk.on_text(raiser, f"add {reference} gus.penn@health.northbay.example")
    assert again.text == texts.ALREADY_PARTY.format(
        email="gus.penn@health.northbay.example", reference=reference
    )
    (refused,) = talk.on_text(them, f"withdraw {reference}")  # the receiving side may not
    assert refused.text.startswith("Only ") and not talk.asking(them)
    assert talk.on_text(them, f"handover {reference}")[-1].text.startswith("Hand over to")
    talk.on_text(them, "cancel")
    assert not talk.asking(them)
    assert talk.on_text(raiser, f"withdraw {reference}")[-1].text.startswith("Why is the")
    talk.on_text(raiser, "Sorted between us")
    assert current(app, case).status is CaseStatus.WITHDRAWN


@pytest.mark.parametrize("step", ["1", "refer", "meeting agreed"])
def test_done_on_a_closed_case_says_it_is_closed(app: App, step: str) -> None:
    """Every other typed command on a resolved case says it is closed; on main `done REF 1`
    alone answered 'Stage 1 of case NB-0001 has no open step to mark done', as if the case
    were still running."""
    case, raiser, _ = other_party(app)
    resolve(app, case)
    (reply,) = service(app).on_text(raiser, f"done {case.reference} {step}")
    assert reply.text == texts.CLOSED.format(reference=case.reference,
                                             status="resolved at stage 1")


@pytest.mark.parametrize("typed", ["record {ref}", "escalate {ref}", "withdraw {ref}"])
def test_a_typed_command_never_throws_away_a_half_finished_intake(app: App, typed: str) -> None:
    """Half-way through raising a second case (the child's name already given), a command
    that asks questions of its own replaced the intake on main, every answer lost without a
    word. Like 'done REF STEP' asking 'Agreed?', it now says to finish or cancel first, and
    the intake goes on where it was."""
    case, raiser, _ = other_party(app)
    talk = service(app)
    talk.on_text(raiser, "escalate")
    talk.on_text(raiser, "2")
    talk.on_text(raiser, "hana.moss@health.northbay.example")
    asked = talk.on_text(raiser, "Robin Example")[-1].text
    replies = talk.on_text(raiser, typed.format(ref=case.reference))
    assert "Finish or `cancel`" in replies[0].text
    assert replies[-1].text == asked
    assert talk.on_text(raiser, "-")[-1].text.startswith("Child's record number")


@pytest.mark.parametrize(("colleague", "refusal"), [
    ("gus.penn@health.northbay.example", "is already involved"),  # the other side's manager
    ("hana.moss@health.northbay.example", "is already involved"),  # the counterpart herself
    ("fern.ash@health.northbay.example", "works for"),  # not in his own agency
    ("nia.stone@school.havenport.example", "is not in the partnership"),
])
def test_a_handover_to_someone_the_engine_refuses_is_refused_when_named(
    app: App, colleague: str, refusal: str
) -> None:
    """Check first, then ask (issue 10, point 1): on main the colleague was taken, the reason
    asked, and only then 'Please correct: Hand over to: … is already involved' came, with the
    conversation gone and nothing left to correct. Now the name is refused at its question,
    which stays asked, and a good colleague then goes through."""
    case, _, _ = other_party(app)
    escalate_to(app, case, 2)
    talk = service(app)
    cal = "cal.birch@council.northbay.example"
    asked = talk.on_text(cal, f"handover {case.reference}")[-1].text
    refused = talk.on_text(cal, colleague)
    assert refusal in refused[0].text and colleague in refused[0].text
    assert refused[-1].text == asked and talk.asking(cal)
    assert talk.on_text(cal, "bea.lane@council.northbay.example")[-1].text.startswith("Why?")
    done = talk.on_text(cal, "Annual leave")[-1].text
    assert "now with Bea Lane" in done


@pytest.mark.parametrize("typed", ["add {ref}", "ack {ref} now", "record {ref} please",
                                   "done {ref}", "notyet {ref}"])
def test_a_command_missing_a_part_says_the_shape_and_changes_nothing(
    app: App, typed: str
) -> None:
    case, raiser, _ = other_party(app)
    reference = case.reference
    before = current(app, case).version
    talk = service(app)
    (reply,) = talk.on_text(raiser, typed.format(ref=reference))
    verb = typed.split()[0]
    assert reply.text == texts.TYPED_USAGE[verb].format(reference=reference)
    assert current(app, case).version == before and not talk.asking(raiser)


# ---- steps by number or name, and agreed actions -----------------------------------------------


def test_done_ref_refer_chooses_the_step_by_the_start_of_its_name(app: App) -> None:
    policy = policy_of(app, "northbay")
    case = escalate_to(app, raise_case(app, "northbay"), policy.final_stage.number)
    owner = next(p.email for p in case.active_participants() if p.role == "senior_manager")
    (refused,) = service(app).on_text(case.raised_by, f"done {case.reference} refer")
    assert refused.text.startswith("Only Senior manager")  # checked before anything is done
    (reply,) = service(app).on_text(owner, f"done {case.reference} refer")
    assert "Refer to the Safeguarding Partnership" in reply.text
    step = current(app, case).step("refer-to-partnership")
    assert step is not None and step.done
    # done already: the engine's own words say by whom, never the step's id
    (again,) = service(app).on_text(owner, f"done {case.reference} refer")
    assert "was marked done by" in again.text and "refer-to-partnership" not in again.text


def test_done_with_an_unknown_step_lists_the_open_ones_by_number_and_name(lowmoor: App) -> None:
    case = escalate_to(lowmoor, raise_case(lowmoor, "northbay"), 2)
    (reply,) = service(lowmoor).on_text(CAL, f"done {case.reference} refer")
    assert reply.text == texts.WHICH_STEP.format(
        reference=case.reference, steps="1. Hold the resolution meeting"
    )
    assert "meeting:" not in reply.text  # no id


def test_done_asks_agreed_when_the_line_does_not_say_and_cancel_leaves_it(lowmoor: App) -> None:
    case = escalate_to(lowmoor, raise_case(lowmoor, "northbay"), 2)
    talk = service(lowmoor)
    (asked,) = talk.on_text(CAL, f"done {case.reference} Hold the resolution meeting")
    assert asked.text == texts.STEP_OUTCOME_PROMPT
    (cancelled,) = talk.on_text(CAL, "cancel")
    assert cancelled.text == texts.DIALOG_CANCELLED and not talk.asking(CAL)
    step = current(lowmoor, case).step("meeting")
    assert step is not None and not step.done
    (reply,) = talk.on_text(CAL, f"done {case.reference} 1 not agreed")
    step = current(lowmoor, case).step("meeting")
    assert step is not None and step.done and step.outcome == "not_agreed"
    assert "Not agreed" in reply.text


def test_done_and_notyet_on_an_agreed_action_by_typing(app: App) -> None:
    case, asked = _asked(app, "northbay")
    owner = asked.recipient.address
    state = the_action(case)
    (missing,) = service(app).on_text(owner, f"notyet {case.reference} {state.id}")
    assert texts.ACTION_NEEDS_NEW_DATE in missing.text and "new_due" not in missing.text
    (later,) = service(app).on_text(
        owner, f'notyet {case.reference} {state.id} 12/02/2027 "waiting for the report"'
    )
    updates = the_action(current(app, case)).updates
    assert [u.reason for u in updates] == ["waiting for the report"], later.text
    service(app).on_text(owner, f"done {case.reference} {state.id}")
    assert the_action(current(app, case)).done


# ---- one help for every platform ---------------------------------------------------------------


def test_help_names_every_typed_command(app: App) -> None:
    (reply,) = service(app).on_text("dana.marsh@council.northbay.example", "help")
    for verb in typed_commands.VERBS:
        assert f"**{verb} REF" in reply.text, verb


# ---- in Teams -----------------------------------------------------------------------------------


@pytest.fixture
async def harness(tmp_path: Path) -> Iterator[Harness]:
    async with open_harness(tmp_path) as h:
        yield h


async def test_a_counterpart_types_ack_in_teams(harness: Harness) -> None:
    h = harness
    await h.click(DANA, "intake", intake_values(h.app))
    case = h.case()
    hana_chat = f"a:chat-with-{HANA[1]}"
    assert await h.say(HANA, f"ack {case.reference}") == 201
    told = h.connector.texts_to(hana_chat)
    assert f"Hana Moss has acknowledged case {case.reference}" in told
    assert HANA[0] in current(h.app, case).acknowledged_by
    # and a conversation by typing: escalate asks its question in the chat, then moves on
    await h.say(HANA, f"escalate {case.reference}")
    assert h.connector.texts_to(hana_chat)[-1].startswith("What remains unresolved?")
    await h.say(HANA, "Whether the assessment is needed")
    assert current(h.app, case).stage == 2


# ---- the terminal chat stays a driver ----------------------------------------------------------


def test_the_terminal_chat_has_no_dialog_of_its_own() -> None:
    """bot/chat.py passes lines to ConversationService.on_text: it never asks a form's
    questions, builds a command or runs the engine itself."""
    source = (REPO / "bot" / "chat.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for a in node.names}
    own_dialogs = {"dialogs.intake", "dialogs.record_dialog", "dialogs.commands",
                   "dialogs.typed_commands", "dialogs.permissions", "dialogs.messages"}
    assert not imported & own_dialogs
    called = {node.func.attr for node in ast.walk(tree)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
    assert not called & {"handle", "view", "policy_for", "on_action"}
    assert "on_text" in called


def test_the_chats_help_is_the_services_and_its_own_extras(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    Chat(app, clock_of(app), DANA[0], ask=lambda prompt: "").handle_line("help")
    out = capsys.readouterr().out
    assert "**ack REF**" in out and "**done REF STEP**" in out  # the one help of every platform
    assert texts.CHAT_HELP in out


def test_input_ending_at_a_question_sends_nothing_and_leaves_no_question(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    case, raiser, _ = other_party(app)

    def ended(prompt: str) -> str:
        raise EOFError

    chat = Chat(app, clock_of(app), raiser, ask=ended)
    assert chat.handle_line(f"escalate {case.reference}") is False
    assert texts.CHAT_INPUT_ENDED in capsys.readouterr().out
    assert current(app, case).stage == 1 and not chat.service.asking(raiser)


def test_back_at_the_first_question_is_not_taken_as_its_answer(app: App) -> None:
    """Before: `back` at "What remains unresolved?" escalated the case with "back" as the text."""
    case, raiser, _ = other_party(app)
    talk = service(app)
    talk.on_text(raiser, f"escalate {case.reference}")
    replies = talk.on_text(raiser, "back")
    assert replies[0].text == texts.NO_EARLIER_QUESTION
    assert replies[-1].text.startswith("What remains unresolved?")  # asked again
    assert current(app, case).stage == 1 and talk.asking(raiser)


@pytest.mark.parametrize("verb", ["show", "history", "record", "done", "ack", "notyet"])
def test_a_command_without_its_reference_is_told_how_to_say_it(app: App, verb: str) -> None:
    """`show` alone is answered with `show REF` and where REF comes from, not "I didn't catch
    that" and the whole help (the issue 10 trial)."""
    person = next(iter(app.engine.people("northbay")))
    (reply,) = service(app).on_text(person, verb)
    assert f"`{verb} REF" in reply.text and "`status` lists yours" in reply.text
    assert texts.NOT_CAUGHT not in reply.text
