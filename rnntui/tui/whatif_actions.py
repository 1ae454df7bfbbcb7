"""What-if on the main screen: interventions on the window shown, ablation scans, diffs across iterations.

A mixin for MainScreen, using only its public surface.
"""

from __future__ import annotations


class WhatIfActions:
    """Actions behind the what-if keys (see WHATIF_KEYS in keys.py)."""
