"""The written record as people read it on a card: a block per stage, newest open, older folded.

Every entry is shown with its date and author; long texts are shortened only with a note saying
where the whole is, never silently. Used on every party card, so the next tier starts from what
the last one left, and everyone sees what was agreed.
"""

from __future__ import annotations

from dialogs import texts
from dialogs.actions import ActionState, action_states, owner_label
from dialogs.cards import RecordBlock
from dialogs.case import AgreedAction, Case, EntryKind, RecordEntry, Side
from dialogs.dates import day_words
from policy.calendar import WorkingCalendar
from policy.model import Policy

# Teams refuses cards over ~28 KB; a block per stage with a few entries of this size stays well
# inside it, and the whole text is always in the case's record form.
MAX_ENTRY_CHARS = 1200
# ... and the whole record on one card stays under this; older stages give way first
MAX_RECORD_CHARS = 9000


def _day(entry: RecordEntry, calendar: WorkingCalendar) -> str:
    return calendar.local(entry.at).strftime("%a %d/%m/%Y")


def _shortened(text: str, reference: str) -> str:
    text = text.strip()
    if len(text) <= MAX_ENTRY_CHARS:
        return text
    return text[:MAX_ENTRY_CHARS].rstrip() + " " + texts.RECORD_SHORTENED.format(
        reference=reference
    )


def action_line(
    action: AgreedAction, state: ActionState | None = None,
    calendar: WorkingCalendar | None = None, case: Case | None = None, *, bullet: bool = True,
) -> str:
    """An agreed action as agreed, with its id and where its follow-up stands once it has one.
    ``bullet`` is off in a card section, which draws its own."""
    who = owner_label(case, action.owner) if case is not None else action.owner
    if state is None:
        line = texts.RECORD_ACTION.format(
            what=action.description, who=who, due=day_words(action.due)
        )
        return line if bullet else line.removeprefix("• ")
    line = texts.RECORD_ACTION_ID.format(
        id=state.id, what=action.description, who=who,
        due=day_words(action.due),
    )
    if not bullet:
        line = line.removeprefix("• ")
    last = state.updates[-1] if state.updates else None
    if state.done and last is not None:
        done = next(u for u in reversed(state.updates) if u.done)
        at = calendar.local(done.at) if calendar else done.at
        line += texts.RECORD_ACTION_DONE.format(day=at.strftime("%d/%m/%Y"), who=done.by_name)
    elif last is not None and last.new_due is not None:
        line += texts.RECORD_ACTION_MOVED.format(
            due=day_words(last.new_due), reason=last.reason
        )
    return line


def _action_lines(
    entry: RecordEntry, states: dict[str, ActionState], calendar: WorkingCalendar, case: Case
) -> list[str]:
    return [
        action_line(action, states.get(f"{entry.id}.{n}"), calendar, case)
        for n, action in enumerate(entry.agreed_actions, start=1)
    ]


def entry_lines(
    entry: RecordEntry, case: Case, policy: Policy, calendar: WorkingCalendar,
    names: dict[str, str],
) -> list[str]:
    who = entry.by_name + (f" ({names.get(entry.by_agency, entry.by_agency)})"
                           if entry.by_agency else "")
    head = {
        EntryKind.DISCUSSION: texts.RECORD_DISCUSSION,
        EntryKind.RESOLUTION: texts.RECORD_RESOLUTION,
        EntryKind.UNRESOLVED: texts.RECORD_UNRESOLVED,
        EntryKind.STEP_DONE: texts.RECORD_STEP_DONE,
        EntryKind.DECISION: texts.RECORD_DECISION,
        EntryKind.ROUTE_CHOSEN: texts.RECORD_ROUTE_CHOSEN,
    }[entry.kind].format(
        day=_day(entry, calendar), who=who, word=policy.stage(entry.stage).decision_word
    )
    if entry.corrects:
        head += " " + texts.RECORD_CORRECTS.format(entry=entry.corrects)
    lines = [f"{entry.id} {head}"]
    if entry.text.strip():
        lines.append(_shortened(entry.text, case.reference))
    states = {state.id: state for state in action_states(case)}
    return lines + _action_lines(entry, states, calendar, case)


