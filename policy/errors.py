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
    """One thing wrong with a file. ``field`` is the path as the author wrote it, counting list
    positions from 0 (``stages[1]`` is the second stage); ``line`` is the file's line, from 1 as
    editors count, where the loader could find the field (None for a missing top-level field)."""

    field: str
    message: str
    fix: str
    line: int | None = None

    @property
    def where(self) -> str:
        """"line 48, stages[1].name": the line first, as editors and CI logs read it."""
        return f"line {self.line}, {self.field}" if self.line is not None else self.field


class FileProblems(Exception):
    """One or more problems with one file."""

    def __init__(self, path: Path | str, problems: Sequence[Problem]) -> None:
        self.path = str(path)
        self.problems = list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"{self.path}: {len(self.problems)} problem(s)"]
        for problem in self.problems:
            lines.append(f"  {problem.where}: {problem.message}")
            lines.append(f"    fix: {problem.fix}")
        return "\n".join(lines)


_FIXES = {
    "missing": "add this field",
    "extra_forbidden": "remove this field or correct its spelling (see docs/policy-format.md)",
    "string_type": "give a text value; put a number in quotes, e.g. version: \"1\"",
    "int_type": "give a whole number",
    "int_parsing": "give a whole number",
    "int_from_float": "give a whole number",
    "bool_type": "give true or false",
    "bool_parsing": "give true or false",
    "list_type": "give a list (one '- item' per line)",
    "dict_type": "give a mapping (key: value lines)",
    "model_type": "give a mapping (key: value lines)",
    "enum": "use one of the allowed values listed",
    "greater_than_equal": "give a larger number",
    "less_than_equal": "give a smaller number",
    "too_short": "add at least one entry",
    "string_pattern_mismatch": "write it in the form docs/policy-format.md gives",
    "string_too_short": "give a non-empty value",
    "date_from_datetime_parsing": "give a date as YYYY-MM-DD",
    "date_parsing": "give a date as YYYY-MM-DD",
    "date_type": "give a date as YYYY-MM-DD",
    "time_parsing": "give a time as HH:MM",
    "time_type": "give a time as HH:MM",
    "value_error": "correct the value as the message says",
}


# Every pattern a pack or configuration value must match, with what it means in words. A pattern
# and its fix live together so that each field's fix states that field's own rule (a reference
# prefix was once told to use "lower-case letters", the identifiers' rule, when it must be
# capitals). policy.model and policy.config take their patterns from here.
IDENTIFIER_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
REFERENCE_PREFIX_PATTERN = r"^[A-Z]{2,6}$"
WEBHOOK_URL_PATTERN = r"^https?://\S+$"
ENV_NAME_PATTERN = r"^[A-Z_][A-Z0-9_]*$"

_PATTERNS = {
    IDENTIFIER_PATTERN: (
        "must be an id: lower-case letters, digits, '-' or '_', starting with a letter or digit",
        "use lower-case letters, digits, '-' or '_' only, e.g. first_line_manager",
    ),
    REFERENCE_PREFIX_PATTERN: (
        "must be 2 to 6 capital letters",
        "use 2 to 6 capital letters (A-Z, no digits or spaces), e.g. NB",
    ),
    WEBHOOK_URL_PATTERN: (
        "must be a web address",
        "give the full address, starting https:// or http://",
    ),
    ENV_NAME_PATTERN: (
        "must be an environment variable's name",
        "use capital letters, digits and '_', starting with a letter or '_', e.g. FLOW_SECRET",
    ),
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
        if detail["type"] == "string_pattern_mismatch":
            pattern = str(detail.get("ctx", {}).get("pattern", ""))
            if pattern in _PATTERNS:
                rule, fix = _PATTERNS[pattern]
                message = f"'{detail['input']}' {rule}"
        field = _field_path(detail["loc"])
        located = _LOCATED.match(message) if detail["type"] == "value_error" else None
        if located:
            prefix = "" if field == "(top level)" else field + "."
            field = prefix + located["field"]
            message = located["message"]
            fix = located["fix"] or fix
        problems.append(Problem(field, message, fix))
    return problems
