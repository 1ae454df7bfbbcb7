"""Messages panels send up to the screen; state comes back down through reactives."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class CursorMoved(Message):
    """The user moved the timestep cursor in a panel: to ``t``, or by ``t`` steps when ``relative``.

    Keys send moves rather than positions: the owner adds each to its own
    value, so every press of a burst counts even when the owner's value comes
    back down to the panel between two presses.
    """

    t: int
    relative: bool = False

    def target(self, current: int, last: int) -> int:
        """The timestep asked for, given the owner's ``current`` one, within 0..``last``."""
        current = min(current, last)  # a longer window's cursor counts from the end of this one
        return max(0, min(current + self.t if self.relative else self.t, last))


@dataclass
class UnitSelected(Message):
    """The user moved to hidden unit ``unit`` in the heatmap, or by ``unit`` units when ``relative``.

    ``chosen`` is True for enter or a click: colour the input window by it.
    """

    unit: int
    chosen: bool = False
    relative: bool = False

    def target(self, current: int, last: int) -> int:
        """The unit asked for, given the owner's ``current`` one, within 0..``last``."""
        return max(0, min(current + self.unit if self.relative else self.unit, last))
