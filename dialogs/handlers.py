"""One plain function per command on an open case. Permission and state checks come first, then
the change, then who is told. The transition table decides which of these may run at all."""

from __future__ import annotations

from datetime import date, datetime

from dialogs import actions, messages, texts
from dialogs.case import (
    ActionUpdate,
    AgreedAction,
    CaseStatus,
    EntryKind,
    HandOverNote,
    RecordEntry,
    Resolution,
    Side,
)
from dialogs.commands import (
    Acknowledge,
    AddParticipant,
    CompleteStep,
    DeadlineLapsed,
    Escalate,
    HandOver,
    RecordDecision,
    RecordDeliveryFailure,
    RecordDiscussion,
    RecordInput,
    Resolve,
    UpdateAction,
    Withdraw,
)
from dialogs.dates import day_words
from dialogs.deadlines import reminder_key
from dialogs.directory import Person
from dialogs.errors import IllegalTransition, InvalidInput, NotAllowed
from dialogs.events import EventType
from dialogs.messages import record_fields, resolution_fields
from dialogs.permissions import handover_refusal
from dialogs.routing import may_choose_route, route_chooser_words, stage_holders
from dialogs.turn import Turn
from dialogs.validation import check_fields, check_record, parse_date
from policy.model import (
    FilingMoment,
    Prompt,
    RouteOption,
    Routes,
    Step,
    StepCondition,
    StepLapse,
    StepStart,
)

# ---- permissions -------------------------------------------------------------------------


def require_party(turn: Turn) -> None:
    """Parties to the case and the partnership's business team may act; nobody else."""
    if turn.case.is_party(turn.actor) or turn.is_business_team(turn.actor):
        return
    raise NotAllowed(texts.NOT_A_PARTY.format(reference=turn.case.reference))


def require_roles(turn: Turn, role_ids: list[str]) -> None:
    person = turn.people.get(turn.actor)
    if turn.is_business_team(turn.actor) or (person is not None and person.role in role_ids):
        return
    raise NotAllowed(
        texts.ROLE_MAY_NOT.format(
            roles=turn.role_names([*role_ids, turn.policy.business_team_role]),
            reference=turn.case.reference,
        )
    )


# ---- records -----------------------------------------------------------------------------


def _store_record(
    turn: Turn,
    record: RecordInput,
    kind: EntryKind,
    *,
    need_summary: bool,
    need_unresolved: bool = False,
) -> RecordEntry:
    """Append what a person wrote as new entries of the record: their text (a discussion, the
    agreed resolution, a decision) with its actions and answers, and what remains unresolved as
    its own entry, since the next tier starts from it. Nothing earlier is changed."""
    today = turn.calendar.local(turn.now).date()
    fields = record_fields(turn.policy, turn.stage)
    actions, answers, errors = check_record(
        record, fields, today, need_summary=need_summary, need_unresolved=need_unresolved
    )
    if record.corrects and not any(e.id == record.corrects for e in turn.case.record):
        errors["corrects"] = texts.CORRECTS_UNKNOWN.format(entry=record.corrects)
    if errors:
        raise InvalidInput(errors, {f.id: f.label for f in fields})
    left_open = kind is EntryKind.UNRESOLVED
    text = (record.unresolved if left_open else record.summary).strip()
    main = _entry(turn, kind, text=text, actions=actions, answers=answers,
                  corrects=record.corrects)
    if text or actions or answers or kind is not EntryKind.DISCUSSION:
        turn.case.record = [*turn.case.record, main]
    if record.unresolved.strip() and not left_open:
        left = _entry(turn, EntryKind.UNRESOLVED, text=record.unresolved.strip())
        turn.case.record = [*turn.case.record, left]
    return main


def _entry(
    turn: Turn,
    kind: EntryKind,
    *,
    text: str = "",
    actions: list[AgreedAction] | None = None,
    answers: dict[str, str] | None = None,
    corrects: str | None = None,
    step_id: str | None = None,
    outcome: str | None = None,
) -> RecordEntry:
    person = turn.people.get(turn.actor)
    return RecordEntry(
        id=turn.case.next_entry_id(turn.case.stage),
        at=turn.now,
        by=turn.actor,
        by_name=person.name if person else turn.actor,
        by_agency=person.agency if person else "",
        stage=turn.case.stage,
        kind=kind,
        text=text,
        agreed_actions=actions or [],
        answers=answers or {},
        corrects=corrects,
        step_id=step_id,
        outcome=outcome,
    )


