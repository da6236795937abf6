"""Cards the engine sends: one builder per purpose, so each says exactly what its reader needs.

Two families, kept apart on purpose: ``party_card`` and friends go 1:1 to people on the case and
may show the child's details; ``channel_card`` goes to shared channels and is built only from the
case reference, stage, agencies and due time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from dialogs import texts
from dialogs.actions import ASK, FOLLOWED_UP, ActionState, action_states, owner_label, sent_key
from dialogs.cards import Card, CardAction, CardInput, Fact, InputKind, RecordBlock
from dialogs.case import Case
from dialogs.dates import day_words
from dialogs.directory import Person
from dialogs.permissions import refusal
from dialogs.record_view import left_unresolved, outcome_lines, record_blocks
from dialogs.routing import route_chooser_words
from policy.calendar import WorkingCalendar
from policy.model import Allowance, FieldKind, Form, FormField, Policy, Stage


def when(moment: datetime, calendar: WorkingCalendar) -> str:
    """A due time as people say it, in the partnership's own zone: 'Thu 26 Nov 2026, 17:00'."""
    return calendar.local(moment).strftime("%a %d %b %Y, %H:%M")


def due_words(moment: datetime, allowance: Allowance, calendar: WorkingCalendar) -> str:
    """A due time, and for an allowance in hours what it is ("within 2 working hours"), so an
    hour deadline reads as one; a working-day deadline reads as it always has."""
    if not allowance.in_hours:
        return when(moment, calendar)
    within = texts.allowance_words(allowance.amount, allowance.unit.value)
    return texts.DUE_WITHIN.format(due=when(moment, calendar), within=within)


def agencies(case: Case, names: dict[str, str]) -> str:
    return f"{names.get(case.raising_agency, case.raising_agency)} and " + names.get(
        case.receiving_agency, case.receiving_agency
    )


def channel_card(
    case: Case, policy: Policy, calendar: WorkingCalendar, headline: str, names: dict[str, str]
) -> Card:
    stage = policy.stage(case.stage)
    facts = [
        Fact(label="Case", value=case.reference),
        Fact(label="Stage", value=f"{stage.number} of {len(policy.stages)}: {stage.name}"),
        Fact(label="Agencies", value=agencies(case, names)),
        Fact(label="Status", value=case.status.value.replace("_", " ")),
    ]
    if case.is_open:
        facts.append(Fact(label="Due", value=when(case.stage_due_at, calendar)))
    return Card(title=headline, facts=facts, case_id=case.id, case_version=case.version)


def _stage_sections(stage: Stage) -> list[tuple[str, list[str]]]:
    sections = [
        (texts.PRINCIPLES, list(stage.principles)),
        (texts.QUESTIONS, list(stage.guiding_questions)),
        (texts.METHODS, list(stage.methods)),
        (texts.TOOLS, list(stage.helpful_tools)),
    ]
    return [(heading, items) for heading, items in sections if items]


def case_facts(
    case: Case, policy: Policy, calendar: WorkingCalendar, names: dict[str, str]
) -> list[Fact]:
    """Everything a party needs to act, including the child's details (1:1 use only)."""
    stage = policy.stage(case.stage)
    child = case.child
    child_line = child.name
    if child.date_of_birth:
        child_line += f", born {child.date_of_birth.strftime('%d/%m/%Y')}"
    if child.identifiers:
        child_line += f" ({child.identifiers})"
    facts = [
        Fact(label="Case", value=case.reference),
        Fact(label="Child", value=child_line),
        Fact(label="Raised by", value=_person_line(case, case.raised_by, names)),
        Fact(label="Agencies", value=agencies(case, names)),
        Fact(label="Concern", value=case.summary),
        Fact(label="Impact on the child", value=case.impact_on_child),
        Fact(label="Outcome sought", value=case.outcome_sought),
        Fact(label="Stage", value=f"{stage.number} of {len(policy.stages)}: {stage.name}"),
    ]
    if case.is_open:
        due = due_words(case.stage_due_at, stage.time_allowed, calendar)
        facts.append(Fact(label="Due", value=due))
    for step in case.open_steps():
        step_def = next((s for s in stage.steps if s.id == step.id), None)
        if step_def is not None:
            by = due_words(step.due_at, step_def.time_allowed, calendar)
            facts.append(Fact(label="Step", value=f"{step_def.name}, by {by}"))
    for step in case.steps:  # the branch not taken, so nobody waits for it
        step_def = next((s for s in stage.steps if s.id == step.id), None)
        if step.skipped and step_def is not None and case.is_open:
            because = step.skipped_because
            facts.append(Fact(label="Step", value=texts.STEP_SKIPPED_FACT.format(
                step=step_def.name, because=because)))
    return facts


def _person_line(case: Case, email: str, names: dict[str, str]) -> str:
    person = case.participant(email)
    if person is None:
        return email
    return f"{person.name} ({names.get(person.agency, person.agency)})"


