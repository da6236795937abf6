"""`make run` says who the example case reaches in Teams without a Playground page open, and how
to open it (tools/playground-reach.py, which tools/run.sh runs beside the Playground addresses).
Through the real script on the example configuration."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "playground-reach.py"


def reach(*args: str) -> str:
    env = {k: v for k, v in os.environ.items()
           if k not in {"ESCALATION_BOT_CONFIG", "PLAYGROUND_BOT_ENDPOINT"}}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def default_people() -> list[str]:
    found = re.search(r"PLAYGROUND_PEOPLE:-([a-z ]+)\}", (ROOT / "tools" / "run.sh").read_text())
    assert found is not None
    return found.group(1).split()


def test_make_run_opens_a_page_for_everyone_up_to_stage_two_by_default() -> None:
    people = default_people()
    assert "isaiah" in people  # Gus Penn, Hana's line manager: stage 2 of the README's case
    out = reach("56155", *people)
    assert "Gus Penn" not in out and "Dana Marsh" not in out and "Cal Birch" not in out


def test_someone_without_a_page_is_named_with_the_command_that_opens_it() -> None:
    out = reach("56154", "alex", "megan", "adele", "patti")  # the old default
    (line,) = [line for line in out.splitlines() if "Gus Penn" in line]
    assert "tools/playground.sh isaiah 5615" in line
    assert 'PLAYGROUND_PEOPLE="alex megan adele patti ' in out and "isaiah" in out


def test_someone_the_playground_cannot_play_is_named_too() -> None:
    out = reach("56155", *default_people())
    (line,) = [line for line in out.splitlines() if "Fern Ash" in line]
    assert "the Playground has no user for them" in line
    assert "not delivered by teams" in line  # where to see what did not reach them


def test_everyone_reachable_prints_nothing_about_it() -> None:
    out = reach("56156", "alex", "megan", "adele", "isaiah", "patti", "lynne")
    assert "Bea Lane" not in out and "Gus Penn" not in out
