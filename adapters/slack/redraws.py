"""Any change to a case redraws its Slack copies promptly, whoever made it and wherever: a Teams
card, a Slack button or modal, a typed command, a deadline the scheduler escalated.

The engine calls ``changed`` (``Engine.watch``) in whichever thread saved the case; the redraw
itself runs on the event loop the Slack client lives on, started once the server is serving.
Changes that come faster than Slack is redrawn are folded into one redraw per case: each redraw
reads the case as it stands when it starts. Which buttons a reader gets is the conversation
service's decision (``SlackCopies.refresh`` draws each copy through it), not this module's.
"""

from __future__ import annotations

import asyncio

from adapters.slack.copies import SlackCopies
from adapters.slack.runtime import InFlight, guarded
from dialogs.case import Case


class Redraws:
    def __init__(self, copies: SlackCopies, in_flight: InFlight) -> None:
        self.copies, self.in_flight = copies, in_flight
        self.loop: asyncio.AbstractEventLoop | None = None
        self.waiting: set[str] = set()  # case ids with a redraw queued and not yet started

    def start(self) -> None:
        """From now on, changes are redrawn on the running loop (before it, nothing is sent)."""
        self.loop = asyncio.get_running_loop()

    def stop(self) -> None:
        self.loop = None

    def changed(self, case: Case) -> None:
        """The engine's watcher: any thread, never blocks, never raises."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        self.in_flight.announce()  # settling waits for it from now, not from when it starts
        try:
            loop.call_soon_threadsafe(self._arrive, case.id)
        except RuntimeError:  # the loop closed meanwhile: nothing will be drawn
            self.in_flight.arrived()

    def _arrive(self, case_id: str) -> None:
        self.in_flight.arrived()
        self._queue(case_id)

    def _queue(self, case_id: str) -> None:
        if case_id in self.waiting or self.loop is None:
            return
        self.waiting.add(case_id)
        self.in_flight.track(self.loop.create_task(self._redraw(case_id)))

    async def _redraw(self, case_id: str) -> None:
        self.waiting.discard(case_id)  # a change from here on queues another redraw
        await guarded("redraw", self.copies.refresh(case_id))