def party_card(
    case: Case,
    policy: Policy,
    calendar: WorkingCalendar,
    headline: str,
    names: dict[str, str],
    *,
    with_actions: bool,
    text: str = "",
) -> Card:
    stage = policy.stage(case.stage)
    actions: list[CardAction] = []
    if with_actions and case.is_open:
        actions = stage_actions(case, policy)
    if with_actions:
        actions += [b for s in asked_actions(case) for b in action_buttons(s, named=True)]
    if case.is_open and not text:
        is_last = stage.number == policy.final_stage.number
        text = (
            texts.ON_LAPSE_FINAL
            if is_last and stage.final_and_binding
            else ("" if is_last else texts.ON_LAPSE.format(
                next=policy.next_stage_number(stage), due=when(case.stage_due_at, calendar)))
        )
        if stage.routes is not None and not is_last:  # the question, who answers, the default
            text = texts.ON_LAPSE_ROUTE.format(
                question=stage.routes.question,
                who=_sentence_start(route_chooser_words(policy, stage.routes)),
                default=stage.routes.default_option.label,
                next=policy.next_stage_number(stage),
                due=when(case.stage_due_at, calendar),
            )
    sections: list[tuple[str, list[str]]] = []
    facts = case_facts(case, policy, calendar, names)
    if case.is_open:
        # the next tier starts from what the last one left, and from what it must bring
        left = left_unresolved(case)
        if left:
            sections.append((texts.LEFT_UNRESOLVED, [left]))
        asks = [f"{s.name}: {s.description}" for s in stage.steps if s.description.strip()]
        if asks:
            sections.append((texts.BRING, asks))
        sections += _stage_sections(stage)
    else:
        label, lines = outcome_lines(case, policy, calendar)
        if label:
            sections.append((label, lines))
        after = policy.after_resolution
        if after is not None and case.resolution is not None:
            sections.append((after.heading, list(after.items)))
    return Card(
        title=headline,
        text=text,
        facts=facts,
        sections=sections,
        actions=actions,
        record=record_blocks(case, policy, calendar, names),
        notes=procedure_notes(case, policy),
        case_id=case.id,
        case_version=case.version,
    )


def procedure_notes(case: Case, policy: Policy) -> list[RecordBlock]:
    """Beside the record, what the procedure says of it: who records it and where it is kept
    (one line, open), and the procedure's principles (folded: there to read, not news)."""
    notes: list[RecordBlock] = []
    recording = policy.stage(case.stage).recording
    if recording.kept_on:
        line = texts.KEPT_ON.format(
            who=recording.recorded_by, where="; ".join(recording.kept_on)
        )
        notes.append(RecordBlock(title=texts.KEPT_ON_TITLE, lines=[line]))
    if policy.principles:
        notes.append(
            RecordBlock(title=texts.PRINCIPLES_TITLE, lines=list(policy.principles),
                        collapsed=True)
        )
    return notes


def stage_actions(case: Case, policy: Policy) -> list[CardAction]:
    stage = policy.stage(case.stage)
    actions = [
        CardAction(command="resolve", label=texts.BUTTON_RESOLVE, style="positive"),
        CardAction(command="record", label=texts.BUTTON_RECORD),
    ]
    if stage.number < policy.final_stage.number:
        actions.append(
            CardAction(command="escalate", label=texts.BUTTON_ESCALATE, style="destructive")
        )
    elif stage.decision_by:
        actions.append(CardAction(command="decide", label=texts.BUTTON_DECIDE))
    for step in case.open_steps():
        step_def = next((s for s in stage.steps if s.id == step.id), None)
        if step_def is not None:
            actions.append(
                CardAction(
                    command="complete_step",
                    label=texts.BUTTON_STEP_DONE.format(step=step_def.name),
                    data={"step_id": step.id},
                )
            )
    actions.append(CardAction(command="acknowledge", label=texts.BUTTON_ACK))
    actions.append(CardAction(command="handover", label=texts.BUTTON_HANDOVER))
    return actions


_INPUT_KIND = {
    FieldKind.TEXT: InputKind.TEXT,
    FieldKind.LONG_TEXT: InputKind.LONG_TEXT,
    FieldKind.DATE: InputKind.DATE,
    FieldKind.CHOICE: InputKind.CHOICE,
    FieldKind.MULTI_CHOICE: InputKind.MULTI_CHOICE,
    FieldKind.NUMBER: InputKind.NUMBER,
    FieldKind.BOOLEAN: InputKind.BOOLEAN,
    FieldKind.PERSON: InputKind.PERSON,
    FieldKind.ACTIONS: InputKind.ACTIONS,
}


def _sentence_start(words: str) -> str:
    """'the Duty manager' as a sentence opens: 'The Duty manager' (the role's name kept)."""
    return words[:1].upper() + words[1:]


