"""What every Slack call and listener shares: the Web API client with its retries, the guard
around work after an ack, the record of that work still running, and quiet SDK logs."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("escalation_bot.slack")
# slack_sdk logs every request's body at DEBUG, and Bolt quotes a request it did not handle in
# its warnings: either can hold a child's details, so theirs are quieter than the bot's own
SDK_LOG = logging.getLogger("escalation_bot.slack.sdk")
SDK_LOG.setLevel(logging.WARNING)
BOLT_LOG = logging.getLogger("escalation_bot.slack.bolt")
BOLT_LOG.setLevel(logging.ERROR)


def web_client(token: str, base_url: str = "") -> AsyncWebClient:
    """The Web API client, retrying a 429 after its Retry-After and a dropped connection."""
    client = AsyncWebClient(
        token=token, base_url=base_url or AsyncWebClient.BASE_URL, logger=SDK_LOG
    )
    client.retry_handlers = [
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
    ]
    return client


class InFlight:
    """The work still running after its ack, so shutdown (and a test) can wait for it."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()
        # work handed to the loop from another thread and not yet started as a task: counted
        # from the moment it is handed over, so settling cannot slip past it
        self._announced = 0
        self._lock = threading.Lock()

    def announce(self) -> None:
        """Work is on its way to the loop (``call_soon_threadsafe``); ``arrived`` when it is."""
        with self._lock:
            self._announced += 1

    def arrived(self) -> None:
        with self._lock:
            self._announced -= 1

    def track(self, task: asyncio.Task[Any] | None = None) -> None:
        """``task``, or the one running now."""
        task = task or asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def settled(self, timeout: float | None = None) -> None:
        """Wait for the work running now and any it starts; ``timeout``: give up after it."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self.tasks or self._announced:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                log.warning("slack shutdown: %d replies still running were left", len(self.tasks))
                return
            if not self.tasks:  # handed over, not yet started: let the loop run its callback
                await asyncio.sleep(0)
                continue
            await asyncio.wait(set(self.tasks), timeout=left)


async def guarded(what: str, work: Awaitable[None]) -> None:
    try:
        await work
    except Exception as exc:  # after the ack nobody is waiting for an answer: say it, once
        reason = exc.response.get("error") if isinstance(exc, SlackApiError) else None
        log.warning("slack %s failed after the ack: %s", what, reason or type(exc).__name__)
