"""Wire the parts together once. Nothing else constructs stores, engines or clocks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from adapters.storage.sqlite import SqliteStore
from bot.settings import Settings
from dialogs.directory import Person, people_from_config
from dialogs.engine import Engine
from dialogs.people import Directory
from dialogs.ports import Clock, Store
from policy.config import Config, load_config
from policy.loader import PolicyRegistry, bundled_pack_paths, installed_pack_paths


class ClosableStore(Store, Protocol):
    def close(self) -> None: ...


@dataclass
class App:
    config: Config
    policies: PolicyRegistry
    store: ClosableStore
    engine: Engine
    clock: Clock

    def close(self) -> None:
        self.store.close()


def load_policies(extra_packs: Path | None = None) -> PolicyRegistry:
    """The bundled packs and those installed in ``extra_packs``. A broken installed file is
    kept on the registry's ``broken`` rather than refusing every pack: the configuration check
    then refuses only a partnership that uses it, naming the file (so `serve` will not start
    with it), and `policy list` names it."""
    paths = bundled_pack_paths()
    if extra_packs is not None:
        paths += installed_pack_paths(extra_packs)
    return PolicyRegistry.load_each(paths)


def open_store(settings: Settings) -> ClosableStore:
    """Redis when a URL is set (several replicas share it), else the embedded SQLite file. The
    Redis client library is imported only then: ~0.1 s of a start that does not use it."""
    if settings.redis_url:
        from adapters.storage.redis import RedisStore

        return RedisStore(settings.redis_url, prefix=settings.redis_prefix)
    settings.database_path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteStore(settings.database_path)


def restore_directory(app: App, people: list[Person] | None = None) -> int:
    """Write the configured directory back if the store has lost it (a Redis that restarted
    empty, or was flushed), so people are not told they are unknown until someone restarts the
    bot. Two lookups when nothing is missing; ``people`` spares rebuilding the list each tick.
    Returns how many people were written."""
    people = people if people is not None else people_from_config(app.config)
    probes = {people[0].email, people[-1].email} if people else set()
    if all(app.store.person(email) is not None for email in probes):
        return 0
    app.store.upsert_people(people)
    Directory(app.store).seed(people)
    return len(people)


def bootstrap_from_settings(settings: Settings, clock: Clock, environ: Mapping[str, str]) -> App:
    """Start-up for `serve`: the configuration is checked in full, webhook secrets in ``environ``
    included, before any store is opened, so a refused start leaves no file or connection."""
    policies = load_policies(settings.extra_packs)
    config = load_config(settings.config_path, policies, environ)
    return _assemble(config, policies, open_store(settings), clock)


def bootstrap(
    config_path: Path,
    database_path: Path,
    clock: Clock,
    extra_packs: Path | None = None,
    *,
    store: ClosableStore | None = None,
) -> App:
    policies = load_policies(extra_packs)
    config = load_config(config_path, policies)
    if store is None:
        database_path.parent.mkdir(parents=True, exist_ok=True)
        store = SqliteStore(database_path)
    return _assemble(config, policies, store, clock)


def bootstrap_reader(
    config_path: Path, store: ClosableStore, clock: Clock, extra_packs: Path | None = None
) -> App:
    """For tools that only read cases (`record`): the same parts as the bot, but the directory
    in the store is left as the running bot wrote it, so a tool run with another configuration
    file cannot change whom the live bot thinks people are."""
    policies = load_policies(extra_packs)
    config = load_config(config_path, policies)
    engine = Engine(store, clock, config, policies)
    return App(config=config, policies=policies, store=store, engine=engine, clock=clock)


def _assemble(config: Config, policies: PolicyRegistry, store: ClosableStore, clock: Clock) -> App:
    people = people_from_config(config)
    store.upsert_people(people)
    Directory(store).seed(people)
    engine = Engine(store, clock, config, policies)
    return App(config=config, policies=policies, store=store, engine=engine, clock=clock)
