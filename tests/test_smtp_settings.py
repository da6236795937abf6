"""The mail server settings: each way to give them, and each refusal, named with its variable and
fix. Refusals are checked on `escalation-bot serve` as a process too, as an IT admin meets them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from smtp_support import free_port

from adapters.email.smtp import Security, SmtpServer
from bot.settings import SettingsError
from bot.smtp_settings import smtp_from_env

ROOT = Path(__file__).resolve().parents[1]
FROM = {"ESCALATION_BOT_SMTP_FROM": "Escalations <escalations@partnership.example>"}


def parse(**env: str) -> SmtpServer | None:
    return smtp_from_env({**FROM, **{f"ESCALATION_BOT_SMTP_{k}": v for k, v in env.items()}})


def refused(**env: str) -> str:
    with pytest.raises(SettingsError) as error:
        parse(**env)
    return str(error.value)


def test_no_mail_server_is_no_email() -> None:
    assert smtp_from_env({}) is None


def test_office_365_with_starttls() -> None:
    server = parse(URL="smtp://bot%40scp.example:p%40ss@smtp.office365.com:587?starttls=true")
    assert server == SmtpServer(
        host="smtp.office365.com",
        port=587,
        security=Security.STARTTLS,
        sender=FROM["ESCALATION_BOT_SMTP_FROM"],
        username="bot@scp.example",
        password="p@ss",
    )
    assert "p@ss" not in repr(server) and "p@ss" not in server.describe()
    assert server.envelope_sender == "escalations@partnership.example"


def test_implicit_tls_defaults_to_465_and_the_password_may_be_its_own_variable() -> None:
    server = parse(URL="smtps://relay.scp.example", USER="bot", PASSWORD="secret")
    assert server is not None
    assert (server.port, server.security, server.username, server.password) == (
        465, Security.TLS, "bot", "secret"
    )


def test_plain_smtp_to_this_machine_is_allowed() -> None:
    server = parse(URL="smtp://127.0.0.1:1025")
    assert server is not None and (server.host, server.port, server.security) == (
        "127.0.0.1", 1025, Security.NONE
    )
    assert parse(URL="smtp://localhost")
    assert parse(URL="smtp://[::1]:25")


def test_separate_variables(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    server = parse(HOST="smtp.office365.com", USER="bot@scp.example", PASSWORD="pw",
                   TIMEOUT_SECONDS="12.5", CA_FILE=str(ca))
    assert server is not None
    assert (server.port, server.security, server.timeout_seconds, server.ca_file) == (
        587, Security.STARTTLS, 12.5, str(ca)
    )
    tls = parse(HOST="relay.example", TLS="tls", PORT="2465")
    assert tls is not None and (tls.port, tls.security) == (2465, Security.TLS)


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"URL": "smtp://smtp.office365.com:587"},
         "plain SMTP to smtp.office365.com would send children's details unencrypted"),
        ({"HOST": "relay.example", "TLS": "none"},
         "ESCALATION_BOT_SMTP_TLS: plain SMTP to relay.example would send"),
        ({"URL": "smtp://bot:pw@127.0.0.1:1025"}, "a password over plain SMTP"),
        ({"URL": "http://smtp.example"}, "must start smtp:// or smtps://"),
        ({"URL": "smtp://:25"}, "names no host"),
        ({"URL": "smtp://smtp.example:99999"}, "not a number from 1 to 65535"),
        ({"URL": "smtps://smtp.example?starttls=true"}, "drop ?starttls=true"),
        ({"URL": "smtp://smtp.example?starttls=maybe"}, "starttls is true or false"),
        ({"URL": "smtp://smtp.example?verify=false"}, "unknown option verify"),
        ({"URL": "smtps://smtp.example", "HOST": "smtp.example"}, "not both"),
        ({"URL": "smtps://bot:pw@smtp.example", "PASSWORD": "pw"}, "give them once"),
        ({"URL": "smtps://smtp.example", "USER": "bot"}, "give both ESCALATION_BOT_SMTP_USER"),
        ({"HOST": "smtp.example", "TLS": "ssl"}, "ESCALATION_BOT_SMTP_TLS is starttls, tls"),
        ({"HOST": "smtp.example", "PORT": "mail"}, "ESCALATION_BOT_SMTP_PORT='mail' is not"),
        ({"URL": "smtps://smtp.example", "TIMEOUT_SECONDS": "-1"}, "must be positive"),
        ({"URL": "smtps://smtp.example", "CA_FILE": "/no/such.pem"}, "is not a file"),
    ],
)
def test_refusals_name_the_variable_and_the_fix(env: dict[str, str], says: str) -> None:
    assert says in refused(**env)


def test_from_is_required_and_must_be_an_address() -> None:
    with pytest.raises(SettingsError, match="ESCALATION_BOT_SMTP_FROM is not set"):
        smtp_from_env({"ESCALATION_BOT_SMTP_URL": "smtps://smtp.example"})
    with pytest.raises(SettingsError, match="is not an email address"):
        smtp_from_env({"ESCALATION_BOT_SMTP_URL": "smtps://smtp.example",
                       "ESCALATION_BOT_SMTP_FROM": "escalations"})


def test_half_a_setting_is_refused_not_ignored() -> None:
    with pytest.raises(SettingsError, match="ESCALATION_BOT_SMTP_FROM set, but no mail server"):
        smtp_from_env(FROM)


# ---- as `serve` meets them ---------------------------------------------------------------------


def run_serve(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ESCALATION_BOT_SMTP_")}
    database = tmp_path / "x.db"
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve"],
        cwd=ROOT,
        env={**clean, "ESCALATION_BOT_DATABASE": str(database),
             "ESCALATION_BOT_PORT": str(free_port()), **env},  # 3978 may be another run's
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"ESCALATION_BOT_SMTP_URL": "smtp://mail.example:25", **FROM},
         "settings: ESCALATION_BOT_SMTP_URL: plain SMTP to mail.example would send children's"
         " details unencrypted over the network; fix: use smtps://host:465, or"
         " smtp://host:587?starttls=true"),
        ({"ESCALATION_BOT_SMTP_URL": "smtp://bot:pw@127.0.0.1:1025", **FROM},
         "settings: ESCALATION_BOT_SMTP_URL: a password over plain SMTP travels in the clear"),
        ({"ESCALATION_BOT_SMTP_URL": "smtps://smtp.example"},
         "settings: ESCALATION_BOT_SMTP_FROM is not set"),
    ],
)
def test_serve_refuses_to_start(tmp_path: Path, env: dict[str, str], says: str) -> None:
    result = run_serve(tmp_path, env)
    assert result.returncode == 1
    assert says in result.stderr
    assert "Traceback" not in result.stderr
    assert "pw" not in result.stderr.replace("password", "")
    assert not (tmp_path / "x.db").exists()  # refused before anything was opened
