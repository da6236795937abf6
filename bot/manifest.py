"""Build the Teams app package: the .zip an administrator uploads so people can add the bot.

Teams will not talk to a bot it has no app for. The app is a zip holding ``manifest.json`` and two
icons at its root, and the manifest must name the bot's Microsoft App ID (a GUID) in two places.
The template in ``manifest/teams/`` is kept in the repository rather than generated from code so
that a reviewer can read exactly what Teams is told, and so that
``tools/validate-teams-manifest.js`` can check it against Microsoft's published schema. This module
fills the template's ``{{PLACEHOLDERS}}`` and packs the zip.

The icons are drawn by code with the standard library alone (no image library, no design tool):
the committed PNGs can be recreated byte for byte in pixels, and a checkout that lost them still
builds a valid package.
"""

from __future__ import annotations

import json
import os
import re
import struct
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "manifest" / "teams"
MANIFEST_FILE, COLOR_FILE, OUTLINE_FILE = "manifest.json", "color.png", "outline.png"

DEFAULT_NAME = "Escalation bot"
# The publisher's name, website, privacy notice and terms have no default: Teams shows them to
# everyone who adds the app, and a placeholder there would be passed off as the partnership's
# own. The only use of the package is an upload into a real tenant (the Playground needs none),
# so `manifest teams` requires them (--developer-name, --developer-url, --privacy-url,
# --terms-url).

# Limits from the Teams manifest schema, checked here so that a bad option fails with a sentence
# naming it, not with a schema error after upload.
NAME_MAX, FULL_NAME_MAX, DEVELOPER_NAME_MAX, URL_MAX, VERSION_MAX = 30, 100, 32, 2048, 256
FULL_NAME_SUFFIX = ": resolving professional differences"

# The same pattern the schema uses for `id` and `bots[].botId`.
GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
SEMVER = re.compile(r"^\d+\.\d+\.\d+")
# MAJOR.MINOR.PATCH without leading zeros, as the schema's `semver` and Teams' docs ask
VERSION = re.compile(r"^(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)$")
PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")

# Teams' sizes: a full-colour 192x192 icon, and a 32x32 outline icon, white on transparent.
COLOR_SIZE, OUTLINE_SIZE = 192, 32
ACCENT = (0x1F, 0x5C, 0x99)  # the manifest's accentColor, #1F5C99; keep the two in step
WHITE = (0xFF, 0xFF, 0xFF)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so the same inputs make the same zip


class ManifestError(ValueError):
    """Something a person supplied (or deleted) that stops the package being built; the message
    names it and says what to do, and the CLI prints it without a traceback."""


# ---- icons ---------------------------------------------------------------------------------