def _holders(case: Case, stage: int, names: dict[str, str]) -> str:
    joined = [p for p in case.participants if p.stage == stage and p.side is not Side.OTHER]
    return ", ".join(f"{p.name} ({names.get(p.agency, p.agency)})" for p in joined)


def record_blocks(
    case: Case, policy: Policy, calendar: WorkingCalendar, names: dict[str, str]
) -> list[RecordBlock]:
    """One block per stage the case has run, oldest first; only the last is open."""
    numbers: list[int] = []
    for run in case.stages_run:
        if run.number not in numbers:
            numbers.append(run.number)
    for entry in case.record:  # cases from before stages were kept
        if entry.stage not in numbers:
            numbers.append(entry.stage)
    blocks = []
    for number in numbers:
        span = case.span(number)
        if span is not None:
            start = calendar.local(span.started_at).strftime("%d/%m/%Y")
            end = (
                calendar.local(span.ended_at).strftime("%d/%m/%Y") if span.ended_at
                else texts.RECORD_NOW
            )
            dates = f"{start} to {end}" + (f", {span.ended_by}" if span.ended_by else "")
        else:
            dates = ""
        title = texts.RECORD_STAGE_TITLE.format(
            stage=number, name=policy.stage(number).name, dates=dates
        ).rstrip(" ·")
        lines = []
        held = _holders(case, number, names)
        if held:
            lines.append(texts.RECORD_HELD_BY.format(people=held))
        for entry in case.entries_at(number):
            lines += entry_lines(entry, case, policy, calendar, names)
        if len(lines) <= (1 if held else 0):
            lines.append(texts.RECORD_NOTHING_YET)
        blocks.append(RecordBlock(title=title, lines=lines, collapsed=number != numbers[-1]))
    return _within_card(blocks, case.reference)


def _within_card(blocks: list[RecordBlock], reference: str) -> list[RecordBlock]:
    """Keep the card drawable: while the record is too long, the oldest stage's entries give
    way to one line saying how many were left out and where the whole record is."""
    def size(items: list[RecordBlock]) -> int:
        return sum(len(b.title) + sum(len(line) for line in b.lines) for b in items)

    kept = list(blocks)
    for index in range(len(kept) - 1):  # the current stage is always shown whole
        if size(kept) <= MAX_RECORD_CHARS:
            break
        block = kept[index]
        note = texts.RECORD_FOLDED.format(count=len(block.lines), reference=reference)
        kept[index] = block.model_copy(update={"lines": [note]})
    return kept


def left_unresolved(case: Case) -> str:
    """What the last stage left for this one, in its own words: the next tier starts here."""
    earlier = [e for e in case.record if e.kind is EntryKind.UNRESOLVED and e.stage < case.stage]
    return earlier[-1].text.strip() if earlier else ""


def outcome_lines(
    case: Case, policy: Policy, calendar: WorkingCalendar | None = None
) -> tuple[str, list[str]]:
    """The agreed resolution or the final word, with its actions: what every party is sent."""
    if case.resolution is None:
        return "", []
    kind = EntryKind.DECISION if case.resolution.final_decision else EntryKind.RESOLUTION
    closing = [e for e in case.record if e.kind is kind]
    states = {state.id: state for state in action_states(case)}
    actions = [
        action_line(action, states.get(f"{e.id}.{n}"), calendar, case, bullet=False)
        for e in case.entries_at(case.resolution.stage)
        for n, action in enumerate(e.agreed_actions, start=1)
    ]
    if case.resolution.final_decision:
        label = texts.OUTCOME_DECISION.format(
            word=policy.stage(case.resolution.stage).decision_word.capitalize()
        )
    else:
        label = texts.OUTCOME_RESOLUTION
    said = [e.text.strip() for e in closing if e.text.strip()]
    # the closing entry may carry no words of its own (they were recorded just before it):
    # then the stage's record says what was agreed, never an empty heading
    text = said[-1] if said else (
        case.resolution.summary.strip() or case.record_for(case.resolution.stage).summary
    )
    lines = [text] if text else []
    return label, [*lines, *actions]
