"""Which notifier delivers which recipient. Chat platforms add their routes in later issues;
until then people, channels and mailboxes are recorded in the log (metadata only)."""

from __future__ import annotations

import os

from adapters.console.log_notifier import LogNotifier
from adapters.webhook.notifier import WebhookNotifier, WebhookTarget
from bot.settings import SettingsError
from dialogs.notifications import Notification, RecipientKind
from dialogs.ports import Notifier
from policy.config import Config


class RoutingNotifier:
    def __init__(self, routes: dict[RecipientKind, Notifier], fallback: Notifier) -> None:
        self.routes = routes
        self.fallback = fallback

    async def deliver(self, notification: Notification) -> None:
        notifier = self.routes.get(notification.recipient.kind, self.fallback)
        await notifier.deliver(notification)

    async def close(self) -> None:
        for notifier in {*self.routes.values(), self.fallback}:
            close = getattr(notifier, "close", None)
            if close is not None:
                await close()


def webhook_targets(config: Config) -> dict[str, WebhookTarget]:
    """Secrets come from the environment; a missing one stops start-up with the variable named."""
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


def build_notifier(config: Config) -> RoutingNotifier:
    return RoutingNotifier(
        {RecipientKind.WEBHOOK: WebhookNotifier(webhook_targets(config))}, fallback=LogNotifier()
    )
