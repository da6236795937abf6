"""Which free text a report may show, and the child's details taken out of it.

Only answers to the questions a pack asks about the process itself (what worked well, what
worried you, what needs to change, how helpful the policy was) are shown: they are about the
procedure, not the child. People still write a child's name into them now and then, so every
sensitive intake answer of the case (the child's name and each part of it, date of birth,
record numbers, NHS number, level of need) is replaced before the text leaves the case.
"""

from __future__ import annotations

import re
from datetime import date

from dialogs.case import Case
from policy.model import Policy

REFLECTION_FIELDS = (
    "what_worked_well",
    "what_worried_you",
    "what_needs_to_change",
    "policy_helpfulness",
)
REMOVED = "[removed]"
_MIN_PART = 2  # a one-letter initial is left: replacing every "a" would garble the text


def sensitive_values(case: Case, policy: Policy) -> list[str]:
    """What of this case must never reach a report, longest first."""
    values = [case.child.name, case.child.identifiers]
    values += case.child.name.split()
    values += re.findall(r"\w*\d\w*", case.child.identifiers)
    values += [case.answers.get(f.id, "") for f in policy.intake if f.sensitive]
    if case.child.date_of_birth is not None:
        values += _date_spellings(case.child.date_of_birth)
    kept = {v.strip() for v in values if len(v.strip()) >= _MIN_PART}
    return sorted(kept, key=len, reverse=True)


def _date_spellings(day: date) -> list[str]:
    return [
        day.strftime("%d/%m/%Y"),
        f"{day.day}/{day.month}/{day.year}",
        day.isoformat(),
        day.strftime("%d.%m.%Y"),
        f"{day.day} {day.strftime('%B')} {day.year}",
        f"{day.day} {day.strftime('%b')} {day.year}",
    ]


def scrub(text: str, values: list[str]) -> str:
    """``text`` with every sensitive value replaced, whole words only, any letter case."""
    for value in values:
        text = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", REMOVED, text, flags=re.IGNORECASE)
    return text.strip()
