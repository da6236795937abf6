"""Issue 10's points once more, through the Teams endpoint: the real botbuilder adapter and our
route over HTTP, with the fake Bot Connector capturing what a person in Teams would see.

The conversation service's own tests (test_check_first, test_plain_words, test_intake, ...) hold
each rule; these check that nothing between the service and a person's screen undoes it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support import current, escalate_to
from teams_harness import CAL, DANA, HANA, Harness, card_text, intake_values, open_harness

from dialogs import texts

LONDON = ZoneInfo("Europe/London")
DANA_CHAT = f"a:chat-with-{DANA[1]}"
HANA_CHAT = f"a:chat-with-{HANA[1]}"
# what a person must never read: a field, step or Python name with its colon or underscore
INTERNAL = re.compile(r"\b(counterpart|to_email|agreed_actions|child_dob|immediate_risk)\b:")


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with open_harness(tmp_path) as h:
        yield h


async def test_buttons_offered_in_teams_are_the_readers_own(harness: Harness) -> None:
    """Point 1: the raiser's card has no Acknowledge, the counterpart's has; a practitioner's
    Decide at the final stage is refused before any question."""
    h, connector = harness, harness.connector
    await h.click(DANA, "intake", intake_values(h.app))
    await h.tick()
    raiser_card = connector.cards_to(DANA_CHAT)[-1]
    assert "acknowledge" not in {a["verb"] for a in raiser_card.get("actions", [])}
    counterpart_card = connector.cards_to(HANA_CHAT)[-1]
    assert "acknowledge" in {a["verb"] for a in counterpart_card["actions"]}

    policy = h.app.policies.get("nsscp")
    case = escalate_to(h.app, h.case(), policy.final_stage.number)
    offered = await h.click(DANA, "refresh", {"case_id": case.id})
    assert "decide" not in {a["verb"] for a in offered.get("actions", [])}
    case = current(h.app, case)  # a delivery failure recorded since bumps the version
    refused = await h.click(DANA, "decide", {"case_id": case.id, "version": str(case.version)})
    assert not [e for e in refused["body"] if e.get("type", "").startswith("Input.")]
    assert "Only " in card_text(refused)


async def test_a_same_agency_counterpart_is_refused_when_typed_in_plain_words(
    harness: Harness,
) -> None:
    """Points 1, 2 and 3: typed in Teams, "2" answers the Yes/No menu; a colleague from the
    raiser's own agency is refused at that question, in words, not after Send."""
    h, connector = harness, harness.connector
    await h.say(DANA, "escalate")
    assert await h.say(DANA, "2") == 201  # "1. Yes 2. No": 2 is No
    asked = connector.texts_to(DANA_CHAT)[-1]
    assert "Answer yes or no" not in asked
    await h.say(DANA, CAL[0])
    said = connector.texts_to(DANA_CHAT)
    assert texts.SAME_AGENCY.format(email=CAL[0]) in said[-2]
    assert not INTERNAL.search(said[-2])
    assert h.app.store.open_cases() == []


async def test_card_errors_name_fields_as_people_read_them(harness: Harness) -> None:
    """Point 2: the intake card's errors, as Teams shows them, carry no field id."""
    h = harness
    bad = {**intake_values(h.app), "counterpart": CAL[0], "child_dob": "31/02/2027"}
    card = await h.click(DANA, "intake", bad)
    shown = card_text(card)
    assert texts.SAME_AGENCY.format(email=CAL[0]) in shown
    assert "February 2027 has 28 days" in shown  # point 12
    assert not INTERNAL.search(shown)
    assert h.app.store.open_cases() == []


@pytest.mark.parametrize(
    ("hour", "minute", "said", "hana_now"),
    [
        (10, 0, "Hana Moss is being told now.", True),
        (8, 47, "Hana Moss will be told at 09:00 on Tue 2 Feb (outside working hours now).",
         False),
    ],
)
async def test_the_raiser_in_teams_is_told_the_truth_about_delivery(
    harness: Harness, hour: int, minute: int, said: str, hana_now: bool
) -> None:
    """Point 6: "has been told" is never said; before 09:00 the raiser hears when, and Hana's
    chat is only opened at 09:00."""
    h, connector = harness, harness.connector
    h.clock.set(datetime(2027, 2, 2, hour, minute, tzinfo=LONDON))  # a Tuesday
    card = await h.click(DANA, "intake", intake_values(h.app))
    assert said in card_text(card)
    assert "has been told" not in card_text(card)
    assert bool(connector.cards_to(HANA_CHAT)) is hana_now
    h.clock.set(datetime(2027, 2, 2, 10, 1, tzinfo=LONDON))
    await h.tick()
    assert connector.cards_to(HANA_CHAT)


async def test_the_typed_summary_in_teams_reads_as_people_write(harness: Harness) -> None:
    """Point 12: before Send, the summary shows the date as typed (UK) and Yes/No, never ISO
    or a field's id."""
    h, connector = harness, harness.connector
    await h.say(DANA, "escalate")
    answers = ["no", HANA[0], "Jamie Example", "12/04/2016", "-", "1", "About the assessment",
               "Jamie is missing school", "A joint assessment", "-", "-"]
    for answer in answers:
        await h.say(DANA, answer)
    summary = next(t for t in reversed(connector.texts_to(DANA_CHAT)) if "Send this?" in t)
    assert "12/04/2016" in summary and "2016-04-12" not in summary
    assert "?: yes" not in summary.lower() and not INTERNAL.search(summary)
