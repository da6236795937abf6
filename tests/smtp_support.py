"""A real SMTP server for the email tests: aiosmtpd on 127.0.0.1, capturing what it is sent and
answering as told (451, 550, ...), so the bot's SMTP client is tested against the protocol and
not against a stand-in. Imported as ``from smtp_support import ...`` (see support.py)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServerProtocol
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dialogs.documents import FormDocument


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes


class Capture:
    """An aiosmtpd handler: keeps every accepted message, or answers RCPT / DATA as set."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.rcpt_answer: str | None = None
        self.data_answer: str | None = None
        self.data_attempts = 0

    async def handle_RCPT(
        self,
        server: SMTPServerProtocol,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.rcpt_answer:
            return self.rcpt_answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(
        self, server: SMTPServerProtocol, session: Session, envelope: Envelope
    ) -> str:
        self.data_attempts += 1
        if self.data_answer:
            return self.data_answer
        raw = envelope.content if isinstance(envelope.content, bytes) else b""
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        self.received.append(
            Received(str(envelope.mail_from), list(envelope.rcpt_tos), message, raw)
        )
        return "250 Message accepted for delivery"


def refuse_everyone(
    server: SMTPServerProtocol, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    return AuthResult(success=False, handled=False)


def accept(user: str, password: str) -> Any:
    def check(
        server: SMTPServerProtocol, session: Session, envelope: Envelope, mechanism: str,
        data: Any,
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            user.encode(), password.encode()
        )
        return AuthResult(success=ok)

    return check


@contextmanager
def smtp_server(handler: Capture | None = None, **kwargs: Any) -> Iterator[tuple[Capture, int]]:
    """A running aiosmtpd on 127.0.0.1 and a free port; ``kwargs`` go to its Controller (TLS
    contexts, authenticator, ...)."""
    capture = handler or Capture()
    controller = Controller(capture, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    try:
        yield capture, controller.port
    finally:
        controller.stop()


# ---- TLS ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def self_signed(directory: Path, host: str = "127.0.0.1") -> Certificate:
    """A certificate for ``host`` that no system trusts: pass its file as the CA to trust it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_file, key_file)


# ---- a renderer standing in for adapters.documents ---------------------------------------------


class TextRenderer:
    """Writes the document's text, headed by the format, so each attachment's bytes can be
    checked against exactly what was drawn for that document in that format."""

    def __init__(self) -> None:
        self.drawn: list[tuple[str, str]] = []

    def __call__(self, document: FormDocument, fmt: str) -> bytes:
        self.drawn.append((document.case_reference, fmt))
        return expected_bytes(document, fmt)


def expected_bytes(document: FormDocument, fmt: str) -> bytes:
    return f"{fmt}\n{document.all_text()}".encode()


def attachments_of(message: EmailMessage) -> list[tuple[str, str, bytes]]:
    """(file name, content type, bytes) of each attachment, as a mail client reads them."""
    found = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        found.append((part.get_filename() or "", part.get_content_type(), payload))
    return found


def body_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")  # the wire's line ends, as a mail client shows them
