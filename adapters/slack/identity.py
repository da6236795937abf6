"""Who is who on Slack: the directory's key is the work email, Slack's is the user id.

A person's Slack account is a binding in the store's directory (dialogs.people.Directory), the
same one Teams uses: configured or imported (``slack_user_id``), or found by Slack itself. To
send to someone with no binding, ``users.lookupByEmail`` finds their account; a click or message
from an unbound account is matched by the email ``users.info`` gives for it (the profile's
email, which needs ``users:read.email``). Either way the first binding wins, as for Teams: an
account that merely claims a bound person's address takes nothing over. Nothing here decides
what anyone may do.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from dialogs.people import Directory
from dialogs.reach import SLACK

NOT_FOUND = {"users_not_found", "user_not_found", "account_inactive"}
log = logging.getLogger("escalation_bot.slack")


@dataclass(frozen=True)
class SlackUser:
    """What Slack says about an account: its profile's email (may be empty) and name."""

    email: str
    name: str


class SlackPeople:
    def __init__(self, client: AsyncWebClient, directory: Directory) -> None:
        self.client, self.directory = client, directory
        self.seen: set[str] = set()  # emails bound on Slack, seen by this process: no store read

    def known(self, email: str) -> bool:
        """Reachable on Slack as far as the directory knows (configured, imported or found)."""
        email = email.lower()
        if email in self.seen:
            return True
        if self.directory.account(SLACK, email):  # configured, or found here or at a replica
            self.seen.add(email)
            return True
        return False

    async def user_for(self, email: str) -> str | None:
        """The person's Slack user id: their binding, else found by ``users.lookupByEmail``
        (and bound, when they are in the directory)."""
        email = email.lower()
        bound = await asyncio.to_thread(self.directory.account, SLACK, email)
        if bound:
            return bound
        try:
            answer = await self.client.users_lookupByEmail(email=email)
        except SlackApiError as exc:
            if exc.response.get("error") in NOT_FOUND:
                return None
            raise
        user = str((answer.get("user") or {}).get("id") or "")
        if not user:
            return None
        learned = await asyncio.to_thread(self.directory.learn, SLACK, user, [email])
        if learned:
            self.seen.add(learned)
        return user

    async def warm(self, emails: list[str]) -> int:
        """Look up, once, the people with no Slack binding, so their messages can go to Slack;
        returns how many were found. One failure does not stop the rest."""
        found = 0
        for email in emails:
            try:
                found += await self.user_for(email) is not None
            except Exception as exc:  # Slack down at start-up: they are looked up when needed
                log.warning("slack lookup failed: %s", type(exc).__name__)
        return found

    async def bound(self, user: str) -> str | None:
        """The directory email bound to a Slack account, if any (no call to Slack)."""
        if not user:
            return None
        return await asyncio.to_thread(self.directory.email_for_account, SLACK, user)

    async def profile(self, user: str) -> SlackUser | None:
        """What ``users.info`` says of an account; None when Slack has no such user."""
        try:
            answer = await self.client.users_info(user=user)
        except SlackApiError as exc:
            if exc.response.get("error") in NOT_FOUND:
                return None
            raise
        found = answer.get("user") or {}
        profile = found.get("profile") or {}
        email = str(profile.get("email") or "").strip().lower()
        if not email:
            log.warning("slack user has no email on their profile (users:read.email?)")
        name = str(profile.get("real_name") or found.get("real_name") or found.get("name") or "")
        return SlackUser(email, name)

    async def learn(self, user: str, found: SlackUser) -> str | None:
        """Bind an unbound account to the directory person with its email (first binding wins:
        None when that person already has another Slack account, or is not in the directory)."""
        if not found.email:
            return None
        email = await asyncio.to_thread(self.directory.learn, SLACK, user, [found.email])
        if email:
            self.seen.add(email)
        return email
