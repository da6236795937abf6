"""The hash chains that make a case's history tamper-evident, and the check that proves them.

Each case keeps two append-only logs: its events (what was done) and its reads (who looked). Every
entry carries in ``prev`` the SHA-256 of its predecessor in the same log, serialised canonically
*with* that predecessor's own ``prev``, so changing, removing or reordering any entry breaks every
link after it. The first event's ``prev`` is the hash of the pack version the case was raised
under (the stored policy snapshot), so the rules a case ran by are pinned too; the first read's
is a fixed value derived from the case id. Each store also keeps a head per log (entry count and
the last entry's hash), so an entry cut off the end is noticed as well.

The hashes are computed over the JSON as stored, parsed as plain JSON rather than through the
models, so a later field added to ``Event`` with a default never changes an old event's hash,
and a field planted in the database is caught like any other change. The stores call
``chain_events`` / ``chain_read`` inside their atomic writes; ``verify_trail`` is what
``escalation-bot audit verify`` runs over every case.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from dialogs.events import Event

# The same person reading the same case the same way within this window is recorded once: a card
# redrawn every few seconds would otherwise bury the history in reads.
READ_WINDOW = timedelta(minutes=10)


class ReadKind(StrEnum):
    SHOW = "show"  # `show REF`: the case card with the child's details
    HISTORY = "history"  # `history REF`: the events, by name
    CARD = "card"  # a card's Open button (REFRESH_VERB) drew the case card again
    DOCUMENT = "document"  # a form document with the child's details was produced


class CaseRead(BaseModel):
    """Someone saw a case's details. No child data: who, when, how and through what."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_id: str
    at: datetime
    reader: str
    kind: ReadKind
    platform: str = ""  # teams, slack, console, cli; empty where not known
    detail: str = ""  # e.g. the document's form and format
    prev: str = ""


@dataclass(frozen=True)
class ChainHead:
    """What a store remembers of a log beside the log itself: its length and its last hash."""

    count: int
    head: str


@dataclass(frozen=True)
class AuditTrail:
    """One case's logs exactly as stored, for verification: raw JSON text, never re-serialised."""

    case_id: str
    reference: str
    policy_id: str
    policy_version: str
    pack: str | None  # the policy snapshot's stored JSON
    events: list[str]
    reads: list[str]
    event_head: ChainHead | None
    read_head: ChainHead | None


@dataclass(frozen=True)
class Break:
    """The first place a case's history does not hold together; ``what`` says how."""

    reference: str
    log: str  # "events" or "reads"
    number: int  # 1-based position in that log; 0 when the log as a whole is wrong
    entry_type: str
    at: str
    what: str