def _outcome_answers(turn: Turn, answers: dict[str, str]) -> dict[str, str]:
    today = turn.calendar.local(turn.now).date()
    fields = resolution_fields(turn.policy)
    clean, errors = check_fields(fields, answers, today)
    if errors:
        raise InvalidInput(errors, {f.id: f.label for f in fields})
    return clean


def _working_days_since_raised(turn: Turn) -> int:
    calendar = turn.calendar
    day = calendar.local(turn.case.raised_at).date()
    end = calendar.local(turn.now).date()
    count = 0
    while day < end:
        day = calendar.next_working_day(day)
        if day <= end:
            count += 1
    return count


def _close(turn: Turn, status: CaseStatus, summary: str, answers: dict[str, str]) -> None:
    """End the case with an outcome: resolved by agreement, or the final decision recorded."""
    turn.case.status = status
    turn.case.resolution = Resolution(
        at=turn.now,
        stage=turn.case.stage,
        by=turn.actor,
        summary=summary,
        final_decision=status is CaseStatus.FINAL_DECISION,
        outcome_answers=answers,
        working_days_taken=_working_days_since_raised(turn),
    )
    turn.case.steps = [s.model_copy(update={"done": True}) for s in turn.case.steps]
    decided = status is CaseStatus.FINAL_DECISION
    turn.end_stage("decided" if decided else "resolved")
    turn.file_forms(FilingMoment.DECIDED if decided else FilingMoment.RESOLVED)


def _announce(
    turn: Turn, kind: str, event: EventType, summary: str, party_text: str, channel_text: str
) -> None:
    """A case has closed: record it, tell everyone on it, and tell the business team."""
    turn.emit(event, summary)
    values = {
        "reference": turn.case.reference,
        "stage": turn.case.stage,
        "word": turn.stage.decision_word,
    }
    headline = party_text.format(**values)
    turn.tell_parties(kind, headline)
    if turn.case.status is not CaseStatus.WITHDRAWN:
        turn.tell_outcome_copies(kind, headline)
    turn.tell_business_team(kind, channel_text.format(**values))
    turn.reply = headline


# ---- handlers ----------------------------------------------------------------------------


def acknowledge(turn: Turn, command: Acknowledge) -> None:
    require_party(turn)
    if turn.actor in turn.case.acknowledged_by:
        raise IllegalTransition(texts.DUPLICATE_ACK.format(reference=turn.case.reference))
    turn.case.acknowledged_by = [*turn.case.acknowledged_by, turn.actor]
    name = turn.people[turn.actor].name if turn.actor in turn.people else turn.actor
    turn.emit(EventType.ACKNOWLEDGED, f"acknowledged by {turn.actor}")
    headline = texts.ACKNOWLEDGED.format(name=name, reference=turn.case.reference)
    for person in turn.case.active_participants():
        if person.email != turn.actor:
            turn.tell_person(
                person.email, "acknowledged", turn.party_card(headline, with_actions=False)
            )
    turn.reply = headline


def record_discussion(turn: Turn, command: RecordDiscussion) -> None:
    require_party(turn)
    entry = _store_record(turn, command.record, EntryKind.DISCUSSION, need_summary=True)
    turn.emit(EventType.DISCUSSION_RECORDED, f"stage {turn.case.stage} record: entry {entry.id}")
    turn.file_forms(FilingMoment.RECORDED)
    turn.reply = texts.RECORD_SAVED.format(stage=turn.case.stage, reference=turn.case.reference)


def resolve(turn: Turn, command: Resolve) -> None:
    require_party(turn)
    answers = _outcome_answers(turn, command.outcome_answers)
    entry = _store_record(turn, command.record, EntryKind.RESOLUTION, need_summary=True)
    _close(turn, CaseStatus.RESOLVED, entry.text, answers)
    _announce(
        turn,
        "resolved",
        EventType.RESOLVED,
        f"resolved at stage {turn.case.stage}",
        texts.RESOLVED_FOR_PARTY,
        texts.CHANNEL_RESOLVED,
    )


