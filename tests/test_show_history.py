"""`show REF`, `history REF` and the status card's buttons, through the platform-neutral
conversation service (so every chat platform gets them), in every bundled partnership.

Who may look is the engine's decision (``Engine.view``): someone outside a case is told exactly
what they would be told about a reference that does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import (
    CHILD_NAME,
    PARTNERSHIPS,
    app_for,
    current,
    escalate,
    handle,
    people_with,
    policy_of,
    practitioners,
    raise_case,
)

from bot.bootstrap import App
from dialogs import texts
from dialogs.cards import Card
from dialogs.case import Case
from dialogs.commands import Acknowledge, HandOver, RecordDeliveryFailure
from dialogs.conversation import REFRESH_VERB, STATUS_BUTTONS, ConversationService
from dialogs.directory import Person
from dialogs.history_view import HISTORY_LIMIT

EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


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


def business_team(app: App, partnership_id: str) -> Person:
    (manager, *_) = people_with(
        app, partnership_id, policy_of(app, partnership_id).business_team_role
    )
    return manager


def outsider(app: App, partnership_id: str) -> Person:
    """Someone in the directory of another partnership: no business with this one's cases."""
    other = next(p for p in sorted(PARTNERSHIPS) if p != partnership_id)
    return practitioners(app, other)[0]


def bystander(app: App, case: Case) -> Person:
    """Someone in the case's own partnership who is neither on it nor named to see it."""
    policy = app.engine.policy_for(case)
    return next(
        p
        for p in sorted(app.engine.people(case.partnership_id).values(), key=lambda p: p.email)
        if not app.engine.can_view(case, p.email) and p.role != policy.business_team_role
    )


def only_card(replies: list[object]) -> Card:
    (reply,) = replies
    card = getattr(reply, "card", None)
    assert isinstance(card, Card), reply
    return card


def directory_emails(app: App, case: Case) -> set[str]:
    emails = set(app.engine.people(case.partnership_id)) | {p.email for p in case.participants}
    assert emails  # a check against an empty set could never fail
    return emails


def missing_reference(case: Case) -> str:
    prefix = case.reference.split("-")[0]
    return f"{prefix}-9999"


# ---- show ---------------------------------------------------------------------------------------


def test_show_gives_a_party_their_case_card_with_its_buttons(app: App, partnership: str) -> None:
    case = raise_case(app, partnership)
    chat = service(app)
    for typed in (f"show {case.reference}", f"/SHOW {case.reference.lower()}"):
        card = only_card(chat.on_text(case.raised_by, typed))
        assert card == chat.case_card(current(app, case), case.raised_by)
        assert card.title == f"Case {case.reference}: open"
        assert card.case_id == case.id and card.case_version == case.version
        assert CHILD_NAME in card.all_text()
        assert {"resolve", "escalate"} <= {a.command for a in card.actions}
        assert "acknowledge" not in {a.command for a in card.actions}  # they raised it
        assert card.record  # the written record travels with the card
    other = next(p.email for p in case.participants if p.email != case.raised_by)
    theirs = only_card(chat.on_text(other, f"show {case.reference}"))
    assert {"resolve", "escalate", "acknowledge"} <= {a.command for a in theirs.actions}


def test_show_gives_the_business_team_the_card_with_what_it_may_do(
    app: App, partnership: str
) -> None:
    """Not a party, the business team still acts for the partnership (the engine's
    require_party and require_roles let it): its card offers exactly what the engine would
    take from it, and never Acknowledge, a party's receipt."""
    case = raise_case(app, partnership)
    manager = business_team(app, partnership)
    assert case.participant(manager.email) is None
    chat = service(app)
    card = only_card(chat.on_text(manager.email, f"show {case.reference}"))
    assert card.title == f"Case {case.reference}: open"
    assert CHILD_NAME in card.all_text()
    offered = {a.command for a in card.actions}
    assert "acknowledge" not in offered and offered
    for action in card.actions:
        if action.command in {"record", "resolve", "escalate", "withdraw"}:
            data = {"case_id": case.id, "version": str(case.version), **action.data}
            opened = chat.on_action(manager.email, action.command, data, {})
            assert opened.card.inputs, (action.command, opened.message)


@pytest.mark.parametrize("verb", ["show", "history"])
def test_an_outsider_hears_the_same_as_for_a_case_that_does_not_exist(
    app: App, partnership: str, verb: str
) -> None:
    case = raise_case(app, partnership)
    chat = service(app)
    for person in (outsider(app, partnership), bystander(app, case)):
        for reference in (case.reference, missing_reference(case)):
            (reply,) = chat.on_text(person.email, f"{verb} {reference}")
            assert reply.card is None
            assert reply.text == texts.CASE_NOT_FOUND.format(case=reference)
    # and the case's own parties are not refused: the refusal above is about who asks
    assert only_card(chat.on_text(case.raised_by, f"{verb} {case.reference}")).title


