"""The email notifier against a real SMTP server (aiosmtpd on loopback): what a message holds,
read back as a mail client would, and every way the server can say no, mapped to "try again"
or "this will never work"."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from smtp_support import (
    Capture,
    TextRenderer,
    accept,
    attachments_of,
    body_of,
    expected_bytes,
    free_port,
    refuse_everyone,
    self_signed,
    smtp_server,
)
from support import CHILD_NAME

from adapters.email.attachments import TEXT_ONLY, Attachments, text_form
from adapters.email.message import KEY_HEADER, subject
from adapters.email.notifier import EmailNotifier
from adapters.email.smtp import Security, SmtpServer
from dialogs.cards import Card, CardAction, Fact
from dialogs.clock import SimulatedClock
from dialogs.documents import DocumentRow, DocumentSection, FormDocument
from dialogs.notifications import Notification, Recipient
from dialogs.ports import DeliveryFailed

NOW = datetime(2027, 2, 1, 10, 0, tzinfo=UTC)
SENDER = "Escalations <escalations@partnership.example>"
MAILBOX = "scpescalations@sthelens.gov.uk"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def form() -> FormDocument:
    return FormDocument(
        partnership="Havenport Safeguarding Children Partnership",
        form_id="notification-stage-2",
        title="Green Stage 2 Notification Form",
        colour="green",
        case_reference="HP-0007",
        stage=2,
        produced_at="01/02/2027 10:00",
        sections=[
            DocumentSection(
                title="Child",
                rows=[DocumentRow(label="Child's name", value=CHILD_NAME, sensitive=True)],
            )
        ],
    )


def notification(
    kind: str = "form-notification-stage-2",
    *,
    key: str = "case7:v3:form-notification-stage-2:mailbox:" + MAILBOX,
    recipient: Recipient | None = None,
    documents: list[FormDocument] | None = None,
    title: str = "Green Stage 2 Notification Form",
) -> Notification:
    card = Card(
        title=title,
        text="Filed for the partnership's record.",
        facts=[Fact(label="Case", value="HP-0007"), Fact(label="Child", value=CHILD_NAME)],
        sections=[("Principles", ["Keep the child at the centre."])],
        actions=[CardAction(command="resolve", label="Record agreed resolution")],
    )
    return Notification(
        key=key,
        case_id="case7",
        recipient=recipient or Recipient.mailbox(MAILBOX),
        card=card,
        deliver_at=NOW,
        kind=kind,
        reference="HP-0007",
        stage=2,
        documents=[form()] if documents is None else documents,
    )


def server_at(port: int, **changes: object) -> SmtpServer:
    settings: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "security": Security.NONE,
        "sender": SENDER,
        "timeout_seconds": 5.0,
    }
    settings.update(changes)
    return SmtpServer(**settings)  # type: ignore[arg-type]


def notifier_for(server: SmtpServer, renderer: TextRenderer | None = None) -> EmailNotifier:
    attachments = Attachments(renderer or TextRenderer())
    return EmailNotifier(server, attachments, SimulatedClock(NOW), local_hostname="bot.test")


@pytest.fixture
def smtp() -> Iterator[tuple[Capture, int]]:
    with smtp_server() as running:
        yield running


# ---- what arrives ------------------------------------------------------------------------------


async def test_a_form_copy_arrives_with_its_card_and_both_attachments(
    smtp: tuple[Capture, int],
) -> None:
    capture, port = smtp
    renderer = TextRenderer()
    note = notification()
    await notifier_for(server_at(port), renderer).deliver(note)

    (got,) = capture.received
    assert got.mail_from == "escalations@partnership.example"
    assert got.rcpt_tos == [MAILBOX]
    message = got.message
    assert message["From"] == SENDER
    assert message["To"] == MAILBOX
    assert message["Subject"] == "[HP-0007] Stage 2: Green Stage 2 Notification Form"
    assert parsedate_to_datetime(message["Date"]) == NOW  # the bot's clock, not the machine's
    assert message[KEY_HEADER] == note.key  # one line, however long the key
    assert message["Auto-Submitted"] == "auto-generated"
    body = body_of(message)
    for line in (
        "Green Stage 2 Notification Form",
        "Filed for the partnership's record.",
        "Case: HP-0007",
        f"Child: {CHILD_NAME}",
        "Principles",
        "  - Keep the child at the centre.",
        "Attached: HP-0007-notification-stage-2-stage-2.docx,"
        " HP-0007-notification-stage-2-stage-2.pdf.",
        "file it on the child's record and do not forward it",
        "to act on case HP-0007, use the bot in your chat",
    ):
        assert line in body, line
    assert "Record agreed resolution" not in body  # a button an email cannot press
    assert attachments_of(message) == [
        ("HP-0007-notification-stage-2-stage-2.docx", DOCX, expected_bytes(form(), "docx")),
        ("HP-0007-notification-stage-2-stage-2.pdf", "application/pdf",
         expected_bytes(form(), "pdf")),
    ]
    assert renderer.drawn == [("HP-0007", "docx"), ("HP-0007", "pdf")]


async def test_a_message_without_forms_has_no_attachments(smtp: tuple[Capture, int]) -> None:
    capture, port = smtp
    person = Recipient.person("eli.wren@health.northbay.example")
    note = notification("stage-prompt", key="c:v2:stage-prompt:person:eli", recipient=person,
                        documents=[], title="Case HP-0007: stage 2 is yours")
    await notifier_for(server_at(port)).deliver(note)
    (got,) = capture.received
    assert got.rcpt_tos == ["eli.wren@health.northbay.example"]
    assert got.message["Subject"] == "[HP-0007] Stage 2 is yours"
    assert attachments_of(got.message) == []
    assert "Attached" not in body_of(got.message)


async def test_the_same_notification_sent_twice_has_the_same_message_id(
    smtp: tuple[Capture, int],
) -> None:
    """Delivery is at-least-once: a repeat after a crash must be recognisable as a repeat."""
    capture, port = smtp
    notifier = notifier_for(server_at(port))
    await notifier.deliver(notification())
    await notifier.deliver(notification())
    await notifier.deliver(notification(key="case7:v4:form-notification-stage-2:mailbox:x"))
    first, again, other = (r.message["Message-ID"] for r in capture.received)
    assert first == again != other
    assert first.endswith("@partnership.example>")
    assert "case7" not in first  # a digest of the key, not the key


async def test_without_a_renderer_forms_travel_as_text(smtp: tuple[Capture, int]) -> None:
    capture, port = smtp
    notifier = EmailNotifier(server_at(port), TEXT_ONLY, SimulatedClock(NOW))
    await notifier.deliver(notification())
    ((name, kind, data),) = attachments_of(capture.received[0].message)
    assert (name, kind) == ("HP-0007-notification-stage-2-stage-2.txt", "text/plain")
    assert data == text_form(form(), "txt") and CHILD_NAME in data.decode()


def test_the_subject_never_comes_from_the_card() -> None:
    """A card's title is the engine's headline; the subject is built only from the reference,
    the stage and the kind, so nothing on the card can reach a lock screen."""
    for kind, expected in [
        ("stage-prompt", "[HP-0007] Stage 2 is yours"),
        ("moved-on", "[HP-0007] Moved to stage 2"),
        ("reminder", "[HP-0007] Stage 2 is due today"),
        ("step-lapsed-refer", "[HP-0007] Stage 2: a step is overdue"),
        ("tier-empty-line_manager-hp-school", "[HP-0007] Stage 2: the next manager is not known"),
        ("resolved", "[HP-0007] Resolved at stage 2"),
        ("something-new", "[HP-0007] Stage 2: an update on the case"),
    ]:
        note = notification(kind, documents=[], title=f"About {CHILD_NAME}")
        assert subject(note) == expected
    old = notification("moved-on", documents=[]).model_copy(update={"reference": "", "stage": None})
    assert subject(old) == "[HP-0007] An update on the case"  # the reference from the card


# ---- what goes wrong ---------------------------------------------------------------------------


async def test_nothing_listening_is_worth_another_try() -> None:
    with pytest.raises(DeliveryFailed) as failed:
        await notifier_for(server_at(free_port())).deliver(notification())
    assert failed.value.permanent is False
    assert failed.value.reason.startswith("the email server could not be reached")


async def test_a_server_that_never_answers_times_out_and_is_retried() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # the kernel accepts; nobody ever says 220
        port = silent.getsockname()[1]
        notifier = notifier_for(server_at(port, timeout_seconds=0.3))
        with pytest.raises(DeliveryFailed) as failed:
            await asyncio.wait_for(notifier.deliver(notification()), 10)
    assert failed.value.permanent is False
    assert failed.value.reason == "the email server did not answer in time"


@pytest.mark.parametrize(
    ("where", "answer", "permanent", "reason"),
    [
        ("data", "451 4.3.0 Try again later", False,
         "the email server refused the message (451 4.3.0)"),
        ("data", f"554 5.7.1 Rejected: the word {CHILD_NAME} looks like spam", True,
         "the email server refused the message (554 5.7.1)"),
        ("rcpt", f"550 5.1.1 <{MAILBOX}>: mailbox unavailable", True,
         f"the email server refused it (550 5.1.1 <{MAILBOX}>: mailbox unavailable)"),
        ("rcpt", "452 4.2.2 Mailbox full", False, "the email server refused it (452 4.2.2"
         " Mailbox full)"),
    ],
)
async def test_the_servers_answer_decides_whether_to_try_again(
    smtp: tuple[Capture, int], where: str, answer: str, permanent: bool, reason: str
) -> None:
    capture, port = smtp
    if where == "data":
        capture.data_answer = answer
    else:
        capture.rcpt_answer = answer
    with pytest.raises(DeliveryFailed) as failed:
        await notifier_for(server_at(port)).deliver(notification())
    assert failed.value.permanent is permanent
    assert failed.value.reason == reason  # an answer to the message never quotes the server
    assert capture.received == []


async def test_refused_credentials_are_permanent_and_say_what_to_check() -> None:
    with smtp_server(authenticator=refuse_everyone, auth_require_tls=False) as (capture, port):
        server = server_at(port, username="bot", password="wrong")
        with pytest.raises(DeliveryFailed) as failed:
            await notifier_for(server).deliver(notification())
    assert failed.value.permanent is True
    assert failed.value.reason.startswith("the email server refused the bot's user name or"
                                          " password (535)")
    assert "ESCALATION_BOT_SMTP_PASSWORD" in failed.value.reason
    assert "wrong" not in failed.value.reason
    assert capture.received == []


async def test_good_credentials_are_used() -> None:
    with smtp_server(authenticator=accept("bot", "s3cret"), auth_require_tls=False) as (
        capture,
        port,
    ):
        await notifier_for(server_at(port, username="bot", password="s3cret")).deliver(
            notification()
        )
    assert len(capture.received) == 1


async def test_starttls_is_required_when_configured(smtp: tuple[Capture, int]) -> None:
    """A server (or a man in the middle) that does not offer STARTTLS gets nothing in plain."""
    capture, port = smtp
    with pytest.raises(DeliveryFailed) as failed:
        await notifier_for(server_at(port, security=Security.STARTTLS)).deliver(notification())
    assert failed.value.permanent is True
    assert "STARTTLS" in failed.value.reason
    assert capture.received == []


async def test_an_untrusted_certificate_is_refused_and_a_trusted_one_works(
    tmp_path: Path,
) -> None:
    cert = self_signed(tmp_path)
    with smtp_server(tls_context=cert.server_context(), require_starttls=True) as (capture, port):
        with pytest.raises(DeliveryFailed) as failed:
            await notifier_for(server_at(port, security=Security.STARTTLS)).deliver(
                notification()
            )
        assert failed.value.permanent is True
        assert failed.value.reason.startswith("a secure connection to the email server failed")
        assert "certificate" in failed.value.reason
        trusted = server_at(port, security=Security.STARTTLS, ca_file=str(cert.cert_file))
        await notifier_for(trusted).deliver(notification())
    assert len(capture.received) == 1


async def test_implicit_tls(tmp_path: Path) -> None:
    cert = self_signed(tmp_path)
    with smtp_server(ssl_context=cert.server_context()) as (capture, port):
        server = server_at(port, security=Security.TLS, ca_file=str(cert.cert_file))
        await notifier_for(server).deliver(notification())
        with pytest.raises(DeliveryFailed) as failed:
            await notifier_for(server_at(port, security=Security.TLS)).deliver(notification())
    assert failed.value.permanent is True and "certificate" in failed.value.reason
    assert len(capture.received) == 1


async def test_a_channel_is_not_an_email_address(smtp: tuple[Capture, int]) -> None:
    _, port = smtp
    note = notification(recipient=Recipient.channel("teams:19:abc"), documents=[])
    with pytest.raises(DeliveryFailed) as failed:
        await notifier_for(server_at(port)).deliver(note)
    assert failed.value.permanent is True


async def test_a_renderer_that_breaks_fails_the_message_for_good(
    smtp: tuple[Capture, int],
) -> None:
    capture, port = smtp

    def broken(document: FormDocument, fmt: str) -> bytes:
        raise RuntimeError(f"cannot draw {document.sections[0].rows[0].value}")

    notifier = EmailNotifier(server_at(port), Attachments(broken), SimulatedClock(NOW))
    with pytest.raises(DeliveryFailed) as failed:
        await notifier.deliver(notification())
    assert failed.value.permanent is True
    assert failed.value.reason == "the attached form could not be produced (RuntimeError)"
    assert capture.received == []


async def test_the_forms_are_drawn_off_the_event_loop(smtp: tuple[Capture, int]) -> None:
    """A fresh-clone trial caught the loop inside the PDF library while an email's forms were
    drawn, and a /readyz waiting seconds behind it: drawing is CPU work, so it runs in a thread
    and the loop goes on answering turns and probes meanwhile."""
    capture, port = smtp
    loop_thread = threading.get_ident()
    drawn_in: list[int] = []

    def drawing(document: FormDocument, fmt: str) -> bytes:
        drawn_in.append(threading.get_ident())
        return expected_bytes(document, fmt)

    notifier = EmailNotifier(server_at(port), Attachments(drawing), SimulatedClock(NOW),
                             local_hostname="bot.test")
    await notifier.deliver(notification())
    assert len(capture.received) == 1
    assert drawn_in and loop_thread not in drawn_in
