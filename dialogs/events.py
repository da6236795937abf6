"""Past-tense facts about a case, appended to its history and never changed.

Events carry no child details: the history is what auditors and the business team read, and what
an operator may see while debugging.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class EventType(StrEnum):
    CONCERN_RAISED = "concern_raised"
    STAGE_ENTERED = "stage_entered"
    STEP_STARTED = "step_started"
    STEP_COMPLETED = "step_completed"
    STEP_LAPSED = "step_lapsed"
    ACKNOWLEDGED = "acknowledged"
    DISCUSSION_RECORDED = "discussion_recorded"
    ESCALATED = "escalated"
    DEADLINE_LAPSED = "deadline_lapsed"
    FINAL_STAGE_OVERDUE = "final_stage_overdue"
    REMINDER_SENT = "reminder_sent"
    TIER_EMPTY = "tier_empty"
    PARTICIPANT_ADDED = "participant_added"
    HANDED_OVER = "handed_over"
    RESOLVED = "resolved"
    DECISION_RECORDED = "decision_recorded"
    WITHDRAWN = "withdrawn"
    DELIVERY_FAILED = "delivery_failed"
    ACTION_ASKED = "action_asked"
    ACTION_UPDATED = "action_updated"
    ACTION_LATE = "action_late"
    IMMEDIATE_RISK_TOLD = "immediate_risk_told"
    ROUTE_CHOSEN = "route_chosen"
    STEP_SKIPPED = "step_skipped"  # a conditional step on the branch not taken
    RETENTION_APPLIED = "retention_applied"  # the child's details removed: retention ended


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    case_id: str
    at: datetime
    type: EventType
    actor: str
    stage: int
    summary: str = Field(description="One line for the history, free of child data")
    data: dict[str, str] = Field(default_factory=dict)
    platform: str = ""  # where the actor acted (teams, slack, console); empty if not known
    # SHA-256 of the case's previous event as stored (dialogs.audit), set by the store on append
    prev: str = ""
