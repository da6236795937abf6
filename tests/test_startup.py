"""Start-up as a newcomer meets it, through real processes: a taken port, a missing configuration
file and a database the bot cannot use are each one line naming the thing and the fix, exit 1, no
traceback; the terminal chat will not become someone who is not in the directory; and `chat
--help` and `demo --help` say what their options are for."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "bot.cli"]
DANA = "dana.marsh@council.northbay.example"
HANA = "hana.moss@health.northbay.example"


def run(argv: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *argv],
        cwd=ROOT,
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something else is listening on, as a second `make run` finds 3978."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


# ---- serve ---------------------------------------------------------------------------------


def test_a_port_in_use_is_one_line_naming_it_and_the_fix(tmp_path: Path, taken_port: int) -> None:
    database = tmp_path / "bot.sqlite3"
    env = {"ESCALATION_BOT_PORT": str(taken_port), "ESCALATION_BOT_DATABASE": str(database)}
    result = run(["serve"], env)
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert f"127.0.0.1:{taken_port} is already in use" in line
    assert "--port" in line and "ESCALATION_BOT_PORT" in line
    assert not database.exists()  # refused before the store was opened


def test_the_port_option_is_named_the_same_way(tmp_path: Path, taken_port: int) -> None:
    result = run(
        ["serve", "--port", str(taken_port)],
        {"ESCALATION_BOT_DATABASE": str(tmp_path / "bot.sqlite3")},
    )
    assert result.returncode == 1
    assert f"127.0.0.1:{taken_port} is already in use" in one_line(result.stderr)


@pytest.mark.parametrize(("argv", "env"), [
    (["serve", "--port", "70000"], {}),
    (["serve", "--port", "-1"], {}),
    (["serve"], {"ESCALATION_BOT_PORT": "99999"}),
])
def test_a_port_that_is_no_port_is_one_line_not_another_port(
    tmp_path: Path, argv: list[str], env: dict[str, str]
) -> None:
    """70000 is not a TCP port: on main the bot logged 'port 70000' and quietly listened on
    4464 (70000 - 65536), where nobody would look for it."""
    database = tmp_path / "bot.sqlite3"
    result = run(argv, {**env, "ESCALATION_BOT_DATABASE": str(database)})
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "1 to 65535" in line and "--port" in line and "ESCALATION_BOT_PORT" in line
    assert not database.exists()


def test_a_missing_config_file_is_one_line_naming_it_and_the_fix(tmp_path: Path) -> None:
    config = tmp_path / "absent.yaml"
    database = tmp_path / "bot.sqlite3"
    result = run(
        ["serve"], {"ESCALATION_BOT_CONFIG": str(config), "ESCALATION_BOT_DATABASE": str(database)}
    )
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert str(config) in line and "does not exist" in line
    assert "ESCALATION_BOT_CONFIG" in line
    assert not database.exists()


def test_a_corrupt_database_is_one_line_naming_it_and_the_fix(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"
    database.write_bytes(b"these are not the pages of a SQLite file\n" * 200)
    before = database.read_bytes()
    result = run(["serve"], {"ESCALATION_BOT_DATABASE": str(database)})
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert str(database) in line and "not a SQLite database" in line
    assert "ESCALATION_BOT_DATABASE" in line
    assert database.read_bytes() == before  # left as it was, for whoever looks at it


def test_an_unreadable_database_is_one_line_naming_it_and_the_fix(tmp_path: Path) -> None:
    # a folder where the file should be: unreadable as a database whoever runs the test (a
    # chmod 000 file would not do: root reads it anyway)
    database = tmp_path / "bot.sqlite3"
    database.mkdir()
    result = run(["serve"], {"ESCALATION_BOT_DATABASE": str(database)})
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert str(database) in line and "cannot open" in line
    assert "ESCALATION_BOT_DATABASE" in line


# ---- chat and demo -------------------------------------------------------------------------


def test_chat_will_not_become_someone_outside_the_directory(tmp_path: Path) -> None:
    result = run(
        ["chat", "--as", DANA, "--db", str(tmp_path / "chat.sqlite3")],
        {},
        stdin="as nobody@nowhere.example\nas nobody\nstatus\nas " + HANA + "\nquit\n",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "nobody@nowhere.example is not in the directory" in out
    assert "nobody is not in the directory" in out
    assert "You are now nobody" not in out
    assert "nobody@nowhere.example>" not in out and "\nnobody>" not in out
    assert f"You are still {DANA}" in out
    assert f"You are now {HANA}." in out  # someone who is in it, as before
    assert "Traceback" not in result.stderr


def test_chat_as_or_wait_alone_says_what_it_needs(tmp_path: Path) -> None:
    """`as` or `wait` on its own went to the bot, which answered "I didn't catch that" and
    listed the bot's commands, none of which is `as` or `wait`."""
    result = run(["chat", "--as", DANA, "--db", str(tmp_path / "chat.sqlite3")], {},
                 stdin="as\nwait\nquit\n")
    out = result.stdout
    assert "I didn't catch that" not in out
    assert "`as EMAIL`" in out and "`wait 2h`" in out


def test_chat_will_not_start_as_someone_outside_the_directory(tmp_path: Path) -> None:
    database = tmp_path / "chat.sqlite3"
    result = run(["chat", "--as", "nobody@nowhere.example", "--db", str(database)], {})
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "nobody@nowhere.example is not in the directory" in line
    assert "--as" in line


@pytest.mark.parametrize(
    ("command", "described"),
    [
        ("chat", ("--as", "--config", "--db", "var/chat.sqlite3", "directory")),
        ("demo", ("--policy", "nsscp", "policy list")),
    ],
)
def test_help_describes_every_option(command: str, described: tuple[str, ...]) -> None:
    result = run([command, "--help"], {})
    assert result.returncode == 0
    options = result.stdout.split("options:", 1)[1]
    words = " ".join(options.split())  # however the terminal's width wrapped it
    for word in described:
        assert word in words, word
    # every option carries a description, not only its name and metavar
    chunks = re.split(r"\n  (?=-)", options.strip("\n"))
    for chunk in chunks:
        signature, _, description = chunk.strip().partition("  ")
        assert description.strip(), f"{command}: {signature} has no description"
