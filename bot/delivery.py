"""Which notifier delivers which recipient, and by which platform the metrics count it.

Webhooks go to the webhook notifier; channels by their destination's platform prefix
(``teams:``, ``slack:``), the rest (``console:``) to the log; mailboxes by email. A person gets
each message once, on one platform: Teams or Slack where they have an account there (on both:
the one they last used, else the one they prefer; dialogs.reach decides), otherwise by email.
Without a mail server, email is not silently dropped: it fails for good, so the case's history
and the business team say who got nothing and why.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from adapters.console.log_notifier import LogNotifier
from adapters.documents import render_docx, render_pdf, render_report_html
from adapters.email.attachments import Attachments
from adapters.email.notifier import EmailNotifier
from adapters.email.smtp import SmtpServer
from adapters.webhook.notifier import WebhookNotifier, WebhookTarget
from bot.settings import SettingsError
from dialogs import texts
from dialogs.documents import FormDocument
from dialogs.notifications import Notification, RecipientKind
from dialogs.ports import Clock, DeliveryFailed, Notifier
from dialogs.reach import EMAIL, SLACK, TEAMS, platform_for_person
from policy.config import Config

log = logging.getLogger("escalation_bot.delivery")

# (email, reachable on Teams, reachable on Slack) -> "teams", "slack" or "email"
Chooser = Callable[[str, bool, bool], str]


class NoEmail:
    """Stands in for email when no mail server is configured: every message fails for good,
    saying so, rather than being counted as sent."""

    async def deliver(self, notification: Notification) -> None:
        recipient = notification.recipient
        who = (
            recipient.address
            if recipient.kind is RecipientKind.PERSON
            else f"{recipient.kind.value} {recipient.address}"
        )
        raise DeliveryFailed(texts.EMAIL_NOT_CONFIGURED.format(who=who), permanent=True)


class RoutingNotifier:
    def __init__(
        self,
        routes: dict[RecipientKind, Notifier],
        fallback: Notifier,
        teams: Notifier | None = None,
        has_teams: Callable[[str], bool] = lambda email: False,
        email: Notifier | None = None,
        slack: Notifier | None = None,
        has_slack: Callable[[str], bool] = lambda email: False,
        choose: Chooser | None = None,
    ) -> None:
        """``choose`` picks a person's platform from where they are reachable (in the server:
        dialogs.people.Directory.platform_for, which reads the last platform used and the
        directory's preference)."""
        self.routes = routes
        self.slack = slack
        self.has_slack = has_slack
        self.fallback = fallback
        self.teams = teams
        self.has_teams = has_teams
        self.email: Notifier = email or NoEmail()
        self.choose: Chooser = choose or (lambda email, teams, slack: platform_for_person(
            teams, slack, last_used=None, prefers=None
        ))

    def person_route(self, email: str) -> tuple[str, Notifier]:
        """(platform, notifier) for one person: one platform, whichever fits them best."""
        on_teams = self.teams is not None and self.has_teams(email)
        on_slack = self.slack is not None and self.has_slack(email)
        platform = self.choose(email, on_teams, on_slack)
        notifier = {TEAMS: self.teams, SLACK: self.slack}.get(platform)
        return (platform, notifier) if notifier is not None else (EMAIL, self.email)

    def route(self, notification: Notification) -> tuple[str, Notifier]:
        """(platform, notifier) for one notification."""
        recipient = notification.recipient
        if recipient.kind in self.routes:
            return recipient.kind.value, self.routes[recipient.kind]
        if recipient.kind is RecipientKind.CHANNEL:
            if self.teams is not None and recipient.address.startswith("teams:"):
                return "teams", self.teams
            if self.slack is not None and recipient.address.startswith("slack:"):
                return "slack", self.slack
            return "log", self.fallback
        if recipient.kind is RecipientKind.PERSON:
            return self.person_route(recipient.address)
        if recipient.kind is RecipientKind.MAILBOX:
            return "email", self.email
        return "log", self.fallback

    def notifier_for(self, notification: Notification) -> Notifier:
        return self.route(notification)[1]

    def platform_for(self, notification: Notification) -> str:
        """For the delivery metrics (scheduler.runner.NamesPlatforms)."""
        return self.route(notification)[0]

    async def deliver(self, notification: Notification) -> None:
        await self.notifier_for(notification).deliver(notification)

    async def close(self) -> None:
        for notifier in {*self.routes.values(), self.fallback, self.email}:
            close = getattr(notifier, "close", None)
            if close is not None:
                await close()


def webhook_targets(config: Config) -> dict[str, WebhookTarget]:
    """Secrets come from the environment. `serve` has already refused a missing one with the
    file and field (policy.webhook_secrets); this stays the last guard for any other caller."""
    targets = {}
    for index, hook in enumerate(config.webhooks):
        secret = os.environ.get(hook.secret_env, "")
        if not secret:
            raise SettingsError(
                f"webhooks[{index}] ({hook.id}) reads its secret from ${hook.secret_env}, which is"
                f" not set; fix: export {hook.secret_env}=<the shared secret>"
            )
        targets[hook.id] = WebhookTarget(hook.url, secret, hook.include_child_data)
    return targets


_DRAWERS: dict[str, Callable[[FormDocument], bytes]] = {"docx": render_docx, "pdf": render_pdf}


def render_form(document: FormDocument, fmt: str) -> bytes:
    """A form as DOCX or PDF. The email and Teams adapters both take it through this seam, so
    neither imports adapters.documents."""
    return _DRAWERS[fmt](document)


def form_attachments() -> Attachments:
    """Forms as DOCX and PDF; the scheduled report as its self-contained HTML file."""
    return Attachments(render_form, ("docx", "pdf"), report=render_report_html)


def email_notifier(server: SmtpServer | None, clock: Clock) -> Notifier:
    if server is None:
        log.warning(
            "no mail server is configured (ESCALATION_BOT_SMTP_URL): messages to mailboxes and"
            " to people without Teams will fail, and each case's business team will be told"
        )
        return NoEmail()
    log.info("email goes through %s from %s", server.describe(), server.sender)
    return EmailNotifier(server, form_attachments(), clock)


def build_notifier(
    config: Config,
    teams: Notifier | None = None,
    has_teams: Callable[[str], bool] | None = None,
    email: Notifier | None = None,
    slack: Notifier | None = None,
    has_slack: Callable[[str], bool] | None = None,
    choose: Chooser | None = None,
) -> RoutingNotifier:
    return RoutingNotifier(
        {RecipientKind.WEBHOOK: WebhookNotifier(webhook_targets(config))},
        fallback=LogNotifier(),
        teams=teams,
        has_teams=has_teams or (lambda email: False),
        email=email,
        slack=slack,
        has_slack=has_slack or (lambda email: False),
        choose=choose,
    )
