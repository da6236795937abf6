"""`escalation-bot report`: the report on the procedure's use, for a period, to a file or the
terminal. The business team's tool on the server, like `record`; unlike `record` its output
holds no child details (see dialogs.reports), so it may be shared as the procedures ask."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

from redis.exceptions import RedisError

from adapters.documents import (
    FontMissing,
    render_report_csv,
    render_report_html,
    render_report_json,
    render_report_pdf,
)
from adapters.storage.redis import RedisStore
from adapters.storage.sqlite import SqliteStore
from bot.bootstrap import ClosableStore, load_policies
from bot.settings import Settings, SettingsError, shown_url
from bot.whole_file import CannotWrite, write_whole
from dialogs import texts
from dialogs.clock import SystemClock
from dialogs.reports.build import build_report
from dialogs.reports.figures import Period
from dialogs.reports.model import Report
from policy.calendar import CalendarError
from policy.config import Config, load_config

EXIT_OK, EXIT_PROBLEM = 0, 1
FORMATS: dict[str, Callable[[Report], bytes]] = {
    "html": render_report_html,
    "csv": render_report_csv,
    "json": render_report_json,
    "pdf": render_report_pdf,
}


class ReportProblem(Exception):
    """Something the person running the command can fix; the message says what and how."""


def parse_day(option: str, value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ReportProblem(texts.REPORT_BAD_DATE.format(option=option, value=value)) from None


def check_request(
    config: Config, partnership_id: str, agency: str | None, start: str, end: str
) -> Period:
    """Every option checked before the store is opened: one line naming the option and the fix."""
    known = [p.id for p in config.partnerships]
    if partnership_id not in known:
        raise ReportProblem(
            texts.REPORT_BAD_PARTNERSHIP.format(value=partnership_id, known=", ".join(known))
        )
    agencies = [a.id for a in config.agencies if a.partnership == partnership_id]
    if agency is not None and agency not in agencies:
        raise ReportProblem(
            texts.REPORT_BAD_AGENCY.format(
                value=agency, partnership=partnership_id, known=", ".join(agencies)
            )
        )
    period = Period(parse_day("--from", start), parse_day("--to", end))
    if period.start > period.end:
        raise ReportProblem(
            texts.REPORT_BAD_RANGE.format(start=period.start.isoformat(),
                                          end=period.end.isoformat())
        )
    return period


def run_report(
    partnership_id: str,
    start: str,
    end: str,
    fmt: str,
    agency: str | None,
    out: str | None,
    database: str | None,
    config_file: str | None,
) -> int:
    try:
        settings = Settings.from_env(config_file, database)
    except SettingsError as exc:
        print(f"settings: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    try:
        policies = load_policies(settings.extra_packs)
        config = load_config(settings.config_path, policies)
        period = check_request(config, partnership_id, agency, start, end)
        store, _ = _open_store(settings, explicit_database=database is not None)
        try:
            built = build_report(
                store, config, policies, partnership_id=partnership_id, period=period,
                now=SystemClock().now(), agency=agency,
            )
        finally:
            store.close()
        content = FORMATS[fmt](built.report)
    except ReportProblem as exc:
        print(exc, file=sys.stderr)
        return EXIT_PROBLEM
    except FontMissing as exc:
        print(texts.REPORT_NEEDS_FONT.format(reason=exc), file=sys.stderr)
        return EXIT_PROBLEM
    except CalendarError as exc:
        print(f"{settings.config_path}: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    except RedisError as exc:
        shown = shown_url(settings.redis_url)
        print(texts.REPORT_NO_REDIS.format(url=shown, reason=exc), file=sys.stderr)
        return EXIT_PROBLEM
    if out is None:
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
        return EXIT_OK
    try:
        _write(Path(out), content)
    except ReportProblem as exc:
        print(exc, file=sys.stderr)
        return EXIT_PROBLEM
    print(texts.REPORT_WROTE.format(path=out), file=sys.stderr)
    return EXIT_OK


def _open_store(settings: Settings, *, explicit_database: bool) -> tuple[ClosableStore, str]:
    """As `record` does: ``--db`` means that file; a missing one is refused, not created."""
    if settings.redis_url and not explicit_database:
        return RedisStore(settings.redis_url, prefix=settings.redis_prefix), settings.redis_url
    path = settings.database_path
    if not path.is_file():
        raise ReportProblem(texts.REPORT_NO_DATABASE.format(path=path))
    try:
        return SqliteStore(path), str(path)
    except sqlite3.Error as exc:
        raise ReportProblem(texts.REPORT_BAD_DATABASE.format(path=path, reason=exc)) from None


def _write(target: Path, content: bytes) -> None:
    try:
        write_whole(target, content)
    except CannotWrite as exc:
        said = texts.REPORT_CANNOT_WRITE.format(path=target, reason=exc.reason)
        raise ReportProblem(said) from None
