"""A partnership's people from a spreadsheet (an HR or agency list saved as CSV), checked as
strictly as the configuration's own `people:` before any of it is used.

The file is read whole and every problem is reported at once, each as ``row N, column: what is
wrong`` with a fix; row 1 is the header, as a spreadsheet numbers it. Rows are checked one by one
(addresses, agencies that exist, roles the partnership's pack defines, the preference) and then
together with everyone already in the directory, by the same checks the configuration gets
(policy.people_checks: one entry per address, one person per platform account, line managers in
the directory and the same partnership, no circles). Nothing here writes anything: the caller
imports only a file with no problems.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from policy.config import Config, PersonEntry
from policy.errors import Problem, problems_from_validation
from policy.loader import PolicyRegistry
from policy.people_checks import people_problems

REQUIRED = ("email", "name", "agency", "role", "line_manager")
OPTIONAL = ("prefers", "teams_aad_object_id", "slack_user_id")
COLUMNS = REQUIRED + OPTIONAL
_FIXES = {
    "email": "give the person's work email address, e.g. sam.jones@agency.example",
    "line_manager": "give the line manager's work email address, or leave it empty",
    "prefers": "write teams or slack, or leave it empty",
}
_PERSON_PATH = re.compile(r"^people\[(\d+)\]\.?(.*)$")


@dataclass(frozen=True)
class ImportRow:
    row: int  # as a spreadsheet numbers it: the header is row 1
    entry: PersonEntry


@dataclass(frozen=True)
class PeopleFile:
    rows: list[ImportRow]
    problems: list[Problem]
    # rows for people the configuration lists: it stays the one place they are changed
    configured: list[ImportRow] = field(default_factory=list)


def column_name(header: str) -> str:
    """'Line manager', 'line-manager' and 'LINE_MANAGER' are one column."""
    return re.sub(r"[\s\-]+", "_", header.strip().lower())


def read_people_csv(
    path: Path, config: Config, policies: PolicyRegistry, existing: Sequence[PersonEntry]
) -> PeopleFile:
    """The file's people and every problem with them. ``existing`` is the directory as it
    stands (the configuration's people and those imported before); a row for someone in it
    replaces their entry for the checks."""
    try:
        text = path.read_bytes().decode("utf-8-sig")  # a spreadsheet's BOM is not a column
    except UnicodeDecodeError as exc:
        return PeopleFile([], [Problem(
            f"row {text_row(path, exc.start)}",
            "the file is not UTF-8 text",
            "save it from your spreadsheet as 'CSV UTF-8 (comma delimited)'",
        )])
    except OSError as exc:
        return PeopleFile([], [Problem("file", f"cannot be read: {exc.strerror}",
                                       "check the path and that you may read it")])
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        return PeopleFile([], [Problem("row 1", "the file is empty",
                                       f"start with a header row: {','.join(REQUIRED)}")])
    columns = [column_name(h) for h in header]
    problems = _header_problems(columns)
    if problems:
        return PeopleFile([], problems)
    rows: list[ImportRow] = []
    for number, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue  # blank lines at the end of an export
        if len(values) > len(columns):
            problems.append(Problem(
                f"row {number}", f"has {len(values)} values but the header names {len(columns)}"
                " columns", "remove the extra values, or quote a value that holds a comma",
            ))
            continue
        cells = {c: v.strip() for c, v in zip(columns, values, strict=False) if c}
        entry, found = _entry(number, cells, config, policies)
        problems += found
        if entry is not None:  # checked with the others too, so one run lists everything
            rows.append(ImportRow(number, entry))
    in_config = {p.email for p in config.people}
    configured = [r for r in rows if r.entry.email in in_config]
    rows = [r for r in rows if r.entry.email not in in_config]
    problems += _together(rows, config, existing)
    return PeopleFile(rows, sorted(problems, key=_row_order), configured)


def _row_order(problem: Problem) -> int:
    """File order; problems at entries already in the directory after the file's."""
    found = re.match(r"row (\d+)", problem.field)
    return int(found[1]) if found else 1 << 30


def text_row(path: Path, offset: int) -> int:
    return path.read_bytes()[:offset].count(b"\n") + 1


def _header_problems(columns: list[str]) -> list[Problem]:
    problems = []
    seen: set[str] = set()
    for column in columns:
        if not column:
            continue  # a blank header cell (a trailing comma): its values are ignored
        if column not in COLUMNS:
            problems.append(Problem(
                f"row 1, {column}", "is not a column this import knows",
                f"name the columns {', '.join(REQUIRED)} (and optionally {', '.join(OPTIONAL)})",
            ))
        elif column in seen:
            problems.append(Problem(f"row 1, {column}", "is named twice",
                                    "keep one column of that name"))
        seen.add(column)
    for column in REQUIRED:
        if column not in seen:
            problems.append(Problem(
                f"row 1, {column}", "the column is missing",
                f"add a column named {column}"
                + (" (leave it empty for people with none)" if column == "line_manager" else ""),
            ))
    return problems


def _entry(
    number: int, cells: dict[str, str], config: Config, policies: PolicyRegistry
) -> tuple[PersonEntry | None, list[Problem]]:
    """The row's entry (None if it cannot be read as one) and its own problems, all of them:
    its agency and role are checked even when, say, its email is not an address."""
    data = {column: value for column, value in cells.items() if value}
    problems = []
    entry = None
    try:
        entry = PersonEntry.model_validate(data)
    except ValidationError as exc:
        for p in problems_from_validation(exc):
            fix = _FIXES.get(p.field, p.fix)
            problems.append(Problem(f"row {number}, {p.field}", p.message, fix))
    agencies = {a.id: a for a in config.agencies}
    agency = agencies.get(data.get("agency", ""))
    if "agency" in data and agency is None:
        problems.append(Problem(
            f"row {number}, agency", f"'{data['agency']}' is not an agency in the configuration",
            f"use one of: {', '.join(agencies)}",
        ))
    if agency is not None and "role" in data:
        policy = policies.get(config.partnership(agency.partnership).policy)
        roles = [r.id for r in policy.roles]
        if data["role"] not in roles:
            problems.append(Problem(
                f"row {number}, role", f"role '{data['role']}' is not a role of policy"
                f" {policy.id} (agency {agency.id} is in partnership {agency.partnership})",
                f"use one of: {', '.join(roles)}",
            ))
    return (entry if agency is not None else None), problems


def _together(
    rows: list[ImportRow], config: Config, existing: Sequence[PersonEntry]
) -> list[Problem]:
    """The configuration's checks over the directory as it would be after the import. A problem
    at an imported row is named by its row; one at an entry already in the directory (a row
    changed someone's manager's partnership, say) by that person's address."""
    imported = {r.entry.email for r in rows}
    kept = [e for e in existing if e.email not in imported]
    merged = [*kept, *(r.entry for r in rows)]
    row_of = {len(kept) + i: r.row for i, r in enumerate(rows)}
    problems = []
    for problem in people_problems(config.model_copy(update={"people": merged})):
        found = _PERSON_PATH.match(problem.field)
        if found is None:
            problems.append(problem)
            continue
        index, column = int(found[1]), found[2] or "email"
        where = (
            f"row {row_of[index]}, {column}"
            if index in row_of
            else f"{merged[index].email} (already in the directory), {column}"
        )
        problems.append(Problem(where, _rows_named(problem.message, merged, row_of),
                                _rows_named(problem.fix, merged, row_of)))
    return problems


def _rows_named(text: str, merged: list[PersonEntry], row_of: dict[int, int]) -> str:
    """'people[12]' as the reader knows it: a row of the file, or someone in the directory."""

    def name(found: re.Match[str]) -> str:
        index = int(found[1])
        if index in row_of:
            return f"row {row_of[index]}{found[2] or ''}"
        return f"the directory's entry for {merged[index].email}"

    return re.sub(r"people\[(\d+)\](?:\.\w+)?( \([^()]*@[^()]*\))?", name, text)
