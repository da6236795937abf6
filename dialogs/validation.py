"""Checking what people type, with answers that say how to put it right.

The same checks serve a card submitted whole and a question answered in a text chat, so a
practitioner gets the same words whichever client they use.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from datetime import date, datetime

from dialogs import texts
from dialogs.case import AgreedAction
from dialogs.commands import ActionInput, RecordInput
from dialogs.directory import Person
from policy.model import FieldKind, FormField

_NOT_DATES = re.compile(
    r"^\s*(asap|a\.s\.a\.p\.?|as soon as possible|tbc|tba|tbd|soon|urgent|urgently|"
    r"immediately|now|ongoing|n/?a|none|-)\s*$",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_YES = {"yes", "y", "true", "1", "on"}
_NO = {"no", "n", "false", "0", "off"}


def parse_date(text: str) -> date:
    """Accept 2026-12-04, 04/12/2026, 4/12/2026 or 4/12/26 (UK day-first; a two-digit year is
    this century's, as people mean it on a phone). Raise ValueError otherwise."""
    cleaned = text.strip()
    if _NOT_DATES.match(cleaned):
        raise ValueError(texts.NOT_A_DATE.format(value=cleaned))
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%y"):
        try:
            return datetime.strptime(cleaned, pattern).date()
        except ValueError:
            continue
    raise ValueError(_why_not_a_date(cleaned))


def _why_not_a_date(cleaned: str) -> str:
    """A day the month does not have is said so ("February 2027 has 28 days"), not as an
    unreadable date: the person wrote the right shape and needs to know what is wrong."""
    shaped = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", cleaned)
    iso = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", cleaned)  # a card's date input
    if shaped or iso:
        if shaped:
            day, month, year = (int(part) for part in shaped.groups())
        else:
            assert iso is not None
            year, month, day = (int(part) for part in iso.groups())
        if 1 <= month <= 12 and day > 28:
            days = calendar.monthrange(year, month)[1]
            if day > days:
                return texts.DAY_NOT_IN_MONTH.format(
                    value=cleaned, month=date(year, month, 1).strftime("%B %Y"), days=days
                )
    return texts.BAD_DATE.format(value=cleaned)


def menu_choice(choices: Sequence[tuple[str, str]], text: str) -> str | None:
    """The id of the menu item a typed answer means: its number as shown (1, 2 ...), its id or
    its label, and for a yes/no menu (whatever its labels: "Send" / "Cancel") the obvious
    words. None when it means none of them, so the menu is shown again with its numbers."""
    cleaned = " ".join(text.strip().lower().split())
    for number, (choice, label) in enumerate(choices, start=1):
        # "2." as the menu shows it is the number too
        if cleaned in {str(number), f"{number}.", choice.lower(), label.lower()}:
            return choice
    if {choice for choice, _ in choices} == {"yes", "no"}:
        if cleaned in _YES:
            return "yes"
        if cleaned in _NO:
            return "no"
    return None


def menu_error(choices: Sequence[tuple[str, str]]) -> str:
    numbers = ", ".join(str(n) for n in range(1, len(choices) + 1))
    yes_no = {choice for choice, _ in choices} == {"yes", "no"}
    return (texts.BAD_MENU_YES_NO if yes_no else texts.BAD_MENU).format(numbers=numbers)


def parse_boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _YES:
        return True
    if lowered in _NO:
        return False
    raise ValueError(texts.BAD_YES_NO)


def choice_id(field: FormField, text: str) -> str:
    """Match an answer to a choice by id, label, or its number in the list (1-based)."""
    cleaned = text.strip()
    for index, choice in enumerate(field.choices, start=1):
        if cleaned.lower() in {choice.id, choice.label.lower(), str(index)}:
            return choice.id
    options = ", ".join(c.label for c in field.choices)
    raise ValueError(texts.BAD_CHOICE.format(options=options))


def check_field(
    field: FormField, raw: str, today: date, directory: dict[str, Person] | None = None
) -> str:
    """Return the normalised answer for one field, or raise ValueError with what to fix."""
    value = raw.strip()
    if not value:
        if field.required:
            raise ValueError(texts.REQUIRED)
        return ""
    if field.kind is FieldKind.DATE:
        parsed = parse_date(value)
        if parsed > today and field.id.endswith(("dob", "birth")):
            raise ValueError(texts.DOB_IN_FUTURE)
        return parsed.isoformat()
    if field.kind is FieldKind.BOOLEAN:
        return "yes" if parse_boolean(value) else "no"
    if field.kind is FieldKind.CHOICE:
        return choice_id(field, value)
    if field.kind is FieldKind.MULTI_CHOICE:
        return ",".join(choice_id(field, part) for part in value.split(",") if part.strip())
    if field.kind is FieldKind.NUMBER:
        if not value.isdigit():
            raise ValueError(texts.BAD_NUMBER)
        return value
    if field.kind is FieldKind.PERSON:
        email = value.lower()
        if not _EMAIL.match(email):
            raise ValueError(texts.BAD_EMAIL)
        if directory is not None and email not in directory:
            raise ValueError(texts.NOT_IN_DIRECTORY.format(email=email))
        return email
    return value


def check_fields(
    fields: list[FormField],
    answers: dict[str, str],
    today: date,
    directory: dict[str, Person] | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """Check every asked field; returns (clean answers, errors by field id)."""
    clean: dict[str, str] = {}
    errors: dict[str, str] = {}
    for field in fields:
        if field.computed is not None or field.kind is FieldKind.ACTIONS:
            continue
        try:
            clean[field.id] = check_field(field, answers.get(field.id, ""), today, directory)
        except ValueError as exc:
            errors[field.id] = str(exc)
    return clean, errors


def check_actions(actions: list[ActionInput], today: date) -> tuple[list[AgreedAction], str]:
    """Agreed actions need a description, an owner and an actual date that is not past."""
    clean: list[AgreedAction] = []
    problems: list[str] = []
    for number, action in enumerate(actions, start=1):
        if not (action.description.strip() or action.owner.strip() or action.due.strip()):
            continue
        if not action.description.strip():
            problems.append(texts.ACTION_NEEDS_DESCRIPTION.format(n=number))
            continue
        if not action.owner.strip():
            problems.append(texts.ACTION_NEEDS_OWNER.format(n=number))
            continue
        try:
            due = parse_date(action.due) if action.due.strip() else None
        except ValueError as exc:
            problems.append(texts.ACTION_PREFIX.format(n=number) + str(exc))
            continue
        if due is None:
            problems.append(texts.ACTION_NEEDS_DATE.format(n=number))
            continue
        if due < today:
            problems.append(texts.ACTION_DATE_PAST.format(n=number, due=due.strftime("%d/%m/%Y")))
            continue
        clean.append(
            AgreedAction(
                description=action.description.strip(), owner=action.owner.strip(), due=due
            )
        )
    return clean, " ".join(problems)


def parse_action_lines(text: str) -> list[ActionInput]:
    """Text-chat form of actions: one per line, 'what; who; when'."""
    actions = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split(";")]
        parts += [""] * (3 - len(parts))
        actions.append(ActionInput(description=parts[0], owner=parts[1], due=parts[2]))
    return actions


def check_record(
    record: RecordInput,
    fields: list[FormField],
    today: date,
    *,
    need_summary: bool,
    need_unresolved: bool = False,
) -> tuple[list[AgreedAction], dict[str, str], dict[str, str]]:
    """A stage record: (actions, extra answers, errors by field id)."""
    errors: dict[str, str] = {}
    if need_summary and not record.summary.strip():
        errors["summary"] = texts.RECORD_NEEDS_SUMMARY
    if need_unresolved and not record.unresolved.strip():
        errors["unresolved"] = texts.ESCALATE_NEEDS_UNRESOLVED
    actions, action_problem = check_actions(record.agreed_actions, today)
    if action_problem:
        errors["agreed_actions"] = action_problem
    core = {"summary", "agreed_actions", "unresolved"}
    extra_fields = [f for f in fields if f.id not in core]
    answers, field_errors = check_fields(extra_fields, record.answers, today)
    errors.update(field_errors)
    return actions, answers, errors


def counterpart_problem(counterpart: Person | None, raiser: Person | None, actor: str) -> str:
    """Why this person cannot be the other side of a difference ("" if they can). One rule for
    the typed questions, the card and the engine, so each refuses the same people in the same
    words."""
    if counterpart is None:
        return ""
    if counterpart.email == actor:
        return texts.RAISER_IS_COUNTERPART
    if raiser is not None and counterpart.agency == raiser.agency:
        return texts.SAME_AGENCY.format(email=counterpart.email)
    return ""
