"""Messages panels send up to the screen; state comes back down through reactives."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class CursorMoved(Message):
    """The user picked timestep ``t`` (by key or mouse) in a panel."""

    t: int


@dataclass
class UnitSelected(Message):
    """The user moved to hidden unit ``unit`` in the heatmap.

    ``chosen`` is True for enter or a click: colour the input window by it.
    """

    unit: int
    chosen: bool = False
