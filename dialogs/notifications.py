"""What the engine wants said, to whom, and from when: the platform adapters do the saying.

Notifications are written to the store's outbox in the same transaction as the case change they
describe, keyed per case, stage and kind, so a retried command or a re-fired deadline never sends
a message twice and a crash after commit never loses one.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from dialogs.cards import Card
from dialogs.documents import FormDocument
from dialogs.reports.model import Report


class RecipientKind(StrEnum):
    PERSON = "person"
    CHANNEL = "channel"
    MAILBOX = "mailbox"
    WEBHOOK = "webhook"


class Recipient(BaseModel):
    """A person (by directory email), a configured alert channel, or a named mailbox."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: RecipientKind
    address: str

    @classmethod
    def person(cls, email: str) -> Recipient:
        return cls(kind=RecipientKind.PERSON, address=email.lower())

    @classmethod
    def channel(cls, destination: str) -> Recipient:
        return cls(kind=RecipientKind.CHANNEL, address=destination)

    @classmethod
    def mailbox(cls, address: str) -> Recipient:
        return cls(kind=RecipientKind.MAILBOX, address=address)

    @classmethod
    def webhook(cls, webhook_id: str) -> Recipient:
        return cls(kind=RecipientKind.WEBHOOK, address=webhook_id)


class Notification(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    case_id: str
    recipient: Recipient
    card: Card
    deliver_at: datetime
    kind: str
    reference: str = Field(
        default="",
        description="The case's reference (NB-0001) when this was queued: what an email subject"
        " may name, since a subject is seen where the message is not (lock screens, mail logs)",
    )
    stage: int | None = Field(default=None, description="The case's stage when this was queued")
    urgent: bool = Field(
        default=False,
        description="Flagged urgent to its reader (a child at immediate risk): sent at once at any"
        " hour, and marked so (an email's subject and Importance header)",
    )
    copy_of: Recipient | None = None  # for webhook copies: who the original was for
    documents: list[FormDocument] = Field(
        default_factory=list,
        description="Forms filed with this message, drawn by the adapter that delivers it (DOCX"
        " and PDF attachments by email, files in a Teams chat). Never on a channel post.",
    )
    report: Report | None = Field(
        default=None,
        description="The report on the procedure's use, drawn and attached by the email adapter"
        " (it holds no child details, only counts and answers about the process)",
    )


class ChildDataInChannel(AssertionError):
    """Raised before a channel post that would carry a child's details: a bug, never sent."""
