"""The /escalate conversation as a declarative state machine.

States run in a fixed order (``FLOW``); each state declares how to prompt and how to take an answer.
Fallbacks (``cancel``, ``back``) work in every state. A session is plain data, so an adapter can
keep it anywhere between messages; the same questions can be drawn as one form (``form_fields``)
for clients that show cards well, or asked one at a time for those that don't.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, Field

from dialogs import texts
from dialogs.commands import RaiseConcern
from dialogs.directory import Person
from dialogs.validation import (
    check_field,
    check_fields,
    counterpart_problem,
    menu_choice,
    menu_error,
)
from policy.model import FieldKind, FormField, Policy


class IntakeState(StrEnum):
    PATHWAY = "pathway"
    IMMEDIATE_RISK = "immediate_risk"
    START_STAGE = "start_stage"
    SPECIAL_ROUTES = "special_routes"
    QUESTIONS = "questions"
    CONFIRM = "confirm"
    DONE = "done"
    SIGNPOSTED = "signposted"
    CANCELLED = "cancelled"


FINISHED = {IntakeState.DONE, IntakeState.SIGNPOSTED, IntakeState.CANCELLED}
CANCEL_WORDS = {"cancel", "stop", "quit"}
BACK_WORDS = {"back"}


class IntakeSession(BaseModel):
    id: str = Field(
        default_factory=lambda: uuid.uuid4().hex,
        description="Carried on the intake card and into the raise, so sending twice is one case",
    )
    policy_id: str
    partnership_id: str
    actor: str
    state: IntakeState = IntakeState.PATHWAY
    index: int = 0
    answers: dict[str, str] = Field(default_factory=dict)
    pathway_choice: str | None = None
    start_stage: int = 1
    closing_text: str = ""
    prefilled: list[str] = Field(
        default_factory=list, description="Answers taken from the directory"
    )
    trail: list[tuple[IntakeState, int]] = Field(default_factory=list)


@dataclass(frozen=True)
class Prompt:
    text: str
    field: FormField | None = None
    choices: tuple[tuple[str, str], ...] = ()
    guidance: str = ""


@dataclass(frozen=True)
class Reply:
    """What to show after an answer: an error to fix, or guidance, then the next prompt."""

    session: IntakeSession
    error: str = ""
    guidance: str = ""


def asked_questions(policy: Policy) -> list[FormField]:
    """The policy's questions in order, less immediate risk (asked first, on its own)."""
    return [f for f in policy.intake if f.id != "immediate_risk" and f.computed is None]


def form_fields(policy: Policy) -> list[FormField]:
    """Everything on one card: immediate risk first, then the questions in the policy's order."""
    risk = next(f for f in policy.intake if f.id == "immediate_risk")
    return [risk, *asked_questions(policy)]


def start(policy: Policy, partnership_id: str, actor: str) -> IntakeSession:
    session = IntakeSession(policy_id=policy.id, partnership_id=partnership_id, actor=actor)
    if policy.pathway is None:
        session.state = IntakeState.IMMEDIATE_RISK
    return session


# ---- prompts ---------------------------------------------------------------------------------


def _prompt_pathway(policy: Policy, session: IntakeSession) -> Prompt:
    assert policy.pathway is not None
    choices = tuple((o.id, f"{o.label}: {o.description}") for o in policy.pathway.options)
    return Prompt(policy.pathway.question, choices=choices)


def _prompt_risk(policy: Policy, session: IntakeSession) -> Prompt:
    field = next(f for f in policy.intake if f.id == "immediate_risk")
    return Prompt(field.label, field=field, choices=_YES_NO)


def _prompt_start_stage(policy: Policy, session: IntakeSession) -> Prompt:
    allowed = policy.immediate_risk.start_choices
    choices = tuple((str(n), f"Stage {n}: {policy.stage(n).name}") for n in allowed)
    return Prompt("Which stage should this start at?", choices=choices)


def _prompt_route(policy: Policy, session: IntakeSession) -> Prompt:
    route = policy.special_routes[session.index]
    return Prompt(route.applies_when, choices=_YES_NO)


def _prompt_question(policy: Policy, session: IntakeSession) -> Prompt:
    field = asked_questions(policy)[session.index]
    choices = tuple((c.id, c.label) for c in field.choices)
    suffix = "" if field.required else " (optional: send '-' to skip)"
    return Prompt(field.label + suffix, field=field, choices=choices, guidance=field.help)


def _prompt_confirm(policy: Policy, session: IntakeSession) -> Prompt:
    lines = [_labelled(f.label, _shown(f, session.answers.get(f.id, "")))
             for f in form_fields(policy)]
    if session.start_stage != 1:
        lines.append(f"Start at stage {session.start_stage}")
    return Prompt(texts.SEND_THIS + "\n" + "\n".join(lines), choices=_SEND_OR_CANCEL)


_YES_NO = (("yes", "Yes"), ("no", "No"))
_SEND_OR_CANCEL = (("yes", "Send"), ("no", "Cancel"))


