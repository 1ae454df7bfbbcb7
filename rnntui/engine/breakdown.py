"""Which of the RNN's errors on a text simpler explanations account for.

Adapted from Karpathy, Johnson & Fei-Fei, "Visualizing and Understanding Recurrent
Networks" (2015), section 4.3. On an evaluated text x_0 .. x_{M-1}, position t (t = 0 ..
M-2) is an *error* when the RNN gives the next character x_{t+1} a probability p_t(x_{t+1})
below ERROR_P (a NaN probability, from a diverged model, counts as an error too). A model
"gets" a character when it gives it at least ERROR_P. Each error falls in exactly one
category, the first that applies, in this order:

- "n-gram": some character k-gram model, k = 1..5 (ngram.py, fitted on the training
  part, context from the evaluated text), gets x_{t+1};
- "word start": x_{t+1} starts a word: it is alphanumeric (str.isalnum) and x_t is not.
  A word is a maximal run of alphanumeric characters;
- "rare": x_{t+1} is one of the rarest characters of the training part: with n =
  ceil(V / 100) and c* the n-th smallest of the V training counts (characters absent
  from the training part count 0), every character whose count is at most c*; ties at c*
  are all in, so the set can hold more than n characters;
- "other": the rest.

The accumulator is fed the RNN's results chunk by chunk, in order, so that a corpus pass
never has to hold a whole text's probabilities.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .ngram import NgramModels, as_indices
from .record import FrozenMap

ERROR_P = 0.5  # a model gets a character when it gives it at least this probability
RARE_PERCENT = 1  # the rarest 1% of the vocabulary (rounded up, ties included) is "rare"
EXAMPLES_KEPT = 200  # examples kept per category, the first ones in the text
CONTEXT_CHARS = 30  # characters of text shown before an example's target
TOP_SHOWN = 3  # the RNN's most likely next characters shown with an example
CATEGORIES = ("n-gram", "word start", "rare", "other")  # in order of precedence


def rare_characters(char_counts: np.ndarray) -> np.ndarray:
    """(V,) bool: the rarest RARE_PERCENT of the vocabulary by training count, rounded up, ties included."""
    n_rarest = -(-RARE_PERCENT * len(char_counts) // 100)  # ceil in integers (0.01 * 700 is 7.000000000000001)
    cutoff = np.sort(char_counts)[n_rarest - 1]
    return np.asarray(char_counts) <= cutoff


def top_predictions(ps: np.ndarray, k: int = TOP_SHOWN) -> tuple[np.ndarray, np.ndarray]:
    """The k most likely next characters of each row of ``ps`` (n, V), most likely first.

    Returns (indices (n, k), probabilities (n, k)), k at most V; equal probabilities go to
    the lower index.
    """
    ps = np.asarray(ps, dtype=np.float64)
    k = min(k, ps.shape[1])
    # k passes of argmax (which returns the first of equal maxima) cost far less than sorting every row.
    rest = ps.copy()  # (n, V) each pass masks the maximum it found
    rows = np.arange(len(rest))
    index = np.empty((len(rest), k), dtype=np.int64)
    for j in range(k):
        index[:, j] = np.argmax(rest, axis=1)
        rest[rows, index[:, j]] = -np.inf
    return index, np.take_along_axis(ps, index, axis=1)


@dataclass(frozen=True)
class ErrorExample:
    """One error: position t, where the RNN gave the next character x_{t+1} less than ERROR_P."""

    t: int  # position in the evaluated text; the target is x_{t+1}
    context: str  # x_{t-CONTEXT_CHARS+1} .. x_t (fewer near the start), the text before the target
    target: str  # x_{t+1}
    p: float  # the RNN's p_t(x_{t+1})
    top: tuple[tuple[str, float], ...]  # the RNN's most likely next characters with p, most likely first
    ngram_p: float  # the highest probability any k-gram model gave x_{t+1}
    ngram_order: int  # the k of that model (the lowest, on ties)


@dataclass(frozen=True, eq=False)
class Breakdown:
    """The errors of the positions scored so far, per category (CATEGORIES order)."""

    counts: Mapping[str, int]  # errors per category
    positions: int  # positions scored (each predicts one character)
    errors: int  # positions with p_t(x_{t+1}) < ERROR_P: the sum of ``counts``
    examples: Mapping[str, tuple[ErrorExample, ...]]  # the first EXAMPLES_KEPT errors of each category
    rare_chars: str  # the characters the "rare" category counts as rare

    @property
    def shares(self) -> Mapping[str, float]:
        """Fraction of the errors in each category (0 when there are no errors)."""
        return FrozenMap({c: n / self.errors if self.errors else 0.0 for c, n in self.counts.items()})

    @property
    def error_rate(self) -> float:
        """Fraction of the positions that are errors (0 when none was scored)."""
        return self.errors / self.positions if self.positions else 0.0

    def to_dict(self) -> dict[str, int]:
        """``{category: count}`` plus "errors" and "positions", for JSON."""
        return {**self.counts, "errors": self.errors, "positions": self.positions}


class BreakdownAccumulator:
    """Counts the RNN's errors on one evaluated text by category, fed chunk by chunk in order.

    ``text`` is the evaluated text's vocabulary indices, ``vocab`` the characters they
    index, ``ngrams`` the k-gram models fitted on the training part (their character
    counts define "rare").
    """

    def __init__(self, text: np.ndarray, vocab: Sequence[str], ngrams: NgramModels) -> None:
        if len(vocab) != ngrams.vocab_size:
            raise ValueError(f"vocab has {len(vocab)} characters but the n-gram models were fitted with V = {ngrams.vocab_size}")
        self._text = np.asarray(text)  # (M,) checked piece by piece as chunks read it
        self._vocab = tuple(vocab)
        self._alnum = np.array([ch.isalnum() for ch in self._vocab])  # (V,)
        self._rare = rare_characters(ngrams.char_counts)  # (V,)
        self._ngrams = ngrams
        self._counts = np.zeros(len(CATEGORIES), dtype=np.int64)
        self._examples: list[list[ErrorExample]] = [[] for _ in CATEGORIES]
        self._positions = 0

    def add(self, start: int, target_p: np.ndarray, top_index: np.ndarray, top_p: np.ndarray) -> None:
        """Score positions t = start .. start+n-1 (``start`` = the positions scored so far).

        target_p (n,): the RNN's p_t(x_{t+1}); top_index, top_p (n, k): its k most likely
        next characters and their probabilities, most likely first (see top_predictions).
        """
        target_p = np.asarray(target_p, dtype=np.float64)
        top_index, top_p = np.asarray(top_index), np.asarray(top_p, dtype=np.float64)
        n = len(target_p)
        self._check_chunk(start, target_p, top_index, top_p)
        is_error = ~(target_p >= ERROR_P)  # (n,) NaN is an error
        errors = np.flatnonzero(is_error)  # (E,) offsets in the chunk
        if len(errors):
            ngram_p = self._ngrams.target_probs(self._text, start, start + n)[:, errors]  # (K, E)
            t = start + errors
            categories = self._categorise(t, ngram_p)
            self._counts += np.bincount(categories, minlength=len(CATEGORIES))
            self._keep_examples(t, categories, ngram_p, target_p[errors], top_index[errors], top_p[errors])
        self._positions += n

    def result(self) -> Breakdown:
        """The breakdown of the positions scored so far."""
        counts = dict(zip(CATEGORIES, self._counts.tolist()))
        return Breakdown(
            counts=FrozenMap(counts),
            positions=self._positions,
            errors=sum(counts.values()),
            examples=FrozenMap({c: tuple(kept) for c, kept in zip(CATEGORIES, self._examples)}),
            rare_chars="".join(ch for ch, rare in zip(self._vocab, self._rare) if rare),
        )

    def _check_chunk(self, start: int, target_p: np.ndarray, top_index: np.ndarray, top_p: np.ndarray) -> None:
        n = len(target_p)
        if start != self._positions:
            raise ValueError(f"chunks must come in order: expected start {self._positions}, got {start}")
        if start + n > len(self._text) - 1:
            raise ValueError(f"positions {start}..{start + n - 1} run past the text (t < {len(self._text) - 1})")
        if target_p.ndim != 1 or top_index.shape != top_p.shape or top_index.shape[:1] != (n,) or top_index.ndim != 2:
            raise ValueError(f"expected target_p (n,) and top arrays (n, k); got {target_p.shape}, {top_index.shape}, {top_p.shape}")

    def _categorise(self, t: np.ndarray, ngram_p: np.ndarray) -> np.ndarray:
        """(E,) category number of each error position (CATEGORIES order, first that applies)."""
        target = as_indices(self._text[t + 1], len(self._vocab))  # x_{t+1}
        before = as_indices(self._text[t], len(self._vocab))  # x_t
        conditions = [
            ngram_p.max(axis=0) >= ERROR_P,
            self._alnum[target] & ~self._alnum[before],
            self._rare[target],
        ]
        return np.select(conditions, [0, 1, 2], default=3)

    def _keep_examples(self, t, categories, ngram_p, target_p, top_index, top_p) -> None:
        """Keep the first errors of each category until it holds EXAMPLES_KEPT."""
        for category, kept in enumerate(self._examples):
            room = EXAMPLES_KEPT - len(kept)
            for e in np.flatnonzero(categories == category)[:room]:
                kept.append(self._example(int(t[e]), ngram_p[:, e], target_p[e], top_index[e], top_p[e]))

    def _example(self, t: int, ngram_p: np.ndarray, p: float, top_index: np.ndarray, top_p: np.ndarray) -> ErrorExample:
        best = int(np.argmax(ngram_p))
        return ErrorExample(
            t=t,
            context=self._decode(max(t + 1 - CONTEXT_CHARS, 0), t + 1),
            target=self._vocab[int(self._text[t + 1])],
            p=float(p),
            top=tuple((self._vocab[int(i)], float(q)) for i, q in zip(top_index, top_p)),
            ngram_p=float(ngram_p[best]),
            ngram_order=best + 1,
        )

    def _decode(self, start: int, stop: int) -> str:
        return "".join(self._vocab[int(i)] for i in self._text[start:stop])


def error_breakdown(
    text: np.ndarray,
    vocab: Sequence[str],
    ngrams: NgramModels,
    target_p: np.ndarray,
    top_index: np.ndarray,
    top_p: np.ndarray,
) -> Breakdown:
    """The breakdown of a whole text in one chunk (arguments as for BreakdownAccumulator)."""
    accumulator = BreakdownAccumulator(text, vocab, ngrams)
    accumulator.add(0, target_p, top_index, top_p)
    return accumulator.result()
