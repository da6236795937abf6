"""Errors a person can act on: which file, which field, what is wrong and how to fix it.

Packs and configuration files are written by partnership staff, not developers, so a broken file
must never produce a traceback: it produces one of these, which the CLI prints and exits non-zero.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError


@dataclass(frozen=True)
class Problem:
    field: str
    message: str
    fix: str


class FileProblems(Exception):
    """One or more problems with one file."""

    def __init__(self, path: Path | str, problems: Sequence[Problem]) -> None:
        self.path = str(path)
        self.problems = list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"{self.path}: {len(self.problems)} problem(s)"]
        for problem in self.problems:
            lines.append(f"  {problem.field}: {problem.message}")
            lines.append(f"    fix: {problem.fix}")
        return "\n".join(lines)


_FIXES = {
    "missing": "add this field",
    "extra_forbidden": "remove this field or correct its spelling (see docs/policy-format.md)",
    "string_type": "give a text value",
    "int_type": "give a whole number",
    "int_parsing": "give a whole number",
    "bool_type": "give true or false",
    "bool_parsing": "give true or false",
    "list_type": "give a list (one '- item' per line)",
    "dict_type": "give a mapping (key: value lines)",
    "model_type": "give a mapping (key: value lines)",
    "enum": "use one of the allowed values listed",
    "greater_than_equal": "give a larger number",
    "too_short": "add at least one entry",
    "string_pattern_mismatch": "use lower-case letters, digits, '-' or '_' only",
    "string_too_short": "give a non-empty value",
    "date_from_datetime_parsing": "give a date as YYYY-MM-DD",
    "date_parsing": "give a date as YYYY-MM-DD",
    "date_type": "give a date as YYYY-MM-DD",
    "time_parsing": "give a time as HH:MM",
    "time_type": "give a time as HH:MM",
    "value_error": "correct the value as the message says",
}


def _field_path(location: Sequence[int | str]) -> str:
    parts: list[str] = []
    for item in location:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "(top level)"


# Whole-document checks cannot point pydantic at a field, so they say "path: what; fix: how".
_LOCATED = re.compile(
    r"^(?P<field>[A-Za-z_][\w\-.\[\]]*): (?P<message>.+?)(?:; fix: (?P<fix>.+))?$"
)


def problems_from_validation(error: ValidationError) -> list[Problem]:
    problems = []
    for detail in error.errors(include_url=False):
        message = detail["msg"].removeprefix("Value error, ")
        fix = _FIXES.get(detail["type"], "correct the value")
        field = _field_path(detail["loc"])
        located = _LOCATED.match(message) if detail["type"] == "value_error" else None
        if located:
            prefix = "" if field == "(top level)" else field + "."
            field = prefix + located["field"]
            message = located["message"]
            fix = located["fix"] or fix
        problems.append(Problem(field, message, fix))
    return problems
