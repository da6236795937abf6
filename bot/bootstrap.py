"""Wire the parts together once. Nothing else constructs stores, engines or clocks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from adapters.storage.sqlite import SqliteStore
from dialogs.directory import people_from_config
from dialogs.engine import Engine
from dialogs.ports import Clock
from policy.config import Config, load_config
from policy.loader import PolicyRegistry, bundled_pack_paths


@dataclass
class App:
    config: Config
    policies: PolicyRegistry
    store: SqliteStore
    engine: Engine
    clock: Clock

    def close(self) -> None:
        self.store.close()


def load_policies(extra_packs: Path | None = None) -> PolicyRegistry:
    paths = bundled_pack_paths()
    if extra_packs is not None:
        paths += sorted(extra_packs.glob("*.yaml"))
    return PolicyRegistry.load(paths)


def bootstrap(
    config_path: Path, database_path: Path, clock: Clock, extra_packs: Path | None = None
) -> App:
    policies = load_policies(extra_packs)
    config = load_config(config_path, policies)
    database_path.parent.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(database_path)
    store.upsert_people(people_from_config(config))
    engine = Engine(store, clock, config, policies)
    return App(config=config, policies=policies, store=store, engine=engine, clock=clock)
