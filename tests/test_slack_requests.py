"""What Slack's requests must be, and what the bot does with odd ones: signatures and their
age, retried events, rate limits, a failing listener, settings."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fake_slack import SECRET, SlackHarness, open_slack, sign
from slack_config import DANA, slack_config, slack_id
from support import derived_config

from bot.settings import Settings, SettingsError
from bot.slack import build_slack, check_slack

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[SlackHarness]:
    config, users = slack_config(tmp_path)
    async with open_slack(tmp_path, users, config) as h:
        yield h


def command_body(user: str, text: str = "status") -> str:
    return f"command=%2Fescalate&text={text}&user_id={user}&team_id=T0NB&trigger_id=t1"


async def test_a_forged_signature_is_refused_401(
    harness: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    body = command_body(slack_id(DANA))
    forged = sign(body, secret="not-the-secret")
    with caplog.at_level(logging.WARNING):
        status, _, _ = await h.post(body, "application/x-www-form-urlencoded", **forged)
    assert status == 401
    assert h.fake.of("chat.postMessage") == []
    refused = [r for r in caplog.records if "signature" in r.getMessage()]
    assert len(refused) == 1


async def test_a_six_minute_old_request_is_refused_401(harness: SlackHarness) -> None:
    h = harness
    body = command_body(slack_id(DANA))
    old = sign(body, timestamp=int(time.time()) - 360)
    status, _, _ = await h.post(body, "application/x-www-form-urlencoded", **old)
    assert status == 401
    fresh = sign(body, timestamp=int(time.time()) - 200)  # within five minutes: accepted
    status, _, _ = await h.post(body, "application/x-www-form-urlencoded", **fresh)
    assert status == 200


async def test_a_retried_event_is_processed_once(harness: SlackHarness) -> None:
    h = harness
    dana = slack_id(DANA)
    event = {"type": "message", "channel_type": "im", "user": dana, "channel": "D1",
             "text": "help", "ts": "1.0"}
    assert (await h.event(event, event_id="Ev0001"))[0] == 200
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert (await h.event(event, event_id="Ev0001", **retry))[0] == 200
    assert len(h.fake.posts_to("D1")) == 1
    assert (await h.event(event, event_id="Ev0002"))[0] == 200  # a new event: answered
    assert len(h.fake.posts_to("D1")) == 2


async def test_the_same_event_at_two_replicas_is_processed_once(tmp_path: Path) -> None:
    from redis_support import URL, fresh_prefix

    from adapters.storage.redis import RedisStore

    config, users = slack_config(tmp_path)
    dana = slack_id(DANA)
    event = {"type": "message", "channel_type": "im", "user": dana, "channel": "D1",
             "text": "help", "ts": "1.0"}
    with fresh_prefix("slack-replicas") as prefix:
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        async with (
            open_slack(tmp_path / "a", users, config,
                       store=RedisStore(URL, prefix=prefix)) as one,
            open_slack(tmp_path / "b", users, config,
                       store=RedisStore(URL, prefix=prefix)) as two,
        ):
            assert (await one.event(event, event_id="EvShared"))[0] == 200
            assert (await two.event(event, event_id="EvShared"))[0] == 200  # Slack's retry
            answered = one.fake.posts_to("D1") + two.fake.posts_to("D1")
            assert len(answered) == 1


async def test_a_429_is_retried_after_retry_after(harness: SlackHarness) -> None:
    h = harness
    h.fake.fail("chat.postMessage", 429, {"ok": False, "error": "ratelimited"},
                **{"Retry-After": "0"})
    assert await h.dm(slack_id(DANA), "help") == 200
    posts = h.fake.posts_to("D" + slack_id(DANA)[1:])
    assert len(posts) == 2  # the refused one and the retry
    assert "escalate" in posts[-1]["text"]


async def test_a_listener_error_is_still_acked_in_time(
    harness: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    h.fake.fail("views.open", 200, {"ok": False, "error": "expired_trigger_id"})
    fields = {"command": "/escalate", "text": "", "user_id": slack_id(DANA), "team_id": "T0NB",
              "trigger_id": "t1"}
    with caplog.at_level(logging.WARNING):
        status, _, seconds = await h.form(fields)
    assert status == 200 and seconds < 1.0
    failed = [r.getMessage() for r in caplog.records if "after the ack" in r.getMessage()]
    assert failed == ["slack command failed after the ack: expired_trigger_id"]
    # a button value the bot never sends: acked, one line, nothing else
    payload = {"type": "block_actions", "user": {"id": slack_id(DANA)}, "team": {"id": "T0NB"},
               "actions": [{"action_id": "esc:0", "value": "{not json"}]}
    status, _, seconds = await h.form({"payload": json.dumps(payload)})
    assert status == 200 and seconds < 1.0
    assert [r.getMessage() for r in caplog.records if "after the ack" in r.getMessage()][-1] == (
        "slack button failed after the ack: ValueError")


async def test_malformed_bodies_are_4xx_not_5xx(harness: SlackHarness) -> None:
    h = harness
    form = "application/x-www-form-urlencoded"
    for body, kind in [("{", "application/json"), ("payload=%7B", form), ("", "text/plain")]:
        status, _, _ = await h.post(body, kind)
        assert 200 <= status < 500, (body, status)


def test_a_token_without_a_signing_secret_refuses_to_start(tmp_path: Path) -> None:
    settings = Settings(config_path=tmp_path / "c.yaml", database_path=tmp_path / "d",
                        extra_packs=None, slack_bot_token="xoxb-1")
    with pytest.raises(SettingsError, match="SLACK_SIGNING_SECRET"):
        check_slack(settings)
    check_slack(settings, socket_mode=True)  # Socket Mode needs no public URL to verify


@pytest.mark.parametrize("url", ["http://slack.example/api/", "ftp://127.0.0.1/", "nonsense"])
def test_an_api_url_off_loopback_must_be_https(tmp_path: Path, url: str) -> None:
    settings = Settings(config_path=tmp_path / "c.yaml", database_path=tmp_path / "d",
                        extra_packs=None, slack_bot_token="x", slack_signing_secret=SECRET,
                        slack_api_url=url)
    with pytest.raises(SettingsError, match="SLACK_API_URL"):
        check_slack(settings)


def test_without_a_token_slack_is_off_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from fake_slack import MONDAY

    from bot.bootstrap import bootstrap
    from dialogs.clock import SimulatedClock

    app = bootstrap(derived_config(tmp_path, lambda d: None), tmp_path / "b.sqlite3",
                    SimulatedClock(MONDAY))
    settings = Settings(config_path=tmp_path / "c.yaml", database_path=tmp_path / "d",
                        extra_packs=None)
    with caplog.at_level(logging.INFO, logger="escalation_bot.slack"):
        assert build_slack(app, settings) is None
    assert [r.getMessage() for r in caplog.records] == ["Slack is off: SLACK_BOT_TOKEN is not set"]
    app.close()


async def test_someone_slack_cannot_place_is_told_how_to_be_added(tmp_path: Path) -> None:
    config, users = slack_config(tmp_path)
    users["UOUTSIDER"] = "nobody@nowhere.example"
    async with open_slack(tmp_path, users, config) as h:
        assert await h.dm("UOUTSIDER", "escalate") == 200
        (said,) = h.fake.posts_to("DOUTSIDER")
        assert "not in the safeguarding partnership's directory" in said["text"]
        assert "nobody@nowhere.example" in said["text"]
        assert h.app.store.open_cases() == []


async def test_a_person_is_found_by_users_info_when_lookup_failed_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config, users = slack_config(tmp_path)
    unwell = [("users.lookupByEmail", 200, {"ok": False, "error": "fatal_error"})] * 2
    with caplog.at_level(logging.WARNING):
        async with open_slack(tmp_path, users, config, failures=unwell) as h:
            assert [r.getMessage() for r in caplog.records
                    if "lookup" in r.getMessage()] == ["slack lookup failed: SlackApiError"] * 2
            dana = slack_id(DANA)
            assert await h.dm(dana, "help") == 200
            assert await h.dm(dana, "status") == 200
            assert [p["user"] for p in h.fake.of("users.info")] == [dana]  # then cached
            assert len(h.fake.posts_to("D" + dana[1:])) == 2


def test_serve_with_a_token_and_no_signing_secret_is_one_line_and_exit_1(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"
    env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-1", "ESCALATION_BOT_DATABASE": str(database)}
    env.pop("SLACK_SIGNING_SECRET", None)
    result = subprocess.run([sys.executable, "-m", "bot.cli", "serve"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "SLACK_SIGNING_SECRET" in lines[0] and lines[0].startswith("settings: ")
    assert not database.exists()  # refused before the store was opened


async def test_slacks_url_check_is_answered_with_its_challenge(harness: SlackHarness) -> None:
    body = json.dumps({"type": "url_verification", "token": "x", "challenge": "c-123"})
    status, text, _ = await harness.post(body, "application/json")
    assert status == 200 and "c-123" in text
