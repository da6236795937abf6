"""Slack conversations beyond the one whole case in test_slack.py: every seed procedure, the
typed commands, the App Home tab, typing in the DM, and what channels may see."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fake_slack import FakeSlack, SlackHarness, open_slack
from slack_config import DANA, HANA, slack_config, slack_id

from bot.demo import demo_answers, outcome_answers
from dialogs.case import CaseStatus

PARTNERSHIPS = {"nsscp": "northbay", "st-helens": "havenport", "sp-jersey": "carrow",
                "jersey-spb-2014": "carrow-board"}


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[SlackHarness]:
    config, users = slack_config(tmp_path)
    async with open_slack(tmp_path, users, config) as h:
        yield h


def button(params: dict[str, Any], verb: str) -> dict[str, Any]:
    return next(b for b in FakeSlack.buttons(params) if json.loads(b["value"])["v"] == verb)


def dm(user: str) -> str:
    return "D" + user[1:]


@pytest.mark.parametrize("policy_id", sorted(PARTNERSHIPS))
async def test_every_procedure_from_the_modal_to_a_recorded_resolution(
    harness: SlackHarness, policy_id: str
) -> None:
    h = harness
    partnership = PARTNERSHIPS[policy_id]
    policy = h.app.policies.get(policy_id)
    people = h.app.engine.people(partnership)
    agencies = [a.id for a in h.app.config.agencies if a.partnership == partnership]
    raiser, counterpart = (
        next(p for p in people.values() if p.agency == agency and p.role == policy.raiser_role)
        for agency in agencies
    )
    values = {**demo_answers(policy, counterpart), "child_dob": "2016-04-12"}
    if policy.pathway is not None:
        values["pathway"] = next(o.id for o in policy.pathway.options if o.continues_to_procedure)
    assert await h.command(slack_id(raiser.email)) == 200
    view = h.last_modal()
    if policy.pathway is not None:  # the Jersey pathway question comes first, as in Teams
        assert next(b["block_id"] for b in view["blocks"] if b["type"] == "input") == "pathway"
    if policy.immediate_risk.allows_later_start:
        assert "start_stage" in [b.get("block_id") for b in view["blocks"]]
    assert await h.submit(slack_id(raiser.email), view, values) == {}
    (case,) = h.app.store.open_cases(partnership)
    posted = h.fake.posts_to(slack_id(counterpart.email))[-1]
    assert "has raised a professional difference with you" in json.dumps(posted)
    ping = h.fake.current(posted)
    user = slack_id(counterpart.email)
    opened = len(h.fake.of("views.open"))
    assert await h.click(user, button(ping, "resolve"), ping) == 200
    assert len(h.fake.of("views.open")) == opened + 1, h.fake.of("chat.postEphemeral")
    answers = {"summary": "We agreed the next steps together.",
               "agreed_actions.1.what": "Joint visit", "agreed_actions.1.who": counterpart.email,
               "agreed_actions.1.due": "2027-02-15", **outcome_answers(policy)}
    ack = await h.submit(user, h.last_modal(), answers)
    assert ack == {}, ack
    done = h.app.store.get_case(case.id)
    assert done is not None and done.status is CaseStatus.RESOLVED
    assert f"Case {case.reference} resolved at stage 1" in json.dumps(
        h.fake.posts_to(user)[-1])
    assert done.record_for(1).agreed_actions[0].due.isoformat() == "2027-02-15"


async def test_status_help_show_and_the_home_tab(harness: SlackHarness) -> None:
    h = harness
    dana = slack_id(DANA)
    assert await h.command(dana, "help") == 200
    assert "*escalate*: raise a professional difference" in h.fake.posts_to(dana)[-1]["text"]
    assert await h.command(dana, "status") == 200
    assert "You have no open cases." in json.dumps(h.fake.posts_to(dana)[-1])
    # raise one by typing in the DM, as the Teams text fallback
    assert await h.dm(dana, "escalate") == 200
    assert "Fill in the card, or answer here" in json.dumps(h.fake.posts_to(dm(dana)))
    await h.command(dana)
    view = h.last_modal()
    people = h.app.engine.people("northbay")
    values = {**demo_answers(h.app.policies.get("nsscp"), people[HANA]), "child_dob": "2016-04-12"}
    assert await h.submit(dana, view, values) == {}
    (case,) = h.app.store.open_cases()
    assert await h.command(dana, f"show {case.reference}") == 200
    shown = h.fake.posts_to(dana)[-1]
    assert f"Case {case.reference}" in json.dumps(shown)
    # the App Home tab: her open case, what is due, a button to open it
    status, _ = await h.event({"type": "app_home_opened", "user": dana, "tab": "home"})
    assert status == 200
    home = h.fake.of("views.publish")[-1]
    view = json.loads(home["view"]) if isinstance(home["view"], str) else home["view"]
    assert home["user_id"] == dana and view["type"] == "home"
    assert case.reference in json.dumps(view) and "due" in json.dumps(view)
    opener = next(e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert await h.click(dana, opener, {"channel": dana}) == 200
    assert f"Case {case.reference}" in json.dumps(h.fake.posts_to(dana)[-1])


async def test_channels_get_alerts_without_child_details_and_nothing_is_logged(
    harness: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    dana = slack_id(DANA)
    people = h.app.engine.people("northbay")
    values = {**demo_answers(h.app.policies.get("nsscp"), people[HANA]),
              "child_dob": "2016-04-12", "child_name": "Zebedee Quinlan"}
    with caplog.at_level(logging.DEBUG):
        await h.command(dana)
        assert await h.submit(dana, h.last_modal(), values) == {}
        (case,) = h.app.store.open_cases()
        # a lapse to stage 2 alerts the managers' channel
        h.clock.set(case.stage_due_at)
        await h.tick()
        moved = h.app.store.get_case(case.id)
        assert moved is not None and moved.stage == 2
        h.clock.set(moved.stage_due_at + timedelta(hours=20))
        await h.tick()
    channel_posts = [p for p in h.fake.of("chat.postMessage") if str(p["channel"]).startswith("C")]
    assert channel_posts, "no channel alert was sent"
    child = [v for k, v in values.items() if k.startswith("child") and v]
    for post in channel_posts:
        assert not FakeSlack.buttons(post)
        for detail in child:
            assert detail not in json.dumps(post)
    assert any("Zebedee" in json.dumps(p) for p in h.fake.posts_to(slack_id(HANA)))  # 1:1 only
    for record in caplog.records:
        assert "Zebedee" not in record.getMessage() and "Quinlan" not in record.getMessage()
    # every direct message went to someone the engine lets see the case
    emails = {slack_id(p.email): p.email for p in people.values()}
    readers = {str(p["channel"]) for p in h.fake.of("chat.postMessage")
               if str(p["channel"]).startswith("U")}
    assert len(readers) >= 6
    for reader in readers:
        h.app.engine.view(case.id, emails[reader])  # raises for anyone not entitled


async def test_a_command_in_a_channel_is_answered_in_the_dm(harness: SlackHarness) -> None:
    h = harness
    dana = slack_id(DANA)
    assert await h.command(dana, "status", channel="CTEAMROOM") == 200
    assert h.fake.posts_to("CTEAMROOM") == []  # nothing about cases in the channel
    assert "You have no open cases." in json.dumps(h.fake.posts_to(dana)[-1])
    (note,) = h.fake.of("chat.postEphemeral")
    assert note["channel"] == "CTEAMROOM" and note["user"] == dana
    assert "direct messages" in note["text"]
