"""The conversations that act on an open case: record, resolve, escalate, decide, hand over,
withdraw. Each is a declared list of questions (from the partnership's form where it has one),
asked one at a time or drawn as one card, validated with the same rules, ending in a command.

Like the intake, a session is plain data an adapter can keep between messages; ``cancel`` and
``back`` work at every question.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, Field

from dialogs import agreed_actions, texts
from dialogs.case import Case
from dialogs.commands import (
    ActionInput,
    CaseCommand,
    Escalate,
    HandOver,
    RecordDecision,
    RecordDiscussion,
    RecordInput,
    Resolve,
    Withdraw,
)
from dialogs.directory import Person
from dialogs.intake import BACK_WORDS, CANCEL_WORDS, Prompt
from dialogs.messages import record_fields, resolution_fields
from dialogs.routing import route_chooser_words
from dialogs.validation import check_field, menu_choice, menu_error, parse_action_lines
from policy.model import Choice, FieldKind, FormField, Policy, Routes


class Purpose(StrEnum):
    RECORD = "record"
    RESOLVE = "resolve"
    ESCALATE = "escalate"
    DECIDE = "decide"
    HANDOVER = "handover"
    WITHDRAW = "withdraw"


class DialogState(StrEnum):
    ASKING = "asking"
    DONE = "done"
    CANCELLED = "cancelled"


def _field(field_id: str, label: str, kind: FieldKind = FieldKind.LONG_TEXT) -> FormField:
    return FormField(id=field_id, label=label, kind=kind, required=True)


_UNRESOLVED = _field("unresolved", "What remains unresolved? (the next tier starts from this)")
_DECISION = _field("decision", "The partnership's decision, as every agency should read it")
_HAND_TO = _field("to_email", "Hand over to (their work email)", FieldKind.PERSON)
_HAND_WHY = _field("reason", "Why? (leave, end of shift ...)", FieldKind.TEXT)
_WITHDRAW_WHY = _field("reason", "Why is the concern withdrawn? (kept on the record)")
_AGREED = "What was agreed, with each agency's view and the impact on the child"


def questions(policy: Policy, stage: int, purpose: Purpose) -> list[FormField]:
    """The questions for one purpose at one stage, in the order they are asked."""
    record = [f for f in record_fields(policy, policy.stage(stage)) if f.id != "unresolved"]
    if purpose is Purpose.RECORD:
        # the engine needs the discussion itself: asked as required, never "optional" and then
        # refused at the end with every answer lost
        return [f.model_copy(update={"required": True}) if f.id == "summary" else f
                for f in record]
    if purpose is Purpose.RESOLVE:
        summary = [
            f.model_copy(update={"label": _AGREED, "required": True})
            for f in record
            if f.id == "summary"
        ]
        return summary + [f for f in record if f.id != "summary"] + resolution_fields(policy)
    if purpose is Purpose.ESCALATE:
        routes = policy.stage(stage).routes
        return [_UNRESOLVED] if routes is None else [route_field(policy, routes), _UNRESOLVED]
    if purpose is Purpose.DECIDE:
        rest = [f for f in record if f.id != "summary"]
        return [_DECISION, *rest, *resolution_fields(policy)]
    if purpose is Purpose.HANDOVER:
        # the pack's own words on handing over (NSSCP: "your professional responsibility")
        guidance = policy.handover_guidance.strip()
        return [_HAND_TO.model_copy(update={"help": guidance}) if guidance else _HAND_TO,
                _HAND_WHY]
    return [_WITHDRAW_WHY]


def route_field(policy: Policy, routes: Routes) -> FormField:
    """The stage's route question as a choice ("Is this urgent?"), asked first when escalating
    from that stage: on the card a choice input, typed an option's number, id or label."""
    return FormField(
        id="route",
        label=routes.question,
        kind=FieldKind.CHOICE,
        required=True,
        choices=[Choice(id=o.id, label=o.label) for o in routes.options],
        help=texts.ROUTE_CHOSEN_BY.format(who=route_chooser_words(policy, routes)),
    )


class RecordSession(BaseModel):
    case_id: str
    case_version: int
    stage: int
    actor: str
    purpose: Purpose
    state: DialogState = DialogState.ASKING
    index: int = 0
    answers: dict[str, str] = Field(default_factory=dict)
    closing_text: str = ""
    # agreed actions are typed one at a time: what, then who, then by when, then another?
    action_part: str = ""  # "", "what", "who", "when" or "more"
    action_draft: list[str] = Field(default_factory=list)
    # the actions taken so far, whole: a ';' in what was done stays part of it
    actions: list[ActionInput] = Field(default_factory=list)
    # who an action may be given to: the case's parties when the conversation began
    owners: list[tuple[str, str]] = Field(default_factory=list)


