"""Characters drawn as exactly one visible terminal cell.

The input window and the probability bars line characters up in columns, so
every character must take one cell: invisible and control characters get a
visible glyph, and wide or combining characters (which take two cells or none)
get a one-cell stand-in. ``describe`` gives the exact character in words.
"""

from __future__ import annotations

import unicodedata

from rich.cells import cell_len

SPECIAL = {
    "\n": "⏎",  # newline: return arrow
    "\r": "␍",
    "\t": "⇥",  # tab: rightwards arrow to bar
    " ": "␣",  # space: open box
    "\x7f": "␡",
    "\u00a0": "⍽",  # no-break space
}
WIDE = "▯"  # stand-in for a character two cells wide
ZERO_WIDTH = "◌"  # stand-in for a combining or zero-width character


def glyph(ch: str) -> str:
    """A one-cell visible glyph for the single character ``ch``."""
    if ch in SPECIAL:
        return SPECIAL[ch]
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # Unicode control pictures: ␀ ␁ ...
    category = unicodedata.category(ch)
    if category in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn") or category.startswith("M"):
        return ZERO_WIDTH
    if category == "Zs":
        return "⍽"
    width = cell_len(ch)
    if width == 1:
        return ch
    return WIDE if width == 2 else ZERO_WIDTH


def glyphs(text: str) -> str:
    """``glyph`` of every character; the result is exactly len(text) cells wide."""
    return "".join(glyph(ch) for ch in text)


def describe(ch: str) -> str:
    """The character in words, e.g. ``'a' U+0061`` or ``newline U+000A``."""
    names = {"\n": "newline", "\t": "tab", " ": "space", "\r": "carriage return"}
    if ch in names:
        label = names[ch]
    elif glyph(ch) == ch:
        label = repr(ch)
    else:
        label = unicodedata.name(ch, "character").lower()
    return f"{label} U+{ord(ch):04X}"
