"""Slack requests as Slack sends them, for the Slack ack benchmark and its test: a slash command
and a button click (``block_actions``), form-encoded and signed with the app's signing secret
(Slack's v0 scheme: HMAC-SHA256 over ``v0:TIMESTAMP:BODY``, sent as ``X-Slack-Signature`` with
``X-Slack-Request-Timestamp``). Kept apart from the benchmark so a test can prove a real Bolt app
accepts them; a signing change would otherwise only show as a benchmark of 401s."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

TEAM, APP_ID = "T0BENCH", "A0BENCH"


def signature_headers(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + stamp.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
    }


def slash_command_body(
    n: int, user: str, text: str = "status", command: str = "/escalate"
) -> bytes:
    return urlencode({
        "token": "legacy-verification-token", "team_id": TEAM, "team_domain": "bench",
        "channel_id": f"D0{user}", "channel_name": "directmessage", "user_id": user,
        "user_name": "bench", "command": command, "text": text, "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": f"https://hooks.slack.example/commands/{TEAM}/{n}/x",
        "trigger_id": f"{n}.{n}.bench",
    }).encode()


def block_actions_body(n: int, user: str, action_id: str, value: str = "") -> bytes:
    payload = {
        "type": "block_actions", "team": {"id": TEAM, "domain": "bench"},
        "user": {"id": user, "username": "bench", "team_id": TEAM}, "api_app_id": APP_ID,
        "token": "legacy-verification-token", "trigger_id": f"{n}.{n}.bench",
        "container": {"type": "message", "message_ts": "1700000000.000100",
                      "channel_id": f"D0{user}", "is_ephemeral": False},
        "channel": {"id": f"D0{user}", "name": "directmessage"},
        "message": {"type": "message", "ts": "1700000000.000100", "text": "bench", "blocks": []},
        "response_url": f"https://hooks.slack.example/actions/{TEAM}/{n}/x",
        "actions": [{
            "type": "button", "action_id": action_id, "block_id": "bench",
            "text": {"type": "plain_text", "text": "Bench"}, "value": value,
            "action_ts": f"{time.time():.6f}",
        }],
    }
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()
