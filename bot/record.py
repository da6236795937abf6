"""`escalation-bot record REF`: the current state of a case's forms as DOCX or PDF files.

It is the business team's tool, run on the server beside the bot with the bot's database, so it
asks nobody's permission: whoever can run it can read the store anyway. It writes the child's
details only into the files it is asked for (created readable by their owner alone), and prints
nothing of the child: each line names a file, whose name is the case reference, the form and the
stage when the command chooses it (``document_file_name``).
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from redis.exceptions import RedisError

from adapters.documents import FontMissing, render_docx, render_pdf
from adapters.storage.redis import RedisStore
from adapters.storage.sqlite import SqliteStore
from bot.audit import operator
from bot.bootstrap import App, ClosableStore, bootstrap_reader
from bot.settings import Settings, SettingsError, shown_url
from bot.whole_file import CannotWrite, write_whole
from dialogs import texts
from dialogs.audit import CaseRead, ReadKind
from dialogs.case_forms import case_documents, forms_in_use
from dialogs.clock import SystemClock
from dialogs.documents import FormDocument, document_file_name
from dialogs.errors import DomainError
from policy.calendar import CalendarError

EXIT_OK, EXIT_PROBLEM = 0, 1
RENDERERS: dict[str, Callable[[FormDocument], bytes]] = {"docx": render_docx, "pdf": render_pdf}


class RecordProblem(Exception):
    """Something the person running the command can fix; the message says what and how."""


@dataclass(frozen=True)
class Request:
    reference: str
    form_id: str | None
    format: str
    out: Path


def run_record(
    reference: str,
    form_id: str | None,
    fmt: str,
    out: str,
    database: str | None,
    config: str | None,
) -> int:
    request = Request(reference.strip(), form_id, fmt, Path(out))
    try:
        settings = Settings.from_env(config, database)
    except SettingsError as exc:
        print(f"settings: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    try:
        store, where = _open_store(settings, explicit_database=database is not None)
        try:
            app = bootstrap_reader(settings.config_path, store, SystemClock(), settings.extra_packs)
            for path in _record(app, request, where):
                print(texts.RECORD_WROTE.format(path=path))
        finally:
            store.close()
    except RecordProblem as exc:
        print(exc, file=sys.stderr)
        return EXIT_PROBLEM
    except CalendarError as exc:
        print(f"{settings.config_path}: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    except RedisError as exc:
        shown = shown_url(settings.redis_url)
        print(texts.RECORD_NO_REDIS.format(url=shown, reason=exc), file=sys.stderr)
        return EXIT_PROBLEM
    return EXIT_OK


def _open_store(settings: Settings, *, explicit_database: bool) -> tuple[ClosableStore, str]:
    """``--db`` always means that SQLite file; otherwise the store the bot itself would use.
    A missing file is refused rather than created: an empty new database would only say that no
    case exists."""
    if settings.redis_url and not explicit_database:
        return RedisStore(settings.redis_url, prefix=settings.redis_prefix), settings.redis_url
    path = settings.database_path
    if not path.is_file():
        raise RecordProblem(texts.RECORD_NO_DATABASE.format(path=path))
    try:
        return SqliteStore(path), str(path)
    except sqlite3.Error as exc:
        raise RecordProblem(texts.RECORD_BAD_DATABASE.format(path=path, reason=exc)) from None


def _record(app: App, request: Request, where: str) -> list[Path]:
    engine = app.engine
    reference = request.reference
    case = app.store.get_case(reference) or app.store.find_case_by_reference(reference.upper())
    if case is None:
        raise RecordProblem(texts.RECORD_UNKNOWN_CASE.format(reference=reference, store=where))
    try:
        policy = engine.policy_for(case)
        partnership = engine.partnership(case.partnership_id)
    except DomainError as exc:
        raise RecordProblem(f"record: {exc}") from None
    form_ids = [form.id for form in policy.forms]
    if not form_ids:
        raise RecordProblem(
            texts.RECORD_POLICY_HAS_NO_FORMS.format(reference=case.reference, policy=policy.id)
        )
    if request.form_id is not None and request.form_id not in form_ids:
        raise RecordProblem(
            texts.RECORD_UNKNOWN_FORM.format(
                reference=case.reference, form=request.form_id, forms=", ".join(form_ids)
            )
        )
    documents = case_documents(
        policy,
        case,
        partnership=partnership.name,
        calendar=engine.calendar_for(partnership, policy),
        now=app.clock.now(),
        agency_names=engine.agency_names,
        form_id=request.form_id,
    )
    if not documents and request.form_id is not None:
        reached = [form.id for form, _ in forms_in_use(policy, case)]
        raise RecordProblem(
            texts.RECORD_FORM_NOT_REACHED.format(
                reference=case.reference,
                form=request.form_id,
                stage=case.stage,
                forms=", ".join(reached) or texts.DOCUMENT_BLANK,
            )
        )
    if not documents:
        raise RecordProblem(
            texts.RECORD_NO_FORMS_YET.format(
                reference=case.reference, stage=case.stage, forms=", ".join(form_ids)
            )
        )
    targets = _targets(request, documents, case.reference)
    render = RENDERERS[request.format]
    try:
        files = [render(document) for document in documents]  # all, before writing any
    except FontMissing as exc:
        raise RecordProblem(f"record: {exc}") from None
    for target, content, document in zip(targets, files, documents, strict=True):
        _write(target, content)
        # a copy of the child's details now exists outside the bot: the case's read log says so
        app.store.record_read(CaseRead(
            case_id=case.id, at=app.clock.now(), reader=operator(), kind=ReadKind.DOCUMENT,
            platform="cli", detail=f"{document.form_id} {request.format}",
        ), 0.0)
    return targets


def _targets(request: Request, documents: list[FormDocument], reference: str) -> list[Path]:
    """An existing folder takes every document under its own safe name; a file name takes
    exactly one, so two forms can never overwrite each other in one file."""
    out = request.out
    if out.is_dir():
        return [out / document_file_name(d, request.format) for d in documents]
    if len(documents) > 1:
        raise RecordProblem(
            texts.RECORD_SEVERAL_FORMS.format(
                reference=reference,
                count=len(documents),
                forms=", ".join(d.form_id for d in documents),
            )
        )
    suffix = out.suffix.lower()
    if suffix in {f".{name}" for name in RENDERERS} and suffix != f".{request.format}":
        raise RecordProblem(
            texts.RECORD_WRONG_SUFFIX.format(path=out, suffix=suffix, format=request.format)
        )
    return [out]


def _write(target: Path, content: bytes) -> None:
    try:
        write_whole(target, content)
    except CannotWrite as exc:
        said = texts.RECORD_CANNOT_WRITE.format(path=target, reason=exc.reason)
        raise RecordProblem(said) from None
