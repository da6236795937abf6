"""The architecture and style rules, enforced by the suite rather than by memory.

Dependencies point inward (policy <- dialogs <- adapters|scheduler <- bot) and the domain imports
no platform, web, database or scheduler library; policy/ and dialogs/ are ruff- and
mypy --strict-clean.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_import_contracts_hold() -> None:
    result = _run(str(BIN / "lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def test_ruff_is_clean() -> None:
    result = _run(str(BIN / "ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_on_the_domain() -> None:
    result = _run(str(BIN / "mypy"), "--strict", "policy", "dialogs")
    assert result.returncode == 0, result.stdout + result.stderr
