"""The Teams app package, built the way an administrator builds it (the real CLI, in a subprocess)
and checked the way Teams will check it: files at the zip's root, icon sizes, the bot's scopes (its
commands in the 1:1 chat only, the team only for channel alerts), the publisher's details as
given, and Microsoft's own schema, offline, through
``tools/validate-teams-manifest.js`` and the npm package ``@microsoft/app-manifest``.

The schema checks need node and ``npm ci``. On a laptop without them they skip and say so; in CI
(``CI`` set) they fail, because CI installs both and a silent skip there would hide a broken
manifest until someone uploads it.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from bot.manifest import (
    TEMPLATE_DIR,
    ManifestError,
    build_teams_package,
    color_icon_png,
    outline_icon_png,
)

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "bot.cli", "manifest", "teams"]
VALIDATOR = ROOT / "tools" / "validate-teams-manifest.js"
APP_ID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
PUBLISHER = {
    "--developer-name": "Northbay Safeguarding",
    "--developer-url": "https://www.northbay-scp.example/escalation",
    "--privacy-url": "https://www.northbay-scp.example/privacy",
    "--terms-url": "https://www.northbay-scp.example/terms",
}
PUBLISHER_ARGS = tuple(item for pair in PUBLISHER.items() for item in pair)
PUBLISHER_KW = {
    "developer_name": PUBLISHER["--developer-name"],
    "developer_url": PUBLISHER["--developer-url"],
    "privacy_url": PUBLISHER["--privacy-url"],
    "terms_url": PUBLISHER["--terms-url"],
}
COMMANDS = {
    "escalate": "Raise a professional difference about a child",
    "status": "Your open cases and what is due from you",
}


def run(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and RGBA rows of a PNG written by bot.manifest, parsed here independently:
    8-bit RGBA (colour type 6), filter type 0 on every row, IDAT chunks concatenated."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    assert data[12:16] == b"IHDR"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (depth, colour) == (8, 6), "expected 8-bit RGBA"
    idat, at = b"", 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        if data[at + 4 : at + 8] == b"IDAT":
            idat += data[at + 8 : at + 8 + length]
        at += 12 + length
    raw = zlib.decompress(idat)
    stride = 1 + 4 * width
    assert len(raw) == stride * height
    assert all(raw[y * stride] == 0 for y in range(height)), "expected filter type 0"
    return width, height, [raw[y * stride + 1 : (y + 1) * stride] for y in range(height)]


def pixels(rows: list[bytes]) -> list[tuple[int, ...]]:
    return [tuple(row[x : x + 4]) for row in rows for x in range(0, len(row), 4)]


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One package built through the real CLI, unzipped; the tests below read it."""
    out = tmp_path_factory.mktemp("teams") / "dist" / "escalation-bot.zip"
    result = run(*CLI, "--app-id", APP_ID, "--out", out, "--version", "2.3.4", *PUBLISHER_ARGS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert out.is_file()
    unzipped = out.parent / "unzipped"
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        archive.extractall(unzipped)
    return unzipped


@pytest.fixture(scope="module")
def manifest(package: Path) -> dict[str, Any]:
    return dict(json.loads((package / "manifest.json").read_text(encoding="utf-8")))


@pytest.fixture(scope="session")
def node_validator() -> list[str]:
    """``node tools/validate-teams-manifest.js``, or skip (fail under CI) if it cannot run."""
    node = shutil.which("node")
    library = ROOT / "node_modules" / "@microsoft" / "app-manifest" / "package.json"
    missing = [] if node else ["node"]
    if not library.is_file():
        missing.append("node_modules/@microsoft/app-manifest")
    if missing:
        reason = (
            f"{' and '.join(missing)} not found: with Node.js 20 installed,"
            " run `npm ci` at the repository root"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI installs them; the Teams manifest must be checked)")
        pytest.skip(reason)
    assert node is not None
    return [node, str(VALIDATOR)]


# ---- the package -----------------------------------------------------------------------------


def test_the_app_id_names_both_the_app_and_the_bot(manifest: dict[str, Any]) -> None:
    assert manifest["id"] == APP_ID
    [bot] = manifest["bots"]
    assert bot["botId"] == APP_ID
    assert "{{" not in json.dumps(manifest)


def test_the_bot_is_offered_in_personal_chats_and_teams_and_sends_files(
    manifest: dict[str, Any],
) -> None:
    # personal: where cases are run; team: only so that installing it in a team lets the bot
    # post channel alerts (it keeps a configured channel's reference when it hears from it).
    # Not groupChat: the bot refuses cases anywhere but a 1:1 chat (a child's details).
    # supportsFiles: forms reach people as files in their 1:1 chat (Teams' file consent flow,
    # which Teams offers in personal scope only)
    [bot] = manifest["bots"]
    assert sorted(bot["scopes"]) == ["personal", "team"]
    assert bot["supportsFiles"] is True
    assert manifest["defaultInstallScope"] == "personal"


def test_the_commands_are_listed_only_where_the_bot_takes_them(manifest: dict[str, Any]) -> None:
    [bot] = manifest["bots"]
    [commands_list] = bot["commandLists"]
    assert commands_list["scopes"] == ["personal"]
    commands = {c["title"]: c.get("description", "") for c in commands_list["commands"]}
    assert set(commands) == {"escalate", "status", "help"}
    for title, description in COMMANDS.items():
        assert commands[title] == description
    assert commands["help"]


def test_the_publisher_and_version_are_as_given(manifest: dict[str, Any]) -> None:
    assert manifest["version"] == "2.3.4"
    assert manifest["developer"] == {
        "name": PUBLISHER["--developer-name"],
        "websiteUrl": PUBLISHER["--developer-url"],
        "privacyUrl": PUBLISHER["--privacy-url"],
        "termsOfUseUrl": PUBLISHER["--terms-url"],
    }
    assert "example.org" not in json.dumps(manifest)  # no placeholder passed off as real


def test_the_manifest_uses_a_stable_schema_it_names(manifest: dict[str, Any]) -> None:
    version = manifest["manifestVersion"]
    major, minor = (int(part) for part in version.split("."))
    assert (major, minor) >= (1, 17)
    assert manifest["$schema"] == (
        f"https://developer.microsoft.com/json-schemas/teams/v{version}/MicrosoftTeams.schema.json"
    )


def test_the_icons_are_the_sizes_teams_requires(package: Path) -> None:
    for filename, size in (("color.png", 192), ("outline.png", 32)):
        data = (package / filename).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
        assert struct.unpack(">II", data[16:24]) == (size, size), filename


def test_the_outline_icon_is_white_on_transparent(package: Path) -> None:
    _, _, rows = png((package / "outline.png").read_bytes())
    found = pixels(rows)
    assert all(rgba[:3] == (255, 255, 255) for rgba in found)
    alphas = {rgba[3] for rgba in found}
    assert 0 in alphas and 255 in alphas


def test_the_color_icon_is_opaque_and_in_colour(package: Path) -> None:
    _, _, rows = png((package / "color.png").read_bytes())
    found = pixels(rows)
    assert all(rgba[3] == 255 for rgba in found)
    assert len({rgba[:3] for rgba in found}) >= 2
    assert any(len(set(rgba[:3])) > 1 for rgba in found), "no colour, only greys"


def test_the_committed_icons_are_what_the_generator_draws() -> None:
    """Pixels, not bytes: another zlib may compress the same pixels differently."""
    for filename, draw in (("color.png", color_icon_png), ("outline.png", outline_icon_png)):
        committed = png((TEMPLATE_DIR / filename).read_bytes())
        assert committed == png(draw()), f"{filename}: run bot.manifest.write_icons()"


def test_the_same_inputs_build_the_same_zip(tmp_path: Path) -> None:
    first = build_teams_package(APP_ID, tmp_path / "a.zip", **PUBLISHER_KW).read_bytes()
    second = build_teams_package(APP_ID, tmp_path / "b.zip", **PUBLISHER_KW).read_bytes()
    assert first == second


def test_missing_icons_are_drawn_and_wrong_sized_ones_refused(tmp_path: Path) -> None:
    template = tmp_path / "template"
    template.mkdir()
    shutil.copy(TEMPLATE_DIR / "manifest.json", template)
    out = build_teams_package(APP_ID, tmp_path / "app.zip", template_dir=template, **PUBLISHER_KW)
    with zipfile.ZipFile(out) as archive:
        assert png(archive.read("color.png"))[:2] == (192, 192)
        assert png(archive.read("outline.png"))[:2] == (32, 32)
    (template / "color.png").write_bytes(outline_icon_png())
    with pytest.raises(ManifestError, match=r"32x32, Teams needs 192x192"):
        build_teams_package(
            APP_ID, tmp_path / "other.zip", template_dir=template, **PUBLISHER_KW
        )


def test_the_name_is_filled_in_and_the_version_defaults_to_the_bots(tmp_path: Path) -> None:
    out = tmp_path / "app.zip"
    result = run(*CLI, "--app-id", APP_ID, "--out", out, "--name", "NSSCP differences",
                 *PUBLISHER_ARGS)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out) as archive:
        filled = json.loads(archive.read("manifest.json"))
    assert filled["name"]["short"] == "NSSCP differences"
    assert filled["name"]["full"].startswith("NSSCP differences")
    assert filled["name"]["full"] != filled["name"]["short"]
    assert filled["developer"]["name"] == PUBLISHER["--developer-name"]  # not the app's name
    version = metadata.version("escalation-bot")
    assert filled["version"] == version
    # an update is only offered when the version goes up: the output says how to raise it
    assert f"version {version}" in result.stdout and "--version" in result.stdout


