"""What-if on the main screen: interventions on the window shown, ablation scans, diffs across iterations.

A mixin for MainScreen, using only its public surface.
"""

from __future__ import annotations


class WhatIfActions:
    """Actions behind the what-if keys (see WHATIF_KEYS in keys.py)."""

    def action_what_if(self) -> None:
        """X: the what-if screen on the window shown (pauses a run first)."""
        from .whatif_screen import WhatIfScreen

        if self.running:
            self.pause()
        if self.record is None:
            self.notify("take a step first (space): what-if works on the window shown", severity="warning")
            return
        screen = WhatIfScreen(self.controller, self.record, self.cursor_t, self.unit, self._unit_from_what_if)
        self.app.push_screen(screen)

    def _unit_from_what_if(self, unit: int) -> None:
        """A unit chosen on the what-if screen becomes the unit of every panel."""
        self.unit = unit
