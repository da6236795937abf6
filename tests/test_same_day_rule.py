"""A step is never due the moment it starts (issue 9).

NSSCP's stage 4 is entered by lapse at 17:00 (every lapse is at end of business). Its "refer to the
Safeguarding Partnership" step has an allowance of 0, "on Day 5". Before the fix a same-day
allowance starting at exactly end of business was due then, at 17:00 that day: the step was
overdue at birth and "is overdue" went out at once. The rule now (README, "Working days"): a
same-day allowance is due at end of business on its start date only if that is a working day and
it starts *before* end of business; from end of business on, it is due at end of business on the
next working day. The calendar, the engine and `timeline` share the one function.
"""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support import (
    app_for,
    current,
    escalate,
    escalate_to,
    fire,
    local,
    pending,
    policy_of,
    raise_case,
)

from policy.calendar import WorkingCalendar
from policy.timeline import stage_window, what_if_timeline

LONDON = ZoneInfo("Europe/London")
ENGLAND = WorkingCalendar(country="GB", subdivision="ENG", time_zone="Europe/London")
NB = "northbay"
BEA = "bea.lane@council.northbay.example"  # senior manager


def _at(y: int, m: int, d: int, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=LONDON)


# March 2027 in England: Thu 25, Good Friday 26 (holiday), Sat 27, Sun 28, Easter Monday 29
# (holiday), Tue 30. February: Mon 1 .. Fri 5, Sat 6, Sun 7, Mon 8.
@pytest.mark.parametrize(
    ("start", "due_day"),
    [
        (_at(2027, 2, 3, 16, 59), date(2027, 2, 3)),  # a minute before close: that day
        (_at(2027, 2, 3, 16, 59, 59), date(2027, 2, 3)),
        (_at(2027, 2, 3, 17, 0), date(2027, 2, 4)),  # at close: the next working day
        (_at(2027, 2, 3, 17, 1), date(2027, 2, 4)),
        (_at(2027, 2, 3, 23, 30), date(2027, 2, 4)),
        (_at(2027, 2, 3, 7, 0), date(2027, 2, 3)),  # before opening: that day
        (_at(2027, 2, 5, 17, 0), date(2027, 2, 8)),  # Friday at close: Monday
        (_at(2027, 2, 6, 10, 0), date(2027, 2, 8)),  # Saturday: Monday
        (_at(2027, 2, 7, 16, 0), date(2027, 2, 8)),  # Sunday: Monday
        (_at(2027, 3, 25, 16, 59), date(2027, 3, 25)),  # before Easter, in the day
        (_at(2027, 3, 25, 17, 0), date(2027, 3, 30)),  # at close before Easter: Tuesday
        (_at(2027, 3, 26, 10, 0), date(2027, 3, 30)),  # on Good Friday
        (_at(2027, 3, 29, 16, 0), date(2027, 3, 30)),  # on Easter Monday
    ],
    ids=[
        "16:59", "16:59:59", "17:00", "17:01", "late-evening", "before-opening", "friday-17:00",
        "saturday", "sunday", "thursday-before-easter-16:59", "thursday-before-easter-17:00",
        "good-friday", "easter-monday",
    ],
)
def test_a_same_day_allowance_from_end_of_business_on_is_due_the_next_working_day(
    start: datetime, due_day: date
) -> None:
    due = ENGLAND.due(start, 0)
    assert due == datetime.combine(due_day, time(17, 0), tzinfo=LONDON)
    assert due > start  # never due the moment it starts, nor before


def test_a_later_end_of_business_moves_the_boundary_with_it() -> None:
    late = WorkingCalendar(
        country="GB", subdivision="ENG", time_zone="Europe/London", end_of_business=time(17, 30)
    )
    assert late.due(_at(2027, 2, 3, 17, 0), 0) == _at(2027, 2, 3, 17, 30)
    assert late.due(_at(2027, 2, 3, 17, 30), 0) == _at(2027, 2, 4, 17, 30)


def test_nsscp_stage_4_entered_by_lapse_at_17_is_not_overdue_at_birth(tmp_path: Path) -> None:
    """Stage 3 lapses Wednesday 3 Feb at 17:00; the referral is due Thursday 17:00, and nothing
    says it is overdue until then."""
    app, clock = app_for(tmp_path)
    case = escalate_to(app, raise_case(app, NB), 3)  # Mon 1 Feb 10:00: stage 3 due Wed 3 Feb
    assert case.stage_due_at == local(3, 17)
    clock.set(local(3, 17))
    fire(app)

    case = current(app, case)
    assert case.stage == 4
    refer = case.step("refer-to-partnership")
    assert refer is not None
    assert (refer.started_at, refer.due_at) == (local(3, 17), local(4, 17))
    assert not refer.lapsed
    assert [n for n in pending(app, case) if n.kind.startswith("step-lapsed")] == []
    # the timeline says the same
    policy = policy_of(app, NB)
    calendar = app.engine.calendar_for(app.config.partnership(NB), policy)
    window = stage_window(policy.stage(4), local(3, 17), calendar)
    assert (window.steps[0].id, window.steps[0].due) == ("refer-to-partnership", local(4, 17))
    stage_4 = what_if_timeline(policy, local(1, 10), calendar)[3]  # every stage run out
    assert (stage_4.starts, stage_4.steps[0].due) == (local(8, 17), local(9, 17))

    clock.set(local(4, 16, 59))
    assert fire(app).fired == 0
    clock.set(local(4, 17))
    fire(app)
    assert current(app, case).step("refer-to-partnership").lapsed  # type: ignore[union-attr]


def test_nsscp_stage_4_entered_by_a_person_at_17_is_due_the_next_working_day(
    tmp_path: Path,
) -> None:
    app, clock = app_for(tmp_path)
    case = escalate_to(app, raise_case(app, NB), 3)
    clock.set(local(5, 17))  # Friday, at close
    case = escalate(app, case, actor=BEA)
    refer = case.step("refer-to-partnership")
    assert refer is not None and refer.due_at == local(8, 17)  # Monday
