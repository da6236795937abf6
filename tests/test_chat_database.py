"""The terminal chat keeps to itself (issue 10, point 8): its own database by default, so its
simulated clock never moves a running server's cases; a warning when pointed at a database a
running server uses; and its clock carried from one session to the next, so time never runs
backwards on the same cases. Real processes throughout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from test_server import Server

from bot.serving_mark import mark_path

ROOT = Path(__file__).resolve().parents[1]
DANA = "dana.marsh@council.northbay.example"


def chat(*args: str, stdin: str, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--as", DANA, *args], cwd=ROOT,
        env={**os.environ, **(env or {})}, input=stdin, capture_output=True, text=True,
        timeout=60,
    )


def test_the_chat_never_uses_the_servers_database_unless_told(tmp_path: Path) -> None:
    servers = tmp_path / "server.sqlite3"
    result = chat(stdin="status\nquit\n", env={"ESCALATION_BOT_DATABASE": str(servers)})
    assert result.returncode == 0, result.stderr
    assert not servers.exists()  # the server's file was never opened
    assert (ROOT / "var" / "chat.sqlite3").exists()


def test_a_running_server_is_marked_and_the_chat_warns_on_its_database(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"
    server = Server({"ESCALATION_BOT_DATABASE": str(database)})
    try:
        server.wait_ready()
        assert mark_path(database).read_text().strip() == str(server.process.pid)
        result = chat("--db", str(database), stdin="quit\n")
        assert "a running server" in result.stderr and str(database) in result.stderr
    finally:
        server.stop()
    assert not mark_path(database).exists()  # gone with the server
    quiet = chat("--db", str(database), stdin="quit\n")
    assert "a running server" not in quiet.stderr


def test_the_chats_clock_carries_on_from_the_last_session(tmp_path: Path) -> None:
    database = tmp_path / "chat.sqlite3"

    def now_after(wait: str) -> datetime:
        result = chat("--db", str(database), stdin=f"wait {wait}\nquit\n")
        assert result.returncode == 0, result.stderr
        found = re.findall(r"It is now (\w{3} \d\d \w{3} \d{4} \d\d:\d\d)", result.stdout)
        return datetime.strptime(found[-1], "%a %d %b %Y %H:%M")

    first = now_after("3d")
    second = now_after("1h")
    assert (second - first).total_seconds() >= 3600 - 60  # on from where the first stopped


def test_the_chat_tells_the_time_in_the_partnerships_zone(tmp_path: Path) -> None:
    result = chat("--db", str(tmp_path / "c.sqlite3"), stdin="wait 1h\nquit\n")
    assert "(Europe/London)." in result.stdout and " UTC." not in result.stdout
