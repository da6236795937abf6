"""Slack end to end: the real Bolt app in the real aiohttp server, requests signed as Slack
signs them, a fake Slack Web API on loopback recording every call (``fake_slack.py``).

Time moves only through the simulated clock; the scheduler's tick is run explicitly.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fake_slack import FakeSlack, SlackHarness, open_slack
from slack_config import DANA, HANA, slack_config, slack_id

from bot.demo import demo_answers
from dialogs.case import CaseStatus
from dialogs.events import EventType

CAL = "cal.birch@council.northbay.example"
GUS = "gus.penn@health.northbay.example"
BEA = "bea.lane@council.northbay.example"


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[SlackHarness]:
    config, users = slack_config(tmp_path)
    async with open_slack(tmp_path, users, config) as h:
        yield h


def dm(email: str) -> str:
    return "D" + slack_id(email)[1:]


def text_of(params: dict[str, Any]) -> str:
    return json.dumps(FakeSlack.blocks(params)) + str(params.get("text", ""))


def button(params: dict[str, Any], verb: str) -> dict[str, Any]:
    return next(b for b in FakeSlack.buttons(params) if json.loads(b["value"])["v"] == verb)


def intake_values(h: SlackHarness, counterpart: str = HANA) -> dict[str, str]:
    policy = h.app.policies.get("nsscp")
    people = h.app.engine.people("northbay")
    return {**demo_answers(policy, people[counterpart]), "child_dob": "2016-04-12"}


async def test_a_case_from_the_escalate_modal_to_resolution(harness: SlackHarness) -> None:
    h, fake = harness, harness.fake
    dana, hana = slack_id(DANA), slack_id(HANA)
    # Hana has no Slack id in the configuration: found by her email at start-up
    assert {"email": HANA} in [{"email": p["email"]} for p in fake.of("users.lookupByEmail")]

    # /escalate opens the intake form as a modal, immediate-risk guidance first
    assert await h.command(dana) == 200
    view = h.last_modal()
    assert view["type"] == "modal" and len(view["title"]["text"]) <= 24
    kinds = [b["type"] for b in view["blocks"]]
    ids = [b.get("block_id") for b in view["blocks"]]
    assert "If the child is at immediate risk" in json.dumps(view["blocks"][:3])
    assert kinds.index("input") > 1 and ids.index("immediate_risk") < ids.index("counterpart")

    # the engine's own validation comes back inline, on the right fields
    bad = {**intake_values(h), "child_dob": "31/02/2016", "summary": ""}
    ack = await h.submit(dana, view, bad)
    assert ack["response_action"] == "errors"
    assert "is not a date I can read" in ack["errors"]["child_dob"]
    assert ack["errors"]["summary"] == "This is needed."
    assert h.app.store.open_cases() == []

    ack = await h.submit(dana, view, intake_values(h))
    assert ack == {}  # the modal closes
    (case,) = h.app.store.open_cases()
    raised = fake.posts_to(dana)[-1]
    assert "Case NB-0001 raised" in text_of(raised)
    ping = fake.posts_to(hana)[-1]
    assert "has raised a professional difference with you" in text_of(ping)
    verbs = {json.loads(b["value"])["v"] for b in FakeSlack.buttons(ping)}
    assert {"resolve", "escalate", "acknowledge"} <= verbs

    # Hana acknowledges with a button: every copy of the case is redrawn in place
    before = len(fake.of("chat.update"))
    assert await h.click(hana, button(ping, "acknowledge"), ping) == 200
    case = h.app.store.get_case(case.id)
    assert case is not None and EventType.ACKNOWLEDGED in [
        e.type for e in h.app.store.history(case.id)]
    updated = fake.of("chat.update")[before:]
    assert {u["channel"] for u in updated} >= {dm(DANA), dm(HANA)}
    assert all(
        json.loads(b["value"])["d"].get("version") in (None, str(case.version))
        for u in updated for b in FakeSlack.buttons(u)
    )  # no button left drawn from an older version

    # a second click on the old button changes nothing and says so, to Hana only
    assert await h.click(hana, button(ping, "acknowledge"), ping) == 200
    said = fake.of("chat.postEphemeral")[-1]
    assert said["user"] == hana and "Nothing was changed" in said["text"]

    # Hana cannot agree: the escalate button opens its form as a modal, then stage 2 starts
    fresh = [u for u in fake.of("chat.update") if u["channel"] == dm(HANA)][-1]
    escalate = button(fresh, "escalate")
    assert await h.click(hana, escalate, ping) == 200
    form = h.last_modal()
    assert [b["block_id"] for b in form["blocks"] if b["type"] == "input"] == ["unresolved"]
    assert await h.submit(hana, form, {"unresolved": "Whether it is needed"}) == {}
    case = h.app.store.get_case(case.id)
    assert case is not None and case.stage == 2
    assert fake.posts_to(slack_id(CAL)) and fake.posts_to(slack_id(GUS))  # both line managers

    # Bea is not on the case: her click is refused without naming it
    bea = slack_id(BEA)
    assert await h.click(bea, escalate, ping) == 200
    refused = fake.of("chat.postEphemeral")[-1]
    assert refused["user"] == bea and "I can't find that case" in refused["text"]
    assert "NB-0001" not in refused["text"]

    # nobody acts at stage 2: the deadline lapses through the clock
    h.clock.set(case.stage_due_at + timedelta(minutes=1))
    await h.tick()
    case = h.app.store.get_case(case.id)
    assert case is not None and case.stage == 3

    # Bea, now on the case, resolves it from her message's button and modal
    h.clock.set(datetime(2027, 2, 5, 9, 30, tzinfo=UTC))
    await h.tick()
    mine = fake.posts_to(bea)[-1]
    assert await h.click(bea, button(mine, "resolve"), mine) == 200
    form = h.last_modal()
    # agreed actions are rows: add a second, remove the first, every value kept
    values = {"summary": "Agreed a joint assessment.", "agreed_actions.1.what": "Joint visit",
              "agreed_actions.1.who": BEA}
    form = await h.press_in(bea, form, "esc:row:add", values)
    ids = [b["block_id"].split("~")[0] for b in form["blocks"] if b["type"] == "input"]
    assert "agreed_actions.2.what" in ids
    shown = {b["block_id"].split("~")[0]: b for b in form["blocks"] if b["type"] == "input"}
    assert shown["agreed_actions.1.what"]["element"]["initial_value"] == "Joint visit"
    values["agreed_actions.2.what"] = "Share the plan"
    before = {b.get("block_id") for b in form["blocks"] if b["type"] == "input"}
    form = await h.press_in(bea, form, "esc:row:1", values)  # Remove action 1
    shown = {b["block_id"].split("~")[0]: b for b in form["blocks"] if b["type"] == "input"}
    assert shown["agreed_actions.1.what"]["element"]["initial_value"] == "Share the plan"
    assert "agreed_actions.2.what" not in shown
    # new block ids: Slack keeps what was typed under an id it has seen, whatever the view says
    assert not before & {b["block_id"] for b in form["blocks"] if b["type"] == "input"}
    values = {"summary": "Agreed a joint assessment.", "agreed_actions.1.what": "Joint visit",
              "agreed_actions.1.who": BEA}
    ack = await h.submit(bea, form, values)  # no date given: the engine says so on that field
    (where,) = [k for k in ack["errors"] if k.startswith("agreed_actions.1.due")]
    assert where in {b.get("block_id") for b in form["blocks"]}
    values["agreed_actions.1.due"] = "2027-02-12"
    assert await h.submit(bea, form, values) == {}
    done = h.app.store.get_case(case.id)
    assert done is not None and done.status is CaseStatus.RESOLVED
    # every copy is redrawn without buttons: the case is closed
    last = {}
    for update in fake.of("chat.update"):
        last[(update["channel"], update["ts"])] = update
    assert last and all(not FakeSlack.buttons(u) for u in last.values())

    # the channels got alerts, never with buttons
    channel_posts = [p for p in fake.of("chat.postMessage") if str(p["channel"]).startswith("C")]
    assert channel_posts and all(not FakeSlack.buttons(p) for p in channel_posts)
