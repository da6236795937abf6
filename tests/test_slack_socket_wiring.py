"""The bot's own Slack app over Socket Mode (bot/slack_socket.py's link, wired by
build_web_app when SLACK_APP_TOKEN is set): a slash command down the WebSocket is acked and
answered through the same conversation service; with no signing secret nothing is served over
HTTP, where nothing could be verified."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fake_slack import open_slack
from fake_socket_mode import APP_TOKEN, FakeSocketMode, slash_command
from slack_config import DANA, slack_config, slack_id


@pytest.fixture
async def socket() -> AsyncIterator[FakeSocketMode]:
    server = FakeSocketMode()
    await server.start()
    yield server
    await server.stop()


async def test_a_command_over_socket_mode_is_acked_and_answered(
    tmp_path: Path, socket: FakeSocketMode
) -> None:
    config, users = slack_config(tmp_path)
    async with open_slack(tmp_path, users, config, socket=socket, slack_app_token=APP_TOKEN,
                          slack_signing_secret="") as h:
        await socket.wait_connections(1)
        dana = slack_id(DANA)
        envelope = await socket.send(slash_command("status", user=dana))
        ack = await socket.ack(envelope)
        assert ack["envelope_id"] == envelope
        await h.settle()  # the listener registered its work before it acked
        assert "You have no open cases." in json.dumps(h.fake.posts_to(dana)[-1])
        # no signing secret: the HTTP route is not there to be forged
        form = "application/x-www-form-urlencoded"
        status, _, _ = await h.post("command=%2Fescalate&user_id=U1", form)
        assert status in (404, 405)
