"""The mail server, from the environment: one URL, or the same facts in separate variables.

    ESCALATION_BOT_SMTP_URL=smtp://user:pass@smtp.example:587?starttls=true   STARTTLS
    ESCALATION_BOT_SMTP_URL=smtps://smtp.example:465                          TLS from the start
    ESCALATION_BOT_SMTP_URL=smtp://127.0.0.1:1025                             plain, loopback only
    or ESCALATION_BOT_SMTP_HOST, _PORT, _TLS (starttls | tls | none), _USER, _PASSWORD
    and always ESCALATION_BOT_SMTP_FROM

Messages carry children's details, so a setting that would send them unencrypted over a network,
or a password in the clear, is refused at start-up, naming the variable and the fix, rather than
discovered in a mail log.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from adapters.email.smtp import Security, SmtpServer
from bot.settings import SettingsError, is_loopback, number

URL = "ESCALATION_BOT_SMTP_URL"
HOST = "ESCALATION_BOT_SMTP_HOST"
PORT = "ESCALATION_BOT_SMTP_PORT"
TLS = "ESCALATION_BOT_SMTP_TLS"
USER = "ESCALATION_BOT_SMTP_USER"
PASSWORD = "ESCALATION_BOT_SMTP_PASSWORD"
FROM = "ESCALATION_BOT_SMTP_FROM"
TIMEOUT = "ESCALATION_BOT_SMTP_TIMEOUT_SECONDS"
CA_FILE = "ESCALATION_BOT_SMTP_CA_FILE"

DEFAULT_PORTS = {Security.STARTTLS: 587, Security.TLS: 465, Security.NONE: 25}
_ALL = (URL, HOST, PORT, TLS, USER, PASSWORD, FROM, TIMEOUT, CA_FILE)


def smtp_from_env(env: Mapping[str, str]) -> SmtpServer | None:
    """None when no mail server is set; SettingsError for one the bot must not use."""
    url, host = env.get(URL, "").strip(), env.get(HOST, "").strip()
    if not url and not host:
        stray = [name for name in _ALL if env.get(name)]
        if stray:
            raise SettingsError(
                f"{', '.join(stray)} set, but no mail server; fix: set {URL} (for example"
                f" smtps://smtp.example:465) or {HOST}"
            )
        return None
    if url and host:
        raise SettingsError(f"set {URL} or {HOST} and its friends, not both")
    if url:
        target, security, port, user, password = _from_url(url)
        if (user or password) and (env.get(USER) or env.get(PASSWORD)):
            raise SettingsError(
                f"{URL} has a user name or password and so does {USER}/{PASSWORD}; fix: give"
                " them once"
            )
    else:
        target, security, port = host, _security(env.get(TLS, "starttls")), None
        if env.get(PORT):
            port = _port(env[PORT], PORT)
        user = password = ""
    user = user or env.get(USER, "")
    password = password or env.get(PASSWORD, "")
    if bool(user) != bool(password):
        raise SettingsError(f"give both {USER} and {PASSWORD}, or neither")
    where = URL if url else TLS
    if security is Security.NONE:
        if not is_loopback(target):
            raise SettingsError(
                f"{where}: plain SMTP to {target} would send children's details unencrypted"
                " over the network; fix: use smtps://host:465, or smtp://host:587?starttls=true"
                + ("" if url else f" ({TLS}=tls or starttls)")
            )
        if password:
            raise SettingsError(
                f"{where}: a password over plain SMTP travels in the clear; fix: use STARTTLS"
                " or TLS, or a local relay that needs no password"
            )
    return SmtpServer(
        host=target,
        port=port or DEFAULT_PORTS[security],
        security=security,
        sender=_sender(env.get(FROM, "")),
        username=user,
        password=password,
        timeout_seconds=number(env, TIMEOUT, 30.0, float),
        ca_file=_ca_file(env.get(CA_FILE, "")),
    )


def _from_url(url: str) -> tuple[str, Security, int | None, str, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise SettingsError(
            f"{URL} must start smtp:// or smtps://, not {parts.scheme or 'nothing'}://"
        )
    if not parts.hostname:
        raise SettingsError(f"{URL} names no host; for example smtps://smtp.example:465")
    try:
        port = parts.port
    except ValueError:
        raise SettingsError(f"{URL} has a port that is not a number from 1 to 65535") from None
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - {"starttls"})
    if unknown:
        raise SettingsError(f"{URL}: unknown option {', '.join(unknown)}; the only one is starttls")
    starttls = options.get("starttls", "false").lower()
    if starttls not in ("true", "false"):
        raise SettingsError(f"{URL}: starttls is true or false, not {starttls!r}")
    if parts.scheme == "smtps":
        if starttls == "true":
            raise SettingsError(f"{URL}: smtps:// is TLS from the start; drop ?starttls=true")
        security = Security.TLS
    else:
        security = Security.STARTTLS if starttls == "true" else Security.NONE
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    return parts.hostname, security, port, user, password


def _security(raw: str) -> Security:
    try:
        return Security(raw.strip().lower())
    except ValueError:
        raise SettingsError(f"{TLS} is starttls, tls or none, not {raw!r}") from None


def _port(raw: str, name: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise SettingsError(f"{name}={raw!r} is not a port (1 to 65535)")
    return port


def _sender(raw: str) -> str:
    if not raw.strip():
        raise SettingsError(
            f"{FROM} is not set: the address the bot's email comes from; fix: export"
            f" {FROM}='Escalations <escalations@partnership.example>'"
        )
    address = parseaddr(raw)[1]
    if "@" not in address:
        raise SettingsError(f"{FROM}={raw!r} is not an email address")
    return raw.strip()


def _ca_file(raw: str) -> str | None:
    if not raw:
        return None
    if not Path(raw).is_file():
        raise SettingsError(f"{CA_FILE}={raw!r} is not a file")
    return raw