def to_input(field: FormField, value: str = "", error: str = "") -> CardInput:
    return CardInput(
        id=field.id,
        label=field.label,
        kind=_INPUT_KIND[field.kind],
        required=field.required,
        choices=[(c.id, c.label) for c in field.choices],
        value=value,
        error=error,
        help=field.help,
    )


DEFAULT_RECORD_FIELDS = [
    FormField(
        id="summary",
        label="What was discussed: each agency's view and the impact on the child",
        kind=FieldKind.LONG_TEXT,
    ),
    FormField(
        id="agreed_actions",
        label="Agreed actions, each with who and an actual date (not ASAP)",
        kind=FieldKind.ACTIONS,
    ),
    FormField(
        id="unresolved",
        label="If escalating: what remains unresolved",
        kind=FieldKind.LONG_TEXT,
    ),
]


def record_fields(policy: Policy, stage: Stage) -> list[FormField]:
    """The stage's section of its recording form, or the three things every record needs."""
    if stage.recording.form:
        form = policy.form(stage.recording.form)
        for section in form.sections:
            if section.stage == stage.number:
                fields = [f for f in section.fields if f.computed is None]
                ids = {f.id for f in fields}
                return fields + [f for f in DEFAULT_RECORD_FIELDS if f.id not in ids]
    return list(DEFAULT_RECORD_FIELDS)


def resolution_fields(policy: Policy) -> list[FormField]:
    """Questions asked once agreement is reached (St Helens' purple form, NSSCP monitoring):
    the sections of on-resolution forms that belong to no particular stage, less anything the
    intake already asked (the form is filled from those answers)."""
    asked_at_intake = {f.id for f in policy.intake}
    return [
        field
        for form in policy.forms
        if form.on_resolution
        for section in form.sections
        if section.stage is None
        for field in section.fields
        if field.computed is None and field.id not in asked_at_intake
    ]


def form_card(form: Form, values: dict[str, str], case: Case, stage: int | None) -> Card:
    """A filled-in copy of one of the partnership's forms, for the mailbox or person it goes to."""
    facts: list[Fact] = []
    sections: list[tuple[str, list[str]]] = []
    for section in form.sections:
        if section.stage is not None and stage is not None and section.stage > stage:
            continue
        lines = [
            f"{field.label}: {values.get(f'{section.id}.{field.id}', '') or '-'}"
            for field in section.fields
        ]
        sections.append((section.title, lines))
    title = form.name + (f" ({form.colour})" if form.colour else "")
    facts.append(Fact(label="Case", value=case.reference))
    return Card(
        title=title, facts=facts, sections=sections, case_id=case.id, case_version=case.version
    )


ACTION_DONE_VERB = "action_done"
ACTION_NOT_YET_VERB = "action_not_yet"


def action_buttons(state: ActionState, *, named: bool = False) -> list[CardAction]:
    """Done / Not yet for one agreed action; they carry the date asked about, so an answer to
    an older question is recognised after the date has moved. ``named`` puts the action's id
    on each button, for a card that may hold several."""
    data = {"action_id": state.id, "action_due": state.due.isoformat()}
    done, not_yet = texts.BUTTON_ACTION_DONE, texts.BUTTON_ACTION_NOT_YET
    if named:
        done = texts.BUTTON_ACTION_NAMED.format(button=done, action=state.id)
        not_yet = texts.BUTTON_ACTION_NAMED.format(button=not_yet, action=state.id)
    return [
        CardAction(command=ACTION_DONE_VERB, label=done, style="positive", data=data),
        CardAction(command=ACTION_NOT_YET_VERB, label=not_yet, data=data),
    ]


def asked_actions(case: Case) -> list[ActionState]:
    """Open actions whose owners have been asked: their buttons stay on the case card, so the
    question can be answered even when its own card is lost from the chat."""
    if case.status not in FOLLOWED_UP:
        return []  # a withdrawn concern's actions are not followed up
    return [
        state
        for state in action_states(case)
        if not state.done and sent_key(ASK, state) in case.reminded
    ]


def action_card(base: Card, state: ActionState, case: Case, calendar: WorkingCalendar) -> Card:
    """The follow-up question to an action's owner: the case card with the action on top."""
    text = texts.ACTION_ASK_TEXT.format(
        stage=state.entry.stage,
        day=calendar.local(state.entry.at).strftime("%d/%m/%Y"),
        what=state.action.description,
        who=owner_label(case, state.action.owner),
        due=day_words(state.due),
    )
    return base.model_copy(update={"text": text, "actions": action_buttons(state)})


def for_viewer(
    card: Card, case: Case, policy: Policy, people: Mapping[str, Person], viewer: str
) -> Card:
    """The card with only the buttons ``viewer`` may press now (dialogs.permissions): nobody is
    offered a decision they may not record, or asked to acknowledge a case they raised."""
    kept = [
        action for action in card.actions
        if refusal(case, policy, people, viewer, action.command, action.data.get("step_id", ""))
        is None
    ]
    return card if kept == card.actions else card.model_copy(update={"actions": kept})
