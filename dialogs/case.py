"""The case aggregate: one professional difference about one child, as it moves through a procedure.

A case is plain data (serialised whole by every store) plus the questions the engine asks of it.
Its ``version`` increases with every accepted command, which is how two managers clicking at once
are told apart: the store refuses the second save.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class CaseStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    FINAL_DECISION = "final_decision"
    WITHDRAWN = "withdrawn"


class Side(StrEnum):
    RAISING = "raising"
    RECEIVING = "receiving"
    PARTNERSHIP = "partnership"
    OTHER = "other_agency"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Participant(Model):
    email: str
    name: str
    agency: str
    role: str
    side: Side
    stage: int = Field(description="The stage at which they joined")
    active: bool = True


class ChildDetails(Model):
    """Sensitive: shown only 1:1 to the case's parties and to the roles the policy names."""

    name: str
    date_of_birth: date | None = None
    identifiers: str = ""


class AgreedAction(Model):
    description: str
    owner: str
    due: date


class ActionUpdate(Model):
    """What an action's owner said when asked whether it is done: appended, never changed, so
    the record keeps every new date and the reason it was given."""

    action_id: str = Field(description="'<entry id>.<n>': the action's place in the record")
    at: datetime
    by: str
    by_name: str
    done: bool
    new_due: date | None = Field(default=None, description="When not done: the new date")
    reason: str = ""


class EntryKind(StrEnum):
    """What one entry of a case's written record says."""

    DISCUSSION = "discussion"  # what was discussed, each agency's view, actions agreed so far
    RESOLUTION = "resolution"  # the agreed resolution that closed the case
    UNRESOLVED = "unresolved"  # what remained unresolved: the next tier starts from this
    STEP_DONE = "step_done"  # a timed duty done, e.g. the referral to the Board Chair
    DECISION = "decision"  # the partnership's decision (or a Chair's recommendation)
    ROUTE_CHOSEN = "route_chosen"  # the answer to a stage's route question, or its default


class RecordEntry(Model):
    """One dated, signed entry of the written record. Entries are only ever appended: nothing a
    person wrote is overwritten, and a correction is a new entry naming the one it corrects."""

    id: str = Field(description="'<stage>.<n>': its place in the record, shown to people")
    at: datetime
    by: str = Field(description="Email of who wrote it")
    by_name: str
    by_agency: str = ""
    stage: int
    kind: EntryKind
    text: str = ""
    agreed_actions: list[AgreedAction] = Field(default_factory=list)
    answers: dict[str, str] = Field(default_factory=dict)
    corrects: str | None = Field(default=None, description="Id of the entry this one corrects")
    step_id: str | None = None
    outcome: str | None = Field(
        default=None, description="A step's outcome when it was marked done: agreed, not_agreed"
    )


class StageSpan(Model):
    """When a stage of this case ran and how it ended: what 'Date Stage 2 started' means."""

    number: int
    started_at: datetime
    due_at: datetime
    ended_at: datetime | None = None
    ended_by: str = Field(default="", description="escalated, lapsed, resolved, decided, ...")


class StageRecord(Model):
    """What one stage's record adds up to, as the partnership's form asks for it: a view over
    that stage's entries, never stored, so it cannot drift from them."""

    stage: int
    summary: str = ""
    agreed_actions: list[AgreedAction] = Field(default_factory=list)
    unresolved: str = ""
    answers: dict[str, str] = Field(default_factory=dict)
    recorded_by: list[str] = Field(default_factory=list)
    updated_at: datetime | None = None


class StepState(Model):
    id: str
    started_at: datetime
    due_at: datetime
    done: bool = False
    lapsed: bool = False
    outcome: str | None = Field(default=None, description="agreed / not_agreed, when asked")
    ended_at: datetime | None = Field(
        default=None, description="When it was done, or lapsed: what counted_from counts from"
    )
    skipped: bool = Field(
        default=False,
        description="A conditional step whose branch was not taken: it never runs; its times"
        " are when it was passed over",
    )
    skipped_because: str = Field(default="", description="Why, in the pack's step names only")


class HandOverNote(Model):
    """Why someone handed a case over. Free text, so it may name the child: kept with the case's
    sensitive fields, never in the history."""

    at: datetime
    by: str
    to: str
    reason: str


class Resolution(Model):
    at: datetime
    stage: int
    by: str
    summary: str
    final_decision: bool = False
    outcome_answers: dict[str, str] = Field(default_factory=dict)
    working_days_taken: int = 0


