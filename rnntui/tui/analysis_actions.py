"""Corpus-wide unit analysis on the main screen: the unit table (U) and the neuron page (N).

A mixin for MainScreen, using only its public surface.
"""

from __future__ import annotations


class AnalysisActions:
    """Actions behind the unit-analysis keys (see ANALYSIS_KEYS in keys.py)."""
