"""Checkpoint a SQLite WAL from a thread of its own, so no write pays for it.

SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL past 1,000 pages: that
commit copies the WAL back into the database and syncs it while holding the store's lock. In a
catch-up two thirds of a batch's commit time was that copy (8.4 ms a commit with it, 2.8 ms
without), and every turn waiting on the lock waited for it too. Here the store's connection only
checkpoints as a backstop (far larger WAL), and this thread, on its own connection, runs a
PASSIVE checkpoint shortly after writes: PASSIVE never waits for a reader or a writer, and the
sqlite3 module lets go of the GIL meanwhile, so the copy runs on another core beside the writes.
Once the WAL is large, the last of the copy is made holding the store's lock, so the WAL can
start over (see RESTART_FRAMES).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger("escalation_bot.store")

# The store's own connection checkpoints only past this many WAL pages (~80 MB): a backstop
# for a checkpointer that is starved or gone, never the usual path.
BACKSTOP_PAGES = 20_000
# SQLite starts the WAL over only after a checkpoint has copied all of it, and a PASSIVE one run
# beside steady writes never quite does (new frames arrive while it copies), so the WAL would
# grow to the backstop. Once it holds this many frames, the checkpointer finishes the copy holding
# the store's lock: little is left by then (the unlocked pass did the bulk), so the lock is held
# for a few milliseconds, and the store's next write starts the WAL over.
RESTART_FRAMES = 1_000
# When the WAL starts over, its file is cut back to this size (SQLite keeps it at its largest).
WAL_SIZE_LIMIT_BYTES = 8 * 1024 * 1024
# After a checkpoint, wait this long for more writes, so a burst of commits is copied (and the
# database file synced) once rather than once per commit.
GATHER_SECONDS = 0.1


class WalCheckpointer:
    def __init__(self, path: Path, *, busy_timeout_ms: int, writes: threading.Lock) -> None:
        """``writes``: the lock the store holds around each use of its connection."""
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._writes = writes
        self._written = threading.Event()
        self._stopping = threading.Event()
        self.checkpoints = 0
        self.restarts = 0  # checkpoints finished under the store's lock
        self._thread = threading.Thread(target=self._run, name="sqlite-wal-checkpoint",
                                        daemon=True)
        self._thread.start()

    def written(self) -> None:
        """Called after each commit: one Event.set, cheap enough for every write."""
        self._written.set()

    def close(self) -> None:
        """Stop the thread. No last checkpoint: the store's connection, closing after it as the
        database's last, checkpoints the WAL itself."""
        self._stopping.set()
        self._written.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            db = sqlite3.connect(self._path, isolation_level=None,
                                 timeout=self._busy_timeout_ms / 1000)
        except sqlite3.Error as exc:
            log.warning("WAL checkpointer could not open the database (%s); the store's own"
                        " connection checkpoints instead", exc)
            return
        try:
            while True:
                self._written.wait()
                # gather the burst; close() ends the wait at once
                if self._stopping.wait(GATHER_SECONDS):
                    return
                self._written.clear()
                self._checkpoint(db)
        finally:
            db.close()

    def _checkpoint(self, db: sqlite3.Connection) -> None:
        try:
            _, frames, _ = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.checkpoints += 1
            if frames >= RESTART_FRAMES:
                with self._writes:  # no write of this store's until the copy is whole
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                self.restarts += 1
        except sqlite3.Error as exc:
            # a locked or busy database: the next write wakes us again, and the backstop holds
            log.warning("WAL checkpoint failed (%s); retried after the next write", exc)
