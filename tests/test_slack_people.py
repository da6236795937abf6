"""Slack people in the one directory Teams uses, through the real Bolt app over HTTP against the
fake Slack Web API: an account found by ``users.info`` is bound to the person with that email in
the store (first binding wins), each request records Slack as the platform the person used last,
and someone not in the directory is told how to be added while their business team is told."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from fake_slack import FakeSlack, open_slack
from slack_config import DANA, HANA, channel_id, slack_config, slack_id

BUSINESS = channel_id("console:northbay-business-team")
PAT = "pat.quill@health.northbay.example"  # not in the directory; a Northbay domain
IMPOSTOR = "UIMPOSTOR"  # another Slack account whose profile claims Dana's address


def dm(user: str) -> str:
    return "D" + user[1:]


async def test_a_slack_user_is_bound_by_the_email_slack_gives_and_used_last(
    tmp_path: Path,
) -> None:
    config, users = slack_config(tmp_path)
    dana = slack_id(DANA)
    del users[dana]  # not on Slack at start-up: no id in the configuration, none found
    async with open_slack(tmp_path, users, config) as h:
        store = h.app.store
        assert store.identity("slack", DANA) is None
        h.fake.users[dana] = DANA  # she joins the workspace and writes to the bot
        assert store.last_platform(DANA) is None
        assert await h.dm(dana, "help") == 200
        # bound in the directory's own table, as Teams binds, and Slack recorded as used last
        assert store.identity("slack", DANA) == dana
        assert store.email_for_identity("slack", dana) == DANA
        assert store.last_platform(DANA) == "slack"
        assert await h.dm(dana, "status") == 200
        assert [p["user"] for p in h.fake.of("users.info")] == [dana]  # once: then bound
        # Hana was found by users.lookupByEmail at start-up: bound the same way
        assert store.identity("slack", HANA) == slack_id(HANA)
        # a click or a command records Slack too, for someone who last used Teams
        store.save_last_platform(HANA, "teams")
        assert await h.command(slack_id(HANA), "status") == 200
        assert store.last_platform(HANA) == "slack"


async def test_an_account_claiming_a_bound_address_takes_nothing_over(tmp_path: Path) -> None:
    config, users = slack_config(tmp_path)
    async with open_slack(tmp_path, users, config) as h:
        dana = slack_id(DANA)
        assert await h.dm(dana, "help") == 200  # Dana's own account is bound first
        h.fake.users[IMPOSTOR] = DANA
        assert await h.dm(IMPOSTOR, "status") == 200
        (said,) = h.fake.posts_to(dm(IMPOSTOR))
        assert "with another Slack account" in said["text"]
        assert h.app.store.identity("slack", DANA) == dana  # the first binding stays
        assert h.app.store.email_for_identity("slack", IMPOSTOR) is None
        (alert,) = h.fake.posts_to(BUSINESS)
        shown = json.dumps(FakeSlack.blocks(alert))
        assert DANA in shown and "other than the one the directory holds" in shown, shown


async def test_a_stranger_is_told_how_to_be_added_and_the_business_team_who_asked(
    tmp_path: Path,
) -> None:
    config, users = slack_config(tmp_path)
    async with open_slack(tmp_path, users, config) as h:
        h.fake.users["UPAT"], h.fake.names["UPAT"] = PAT, "Pat Quill"
        assert await h.command("UPAT", "") == 200  # /escalate: no modal for a stranger
        assert h.fake.of("views.open") == []
        (said,) = h.fake.posts_to("UPAT")
        assert "I don't know you yet" in said["text"] and PAT in said["text"]
        assert "business team" in said["text"]
        (alert,) = h.fake.posts_to(BUSINESS)
        shown = json.dumps(FakeSlack.blocks(alert))
        assert "Pat Quill" in shown and PAT in shown and "on Slack" in shown, shown
        assert FakeSlack.buttons(alert) == []
        # her domain is Northbay's: the other partnerships' business teams are not told
        store = h.app.store
        assert store.notification(f"directory_request:havenport:{PAT}:2027-02-01") is None
        assert store.identity("slack", PAT) is None and store.last_platform(PAT) is None

        assert await h.dm("UPAT", "status") == 200  # again the same day: the team not told
        assert len(h.fake.posts_to(dm("UPAT"))) == 1
        assert len(h.fake.posts_to(BUSINESS)) == 1
        h.clock.advance(timedelta(days=1))
        assert await h.dm("UPAT", "hello?") == 200
        assert len(h.fake.posts_to(BUSINESS)) == 2
        assert store.open_cases() == []