def canonical(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the same value always gives the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


def entry_hash(stored_json: str) -> str:
    return digest(json.loads(stored_json))


def pack_hash(snapshot_json: str | None, policy_id: str, version: str) -> str:
    """The genesis of a case's events. A case whose pack snapshot is missing gets a marker value,
    so its chain can still be written, and verification reports the snapshot as missing."""
    if snapshot_json is None:
        return digest({"missing_pack": policy_id, "version": version})
    return digest(json.loads(snapshot_json))


def read_genesis(case_id: str) -> str:
    return digest({"read_log": case_id})


def chain_events(events: Sequence[Event], prev: str) -> tuple[list[str], str]:
    """The events as JSON to store, each linked to the one before; and the new head hash."""
    stored: list[str] = []
    for event in events:
        text = event.model_copy(update={"prev": prev}).model_dump_json()
        stored.append(text)
        prev = entry_hash(text)
    return stored, prev


def chain_read(read: CaseRead, prev: str) -> tuple[str, str]:
    text = read.model_copy(update={"prev": prev}).model_dump_json()
    return text, entry_hash(text)


def chain_stored(rows: Sequence[str], prev: str) -> tuple[list[str], str]:
    """Link entries stored before chaining existed (the one-off migration): each row keeps every
    field it had and gains ``prev``."""
    out: list[str] = []
    for row in rows:
        value = json.loads(row)
        value["prev"] = prev
        text = json.dumps(value, ensure_ascii=False)
        out.append(text)
        prev = entry_hash(text)
    return out, prev


def verify_trail(trail: AuditTrail) -> Break | None:
    """The first break in the case's events, then in its reads; None when both hold."""
    genesis = pack_hash(trail.pack, trail.policy_id, trail.policy_version)
    found = _verify_log(trail, "events", trail.events, genesis, trail.event_head, Event)
    if found is None and trail.pack is None:
        found = Break(trail.reference, "events", 0, "", "",
                      f"pack {trail.policy_id} version {trail.policy_version} is missing from"
                      " the store, so the rules the case ran by cannot be checked")
    if found is not None:
        return found
    return _verify_log(
        trail, "reads", trail.reads, read_genesis(trail.case_id), trail.read_head, CaseRead
    )


def _verify_log(
    trail: AuditTrail, log: str, rows: Sequence[str], genesis: str, head: ChainHead | None,
    model: type[BaseModel],
) -> Break | None:
    values: list[dict[str, Any]] = []
    for number, row in enumerate(rows, start=1):
        try:
            value = json.loads(row)
            if not isinstance(value, dict):
                raise ValueError("not a JSON object")
            model.model_validate(value)
        except (ValueError, ValidationError) as exc:
            return _at(trail, log, number, {},
                       f"changed content: the stored entry is not a valid {log[:-1]}"
                       f" ({_first_line(exc)})")
        values.append(value)
    hashes = [entry_hash(row) for row in rows]
    position = {h: i for i, h in enumerate(hashes, start=1)}
    prev = genesis
    for number, value in enumerate(values, start=1):
        claimed = value.get("prev", "")
        if claimed != prev:
            count = head.count if head is not None else len(rows)
            return _link_break(trail, log, number, values, claimed, genesis, position, count)
        prev = hashes[number - 1]
    if head is None:
        if rows:
            return _at(trail, log, 0, {}, f"the store has no record of this case's {log}"
                       " chain: they were written outside the bot, or never migrated")
        return None
    if head.count > len(rows) or (head.count == len(rows) and head.head != prev and rows
                                  and head.head not in position):
        if head.count > len(rows):
            what = (f"missing {log[:-1]}: the last ones were removed"
                    f" ({_recorded(head.count, len(rows))})")
        else:
            what = "changed content: the last entry is not the one the store recorded"
        return _at(trail, log, len(rows), values[-1] if values else {}, what)
    if head.count != len(rows) or head.head != prev:
        return _at(trail, log, len(rows), values[-1] if values else {},
                   f"{log} added or reordered outside the bot: the store recorded"
                   f" {head.count} ending elsewhere, {len(rows)} are there")
    return None


def _link_break(
    trail: AuditTrail, log: str, number: int, values: list[dict[str, Any]], claimed: object,
    genesis: str, position: dict[str, int], head_count: int,
) -> Break:
    """Entry ``number`` does not link to the one before it: say the likeliest reason."""
    here = values[number - 1]
    short = head_count > len(values)
    if not claimed:
        return _at(trail, log, number, here, "changed content: it carries no hash (written"
                   " outside the bot, or its hash was removed)")
    if claimed == genesis:
        return _at(trail, log, number, here, "reordered: it claims to be the first entry")
    found = position.get(str(claimed))
    if found is not None and found > number - 1:
        return _at(trail, log, number, here,
                   f"reordered: it was written after entry {found}, which now comes later")
    if found is not None:
        return _at(trail, log, number, here,
                   f"added outside the bot: entries {found + 1} to {number - 1} were not"
                   " written by the bot")
    if short:
        return _at(trail, log, number, here,
                   f"missing {log[:-1]}: what came just before this one was removed"
                   f" ({_recorded(head_count, len(values))})")
    if number == 1:
        if log == "events":
            return _at(trail, log, 1, here, "wrong pack hash: the first event does not link to"
                       " the pack version stored for the case (the snapshot was changed)")
        return _at(trail, log, 1, here, "changed content: the first read is not what was"
                   " recorded")
    return _at(trail, log, number - 1, values[number - 2],
               f"changed content: it is not what was recorded (entry {number} holds the hash"
               " of something else)")


def _recorded(count: int, remain: int) -> str:
    return f"the store recorded {count}, {remain} remain"


def _at(trail: AuditTrail, log: str, number: int, value: dict[str, Any], what: str) -> Break:
    kind = str(value.get("type") or value.get("kind") or "")
    return Break(trail.reference, log, number, kind, str(value.get("at", "")), what)


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0]