def record_decision(turn: Turn, command: RecordDecision) -> None:
    final = turn.policy.final_stage
    if turn.case.stage != final.number:
        raise IllegalTransition(
            texts.NOT_FINAL_STAGE.format(
                final=final.number, reference=turn.case.reference, stage=turn.case.stage
            )
        )
    require_roles(turn, [final.decision_by] if final.decision_by else final.holder_roles)
    if not command.decision.strip():
        raise InvalidInput({"decision": texts.DECISION_NEEDS_TEXT})
    answers = _outcome_answers(turn, command.outcome_answers)
    if command.record.summary.strip():  # what was weighed, kept beside the decision itself
        _store_record(turn, command.record, EntryKind.DISCUSSION, need_summary=True)
    decision = RecordInput(summary=command.decision, agreed_actions=(
        [] if command.record.summary.strip() else command.record.agreed_actions))
    _store_record(turn, decision, EntryKind.DECISION, need_summary=True)
    _close(turn, CaseStatus.FINAL_DECISION, command.decision.strip(), answers)
    _announce(
        turn,
        "decided",
        EventType.DECISION_RECORDED,
        f"final {turn.stage.decision_word} recorded at stage {turn.case.stage}",
        texts.DECIDED_FOR_PARTY,
        texts.CHANNEL_DECIDED,
    )


def escalate(turn: Turn, command: Escalate) -> None:
    require_party(turn)
    route, route_errors = _chosen_route(turn, command.route)
    try:
        _store_record(
            turn,
            RecordInput(unresolved=command.unresolved),
            EntryKind.UNRESOLVED,
            need_summary=False,
            need_unresolved=True,
        )
    except InvalidInput as exc:  # both wrong answers back at once, on the card's two fields
        raise InvalidInput({**route_errors, **exc.field_errors}) from None
    if route_errors:
        raise InvalidInput(route_errors)
    if _advance_step(turn, reason="a party could not agree", starts=turn.now):
        return
    _next_stage(turn, reason="a party could not agree", lapsed=False, route=route)


def _chosen_route(turn: Turn, asked: str | None) -> tuple[RouteOption | None, dict[str, str]]:
    """At a stage with routes, escalating is choosing the way on: only the party the pack names
    may (and the business team, who run the procedure); the answer must be one of the options.
    Elsewhere there is nothing to choose, and a route sent anyway changes nothing."""
    routes = turn.stage.routes
    if routes is None:
        return None, {}
    if not turn.is_business_team(turn.actor) and not may_choose_route(
        turn.case, turn.policy, routes, turn.actor
    ):
        raise NotAllowed(
            texts.ROUTE_NOT_YOURS.format(
                reference=turn.case.reference,
                question=routes.question,
                who=route_chooser_words(turn.policy, routes),
            )
        )
    asked = (asked or "").strip()
    if not asked:
        return None, {"route": texts.ROUTE_NEEDED.format(question=routes.question)}
    option = routes.option(asked)
    if option is None:
        options = ", ".join(o.label for o in routes.options)
        return None, {"route": texts.BAD_CHOICE.format(options=options)}
    return option, {}


def _take_route(turn: Turn, routes: Routes, chosen: RouteOption | None) -> RouteOption:
    """Write the way on into the record and the history: the chooser's answer, or the pack's
    default when the stage lapsed with nobody choosing. The event names the option by its
    label (pack text, read by people; never anyone's words)."""
    option = chosen or routes.default_option
    template = texts.ROUTE_ENTRY if chosen is not None else texts.ROUTE_DEFAULT_ENTRY
    text = template.format(question=routes.question, answer=option.label, stage=option.next_stage)
    entry = _entry(turn, EntryKind.ROUTE_CHOSEN, text=text, answers={"route": option.id})
    turn.case.record = [*turn.case.record, entry]
    how = "chosen" if chosen is not None else "taken by default, nobody chose"
    turn.emit(
        EventType.ROUTE_CHOSEN,
        f"route {how}: '{option.label}', on to stage {option.next_stage}",
        route=option.id,
        to_stage=str(option.next_stage),
    )
    return option


def _advance_step(turn: Turn, *, reason: str, starts: datetime) -> bool:
    """Within a stage, hand an 'advance' step to the next step's owners (SP Jersey stage 1)."""
    stage = turn.stage
    for index, step in enumerate(stage.steps[:-1]):
        state = turn.case.step(step.id)
        following = stage.steps[index + 1]
        if (
            state is not None
            and not state.done
            and step.on_lapse is StepLapse.ADVANCE
            and following.starts is StepStart.AFTER_PREVIOUS
        ):
            turn.case.steps = [
                s.model_copy(update={"done": True}) if s.id == step.id else s
                for s in turn.case.steps
            ]
            joined = _start_following_step(turn, following, starts)
            within = texts.ESCALATED_WITHIN.format(
                reference=turn.case.reference, step=following.name
            )
            turn.tell_parties("step-moved", within, except_={p.email for p in joined})
            turn.emit(
                EventType.ESCALATED,
                f"moved to step '{following.name}': {reason}",
                step=following.id,
            )
            turn.reply = within
            return True
    return False


