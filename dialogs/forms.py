"""Fill a partnership's form from the case, so nobody types the same facts twice."""

from __future__ import annotations

from datetime import datetime

from dialogs.case import Case, Side
from policy.calendar import WorkingCalendar
from policy.model import Computed, Form


def _first(case: Case, side: Side) -> tuple[str, str, str]:
    for person in case.participants:
        if person.side is side and person.stage == 1:
            return person.name, person.agency, person.email
    return "", "", ""


def computed_values(
    case: Case, calendar: WorkingCalendar, now: datetime, agency_names: dict[str, str]
) -> dict[Computed, str]:
    raiser = _first(case, Side.RAISING)
    counterpart = _first(case, Side.RECEIVING)
    record = case.stage_records.get(case.stage)
    resolution = case.resolution
    participants = "; ".join(
        f"{p.name}, {p.role.replace('_', ' ')}, {agency_names.get(p.agency, p.agency)}, "
        f"stage {p.stage}"
        for p in case.participants
    )
    return {
        Computed.TODAY: calendar.local(now).strftime("%d/%m/%Y"),
        Computed.CASE_REFERENCE: case.reference,
        Computed.RAISER_NAME: raiser[0],
        Computed.RAISER_AGENCY: agency_names.get(raiser[1], raiser[1]),
        Computed.RAISER_CONTACT: raiser[2],
        Computed.COUNTERPART_NAME: counterpart[0],
        Computed.COUNTERPART_AGENCY: agency_names.get(counterpart[1], counterpart[1]),
        Computed.COUNTERPART_CONTACT: counterpart[2],
        Computed.PARTICIPANTS: participants,
        Computed.CHILD_NAME: case.child.name,
        Computed.CHILD_DOB: case.child.date_of_birth.strftime("%d/%m/%Y")
        if case.child.date_of_birth
        else "",
        Computed.CHILD_IDENTIFIERS: case.child.identifiers,
        Computed.SUMMARY: record.summary if record and record.summary else case.summary,
        Computed.OUTCOME_SOUGHT: case.outcome_sought,
        Computed.REASON: case.reason,
        Computed.STAGE_NUMBER: str(case.stage),
        Computed.STAGE_STARTED: calendar.local(case.stage_started_at).strftime("%d/%m/%Y"),
        Computed.RESOLVED_AT_STAGE: str(resolution.stage) if resolution else "",
        Computed.WORKING_DAYS_TAKEN: str(resolution.working_days_taken) if resolution else "",
    }


def form_values(
    form: Form,
    case: Case,
    calendar: WorkingCalendar,
    now: datetime,
    agency_names: dict[str, str],
) -> dict[str, str]:
    """Each field of ``form`` keyed section.field: computed, intake, records, outcome."""
    computed = computed_values(case, calendar, now, agency_names)
    answers: dict[str, str] = dict(case.answers)
    if case.resolution:
        answers.update(case.resolution.outcome_answers)
    values: dict[str, str] = {}
    for section in form.sections:
        record = case.stage_records.get(section.stage) if section.stage else None
        for field in section.fields:
            key = f"{section.id}.{field.id}"
            if field.computed is not None:
                values[key] = computed[field.computed]
            elif record is not None and field.id == "summary":
                values[key] = record.summary
            elif record is not None and field.id == "unresolved":
                values[key] = record.unresolved
            elif record is not None and field.id == "agreed_actions":
                values[key] = "; ".join(
                    f"{a.description} ({a.owner}, by {a.due.strftime('%d/%m/%Y')})"
                    for a in record.agreed_actions
                )
            elif record is not None and field.id in record.answers:
                values[key] = record.answers[field.id]
            else:
                values[key] = answers.get(field.id, "")
    return values
