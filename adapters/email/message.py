"""One outbox notification as an email: subject, plain-text body drawn from its card, and its
forms attached.

The subject is built from the case reference, the stage and the kind of message only, never from
the card, whose title or facts may one day hold a child's details: a subject is shown where the
message itself is not (lock screens, notification banners, mail server logs). The Message-ID is
derived from the notification's key, because delivery is at-least-once: a message repeated after
a crash carries the same id, so a mail system or a team can see it is the same message.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from adapters.email.attachments import MIME_TYPES, Attachments
from dialogs import texts
from dialogs.cards import Card
from dialogs.documents import document_file_name
from dialogs.notifications import Notification

KEY_HEADER = "X-Escalation-Key"  # the same header the webhooks carry, for de-duplication


def _what(note: Notification) -> str:
    if note.stage is None:
        return texts.EMAIL_SUBJECT_NO_STAGE
    if note.kind.startswith("form-") and note.documents:
        return texts.EMAIL_SUBJECT_FORM.format(stage=note.stage, form=note.documents[0].title)
    for kind, what in texts.EMAIL_SUBJECT_WHAT.items():
        if note.kind == kind or note.kind.startswith(f"{kind}-"):
            return what.format(stage=note.stage)
    return texts.EMAIL_SUBJECT_OTHER.format(stage=note.stage)


def reference_of(note: Notification) -> str:
    """The case reference; notifications queued before they carried one name it on the card."""
    if note.reference:
        return note.reference
    return next((f.value for f in note.card.facts if f.label == "Case"), note.case_id)


def subject(note: Notification) -> str:
    if note.report is not None:  # the partnership and the period: no case, no child
        report = note.report
        return texts.REPORT_EMAIL_SUBJECT.format(
            partnership=report.partnership,
            start=report.period_start.strftime("%d/%m/%Y"),
            end=report.period_end.strftime("%d/%m/%Y"),
        )
    what = _what(note)
    if note.urgent:  # still only the reference and the kind: no case detail on a lock screen
        what = texts.EMAIL_SUBJECT_URGENT.format(what=what)
    return texts.EMAIL_SUBJECT.format(reference=reference_of(note), what=what)


def card_text(card: Card) -> str:
    """What the card says, as a plain-text email reads. Buttons are left out: an email cannot
    press them, and the footer says where to act."""
    blocks = [card.title]
    if card.text:
        blocks.append(card.text)
    if card.facts:
        blocks.append("\n".join(f"{fact.label}: {fact.value}" for fact in card.facts))
    for heading, items in card.sections:
        blocks.append("\n".join([heading, *(f"  - {item}" for item in items)]))
    filled = [f"{i.label}: {i.value}" for i in card.inputs if i.value]
    if filled:
        blocks.append("\n".join(filled))
    return "\n\n".join(blocks)


def message_id(key: str, sender: str) -> str:
    """``<digest@sender's domain>``: the same for every attempt at one notification."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "escalation-bot.invalid"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
    return f"<{digest}@{domain}>"


def build_message(
    note: Notification, *, sender: str, to: str, attachments: Attachments, now: datetime
) -> EmailMessage:
    files = [
        (document, fmt, document_file_name(document, fmt))
        for document in note.documents
        for fmt in attachments.formats
    ]
    body = [card_text(note.card)]
    if files:
        body.append(texts.EMAIL_ATTACHED.format(files=", ".join(name for _, _, name in files)))
        body.append(texts.EMAIL_ATTACHED_CARE)
    report = _report_file(note, attachments)
    if report is not None:
        body.append(texts.REPORT_ATTACHED.format(files=report[0]))
    else:
        body.append("-- \n" + texts.EMAIL_FOOTER.format(reference=reference_of(note)))

    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject(note)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(note.key, sender)
    message[KEY_HEADER] = note.key
    # a bot's message: no out-of-office or other automatic replies back to it (RFC 3834, and
    # Exchange's own header)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    if note.urgent:  # a child at immediate risk: mail clients show it as high importance
        message["Importance"] = "High"
        message["X-Priority"] = "1"
    message.set_content("\n\n".join(body) + "\n")
    for document, fmt, name in files:
        maintype, subtype = MIME_TYPES[fmt]
        message.add_attachment(
            attachments.render(document, fmt), maintype=maintype, subtype=subtype, filename=name
        )
    if report is not None:
        name, fmt, content = report
        maintype, subtype = MIME_TYPES[fmt]
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    return message


def _report_file(note: Notification, attachments: Attachments) -> tuple[str, str, bytes] | None:
    """(file name, format, bytes) of the report a notification carries, if any."""
    if note.report is None:
        return None
    stem = note.report.file_stem()
    if attachments.report is None:
        return f"{stem}.json", "json", note.report.model_dump_json(indent=2).encode("utf-8")
    return f"{stem}.html", "html", attachments.report(note.report)
