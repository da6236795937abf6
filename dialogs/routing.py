"""Who holds a stage for each agency: walk up each practitioner's line-management chain.

Partnership-level roles (tier 0: business manager, board chair, safeguarding partners) are found
across the partnership. When nobody can be found the caller is told, so it can ask a person and
alert the business team rather than wait or skip silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialogs import texts
from dialogs.case import Case, Participant, Side
from dialogs.directory import Person
from policy.model import Policy, Routes, Stage, StepStart


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
    case: Case,
    policy: Policy,
    role_ids: list[str],
    people: dict[str, Person],
    *,
    all_of: bool = False,
) -> tuple[list[tuple[Person, Side]], list[Gap]]:
    """Who should join for ``role_ids``, and which roles nobody is known to hold.

    Agency roles are alternatives in order of preference ("line manager or designated
    safeguarding lead"): for each agency the first role not already held on the case is looked
    up, climbing the practitioner's line-management chain, then anyone in the agency. Every
    partnership-level role (tier 0) is brought in, all of its holders.

    ``all_of`` (a stage with ``holders: all``): every agency role not yet held is looked up the
    same way, and each one nobody holds is a gap of its own. A role limited to one side
    (``side`` on the role) is only looked for in that side's agency, never the other's.
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
        wanted = [r for r in agency_roles if r not in held and _on_side(policy, r, side)]
        if not wanted:
            continue
        if all_of:
            for role_id in wanted:
                holder = _climb(people, _anchor(case, side), role_id) or _any_in_agency(
                    people, agency, role_id
                )
                if holder is not None:
                    holders.append((holder, side))
                else:
                    gaps.append(Gap(role_id, side, agency))
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


def _on_side(policy: Policy, role_id: str, side: Side) -> bool:
    """Whether a role is held on ``side`` in this pack: any side unless the role names one."""
    limited = policy.role(role_id).side
    return limited is None or limited.value == side.value


def stage_holders(case: Case, policy: Policy) -> list[Participant]:
    """Who owes the next move at the case's stage (prompted, reminded, "your move"): the
    stage's role holders, a one-sided role only on its own side, as ``Case.current_holders``."""
    stage = policy.stage(case.stage)
    return case.current_holders(stage.holder_roles, policy.role_sides(stage.holder_roles))


def may_choose_route(case: Case, policy: Policy, routes: Routes, email: str) -> bool:
    """Whether a party may answer a stage's route question: the role or side the pack names,
    or any party when it names neither (the business team is let through by the caller)."""
    me = case.participant(email)
    if me is None:
        return False
    if routes.chosen_by_side is not None and me.side.value != routes.chosen_by_side.value:
        return False
    if routes.chosen_by_role is not None:
        return me.role == routes.chosen_by_role and _on_side(policy, me.role, me.side)
    return True


def route_chooser_words(policy: Policy, routes: Routes) -> str:
    """Who answers the route question, in words: 'the Duty manager', 'the raising agency'."""
    if routes.chosen_by_role is not None:
        return texts.ROUTE_CHOOSER_ROLE.format(role=policy.role(routes.chosen_by_role).name)
    if routes.chosen_by_side is not None:
        return texts.ROUTE_CHOOSER_SIDE[routes.chosen_by_side.value]
    return texts.ROUTE_CHOOSER_ANY


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