class DialogReply(BaseModel):
    session: RecordSession
    error: str = ""


def start(case: Case, purpose: Purpose, actor: str) -> RecordSession:
    return RecordSession(
        case_id=case.id, case_version=case.version, stage=case.stage, actor=actor,
        purpose=purpose, owners=agreed_actions.owner_choices(case),
    )


def prompt(policy: Policy, session: RecordSession) -> Prompt:
    if session.state is not DialogState.ASKING:
        return Prompt(session.closing_text)
    field = questions(policy, session.stage, session.purpose)[session.index]
    if field.kind is FieldKind.ACTIONS:
        return _action_prompt(field, session)
    suffix = "" if field.required else " (optional: send '-' to skip)"
    choices = tuple((c.id, c.label) for c in field.choices)
    return Prompt(field.label + suffix, field=field, choices=choices, guidance=field.help)


def _action_prompt(field: FormField, session: RecordSession) -> Prompt:
    part = session.action_part or "what"
    count = len(session.actions)
    if part == "what":
        needed = agreed_actions.actions_needed(field, count)
        skip = "" if needed else texts.ACTION_ASK_WHAT_SKIP
        head = field.label + "\n" if not count else ""
        return Prompt(head + texts.ACTION_ASK_WHAT.format(n=count + 1) + skip, field=field)
    if part == "who":
        return Prompt(texts.ACTION_ASK_WHO, field=field, choices=tuple(session.owners))
    if part == "when":
        return Prompt(texts.ACTION_ASK_WHEN, field=field)
    return Prompt(texts.ACTION_ASK_MORE, field=field, choices=(("yes", "Yes"), ("no", "No")))


def _answer_action(
    field: FormField, session: RecordSession, text: str, today: date
) -> str | None:
    """One part of one agreed action, checked by the rules a card's row is checked by
    (dialogs.agreed_actions); returns an error, or None when taken. The action joins the
    others only once all three parts are good."""
    typed = text.strip()
    part = session.action_part or "what"
    if part == "what":
        if typed == "-" and not agreed_actions.actions_needed(field, len(session.actions)):
            session.action_part = "finished"
            return None
        if typed == "-":
            return texts.ACTIONS_NEED_ONE
        if problem := agreed_actions.check_what(typed):
            return problem
        session.action_draft, session.action_part = [typed], "who"
    elif part == "who":
        owner, problem = agreed_actions.check_who(typed, session.owners)
        if problem:
            return problem
        session.action_draft, session.action_part = [*session.action_draft, owner], "when"
    elif part == "when":
        due, problem = agreed_actions.check_due(typed, today)
        if problem or due is None:
            return problem
        what, owner = session.action_draft
        session.actions.append(
            ActionInput(description=what, owner=owner, due=due.isoformat())
        )
        session.action_draft, session.action_part = [], "more"
        if len(session.actions) >= agreed_actions.MAX_ACTIONS:
            session.action_part = "finished"
            return texts.ACTIONS_CAP_REACHED.format(n=agreed_actions.MAX_ACTIONS)
    else:
        another = menu_choice((("yes", "Yes"), ("no", "No")), typed)
        if another is None:
            return menu_error((("yes", "Yes"), ("no", "No")))
        session.action_part = "what" if another == "yes" else "finished"
    return None


def _check(field: FormField, raw: str, today: date, people: dict[str, Person]) -> str:
    if raw.strip() == "-":  # the typed way to skip: only what may be skipped
        if field.required and field.choices:
            raise ValueError(texts.BAD_CHOICE.format(options=", ".join(
                c.label for c in field.choices)))
        if field.required:
            raise ValueError(texts.REQUIRED)
        raw = ""
    directory = people if field.kind is FieldKind.PERSON else None
    return check_field(field, raw, today, directory)


def answer(
    policy: Policy, session: RecordSession, text: str, today: date, people: dict[str, Person]
) -> DialogReply:
    """Take one typed answer; never raises for bad input, the reply carries the error."""
    session = session.model_copy(deep=True)
    word = text.strip().lower()
    if word in CANCEL_WORDS:
        session.state, session.closing_text = DialogState.CANCELLED, texts.DIALOG_CANCELLED
        return DialogReply(session=session)
    if word in BACK_WORDS and session.action_part in {"who", "when", "more"}:
        # within an agreed action, back starts that action again; the ones before it stay
        session.action_part, session.action_draft = "what", []
        return DialogReply(session=session)
    if word in BACK_WORDS and session.index > 0:
        session.index -= 1
        session.action_part, session.action_draft = "", []
        return DialogReply(session=session)
    if word in BACK_WORDS:  # at the first question: never taken as its answer
        return DialogReply(session=session, error=texts.NO_EARLIER_QUESTION)
    fields = questions(policy, session.stage, session.purpose)
    field = fields[session.index]
    note = ""  # said on the way to the next question: the most actions a record takes
    if field.kind is FieldKind.ACTIONS:
        problem = _answer_action(field, session, text, today)
        if session.action_part != "finished":
            return DialogReply(session=session, error=problem or "")
        session.action_part, note = "", problem or ""
        session.answers[field.id] = ""  # answered: the actions themselves are kept whole
    else:
        try:
            session.answers[field.id] = _check(field, text, today, people)
        except ValueError as exc:
            return DialogReply(session=session, error=str(exc))
    if field.id == "to_email" and session.answers["to_email"] == session.actor.lower():
        return DialogReply(session=session, error=texts.HANDOVER_SELF)
    if session.index + 1 < len(fields):
        session.index += 1
    else:
        session.state = DialogState.DONE
    return DialogReply(session=session, error=note)


