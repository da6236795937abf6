"""The Store port on Redis, for several bot processes or hosts sharing one server.

Every write that touches more than one key is one Lua script, and Redis runs a script without
interleaving any other command, so the case, its history, its outbox and its deadlines change
together or not at all, and a claim is exclusive across processes. A script first does every check
and read (existence, version, reference and deadline-key ownership, the claims it must keep) and
only then writes, so a refused write (``StaleVersion``, ``ValueError``, ``KeyError``) has written
nothing. Redis does not roll a script back: an error after the first write (only possible if a key
of the wrong type were planted under our prefix) would leave that write in place; an error in a
check or read, like that one, is raised to the caller as ``redis.ResponseError``. A server over
``maxmemory`` refuses only a script's first write, never a later one, and the ``#!lua`` shebang on
the write scripts makes it refuse them before they start.

One slot. Every key is ``{prefix}:...``: the whole prefix is a Redis Cluster hash tag, so every
key of one store hashes to the same slot and a script may touch any of them on a cluster (the
scripts build key names from the prefix; each declares one key so a cluster client routes it to
the slot's node, and the server checks the rest are in that slot). The price: one store lives on
one node. A cluster then adds failover, not throughput; that node's single command thread is the
ceiling for every bot process sharing the prefix. Outgrowing it means splitting the partnerships
over several stores (prefixes), which the hash tag then spreads over nodes.

Layout, under ``{prefix}:``:

- ``case:<id>`` hash: ``json``, ``version``, ``reference``, ``partnership``, ``status``,
  ``stage`` and ``created`` (creation order, from ``counter:cases``); ``references`` hash
  reference -> id; ``cases`` sorted set of every id by creation order; ``open`` and
  ``open-in:<partnership>`` sorted sets of the open ones, also by creation order.
- ``case-parties:<id>`` set and ``person-cases:<email>`` sets: everyone ever on the case, as in
  the SQLite store; whether someone is still an active party is checked on the loaded case.
  ``person-recent:<email>`` and ``person-open:<email>`` sorted sets hold the same ids (all, and
  the open ones) by creation order, so a person's latest cases are one ``ZREVRANGE``.
- ``open-counts`` hash ``<partnership>:<stage>`` -> number of open cases, kept by the write
  script, so /metrics reads one hash; ``layout`` is ``2`` once the per-person sorted sets and the
  counters exist (a store opening data of layout 1 builds them in one script).
- ``case-events:<id>`` list of event JSON, append only, in the order of writing, each linked
  to the one before by its hash (``dialogs.audit``); ``case-reads:<id>`` the same for who read
  the case; ``chain:<id>`` hash of each log's head (``events_head``/``events_count``,
  ``reads_head``/``reads_count``); ``read-seen:<id>:<reader>:<kind>`` the instant of that
  reader's last recorded read of that kind; ``audit-chained`` when and how the events written
  before chaining were linked (once per store).
- ``sequence:<name>`` counters (INCR); ``policy:<policy id>`` hash version -> JSON (HSETNX, so
  the first snapshot wins); ``people`` hash email -> JSON, ``people-partnership`` hash
  email -> partnership, ``people-in:<partnership>`` sets of emails.
- ``deadline:<key>`` hash: ``case_id``, ``kind``, ``stage``, ``step_id`` (absent for none),
  ``due_at``, and ``claimed_by`` / ``lease_until`` once claimed; ``deadlines:due`` sorted set of
  every deadline key scored by its due time; ``case-deadlines:<id>`` set of the case's keys.
- ``outbox:<key>`` hash: ``json``, ``case_id``, ``status``, ``attempts``, ``deliver_at``,
  ``seq`` (from ``counter:outbox``), ``last_error``, ``sent_at``; ``outbox-pending`` sorted set
  of the pending ones scored by ``deliver_at``, member ``<seq, 16 digits>:<key>`` so equal times
  keep the order of writing. ``claim_notifications`` leases a row by moving its ``deliver_at``
  (and score) to the lease's end, as the SQLite store does.
- ``conversation-refs:<platform>`` hash user key -> reference; ``once:<key>`` markers.
- ``identities:<platform>`` hash account id -> email and ``identity-of:<platform>`` hash
  email -> account id, written together; ``last-platform`` hash email -> platform.

Instants are integer microseconds since 1970-01-01 UTC, written as decimal strings. They are exact
(the lease fencing token compares them for equality), they sort as sorted-set scores (a double
holds every integer below 2**53, which is the year 2255 in microseconds), and Lua compares them
with ``tonumber``. The scripts never write a number Lua computed, only strings Python sent, so no
float formatting can round them. Anything naive is refused: guessing its zone would move
deadlines silently. Time always comes from the caller (never the server's clock), as in every
store, so tests can pass a later ``now``; ``once:`` markers also get a ``PX`` expiry so Redis
forgets them, but whether one has expired is decided by the ``now`` passed in.

Durability. Out of the box Redis keeps data in memory and snapshots now and then, so a crash loses
the last minutes of cases. Run it with ``appendonly yes``. With ``appendfsync everysec`` (the
usual choice) a power cut or kernel crash can lose the last second or two of writes the engine was
told were saved; ``appendfsync always`` fsyncs before replying, so it loses nothing acknowledged
(like the SQLite store's ``synchronous=FULL``) at the cost of a disk flush per write. A replica
does not replace either: replication is asynchronous, so a failover can lose recent writes too.
Keep ``maxmemory-policy noeviction``: an evicting policy would drop cases.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from json import dumps as json_dumps
from typing import Any

import redis
import redis.asyncio
from redis.commands.core import Script

from dialogs.audit import (
    AuditTrail,
    CaseRead,
    ChainHead,
    chain_events,
    chain_read,
    chain_stored,
    pack_hash,
    read_genesis,
)
from dialogs.case import Case
from dialogs.directory import Person
from dialogs.events import Event
from dialogs.notifications import Notification
from dialogs.ports import (
    CaseExists,
    CaseSave,
    ClaimedDeadline,
    Deadline,
    MarkSent,
    OutboxItem,
    StaleVersion,
)
from policy.model import Policy

DEFAULT_URL = "redis://127.0.0.1:6379/0"
# A session saved with an expiry already past in real time (a simulated clock) still lives a day
SESSION_BACKSTOP_MIN_MS = 86_400_000
DEFAULT_PREFIX = "escalation"
# How many of a person's cases one script reads when the caller wants them all
PERSON_PAGE = 500

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

# ---- Lua ------------------------------------------------------------------------------------
# ARGV[1] is always the key prefix with its braces, "{escalation}"; KEYS[1] a key in its slot.

_WRITE_CASE = """#!lua
local P, mode, id, ref = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local partnership, status, stage, version, expected, json =
    ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local case_key = KEYS[1]
local i = 11
local function count()
    local n = tonumber(ARGV[i])
    i = i + 1
    return n
