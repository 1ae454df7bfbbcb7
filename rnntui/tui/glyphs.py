"""Characters drawn as exactly one visible terminal cell.

The input window and the probability bars line characters up in columns, so
every character must take one cell: invisible and control characters get a
visible glyph, and wide or combining characters (which take two cells or none)
get a one-cell stand-in. Where a line can afford a wide character (a detail
line, a list with a two-cell column), :func:`shown` keeps it as it is.
``describe`` gives the exact character in words.
"""

from __future__ import annotations

import unicodedata

from rich.cells import cell_len

from ..engine.corpus import CONTROL_PICTURES

SPECIAL = {
    **{ch: picture for ch, picture in CONTROL_PICTURES.items() if ord(ch) < 0x80},  # ⏎ ⇥ ␀ ... ␡, as the engine
    " ": "␣",  # space: open box
    "\u00a0": "⍽",  # no-break space
}
WIDE = "▯"  # stand-in for a character two cells wide
ZERO_WIDTH = "◌"  # stand-in for a combining or zero-width character


def glyph(ch: str) -> str:
    """A one-cell visible glyph for the single character ``ch``."""
    if ch in SPECIAL:
        return SPECIAL[ch]
    category = unicodedata.category(ch)
    if category in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn") or category.startswith("M"):
        return ZERO_WIDTH
    if category == "Zs":
        return "⍽"
    width = cell_len(ch)
    if width == 1:
        return ch
    return WIDE if width == 2 else ZERO_WIDTH


def shown(ch: str) -> str:
    """The character itself where one wide cell pair can be afforded, else :func:`glyph`.

    A printable character two cells wide (CJK, most emoji) is kept as it is;
    everything else is as :func:`glyph` draws it, one cell.
    """
    if cell_len(ch) == 2 and unicodedata.category(ch)[0] not in "CMZ":
        return ch
    return glyph(ch)


def cells(ch: str) -> int:
    """Cells :func:`shown` takes for ``ch``: 2 for a wide character, else 1."""
    return cell_len(shown(ch))


def padded(ch: str, width: int) -> str:
    """:func:`shown` of ``ch`` padded with spaces to ``width`` cells."""
    text = shown(ch)
    return text + " " * (width - cell_len(text))


def code_point(ch: str) -> str:
    """``U+65E5``."""
    return f"U+{ord(ch):04X}"


def glyphs(text: str) -> str:
    """``glyph`` of every character; the result is exactly len(text) cells wide."""
    return "".join(glyph(ch) for ch in text)


def describe(ch: str) -> str:
    """The character in words, e.g. ``'a' U+0061`` or ``newline U+000A``."""
    names = {"\n": "newline", "\t": "tab", " ": "space", "\r": "carriage return"}
    if ch in names:
        label = names[ch]
    elif shown(ch) == ch:
        label = repr(ch)
    else:
        label = unicodedata.name(ch, "character").lower()
    return f"{label} {code_point(ch)}"
