"""The behaviour every Store adapter must share, written once and run against each of them.

A test module subclasses ``StoreContract`` and provides a ``store`` fixture yielding a fresh, empty
store; nothing here knows which database is underneath. Time never comes from a clock: every
instant is passed in, so lease expiry and retries are tested by passing a later ``now``.

Cases are compared with ``==`` after a round trip. Pydantic compares datetimes by instant, so a
store may normalise zones (to UTC, say) and still pass; what it may not do is drop the zone or
lose microseconds.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import pytest

from dialogs.audit import CaseRead, ReadKind, verify_trail
from dialogs.cards import Card
from dialogs.case import (
    Case,
    CaseStatus,
    ChildDetails,
    EntryKind,
    Participant,
    RecordEntry,
    Side,
    StepState,
)
from dialogs.directory import Person
from dialogs.events import Event, EventType
from dialogs.notifications import Notification, Recipient
from dialogs.ports import CaseSave, ClaimedDeadline, Deadline, StaleVersion, Store
from policy.loader import PolicyRegistry

LONDON = ZoneInfo("Europe/London")
T0 = datetime(2024, 5, 1, 9, 30, 15, 123456, tzinfo=LONDON)
RAISER = "alice@school.example"
COUNTERPART = "bob@health.example"


# ---- factories: real models, small enough to read at a glance --------------------------------
def make_case(
    case_id: str = "case-1", reference: str = "P1-0001", partnership: str = "p1",
    version: int = 1, status: CaseStatus = CaseStatus.OPEN,
    participants: tuple[str, ...] = (RAISER, COUNTERPART),
) -> Case:
    people = [
        Participant(email=email, name=email.split("@")[0].title(), agency=f"agency-{i}",
                    role="practitioner", side=Side.RAISING if i == 0 else Side.RECEIVING, stage=1)
        for i, email in enumerate(participants)
    ]
    return Case(
        id=case_id, reference=reference, partnership_id=partnership, policy_id="nsscp",
        policy_version="1", version=version, status=status, raised_at=T0,
        raised_by=participants[0], raising_agency="agency-0", receiving_agency="agency-1",
        participants=people, child=ChildDetails(name="Sam", date_of_birth=date(2015, 3, 2)),
        summary="Disagree about the plan", impact_on_child="Delay", reason="Threshold",
        outcome_sought="Assessment", immediate_risk=False, answers={"extra": "yes"}, stage=1,
        stage_started_at=T0, stage_due_at=T0 + timedelta(days=5),
        steps=[StepState(id="inform", started_at=T0, due_at=T0 + timedelta(days=1))],
        record=[RecordEntry(id="1.1", at=T0, by=participants[0], by_name="Alice", stage=1,
                            kind=EntryKind.DISCUSSION, text="talked")],
    )


def make_event(case_id: str = "case-1", summary: str = "raised", at: datetime = T0) -> Event:
    return Event(case_id=case_id, at=at, type=EventType.CONCERN_RAISED, actor=RAISER, stage=1,
                 summary=summary, data={"n": summary})


def make_notification(
    key: str = "n-1", case_id: str = "case-1", deliver_at: datetime = T0, title: str = "Hello"
) -> Notification:
    return Notification(key=key, case_id=case_id, recipient=Recipient.person(COUNTERPART),
                        card=Card(title=title, sections=[("Do", ["talk"])]),
                        deliver_at=deliver_at, kind="raised")


def make_deadline(
    key: str = "d-1", case_id: str = "case-1", due_at: datetime = T0, kind: str = "stage"
) -> Deadline:
    return Deadline(key=key, case_id=case_id, kind=kind, stage=1, step_id=None, due_at=due_at)


def make_person(email: str = RAISER, partnership: str = "p1", name: str = "Alice") -> Person:
    return Person(email=email, name=name, agency="school", agency_name="The School",
                  partnership_id=partnership, role="practitioner")


def bumped(case: Case, **changes: object) -> Case:
    return case.model_copy(update={"version": case.version + 1, **changes})


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def unlinked(events: list[Event]) -> list[Event]:
    """Events as the engine handed them over, before the store linked them (``prev``)."""
    return [e.model_copy(update={"prev": ""}) for e in events]


class Tamper(Protocol):
    """Changes made behind the store's back, straight in the database, as an intruder or a
    careless operator would: each store's test module provides one as the ``tamper`` fixture.
    Positions count from 0 in the order of writing."""

    def events(self, case_id: str) -> list[str]: ...

    def rewrite_event(self, case_id: str, index: int, stored_json: str) -> None: ...

    def delete_event(self, case_id: str, index: int) -> None: ...

    def swap_events(self, case_id: str, first: int, second: int) -> None: ...

    def rewrite_read(self, case_id: str, index: int, stored_json: str) -> None: ...

    def rewrite_pack(self, policy_id: str, version: str, stored_json: str) -> None: ...


def raised_with_pack(store: Store, events: int = 4) -> Case:
    """A case raised under a stored pack, with ``events`` events over several writes."""
    policy = PolicyRegistry.bundled().get("nsscp")
    store.save_policy_snapshot(policy)
    case = make_case().model_copy(update={"policy_version": policy.version})
    store.create_case(case, [make_event(summary="e1")], [], [])
    for n in range(2, events + 1):
        case = bumped(case)
        store.save_case(case, n - 1, [make_event(summary=f"e{n}", at=at(n))], [], [])
    return case


class StoreContract:
    """Subclass and provide a ``store`` fixture yielding a fresh, empty store, and a ``tamper``
    fixture (``Tamper``) on the same database."""

    # ---- the audit trail: hash chains and reads ------------------------------------------------
    def _verify(self, store: Store, case_id: str = "case-1") -> str:
        trail = store.audit_trail(case_id)
        assert trail is not None
        found = verify_trail(trail)
        return "" if found is None else f"{found.number} {found.entry_type} {found.what}"

    def test_a_clean_history_verifies_and_each_event_links_to_the_one_before(
        self, store: Store
    ) -> None:
        raised_with_pack(store)
        events = store.history("case-1")
        assert [e.summary for e in events] == ["e1", "e2", "e3", "e4"]
        assert len({e.prev for e in events}) == 4 and all(len(e.prev) == 64 for e in events)
        assert self._verify(store) == ""
        trail = store.audit_trail("case-1")
        assert trail is not None and trail.event_head is not None
        assert trail.event_head.count == 4

    def test_changed_event_text_is_detected(self, store: Store, tamper: Tamper) -> None:
        raised_with_pack(store)
        second = tamper.events("case-1")[1]
        tamper.rewrite_event("case-1", 1, second.replace('"e2"', '"nothing happened"'))
        assert self._verify(store).startswith("2 concern_raised changed content")

    def test_changed_last_event_is_detected(self, store: Store, tamper: Tamper) -> None:
        raised_with_pack(store)
        last = tamper.events("case-1")[3]
        tamper.rewrite_event("case-1", 3, last.replace('"e4"', '"e5"'))
        assert self._verify(store).startswith("4 concern_raised changed content")

    def test_a_deleted_event_is_detected(self, store: Store, tamper: Tamper) -> None:
        raised_with_pack(store)
        tamper.delete_event("case-1", 1)
        assert self._verify(store) == (
            "2 concern_raised missing event: what came just before this one was removed"
            " (the store recorded 4, 3 remain)"
        )

    def test_a_deleted_last_event_is_detected(self, store: Store, tamper: Tamper) -> None:
        raised_with_pack(store)
        tamper.delete_event("case-1", 3)
        assert self._verify(store) == (
            "3 concern_raised missing event: the last ones were removed"
            " (the store recorded 4, 3 remain)"
        )

    def test_reordered_events_are_detected(self, store: Store, tamper: Tamper) -> None:
        raised_with_pack(store)
        tamper.swap_events("case-1", 1, 2)
        assert self._verify(store).startswith("2 concern_raised reordered")

    def test_a_changed_pack_is_a_wrong_pack_hash(self, store: Store, tamper: Tamper) -> None:
        case = raised_with_pack(store)
        policy = PolicyRegistry.bundled().get("nsscp")
        edited = policy.model_copy(update={"name": policy.name + " (edited)"})
        tamper.rewrite_pack(case.policy_id, case.policy_version, edited.model_dump_json())
        assert self._verify(store).startswith("1 concern_raised wrong pack hash")

    def test_a_missing_pack_is_reported(self, store: Store) -> None:
        store.create_case(make_case().model_copy(update={"policy_version": "nope"}),
                          [make_event()], [], [])
        assert "pack nsscp version nope is missing" in self._verify(store)

    def test_reads_are_chained_and_kept_apart_from_the_case(
        self, store: Store, tamper: Tamper
    ) -> None:
        case = raised_with_pack(store, events=1)
        read = CaseRead(case_id="case-1", at=at(1), reader=RAISER, kind=ReadKind.SHOW,
                        platform="teams")
        assert store.record_read(read, 600) is True
        assert store.record_read(read.model_copy(update={"at": at(5)}), 600) is False
        assert store.record_read(read.model_copy(update={"kind": ReadKind.HISTORY}), 600)
        assert store.record_read(read.model_copy(update={"at": at(11)}), 600) is True
        assert store.record_read(read.model_copy(update={"reader": COUNTERPART}), 600)
        kept = store.reads("case-1")
        assert [(r.reader, r.kind, r.at) for r in kept] == [
            (RAISER, ReadKind.SHOW, at(1)), (RAISER, ReadKind.HISTORY, at(1)),
            (RAISER, ReadKind.SHOW, at(11)), (COUNTERPART, ReadKind.SHOW, at(1)),
        ]
        assert store.get_case("case-1") == case  # the version did not move
        assert self._verify(store) == ""
        row = tamper.events("case-1")  # the events are untouched by reads
        assert len(row) == 1
        trail = store.audit_trail("case-1")
        assert trail is not None
        tamper.rewrite_read("case-1", 1, trail.reads[1].replace(RAISER, "someone@else.example"))
        assert self._verify(store).startswith("2 history changed content")

    def test_case_ids_list_every_case_open_or_closed(self, store: Store) -> None:
        store.create_case(make_case(), [], [], [])
        store.create_case(make_case("case-2", "P1-0002", status=CaseStatus.RESOLVED), [], [], [])
        store.create_case(make_case("case-3", "P2-0001", partnership="p2"), [], [], [])
        assert store.case_ids() == ["case-1", "case-2", "case-3"]
        assert store.case_ids("p2") == ["case-3"]
        assert store.audit_trail("nope") is None

    # ---- cases -----------------------------------------------------------------------------
    def test_create_then_get_round_trips_the_whole_case(self, store: Store) -> None:
        case = make_case()
        store.create_case(case, [make_event()], [], [])
        assert store.get_case("case-1") == case
        assert store.get_case("nope") is None

    def test_case_is_found_by_reference(self, store: Store) -> None:
        store.create_case(make_case(), [], [], [])
        found = store.find_case_by_reference("P1-0001")
        assert found is not None and found.id == "case-1"
        assert store.find_case_by_reference("P1-0002") is None

    def test_create_writes_events_outbox_and_deadlines(self, store: Store) -> None:
        store.create_case(make_case(), [make_event()], [make_notification()], [make_deadline()])
        assert unlinked(store.history("case-1")) == [make_event()]
        assert store.notification("n-1") == (make_notification(), "pending")
        assert store.deadlines_for_case("case-1") == [make_deadline()]

    def test_creating_an_existing_case_fails_and_writes_nothing(self, store: Store) -> None:
        store.create_case(make_case(), [make_event()], [], [])
        with pytest.raises(ValueError):
            store.create_case(make_case(), [make_event("case-1", "again")],
                              [make_notification()], [make_deadline()])
        assert unlinked(store.history("case-1")) == [make_event()]
        assert store.notification("n-1") is None
        assert store.deadlines_for_case("case-1") == []

    def test_save_replaces_the_case_and_appends(self, store: Store) -> None:
        case = make_case()
        store.create_case(case, [make_event()], [], [])
        saved = bumped(case, stage=2, summary="changed")
        store.save_case(saved, 1, [make_event(summary="escalated")], [], [])
        assert store.get_case("case-1") == saved
        assert [e.summary for e in store.history("case-1")] == ["raised", "escalated"]

    def test_stale_save_raises_and_writes_nothing(self, store: Store) -> None:
        case = make_case()
        store.create_case(case, [make_event()], [make_notification()], [make_deadline()])
        store.save_case(bumped(case, stage=2), 1, [], [], [make_deadline()])
        current = store.get_case("case-1")
        with pytest.raises(StaleVersion):
            store.save_case(bumped(case, stage=3), 1, [make_event(summary="late")],
                            [make_notification("n-2")], [make_deadline("d-2")])
        assert store.get_case("case-1") == current
        assert [e.summary for e in store.history("case-1")] == ["raised"]
        assert store.notification("n-2") is None
        assert store.deadlines_for_case("case-1") == [make_deadline()]

    def test_save_needs_the_next_version(self, store: Store) -> None:
        case = make_case()
        store.create_case(case, [], [], [])
        with pytest.raises(ValueError):
            store.save_case(case.model_copy(update={"version": 5}), 1, [], [], [])
        assert store.get_case("case-1") == case

    def test_saving_an_unknown_case_is_an_error_not_a_stale_version(self, store: Store) -> None:
        with pytest.raises(KeyError):
            store.save_case(make_case(version=2), 1, [], [], [])

    def test_items_of_another_case_are_refused(self, store: Store) -> None:
        with pytest.raises(ValueError):
            store.create_case(make_case(), [make_event("case-2")], [], [])
        assert store.get_case("case-1") is None

    def test_history_is_append_only_in_order(self, store: Store) -> None:
        case = make_case()
        store.create_case(case, [make_event(summary="a"), make_event(summary="b")], [], [])
        for n, summary in enumerate(["c", "d", "e"], start=1):
            case = bumped(case)
            # an earlier timestamp must not reorder history: order is the order of writing
            store.save_case(case, n, [make_event(summary=summary, at=at(-n))], [], [])
        assert [e.summary for e in store.history("case-1")] == ["a", "b", "c", "d", "e"]
        assert store.history("other") == []

    # ---- queries ---------------------------------------------------------------------------
    def test_cases_for_person_lists_active_parties_only(self, store: Store) -> None:
        store.create_case(make_case(), [], [], [])
        store.create_case(make_case("case-2", "P1-0002", participants=(COUNTERPART, "c@x.example")),
                          [], [], [])
        assert [c.id for c in store.cases_for_person(RAISER)] == ["case-1"]
        assert {c.id for c in store.cases_for_person(COUNTERPART.upper())} == {"case-1", "case-2"}
        assert store.cases_for_person("nobody@x.example") == []

    def test_cases_for_person_follows_participant_changes(self, store: Store) -> None:
        case = make_case()
        store.create_case(case, [], [], [])
        left = [p.model_copy(update={"active": p.email != RAISER}) for p in case.participants]
        joined = make_case(participants=("dee@x.example",)).participants
        store.save_case(bumped(case, participants=left + joined), 1, [], [], [])
        assert store.cases_for_person(RAISER) == []
        assert [c.id for c in store.cases_for_person("dee@x.example")] == ["case-1"]

    def test_cases_for_person_skips_closed_cases_unless_asked(self, store: Store) -> None:
        store.create_case(make_case(), [], [], [])
        store.create_case(make_case("case-2", "P1-0002", status=CaseStatus.RESOLVED), [], [], [])
        assert [c.id for c in store.cases_for_person(RAISER)] == ["case-1"]
        everything = store.cases_for_person(RAISER, include_closed=True)
        assert {c.id for c in everything} == {"case-1", "case-2"}

    def test_open_cases_by_partnership(self, store: Store) -> None:
        store.create_case(make_case("a", "P1-0001"), [], [], [])
        store.create_case(make_case("b", "P2-0001", partnership="p2"), [], [], [])
        store.create_case(make_case("c", "P1-0002", status=CaseStatus.WITHDRAWN), [], [], [])
        store.create_case(make_case("d", "P1-0003"), [], [], [])
        closing = make_case("d", "P1-0003")
        store.save_case(bumped(closing, status=CaseStatus.FINAL_DECISION), 1, [], [], [])
        assert {c.id for c in store.open_cases()} == {"a", "b"}
        assert [c.id for c in store.open_cases("p1")] == ["a"]
        assert store.open_cases("p3") == []

    def test_partnership_cases_lists_open_and_closed_oldest_first(self, store: Store) -> None:
        store.create_case(make_case("a", "P1-0001"), [], [], [])
        store.create_case(make_case("b", "P2-0001", partnership="p2"), [], [], [])
        store.create_case(make_case("c", "P1-0002", status=CaseStatus.WITHDRAWN), [], [], [])
        store.create_case(make_case("d", "P1-0003"), [], [], [])
        store.save_case(bumped(make_case("d", "P1-0003"), status=CaseStatus.RESOLVED), 1, [],
                        [], [])
        assert [c.id for c in store.partnership_cases("p1")] == ["a", "c", "d"]
        assert store.partnership_cases("p1")[2].status is CaseStatus.RESOLVED
        assert [c.id for c in store.partnership_cases("p2")] == ["b"]
        assert store.partnership_cases("p3") == []

    def test_sequences_count_per_name(self, store: Store) -> None:
        assert [store.next_sequence("p1") for _ in range(3)] == [1, 2, 3]
        assert store.next_sequence("p2") == 1
        assert store.next_sequence("p1") == 4

    # ---- policy snapshots ------------------------------------------------------------------
    def test_policy_snapshot_first_write_wins(self, store: Store) -> None:
        policy = PolicyRegistry.bundled().all()[0]
        assert store.policy_snapshot(policy.id, policy.version) is None
        store.save_policy_snapshot(policy)
        store.save_policy_snapshot(policy.model_copy(update={"name": "Edited in place"}))
        assert store.policy_snapshot(policy.id, policy.version) == policy
        assert store.policy_snapshot(policy.id, "not-a-version") is None

    def test_every_bundled_policy_survives_a_snapshot(self, store: Store) -> None:
        for policy in PolicyRegistry.bundled().all():
            store.save_policy_snapshot(policy)
            assert store.policy_snapshot(policy.id, policy.version) == policy

    # ---- directory -------------------------------------------------------------------------
    def test_people_upsert_and_lookup(self, store: Store) -> None:
        store.upsert_people([make_person(), make_person(COUNTERPART, name="Bob"),
                             make_person("z@x.example", partnership="p2")])
        assert store.person(RAISER.upper()) == make_person()
        assert store.person("nobody@x.example") is None
        store.upsert_people([make_person(name="Alice Renamed")])
        assert store.person(RAISER) == make_person(name="Alice Renamed")
        assert sorted(p.email for p in store.people("p1")) == [RAISER, COUNTERPART]
        assert [p.email for p in store.people("p2")] == ["z@x.example"]
        store.upsert_people([make_person("z@x.example", partnership="p1")])
        assert store.people("p2") == []

    def test_an_identity_binds_one_person_to_one_account_per_platform(self, store: Store) -> None:
        assert store.identity("teams", RAISER) is None
        store.save_identities("teams", {RAISER.upper(): "aad-1"})
        store.save_identities("slack", {RAISER: "U1"})
        assert store.identity("teams", RAISER) == "aad-1"
        assert store.email_for_identity("teams", "aad-1") == RAISER
        assert store.email_for_identity("slack", "aad-1") is None  # platforms are apart
        # a new account for the same person replaces the old one, both ways
        store.save_identities("teams", {RAISER: "aad-2"})
        assert store.identity("teams", RAISER) == "aad-2"
        assert store.email_for_identity("teams", "aad-1") is None
        # an account moving to someone else leaves the first person without one
        store.save_identities("teams", {COUNTERPART: "aad-2"})
        assert store.email_for_identity("teams", "aad-2") == COUNTERPART
        assert store.identity("teams", RAISER) is None
        assert store.identity("slack", RAISER) == "U1"
        store.save_identities("teams", {RAISER: "aad-3", "z@x.example": "aad-4"})
        assert store.email_for_identity("teams", "aad-4") == "z@x.example"
        assert store.identity("teams", RAISER) == "aad-3"

    def test_the_last_platform_used_is_the_latest(self, store: Store) -> None:
        assert store.last_platform(RAISER) is None
        store.save_last_platform(RAISER, "teams")
        store.save_last_platform(RAISER.upper(), "slack")
        assert store.last_platform(RAISER) == "slack"
        assert store.last_platform(COUNTERPART) is None

    def test_an_arrival_is_saved_together(self, store: Store) -> None:
        """save_arrival: the references, the binding and the last platform of one turn, the
        same as saving each alone."""
        store.save_arrival()  # nothing given, nothing written
        assert store.last_platform(RAISER) is None
        store.save_identities("teams", {COUNTERPART: "aad-1"})
        store.save_arrival(
            [("teams", "aad-1", '{"chat": 1}'), ("teams-tenant", "aad-1", "tenant-1")],
            identity=("teams", RAISER.upper(), "aad-1"),
            last_platform=(RAISER.upper(), "teams"),
        )
        assert store.conversation_reference("teams", "aad-1") == '{"chat": 1}'
        assert store.conversation_reference("teams-tenant", "aad-1") == "tenant-1"
        assert store.conversation_reference("slack", "aad-1") is None
        # the account moved to its new person, as save_identities moves it
        assert store.email_for_identity("teams", "aad-1") == RAISER
        assert store.identity("teams", COUNTERPART) is None
        assert store.last_platform(RAISER) == "teams"
        store.save_arrival([("teams", "aad-1", '{"chat": 2}')])  # the rest left as it was
        assert store.conversation_reference("teams", "aad-1") == '{"chat": 2}'
        assert store.identity("teams", RAISER) == "aad-1"
        store.save_arrival(last_platform=(RAISER, "slack"))
        assert store.last_platform(RAISER) == "slack"

    def test_notifications_without_a_case_are_delivered_once(self, store: Store) -> None:
        note = make_notification("directory:x", case_id="", title="Who asked")
        store.queue_notifications([note])
        store.queue_notifications([make_notification("directory:x", case_id="", title="Again")])
        (item,) = store.claim_notifications(at(1), "w", 60, 10)
        assert item.notification == note
        store.mark_sent(note.key, at(1))
        assert store.notification(note.key) == (note, "sent")
        assert store.due_notifications(at(2), 10) == []

    # ---- deadlines -------------------------------------------------------------------------
    def test_save_replaces_the_cases_deadlines(self, store: Store) -> None:
        case = make_case()
        store.create_case(case, [], [], [make_deadline("d-1"), make_deadline("d-2", due_at=at(1))])
        store.create_case(make_case("case-2", "P1-0002"), [], [],
                          [make_deadline("other", "case-2")])
        case = bumped(case)
        store.save_case(case, 1, [], [], [make_deadline("d-3", due_at=at(2))])
        assert [d.key for d in store.deadlines_for_case("case-1")] == ["d-3"]
        assert [d.key for d in store.deadlines_for_case("case-2")] == ["other"]
        store.save_case(bumped(case, status=CaseStatus.RESOLVED), 2, [], [], [])
        assert store.deadlines_for_case("case-1") == []

    def test_claim_due_takes_only_due_rows_in_order_up_to_limit(self, store: Store) -> None:
        rows = [make_deadline(f"d-{m}", due_at=at(m)) for m in (3, 1, 2, 10)]
        store.create_case(make_case(), [], [], rows)
        claims = store.claim_due(at(5), "w1", 60, limit=2)
        assert [c.deadline.key for c in claims] == ["d-1", "d-2"]
        assert all(c.worker == "w1" and c.lease_until == at(6) for c in claims)
        assert [c.deadline.key for c in store.claim_due(at(5), "w1", 60, limit=10)] == ["d-3"]
        assert store.claim_due(at(5), "w2", 60, limit=10) == []
        assert store.claim_due(at(0), "w2", 60, limit=10) == []

    def test_a_claimed_row_is_claimable_again_only_after_its_lease(self, store: Store) -> None:
        store.create_case(make_case(), [], [], [make_deadline()])
        (first,) = store.claim_due(at(0), "w1", 60, limit=5)
        assert store.claim_due(at(0.5), "w2", 60, limit=5) == []
        assert store.claim_due(at(1), "w2", 60, limit=5) == []  # lease still holds at its end
        (second,) = store.claim_due(at(1.5), "w2", 60, limit=5)
        assert second.deadline == first.deadline and second.worker == "w2"

    def test_completion_is_fenced_by_the_lease(self, store: Store) -> None:
        store.create_case(make_case(), [], [], [make_deadline()])
        (stale,) = store.claim_due(at(0), "w1", 60, limit=1)
        (fresh,) = store.claim_due(at(2), "w2", 60, limit=1)
        assert store.complete_deadline(stale) is False
        same_worker_old_lease = ClaimedDeadline(fresh.deadline, "w2", stale.lease_until)
        assert store.complete_deadline(same_worker_old_lease) is False
        assert store.deadlines_for_case("case-1") == [make_deadline()]
        assert store.complete_deadline(fresh) is True
        assert store.complete_deadline(fresh) is False
        assert store.deadlines_for_case("case-1") == []

    def test_a_save_voids_claims_on_the_deadlines_it_keeps(self, store: Store) -> None:
        """Whoever holds a claim read the case before this write: completing it must not delete
        a row the case still holds (issue 7: a lapse lost to a party's click)."""
        case = make_case()
        store.create_case(case, [], [], [make_deadline("keep"), make_deadline("drop")])
        claims = {c.deadline.key: c for c in store.claim_due(at(0), "w1", 60, limit=2)}
        keep, drop = claims["keep"], claims["drop"]
        store.save_case(bumped(case), 1, [], [], [make_deadline("keep"), make_deadline("new")])
        assert store.complete_deadline(drop) is False
        assert store.complete_deadline(keep) is False
        assert store.release_deadline(keep) is False
        assert {d.key for d in store.deadlines_for_case("case-1")} == {"keep", "new"}
        again = store.claim_due(at(0.5), "w2", 60, limit=5)
        assert sorted(c.deadline.key for c in again) == ["keep", "new"]

    # ---- several cases in one write (the scheduler's batches) ---------------------------------
    @staticmethod
    def _two_cases_under_a_stored_pack(store: Store) -> tuple[Case, Case]:
        policy = PolicyRegistry.bundled().get("nsscp")
        store.save_policy_snapshot(policy)
        version = {"policy_version": policy.version}
        return (make_case().model_copy(update=version),
                make_case("case-2", "P1-0002").model_copy(update=version))

    def test_save_cases_writes_each_case_as_save_case_would(self, store: Store) -> None:
        one, two = self._two_cases_under_a_stored_pack(store)
        store.create_case(one, [make_event()], [], [make_deadline("d-1")])
        store.create_case(two, [make_event("case-2")], [], [make_deadline("d-2", "case-2")])
        saves = [
            CaseSave(bumped(one, stage=2), 1, [make_event(summary="lapsed")],
                     [make_notification("n-1")], [make_deadline("d-3", due_at=at(5))]),
            CaseSave(bumped(two, stage=3), 1, [make_event("case-2", summary="lapsed")],
                     [make_notification("n-2", "case-2")], []),
        ]
        assert store.save_cases(saves, []) == [None, None]
        assert store.get_case("case-1") == saves[0].case
        assert store.get_case("case-2") == saves[1].case
        assert [e.summary for e in store.history("case-2")] == ["raised", "lapsed"]
        assert [d.key for d in store.deadlines_for_case("case-1")] == ["d-3"]
        assert store.deadlines_for_case("case-2") == []
        assert store.notification("n-1") is not None and store.notification("n-2") is not None
        found = (self._verify(store, "case-1"), self._verify(store, "case-2"))
        assert found == ("", ""), found

    def test_get_cases_reads_those_that_exist(self, store: Store) -> None:
        one, two = make_case(), make_case("case-2", "P1-0002")
        store.create_case(one, [], [], [])
        store.create_case(two, [], [], [])
        assert store.get_cases(["case-2", "nope", "case-1", "case-2"]) == {
            "case-1": one, "case-2": two}
        assert store.get_cases([]) == {}

    def test_one_refused_save_leaves_the_others_written(self, store: Store) -> None:
        one, two = self._two_cases_under_a_stored_pack(store)
        store.create_case(one, [make_event()], [], [make_deadline("d-1")])
        store.create_case(two, [make_event("case-2")], [], [])
        store.save_case(bumped(one), 1, [], [], [make_deadline("d-1")])  # one moves on: v2
        before = store.get_case("case-1")
        answers = store.save_cases([
            CaseSave(bumped(one, stage=3), 1, [make_event(summary="late")],
                     [make_notification("late")], [make_deadline("d-9")]),
            CaseSave(make_case("case-3", "P1-0003", version=2), 1, [], [], []),
            CaseSave(one.model_copy(update={"version": 7}), 1, [], [], []),
            CaseSave(bumped(two, stage=2), 1, [make_event("case-2", summary="ok")], [], []),
        ], [])
        assert [type(a) for a in answers] == [StaleVersion, KeyError, ValueError, type(None)]
        assert store.get_case("case-1") == before
        assert [e.summary for e in store.history("case-1")] == ["raised"]
        assert store.notification("late") is None
        assert [d.key for d in store.deadlines_for_case("case-1")] == ["d-1"]
        assert [e.summary for e in store.history("case-2")] == ["raised", "ok"]
        found = (self._verify(store, "case-1"), self._verify(store, "case-2"))
        assert found == ("", ""), found

    def test_save_cases_completes_claims_fenced_and_voids_claims_it_keeps(
        self, store: Store
    ) -> None:
        one, two = make_case(), make_case("case-2", "P1-0002")
        store.create_case(one, [], [], [make_deadline("keep")])
        store.create_case(two, [], [], [make_deadline("done", "case-2"),
                                        make_deadline("other", "case-2", due_at=at(1))])
        claims = {c.deadline.key: c for c in store.claim_due(at(1), "w1", 60, limit=5)}
        stolen = ClaimedDeadline(claims["other"].deadline, "w1", at(99))  # not its lease
        answers = store.save_cases(
            [CaseSave(bumped(one), 1, [], [], [make_deadline("keep")])],
            [claims["done"], stolen],
        )
        assert answers == [None]
        assert [d.key for d in store.deadlines_for_case("case-2")] == ["other"]
        assert store.complete_deadline(claims["keep"]) is False  # voided by the save
        assert store.complete_deadline(claims["other"]) is True
        assert store.save_cases([], []) == []

    def test_a_released_claim_is_claimable_at_once_and_fenced(self, store: Store) -> None:
        store.create_case(make_case(), [], [], [make_deadline()])
        (claim,) = store.claim_due(at(0), "w1", 60, limit=1)
        assert store.release_deadline(ClaimedDeadline(claim.deadline, "w2", claim.lease_until)) \
            is False
        assert store.claim_due(at(0), "w2", 60, limit=1) == []
        assert store.release_deadline(claim) is True
        assert store.release_deadline(claim) is False
        assert store.complete_deadline(claim) is False
        (again,) = store.claim_due(at(0), "w2", 60, limit=1)
        assert again.deadline == claim.deadline and again.worker == "w2"

    def test_count_due_counts_the_backlog(self, store: Store) -> None:
        case = make_case()
        deadlines = [make_deadline(f"d{i}", due_at=at(i)) for i in range(5)]
        store.create_case(case, [], [], deadlines)
        assert store.count_due(at(-1)) == 0
        assert store.count_due(at(2)) == 3
        (claim,) = store.claim_due(at(2), "w", 60, 1)
        store.complete_deadline(claim)
        assert store.count_due(at(2)) == 2

    def test_next_due_is_when_the_next_deadline_can_be_claimed(self, store: Store) -> None:
        assert store.next_due() is None
        store.create_case(make_case(), [], [], [make_deadline("a", due_at=at(2)),
                                                make_deadline("b", due_at=at(5))])
        assert store.next_due() == at(2)
        store.claim_due(at(3), "w1", 600, limit=1)  # "a" is held until at(13)
        assert store.next_due() == at(5)
        store.claim_due(at(6), "w1", 60, limit=1)  # "b" is held until at(7)
        assert store.next_due() == at(7)

    def test_returned_instants_are_timezone_aware(self, store: Store) -> None:
        store.create_case(make_case(), [make_event()], [make_notification()], [make_deadline()])
        (claim,) = store.claim_due(at(0), "w1", 60, limit=1)
        due = store.next_due()
        assert due is not None and due.tzinfo is not None
        assert claim.deadline.due_at.tzinfo is not None and claim.lease_until.tzinfo is not None
        assert store.deadlines_for_case("case-1")[0].due_at.utcoffset() is not None
        assert store.history("case-1")[0].at.tzinfo is not None
        (item,) = store.due_notifications(at(0), 5)
        assert item.notification.deliver_at.tzinfo is not None
        case = store.get_case("case-1")
        assert case is not None and case.raised_at.tzinfo is not None

    def test_utc_and_local_instants_mean_the_same_time(self, store: Store) -> None:
        store.create_case(make_case(), [], [], [make_deadline(due_at=at(0))])
        assert store.claim_due(at(-1).astimezone(UTC), "w1", 60, limit=1) == []
        assert len(store.claim_due(at(0).astimezone(UTC), "w1", 60, limit=1)) == 1

    # ---- outbox ----------------------------------------------------------------------------
    def test_outbox_keys_are_idempotent(self, store: Store) -> None:
        case = make_case()
        store.create_case(case, [], [make_notification(), make_notification(title="dup")], [])
        store.save_case(bumped(case), 1, [], [make_notification(title="retried")], [])
        assert store.notification("n-1") == (make_notification(), "pending")
        assert [i.notification.key for i in store.due_notifications(at(1), 10)] == ["n-1"]

    def test_due_notifications_honour_deliver_at_order_and_limit(self, store: Store) -> None:
        later, soon, now = (make_notification(k, deliver_at=at(m))
                            for k, m in (("later", 10), ("soon", 1), ("now", 0)))
        store.create_case(make_case(), [], [later, soon, now], [])
        assert [i.notification.key for i in store.due_notifications(at(1), 10)] == ["now", "soon"]
        assert [i.notification.key for i in store.due_notifications(at(10), 1)] == ["now"]
        assert all(i.attempts == 0 for i in store.due_notifications(at(10), 10))
        assert store.due_notifications(at(-1), 10) == []

    def test_claimed_notifications_are_hidden_until_their_lease_ends(self, store: Store) -> None:
        store.create_case(make_case(), [], [make_notification("a"), make_notification("b")], [])
        first = store.claim_notifications(at(0), "w1", 60, 1)
        assert [i.notification.key for i in first] == ["a"]
        assert [i.notification.key for i in store.claim_notifications(at(0), "w2", 60, 10)] == ["b"]
        assert store.claim_notifications(at(0.5), "w2", 60, 10) == []
        store.mark_sent("a", at(0.5))
        # w2 died holding b: after the lease it is due again, returned unchanged
        (again,) = store.claim_notifications(at(1.5), "w3", 60, 10)
        assert again.notification == make_notification("b") and again.attempts == 0
        with pytest.raises(ValueError):
            store.claim_notifications(at(2), "w3", 0, 10)

    def test_the_delivery_backlog_counts_due_untaken_unsent(self, store: Store) -> None:
        notes = [make_notification(k, deliver_at=at(m)) for k, m in
                 (("a", 0), ("b", 0), ("c", 0), ("later", 30))]
        store.create_case(make_case(), [], notes, [])
        assert store.count_due_notifications(at(-1)) == 0
        assert store.count_due_notifications(at(0)) == 3
        store.claim_notifications(at(0), "w1", 60, 1)  # taken by a worker: in flight
        store.mark_sent("b", at(0))
        store.mark_failed("c", "refused", None)  # permanent: not a backlog any more
        assert store.count_due_notifications(at(0.5)) == 0
        assert store.count_due_notifications(at(1.5)) == 1  # the worker died: due again
        assert store.count_due_notifications(at(31)) == 2

    def test_sent_notifications_are_not_due_again(self, store: Store) -> None:
        store.create_case(make_case(), [], [make_notification()], [])
        store.mark_sent("n-1", at(1))
        assert store.due_notifications(at(100), 10) == []
        assert store.notification("n-1") == (make_notification(), "sent")

    def test_a_permanent_failure_stops_delivery(self, store: Store) -> None:
        store.create_case(make_case(), [], [make_notification()], [])
        store.mark_failed("n-1", "no such user", None)
        assert store.due_notifications(at(100), 10) == []
        assert store.notification("n-1") == (make_notification(), "failed")

    def test_a_retry_waits_for_its_time_and_counts_attempts(self, store: Store) -> None:
        store.create_case(make_case(), [], [make_notification()], [])
        store.mark_failed("n-1", "timeout", at(5))
        assert store.due_notifications(at(4), 10) == []
        assert store.notification("n-1") == (make_notification(), "pending")
        (item,) = store.due_notifications(at(5), 10)
        assert item.attempts == 1 and item.notification == make_notification()
        store.mark_failed("n-1", "timeout again", at(10))
        (item,) = store.due_notifications(at(10), 10)
        assert item.attempts == 2
        store.mark_sent("n-1", at(10))
        assert store.notification("n-1") == (make_notification(), "sent")

    def test_a_mark_on_the_loop_marks_sent_or_leaves_the_row_as_it_was(
        self, store: Store
    ) -> None:
        """marking_on_loop is for a delivery batch on the event loop: True means sent, as
        mark_sent would have left it; False means untouched (still claimed, due again after its
        lease). An unknown key is refused as mark_sent refuses it. Each batch's marks can run
        on a loop of their own (each asyncio.run is one)."""
        keys = ["a", "b", "c"]
        store.create_case(make_case(), [], [make_notification(k) for k in keys], [])
        assert len(store.claim_notifications(at(0), "w", 60, 10)) == 3

        async def batch(wanted: list[str]) -> list[bool]:
            async with store.marking_on_loop() as mark:
                return [await mark(key, at(1)) for key in wanted]

        answers = asyncio.run(batch(keys[:2])) + asyncio.run(batch(keys[2:]))
        for key, marked in zip(keys, answers, strict=True):
            status = "sent" if marked else "pending"
            assert store.notification(key) == (make_notification(key), status)
        unmarked = [k for k, marked in zip(keys, answers, strict=True) if not marked]
        assert [i.notification.key for i in store.due_notifications(at(61), 10)] == unmarked
        if any(answers):
            with pytest.raises(KeyError):
                asyncio.run(batch(["missing"]))

    def test_unknown_notification_keys(self, store: Store) -> None:
        assert store.notification("missing") is None
        with pytest.raises(KeyError):
            store.mark_sent("missing", at(0))
        with pytest.raises(KeyError):
            store.mark_failed("missing", "boom", None)

    # ---- platform support and metrics --------------------------------------------------------
    def test_conversation_references_keep_the_latest(self, store: Store) -> None:
        assert store.conversation_reference("teams", "aad-1") is None
        store.save_conversation_reference("teams", "aad-1", '{"v": 1}')
        store.save_conversation_reference("teams", "aad-1", '{"v": 2}')
        store.save_conversation_reference("slack", "aad-1", '{"v": 3}')
        assert store.conversation_reference("teams", "aad-1") == '{"v": 2}'
        assert store.conversation_reference("slack", "aad-1") == '{"v": 3}'

    def test_a_session_lives_until_it_expires_and_is_purged(self, store: Store) -> None:
        store.save_session("a@x.example", '{"step": 1}', at(10))
        store.save_session("b@x.example", '{"step": 9}', at(30))
        assert store.session("a@x.example", at(5)) == '{"step": 1}'
        store.save_session("a@x.example", '{"step": 2}', at(20))  # answered again: renewed
        assert store.session("a@x.example", at(15)) == '{"step": 2}'
        assert store.session("a@x.example", at(20)) is None  # expired, even before a purge
        assert store.purge_sessions(at(25)) == 1
        assert store.purge_sessions(at(25)) == 0
        assert store.session("b@x.example", at(25)) == '{"step": 9}'
        store.delete_session("b@x.example")
        store.delete_session("nobody@x.example")
        assert store.session("b@x.example", at(25)) is None
        assert store.purge_sessions(at(100)) == 0

    def test_mark_once_is_true_once_per_ttl(self, store: Store) -> None:
        assert store.mark_once("slack:evt-1", at(0), 60) is True
        assert store.mark_once("slack:evt-1", at(0.5), 60) is False
        assert store.mark_once("slack:evt-2", at(0.5), 60) is True
        assert store.mark_once("slack:evt-1", at(2), 60) is True  # the first marker expired

    def test_open_case_counts_by_partnership_and_stage(self, store: Store) -> None:
        store.create_case(make_case("c1"), [], [], [])
        store.create_case(make_case("c2", reference="P-2"), [], [], [])
        closed = make_case("c3", reference="P-3")
        store.create_case(closed, [], [], [])
        store.save_case(bumped(closed, status=CaseStatus.RESOLVED), closed.version, [], [], [])
        assert store.open_case_counts() == {("p1", 1): 2}

    # ---- bounded reads and counters (issue 13) ------------------------------------------------
    def test_cases_for_person_with_a_limit_reads_the_latest_oldest_first(
        self, store: Store
    ) -> None:
        for n in range(7):
            store.create_case(make_case(f"c{n}", f"P1-{n:04}"), [], [], [])
        latest = store.cases_for_person(RAISER, limit=3)
        assert [c.id for c in latest] == ["c4", "c5", "c6"]
        assert [c.id for c in store.cases_for_person(RAISER, limit=50)] == [
            f"c{n}" for n in range(7)
        ]
        assert [c.id for c in store.cases_for_person(RAISER)] == [f"c{n}" for n in range(7)]

    def test_a_limited_read_skips_closed_and_left_cases_and_still_fills_the_page(
        self, store: Store
    ) -> None:
        for n in range(6):
            store.create_case(make_case(f"c{n}", f"P1-{n:04}"), [], [], [])
        closing = make_case("c5", "P1-0005")
        store.save_case(bumped(closing, status=CaseStatus.RESOLVED), 1, [], [], [])
        leaving = make_case("c4", "P1-0004")
        left = [p.model_copy(update={"active": p.email != RAISER}) for p in leaving.participants]
        store.save_case(bumped(leaving, participants=left), 1, [], [], [])
        assert [c.id for c in store.cases_for_person(RAISER, limit=2)] == ["c2", "c3"]
        recent = store.cases_for_person(RAISER, include_closed=True, limit=2)
        assert [c.id for c in recent] == ["c3", "c5"]
        assert store.cases_for_person("nobody@x.example", limit=5) == []

    def test_a_reopened_case_is_listed_again(self, store: Store) -> None:
        case = make_case()
        store.create_case(case, [], [], [])
        closed = bumped(case, status=CaseStatus.RESOLVED)
        store.save_case(closed, 1, [], [], [])
        assert store.cases_for_person(RAISER, limit=5) == []
        store.save_case(bumped(closed, status=CaseStatus.OPEN), 2, [], [], [])
        assert [c.id for c in store.cases_for_person(RAISER, limit=5)] == ["case-1"]

    def test_counters_follow_create_escalate_move_and_close(self, store: Store) -> None:
        first = make_case("c1", "P1-0001")
        store.create_case(first, [], [], [])
        store.create_case(make_case("c2", "P1-0002"), [], [], [])
        store.create_case(make_case("c3", "P2-0001", partnership="p2"), [], [], [])
        store.create_case(make_case("c4", "P1-0004", status=CaseStatus.WITHDRAWN), [], [], [])
        assert store.open_case_counts() == {("p1", 1): 2, ("p2", 1): 1}
        escalated = bumped(first, stage=2)
        store.save_case(escalated, 1, [], [], [])
        assert store.open_case_counts() == {("p1", 1): 1, ("p1", 2): 1, ("p2", 1): 1}
        store.save_case(bumped(escalated, status=CaseStatus.RESOLVED), 2, [], [], [])
        assert store.open_case_counts() == {("p1", 1): 1, ("p2", 1): 1}
        with pytest.raises(StaleVersion):  # a refused write changes no counter
            store.save_case(bumped(make_case("c2", "P1-0002", version=5), stage=3), 5, [], [], [])
        assert store.open_case_counts() == {("p1", 1): 1, ("p2", 1): 1}
        store.recount_open_cases()
        assert store.open_case_counts() == {("p1", 1): 1, ("p2", 1): 1}

    def test_counters_stay_exact_under_two_concurrent_writers(
        self, store: Store, twin: Store
    ) -> None:
        """Two store objects on one database stand in for two replicas: each creates cases and
        moves them on at once; the counters must equal what the cases say."""
        def work(target: Store, side: str) -> None:
            for n in range(15):
                case = make_case(f"{side}{n}", f"{side.upper()}-{n:04}")
                target.create_case(case, [], [], [])
                if n % 3 == 0:  # escalated: still open, at stage 2
                    target.save_case(bumped(case, stage=2), 1, [], [], [])
                elif n % 5 == 0:  # resolved: no longer counted
                    target.save_case(bumped(case, status=CaseStatus.RESOLVED), 1, [], [], [])

        threads = [threading.Thread(target=work, args=(s, side))
                   for s, side in ((store, "a"), (twin, "b"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        counted: dict[tuple[str, int], int] = {}
        for case in store.open_cases():
            counted[(case.partnership_id, case.stage)] = counted.get(
                (case.partnership_id, case.stage), 0) + 1
        assert store.open_case_counts() == counted == twin.open_case_counts()
        assert sum(counted.values()) == 26
    # ---- retention ---------------------------------------------------------------------------
    def test_all_cases_lists_open_and_closed_oldest_first(self, store: Store) -> None:
        store.create_case(make_case("c1"), [], [], [])
        closed = make_case("c2", reference="P1-0002")
        store.create_case(closed, [], [], [])
        store.save_case(bumped(closed, status=CaseStatus.RESOLVED), 1, [], [], [])
        store.create_case(make_case("c3", reference="P2-0001", partnership="p2"), [], [], [])
        assert [c.id for c in store.all_cases()] == ["c1", "c2", "c3"]
        assert [c.id for c in store.all_cases("p1")] == ["c1", "c2"]
        assert store.all_cases("nobody") == []

    def test_outbox_keys_are_each_cases_rows_whatever_their_status(self, store: Store) -> None:
        store.create_case(make_case(), [], [make_notification("a"), make_notification("b"),
                                            make_notification("c")], [])
        store.create_case(make_case("case-2", reference="P1-0002"), [],
                          [make_notification("z", case_id="case-2")], [])
        store.mark_sent("a", at(1))
        store.mark_failed("b", "refused", None)
        assert store.outbox_keys(["case-1", "case-2", "case-3"]) == {
            "case-1": ["a", "b", "c"], "case-2": ["z"]}
        assert store.outbox_keys([]) == {}

    def test_anonymise_replaces_the_case_and_removes_its_rows_in_one_write(
        self, store: Store
    ) -> None:
        case = make_case()
        store.create_case(case, [make_event()], [make_notification("a"), make_notification("b")],
                          [make_deadline()])
        store.create_case(make_case("case-2", reference="P1-0002"), [],
                          [make_notification("z", case_id="case-2")], [])
        store.mark_sent("a", at(1))
        kept = bumped(case, child=ChildDetails(name="(removed)"), summary="(removed)")
        gone = make_event(summary="retention", at=at(5))
        # "z" is another case's row: listed by mistake, it stays
        store.anonymise_case(kept, 1, [gone], ["a", "b", "z"])
        assert store.get_case("case-1") == kept
        assert store.find_case_by_reference("P1-0001") == kept
        assert [e.summary for e in store.history("case-1")] == ["raised", "retention"]
        assert store.notification("a") is None and store.notification("b") is None
        assert store.notification("z") is not None
        assert store.deadlines_for_case("case-1") == []
        assert store.due_notifications(at(100), 10)[0].notification.key == "z"
        assert store.outbox_keys(["case-1"]) == {}

    def test_a_stale_anonymise_writes_nothing(self, store: Store) -> None:
        case = make_case()
        store.create_case(case, [make_event()], [make_notification("a")], [make_deadline()])
        moved = bumped(case, stage=2)
        store.save_case(moved, 1, [], [make_notification("late")], [make_deadline()])
        with pytest.raises(StaleVersion):
            store.anonymise_case(bumped(case, summary="(removed)"), 1,
                                 [make_event(summary="retention")], ["a"])
        assert store.get_case("case-1") == moved
        assert [e.summary for e in store.history("case-1")] == ["raised"]
        assert store.notification("a") is not None
        assert store.deadlines_for_case("case-1") == [make_deadline()]
        with pytest.raises(ValueError):
            store.anonymise_case(moved, 2, [], [])  # not the next version
        with pytest.raises(KeyError):
            store.anonymise_case(make_case("nope", version=2), 1, [], [])

    def test_delivered_notifications_are_pruned_once_old_enough(self, store: Store) -> None:
        notes = [make_notification(k) for k in ("old", "recent", "pending", "failed")]
        store.create_case(make_case(), [], notes, [])
        store.mark_sent("old", at(10))
        store.mark_sent("recent", at(60))
        store.mark_failed("failed", "refused", None)
        assert store.sent_notification_keys(at(10)) == ["old"]
        assert store.sent_notification_keys(at(9)) == []
        assert store.sent_notification_keys(at(60)) == ["old", "recent"]
        # only rows still sent by then are removed, whatever the list says
        assert store.delete_sent_notifications(["old", "recent", "pending", "failed"],
                                               at(10)) == 1
        assert store.notification("old") is None
        for key in ("recent", "pending", "failed"):
            assert store.notification(key) is not None
        assert [i.notification.key for i in store.due_notifications(at(100), 10)] == ["pending"]
        assert store.delete_sent_notifications([], at(100)) == 0

    def test_a_delivered_notification_of_no_case_is_pruned_too(self, store: Store) -> None:
        store.queue_notifications([make_notification("directory:x", case_id="")])
        store.mark_sent("directory:x", at(1))
        assert store.sent_notification_keys(at(1)) == ["directory:x"]
        assert store.outbox_keys(["case-1"]) == {}
        assert store.delete_sent_notifications(["directory:x"], at(1)) == 1
        assert store.notification("directory:x") is None

    def test_expired_markers_are_counted_and_purged(self, store: Store) -> None:
        store.mark_once("slack:evt-1", at(0), 60)
        store.mark_once("slack:evt-2", at(0), 600)
        store.save_session("a@x.example", "{}", at(1))
        store.save_session("b@x.example", "{}", at(30))
        assert store.expired_counts(at(0)) == (0, 0)
        assert store.expired_counts(at(5)) == (1, 1)
        assert store.purge_markers(at(5)) == 1
        assert store.purge_markers(at(5)) == 0
        assert store.expired_counts(at(5)) == (0, 1)
        assert store.mark_once("slack:evt-2", at(5), 600) is False  # still within its ttl
        assert store.mark_once("slack:evt-1", at(5), 60) is True  # forgotten: new again
        assert store.purge_markers(at(100)) == 2