end
local parties, party_set = {}, {}
for _ = 1, count() do
    parties[#parties + 1] = ARGV[i]
    party_set[ARGV[i]] = true
    i = i + 1
end
local events = {}
for _ = 1, count() do
    events[#events + 1] = ARGV[i]
    i = i + 1
end
local notes = {}
for _ = 1, count() do
    notes[#notes + 1] = {ARGV[i], ARGV[i + 1], ARGV[i + 2]}
    i = i + 3
end
local deadlines, keep = {}, {}
for _ = 1, count() do
    deadlines[#deadlines + 1] = {key = ARGV[i], kind = ARGV[i + 1], stage = ARGV[i + 2],
        has_step = ARGV[i + 3], step = ARGV[i + 4], due = ARGV[i + 5]}
    keep[ARGV[i]] = true
    i = i + 6
end
-- outbox rows to remove with this write (retention): only this case's rows are removed
local purge = {}
for _ = 1, count() do
    purge[#purge + 1] = ARGV[i]
    i = i + 1
end
-- the events' chain: the head Python linked them to, and the head they leave
local expected_head, new_head = ARGV[i], ARGV[i + 1]
local chain_key = P .. ":chain:" .. id

-- phase 1: checks and reads only; any refusal returns before the first write
local refs = P .. ":references"
local old
if mode == "create" then
    if redis.call("EXISTS", case_key) == 1 then return {"exists", id} end
    if redis.call("HEXISTS", refs, ref) == 1 then return {"exists", ref} end
else
    old = redis.call("HMGET", case_key, "version", "reference", "partnership", "created",
        "status", "stage")
    if not old[1] then return {"missing", id} end
    if old[1] ~= expected then return {"stale", old[1]} end
    local owner = redis.call("HGET", refs, ref)
    if owner and owner ~= id then return {"reference-taken", ref} end
end
for _, d in ipairs(deadlines) do
    local owner = redis.call("HGET", P .. ":deadline:" .. d.key, "case_id")
    if owner and owner ~= id then return {"deadline-taken", d.key} end
end
if #events > 0 and (redis.call("HGET", chain_key, "events_head") or "") ~= expected_head then
    return {"chain-moved", id}
end
local parties_key = P .. ":case-parties:" .. id
local old_parties = redis.call("SMEMBERS", parties_key)
local deadlines_key = P .. ":case-deadlines:" .. id
local old_deadlines = redis.call("SMEMBERS", deadlines_key)
local fresh, seen = {}, {}
for _, note in ipairs(notes) do
    if not seen[note[1]] and redis.call("EXISTS", P .. ":outbox:" .. note[1]) == 0 then
        fresh[#fresh + 1] = note
    end
    seen[note[1]] = true
end
local gone = {}
for _, key in ipairs(purge) do
    local row = redis.call("HMGET", P .. ":outbox:" .. key, "case_id", "seq")
    if row[1] == id then gone[#gone + 1] = {key, row[2]} end
end

-- phase 2: writes
local counts = P .. ":open-counts"
local function count_open(slot, by)
    if redis.call("HINCRBY", counts, slot, by) <= 0 then redis.call("HDEL", counts, slot) end
end
local created
if mode == "create" then
    created = tostring(redis.call("INCR", P .. ":counter:cases"))
    redis.call("ZADD", P .. ":cases", created, id)
else
    created = old[4]
    if old[5] == "open" then count_open(old[3] .. ":" .. old[6], -1) end
    redis.call("ZREM", P .. ":open", id)
    redis.call("ZREM", P .. ":open-in:" .. old[3], id)
    if old[2] ~= ref then redis.call("HDEL", refs, old[2]) end
end
redis.call("HSET", refs, ref, id)
redis.call("HSET", case_key, "json", json, "version", version, "reference", ref,
    "partnership", partnership, "status", status, "stage", stage, "created", created)
if status == "open" then
    redis.call("ZADD", P .. ":open", created, id)
    redis.call("ZADD", P .. ":open-in:" .. partnership, created, id)
    count_open(partnership .. ":" .. stage, 1)
end

for _, email in ipairs(old_parties) do
    if not party_set[email] then
        redis.call("SREM", P .. ":person-cases:" .. email, id)
        redis.call("ZREM", P .. ":person-recent:" .. email, id)
        redis.call("ZREM", P .. ":person-open:" .. email, id)
    end
end
redis.call("DEL", parties_key)
for _, email in ipairs(parties) do
    redis.call("SADD", parties_key, email)
    redis.call("SADD", P .. ":person-cases:" .. email, id)
    redis.call("ZADD", P .. ":person-recent:" .. email, created, id)
    if status == "open" then
        redis.call("ZADD", P .. ":person-open:" .. email, created, id)
    else
        redis.call("ZREM", P .. ":person-open:" .. email, id)
    end
end

for _, event in ipairs(events) do
    redis.call("RPUSH", P .. ":case-events:" .. id, event)
end
if #events > 0 then
    redis.call("HSET", chain_key, "events_head", new_head)
    redis.call("HINCRBY", chain_key, "events_count", #events)
end

for _, note in ipairs(fresh) do
    local seq = redis.call("INCR", P .. ":counter:outbox")
    redis.call("HSET", P .. ":outbox:" .. note[1], "json", note[3], "case_id", id,
        "status", "pending", "attempts", "0", "deliver_at", note[2], "seq", tostring(seq))
    redis.call("ZADD", P .. ":outbox-pending", note[2],
        string.format("%016d", seq) .. ":" .. note[1])
end

-- deadlines are replaced wholesale, and a claim on a row that stays is voided: its worker read
-- the case before this write, so its completion must not delete what the case now holds
for _, key in ipairs(old_deadlines) do
    if not keep[key] then
        redis.call("DEL", P .. ":deadline:" .. key)
        redis.call("ZREM", P .. ":deadlines:due", key)
    end
end
redis.call("DEL", deadlines_key)
for _, d in ipairs(deadlines) do
    local row = P .. ":deadline:" .. d.key
    local fields = {"case_id", id, "kind", d.kind, "stage", d.stage, "due_at", d.due}
    if d.has_step == "1" then
        fields[#fields + 1] = "step_id"
        fields[#fields + 1] = d.step
    end
    redis.call("DEL", row)
    redis.call("HSET", row, unpack(fields))
    redis.call("ZADD", P .. ":deadlines:due", d.due, d.key)
    redis.call("SADD", deadlines_key, d.key)
end
for _, row in ipairs(gone) do
    redis.call("DEL", P .. ":outbox:" .. row[1])
    redis.call("ZREM", P .. ":outbox-pending", string.format("%016d", tonumber(row[2])) .. ":"
        .. row[1])
end
return {"ok", id}
"""

_DEADLINE_FIELDS = """
local function deadline_row(P, key)
    local row = redis.call("HMGET", P .. ":deadline:" .. key,
        "case_id", "kind", "stage", "step_id", "due_at")
    return {key, row[1], row[2], row[3], row[4] or "", row[4] and "1" or "0", row[5]}
end
"""

# Rows due by now in (due_at, key) order, skipping any whose lease has not ended; a lease still
# holds at its very end, as in the SQLite store. Pages through the due set so a few live leases
# ahead of the free rows cost only their own reads.
_CLAIM_DUE = "#!lua\n" + _DEADLINE_FIELDS + """
local P, now, worker, lease_until, limit = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local now_n = tonumber(now)
local claimed, taken, offset = {}, 0, 0
while taken < limit do
    local keys = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", now, "LIMIT", offset, 100)
    if #keys == 0 then break end
    for _, key in ipairs(keys) do
        local row = P .. ":deadline:" .. key
        local held = redis.call("HGET", row, "lease_until")
        if not held or tonumber(held) < now_n then
            redis.call("HSET", row, "claimed_by", worker, "lease_until", lease_until)
            local out = deadline_row(P, key)
            for _, value in ipairs(out) do claimed[#claimed + 1] = value end
            taken = taken + 1
            if taken >= limit then break end
        end
    end
    offset = offset + #keys
end
return claimed
"""

# Worker and lease end together are the fencing token.
_COMPLETE = """#!lua
local P, key, worker, lease_until = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local row = P .. ":deadline:" .. key
local held = redis.call("HMGET", row, "claimed_by", "lease_until", "case_id")
if held[1] ~= worker or held[2] ~= lease_until then return 0 end
redis.call("DEL", row)
redis.call("ZREM", KEYS[1], key)
redis.call("SREM", P .. ":case-deadlines:" .. held[3], key)
return 1
"""

# Give a claim back unfired, fenced like completion.
_RELEASE = """#!lua
local P, key, worker, lease_until = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local row = P .. ":deadline:" .. key
local held = redis.call("HMGET", row, "claimed_by", "lease_until")
if held[1] ~= worker or held[2] ~= lease_until then return 0 end
redis.call("HDEL", row, "claimed_by", "lease_until")
return 1
"""

# The earliest instant a deadline becomes claimable: its due time, or for a claimed one the later
# of due time and lease end. Walks the due set only while due times are below the best so far.
_NEXT_DUE = """#!lua flags=no-writes
local P = ARGV[1]
local best, best_n, offset = false, nil, 0
while true do
    local page = redis.call("ZRANGE", KEYS[1], offset, offset + 99)
    if #page == 0 then return best end
    for _, key in ipairs(page) do
        local row = redis.call("HMGET", P .. ":deadline:" .. key,
            "due_at", "claimed_by", "lease_until")
        local due_n = tonumber(row[1])
        if best_n and due_n >= best_n then return best end
        local at, at_n = row[1], due_n
        if row[2] and row[3] and tonumber(row[3]) > due_n then
            at, at_n = row[3], tonumber(row[3])
        end
        if not best_n or at_n < best_n then best, best_n = at, at_n end
    end
    offset = offset + #page
end
"""

_DEADLINES_FOR_CASE = "#!lua flags=no-writes\n" + _DEADLINE_FIELDS + """
local out = {}
for _, key in ipairs(redis.call("SMEMBERS", KEYS[1])) do
    for _, value in ipairs(deadline_row(ARGV[1], key)) do out[#out + 1] = value end
end
return out
"""

_DUE_NOTIFICATIONS = """#!lua flags=no-writes
local P = ARGV[1]
local out = {}
local members = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", ARGV[2], "LIMIT", 0, ARGV[3])
for _, member in ipairs(members) do
    local key = string.sub(member, 18)
    local row = redis.call("HMGET", P .. ":outbox:" .. key, "json", "attempts")
    out[#out + 1] = row[1]
    out[#out + 1] = row[2]
end
return out
"""

# The lease is the row's deliver_at (and score) moved to its end, as in the SQLite store: a worker
# that dies lets the row fall due again.
_CLAIM_NOTIFICATIONS = """#!lua
local P, lease_until = ARGV[1], ARGV[3]
local out = {}
local members = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", ARGV[2], "LIMIT", 0, ARGV[4])
for _, member in ipairs(members) do
    local row = P .. ":outbox:" .. string.sub(member, 18)
    local held = redis.call("HMGET", row, "json", "attempts")
    out[#out + 1] = held[1]
    out[#out + 1] = held[2]
end
for _, member in ipairs(members) do
    redis.call("HSET", P .. ":outbox:" .. string.sub(member, 18), "deliver_at", lease_until)
    redis.call("ZADD", KEYS[1], lease_until, member)
end
return out
"""

# mode: sent (ARGV[4] = sent_at), failed (ARGV[5] = error) or retry (ARGV[4] = new deliver_at)
_MARK = """#!lua
local P, key, mode, at, err = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local row = P .. ":outbox:" .. key
local state = redis.call("HMGET", row, "seq", "status")
if not state[1] then return 0 end
local member = string.format("%016d", tonumber(state[1])) .. ":" .. key
if mode == "sent" then
    redis.call("HSET", row, "status", "sent", "sent_at", at)
    redis.call("ZREM", KEYS[1], member)
elseif mode == "failed" then
    redis.call("HSET", row, "status", "failed", "last_error", err)
    redis.call("HINCRBY", row, "attempts", 1)
    redis.call("ZREM", KEYS[1], member)
else
    redis.call("HSET", row, "deliver_at", at, "last_error", err)
    redis.call("HINCRBY", row, "attempts", 1)
    if state[2] == "pending" then redis.call("ZADD", KEYS[1], at, member) end
end
return 1
"""

# KEYS[1]: a set (ARGV[3] = "set") or sorted set of case ids; ARGV[2]: "1" to keep closed cases
_LOAD_CASES = """#!lua flags=no-writes
local P, closed = ARGV[1], ARGV[2] == "1"
local ids
if ARGV[3] == "zset" then
    ids = redis.call("ZRANGE", KEYS[1], 0, -1)
else
    ids = redis.call("SMEMBERS", KEYS[1])
end
local out = {}
for _, id in ipairs(ids) do
    local row = redis.call("HMGET", P .. ":case:" .. id, "created", "status", "json")
    if row[3] and (closed or row[2] == "open") then
        out[#out + 1] = row[1]
        out[#out + 1] = row[3]
    end
end
return out
"""

# A page of a person's cases, newest first: KEYS[1] is their person-open or person-recent sorted
# set, ARGV[2] and ARGV[3] the ranks to read. The reply starts with how many ids the page held, so
# an id whose case was removed (retention) does not end the paging early.
_PERSON_CASES = """#!lua flags=no-writes
local P = ARGV[1]
local ids = redis.call("ZREVRANGE", KEYS[1], ARGV[2], ARGV[3])
local out = {#ids}
for _, id in ipairs(ids) do
    local json = redis.call("HGET", P .. ":case:" .. id, "json")
    if json then out[#out + 1] = json end
end
return out
"""

# Count the open cases afresh and, with ARGV[2] = "all", build the per-person sorted sets of a
# layout 1 store: one script, so no write lands between the count and the marker. It reads every
# case, so it runs once per store (layout 2 marks it done) or when an operator asks.
_REBUILD = """#!lua
local P, scope = ARGV[1], ARGV[2]
if scope == "all" and redis.call("GET", KEYS[1]) == "2" then return 0 end
local counts = P .. ":open-counts"
redis.call("DEL", counts)
for _, id in ipairs(redis.call("ZRANGE", P .. ":cases", 0, -1)) do
    local row = redis.call("HMGET", P .. ":case:" .. id, "partnership", "status", "stage",
        "created")
    if row[2] == "open" then redis.call("HINCRBY", counts, row[1] .. ":" .. row[3], 1) end
    if scope == "all" and row[4] then
        for _, email in ipairs(redis.call("SMEMBERS", P .. ":case-parties:" .. id)) do
            redis.call("ZADD", P .. ":person-recent:" .. email, row[4], id)
            if row[2] == "open" then
                redis.call("ZADD", P .. ":person-open:" .. email, row[4], id)
            end
        end
    end
end
redis.call("SET", KEYS[1], "2")
return 1
"""

_UPSERT_PEOPLE = """#!lua
local P = ARGV[1]
for i = 2, #ARGV, 3 do
    local email, partnership, json = ARGV[i], ARGV[i + 1], ARGV[i + 2]
    local before = redis.call("HGET", P .. ":people-partnership", email)
    if before and before ~= partnership then
        redis.call("SREM", P .. ":people-in:" .. before, email)
    end
    redis.call("HSET", KEYS[1], email, json)
    redis.call("HSET", P .. ":people-partnership", email, partnership)
    redis.call("SADD", P .. ":people-in:" .. partnership, email)
end
return 0
"""

_PEOPLE_IN = """#!lua flags=no-writes
local out = {}
for _, email in ipairs(redis.call("SMEMBERS", KEYS[1])) do
    out[#out + 1] = redis.call("HGET", ARGV[1] .. ":people", email)
end
return out
"""

_SAVE_IDENTITY = """#!lua
local P, platform = ARGV[1], ARGV[2]
local by_email = P .. ":identity-of:" .. platform
for i = 3, #ARGV, 2 do
    local email, user = ARGV[i], ARGV[i + 1]
    local old_user = redis.call("HGET", by_email, email)
    if old_user then redis.call("HDEL", KEYS[1], old_user) end
    local old_email = redis.call("HGET", KEYS[1], user)
    if old_email then redis.call("HDEL", by_email, old_email) end
    redis.call("HSET", KEYS[1], user, email)
    redis.call("HSET", by_email, email, user)
end
return 0
"""

# What a person's turn tells the bot, in one script: an account binding (as _SAVE_IDENTITY, or
# an empty platform for none), conversation references, the platform last used (or none)
_SAVE_ARRIVAL = """#!lua
local P, platform, email, user = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if platform ~= "" then
    local by_user, by_email = P .. ":identities:" .. platform, P .. ":identity-of:" .. platform
    local old_user = redis.call("HGET", by_email, email)
    if old_user then redis.call("HDEL", by_user, old_user) end
    local old_email = redis.call("HGET", by_user, user)
    if old_email then redis.call("HDEL", by_email, old_email) end
    redis.call("HSET", by_user, user, email)
    redis.call("HSET", by_email, email, user)
end
if ARGV[5] ~= "" then redis.call("HSET", KEYS[1], ARGV[5], ARGV[6]) end
for i = 7, #ARGV, 3 do
    redis.call("HSET", P .. ":conversation-refs:" .. ARGV[i], ARGV[i + 1], ARGV[i + 2])
end
return 0
"""

# The outbox part of the write script, for rows that belong to no case
_QUEUE_NOTIFICATIONS = """#!lua
local P = ARGV[1]
for i = 2, #ARGV, 4 do
    local key, due, json, case_id = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
    if redis.call("EXISTS", P .. ":outbox:" .. key) == 0 then
        local seq = redis.call("INCR", P .. ":counter:outbox")
        redis.call("HSET", P .. ":outbox:" .. key, "json", json, "case_id", case_id,
            "status", "pending", "attempts", "0", "deliver_at", due, "seq", tostring(seq))
        redis.call("ZADD", KEYS[1], due, string.format("%016d", seq) .. ":" .. key)
    end
end
return 0
"""

# A marker counts until the expiry stored in it, judged by the caller's now; PX only lets Redis
# forget it.
_MARK_ONCE = """#!lua
local held = redis.call("GET", KEYS[1])
if held and tonumber(held) > tonumber(ARGV[2]) then return 0 end
redis.call("SET", KEYS[1], ARGV[3], "PX", ARGV[4])
return 1
"""


# A conversation is a string key (with the real-time expiry as a backstop) and an entry in the
# ``sessions`` sorted set scored by its expiry in the caller's time, which reads and purges use.
_SAVE_SESSION = """#!lua
local P, name, value, expires, ttl_ms = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
redis.call("SET", P .. ":session:" .. name, value, "PX", ttl_ms)
redis.call("ZADD", KEYS[1], expires, name)
return 1
"""

_READ_SESSION = """#!lua flags=no-writes
local P, name, now = ARGV[1], ARGV[2], ARGV[3]
local expires = redis.call("ZSCORE", KEYS[1], name)
if not expires or tonumber(expires) <= tonumber(now) then return false end
return redis.call("GET", P .. ":session:" .. name)
"""

_DELETE_SESSION = """#!lua
local P, name = ARGV[1], ARGV[2]
redis.call("DEL", P .. ":session:" .. name)
redis.call("ZREM", KEYS[1], name)
return 1
"""

_PURGE_SESSIONS = """#!lua
local P, now = ARGV[1], ARGV[2]
local gone = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", now)
for _, name in ipairs(gone) do
    redis.call("DEL", P .. ":session:" .. name)
end
if #gone > 0 then redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now) end
return #gone
"""


# A read joins the case's read log unless the same reader read it the same way within the window
# (by the caller's clock), and only if the log's head is still the one Python linked it to.
_RECORD_READ = """#!lua
local P, id, seen_key, at, window, expected, head, entry, backstop_ms =
    ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local seen = redis.call("GET", seen_key)
if seen and tonumber(window) > 0 and tonumber(at) < tonumber(seen) + tonumber(window) then
    return "seen"
end
local chain_key = P .. ":chain:" .. id
if (redis.call("HGET", chain_key, "reads_head") or "") ~= expected then return "moved" end
redis.call("RPUSH", KEYS[1], entry)
redis.call("HSET", chain_key, "reads_head", head)
redis.call("HINCRBY", chain_key, "reads_count", 1)
redis.call("SET", seen_key, at, "PX", backstop_ms)
return "ok"
"""

# The one-off linking of a case's events written before chaining: only if nobody linked them
# meanwhile and the list is still the one Python read.
_CHAIN_LEGACY = """#!lua
local P, id, length, last, head = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local chain_key = P .. ":chain:" .. id
if redis.call("HEXISTS", chain_key, "events_head") == 1 then return 0 end
if redis.call("LLEN", KEYS[1]) ~= length or redis.call("LINDEX", KEYS[1], -1) ~= last then
    return 0
end
redis.call("DEL", KEYS[1])
for n = 6, #ARGV do redis.call("RPUSH", KEYS[1], ARGV[n]) end
redis.call("HSET", chain_key, "events_head", head, "events_count", tostring(length))
return 1
"""

# One case's logs as stored, read at one instant so a write landing meanwhile is no break.
_AUDIT_TRAIL = """#!lua flags=no-writes
local P, id = ARGV[1], ARGV[2]
local case = redis.call("HMGET", KEYS[1], "reference", "json")
if not case[1] then return false end
local chain = redis.call("HMGET", P .. ":chain:" .. id,
    "events_count", "events_head", "reads_count", "reads_head")
for n = 1, 4 do chain[n] = chain[n] or "" end
return {case[1], case[2], chain, redis.call("LRANGE", P .. ":case-events:" .. id, 0, -1),
    redis.call("LRANGE", P .. ":case-reads:" .. id, 0, -1)}
"""

_CASE_IDS = """#!lua flags=no-writes
local P, partnership = ARGV[1], ARGV[2]
local out = {}
for _, id in ipairs(redis.call("ZRANGE", KEYS[1], 0, -1)) do
    if partnership == "" or redis.call("HGET", P .. ":case:" .. id, "partnership")
            == partnership then
        out[#out + 1] = id
    end
end
return out
"""

# Retention: rows re-checked inside the script, so one delivered or re-marked since the scan stays.
_DELETE_SENT = """#!lua
local P, cutoff = ARGV[1], tonumber(ARGV[2])
local gone = 0
for n = 3, #ARGV do
    local row = P .. ":outbox:" .. ARGV[n]
    local held = redis.call("HMGET", row, "status", "sent_at")
    if held[1] == "sent" and held[2] and tonumber(held[2]) <= cutoff then
        redis.call("DEL", row)
        gone = gone + 1
    end
end
return gone
"""

_PURGE_MARKERS = """#!lua
local P, now = ARGV[1], tonumber(ARGV[2])
local gone = 0
for n = 3, #ARGV do
    local key = P .. ":once:" .. ARGV[n]
    local held = redis.call("GET", key)
    if held and tonumber(held) <= now then
        redis.call("DEL", key)
        gone = gone + 1
    end
end
return gone
"""

_SCAN_BATCH = 500


def _glob(text: str) -> str:
    """``text`` matched literally in a SCAN pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


# ---- conversions ----------------------------------------------------------------------------
def _micros(moment: datetime) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: the store needs timezone-aware instants")
    return (moment - _EPOCH) // _MICROSECOND


def _stamp(moment: datetime) -> str:
    return str(_micros(moment))


def _instant(micros: object) -> datetime:
    return _EPOCH + timedelta(microseconds=int(_text(micros)))


def _text(value: object) -> str:
    """Replies are str with ``decode_responses=True`` and bytes without; accept both."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    raise TypeError(f"unexpected reply {value!r} from Redis")


def _optional(value: object) -> str | None:
    return None if value is None else _text(value)


def _items(reply: object) -> list[object]:
    if not isinstance(reply, list):
        raise TypeError(f"expected a list reply from Redis, got {reply!r}")
    return reply


def _chunks(reply: object, size: int) -> list[list[object]]:
    values = _items(reply)
    return [values[i:i + size] for i in range(0, len(values), size)]


def _deadlines(reply: object) -> list[Deadline]:
    """Rows of seven from ``deadline_row``: key, case, kind, stage, step, has step, due."""
    return [
        Deadline(key=_text(key), case_id=_text(case_id), kind=_text(kind),
                 stage=int(_text(stage)), step_id=_text(step) if _text(has) == "1" else None,
                 due_at=_instant(due))
        for key, case_id, kind, stage, step, has, due in _chunks(reply, 7)
    ]


async def _never(key: str, at: datetime) -> bool:
    return False


class RedisStore:
    """Thread-safe: redis-py's client takes a pooled connection per command, so an aiohttp app
    may share one store between its executor threads. Two store objects (two processes) on the
    same prefix see one store."""

    _url: str | None

    def __init__(self, url: str = DEFAULT_URL, prefix: str = DEFAULT_PREFIX) -> None:
        self._setup(redis.Redis.from_url(url, decode_responses=True), prefix)
        self._url = url

    @classmethod
    def from_client(
        cls, client: redis.Redis | redis.RedisCluster, prefix: str = DEFAULT_PREFIX
    ) -> RedisStore:
        """Wrap a client configured elsewhere: TLS, Sentinel, or a ``redis.RedisCluster`` (every
        key and script of the store goes to the node serving the prefix's slot)."""
        store = cls.__new__(cls)
        store._setup(client, prefix)
        return store

    def _setup(self, client: redis.Redis | redis.RedisCluster, prefix: str) -> None:
        if not prefix or "{" in prefix or "}" in prefix:
            raise ValueError(f"prefix {prefix!r} must be non-empty and free of braces")
        self.client = client
        self.prefix = prefix
        self._url = None  # set by __init__: an asyncio client for marks on the loop
        self._p = "{" + prefix + "}"
        register = client.register_script
        self._write_case = register(_WRITE_CASE)
        self._claim_due = register(_CLAIM_DUE)
        self._complete = register(_COMPLETE)
        self._release = register(_RELEASE)
        self._save_session = register(_SAVE_SESSION)
        self._read_session = register(_READ_SESSION)
        self._delete_session = register(_DELETE_SESSION)
        self._purge_sessions = register(_PURGE_SESSIONS)
        self._next_due = register(_NEXT_DUE)
        self._deadlines_for_case = register(_DEADLINES_FOR_CASE)
        self._due_notifications = register(_DUE_NOTIFICATIONS)
        self._claim_notifications = register(_CLAIM_NOTIFICATIONS)
        self._mark = register(_MARK)
        self._load_cases = register(_LOAD_CASES)
        self._person_cases = register(_PERSON_CASES)
        self._rebuild = register(_REBUILD)
        self._upsert_people = register(_UPSERT_PEOPLE)
        self._people_in = register(_PEOPLE_IN)
        self._mark_once = register(_MARK_ONCE)
        self._save_identity = register(_SAVE_IDENTITY)
        self._save_arrival = register(_SAVE_ARRIVAL)
        self._queue_notifications = register(_QUEUE_NOTIFICATIONS)
        self._record_read = register(_RECORD_READ)
        self._chain_legacy = register(_CHAIN_LEGACY)
        self._audit_trail = register(_AUDIT_TRAIL)
        self._case_ids = register(_CASE_IDS)
        self._delete_sent = register(_DELETE_SENT)
        self._purge_markers = register(_PURGE_MARKERS)
        if _optional(client.get(self.key("layout"))) != "2":
            self._run(self._rebuild, self.key("layout"), "all")
        self._link_legacy_events()

    def key(self, *parts: str) -> str:
        """``{prefix}:part:part``: the braces make the prefix the Cluster hash tag."""
        return ":".join((self._p, *parts))

    def _run(self, script: Script, key: str, *args: str | int) -> Any:
        return script(keys=[key], args=[self._p, *args])

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> RedisStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- cases and history -------------------------------------------------------------------
    def create_case(
        self, case: Case, events: list[Event], notifications: list[Notification],
        deadlines: list[Deadline],
    ) -> None:
        self._write("create", case, 0, events, notifications, deadlines)  # no version to check

    def save_case(
        self, case: Case, expected_version: int, events: list[Event],
        notifications: list[Notification], deadlines: list[Deadline],
    ) -> None:
        if case.version != expected_version + 1:
            raise ValueError(
                f"case {case.id} is at version {case.version}; saving over {expected_version}"
                f" needs version {expected_version + 1}"
            )
        self._write("save", case, expected_version, events, notifications, deadlines)

    def save_cases(
        self, saves: list[CaseSave], completed: list[ClaimedDeadline]
    ) -> list[Exception | None]:
        """Three round trips for the lot, not two or three per case: the chains' heads in one
        pipeline, the cases' write scripts in a second, the completions in a third. Each script
        is atomic on its own, so one refused save leaves the others written."""
        answers: list[Exception | None] = [None] * len(saves)
        ready: list[tuple[int, CaseSave]] = []
        for i, save in enumerate(saves):
            if save.case.version != save.expected_version + 1:
                answers[i] = ValueError(
                    f"case {save.case.id} is at version {save.case.version}; saving over"
                    f" {save.expected_version} needs version {save.expected_version + 1}"
                )
            else:
                ready.append((i, save))
        heads: list[Any] = []
        if ready:
            with self.client.pipeline(transaction=False) as pipe:
                for _, save in ready:
                    pipe.hget(self.key("chain", save.case.id), "events_head")
                heads = pipe.execute()
        written: list[tuple[int, CaseSave]] = []
        with self.client.pipeline(transaction=False) as pipe:
            for (i, save), held in zip(ready, heads, strict=True):
                try:
                    head = self._events_head("save", save.case, _optional(held))
                    key, args = self._write_args(
                        "save", save.case, save.expected_version, save.events,
                        save.notifications, save.deadlines, head)
                except ValueError as exc:
                    answers[i] = exc
                    continue
                self._write_case(keys=[key], args=[self._p, *args], client=pipe)
                written.append((i, save))
            replies = pipe.execute(raise_on_error=False) if written else []
        for (i, save), reply in zip(written, replies, strict=True):
            if isinstance(reply, Exception):
                answers[i] = reply
                continue
            try:
                self._write_answer(reply, save.case, save.expected_version)
            except (StaleVersion, KeyError, ValueError, RuntimeError) as exc:
                answers[i] = exc
        if completed:
            with self.client.pipeline(transaction=False) as pipe:
                for claim in completed:
                    self._complete(keys=[self.key("deadlines", "due")],
                                   args=[self._p, claim.deadline.key, claim.worker,
                                         _stamp(claim.lease_until)], client=pipe)
                pipe.execute()
        return answers

    def _write(
        self, mode: str, case: Case, expected_version: int, events: list[Event],
        notifications: list[Notification], deadlines: list[Deadline],
        purge: list[str] | None = None,
    ) -> None:
        head = self._events_head(mode, case)
        key, args = self._write_args(mode, case, expected_version, events, notifications,
                                     deadlines, head, purge)
        self._write_answer(self._run(self._write_case, key, *args), case, expected_version)

    def _write_args(
        self, mode: str, case: Case, expected_version: int, events: list[Event],
        notifications: list[Notification], deadlines: list[Deadline], head: tuple[str, str],
        purge: list[str] | None = None,
    ) -> tuple[str, list[str | int]]:
        strays = [e.case_id for e in events if e.case_id != case.id]
        strays += [d.case_id for d in deadlines if d.case_id != case.id]
        if strays:
            raise ValueError(f"writing case {case.id} with items of other cases: {strays}")
        parties = list(dict.fromkeys(p.email.lower() for p in case.participants))
        for event in events:
            _micros(event.at)  # refuse naive instants before anything is sent
        unique = list({d.key: d for d in deadlines}.values())
        expected, prev = head
        stored, new_head = chain_events(events, prev)
        args: list[str | int] = [
            mode, case.id, case.reference, case.partnership_id, case.status.value,
            case.stage, case.version, expected_version, case.model_dump_json(),
            len(parties), *parties,
            len(events), *stored,
            len(notifications),
        ]
        for n in notifications:
            args += [n.key, _stamp(n.deliver_at), n.model_dump_json()]
        args.append(len(unique))
        for d in unique:
            args += [d.key, d.kind, d.stage, "0" if d.step_id is None else "1", d.step_id or "",
                     _stamp(d.due_at)]
        purge = purge or []
        args += [len(purge), *purge]
        args += [expected, new_head]
        return self.key("case", case.id), args

    @staticmethod
    def _write_answer(reply: Any, case: Case, expected_version: int) -> None:
        code, detail = (_text(v) for v in _items(reply))
        if code == "ok":
            return
        if code == "exists":
            raise CaseExists(f"case {case.id} / {case.reference} already exists ({detail})")
        if code == "missing":
            raise KeyError(f"no case {case.id} to save; create it first")
        if code == "stale":
            raise StaleVersion(
                f"case {case.id} is at version {detail}, not {expected_version}"
            )
        if code == "reference-taken":
            raise ValueError(f"reference {detail} belongs to another case")
        if code == "deadline-taken":
            raise ValueError(f"deadline key {detail} belongs to another case")
        if code == "chain-moved":
            # the version matched but the events' head did not: written outside this store
            raise StaleVersion(f"case {case.id}'s history moved on since it was read")
        raise RuntimeError(f"unexpected reply {code!r} from the write script")

    def _events_head(
        self, mode: str, case: Case, held: str | None = None
    ) -> tuple[str, str]:
        """The head the script must still find, and the hash the first new event links to.
        The script checks the first under its version check, which already lets one writer at a
        time past a case: this read never races a write that could succeed. ``held``: the head
        already read (``save_cases`` reads a batch's heads in one pipeline)."""
        if held is None:
            held = _optional(self.client.hget(self.key("chain", case.id), "events_head"))
        if held is None and mode == "save" and self._link_case(case.id):
            held = _optional(self.client.hget(self.key("chain", case.id), "events_head"))
        if held is not None:
            return held, held
        pack = _optional(self.client.hget(self.key("policy", case.policy_id),
                                          case.policy_version))
        return "", pack_hash(pack, case.policy_id, case.policy_version)

    def _link_legacy_events(self) -> None:
        """Once per store: link the events of every case written before chaining existed, and
        record when (docs/decisions.md). A replica starting meanwhile links nothing twice."""
        marker = self.key("audit-chained")
        if self.client.exists(marker):
            return
        cases = events = 0
        for case_id in (_text(i) for i in _items(self.client.zrange(self.key("cases"), 0, -1))):
            linked = self._link_case(case_id)
            cases, events = cases + (linked > 0), events + linked
        record = {"at": datetime.now(UTC).isoformat(), "cases": cases, "events": events,
                  "note": "events chained as found when chaining was introduced"}
        self.client.set(marker, json_dumps(record), nx=True)

    def _link_case(self, case_id: str) -> int:
        """Link one unchained case's events; how many it linked (0: none, or already linked)."""
        events_key = self.key("case-events", case_id)
        for _ in range(5):
            if self.client.hexists(self.key("chain", case_id), "events_head"):
                return 0
            rows = [_text(r) for r in _items(self.client.lrange(events_key, 0, -1))]
            if not rows:
                return 0
            case = self.get_case(case_id)
            if case is None:
                return 0
            pack = _optional(self.client.hget(self.key("policy", case.policy_id),
                                              case.policy_version))
            stored, head = chain_stored(
                rows, pack_hash(pack, case.policy_id, case.policy_version)
            )
            done = self._run(self._chain_legacy, events_key, case_id, len(rows), rows[-1], head,
                             *stored)
            if int(_text(done)) == 1:
                return len(rows)
        raise RuntimeError(f"case {case_id}'s history kept changing while it was being linked")

    # ---- the audit trail ---------------------------------------------------------------------
    def record_read(self, read: CaseRead, window_seconds: float) -> bool:
        """Appended to the case's read log unless the same reader read the case the same way
        less than ``window_seconds`` before ``read.at``; never touches the case or its version.
        Readers on several replicas race only for the head, which the script checks: a loser
        links its read again to the new head."""
        seen = self.key("read-seen", read.case_id, read.reader, read.kind.value)
        window = math.ceil(window_seconds * 1_000_000)
        backstop_ms = max(SESSION_BACKSTOP_MIN_MS, math.ceil(window_seconds * 1000))
        for _ in range(20):
            held = _optional(self.client.hget(self.key("chain", read.case_id), "reads_head"))
            text, head = chain_read(read, held or read_genesis(read.case_id))
            code = _text(self._run(self._record_read, self.key("case-reads", read.case_id),
                                   read.case_id, seen, _stamp(read.at), window, held or "", head,
                                   text, backstop_ms))
            if code != "moved":
                return code == "ok"
        raise RuntimeError(f"case {read.case_id}'s read log kept moving; the read was not kept")

    def reads(self, case_id: str) -> list[CaseRead]:
        rows = _items(self.client.lrange(self.key("case-reads", case_id), 0, -1))
        return [CaseRead.model_validate_json(_text(row)) for row in rows]

    def case_ids(self, partnership_id: str | None = None) -> list[str]:
        ids = self._run(self._case_ids, self.key("cases"), partnership_id or "")
        return [_text(i) for i in _items(ids)]

    def audit_trail(self, case_id: str) -> AuditTrail | None:
        reply = self._run(self._audit_trail, self.key("case", case_id), case_id)
        if reply is None:
            return None
        reference, case_json, chain, events, reads = _items(reply)
        counts = [_text(v) for v in _items(chain)]
        case = Case.model_validate_json(_text(case_json))
        pack = _optional(self.client.hget(self.key("policy", case.policy_id),
                                          case.policy_version))
        return AuditTrail(
            case_id=case_id,
            reference=_text(reference),
            policy_id=case.policy_id,
            policy_version=case.policy_version,
            pack=pack,
            events=[_text(e) for e in _items(events)],
            reads=[_text(r) for r in _items(reads)],
            event_head=ChainHead(int(counts[0]), counts[1]) if counts[1] else None,
            read_head=ChainHead(int(counts[2]), counts[3]) if counts[3] else None,
        )

    def get_case(self, case_id: str) -> Case | None:
        json = _optional(self.client.hget(self.key("case", case_id), "json"))
        return None if json is None else Case.model_validate_json(json)

    def get_cases(self, case_ids: list[str]) -> dict[str, Case]:
        wanted = list(dict.fromkeys(case_ids))
        if not wanted:
            return {}
        with self.client.pipeline(transaction=False) as pipe:
            for case_id in wanted:
                pipe.hget(self.key("case", case_id), "json")
            rows = pipe.execute()
        return {
            case_id: Case.model_validate_json(json)
            for case_id, json in zip(wanted, (_optional(r) for r in rows), strict=True)
            if json is not None
        }

    def find_case_by_reference(self, reference: str) -> Case | None:
        case_id = _optional(self.client.hget(self.key("references"), reference))
        return None if case_id is None else self.get_case(case_id)

    def _cases(self, index: str, kind: str, include_closed: bool) -> list[Case]:
        """Oldest first, as created."""
        closed = "1" if include_closed else "0"
        rows = _chunks(self._run(self._load_cases, index, closed, kind), 2)
        rows.sort(key=lambda row: int(_text(row[0])))
        return [Case.model_validate_json(_text(json)) for _, json in rows]

    def cases_for_person(
        self, email: str, include_closed: bool = False, limit: int | None = None
    ) -> list[Case]:
        """Oldest first; with ``limit``, only the latest that many, read a page at a time from
        the person's sorted set. The sets also list people who have left a case, so the active
        check happens on the loaded case, where the truth is."""
        index = self.key("person-recent" if include_closed else "person-open", email.lower())
        found: list[Case] = []
        start = 0
        while limit is None or len(found) < limit:
            page = PERSON_PAGE if limit is None else max(limit - len(found), 1)
            reply = _items(self._run(self._person_cases, index, start, start + page - 1))
            rows = reply[1:]
            found += [c for c in (Case.model_validate_json(_text(r)) for r in rows)
                      if c.is_party(email)]
            if int(_text(reply[0])) < page:
                break
            start += page
        found = found if limit is None else found[:limit]
        return found[::-1]

    def open_cases(self, partnership_id: str | None = None) -> list[Case]:
        index = self.key("open") if partnership_id is None else self.key("open-in", partnership_id)
        return self._cases(index, "zset", include_closed=False)

    def history(self, case_id: str) -> list[Event]:
        rows = _items(self.client.lrange(self.key("case-events", case_id), 0, -1))
        return [Event.model_validate_json(_text(row)) for row in rows]

    def partnership_cases(self, partnership_id: str) -> list[Case]:
        """Every case is read and filtered here: a report runs twice a year, so a per-partnership
        index of closed cases would cost every write for little."""
        cases = self._cases(self.key("cases"), "zset", include_closed=True)
        return [case for case in cases if case.partnership_id == partnership_id]

    def next_sequence(self, name: str) -> int:
        return int(_text(self.client.incr(self.key("sequence", name))))

    # ---- frozen policy versions --------------------------------------------------------------
    def save_policy_snapshot(self, policy: Policy) -> None:
        """First write wins: a case must keep the rules it was raised under, even if someone
        edits the pack without bumping its version."""
        self.client.hsetnx(self.key("policy", policy.id), policy.version,
                           policy.model_dump_json())

    def policy_snapshot(self, policy_id: str, version: str) -> Policy | None:
        json = _optional(self.client.hget(self.key("policy", policy_id), version))
        return None if json is None else Policy.model_validate_json(json)

    # ---- directory ---------------------------------------------------------------------------
    def upsert_people(self, people: list[Person]) -> None:
        if not people:
            return
        args: list[str | int] = []
        for p in people:
            args += [p.email.lower(), p.partnership_id, p.model_dump_json()]
        self._run(self._upsert_people, self.key("people"), *args)

    def person(self, email: str) -> Person | None:
        json = _optional(self.client.hget(self.key("people"), email.lower()))
        return None if json is None else Person.model_validate_json(json)

    def people(self, partnership_id: str) -> list[Person]:
        rows = _items(self._run(self._people_in, self.key("people-in", partnership_id)))
        found = [Person.model_validate_json(_text(row)) for row in rows]
        return sorted(found, key=lambda p: p.email.lower())

    def save_identities(self, platform: str, accounts: dict[str, str]) -> None:
        if not accounts:
            return
        args: list[str | int] = [platform]
        for email, user_id in accounts.items():
            args += [email.lower(), user_id]
        self._run(self._save_identity, self.key("identities", platform), *args)

    def identity(self, platform: str, email: str) -> str | None:
        return _optional(self.client.hget(self.key("identity-of", platform), email.lower()))

    def email_for_identity(self, platform: str, user_id: str) -> str | None:
        return _optional(self.client.hget(self.key("identities", platform), user_id))

    def save_last_platform(self, email: str, platform: str) -> None:
        self.client.hset(self.key("last-platform"), email.lower(), platform)

    def last_platform(self, email: str) -> str | None:
        return _optional(self.client.hget(self.key("last-platform"), email.lower()))

    def save_arrival(
        self,
        references: Sequence[tuple[str, str, str]] = (),
        identity: tuple[str, str, str] | None = None,
        last_platform: tuple[str, str] | None = None,
    ) -> None:
        if not references and identity is None and last_platform is None:
            return
        platform, email, user = identity or ("", "", "")
        last_email, last = last_platform or ("", "")
        args: list[str | int] = [platform, email.lower(), user, last_email.lower(), last]
        for reference in references:
            args += reference
        self._run(self._save_arrival, self.key("last-platform"), *args)

    # ---- deadlines ---------------------------------------------------------------------------
    def claim_due(
        self, now: datetime, worker: str, lease_seconds: float, limit: int
    ) -> list[ClaimedDeadline]:
        """Select and mark in one script, so no two workers hold a live lease on a row."""
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        lease_until = now + timedelta(seconds=lease_seconds)
        if limit <= 0:
            _micros(now)
            return []
        reply = self._run(self._claim_due, self.key("deadlines", "due"), _stamp(now), worker,
                          _stamp(lease_until), limit)
        until = _instant(_stamp(lease_until))
        return [ClaimedDeadline(d, worker, until) for d in _deadlines(reply)]

    def complete_deadline(self, claim: ClaimedDeadline) -> bool:
        """Worker and lease end together are the fencing token: a worker whose lease expired and
        was re-claimed cannot delete the row from under the new holder."""
        done = self._run(self._complete, self.key("deadlines", "due"), claim.deadline.key,
                         claim.worker, _stamp(claim.lease_until))
        return int(_text(done)) == 1

    def release_deadline(self, claim: ClaimedDeadline) -> bool:
        """Give a claim back unfired, so the next tick may take the row at once."""
        done = self._run(self._release, self.key("deadlines", "due"), claim.deadline.key,
                         claim.worker, _stamp(claim.lease_until))
        return int(_text(done)) == 1

    def deadlines_for_case(self, case_id: str) -> list[Deadline]:
        found = _deadlines(self._run(self._deadlines_for_case,
                                     self.key("case-deadlines", case_id)))
        return sorted(found, key=lambda d: (d.due_at, d.key))

    def next_due(self) -> datetime | None:
        """When the next deadline becomes claimable: its due time, or for one held under a lease
        the lease's end, so a scheduler sleeping until then never spins on a row it cannot take."""
        at = self._run(self._next_due, self.key("deadlines", "due"))
        return None if at is None else _instant(at)

    def count_due(self, now: datetime) -> int:
        """Claimed or not: the backlog is what has fallen due and is not yet completed."""
        return int(_text(self.client.zcount(self.key("deadlines", "due"), "-inf", _stamp(now))))

    # ---- outbox ------------------------------------------------------------------------------
    def due_notifications(self, now: datetime, limit: int) -> list[OutboxItem]:
        """A retry is a pending row whose deliver_at moved on; the notification itself is
        returned as the engine wrote it."""
        if limit <= 0:
            _micros(now)
            return []
        reply = self._run(self._due_notifications, self.key("outbox-pending"), _stamp(now), limit)
        return [OutboxItem(Notification.model_validate_json(_text(json)), int(_text(attempts)))
                for json, attempts in _chunks(reply, 2)]

    def claim_notifications(
        self, now: datetime, worker: str, lease_seconds: float, limit: int
    ) -> list[OutboxItem]:
        """The lease is the row's deliver_at moved forward: no extra state, and a worker that dies
        simply lets the row fall due again. ``worker`` is not recorded: as in the SQLite store,
        delivery is at least once and receivers de-duplicate by key."""
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        lease_until = _stamp(now + timedelta(seconds=lease_seconds))
        if limit <= 0:
            return []
        reply = self._run(self._claim_notifications, self.key("outbox-pending"), _stamp(now),
                          lease_until, limit)
        return [OutboxItem(Notification.model_validate_json(_text(json)), int(_text(attempts)))
                for json, attempts in _chunks(reply, 2)]

    def queue_notifications(self, notifications: list[Notification]) -> None:
        if not notifications:
            return
        args: list[str | int] = []
        for n in notifications:
            args += [n.key, _stamp(n.deliver_at), n.model_dump_json(), n.case_id]
        self._run(self._queue_notifications, self.key("outbox-pending"), *args)

    def count_due_notifications(self, now: datetime) -> int:
        """Due and not taken by a worker (a claim moves the score to the lease's end)."""
        return int(_text(self.client.zcount(self.key("outbox-pending"), "-inf", _stamp(now))))

    def mark_sent(self, key: str, at: datetime) -> None:
        self._mark_outbox(key, "sent", _stamp(at), "")

    @asynccontextmanager
    async def marking_on_loop(self) -> AsyncIterator[MarkSent]:
        """The mark's script through an asyncio client of the running loop, opened for the
        batch and closed after it: its round trip is awaited, never blocking the loop, and no
        thread hand-off (126 us a message here, beside the round trip) is paid. Only for a store
        opened from a URL: one wrapping a client configured elsewhere (TLS, Sentinel, Cluster)
        marks off the loop."""
        if self._url is None:
            yield _never
            return
        client = redis.asyncio.Redis.from_url(self._url, decode_responses=True,
                                              single_connection_client=True)
        script = client.register_script(_MARK)
        pending = self.key("outbox-pending")

        async def mark(key: str, at: datetime) -> bool:
            found = await script(keys=[pending], args=[self._p, key, "sent", _stamp(at), ""])
            if int(_text(found)) == 0:
                raise KeyError(f"no notification {key!r} in the outbox")
            return True

        try:
            yield mark
        finally:
            await client.aclose()

    def mark_failed(self, key: str, error: str, retry_at: datetime | None) -> None:
        if retry_at is None:
            self._mark_outbox(key, "failed", "", error)
        else:
            self._mark_outbox(key, "retry", _stamp(retry_at), error)

    def _mark_outbox(self, key: str, mode: str, at: str, error: str) -> None:
        """An unknown key means the notifier and the store disagree; say so rather than drop it."""
        if int(_text(self._run(self._mark, self.key("outbox-pending"), key, mode, at, error))) == 0:
            raise KeyError(f"no notification {key!r} in the outbox")

    def notification(self, key: str) -> tuple[Notification, str] | None:
        json, status = _items(self.client.hmget(self.key("outbox", key), ["json", "status"]))
        if json is None:
            return None
        return Notification.model_validate_json(_text(json)), _text(status)

    # ---- retention ---------------------------------------------------------------------------
    def all_cases(self, partnership_id: str | None = None) -> list[Case]:
        cases = self._cases(self.key("cases"), "zset", include_closed=True)
        if partnership_id is None:
            return cases
        return [case for case in cases if case.partnership_id == partnership_id]

    def _scan(self, *parts: str) -> list[str]:
        """Keys under ``{prefix}:parts...*``, without the prefix and parts: a full SCAN of the
        server's keys, which is why only the retention pass uses it."""
        start = self.key(*parts)
        found = self.client.scan_iter(match=_glob(start) + "*", count=1000)
        return [_text(k)[len(start):] for k in found]

    def _outbox_rows(self, *fields: str) -> list[tuple[str, list[object]]]:
        """Every outbox row's key with ``fields``: one SCAN and one pipelined read per batch."""
        keys = self._scan("outbox", "")
        rows: list[tuple[str, list[object]]] = []
        for start in range(0, len(keys), _SCAN_BATCH):
            batch = keys[start:start + _SCAN_BATCH]
            pipe = self.client.pipeline(transaction=False)
            for key in batch:
                pipe.hmget(self.key("outbox", key), list(fields))
            rows += [(key, _items(values))
                     for key, values in zip(batch, pipe.execute(), strict=True)]
        return rows

    def outbox_keys(self, case_ids: list[str]) -> dict[str, list[str]]:
        wanted = set(case_ids)
        owned: dict[str, list[tuple[int, str]]] = {}
        if not wanted:
            return {}
        for key, (owner, seq) in self._outbox_rows("case_id", "seq"):
            if owner is not None and seq is not None and _text(owner) in wanted:
                owned.setdefault(_text(owner), []).append((int(_text(seq)), key))
        return {case_id: [key for _, key in sorted(rows)] for case_id, rows in owned.items()}

    def anonymise_case(
        self, case: Case, expected_version: int, events: list[Event], outbox_keys: list[str]
    ) -> None:
        """The case write's own script, so the version check, the case, its events, its
        deadlines and the listed outbox rows change in one step."""
        if case.version != expected_version + 1:
            raise ValueError(
                f"case {case.id} is at version {case.version}; saving over {expected_version}"
                f" needs version {expected_version + 1}"
            )
        self._write("save", case, expected_version, events, [], [], list(outbox_keys))

    def sent_notification_keys(self, sent_before: datetime) -> list[str]:
        cutoff = _micros(sent_before)
        found: list[tuple[int, str]] = []
        for key, (status, sent_at, seq) in self._outbox_rows("status", "sent_at", "seq"):
            if status is None or sent_at is None or seq is None or _text(status) != "sent":
                continue
            if int(_text(sent_at)) <= cutoff:
                found.append((int(_text(seq)), key))
        return [key for _, key in sorted(found)]

    def delete_sent_notifications(self, keys: list[str], sent_before: datetime) -> int:
        cutoff = _stamp(sent_before)
        gone = 0
        for start in range(0, len(keys), _SCAN_BATCH):
            batch = keys[start:start + _SCAN_BATCH]
            gone += int(_text(self._run(self._delete_sent, self.key("outbox-pending"), cutoff,
                                        *batch)))
        return gone

    def _expired_markers(self, now: datetime) -> list[str]:
        names = self._scan("once", "")
        if not names:
            return []
        cutoff = _micros(now)
        values = self.client.mget([self.key("once", name) for name in names])
        return [name for name, held in zip(names, _items(values), strict=True)
                if held is not None and int(_text(held)) <= cutoff]

    def expired_counts(self, now: datetime) -> tuple[int, int]:
        sessions = int(_text(self.client.zcount(self.key("sessions"), "-inf", _stamp(now))))
        return len(self._expired_markers(now)), sessions

    def purge_markers(self, now: datetime) -> int:
        """Redis forgets a marker by itself after its ttl in real time (PX); this removes those
        expired by the caller's ``now``, which a simulated clock may put ahead."""
        names = self._expired_markers(now)
        gone = 0
        for start in range(0, len(names), _SCAN_BATCH):
            gone += int(_text(self._run(self._purge_markers, self.key("once"), _stamp(now),
                                        *names[start:start + _SCAN_BATCH])))
        return gone

    # ---- platform support and metrics --------------------------------------------------------
    def save_conversation_reference(self, platform: str, user_key: str, reference: str) -> None:
        self.client.hset(self.key("conversation-refs", platform), user_key, reference)

    def conversation_reference(self, platform: str, user_key: str) -> str | None:
        return _optional(self.client.hget(self.key("conversation-refs", platform), user_key))

    def save_session(self, key: str, value: str, expires_at: datetime) -> None:
        # the real-time expiry is a backstop: the caller's clock decides (it may be simulated)
        backstop_ms = max(1, math.ceil((expires_at - datetime.now(UTC)).total_seconds() * 1000))
        self._run(self._save_session, self.key("sessions"), key, value, _stamp(expires_at),
                  max(backstop_ms, SESSION_BACKSTOP_MIN_MS))

    def session(self, key: str, now: datetime) -> str | None:
        return _optional(self._run(self._read_session, self.key("sessions"), key, _stamp(now)))

    def delete_session(self, key: str) -> None:
        self._run(self._delete_session, self.key("sessions"), key)

    def purge_sessions(self, now: datetime) -> int:
        return int(_text(self._run(self._purge_sessions, self.key("sessions"), _stamp(now))))

    def mark_once(self, key: str, now: datetime, ttl_seconds: float) -> bool:
        expires = _stamp(now + timedelta(seconds=ttl_seconds))
        forget_after_ms = max(1, math.ceil(ttl_seconds * 1000))
        marked = self._run(self._mark_once, self.key("once", key), _stamp(now), expires,
                           forget_after_ms)
        return int(_text(marked)) == 1

    def open_case_counts(self) -> dict[tuple[str, int], int]:
        """One hash the write script keeps: /metrics scrapes this, and counting the cases
        themselves blocked the shared Redis for every replica's scrape."""
        rows = self.client.hgetall(self.key("open-counts"))
        if not isinstance(rows, dict):
            raise TypeError(f"expected a hash reply from Redis, got {rows!r}")
        counts: dict[tuple[str, int], int] = {}
        for slot, n in rows.items():
            partnership, _, stage = _text(slot).rpartition(":")
            if int(_text(n)) > 0:
                counts[(partnership, int(stage))] = int(_text(n))
        return counts

    def recount_open_cases(self) -> None:
        """Count the open cases afresh in one script. The write script keeps the counters right;
        this is for an operator who doubts them, or data written by a process without it."""
        self._run(self._rebuild, self.key("layout"), "counts")

