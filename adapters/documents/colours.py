"""The band colour at the top of a form: St Helens' forms are known by colour (orange for stage 1,
green, blue, pink, purple for the outcome), so the colour a pack names is drawn, and its word
printed, on both formats. A pack may also give a colour as #RRGGBB."""

from __future__ import annotations

import re

Rgb = tuple[int, int, int]

NAMED: dict[str, Rgb] = {
    "orange": (0xF2, 0x8C, 0x28),
    "green": (0x2E, 0x8B, 0x57),
    "blue": (0x1F, 0x5C, 0x99),
    "pink": (0xE7, 0x54, 0x80),
    "purple": (0x6A, 0x3D, 0x9A),
    "red": (0xC0, 0x39, 0x2B),
    "yellow": (0xF4, 0xD0, 0x3F),
    "grey": (0x80, 0x80, 0x80),
    "gray": (0x80, 0x80, 0x80),
    "black": (0x00, 0x00, 0x00),
    "white": (0xFF, 0xFF, 0xFF),
}
NEUTRAL: Rgb = (0xE6, 0xE6, 0xE6)  # a form without a colour, or with one we cannot draw
BLACK: Rgb = (0, 0, 0)
WHITE: Rgb = (0xFF, 0xFF, 0xFF)
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


def band_colours(colour: str | None) -> tuple[Rgb, Rgb]:
    """The band's fill and the text colour that reads best on it. An unknown colour name still
    gets its word printed (see layout); only the fill falls back to neutral."""
    fill = NEUTRAL
    if colour:
        name = colour.strip().lower()
        match = _HEX.match(name)
        if match:
            value = int(match.group(1), 16)
            fill = (value >> 16, (value >> 8) & 0xFF, value & 0xFF)
        else:
            fill = NAMED.get(name, NEUTRAL)
    return fill, _readable_on(fill)


def hex_of(colour: Rgb) -> str:
    return "{:02X}{:02X}{:02X}".format(*colour)


def _luminance(colour: Rgb) -> float:
    """WCAG 2 relative luminance."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _readable_on(fill: Rgb) -> Rgb:
    """Black or white, whichever has the higher WCAG contrast ratio against the fill."""
    lum = _luminance(fill)
    on_black = (lum + 0.05) / 0.05
    on_white = 1.05 / (lum + 0.05)
    return BLACK if on_black >= on_white else WHITE
