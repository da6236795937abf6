"""Deliver an outbox notification as an email: to a policy's mailbox, or to a person at their
directory address. The scheduler owns retries and what a failure means for the case; this only
sends, or raises DeliveryFailed saying why and whether trying again can help."""

from __future__ import annotations

import asyncio
import logging
import socket
from email.utils import parseaddr

from adapters.email.attachments import Attachments
from adapters.email.message import build_message
from adapters.email.smtp import SmtpServer, send
from dialogs import texts
from dialogs.notifications import Notification, RecipientKind
from dialogs.ports import Clock, DeliveryFailed

log = logging.getLogger("escalation_bot.email")

_EMAIL_KINDS = (RecipientKind.PERSON, RecipientKind.MAILBOX)


class EmailNotifier:
    def __init__(
        self,
        server: SmtpServer,
        attachments: Attachments,
        clock: Clock,
        *,
        local_hostname: str | None = None,
    ) -> None:
        self.server, self.attachments, self.clock = server, attachments, clock
        self._local_hostname = local_hostname

    async def deliver(self, notification: Notification) -> None:
        recipient = notification.recipient
        address = parseaddr(recipient.address)[1]
        if recipient.kind not in _EMAIL_KINDS or "@" not in address:
            reason = texts.EMAIL_NOT_AN_ADDRESS.format(address=recipient.address)
            raise DeliveryFailed(reason, permanent=True)
        try:
            # drawing forms (DOCX, PDF) is CPU work: in a thread, so the loop keeps answering
            # turns and probes meanwhile (it was seen blocking /readyz for seconds)
            message = await asyncio.to_thread(
                build_message,
                notification,
                sender=self.server.sender,
                to=address,
                attachments=self.attachments,
                now=self.clock.now(),
            )
        except Exception as exc:
            # a renderer's bug: the same form fails the same way on every try
            log.exception("the forms for notification %s could not be drawn", notification.key)
            reason = texts.EMAIL_FORM_NOT_DRAWN.format(error=type(exc).__name__)
            raise DeliveryFailed(reason, permanent=True) from exc
        await send(message, self.server, address, await self._hostname())

    async def _hostname(self) -> str:
        """The name the bot gives in EHLO; looked up once, off the event loop (a slow resolver
        would otherwise stall every send)."""
        if self._local_hostname is None:
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        return self._local_hostname