def test_without_the_publishers_details_no_package_is_built(tmp_path: Path) -> None:
    """There is no honest default for whose privacy notice and terms people are shown."""
    out = tmp_path / "app.zip"
    result = run(*CLI, "--app-id", APP_ID, "--out", out)
    assert result.returncode == 2
    for option in PUBLISHER:
        assert option in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


# ---- readable refusals ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--app-id", "not-a-guid", "--app-id: 'not-a-guid' is not a GUID"),
        ("--app-id", APP_ID + "0", "is not a GUID"),
        ("--name", "x" * 31, "--name: 'xxx"),
        ("--developer-url", "http://insecure.example", "--developer-url: 'http://insecure"),
        ("--privacy-url", "http://insecure.example", "--privacy-url: 'http://insecure"),
        ("--terms-url", "www.partnership.example/terms", "--terms-url: 'www.partnership"),
        ("--developer-name", "   ", "--developer-name: must not be empty"),
        ("--developer-name", "y" * 33, "--developer-name: 'yyy"),
        ("--version", "1.0", "--version: '1.0' is not a version"),
        ("--version", "v1.2.3", "--version: 'v1.2.3' is not a version"),
        ("--version", "1.02.3", "--version: '1.02.3' is not a version"),
    ],
)
def test_bad_input_is_refused_in_a_sentence(
    tmp_path: Path, option: str, value: str, message: str
) -> None:
    args = {"--app-id": APP_ID, **PUBLISHER, option: value}
    out = tmp_path / "app.zip"
    result = run(*CLI, "--out", out, *(item for pair in args.items() for item in pair))
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


# ---- Microsoft's schema, offline -------------------------------------------------------------


def test_the_built_manifest_is_valid_against_the_schema(
    package: Path, node_validator: list[str]
) -> None:
    result = run(*node_validator, package / "manifest.json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VALID" in result.stdout and "INVALID" not in result.stdout


@pytest.mark.parametrize(
    ("breakage", "reported"),
    [
        (lambda m: m.pop("name"), "must have required property 'name'"),
        (lambda m: m.update(manifestVersion="1.9"), "/manifestVersion"),
        (lambda m: m["bots"][0].update(botId="not-a-guid"), "/bots/0/botId"),
    ],
    ids=["no name", "wrong manifestVersion", "bad botId"],
)
def test_a_broken_manifest_is_reported_invalid(
    package: Path,
    manifest: dict[str, Any],
    node_validator: list[str],
    breakage: Any,
    reported: str,
) -> None:
    broken = json.loads(json.dumps(manifest))
    breakage(broken)
    path = package / "broken.json"  # next to the icons, so only the breakage is wrong
    path.write_text(json.dumps(broken), encoding="utf-8")
    try:
        result = run(*node_validator, path)
    finally:
        path.unlink()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "INVALID" in result.stderr
    assert reported in result.stderr
