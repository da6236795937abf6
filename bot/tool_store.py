"""The store a tool on the server reads (retention, subject-access): the bot's own, by its
settings, or the SQLite file named by ``--db``."""

from __future__ import annotations

import sqlite3

from adapters.storage.redis import RedisStore
from adapters.storage.sqlite import SqliteStore
from bot.bootstrap import ClosableStore
from bot.settings import Settings
from dialogs import texts


class ToolProblem(Exception):
    """Something the person running the command can fix; the message says what and how."""


def open_tool_store(
    settings: Settings, *, explicit_database: bool, command: str
) -> tuple[ClosableStore, str]:
    """``--db`` always means that SQLite file; otherwise the store the bot itself would use. A
    missing file is refused rather than created (an empty database would find nothing)."""
    if settings.redis_url and not explicit_database:
        return RedisStore(settings.redis_url, prefix=settings.redis_prefix), settings.redis_url
    path = settings.database_path
    if not path.is_file():
        raise ToolProblem(texts.TOOL_NO_DATABASE.format(command=command, path=path))
    try:
        return SqliteStore(path), str(path)
    except sqlite3.Error as exc:
        raise ToolProblem(
            texts.TOOL_BAD_DATABASE.format(command=command, path=path, reason=exc)
        ) from None
