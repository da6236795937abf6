"""`escalation-bot chat --as EMAIL`: play any role by hand in a terminal, against the SQLite store.

A thin driver of dialogs/conversation.py: every line goes to ``ConversationService.on_text``, as
a Teams or Slack user's typed message does, so the terminal asks the same questions and knows the
same commands. Only what a terminal alone needs is here: ``as EMAIL`` to play someone else, a
simulated clock (``wait 1d``) to watch a deadline lapse without waiting for it, and each person's
inbox of delivered messages, shown when they are that person.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from adapters.console.render import render_card
from bot.bootstrap import App, bootstrap
from bot.serving_mark import served_by
from bot.settings import Settings
from dialogs import texts
from dialogs.clock import SimulatedClock
from dialogs.conversation import ConversationService, Reply
from dialogs.notifications import Notification, RecipientKind
from scheduler.runner import deliver_due_notifications, fire_due_deadlines

CHAT_DATABASE = Path(__file__).resolve().parents[1] / "var" / "chat.sqlite3"

Ask = Callable[[str], str]


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
    """``ask`` reads the answer to a question the service asked (``input`` in the terminal); a
    conversation runs to its end within the line that started it, as it always has here."""

    def __init__(self, app: App, clock: SimulatedClock, me: str, ask: Ask) -> None:
        self.app, self.clock, self.me, self.ask = app, clock, me.lower(), ask
        self.inbox = Inbox()
        self.service = ConversationService(
            app.engine, app.store, today=lambda: clock.now().date(), platform="console"
        )

    def pump(self) -> None:
        fire_due_deadlines(self.app.store, self.app.engine, self.clock, "chat")
        asyncio.run(deliver_due_notifications(self.app.store, self.inbox, self.clock))
        for note in self.inbox.take(self.me):
            if note.urgent:
                print(f"  {texts.CHAT_URGENT}")
            print(render_card(note.card))

    def handle_line(self, line: str) -> bool:
        """Run one typed line; False when the session should end (quit, or input ran out)."""
        try:
            return self._handle_line(line)
        except EOFError:
            self.service.forget(self.me)
            print(f"\n  {texts.CHAT_INPUT_ENDED}")
            return False

    def _handle_line(self, line: str) -> bool:
        words = line.split()
        if not words:
            return True
        verb, args = words[0].lower(), words[1:]
        if verb in {"quit", "exit"}:
            return False
        if verb == "as":
            # on its own it is the terminal's, not a line for the bot ("I didn't catch that")
            if args:
                self.become(args[0])
            else:
                print(f"  {texts.CHAT_AS_WHO}")
        elif verb == "wait":
            self.wait(args[0] if args else "")
        else:
            self.converse(line)
            if verb.lstrip("/") == "help" and not args:
                print(texts.CHAT_HELP)
        self.pump()
        return True

    def converse(self, line: str) -> None:
        """Pass the line to the conversation service; while it asks, ask the person."""
        replies = self.service.on_text(self.me, line)
        while self.service.asking(self.me) and replies and replies[-1].text:
            *told, question = replies
            self.show(told)
            if question.card is not None:
                self.show([Reply(card=question.card)])
            text = question.text.removeprefix(texts.CARD_OR_TYPE + "\n")  # no card to fill
            replies = self.service.on_text(self.me, self.ask(texts.CHAT_PROMPT.format(
                question=text)))
        self.show(replies)

    def show(self, replies: list[Reply]) -> None:
        for reply in replies:
            card = reply.card
            if card is not None and reply.text and card.case_id:
                # what a command did, with the case card redrawn for a chat that replaces it:
                # the terminal says the line (the parties' messages bring the card, and
                # `show REF` draws it again)
                card = None
            if card is not None and card.inputs:
                # a form to fill in on a card: the terminal asks its questions one at a time
                # instead, so only what it says (the immediate-risk guidance) is shown
                card = card.model_copy(update={"inputs": [], "actions": []})
            if reply.text:
                print("\n".join(f"  {line}" for line in reply.text.splitlines()))
            if card is not None:
                print(render_card(card))

    def become(self, email: str) -> None:
        """Play someone else, if the directory knows them: a stranger would only meet refusals,
        and the chat would seem to be broken rather than the address wrong."""
        email = email.lower()
        if self.app.store.person(email) is None:
            print(f"  {texts.CHAT_NOT_IN_DIRECTORY.format(email=email)}"
                  f" {texts.CHAT_STILL.format(email=self.me)}")
            return
        self.me = email
        print(f"  {texts.CHAT_NOW.format(email=self.me)}")

    def wait(self, amount: str) -> None:
        match = re.fullmatch(r"(\d+)([hd])", amount)
        if not match:
            print(f"  {texts.CHAT_HOW_LONG}")
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
        now = f"{self.clock.now().astimezone(zone):%a %d %b %Y %H:%M}"
        print(f"  {texts.CHAT_TIME.format(now=now, zone=zone)}")

    def zone(self) -> ZoneInfo:
        """The partnership's own time zone, as its people read the time (not UTC)."""
        person = self.app.store.person(self.me)
        if person is None:
            return ZoneInfo("UTC")
        partnership = self.app.config.partnership(person.partnership_id)
        policy = self.app.policies.get(partnership.policy)
        return self.app.engine.calendar_for(partnership, policy).zone


def run_chat(as_email: str, config: str | None, database: str | None) -> int:
    """The chat keeps its own database (var/chat.sqlite3 unless --db names one), so its
    simulated clock never moves a running server's cases; and its clock, so a second session
    carries on where the first left off instead of going back to the real time."""
    settings = Settings.from_env(config, database or str(CHAT_DATABASE))
    path = settings.database_path
    server = served_by(path)
    if server is not None:
        print(texts.CHAT_SERVER_USES_IT.format(path=path, pid=server), file=sys.stderr)
    clock = SimulatedClock(_saved_clock(path) or datetime.now().astimezone())
    app = bootstrap(settings.config_path, path, clock, settings.extra_packs)
    if app.store.person(as_email.lower()) is None:
        app.close()
        refused = texts.CHAT_NOT_IN_DIRECTORY_AT_START
        print(refused.format(email=as_email, config=settings.config_path), file=sys.stderr)
        return 1

    def ask(prompt: str) -> str:
        return input(prompt)

    chat = Chat(app, clock, as_email, ask)
    chat.service.forget(chat.me)  # a question left by a session that was killed is not asked
    print(texts.CHAT_WELCOME.format(email=as_email))
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