def submit_form(
    policy: Policy,
    session: RecordSession,
    values: dict[str, str],
    today: date,
    people: dict[str, Person],
) -> tuple[RecordSession, dict[str, str]]:
    """All questions at once, from a card: the session with clean answers, and errors by field
    (a row's error by the row's own input, agreed_actions.row_input_id)."""
    clean: dict[str, str] = {}
    errors: dict[str, str] = {}
    actions: list[ActionInput] = []
    for field in questions(policy, session.stage, session.purpose):
        if field.kind is FieldKind.ACTIONS:
            actions, row_errors = check_action_rows(field, values, today, session.owners)
            errors.update(row_errors)
            clean[field.id] = ""
            continue
        raw = values.get(field.id, "")
        try:
            clean[field.id] = _check(field, raw if raw.strip() else "-", today, people)
            if field.required and not clean[field.id]:
                raise ValueError(texts.REQUIRED)
            if field.id == "to_email" and clean[field.id] == session.actor.lower():
                raise ValueError(texts.HANDOVER_SELF)
        except ValueError as exc:
            errors[field.id] = str(exc)
    done = DialogState.ASKING if errors else DialogState.DONE
    update = {"answers": clean, "state": done, "actions": actions}
    return session.model_copy(update=update), errors


def check_action_rows(
    field: FormField,
    values: dict[str, str],
    today: date,
    owners: list[tuple[str, str]],
) -> tuple[list[ActionInput], dict[str, str]]:
    """A card's rows of agreed actions, each by the chat's rules for one action: (the actions,
    errors by input id, 'Action 2 — by when: …'). None at all is refused where the chat
    refuses a '-': the one rule, agreed_actions.actions_needed."""
    actions: list[ActionInput] = []
    errors: dict[str, str] = {}
    for number, row in enumerate(agreed_actions.rows_from_values(field.id, values), start=1):
        action, problems = agreed_actions.check_row(row, today, owners)
        for part, problem in problems.items():
            input_id = agreed_actions.row_input_id(field.id, number, part)
            errors[input_id] = agreed_actions.row_error(number, part, problem)
        if action is not None:
            actions.append(action)
    if not errors and agreed_actions.actions_needed(field, len(actions)):
        errors[field.id] = texts.ACTIONS_NEED_ONE
    return actions, errors


def to_command(policy: Policy, session: RecordSession) -> CaseCommand:
    answers = dict(session.answers)
    base = {
        "actor": session.actor,
        "case_id": session.case_id,
        "expected_version": session.case_version,
    }
    outcome_ids = {f.id for f in resolution_fields(policy)}
    outcome = {k: v for k, v in answers.items() if k in outcome_ids}
    written = answers.pop("agreed_actions", "")
    record = RecordInput(
        summary=answers.pop("summary", ""),
        # a session kept from before actions were kept whole has its first ones as lines
        agreed_actions=[*parse_action_lines(written), *session.actions],
        answers={k: v for k, v in answers.items() if k not in outcome_ids},
    )
    if session.purpose is Purpose.RECORD:
        return RecordDiscussion(**base, record=record)
    if session.purpose is Purpose.RESOLVE:
        return Resolve(**base, record=record, outcome_answers=outcome)
    if session.purpose is Purpose.ESCALATE:
        return Escalate(
            **base, unresolved=session.answers["unresolved"],
            route=session.answers.get("route") or None,
        )
    if session.purpose is Purpose.DECIDE:
        decision = session.answers["decision"]
        record = record.model_copy(
            update={"answers": {k: v for k, v in record.answers.items() if k != "decision"}}
        )
        return RecordDecision(**base, decision=decision, record=record, outcome_answers=outcome)
    if session.purpose is Purpose.HANDOVER:
        return HandOver(
            **base, to_email=session.answers["to_email"], reason=session.answers["reason"]
        )
    return Withdraw(**base, reason=session.answers["reason"])
