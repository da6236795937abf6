"""Case commands typed in any chat (`ack NB-0001`, `done NB-0001 meeting agreed`, ...): what a
line asks for, before the conversation service checks and does it.

Someone on a phone, or in the terminal chat, types what a card's buttons do. Reading the line is
kept here, apart from ``ConversationService``, so the service only checks (``refusal``) and runs
what this module decides; nothing here touches the store. A line is a case command only when its
first word is one of ``VERBS`` and its second a case reference, so an answer to a question is
not mistaken for one.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from dialogs import permissions, texts
from dialogs.case import Case, status_words
from dialogs.commands import Acknowledge, AddParticipant, Command, CompleteStep, UpdateAction
from dialogs.record_dialog import Purpose
from policy.model import Policy, Step

REFERENCE = re.compile(r"^[A-Za-z]{2,6}-\d+$")
ACTION_ID = re.compile(r"^\d+\.\d+\.\d+$")  # an agreed action's place in the record: 2.1.1
ACK, DONE, NOT_YET, ADD = "ack", "done", "notyet", "add"
DIALOGS = {p.value: p for p in Purpose}
VERBS = {ACK, DONE, NOT_YET, ADD, *DIALOGS}

# typed answers to "Agreed?": numbers as listed, yes / no, or the words themselves
OUTCOME_ANSWERS = {
    "1": "agreed", "yes": "agreed", "y": "agreed", "agreed": "agreed",
    "2": "not_agreed", "no": "not_agreed", "n": "not_agreed", "not agreed": "not_agreed",
    "not_agreed": "not_agreed",
}


@dataclass(frozen=True)
class Typed:
    verb: str
    reference: str
    rest: tuple[str, ...]


def parse(text: str) -> Typed | None:
    """The case command a line is, or None when it is not one (then it may be an answer)."""
    try:
        words = shlex.split(text.strip())
    except ValueError:  # an unmatched quote: read it as plain words
        words = text.split()
    if len(words) < 2:
        return None
    verb = words[0].lower().lstrip("/")
    if verb not in VERBS or not REFERENCE.match(words[1]):
        return None
    return Typed(verb=verb, reference=words[1].upper(), rest=tuple(words[2:]))


# ---- what the line asks for ---------------------------------------------------------------------
@dataclass(frozen=True)
class Say:
    """Answer at once; nothing to check or run (the line was incomplete, or the step unclear)."""

    text: str


@dataclass(frozen=True)
class Run:
    """Run ``command`` once ``check`` (a dialogs.permissions verb, if any) allows it."""

    command: Command
    check: str = ""
    step_id: str = ""


@dataclass(frozen=True)
class Ask:
    """Start the conversation for ``purpose``: its questions, one at a time."""

    purpose: Purpose
    check: str
    step_id: str = ""


@dataclass(frozen=True)
class AskOutcome:
    """The step asks "Agreed?" and the line did not say: ask it, then mark the step done."""

    step_id: str
    step_name: str
    check: str = permissions.COMPLETE_STEP


Plan = Say | Run | Ask | AskOutcome


def plan(typed: Typed, case: Case, policy: Policy, actor: str) -> Plan:
    """What ``typed`` asks for on ``case``; the engine and ``refusal`` still decide if it may."""
    rest, base = typed.rest, {"actor": actor, "case_id": case.id}
    usage = texts.TYPED_USAGE[typed.verb].format(reference=case.reference)
    if typed.verb in DIALOGS or typed.verb == ACK:
        if rest:
            return Say(usage)
        if typed.verb == ACK:
            return Run(Acknowledge(**base, expected_version=case.version),
                       check=permissions.ACKNOWLEDGE)
        return Ask(DIALOGS[typed.verb], check=typed.verb)
    if not rest:
        return Say(usage)
    if typed.verb == ADD:
        if len(rest) != 1:
            return Say(usage)
        return Run(AddParticipant(**base, expected_version=case.version, email=rest[0]))
    if typed.verb == NOT_YET:
        # whatever is missing (the date, the reason) is named by the engine's own answer
        return Run(UpdateAction(**base, action_id=rest[0], done=False,
                                new_due=rest[1] if len(rest) > 1 else "",
                                reason=" ".join(rest[2:])))
    if ACTION_ID.match(rest[0]) and len(rest) == 1:
        return Run(UpdateAction(**base, action_id=rest[0], done=True))
    return _step_done(case, policy, actor, list(rest))


def _step_done(case: Case, policy: Policy, actor: str, words: list[str]) -> Plan:
    """`done REF STEP [agreed|not agreed]`: STEP by its number in the open steps, its name (or
    the start of one name), or its id; a step whose pack asks "Agreed?" is asked it when the
    line does not say."""
    if not case.is_open:  # as every other command on it says: not "no open step"
        return Say(texts.CLOSED.format(reference=case.reference, status=status_words(case)))
    running = {state.id for state in case.open_steps()}
    steps = policy.stage(case.stage).steps
    open_steps = [s for s in steps if s.id in running]
    step, answer = which_step(open_steps, words)
    if step is None:
        # a step of this stage already done, or not needed: the engine says by whom, or why
        ended, _ = which_step([s for s in steps if s.id not in running], words, by_number=False)
        if ended is not None:
            command = CompleteStep(actor=actor, case_id=case.id,
                                   expected_version=case.version, step_id=ended.id)
            return Run(command, check=permissions.COMPLETE_STEP, step_id=ended.id)
    if not open_steps:
        return Say(texts.NO_STEP_TO_MARK.format(stage=case.stage, reference=case.reference))
    if step is None:
        listed = "; ".join(f"{n}. {s.name}" for n, s in enumerate(open_steps, 1))
        return Say(texts.WHICH_STEP.format(reference=case.reference, steps=listed))
    outcome = ""
    if step.outcome is not None:
        outcome = OUTCOME_ANSWERS.get(" ".join(answer.lower().split()), "")
        if not outcome:
            return AskOutcome(step_id=step.id, step_name=step.name)
    command = CompleteStep(actor=actor, case_id=case.id, expected_version=case.version,
                           step_id=step.id, outcome=outcome)
    return Run(command, check=permissions.COMPLETE_STEP, step_id=step.id)


def which_step(
    open_steps: list[Step], words: list[str], by_number: bool = True
) -> tuple[Step | None, str]:
    """The step of ``open_steps`` that ``words`` name (by its number in that list, when
    ``by_number``), and what follows the name (the outcome, if given)."""
    wanted, after = words[0].lower(), " ".join(words[1:])
    for step in open_steps:
        if wanted in {step.id, step.name.lower()}:
            return step, after
    if by_number and wanted.isdigit() and 0 < int(wanted) <= len(open_steps):
        return open_steps[int(wanted) - 1], after
    # the whole name in words: the longest open step name the line starts with
    line = " ".join(words)
    named = [s for s in open_steps if line.lower().startswith(s.name.lower())]
    if named:
        step = max(named, key=lambda s: len(s.name))
        return step, line[len(step.name):].strip()
    # the start of one step's name or id ("refer" for "Refer to the partnership"), if only one
    starts = [s for s in open_steps
              if len(wanted) >= 3
              and any(w.startswith(wanted) for w in (s.id, *s.name.lower().split()))]
    if len(starts) == 1:
        return starts[0], after
    return None, ""
