"""POST each notification as signed JSON to a configured receiver (Power Automate, a case system).

The payload says what happened to which case. Without ``include_child_data`` a copy of a 1:1
notification carries no card, so the child's details reach only receivers configured for them;
channel cards never hold child data and are always included.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import aiohttp

from adapters.webhook.signing import KEY_HEADER, SIGNATURE_HEADER, sign
from dialogs.notifications import Notification, RecipientKind
from dialogs.ports import DeliveryFailed


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    secret: str
    include_child_data: bool = False


def payload(notification: Notification, include_child_data: bool) -> dict[str, object]:
    original = notification.copy_of or notification.recipient
    body: dict[str, object] = {
        "key": notification.key,
        "case_id": notification.case_id,
        "kind": notification.kind,
        "recipient": {"kind": original.kind.value, "address": original.address},
        "title": notification.card.title,
        "deliver_at": notification.deliver_at.isoformat(),
    }
    if include_child_data or original.kind is RecipientKind.CHANNEL:
        body["card"] = notification.card.model_dump(mode="json")
    return body


class WebhookNotifier:
    """One aiohttp session for all receivers; 2xx is delivered, 4xx is permanent, else retry."""

    def __init__(self, targets: dict[str, WebhookTarget], timeout_seconds: float = 10.0) -> None:
        self.targets = targets
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    async def deliver(self, notification: Notification) -> None:
        target = self.targets.get(notification.recipient.address)
        if target is None:
            raise DeliveryFailed(f"no webhook '{notification.recipient.address}'", permanent=True)
        body = json.dumps(payload(notification, target.include_child_data)).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(target.secret, body, int(time.time())),
            KEY_HEADER: notification.key,
        }
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(target.url, data=body, headers=headers) as response:
                if 200 <= response.status < 300:
                    return
                permanent = 400 <= response.status < 500 and response.status != 429
                raise DeliveryFailed(f"webhook answered {response.status}", permanent=permanent)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryFailed(
                f"webhook unreachable: {type(exc).__name__}", permanent=False
            ) from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
