"""A case's history as people read it in a chat: when, who (by name, never an email), what.

Events are written for auditors and keep email addresses in their summaries ("handed over to
x@agency"); on a card every address the directory or the case knows is shown as the person's
name instead. Only the latest events fit on a card (Teams refuses cards over ~28 KB); a line says
how many earlier ones there are and where the whole history is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from dialogs import texts
from dialogs.case import Case
from dialogs.directory import Person
from dialogs.events import Event
from policy.calendar import WorkingCalendar

# A history card shows this many events, the latest; 30 lines of a few hundred characters each
# keep the card far inside Teams' size limit.
HISTORY_LIMIT = 30
# the actors of commands no person issued (dialogs.commands: DeadlineLapsed, RecordDeliveryFailure)
# and of the retention pass (dialogs.retention.RETENTION_ACTOR)
BOT_ACTORS = frozenset({"scheduler", "delivery", "retention"})
# longer lines (a delivery failure's reason) are cut: the whole is in the stored history
MAX_LINE_CHARS = 400

_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def known_people(
    case: Case, people: Mapping[str, Person], agency_names: Mapping[str, str]
) -> dict[str, tuple[str, str]]:
    """Email -> (name, agency name) for everyone the directory or the case knows; the case's
    own participants count too, so someone who has since left the directory keeps a name."""
    known = {
        p.email.lower(): (p.name, agency_names.get(p.agency, p.agency)) for p in case.participants
    }
    known.update({email.lower(): (p.name, p.agency_name) for email, p in people.items()})
    return known


def _who(actor: str, known: Mapping[str, tuple[str, str]]) -> str:
    if actor in BOT_ACTORS:
        return texts.HISTORY_THE_BOT
    found = known.get(actor.lower())
    if found is None:
        return texts.HISTORY_UNKNOWN_PERSON
    name, agency = found
    return texts.HISTORY_WHO.format(name=name, agency=agency)


def named(summary: str, known: Mapping[str, tuple[str, str]]) -> str:
    """The summary with each known email address replaced by the person's name."""

    def name_of(match: re.Match[str]) -> str:
        found = known.get(match.group(0).lower())
        return found[0] if found is not None else match.group(0)

    return _EMAIL.sub(name_of, summary)


def history_line(
    event: Event, known: Mapping[str, tuple[str, str]], calendar: WorkingCalendar
) -> str:
    line = texts.HISTORY_LINE.format(
        when=calendar.local(event.at).strftime("%d/%m/%Y %H:%M %Z"),
        who=_who(event.actor, known),
        what=named(event.summary, known),
    )
    return line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 1].rstrip() + "…"


def history_lines(
    events: list[Event],
    known: Mapping[str, tuple[str, str]],
    calendar: WorkingCalendar,
    limit: int = HISTORY_LIMIT,
) -> tuple[list[str], str]:
    """The latest ``limit`` events as lines, oldest first, and a note on any left out."""
    if not events:
        return [], texts.HISTORY_EMPTY
    shown = events[-limit:]
    earlier = len(events) - len(shown)
    note = ""
    if earlier == 1:
        note = texts.HISTORY_EARLIER_ONE.format(shown=len(shown))
    elif earlier > 1:
        note = texts.HISTORY_EARLIER.format(count=earlier, shown=len(shown))
    return [history_line(e, known, calendar) for e in shown], note
