"""The collector settings of a serving process, applied once its startup is built (bot.server's
start; ``serve`` starts with collection off, bot.cli).

Python's cyclic collector runs a young collection every 700 net allocations. A lapse allocates
thousands of objects (the case, its cards, its messages), and a claimed batch of 100 messages a
few thousand more, so a catch-up ran collections without end: in a process holding the startup
heap, parsing claimed messages cost 152 us each with the collector as it comes and 32 us with it
off.

- ``gc.freeze()``: what startup built (packs, calendars, the directory, the SDKs, ~100,000
  objects) lives as long as the process, so no collection walks it again.
- Young collections every 20,000 allocations, the older generations after 50 and 100 of those:
  cyclic garbage (rare here: the models are trees) waits a little longer to be freed, a few MB
  at most, and nothing that is not garbage is kept. The 10,000-lapse catch-up benchmark drained
  in 37 s with the freeze alone and 33 s with these thresholds too (SQLite, one run each).
"""

from __future__ import annotations

import gc

YOUNG_EVERY = 20_000
MIDDLE_EVERY = 50
OLD_EVERY = 100


def settle_heap() -> None:
    """Freeze what is alive, set the thresholds, and turn collection (back) on."""
    gc.freeze()
    gc.set_threshold(YOUNG_EVERY, MIDDLE_EVERY, OLD_EVERY)
    gc.enable()
