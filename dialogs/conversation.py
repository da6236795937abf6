"""What the bot says back to a person in a chat, whatever the chat platform.

Adapters translate a platform's message or button press into one of three calls (``on_text``,
``on_action``, ``case_card``) and draw the neutral cards that come back. Everything else (which
questions to ask, when a click is stale, who may see a case) happens here or in the engine, so
Teams and Slack behave the same.

Intake is card-first: ``escalate`` sends the whole form as one card *and* asks its first question
as text, so someone on a client that shows cards poorly can simply answer in the chat.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from pydantic import BaseModel

from dialogs import agreed_actions, intake, record_dialog, texts, typed_commands
from dialogs.actions import find_action
from dialogs.audit import READ_WINDOW, CaseRead, ReadKind
from dialogs.cards import Card, CardAction, CardInput, Fact, InputKind, InputRow
from dialogs.case import Case, status_words
from dialogs.commands import Acknowledge, Command, CompleteStep, UpdateAction
from dialogs.engine import Engine, stale_message
from dialogs.errors import DomainError, InvalidInput, StaleCase
from dialogs.history_view import history_lines, known_people
from dialogs.messages import (
    ACTION_DONE_VERB,
    ACTION_NOT_YET_VERB,
    asked_actions,
    for_viewer,
    party_card,
    to_input,
    when,
)
from dialogs.people import Directory, directory_request, partnerships_to_tell
from dialogs.permissions import handover_refusal, is_business_team, refusal
from dialogs.ports import Store
from dialogs.routing import stage_holders
from dialogs.validation import parse_date
from policy.model import FieldKind, FormField, Policy

# A half-finished conversation may hold a child's details: it is kept this long after the last
# answer, then removed by the scheduler's housekeeping, and at once when it ends either way.
SESSION_LIFETIME = timedelta(hours=24)

HELP = texts.HELP
INTAKE_VERB = "intake"
REFRESH_VERB = "refresh"
# `show NB-0001`, `/history nb-0001`: a command word and one reference (letters, dash, digits).
# Only that shape is a command, so an answer typed during intake ("Show Jones") is never taken
# for one.
_CASE_COMMAND = re.compile(r"^/?(show|history)\s+([A-Za-z]{2,6}-\d+)$", re.IGNORECASE)
# Teams draws five buttons in a row; the status card's buttons open the latest cases
STATUS_BUTTONS = 5
# how many open cases one `status` card lists: the store reads no more than this (and one)
STATUS_PAGE = 20
IMMEDIATE = {"acknowledge", "complete_step"}
PURPOSES = {p.value for p in record_dialog.Purpose}
ACTION_VERBS = {ACTION_DONE_VERB, ACTION_NOT_YET_VERB}


@dataclass(frozen=True)
class Reply:
    text: str = ""
    card: Card | None = None


@dataclass(frozen=True)
class ActionResult:
    """The card to show in place of the one clicked, and a line to say why."""

    card: Card
    message: str = ""


class StepOutcomeSession(BaseModel):
    """'Agreed?' asked after a Mark done click, answerable by typing: the case version the click
    saw, so a typed answer after the case moved on is stale like any click."""

    case_id: str
    case_version: int
    step_id: str


class _Session(BaseModel):
    kind: str  # "intake", "record" or "step_outcome"
    intake_session: intake.IntakeSession | None = None
    record_session: record_dialog.RecordSession | None = None
    step_outcome: StepOutcomeSession | None = None


OUTCOME_ANSWERS = typed_commands.OUTCOME_ANSWERS


@dataclass
class ConversationService:
    engine: Engine
    store: Store
    today: Callable[[], date] = field(default=date.today)
    platform: str = ""  # "teams", "slack", "console": said in the read log of each case seen

    def _via(self, command: Command) -> Command:
        """The command as sent from this platform, so its events say where the person acted."""
        return command.model_copy(update={"platform": self.platform}) if self.platform else command

    def _note_read(self, case: Case, actor: str, kind: ReadKind) -> None:
        """Who saw the child's details goes into the case's read log (not its history: the
        version stays, so no open card goes stale because someone looked)."""
        read = CaseRead(case_id=case.id, at=self.engine.clock.now(), reader=actor.lower(),
                        kind=kind, platform=self.platform)
        self.store.record_read(read, READ_WINDOW.total_seconds())

    # ---- sessions ------------------------------------------------------------------------------
    def _load(self, actor: str) -> _Session | None:
        raw = self.store.session(actor, self.engine.clock.now())
        return _Session.model_validate_json(raw) if raw else None

    def _save(self, actor: str, session: _Session | None) -> None:
        if session is None:
            # most turns (status, help) have none to drop: a read, rather than a synced commit
            # of nothing; an expired one left behind is removed by the housekeeping purge
            if self.store.session(actor, self.engine.clock.now()) is not None:
                self.store.delete_session(actor)
            return
        expires = self.engine.clock.now() + SESSION_LIFETIME
        self.store.save_session(actor, session.model_dump_json(), expires)

    # ---- who is writing ----------------------------------------------------------------------
    def arrived(self, actor: str, platform: str) -> None:
        """Each adapter calls this for every message or click from someone in the directory, so
        what is sent to them goes to the platform they used last (dialogs.reach)."""
        Directory(self.store).used(actor, platform)

    def unknown(self, platform: str, email: str | None, name: str = "") -> list[Reply]:
        """Someone the directory does not know wrote to the bot: tell them how to be added, and
        tell the business team who asked (name and address only; at most once a day each).
        ``email`` is what the platform says the account's address is; one the directory holds
        under another account of this platform is answered as such (dialogs.people.learn)."""
        if not email:
            return [Reply(text=texts.STRANGER_GREETING_ANONYMOUS)]
        email = email.strip().lower()
        known = self.store.person(email)
        partnerships = (
            [self.engine.partnership(known.partnership_id)]
            if known is not None
            else partnerships_to_tell(email, self.engine.config.partnerships, self.store)
        )
        now = self.engine.clock.now()
        notes = []
        for partnership in partnerships:
            policy = self.engine.policies.get(partnership.policy)
            calendar = self.engine.calendar_for(partnership, policy)
            notes.append(
                directory_request(
                    partnership, email, name, platform, self.today().isoformat(),
                    calendar.next_working_time(now), other_account=known is not None,
                )
            )
        self.engine.queue(notes)
        if known is not None:
            text = texts.STRANGER_OTHER_ACCOUNT.format(email=email, platform=platform.title())
            return [Reply(text=text)]
        return [Reply(text=texts.STRANGER_GREETING.format(email=email))]

    def _policy_for_actor(self, actor: str) -> tuple[Policy, str] | None:
        person = self.store.person(actor)
        if person is None:
            return None
        partnership = self.engine.partnership(person.partnership_id)
        return self.engine.policies.get(partnership.policy), partnership.id

    # ---- text ----------------------------------------------------------------------------------
    def on_text(self, actor: str, text: str) -> list[Reply]:
        actor = actor.lower()
        word = text.strip().lower().lstrip("/")
        if word == "escalate":
            self._save(actor, None)
            return self._start_intake(actor)
        if word in {"help", "status"}:
            # a look at the commands or the cases leaves a half-finished conversation where it
            # was, and its question is asked again, so the next line still answers it
            told = self._help(actor) if word == "help" else self._status(actor)
            return told + self._asked_again(actor)
        asked = _CASE_COMMAND.match(text.strip())
        if asked is not None:
            # a look at a case leaves any half-finished conversation where it was
            verb, reference = asked.group(1).lower(), asked.group(2)
            if verb == "show":
                return self._show(actor, reference)
            return self._history(actor, reference)
        typed = typed_commands.parse(text)
        if typed is not None:  # `ack NB-0001`, `done NB-0001 meeting agreed`, ...
            return self._typed(actor, typed)
        session = self._load(actor)
        if session is not None and session.kind == "intake" and session.intake_session:
            return self._intake_answer(actor, session.intake_session, text)
        if session is not None and session.kind == "record" and session.record_session:
            return self._record_answer(actor, session.record_session, text)
        if session is not None and session.kind == "step_outcome" and session.step_outcome:
            return self._outcome_answer(actor, session.step_outcome, text)
        usage = {**texts.TYPED_USAGE, **texts.TYPED_USAGE_LOOK}.get(word)
        if usage is not None:  # `show` or `done` alone: how to say it, not the whole help
            return [Reply(text=usage.format(reference="REF") + texts.TYPED_NEEDS_REFERENCE)]
        return [Reply(text=texts.NOT_CAUGHT + HELP)]

    def asking(self, actor: str) -> bool:
        """Whether a question to ``actor`` awaits its answer (their next line answers it)."""
        return self._load(actor.lower()) is not None

    def forget(self, actor: str) -> None:
        """Drop ``actor``'s half-finished conversation: nothing of it was sent."""
        self._save(actor.lower(), None)

    def _help(self, actor: str) -> list[Reply]:
        return [Reply(text=HELP)]

    def _asked_again(self, actor: str) -> list[Reply]:
        """The question ``actor`` is being asked now, if any, as it was asked."""
        session = self._load(actor)
        if session is None:
            return []
        if session.intake_session is not None:
            policy = self.engine.policies.get(session.intake_session.policy_id)
            return [Reply(text=_prompt_text(intake.prompt(policy, session.intake_session)))]
        if session.record_session is not None:
            case = self.store.get_case(session.record_session.case_id)
            if case is None:
                return []
            policy = self.engine.policy_for(case)
            prompt = record_dialog.prompt(policy, session.record_session)
            return [Reply(text=_prompt_text(prompt))]
        return [Reply(text=texts.STEP_OUTCOME_PROMPT)]

    def _typed(self, actor: str, typed: typed_commands.Typed) -> list[Reply]:
        """A case command typed instead of pressed: checked first, as its button would be, so
        nobody is asked questions only to be told no at the end."""
        try:
            case = self.engine.view(typed.reference, actor)
        except DomainError as exc:
            return [Reply(text=exc.message)]  # outsiders: the same words as no such case
        policy = self.engine.policy_for(case)
        planned = typed_commands.plan(typed, case, policy, actor)
        if isinstance(planned, typed_commands.Say):
            return [Reply(text=planned.text)]
        refused = self.refusal(case, actor, planned.check, planned.step_id) if planned.check \
            else None
        if refused is not None:
            return [Reply(text=refused)]
        if isinstance(planned, typed_commands.Ask):
            if self._load(actor) is not None:
                # a half-finished intake or record (a child's details, perhaps) is never
                # replaced without a word: it goes on where it was
                again = " ".join([typed.verb, typed.reference, *typed.rest])
                return [Reply(text=texts.TYPED_FINISH_FIRST.format(command=again)),
                        *self._asked_again(actor)]
            session = record_dialog.start(case, planned.purpose, actor)
            self._save(actor, _Session(kind="record", record_session=session))
            return [Reply(text=_prompt_text(record_dialog.prompt(policy, session)))]
        if isinstance(planned, typed_commands.AskOutcome):
            earlier = self._load(actor)
            if earlier is not None and earlier.kind != "step_outcome":
                # a half-finished intake or record is never overwritten
                return [Reply(text=texts.STEP_OUTCOME_FINISH_FIRST.format(
                    reference=case.reference))]
            kept = StepOutcomeSession(
                case_id=case.id, case_version=case.version, step_id=planned.step_id
            )
            self._save(actor, _Session(kind="step_outcome", step_outcome=kept))
            return [Reply(text=texts.STEP_OUTCOME_PROMPT)]
        result = self._run(planned.command, case)
        return [Reply(text=result.message, card=result.card)]

    def status(self, actor: str) -> list[Reply]:
        """The person's cases, as typing `status` shows them, but leaving any half-finished
        conversation where it was (Slack's App Home draws it whenever the tab is opened)."""
        return self._status(actor.lower())

    def _status(self, actor: str) -> list[Reply]:
        # one page, read with a limit so the store stops there: a party to thousands of cases
        # gets the latest STATUS_PAGE (one extra says whether there are more), oldest first
        cases = self.store.cases_for_person(actor, limit=STATUS_PAGE + 1)
        older = len(cases) > STATUS_PAGE
        cases = cases[-STATUS_PAGE:]
        # a closed case stays on the list while one of its agreed actions awaits an answer
        # (looked for among the person's latest cases, open or closed)
        waiting = [
            c for c in self.store.cases_for_person(actor, include_closed=True, limit=STATUS_PAGE)
            if not c.is_open and c.is_party(actor) and asked_actions(c)
        ]
        if not cases and not waiting:
            return [Reply(text=texts.NO_OPEN_CASES)]
        facts = []
        for case in waiting:
            ids = ", ".join(s.id for s in asked_actions(case))
            facts.append(Fact(label=case.reference, value=status_words(case).capitalize()
                              + texts.STATUS_ACTIONS_WAITING.format(actions=ids)))
        for case in cases:
            policy = self.engine.policy_for(case)
            calendar = self.engine.calendar_for(
                self.engine.partnership(case.partnership_id), policy
            )
            stage = policy.stage(case.stage)
            holders = stage_holders(case, policy)
            yours = texts.STATUS_YOUR_MOVE if any(p.email == actor for p in holders) else ""
            due = when(case.stage_due_at, calendar)
            line = texts.STATUS_LINE.format(
                stage=case.stage, stage_name=stage.name, due=due, yours=yours
            )
            asked = asked_actions(case)
            if asked:
                line += texts.STATUS_ACTIONS_WAITING.format(actions=", ".join(s.id for s in asked))
            facts.append(Fact(label=case.reference, value=line))
        # a button per case reopens its card (REFRESH_VERB): the latest few, so they fit a row
        cases = [*waiting, *cases]
        latest = cases[-STATUS_BUTTONS:]
        actions = [open_button(case) for case in latest]
        text = ""
        if len(cases) > len(latest):
            text = texts.STATUS_MORE_CASES.format(shown=len(latest), example=cases[0].reference)
        if older:
            text = (text + " " if text else "") + texts.STATUS_OLDER_CASES.format(
                shown=STATUS_PAGE)
        return [Reply(card=Card(title=texts.STATUS_TITLE, text=text, facts=facts, actions=actions))]

    def _show(self, actor: str, reference: str) -> list[Reply]:
        try:
            case = self.engine.view(reference, actor)
        except DomainError as exc:
            return [Reply(text=exc.message)]  # outsiders: the same words as no such case
        self._note_read(case, actor, ReadKind.SHOW)
        return [Reply(card=self.case_card(case, actor))]

    def _history(self, actor: str, reference: str) -> list[Reply]:
        try:
            case = self.engine.view(reference, actor)
        except DomainError as exc:
            return [Reply(text=exc.message)]
        self._note_read(case, actor, ReadKind.HISTORY)
        return [Reply(card=self.history_card(case))]

    def _start_intake(self, actor: str) -> list[Reply]:
        found = self._policy_for_actor(actor)
        if found is None:
            return [Reply(text=texts.NOT_IN_DIRECTORY.format(email=actor))]
        policy, partnership_id = found
        session = intake.start(policy, partnership_id, actor)
        self._save(actor, _Session(kind="intake", intake_session=session))
        first = intake.prompt(policy, session)
        replies = [Reply(card=intake_card(policy, intake_id=session.id))]
        if policy.at_intake is not None:
            # for someone who cannot see the card: what the procedure asks them to weigh first
            considered = [policy.at_intake.heading + ":"]
            considered += [f"• {item}" for item in policy.at_intake.items]
            replies.append(Reply(text="\n".join(considered)))
        replies.append(Reply(text=texts.CARD_OR_TYPE + "\n" + _prompt_text(first)))
        return replies

    def _intake_answer(self, actor: str, session: intake.IntakeSession, text: str) -> list[Reply]:
        policy = self.engine.policies.get(session.policy_id)
        people = self.engine.people(session.partnership_id)
        reply = intake.answer(policy, session, text, self.today(), people)
        session = reply.session
        out = [Reply(text=line) for line in (reply.error, reply.guidance) if line]
        if session.state is intake.IntakeState.DONE:
            self._save(actor, None)
            return out + self._raise(intake.to_command(session))
        if session.state in intake.FINISHED:
            self._save(actor, None)
            return [*out, Reply(text=session.closing_text)]
        self._save(actor, _Session(kind="intake", intake_session=session))
        return [*out, Reply(text=_prompt_text(intake.prompt(policy, session)))]

    def _raise(self, command: Command) -> list[Reply]:
        try:
            outcome = self.engine.handle(self._via(command))
        except InvalidInput as exc:
            return [Reply(text=exc.message)]
        except DomainError as exc:
            return [Reply(text=exc.message)]
        assert outcome.case is not None
        return [Reply(text=outcome.reply, card=self.case_card(outcome.case, command.actor))]

    def _record_answer(
        self, actor: str, session: record_dialog.RecordSession, text: str
    ) -> list[Reply]:
        case = self.store.get_case(session.case_id)
        if case is None:
            self._save(actor, None)
            return [Reply(text=texts.CASE_NOT_FOUND.format(case=session.case_id))]
        policy = self.engine.policy_for(case)
        reply = record_dialog.answer(
            policy, session, text, self.today(), self.engine.people(case.partnership_id)
        )
        session = reply.session
        out = [Reply(text=reply.error)] if reply.error else []
        named = session.answers.get("to_email", "")
        if session.purpose is record_dialog.Purpose.HANDOVER and named and not reply.error:
            # check first, then ask: a colleague the engine would refuse is refused when named
            people = self.engine.people(case.partnership_id)
            problem = handover_refusal(case, policy, people, actor, named)
            if problem is not None:
                session = session.model_copy(update={
                    "index": 0, "state": record_dialog.DialogState.ASKING,
                    "answers": {k: v for k, v in session.answers.items() if k != "to_email"},
                })
                out = [Reply(text=problem)]
        if session.state is record_dialog.DialogState.ASKING:
            self._save(actor, _Session(kind="record", record_session=session))
            return [*out, Reply(text=_prompt_text(record_dialog.prompt(policy, session)))]
        self._save(actor, None)
        if session.state is record_dialog.DialogState.CANCELLED:
            return [*out, Reply(text=session.closing_text)]
        result = self._run(record_dialog.to_command(policy, session), case)
        return [*out, Reply(text=result.message, card=result.card)]

    # ---- buttons and card submissions ----------------------------------------------------------
    def on_action(
        self,
        actor: str,
        verb: str,
        data: dict[str, str],
        values: dict[str, str],
        request_id: str = "",
    ) -> ActionResult:
        """``request_id`` is the platform's id of this click or submission, if it has one: a
        repeat of the same request (a platform retry) raises no second case."""
        actor = actor.lower()
        if verb == INTAKE_VERB:
            return self._submit_intake(actor, values, data, request_id)
        case_id = data.get("case_id", "")
        try:
            case = self.engine.view(case_id, actor)
        except DomainError as exc:
            return ActionResult(Card(title=exc.message), exc.message)
        if verb == REFRESH_VERB:
            self._note_read(case, actor, ReadKind.CARD)
            return ActionResult(self.case_card(case, actor))
        if verb in ACTION_VERBS:
            return self._action_follow_up(actor, case, verb, data, values)
        version = whole_number(data.get("version"))
        if version is None:
            # every case card carries the version it shows: without one the click cannot be
            # checked against the case, so it is treated as stale and changes nothing
            return self._stale(case, actor)
        if verb == "complete_step" and data.get("submit") != "1":
            asking = self._asks_outcome(case, data.get("step_id", ""))
            if asking:
                if version != case.version:
                    return self._stale(case, actor)
                kept = StepOutcomeSession(
                    case_id=case.id, case_version=version, step_id=data.get("step_id", "")
                )
                # a half-finished intake or record is never overwritten: then the card only
                earlier = self._load(actor)
                typed = earlier is None or earlier.kind == "step_outcome"
                if typed:
                    self._save(actor, _Session(kind="step_outcome", step_outcome=kept))
                card = self.outcome_card(case, kept, asking)
                if not typed:
                    card = card.model_copy(update={"text": texts.STEP_OUTCOME_CARD_ONLY})
                return ActionResult(card, card.text)
        if verb in IMMEDIATE:
            base = {"actor": actor, "case_id": case.id, "expected_version": version}
            command: Command = (
                Acknowledge(**base)
                if verb == "acknowledge"
                else CompleteStep(
                    **base, step_id=data.get("step_id", ""), outcome=values.get("outcome", "")
                )
            )
            waiting = self._load(actor) if verb == "complete_step" else None
            if waiting is not None and waiting.kind == "step_outcome":
                self._save(actor, None)  # answered on the card: no typed answer is awaited
            return self._run(command, case)
        if verb in PURPOSES:
            purpose = record_dialog.Purpose(verb)
            if data.get("submit") != "1":
                if version != case.version:
                    return self._stale(case, actor)
                # check first, then ask: no form for what the engine would refuse at the end
                refused = self.refusal(case, actor, verb)
                if refused is not None:
                    return ActionResult(self.case_card(case, actor, notice=refused), refused)
                return ActionResult(self.purpose_card(case, purpose, actor, version))
            if data.get("edit"):
                # "Add another action" / "Remove": the same card, every typed value kept,
                # nothing checked or recorded yet; the version stays the one first shown
                card = self.purpose_card(
                    case, purpose, actor, version, values, edit=(data["edit"], data.get("row", ""))
                )
                return ActionResult(card)
            return self._submit_purpose(actor, case, purpose, version, values)
        return ActionResult(self.case_card(case, actor), "That button is no longer available.")

    def _asks_outcome(self, case: Case, step_id: str) -> str:
        """The step's name when marking it done asks 'Agreed?', else empty."""
        stage = self.engine.policy_for(case).stage(case.stage)
        step = next((s for s in stage.steps if s.id == step_id), None)
        return step.name if step is not None and step.outcome is not None else ""

    def _outcome_answer(self, actor: str, kept: StepOutcomeSession, text: str) -> list[Reply]:
        answer = OUTCOME_ANSWERS.get(" ".join(text.strip().lower().split()))
        if text.strip().lower() in intake.CANCEL_WORDS:
            self._save(actor, None)
            return [Reply(text=texts.DIALOG_CANCELLED)]
        if answer is None:
            return [Reply(text=texts.STEP_OUTCOME_NOT_CAUGHT)]
        self._save(actor, None)
        case = self.store.get_case(kept.case_id)
        if case is None:
            return [Reply(text=texts.CASE_NOT_FOUND.format(case=kept.case_id))]
        command = CompleteStep(
            actor=actor, case_id=case.id, expected_version=kept.case_version,
            step_id=kept.step_id, outcome=answer,
        )
        result = self._run(command, case)
        return [Reply(text=result.message, card=result.card)]

    def outcome_card(self, case: Case, kept: StepOutcomeSession, step_name: str) -> Card:
        """The small form a Mark done click opens on a step that asks an outcome."""
        choices = [(value, words) for value, words in texts.OUTCOME_WORDS.items()]
        data = {"submit": "1", "step_id": kept.step_id, "version": str(kept.case_version)}
        return Card(
            title=texts.STEP_OUTCOME_TITLE.format(reference=case.reference, step=step_name),
            text=texts.STEP_OUTCOME_TYPE,
            inputs=[
                CardInput(
                    id="outcome", label=texts.STEP_OUTCOME_QUESTION, kind=InputKind.CHOICE,
                    required=True, choices=choices,
                )
            ],
            actions=[
                CardAction(
                    command="complete_step", label=texts.BUTTON_SEND, style="positive",
                    data=data, submits_inputs=True,
                ),
                CardAction(command=REFRESH_VERB, label=texts.BUTTON_BACK),
            ],
            case_id=case.id,
            case_version=case.version,
        )

    def _action_follow_up(
        self, actor: str, case: Case, verb: str, data: dict[str, str], values: dict[str, str]
    ) -> ActionResult:
        """Done / Not yet on an agreed action's follow-up. Fenced by the date the question was
        about, not by the case's version: the case may have moved on for other reasons, and the
        answer still stands unless the action itself has."""
        state = find_action(case, data.get("action_id", ""))
        if state is None:
            message = texts.ACTION_UNKNOWN.format(
                reference=case.reference, action=data.get("action_id", "")
            )
            return ActionResult(self.case_card(case, actor, notice=message), message)
        try:
            asked = date.fromisoformat(data.get("action_due", ""))
        except ValueError:
            asked = state.due
        if verb == ACTION_NOT_YET_VERB and data.get("submit") != "1":
            return ActionResult(self.not_yet_card(case, state.id, asked))
        command = UpdateAction(
            actor=actor,
            case_id=case.id,
            action_id=state.id,
            done=verb == ACTION_DONE_VERB,
            new_due=values.get("new_due", ""),
            reason=values.get("reason", ""),
            asked_due=asked,
        )
        try:
            outcome = self.engine.handle(self._via(command))
        except InvalidInput as exc:
            card = self.not_yet_card(case, state.id, asked, values, exc.field_errors)
            return ActionResult(card, texts.FIX_THE_CARD)
        except DomainError as exc:
            current = self.store.get_case(case.id) or case
            return ActionResult(self.case_card(current, actor, notice=exc.message), exc.message)
        current = outcome.case or case
        return ActionResult(self.case_card(current, actor, notice=outcome.reply), outcome.reply)

    def _submit_intake(
        self, actor: str, values: dict[str, str], data: dict[str, str], request_id: str
    ) -> ActionResult:
        found = self._policy_for_actor(actor)
        if found is None:
            message = texts.NOT_IN_DIRECTORY.format(email=actor)
            return ActionResult(Card(title=message), message)
        policy, partnership_id = found
        session = intake.start(policy, partnership_id, actor)
        # The card's own id makes sending it twice one case; a card without one (drawn before
        # cards carried it) falls back on the platform's request id.
        fallback = f"request:{request_id}" if request_id else session.id
        session.id = data.get("intake_id") or fallback
        people = self.engine.people(partnership_id)
        session, errors = intake.submit_form(policy, session, values, self.today(), people)
        session.start_stage = whole_number(values.get("start_stage")) or 1
        session.pathway_choice = values.get("pathway") or None
        if not errors:
            try:
                outcome = self.engine.handle(self._via(intake.to_command(session)))
            except InvalidInput as exc:
                errors = exc.field_errors
            except DomainError as exc:
                return ActionResult(intake_card(policy, values, {}, session.id), exc.message)
            else:
                self._save(actor, None)
                assert outcome.case is not None
                card = self.case_card(outcome.case, actor, notice=outcome.reply)
                return ActionResult(card, outcome.reply)
        return ActionResult(intake_card(policy, values, errors, session.id), texts.FIX_THE_CARD)

    def _submit_purpose(
        self,
        actor: str,
        case: Case,
        purpose: record_dialog.Purpose,
        version: int,
        values: dict[str, str],
    ) -> ActionResult:
        policy = self.engine.policy_for(case)
        session = record_dialog.start(case, purpose, actor)
        session.case_version = version
        session, errors = record_dialog.submit_form(
            policy, session, values, self.today(), self.engine.people(case.partnership_id)
        )
        if errors:
            card = self.purpose_card(case, purpose, actor, version, values, errors)
            return ActionResult(card, texts.FIX_THE_CARD)
        return self._run(record_dialog.to_command(policy, session), case, purpose, values)

    def _run(
        self,
        command: Command,
        case: Case,
        purpose: record_dialog.Purpose | None = None,
        values: dict[str, str] | None = None,
    ) -> ActionResult:
        try:
            outcome = self.engine.handle(self._via(command))
        except StaleCase:
            return self._stale(case, command.actor)
        except InvalidInput as exc:
            if purpose is None:
                # a one-line command (`add REF EMAIL`, a button): no form to correct, so the
                # reasons alone, not "Please correct: Their email: ..."
                said = " ".join(exc.field_errors.values()) or exc.message
                return ActionResult(self.case_card(case, command.actor, notice=said), said)
            card = self.purpose_card(
                case, purpose, command.actor, case.version, values, exc.field_errors
            )
            return ActionResult(card, texts.FIX_THE_CARD)
        except DomainError as exc:
            current = self.store.get_case(case.id) or case
            return ActionResult(
                self.case_card(current, command.actor, notice=exc.message), exc.message
            )
        current = outcome.case or case
        return ActionResult(
            self.case_card(current, command.actor, notice=outcome.reply), outcome.reply
        )

    def _stale(self, case: Case, actor: str) -> ActionResult:
        current = self.store.get_case(case.id) or case
        notice = stale_message(current)  # the engine's own words for a stale click
        return ActionResult(self.case_card(current, actor, notice=notice), notice)

    def refusal(self, case: Case, actor: str, verb: str, step_id: str = "") -> str | None:
        """Why ``actor`` may not start ``verb`` on ``case`` now (dialogs.permissions), for every
        adapter to ask before its first question."""
        policy = self.engine.policy_for(case)
        people = self.engine.people(case.partnership_id)
        return refusal(case, policy, people, actor, verb, step_id)

    # ---- cards ---------------------------------------------------------------------------------
    def case_card(self, case: Case, viewer: str, notice: str = "") -> Card:
        """The case as ``viewer`` should see it now: buttons only while it is open and theirs."""
        policy = self.engine.policy_for(case)
        calendar = self.engine.calendar_for(self.engine.partnership(case.partnership_id), policy)
        # parties act on an open case, and answer follow-ups of its actions after it closes;
        # the business team is offered what the engine lets it do on an open one (refer, decide
        # on the partnership's behalf, withdraw), so a typed command and the card agree
        people = self.engine.people(case.partnership_id)
        acting = case.is_party(viewer) or (
            case.is_open and is_business_team(case, policy, people, viewer)
        )
        headline = f"Case {case.reference}: {case.status.value.replace('_', ' ')}"
        card = party_card(
            case,
            policy,
            calendar,
            headline,
            self.engine.agency_names,
            with_actions=acting,
            text=notice,
        )
        return for_viewer(card, case, policy, people, viewer)

    def history_card(self, case: Case) -> Card:
        """The case's events in order, by name; only for someone ``engine.view`` let through.

        The card carries no case id: Teams would then redraw it as the case card on refresh.
        Its one button opens the case card instead."""
        policy = self.engine.policy_for(case)
        calendar = self.engine.calendar_for(self.engine.partnership(case.partnership_id), policy)
        known = known_people(
            case, self.engine.people(case.partnership_id), self.engine.agency_names
        )
        lines, note = history_lines(self.store.history(case.id), known, calendar)
        return Card(
            title=texts.HISTORY_TITLE.format(reference=case.reference),
            text=note,
            sections=[(texts.HISTORY_HEADING, lines)] if lines else [],
            actions=[open_button(case)],
        )

    def not_yet_card(
        self,
        case: Case,
        action_id: str,
        asked: date,
        values: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
    ) -> Card:
        values, errors = values or {}, errors or {}
        inputs = [
            CardInput(
                id="new_due", label=texts.ACTION_NEW_DUE_LABEL, kind=InputKind.DATE,
                required=True, value=values.get("new_due", ""), error=errors.get("new_due", ""),
            ),
            CardInput(
                id="reason", label=texts.ACTION_REASON_LABEL, kind=InputKind.LONG_TEXT,
                required=True, value=values.get("reason", ""), error=errors.get("reason", ""),
            ),
        ]
        data = {"submit": "1", "action_id": action_id, "action_due": asked.isoformat()}
        return Card(
            title=texts.ACTION_NOT_YET_TITLE.format(reference=case.reference, action=action_id),
            text=texts.FIX_THE_CARD if errors else "",
            inputs=inputs,
            actions=[
                CardAction(
                    command=ACTION_NOT_YET_VERB, label=texts.BUTTON_SEND, style="positive",
                    data=data, submits_inputs=True,
                ),
                CardAction(command=REFRESH_VERB, label=texts.BUTTON_BACK),
            ],
            case_id=case.id,
            case_version=case.version,
        )

    def purpose_card(
        self,
        case: Case,
        purpose: record_dialog.Purpose,
        viewer: str,
        version: int | None,
        values: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        edit: tuple[str, str] = ("", ""),
    ) -> Card:
        """The form for one purpose. Agreed actions are rows (what, who, by when), one more
        for each "Add another action"; ``edit`` is that click, or a row's "Remove"."""
        policy = self.engine.policy_for(case)
        values, errors = values or {}, errors or {}
        data = {"submit": "1", "version": str(version if version is not None else case.version)}
        inputs = [
            self._action_rows(case, purpose, f, data, values, errors, edit)
            if f.kind is FieldKind.ACTIONS
            else to_input(f, values.get(f.id, ""), errors.get(f.id, ""))
            for f in record_dialog.questions(policy, case.stage, purpose)
        ]
        return Card(
            title=f"Case {case.reference}: {texts.PURPOSE_TITLES[purpose.value]}",
            text=texts.FIX_THE_CARD if errors else "",
            inputs=inputs,
            actions=[
                CardAction(
                    command=purpose.value,
                    label=texts.BUTTON_SEND,
                    style="positive",
                    data=data,
                    submits_inputs=True,
                ),
                CardAction(command=REFRESH_VERB, label=texts.BUTTON_BACK),
            ],
            case_id=case.id,
            case_version=case.version,
        )

    def _action_rows(
        self,
        case: Case,
        purpose: record_dialog.Purpose,
        field: FormField,
        data: dict[str, str],
        values: dict[str, str],
        errors: dict[str, str],
        edit: tuple[str, str],
    ) -> CardInput:
        """Agreed actions as rows, stacked for a phone: the rows already entered (one blank
        one to begin with), each with what, who (a choice of the case's parties) and by when."""
        owners = agreed_actions.owner_choices(case)
        rows = agreed_actions.rows_from_values(field.id, values)
        rows = agreed_actions.edited_rows(rows, *edit)
        full = len(rows) >= agreed_actions.MAX_ACTIONS

        def button(label: str, **more: str) -> CardAction:
            return CardAction(command=purpose.value, label=label, data={**data, **more},
                              submits_inputs=True, checks_inputs=False)

        drawn = []
        for number, row in enumerate(rows, start=1):
            who, _ = agreed_actions.check_who(row.get("who", ""), owners)
            shown = {"what": row.get("what", ""), "who": who or row.get("who", ""),
                     "due": _iso_or_typed(row.get("due", ""))}
            drawn.append(InputRow(
                title=texts.ACTION_ROW_TITLE.format(n=number),
                inputs=[
                    CardInput(
                        id=(input_id := agreed_actions.row_input_id(field.id, number, name)),
                        label=label, kind=kind, required=True, value=shown[name],
                        error=errors.get(input_id, ""),
                        choices=owners if kind is InputKind.CHOICE else [],
                    )
                    for name, label, kind in (
                        ("what", texts.ACTION_WHAT_LABEL, InputKind.TEXT),
                        ("who", texts.ACTION_WHO_LABEL,
                         InputKind.CHOICE if owners else InputKind.PERSON),
                        ("due", texts.ACTION_DUE_LABEL, InputKind.DATE),
                    )
                ],
                remove=button(texts.BUTTON_REMOVE_ACTION.format(n=number), edit="remove",
                              row=str(number)) if len(rows) > 1 else None,
            ))
        cap = texts.ACTIONS_CAP_NOTE.format(n=agreed_actions.MAX_ACTIONS)
        return CardInput(
            id=field.id,
            label=field.label,
            kind=InputKind.ROWS,
            required=field.required,
            error=errors.get(field.id, ""),
            help=" ".join(part for part in (field.help, cap if full else "") if part),
            rows=drawn,
            add=None if full else button(texts.BUTTON_ADD_ACTION, edit="add"),
        )


