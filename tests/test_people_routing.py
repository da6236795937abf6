"""Who gets a message where: the one routing decision (dialogs.reach), the directory that feeds it
(on a real SQLite file and a real Redis), and the router that hands each person's message to one
notifier. Strangers, whatever platform they write from, are answered the same way."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import START, STORES, app_on_store, business_team_channel

from bot.delivery import RoutingNotifier
from dialogs.cards import Card
from dialogs.conversation import ConversationService
from dialogs.notifications import Notification, Recipient, RecipientKind
from dialogs.people import Directory
from dialogs.reach import platform_for_person

DANA = "dana.marsh@council.northbay.example"


@pytest.mark.parametrize(
    ("on_teams", "on_slack", "last_used", "prefers", "expected"),
    [
        (True, False, None, None, "teams"),  # Teams only
        (True, False, "slack", "slack", "teams"),  # ... whatever they used or preferred once
        (False, True, None, None, "slack"),  # Slack only
        (False, True, "teams", "teams", "slack"),
        (True, True, "slack", "teams", "slack"),  # both: the one used last wins
        (True, True, "teams", "slack", "teams"),
        (True, True, None, "slack", "slack"),  # both, never written: the preference
        (True, True, None, "teams", "teams"),
        (True, True, "email", None, "teams"),  # both, nothing to go by: Teams
        (True, True, None, None, "teams"),
        (False, False, "teams", "slack", "email"),  # neither: email
        (False, False, None, None, "email"),
    ],
)
def test_the_platform_for_a_person(
    on_teams: bool, on_slack: bool, last_used: str | None, prefers: str | None, expected: str
) -> None:
    assert platform_for_person(on_teams, on_slack, last_used, prefers) == expected


class Recording:
    """A notifier that only notes what it was given (the router's seam, not our own code)."""

    def __init__(self) -> None:
        self.got: list[str] = []

    async def deliver(self, notification: Notification) -> None:
        self.got.append(notification.recipient.address)


def to(email: str) -> Notification:
    return Notification(key=f"k-{email}", case_id="c", recipient=Recipient.person(email),
                        card=Card(title="t"), deliver_at=START, kind="probe")


@pytest.mark.parametrize("kind", STORES)
async def test_each_person_gets_it_once_on_their_own_platform(kind: str, tmp_path: Path) -> None:
    with app_on_store(kind, tmp_path, "reach") as app:
        directory = Directory(app.store)
        teams, slack, email = Recording(), Recording(), Recording()
        on_teams = {"t@x.example", "both@x.example", "pref@x.example"}
        on_slack = {"s@x.example", "both@x.example", "pref@x.example"}
        app.store.save_last_platform("both@x.example", "slack")
        router = RoutingNotifier(
            {}, fallback=Recording(), teams=teams, has_teams=on_teams.__contains__, email=email,
            slack=slack, has_slack=on_slack.__contains__, choose=directory.platform_for,
        )
        for address in ("t@x.example", "s@x.example", "both@x.example", "pref@x.example",
                        "none@x.example"):
            await router.deliver(to(address))
        # pref@ is not in the directory, so it has no preference: Teams
        assert teams.got == ["t@x.example", "pref@x.example"]
        assert slack.got == ["s@x.example", "both@x.example"]
        assert email.got == ["none@x.example"]
        # without a Slack notifier (Slack off) nobody is sent to Slack
        router.slack = None
        assert router.platform_for(to("s@x.example")) == "email"
        assert router.platform_for(to("both@x.example")) == "teams"


@pytest.mark.parametrize("kind", STORES)
def test_the_directory_learns_accounts_and_keeps_what_was_configured(
    kind: str, tmp_path: Path
) -> None:
    with app_on_store(kind, tmp_path, "directory") as app:
        directory = Directory(app.store)
        configured = app.store.person(DANA)
        assert configured is not None and configured.teams_aad_object_id
        assert directory.account("teams", DANA) == configured.teams_aad_object_id.lower()
        # an unknown address learns nothing; a known one is bound, matched without case
        assert directory.learn("teams", "aad-x", ["nobody@x.example"]) is None
        eli = "eli.wren@health.northbay.example"  # no Teams id in the example configuration
        assert directory.account("teams", eli) is None
        assert directory.learn("teams", "aad-eli", ["", eli.upper()]) == eli
        assert directory.email_for_account("teams", "aad-eli") == eli
        # someone already bound keeps their account
        assert directory.learn("teams", "aad-other", [DANA]) is None
        assert directory.account("teams", DANA) == configured.teams_aad_object_id.lower()
        # the last platform, and the preference when there is none
        directory.used(eli, "slack")
        assert directory.platform_for(eli, on_teams=True, on_slack=True) == "slack"
        directory.used(eli, "teams")
        assert directory.platform_for(eli, on_teams=True, on_slack=True) == "teams"


@pytest.mark.parametrize("kind", STORES)
def test_a_stranger_on_any_platform_is_answered_and_reported_once_a_day(
    kind: str, tmp_path: Path
) -> None:
    with app_on_store(kind, tmp_path, "stranger") as app:
        service = ConversationService(
            app.engine, app.store, today=lambda: app.clock.now().date()
        )
        (reply,) = service.unknown("slack", "Someone@Elsewhere.example", "Sam Someone")
        assert "someone@elsewhere.example" in reply.text and "business team" in reply.text
        service.unknown("slack", "someone@elsewhere.example", "Sam Someone")
        due = [item.notification for item in
               app.store.due_notifications(app.clock.now().replace(year=2100), 100)]
        # a domain no partnership's directory holds: every business team is told, once
        assert sorted(n.recipient.address for n in due) == sorted(
            business_team_channel(app, p.id) for p in app.config.partnerships
        )
        assert all(n.recipient.kind is RecipientKind.CHANNEL for n in due)
        assert all("Sam Someone (someone@elsewhere.example)" in (n.card.text or "") for n in due)
        assert all(n.case_id == "" for n in due)
        # without an address (the platform gave none) there is nobody to report
        (anonymous,) = service.unknown("slack", None)
        assert "could not read your work email" in anonymous.text
