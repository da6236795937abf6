"""A few hundred cases across the four seed procedures, driven through the real engine on a
SimulatedClock, with a ledger of what the test itself did and saw: the report tests compare the
report's figures with counts taken from this ledger, never from the report code.

Every working morning at 10:00 the clock moves on, due deadlines fire (a stage nobody moved
lapses to the next), and each open case follows its plan: a person escalates at the stages
the plan says, waits for the deadline at the others, and at its target stage the raiser
resolves it (sometimes with an agreed action, answered on time, late or never), or withdraws
it. Cases raised in the last three days are left open, and the run stops the morning after the
last raise, so some cases are still on their way (none of them at a final stage, whose lapse
only the bot could time). The ledger records what the test did
(raised, escalated, resolved, answered) and what it saw happen by itself (a stage number that
moved without it: a lapse).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import holidays
from support import (
    CHILD_NAME,
    JERSEY,
    LONDON,
    PARTNERSHIPS,
    app_for,
    escalate,
    policy_of,
    practitioners,
    raise_command,
    withdraw,
)

from bot.bootstrap import App
from bot.demo import outcome_answers
from dialogs.clock import SimulatedClock
from dialogs.commands import ActionInput, RecordInput, Resolve, UpdateAction
from scheduler.runner import fire_due_deadlines

FIRST_DAY = date(2027, 2, 1)  # a Monday
WORKING_DAYS = 130  # x 4 partnerships = 520 cases
OPEN_AT_END = 3  # working days at the end whose cases are left open
ZONES = {"northbay": LONDON, "havenport": LONDON, "carrow": JERSEY, "carrow-board": JERSEY}
REGIONS = {"northbay": ("GB", "ENG"), "havenport": ("GB", "ENG"), "carrow": ("JE", None),
           "carrow-board": ("JE", None)}
WORRIED = f"We worried {CHILD_NAME} would wait; Jamie's school place mattered"
ACTION_DUE_DAYS = 10
SEED = 20270201


@dataclass
class Planned:
    partnership: str
    case_id: str
    reference: str
    raised_on: date
    raising_agency: str
    receiving_agency: str
    reason: str
    target: int
    mode: str  # resolve, withdraw, open
    by_person: set[int]
    action: str = "none"  # none, on_time, late, never
    seen: int = 1
    person: int = 0
    step_moves: int = 0
    lapses: int = 0
    missed: dict[int, int] = field(default_factory=dict)
    met: dict[int, int] = field(default_factory=dict)
    reached: int = 1
    closed_on: date | None = None
    closed_stage: int | None = None
    status: str = "open"
    action_id: str = ""
    action_due: date | None = None
    action_done_on: date | None = None
    reflections: dict[str, str] = field(default_factory=dict)


@dataclass
class Generated:
    app: App
    clock: SimulatedClock
    cases: list[Planned]
    now: datetime
    last_day: date


def working_days_between(partnership: str, start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end``: counted here with the
    holidays package directly, not with the bot's calendar."""
    country, subdivision = REGIONS[partnership]
    off = holidays.country_holidays(country, subdiv=subdivision, years=range(2026, 2029))
    days, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in off:
            days += 1
    return days


def _weekdays(first: date, count: int) -> list[date]:
    days, day = [], first
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def generate(tmp_path: Path) -> Generated:
    app, clock = app_for(tmp_path, start=datetime.combine(FIRST_DAY, time(8), tzinfo=LONDON))
    rng = random.Random(SEED)
    days = _weekdays(FIRST_DAY, WORKING_DAYS + 1)  # one morning more, to see the last lapses
    raising_days = days[:WORKING_DAYS]
    open_from = raising_days[-OPEN_AT_END]
    ledger: list[Planned] = []
    for day in days:
        moment = datetime.combine(day, time(10), tzinfo=LONDON)
        clock.set(moment)
        fire_due_deadlines(app.store, app.engine, clock, "report-test")
        for planned in ledger:
            if planned.status == "open":
                _follow(app, planned, day)
            elif planned.action in {"on_time", "late"} and planned.action_done_on is None:
                _answer(app, planned, day)
        if day in raising_days:
            for partnership in PARTNERSHIPS:
                ledger.append(_raise(app, rng, partnership, day, open_from))
    return Generated(app, clock, ledger, clock.now(), raising_days[-1])


