"""The example configuration as a Slack-only partnership: nobody on Teams, alerts to Slack
channels, and Slack user ids in the configuration for everyone but two people, one found by
``users.lookupByEmail`` at start-up and one by ``users.info`` when they first use the bot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support import derived_config

DANA = "dana.marsh@council.northbay.example"  # no id: users.info when she first writes
HANA = "hana.moss@health.northbay.example"  # no id: users.lookupByEmail at start-up
UNCONFIGURED = {DANA, HANA}


def slack_id(email: str) -> str:
    return "U" + email.split("@")[0].replace(".", "").upper()[:10]


def channel_id(destination: str) -> str:
    return "C" + destination.split(":", 1)[1].replace("-", "").upper()[:12]


def slack_config(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The config's path, and every person's Slack id -> email (what the fake Slack knows)."""
    users: dict[str, str] = {}

    def edit(data: dict[str, Any]) -> None:
        for person in data["people"]:
            person.pop("teams_aad_object_id", None)
            users[slack_id(person["email"])] = person["email"]
            if person["email"] not in UNCONFIGURED:
                person["slack_user_id"] = slack_id(person["email"])
        for partnership in data["partnerships"]:
            alerts = partnership["alerts"]
            alerts["business_team"] = "slack:" + channel_id(alerts["business_team"])
            for stage, destination in list(alerts.get("stages", {}).items()):
                alerts["stages"][stage] = "slack:" + channel_id(destination)

    return derived_config(tmp_path, edit), users
