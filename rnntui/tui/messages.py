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
    """The user picked hidden unit ``unit`` in the heatmap."""

    unit: int
