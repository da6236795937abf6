"""`escalation-bot chat --as EMAIL`: play any role by hand in a terminal, against the SQLite store.

It asks the same questions, one at a time, that a Teams or Slack user gets when they type instead
of using a card, and it runs on a simulated clock (`wait 1d`) so a person can watch a deadline
lapse without waiting for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shlex
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from adapters.console.render import render_card
from bot.bootstrap import App, bootstrap
from bot.serving_mark import served_by
from bot.settings import Settings
from dialogs import intake, record_dialog, texts
from dialogs.case import Case
from dialogs.clock import SimulatedClock
from dialogs.commands import (
    Acknowledge,
    AddParticipant,
    Command,
    CompleteStep,
    UpdateAction,
)
from dialogs.conversation import OUTCOME_ANSWERS, ConversationService
from dialogs.errors import DomainError, InvalidInput
from dialogs.messages import party_card
from dialogs.notifications import Notification, RecipientKind
from scheduler.runner import deliver_due_notifications, fire_due_deadlines

HELP = """Commands (REF is a case reference such as NB-0001):
  escalate                 raise a professional difference (questions one at a time)
  status                   your open cases and what is due from you
  show REF | history REF   a case, or its history
  ack REF                  acknowledge a case
  record REF               record a discussion at the current stage
  resolve REF              record an agreed resolution
  escalate REF             cannot agree: move to the next tier
  decide REF               record the partnership's final decision (final stage only)
  done REF STEP            mark a step done (STEP: its number, name or id; add
                           `agreed` or `not agreed` where the step asks)
  done REF ACTION          an agreed action (e.g. 2.1.1, as on the card) is done
  notyet REF ACTION DATE WHY   it is not done yet: its new date and why
  handover REF             hand your part to a colleague
  add REF EMAIL            bring someone into the case
  withdraw REF             withdraw the concern
  as EMAIL                 become someone else (play the counterpart or a manager)
  wait 2h | wait 1d        move the simulated clock on; lapsed deadlines fire
  help | quit"""

NOT_IN_DIRECTORY = "{email} is not in the directory; give the email of someone who is."
CHAT_DATABASE = Path(__file__).resolve().parents[1] / "var" / "chat.sqlite3"
SERVER_USES_IT = (
    "chat: warning: a running server (process {pid}) uses {path}; the chat's simulated clock"
    " would move its cases' deadlines. Fix: leave out --db (the chat keeps var/chat.sqlite3)."
)
NOT_IN_DIRECTORY_AT_START = (
    "chat: {email} is not in the directory ({config}); fix: --as with the email of someone in"
    " it, e.g. dana.marsh@council.northbay.example in the example"
)

Ask = Callable[[str], str]
_ACTION_ID = re.compile(r"^\d+\.\d+\.\d+$")  # an agreed action's place in the record


class Inbox:
    """Delivers from the outbox and keeps each person's messages until they are that person."""

    def __init__(self) -> None:
        self.unread: dict[str, list[Notification]] = {}

    async def deliver(self, notification: Notification) -> None:
        if notification.recipient.kind is RecipientKind.PERSON:
            self.unread.setdefault(notification.recipient.address, []).append(notification)
        else:
            kind = notification.recipient.kind.value
            print(f"[{kind} {notification.recipient.address}] {notification.card.title}")

    def take(self, email: str) -> list[Notification]:
        return self.unread.pop(email, [])


