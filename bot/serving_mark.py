"""A mark beside a SQLite database while `serve` runs on it, so the terminal chat can warn
before it moves a simulated clock through a live server's cases (issue 10, point 8).

The mark is a file `<database>.serving` holding the server's process id; it is removed when
the server stops, and a mark whose process is gone (a crash) counts for nothing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


def mark_path(database: Path) -> Path:
    return database.with_name(database.name + ".serving")


@contextlib.contextmanager
def serving(database: Path) -> Iterator[None]:
    mark = mark_path(database)
    mark.write_text(str(os.getpid()), encoding="utf-8")
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if mark.read_text(encoding="utf-8").strip() == str(os.getpid()):
                mark.unlink()


def served_by(database: Path) -> int | None:
    """The id of a live server process using ``database``, if there is one."""
    try:
        pid = int(mark_path(database).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid  # alive, someone else's
    return pid
