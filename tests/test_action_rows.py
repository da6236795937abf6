"""Agreed actions as repeating rows on a card (issue 10, point 5): what, who (chosen from the
case's parties), by when, one row to start and "Add another action" for the next, every value
kept across the round trip; each row checked by the rules the chat checks one typed action by,
its error shown against its own field in plain words; whether any action is needed decided
once, for the card and the chat alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import app_for, current, escalate, handle, policy_of, raise_case
from teams_harness import CAL, DANA, Harness, card_text, intake_values, open_harness
from test_plain_words import assert_plain, ids_of

from adapters.console.render import render_card
from adapters.teams.cards import adaptive_card
from bot.bootstrap import App
from dialogs import agreed_actions, record_dialog, texts
from dialogs.actions import action_states
from dialogs.cards import Card, CardInput, InputKind
from dialogs.case import Case
from dialogs.conversation import ActionResult, ConversationService
from dialogs.record_dialog import DialogState, Purpose

DANA_EMAIL = "dana.marsh@council.northbay.example"
HANA_EMAIL = "hana.moss@health.northbay.example"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    built, _ = app_for(tmp_path)
    yield built
    built.close()


def service(app: App) -> ConversationService:
    return ConversationService(app.engine, app.store, today=lambda: app.clock.now().date())


def rows_of(card: Card) -> CardInput:
    (rows,) = [i for i in card.inputs if i.kind is InputKind.ROWS]
    return rows


def click(
    app: App, case: Case, actor: str, values: dict[str, str], verb: str = "resolve", **data: str
) -> ActionResult:
    control = {"case_id": case.id, "version": str(case.version), "submit": "1", **data}
    return service(app).on_action(actor, verb, control, values)


def row(n: int, what: str, who: str, due: str) -> dict[str, str]:
    return {f"agreed_actions.{n}.what": what, f"agreed_actions.{n}.who": who,
            f"agreed_actions.{n}.due": due}


def test_the_card_starts_with_one_row_of_what_who_and_by_when_and_add_another(app: App) -> None:
    case = raise_case(app, "northbay")
    opened = service(app).on_action(case.raised_by, "resolve",
                                    {"case_id": case.id, "version": str(case.version)}, {})
    rows = rows_of(opened.card)
    assert [r.title for r in rows.rows] == ["Action 1"]
    (only,) = rows.rows
    assert [(i.label, i.kind) for i in only.inputs] == [
        (texts.ACTION_WHAT_LABEL, InputKind.TEXT),
        (texts.ACTION_WHO_LABEL, InputKind.CHOICE),
        (texts.ACTION_DUE_LABEL, InputKind.DATE),
    ]
    assert only.inputs[1].choices == [(DANA_EMAIL, "Dana Marsh"), (HANA_EMAIL, "Hana Moss")]
    assert only.remove is None  # one row is cleared, not removed
    assert rows.add is not None and rows.add.label == "Add another action"
    assert not rows.add.checks_inputs  # Teams must let it go with the card half filled
    # drawn stacked for a phone: a container per row, no columns
    teams = adaptive_card(opened.card)
    assert "ColumnSet" not in card_text(teams)
    assert '"isRequired": true' not in card_text(teams)
    text = render_card(opened.card)
    assert "Action 1" in text and "[Add another action]" in text


def test_add_another_keeps_every_value_typed_and_adds_a_row(app: App) -> None:
    case = raise_case(app, "northbay")
    typed = {"summary": "We agreed a plan.", **row(1, "Share the chronology", HANA_EMAIL,
                                                   "2027-02-04")}
    added = click(app, case, case.raised_by, typed, edit="add")
    assert current(app, case).version == case.version  # nothing recorded, nothing checked
    assert added.card.text == ""
    summary = next(i for i in added.card.inputs if i.id == "summary")
    assert summary.value == "We agreed a plan."
    rows = rows_of(added.card)
    assert [r.title for r in rows.rows] == ["Action 1", "Action 2"]
    assert [i.value for i in rows.rows[0].inputs] == [
        "Share the chronology", HANA_EMAIL, "2027-02-04"]
    assert [i.value for i in rows.rows[1].inputs] == ["", "", ""]
    assert all(r.remove is not None for r in rows.rows)
    # the Remove of row 1 keeps row 2's values, now as Action 1
    two = {**typed, **row(2, "Joint visit", DANA_EMAIL, "2027-02-05")}
    removed = click(app, case, case.raised_by, two, edit="remove", row="1")
    (left,) = rows_of(removed.card).rows
    assert [i.value for i in left.inputs] == ["Joint visit", DANA_EMAIL, "2027-02-05"]


def test_rows_stop_at_the_cap_and_say_so(app: App) -> None:
    case = raise_case(app, "northbay")
    values: dict[str, str] = {}
    for n in range(1, agreed_actions.MAX_ACTIONS + 1):
        values |= row(n, f"Step {n}", HANA_EMAIL, "2027-02-04")
    full = click(app, case, case.raised_by, values, edit="add")
    rows = rows_of(full.card)
    assert len(rows.rows) == agreed_actions.MAX_ACTIONS and rows.add is None
    assert texts.ACTIONS_CAP_NOTE.format(n=agreed_actions.MAX_ACTIONS) in rows.help


def test_a_bad_row_comes_back_with_its_error_in_plain_words(app: App) -> None:
    case = raise_case(app, "northbay")
    values = {"summary": "We agreed a plan.",
              **row(1, "Share the chronology", HANA_EMAIL, "2027-02-04"),
              **row(2, "Joint visit", "the school", "31/02/2027")}
    back = click(app, case, case.raised_by, values)
    assert back.message == texts.FIX_THE_CARD
    assert current(app, case).version == case.version
    rows = rows_of(back.card)
    first, second = rows.rows
    assert [i.error for i in first.inputs] == ["", "", ""]
    assert [i.value for i in first.inputs] == ["Share the chronology", HANA_EMAIL, "2027-02-04"]
    what, who, due = second.inputs
    assert what.error == "" and what.value == "Joint visit"
    assert who.error.startswith("Action 2 — who: 'the school' is not someone on this case")
    assert "Dana Marsh, Hana Moss" in who.error
    assert due.error.startswith("Action 2 — by when: '31/02/2027' is not a date I can read:")
    assert "February 2027 has 28 days" in due.error
    ids = ids_of(app, "northbay")
    for message in (who.error, due.error, back.message):
        assert_plain(message, ids)
    past = click(app, case, case.raised_by, {"summary": "x", **row(1, "Visit", HANA_EMAIL,
                                                                    "2027-01-04")})
    (only,) = rows_of(past.card).rows
    assert only.inputs[2].error == (
        "Action 1 — by when: 04/01/2027 has already passed; give a date from today on.")


def test_a_required_actions_field_refuses_none_on_the_card_and_in_the_chat(app: App) -> None:
    case = escalate(app, raise_case(app, "northbay"))  # NSSCP stage 2: actions required
    policy = policy_of(app, "northbay")
    field = next(f for f in record_dialog.questions(policy, 2, Purpose.RECORD)
                 if f.id == "agreed_actions")
    assert field.required
    card = click(app, case, case.raised_by, {"summary": "Talked it through."}, verb="record")
    assert rows_of(card.card).error == texts.ACTIONS_NEED_ONE
    assert current(app, case).version == case.version
    # the chat: the '-' that skips elsewhere is refused with the same words
    session = record_dialog.start(case, Purpose.RECORD, case.raised_by)
    today = app.clock.now().date()
    people = app.engine.people("northbay")
    session = record_dialog.answer(policy, session, "Talked it through.", today, people).session
    refused = record_dialog.answer(policy, session, "-", today, people)
    assert refused.error == texts.ACTIONS_NEED_ONE
    assert texts.ACTION_ASK_WHAT_SKIP not in record_dialog.prompt(policy, refused.session).text
    # at stage 1 the pack does not ask for one: both skip
    stage_one = raise_case(app, "northbay")
    skipped = click(app, stage_one, stage_one.raised_by, {"summary": "Talked."}, verb="record")
    assert "record for case" in skipped.message and "saved" in skipped.message, skipped.message
    assert current(app, stage_one).record[-1].agreed_actions == []


def test_who_must_be_on_the_case_in_the_chat_as_on_the_card(app: App) -> None:
    case = raise_case(app, "northbay")
    policy = policy_of(app, "northbay")
    today = app.clock.now().date()
    people = app.engine.people("northbay")
    session = record_dialog.start(case, Purpose.RECORD, case.raised_by)
    for text in ("Talked.", "Call the GP; then visit"):
        session = record_dialog.answer(policy, session, text, today, people).session
    asked = record_dialog.prompt(policy, session)
    assert asked.choices == ((DANA_EMAIL, "Dana Marsh"), (HANA_EMAIL, "Hana Moss"))
    refused = record_dialog.answer(policy, session, "the school", today, people)
    on_card = click(app, case, case.raised_by,
                    {"summary": "x", **row(1, "Visit", "the school", "2027-02-04")})
    assert refused.error == agreed_actions.check_who("the school", asked.choices)[1]
    assert rows_of(on_card.card).rows[0].inputs[1].error.endswith(refused.error)
    for text in ("2", "04/02/2027", "no"):  # Hana by her number in the list
        reply = record_dialog.answer(policy, session, text, today, people)
        assert reply.error == "", text
        session = reply.session
    while session.state is DialogState.ASKING:
        session = record_dialog.answer(policy, session, "-", today, people).session
    handle(app, record_dialog.to_command(policy, session))
    (action,) = current(app, case).record[-1].agreed_actions
    # a ';' in what was done stays in it (it once split the action and refused its date)
    assert (action.description, action.owner) == ("Call the GP; then visit", HANA_EMAIL)


@pytest.mark.parametrize(("typed", "owner"), [
    ("hana", HANA_EMAIL), ("Moss", HANA_EMAIL), ("DANA", DANA_EMAIL), ("2.", HANA_EMAIL),
])
def test_who_takes_a_first_name_a_surname_or_the_menu_number_as_shown(
    app: App, typed: str, owner: str
) -> None:
    """On a phone people answer "Who will do it?" with "Hana", or copy "2." from the menu;
    on main both were 'not someone on this case' although the case had one Hana."""
    owners = [(DANA_EMAIL, "Dana Marsh"), (HANA_EMAIL, "Hana Moss")]
    assert agreed_actions.check_who(typed, owners) == (owner, "")


def test_who_by_a_first_name_two_people_share_is_asked_again() -> None:
    owners = [(DANA_EMAIL, "Dana Marsh"), (HANA_EMAIL, "Dana Moss")]
    found, problem = agreed_actions.check_who("dana", owners)
    assert found == "" and "Dana Marsh, Dana Moss" in problem


def test_a_complete_card_records_every_row_as_an_action(app: App) -> None:
    case = raise_case(app, "northbay")
    values = {"summary": "We agreed a plan.",
              **row(1, "Share the chronology; the health visitor's notes", HANA_EMAIL,
                    "2027-02-04"),
              **row(2, "", "", ""),  # a row added and left empty is no action
              **row(3, "Joint visit", DANA_EMAIL, "05/02/2027")}
    done = click(app, case, case.raised_by, values)
    assert "resolved at stage 1" in done.message, done.message
    closed = current(app, case)
    states = action_states(closed)
    entry = closed.record[-1].id
    assert [(s.id, s.action.description, s.action.owner, s.due.isoformat()) for s in states] == [
        (f"{entry}.1", "Share the chronology; the health visitor's notes", HANA_EMAIL,
         "2027-02-04"),
        (f"{entry}.2", "Joint visit", DANA_EMAIL, "2027-02-05"),
    ]


async def test_rows_through_the_teams_endpoint(tmp_path: Path) -> None:
    async with open_harness(tmp_path) as h:
        await resolve_with_rows(h)


async def resolve_with_rows(h: Harness) -> None:
    await h.say(DANA, "escalate")
    card = await h.click(DANA, "intake", intake_values(h.app))
    assert "raised" in card_text(card)
    case = h.case()
    control = {"case_id": case.id, "version": str(case.version)}
    form = await h.click(DANA, "resolve", control)
    ids = [str(e.get("id")) for e in walk(form) if e.get("id")]
    rows = [i for i in ids if i.startswith("agreed_actions.")]
    assert rows == ["agreed_actions.1.what", "agreed_actions.1.who", "agreed_actions.1.due"]
    add = next(a for a in walk(form) if a.get("title") == "Add another action")
    typed = {"summary": "Agreed a joint plan.", **row(1, "Share the chronology", CAL[0],
                                                      "2027-02-04")}
    # Cal is not on the case at stage 1: the choice is Dana or Hana
    assert CAL[0] not in card_text(form)
    typed["agreed_actions.1.who"] = HANA_EMAIL
    # Teams sends the button's data with the card's inputs merged in
    two = await h.click(DANA, add["verb"], {**add["data"], **typed})
    assert [e["value"] for e in walk(two) if e.get("id") == "summary"] == ["Agreed a joint plan."]
    assert "agreed_actions.2.what" in [e.get("id") for e in walk(two)]
    assert h.case().version == case.version
    send = next(a for a in two["actions"] if a["title"] == "Send")
    bad = {**typed, **row(2, "Joint visit", DANA[0], "ASAP")}
    back = await h.click(DANA, send["verb"], {**send["data"], **bad})
    assert any(str(e.get("text", "")).startswith("Action 2 — by when: 'ASAP' is not a date")
               for e in walk(back))
    good = {**typed, **row(2, "Joint visit", DANA[0], "2027-02-05")}
    done = await h.click(DANA, send["verb"], {**send["data"], **good})
    assert "resolved at stage 1" in card_text(done), card_text(done)[:500]
    actions = h.app.store.get_case(case.id).record[-1].agreed_actions  # type: ignore[union-attr]
    assert [(a.description, a.owner) for a in actions] == [
        ("Share the chronology", HANA_EMAIL), ("Joint visit", DANA[0])]


def walk(element: object) -> list[dict[str, object]]:
    """Every object in an Adaptive Card, depth first."""
    found: list[dict[str, object]] = []
    if isinstance(element, dict):
        found.append(element)
        for value in element.values():
            found.extend(walk(value))
    elif isinstance(element, list):
        for item in element:
            found.extend(walk(item))
    return found
