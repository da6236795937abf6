"""Files the CLI writes for a person (forms, reports, exports, subject access): whole or not at
all (a temporary file in the same folder, renamed over the target), and readable by their owner
only (mkstemp's 0600), since most of them hold a child's details."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class CannotWrite(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def write_whole(target: Path, content: bytes) -> None:
    """Raises CannotWrite with the system's reason; nothing half-written is left behind."""
    temporary: str | None = None
    try:
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-", suffix=".part")
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        os.replace(temporary, target)
        temporary = None
    except OSError as exc:
        raise CannotWrite(exc.strerror or str(exc)) from None
    finally:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)
