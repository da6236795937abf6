"""Agreed actions followed up on their dates (NSSCP: "how any outstanding issues will be followed
up, with agreed timescales"), in every bundled partnership, through the real engine, the
scheduler's deadline loop and the conversation service, on SQLite and on Redis.

On an action's date its owner is asked in their chat whether it is done (Done / Not yet, with a
new date and a reason); the raiser sees the answer; an action still open two working days after
its date is reported to the business team. Each of these is a durable deadline: exactly once,
and in working time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from support import (
    CHILD_IDS,
    CHILD_NAME,
    PARTNERSHIPS,
    STORES,
    app_for,
    app_on_store,
    business_team_channel,
    channel_notes,
    clock_of,
    current,
    fire,
    handle,
    history,
    pending,
    person_notes,
    policy_of,
    raise_case,
    record,
    snapshot,
)

from bot.bootstrap import App
from bot.chat import Chat
from bot.demo import outcome_answers
from dialogs import actions, texts
from dialogs.case import Case, CaseStatus
from dialogs.commands import (
    ActionInput,
    DeadlineLapsed,
    HandOver,
    RecordDiscussion,
    Resolve,
    UpdateAction,
    Withdraw,
)
from dialogs.conversation import ConversationService
from dialogs.errors import IllegalTransition, InvalidInput, NotAllowed
from dialogs.messages import ACTION_DONE_VERB, ACTION_NOT_YET_VERB
from dialogs.notifications import Notification
from policy.calendar import WorkingCalendar

DUE = date(2027, 2, 5)  # a Friday: START is Monday 1 February 2027, 10:00 UTC
WHAT = "Share the chronology with the school nurse"


@pytest.fixture(params=sorted(PARTNERSHIPS))
def partnership(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    built, _ = app_for(tmp_path)
    yield built
    built.close()


def service(app: App) -> ConversationService:
    return ConversationService(app.engine, app.store, today=lambda: app.clock.now().date())


def counterpart(case: Case) -> str:
    return next(p.email for p in case.participants if p.email != case.raised_by)


def resolved_with_action(app: App, partnership: str, owner: str = "", due: date = DUE) -> Case:
    """A case resolved at stage 1 with one agreed action, owned by the counterpart by name."""
    case = raise_case(app, partnership)
    other = case.participant(counterpart(case))
    assert other is not None
    action = ActionInput(description=WHAT, owner=owner or other.name, due=due.isoformat())
    handle(app, Resolve(
        actor=case.raised_by, case_id=case.id, expected_version=case.version,
        record=record(agreed_actions=[action]),
        outcome_answers=outcome_answers(policy_of(app, partnership)),
    ))
    return current(app, case)


def calendar(app: App, partnership: str) -> WorkingCalendar:
    return app.config.partnership(partnership).calendar(policy_of(app, partnership))


def at(app: App, partnership: str, day: date, hour: int, minute: int = 0) -> datetime:
    cal = calendar(app, partnership)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=cal.zone)


def follow_ups(app: App, case: Case, kind: str = actions.ASK) -> list[Notification]:
    return [n for n in pending(app, case) if n.kind.startswith(kind)]


def the_action(case: Case) -> actions.ActionState:
    (state,) = actions.action_states(case)
    return state


# ---- asked on the date, reported two working days after --------------------------------------


def test_the_owner_is_asked_on_the_date_and_the_business_team_told_two_working_days_after(
    app: App, partnership: str
) -> None:
    case = resolved_with_action(app, partnership)
    assert case.status is CaseStatus.RESOLVED
    state = the_action(case)
    owner = counterpart(case)
    # the follow-ups outlive the case: they are its only deadlines now
    kinds = sorted(d.kind for d in app.store.deadlines_for_case(case.id))
    assert kinds == [actions.ASK, actions.LATE]

    clock_of(app).set(at(app, partnership, DUE, 8, 59))
    fire(app)
    assert follow_ups(app, case) == []  # not before the morning of its date

    clock_of(app).set(at(app, partnership, DUE, 9, 0))
    fire(app)
    (asked,) = follow_ups(app, case)
    assert asked.recipient.address == owner
    assert asked.deliver_at <= app.clock.now()  # working time: it goes now
    assert asked.card.title == texts.ACTION_ASK_TITLE.format(
        reference=case.reference, action=state.id
    )
    assert WHAT in asked.card.text and "05/02/2027" in asked.card.text
    verbs = [a.command for a in asked.card.actions]
    assert verbs == [ACTION_DONE_VERB, ACTION_NOT_YET_VERB]
    assert all(a.data["action_id"] == state.id for a in asked.card.actions)

    # two working days after Friday 5 February is Tuesday 9 February
    clock_of(app).set(at(app, partnership, date(2027, 2, 9), 8, 59))
    fire(app)
    assert follow_ups(app, case, actions.LATE) == []
    clock_of(app).set(at(app, partnership, date(2027, 2, 9), 9, 0))
    fire(app)
    late = follow_ups(app, case, actions.LATE)
    (alert,) = channel_notes(late)
    assert alert.recipient.address == business_team_channel(app, partnership)
    assert alert.card.title == texts.CHANNEL_ACTION_LATE.format(
        reference=case.reference, action=state.id, due="Fri 05/02/2027"
    )
    shown = alert.card.all_text()
    for private in (CHILD_NAME, CHILD_IDS, WHAT):  # neither the child nor what was agreed
        assert private not in shown
    assert [n.recipient.address for n in person_notes(late)] == [owner]  # nudged again
    assert app.store.deadlines_for_case(case.id) == []  # both have gone, once each
    types = [e.type.value for e in history(app, case)]
    assert types.count("action_asked") == 1 and types.count("action_late") == 1
    for event in history(app, case):
        assert WHAT not in event.summary and CHILD_NAME not in event.summary


def test_a_date_on_a_weekend_is_asked_about_the_next_working_morning(app: App) -> None:
    case = resolved_with_action(app, "northbay", due=date(2027, 2, 6))  # a Saturday
    state = the_action(case)
    cal = calendar(app, "northbay")
    assert actions.ask_at(state, cal) == at(app, "northbay", date(2027, 2, 8), 9, 0)
    assert actions.late_at(state, cal) == at(app, "northbay", date(2027, 2, 9), 9, 0)
    clock_of(app).set(at(app, "northbay", date(2027, 2, 6), 12, 0))
    fire(app)
    assert follow_ups(app, case) == []


def test_an_action_due_the_day_it_was_agreed_is_asked_about_the_next_morning(app: App) -> None:
    case = resolved_with_action(app, "northbay", due=date(2027, 2, 1))  # agreed at 10:00
    state = the_action(case)
    assert actions.ask_at(state, calendar(app, "northbay")) == at(
        app, "northbay", date(2027, 2, 2), 9, 0
    )
    fire(app)
    assert follow_ups(app, case) == []  # never the moment it was written


def test_actions_of_an_open_case_are_followed_up_as_well(app: App) -> None:
    case = raise_case(app, "northbay")
    action = ActionInput(description=WHAT, owner="someone not on the case", due="2027-02-03")
    handle(app, RecordDiscussion(actor=case.raised_by, case_id=case.id,
                                 expected_version=case.version,
                                 record=record(agreed_actions=[action])))
    case = current(app, case)
    clock_of(app).set(at(app, "northbay", date(2027, 2, 3), 9, 0))
    fire(app)
    (asked,) = follow_ups(app, case)
    # an owner the bot cannot place among the parties: whoever recorded the action is asked
    assert asked.recipient.address == case.raised_by
    assert current(app, case).is_open


def test_a_withdrawn_concern_ends_its_follow_ups(app: App) -> None:
    case = raise_case(app, "northbay")
    action = ActionInput(description=WHAT, owner="Dana", due=DUE.isoformat())
    handle(app, RecordDiscussion(actor=case.raised_by, case_id=case.id,
                                 expected_version=case.version,
                                 record=record(agreed_actions=[action])))
    case = current(app, case)
    assert any(d.kind == actions.ASK for d in app.store.deadlines_for_case(case.id))
    handle(app, Withdraw(actor=case.raised_by, case_id=case.id,
                         expected_version=case.version, reason="Agreed by phone."))
    assert app.store.deadlines_for_case(case.id) == []


# ---- who is asked ------------------------------------------------------------------------------


def test_the_owner_is_found_by_name_email_or_agency_else_the_author(app: App) -> None:
    case = raise_case(app, "northbay")
    other = case.participant(counterpart(case))
    assert other is not None
    agency = app.engine.agency_names[other.agency]
    owners_written = {
        other.name: [other.email],
        other.email.upper(): [other.email],
        f"{agency} (duty team)": [other.email],
        "Dr Who, the family's GP": [case.raised_by],
    }
    for written, expected in owners_written.items():
        found = resolved_with_action(app, "northbay", owner=written)
        names = actions.owners(found, the_action(found), app.engine.agency_names)
        assert [p.email for p in names] == expected, written


def test_an_owner_who_handed_over_is_followed_to_their_colleague(app: App) -> None:
    open_case = raise_case(app, "northbay")
    owner = open_case.participant(counterpart(open_case))
    assert owner is not None
    action = ActionInput(description=WHAT, owner=owner.name, due=DUE.isoformat())
    handle(app, RecordDiscussion(actor=open_case.raised_by, case_id=open_case.id,
                                 expected_version=open_case.version,
                                 record=record(agreed_actions=[action])))
    open_case = current(app, open_case)
    colleague = next(
        p for p in app.store.people("northbay")
        if p.agency == owner.agency and p.email != owner.email
        and not open_case.is_party(p.email)
    )
    handle(app, HandOver(actor=owner.email, case_id=open_case.id,
                         expected_version=open_case.version, to_email=colleague.email,
                         reason="Leave."))
    open_case = current(app, open_case)
    names = actions.owners(open_case, the_action(open_case), app.engine.agency_names)
    assert [p.email for p in names] == [colleague.email]


# ---- answers -----------------------------------------------------------------------------------


def _asked(app: App, partnership: str) -> tuple[Case, Notification]:
    case = resolved_with_action(app, partnership)
    clock_of(app).set(at(app, partnership, DUE, 9, 30))
    fire(app)
    (asked,) = follow_ups(app, case)
    return current(app, case), asked


def test_done_is_recorded_the_raiser_told_and_nothing_more_is_asked(
    app: App, partnership: str
) -> None:
    case, asked = _asked(app, partnership)
    owner = asked.recipient.address
    state = the_action(case)
    result = service(app).on_action(
        owner, ACTION_DONE_VERB,
        {"case_id": case.id, **asked.card.actions[0].data}, {},
    )
    assert result.message == texts.ACTION_DONE_REPLY.format(
        action=state.id, reference=case.reference
    )
    after = current(app, case)
    assert the_action(after).done and the_action(after).updates[-1].by == owner
    told = person_notes(follow_ups(app, case, "action-update"), case.raised_by)
    assert len(told) == 1 and "is done" in told[0].card.title
    assert app.store.deadlines_for_case(case.id) == []
    # the record on every card now says so
    assert any(" (done 05/02/2027" in line for b in result.card.record for line in b.lines)
    clock_of(app).set(at(app, partnership, date(2027, 2, 9), 9, 0))
    fire(app)
    assert follow_ups(app, case, actions.LATE) == []

    # the same button again (or a second device) changes nothing and says so
    before = snapshot(app, case)
    again = service(app).on_action(
        owner, ACTION_DONE_VERB, {"case_id": case.id, **asked.card.actions[0].data}, {}
    )
    assert "already marked done" in again.message and "Nothing was changed" in again.message
    assert snapshot(app, case) == before


def test_not_yet_asks_for_a_date_and_a_reason_and_moves_the_follow_up(
    app: App, partnership: str
) -> None:
    case, asked = _asked(app, partnership)
    owner = asked.recipient.address
    state = the_action(case)
    not_yet = asked.card.actions[1]
    data = {"case_id": case.id, **not_yet.data}
    form = service(app).on_action(owner, ACTION_NOT_YET_VERB, data, {}).card
    assert [i.id for i in form.inputs] == ["new_due", "reason"]
    submit = next(a for a in form.actions if a.submits_inputs)
    sent = {"case_id": case.id, **submit.data}

    before = snapshot(app, case)
    shown = service(app).on_action(owner, ACTION_NOT_YET_VERB, sent, {"new_due": "", "reason": ""})
    errors = {i.id: i.error for i in shown.card.inputs}
    assert errors == {"new_due": texts.ACTION_NEEDS_NEW_DATE, "reason": texts.ACTION_NEEDS_REASON}
    shown = service(app).on_action(owner, ACTION_NOT_YET_VERB, sent,
                                   {"new_due": "ASAP", "reason": "Waiting"})
    assert "not a date" in {i.id: i.error for i in shown.card.inputs}["new_due"]
    shown = service(app).on_action(owner, ACTION_NOT_YET_VERB, sent,
                                   {"new_due": "01/02/2027", "reason": "Waiting"})
    assert "has already passed" in {i.id: i.error for i in shown.card.inputs}["new_due"]
    assert {i.id: i.value for i in shown.card.inputs}["reason"] == "Waiting"  # nothing lost
    assert snapshot(app, case) == before

    done = service(app).on_action(owner, ACTION_NOT_YET_VERB, sent,
                                  {"new_due": "12/02/2027", "reason": "The nurse is on leave."})
    assert done.message == texts.ACTION_NOT_YET_REPLY.format(
        action=state.id, reference=case.reference, due="Fri 12/02/2027"
    )
    after = the_action(current(app, case))
    assert after.due == date(2027, 2, 12) and not after.done
    (told,) = person_notes(follow_ups(app, case, "action-update"), case.raised_by)
    assert "12/02/2027" in told.card.title and "The nurse is on leave." in told.card.text
    # the reason is the owner's free text: on the raiser's 1:1 card, never in the history
    assert all("nurse" not in e.summary for e in history(app, case))

    # the old question's Done now refers to a date that has moved: nothing changes
    before = snapshot(app, case)
    stale = service(app).on_action(owner, ACTION_DONE_VERB, data, {})
    assert "out of date" in stale.message and "12/02/2027" in stale.message
    assert snapshot(app, case) == before

    # the follow-up moved with the date: nothing on Tuesday the 9th, asked again on the 12th,
    # reported on Tuesday the 16th
    clock_of(app).set(at(app, partnership, date(2027, 2, 9), 9, 0))
    fire(app)
    assert follow_ups(app, case, actions.LATE) == []
    clock_of(app).set(at(app, partnership, date(2027, 2, 12), 9, 0))
    fire(app)
    assert len([n for n in follow_ups(app, case) if n.recipient.address == owner]) == 2
    clock_of(app).set(at(app, partnership, date(2027, 2, 16), 9, 0))
    fire(app)
    assert len(channel_notes(follow_ups(app, case, actions.LATE))) == 1


def test_the_case_card_keeps_the_question_so_a_lost_card_can_be_answered(app: App) -> None:
    case, asked = _asked(app, "northbay")
    owner = asked.recipient.address
    state = the_action(case)
    card = service(app).case_card(current(app, case), owner)
    labels = [a.label for a in card.actions]
    assert f"{texts.BUTTON_ACTION_DONE}: {state.id}" in labels
    assert f"{texts.BUTTON_ACTION_NOT_YET}: {state.id}" in labels


def test_only_parties_may_answer(app: App) -> None:
    case, _ = _asked(app, "northbay")
    outsider = app.store.people("havenport")[0].email
    before = snapshot(app, case)
    with pytest.raises(NotAllowed, match="I can't find that case"):
        handle(app, UpdateAction(actor=outsider, case_id=case.id,
                                 action_id=the_action(case).id, done=True))
    assert snapshot(app, case) == before


def test_an_unknown_action_is_refused_by_name(app: App) -> None:
    case, _ = _asked(app, "northbay")
    with pytest.raises(IllegalTransition, match=r"has no agreed action 9\.9\.9"):
        handle(app, UpdateAction(actor=case.raised_by, case_id=case.id, action_id="9.9.9",
                                 done=True))


def test_a_corrected_entry_leaves_its_actions_to_the_correction(app: App) -> None:
    case = raise_case(app, "northbay")
    first = ActionInput(description="Visit on Friday", owner="Dana", due=DUE.isoformat())
    handle(app, RecordDiscussion(actor=case.raised_by, case_id=case.id,
                                 record=record(agreed_actions=[first])))
    case = current(app, case)
    wrong = case.record[-1].id
    fixed = ActionInput(description="Visit on Thursday", owner="Dana", due="2027-02-04")
    handle(app, RecordDiscussion(actor=case.raised_by, case_id=case.id,
                                 record=record("Corrected: Thursday.", agreed_actions=[fixed],
                                               corrects=wrong)))
    case = current(app, case)
    (state,) = actions.action_states(case)
    assert state.action.description == "Visit on Thursday"
    assert {d.step_id for d in app.store.deadlines_for_case(case.id) if d.kind in actions.KINDS
            } == {state.id}


def test_not_yet_without_a_reason_is_refused_by_the_engine_too(app: App) -> None:
    case, _ = _asked(app, "northbay")
    before = snapshot(app, case)
    with pytest.raises(InvalidInput) as refused:
        handle(app, UpdateAction(actor=case.raised_by, case_id=case.id,
                                 action_id=the_action(case).id, done=False,
                                 new_due="2027-02-12", reason=" "))
    assert set(refused.value.field_errors) == {"reason"}
    assert snapshot(app, case) == before


# ---- exactly once, on both stores --------------------------------------------------------------


@pytest.mark.parametrize("kind", STORES)
def test_each_follow_up_goes_exactly_once(tmp_path: Path, kind: str) -> None:
    with app_on_store(kind, tmp_path, "actions") as app:
        case = resolved_with_action(app, "northbay")
        state = the_action(case)
        ask = at(app, "northbay", DUE, 9, 0)
        clock_of(app).set(ask + timedelta(minutes=5))
        fire(app)
        fire(app)
        # the scheduler's command delivered a second time (a lease that ran out mid-way)
        repeat = DeadlineLapsed(case_id=case.id, kind=actions.ASK, stage=case.stage,
                                step_id=state.id, due_at=ask)
        assert not handle(app, repeat).changed
        assert len(follow_ups(app, case)) == 1
        late = at(app, "northbay", date(2027, 2, 9), 9, 0)
        clock_of(app).set(late)
        fire(app)
        fire(app)
        assert len(channel_notes(follow_ups(app, case, actions.LATE))) == 1
        # a lapse for a date the action no longer has is stale and changes nothing
        stale = DeadlineLapsed(case_id=case.id, kind=actions.LATE, stage=case.stage,
                               step_id=state.id, due_at=late - timedelta(days=1))
        assert not handle(app, stale).changed


# ---- found by a fresh-clone trial --------------------------------------------------------------


def test_an_owner_typed_as_an_email_is_shown_by_name(app: App) -> None:
    case = raise_case(app, "northbay")
    other = case.participant(counterpart(case))
    assert other is not None
    case = resolved_with_action(app, "northbay", owner=other.email)
    clock_of(app).set(at(app, "northbay", DUE, 9, 0))
    fire(app)
    (asked,) = follow_ups(app, case)
    assert asked.recipient.address == other.email
    assert f"({other.name})" in asked.card.text and other.email not in asked.card.text
    shown = service(app).case_card(current(app, case), other.email).all_text()
    assert f"{WHAT}: {other.name}, by Fri 05/02/2027" in shown
    assert other.email not in shown


def test_a_withdrawn_case_shows_no_follow_up_buttons(app: App) -> None:
    case = raise_case(app, "northbay")
    action = ActionInput(description=WHAT, owner=case.raised_by, due=DUE.isoformat())
    handle(app, RecordDiscussion(actor=case.raised_by, case_id=case.id,
                                 record=record(agreed_actions=[action])))
    clock_of(app).set(at(app, "northbay", DUE, 9, 0))
    fire(app)
    case = current(app, case)
    labels = [a.label for a in service(app).case_card(case, case.raised_by).actions]
    assert any(label.startswith(texts.BUTTON_ACTION_DONE) for label in labels)
    handle(app, Withdraw(actor=case.raised_by, case_id=case.id, reason="Agreed by phone."))
    card = service(app).case_card(current(app, case), case.raised_by)
    assert card.actions == []


def test_status_brings_back_a_closed_case_whose_action_awaits_an_answer(app: App) -> None:
    case, asked = _asked(app, "havenport")
    owner = asked.recipient.address
    state = the_action(case)
    (reply,) = service(app).on_text(owner, "status")
    assert reply.card is not None
    facts = {f.label: f.value for f in reply.card.facts}
    assert state.id in facts[case.reference] and "waiting for an answer" in facts[case.reference]
    assert [a.data.get("case_id") for a in reply.card.actions] == [case.id]
    # once answered it leaves the list
    service(app).on_action(owner, ACTION_DONE_VERB,
                           {"case_id": case.id, **asked.card.actions[0].data}, {})
    (reply,) = service(app).on_text(owner, "status")
    assert reply.text == texts.NO_OPEN_CASES


def test_the_terminal_chat_names_what_a_not_yet_is_missing_and_shows_names(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    case, asked = _asked(app, "northbay")
    owner = asked.recipient.address
    state = the_action(case)
    chat = Chat(app, clock_of(app), owner, ask=lambda prompt: "")
    chat.handle_line(f"notyet {case.reference} {state.id} 12/02/2027")
    chat.handle_line(f"notyet {case.reference} {state.id}")
    out = capsys.readouterr().out
    # one line, no form: the reasons themselves (the conversation service's words), never
    # a field id, nor "Please correct:" with nothing to correct
    assert f"{texts.ACTION_NEEDS_NEW_DATE} {texts.ACTION_NEEDS_REASON}" in out
    assert f"  {texts.ACTION_NEEDS_REASON}" in out  # the first line: only the reason missing
    assert texts.PLEASE_CORRECT not in out
    assert "reason:" not in out and "new_due:" not in out
    assert not the_action(current(app, case)).updates
    chat.handle_line(f"history {case.reference}")
    out = capsys.readouterr().out
    assert "@" not in out  # names, as in Teams
    assert "followed up" in out
