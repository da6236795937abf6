"""The durable due times an open case has, derived from its state after every change.

Deriving instead of scheduling imperatively means a case's deadlines can never drift from its
state: the store replaces them in the same write as the case. A closed case keeps only the
follow-ups of the actions it agreed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from dialogs.actions import action_deadlines
from dialogs.case import Case
from dialogs.ports import Deadline
from policy.calendar import WorkingCalendar
from policy.model import Allowance, AllowanceUnit, Policy


def reminder_key(stage: int, at: datetime) -> str:
    return f"{stage}:{at.astimezone(UTC).isoformat()}"


def _deadline(case: Case, kind: str, due: datetime, step_id: str | None = None) -> Deadline:
    key = f"{case.id}:{kind}:{case.stage}:{step_id or '-'}:{due.astimezone(UTC).isoformat()}"
    return Deadline(
        key=key, case_id=case.id, kind=kind, stage=case.stage, step_id=step_id, due_at=due
    )


def wants_due_today_reminder(allowance: Allowance, calendar: WorkingCalendar) -> bool:
    """The "due today" reminder at start of business on the due day is for allowances of at
    least a working day: for "within 2 working hours" it would come minutes before the deadline,
    or before the stage even began its count, and only add noise to the prompt that already
    named the due time. Hour allowances shorter than one business day (working hours) or one day
    (elapsed hours) therefore get none; their lapse is still alerted."""
    if allowance.unit is AllowanceUnit.WORKING_HOURS:
        return allowance.amount >= calendar.business_day_hours()
    if allowance.unit is AllowanceUnit.ELAPSED_HOURS:
        return allowance.amount >= 24
    return True


def deadlines_for(case: Case, policy: Policy, calendar: WorkingCalendar) -> list[Deadline]:
    """The stage's and its steps' due times while the case is open, and the agreed actions'
    follow-ups, which outlive the case's closing (see ``dialogs.actions``)."""
    follow_ups = action_deadlines(case, calendar)
    if not case.is_open:
        return follow_ups
    found: list[Deadline] = []
    final = case.stage == policy.final_stage.number
    if case.overdue_since is None:
        found.append(_deadline(case, "stage", case.stage_due_at))
        reminder_at = calendar.start_of_due_day(case.stage_due_at)
        key = reminder_key(case.stage, reminder_at)
        if (
            case.stage_started_at < reminder_at < case.stage_due_at
            and key not in case.reminded
            and wants_due_today_reminder(policy.stage(case.stage).time_allowed, calendar)
        ):
            found.append(_deadline(case, "reminder", reminder_at))
    elif final and case.last_overdue_alert is not None:
        # the partnership's decision is overdue: tell the business team again each working day
        last = calendar.local(case.last_overdue_alert).date()
        again = calendar.at(calendar.next_working_day(last), calendar.start_of_business)
        found.append(_deadline(case, "overdue", again))
    for step in case.steps:
        if not step.done and not step.lapsed and not step.skipped:
            found.append(_deadline(case, "step", step.due_at, step.id))
    return found + follow_ups
