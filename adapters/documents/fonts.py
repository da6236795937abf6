"""The Unicode font embedded in every PDF, and which characters it can draw.

PDF's built-in fonts cover Latin-1 only, so "Łukasz" or a smart quote would be lost; we embed
DejaVu Sans, from Debian's fonts-dejavu-core package (installed by .ci/run, and present on
Debian and Ubuntu images). A missing font stops the render with the package to install, rather
than producing a PDF with names missing.

fpdf2 leaves out characters its font lacks (and logs them, which would put fragments of a child's
name in the log), so the renderer replaces them with a visible mark first, using ``coverage``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from dialogs import texts

FONT_PACKAGE = "fonts-dejavu-core"
REGULAR, BOLD = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"
# Debian and Ubuntu first; then where Fedora, Arch and a hand install put the same files.
FONT_DIRS: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu-sans-fonts"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/local/share/fonts"),
)


class FontMissing(RuntimeError):
    """The PDF font is not installed; the message names the Debian package that provides it."""


@dataclass(frozen=True)
class Fonts:
    regular: Path
    bold: Path
    coverage: frozenset[int]  # code points both faces can draw


def find_fonts(dirs: tuple[Path, ...] = FONT_DIRS) -> Fonts:
    for folder in dirs:
        regular, bold = folder / REGULAR, folder / BOLD
        if regular.is_file() and bold.is_file():
            return Fonts(regular, bold, _coverage(regular) & _coverage(bold))
    raise FontMissing(
        texts.DOCUMENT_FONT_MISSING.format(
            files=f"{REGULAR}, {BOLD}",
            places=", ".join(str(d) for d in dirs),
            package=FONT_PACKAGE,
        )
    )


@cache
def _coverage(path: Path) -> frozenset[int]:
    from fontTools.ttLib import TTFont  # with the first PDF, as fpdf2 (adapters/documents)

    with TTFont(path, lazy=True) as font:
        cmap = font.getBestCmap() or {}
        return frozenset(cmap)