def test_show_leaves_a_half_finished_intake_where_it_was(app: App) -> None:
    case = raise_case(app, "northbay")
    chat = service(app)
    chat.on_text(case.raised_by, "escalate")
    before = app.store.session(case.raised_by, app.clock.now())
    assert before is not None
    only_card(chat.on_text(case.raised_by, f"show {case.reference}"))
    assert app.store.session(case.raised_by, app.clock.now()) == before


def test_only_a_reference_makes_show_a_command(app: App) -> None:
    case = raise_case(app, "northbay")
    (reply,) = service(app).on_text(case.raised_by, "show me the case")
    assert reply.card is None and reply.text.startswith(texts.NOT_CAUGHT)


# ---- history ------------------------------------------------------------------------------------


def test_history_names_people_and_never_shows_their_email(app: App, partnership: str) -> None:
    case = raise_case(app, partnership)
    counterpart = next(p for p in case.participants if p.email != case.raised_by)
    handle(app, Acknowledge(actor=counterpart.email, case_id=case.id))
    raiser = app.engine.people(partnership)[case.raised_by]
    colleague = next(
        p
        for p in sorted(app.engine.people(partnership).values(), key=lambda p: p.email)
        if p.agency == raiser.agency and current(app, case).participant(p.email) is None
    )
    handle(app, HandOver(actor=raiser.email, case_id=case.id, to_email=colleague.email,
                         reason="Leave"))
    handle(app, RecordDeliveryFailure(case_id=case.id, notification_key="k1",
                                      notification_kind="stage-prompt",
                                      recipient=counterpart.email, reason="Forbidden"))
    case = escalate(app, current(app, case), actor=colleague.email)
    stored = app.store.history(case.id)
    # the stored summaries do carry addresses: the card must be what takes them out
    assert any(EMAIL.search(e.summary) for e in stored)

    card = only_card(service(app).on_text(counterpart.email, f"history {case.reference}"))
    shown = card.all_text()
    for email in directory_emails(app, case):
        assert email not in shown.lower()
    assert not EMAIL.search(shown)
    assert card.title == f"History of case {case.reference}"
    (heading, lines) = card.sections[0]
    assert heading == texts.HISTORY_HEADING
    assert len(lines) == len(stored)  # every event, in order
    agency = app.engine.agency_names[raiser.agency]
    assert lines[0].startswith(case.raised_at.astimezone(
        app.engine.calendar_for(app.engine.partnership(partnership),
                                app.engine.policy_for(case)).zone
    ).strftime("%d/%m/%Y %H:%M"))
    assert f" — {raiser.name} ({agency}) — raised by {raiser.name} with {counterpart.name}" in (
        lines[0]
    )
    assert any(f"handed over to {colleague.name}" in line for line in lines)
    assert any(f"acknowledged by {counterpart.name}" in line for line in lines)
    (failure,) = [line for line in lines if "not delivered" in line]
    assert f" — {texts.HISTORY_THE_BOT} — " in failure and counterpart.name in failure
    assert CHILD_NAME not in shown
    # no case id on the card (Teams would redraw it as the case card); its button opens that
    assert card.case_id is None
    assert [(a.command, a.data) for a in card.actions] == [(REFRESH_VERB, {"case_id": case.id})]


def test_a_long_history_shows_the_latest_and_says_how_many_are_left_out(app: App) -> None:
    case = raise_case(app, "northbay")
    for n in range(1, 41):
        handle(app, RecordDeliveryFailure(case_id=case.id, notification_key=f"k{n}",
                                          notification_kind="stage-prompt",
                                          recipient="channel:x", reason=f"try {n}", final=False))
    total = len(app.store.history(case.id))
    assert total > HISTORY_LIMIT
    card = only_card(service(app).on_text(case.raised_by, f"history {case.reference}"))
    (_, lines) = card.sections[0]
    assert len(lines) == HISTORY_LIMIT
    assert lines[-1].endswith("try 40")
    assert lines[0].endswith(f"try {40 - HISTORY_LIMIT + 1}")
    assert card.text == texts.HISTORY_EARLIER.format(count=total - HISTORY_LIMIT,
                                                     shown=HISTORY_LIMIT)


# ---- status --------------------------------------------------------------------------------------


