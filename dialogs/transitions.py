"""The explicit transition table: which command may run in which case state.

Anything not listed is refused with a sentence a practitioner understands. A lapsed deadline on a
closed case is not an error (the scheduler may be a moment behind), so it is ignored instead.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from dialogs import handlers
from dialogs.case import CaseStatus
from dialogs.commands import (
    Acknowledge,
    AddParticipant,
    Command,
    CompleteStep,
    DeadlineLapsed,
    Escalate,
    HandOver,
    RecordDecision,
    RecordDeliveryFailure,
    RecordDiscussion,
    Resolve,
    UpdateAction,
    Withdraw,
)
from dialogs.turn import Turn

Handler = Callable[[Turn, Any], None]


class Refusal(Enum):
    CLOSED = "closed"  # tell the person the case is closed; change nothing
    IGNORE = "ignore"  # silently a no-op (stale scheduler work)


_OPEN: dict[type[Command], Handler] = {
    Acknowledge: handlers.acknowledge,
    RecordDiscussion: handlers.record_discussion,
    Resolve: handlers.resolve,
    Escalate: handlers.escalate,
    CompleteStep: handlers.complete_step,
    RecordDecision: handlers.record_decision,
    HandOver: handlers.hand_over,
    Withdraw: handlers.withdraw,
    AddParticipant: handlers.add_participant,
    DeadlineLapsed: handlers.deadline_lapsed,
    RecordDeliveryFailure: handlers.record_delivery_failure,
    UpdateAction: handlers.update_action,
}

_CLOSED: dict[type[Command], Handler | Refusal] = {
    **{command: Refusal.CLOSED for command in _OPEN},
    DeadlineLapsed: Refusal.IGNORE,
    # a closed case still keeps a record of what could not be delivered
    RecordDeliveryFailure: handlers.record_delivery_failure,
}

# What a resolution or decision agreed is still followed up after the case closes: the owners
# answer, and the follow-up deadlines fire (every other lapse on a closed case is stale).
_AGREED: dict[type[Command], Handler | Refusal] = {
    **_CLOSED,
    UpdateAction: handlers.update_action,
    DeadlineLapsed: handlers.action_deadline_lapsed,
}

TRANSITIONS: dict[CaseStatus, dict[type[Command], Handler | Refusal]] = {
    CaseStatus.OPEN: dict(_OPEN),
    CaseStatus.RESOLVED: dict(_AGREED),
    CaseStatus.FINAL_DECISION: dict(_AGREED),
    CaseStatus.WITHDRAWN: dict(_CLOSED),
}


def transition_for(status: CaseStatus, command: Command) -> Handler | Refusal:
    return TRANSITIONS[status][type(command)]