def _yes_or_no(choices: tuple[tuple[str, str], ...], text: str) -> bool | None:
    """A yes/no menu's answer by its number, its words or yes/no; None if it is neither."""
    chosen = menu_choice(choices, text)
    return None if chosen is None else chosen == "yes"


def _labelled(label: str, value: str) -> str:
    """'Child's name: Jamie', or for a question 'Immediate harm? Yes' (never '?:')."""
    label = label.strip()
    return f"{label} {value}" if label.endswith(("?", ":")) else f"{label}: {value}"


def _shown(field: FormField, value: str) -> str:
    """An answer read back as the person would write it: choices by their labels, yes/no
    capitalised, dates UK style (they are kept as ISO), a skipped one as 'not given'."""
    if not value:
        return texts.NOT_GIVEN
    if field.kind is FieldKind.DATE:
        try:
            return date.fromisoformat(value).strftime("%d/%m/%Y")
        except ValueError:
            return value
    if field.kind is FieldKind.BOOLEAN:
        return {"yes": "Yes", "no": "No"}.get(value, value)
    labels = {c.id: c.label for c in field.choices}
    return ", ".join(labels.get(v, v) for v in value.split(","))


def _prompt_finished(policy: Policy, session: IntakeSession) -> Prompt:
    return Prompt(session.closing_text)


# ---- answers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    policy: Policy
    today: date
    people: dict[str, Person]


def _answer_pathway(ctx: Context, session: IntakeSession, text: str) -> Reply:
    assert ctx.policy.pathway is not None
    options = ctx.policy.pathway.options
    chosen = next(
        (
            o
            for n, o in enumerate(options, 1)
            if text.strip().lower() in {o.id, o.label.lower(), str(n)}
        ),
        None,
    )
    if chosen is None:
        return Reply(session, error="Pick one of: " + ", ".join(o.label for o in options))
    session.pathway_choice = chosen.id
    if not chosen.continues_to_procedure:
        return _finish(session, IntakeState.SIGNPOSTED, chosen.signpost)
    return _go(session, IntakeState.IMMEDIATE_RISK)


def _answer_risk(ctx: Context, session: IntakeSession, text: str) -> Reply:
    at_risk = _yes_or_no(_YES_NO, text)
    if at_risk is None:
        return Reply(session, error=menu_error(_YES_NO))
    session.answers["immediate_risk"] = "yes" if at_risk else "no"
    if not at_risk:
        session.start_stage = 1  # a later start chosen before going 'back' no longer applies
        return _go(session, IntakeState.SPECIAL_ROUTES)
    risk = ctx.policy.immediate_risk
    session.start_stage = risk.start_stage  # the pack's, unless a later one is chosen next
    guidance = f"{risk.guidance}\nDo this now: {risk.action}"
    if risk.allows_later_start:
        return Reply(_go(session, IntakeState.START_STAGE).session, guidance=guidance)
    return Reply(_go(session, IntakeState.SPECIAL_ROUTES).session, guidance=guidance)


def _answer_start_stage(ctx: Context, session: IntakeSession, text: str) -> Reply:
    """A bare number is the menu's own numbering, as in every menu; "stage 3" is stage 3."""
    allowed = ctx.policy.immediate_risk.start_choices
    menu = _prompt_start_stage(ctx.policy, session).choices
    cleaned = " ".join(text.strip().lower().split())
    chosen = menu_choice(menu, cleaned)
    if chosen is None and cleaned.startswith("stage"):
        named = cleaned.removeprefix("stage").strip()
        chosen = named if named.isdigit() and int(named) in allowed else None
    if chosen is None:
        return Reply(session, error=menu_error(menu))
    session.start_stage = int(chosen)
    return _go(session, IntakeState.SPECIAL_ROUTES)


def _answer_route(ctx: Context, session: IntakeSession, text: str) -> Reply:
    applies = _yes_or_no(_YES_NO, text)
    if applies is None:
        return Reply(session, error=menu_error(_YES_NO))
    route = ctx.policy.special_routes[session.index]
    if applies:
        return _finish(
            session, IntakeState.SIGNPOSTED, f"Take this to {route.route_to}. {route.guidance}"
        )
    return _next_index(session, len(ctx.policy.special_routes), IntakeState.QUESTIONS)


def _answer_question(ctx: Context, session: IntakeSession, text: str) -> Reply:
    field = asked_questions(ctx.policy)[session.index]
    if text.strip() == "-" and field.required:  # '-' skips only what may be skipped
        return Reply(session, error=texts.REQUIRED)
    raw = "" if text.strip() == "-" else text
    try:
        session.answers[field.id] = check_field(field, raw, ctx.today, ctx.people)
    except ValueError as exc:
        return Reply(session, error=str(exc))
    if field.id == "counterpart":
        person = ctx.people[session.answers["counterpart"]]
        # said now, not after every other question (the engine refuses it at the end too)
        problem = counterpart_problem(person, ctx.people.get(session.actor), session.actor)
        if problem:
            del session.answers["counterpart"]
            return Reply(session, error=problem)
        if "counterpart_agency" not in session.answers or "counterpart_agency" in session.prefilled:
            session.answers["counterpart_agency"] = person.agency_name  # follows a changed answer
            if "counterpart_agency" not in session.prefilled:
                session.prefilled.append("counterpart_agency")
    return _next_index(session, len(asked_questions(ctx.policy)), IntakeState.CONFIRM)


