"""Each bot process runs one ticker: an APScheduler job that fires lapsed deadlines and delivers
the outbox, every ``interval_seconds``, and wakes early for a deadline due before the next
interval, so a deadline's lag is the pass that fires it, not the wait for the next interval.

The job store is APScheduler's in-memory default, one per process: APScheduler must not share a
job store between processes, and it need not, because the durable schedule is the Store's deadline
rows, which replicas share and claim with a lease. ``misfire_grace_time=None`` and ``coalesce``
mean a late tick (a busy loop, a paused VM) still runs, once, instead of being silently dropped.
The first tick runs at start: that is the reconcile pass for everything that fell due while the
process was down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from dialogs.engine import Engine
from dialogs.ports import Clock, Notifier, Store
from scheduler.runner import (
    NoObserver,
    Observer,
    TickResult,
    deliver_due_notifications,
    fire_due_deadlines,
)

log = logging.getLogger("escalation_bot.scheduler")

# Bounds on one tick, so a backlog (after downtime, or the 09:00 queue) is worked through over
# several ticks with deliveries, metrics and readiness in between rather than one very long tick.
DEADLINE_BATCHES_PER_TICK = 10
DELIVERY_BATCHES_PER_TICK = 20
# A wake for a deadline already due (one that fell due during the pass) waits this long, so a
# store whose claim and next_due ever disagreed costs a pass every few milliseconds, not a spin.
WAKE_FLOOR_SECONDS = 0.005


class Ticker:
    def __init__(
        self,
        store: Store,
        engine: Engine,
        clock: Clock,
        notifier: Notifier,
        *,
        worker: str,
        interval_seconds: float = 1.0,
        lease_seconds: float = 60.0,
        batch: int = 100,
        observer: Observer | None = None,
        on_tick: Callable[[float], None] | None = None,
        housekeeping: Callable[[], None] | None = None,
    ) -> None:
        self.store, self.engine, self.clock, self.notifier = store, engine, clock, notifier
        self.worker = worker
        self.interval_seconds = interval_seconds
        self.lease_seconds = lease_seconds
        self.batch = batch
        self.observer = observer or NoObserver()
        self.on_tick = on_tick
        self.housekeeping = housekeeping
        self._last_start: float | None = None
        self.last_tick_finished: float | None = None  # time.monotonic()
        self._last_progress: float | None = None
        self.ticks = 0
        self._scheduler: AsyncIOScheduler | None = None
        self._lock = asyncio.Lock()
        self._catch_up: asyncio.Task[None] | None = None
        self._wake: asyncio.TimerHandle | None = None
        self._woken: asyncio.Task[None] | None = None
        self.wakes = 0  # passes run early, for a deadline due before the next interval

    async def tick(self, *, housekeep: bool = True) -> TickResult:
        """One pass: deadlines (in a worker thread: the store is synchronous), then delivery.
        ``more`` in the answer: it stopped at a bound with work still due."""
        async with self._lock:
            self._progressed()
            loop = asyncio.get_running_loop()
            if housekeep and self.housekeeping is not None:
                await loop.run_in_executor(None, self._housekeep)
            result = await loop.run_in_executor(None, self._fire)
            sent, failed = await deliver_due_notifications(
                self.store,
                self.notifier,
                self.clock,
                worker=self.worker,
                lease_seconds=self.lease_seconds,
                batch=self.batch,
                observer=self.observer,
                engine=self.engine,
                max_batches=DELIVERY_BATCHES_PER_TICK,
                progress=self._progressed,
            )
            self.last_tick_finished = time.monotonic()
            self._progressed()
            self.ticks += 1
            if sent + failed >= DELIVERY_BATCHES_PER_TICK * self.batch:
                result = replace(result, more=True)
            return result

    async def catch_up(self) -> int:
        """Passes back to back while each stops at its bound with more due: a backlog (after
        downtime, or the 09:00 queue) drains at full speed rather than one bounded pass per
        interval. Each pass is bounded and the event loop runs between passes, so turns,
        /readyz and /metrics are answered throughout. Returns how many passes it ran."""
        passes = 0
        while True:
            passes += 1
            result = await self.tick(housekeep=False)
            if not result.more:
                return passes
            await asyncio.sleep(0)

    def catching_up(self) -> bool:
        return self._catch_up is not None and not self._catch_up.done()

    def _housekeep(self) -> None:
        assert self.housekeeping is not None
        try:
            self.housekeeping()
        except Exception:
            # housekeeping must never stop deadlines; the next tick tries again
            log.exception("scheduler housekeeping failed")

    def _fire(self) -> TickResult:
        return fire_due_deadlines(
            self.store,
            self.engine,
            self.clock,
            self.worker,
            lease_seconds=self.lease_seconds,
            batch=self.batch,
            observer=self.observer,
            max_batches=DEADLINE_BATCHES_PER_TICK,
            progress=self._progressed,
        )

    async def _scheduled_tick(self) -> None:
        started = time.monotonic()
        if self._last_start is not None and self.on_tick is not None:
            self.on_tick(max(0.0, started - self._last_start - self.interval_seconds))
        self._last_start = started
        if self.catching_up():
            return  # the catch-up running is doing this tick's work
        await self._pass(housekeep=True)

    async def _wake_pass(self) -> None:
        self.wakes += 1
        if self.catching_up():
            return  # the catch-up arms the next wake when it ends
        # A pass already running (an interval tick, or the tick after a turn, which arms no
        # wake) holds the lock: wait for it and run after it, rather than lose this wake.
        await self._pass(housekeep=False)

    async def _pass(self, *, housekeep: bool) -> None:
        try:
            result = await self.tick(housekeep=housekeep)
            if result.more:
                # in its own task, so this job ends and APScheduler's next ticks find the
                # catch-up running (above) instead of logging a skipped run every interval
                task = asyncio.get_running_loop().create_task(self._run_catch_up())
                self._catch_up = task
                return
            await self._arm_wake(found=result.fired + result.skipped + result.failed > 0)
        except asyncio.CancelledError:
            # the server is stopping mid-tick: what was claimed is leased, and the next start (or
            # another replica) takes it up once the lease runs out; nothing is lost, so no fault
            log.info("scheduler tick stopped with the server; unfinished work resumes on restart")
        except Exception:
            # The store may be briefly unreachable; /readyz shows it, the next tick retries.
            log.exception("scheduler tick failed")

    async def _arm_wake(self, *, found: bool) -> None:
        """After a pass: when the next deadline falls due before the next interval tick, run a
        pass then. next_due is one index probe and already accounts for leases, so a deadline
        another replica holds is not woken for until its lease ends. A deadline that is already
        due after a pass that found nothing is left to the interval (it cannot be taken now)."""
        if self._scheduler is None:
            return  # stopped, or driven pass by pass (tests, the CLI)
        loop = asyncio.get_running_loop()
        due = await loop.run_in_executor(None, self.store.next_due)
        if due is None or self._scheduler is None:
            return
        delay = (due - self.clock.now()).total_seconds()
        if delay >= self.interval_seconds or (delay <= 0 and not found):
            return
        when = loop.time() + max(delay, WAKE_FLOOR_SECONDS)
        if self._wake is not None:
            if self._wake.when() <= when:
                # two passes arming at once (an interval tick, a woken pass): keep the sooner;
                # a wake that finds its deadline already fired costs one empty pass
                return
            self._wake.cancel()
        self._wake = loop.call_at(when, self._start_wake_pass)

    def _start_wake_pass(self) -> None:
        self._wake = None
        if self._woken is not None and not self._woken.done():
            return  # a woken pass is still running; it arms the next wake when it ends
        self._woken = asyncio.get_running_loop().create_task(self._wake_pass())

    async def _run_catch_up(self) -> None:
        try:
            passes = await self.catch_up()
            log.info("scheduler caught up a backlog in %d passes", passes)
            await self._arm_wake(found=True)
        except asyncio.CancelledError:
            log.info("scheduler catch-up stopped with the server; it resumes on restart")
        except Exception:
            log.exception("scheduler catch-up failed; the next tick carries on")

    def start(self) -> None:
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            self._scheduled_tick,
            "interval",
            seconds=self.interval_seconds,
            next_run_time=datetime.now(UTC),
            id="tick",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
        scheduler.start()
        self._scheduler = scheduler

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        if self._wake is not None:
            self._wake.cancel()
            self._wake = None
        if self._woken is not None:
            self._woken.cancel()
            self._woken = None
        if self._catch_up is not None:
            self._catch_up.cancel()
            self._catch_up = None

    def _progressed(self) -> None:
        self._last_progress = time.monotonic()  # one float store: safe from the worker thread

    def seconds_since_progress(self) -> float | None:
        """Since the scheduler last moved: a tick started or ended, a batch fired, a message was
        taken for delivery. None before the first tick starts. Readiness reads this, so a long
        drain after a restart is ready while it moves, and a stuck scheduler is not."""
        if self._last_progress is None:
            return None
        return time.monotonic() - self._last_progress

    def seconds_since_tick(self) -> float | None:
        if self.last_tick_finished is None:
            return None
        return time.monotonic() - self.last_tick_finished
