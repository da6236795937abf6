"""The retention schedule: when a closed case's child details must go, and what going means.

A partnership keeps a closed case for a number of years (``policy.config.Retention``). When that
ends, the case stays (its reference, dates, stages, agencies, reason category, the outcome
choices: what the partnership's quality-assurance figures are made of), and everything that
names or may name the child is removed: the child's details, every free text a person typed
(summaries, record entries, actions and typed owners, hand-over and withdrawal reasons), every
answer that is free text or marked sensitive in the pack. An answer is kept only where the pack
says it is a choice, a yes/no, a number, a date or a person and not sensitive, because only those
cannot hold a name.

Pure: the bot's ``retention`` command loads the cases, asks these functions, and writes what they
return in one store transaction per case. The history is not rewritten; the removal is one more
event in it, naming the fields it removed and never their contents.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from dialogs import texts
from dialogs.case import Case, CaseStatus, ChildDetails, EntryKind
from dialogs.events import Event, EventType
from dialogs.messages import DEFAULT_RECORD_FIELDS
from policy.model import FieldKind, FormField, Policy

# Delivered notifications are kept this long after they were sent, then pruned: long enough to
# answer "was I told?" from the store in the month after, short enough that a card holding a
# child's details does not outlive its use by years.
SENT_NOTIFICATION_DAYS = 30
RETENTION_ACTOR = "retention"

# Answers that cannot hold a name, when the pack does not mark them sensitive
_STRUCTURED = {
    FieldKind.CHOICE, FieldKind.MULTI_CHOICE, FieldKind.BOOLEAN, FieldKind.NUMBER,
    FieldKind.DATE, FieldKind.PERSON,
}
# Answers the engine itself writes, each a pack id: the way on a stage's route question took
_ENGINE_ANSWERS = {"route"}


@dataclass(frozen=True)
class Anonymised:
    """A case with its child details removed, and the paths of every field that changed (field
    names and record entry ids only: the listing of them carries no child data)."""

    case: Case
    fields: list[str]


@dataclass(frozen=True)
class RetentionDue:
    """A closed case whose retention period has ended."""

    case: Case
    closed_at: datetime
    ends_at: datetime
    years: int


def closed_at(case: Case) -> datetime | None:
    """When the case closed: its resolution or decision, else (withdrawn) when its last stage
    ended. None for an open case."""
    if case.status is CaseStatus.OPEN:
        return None
    if case.resolution is not None:
        return case.resolution.at
    ended = [s.ended_at for s in case.stages_run if s.ended_at is not None]
    return max(ended) if ended else case.stage_started_at


def retention_ends(closed: datetime, years: int) -> datetime:
    """The same moment ``years`` calendar years later; a 29 February closes on 28 February."""
    try:
        return closed.replace(year=closed.year + years)
    except ValueError:  # 29 February into a year without one
        return closed.replace(year=closed.year + years, day=28)


def due(case: Case, years: int | None, now: datetime) -> RetentionDue | None:
    """The case if its retention has ended and it still holds child details; else None."""
    if years is None or case.anonymised_at is not None:
        return None
    closed = closed_at(case)
    if closed is None:
        return None
    ends = retention_ends(closed, years)
    return RetentionDue(case, closed, ends, years) if ends <= now else None


def sent_before(now: datetime) -> datetime:
    """Delivered notifications sent at or before this instant are pruned."""
    return now - timedelta(days=SENT_NOTIFICATION_DAYS)


def _field_kinds(policy: Policy) -> dict[str, FormField]:
    """Every field the pack can answer by id. An id used twice counts as free text if any use
    of it is, so a doubt always removes."""
    fields: dict[str, FormField] = {}
    every: Iterable[FormField] = [
        *policy.intake,
        *(f for form in policy.forms for section in form.sections for f in section.fields),
        *DEFAULT_RECORD_FIELDS,
    ]
    for field in every:
        known = fields.get(field.id)
        if known is None or _keeps(known):
            fields[field.id] = field
    return fields


def _keeps(field: FormField) -> bool:
    return field.kind in _STRUCTURED and not field.sensitive


def _answers(
    answers: dict[str, str], kinds: dict[str, FormField], where: str, changed: list[str]
) -> dict[str, str]:
    kept: dict[str, str] = {}
    for key, value in answers.items():
        field = kinds.get(key)
        if key in _ENGINE_ANSWERS or (field is not None and _keeps(field)) or not value:
            kept[key] = value
        else:
            kept[key] = texts.RETENTION_REMOVED
            changed.append(f"{where}.{key}")
    return kept


def _text(value: str, where: str, changed: list[str]) -> str:
    if not value or value == texts.RETENTION_REMOVED:
        return value
    changed.append(where)
    return texts.RETENTION_REMOVED


def anonymise(case: Case, policy: Policy, now: datetime) -> Anonymised:
    """The case as it is kept after its retention period, and which fields that changed."""
    kinds = _field_kinds(policy)
    changed: list[str] = []
    child = case.child
    if child.name != texts.RETENTION_REMOVED:
        changed.append("child.name")
    if child.date_of_birth is not None:
        changed.append("child.date_of_birth")
    if child.identifiers:
        changed.append("child.identifiers")
    parties = {p.email.lower() for p in case.participants}
    record = []
    for entry in case.record:
        where = f"record[{entry.id}]"
        # a route's text is the pack's own label for the way chosen; every other text was typed
        text = entry.text if entry.kind is EntryKind.ROUTE_CHOSEN else _text(
            entry.text, f"{where}.text", changed)
        # an owner is a party's email (dialogs.agreed_actions); one recorded before that was
        # typed ("what; who; date") and may be the child's family
        actions = [
            action.model_copy(update={
                "description": _text(
                    action.description, f"{where}.agreed_actions[{n}].description", changed),
                "owner": action.owner if action.owner.lower() in parties else _text(
                    action.owner, f"{where}.agreed_actions[{n}].owner", changed),
            })
            for n, action in enumerate(entry.agreed_actions)
        ]
        record.append(entry.model_copy(update={
            "text": text, "agreed_actions": actions,
            "answers": _answers(entry.answers, kinds, f"{where}.answers", changed),
        }))
    resolution = case.resolution
    if resolution is not None:
        resolution = resolution.model_copy(update={
            "summary": _text(resolution.summary, "resolution.summary", changed),
            "outcome_answers": _answers(
                resolution.outcome_answers, kinds, "resolution.outcome_answers", changed),
        })
    updates = {
        "child": ChildDetails(name=texts.RETENTION_REMOVED),
        "summary": _text(case.summary, "summary", changed),
        "impact_on_child": _text(case.impact_on_child, "impact_on_child", changed),
        "outcome_sought": _text(case.outcome_sought, "outcome_sought", changed),
        "answers": _answers(case.answers, kinds, "answers", changed),
        "record": record,
        "resolution": resolution,
        "withdrawn_reason": _text(case.withdrawn_reason, "withdrawn_reason", changed),
        "handovers": [
            h.model_copy(update={"reason": _text(h.reason, f"handovers[{n}].reason", changed)})
            for n, h in enumerate(case.handovers)
        ],
        "action_updates": [
            u.model_copy(update={
                "reason": _text(u.reason, f"action_updates[{n}].reason", changed)})
            for n, u in enumerate(case.action_updates)
        ],
        "anonymised_at": now,
        "version": case.version + 1,
    }
    if "reason" in kinds and not _keeps(kinds["reason"]):
        updates["reason"] = _text(case.reason, "reason", changed)
    return Anonymised(case.model_copy(update=updates), changed)


def retention_event(due_case: RetentionDue, anonymised: Anonymised, removed_rows: int,
                    now: datetime) -> Event:
    """What the history says of it: when, under which schedule, which fields (names only)."""
    case = due_case.case
    return Event(
        case_id=case.id,
        at=now,
        type=EventType.RETENTION_APPLIED,
        actor=RETENTION_ACTOR,
        stage=case.stage,
        summary=texts.RETENTION_EVENT.format(
            closed=due_case.closed_at.date().isoformat(), years=due_case.years,
            fields=len(anonymised.fields), rows=removed_rows,
        ),
        data={
            "closed_at": due_case.closed_at.isoformat(),
            "retention_ended": due_case.ends_at.isoformat(),
            "years": str(due_case.years),
            "fields": ",".join(anonymised.fields),
            "outbox_rows_removed": str(removed_rows),
        },
    )
