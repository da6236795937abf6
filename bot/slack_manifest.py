"""Build the Slack app manifest: what an administrator pastes into Slack (Create New App > From a
manifest) so the app has exactly the command, events, scopes and URLs the bot serves.

The template in ``manifest/slack/manifest.yaml`` is kept in the repository, not generated, so a
reviewer can read what Slack is told and why each scope is there. This module fills in the
request URL (``https://HOST/slack/events``: slash commands, interactivity and events share one
route) or, for Socket Mode, removes the URLs and turns ``socket_mode_enabled`` on. The result is
checked against the structure Slack documents for app manifests (its manifest reference and the
JSON schema Slack publishes for it), written here as plain checks: Slack's own error after a
paste names a JSON pointer; ours names the option or field and the fix.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from bot.manifest import ManifestError, _fill, _unfilled

TEMPLATE = Path(__file__).resolve().parents[1] / "manifest" / "slack" / "manifest.yaml"
EVENTS_PATH = "/slack/events"
DEFAULT_NAME = "Escalation bot"

# Limits from Slack's manifest reference and schema (version 1).
NAME_MAX, DESCRIPTION_MAX = 35, 140
LONG_DESCRIPTION_MIN, LONG_DESCRIPTION_MAX = 175, 4000
BOT_NAME_MAX, COMMAND_MAX, COMMAND_DESCRIPTION_MAX, USAGE_HINT_MAX = 80, 32, 2000, 1000
URL_MAX, COMMAND_URL_MAX = 3500, 3000
# Slack's rule for a command's name: a slash, then lowercase letters, digits, - or _, no spaces.
COMMAND = re.compile(r"^/[a-z0-9][a-z0-9_\-]*$")
COLOUR = re.compile(r"^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$")

# Bot token scopes Slack defines (a checked list: a misspelt scope is refused at paste time with
# a message that does not say which). Not every scope here is used; see the template's comment.
KNOWN_BOT_SCOPES = frozenset({
    "app_mentions:read", "assistant:write", "bookmarks:read", "bookmarks:write", "calls:read",
    "calls:write", "canvases:read", "canvases:write", "channels:history", "channels:join",
    "channels:manage", "channels:read", "channels:write.invites", "channels:write.topic",
    "chat:write", "chat:write.customize", "chat:write.public", "commands",
    "conversations.connect:manage", "conversations.connect:read", "conversations.connect:write",
    "dnd:read", "emoji:read", "files:read", "files:write", "groups:history", "groups:read",
    "groups:write", "groups:write.invites", "groups:write.topic", "im:history", "im:read",
    "im:write", "im:write.topic", "incoming-webhook", "links.embed:write", "links:read",
    "links:write", "metadata.message:read", "mpim:history", "mpim:read", "mpim:write",
    "mpim:write.topic", "pins:read", "pins:write", "reactions:read", "reactions:write",
    "reminders:read", "reminders:write", "remote_files:read", "remote_files:share",
    "remote_files:write", "search:read.files", "search:read.public", "team.billing:read",
    "team.preferences:read", "team:read", "usergroups:read", "usergroups:write",
    "users.profile:read", "users:read", "users:read.email", "users:write",
    "workflow.steps:execute",
})
# Bot events the manifest may subscribe to, with the scope each needs ("" for none).
KNOWN_BOT_EVENTS = {
    "app_home_opened": "", "app_mention": "app_mentions:read", "app_uninstalled": "",
    "channel_created": "channels:read", "member_joined_channel": "channels:read",
    "message.channels": "channels:history", "message.groups": "groups:history",
    "message.im": "im:history", "message.mpim": "mpim:history",
    "reaction_added": "reactions:read", "team_join": "users:read",
    "tokens_revoked": "", "user_change": "users:read",
}
TOP_LEVEL = {"_metadata", "display_information", "features", "oauth_config", "settings"}


# ---- the URL ---------------------------------------------------------------------------------


def events_url(url: str) -> str:
    """``https://HOST[/prefix]`` -> ``https://HOST[/prefix]/slack/events``; ManifestError naming
    --url for anything Slack cannot send to."""
    url = url.strip()
    parts = urlsplit(url)
    example = "e.g. --url https://escalation.partnership.example"
    if parts.scheme != "https" or not parts.hostname:
        raise ManifestError(
            f"--url: '{url}' is not an https:// address; Slack sends only to https://,"
            f" {example}, or use --socket-mode for no public URL"
        )
    if parts.query or parts.fragment:
        raise ManifestError(f"--url: '{url}' has a ? or #; give the host only, {example}")
    host = parts.hostname
    if host == "localhost" or _private(host):
        raise ManifestError(
            f"--url: Slack cannot reach {host} from the internet; give the bot's public address,"
            " or use --socket-mode (the bot dials out to Slack, no public URL needed)"
        )
    path = parts.path.rstrip("/")
    if not path.endswith(EVENTS_PATH):
        path += EVENTS_PATH
    full = f"https://{parts.netloc}{path}"
    if len(full) > URL_MAX:
        raise ManifestError(f"--url: longer than Slack's {URL_MAX} characters")
    return full


def _private(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_link_local


# ---- building --------------------------------------------------------------------------------


def _check_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise ManifestError(
            "--name: must not be empty; give the name people will see in Slack, or leave"
            f" --name out for '{DEFAULT_NAME}'"
        )
    if len(name) > NAME_MAX:
        raise ManifestError(
            f"--name: '{name}' is {len(name)} characters; Slack allows at most {NAME_MAX}, so"
            " give a shorter one"
        )
    return name


def render_slack_manifest(
    url: str | None = None,
    *,
    socket_mode: bool = False,
    name: str | None = None,
    template: Path = TEMPLATE,
) -> dict[str, Any]:
    """The filled manifest. HTTP mode needs ``url``; Socket Mode takes none (Slack sends every
    command, click and event over the bot's own WebSocket, so a URL would only mislead)."""
    if socket_mode and url:
        raise ManifestError(
            "--url: not used with --socket-mode (Slack sends everything over the bot's"
            " WebSocket); give one of the two"
        )
    if not socket_mode and not url:
        raise ManifestError(
            "--url: required: the bot's public https:// address, e.g. --url"
            " https://escalation.partnership.example; or use --socket-mode for no public URL"
        )
    values = {"NAME": _check_name(name if name is not None else DEFAULT_NAME)}
    if url:
        values["EVENTS_URL"] = events_url(url)
    try:
        loaded = yaml.safe_load(template.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{template}: the manifest template is missing") from None
    except (OSError, yaml.YAMLError) as exc:
        raise ManifestError(f"{template}: cannot read the manifest template: {exc}") from None
    if not isinstance(loaded, dict):
        raise ManifestError(f"{template}: the manifest template is not a mapping")
    manifest: dict[str, Any] = _fill(loaded, values)
    if socket_mode:
        _without_urls(manifest)
        manifest.setdefault("settings", {})["socket_mode_enabled"] = True
    left = _unfilled(manifest)
    if left:
        raise ManifestError(f"{template}: unknown placeholder(s) {', '.join(sorted(left))}")
    problems = check_slack_manifest(manifest)
    if problems:
        raise ManifestError(f"{template}: {problems[0]}")
    return manifest


def _without_urls(manifest: dict[str, Any]) -> None:
    for command in manifest.get("features", {}).get("slash_commands", []):
        command.pop("url", None)
    settings = manifest.get("settings", {})
    settings.get("event_subscriptions", {}).pop("request_url", None)
    settings.get("interactivity", {}).pop("request_url", None)


# ---- Slack's structure -----------------------------------------------------------------------


def check_slack_manifest(manifest: Any) -> list[str]:
    """Every way ``manifest`` departs from the structure Slack documents, each as ``field: what;
    fix: how``. Covers what this bot's manifest uses (required keys, types, lengths, URL
    schemes, command names, known scopes and events, each event's scope), not every feature
    Slack has."""
    problems: list[str] = []

    def add(field: str, what: str, fix: str) -> None:
        problems.append(f"{field}: {what}; fix: {fix}")

    def text(field: str, value: Any, low: int, high: int) -> None:
        if not isinstance(value, str):
            add(field, "must be text", "quote it")
        elif not low <= len(value) <= high:
            add(field, f"is {len(value)} characters, Slack takes {low} to {high}",
                "shorten or lengthen it")

    def url(field: str, value: Any, most: int = URL_MAX) -> None:
        if not isinstance(value, str) or urlsplit(value).scheme != "https":
            add(field, f"{value!r} is not an https:// URL", "use the bot's https:// address")
        elif len(value) > most:
            add(field, f"longer than {most} characters", "use a shorter address")

    def mapping(field: str, value: Any, keys: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            add(field, "must be a mapping", "indent its keys under it")
            return {}
        for key in sorted(set(value) - keys):
            add(f"{field}.{key}", "is not a key Slack knows here", "remove it or check spelling")
        return value

    if not isinstance(manifest, dict):
        return ["manifest: must be a mapping; fix: start from manifest/slack/manifest.yaml"]
    top = mapping("manifest", manifest, TOP_LEVEL)
    meta = mapping("_metadata", top.get("_metadata", {}), {"major_version", "minor_version"})
    if meta.get("major_version", 1) != 1:
        add("_metadata.major_version", "must be 1 for this app (2 is for Slack-hosted apps)",
            "set it to 1")

    if "display_information" not in top:
        add("display_information", "is required", "add it with at least a name")
    display = mapping("display_information", top.get("display_information", {}),
                      {"name", "description", "long_description", "background_color"})
    if "display_information" in top:
        text("display_information.name", display.get("name"), 1, NAME_MAX)
    if "description" in display:
        text("display_information.description", display["description"], 1, DESCRIPTION_MAX)
    if "long_description" in display:
        text("display_information.long_description", display["long_description"],
             LONG_DESCRIPTION_MIN, LONG_DESCRIPTION_MAX)
    if "background_color" in display and not COLOUR.match(str(display["background_color"])):
        add("display_information.background_color", "is not a colour like #1F5C99",
            "give # and 3 or 6 hex digits, quoted")

    features = mapping("features", top.get("features", {}),
                       {"app_home", "bot_user", "slash_commands", "shortcuts", "unfurl_domains"})
    home = mapping("features.app_home", features.get("app_home", {}),
                   {"home_tab_enabled", "messages_tab_enabled", "messages_tab_read_only_enabled"})
    for key, value in home.items():
        if not isinstance(value, bool):
            add(f"features.app_home.{key}", "must be true or false", "write true or false")
    has_bot = "bot_user" in features
    bot = mapping("features.bot_user", features.get("bot_user", {}),
                  {"display_name", "always_online"})
    if has_bot:
        text("features.bot_user.display_name", bot.get("display_name"), 1, BOT_NAME_MAX)
    else:
        add("features.bot_user", "is required for a bot", "add it with a display_name")

    settings = mapping("settings", top.get("settings", {}), {
        "allowed_ip_address_ranges", "event_subscriptions", "incoming_webhooks", "interactivity",
        "org_deploy_enabled", "socket_mode_enabled", "token_rotation_enabled",
    })
    socket_mode = settings.get("socket_mode_enabled", False) is True
    for key in ("org_deploy_enabled", "socket_mode_enabled", "token_rotation_enabled"):
        if key in settings and not isinstance(settings[key], bool):
            add(f"settings.{key}", "must be true or false", "write true or false")

    commands = features.get("slash_commands", [])
    if not isinstance(commands, list) or not 1 <= len(commands) <= 50:
        add("features.slash_commands", "must be a list of 1 to 50 commands", "list /escalate")
        commands = []
    seen: set[str] = set()
    for i, command in enumerate(commands):
        field = f"features.slash_commands[{i}]"
        command = mapping(field, command,
                          {"command", "url", "description", "usage_hint", "should_escape"})
        name = command.get("command")
        if not isinstance(name, str) or not COMMAND.match(name) or len(name) > COMMAND_MAX:
            add(f"{field}.command", f"{name!r} is not a command name Slack takes",
                f"a / then lowercase letters, digits, - or _, at most {COMMAND_MAX} in all")
        elif name in seen:
            add(f"{field}.command", f"{name} is listed twice", "keep one")
        else:
            seen.add(name)
        text(f"{field}.description", command.get("description"), 1, COMMAND_DESCRIPTION_MAX)
        if "usage_hint" in command:
            text(f"{field}.usage_hint", command["usage_hint"], 1, USAGE_HINT_MAX)
        if "url" in command:
            url(f"{field}.url", command["url"], COMMAND_URL_MAX)
        elif not socket_mode:
            add(f"{field}.url", "is required without Socket Mode", "give --url")

    oauth = mapping("oauth_config", top.get("oauth_config", {}), {"scopes", "redirect_urls"})
    scopes_map = mapping("oauth_config.scopes", oauth.get("scopes", {}),
                         {"bot", "user", "bot_optional", "user_optional"})
    scopes = scopes_map.get("bot", [])
    if not isinstance(scopes, list) or not scopes:
        add("oauth_config.scopes.bot", "must list the bot's scopes", "list at least commands")
        scopes = []
    for scope in scopes:
        if scope not in KNOWN_BOT_SCOPES:
            add("oauth_config.scopes.bot", f"'{scope}' is not a Slack bot scope",
                "check its spelling against Slack's scope list")
    if len(set(scopes)) != len(scopes):
        add("oauth_config.scopes.bot", "lists a scope twice", "keep one of each")
    if commands and "commands" not in scopes:
        add("oauth_config.scopes.bot", "slash commands need the 'commands' scope", "add it")

    events = mapping("settings.event_subscriptions", settings.get("event_subscriptions", {}),
                     {"request_url", "bot_events", "user_events"})
    bot_events = events.get("bot_events", [])
    if not isinstance(bot_events, list):
        add("settings.event_subscriptions.bot_events", "must be a list", "list the events")
        bot_events = []
    for event in bot_events:
        if event not in KNOWN_BOT_EVENTS:
            add("settings.event_subscriptions.bot_events", f"'{event}' is not a bot event",
                "check its spelling against Slack's event list")
        elif KNOWN_BOT_EVENTS[event] and KNOWN_BOT_EVENTS[event] not in scopes:
            add("settings.event_subscriptions.bot_events",
                f"'{event}' needs the '{KNOWN_BOT_EVENTS[event]}' scope", "add it to the scopes")
    interactivity = mapping("settings.interactivity", settings.get("interactivity", {}),
                            {"is_enabled", "request_url", "message_menu_options_url"})
    if "interactivity" in settings and not isinstance(interactivity.get("is_enabled"), bool):
        add("settings.interactivity.is_enabled", "is required, true or false", "write true")
    for field, section, wanted in (
        ("settings.event_subscriptions.request_url", events, bool(bot_events)),
        ("settings.interactivity.request_url", interactivity,
         interactivity.get("is_enabled") is True),
    ):
        key = "request_url"
        if key in section:
            url(field, section[key])
        elif wanted and not socket_mode:
            add(field, "is required without Socket Mode", "give --url")
    return problems


# ---- the command -----------------------------------------------------------------------------


def to_yaml(manifest: dict[str, Any]) -> str:
    return yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True, width=100)


def _write(text: str, out_path: str) -> Path:
    out = Path(out_path)
    if out.is_dir():
        raise ManifestError(f"--out: {out} is a directory; give a file name such as slack.yaml")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".slack-", suffix=".yaml", dir=out.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(temp, out)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ManifestError(f"--out: cannot write {out}: {exc.strerror or exc}") from None
    return out


def run_slack_command(
    url: str | None, *, socket_mode: bool, out_path: str | None, name: str | None
) -> int:
    """`escalation-bot manifest slack`: the manifest on stdout (or in --out), or one line why
    not. What to do next goes to stderr, so stdout stays exactly the manifest to paste."""
    try:
        manifest = render_slack_manifest(url, socket_mode=socket_mode, name=name)
        text = to_yaml(manifest)
        out = _write(text, out_path) if out_path else None
    except ManifestError as exc:
        print(exc, file=sys.stderr)
        return 1
    if out is None:
        sys.stdout.write(text)
    else:
        print(f"{out}: Slack app manifest", file=sys.stderr)
    mode = ("Socket Mode (no public URL)" if socket_mode
            else f"requests to {manifest['settings']['interactivity']['request_url']}")
    print(
        f"Slack app manifest for {mode}. In Slack: Your Apps > Create New App > From a"
        " manifest, choose the workspace and paste it.",
        file=sys.stderr,
    )
    if socket_mode:
        print(
            "Then Basic Information > App-Level Tokens > Generate, scope connections:write:"
            " that xapp-... token is SLACK_APP_TOKEN.",
            file=sys.stderr,
        )
    return 0

