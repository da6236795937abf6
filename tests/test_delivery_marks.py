"""Issue 13: a delivered message is marked sent before the next is sent (a killed worker repeats
at most one), and that mark is made on the event loop when the store can make it at once. A
thread hand-off per message cost more than the mark itself (124 us a hand-off on this machine
against 73 us for SQLite's mark); a store that would have to wait is still marked off the loop,
so a held lock never holds up the turns and probes the loop answers meanwhile.

Real SQLite and Redis, real runner and engine; the platform is the console notifier. SQLite
marks on the loop when its lock and SQLite's write lock are free; Redis awaits the mark's round
trip on an asyncio client of the loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from support import STORES, app, app_on_store, raise_case

from adapters.console.render import ConsoleNotifier
from adapters.storage.sqlite import SqliteStore
from bot.bootstrap import App
from dialogs.notifications import Notification
from scheduler.runner import deliver_due_notifications

__all__ = ["app"]


class CountingExecutor(ThreadPoolExecutor):
    """A real thread pool that keeps the name of each function handed to it."""

    def __init__(self) -> None:
        super().__init__(max_workers=4)
        self.handed: list[str] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.handed.append(getattr(fn, "__name__", type(fn).__name__))
        return super().submit(fn, *args, **kwargs)


def sqlite_of(app: App) -> SqliteStore:
    assert isinstance(app.store, SqliteStore)
    return app.store


def statuses(app: App, keys: list[str]) -> set[str]:
    found = set()
    for key in keys:
        row = app.store.notification(key)
        assert row is not None
        found.add(row[1])
    return found


@pytest.mark.parametrize("kind", STORES)
def test_a_free_store_marks_every_delivery_without_a_thread_hand_off(
    kind: str, tmp_path: Path
) -> None:
    with app_on_store(kind, tmp_path, "loop-marks") as app:
        marks_every_delivery_on_the_loop(app)


def marks_every_delivery_on_the_loop(app: App) -> None:
    for _ in range(3):
        raise_case(app, "northbay")
    due = [i.notification.key for i in app.store.due_notifications(app.clock.now(), 1000)]
    assert len(due) >= 9
    pool = CountingExecutor()
    notifier = ConsoleNotifier(echo=False)

    async def run() -> tuple[int, int]:
        asyncio.get_running_loop().set_default_executor(pool)
        return await deliver_due_notifications(app.store, notifier, app.clock, engine=app.engine)

    try:
        assert asyncio.run(run()) == (len(due), 0)
    finally:
        pool.shutdown()
    assert statuses(app, due) == {"sent"}
    # one hand-off per claimed batch, none per message
    assert pool.handed.count("_sent") == 0, pool.handed
    assert pool.handed.count("claim_notifications") == 1, pool.handed


def test_a_held_store_is_marked_off_the_loop_and_the_loop_runs_meanwhile(app: App) -> None:
    raise_case(app, "northbay")
    due = [i.notification.key for i in app.store.due_notifications(app.clock.now(), 1000)]
    held, release = threading.Event(), threading.Event()

    def hold_the_store() -> None:  # a turn's long write, in another thread
        with sqlite_of(app)._lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_store)

    class TakesTheLockAfterTheFirst(ConsoleNotifier):
        async def deliver(self, notification: Notification) -> None:
            await super().deliver(notification)
            if len(self.sink) == 1:
                holder.start()
                while not held.is_set():  # bounded by the thread taking a free lock
                    await asyncio.sleep(0)

    pool = CountingExecutor()
    notifier = TakesTheLockAfterTheFirst(echo=False)

    async def run() -> tuple[int, int]:
        asyncio.get_running_loop().set_default_executor(pool)
        delivery = asyncio.create_task(
            deliver_due_notifications(app.store, notifier, app.clock, engine=app.engine)
        )
        # the first mark could not be made on the loop: it waits in a thread, and this
        # coroutine runs meanwhile, so the loop is not held up by the store's lock
        while "_sent" not in pool.handed:
            assert not delivery.done()
            await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not delivery.done()  # the mark waits for the lock, and with it the next send
        assert len(notifier.sink) == 1
        release.set()
        return await delivery

    try:
        assert asyncio.run(run()) == (len(due), 0)
    finally:
        release.set()
        holder.join(10)
        pool.shutdown()
    assert statuses(app, due) == {"sent"}


def test_a_batch_marked_on_the_loop_lets_other_work_run_between_messages(app: App) -> None:
    """A platform that answers at once and marks that never wait: without a yield between
    messages the loop ran a whole batch at a stretch, and a status probe waited 20 ms (p50)
    in the catch-up benchmark instead of 1.6 ms."""
    for _ in range(3):
        raise_case(app, "northbay")
    others = 0
    seen: list[int] = []

    class Instant(ConsoleNotifier):
        async def deliver(self, notification: Notification) -> None:
            await super().deliver(notification)
            seen.append(others)

    async def other_work() -> None:
        nonlocal others
        while True:
            others += 1
            await asyncio.sleep(0)

    async def run() -> tuple[int, int]:
        beside = asyncio.create_task(other_work())
        try:
            return await deliver_due_notifications(app.store, Instant(echo=False), app.clock)
        finally:
            beside.cancel()

    sent, failed = asyncio.run(run())
    assert sent >= 9 and failed == 0
    assert all(later > earlier for earlier, later in pairwise(seen)), seen
