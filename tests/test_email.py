"""Email end to end: whole cases for every bundled procedure, delivered by the real runner through
the real RoutingNotifier and EmailNotifier to a real SMTP server (aiosmtpd on loopback), each
message read back field by field as a mail client reads it. Then every way sending fails, and
what the case, the business team, the outbox and the metrics make of it.

Teams is the one thing faked: a ConsoleNotifier stands in for it, so the test can see which
messages routing gave to Teams rather than to email. Time moves only on the SimulatedClock.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from smtp_support import (
    Capture,
    Received,
    TextRenderer,
    attachments_of,
    body_of,
    expected_bytes,
    free_port,
    smtp_server,
)
from support import (
    CHILD_DOB,
    CHILD_IDS,
    CHILD_NAME,
    EXAMPLE_CONFIG,
    PARTNERSHIPS,
    REPO,
    app_for,
    business_team_channel,
    clock_of,
    current,
    decide,
    derived_config,
    escalate_to,
    people_with,
    policy_of,
    raise_case,
    resolve,
)

from adapters.console.render import ConsoleNotifier
from adapters.email.attachments import MIME_TYPES, Attachments
from adapters.email.message import KEY_HEADER, card_text
from adapters.email.notifier import EmailNotifier
from adapters.email.smtp import Security, SmtpServer
from bot.bootstrap import App, bootstrap
from bot.delivery import RoutingNotifier, build_notifier
from bot.metrics import Metrics
from dialogs.audit import ReadKind
from dialogs.case import Case
from dialogs.clock import SimulatedClock
from dialogs.documents import document_file_name
from dialogs.events import EventType
from dialogs.notifications import Notification, RecipientKind
from scheduler.runner import deliver_due_notifications

SENDER = "Escalations <escalations@partnership.example>"
HP_MAILBOX = "scpescalations@sthelens.gov.uk"
NB_HEADS = {"alex.rowe@council.northbay.example", "eli.wren@health.northbay.example"}
SECRETS = [
    CHILD_NAME,
    "Jamie",
    CHILD_DOB.isoformat(),
    CHILD_DOB.strftime("%d/%m/%Y"),
    CHILD_DOB.strftime("%d%m%Y"),
    CHILD_IDS,
    "000000",
]


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s.lower() in text.lower()]


def bot_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the bot's process logs; aiosmtpd's own debug log of what it received is the test
    server's, not the bot's."""
    return [r for r in caplog.records if not r.name.startswith("mail.log")]


@dataclass
class Bot:
    """The real app and delivery path; Teams is a ConsoleNotifier standing in for the platform."""

    app: App
    notifier: RoutingNotifier
    teams: ConsoleNotifier
    metrics: Metrics
    renderer: TextRenderer = field(default_factory=TextRenderer)

    def deliver(self) -> tuple[int, int]:
        return asyncio.run(
            deliver_due_notifications(
                self.app.store, self.notifier, self.app.clock, engine=self.app.engine,
                observer=self.metrics, max_batches=100,
            )
        )

    def counted(self, name: str, platform: str) -> float:
        value = self.metrics.registry.get_sample_value(name, {"platform": platform})
        return value or 0.0

    def status(self, key: str) -> str:
        found = self.app.store.notification(key)
        assert found is not None
        return found[1]


def make_bot(app: App, port: int | None, renderer: TextRenderer | None = None) -> Bot:
    with_teams = {p.email for p in app.config.people if p.teams_aad_object_id}
    teams = ConsoleNotifier(echo=False)
    renderer = renderer or TextRenderer()
    email = None
    if port is not None:
        server = SmtpServer("127.0.0.1", port, Security.NONE, SENDER, timeout_seconds=5.0)
        email = EmailNotifier(server, Attachments(renderer), app.clock, local_hostname="bot.test")
    notifier = build_notifier(app.config, teams, with_teams.__contains__, email)
    return Bot(app, notifier, teams, Metrics(app.store, app.clock), renderer)


def without_teams(data: dict[str, Any]) -> None:
    for person in data["people"]:
        person.pop("teams_aad_object_id", None)


