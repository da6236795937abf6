"""The case aggregate: one professional difference about one child, as it moves through a procedure.

A case is plain data (serialised whole by every store) plus the questions the engine asks of it.
Its ``version`` increases with every accepted command, which is how two managers clicking at once
are told apart: the store refuses the second save.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


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


class StageRecord(Model):
    """What was discussed and agreed at one stage, as the partnership's form asks for it."""

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
    stage_records: dict[int, StageRecord] = Field(default_factory=dict)
    overdue_since: datetime | None = None
    last_overdue_alert: datetime | None = None
    reminded: list[str] = Field(default_factory=list, description="Keys of reminders already sent")
    resolution: Resolution | None = None
    withdrawn_reason: str = ""
    handovers: list[HandOverNote] = Field(default_factory=list)

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

    def current_holders(self, holder_roles: Sequence[str] = ()) -> list[Participant]:
        """Who owes the next move: whoever holds one of the stage's roles, else whoever joined at
        this stage, else everyone still on the case."""
        active = self.active_participants()
        by_role = [p for p in active if p.role in holder_roles]
        joined_here = [p for p in active if p.stage == self.stage]
        return by_role or joined_here or active

    def record_for(self, stage: int) -> StageRecord:
        return self.stage_records.get(stage) or StageRecord(stage=stage)

    def step(self, step_id: str) -> StepState | None:
        for state in self.steps:
            if state.id == step_id:
                return state
        return None

    def open_steps(self) -> list[StepState]:
        return [s for s in self.steps if not s.done]
