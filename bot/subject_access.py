"""`escalation-bot subject-access --child-name NAME --dob DATE`: one child's records, for a subject
access request.

The business team's tool on the server, like `record`: whoever can run it can read the store
anyway, so it asks nobody's permission, and it exists only on the command line (no chat command
can export a child's whole record). It writes a PDF and a JSON file, readable by their owner
only, named by the date and a number (``subject-access-2027-02-01-1.pdf``), never by the child;
and it prints only those names and the matched case references.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

from redis.exceptions import RedisError

from adapters.documents import FontMissing, render_pdf
from bot.bootstrap import App, bootstrap_reader
from bot.settings import Settings, SettingsError, shown_url
from bot.tool_store import ToolProblem, open_tool_store
from bot.whole_file import CannotWrite, write_whole
from dialogs import texts
from dialogs.clock import SystemClock
from dialogs.ports import Clock
from dialogs.subject_access import matches, subject_access_document, subject_access_json
from policy.calendar import CalendarError

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2


def _parse_dob(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def run_subject_access(
    child_name: str,
    dob: str,
    out: str | None,
    database: str | None,
    config: str | None,
    clock: Clock | None = None,
) -> int:
    born = _parse_dob(dob)
    if born is None:
        print(texts.SUBJECT_ACCESS_BAD_DOB.format(dob=dob), file=sys.stderr)
        return EXIT_USAGE
    if not child_name.strip():
        print(texts.SUBJECT_ACCESS_NO_NAME, file=sys.stderr)
        return EXIT_USAGE
    folder = Path(out) if out else Path.cwd()
    if not folder.is_dir():
        print(texts.SUBJECT_ACCESS_NOT_A_FOLDER.format(path=folder), file=sys.stderr)
        return EXIT_USAGE
    try:
        settings = Settings.from_env(config, database)
    except SettingsError as exc:
        print(f"settings: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    try:
        store, where = open_tool_store(
            settings, explicit_database=database is not None, command="subject-access"
        )
        try:
            app = bootstrap_reader(settings.config_path, store, clock or SystemClock(),
                                   settings.extra_packs)
            written = _export(app, child_name, born, folder, where)
        finally:
            store.close()
    except ToolProblem as exc:
        print(exc, file=sys.stderr)
        return EXIT_PROBLEM
    except CalendarError as exc:
        print(f"{settings.config_path}: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    except RedisError as exc:
        shown = shown_url(settings.redis_url)
        print(texts.TOOL_NO_REDIS.format(command="subject-access", url=shown, reason=exc),
              file=sys.stderr)
        return EXIT_PROBLEM
    for path in written:
        print(texts.SUBJECT_ACCESS_WROTE.format(path=path))
    return EXIT_OK


def _export(app: App, child_name: str, born: date, folder: Path, where: str) -> list[Path]:
    cases = [case for case in app.store.all_cases() if matches(case, child_name, born)]
    if not cases:
        raise ToolProblem(texts.SUBJECT_ACCESS_NONE.format(store=where))
    print(texts.SUBJECT_ACCESS_FOUND.format(
        count=len(cases), references=", ".join(c.reference for c in cases)))
    found = [(case, app.store.history(case.id)) for case in cases]
    now = app.clock.now()
    produced = now.isoformat(timespec="minutes")
    document = subject_access_document(
        found,
        partnership_names={p.id: p.name for p in app.config.partnerships},
        agency_names=app.engine.agency_names,
        produced_at=produced,
    )
    try:
        pdf = render_pdf(document)
    except FontMissing as exc:
        raise ToolProblem(f"subject-access: {exc}") from None
    data = json.dumps(subject_access_json(found, produced), indent=2, ensure_ascii=False)
    stem = _free_stem(folder, now.date().isoformat())
    targets = [(folder / f"{stem}.pdf", pdf), (folder / f"{stem}.json", data.encode())]
    for target, content in targets:
        _write(target, content)
    return [target for target, _ in targets]


def _free_stem(folder: Path, day: str) -> str:
    """``subject-access-<date>-<n>`` with the first n whose files do not exist yet, so an
    earlier export is never overwritten."""
    n = 1
    while any((folder / f"subject-access-{day}-{n}{ext}").exists() for ext in (".pdf", ".json")):
        n += 1
    return f"subject-access-{day}-{n}"


def _write(target: Path, content: bytes) -> None:
    try:
        write_whole(target, content)
    except CannotWrite as exc:
        said = texts.SUBJECT_ACCESS_CANNOT_WRITE.format(path=target, reason=exc.reason)
        raise ToolProblem(said) from None