def _chain_from(
    turn: Turn, step: Step, starts: datetime, outcome: StepCondition | None = None
) -> None:
    """A step that is done or has lapsed starts the step after it, if that one waits for it.

    Whatever the lapsed step's ``on_lapse``: chasing a late referral must not stop the clock of
    the person it goes to (Jersey 2014's Board Chair), or the engine would keep fewer deadlines
    than ``timeline`` shows. A step already running (its predecessor lapsed, then was done
    late) keeps its own start and due time."""
    steps = turn.stage.steps
    index = steps.index(step)
    if index + 1 >= len(steps):
        return
    following = steps[index + 1]
    if step.outcome is not None and following.when is not None:
        _take_branch(turn, step, outcome or StepCondition.NOT_AGREED, starts)
        return
    if step.when is not None and following.when not in (None, step.when):
        # the end of this step's branch: next is the first step after the other branches
        after = [s for s in steps[index + 1 :] if s.when is None]
        if not after:
            return
        following = after[0]
    if following.starts is StepStart.AFTER_PREVIOUS and turn.case.step(following.id) is None:
        _start_following_step(turn, following, starts)


def _branches_after(steps: list[Step], decider: Step) -> list[Step]:
    """The conditional steps that hang on ``decider``'s outcome: those right after it."""
    index = steps.index(decider)
    group: list[Step] = []
    for later in steps[index + 1 :]:
        if later.when is None:
            break
        group.append(later)
    return group


def _take_branch(turn: Turn, decider: Step, outcome: StepCondition, starts: datetime) -> None:
    """Start the first step of the branch ``outcome`` selects; mark every step of the others
    skipped. A lapse with no answer takes the not-agreed branch (nothing was agreed in time).
    Decided once: a decider done late, after its lapse chose, changes no branch."""
    steps = turn.stage.steps
    group = _branches_after(steps, decider)
    if any(turn.case.step(s.id) is not None for s in group):
        return
    taken = [s for s in group if s.when is outcome]
    because = texts.STEP_SKIPPED_BECAUSE.format(
        step=decider.name, outcome=texts.OUTCOME_WORDS[outcome.value].lower()
    )
    for other in group:
        if other.when is not outcome:
            turn.skip_step(other, starts, because)
    if taken:
        _start_following_step(turn, taken[0], starts)
        return
    after = steps[steps.index(decider) + len(group) + 1 :]
    if after and after[0].starts is StepStart.AFTER_PREVIOUS and not turn.case.step(after[0].id):
        _start_following_step(turn, after[0], starts)


def _start_following_step(turn: Turn, following: Step, starts: datetime) -> list[Person]:
    """Start the next step of the stage and prompt its owners, who join the case now."""
    turn.start_step(following, starts)
    joined = turn.bring_in([following.owner_role])
    told = list(joined)
    if following.when is not None:
        # a branch is news to its owners already on the case too: which one runs was not known
        told += [
            p for p in turn.people.values()
            if p.role == following.owner_role and turn.case.is_party(p.email) and p not in joined
        ]
    turn.prompt_step(following, told)
    return joined


def _next_stage(
    turn: Turn, *, reason: str, lapsed: bool, route: RouteOption | None = None
) -> None:
    stage = turn.stage
    if stage.number == turn.policy.final_stage.number:
        decider = turn.role_names([stage.decision_by] if stage.decision_by else stage.holder_roles)
        raise IllegalTransition(
            texts.LAST_STAGE.format(
                reference=turn.case.reference, stage_name=stage.name, decider=decider
            )
        )
    previous = stage.number
    target = turn.policy.next_stage_number(stage)
    if stage.routes is not None:  # a lapse takes the default; a person's choice is passed in
        target = _take_route(turn, stage.routes, route).next_stage
    turn.emit(
        EventType.DEADLINE_LAPSED if lapsed else EventType.ESCALATED,
        f"escalated: {reason}",
        from_stage=str(previous),
    )
    turn.file_forms(FilingMoment.ESCALATED, previous)  # the stage left, with its record
    following = turn.policy.stage(target)
    template = texts.CHANNEL_LAPSED if lapsed else texts.CHANNEL_ESCALATED
    headline = template.format(
        reference=turn.case.reference,
        previous=previous,
        stage=following.number,
        stage_name=following.name,
    )
    starts = turn.case.stage_due_at if lapsed else turn.now
    turn.enter_stage(following.number, reason=reason, channel_headline=headline, starts=starts)
    turn.reply = texts.MOVED_ON.format(
        reference=turn.case.reference, stage=following.number, stage_name=following.name
    )


