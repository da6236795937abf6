"""A mail server for trying the bot on one machine (`make run`): it accepts every message on
loopback and writes it, exactly as received, to a folder as an ``.eml`` file that any mail client
opens, so a person sees the email a business manager would get, forms attached.

It delivers nothing anywhere else and listens only on loopback. The files hold what the messages
hold (children's details among them, if real ones were typed in): they stay in ``var/mail/``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

_UNSAFE = re.compile(r"[^A-Za-z0-9.@-]+")


def file_name(raw: bytes, at: datetime) -> str:
    """``<time>-<notification key>.eml``: in the order they came, and named by what they were
    (the key holds ids and an address, never a child's details)."""
    headers = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
    key = str(headers.get("X-Escalation-Key") or headers.get("Message-ID") or "message")
    stem = _UNSAFE.sub("-", key).strip("-")[:150] or "message"
    return f"{at.strftime('%Y%m%dT%H%M%S.%fZ')}-{stem}.eml"


class MailFolder:
    """An aiosmtpd handler writing each message to ``folder``; a file appears whole or not at
    all (written aside, then renamed), so a mail client never opens half of one."""

    def __init__(self, folder: Path, announce: bool = True) -> None:
        self.folder = folder
        self.announce = announce
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        path = self.folder / file_name(raw, datetime.now(UTC))
        partial = path.with_suffix(".part")
        partial.write_bytes(raw)
        partial.replace(path)
        if self.announce:
            subject = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
            print(f"mail-capture: {subject.get('Subject', '')} -> {path}", flush=True)
        return "250 Message accepted for delivery"


async def serve(folder: Path, host: str, port: int) -> None:
    """Until SIGINT or SIGTERM."""
    # aiosmtpd logs each line of every message at DEBUG: never let that reach a log
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    loop = asyncio.get_running_loop()
    handler = MailFolder(folder)
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="mail-capture", ident="escalation-bot mail-capture"),
        host,
        port,
    )
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(
        f"mail-capture: listening on smtp://{host}:{port}; every message is written to"
        f" {folder}/ as .eml",
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()
