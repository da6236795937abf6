"""`escalation-bot people import FILE.csv`: add or update the directory in the store from a
partnership's HR or agency list, all or nothing (policy.people_import checks it first).

It writes to the store the bot itself uses (Redis when ESCALATION_BOT_REDIS_URL is set, else the
SQLite file; ``--db`` names a file), so a running bot sees the people at once: it reads the
directory from the store on every turn. People in the configuration stay as configured there.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from redis.exceptions import RedisError

from adapters.storage.redis import RedisStore
from adapters.storage.sqlite import SqliteStore
from bot.bootstrap import ClosableStore, load_policies
from bot.settings import Settings, SettingsError, shown_url
from dialogs import texts
from dialogs.directory import Person, entry_from_person, person_from_entry
from dialogs.people import Directory
from policy.calendar import CalendarError
from policy.config import Config, load_config
from policy.errors import FileProblems
from policy.loader import PolicyRegistry
from policy.people_import import read_people_csv

EXIT_OK, EXIT_PROBLEM = 0, 1


@dataclass(frozen=True)
class Counts:
    added: int
    updated: int
    unchanged: int


def run_people_import(file: str, config: str | None, database: str | None) -> int:
    try:
        settings = Settings.from_env(config, database)
    except SettingsError as exc:
        print(f"settings: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    try:
        policies = load_policies(settings.extra_packs)
        loaded = load_config(settings.config_path, policies)
    except FileProblems as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_PROBLEM
    except CalendarError as exc:
        print(f"{settings.config_path}: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    try:
        store = _open_store(settings, explicit_database=database is not None)
    except RedisError as exc:
        shown = shown_url(settings.redis_url)
        print(texts.RECORD_NO_REDIS.format(url=shown, reason=exc), file=sys.stderr)
        return EXIT_PROBLEM
    try:
        return _import(Path(file), loaded, settings, store, policies)
    except RedisError as exc:
        shown = shown_url(settings.redis_url)
        print(texts.RECORD_NO_REDIS.format(url=shown, reason=exc), file=sys.stderr)
        return EXIT_PROBLEM
    finally:
        store.close()


def _import(
    path: Path, config: Config, settings: Settings, store: ClosableStore, policies: PolicyRegistry
) -> int:
    stored = [p for partnership in config.partnerships for p in store.people(partnership.id)]
    in_config = {p.email for p in config.people}
    existing = [*config.people, *(entry_from_person(p) for p in stored if p.email not in in_config)]
    found = read_people_csv(path, config, policies, existing)
    if found.problems:
        print(texts.PEOPLE_IMPORT_REFUSED.format(file=path, count=len(found.problems)),
              file=sys.stderr)
        for problem in found.problems:
            print(f"  {problem.where}: {problem.message}", file=sys.stderr)
            print(f"    fix: {problem.fix}", file=sys.stderr)
        return EXIT_PROBLEM
    people = [person_from_entry(row.entry, config) for row in found.rows]
    counts = _counts(people, {p.email: p for p in stored})
    store.upsert_people(people)
    Directory(store).seed(people)
    print(texts.PEOPLE_IMPORTED.format(file=path, total=len(people), added=counts.added,
                                       updated=counts.updated, unchanged=counts.unchanged))
    if found.configured:
        print(texts.PEOPLE_IMPORT_CONFIGURED.format(
            count=len(found.configured), config=settings.config_path,
            emails=", ".join(r.entry.email for r in found.configured),
        ))
    return EXIT_OK


def _counts(people: list[Person], before: dict[str, Person]) -> Counts:
    added = sum(1 for p in people if p.email not in before)
    unchanged = sum(1 for p in people if before.get(p.email) == p)
    return Counts(added, len(people) - added - unchanged, unchanged)


def _open_store(settings: Settings, *, explicit_database: bool) -> ClosableStore:
    """``--db`` always means that SQLite file; otherwise the store the bot itself uses. A new
    file is created: importing people before the bot first starts is how a partnership begins."""
    if settings.redis_url and not explicit_database:
        return RedisStore(settings.redis_url, prefix=settings.redis_prefix)
    settings.database_path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteStore(settings.database_path)
