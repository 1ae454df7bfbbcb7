"""Character k-gram baselines (k = 1..5), fitted on the training part, to compare the RNN with.

Estimator: interpolated Witten-Bell, down to the uniform distribution over the V
characters of the vocabulary. It has no free parameter (Kneser-Ney's discounts are
usually estimated from the numbers of grams seen once and twice, which a tiny training
part or V = 2 can leave at zero), and its lower order is exactly the (k-1)-gram model, so
the five models are nested and one pass over a text scores all of them. Every character
gets a non-zero probability after every context, seen or not, and each distribution sums
to 1 (to rounding).

Counts come from the training text y_0 .. y_{N-1}: c(w) is the number of positions where
the string w occurs; for a context h, c(h.) = sum over characters c of c(hc) (the
occurrences of h followed by a character) and N1+(h.) = the number of distinct characters
c with c(hc) > 0. With P_0(c) = 1 / V, the model of order m (context h of m - 1
characters, h' = h without its oldest character) is

    P_m(c | h) = (c(hc) + N1+(h.) P_{m-1}(c | h')) / (c(h.) + N1+(h.))   when c(h.) > 0
    P_m(c | h) = P_{m-1}(c | h')                                           when c(h.) = 0

so the unigram (m = 1, empty context) is (c(c) + N1+(.) / V) / (N + N1+(.)).

Scoring a text x_0 .. x_{M-1} with the k-gram model: p_t(x_{t+1}) = P_k(x_{t+1} | x_{t-k+2}
.. x_t), the context taken from the scored text only. Near its start (t < k - 2) fewer
characters exist, and the context is the t + 1 characters x_0 .. x_t, i.e. the model of
order t + 2. Bits per character is the mean of -log2 p_t(x_{t+1}) over t = 0 .. M-2.

Storage: a gram of m characters is keyed by (id of its first m - 1 characters) * V + its
last character, where the id of a gram is its rank among the distinct grams of its
length; keys are counted with a dense np.bincount where the key range is small (low
orders) and np.unique elsewhere, and looked up with np.searchsorted, so fitting and
scoring are a few counting passes, sorts and binary searches per order, with no
per-character Python.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .record import frozen

MAX_ORDER = 5  # orders 1..5 are fitted
_PIECE = 1 << 20  # positions scored at a time (bounds the temporaries of a long text)
_DENSE_KEYS_PER_GRAM = 2  # count with a dense table when the key space is at most this many keys per gram


def as_indices(indices: np.ndarray, vocab_size: int) -> np.ndarray:
    """``indices`` as an int64 array (a copy when the dtype differs), checked to lie in 0..V-1."""
    arr = np.asarray(indices)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"expected a 1-D array of vocabulary indices, got shape {arr.shape} of {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and (arr.min() < 0 or arr.max() >= vocab_size):
        raise ValueError(f"vocabulary indices must lie in 0..{vocab_size - 1}")
    return arr


@dataclass(frozen=True, eq=False)
class _OrderTable:
    """Training counts of one order m: grams of m characters, read as context (m - 1) + next.

    Context ids are the gram ids of order m - 1 (order 1 has one context, the empty one,
    id 0). Each per-id array ends with an extra 0, so that id -1 ("not in the training
    text") reads a count of 0 without a branch.
    """

    keys: np.ndarray  # (G,) sorted: context id * V + next character, one per distinct gram
    counts: np.ndarray  # (G + 1,) c(hc) per gram id, then 0
    context_total: np.ndarray  # (C + 1,) c(h.) per context id, then 0
    context_types: np.ndarray  # (C + 1,) N1+(h.) per context id, then 0

    def lookup(self, context_ids: np.ndarray, chars: np.ndarray, vocab_size: int) -> np.ndarray:
        """Gram ids of (context, next character) pairs; -1 where the gram is not in the training text."""
        if len(self.keys) == 0:
            return np.full(len(chars), -1, dtype=np.int64)
        keys = context_ids * vocab_size + chars
        pos = np.searchsorted(self.keys, keys)
        in_range = np.minimum(pos, len(self.keys) - 1)
        found = (context_ids >= 0) & (self.keys[in_range] == keys)
        return np.where(found, in_range, -1)


def _with_zero(arr: np.ndarray) -> np.ndarray:
    return frozen(np.append(arr.astype(np.int64), 0))


def _fit_order(prefix_ids: np.ndarray, data: np.ndarray, order: int, n_contexts: int, vocab_size: int):
    """The table of order ``order`` and the gram id at each start position (for the next order)."""
    n_grams = max(len(data) - order + 1, 0)  # grams of ``order`` characters start at 0..N-order
    context_ids = prefix_ids[:n_grams]  # (n_grams,) id of each gram's first order-1 characters
    keys = context_ids * vocab_size + data[order - 1 : order - 1 + n_grams]
    distinct, gram_ids, counts = _count_keys(keys, n_contexts * vocab_size)
    table = _OrderTable(
        keys=frozen(distinct),
        counts=_with_zero(counts),
        context_total=_with_zero(np.bincount(context_ids, minlength=n_contexts)),
        context_types=_with_zero(np.bincount(distinct // vocab_size, minlength=n_contexts)),
    )
    return table, gram_ids


def _count_keys(keys: np.ndarray, key_space: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sorted distinct keys, rank of each key among them, occurrences of each distinct key).

    Keys lie in 0..key_space-1. When that range is small next to the number of keys
    (low orders), one counting pass over a dense table is several times faster than the
    sort np.unique needs, in no more memory.
    """
    if key_space <= _DENSE_KEYS_PER_GRAM * len(keys):
        occurrences = np.bincount(keys, minlength=key_space)  # (key_space,)
        distinct = np.flatnonzero(occurrences)
        rank = np.cumsum(occurrences > 0) - 1  # (key_space,) rank of each present key
        return distinct, rank[keys], occurrences[distinct]
    distinct, ranks, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return distinct, ranks.reshape(-1), counts  # (NumPy 2.0.0 gave the inverse another shape)


def fit_ngrams(indices: np.ndarray, vocab_size: int, max_order: int = MAX_ORDER) -> NgramModels:
    """Fit the k-gram models k = 1..max_order on a training text of vocabulary indices.

    ``indices`` may be empty (every model is then uniform); characters of the vocabulary
    that it lacks keep a non-zero probability.
    """
    if vocab_size < 1:
        raise ValueError(f"vocab_size must be at least 1, got {vocab_size}")
    if max_order < 1:
        raise ValueError(f"max_order must be at least 1, got {max_order}")
    data = as_indices(indices, vocab_size)  # (N,)
    prefix_ids = np.zeros(len(data), dtype=np.int64)  # the empty gram starts everywhere, id 0
    n_contexts = 1
    tables = []
    for order in range(1, max_order + 1):
        table, prefix_ids = _fit_order(prefix_ids, data, order, n_contexts, vocab_size)
        tables.append(table)
        n_contexts = len(table.keys)
    char_counts = frozen(np.bincount(data, minlength=vocab_size).astype(np.int64))
    return NgramModels(vocab_size=vocab_size, char_counts=char_counts, tables=tuple(tables))


@dataclass(frozen=True, eq=False)
class NgramModels:
    """The k-gram models k = 1..max_order of one training text (see the module docstring)."""

    vocab_size: int  # V
    char_counts: np.ndarray  # (V,) occurrences of each character in the training text
    tables: tuple[_OrderTable, ...]  # counts of orders 1..max_order

    @property
    def max_order(self) -> int:
        return len(self.tables)

    @property
    def models(self) -> tuple[NgramModel, ...]:
        """The models of orders 1..max_order."""
        return tuple(NgramModel(self, k) for k in range(1, self.max_order + 1))

    def model(self, order: int) -> NgramModel:
        """The k-gram model of order ``order`` (1 = unigram)."""
        if not 1 <= order <= self.max_order:
            raise ValueError(f"order must lie in 1..{self.max_order}, got {order}")
        return NgramModel(self, order)

    def target_probs(self, indices: np.ndarray, start: int = 0, stop: int | None = None) -> np.ndarray:
        """(max_order, stop - start) p_t(x_{t+1}) of every order, for t = start..stop-1 (default: all).

        Row k - 1 is the k-gram model. The context before ``start`` is read from
        ``indices``, so scoring a text in pieces gives the same numbers as scoring it whole.
        """
        return self._target_probs(indices, start, stop, self.max_order, slice(None))

    def bpc(self, indices: np.ndarray) -> tuple[float, ...]:
        """Bits per character of a text (at least 2 characters) under each order, 1..max_order."""
        return tuple(self._bpc(indices, self.max_order).tolist())

    def _target_probs(self, indices: np.ndarray, start: int, stop: int | None, top_order: int, rows: int | slice) -> np.ndarray:
        """Row(s) ``rows`` (order - 1) of the probabilities of t = start..stop-1."""
        start, stop = _position_range(len(indices), start, stop)
        # copies, so that the other orders of each piece are freed
        parts = [probs[rows].copy() for probs in self._pieces(indices, start, stop, top_order)]
        if not parts:
            return np.empty((top_order, 0))[rows]
        return np.concatenate(parts, axis=-1)

    def _bpc(self, indices: np.ndarray, top_order: int) -> np.ndarray:
        n = len(indices) - 1  # positions that predict a character
        if n < 1:
            raise ValueError("bits per character needs a text of at least 2 characters")
        bits = np.zeros(top_order)
        for probs in self._pieces(indices, 0, n, top_order):
            bits += -np.log2(probs).sum(axis=1)
        return bits / n

    def _pieces(self, indices: np.ndarray, start: int, stop: int, top_order: int) -> Iterator[np.ndarray]:
        """(top_order, n) probabilities of orders 1..top_order for t = start..stop-1, a bounded piece at a time."""
        reach = max(top_order - 2, 0)  # characters of context before x_t the top order reads
        for first in range(start, stop, _PIECE):
            last = min(first + _PIECE, stop)
            lo = max(first - reach, 0)
            piece = as_indices(indices[lo : last + 1], self.vocab_size)  # x_lo .. x_last
            yield self._score_piece(piece, top_order)[:, first - lo :]

    def _score_piece(self, text: np.ndarray, top_order: int) -> np.ndarray:
        """(top_order, L - 1) P_m(x_{t+1} | context) for t = 0..L-2, contexts cut at the text's start."""
        V, L = self.vocab_size, len(text)
        out = np.empty((top_order, L - 1))
        p = np.full(L - 1, 1.0 / V)  # P_0, uniform
        prefix_ids = np.zeros(L, dtype=np.int64)  # training id of the gram of order m - 1 starting at i
        for order in range(1, top_order + 1):
            table = self.tables[order - 1]
            n_grams = L - order + 1  # grams of this order start at i = 0..L-order, ending at t + 1
            if n_grams < 1:
                out[order - 1 :] = p  # no position has this much context: shorter contexts stand
                break
            context_ids = prefix_ids[:n_grams]
            gram_ids = table.lookup(context_ids, text[order - 1 : order - 1 + n_grams], V)
            first = max(2 - order, 0)  # the gram at i predicts x_{i+order-1}: t = i + order - 2 >= 0
            p[first + order - 2 :] = _witten_bell(
                count=table.counts[gram_ids[first:]],
                total=table.context_total[context_ids[first:]],
                types=table.context_types[context_ids[first:]],
                lower=p[first + order - 2 :],
            )
            out[order - 1] = p
            prefix_ids = gram_ids
        return out


def _witten_bell(count: np.ndarray, total: np.ndarray, types: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """(c(hc) + N1+(h.) lower) / (c(h.) + N1+(h.)), or ``lower`` where the context was never seen."""
    seen = total > 0
    denominator = np.where(seen, total + types, 1)
    return np.where(seen, (count + types * lower) / denominator, lower)


def _position_range(length: int, start: int, stop: int | None) -> tuple[int, int]:
    """Check t = start..stop-1 against a text of ``length`` characters (t predicts x_{t+1})."""
    last = length - 1  # positions 0..length-2 predict a character
    stop = max(last, 0) if stop is None else stop
    if not 0 <= start <= stop <= max(last, 0):
        raise ValueError(f"positions {start}..{stop} do not fit a text of {length} characters (t < {max(last, 0)})")
    return start, stop


@dataclass(frozen=True, eq=False)
class NgramModel:
    """One k-gram model of a fitted :class:`NgramModels`."""

    fitted: NgramModels
    order: int  # k: the context is the k - 1 characters up to and including x_t

    @property
    def vocab_size(self) -> int:
        return self.fitted.vocab_size

    def probs(self, context: Sequence[int]) -> np.ndarray:
        """(V,) P_k(. | context), read from its last k - 1 indices (all of it when shorter)."""
        V = self.vocab_size
        context = tuple(int(c) for c in context)
        if any(not 0 <= c < V for c in context):
            raise ValueError(f"context indices must lie in 0..{V - 1}")
        context = context[len(context) - min(len(context), self.order - 1) :]
        p = np.full(V, 1.0 / V)  # P_0, uniform
        for order in range(1, len(context) + 2):
            history = context[len(context) - (order - 1) :]
            p = self._next_order(order, self._gram_id(history), p)
        return p

    def target_probs(self, indices: np.ndarray, start: int = 0, stop: int | None = None) -> np.ndarray:
        """(stop - start,) p_t(x_{t+1}) for t = start..stop-1 (default: every t = 0..M-2)."""
        return self.fitted._target_probs(indices, start, stop, self.order, self.order - 1)

    def bpc(self, indices: np.ndarray) -> float:
        """Bits per character of a text of at least 2 characters: mean of -log2 p_t(x_{t+1})."""
        return float(self.fitted._bpc(indices, self.order)[self.order - 1])

    def _gram_id(self, gram: tuple[int, ...]) -> int:
        """Training id of a gram (-1 when it does not occur in the training text)."""
        gram_id = 0  # the empty gram
        for length, char in enumerate(gram, start=1):
            table = self.fitted.tables[length - 1]
            gram_id = int(table.lookup(np.array([gram_id]), np.array([char]), self.vocab_size)[0])
            if gram_id < 0:
                break
        return gram_id

    def _next_order(self, order: int, context_id: int, lower: np.ndarray) -> np.ndarray:
        """(V,) P_order(. | h) from P_{order-1}(. | h') = ``lower``, h the context with this id."""
        V = self.vocab_size
        table = self.fitted.tables[order - 1]
        first_key = max(context_id, 0) * V
        lo, hi = np.searchsorted(table.keys, [first_key, first_key + V])
        count = np.zeros(V, dtype=np.int64)
        if context_id >= 0:
            count[table.keys[lo:hi] - first_key] = table.counts[lo:hi]
        total = np.full(V, table.context_total[context_id])
        types = np.full(V, table.context_types[context_id])
        return _witten_bell(count, total, types, lower)