class Case(Model):
    id: str
    reference: str
    partnership_id: str
    policy_id: str
    policy_version: str
    version: int = 0
    status: CaseStatus = CaseStatus.OPEN
    raised_at: datetime
    raised_by: str
    raising_agency: str
    receiving_agency: str
    participants: list[Participant]
    child: ChildDetails
    summary: str
    impact_on_child: str
    reason: str
    outcome_sought: str
    immediate_risk: bool
    answers: dict[str, str] = Field(
        default_factory=dict, description="Pack-specific intake answers"
    )
    stage: int
    stage_started_at: datetime
    stage_due_at: datetime
    steps: list[StepState] = Field(default_factory=list)
    acknowledged_by: list[str] = Field(default_factory=list)
    record: list[RecordEntry] = Field(default_factory=list, description="Append-only")
    stages_run: list[StageSpan] = Field(default_factory=list)
    overdue_since: datetime | None = None
    last_overdue_alert: datetime | None = None
    reminded: list[str] = Field(default_factory=list, description="Keys of reminders already sent")
    resolution: Resolution | None = None
    withdrawn_reason: str = ""
    handovers: list[HandOverNote] = Field(default_factory=list)
    action_updates: list[ActionUpdate] = Field(
        default_factory=list, description="Append-only: follow-ups of the agreed actions"
    )
    anonymised_at: datetime | None = Field(
        default=None,
        description="When the retention period ended and the child's details were removed",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_stage_records(cls, data: Any) -> Any:
        """Cases stored before the record was append-only kept one merged record per stage;
        each becomes entries, so nothing already written is lost on upgrade."""
        if not isinstance(data, dict) or "stage_records" not in data:
            return data
        data = dict(data)
        old = data.pop("stage_records") or {}
        entries = list(data.get("record") or [])
        for number, raw in sorted(old.items(), key=lambda item: int(item[0])):
            kept = raw if isinstance(raw, dict) else raw.model_dump()
            who = (kept.get("recorded_by") or [""])[0]
            when = kept.get("updated_at") or data.get("raised_at")
            base = {"at": when, "by": who, "by_name": who, "stage": int(number)}
            if kept.get("summary") or kept.get("agreed_actions") or kept.get("answers"):
                entries.append({**base, "id": f"{number}.{len(entries) + 1}",
                                "kind": EntryKind.DISCUSSION, "text": kept.get("summary", ""),
                                "agreed_actions": kept.get("agreed_actions", []),
                                "answers": kept.get("answers", {})})
            if kept.get("unresolved"):
                entries.append({**base, "id": f"{number}.{len(entries) + 1}",
                                "kind": EntryKind.UNRESOLVED, "text": kept["unresolved"]})
        data["record"] = entries
        return data

    @property
    def is_open(self) -> bool:
        return self.status is CaseStatus.OPEN

    def active_participants(self) -> list[Participant]:
        return [p for p in self.participants if p.active]

    def participant(self, email: str) -> Participant | None:
        email = email.lower()
        for person in self.participants:
            if person.email == email and person.active:
                return person
        return None

    def is_party(self, email: str) -> bool:
        return self.participant(email) is not None

    def current_holders(
        self, holder_roles: Sequence[str] = (), sides: Mapping[str, str] | None = None
    ) -> list[Participant]:
        """Who owes the next move: whoever holds one of the stage's roles, else whoever joined at
        this stage, else everyone still on the case. ``sides``: roles only one side holds (the
        receiving agency's duty manager), so the same job title on the other side is not
        counted as holding the stage."""
        active = self.active_participants()
        sides = sides or {}
        by_role = [
            p
            for p in active
            if p.role in holder_roles and sides.get(p.role, p.side.value) == p.side.value
        ]
        joined_here = [p for p in active if p.stage == self.stage]
        return by_role or joined_here or active

    def entries_at(self, stage: int) -> list[RecordEntry]:
        return [e for e in self.record if e.stage == stage]

    def next_entry_id(self, stage: int) -> str:
        return f"{stage}.{len(self.entries_at(stage)) + 1}"

    def record_for(self, stage: int) -> StageRecord:
        """The stage's entries added up for its form: every discussion and resolution in order
        (signed and dated when there are several), every action, the latest of each answer."""
        entries = self.entries_at(stage)
        spoken = [e for e in entries if e.kind in _SPOKEN and e.text.strip()]
        unresolved = [e for e in entries if e.kind is EntryKind.UNRESOLVED and e.text.strip()]
        answers: dict[str, str] = {}
        for entry in entries:
            answers.update(entry.answers)
        return StageRecord(
            stage=stage,
            summary=_joined(spoken),
            agreed_actions=[a for e in entries for a in e.agreed_actions],
            unresolved=_joined(unresolved),
            answers=answers,
            recorded_by=sorted({e.by for e in entries if e.by}),
            updated_at=max((e.at for e in entries), default=None),
        )

    def span(self, stage: int) -> StageSpan | None:
        """The last time the case ran ``stage``."""
        found = [s for s in self.stages_run if s.number == stage]
        return found[-1] if found else None

    def step(self, step_id: str) -> StepState | None:
        for state in self.steps:
            if state.id == step_id:
                return state
        return None

    def open_steps(self) -> list[StepState]:
        return [s for s in self.steps if not s.done and not s.skipped]


_SPOKEN = {EntryKind.DISCUSSION, EntryKind.RESOLUTION, EntryKind.DECISION}


def _joined(entries: Sequence[RecordEntry]) -> str:
    """One entry reads as written; several are each dated and signed, oldest first."""
    if len(entries) == 1:
        return entries[0].text.strip()
    return "\n\n".join(
        f"{e.at.strftime('%d/%m/%Y')}, {e.by_name}: {e.text.strip()}" for e in entries
    )


def status_words(case: Case) -> str:
    """A closed case's state in a few words: 'resolved at stage 2'."""
    if case.status is CaseStatus.RESOLVED and case.resolution:
        return f"resolved at stage {case.resolution.stage}"
    if case.status is CaseStatus.FINAL_DECISION:
        return "final decision recorded"
    return case.status.value
