"""Corpus-wide unit analysis: one corpus pass, every unit and feature statistic, one record.

    analysis = analyze(trainer.params, corpus, units=(3, 17), iteration=trainer.iteration)
    analysis.bits_per_char, analysis.features["depth"].ranked[:5], analysis.to_dict()

The pass never changes the parameters, the trainer or its random generators
(corpus_pass.py); what it computes is defined in the contract's last section.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from .corpus import Corpus
from .corpus_pass import PassResult, check_unit, run_pass
from .features import FEATURE_NAMES, FeatureResult, FeatureTracker, feature_result, make_features
from .record import FrozenMap
from .units import TOP_K, UnitContexts, UnitStats, UnitTracker, unit_contexts


@dataclass(frozen=True, eq=False)
class Analysis:
    """Everything one analysis measured (immutable; arrays are read-only)."""

    iteration: int | None  # the training iteration of the parameters, when the caller gave it
    chars: int  # N
    nats_per_char: float  # mean over t = 0..N-2 of -ln p_t(x_{t+1})
    bits_per_char: float  # the same in bits
    units: UnitStats
    features: Mapping[str, FeatureResult]  # by feature name, in the order asked
    top_contexts: Mapping[int, UnitContexts]  # for the units asked for
    pass_result: PassResult  # for recompute(): exact h_t of any region

    @property
    def hidden_size(self) -> int:
        return self.units.hidden_size

    def detached(self) -> "Analysis":
        """A copy without the text's indices, to send to another process (which has the text)."""
        return dataclasses.replace(self, pass_result=dataclasses.replace(self.pass_result, data=None))

    def attached(self, corpus: Corpus) -> "Analysis":
        """A detached analysis made whole again with the text it was computed on."""
        if len(corpus) != self.chars:
            raise ValueError(f"the analysis covers {self.chars} characters, the text has {len(corpus)}")
        return dataclasses.replace(self, pass_result=dataclasses.replace(self.pass_result, data=corpus.data))

    def to_dict(self) -> dict:
        """A JSON-ready dict (unit numbers as string keys in top_contexts; NaN and inf as None)."""
        stats = self.units
        return {
            "iteration": self.iteration,
            "chars": self.chars,
            "bits_per_char": _number(self.bits_per_char),
            "units": [
                {
                    "unit": u,
                    "mean": _number(stats.mean[u]),
                    "std": _number(stats.std[u]),
                    "sat_low": _number(stats.sat_low[u]),
                    "sat_high": _number(stats.sat_high[u]),
                }
                for u in range(stats.hidden_size)
            ],
            "features": {
                name: {
                    "r": [_number(r) for r in result.r],
                    "ranked": [int(u) for u in result.ranked],
                    "probe_r2": _number(result.probe_r2),
                }
                for name, result in self.features.items()
            },
            "top_contexts": {
                str(unit): {
                    "positive": [_top_position(p) for p in contexts.positive],
                    "negative": [_top_position(p) for p in contexts.negative],
                }
                for unit, contexts in self.top_contexts.items()
            },
        }


def _number(value) -> float | None:
    """A float for JSON: None for NaN, infinities and a missing value."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _top_position(p) -> dict:
    return {"position": p.position, "activation": _number(p.activation), "context": p.context}


def analyze(
    params: Mapping[str, np.ndarray],
    corpus: Corpus,
    features: Sequence[str] = FEATURE_NAMES,
    units: Sequence[int] = (),
    top_k: int = TOP_K,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    iteration: int | None = None,
    *,
    chunk_size: int | None = None,
) -> Analysis:
    """Run one corpus pass of ``params`` over ``corpus`` and measure every unit and feature.

    ``features``: names as in features.py (``regex:PATTERN`` too); an unknown
    name or a bad pattern raises FeatureError before any work. ``units``: the
    units whose top contexts are built (all units get the rest); one outside
    the model raises UnitError. ``progress`` and ``cancel`` go to the pass
    (PassCancelled on cancel). Returns the :class:`Analysis`.
    """
    feature_list = make_features(features, corpus)
    H = np.shape(params["Whh"])[0]
    asked = tuple(dict.fromkeys(check_unit(u, H) for u in units))
    unit_tracker = UnitTracker(H, top_k)
    feature_tracker = FeatureTracker(H, feature_list, len(corpus))
    result = run_pass(
        params, corpus.data, [unit_tracker, feature_tracker], chunk_size=chunk_size, progress=progress, cancel=cancel
    )
    full = feature_tracker.first.merged(feature_tracker.second)  # moments of [h_t, features] over all t
    stats = unit_tracker.finish(full)
    results = {f.name: feature_result(feature_tracker, full, j, stats.constant) for j, f in enumerate(feature_list)}
    return Analysis(
        iteration=iteration,
        chars=len(corpus),
        nats_per_char=result.nats_per_char,
        bits_per_char=result.bits_per_char,
        units=stats,
        features=FrozenMap(results),
        top_contexts=FrozenMap({u: unit_contexts(stats, corpus, u) for u in asked}),
        pass_result=result,
    )


def warm_up() -> None:
    """Compile the pass's and the statistics' loops (or load them from Numba's cache) on a tiny model."""
    corpus = Corpus.from_text('a(b "c")\nd', name="warm-up")
    rng = np.random.default_rng(0)
    V, H = corpus.vocab_size, 2
    params = {"Wxh": rng.standard_normal((H, V)), "Whh": rng.standard_normal((H, H)), "Why": rng.standard_normal((V, H)),
              "bh": np.zeros(H), "by": np.zeros(V)}
    analyze(params, corpus, units=(0,), top_k=2)
