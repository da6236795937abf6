"""Which notifier delivers which recipient. Chat platforms add their routes in later issues;
until then people, channels and mailboxes are recorded in the log (metadata only)."""

from __future__ import annotations

import os
from collections.abc import Callable

from adapters.console.log_notifier import LogNotifier
from adapters.webhook.notifier import WebhookNotifier, WebhookTarget
from bot.settings import SettingsError
from dialogs.notifications import Notification, RecipientKind
from dialogs.ports import Notifier
from policy.config import Config


class RoutingNotifier:
    """Webhooks to the webhook notifier; channels by their destination's platform prefix
    (``teams:``); people to Teams when they have a Teams account; the rest to the log."""

    def __init__(
        self,
        routes: dict[RecipientKind, Notifier],
        fallback: Notifier,
        teams: Notifier | None = None,
        has_teams: Callable[[str], bool] = lambda email: False,
    ) -> None:
        self.routes = routes
        self.fallback = fallback
        self.teams = teams
        self.has_teams = has_teams

    def notifier_for(self, notification: Notification) -> Notifier:
        recipient = notification.recipient
        if self.teams is not None:
            if recipient.kind is RecipientKind.CHANNEL and recipient.address.startswith("teams:"):
                return self.teams
            if recipient.kind is RecipientKind.PERSON and self.has_teams(recipient.address):
                return self.teams
        return self.routes.get(recipient.kind, self.fallback)

    async def deliver(self, notification: Notification) -> None:
        await self.notifier_for(notification).deliver(notification)

    async def close(self) -> None:
        for notifier in {*self.routes.values(), self.fallback}:
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


def build_notifier(
    config: Config, teams: Notifier | None = None, has_teams: Callable[[str], bool] | None = None
) -> RoutingNotifier:
    return RoutingNotifier(
        {RecipientKind.WEBHOOK: WebhookNotifier(webhook_targets(config))},
        fallback=LogNotifier(),
        teams=teams,
        has_teams=has_teams or (lambda email: False),
    )