def everything_sent(app: App) -> list[Notification]:
    """Every notification the outbox holds, whatever its state (the store is a SQLite file)."""
    store: Any = app.store
    rows = store._db.execute("SELECT json FROM outbox").fetchall()
    return [Notification.model_validate_json(row[0]) for row in rows]


def by_key(received: list[Received]) -> dict[str, Received]:
    found: dict[str, Received] = {}
    for got in received:
        key = str(got.message[KEY_HEADER])
        assert key not in found, f"{key} arrived twice"
        found[key] = got
    return found


def run_cases(app: App, partnership: str) -> list[Case]:
    """One case escalated to the last stage and decided there; one resolved at stage 3 (NSSCP
    copies that stage's record to each agency's Head of Safeguarding). Every stage entered files
    its forms; every close files its own."""
    policy = policy_of(app, partnership)
    final = policy.final_stage
    decided = escalate_to(app, raise_case(app, partnership), final.number)
    decider = people_with(app, partnership, final.decision_by or final.holder_roles[0])[0]
    decided = decide(app, decided, decider.email)
    resolved = resolve(app, escalate_to(app, raise_case(app, partnership), 3))
    return [current(app, decided), current(app, resolved)]


def check_message(bot: Bot, note: Notification, got: Received) -> None:
    """One email against the notification it came from, field by field."""
    message = got.message
    assert got.mail_from == "escalations@partnership.example"
    assert got.rcpt_tos == [note.recipient.address]
    assert message["To"] == note.recipient.address
    assert message["From"] == SENDER
    subject = str(message["Subject"])
    case = current(bot.app, note.case_id)
    assert subject.startswith(f"[{case.reference}] "), subject
    assert f"tage {note.stage}" in subject, subject
    assert leaks(subject) == [], subject
    if note.documents:
        assert subject.endswith(f": {note.documents[0].title}"), subject
    body = body_of(message)
    assert card_text(note.card) in body
    expected = [
        (
            document_file_name(document, fmt),
            "/".join(MIME_TYPES[fmt]),
            expected_bytes(document, fmt),
        )
        for document in note.documents
        for fmt in ("docx", "pdf")
    ]
    assert attachments_of(message) == expected
    for name, _, _ in expected:
        assert leaks(name) == [], name
        assert name.startswith(f"{case.reference}-")
    if note.documents:
        assert CHILD_NAME in note.documents[0].all_text()  # the form is the child's record
    assert leaks(str(message["Message-ID"])) == []


# ---- every bundled procedure ---------------------------------------------------------------------