def _png(width: int, height: int, rgba: Iterable[bytes]) -> bytes:
    """Encode 8-bit RGBA rows as a PNG: signature, IHDR, one IDAT, IEND (RFC 2083).

    Every row uses filter type 0 (none); the icons are tiny and flat, so nothing is gained by
    cleverer filtering, and a plain encoding is easy to check.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + row for row in rgba)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA, no interlace
    return (
        PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def _in_mark(x: int, y: int, size: int, margin: int) -> bool:
    """The mark: four rising steps, one for each tier a difference can be escalated through.

    Drawn on a 4x4 grid inside ``margin``; step ``i`` fills column ``i`` from the bottom up to
    height ``i + 1``. Grid lines fall on whole pixels, so the edges are crisp at both sizes.
    """
    unit = (size - 2 * margin) // 4
    gx, gy = (x - margin) // unit, (y - margin) // unit
    return 0 <= gx < 4 and 0 <= gy < 4 and gy >= 3 - gx


def color_icon_png() -> bytes:
    """The 192x192 full-colour icon: white steps on the accent colour, opaque to the edges.

    The mark sits in the central 96x96 with 48 px around it, as Teams' icon guidance asks.
    """
    size, margin = COLOR_SIZE, 48
    fill, mark = bytes((*ACCENT, 0xFF)), bytes((*WHITE, 0xFF))
    rows = (
        b"".join(mark if _in_mark(x, y, size, margin) else fill for x in range(size))
        for y in range(size)
    )
    return _png(size, size, rows)


def outline_icon_png() -> bytes:
    """The 32x32 outline icon: the same steps in white on a transparent background.

    Teams tints this icon itself, so every pixel is white and only the alpha differs (Teams
    rejects outline icons with any other colour).
    """
    size, margin = OUTLINE_SIZE, 4
    clear, mark = bytes((*WHITE, 0x00)), bytes((*WHITE, 0xFF))
    rows = (
        b"".join(mark if _in_mark(x, y, size, margin) else clear for x in range(size))
        for y in range(size)
    )
    return _png(size, size, rows)


ICONS = {COLOR_FILE: (color_icon_png, COLOR_SIZE), OUTLINE_FILE: (outline_icon_png, OUTLINE_SIZE)}


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk; ManifestError if ``data`` is not a PNG."""
    if len(data) < 24 or data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise ManifestError("not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def write_icons(directory: Path = TEMPLATE_DIR) -> list[Path]:
    """(Re)draw color.png and outline.png into ``directory``; returns the paths written."""
    written = []
    for filename, (draw, _) in ICONS.items():
        path = directory / filename
        path.write_bytes(draw())
        written.append(path)
    return written


def _icon(filename: str, template_dir: Path) -> bytes:
    """The committed icon if there is one (after checking its size), else a freshly drawn one.

    A replaced icon of the wrong size is an error here rather than a rejection at upload.
    """
    draw, size = ICONS[filename]
    path = template_dir / filename
    if not path.exists():
        return draw()
    data = path.read_bytes()
    try:
        found = png_size(data)
    except ManifestError:
        raise ManifestError(
            f"{path}: is not a PNG file; delete it to use the built-in icon"
        ) from None
    if found != (size, size):
        raise ManifestError(
            f"{path}: is {found[0]}x{found[1]}, Teams needs {size}x{size};"
            " delete it to use the built-in icon"
        )
    return data


# ---- manifest ------------------------------------------------------------------------------


def default_version() -> str:
    """The bot's package version as MAJOR.MINOR.PATCH, for --version's default. Teams only
    offers an updated app to people when the manifest's version goes up, and requires plain
    semver there; an administrator uploading an update passes a higher --version."""
    try:
        found = SEMVER.match(metadata.version("escalation-bot"))
    except metadata.PackageNotFoundError:
        found = None
    return found.group(0) if found else "1.0.0"


def _check_app_id(app_id: str) -> str:
    app_id = app_id.strip()
    if not GUID.match(app_id):
        raise ManifestError(
            f"--app-id: '{app_id}' is not a GUID. Use the bot's Microsoft App ID from its Azure"
            " Bot resource (Configuration > Microsoft App ID),"
            " e.g. 3f2504e0-4f89-41d3-9a0c-0305e82c3301."
        )
    return app_id


def _check_name(name: str, option: str = "--name", most: int = NAME_MAX) -> str:
    name = " ".join(name.split())
    if not name:
        raise ManifestError(f"{option}: must not be empty")
    if len(name) > most:
        raise ManifestError(
            f"{option}: '{name}' is {len(name)} characters; Teams allows at most {most}"
        )
    return name


# what Teams shows each link as, for the refusal
_LINKS = {
    "--developer-url": ("the app's website", "https://www.partnership.example/escalation"),
    "--privacy-url": ("the app's privacy notice", "https://www.partnership.example/privacy"),
    "--terms-url": ("the app's terms of use", "https://www.partnership.example/terms"),
}


def _check_url(url: str, option: str = "--developer-url") -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or len(url) > URL_MAX:
        shown, example = _LINKS[option]
        raise ManifestError(
            f"{option}: '{url}' is not an https:// address; Teams shows it as {shown},"
            f" e.g. {example}"
        )
    return url


def _check_version(version: str) -> str:
    version = version.strip()
    if not VERSION.match(version) or len(version) > VERSION_MAX:
        raise ManifestError(
            f"--version: '{version}' is not a version Teams takes; use MAJOR.MINOR.PATCH such as"
            " 1.0.0, higher than the package last uploaded (Teams offers an update only then)"
        )
    return version


def _fill(value: Any, values: dict[str, str]) -> Any:
    """Replace ``{{KEY}}`` in every string of the parsed template.

    Substituting into parsed JSON, not into the text, means no value can break the JSON.
    """
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [_fill(item, values) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, values) for key, item in value.items()}
    return value


