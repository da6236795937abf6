"""`escalation-bot mail-capture`, the local mail server `make run` starts: run as a process, sent
a real email by the bot's own notifier, it writes the message to its folder as an .eml that
reads back whole, named by arrival time and notification key."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import IO

from smtp_support import TextRenderer, attachments_of, expected_bytes, free_port
from support import CHILD_NAME, EXAMPLE_CONFIG, REPO, raise_case
from test_email_smtp import MAILBOX, SENDER, form, notification

from adapters.email.attachments import Attachments
from adapters.email.capture import file_name
from adapters.email.notifier import EmailNotifier
from adapters.email.smtp import Security, SmtpServer
from bot.bootstrap import bootstrap
from dialogs.clock import SimulatedClock, SystemClock


def test_every_message_is_written_as_an_eml_file(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "mail-capture", "--dir", str(folder), "--port",
         str(port)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()
        assert ready.startswith(f"mail-capture: listening on smtp://127.0.0.1:{port};")
        assert f"written to {folder}/" in ready  # it says where to look
        server = SmtpServer("127.0.0.1", port, Security.NONE, SENDER, timeout_seconds=5)
        notifier = EmailNotifier(server, Attachments(TextRenderer()), SimulatedClock(
            datetime(2027, 2, 1, 10, tzinfo=UTC)))
        note = notification()
        asyncio.run(notifier.deliver(note))
        announced = process.stdout.readline()
        assert announced.startswith("mail-capture: [HP-0007] Stage 2: Green Stage 2")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    (written,) = folder.iterdir()
    assert written.suffix == ".eml"
    stamp, _, key = written.stem.partition("Z-")
    assert datetime.strptime(stamp, "%Y%m%dT%H%M%S.%f")
    assert key == note.key.replace(":", "-")
    assert CHILD_NAME not in written.name
    message = BytesParser(policy=policy.default).parsebytes(written.read_bytes())
    assert message["To"] == MAILBOX and message["X-Escalation-Key"] == note.key
    assert isinstance(message, EmailMessage)
    names = [(name, data) for name, _, data in attachments_of(message)]
    assert names == [
        ("HP-0007-notification-stage-2-stage-2.docx", expected_bytes(form(), "docx")),
        ("HP-0007-notification-stage-2-stage-2.pdf", expected_bytes(form(), "pdf")),
    ]


def test_a_message_without_a_key_is_named_by_its_message_id() -> None:
    raw = b"Message-ID: <abc@x.example>\r\nSubject: hi\r\n\r\nbody\r\n"
    at = datetime(2027, 2, 1, 10, 0, 0, 5, tzinfo=UTC)
    assert file_name(raw, at) == "20270201T100000.000005Z-abc@x.example.eml"
    assert file_name(b"Subject: hi\r\n\r\n", at).endswith("-message.eml")


def test_it_refuses_to_listen_beyond_this_machine() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "mail-capture", "--host", "0.0.0.0"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert "listens only on this machine" in result.stderr


def test_a_port_in_use_is_named(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "mail-capture", "--dir", str(tmp_path), "--port",
             str(port)],
            cwd=REPO, capture_output=True, text=True, timeout=60,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


# ---- make run ----------------------------------------------------------------------------------


def read_until(stream: IO[str], marker: str) -> str:
    """Lines from a running process until one holds ``marker`` (its own pace, no sleeping)."""
    lines: list[str] = []
    while not lines or marker not in lines[-1]:
        line = stream.readline()
        assert line, f"the process ended: {''.join(lines)}"
        lines.append(line)
    return "".join(lines)


def test_make_run_starts_the_capture_beside_the_bot_and_an_email_lands_in_the_folder(
    tmp_path: Path,
) -> None:
    """tools/run.sh (what `make run` runs), without the Playground: it starts the capture, says
    where the mail goes, points the bot at it; a St Helens case's form reaches the folder as an
    .eml; Ctrl-C stops both."""
    mail_dir, database = tmp_path / "mail", tmp_path / "bot.sqlite3"
    bot_port, mail_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ESCALATION_BOT_")},
        "PLAYGROUND_PEOPLE": "none",
        "MAIL_CAPTURE_PORT": str(mail_port),
        "MAIL_CAPTURE_DIR": str(mail_dir),
        "ESCALATION_BOT_PORT": str(bot_port),
        "ESCALATION_BOT_DATABASE": str(database),
        "ESCALATION_BOT_TICK_SECONDS": "0.2",
    }
    process = subprocess.Popen(
        ["bash", "tools/run.sh", str(Path(sys.executable).parent)], cwd=REPO, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )
    try:
        assert process.stdout is not None
        said = read_until(process.stdout, "Every email the bot sends")
        assert f"listening on smtp://127.0.0.1:{mail_port}" in said
        assert "escalation-bot is running at" in said
        assert f"is written to {mail_dir}/ as .eml" in said
        app = bootstrap(EXAMPLE_CONFIG, database, SystemClock())
        try:
            case = raise_case(app, "havenport", immediate_risk="yes")  # sent at once, any hour
        finally:
            app.close()
        announced = read_until(process.stdout, "mail-capture: [")
        assert f"[{case.reference}] Stage 1: Orange Stage 1 Notification Form" in announced
        (written,) = mail_dir.glob("*.eml")
        assert "form-notification-stage-1-mailbox-scpescalations@sthelens.gov.uk" in written.name
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in the terminal
        process.wait(timeout=20)
    for port in (bot_port, mail_port):
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"
