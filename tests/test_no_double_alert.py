"""One lapse, one alert (issue 9).

NSSCP's final stage (the Delegated Safeguarding Partners' decision) lapses on Thursday 4 Feb 2027
at 17:00, after hours. Its alert is held for Friday 09:00. Before the fix the daily re-alert was
counted from when that alert was *queued* (Thursday), so it fell due on Friday 09:00 too, and the
business team got "the partnership's decision at stage 4 is overdue" twice at the same moment.
The DSPs' 3-day response step falls due at that same instant, and its own "is overdue" alert
said the same lapse a third time. Both stores run it, since the outbox and deadlines live there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import (
    STORES,
    app_on_store,
    clock_of,
    deliveries,
    drain,
    escalate_to,
    fire,
    local,
    person_notes,
    raise_case,
    to_channel,
)

from bot.bootstrap import App

NB_TEAM = "console:northbay-business-team"
KIT = "kit.reed@partnership.northbay.example"  # a delegated safeguarding partner
OVERDUE = "Case NB-0001: the partnership's decision at stage 4 is overdue"


@pytest.fixture(params=STORES)
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[App]:
    with app_on_store(request.param, tmp_path, "double-alert") as built:
        yield built


def _team_titles(app: App) -> list[str]:
    return [n.card.title for n in to_channel(deliveries(app), NB_TEAM)]


def test_the_final_stage_lapse_is_alerted_once_then_once_each_working_day(app: App) -> None:
    clock = clock_of(app)
    case = escalate_to(app, raise_case(app, "northbay"), 4)  # Mon 1 Feb: due Thu 4 Feb 17:00
    assert case.stage_due_at == local(4, 17)
    clock.set(local(3, 9))
    fire(app)  # the same-day referral lapsed on Monday: its own, earlier, alert
    drain(app)

    clock.set(local(4, 17))
    fire(app)
    assert _team_titles(app) == []  # after hours: held for the morning

    clock.set(local(5, 9))
    fire(app)
    assert _team_titles(app) == [OVERDUE]
    # the owners of the response that lapsed with the stage are still told, in person
    clock.set(local(5, 9, 1))
    fire(app)
    assert _team_titles(app) == []

    clock.set(local(8, 9))  # Monday: the next working day after the alert went out
    fire(app)
    assert _team_titles(app) == [OVERDUE]
    clock.set(local(8, 16))
    assert fire(app).fired == 0
    clock.set(local(9, 9))
    fire(app)
    assert _team_titles(app) == [OVERDUE]


def test_the_lapsed_response_still_reaches_its_owners(app: App) -> None:
    """The business team hears the final stage's lapse once; the DSPs whose response step fell
    due at that moment are still chased in person."""
    clock = clock_of(app)
    escalate_to(app, raise_case(app, "northbay"), 4)
    clock.set(local(4, 17))
    fire(app)
    clock.set(local(5, 9))
    fire(app)
    chased = person_notes(deliveries(app), KIT)
    assert [n.kind for n in chased if n.kind.startswith("step-lapsed")] == [
        "step-lapsed-partnership-response"
    ]
