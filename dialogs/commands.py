"""Imperative requests to the engine. Each names who asks, so permissions are checked in one place.

Commands that act on an existing case carry ``expected_version``: the version the person was
looking at. If the case has moved on since, the command changes nothing and says so.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    actor: str
    platform: str = Field(
        default="", description="Where the person acted (teams, slack, console), for the history"
    )


class CaseCommand(Command):
    case_id: str
    expected_version: int | None = Field(
        default=None, description="None only for commands typed in a chat with no card to go stale"
    )


class ActionInput(BaseModel):
    """An agreed action as typed: validated by the engine so 'ASAP' gets a clear answer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str
    owner: str
    due: str


class RecordInput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    summary: str = ""
    agreed_actions: list[ActionInput] = Field(default_factory=list)
    unresolved: str = ""
    answers: dict[str, str] = Field(default_factory=dict)
    corrects: str | None = Field(
        default=None, description="Id of the record entry this corrects (e.g. '2.1')"
    )


class RaiseConcern(Command):
    partnership_id: str
    answers: dict[str, str]
    start_stage: int = 1
    pathway_choice: str | None = None
    request_key: str | None = Field(
        default=None,
        description="Names the intake (form or typed conversation) this raise comes from: the"
        " same key from the same person raises one case however often it is sent",
    )


class Acknowledge(CaseCommand):
    pass


class RecordDiscussion(CaseCommand):
    record: RecordInput


class Resolve(CaseCommand):
    record: RecordInput
    outcome_answers: dict[str, str] = Field(default_factory=dict)


class Escalate(CaseCommand):
    unresolved: str
    route: str | None = Field(
        default=None,
        description="At a stage with routes: the id of the chosen option ('urgent')",
    )


class CompleteStep(CaseCommand):
    step_id: str
    outcome: str = Field(
        default="", description="agreed / not_agreed, for a step whose pack asks an outcome"
    )


class RecordDecision(CaseCommand):
    decision: str
    record: RecordInput = RecordInput()
    outcome_answers: dict[str, str] = Field(default_factory=dict)


class HandOver(CaseCommand):
    to_email: str
    reason: str


class Withdraw(CaseCommand):
    reason: str


class AddParticipant(CaseCommand):
    email: str
    stage: int | None = None


class UpdateAction(CaseCommand):
    """An agreed action's owner answers the follow-up: done, or not yet with a new date and why.
    ``asked_due`` is the date the question was about: an answer to an older question (the date
    has moved since) changes nothing and says so."""

    action_id: str
    done: bool
    new_due: str = ""
    reason: str = ""
    asked_due: date | None = None


class DeadlineLapsed(Command):
    """Issued by the scheduler, never by a person. Fenced by what fell due, not by version."""

    actor: str = "scheduler"
    case_id: str
    kind: str
    stage: int
    step_id: str | None = None
    due_at: datetime


class RecordDeliveryFailure(Command):
    """Issued by the delivery loop when a platform could not take a message: refused for good
    (e.g. Teams 403, SMTP 550), or not this time (``final`` False: it will be tried again)."""

    actor: str = "delivery"
    case_id: str
    notification_key: str
    notification_kind: str
    recipient: str
    reason: str
    final: bool = Field(
        default=True,
        description="False while the message will be tried again: the failure goes on the"
        " history, and only the last one alerts the business team",
    )


CASE_COMMANDS: tuple[type[Command], ...] = (
    Acknowledge,
    RecordDiscussion,
    Resolve,
    Escalate,
    CompleteStep,
    RecordDecision,
    HandOver,
    Withdraw,
    AddParticipant,
    UpdateAction,
    DeadlineLapsed,
    RecordDeliveryFailure,
)

__all__ = [
    "CASE_COMMANDS",
    "Acknowledge",
    "ActionInput",
    "AddParticipant",
    "CaseCommand",
    "Command",
    "CompleteStep",
    "DeadlineLapsed",
    "Escalate",
    "HandOver",
    "RaiseConcern",
    "RecordDecision",
    "RecordDeliveryFailure",
    "RecordDiscussion",
    "RecordInput",
    "Resolve",
    "UpdateAction",
    "Withdraw",
]
