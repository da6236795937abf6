"""Where the bot finds its configuration and data, from the environment, with embedded defaults
that let `make run` work on a fresh machine with nothing set."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO_ROOT / "examples" / "partnerships.yaml"
DEFAULT_DATABASE = REPO_ROOT / "var" / "escalation-bot.sqlite3"


@dataclass(frozen=True)
class Settings:
    config_path: Path
    database_path: Path
    extra_packs: Path | None

    @classmethod
    def from_env(cls, config: str | None = None, database: str | None = None) -> Settings:
        packs = os.environ.get("ESCALATION_BOT_PACKS")
        return cls(
            config_path=Path(config or os.environ.get("ESCALATION_BOT_CONFIG") or DEFAULT_CONFIG),
            database_path=Path(
                database or os.environ.get("ESCALATION_BOT_DATABASE") or DEFAULT_DATABASE
            ),
            extra_packs=Path(packs) if packs else None,
        )
