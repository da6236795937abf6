"""Issue 13's catch-up: with Python's default collector thresholds a backlog's allocations ran
young collections without end (a claimed message's parse cost 152 us with them, 32 us without),
so the serving process freezes its startup heap and collects young objects far less often."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from bot.bootstrap import bootstrap
from bot.heap import MIDDLE_EVERY, OLD_EVERY, YOUNG_EVERY, settle_heap
from bot.server import build_web_app
from bot.settings import Settings
from dialogs.clock import SimulatedClock

CONFIG = Path(__file__).resolve().parents[1] / "examples/partnerships.yaml"
MONDAY = datetime(2027, 2, 1, 10, tzinfo=UTC)


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


async def test_the_server_settles_the_heap_when_it_starts(
    tmp_path: Path, collector: None
) -> None:
    """serve starts with collection off (bot.cli); the server's start hook settles the heap."""
    gc.disable()
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    app = bootstrap(CONFIG, tmp_path / "bot.sqlite3", SimulatedClock(MONDAY))
    settings = Settings(config_path=CONFIG, database_path=tmp_path / "bot.sqlite3",
                        extra_packs=None, tick_seconds=3600, worker_id="test")
    server = TestServer(build_web_app(app, settings), host="127.0.0.1")
    await server.start_server()
    try:
        assert gc.isenabled() and gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_EVERY, MIDDLE_EVERY, OLD_EVERY)
    finally:
        await server.close()
        app.close()
