"""The scheduled report: on a partnership's report date the business team's channel gets a short
summary and the partnership's mailbox the report (HTML attached), exactly once with two replicas
sharing a store (SQLite file or Redis), through the outbox and the real email adapter to a real
SMTP server. Both replicas run the server's own housekeeping, as each replica's ticker does.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from redis_support import URL, fresh_prefix
from smtp_support import Capture, Received, attachments_of, smtp_server
from support import (
    CHILD_DOB,
    CHILD_IDS,
    CHILD_NAME,
    FAR_FUTURE,
    JERSEY,
    LONDON,
    START,
    derived_config,
    raise_case,
    resolve,
)

from adapters.console.render import ConsoleNotifier
from adapters.email.message import KEY_HEADER
from adapters.email.notifier import EmailNotifier
from adapters.email.smtp import Security, SmtpServer
from adapters.storage.redis import RedisStore
from adapters.storage.sqlite import SqliteStore
from bot.bootstrap import App, bootstrap
from bot.delivery import RoutingNotifier, form_attachments
from bot.server import Housekeeping
from dialogs.clock import SimulatedClock
from dialogs.notifications import Notification
from dialogs.reports.schedule import due_report
from policy.config import load_config
from policy.errors import FileProblems
from scheduler.runner import deliver_due_notifications

NORTHBAY_BOX = "business.team@partnership.northbay.example"
CARROW_BOX = "qa.subgroup@partnership.carrow.example"
SECRETS = [CHILD_NAME, "Jamie", CHILD_DOB.isoformat(), CHILD_DOB.strftime("%d/%m/%Y"), CHILD_IDS]


def with_reports(data: dict[str, Any]) -> None:
    for partnership in data["partnerships"]:
        if partnership["id"] == "northbay":
            partnership["reports"] = {"dates": ["01-10", "01-04"], "mailbox": NORTHBAY_BOX}
        if partnership["id"] == "carrow":  # SP Jersey: the pack's twice a year, per agency
            partnership["reports"] = {"mailbox": CARROW_BOX, "per_agency": True}


@contextmanager
def replicas(kind: str, tmp_path: Path) -> Iterator[tuple[App, App]]:
    config = derived_config(tmp_path, with_reports)
    if kind == "redis":
        with fresh_prefix("reports") as prefix:
            apps = [bootstrap(config, tmp_path / "unused.sqlite3", SimulatedClock(START),
                              store=RedisStore(URL, prefix)) for _ in range(2)]
            try:
                yield apps[0], apps[1]
            finally:
                for app in apps:
                    app.close()
        return
    path = tmp_path / "shared.sqlite3"
    apps = [bootstrap(config, path, SimulatedClock(START), store=SqliteStore(path))
            for _ in range(2)]
    try:
        yield apps[0], apps[1]
    finally:
        for app in apps:
            app.close()


def set_clocks(apps: tuple[App, App], moment: datetime) -> None:
    for app in apps:
        clock = app.clock
        assert isinstance(clock, SimulatedClock)
        clock.set(moment)


def housekeep_both(apps: tuple[App, App]) -> None:
    """Each replica's housekeeping at the same moment, from two threads."""
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(app: App) -> None:
        try:
            chores = Housekeeping(app)
            start.wait()
            chores()
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def deliver_both(apps: tuple[App, App], port: int) -> ConsoleNotifier:
    channel = ConsoleNotifier(echo=False)

    async def both() -> None:
        results = await asyncio.gather(*(
            deliver_due_notifications(app.store, notifier_for(app, port, channel), app.clock,
                                      worker=f"replica-{i}", max_batches=10)
            for i, app in enumerate(apps)
        ))
        assert all(failed == 0 for _, failed in results)

    asyncio.run(both())
    return channel


def notifier_for(app: App, port: int, channel: ConsoleNotifier) -> RoutingNotifier:
    server = SmtpServer(host="127.0.0.1", port=port, security=Security.NONE,
                        sender="Escalations <bot@escalation.example>", timeout_seconds=5.0)
    email = EmailNotifier(server, form_attachments(), app.clock, local_hostname="bot.test")
    # people's messages to the sink as if by Teams: only the mailboxes' email goes by SMTP
    return RoutingNotifier({}, fallback=channel, teams=channel, has_teams=lambda _: True,
                           email=email)


def reports_of(notes: list[Notification]) -> list[Notification]:
    return [n for n in notes if n.kind.startswith("report")]


