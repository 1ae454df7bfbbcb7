"""Drawing helpers several panels share: bars, strips, markers, probability text, fitting a width."""

from __future__ import annotations

import math

import numpy as np
from textual.content import Content

EIGHTHS = " ▏▎▍▌▋▊▉"  # partial cells of a horizontal bar, 0/8 .. 7/8
LEVELS = "▁▂▃▄▅▆▇█"  # one-cell column heights, 1/8 .. 8/8
TARGET_STYLE = "bold $warning"
CURSOR_STYLE = "bold reverse"
BAR_STYLE = "$primary"
EMPTY_TEXT = "press space to take the first step"


def count(n: int, noun: str) -> str:
    """``1 iteration``, ``1,200 iterations``: a number with its noun, plural unless one."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def format_prob(p: float) -> str:
    """A probability in 6 cells: ``0.4312``, or ``3.2e-5`` when below 0.0001."""
    if p >= 1e-4 or p == 0:
        return f"{p:.4f}"
    return f"{p:.1e}".replace("e-0", "e-")


def hbar(fraction: float, width: int) -> str:
    """A left-aligned bar ``width`` cells wide filled to ``fraction`` in eighths."""
    if not math.isfinite(fraction):
        return "?".ljust(width)
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    bar = "█" * full + (EIGHTHS[part] if part else "")
    return bar.ljust(width)[:width]


def level_char(fraction: float) -> str:
    """One cell whose height shows ``fraction`` of a full cell (blank at 0, ``!`` if not finite)."""
    if not math.isfinite(fraction):
        return "!"
    if fraction <= 0:
        return " "
    return LEVELS[max(0, min(7, math.ceil(fraction * 8) - 1))]


def window_span(length: int, width: int, cursor: int) -> tuple[int, int]:
    """The [start, stop) range of ``length`` cells that fits ``width``, keeping ``cursor`` in view."""
    width = max(1, width)
    if length <= width:
        return 0, length
    start = max(0, min(cursor - width // 2, length - width))
    return start, start + width


def strip_line(values: np.ndarray, scale: float, span: tuple[int, int], cursor: int, style: str) -> Content:
    """Cells ``span`` of ``values`` as column heights over ``scale``, the cursor's cell reversed."""
    parts: list[tuple[str, str]] = []
    for t in range(*span):
        frac = float(values[t]) / scale if scale > 0 else 0.0
        parts.append((level_char(frac), CURSOR_STYLE if t == cursor else style))
    return Content.assemble(*parts)


def marker_line(span: tuple[int, int], cursor: int, text: str, width: int) -> str:
    """``▲`` under the cursor's cell of a strip drawn over ``span``, with ``text`` beside it.

    The text goes right of the marker, or left of it when it would not fit in ``width``.
    """
    pos = cursor - span[0]
    if pos + 2 + len(text) <= width or pos < len(text) + 1:
        return " " * pos + "▲ " + text
    return " " * (pos - len(text) - 1) + text + " ▲"


def fit(width: int, *variants: str) -> str:
    """The first of ``variants`` (longest first) that fits ``width`` cells, else the last one."""
    for text in variants:
        if len(text) <= width:
            return text
    return variants[-1]
