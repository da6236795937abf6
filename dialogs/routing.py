"""Who holds a stage for each agency: walk up each practitioner's line-management chain.

Partnership-level roles (tier 0: business manager, board chair, safeguarding partners) are found
across the partnership. When nobody can be found the caller is told, so it can ask a person and
alert the business team rather than wait or skip silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.case import Case, Side
from dialogs.directory import Person
from policy.model import Policy, Stage, StepStart


@dataclass(frozen=True)
class Gap:
    """A role nobody is known to hold for one side of the case."""

    role: str
    side: Side
    agency: str


def joining_roles(stage: Stage) -> list[str]:
    """Roles who join when the stage starts; owners of later steps join when their step starts."""
    late = {s.owner_role for s in stage.steps if s.starts is StepStart.AFTER_PREVIOUS}
    early = {s.owner_role for s in stage.steps if s.starts is StepStart.WITH_STAGE}
    return [r for r in stage.holder_roles if r not in late or r in early]


def _anchor(case: Case, side: Side) -> str:
    """The practitioner whose chain we climb for a side: whoever holds that side's stage-1 place
    now (after a hand-over, the colleague who took it over)."""
    if side is Side.RAISING:
        return case.raised_by
    for person in case.participants:
        if person.side is Side.RECEIVING and person.stage == 1 and person.active:
            return person.email
    return ""


def find_holders(
    case: Case, policy: Policy, role_ids: list[str], people: dict[str, Person]
) -> tuple[list[tuple[Person, Side]], list[Gap]]:
    """Who should join for ``role_ids``, and which roles nobody is known to hold.

    Agency roles are alternatives in order of preference ("line manager or designated
    safeguarding lead"): for each agency the first role not already held on the case is looked
    up, climbing the practitioner's line-management chain, then anyone in the agency. Every
    partnership-level role (tier 0) is brought in, all of its holders.
    """
    holders: list[tuple[Person, Side]] = []
    gaps: list[Gap] = []
    partnership_roles = [r for r in role_ids if policy.role(r).tier == 0]
    agency_roles = [r for r in role_ids if policy.role(r).tier > 0]
    for role_id in partnership_roles:
        found = sorted(
            (
                p
                for p in people.values()
                if p.role == role_id and p.partnership_id == case.partnership_id
            ),
            key=lambda p: p.email,
        )
        holders += [(p, Side.PARTNERSHIP) for p in found]
        if not found:
            gaps.append(Gap(role_id, Side.PARTNERSHIP, "the partnership"))
    for side, agency in (
        (Side.RAISING, case.raising_agency),
        (Side.RECEIVING, case.receiving_agency),
    ):
        held = {p.role for p in case.participants if p.active and p.side is side}
        wanted = [r for r in agency_roles if r not in held]
        if not wanted:
            continue
        person = None
        for role_id in wanted:
            person = _climb(people, _anchor(case, side), role_id) or _any_in_agency(
                people, agency, role_id
            )
            if person is not None:
                holders.append((person, side))
                break
        if person is None and wanted:
            gaps.append(Gap(wanted[0], side, agency))
    return holders, gaps


def raising_side_holders(
    case: Case, policy: Policy, role_id: str, people: dict[str, Person]
) -> list[Person]:
    """Who holds ``role_id`` for the raiser: up the raiser's line-management chain, then anyone
    in the raising agency; every holder across the partnership for a partnership-level role.
    For the people a pack says to tell at once, before anyone else has joined the case."""
    if policy.role(role_id).tier == 0:
        return sorted(
            (
                p
                for p in people.values()
                if p.role == role_id and p.partnership_id == case.partnership_id
            ),
            key=lambda p: p.email,
        )
    found = _climb(people, case.raised_by, role_id) or _any_in_agency(
        people, case.raising_agency, role_id
    )
    return [found] if found else []


def _climb(people: dict[str, Person], start: str, role_id: str) -> Person | None:
    seen: set[str] = set()
    current = people.get(start)
    while current is not None and current.email not in seen:
        if current.role == role_id:
            return current
        seen.add(current.email)
        current = people.get(current.line_manager or "")
    return None


def _any_in_agency(people: dict[str, Person], agency: str, role_id: str) -> Person | None:
    matches = sorted(
        (p for p in people.values() if p.agency == agency and p.role == role_id),
        key=lambda p: p.email,
    )
    return matches[0] if matches else None
