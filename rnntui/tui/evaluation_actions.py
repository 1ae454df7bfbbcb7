"""Evaluation on the main screen: bits per character on held-out text, baselines, the error breakdown.

A mixin for MainScreen, using only its public surface.
"""

from __future__ import annotations


class EvaluationActions:
    """Actions behind the evaluation keys (see EVALUATION_KEYS in keys.py)."""
