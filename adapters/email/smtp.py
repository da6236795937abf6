"""Sending one message over SMTP with aiosmtplib, and saying honestly why it did not go.

A new connection per message: the bot sends a few messages an hour, and a fresh connection can
never be a stale one the server closed while idle. Every wait is bounded by ``timeout_seconds``
(connect, each command, the TLS handshake), so a silent server costs one attempt, not the tick.

Failures map to the outbox's two outcomes: a connection refused or dropped, a timeout and any 4xx
answer are retried; a 5xx answer, refused credentials and a failed TLS handshake are permanent,
because sending the same thing again would get the same answer. Reasons name the server's code
and, for answers to the envelope (greeting, EHLO, AUTH, MAIL FROM, RCPT TO), its words, which can
hold an address but nothing from the message. An answer to the message itself (DATA) is reduced
to its codes: some filters quote what they objected to.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import parseaddr
from enum import StrEnum

from dialogs import texts
from dialogs.ports import DeliveryFailed


class Security(StrEnum):
    STARTTLS = "starttls"  # connect in plain, upgrade before anything is said (port 587)
    TLS = "tls"  # TLS from the first byte (port 465)
    NONE = "none"  # plain: only to a server on this machine (a local capture, a loopback relay)


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: Security
    sender: str  # From, e.g. "Escalations <escalations@scp.example>"
    username: str = ""
    password: str = field(default="", repr=False)
    timeout_seconds: float = 30.0
    ca_file: str | None = None

    @property
    def envelope_sender(self) -> str:
        return parseaddr(self.sender)[1]

    def describe(self) -> str:
        """For the start-up log: where, how, and as whom; never the password."""
        who = f" as {self.username}" if self.username else ""
        return f"{self.host}:{self.port} ({self.security.value}){who}"


# Lines as long as SMTP allows (RFC 5321's 998), not the 78 a person's mail client keeps to:
# otherwise a long single-word header (the notification key) is cut into encoded words that a
# receiver matching on it would have to decode first.
WIRE_POLICY = policy.SMTP.clone(max_line_length=998)


async def send(
    message: EmailMessage, server: SmtpServer, recipient: str, local_hostname: str | None = None
) -> None:
    """Send or raise DeliveryFailed. aiosmtplib is imported with the first message, not when the
    bot starts (most starts have no mail server, and ~20 ms of imports)."""
    import aiosmtplib

    try:
        await aiosmtplib.send(
            message.as_bytes(policy=WIRE_POLICY),
            sender=server.envelope_sender,
            recipients=[recipient],
            hostname=server.host,
            port=server.port,
            username=server.username or None,
            password=server.password or None,
            use_tls=server.security is Security.TLS,
            # False, not None: None would let a man in the middle strip STARTTLS and keep plain
            start_tls=server.security is Security.STARTTLS,
            cert_bundle=server.ca_file,
            timeout=server.timeout_seconds,
            local_hostname=local_hostname,
        )
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise failure(exc) from exc


_ENHANCED_STATUS = re.compile(r"^\s*([245]\.\d{1,3}\.\d{1,3})\b")


def _brief(text: str) -> str:
    return " ".join(text.split())[:200]


def _tls_error(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _by_code(code: int, detail: str) -> DeliveryFailed:
    # 5xx: the server will say the same again. Anything else (4xx, odd codes): try again.
    return DeliveryFailed(
        texts.EMAIL_REFUSED.format(code=code, detail=_brief(detail)), permanent=500 <= code < 600
    )


def failure(exc: BaseException) -> DeliveryFailed:
    """What went wrong, and whether trying again can help."""
    import aiosmtplib

    tls = _tls_error(exc)
    if tls is not None:
        detail = getattr(tls, "verify_message", None) or tls.reason or type(tls).__name__
        return DeliveryFailed(texts.EMAIL_TLS.format(error=_brief(str(detail))), permanent=True)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        if 400 <= exc.code < 500:
            return _by_code(exc.code, exc.message)  # e.g. 454: temporary
        return DeliveryFailed(texts.EMAIL_AUTH.format(code=exc.code), permanent=True)
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        refused = exc.recipients[0]
        return _by_code(refused.code, refused.message)
    if isinstance(exc, aiosmtplib.SMTPDataError):
        status = _ENHANCED_STATUS.match(exc.message)
        reason = texts.EMAIL_REFUSED_MESSAGE.format(
            code=exc.code, status=f" {status.group(1)}" if status else ""
        )
        return DeliveryFailed(reason, permanent=500 <= exc.code < 600)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return _by_code(exc.code, exc.message)
    if isinstance(exc, TimeoutError):  # aiosmtplib's timeouts are TimeoutErrors too
        return DeliveryFailed(texts.EMAIL_TIMEOUT, permanent=False)
    if isinstance(exc, OSError):  # refused, reset, unreachable; aiosmtplib's connect errors
        return DeliveryFailed(texts.EMAIL_UNREACHABLE.format(error=_brief(str(exc))), False)
    # the library's own refusals: no STARTTLS or AUTH offered, and the like; a setting to fix
    return DeliveryFailed(texts.EMAIL_UNUSABLE.format(error=_brief(str(exc))), permanent=True)
