"""A subject access request: everything the bot holds about one child, as one document and JSON.

Matching is deliberately narrow and said in the export itself: the child's name ignoring upper
and lower case and spaces at either end, and the date of birth exactly. A case raised without a
date of birth, or with the name spelt differently, is not found; the business team searches
again with the other spelling rather than the bot guessing, because a wrong match would hand one
child's record to another's family.

The document is the neutral model every form uses (dialogs.documents), so the PDF renderer that
draws the partnership's forms draws this too.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from dialogs import texts
from dialogs.case import Case
from dialogs.documents import DocumentRow, DocumentSection, FormDocument
from dialogs.events import Event

FORM_ID = "subject-access"


def normalised(name: str) -> str:
    return name.strip().casefold()


def matches(case: Case, name: str, dob: date) -> bool:
    child = case.child
    return normalised(child.name) == normalised(name) and child.date_of_birth == dob


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="minutes") if moment else ""


def _row(label: str, value: object, *, long: bool = False, sensitive: bool = False) -> DocumentRow:
    return DocumentRow(label=label, value="" if value is None else str(value), long=long,
                       sensitive=sensitive)


def _case_section(case: Case, partnership: str, agency_names: dict[str, str]) -> DocumentSection:
    def agency(agency_id: str) -> str:
        return agency_names.get(agency_id, agency_id)

    child = case.child
    rows = [
        _row("Reference", case.reference),
        _row("Partnership", partnership),
        _row("Procedure", f"{case.policy_id} version {case.policy_version}"),
        _row("Status", case.status.value),
        _row("Raised", _when(case.raised_at)),
        _row("Raised by", case.raised_by),
        _row("Raising agency", agency(case.raising_agency)),
        _row("Receiving agency", agency(case.receiving_agency)),
        _row("Child's name", child.name, sensitive=True),
        _row("Date of birth", child.date_of_birth.isoformat() if child.date_of_birth else "",
             sensitive=True),
        _row("Identifiers", child.identifiers, sensitive=True),
        _row("Summary", case.summary, long=True),
        _row("Impact on the child", case.impact_on_child, long=True),
        _row("Reason", case.reason),
        _row("Outcome sought", case.outcome_sought, long=True),
        _row("Immediate risk", "yes" if case.immediate_risk else "no"),
    ]
    rows += [_row(f"Answer: {key}", value, long=True) for key, value in case.answers.items()]
    rows += [
        _row(f"Participant: {p.name}", f"{p.email}, {p.role}, {agency(p.agency)}, {p.side.value},"
             f" from stage {p.stage}{'' if p.active else ', left'}")
        for p in case.participants
    ]
    rows += [
        _row(f"Stage {s.number}", f"{_when(s.started_at)} to {_when(s.ended_at) or 'now'}"
             f"{', ' + s.ended_by if s.ended_by else ''}")
        for s in case.stages_run
    ]
    for entry in case.record:
        parts = [entry.text]
        parts += [f"Action: {a.description}; {a.owner}; by {a.due.isoformat()}"
                  for a in entry.agreed_actions]
        parts += [f"{key}: {value}" for key, value in entry.answers.items()]
        rows.append(_row(
            f"Record {entry.id} ({entry.kind.value}), {_when(entry.at)}, {entry.by_name}",
            "\n".join(p for p in parts if p), long=True))
    rows += [_row(f"Action update {u.action_id}, {_when(u.at)}, {u.by_name}",
                  f"{'done' if u.done else 'not done'} {u.reason}".strip(), long=True)
             for u in case.action_updates]
    rows += [_row(f"Handed over, {_when(h.at)}", f"{h.by} to {h.to}: {h.reason}", long=True)
             for h in case.handovers]
    if case.resolution is not None:
        r = case.resolution
        rows.append(_row(f"Outcome at stage {r.stage}, {_when(r.at)}, {r.by}", r.summary,
                         long=True))
        rows += [_row(f"Outcome: {key}", value) for key, value in r.outcome_answers.items()]
    if case.withdrawn_reason:
        rows.append(_row("Withdrawn because", case.withdrawn_reason, long=True))
    return DocumentSection(title=texts.SUBJECT_ACCESS_CASE.format(reference=case.reference),
                           rows=rows)


def _history_section(case: Case, history: list[Event]) -> DocumentSection:
    rows = [_row(f"{_when(e.at)} {e.type.value}", f"{e.actor}: {e.summary}") for e in history]
    return DocumentSection(title=texts.SUBJECT_ACCESS_HISTORY.format(reference=case.reference),
                           rows=rows)


def subject_access_document(
    found: list[tuple[Case, list[Event]]],
    *,
    partnership_names: dict[str, str],
    agency_names: dict[str, str],
    produced_at: str,
) -> FormDocument:
    """Every matched case, then its history, in the order the cases were raised."""
    sections = [DocumentSection(title=texts.SUBJECT_ACCESS_ABOUT, rows=[
        _row("Matching", texts.SUBJECT_ACCESS_MATCHING, long=True),
        _row("Cases", ", ".join(case.reference for case, _ in found)),
    ])]
    for case, history in found:
        name = partnership_names.get(case.partnership_id, case.partnership_id)
        sections.append(_case_section(case, name, agency_names))
        sections.append(_history_section(case, history))
    partnerships = sorted({partnership_names.get(c.partnership_id, c.partnership_id)
                           for c, _ in found})
    return FormDocument(
        partnership="; ".join(partnerships),
        form_id=FORM_ID,
        title=texts.SUBJECT_ACCESS_TITLE,
        case_reference=", ".join(case.reference for case, _ in found),
        produced_at=produced_at,
        sections=sections,
    )


def subject_access_json(found: list[tuple[Case, list[Event]]], produced_at: str) -> dict[str, Any]:
    """The same cases as data: each case exactly as stored, with its history."""
    return {
        "produced_at": produced_at,
        "matching": texts.SUBJECT_ACCESS_MATCHING,
        "cases": [
            {"case": case.model_dump(mode="json"),
             "history": [event.model_dump(mode="json") for event in history]}
            for case, history in found
        ],
    }
