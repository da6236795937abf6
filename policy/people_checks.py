"""Who is who must be unambiguous, or the bot lets one person act as another.

The directory is keyed by email and a chat platform names its sender only by a platform id, so
two entries sharing either make one account stand for two people: a line manager's Teams account
once acted as the business manager, saw a child's details on a case he was not on and withdrew it
(issue 7). Line management is how the next tier is found, so every chain must end at someone
with no manager, inside the partnership. These checks return every problem at once, each naming
the other entry involved, so the business team can fix the file in one go.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from policy.errors import Problem

if TYPE_CHECKING:  # policy.config calls these checks, so it is imported for its types only
    from policy.config import Config, PersonEntry

# Every platform identity a person entry can carry, and what an admin calls it. A field the
# person model gains must be added here (tests/test_config_checks.py holds the two together).
PLATFORM_IDS: dict[str, str] = {
    "teams_aad_object_id": "Teams account (Entra ID object id)",
    "slack_user_id": "Slack user id",
}


def people_problems(config: Config) -> list[Problem]:
    """Grouped by kind (emails, platform ids, line managers, cycles), each kind in file order."""
    partnership_of = {agency.id: agency.partnership for agency in config.agencies}
    return [
        *_duplicate_emails(config.people),
        *_duplicate_platform_ids(config.people),
        *_line_manager_problems(config.people, partnership_of),
        *_line_manager_cycles(config.people),
    ]


def _who(people: Sequence[PersonEntry], index: int) -> str:
    return f"{people[index].email} (people[{index}])"


def _duplicate_emails(people: Sequence[PersonEntry]) -> list[Problem]:
    problems = []
    first: dict[str, int] = {}
    for index, person in enumerate(people):
        key = person.email.lower()  # already lower-cased on parsing; the key must not depend on it
        if key not in first:
            first[key] = index
            continue
        problems.append(
            Problem(
                f"people[{index}].email",
                f"{person.email} is also people[{first[key]}].email (emails are compared"
                " ignoring case); the directory is keyed by email, so one entry would silently"
                " replace the other",
                f"keep one entry per person: merge people[{first[key]}] and people[{index}],"
                " or correct the address",
            )
        )
    return problems


def _duplicate_platform_ids(people: Sequence[PersonEntry]) -> list[Problem]:
    problems = []
    for field, label in PLATFORM_IDS.items():
        first: dict[str, int] = {}
        for index, person in enumerate(people):
            value: str | None = getattr(person, field)
            if not value or not value.strip():
                continue
            key = value.strip().lower()  # GUIDs are the same id in either case
            if key not in first:
                first[key] = index
                continue
            other = first[key]
            problems.append(
                Problem(
                    f"people[{index}].{field}",
                    f"'{value}' is also people[{other}].{field} ({people[other].email}), so one"
                    f" {label} would act as both {people[other].email} and {person.email}",
                    f"give each person their own {label}: correct it on whichever of"
                    f" people[{other}] and people[{index}] it does not belong to",
                )
            )
    return problems


def _line_manager_problems(
    people: Sequence[PersonEntry], partnership_of: dict[str, str]
) -> list[Problem]:
    """A manager must be in the directory and in the person's own partnership: the next tier is
    looked for only within one partnership, so a manager elsewhere silently ends the chain."""
    problems = []
    index_of = _index_by_email(people)
    for index, person in enumerate(people):
        manager = person.line_manager
        if manager is None:
            continue
        where = f"people[{index}].line_manager"
        if manager not in index_of:
            problems.append(
                Problem(
                    where,
                    f"{manager} is not in the directory (people)",
                    "add them to people (or import them), or correct the address",
                )
            )
            continue
        theirs = partnership_of[people[index_of[manager]].agency]
        ours = partnership_of[person.agency]
        if theirs != ours:
            problems.append(
                Problem(
                    where,
                    f"{_who(people, index_of[manager])} is in partnership '{theirs}', but"
                    f" {person.email} is in '{ours}'; the next tier is looked for only within"
                    " the person's own partnership",
                    f"name a line manager in partnership '{ours}', or leave line_manager out",
                )
            )
    return problems


def _line_manager_cycles(people: Sequence[PersonEntry]) -> list[Problem]:
    """Each cycle once, at the line_manager of its first member in the file, naming the chain.

    Everyone has at most one manager, so following managers from each person either ends, joins
    a chain already walked, or comes back to a person on the current walk: that is a cycle.
    """
    problems = []
    index_of = _index_by_email(people)
    walked: set[int] = set()
    for start in range(len(people)):
        path: list[int] = []
        current: int | None = start
        while current is not None and current not in walked:
            walked.add(current)
            path.append(current)
            manager = people[current].line_manager
            current = index_of.get(manager) if manager else None
        if current is None or current not in path:
            continue
        cycle = path[path.index(current) :]
        first = cycle.index(min(cycle))
        cycle = cycle[first:] + cycle[:first]
        if len(cycle) == 1:
            what = f"{_who(people, cycle[0])} is their own line manager"
        else:
            chain = " -> ".join(_who(people, i) for i in cycle)
            what = f"line managers go round in a circle: {chain} -> {people[cycle[0]].email}"
        problems.append(
            Problem(
                f"people[{cycle[0]}].line_manager",
                what + "; the next tier above them can never be found",
                "correct one of these line_manager entries (the most senior person has none)",
            )
        )
    return problems


def _index_by_email(people: Sequence[PersonEntry]) -> dict[str, int]:
    """The first entry for each address (a later duplicate is reported by _duplicate_emails)."""
    index_of: dict[str, int] = {}
    for index, person in enumerate(people):
        index_of.setdefault(person.email, index)
    return index_of