def _raise(app: App, rng: random.Random, partnership: str, day: date, open_from: date) -> Planned:
    policy = policy_of(app, partnership)
    first, second = practitioners(app, partnership)
    raiser, counterpart = (first, second) if rng.random() < 0.6 else (second, first)
    reasons = next(f for f in policy.intake if f.id == "reason").choices
    reason = rng.choice(reasons[: max(2, len(reasons) - 1)] if rng.random() < 0.8 else reasons).id
    final = policy.final_stage.number
    target = rng.choice([1, 1, 1, 2, 2, 3, *range(4, final + 1)])
    by_person = {s for s in range(1, target) if rng.random() < 0.5}
    mode = "open" if day >= open_from else ("withdraw" if rng.random() < 0.08 else "resolve")
    if mode == "open":
        target, by_person = final, set()
    action = rng.choice(["none", "none", "on_time", "late", "never"]) if mode == "resolve" else (
        "none")
    command = raise_command(app, partnership, raiser=raiser, counterpart=counterpart,
                            reason=reason)
    outcome = app.engine.handle(command)
    case = outcome.case
    assert case is not None
    return Planned(
        partnership=partnership, case_id=case.id, reference=case.reference, raised_on=day,
        raising_agency=raiser.agency, receiving_agency=counterpart.agency, reason=reason,
        target=target, mode=mode, by_person=by_person, action=action,
    )


def _follow(app: App, planned: Planned, day: date) -> None:
    case = app.store.get_case(planned.case_id)
    assert case is not None
    if case.stage > planned.seen:  # moved without the test: each stage between lapsed
        for stage in range(planned.seen, case.stage):
            planned.lapses += 1
            planned.missed[stage] = planned.missed.get(stage, 0) + 1
        planned.seen = case.stage
    planned.reached = max(planned.reached, case.stage)
    if planned.mode == "open":
        return
    stage = case.stage
    if stage == planned.target:
        if planned.mode == "withdraw":
            withdraw(app, case)
            planned.status = "withdrawn"
        else:
            _resolve(app, planned, day)
        planned.met[stage] = planned.met.get(stage, 0) + 1
        planned.closed_on, planned.closed_stage = day, stage
    elif stage in planned.by_person:
        after = escalate(app, case)
        if after.stage == stage:  # SP Jersey's stage 1: on to its managers' step, same stage
            planned.step_moves += 1
            return
        planned.person += 1
        planned.met[stage] = planned.met.get(stage, 0) + 1
        planned.seen = planned.reached = after.stage


def _resolve(app: App, planned: Planned, day: date) -> None:
    case = app.store.get_case(planned.case_id)
    assert case is not None
    policy = app.engine.policy_for(case)
    answers = outcome_answers(policy)
    for field_id in ("what_worked_well", "policy_helpfulness"):
        if field_id in answers:
            answers[field_id] = f"Meeting early helped ({planned.reference})."
    if "what_worried_you" in answers:
        answers["what_worried_you"] = WORRIED
    planned.reflections = {k: answers[k] for k in (
        "what_worked_well", "what_worried_you", "what_needs_to_change", "policy_helpfulness"
    ) if k in answers}
    actions = []
    if planned.action != "none":
        planned.action_due = day + timedelta(days=ACTION_DUE_DAYS)
        actions = [ActionInput(description="Share the plan", owner=case.raised_by,
                               due=planned.action_due.strftime("%d/%m/%Y"))]
    outcome = app.engine.handle(
        Resolve(actor=case.raised_by, case_id=case.id, expected_version=case.version,
                record=RecordInput(summary="Agreed a way forward.", agreed_actions=actions),
                outcome_answers=answers)
    )
    assert outcome.case is not None
    planned.status = "resolved"
    if actions:
        entry = next(e for e in reversed(outcome.case.record) if e.agreed_actions)
        planned.action_id = f"{entry.id}.1"


def _answer(app: App, planned: Planned, day: date) -> None:
    assert planned.action_due is not None and planned.closed_on is not None
    when = planned.closed_on + timedelta(days=5 if planned.action == "on_time" else 14)
    if day < when:
        return
    case = app.store.get_case(planned.case_id)
    assert case is not None
    app.engine.handle(
        UpdateAction(actor=case.raised_by, case_id=case.id, expected_version=case.version,
                     action_id=planned.action_id, done=True)
    )
    planned.action_done_on = day
