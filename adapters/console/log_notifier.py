"""Delivery for `console:` destinations and anything else no chat platform serves: the log.

A `console:` alert destination (the example configuration's business-team and managers'
channels) is printed into the log as one readable line with its card's text, so that whoever
runs the bot sees the alerts. Only channels are printed: a channel card carries no child data by
construction (the engine refuses one that does before it is queued). Anything else reaching here
is one line of ids, never its card, because a 1:1 card may hold a child's details.
"""

from __future__ import annotations

import logging

from adapters.console.render import render_card
from dialogs.notifications import Notification, RecipientKind

log = logging.getLogger("escalation_bot.delivery")


def card_line(notification: Notification) -> str:
    """The card's text on one line: title, text, facts and sections, as a terminal shows them."""
    lines = render_card(notification.card, indent="").splitlines()
    return " | ".join(line.strip().strip("*").strip() for line in lines if line.strip())


class LogNotifier:
    async def deliver(self, notification: Notification) -> None:
        recipient = notification.recipient
        case = notification.reference or notification.case_id
        if recipient.kind is RecipientKind.CHANNEL:
            log.info(
                "alert to %s for case %s (%s): %s",
                recipient.address,
                case,
                notification.kind,
                card_line(notification),
                extra={"notification": notification.key, "kind": notification.kind,
                       "case": case, "platform": "log"},
            )
            return
        log.info(
            "notification %s (%s) for a %s recorded; no platform adapter delivers it",
            notification.key,
            notification.kind,
            recipient.kind.value,
        )
