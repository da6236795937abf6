"""The agreed actions of a case as they stand now, and when their owners are asked about them.

NSSCP asks for "how any outstanding issues will be followed up, with agreed timescales": an
action agreed at any stage is followed up on its date, even after the case has closed. An action
is named by its place in the record ("2.1.1": the first action of entry 2.1), so its id needs no
counter and never changes. Its state is derived from the append-only record and the follow-ups,
never stored, so it cannot drift from what people wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from dialogs.case import ActionUpdate, AgreedAction, Case, CaseStatus, Participant, RecordEntry
from dialogs.ports import Deadline
from policy.calendar import WorkingCalendar

ASK = "action-due"  # the owner is asked whether it is done, on the action's date
LATE = "action-late"  # still open two working days later: the business team is told
KINDS = (ASK, LATE)
LATE_AFTER_WORKING_DAYS = 2
# a withdrawn concern ends its follow-ups too: nobody is asked about a difference nobody holds
FOLLOWED_UP = {CaseStatus.OPEN, CaseStatus.RESOLVED, CaseStatus.FINAL_DECISION}


@dataclass(frozen=True)
class ActionState:
    id: str
    entry: RecordEntry
    action: AgreedAction
    due: date  # the date now expected: the agreed one, or the last new date an owner gave
    since: datetime  # when that date was set
    done: bool
    updates: tuple[ActionUpdate, ...]


def action_states(case: Case) -> list[ActionState]:
    """Every agreed action of the record, oldest first. An entry another entry corrects no
    longer speaks for the record: its actions are the correction's to restate."""
    corrected = {e.corrects for e in case.record if e.corrects}
    states = []
    for entry in case.record:
        if entry.id in corrected:
            continue
        for index, action in enumerate(entry.agreed_actions, start=1):
            action_id = f"{entry.id}.{index}"
            updates = tuple(u for u in case.action_updates if u.action_id == action_id)
            due, since, done = action.due, entry.at, False
            for update in updates:
                done = done or update.done
                if not update.done and update.new_due is not None:
                    due, since = update.new_due, update.at
            states.append(ActionState(action_id, entry, action, due, since, done, updates))
    return states


def find_action(case: Case, action_id: str) -> ActionState | None:
    return next((s for s in action_states(case) if s.id == action_id.strip()), None)


def owners(case: Case, state: ActionState, agency_names: dict[str, str]) -> list[Participant]:
    """Who is asked about an action. Its owner is free text ("Sam Patel", "the school", an
    email), so: the parties it names (by email, then name, then agency), else whoever recorded
    it, else whoever holds the case now. Someone who handed their part over is followed to the
    colleague who took it. Only parties are asked: the question shows the child's details."""
    text = state.action.owner.strip().lower()
    everyone = case.participants

    def named(person: Participant) -> bool:
        return person.email == text or _contains(text, person.name)

    def of_agency(person: Participant) -> bool:
        return _contains(text, person.agency) or _contains(
            text, agency_names.get(person.agency, "")
        )

    for match in (named, of_agency):
        found = _unique(_current(case, p) for p in everyone if match(p))
        if found:
            return found
    author = _current(case, next((p for p in everyone if p.email == state.entry.by), None))
    if author is not None:
        return [author]
    return case.active_participants()


def owner_label(case: Case, owner: str) -> str:
    """The owner as people read it: a party's name where the owner was typed as their email."""
    typed = owner.strip()
    person = next((p for p in case.participants if p.email == typed.lower()), None)
    return person.name if person is not None else typed


def _contains(text: str, name: str) -> bool:
    name = name.strip().lower()
    return bool(name) and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text) is not None


def _current(case: Case, person: Participant | None) -> Participant | None:
    """The active participant now holding ``person``'s part, following hand-overs."""
    seen: set[str] = set()
    while person is not None and not person.active and person.email not in seen:
        seen.add(person.email)
        to = next((h.to for h in reversed(case.handovers) if h.by == person.email), None)
        known = [p for p in case.participants if p.email == to]
        person = next((p for p in known if p.active), known[-1] if known else None)
    return person if person is not None and person.active else None


def _unique(people: Iterable[Participant | None]) -> list[Participant]:
    found: dict[str, Participant] = {}
    for person in people:
        if person is not None:
            found.setdefault(person.email, person)
    return list(found.values())


def ask_at(state: ActionState, calendar: WorkingCalendar) -> datetime:
    """Start of business on the action's date (or the next working day): the morning it is
    due, so the owner can still finish it that day. An action agreed for the very day it was
    agreed is asked about the next working morning, not the moment it was written."""
    day = state.due if calendar.is_working_day(state.due) else calendar.next_working_day(
        state.due
    )
    moment = calendar.at(day, calendar.start_of_business)
    if moment <= state.since:
        moment = calendar.at(
            calendar.next_working_day(calendar.local(state.since).date()),
            calendar.start_of_business,
        )
    return moment


def late_at(state: ActionState, calendar: WorkingCalendar) -> datetime:
    day = calendar.add_working_days(state.due, LATE_AFTER_WORKING_DAYS)
    return max(calendar.at(day, calendar.start_of_business), ask_at(state, calendar))


def sent_key(kind: str, state: ActionState) -> str:
    """Kept in ``case.reminded`` once the question or the report has gone for this date."""
    return f"{kind}:{state.id}:{state.due.isoformat()}"


def action_deadlines(case: Case, calendar: WorkingCalendar) -> list[Deadline]:
    if case.status not in FOLLOWED_UP:
        return []
    found = []
    for state in action_states(case):
        if state.done:
            continue
        for kind, due in ((ASK, ask_at(state, calendar)), (LATE, late_at(state, calendar))):
            if sent_key(kind, state) in case.reminded:
                continue
            key = f"{case.id}:{kind}:{state.id}:{due.astimezone(UTC).isoformat()}"
            found.append(
                Deadline(
                    key=key, case_id=case.id, kind=kind, stage=case.stage,
                    step_id=state.id, due_at=due,
                )
            )
    return found
