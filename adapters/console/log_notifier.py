"""Delivery for recipients no chat platform serves yet: one log line each, never the card.

Logs must never carry a child's details, so only the key, kind and recipient kind are written.
"""

from __future__ import annotations

import logging

from dialogs.notifications import Notification

log = logging.getLogger("escalation_bot.delivery")


class LogNotifier:
    async def deliver(self, notification: Notification) -> None:
        log.info(
            "notification %s (%s) for a %s recorded; no platform adapter delivers it",
            notification.key,
            notification.kind,
            notification.recipient.kind.value,
        )