def complete_step(turn: Turn, command: CompleteStep) -> None:
    stage = turn.stage
    step = next((s for s in stage.steps if s.id == command.step_id), None)
    state = turn.case.step(command.step_id)
    if step is not None and state is not None and (state.done or state.skipped):
        raise IllegalTransition(_why_not_open(turn, step, state.skipped, state.skipped_because))
    if step is None or state is None or state.done:
        # the steps that are open, by their names: what people are shown, never ids
        running = {s.id for s in turn.case.open_steps()}
        named = "; ".join(s.name for s in stage.steps if s.id in running)
        message = texts.NO_SUCH_STEP.format(
            stage=stage.number, reference=turn.case.reference, step=command.step_id
        )
        raise IllegalTransition(
            message + " " + (texts.OPEN_STEPS_ARE.format(steps=named) if named
                             else texts.NO_OPEN_STEPS)
        )
    require_party(turn)
    require_roles(turn, [step.owner_role])
    outcome = _step_outcome(step, command.outcome)
    turn.case.steps = [
        s.model_copy(
            update={
                "done": True,
                "outcome": outcome.value if outcome else None,
                "ended_at": s.ended_at or turn.now,
            }
        )
        if s.id == step.id
        else s
        for s in turn.case.steps
    ]
    words = texts.OUTCOME_WORDS[outcome.value] if outcome else ""
    text = texts.STEP_DONE_OUTCOME.format(step=step.name, outcome=words) if outcome else step.name
    turn.case.record = [
        *turn.case.record,
        _entry(
            turn, EntryKind.STEP_DONE, text=text, step_id=step.id,
            outcome=outcome.value if outcome else None,
        ),
    ]
    turn.emit(
        EventType.STEP_COMPLETED,
        f"step '{step.name}' done" + (f": {words.lower()}" if outcome else ""),
        step=step.id,
    )
    turn.send_letter(step)
    _chain_from(turn, step, turn.now, outcome)
    turn.reply = (
        texts.STEP_DONE_OUTCOME_REPLY.format(step=step.name, outcome=words)
        if outcome
        else texts.STEP_DONE_REPLY.format(step=step.name)
    )


def _step_outcome(step: Step, given: str) -> StepCondition | None:
    """The outcome a step asks for, as the person gave it; refused when missing or not asked."""
    answer = given.strip().lower()
    if step.outcome is None:
        if answer:
            raise InvalidInput({"outcome": texts.STEP_OUTCOME_NOT_ASKED.format(step=step.name)})
        return None
    try:
        return StepCondition(answer)
    except ValueError:
        raise InvalidInput(
            {"outcome": texts.STEP_OUTCOME_NEEDED.format(step=step.name)}
        ) from None


def _why_not_open(turn: Turn, step: Step, skipped: bool, because: str) -> str:
    """A duplicate or stale 'done': say who did it and when, or why it is not needed."""
    values = {"stage": turn.case.stage, "reference": turn.case.reference, "step": step.name}
    if skipped:
        return texts.STEP_NOT_NEEDED.format(**values, because=because)
    done = [e for e in turn.case.record if e.kind is EntryKind.STEP_DONE and e.step_id == step.id]
    if not done:  # done by an 'advance' hand-on or the case closing: nobody marked it
        return texts.NO_SUCH_STEP.format(**values)
    last = done[-1]
    day = turn.calendar.local(last.at).strftime("%d/%m/%Y")
    return texts.STEP_ALREADY_DONE.format(**values, who=last.by_name, day=day)