def report_mail(capture: Capture) -> list[Received]:
    """The reports' emails, not the forms a case may send its mailboxes."""
    return [r for r in capture.received if r.message[KEY_HEADER].startswith("report:")]


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_the_report_goes_out_on_its_date_once_with_two_replicas(
    kind: str, tmp_path: Path
) -> None:
    with replicas(kind, tmp_path) as apps, smtp_server() as (capture, port):
        first = apps[0]
        cases = [raise_case(first, "northbay") for _ in range(6)]
        resolve(first, cases[0])
        raise_case(first, "carrow")
        set_clocks(apps, datetime(2027, 3, 31, 23, 0, tzinfo=LONDON))
        housekeep_both(apps)
        assert reports_of(deliver_both(apps, port).sink) == [] and report_mail(capture) == []

        set_clocks(apps, datetime(2027, 4, 1, 9, 5, tzinfo=LONDON))  # a Thursday
        housekeep_both(apps)
        housekeep_both(apps)  # a minute later, and again: nothing more
        channel = deliver_both(apps, port)
        summaries = reports_of(channel.sink)
        assert sorted(n.recipient.address for n in summaries) == [
            "console:carrow-business-team", "console:northbay-business-team"]
        carrow_agencies = [a.id for a in first.config.agencies if a.partnership == "carrow"]
        mail = report_mail(capture)
        assert sorted(r.rcpt_tos[0] for r in mail) == sorted(
            [NORTHBAY_BOX] + [CARROW_BOX] * (1 + len(carrow_agencies)))
        northbay = next(r.message for r in mail if r.rcpt_tos == [NORTHBAY_BOX])
        assert northbay["Subject"] == (
            "Northbay Safeguarding Children Partnership: report on the procedure's use,"
            " 01/10/2026 to 31/03/2027"
        )
        (name, content_type, html), = attachments_of(northbay)
        assert name == "report-northbay-2026-10-01-2027-03-31.html"
        assert content_type == "text/html"
        text = html.decode()
        assert "How the procedure was used" in text and text.count("<svg") == 4
        assert "<li>Cases raised<b>6</b></li>" in text
        summary = next(n for n in summaries if n.recipient.address.startswith("console:north"))
        assert "6 cases raised; 1 resolved" in summary.card.text
        agency_files = sorted(attachments_of(r.message)[0][0] for r in mail
                              if r.rcpt_tos == [CARROW_BOX])
        assert agency_files == sorted(
            ["report-carrow-2026-10-01-2027-03-31.html"]
            + [f"report-carrow-{a}-2026-10-01-2027-03-31.html" for a in carrow_agencies])
        for seen in [*(n.card.all_text() for n in summaries),
                     *(r.raw.decode(errors="replace") for r in mail)]:
            assert [s for s in SECRETS if s.lower() in seen.lower()] == []

        sent_keys = [n.key for n in summaries] + [r.message[KEY_HEADER] for r in mail]
        assert len(set(sent_keys)) == len(sent_keys)
        set_clocks(apps, datetime(2027, 4, 2, 10, 0, tzinfo=LONDON))
        housekeep_both(apps)
        assert reports_of(deliver_both(apps, port).sink) == []
        assert len(report_mail(capture)) == len(mail)

        set_clocks(apps, datetime(2027, 10, 1, 9, 30, tzinfo=JERSEY))  # the next period's
        housekeep_both(apps)
        queued = [i.notification for i in first.store.due_notifications(FAR_FUTURE, 10_000)
                  if i.notification.kind.startswith("report")]
        assert sorted(n.key for n in queued) == sorted(
            k.replace("2027-04-01", "2027-10-01") for k in sent_keys)
        assert all("01/04/2027 to 30/09/2027" in n.card.title for n in queued)


def test_a_report_missed_while_the_bot_was_down_goes_out_within_a_week() -> None:
    dates = ["01-04", "01-10"]
    assert due_report(dates, datetime(2027, 3, 31).date()) is None
    due = due_report(dates, datetime(2027, 4, 7).date())
    assert due is not None and due.on.isoformat() == "2027-04-01"
    assert (due.period.start.isoformat(), due.period.end.isoformat()) == (
        "2026-10-01", "2027-03-31")
    assert due_report(dates, datetime(2027, 4, 8).date()) is None  # a week late: not sent
    yearly = due_report(["01-04"], datetime(2027, 4, 1).date())
    assert yearly is not None and yearly.period.start.isoformat() == "2026-04-01"


@pytest.mark.parametrize(
    ("reports", "message"),
    [
        ({"dates": ["1-4"], "mailbox": NORTHBAY_BOX}, "'1-4' is not a date written DD-MM"),
        ({"dates": ["31-02"], "mailbox": NORTHBAY_BOX}, "'31-02' is not a day of the year"),
        ({"dates": ["01-04", "01-04"], "mailbox": NORTHBAY_BOX}, "a date is given twice"),
        ({"dates": ["01-04"]}, "mailbox"),
        ({"dates": ["01-04"], "mailbox": "not-an-address"}, "mailbox"),
    ],
)
def test_a_wrong_reports_section_names_the_field_and_the_fix(
    tmp_path: Path, reports: dict[str, Any], message: str
) -> None:
    from bot.bootstrap import load_policies

    def edit(data: dict[str, Any]) -> None:
        data["partnerships"][0]["reports"] = reports

    path = derived_config(tmp_path, edit)
    with pytest.raises(FileProblems) as raised:
        load_config(path, load_policies())
    text = raised.value.render()
    assert "partnerships[0].reports" in text and message in text
    assert str(path) in text
