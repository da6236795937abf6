"""One agreed action checked by one set of rules, typed in the chat a part at a time or sent as
a row of a card, so the two clients can never require different things.

An action names someone on the case as its owner (chosen from the parties, by email on a card,
by number, name or email in the chat): only parties are asked about it when it falls due
(``dialogs.actions.owners``), so an owner nobody could ask is refused when it is written, not
discovered at the follow-up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date

from dialogs import texts
from dialogs.case import Case
from dialogs.commands import ActionInput
from dialogs.validation import menu_choice, parse_date
from policy.model import FormField

# A card past this many rows no longer fits a phone comfortably, and Teams caps a card's size;
# the chat stops at the same number so both take the same record.
MAX_ACTIONS = 10
PARTS = ("what", "who", "due")
_ROW = re.compile(r"^(?P<field>.+)\.(?P<n>\d{1,3})\.(?P<part>what|who|due)$")


def owner_choices(case: Case) -> list[tuple[str, str]]:
    """Who an action can be given to: the case's active parties, by email and name."""
    return [(p.email, p.name) for p in case.active_participants()]


def actions_needed(field: FormField, count: int) -> bool:
    """Whether one more action must be given before the question is done: the pack's
    ``required``, the same for the card (an empty set of rows) and the chat (a '-')."""
    return field.required and count == 0


def check_what(text: str) -> str:
    return "" if text.strip() and text.strip() != "-" else texts.ACTION_NEEDS_WHAT


def check_who(text: str, owners: Sequence[tuple[str, str]]) -> tuple[str, str]:
    """(the owner's email, an error): a party by email, by name (or a first name or surname
    only one of them has), or by its number in the list."""
    typed = " ".join(text.split())
    if not typed:
        return "", texts.ACTION_NEEDS_WHO
    found = menu_choice(owners, typed)
    if found is None:
        found = next((email for email, name in owners if name.lower() == typed.lower()), None)
    if found is None:
        # "Hana" or "Moss", as people answer on a phone: when only one person on the case has it
        named = [email for email, name in owners if typed.lower() in name.lower().split()]
        found = named[0] if len(named) == 1 else None
    if found is None:
        names = ", ".join(name for _, name in owners)
        return "", texts.ACTION_OWNER_NOT_PARTY.format(who=typed, names=names)
    return found, ""


def check_due(text: str, today: date) -> tuple[date | None, str]:
    typed = text.strip()
    if not typed:
        return None, texts.ACTION_DUE_NEEDED
    try:
        due = parse_date(typed)
    except ValueError as exc:
        return None, str(exc)
    if due < today:  # echoed in the shape it was typed in
        return None, texts.ACTION_NEW_DATE_PAST.format(due=due.strftime("%d/%m/%Y"))
    return due, ""


def check_row(
    row: Mapping[str, str], today: date, owners: Sequence[tuple[str, str]]
) -> tuple[ActionInput | None, dict[str, str]]:
    """One action from its three parts: (the action, errors by part). A row left wholly empty
    is no action and no error."""
    if not any(row.get(part, "").strip() for part in PARTS):
        return None, {}
    errors: dict[str, str] = {}
    if problem := check_what(row.get("what", "")):
        errors["what"] = problem
    owner, problem = check_who(row.get("who", ""), owners)
    if problem:
        errors["who"] = problem
    due, problem = check_due(row.get("due", ""), today)
    if problem:
        errors["due"] = problem
    if errors or due is None:
        return None, errors
    return ActionInput(
        description=row.get("what", "").strip(), owner=owner, due=due.isoformat()
    ), {}


def row_error(number: int, part: str, problem: str) -> str:
    """'Action 2 — by when: …': the row and the part in the words the card shows."""
    return texts.ACTION_ROW_ERROR.format(
        n=number, part=texts.ACTION_PART_WORDS[part], problem=problem
    )


# ---- a card's rows as its inputs carry them ------------------------------------------------


def row_input_id(field_id: str, number: int, part: str) -> str:
    return f"{field_id}.{number}.{part}"


def rows_from_values(field_id: str, values: Mapping[str, str]) -> list[dict[str, str]]:
    """The rows a submitted card carried, in their order (an empty one in the middle kept, so
    the numbers stay those the person saw). A card drawn before rows existed sent one text,
    an action a line as 'what; who; date': read into rows the same way."""
    rows: dict[int, dict[str, str]] = {}
    for key, value in values.items():
        found = _ROW.match(key)
        if found is not None and found["field"] == field_id:
            rows.setdefault(int(found["n"]), {})[found["part"]] = value
    if rows:
        return [rows.get(n, {}) for n in range(1, min(max(rows), MAX_ACTIONS) + 1)]
    lines = [line for line in values.get(field_id, "").splitlines() if line.strip()]
    legacy = []
    for line in lines[:MAX_ACTIONS]:
        parts = [part.strip() for part in line.split(";")]
        if len(parts) > len(PARTS):  # a ';' inside what was done: who and when are the last two
            parts = ["; ".join(parts[:-2]), *parts[-2:]]
        parts += [""] * (len(PARTS) - len(parts))
        legacy.append(dict(zip(PARTS, parts, strict=True)))
    return legacy


def values_from_rows(field_id: str, rows: Sequence[Mapping[str, str]]) -> dict[str, str]:
    return {
        row_input_id(field_id, n, part): row.get(part, "")
        for n, row in enumerate(rows, start=1)
        for part in PARTS
    }


def edited_rows(rows: list[dict[str, str]], edit: str, row: str) -> list[dict[str, str]]:
    """The rows after an "Add another action" or a "Remove" click: every typed value kept."""
    rows = [dict(r) for r in rows] or [{}]
    if edit == "add" and len(rows) < MAX_ACTIONS:
        rows.append({})
    elif edit == "remove" and row.isdecimal() and 1 <= int(row) <= len(rows):
        del rows[int(row) - 1]
    return rows or [{}]
