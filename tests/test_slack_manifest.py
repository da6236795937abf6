"""The Slack app manifest, built as an administrator builds it (the real CLI, in a subprocess),
and checked against the structure Slack documents for app manifests: what the bot needs and no
more, the URLs filled in or (Socket Mode) left out, and every bad option refused in one line."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.manifest import ManifestError
from bot.slack_manifest import check_slack_manifest, events_url, render_slack_manifest

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "bot.cli", "manifest", "slack"]
HOST = "https://escalation.northbay-scp.example"
EVENTS = HOST + "/slack/events"
SCOPES = {"commands", "chat:write", "im:write", "im:history", "users:read", "users:read.email"}


def run(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def urls(manifest: dict[str, Any]) -> list[str | None]:
    settings = manifest["settings"]
    return [
        *(c.get("url") for c in manifest["features"]["slash_commands"]),
        settings["event_subscriptions"].get("request_url"),
        settings["interactivity"].get("request_url"),
    ]


@pytest.fixture(scope="module")
def http_manifest() -> dict[str, Any]:
    result = run(*CLI, "--url", HOST)
    assert result.returncode == 0, result.stderr
    assert "Create New App" in result.stderr  # what to do next, kept off stdout
    return dict(yaml.safe_load(result.stdout))


def test_every_request_goes_to_the_one_events_route(http_manifest: dict[str, Any]) -> None:
    assert urls(http_manifest) == [EVENTS, EVENTS, EVENTS]
    assert http_manifest["settings"]["socket_mode_enabled"] is False
    assert http_manifest["settings"]["interactivity"]["is_enabled"] is True


def test_the_bot_asks_for_only_the_scopes_it_uses(http_manifest: dict[str, Any]) -> None:
    assert set(http_manifest["oauth_config"]["scopes"]["bot"]) == SCOPES
    assert "user" not in http_manifest["oauth_config"]["scopes"]  # no user tokens at all


def test_the_command_events_and_app_home(http_manifest: dict[str, Any]) -> None:
    [command] = http_manifest["features"]["slash_commands"]
    assert command["command"] == "/escalate"
    assert "status" in command["usage_hint"] and "help" in command["usage_hint"]
    events = http_manifest["settings"]["event_subscriptions"]["bot_events"]
    assert sorted(events) == ["app_home_opened", "message.im"]
    assert http_manifest["features"]["app_home"] == {
        "home_tab_enabled": True, "messages_tab_enabled": True,
        "messages_tab_read_only_enabled": False,
    }
    assert http_manifest["features"]["bot_user"]["display_name"] == "Escalation bot"
    assert http_manifest["display_information"]["name"] == "Escalation bot"
    assert "{{" not in yaml.safe_dump(http_manifest)


def test_socket_mode_needs_no_url_and_says_how_to_get_the_app_token(tmp_path: Path) -> None:
    out = tmp_path / "dist" / "slack.yaml"
    result = run(*CLI, "--socket-mode", "--out", out, "--name", "NSSCP differences")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # written to --out only
    manifest = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert urls(manifest) == [None, None, None]
    assert "https://" not in out.read_text(encoding="utf-8")
    assert manifest["display_information"]["name"] == "NSSCP differences"
    assert "SLACK_APP_TOKEN" in result.stderr and "connections:write" in result.stderr
    assert check_slack_manifest(manifest) == []


def test_a_path_prefix_is_kept_and_the_route_not_doubled() -> None:
    assert events_url("https://host.example/bots/") == "https://host.example/bots/slack/events"
    assert events_url("https://host.example/slack/events") == "https://host.example/slack/events"
    assert events_url(" https://host.example:8443 ") == "https://host.example:8443/slack/events"


def test_the_committed_template_passes_in_both_modes() -> None:
    assert check_slack_manifest(render_slack_manifest(HOST)) == []
    assert check_slack_manifest(render_slack_manifest(socket_mode=True)) == []


# ---- readable refusals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--url", "http://escalation.example"), "--url: 'http://escalation.example' is not an"
         " https:// address"),
        (("--url", "escalation.example"), "--url: 'escalation.example' is not an https://"),
        (("--url", "https://localhost:3978"), "--url: Slack cannot reach localhost"),
        (("--url", "https://10.1.2.3"), "--url: Slack cannot reach 10.1.2.3"),
        (("--url", "https://host.example/?a=1"), "--url: 'https://host.example/?a=1' has a ?"),
        (("--url", HOST, "--name", "n" * 36), "--name: 'nnn"),
        (("--url", HOST, "--name", "  "), "--name: must not be empty"),
    ],
)
def test_bad_input_is_refused_in_one_line(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    out = tmp_path / "slack.yaml"
    result = run(*CLI, *args, "--out", out)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(message), line
    assert "fix" in line or "give" in line or "use" in line or "allows" in line
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_out_must_be_a_file(tmp_path: Path) -> None:
    result = run(*CLI, "--url", HOST, "--out", tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(f"--out: {tmp_path} is a directory")


def test_url_or_socket_mode_but_not_both() -> None:
    neither = run(*CLI)
    assert neither.returncode == 2 and "--url" in neither.stderr
    both = run(*CLI, "--url", HOST, "--socket-mode")
    assert both.returncode == 2 and "not allowed with" in both.stderr
    with pytest.raises(ManifestError, match="--url: not used with --socket-mode"):
        render_slack_manifest(HOST, socket_mode=True)


# ---- the structure check catches what Slack would refuse -------------------------------------


def _set(path: str, value: Any) -> Any:
    def edit(manifest: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = manifest
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        if value is KeyError:
            del node[last]
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return edit


@pytest.mark.parametrize(
    ("breakage", "reported"),
    [
        (_set("display_information.name", "x" * 36), "display_information.name: is 36"),
        (_set("display_information", KeyError), "display_information: is required"),
        (_set("display_information.long_description", "too short"),
         "display_information.long_description: is 9 characters, Slack takes 175 to 4000"),
        (_set("display_information.background_color", "blue"),
         "display_information.background_color: is not a colour"),
        (_set("features.slash_commands.0.command", "/Escalate now"),
         "features.slash_commands[0].command: '/Escalate now' is not a command name"),
        (_set("features.slash_commands.0.command", "escalate"), "is not a command name"),
        (_set("features.slash_commands.0.command", "/" + "e" * 32), "is not a command name"),
        (_set("features.slash_commands.0.url", "http://insecure.example/slack/events"),
         "features.slash_commands[0].url: 'http://insecure"),
        (_set("features.slash_commands.0.url", KeyError),
         "features.slash_commands[0].url: is required without Socket Mode"),
        (_set("settings.interactivity.request_url", KeyError),
         "settings.interactivity.request_url: is required without Socket Mode"),
        (_set("oauth_config.scopes.bot.0", "command"), "'command' is not a Slack bot scope"),
        (_set("oauth_config.scopes.bot.3", "chat:write"), "lists a scope twice"),
        (_set("settings.event_subscriptions.bot_events.1", "message.imm"),
         "'message.imm' is not a bot event"),
        (_set("features.bot_user", KeyError), "features.bot_user: is required for a bot"),
        (_set("settings.socket_mode", True), "settings.socket_mode: is not a key Slack knows"),
        (_set("_metadata.major_version", 2), "_metadata.major_version: must be 1"),
    ],
)
def test_a_broken_manifest_is_reported_by_field(breakage: Any, reported: str) -> None:
    manifest = copy.deepcopy(render_slack_manifest(HOST))
    breakage(manifest)
    problems = check_slack_manifest(manifest)
    assert any(reported in p for p in problems), problems
    assert all("; fix: " in p for p in problems)


def test_an_event_without_its_scope_is_reported() -> None:
    manifest = render_slack_manifest(HOST)
    manifest["oauth_config"]["scopes"]["bot"].remove("im:history")
    assert check_slack_manifest(manifest) == [
        "settings.event_subscriptions.bot_events: 'message.im' needs the 'im:history' scope;"
        " fix: add it to the scopes"
    ]


def test_a_broken_template_is_refused_by_the_command(tmp_path: Path) -> None:
    template = tmp_path / "manifest.yaml"
    text = (ROOT / "manifest" / "slack" / "manifest.yaml").read_text(encoding="utf-8")
    template.write_text(text.replace("- users:read.email", "- users:read.mail"), encoding="utf-8")
    with pytest.raises(ManifestError, match=r"'users:read.mail' is not a Slack bot scope"):
        render_slack_manifest(HOST, template=template)
