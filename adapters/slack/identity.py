"""Who is who on Slack: the directory's key is the work email, Slack's is the user id.

A person's user id comes from the configuration's ``slack_user_id``, else from Slack's
``users.lookupByEmail``; a click or message's user id becomes an email through the
configuration, else ``users.info`` (the profile's email, which needs ``users:read.email``).
Answers from Slack are kept in the store, both ways, so each person costs one lookup across
replicas and restarts. Nothing here decides what anyone may do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from dialogs.ports import Store

USER_BY_EMAIL = "slack-user"  # store: email -> Slack user id
EMAIL_BY_USER = "slack-email"  # store: Slack user id -> email
NOT_FOUND = {"users_not_found", "user_not_found", "account_inactive"}
log = logging.getLogger("escalation_bot.slack")


class SlackPeople:
    def __init__(self, client: AsyncWebClient, store: Store, configured: Mapping[str, str]):
        """``configured``: email -> Slack user id, from the configuration."""
        self.client, self.store = client, store
        self.configured = {email.lower(): user for email, user in configured.items()}
        self.by_user = {user.upper(): email for email, user in self.configured.items()}
        self.seen: set[str] = set()  # emails found on Slack by this process: no store read

    def known(self, email: str) -> bool:
        """Reachable on Slack as far as anyone here knows (configured, or looked up before)."""
        email = email.lower()
        if email in self.configured or email in self.seen:
            return True
        if self.store.conversation_reference(USER_BY_EMAIL, email):  # another replica found them
            self.seen.add(email)
            return True
        return False

    def _remember(self, email: str, user: str) -> None:
        self.seen.add(email)
        self.store.save_conversation_reference(USER_BY_EMAIL, email, user)
        self.store.save_conversation_reference(EMAIL_BY_USER, user.upper(), email)

    async def user_for(self, email: str) -> str | None:
        email = email.lower()
        if email in self.configured:
            return self.configured[email]
        cached = await asyncio.to_thread(self.store.conversation_reference, USER_BY_EMAIL, email)
        if cached:
            return cached
        try:
            answer = await self.client.users_lookupByEmail(email=email)
        except SlackApiError as exc:
            if exc.response.get("error") in NOT_FOUND:
                return None
            raise
        user = str((answer.get("user") or {}).get("id") or "")
        if not user:
            return None
        await asyncio.to_thread(self._remember, email, user)
        return user

    async def warm(self, emails: list[str]) -> int:
        """Look up, once, the people the configuration gives no Slack id, so their messages can
        go to Slack; returns how many were found. One failure does not stop the rest."""
        found = 0
        for email in emails:
            try:
                found += await self.user_for(email) is not None
            except Exception as exc:  # Slack down at start-up: they are looked up when needed
                log.warning("slack lookup failed: %s", type(exc).__name__)
        return found

    async def email_for(self, user: str) -> str | None:
        """The directory email of a Slack user, or None when Slack gives none."""
        if not user:
            return None
        key = user.upper()
        if key in self.by_user:
            return self.by_user[key]
        cached = await asyncio.to_thread(self.store.conversation_reference, EMAIL_BY_USER, key)
        if cached:
            return cached
        try:
            answer = await self.client.users_info(user=user)
        except SlackApiError as exc:
            if exc.response.get("error") in NOT_FOUND:
                return None
            raise
        profile = (answer.get("user") or {}).get("profile") or {}
        email = str(profile.get("email") or "").lower()
        if not email:
            log.warning("slack user has no email on their profile (users:read.email?)")
            return None
        await asyncio.to_thread(self._remember, email, user)
        return email
