"""A case whose parties are on Teams and on Slack, end to end, through the fake Bot Connector and
the fake Slack Web API together in one bot (cross_harness.py): each party on their own platform,
the channel alerts on each, one record, one set of deadlines; a change made on one platform
redraws the other's copies at once; someone on both hears each message once, where they were
last."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cross_harness import BUSINESS, MANAGERS, SENIOR, Both, open_both
from fake_slack import FakeSlack
from slack_config import slack_id
from teams_harness import CAL, DANA, GUS, HANA, IVO, card_text, intake_values

from dialogs.events import EventType

TEAMS_MANAGERS = {"id": MANAGERS, "conversationType": "channel", "tenantId": "tenant-1"}


def chat(who: tuple[str, str]) -> str:
    return f"a:chat-with-{who[1]}"


def teams_seen(both: Both, who: tuple[str, str]) -> str:
    cards = [card_text(c) for c in both.connector.cards_to(chat(who))]
    return " ".join([*both.connector.texts_to(chat(who)), *cards])


def slack_seen(both: Both, email: str) -> str:
    """Every message in a Slack user's DM as drawn now, and what the bot said there."""
    user = slack_id(email)
    posts = [*both.fake.posts_to(user), *both.fake.posts_to("D" + user[1:])]
    return " ".join(json.dumps(FakeSlack.blocks(both.fake.current(p) if "_at" in p else p))
                    + str(p.get("text", "")) for p in posts)


def button(message: dict[str, Any], verb: str) -> dict[str, Any]:
    return next(b for b in FakeSlack.buttons(message) if json.loads(b["value"])["v"] == verb)


async def installed(both: Both) -> None:
    """Teams: someone in the tenant has talked to the bot (so it can open new chats there), and
    the bot has been added to the managers' channel (so it can post alerts in it)."""
    await both.teams.post(both.teams.activity(IVO, text="hi", conversation=TEAMS_MANAGERS))
    assert await both.teams.say(HANA, "help") == 201


async def test_raised_in_slack_with_a_counterpart_on_teams(tmp_path: Path) -> None:
    async with open_both(tmp_path) as both:
        s, store = both.slack, both.teams.app.store
        await installed(both)
        dana, gus_slack = slack_id(DANA[0]), slack_id(GUS[0])
        assert await s.dm(gus_slack, "help") == 200  # Gus, on both, last wrote on Slack

        # Dana raises it from the /escalate modal in Slack, naming Hana (on Teams)
        assert await s.command(dana) == 200
        assert await s.submit(dana, s.last_modal(), intake_values(both.teams.app)) == {}
        case = both.case()
        assert "has raised a professional difference with you" in teams_seen(both, HANA)
        (alert,) = both.fake.posts_to(BUSINESS)  # the business team's Slack channel
        assert "New professional difference NB-0001" in json.dumps(FakeSlack.blocks(alert))
        assert "Jamie" not in str(alert) and FakeSlack.buttons(alert) == []
        raised = both.fake.posts_to(dana)[-1]
        assert both.versions(raised) == {str(case.version)}

        # Hana escalates from her card in Teams: Dana's Slack copy is redrawn in place at once,
        # with no button left from the version before
        data = {"case_id": case.id, "version": str(case.version)}
        await both.teams.click(HANA, "escalate", data)
        await both.teams.click(HANA, "escalate",
                               {**data, "submit": "1", "unresolved": "Whether it is needed"})
        await both.settle()
        case = both.case()
        assert case.stage == 2
        redrawn = both.fake.current(raised)
        assert redrawn is not raised and redrawn["ts"] == raised["_at"][1]
        assert both.versions(redrawn) <= {str(case.version), None}
        assert all(both.versions(m) <= {str(case.version), None}
                   for m in both.slack_copies(dana))

        # stage 2: Dana's line manager in Slack, Hana's (Gus, on both) once, where he was last
        assert "stage 2" in slack_seen(both, CAL[0])
        assert "stage 2" in slack_seen(both, GUS[0])
        assert chat(GUS) not in [f"a:chat-with-{c['members'][0]['id']}"
                                 for c in both.connector.created]
        assert not both.connector.cards_to(chat(GUS))
        # the stage 2 alert in the Teams channel, without the child's details
        managers = [card_text(c) for c in both.connector.cards_to(MANAGERS)]
        assert managers and "NB-0001" in managers[-1] and "Jamie" not in " ".join(managers)

        # Gus now uses Teams: from here his messages go there
        assert await both.teams.say(GUS, "status") == 201
        assert store.last_platform(GUS[0]) == "teams"
        slack_before = len(both.fake.posts_to(gus_slack))

        # nobody acts at stage 2: one lapse, one escalation, and both platforms hear
        both.teams.clock.set(case.stage_due_at + timedelta(minutes=1))
        await both.settle()
        await both.settle()  # a second tick finds nothing more to do
        case = both.case()
        assert case.stage == 3
        lapsed = [e for e in store.history(case.id) if e.summary == "escalated: deadline lapsed"]
        assert len(lapsed) == 1
        assert all(both.versions(m) <= {str(case.version), None}  # redrawn after the lapse
                   for m in both.slack_copies(dana))
        both.teams.clock.set(datetime(2027, 2, 5, 9, 30, tzinfo=UTC))  # held overnight
        await both.settle()
        assert "stage 3" in json.dumps([FakeSlack.blocks(p) for p in both.fake.posts_to(SENIOR)])
        assert "stage 3" in teams_seen(both, HANA)
        assert "stage 3" in slack_seen(both, DANA[0])
        assert "stage 3" in teams_seen(both, GUS)
        assert len(both.fake.posts_to(gus_slack)) == slack_before  # not on Slack as well

        # one record, one set of deadlines
        assert [c.id for c in store.open_cases()] == [case.id]
        types = [e.type for e in store.history(case.id)]
        assert types.count(EventType.CONCERN_RAISED) == 1
        assert types.count(EventType.DEADLINE_LAPSED) == 1
        assert store.deadlines_for_case(case.id)  # stage 3's, kept with the one case


