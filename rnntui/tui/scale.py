"""The fixed diverging colour scale for activations in [-1, 1], and its stand-in without colour.

With NO_COLOR set, Textual draws in greys, where -1 and +1 look alike. Cells
that carry a value then show :func:`level_glyph` instead: a bar whose height
goes from the lowest (-1) through the middle (0) to full (+1), so sign and size
stay readable.
"""

from __future__ import annotations

from functools import lru_cache

from rich.color import Color
from rich.style import Style

NEG = (33, 102, 172)  # blue at -1
MID = (247, 247, 247)  # near-white at 0
POS = (178, 24, 43)  # red at +1
LEVELS = 21  # quantisation steps across [-1, 1], so styles can be cached
GLYPH_LEVELS = "▁▂▃▄▅▆▇█"  # -1 (lowest) .. +1 (full), for drawing without colour


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], f: float) -> tuple[int, int, int]:
    return tuple(round(x + (y - x) * f) for x, y in zip(a, b))  # type: ignore[return-value]


def level(value: float) -> int:
    """Quantised level 0..LEVELS-1 of ``value`` (clamped to [-1, 1]; NaN maps to the middle)."""
    if value != value:  # NaN
        return LEVELS // 2
    v = min(1.0, max(-1.0, float(value)))
    return round((v + 1.0) / 2.0 * (LEVELS - 1))


@lru_cache(maxsize=LEVELS)
def color_for_level(lv: int) -> Color:
    v = lv / (LEVELS - 1) * 2.0 - 1.0
    rgb = _mix(MID, POS, v) if v >= 0 else _mix(MID, NEG, -v)
    return Color.from_rgb(*rgb)


def color(value: float) -> Color:
    """The scale's colour for ``value``: blue at -1, white at 0, red at +1."""
    return color_for_level(level(value))


@lru_cache(maxsize=2 * LEVELS)
def _cell_style(lv: int, bold: bool) -> Style:
    bg = color_for_level(lv)
    r, g, b = bg.get_truecolor()
    fg = Color.from_rgb(0, 0, 0) if (r * 299 + g * 587 + b * 114) / 1000 > 140 else Color.from_rgb(255, 255, 255)
    return Style(bgcolor=bg, color=fg, bold=bold)


def cell_style(value: float, bold: bool = False) -> Style:
    """Background from the scale with a readable foreground."""
    return _cell_style(level(value), bold)


def level_glyph(value: float) -> str:
    """One cell whose bar height shows ``value`` from -1 (lowest) to +1 (full); ``?`` for NaN."""
    if value != value:
        return "?"
    v = min(1.0, max(-1.0, float(value)))
    return GLYPH_LEVELS[min(int((v + 1.0) / 2.0 * len(GLYPH_LEVELS)), len(GLYPH_LEVELS) - 1)]