def test_status_has_a_button_that_brings_back_each_case_card(app: App, partnership: str) -> None:
    first = raise_case(app, partnership)
    second = raise_case(app, partnership)
    chat = service(app)
    card = only_card(chat.on_text(first.raised_by, "status"))
    assert card.title == texts.STATUS_TITLE
    assert [f.label for f in card.facts] == [first.reference, second.reference]
    assert [(a.command, a.label, a.data) for a in card.actions] == [
        (REFRESH_VERB, f"Open {c.reference}", {"case_id": c.id}) for c in (first, second)
    ]
    for case, button in zip((first, second), card.actions, strict=True):
        opened = chat.on_action(first.raised_by, button.command, button.data, {})
        assert opened.card == chat.case_card(current(app, case), first.raised_by)
        assert opened.card.title == f"Case {case.reference}: open"
        assert opened.card.actions  # the raiser's own card, buttons and all


def test_status_buttons_are_capped_at_the_latest_cases(app: App) -> None:
    cases = [raise_case(app, "northbay") for _ in range(STATUS_BUTTONS + 2)]
    card = only_card(service(app).on_text(cases[0].raised_by, "status"))
    assert len(card.facts) == len(cases)  # the list itself is whole
    assert [a.data["case_id"] for a in card.actions] == [c.id for c in cases[-STATUS_BUTTONS:]]
    assert card.text == texts.STATUS_MORE_CASES.format(shown=STATUS_BUTTONS,
                                                       example=cases[0].reference)


def test_status_lists_one_page_of_the_latest_cases_and_says_there_are_more(app: App) -> None:
    """A party to more cases than a page gets the latest STATUS_PAGE, newest last, and a line
    saying older ones exist; the store is asked for one page (and one more), never the lot:
    every read of a person's cases the turn makes is a LIMITed one (watched on the real SQLite
    connection, nothing of ours replaced)."""
    from dialogs.conversation import STATUS_PAGE

    cases = [raise_case(app, "northbay") for _ in range(STATUS_PAGE + 2)]
    statements: list[str] = []
    app.store._db.set_trace_callback(statements.append)  # type: ignore[attr-defined]
    try:
        card = only_card(service(app).on_text(cases[0].raised_by, "status"))
    finally:
        app.store._db.set_trace_callback(None)  # type: ignore[attr-defined]
    assert [f.label for f in card.facts] == [c.reference for c in cases[-STATUS_PAGE:]]
    assert texts.STATUS_OLDER_CASES.format(shown=STATUS_PAGE) in card.text
    parties = [s for s in statements if "case_parties" in s and s.lstrip().startswith("SELECT")]
    limits = [re.search(r"LIMIT (\d+)", s) for s in parties]
    # an unbounded read pages too, 500 at a time: a page here is STATUS_PAGE and one more
    assert parties and all(m is not None and int(m.group(1)) <= STATUS_PAGE + 1 for m in limits)


def test_a_status_button_still_refuses_someone_who_may_not_see_the_case(app: App) -> None:
    case = raise_case(app, "northbay")
    button = only_card(service(app).on_text(case.raised_by, "status")).actions[0]
    stranger = outsider(app, "northbay")
    result = service(app).on_action(stranger.email, button.command, button.data, {})
    assert result.message == texts.CASE_NOT_KNOWN
    assert case.reference not in result.card.all_text()


# ---- help ----------------------------------------------------------------------------------------


def test_help_and_the_fallback_name_show_and_history(app: App) -> None:
    chat = service(app)
    (help_reply,) = chat.on_text("dana.marsh@council.northbay.example", "help")
    (fallback,) = chat.on_text("dana.marsh@council.northbay.example", "what now")
    for reply in (help_reply, fallback):
        assert "**show REF**" in reply.text and "**history REF**" in reply.text
    assert fallback.text.startswith("I didn't catch that.")


@pytest.mark.parametrize("word", ["help", "/help", "status"])
def test_help_or_status_mid_conversation_keeps_every_answer_and_asks_again(
    app: App, word: str
) -> None:
    """'help' (and a look at `status`) while questions are being asked shows what was asked
    for and then the same question again: nothing typed so far is thrown away, and the next
    line still answers it (issue 10: `back`, `cancel`, `help` everywhere, never stuck)."""
    chat = service(app)
    dana = "dana.marsh@council.northbay.example"
    chat.on_text(dana, "escalate")
    chat.on_text(dana, "2")
    asked = chat.on_text(dana, "hana.moss@health.northbay.example")[-1].text
    assert asked.startswith("Child's name")
    replies = chat.on_text(dana, word)
    assert chat.asking(dana)
    if word != "status":
        assert "**show REF**" in replies[0].text
    assert replies[-1].text == asked  # the same question, asked again
    after = chat.on_text(dana, "Robin Example")[-1].text
    assert after.startswith("Child's date of birth")
