"""The report's numbers, counted from stored cases and their histories and nothing else.

Which cases: those raised on a day from ``start`` to ``end`` (inclusive, in the partnership's
time zone), as they stand at ``now``; with an agency, only those it raised or received. Every
count below is of those cases over their whole life so far, so a report run twice over the same
period on the same store says the same thing, and a case is counted once, in the period it was
raised.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from dialogs.actions import action_states
from dialogs.case import ActionUpdate, Case, CaseStatus, StageSpan
from dialogs.events import Event, EventType
from dialogs.reports.scrub import REFLECTION_FIELDS, scrub, sensitive_values
from policy.calendar import WorkingCalendar
from policy.model import FieldKind, Policy

OTHER_REASON = "_not_listed"  # a reason the pack's list does not hold (an older pack version)
LAPSED = "deadline lapsed"  # how the engine ends a stage whose deadline passed (Turn.enter_stage)


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    def holds(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class FinalStageCase:
    """One line of the annual-report list: a reference, dates and agencies, no child detail."""

    reference: str
    raised_on: date
    reached_on: date
    raising_agency: str
    receiving_agency: str
    outcome: str  # open, resolved, final_decision, withdrawn


@dataclass
class Figures:
    partnership_id: str
    policy_id: str
    period: Period
    now: datetime
    agency: str | None
    cases: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  # CaseStatus values
    raised_by_agency: Counter[str] = field(default_factory=Counter)
    received_by_agency: Counter[str] = field(default_factory=Counter)
    by_reason: Counter[str] = field(default_factory=Counter)
    reasons_by_month: dict[str, Counter[str]] = field(default_factory=dict)  # "2027-02"
    stage_reached: Counter[int] = field(default_factory=Counter)  # highest stage each reached
    resolved_at_stage: Counter[int] = field(default_factory=Counter)  # resolved or decided
    days_to_resolve: list[int] = field(default_factory=list)  # sorted
    deadlines_met: Counter[int] = field(default_factory=Counter)  # by stage
    deadlines_missed: Counter[int] = field(default_factory=Counter)
    missed_by_agency: Counter[str] = field(default_factory=Counter)  # each party agency
    escalated_by_person: int = 0
    escalated_by_lapse: int = 0
    actions: Counter[str] = field(default_factory=Counter)  # ACTION_STATES
    reflections: dict[str, list[str]] = field(default_factory=dict)  # field id -> answers
    final_stage: list[FinalStageCase] | None = None  # only where the pack keeps the list

    @property
    def median_days(self) -> float | None:
        return statistics.median(self.days_to_resolve) if self.days_to_resolve else None

    @property
    def p90_days(self) -> int | None:
        """Nearest rank: the smallest value at least 90% of the cases took no longer than."""
        values = self.days_to_resolve
        if not values:
            return None
        return values[math.ceil(0.9 * len(values)) - 1]


ON_TIME, LATE, OVERDUE, NOT_DUE = "done_on_time", "done_late", "open_overdue", "open_not_due"
ACTION_STATES = (ON_TIME, LATE, OVERDUE, NOT_DUE)


def in_period(
    cases: Iterable[Case], period: Period, calendar: WorkingCalendar, agency: str | None = None
) -> list[Case]:
    return [
        c
        for c in cases
        if period.holds(calendar.local(c.raised_at).date())
        and (agency is None or agency in (c.raising_agency, c.receiving_agency))
    ]


def reason_ids(policy: Policy) -> list[str]:
    """The pack's reason choices, in its order: St Helens' categories, NSSCP's issues."""
    field_ = next((f for f in policy.intake if f.id == "reason"), None)
    if field_ is None or field_.kind not in {FieldKind.CHOICE, FieldKind.MULTI_CHOICE}:
        return []
    return [c.id for c in field_.choices]


def keeps_final_stage_list(policy: Policy) -> bool:
    """The final stage carries a data-collection duty (Jersey SPB 2014: "retain a record of
    any unresolved concerns which reach Stage 6")."""
    return bool(policy.final_stage.data_collection)