class Chat:
    def __init__(self, app: App, clock: SimulatedClock, me: str, ask: Ask) -> None:
        self.app, self.clock, self.me, self.ask = app, clock, me.lower(), ask
        self.inbox = Inbox()

    # ---- plumbing ----------------------------------------------------------------------------
    def pump(self) -> None:
        fire_due_deadlines(self.app.store, self.app.engine, self.clock, "chat")
        asyncio.run(deliver_due_notifications(self.app.store, self.inbox, self.clock))
        for note in self.inbox.take(self.me):
            if note.urgent:
                print(f"  {texts.CHAT_URGENT}")
            print(render_card(note.card))

    def run_command(self, command: Command) -> None:
        try:
            outcome = self.app.engine.handle(command)
        except InvalidInput as exc:
            for field, error in exc.field_errors.items():
                print(f"  {field}: {error}")
            return
        except DomainError as exc:
            print(f"  {exc.message}")
            return
        if outcome.reply:
            print(f"  {outcome.reply}")

    def case(self, reference: str) -> Case | None:
        try:
            return self.app.engine.view(reference, self.me)
        except DomainError as exc:
            print(f"  {exc.message}")
            return None

    def ask_prompt(self, prompt: intake.Prompt) -> str:
        choices = "".join(f"\n  {n}. {label}" for n, (_, label) in enumerate(prompt.choices, 1))
        return self.ask(f"{prompt.text}{choices}\n> ")

    def run_dialog(self, case: Case, purpose: record_dialog.Purpose) -> None:
        """Ask a case conversation's questions one at a time, then issue its command."""
        policy = self.app.engine.policy_for(case)
        people = self.app.engine.people(case.partnership_id)
        session = record_dialog.start(case, purpose, self.me)
        while session.state is record_dialog.DialogState.ASKING:
            text = self.ask_prompt(record_dialog.prompt(policy, session))
            reply = record_dialog.answer(policy, session, text, self.clock.now().date(), people)
            if reply.error:
                print(f"  {reply.error}")
            session = reply.session
        if session.state is record_dialog.DialogState.DONE:
            self.run_command(record_dialog.to_command(policy, session))
        else:
            print(f"  {session.closing_text}")

    # ---- commands ----------------------------------------------------------------------------
    def escalate_new(self) -> None:
        person = self.app.store.person(self.me)
        if person is None:
            print(f"  {self.me} is not in the directory; use `as EMAIL` with someone who is.")
            return
        partnership = self.app.config.partnership(person.partnership_id)
        policy = self.app.policies.get(partnership.policy)
        session = intake.start(policy, partnership.id, self.me)
        people = self.app.engine.people(partnership.id)
        while session.state not in intake.FINISHED:
            text = self.ask_prompt(intake.prompt(policy, session))
            reply = intake.answer(policy, session, text, self.clock.now().date(), people)
            if reply.error:
                print(f"  {reply.error}")
            if reply.guidance:
                print(f"  {reply.guidance}")
            session = reply.session
        if session.state is intake.IntakeState.DONE:
            self.run_command(intake.to_command(session))
        else:
            print(f"  {session.closing_text}")

    def status(self) -> None:
        """The same status as any chat gets: open cases, and closed ones awaiting an answer."""
        service = ConversationService(self.app.engine, self.app.store)
        for reply in service.on_text(self.me, "status"):
            print(render_card(reply.card) if reply.card else f"  {reply.text}")

    def complete_step(self, case: Case, words: list[str]) -> None:
        """`done REF STEP [agreed|not agreed]`: STEP by its number in the case's open steps, its
        name, or its id; a step whose pack asks "Agreed?" is asked it when no answer is given."""
        policy = self.app.engine.policy_for(case)
        stage = policy.stage(case.stage)
        running = {state.id for state in case.open_steps()}
        open_steps = [s for s in stage.steps if s.id in running]
        wanted, answer = words[0], " ".join(words[1:])
        step = next((s for s in open_steps if wanted.lower() in {s.id, s.name.lower()}), None)
        if step is None and wanted.isdigit() and 0 < int(wanted) <= len(open_steps):
            step = open_steps[int(wanted) - 1]
        if step is None:  # maybe the name in words: the longest open step name the line starts
            line = " ".join(words).lower()
            named = [s for s in open_steps if line.startswith(s.name.lower())]
            if named:
                step = max(named, key=lambda s: len(s.name))
                answer = " ".join(words)[len(step.name):].strip()
        if step is None:
            listed = "; ".join(f"{n}. {s.name}" for n, s in enumerate(open_steps, 1))
            print(f"  {texts.CHAT_WHICH_STEP.format(steps=listed or texts.CHAT_NO_OPEN_STEPS)}")
            return
        outcome = ""
        if step.outcome is not None:
            while True:
                outcome = OUTCOME_ANSWERS.get(" ".join(answer.lower().split()), "")
                if outcome:
                    break
                answer = self.ask(texts.CHAT_STEP_OUTCOME_PROMPT)
        self.run_command(CompleteStep(actor=self.me, case_id=case.id,
                                      expected_version=case.version, step_id=step.id,
                                      outcome=outcome))

    def handle_line(self, line: str) -> bool:
        """Run one typed line; False when the session should end (quit, or input ran out)."""
        try:
            return self._handle_line(line)
        except EOFError:
            print("\n  Input ended; nothing half-finished was sent.")
            return False

    def _handle_line(self, line: str) -> bool:
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        if not words:
            return True
        verb, args = words[0].lower(), words[1:]
        if verb in {"quit", "exit"}:
            return False
        if verb == "help":
            print(HELP)
        elif verb == "as" and args:
            self.become(args[0])
        elif verb == "wait" and args:
            self.wait(args[0])
        elif verb == "status":
            self.status()
        elif verb == "escalate" and not args:
            self.escalate_new()
        elif args:
            self.case_verb(verb, args)
        else:
            print("  I don't know that. Type `help`.")
        self.pump()
        return True

    def become(self, email: str) -> None:
        """Play someone else, if the directory knows them: a stranger would only meet refusals,
        and the chat would seem to be broken rather than the address wrong."""
        email = email.lower()
        if self.app.store.person(email) is None:
            print(f"  {NOT_IN_DIRECTORY.format(email=email)} You are still {self.me}.")
            return
        self.me = email
        print(f"  You are now {self.me}.")

    def wait(self, amount: str) -> None:
        match = re.fullmatch(r"(\d+)([hd])", amount)
        if not match:
            print("  Say how long, e.g. `wait 2h` or `wait 1d`.")
            return
        unit = timedelta(hours=1) if match.group(2) == "h" else timedelta(days=1)
        target = self.clock.now() + int(match.group(1)) * unit
        # Walk the time, stopping at each deadline as it falls due and at every hour between,
        # so a long wait plays out as the days would: each lapse at its own moment, and each
        # message delivered when it would have been (not everything at once at the end).
        while self.clock.now() < target:
            hour_later = min(target, self.clock.now() + timedelta(hours=1))
            due = self.app.store.next_due()
            while due is not None and self.clock.now() < due <= hour_later:
                self.clock.set(due)
                self.pump()
                due = self.app.store.next_due()
            self.clock.set(hour_later)
            self.pump()
        zone = self.zone()
        print(f"  It is now {self.clock.now().astimezone(zone):%a %d %b %Y %H:%M} ({zone}).")

    def zone(self) -> ZoneInfo:
        """The partnership's own time zone, as its people read the time (not UTC)."""
        person = self.app.store.person(self.me)
        if person is None:
            return ZoneInfo("UTC")
        partnership = self.app.config.partnership(person.partnership_id)
        policy = self.app.policies.get(partnership.policy)
        return self.app.engine.calendar_for(partnership, policy).zone

    def case_verb(self, verb: str, args: list[str]) -> None:
        case = self.case(args[0])
        if case is None:
            return
        base = {"actor": self.me, "case_id": case.id, "expected_version": case.version}
        if verb == "show":
            policy = self.app.engine.policy_for(case)
            calendar = self.app.engine.calendar_for(
                self.app.engine.partnership(case.partnership_id), policy
            )
            print(
                render_card(
                    party_card(
                        case,
                        policy,
                        calendar,
                        case.reference,
                        self.app.engine.agency_names,
                        with_actions=True,
                    )
                )
            )
        elif verb == "history":
            # the same lines, with names, as `history REF` in Teams
            print(render_card(ConversationService(self.app.engine, self.app.store).history_card(
                case)))
        elif verb == "ack":
            self.run_command(Acknowledge(**base))
        elif verb in {purpose.value for purpose in record_dialog.Purpose}:
            self.run_dialog(case, record_dialog.Purpose(verb))
        elif verb == "done" and len(args) > 1 and _ACTION_ID.match(args[1]):
            self.run_command(
                UpdateAction(actor=self.me, case_id=case.id, action_id=args[1], done=True)
            )
        elif verb == "notyet" and len(args) > 1:
            # whatever is missing (the date, the reason) is named by the engine's own answer
            self.run_command(
                UpdateAction(
                    actor=self.me, case_id=case.id, action_id=args[1], done=False,
                    new_due=args[2] if len(args) > 2 else "", reason=" ".join(args[3:]),
                )
            )
        elif verb == "done" and len(args) > 1:
            self.complete_step(case, args[1:])
        elif verb == "add" and len(args) > 1:
            self.run_command(AddParticipant(**base, email=args[1]))
        else:
            print("  I don't know that. Type `help`.")


