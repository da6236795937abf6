"""Which of the partnership's forms a case has reached, and each one filled in as a document.

The engine files a form when a stage starts or the case closes (``Turn.send_form``); the business
team can ask for the current state of a case's forms at any time (``escalation-bot record``). Both
build the document here, so a form produced on the command line is laid out and filled exactly as
the copy the engine filed, with the case's values as they are now.
"""

from __future__ import annotations

from datetime import datetime

from dialogs.case import Case, CaseStatus
from dialogs.documents import FormDocument, form_document
from dialogs.forms import form_values
from policy.calendar import WorkingCalendar
from policy.model import Form, Policy

_CLOSED_WITH_OUTCOME = frozenset({CaseStatus.RESOLVED, CaseStatus.FINAL_DECISION})


def stages_using(policy: Policy, form: Form) -> set[int]:
    """Every stage at which the pack fills this form in: the form's own ``used_at_stages`` and
    any stage naming it as its recording or notification form (packs say it either way)."""
    stages = set(form.used_at_stages)
    for stage in policy.stages:
        if form.id in (stage.recording.form, stage.notification_form):
            stages.add(stage.number)
    return stages


def form_stage(policy: Policy, case: Case, form: Form) -> int | None:
    """The stage this form is filled in for now, or None if the case has not reached it.

    That is the latest stage using the form that the case has reached (St Helens' orange form
    stays a stage 1 form once the case is at stage 3); a form completed on resolution (NSSCP's
    monitoring, St Helens' purple form) is reached once an outcome is recorded."""
    reached = [n for n in stages_using(policy, form) if n <= case.stage]
    if reached:
        return max(reached)
    if form.on_resolution and case.status in _CLOSED_WITH_OUTCOME:
        return case.stage
    return None


def forms_in_use(policy: Policy, case: Case) -> list[tuple[Form, int]]:
    """The forms the case has reached, each with its stage, in the pack's order."""
    found = []
    for form in policy.forms:
        stage = form_stage(policy, case, form)
        if stage is not None:
            found.append((form, stage))
    return found


def case_document(
    form: Form,
    case: Case,
    *,
    partnership: str,
    stage: int | None,
    calendar: WorkingCalendar,
    now: datetime,
    agency_names: dict[str, str],
    policy: Policy | None = None,
    values: dict[str, str] | None = None,
) -> FormDocument:
    """One form filled in from the case as it is at ``now``, for ``stage`` (its computed facts
    are about that stage); ``policy`` shows intake answers by their labels. ``values``: the
    form's values already worked out (``form_values``) by a caller that also shows them."""
    if values is None:
        values = form_values(form, case, calendar, now, agency_names, stage, policy)
    return form_document(
        form,
        values,
        partnership=partnership,
        case_reference=case.reference,
        stage=stage,
        calendar=calendar,
        now=now,
    )


def case_documents(
    policy: Policy,
    case: Case,
    *,
    partnership: str,
    calendar: WorkingCalendar,
    now: datetime,
    agency_names: dict[str, str],
    form_id: str | None = None,
) -> list[FormDocument]:
    """Every form the case has reached, or only ``form_id`` if the case has reached it (an empty
    list if not: a form the case has not reached has no current state, only blank sections for
    stages still to come)."""
    return [
        case_document(
            form,
            case,
            partnership=partnership,
            stage=stage,
            calendar=calendar,
            now=now,
            agency_names=agency_names,
            policy=policy,
        )
        for form, stage in forms_in_use(policy, case)
        if form_id is None or form.id == form_id
    ]