def count(
    cases: Iterable[Case],
    histories: Mapping[str, list[Event]],
    policy: Policy,
    calendar: WorkingCalendar,
    *,
    partnership_id: str,
    period: Period,
    now: datetime,
    agency: str | None = None,
) -> Figures:
    chosen = in_period(cases, period, calendar, agency)
    figures = Figures(partnership_id, policy.id, period, now, agency, cases=len(chosen))
    reasons = set(reason_ids(policy))
    final = policy.final_stage.number
    if keeps_final_stage_list(policy):
        figures.final_stage = []
    for case in chosen:
        figures.outcomes[case.status.value] += 1
        figures.raised_by_agency[case.raising_agency] += 1
        figures.received_by_agency[case.receiving_agency] += 1
        reason = case.reason if case.reason in reasons else OTHER_REASON
        figures.by_reason[reason] += 1
        month = calendar.local(case.raised_at).strftime("%Y-%m")
        figures.reasons_by_month.setdefault(month, Counter())[reason] += 1
        reached = max([s.number for s in case.stages_run] + [case.stage])
        figures.stage_reached[reached] += 1
        if case.resolution is not None and case.status in {
            CaseStatus.RESOLVED, CaseStatus.FINAL_DECISION
        }:
            figures.resolved_at_stage[case.resolution.stage] += 1
            figures.days_to_resolve.append(case.resolution.working_days_taken)
        for span in case.stages_run:
            verdict = _deadline_verdict(span, now)
            if verdict == "met":
                figures.deadlines_met[span.number] += 1
            elif verdict == "missed":
                figures.deadlines_missed[span.number] += 1
                for party in {case.raising_agency, case.receiving_agency}:
                    figures.missed_by_agency[party] += 1
        for event in histories.get(case.id, []):
            if event.type is EventType.DEADLINE_LAPSED:
                figures.escalated_by_lapse += 1
            elif event.type is EventType.ESCALATED and "from_stage" in event.data:
                figures.escalated_by_person += 1  # not a move between steps of one stage
        for state in action_states(case):
            figures.actions[_action_verdict(state.action.due, state.updates, now, calendar)] += 1
        _reflections(figures, case, policy)
        if figures.final_stage is not None and reached >= final:
            final_span = case.span(final)
            reached_at = final_span.started_at if final_span else case.raised_at
            figures.final_stage.append(
                FinalStageCase(
                    reference=case.reference,
                    raised_on=calendar.local(case.raised_at).date(),
                    reached_on=calendar.local(reached_at).date(),
                    raising_agency=case.raising_agency,
                    receiving_agency=case.receiving_agency,
                    outcome=case.status.value,
                )
            )
    figures.days_to_resolve.sort()
    return figures


def _deadline_verdict(span: StageSpan, now: datetime) -> str:
    """A stage's deadline was met if the stage ended (escalated, resolved, decided, withdrawn)
    by its due time; missed if it lapsed, ended after it, or is still running past it; else it
    is still running in time and counts as neither."""
    if span.ended_at is None:
        return "missed" if now > span.due_at else "running"
    if span.ended_by == LAPSED or span.ended_at > span.due_at:
        return "missed"
    return "met"


def _action_verdict(
    agreed: date, updates: Iterable[ActionUpdate], now: datetime, calendar: WorkingCalendar
) -> str:
    """Against the date first agreed: a new date an owner gave later does not make it on time."""
    done = [u for u in updates if u.done]
    if done:
        return ON_TIME if calendar.local(done[0].at).date() <= agreed else LATE
    return OVERDUE if calendar.local(now).date() > agreed else NOT_DUE


def _reflections(figures: Figures, case: Case, policy: Policy) -> None:
    if case.resolution is None:
        return
    values: list[str] | None = None
    for field_id in REFLECTION_FIELDS:
        answer = case.resolution.outcome_answers.get(field_id, "").strip()
        if not answer:
            continue
        if values is None:
            values = sensitive_values(case, policy)
        figures.reflections.setdefault(field_id, []).append(scrub(answer, values))