def run_chat(as_email: str, config: str | None, database: str | None) -> int:
    """The chat keeps its own database (var/chat.sqlite3 unless --db names one), so its
    simulated clock never moves a running server's cases; and its clock, so a second session
    carries on where the first left off instead of going back to the real time."""
    settings = Settings.from_env(config, database or str(CHAT_DATABASE))
    path = settings.database_path
    server = served_by(path)
    if server is not None:
        print(SERVER_USES_IT.format(path=path, pid=server), file=sys.stderr)
    clock = SimulatedClock(_saved_clock(path) or datetime.now().astimezone())
    app = bootstrap(settings.config_path, path, clock, settings.extra_packs)
    if app.store.person(as_email.lower()) is None:
        app.close()
        print(
            NOT_IN_DIRECTORY_AT_START.format(email=as_email, config=settings.config_path),
            file=sys.stderr,
        )
        return 1

    def ask(prompt: str) -> str:
        return input(prompt)

    chat = Chat(app, clock, as_email, ask)
    print(f"You are {as_email}. Type `help` for commands. The clock is simulated: `wait 1d`.")
    try:
        chat.pump()
        while True:
            try:
                line = input(f"{chat.me}> ")
            except EOFError:
                break
            if not chat.handle_line(line):
                break
    finally:
        _save_clock(path, clock.now())
        app.close()
    return 0


def _clock_file(database: Path) -> Path:
    return database.with_name(database.name + ".clock")


def _saved_clock(database: Path) -> datetime | None:
    """Where the last session's simulated clock stopped, if later than now."""
    try:
        saved = datetime.fromisoformat(_clock_file(database).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    if saved.tzinfo is None:
        return None
    return saved if saved > datetime.now().astimezone() else None


def _save_clock(database: Path, moment: datetime) -> None:
    with contextlib.suppress(OSError):
        _clock_file(database).write_text(moment.isoformat(), encoding="utf-8")
