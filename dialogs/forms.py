"""Fill a partnership's form from the case, so nobody types the same facts twice.

A computed fact is about one stage: the field's ``of_stage``, else its section's stage, else the
stage the copy is produced for. So "Date Stage 2 started" is when stage 2 started, and a stage-3
notification form's "Your name" / "Raised with" are the stage-3 holders on each side, not the
practitioners who began the case.
"""

from __future__ import annotations

from datetime import datetime

from dialogs import texts
from dialogs.actions import owner_label
from dialogs.case import Case, Participant, Side
from policy.calendar import WorkingCalendar
from policy.model import Computed, FieldKind, Form, FormField, Policy


def holder_at(case: Case, side: Side, stage: int) -> Participant | None:
    """Who held ``stage`` for one side: whoever joined that side at that stage (the first, if
    several), else the latest to join that side before it."""
    joined = [p for p in case.participants if p.side is side and p.stage <= stage]
    at_stage = [p for p in joined if p.stage == stage]
    if at_stage:
        return at_stage[0]
    return max(joined, key=lambda p: p.stage) if joined else None


def _date(moment: datetime | None, calendar: WorkingCalendar) -> str:
    return calendar.local(moment).strftime("%d/%m/%Y") if moment else ""


def computed_value(
    fact: Computed,
    case: Case,
    stage: int,
    calendar: WorkingCalendar,
    now: datetime,
    agency_names: dict[str, str],
) -> str:
    return computed_values(case, stage, calendar, now, agency_names)[fact]


def computed_values(
    case: Case,
    stage: int,
    calendar: WorkingCalendar,
    now: datetime,
    agency_names: dict[str, str],
) -> dict[Computed, str]:
    """Every computed fact about ``stage`` of the case, worked out together: a form asks for
    ten or more of them, and they share the holders, the record and the dates."""
    def agency(person: Participant | None) -> str:
        return agency_names.get(person.agency, person.agency) if person else ""

    raiser = holder_at(case, Side.RAISING, stage)
    counterpart = holder_at(case, Side.RECEIVING, stage)
    record = case.record_for(stage)
    span = case.span(stage)
    resolution = case.resolution
    # the latest step outcome recorded at the stage: what an outcome letter confirms
    decided = [e for e in case.entries_at(stage) if e.outcome]
    decision = decided[-1] if decided else None
    values: dict[Computed, str] = {
        Computed.TODAY: calendar.local(now).strftime("%d/%m/%Y"),
        Computed.CASE_REFERENCE: case.reference,
        Computed.RAISER_NAME: raiser.name if raiser else "",
        Computed.RAISER_AGENCY: agency(raiser),
        Computed.RAISER_CONTACT: raiser.email if raiser else "",
        Computed.COUNTERPART_NAME: counterpart.name if counterpart else "",
        Computed.COUNTERPART_AGENCY: agency(counterpart),
        Computed.COUNTERPART_CONTACT: counterpart.email if counterpart else "",
        Computed.PARTICIPANTS: "; ".join(
            f"{p.name}, {p.role.replace('_', ' ')}, {agency(p)}, stage {p.stage}"
            for p in case.participants
        ),
        Computed.CHILD_NAME: case.child.name,
        Computed.CHILD_DOB: case.child.date_of_birth.strftime("%d/%m/%Y")
        if case.child.date_of_birth
        else "",
        Computed.CHILD_IDENTIFIERS: case.child.identifiers,
        Computed.SUMMARY: record.summary or case.summary,
        Computed.OUTCOME_SOUGHT: case.outcome_sought,
        Computed.REASON: case.reason,
        Computed.STAGE_NUMBER: str(stage),
        Computed.STAGE_STARTED: _date(span.started_at if span else None, calendar),
        Computed.RESOLVED_AT_STAGE: str(resolution.stage) if resolution else "",
        Computed.WORKING_DAYS_TAKEN: str(resolution.working_days_taken) if resolution else "",
        Computed.STEP_OUTCOME: (
            texts.OUTCOME_WORDS.get(decision.outcome, decision.outcome)
            if decision and decision.outcome else ""
        ),
        Computed.STEP_DECIDED_ON: _date(decision.at if decision else None, calendar),
    }
    return values


def _shown(field: FormField, raw: str) -> str:
    """A choice is shown by its label, as the person picked it, not by the pack's id."""
    if field.kind not in {FieldKind.CHOICE, FieldKind.MULTI_CHOICE} or not field.choices:
        return raw
    labels = {c.id: c.label for c in field.choices}
    parts = [p.strip() for p in raw.split(",")] if field.kind is FieldKind.MULTI_CHOICE else [raw]
    return ", ".join(labels.get(p, p) for p in parts if p)


def form_values(
    form: Form,
    case: Case,
    calendar: WorkingCalendar,
    now: datetime,
    agency_names: dict[str, str],
    stage: int | None = None,
    policy: Policy | None = None,
) -> dict[str, str]:
    """Each field of ``form`` keyed section.field: computed, records, outcome, intake.

    ``stage`` is the stage the copy is produced for (default: the case's). ``policy`` lets an
    answer to an intake question be shown by its label (the St Helens reason, say)."""
    produced_for = stage or case.stage
    answers: dict[str, str] = dict(case.answers)
    if case.resolution:
        answers.update(case.resolution.outcome_answers)
    intake = {f.id: f for f in policy.intake} if policy else {}
    values: dict[str, str] = {}
    facts: dict[int, dict[Computed, str]] = {}  # per stage a field is about
    for section in form.sections:
        record = case.record_for(section.stage) if section.stage else None
        for field in section.fields:
            key = f"{section.id}.{field.id}"
            about = field.of_stage or section.stage or produced_for
            if field.computed is Computed.REASON:
                reason_field = intake.get("reason")
                values[key] = _shown(reason_field, case.reason) if reason_field else case.reason
            elif field.computed is not None:
                if about not in facts:
                    facts[about] = computed_values(case, about, calendar, now, agency_names)
                values[key] = facts[about][field.computed]
            elif record is not None and field.id == "summary":
                values[key] = record.summary
            elif record is not None and field.id == "unresolved":
                values[key] = record.unresolved
            elif record is not None and field.id == "agreed_actions":
                values[key] = "; ".join(
                    # an owner chosen from the parties is kept as their email: shown by name
                    f"{a.description} ({owner_label(case, a.owner)},"
                    f" by {a.due.strftime('%d/%m/%Y')})"
                    for a in record.agreed_actions
                )
            elif record is not None and field.id in record.answers:
                values[key] = _shown(field, record.answers[field.id])
            else:
                source = intake.get(field.id, field)
                values[key] = _shown(source, answers.get(field.id, ""))
    return values