def hand_over(turn: Turn, command: HandOver) -> None:
    me = turn.case.participant(turn.actor)
    if me is None:
        raise NotAllowed(texts.NOT_A_PARTY.format(reference=turn.case.reference))
    to_email = command.to_email.strip().lower()
    problem = handover_refusal(turn.case, turn.policy, turn.people, turn.actor, to_email)
    if problem is not None:
        raise InvalidInput({"to_email": problem})
    colleague = turn.people[to_email]
    turn.case.participants = [
        p.model_copy(update={"active": False}) if p.email == turn.actor and p.active else p
        for p in turn.case.participants
    ]
    turn.add_participant(colleague, me.side, me.stage)
    if turn.case.raised_by == turn.actor:
        turn.case.raised_by = colleague.email
    turn.case.handovers = [
        *turn.case.handovers,
        HandOverNote(at=turn.now, by=turn.actor, to=colleague.email, reason=command.reason.strip()),
    ]
    turn.emit(EventType.HANDED_OVER, f"handed over to {colleague.email}", to=colleague.email)
    headline = texts.HANDED_TO_YOU.format(from_name=me.name, reference=turn.case.reference)
    turn.tell_person(colleague.email, "handed-over", turn.party_card(headline))
    turn.reply = f"Case {turn.case.reference} is now with {colleague.name}."


def withdraw(turn: Turn, command: Withdraw) -> None:
    me = turn.case.participant(turn.actor)
    if not turn.is_business_team(turn.actor) and (me is None or me.side is not Side.RAISING):
        raise NotAllowed(
            texts.ROLE_MAY_NOT.format(
                roles="the raising agency or the business team", reference=turn.case.reference
            )
        )
    if not command.reason.strip():
        raise InvalidInput({"reason": texts.WITHDRAW_NEEDS_REASON})
    turn.case.status = CaseStatus.WITHDRAWN
    turn.case.withdrawn_reason = command.reason.strip()
    turn.end_stage("withdrawn")
    _announce(
        turn,
        "withdrawn",
        EventType.WITHDRAWN,
        f"withdrawn at stage {turn.case.stage}",
        texts.WITHDRAWN_FOR_PARTY,
        texts.CHANNEL_WITHDRAWN,
    )


def add_participant(turn: Turn, command: AddParticipant) -> None:
    require_party(turn)
    email = command.email.strip().lower()
    person = turn.people.get(email)
    if person is None or person.partnership_id != turn.case.partnership_id:
        raise InvalidInput({"email": texts.NOT_IN_DIRECTORY.format(email=email)})
    if turn.case.participant(email) is not None:
        raise InvalidInput(
            {"email": texts.ALREADY_PARTY.format(email=email, reference=turn.case.reference)}
        )
    if turn.policy.role(person.role).tier == 0:
        side = Side.PARTNERSHIP
    elif person.agency == turn.case.raising_agency:
        side = Side.RAISING
    elif person.agency == turn.case.receiving_agency:
        side = Side.RECEIVING
    else:
        side = Side.OTHER
    turn.add_participant(person, side, command.stage or turn.case.stage)
    turn.emit(EventType.PARTICIPANT_ADDED, f"{email} added", email=email)
    headline = texts.ADDED_TO_CASE.format(reference=turn.case.reference)
    turn.tell_person(email, "added", turn.party_card(headline))
    turn.reply = f"{person.name} added to case {turn.case.reference}."


def deadline_lapsed(turn: Turn, command: DeadlineLapsed) -> None:
    """The scheduler's command. Fenced by what fell due: a stale deadline changes nothing."""
    case = turn.case
    if command.kind in actions.KINDS:
        action_deadline_lapsed(turn, command)
        return
    if command.stage != case.stage:
        return
    if command.kind == "stage" and command.due_at == case.stage_due_at:
        if case.stage == turn.policy.final_stage.number:
            _final_stage_overdue(turn)
        else:
            _next_stage(turn, reason="deadline lapsed", lapsed=True)
    elif command.kind == "overdue" and case.overdue_since is not None:
        _final_stage_overdue(turn)
    elif command.kind == "step" and command.step_id:
        _step_lapsed(turn, command.step_id, command.due_at)
    elif command.kind == "reminder":
        _remind(turn, command)