def _answer_confirm(ctx: Context, session: IntakeSession, text: str) -> Reply:
    send = _yes_or_no(_SEND_OR_CANCEL, text)
    if send is None:
        return Reply(session, error=menu_error(_SEND_OR_CANCEL))
    if not send:
        return _finish(session, IntakeState.CANCELLED, "Cancelled. Nothing was sent.")
    return _finish(session, IntakeState.DONE, "")


# ---- the machine -----------------------------------------------------------------------------

Prompter = Callable[[Policy, IntakeSession], Prompt]
Answerer = Callable[[Context, IntakeSession, str], Reply]

FLOW: dict[IntakeState, tuple[Prompter, Answerer | None]] = {
    IntakeState.PATHWAY: (_prompt_pathway, _answer_pathway),
    IntakeState.IMMEDIATE_RISK: (_prompt_risk, _answer_risk),
    IntakeState.START_STAGE: (_prompt_start_stage, _answer_start_stage),
    IntakeState.SPECIAL_ROUTES: (_prompt_route, _answer_route),
    IntakeState.QUESTIONS: (_prompt_question, _answer_question),
    IntakeState.CONFIRM: (_prompt_confirm, _answer_confirm),
    IntakeState.DONE: (_prompt_finished, None),
    IntakeState.SIGNPOSTED: (_prompt_finished, None),
    IntakeState.CANCELLED: (_prompt_finished, None),
}


def _go(session: IntakeSession, state: IntakeState) -> Reply:
    session.trail.append((session.state, session.index))
    session.state, session.index = state, 0
    return Reply(session)


def _next_index(session: IntakeSession, count: int, then: IntakeState) -> Reply:
    if session.index + 1 < count:
        session.trail.append((session.state, session.index))
        session.index += 1
        return Reply(session)
    return _go(session, then)


def _finish(session: IntakeSession, state: IntakeState, text: str) -> Reply:
    session.state, session.closing_text = state, text
    return Reply(session)


def _skip_empty(policy: Policy, session: IntakeSession) -> None:
    """Skip states with nothing to ask, and questions the directory already answered."""
    if session.state is IntakeState.SPECIAL_ROUTES and not policy.special_routes:
        session.state, session.index = IntakeState.QUESTIONS, 0
    questions = asked_questions(policy)
    while (
        session.state is IntakeState.QUESTIONS and questions[session.index].id in session.prefilled
    ):
        if session.index + 1 < len(questions):
            session.index += 1
        else:
            session.state, session.index = IntakeState.CONFIRM, 0


def prompt(policy: Policy, session: IntakeSession) -> Prompt:
    _skip_empty(policy, session)
    prompter, _ = FLOW[session.state]
    return prompter(policy, session)


def answer(
    policy: Policy, session: IntakeSession, text: str, today: date, people: dict[str, Person]
) -> Reply:
    """Take one typed answer. Never raises for bad input: the Reply carries the error to show."""
    session = session.model_copy(deep=True)
    _skip_empty(policy, session)
    word = text.strip().lower()
    if word in CANCEL_WORDS:
        return _finish(session, IntakeState.CANCELLED, "Cancelled. Nothing was sent.")
    if word in BACK_WORDS and session.trail:
        session.state, session.index = session.trail.pop()
        return Reply(session)
    _, answerer = FLOW[session.state]
    if answerer is None:
        return Reply(session)
    reply = answerer(Context(policy, today, people), session, text)
    _skip_empty(policy, reply.session)
    return reply


def submit_form(
    policy: Policy,
    session: IntakeSession,
    values: dict[str, str],
    today: date,
    people: dict[str, Person],
) -> tuple[IntakeSession, dict[str, str]]:
    """A whole card at once: returns the session with clean answers, and errors by field id."""
    values = dict(values)
    counterpart = people.get(values.get("counterpart", "").strip().lower())
    if counterpart is not None and not values.get("counterpart_agency", "").strip():
        values["counterpart_agency"] = counterpart.agency_name
    clean, errors = check_fields(form_fields(policy), values, today, people)
    problem = counterpart_problem(counterpart, people.get(session.actor), session.actor)
    if problem and "counterpart" not in errors:
        # with the card's other errors, not in a second round after they are fixed
        errors["counterpart"] = problem
    session = session.model_copy(update={"answers": {**session.answers, **clean}})
    return session, errors


def to_command(session: IntakeSession) -> RaiseConcern:
    return RaiseConcern(
        actor=session.actor,
        partnership_id=session.partnership_id,
        answers=session.answers,
        start_stage=session.start_stage,
        pathway_choice=session.pathway_choice,
        request_key=session.id,
    )


__all__ = [
    "FINISHED",
    "FLOW",
    "IntakeSession",
    "IntakeState",
    "Prompt",
    "Reply",
    "answer",
    "asked_questions",
    "form_fields",
    "prompt",
    "start",
    "submit_form",
    "to_command",
]
