"""Failures you can see (issue 10, point 9): every failed delivery is exactly one WARNING line in
the bot's log, with ids only (the notification's key and kind, the case reference, the platform
and its error or status), and `console:` alert destinations print their card's text there, so a
newcomer sees business-team and channel alerts in `make run`'s log.

Teams through the real bot over HTTP with fake Bot Connectors; email (no mail server configured)
and webhooks (a real loopback port nobody listens on) through the real notifier and runner. The
child's name and every person-facing sentence of a 1:1 card must stay out of every log line.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support import CHILD_NAME, START, derived_config, raise_case
from teams_harness import DANA, HANA, Harness, intake_values, open_harness

from bot.bootstrap import bootstrap
from bot.delivery import build_notifier
from dialogs.clock import SimulatedClock
from dialogs.notifications import Notification, RecipientKind
from scheduler.runner import deliver_due_notifications


def warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno == logging.WARNING]


def failures_of(caplog: pytest.LogCaptureFixture, key: str) -> list[logging.LogRecord]:
    return [r for r in warnings(caplog) if getattr(r, "notification", None) == key]


def assert_no_child_data(caplog: pytest.LogCaptureFixture, *sentences: str) -> None:
    for record in caplog.records:
        line = record.getMessage() + repr(vars(record))
        assert CHILD_NAME not in line, line
        assert "Jamie" not in line, line
        for sentence in sentences:
            assert sentence not in line, line


def assert_one_failure_line(
    caplog: pytest.LogCaptureFixture, note: Notification, platform: str, error: str
) -> logging.LogRecord:
    (record,) = failures_of(caplog, note.key)
    message = record.getMessage()
    assert note.key in message and note.kind in message
    assert note.reference and note.reference in message
    assert f"by {platform}" in message and error in message
    assert getattr(record, "kind", None) == note.kind
    assert getattr(record, "case", None) == note.reference
    assert getattr(record, "platform", None) == platform
    assert error in str(getattr(record, "error", ""))
    return record


# ---- Teams ---------------------------------------------------------------------------------


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with open_harness(tmp_path) as h:
        yield h


async def test_a_teams_refusal_is_one_warning_line_with_its_status(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    caplog.set_level(logging.INFO)
    h.connector.refuse.add(HANA[1])  # the app is not installed for Hana: Teams answers 403
    await h.say(DANA, "escalate")
    await h.click(DANA, "intake", intake_values(h.app))
    case = h.case()
    failed = [
        r for r in warnings(caplog) if "not delivered" in r.getMessage()
        and getattr(r, "platform", None) == "teams"
    ]
    assert failed, [r.getMessage() for r in caplog.records]
    keys = {getattr(r, "notification", None) for r in failed}
    assert len(keys) == len(failed)  # one line per failed delivery, not one per layer
    for record in failed:
        assert HANA[0] in str(getattr(record, "notification", ""))
        assert getattr(record, "case", None) == case.reference
        assert "403" in record.getMessage()
    assert_no_child_data(caplog, "has raised a professional difference with you")


async def test_a_teams_server_error_names_its_status_and_is_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with open_harness(tmp_path) as h:
        await h.say(HANA, "help")  # Hana's chat is known: the message goes into it
        h.connector.failing[f"a:chat-with-{HANA[1]}"] = 502  # a gateway in trouble
        await h.say(DANA, "escalate")
        await h.click(DANA, "intake", intake_values(h.app))
        case = h.case()
        failed = [r for r in warnings(caplog) if getattr(r, "platform", None) == "teams"]
        assert len(failed) == 1, [r.getMessage() for r in warnings(caplog)]
        (record,) = failed
        message = record.getMessage()
        assert "502" in message and "try 1 of 7" in message
        assert getattr(record, "case", None) == case.reference
        assert getattr(record, "kind", None) and getattr(record, "kind", None) in message
    assert_no_child_data(caplog, "has raised a professional difference with you")


# ---- console alerts -------------------------------------------------------------------------


async def test_console_alerts_print_their_text_and_no_child_data(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    caplog.set_level(logging.INFO)
    await h.say(DANA, "escalate")
    await h.click(DANA, "intake", intake_values(h.app))
    case = h.case()
    printed = [
        r for r in caplog.records
        if r.name == "escalation_bot.delivery"
        and "console:northbay-business-team" in r.getMessage()
    ]
    assert printed, [r.getMessage() for r in caplog.records]
    text = "\n".join(r.getMessage() for r in printed)
    assert case.reference in text
    assert "no platform adapter delivers it" not in text
    assert text.count(" | ") >= 2 and "Status: open" in text  # the card, not a stub
    assert_no_child_data(caplog)


# ---- email and webhooks ---------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_email_and_webhook_failures_are_one_warning_line_each(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOW_KEY", "a-shared-secret")
    hook = {"id": "flow", "url": f"http://127.0.0.1:{closed_port()}/hook", "secret_env": "FLOW_KEY"}
    config = derived_config(tmp_path, lambda data: data.__setitem__("webhooks", [hook]))
    app = bootstrap(config, tmp_path / "bot.sqlite3", SimulatedClock(START))
    try:
        case = raise_case(app, "havenport")  # St Helens: the orange form goes to the mailbox
        notifier = build_notifier(app.config)  # no Teams, no mail server: email fails for good
        caplog.set_level(logging.INFO)
        due = [i.notification for i in app.store.due_notifications(app.clock.now(), 1000)]
        assert any(n.recipient.kind is RecipientKind.MAILBOX for n in due)
        _, failed = asyncio.run(
            deliver_due_notifications(app.store, notifier, app.clock, engine=app.engine)
        )
        asyncio.run(notifier.close())
    finally:
        app.close()
    assert failed > 0
    by_platform: dict[str, list[logging.LogRecord]] = {}
    for record in warnings(caplog):
        if getattr(record, "notification", None):
            by_platform.setdefault(str(getattr(record, "platform", "")), []).append(record)
    assert set(by_platform) >= {"email", "webhook"}, by_platform
    for note in due:
        records = failures_of(caplog, note.key)
        assert len(records) <= 1, note.key
        for record in records:
            assert getattr(record, "case", None) == case.reference
    (mailbox,) = [n for n in due if n.recipient.kind is RecipientKind.MAILBOX]
    assert_one_failure_line(caplog, mailbox, "email", "no email server is configured")
    webhook = [r for r in by_platform["webhook"]]
    assert all("webhook" in r.getMessage() for r in webhook)
    assert len(webhook) == len({r.notification for r in webhook})
    assert_no_child_data(caplog)