async def test_a_teams_click_redraws_the_slack_copies_before_anything_is_delivered(
    tmp_path: Path,
) -> None:
    async with open_both(tmp_path) as both:
        s = both.slack
        await installed(both)
        dana = slack_id(DANA[0])
        assert await s.command(dana) == 200
        assert await s.submit(dana, s.last_modal(), intake_values(both.teams.app)) == {}
        case = both.case()
        raised = both.fake.posts_to(dana)[-1]
        # Slack takes no new message for a while, so what is queued cannot be delivered there:
        # only the change itself can redraw Dana's copy
        for _ in range(20):
            both.fake.fail("chat.postMessage", 200, {"ok": False, "error": "service_unavailable"})
        # Hana acknowledges in Teams
        body = both.teams.activity(HANA, type="invoke", name="adaptiveCard/action", value={
            "action": {"type": "Action.Execute", "verb": "acknowledge",
                       "data": {"case_id": case.id, "version": str(case.version)}}})
        status, _ = await both.teams.post(body)
        assert status == 200
        # the redraws, the delivery tick the click started (its failures go on the case from a
        # worker thread, a change of their own), then their redraws: only then is there a
        # version the copy must show
        await both.settle()
        case = both.case()
        assert EventType.ACKNOWLEDGED in [e.type for e in both.teams.app.store.history(case.id)]
        redrawn = both.fake.current(raised)
        assert redrawn is not raised  # chat.update'd in place
        assert both.versions(redrawn) == {str(case.version)}  # its buttons at the new version
        both.fake.failures.clear()
        # an old button pressed anyway changes nothing and says so, to Dana only
        assert await s.click(dana, FakeSlack.buttons(raised)[0], raised) == 200
        said = both.fake.of("chat.postEphemeral")[-1]
        assert said["user"] == dana and "Nothing was changed" in said["text"]


async def test_raised_in_teams_with_a_counterpart_on_slack(tmp_path: Path) -> None:
    async with open_both(tmp_path) as both:
        s, store = both.slack, both.teams.app.store
        await installed(both)
        dana = slack_id(DANA[0])
        # Hana raises it in Teams against Dana, who is on Slack
        assert await both.teams.say(HANA, "/escalate") == 201
        card = await both.teams.click(HANA, "intake",
                                      intake_values(both.teams.app, counterpart=DANA[0]))
        assert "Case NB-0001 raised" in card_text(card)
        case = both.case()
        ping = both.fake.posts_to(dana)[-1]
        assert "has raised a professional difference with you" in json.dumps(
            FakeSlack.blocks(ping))
        assert both.versions(ping) == {str(case.version)}
        (alert,) = both.fake.posts_to(BUSINESS)
        assert "Jamie" not in str(alert) and FakeSlack.buttons(alert) == []

        # Dana cannot agree: the button opens its form as a modal in Slack, then stage 2
        assert await s.click(dana, button(ping, "escalate"), ping) == 200
        assert await s.submit(dana, s.last_modal(), {"unresolved": "Whether it is needed"}) == {}
        case = both.case()
        assert case.stage == 2
        # Hana's line manager Gus is on both and has used neither: Teams, the fixed choice
        assert "stage 2" in teams_seen(both, GUS)
        assert not both.fake.posts_to(slack_id(GUS[0]))
        assert "stage 2" in slack_seen(both, CAL[0])  # Dana's, on Slack
        assert [card_text(c) for c in both.connector.cards_to(MANAGERS)]
        # Hana's Teams card shows the case as it is now when she opens it
        now = await both.teams.click(HANA, "refresh", {"case_id": case.id})
        assert "stage 2" in card_text(now).lower() or "Stage 2" in card_text(now)
        assert [c.id for c in store.open_cases()] == [case.id]
        # Dana's own Slack copies carry no button from before
        assert all(both.versions(m) <= {str(case.version), None}
                   for m in both.slack_copies(dana))
