"""Issue 13's catch-up: with Python's default collector thresholds a backlog's allocations ran
young collections without end (a claimed message's parse cost 152 us with them, 32 us without),
so the serving process freezes its startup heap and collects young objects far less often.
That a started server applies it: tests/test_cold_start.py."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bot.heap import settle_heap


@pytest.fixture
def collector() -> Iterator[None]:
    """The test process's own collector settings, put back afterwards."""
    threshold, enabled = gc.get_threshold(), gc.isenabled()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_settling_freezes_what_is_alive_and_collects_young_objects_rarely(collector: None) -> None:
    gc.disable()  # as serve starts (bot.cli)
    gc.unfreeze()
    alive = [object()]  # tracked by the collector
    settle_heap()
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0
    assert all(o is not alive for o in gc.get_objects())  # frozen: out of every generation
    young, middle, old = gc.get_threshold()
    assert young >= 20 * 700  # Python's default is 700
    assert (middle, old) >= (10, 10)

