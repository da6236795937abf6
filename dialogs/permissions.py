"""What a person may do on a case now, and if not, why: one answer that every card and every
conversation draws on, so nobody is offered a button, or asked four questions, only to be told
no at the end.

The engine's handlers stay the authority (a command is checked again when it runs); this module
asks the same questions first. tests/test_check_first.py holds the two to each other: every
button a person is offered is one the engine lets them press.
"""

from __future__ import annotations

from collections.abc import Mapping

from dialogs import texts
from dialogs.case import Case, Side, status_words
from dialogs.directory import Person
from dialogs.routing import may_choose_route, route_chooser_words
from policy.model import Policy

# the buttons and conversations this module answers for (card commands)
ACKNOWLEDGE = "acknowledge"
RECORD = "record"
RESOLVE = "resolve"
ESCALATE = "escalate"
DECIDE = "decide"
HANDOVER = "handover"
WITHDRAW = "withdraw"
COMPLETE_STEP = "complete_step"


def is_business_team(case: Case, policy: Policy, people: Mapping[str, Person], email: str) -> bool:
    person = people.get(email)
    return (
        person is not None
        and person.role == policy.business_team_role
        and person.partnership_id == case.partnership_id
    )


def refusal(
    case: Case,
    policy: Policy,
    people: Mapping[str, Person],
    viewer: str,
    verb: str,
    step_id: str = "",
) -> str | None:
    """Why ``viewer`` may not ``verb`` on ``case`` now, in the engine's own words; None if they
    may. Verbs this module does not know are not refused here (the engine still checks)."""
    viewer = viewer.lower()
    reference = case.reference
    if not case.is_open and verb in _CASE_VERBS:
        return texts.CLOSED.format(reference=reference, status=status_words(case))
    team = is_business_team(case, policy, people, viewer)
    me = case.participant(viewer)
    if me is None and not team:
        return texts.NOT_A_PARTY.format(reference=reference)
    stage = policy.stage(case.stage)
    final = policy.final_stage
    person = people.get(viewer)
    role = person.role if person is not None else (me.role if me is not None else "")

    def only(role_ids: list[str]) -> str:
        names = " or ".join(policy.role(r).name for r in [*role_ids, policy.business_team_role])
        return texts.ROLE_MAY_NOT.format(roles=names, reference=reference)

    if verb == ACKNOWLEDGE:
        if me is None:  # the business team follows a case; acknowledging is a party's receipt
            return texts.ACK_PARTIES_ONLY.format(reference=reference)
        if viewer in case.acknowledged_by:
            return texts.DUPLICATE_ACK.format(reference=reference)
        if viewer == case.raised_by:
            return texts.RAISER_NEED_NOT_ACK.format(reference=reference)
    elif verb == ESCALATE:
        if stage.number == final.number:
            decider = " or ".join(
                policy.role(r).name
                for r in ([stage.decision_by] if stage.decision_by else stage.holder_roles)
            )
            return texts.LAST_STAGE.format(
                reference=reference, stage_name=stage.name, decider=decider
            )
        routes = stage.routes
        if routes is not None and not team and not may_choose_route(case, policy, routes, viewer):
            return texts.ROUTE_NOT_YOURS.format(
                reference=reference, question=routes.question,
                who=route_chooser_words(policy, routes),
            )
    elif verb == DECIDE:
        if stage.number != final.number:
            return texts.NOT_FINAL_STAGE.format(
                final=final.number, reference=reference, stage=case.stage
            )
        deciders = [final.decision_by] if final.decision_by else list(final.holder_roles)
        if not team and role not in deciders:
            return only(deciders)
    elif verb == COMPLETE_STEP:
        step = next((s for s in stage.steps if s.id == step_id), None)
        if step is not None and not team and role != step.owner_role:
            return only([step.owner_role])
    elif verb == HANDOVER:
        if me is None:
            return texts.NOT_A_PARTY.format(reference=reference)
    elif verb == WITHDRAW and not team and (me is None or me.side is not Side.RAISING):
        return texts.ROLE_MAY_NOT.format(
            roles="the raising agency or the business team", reference=reference
        )
    return None


def handover_refusal(
    case: Case, policy: Policy, people: Mapping[str, Person], actor: str, to_email: str
) -> str | None:
    """Why ``actor`` may not hand their part of ``case`` to ``to_email``; None if they may.
    The engine's rule (handlers.hand_over) and the typed handover's question both ask it, so
    a colleague the engine would refuse is refused when named, not after the reason."""
    me = case.participant(actor)
    if me is None:
        return texts.NOT_A_PARTY.format(reference=case.reference)
    to_email = to_email.strip().lower()
    if to_email == actor.lower():
        return texts.HANDOVER_SELF
    colleague = people.get(to_email)
    if colleague is None or colleague.partnership_id != case.partnership_id:
        return texts.HANDOVER_OTHER_PARTNERSHIP.format(email=to_email)
    if case.participant(to_email) is not None:
        return texts.ALREADY_PARTY.format(email=to_email, reference=case.reference)
    both_partnership_level = (
        policy.role(me.role).tier == 0 and policy.role(colleague.role).tier == 0
    )
    if colleague.agency != me.agency and not both_partnership_level:
        return texts.HANDOVER_OTHER_AGENCY.format(email=to_email, agency=colleague.agency_name)
    return None


_CASE_VERBS = {ACKNOWLEDGE, RECORD, RESOLVE, ESCALATE, DECIDE, HANDOVER, WITHDRAW, COMPLETE_STEP}