@pytest.fixture(params=list(PARTNERSHIPS), ids=list(PARTNERSHIPS.values()))
def partnership(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def mail() -> Iterator[tuple[Capture, int]]:
    with smtp_server() as running:
        yield running


def test_with_nobody_on_teams_every_message_arrives_by_email(
    tmp_path: Path, partnership: str, mail: tuple[Capture, int], caplog: pytest.LogCaptureFixture
) -> None:
    """Nobody has a Teams account: every message to a person or a mailbox is an email, and each
    one arrives once, with its subject, text and forms, and is marked sent."""
    caplog.set_level(logging.DEBUG)
    capture, port = mail
    app, _ = app_for(tmp_path, config=derived_config(tmp_path, without_teams))
    try:
        bot = make_bot(app, port)
        cases = run_cases(app, partnership)
        sent, failed = bot.deliver()
        assert failed == 0
        assert sent == len(everything_sent(app))

        notes = everything_sent(app)
        emailed = [n for n in notes if n.recipient.kind in (RecipientKind.PERSON,
                                                             RecipientKind.MAILBOX)]
        arrived = by_key(capture.received)
        assert sorted(arrived) == sorted(n.key for n in emailed)
        assert bot.teams.sink == []
        for note in emailed:
            check_message(bot, note, arrived[note.key])
            assert bot.status(note.key) == "sent"
        assert bot.counted("escalation_notifications_sent_total", "email") == len(emailed)
        assert {n.case_id for n in emailed} == {c.id for c in cases}
        forms = [n for n in emailed if n.documents]
        if partnership == "carrow":
            assert forms == []  # SP Jersey files no forms of its own
        else:
            assert forms, "this procedure files forms"
            assert len(bot.renderer.drawn) == 2 * sum(len(n.documents) for n in forms)
        # each form emailed is in its case's read log, in the recipient's name
        read = sorted(
            (r.case_id, r.reader, r.detail)
            for case in cases for r in app.store.reads(case.id)
            if r.kind is ReadKind.DOCUMENT and r.platform == "email"
        )
        assert read == sorted(
            (n.case_id, n.recipient.address, f"{d.form_id} attached")
            for n in forms for d in n.documents
        )
        ours = bot_records(caplog)
        assert ours  # the log notifier's channel lines, at least
        for record in ours:
            assert leaks(record.getMessage()) == [], record.getMessage()
    finally:
        app.close()


def test_only_mailboxes_and_people_without_teams_get_email(
    tmp_path: Path, partnership: str, mail: tuple[Capture, int]
) -> None:
    """On the example directory everyone but Northbay's two Heads of Safeguarding is on Teams:
    St Helens' forms reach its mailbox, NSSCP's Appendix 1 reaches the Heads by email, and
    everything else goes to Teams."""
    capture, port = mail
    app, _ = app_for(tmp_path)
    try:
        bot = make_bot(app, port)
        run_cases(app, partnership)
        assert bot.deliver()[1] == 0
        notes = everything_sent(app)
        arrived = by_key(capture.received)
        expected = {
            n.key
            for n in notes
            if n.recipient.kind is RecipientKind.MAILBOX
            or (n.recipient.kind is RecipientKind.PERSON and n.recipient.address in NB_HEADS)
        }
        assert set(arrived) == expected
        for note in notes:
            if note.key in arrived:
                check_message(bot, note, arrived[note.key])
        to_teams = {n.key for n in bot.teams.sink}
        people = {n.key for n in notes if n.recipient.kind is RecipientKind.PERSON}
        assert to_teams == people - expected
        if partnership == "havenport":
            colours = sorted(str(r.message["Subject"]) for r in capture.received)
            assert any("Orange Stage 1 Notification Form" in s for s in colours)
            assert {tuple(r.rcpt_tos) for r in capture.received} == {(HP_MAILBOX,)}
        elif partnership == "northbay":
            # stage 3's copy goes to the raising agency's Head of Safeguarding only (seed 001:
            # "your own agency Head of Safeguarding"); the council raised this case
            raising_head = "alex.rowe@council.northbay.example"
            assert {r.rcpt_tos[0] for r in capture.received} == {raising_head}
            assert all("Appendix 1" in str(r.message["Subject"]) for r in capture.received)
        else:
            assert capture.received == []
    finally:
        app.close()


# ---- when sending fails ------------------------------------------------------------------------


@pytest.fixture
def havenport(tmp_path: Path) -> Iterator[App]:
    app, _ = app_for(tmp_path)
    yield app
    app.close()


def mailbox_note(app: App, case: Case) -> Notification:
    (note,) = [
        n for n in everything_sent(app)
        if n.case_id == case.id and n.recipient.kind is RecipientKind.MAILBOX
    ]
    return note


def failures(app: App, case: Case) -> list[str]:
    return [e.summary for e in app.store.history(case.id) if e.type is EventType.DELIVERY_FAILED]


def business_alerts(app: App, case: Case) -> list[Notification]:
    channel = business_team_channel(app, case.partnership_id)
    return [
        n for n in everything_sent(app)
        if n.case_id == case.id and n.kind == "delivery-failed" and n.recipient.address == channel
    ]


def test_nothing_listening_is_retried_with_backoff_then_reported(
    havenport: App, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    app, clock = havenport, clock_of(havenport)
    bot = make_bot(app, free_port())  # nobody listens there
    case = raise_case(app, "havenport")
    note = mailbox_note(app, case)
    start = clock.now()
    for attempt, minutes_since_start in enumerate((0, 1, 3, 7, 15, 31, 63), start=1):
        clock.set(start + timedelta(minutes=minutes_since_start))
        bot.deliver()
        assert bot.status(note.key) != "sent"
        assert len(failures(app, case)) == attempt
        if attempt < 7:
            assert business_alerts(app, case) == [], attempt
            assert bot.status(note.key) == "pending"
    assert bot.status(note.key) == "failed"
    last = failures(app, case)[-1]
    assert f"message 'form-notification-stage-1' to mailbox:{HP_MAILBOX} not delivered" in last
    assert "the email server could not be reached" in last and "gave up after 7 tries" in last
    (alert,) = business_alerts(app, case)
    assert "could not be delivered" in alert.card.title and leaks(alert.card.all_text()) == []
    assert bot.counted("escalation_notifications_failed_total", "email") == 7
    assert bot.counted("escalation_notifications_sent_total", "email") == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
                and note.key in r.getMessage()]
    assert len(warnings) == 7
    for record in bot_records(caplog):
        assert leaks(record.getMessage()) == []


def test_a_451_is_retried_and_goes_once_the_server_takes_it(
    havenport: App, mail: tuple[Capture, int]
) -> None:
    capture, port = mail
    capture.data_answer = "451 4.3.0 Mail server temporarily unavailable"
    app, clock = havenport, clock_of(havenport)
    bot = make_bot(app, port)
    case = raise_case(app, "havenport")
    note = mailbox_note(app, case)
    start = clock.now()
    bot.deliver()
    assert bot.status(note.key) == "pending"
    clock.set(start + timedelta(seconds=59))
    bot.deliver()
    assert capture.data_attempts == 1  # the first wait is a minute
    clock.set(start + timedelta(minutes=1))
    bot.deliver()
    assert capture.data_attempts == 2
    (first, second) = failures(app, case)
    assert "(451 4.3.0); try 1 of 7, the next in 1 min" in first
    assert "(451 4.3.0); try 2 of 7, the next in 2 min" in second
    capture.data_answer = None
    clock.set(start + timedelta(minutes=3))
    bot.deliver()
    assert bot.status(note.key) == "sent"
    (got,) = capture.received
    check_message(bot, note, got)
    assert business_alerts(app, case) == []  # it went in the end: nobody needs telling
    assert len(failures(app, case)) == 2


def test_a_550_is_not_retried_and_the_business_team_is_told(
    havenport: App, mail: tuple[Capture, int]
) -> None:
    capture, port = mail
    capture.rcpt_answer = f"550 5.1.1 <{HP_MAILBOX}>: Recipient address rejected"
    app, clock = havenport, clock_of(havenport)
    bot = make_bot(app, port)
    case = raise_case(app, "havenport")
    note = mailbox_note(app, case)
    bot.deliver()
    assert bot.status(note.key) == "failed"
    (summary,) = failures(app, case)
    assert summary.endswith(
        f"not delivered: the email server refused it (550 5.1.1 <{HP_MAILBOX}>: Recipient"
        " address rejected)"
    )
    (alert,) = business_alerts(app, case)
    assert f"a message to mailbox:{HP_MAILBOX} could not be delivered" in alert.card.title
    capture.rcpt_answer = None
    clock.advance(timedelta(hours=3))
    bot.deliver()
    assert capture.received == []  # refused for good: never tried again
    assert bot.status(note.key) == "failed"


def test_a_rejected_message_is_reported_without_the_servers_words(
    havenport: App, mail: tuple[Capture, int]
) -> None:
    """A content filter may quote what it objected to: that never reaches the history."""
    capture, port = mail
    capture.data_answer = f"554 5.7.1 Message rejected: '{CHILD_NAME}' looks like a name"
    app = havenport
    bot = make_bot(app, port)
    case = raise_case(app, "havenport")
    bot.deliver()
    (summary,) = failures(app, case)
    assert summary.endswith("the email server refused the message (554 5.7.1)")
    assert leaks(business_alerts(app, case)[0].card.all_text()) == []


def test_without_a_mail_server_nothing_is_counted_as_sent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No SMTP configured: a mailbox copy, and a message to someone with no Teams account, fail
    for good and say so, rather than vanishing into a log as 'sent'."""
    caplog.set_level(logging.WARNING)
    app, _ = app_for(tmp_path)
    try:
        bot = make_bot(app, None)
        case = raise_case(app, "havenport")
        note = mailbox_note(app, case)
        bot.deliver()
        assert bot.status(note.key) == "failed"
        (summary,) = failures(app, case)
        assert summary.endswith(
            f"no email server is configured, so mailbox {HP_MAILBOX} got nothing; the IT admin"
            " sets ESCALATION_BOT_SMTP_URL"
        )
        (alert,) = business_alerts(app, case)
        assert "ESCALATION_BOT_SMTP_URL" in alert.card.title
        assert bot.counted("escalation_notifications_failed_total", "email") == 1
        assert bot.counted("escalation_notifications_sent_total", "email") == 0
        assert bot.counted("escalation_notifications_sent_total", "teams") > 0

        northbay = resolve(app, escalate_to(app, raise_case(app, "northbay"), 3))
        bot.deliver()
        to_heads = [n for n in everything_sent(app)
                    if n.case_id == northbay.id and n.recipient.address in NB_HEADS]
        assert len(to_heads) == 1  # stage 3's copy: the raising agency's Head only
        for head in to_heads:
            assert bot.status(head.key) == "failed"
        assert len(business_alerts(app, northbay)) == 1
        assert any("not delivered" in r.getMessage() for r in caplog.records)
    finally:
        app.close()


def test_routing_names_the_platform(tmp_path: Path) -> None:
    app, _ = app_for(tmp_path)
    try:
        bot = make_bot(app, free_port())
        case = raise_case(app, "havenport")
        platforms = {}
        for note in everything_sent(app):
            if note.case_id == case.id:
                platforms[note.recipient.kind] = bot.notifier.platform_for(note)
        assert platforms == {
            RecipientKind.PERSON: "teams",
            RecipientKind.MAILBOX: "email",
            RecipientKind.CHANNEL: "log",
        }
    finally:
        app.close()


# ---- the composition root: `serve` as a process --------------------------------------------------


def test_serve_sends_email_through_the_configured_server(
    tmp_path: Path, mail: tuple[Capture, int]
) -> None:
    """`escalation-bot serve` with ESCALATION_BOT_SMTP_URL: a St Helens form raised while it was
    down reaches the mailbox on the first tick, its form attached by the renderers the root
    found, and /metrics counts it under "email"."""
    capture, port = mail
    database = tmp_path / "bot.sqlite3"
    app = bootstrap(EXAMPLE_CONFIG, database, SimulatedClock(datetime.now(UTC)))
    try:
        case = raise_case(app, "havenport", immediate_risk="yes")  # sent at once, any hour
    finally:
        app.close()
    bot_port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ESCALATION_BOT_")},
        "ESCALATION_BOT_DATABASE": str(database),
        "ESCALATION_BOT_PORT": str(bot_port),
        "ESCALATION_BOT_TICK_SECONDS": "0.2",
        "ESCALATION_BOT_SMTP_URL": f"smtp://127.0.0.1:{port}",
        "ESCALATION_BOT_SMTP_FROM": SENDER,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve"], cwd=REPO, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not capture.received and time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            time.sleep(0.1)  # waiting on a real process's first ticks
        (got,) = [r for r in capture.received if r.rcpt_tos == [HP_MAILBOX]]
        assert got.message["Subject"] == (
            f"[{case.reference}] Stage 1: Orange Stage 1 Notification Form"
        )
        formats = ("docx", "pdf") if importlib.util.find_spec("adapters.documents") else ("txt",)
        names = [name for name, _, _ in attachments_of(got.message)]
        assert names == [f"{case.reference}-notification-stage-1-stage-1.{f}" for f in formats]
        sent = 'escalation_notifications_sent_total{platform="email"} 1.0'
        metrics = ""
        while sent not in metrics and time.monotonic() < deadline:
            # the bot counts a message once its server has answered: just after capture has it
            with urllib.request.urlopen(f"http://127.0.0.1:{bot_port}/metrics", timeout=5) as r:
                metrics = r.read().decode()
            time.sleep(0.05)
        assert sent in metrics
    finally:
        process.terminate()
        process.wait(timeout=10)
    logged = process.stderr.read() if process.stderr else ""
    assert f"email goes through 127.0.0.1:{port} (none) from" in logged
    assert leaks(logged) == []
