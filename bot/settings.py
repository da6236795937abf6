"""Where the bot finds its configuration and data, from the environment, with embedded defaults
that let `make run` work on a fresh machine with nothing set."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit, urlunsplit

from dialogs import texts

if TYPE_CHECKING:
    from adapters.email.smtp import SmtpServer

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO_ROOT / "examples" / "partnerships.yaml"
DEFAULT_DATABASE = REPO_ROOT / "var" / "escalation-bot.sqlite3"


class SettingsError(ValueError):
    """An environment variable with a value the bot cannot use; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    config_path: Path
    database_path: Path
    extra_packs: Path | None
    redis_url: str | None = None
    redis_prefix: str = "escalation"
    host: str = "127.0.0.1"
    port: int = 3978
    worker_id: str = ""
    tick_seconds: float = 1.0
    lease_seconds: float = 60.0
    clock_start: datetime | None = None
    log_level: str = "INFO"
    microsoft_app_id: str = ""
    microsoft_app_password: str = ""
    microsoft_app_tenant_id: str = ""
    microsoft_app_type: str = "MultiTenant"
    openid_metadata_url: str = ""  # "": Microsoft's; tests point it at a fake on loopback
    openid_timeout_seconds: float = 5.0
    smtp: SmtpServer | None = None  # no mail server: mailboxes and email-only people get nothing
    teams_file_formats: tuple[str, ...] = ("pdf",)  # forms offered as files in a Teams chat
    slack_app_token: str = ""  # "": no Socket Mode (Slack POSTs to /slack/events instead)
    slack_bot_token: str = ""  # "": Slack is off
    slack_signing_secret: str = ""
    slack_api_url: str = ""  # "": Slack's own Web API; tests point it at a fake on loopback

    @classmethod
    def from_env(cls, config: str | None = None, database: str | None = None) -> Settings:
        from bot.smtp_settings import smtp_from_env  # it uses this module's helpers

        env = os.environ
        packs = env.get("ESCALATION_BOT_PACKS")
        return cls(
            config_path=Path(config or env.get("ESCALATION_BOT_CONFIG") or DEFAULT_CONFIG),
            database_path=Path(database or env.get("ESCALATION_BOT_DATABASE") or DEFAULT_DATABASE),
            extra_packs=Path(packs) if packs else None,
            redis_url=_redis_url(env.get("ESCALATION_BOT_REDIS_URL") or None),
            redis_prefix=_redis_prefix(env.get("ESCALATION_BOT_REDIS_PREFIX", "escalation")),
            host=env.get("ESCALATION_BOT_HOST", "127.0.0.1"),
            port=number(env, "ESCALATION_BOT_PORT", 3978, int),
            worker_id=env.get("ESCALATION_BOT_WORKER_ID")
            or f"{socket.gethostname()}:{os.getpid()}",
            tick_seconds=number(env, "ESCALATION_BOT_TICK_SECONDS", 1.0, float),
            lease_seconds=number(env, "ESCALATION_BOT_LEASE_SECONDS", 60.0, float),
            clock_start=_instant(env.get("ESCALATION_BOT_CLOCK_START")),
            log_level=env.get("ESCALATION_BOT_LOG_LEVEL", "INFO").upper(),
            # the Bot Framework's own names, as Azure Bot Service documents them
            microsoft_app_id=env.get("MicrosoftAppId", ""),
            microsoft_app_password=env.get("MicrosoftAppPassword", ""),
            microsoft_app_tenant_id=env.get("MicrosoftAppTenantId", ""),
            microsoft_app_type=env.get("MicrosoftAppType", "MultiTenant"),
            openid_metadata_url=env.get("ESCALATION_BOT_OPENID_METADATA_URL", ""),
            openid_timeout_seconds=number(
                env, "ESCALATION_BOT_OPENID_TIMEOUT_SECONDS", 5.0, float
            ),
            smtp=smtp_from_env(env),
            teams_file_formats=_file_formats(env.get("ESCALATION_BOT_TEAMS_FILE_FORMATS")),
            slack_app_token=slack_app_token(env.get("SLACK_APP_TOKEN")),
            slack_bot_token=env.get("SLACK_BOT_TOKEN", ""),
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET", ""),
            slack_api_url=env.get("SLACK_API_URL", ""),
        )


def is_loopback(host: str) -> bool:
    """This machine only: what local no-credential Teams mode and plain SMTP are limited to."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_Number = TypeVar("_Number", int, float)


def number(env: Mapping[str, str], name: str, default: _Number, kind: type[_Number]) -> _Number:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive")
    return value


def shown_url(url: str | None) -> str:
    """A Redis URL as it may be printed: its password, if it has one, as ***."""
    if not url:
        return ""
    parts = urlsplit(url)
    userinfo, at, place = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{place}"))


def _redis_url(raw: str | None) -> str | None:
    """Checked as the Redis client will read it, so a typo is a settings error naming the
    variable, not a traceback from inside the client at start."""
    if raw is None:
        return None
    try:
        parts = urlsplit(raw)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError(texts.REDIS_URL_SCHEME)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError as exc:
        raise SettingsError(texts.REDIS_URL_BAD.format(url=shown_url(raw), reason=exc)) from None
    return raw


def _redis_prefix(raw: str) -> str:
    if not raw or "{" in raw or "}" in raw:
        raise SettingsError(texts.REDIS_PREFIX_BAD.format(prefix=raw))
    return raw


def _instant(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise SettingsError(f"ESCALATION_BOT_CLOCK_START={raw!r} is not an ISO date-time") from None
    if moment.tzinfo is None:
        raise SettingsError("ESCALATION_BOT_CLOCK_START needs a UTC offset, e.g. +00:00")
    return moment


_FILE_FORMATS = ("pdf", "docx")


def _file_formats(raw: str | None) -> tuple[str, ...]:
    """Which formats a form is offered in as files in a Teams chat: each is one Allow card on
    a phone, so PDF alone unless the partnership wants the Word copy there too."""
    if not raw or not raw.strip():
        return ("pdf",)
    chosen = tuple(dict.fromkeys(part.strip().lower() for part in raw.split(",") if part.strip()))
    unknown = [f for f in chosen if f not in _FILE_FORMATS]
    if unknown or not chosen:
        raise SettingsError(
            f"ESCALATION_BOT_TEAMS_FILE_FORMATS={raw!r}: use pdf, docx or pdf,docx"
        )
    return chosen


def slack_app_token(raw: str | None) -> str:
    """Socket Mode's app-level token. A bot token (xoxb-) or a signing secret pasted here is the
    likely mistake, and Slack would only answer "not_allowed_token_type" much later, in a log."""
    token = (raw or "").strip()
    if token and not token.startswith("xapp-"):
        shown = token[:5] + "..." if len(token) > 5 else token
        raise SettingsError(
            f"SLACK_APP_TOKEN={shown!r} is not an app-level token; fix: use the xapp-... token"
            " from your Slack app's Basic Information > App-Level Tokens (scope"
            " connections:write), or unset SLACK_APP_TOKEN to receive Slack over HTTP"
        )
    return token
