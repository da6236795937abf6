"""The directory as the bot uses it: people by work email, and each one's chat accounts.

People come from the configuration and from `escalation-bot people import`; both are kept in the
store. A chat platform names a sender only by its own account id, so the store also binds each
person to their account on each platform: configured (``teams_aad_object_id``,
``slack_user_id``) or learned from the person's first message, matched by the work email the
platform gives for the account. Learned bindings live in the store, so they survive a restart
and every replica sees them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from dialogs import texts
from dialogs.cards import Card
from dialogs.directory import Person
from dialogs.notifications import Notification, Recipient
from dialogs.ports import Store
from dialogs.reach import SLACK, TEAMS, platform_for_person
from policy.config import Partnership

log = logging.getLogger("escalation_bot.directory")

DIRECTORY_REQUEST = "directory_request"  # the kind of the business team's "who asked" alert


@dataclass
class Directory:
    store: Store

    def person(self, email: str) -> Person | None:
        return self.store.person(email)

    def account(self, platform: str, email: str) -> str | None:
        """The person's account id on ``platform``, configured or learned; None if unknown."""
        return self.store.identity(platform, email)

    def email_for_account(self, platform: str, user_id: str) -> str | None:
        return self.store.email_for_identity(platform, user_id) if user_id else None

    def seed(self, people: Iterable[Person]) -> None:
        """Bind the accounts the configuration or an import names. Those win over learned ones:
        whoever wrote them down knows better than a match by email."""
        people = list(people)
        teams = {p.email: p.teams_aad_object_id.lower() for p in people if p.teams_aad_object_id}
        slack = {p.email: p.slack_user_id for p in people if p.slack_user_id}
        for platform, accounts in ((TEAMS, teams), (SLACK, slack)):
            changed = {e: a for e, a in accounts.items() if self.account(platform, e) != a}
            self.store.save_identities(platform, changed)

    def learn(self, platform: str, user_id: str, emails: Iterable[str]) -> str | None:
        """The directory's email for an account the store does not know yet, found among the
        addresses the platform gives for it (its email, its sign-in name), and bound to it.

        None when none of them is in the directory, or when the person already has another
        account on this platform: that binding stays (it was configured or learned first), and
        the sender is treated as unknown until the business team corrects it, so an account
        that merely claims someone's address cannot take over their cases."""
        email = self.match(platform, user_id, emails)
        if email is not None:
            self.store.save_identities(platform, {email: user_id})
        return email

    def match(self, platform: str, user_id: str, emails: Iterable[str]) -> str | None:
        """``learn``'s choice without its write: the caller binds the account (in a write of its
        own turn, Store.save_arrival)."""
        for email in dict.fromkeys(e.strip().lower() for e in emails if e and e.strip()):
            if self.person(email) is None:
                continue
            bound = self.account(platform, email)
            if bound is not None and bound != user_id:
                log.warning(
                    "a %s account matched a person in the directory who already has another;"
                    " kept the existing one",
                    platform,
                )
                return None
            return email
        return None

    def used(self, email: str, platform: str) -> None:
        """A message from ``email`` came in on ``platform``: their messages go there next."""
        changed = self.use_to_save(email, platform)
        if changed is not None:
            self.store.save_last_platform(*changed)

    def use_to_save(self, email: str, platform: str) -> tuple[str, str] | None:
        """``used``'s write, if it has one to make, for a caller that writes it with others
        (Store.save_arrival): None when the platform is already the last one used."""
        return None if self.store.last_platform(email) == platform else (email, platform)

    def platform_for(self, email: str, on_teams: bool, on_slack: bool) -> str:
        """Where one message to this person goes (dialogs.reach.platform_for_person)."""
        person = self.person(email)
        prefers = person.prefers if person is not None else None
        last = self.store.last_platform(email) if on_teams and on_slack else None
        return platform_for_person(on_teams, on_slack, last, prefers)


def partnerships_to_tell(
    email: str, partnerships: list[Partnership], store: Store
) -> list[Partnership]:
    """The partnerships whose directory holds someone at the same email domain (their agency is
    most likely one of that partnership's), else all of them: someone must hear who asked."""
    domain = email.rpartition("@")[2].lower()
    matching = [
        partnership
        for partnership in partnerships
        if any(p.email.rpartition("@")[2].lower() == domain for p in store.people(partnership.id))
    ]
    return matching or list(partnerships)


def directory_request(
    partnership: Partnership,
    email: str,
    name: str,
    platform: str,
    day: str,
    deliver_at: datetime,
    *,
    other_account: bool = False,
) -> Notification:
    """The business team's alert that ``email`` asked: their name and address only. Its key
    names the day, so the outbox takes one per person, partnership and day. ``other_account``:
    the address is in the directory, with another account on that platform."""
    known = texts.DIRECTORY_REQUEST_OTHER_ACCOUNT if other_account else texts.DIRECTORY_REQUEST_TEXT
    text = known.format(
        name=name or texts.DIRECTORY_REQUEST_NO_NAME, email=email, platform=platform.title()
    )
    return Notification(
        key=f"{DIRECTORY_REQUEST}:{partnership.id}:{email}:{day}",
        case_id="",
        recipient=Recipient.channel(partnership.alerts.business_team),
        card=Card(title=texts.DIRECTORY_REQUEST_TITLE, text=text),
        deliver_at=deliver_at,
        kind=DIRECTORY_REQUEST,
    )