def intake_card(
    policy: Policy,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    intake_id: str = "",
) -> Card:
    """The whole /escalate form on one card, immediate-risk guidance first."""
    values, errors = values or {}, errors or {}
    inputs: list[CardInput] = []
    if policy.pathway is not None:
        inputs.append(
            CardInput(
                id="pathway",
                label=policy.pathway.question,
                kind=InputKind.CHOICE,
                required=True,
                choices=[(o.id, o.label) for o in policy.pathway.options],
                value=values.get("pathway", ""),
                error=errors.get("pathway", ""),
            )
        )
    inputs += [
        to_input(f, values.get(f.id, ""), errors.get(f.id, "")) for f in intake.form_fields(policy)
    ]
    risk = policy.immediate_risk
    if risk.allows_later_start:
        choices = [
            (str(n), f"Stage {n}: {policy.stage(n).name}") for n in risk.start_choices
        ]
        inputs.append(
            CardInput(
                id="start_stage",
                label="Immediate risk only: start at stage",
                kind=InputKind.CHOICE,
                choices=choices,
                value=values.get("start_stage", str(risk.start_stage)),
                error=errors.get("start_stage", ""),
            )
        )
    sections = [(texts.IMMEDIATE_RISK_HEADING, [risk.guidance, risk.action])]
    if policy.at_intake is not None:
        sections.append((policy.at_intake.heading, list(policy.at_intake.items)))
    if policy.special_routes:
        sections.append(
            (
                texts.SPECIAL_ROUTES_HEADING,
                [f"{r.applies_when} Take it to {r.route_to}." for r in policy.special_routes],
            )
        )
    return Card(
        title=texts.INTAKE_TITLE.format(policy=policy.name),
        text=texts.FIX_THE_CARD if errors else "",
        sections=sections,
        inputs=inputs,
        actions=[
            CardAction(
                command=INTAKE_VERB,
                label=texts.BUTTON_SEND,
                style="positive",
                submits_inputs=True,
                data={"intake_id": intake_id} if intake_id else {},
            )
        ],
    )


def open_button(case: Case) -> CardAction:
    """A button that draws the case's card afresh for whoever presses it (``engine.view`` still
    decides whether they may see it)."""
    return CardAction(
        command=REFRESH_VERB,
        label=texts.BUTTON_OPEN.format(reference=case.reference),
        data={"case_id": case.id},
    )


def whole_number(raw: str | None, max_digits: int = 9) -> int | None:
    """A non-negative whole number in ASCII digits, as the bot's own cards write one (a case
    version, a stage). ``str.isdigit`` also accepts "²" and other digits ``int`` refuses."""
    if raw and len(raw) <= max_digits and raw.isascii() and raw.isdecimal():
        return int(raw)
    return None


def _iso_or_typed(typed: str) -> str:
    """A date as a card's date input holds it (ISO), where it reads as one."""
    try:
        return parse_date(typed).isoformat() if typed.strip() else ""
    except ValueError:
        return typed


def _prompt_text(prompt: intake.Prompt) -> str:
    lines = [prompt.text]
    lines += [f"{n}. {label}" for n, (_, label) in enumerate(prompt.choices, 1)]
    if prompt.guidance:
        lines.append(prompt.guidance)
    return "\n".join(lines)
