"""A bounded, seeded fuzz of POST /api/messages: real activities (a message, a mention,
Action.Submit, Action.Execute invokes for the intake form, a case button and a refresh,
conversationUpdate and installationUpdate), mutated (keys deleted, types changed, odd numbers and
unicode, deep nesting, broken JSON, wrong content types and headers, bad service URLs) and sent
over real HTTP to the real ``build_web_app`` in no-credential mode on loopback.

Every answer must be below 500, and the log must hold no traceback: a malformed request is
answered 4xx with one log line, and a well-formed one is simply handled. The seed is fixed, so a
failure replays exactly; ``FUZZ_SEED`` and ``FUZZ_MUTATIONS`` run others.
"""

from __future__ import annotations

import copy
import json
import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from teams_harness import DANA, HANA, Harness, intake_values, open_harness

SEED = int(os.environ.get("FUZZ_SEED", "20270201"))
MUTATIONS = int(os.environ.get("FUZZ_MUTATIONS", "600"))
DEEP = "__deep__"

ODD: list[Any] = [
    None, True, False, 0, -1, 2**63, 1.5e308, -0.0, "", " ", "\u00b2", "\u0661", "9" * 40,
    "\x00", "\u202e", "\ud83d\ude00", "\ufeff", "<at>(</at>", "<at></at>", "a" * 5000, "\\",
    "%s%n", "../../", "http://10.0.0.1/", [], [None], {}, {"id": None}, {"id": 5},
    [[[[[[[[[[1]]]]]]]]]], "\ud800",
]
SERVICE_URLS: list[Any] = [
    None, "", 5, [], "http://", "https://", "127.0.0.1:3978", "http://127.0.0.1:99999",
    "http://127.0.0.1:-1", "http://[::1", "ftp://127.0.0.1/", "http://10.0.0.1:3978",
    "https://smba.trafficmanager.net/emea/", "http://user@127.0.0.1/", "http://127.0.0.1 /",
    "http://127.0.0.1\n.evil/", "http://l\u043ecalhost/",  # a Cyrillic o
]
CONTENT_TYPES = [
    "text/plain", "text/plain;x=application/json", "application/json;charset=application/json",
    "application/json;charset=utf-16", "application/json; x=1", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x", "application/json,", "", "application/json;charset=",
]
HEADERS = [
    {"Origin": "http://evil.example"}, {"Origin": "null"}, {"Host": "evil.example"},
    {"Host": "127.0.0.1.nip.io"}, {"Host": "[::1"},
]


def seeds(h: Harness, case_id: str, version: int) -> list[dict[str, Any]]:
    mention = {"type": "mention", "mentioned": {"id": "28:bot", "name": "Escalation bot"},
               "text": "<at>Escalation bot</at>"}

    def invoke(who: tuple[str, str], verb: str, data: dict[str, Any]) -> dict[str, Any]:
        return h.activity(who, type="invoke", name="adaptiveCard/action",
                          value={"action": {"type": "Action.Execute", "verb": verb,
                                            "data": data}})

    return [
        h.activity(DANA, text="status"),
        h.activity(DANA, text="<at>Escalation bot</at> help", entities=[mention]),
        h.activity(HANA, value={"verb": "acknowledge", "case_id": case_id,
                                "version": str(version)}),
        invoke(HANA, "acknowledge", {"case_id": case_id, "version": str(version)}),
        invoke(HANA, "escalate", {"case_id": case_id, "version": str(version), "submit": "1",
                                  "unresolved": "Whether it is needed"}),
        invoke(HANA, "refresh", {"case_id": case_id}),
        invoke(DANA, "intake", {**intake_values(h.app), "start_stage": "2"}),
        h.activity(DANA, type="conversationUpdate",
                   membersAdded=[{"id": "28:bot"}, {"id": f"29:{DANA[1]}"}]),
        h.activity(DANA, type="installationUpdate", action="add"),
    ]


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in a JSON tree (dict keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, (*prefix, index))
    return found


def parent(tree: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        tree = tree[step]
    return tree


def mutate(rng: random.Random, activity: dict[str, Any]) -> tuple[str, bytes, dict[str, str]]:
    """One mutation: (its kind, the body, the request headers)."""
    headers = {"Content-Type": "application/json"}
    roll = rng.random()
    if roll < 0.06:
        headers["Content-Type"] = rng.choice(CONTENT_TYPES)
        return "content type", json.dumps(activity).encode(), headers
    if roll < 0.10:
        return "header", json.dumps(activity).encode(), {**headers, **rng.choice(HEADERS)}
    if roll < 0.16:
        text = json.dumps(activity)
        raw = rng.choice([
            text[: rng.randrange(len(text))].encode(), b"\xff" + text.encode(),
            text.encode("utf-16"), b"[]", b"null", b'"activity"', b"",
            text.replace('"message"', "NaN", 1).encode(),
        ])
        return "broken JSON", raw, headers
    tree = copy.deepcopy(activity)
    kind = "service URL"
    if roll < 0.24:
        tree["serviceUrl"] = rng.choice(SERVICE_URLS)
    else:
        for _ in range(rng.randint(1, 3)):
            found = paths(tree)
            if not found:
                break
            path = rng.choice(found)
            holder, key = parent(tree, path), path[-1]
            operation = rng.choice(["delete", "odd", "retype", "deep"])
            kind = operation
            if operation == "delete":
                del holder[key]
            elif operation == "odd":
                holder[key] = copy.deepcopy(rng.choice(ODD))
            elif operation == "retype":
                value = holder[key]
                holder[key] = rng.choice([str(value), [value], {"x": value}, 7, None])
            else:
                holder[key] = DEEP
    text = json.dumps(tree)
    depth = rng.choice([20, 200, 5000])
    text = text.replace(f'"{DEEP}"', "[" * depth + "]" * depth)
    return kind, text.encode(), headers


async def test_fuzzed_activities_never_get_a_5xx(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    rng = random.Random(SEED)
    async with open_harness(tmp_path) as h:
        await h.say(DANA, "escalate")
        await h.click(DANA, "intake", intake_values(h.app))
        (case,) = h.app.store.open_cases()
        originals = seeds(h, case.id, case.version)
        statuses: Counter[int] = Counter()
        failures: list[tuple[str, int, bytes]] = []
        started = time.monotonic()
        for _ in range(MUTATIONS):
            kind, body, headers = mutate(rng, rng.choice(originals))
            status = await h.post_raw(body, headers)
            statuses[status] += 1
            if status >= 500:
                failures.append((kind, status, body[:300]))
        elapsed = time.monotonic() - started
        await h.tick()  # what the turns queued, delivered before the logs are read
        records = list(caplog.records)
    refused = sum(n for status, n in statuses.items() if 400 <= status < 500)
    handled = sum(statuses.values()) - refused
    print(f"\nfuzz: seed {SEED}, {MUTATIONS} mutations in {elapsed:.1f}s: {refused} 4xx, "
          f"{handled} other; {dict(sorted(statuses.items()))}")
    assert failures == []
    problems = [r for r in records if r.exc_info or "Traceback" in r.getMessage()]
    assert [f"{r.name}: {r.getMessage()}" for r in problems] == []
    refusals = [r for r in records if r.getMessage() == "teams request refused"]
    assert len(refusals) == refused  # one log line per refused request
    assert refused > MUTATIONS // 4 and handled > MUTATIONS // 10  # the fuzz reaches the bot
