"""Delivery failures on the real runner and engine: a failure that may pass is retried with
exponential backoff on the bot's clock and each try is on the case's history; a refusal, or the
last try, fails for good and alerts the business team once. Nothing failed is marked sent.

The platform is faked (it is the thing that fails); the outbox, runner and engine are real."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from support import app, business_team_channel, clock_of, history, raise_case, withdraw

from adapters.console.render import ConsoleNotifier
from bot.bootstrap import App
from dialogs.events import EventType
from dialogs.notifications import Notification, RecipientKind
from dialogs.ports import DeliveryFailed
from scheduler.runner import BACKOFF, Backoff, deliver_due_notifications

__all__ = ["app"]

MAILBOX = "scpescalations@sthelens.gov.uk"


class MailboxPlatform:
    """Everything but mailboxes reaches the console; mailboxes fail as told."""

    def __init__(self, failure: Exception | None) -> None:
        self.failure = failure
        self.console = ConsoleNotifier(echo=False)
        self.tries = 0

    async def deliver(self, notification: Notification) -> None:
        if notification.recipient.kind is RecipientKind.MAILBOX and self.failure is not None:
            self.tries += 1
            raise self.failure
        await self.console.deliver(notification)


def deliver(app: App, platform: MailboxPlatform) -> tuple[int, int]:
    return asyncio.run(
        deliver_due_notifications(app.store, platform, app.clock, engine=app.engine)
    )


def mailbox_key(app: App, case_id: str) -> str:
    (key,) = [
        n.key
        for n in (i.notification for i in app.store.due_notifications(app.clock.now(), 1000))
        if n.case_id == case_id and n.recipient.kind is RecipientKind.MAILBOX
    ]
    return key


def status(app: App, key: str) -> str:
    found = app.store.notification(key)
    assert found is not None
    return found[1]


def failures(app: App, case_id: str) -> list[str]:
    return [e.summary for e in app.store.history(case_id) if e.type is EventType.DELIVERY_FAILED]


def alerts(app: App, case_id: str) -> list[Notification]:
    channel = business_team_channel(app, "havenport")
    found = []
    for item in app.store.due_notifications(app.clock.now() + timedelta(days=30), 1000):
        note = item.notification
        if note.case_id == case_id and note.kind == "delivery-failed":
            assert note.recipient.address == channel
            found.append(note)
    return found


def test_the_default_backoff_doubles_from_a_minute_over_seven_tries() -> None:
    waits = [BACKOFF.delay(n) for n in range(1, 8)]
    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32)] + [None]
    assert Backoff(first=timedelta(seconds=10), factor=3, attempts=3).delay(2) == timedelta(
        seconds=30
    )


def test_a_passing_failure_is_retried_with_backoff_then_fails_for_good(app: App) -> None:
    clock = clock_of(app)
    case = raise_case(app, "havenport")  # St Helens: the orange form goes to the mailbox
    key = mailbox_key(app, case.id)
    platform = MailboxPlatform(DeliveryFailed("the server is down", permanent=False))
    start = clock.now()

    assert deliver(app, platform)[1] == 1
    waited = timedelta()
    for attempt, minutes in enumerate((1, 2, 4, 8, 16, 32), start=1):
        assert status(app, key) == "pending", attempt
        assert f"try {attempt} of 7, the next in {minutes} min" in failures(app, case.id)[-1]
        assert alerts(app, case.id) == []  # not yet: it may still go
        clock.set(start + waited + timedelta(minutes=minutes) - timedelta(seconds=1))
        assert deliver(app, platform) == (0, 0)  # not due a second early
        waited += timedelta(minutes=minutes)
        clock.set(start + waited)
        assert deliver(app, platform)[1] == 1
    assert platform.tries == 7
    assert waited == timedelta(minutes=63)
    assert status(app, key) == "failed"
    recorded = failures(app, case.id)
    assert len(recorded) == 7
    assert recorded[-1].endswith("the server is down; gave up after 7 tries")
    assert f"to mailbox:{MAILBOX} not delivered" in recorded[-1]
    (alert,) = alerts(app, case.id)
    assert "could not be delivered (the server is down; gave up after 7 tries)" in (
        alert.card.title
    )
    clock.set(start + timedelta(days=1))
    assert deliver(app, platform)[1] == 0 and platform.tries == 7  # failed is failed


def test_a_refusal_fails_at_once_and_alerts_once(app: App) -> None:
    case = raise_case(app, "havenport")
    key = mailbox_key(app, case.id)
    platform = MailboxPlatform(DeliveryFailed("550 no such mailbox", permanent=True))
    sent, failed = deliver(app, platform)
    assert failed == 1 and sent == len(platform.console.sink) > 0
    assert status(app, key) == "failed"
    (summary,) = failures(app, case.id)
    assert summary.endswith("not delivered: 550 no such mailbox")
    assert len(alerts(app, case.id)) == 1
    clock_of(app).advance(timedelta(hours=2))
    deliver(app, platform)
    assert platform.tries == 1


def test_an_adapter_that_raises_is_a_failure_not_a_stopped_batch(app: App) -> None:
    case = raise_case(app, "havenport")
    key = mailbox_key(app, case.id)
    platform = MailboxPlatform(RuntimeError("a bug"))
    sent, failed = deliver(app, platform)
    assert failed == 1
    assert sent == len(platform.console.sink) > 0  # everything after it still went
    assert status(app, key) == "pending"
    assert "the bot failed while sending it (RuntimeError); try 1 of 7" in (
        failures(app, case.id)[-1]
    )
    for event in history(app, case):
        assert "a bug" not in event.summary  # an exception's text is not a reason


@pytest.mark.parametrize("permanent", [True, False])
def test_a_failure_is_recorded_even_on_a_closed_case(app: App, permanent: bool) -> None:
    case = raise_case(app, "havenport")
    withdraw(app, case)
    platform = MailboxPlatform(DeliveryFailed("down", permanent=permanent))
    deliver(app, platform)
    assert len(failures(app, case.id)) == 1