def _unfilled(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(PLACEHOLDER.findall(value))
    if isinstance(value, list):
        return set().union(*(_unfilled(item) for item in value))
    if isinstance(value, dict):
        return set().union(*(_unfilled(item) for item in value.values()))
    return set()


def render_manifest(
    app_id: str,
    *,
    developer_name: str,
    developer_url: str,
    privacy_url: str,
    terms_url: str,
    name: str | None = None,
    version: str | None = None,
    template_dir: Path = TEMPLATE_DIR,
) -> dict[str, Any]:
    """The filled manifest as a dict. The app's id and the bot's id are the same App ID: one
    Azure registration serves both, which is what Teams expects for a bot-only app. The
    developer is the publisher (the partnership), not the app: Teams shows it beside the app."""
    app_id = _check_app_id(app_id)
    name = _check_name(name if name is not None else DEFAULT_NAME)
    values = {
        "APP_ID": app_id,
        "VERSION": _check_version(version if version is not None else default_version()),
        "NAME": name,
        "FULL_NAME": (name + FULL_NAME_SUFFIX)[:FULL_NAME_MAX],
        "DEVELOPER_NAME": _check_name(developer_name, "--developer-name", DEVELOPER_NAME_MAX),
        "DEVELOPER_URL": _check_url(developer_url, "--developer-url"),
        "PRIVACY_URL": _check_url(privacy_url, "--privacy-url"),
        "TERMS_URL": _check_url(terms_url, "--terms-url"),
    }
    path = template_dir / MANIFEST_FILE
    try:
        template = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{path}: the manifest template is missing") from None
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{path}: cannot read the manifest template: {exc}") from None
    manifest = _fill(template, values)
    left = _unfilled(manifest)
    if left:
        raise ManifestError(f"{path}: unknown placeholder(s) {', '.join(sorted(left))}")
    return dict(manifest)


def build_teams_package(
    app_id: str,
    out_path: str | Path,
    *,
    developer_name: str,
    developer_url: str,
    privacy_url: str,
    terms_url: str,
    name: str | None = None,
    version: str | None = None,
    template_dir: Path = TEMPLATE_DIR,
) -> Path:
    """Write the Teams app package to ``out_path`` and return its path.

    The zip holds manifest.json, color.png and outline.png at its root (Teams rejects a package
    whose files sit in a folder). Entries carry a fixed date, so the same inputs give the same
    zip. It is written to a temporary file and moved into place, so a failed build never leaves
    a half-written package where the last good one was.
    """
    manifest = render_manifest(
        app_id,
        developer_name=developer_name,
        developer_url=developer_url,
        privacy_url=privacy_url,
        terms_url=terms_url,
        name=name,
        version=version,
        template_dir=template_dir,
    )
    files = {
        MANIFEST_FILE: (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode(),
        COLOR_FILE: _icon(COLOR_FILE, template_dir),
        OUTLINE_FILE: _icon(OUTLINE_FILE, template_dir),
    }
    out = Path(out_path)
    if out.is_dir():
        raise ManifestError(f"--out: {out} is a directory; give a file name such as app.zip")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".teams-", suffix=".zip", dir=out.parent)
        try:
            with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w") as archive:
                for filename, data in files.items():
                    entry = zipfile.ZipInfo(filename, ZIP_DATE)
                    entry.compress_type = zipfile.ZIP_DEFLATED
                    entry.external_attr = 0o644 << 16
                    archive.writestr(entry, data)
            os.replace(temp, out)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ManifestError(f"--out: cannot write {out}: {exc.strerror or exc}") from None
    return out


def run_teams_command(
    app_id: str,
    out_path: str,
    *,
    developer_name: str,
    developer_url: str,
    privacy_url: str,
    terms_url: str,
    name: str | None = None,
    version: str | None = None,
) -> int:
    """`escalation-bot manifest teams`: build the package, or say in one sentence why not."""
    chosen = version if version is not None else default_version()
    try:
        out = build_teams_package(
            app_id,
            out_path,
            developer_name=developer_name,
            developer_url=developer_url,
            privacy_url=privacy_url,
            terms_url=terms_url,
            name=name,
            version=chosen,
        )
    except ManifestError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{out}: Teams app package for bot {app_id.strip()}, version {chosen.strip()}")
    print("Upload it in Teams (Apps > Manage your apps > Upload an app) or the Teams admin centre.")
    print(
        "To update an app already uploaded, build again with a higher --version: Teams offers"
        " an update only when the version goes up."
    )
    return 0