def _final_stage_overdue(turn: Turn) -> None:
    case = turn.case
    if case.overdue_since is None:
        case.overdue_since = turn.now
    turn.emit(EventType.FINAL_STAGE_OVERDUE, f"decision at stage {case.stage} overdue")
    turn.tell_business_team(
        "overdue", texts.CHANNEL_OVERDUE.format(reference=case.reference, stage=case.stage)
    )
    # When the alert reaches the team, not when it was queued: one queued after hours goes out
    # at the next working time, and the daily re-alert counted from the queuing day would fall
    # due at that same moment and say it twice.
    case.last_overdue_alert = min(
        (n.deliver_at for n in turn.notifications if n.kind == "overdue"), default=turn.now
    )


def _step_lapsed(turn: Turn, step_id: str, due_at: datetime) -> None:
    state = turn.case.step(step_id)
    step = next((s for s in turn.stage.steps if s.id == step_id), None)
    if state is None or step is None or state.done or state.lapsed or state.due_at != due_at:
        return
    lapsed_advance = step.on_lapse is StepLapse.ADVANCE
    if lapsed_advance and _advance_step(turn, reason="step deadline lapsed", starts=state.due_at):
        return
    turn.case.steps = [
        s.model_copy(update={"lapsed": True, "ended_at": s.ended_at or s.due_at})
        if s.id == step_id
        else s
        for s in turn.case.steps
    ]
    turn.emit(EventType.STEP_LAPSED, f"step '{step.name}' overdue", step=step_id)
    _chain_from(turn, step, state.due_at)  # from its due time, as the timeline counts it
    due = turn.calendar.local(state.due_at).strftime("%a %d %b, %H:%M")
    headline = texts.STEP_REMINDER.format(step=step.name, reference=turn.case.reference, due=due)
    # an "immediately" step's lapse cannot wait for office hours either
    at_once = step.prompt is Prompt.IMMEDIATELY
    for person in turn.case.active_participants():
        if person.role == step.owner_role:
            turn.tell_person(
                person.email, f"step-lapsed-{step_id}", turn.party_card(headline),
                flagged=at_once,
            )
    final = turn.policy.final_stage.number
    if turn.case.stage == final and state.due_at == turn.case.stage_due_at:
        return  # the same lapse as the final stage's own: its overdue alert tells the team
    turn.tell_business_team(
        f"step-lapsed-{step_id}",
        texts.CHANNEL_STEP_LAPSED.format(reference=turn.case.reference, step=step.name),
        flagged=at_once,
    )


def _remind(turn: Turn, command: DeadlineLapsed) -> None:
    key = reminder_key(command.stage, command.due_at)
    if key in turn.case.reminded or turn.now >= turn.case.stage_due_at:
        return  # already sent, or the stage has lapsed: its own deadline speaks now
    turn.case.reminded = [*turn.case.reminded, key]
    due = turn.calendar.local(turn.case.stage_due_at).strftime("%H:%M")
    headline = texts.REMINDER.format(reference=turn.case.reference, stage=turn.case.stage, due=due)
    turn.emit(EventType.REMINDER_SENT, f"reminder for stage {turn.case.stage}")
    for person in stage_holders(turn.case, turn.policy):
        turn.tell_person(person.email, "reminder", turn.party_card(headline))


def record_delivery_failure(turn: Turn, command: RecordDeliveryFailure) -> None:
    """Nothing is silently lost: the failure goes on the case's history and, once it is final,
    the business team hears of it (unless what failed was itself such an alert, which would
    only loop)."""
    who = "a channel" if command.recipient.startswith("channel:") else command.recipient
    turn.emit(
        EventType.DELIVERY_FAILED,
        f"message '{command.notification_kind}' to {who} not delivered: {command.reason}",
        key=command.notification_key,
    )
    if command.final and command.notification_kind != "delivery-failed":
        turn.tell_business_team(
            "delivery-failed",
            texts.CHANNEL_DELIVERY_FAILED.format(
                reference=turn.case.reference, who=who, reason=command.reason
            ),
        )


# ---- agreed actions, followed up -----------------------------------------------------------


