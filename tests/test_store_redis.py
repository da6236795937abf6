"""RedisStore: the shared Store contract, plus what only a shared server can get wrong.

Runs against a real Redis on 127.0.0.1:6379. Each test gets its own prefix and deletes only its
own keys afterwards (SCAN, never FLUSHDB), so the server may be shared. Two store objects stand
in for two bot processes: each has its own connection pool.

Without a server the tests skip locally and fail under CI (``CI`` set), where a silent skip would
pass a build that never exercised the store.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import redis
from redis.crc import key_slot
from redis_support import URL, delete_prefix, fresh_prefix, require_redis
from store_contract import (
    RAISER,
    T0,
    StoreContract,
    at,
    bumped,
    make_case,
    make_deadline,
    make_event,
    make_notification,
    make_person,
    unlinked,
)

from adapters.storage.redis import RedisStore
from dialogs.case import CaseStatus
from dialogs.ports import StaleVersion, Store
from policy.loader import PolicyRegistry

Client = redis.Redis | redis.RedisCluster


def _keys(client: Client, prefix: str) -> list[str]:
    """Every key naming the prefix anywhere, so one written without the braces shows up too."""
    return [str(key) for key in client.scan_iter(match=f"*{prefix}*", count=500)]


@pytest.fixture
def prefix() -> Iterator[str]:
    with fresh_prefix() as name:
        yield name


@pytest.fixture
def store(prefix: str) -> Iterator[RedisStore]:
    with RedisStore(URL, prefix) as opened:
        yield opened


@pytest.fixture
def twin(prefix: str) -> Iterator[RedisStore]:
    """A second store object on the same prefix: another replica sharing the server."""
    with RedisStore(URL, prefix) as opened:
        yield opened


def _conforms(store: RedisStore) -> Store:
    """Fails type checking, not at run time, if RedisStore drifts from the port."""
    return store


class RedisTamper:
    """Edits the keys with a client of its own, as someone with redis-cli would."""

    def __init__(self, prefix: str) -> None:
        self.client = redis.Redis.from_url(URL, decode_responses=True)
        self.p = "{" + prefix + "}"

    def events(self, case_id: str) -> list[str]:
        return [str(e) for e in self.client.lrange(f"{self.p}:case-events:{case_id}", 0, -1)]

    def rewrite_event(self, case_id: str, index: int, stored_json: str) -> None:
        self.client.lset(f"{self.p}:case-events:{case_id}", index, stored_json)

    def delete_event(self, case_id: str, index: int) -> None:
        key = f"{self.p}:case-events:{case_id}"
        self.client.lset(key, index, "deleted")
        self.client.lrem(key, 1, "deleted")

    def swap_events(self, case_id: str, first: int, second: int) -> None:
        rows = self.events(case_id)
        self.rewrite_event(case_id, first, rows[second])
        self.rewrite_event(case_id, second, rows[first])

    def rewrite_read(self, case_id: str, index: int, stored_json: str) -> None:
        self.client.lset(f"{self.p}:case-reads:{case_id}", index, stored_json)

    def rewrite_pack(self, policy_id: str, version: str, stored_json: str) -> None:
        self.client.hset(f"{self.p}:policy:{policy_id}", version, stored_json)


@pytest.fixture
def tamper(prefix: str) -> Iterator[RedisTamper]:
    tampering = RedisTamper(prefix)
    yield tampering
    tampering.client.close()


class TestRedisStore(StoreContract):
    pass


def test_every_key_carries_the_prefix_as_hash_tag(store: RedisStore, prefix: str) -> None:
    case = make_case()
    store.create_case(case, [make_event()], [make_notification()], [make_deadline()])
    store.save_case(bumped(case), 1, [], [make_notification("n-2")], [make_deadline("d-2")])
    store.upsert_people([make_person()])
    store.next_sequence("p1")
    store.save_policy_snapshot(PolicyRegistry.bundled().all()[0])
    store.save_conversation_reference("teams", "aad-1", "{}")
    store.mark_once("evt", at(0), 60)
    (claim,) = store.claim_due(at(0), "w1", 60, limit=1)
    store.mark_failed("n-1", "timeout", at(1))
    store.mark_sent("n-2", at(1))
    keys = _keys(store.client, prefix)
    assert len(keys) >= 15
    assert all(key.startswith("{" + prefix + "}:") for key in keys)
    assert store.key("case", "x") == "{" + prefix + "}:case:x"
    assert len({key_slot(key.encode()) for key in keys}) == 1  # one Cluster slot for all
    assert store.complete_deadline(claim) is True


def test_no_redis_fails_under_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    nowhere = "redis://127.0.0.1:1/0"
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Redis is required"):
        require_redis(nowhere)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="not running; start it with: redis-server"):
        require_redis(nowhere)


def test_prefix_may_not_break_the_hash_tag() -> None:
    client = redis.Redis.from_url(URL)
    try:
        for bad in ("", "a{b", "a}b"):
            with pytest.raises(ValueError):
                RedisStore.from_client(client, bad)
    finally:
        client.close()


def test_two_stores_claim_each_deadline_exactly_once(prefix: str) -> None:
    stores = [RedisStore(URL, prefix), RedisStore(URL, prefix)]
    keys = []
    for c in range(30):
        case_id = f"case-{c}"
        rows = [make_deadline(f"{case_id}:{n}", case_id, due_at=at(n)) for n in range(10)]
        stores[c % 2].create_case(make_case(case_id, f"P1-{c:04d}"), [], [], rows)
        keys += [d.key for d in rows]
    claimed: dict[str, list[str]] = {}
    completed: list[bool] = []
    start = threading.Barrier(4)

    def work(store: RedisStore, worker: str) -> None:
        got = claimed.setdefault(worker, [])
        start.wait()
        while batch := store.claim_due(at(60), worker, 600, limit=3):
            got += [c.deadline.key for c in batch]
            completed.append(store.complete_deadline(batch[0]))  # some finish, some stay leased

    threads = [threading.Thread(target=work, args=(stores[i % 2], f"w{i}")) for i in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
    finally:
        for opened in stores:
            opened.close()
    everything = [key for got in claimed.values() for key in got]
    assert len(everything) == 300
    assert sorted(everything) == sorted(keys)
    assert sum(1 for got in claimed.values() if got) >= 2  # the work really was shared
    assert completed and all(completed)


def test_a_stale_save_from_another_connection_writes_nothing(
    store: RedisStore, prefix: str
) -> None:
    case = make_case()
    store.create_case(case, [make_event()], [make_notification()], [make_deadline()])
    (claim,) = store.claim_due(at(0), "w1", 60, limit=1)
    with RedisStore(URL, prefix) as replica:
        replica.save_case(bumped(case, stage=2), 1, [make_event(summary="first")], [],
                          [make_deadline()])
    before = {key: _dump(store.client, key) for key in _keys(store.client, prefix)}
    with pytest.raises(StaleVersion):
        store.save_case(bumped(case, stage=3, reference="P1-9999"), 1,
                        [make_event(summary="late")], [make_notification("n-2")],
                        [make_deadline("d-2")])
    after = {key: _dump(store.client, key) for key in _keys(store.client, prefix)}
    assert after == before
    assert store.find_case_by_reference("P1-9999") is None
    # the replica's save voided the claim (it read the case before); the stale one changed nothing
    assert store.complete_deadline(claim) is False
    assert [d.key for d in store.deadlines_for_case("case-1")] == ["d-1"]


def _dump(client: Client, key: str) -> object:
    kind = client.type(key)
    if kind == "string":
        return client.get(key)
    if kind == "hash":
        return client.hgetall(key)
    if kind == "set":
        return sorted(client.smembers(key))
    if kind == "zset":
        return client.zrange(key, 0, -1, withscores=True)
    if kind == "list":
        return client.lrange(key, 0, -1)
    raise AssertionError(f"{key} has unexpected type {kind!r}")


def test_a_lua_error_is_not_swallowed(store: RedisStore) -> None:
    store.create_case(make_case(), [], [], [])
    store.client.delete(store.key("case", "case-1"))
    store.client.set(store.key("case", "case-1"), "not a hash")  # corrupt on purpose
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        store.save_case(bumped(make_case()), 1, [make_event()], [], [make_deadline()])
    assert store.history("case-1") == []
    assert store.deadlines_for_case("case-1") == []


def test_a_reference_cannot_be_taken_from_another_case(store: RedisStore) -> None:
    store.create_case(make_case(), [], [], [])
    other = make_case("case-2", "P1-0002")
    store.create_case(other, [], [], [])
    with pytest.raises(ValueError, match="P1-0001"):
        store.save_case(bumped(other, reference="P1-0001"), 1, [make_event("case-2")], [], [])
    assert store.history("case-2") == []
    moved = bumped(other, reference="P1-0003")
    store.save_case(moved, 1, [], [], [])
    assert store.find_case_by_reference("P1-0003") == moved
    assert store.find_case_by_reference("P1-0002") is None


def test_a_deadline_key_of_another_case_is_refused(store: RedisStore) -> None:
    store.create_case(make_case(), [], [], [make_deadline("shared")])
    with pytest.raises(ValueError, match="shared"):
        store.create_case(make_case("case-2", "P1-0002"), [make_event("case-2")], [],
                          [make_deadline("shared", "case-2")])
    assert store.get_case("case-2") is None
    assert store.deadlines_for_case("case-1") == [make_deadline("shared")]


def test_naive_datetimes_are_refused(store: RedisStore) -> None:
    store.create_case(make_case(), [], [], [make_deadline()])
    naive = datetime(2024, 5, 1, 12)
    with pytest.raises(ValueError, match="naive"):
        store.claim_due(naive, "w1", 60, limit=1)
    with pytest.raises(ValueError, match="naive"):
        store.create_case(make_case("case-2", "P1-0002"), [make_event("case-2", at=naive)], [],
                          [])
    assert store.get_case("case-2") is None


def test_instants_are_stored_to_the_microsecond(store: RedisStore) -> None:
    due = T0 + timedelta(microseconds=1)
    store.create_case(make_case(), [], [], [make_deadline(due_at=due)])
    assert store.claim_due(T0, "w1", 60, limit=1) == []
    (claim,) = store.claim_due(due, "w1", 0.000001, limit=1)
    assert claim.deadline.due_at == due and claim.lease_until == due + timedelta(microseconds=1)
    assert store.next_due() == due + timedelta(microseconds=1)


def test_data_is_shared_between_store_objects(store: RedisStore, prefix: str) -> None:
    store.create_case(make_case(), [make_event()], [make_notification()], [make_deadline()])
    store.upsert_people([make_person()])
    store.next_sequence("p1")
    with RedisStore(URL, prefix) as again:
        assert again.get_case("case-1") == make_case()
        assert unlinked(again.history("case-1")) == [make_event()]
        assert again.notification("n-1") == (make_notification(), "pending")
        assert again.deadlines_for_case("case-1") == [make_deadline()]
        assert again.person(make_person().email) == make_person()
        assert again.next_sequence("p1") == 2


def test_prefixes_do_not_see_each_other(store: RedisStore, prefix: str) -> None:
    store.create_case(make_case(), [], [], [make_deadline()])
    other = f"{prefix}-other"
    try:
        with RedisStore(URL, other) as neighbour:
            assert neighbour.get_case("case-1") is None
            assert neighbour.claim_due(at(10), "w1", 60, limit=10) == []
            neighbour.create_case(make_case(), [], [], [])
    finally:
        cleaner = redis.Redis.from_url(URL)
        try:
            delete_prefix(cleaner, other)
        finally:
            cleaner.close()


def _undo_bounded_reads(client: Client, prefix: str) -> None:
    """What a store wrote before the counters and per-person sorted sets (layout 1)."""
    for key in _keys(client, prefix):
        if any(part in key for part in (":person-recent:", ":person-open:", ":open-counts",
                                        ":layout")):
            client.delete(key)


def test_data_of_layout_1_is_counted_and_indexed_once_on_open(
    store: RedisStore, prefix: str
) -> None:
    for n in range(4):
        store.create_case(make_case(f"c{n}", f"P1-{n:04}"), [], [], [])
    store.create_case(make_case("c9", "P2-0009", partnership="p2"), [], [], [])
    store.save_case(bumped(make_case("c3", "P1-0003"), status=CaseStatus.RESOLVED), 1, [], [], [])
    _undo_bounded_reads(store.client, prefix)
    with RedisStore(URL, prefix) as reopened, RedisStore(URL, prefix) as twin:
        assert reopened.open_case_counts() == {("p1", 1): 3, ("p2", 1): 1}
        assert [c.id for c in reopened.cases_for_person(RAISER, limit=2)] == ["c2", "c9"]
        recent = reopened.cases_for_person(RAISER, include_closed=True, limit=2)
        assert [c.id for c in recent] == ["c3", "c9"]
        reopened.create_case(make_case("c10", "P1-0010"), [], [], [])
        assert twin.open_case_counts() == {("p1", 1): 4, ("p2", 1): 1}


def test_recount_repairs_counters_after_cases_are_removed_by_hand(
    store: RedisStore, prefix: str
) -> None:
    """A module that removes cases outside the write script (retention) calls the recount."""
    for n in range(3):
        store.create_case(make_case(f"c{n}", f"P1-{n:04}"), [], [], [])
    store.client.delete(store.key("case", "c1"))
    store.client.zrem(store.key("cases"), "c1")
    store.client.zrem(store.key("open"), "c1")
    assert store.open_case_counts() == {("p1", 1): 3}  # the counters do not know yet
    store.recount_open_cases()
    assert store.open_case_counts() == {("p1", 1): 2}
    assert [c.id for c in store.cases_for_person(RAISER, limit=5)] == ["c0", "c2"]
    # the removed case's id left in the person's index does not cut a page short
    assert [c.id for c in store.cases_for_person(RAISER, limit=1)] == ["c2"]
    assert [c.id for c in store.cases_for_person(RAISER, limit=2)] == ["c0", "c2"]