def update_action(turn: Turn, command: UpdateAction) -> None:
    """An owner's answer to 'is it done?'. Any party may answer (the owner is free text, so the
    bot's guess at who it is must not lock out the person who did it); a second answer to the
    same question changes nothing."""
    require_party(turn)
    case = turn.case
    state = actions.find_action(case, command.action_id)
    if state is None:
        raise IllegalTransition(
            texts.ACTION_UNKNOWN.format(reference=case.reference, action=command.action_id)
        )
    if state.done:
        last = next(u for u in reversed(state.updates) if u.done)
        raise IllegalTransition(
            texts.ACTION_ALREADY_DONE.format(
                action=state.id, reference=case.reference, who=last.by_name,
                day=turn.calendar.local(last.at).strftime("%d/%m/%Y"),
            )
        )
    if command.asked_due is not None and command.asked_due != state.due:
        raise IllegalTransition(
            texts.ACTION_MOVED.format(
                action=state.id, reference=case.reference, due=_date(state.due)
            )
        )
    new_due = None if command.done else _new_due(turn, command)
    person = turn.people.get(turn.actor)
    who = person.name if person else turn.actor
    case.action_updates = [
        *case.action_updates,
        ActionUpdate(
            action_id=state.id, at=turn.now, by=turn.actor, by_name=who, done=command.done,
            new_due=new_due, reason="" if command.done else command.reason.strip(),
        ),
    ]
    if new_due is None:
        turn.emit(EventType.ACTION_UPDATED, f"action {state.id} done", action=state.id)
        turn.reply = texts.ACTION_DONE_REPLY.format(action=state.id, reference=case.reference)
        told = texts.ACTION_DONE_FOR_RAISER.format(
            reference=case.reference, who=who, action=state.id
        )
        why = ""
    else:
        turn.emit(
            EventType.ACTION_UPDATED,
            f"action {state.id} not done yet: new date {_date(new_due)}",
            action=state.id,
        )
        turn.reply = texts.ACTION_NOT_YET_REPLY.format(
            action=state.id, reference=case.reference, due=_date(new_due)
        )
        told = texts.ACTION_NOT_YET_FOR_RAISER.format(
            reference=case.reference, who=who, action=state.id, due=_date(new_due)
        )
        why = texts.ACTION_NOT_YET_WHY.format(reason=command.reason.strip())
    if case.raised_by != turn.actor and case.is_party(case.raised_by):
        card = turn.party_card(told, with_actions=False, text=why)
        turn.tell_person(case.raised_by, f"action-update-{state.id}", card)


def _new_due(turn: Turn, command: UpdateAction) -> date:
    errors: dict[str, str] = {}
    new_due: date | None = None
    try:
        new_due = parse_date(command.new_due) if command.new_due.strip() else None
    except ValueError as exc:
        errors["new_due"] = str(exc)
    else:
        today = turn.calendar.local(turn.now).date()
        if new_due is None:
            errors["new_due"] = texts.ACTION_NEEDS_NEW_DATE
        elif new_due < today:
            errors["new_due"] = texts.ACTION_NEW_DATE_PAST.format(due=_date(new_due))
    if not command.reason.strip():
        errors["reason"] = texts.ACTION_NEEDS_REASON
    if errors or new_due is None:
        raise InvalidInput(errors)
    return new_due


def _date(day: date) -> str:
    return day_words(day)


def action_deadline_lapsed(turn: Turn, command: DeadlineLapsed) -> None:
    """An action's date has come (ask its owner), or passed two working days ago while it is
    still open (tell the business team too). Fenced like every deadline: only the follow-up
    the case's state still derives, and only once for each date."""
    case = turn.case
    if command.kind not in actions.KINDS or command.step_id is None:
        return  # any other lapse on a closed case is stale scheduler work
    state = actions.find_action(case, command.step_id)
    if state is None or state.done:
        return
    due = actions.ask_at(state, turn.calendar) if command.kind == actions.ASK else (
        actions.late_at(state, turn.calendar)
    )
    key = actions.sent_key(command.kind, state)
    if due != command.due_at or key in case.reminded:
        return
    case.reminded = [*case.reminded, key]
    late = command.kind == actions.LATE
    template = texts.ACTION_LATE_TITLE if late else texts.ACTION_ASK_TITLE
    headline = template.format(reference=case.reference, action=state.id)
    card = messages.action_card(turn.party_card(headline, with_actions=False), state, case,
                                turn.calendar)
    for owner in actions.owners(case, state, turn.agency_names):
        turn.tell_person(owner.email, f"{command.kind}-{state.id}", card)
    if late:
        turn.emit(EventType.ACTION_LATE, f"action {state.id} still open", action=state.id)
        turn.tell_business_team(
            f"{command.kind}-{state.id}",
            texts.CHANNEL_ACTION_LATE.format(
                reference=case.reference, action=state.id, due=_date(state.due)
            ),
        )
    else:
        turn.emit(EventType.ACTION_ASKED, f"action {state.id} followed up", action=state.id)
