"""Per-unit statistics over a whole text, streamed over the corpus pass.

For every hidden unit: mean and standard deviation of h_t[u] over all t, the
fraction of t where it is saturated low (h < -SATURATION) or high (h >
SATURATION), whether it is dead (std < DEAD_STD), always saturated or constant,
and the positions of its largest and smallest values (streaming top-K, with a
context string built from the corpus around each).

Means and variances come from :class:`Moments`, the streaming co-moment
accumulator the features share (features.py); the rest from a compiled loop over
each chunk's (n, H) hidden states (or, without Numba, its NumPy twin: see jit.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .corpus import Corpus, visible
from .corpus_pass import Chunk
from .jit import njit
from .record import frozen

SATURATION = 0.95  # |h| above this counts as saturated (tanh's gradient 1 - h^2 is below 0.1 there)
DEAD_STD = 0.01  # a unit whose h_t varies less than this over the text is dead
TOP_K = 10  # positions kept per unit and direction
HIST_BINS = 20  # bins of each unit's histogram of h over the text, across [-1, 1]
CONTEXT_RADIUS = 20  # characters shown on each side of a position
CONTEXT_MARKS = ("⟦", "⟧")  # around the character at the position (not brackets a text is likely to use)


# --- streaming moments --------------------------------------------------------------
class Moments:
    """Count, mean and co-moment matrix of the columns of all rows given so far.

    Each batch is centred on its own mean and merged with the running totals by
    Chan, Golub and LeVeque's pairwise update, so variances keep their precision
    over a hundred million rows even for a column far from zero with a small spread.
    """

    def __init__(self, width: int) -> None:
        self.count = 0
        self.mean = np.zeros(width)  # (D,)
        self.comoment = np.zeros((width, width))  # (D, D) sum of (z - mean)(z - mean)^T

    def add(self, rows: np.ndarray, overwrite: bool = False) -> None:
        """Add the rows (n, D); with ``overwrite`` they are centred in place instead of copied."""
        n = len(rows)
        if n == 0:
            return
        mean = rows.mean(axis=0)  # (D,)
        centred = rows if overwrite else rows.copy()
        centred -= mean
        self._merge(n, mean, centred.T @ centred)

    def merged(self, other: "Moments") -> "Moments":
        """A new accumulator holding the rows of both."""
        out = Moments(len(self.mean))
        out._merge(self.count, self.mean, self.comoment)
        out._merge(other.count, other.mean, other.comoment)
        return out

    def _merge(self, n: int, mean: np.ndarray, comoment: np.ndarray) -> None:
        if n == 0:
            return
        total = self.count + n
        delta = mean - self.mean  # (D,)
        self.comoment += comoment + np.outer(delta, delta) * (self.count * n / total)
        self.mean += delta * (n / total)
        self.count = total

    @property
    def variance(self) -> np.ndarray:
        """(D,) population variance of each column (NaN before any row)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.diag(self.comoment) / self.count


# --- the per-chunk loop ------------------------------------------------------------------
@njit(inline="always", error_model="numpy")
def _insert(values, positions, value, position):  # pragma: no cover - compiled
    """Insert into a list kept largest first; an equal value goes after those already there."""
    j = values.size - 1
    while j > 0 and values[j - 1] < value:
        values[j] = values[j - 1]
        positions[j] = positions[j - 1]
        j -= 1
    values[j] = value
    positions[j] = position


def track_chunk_numpy(hs, start, level, low, high, mins, maxs, top_vals, top_pos, neg_vals, neg_pos):
    """track_chunk's twin: counts and extremes by whole-chunk reductions, the top lists by a merge."""
    low += np.count_nonzero(hs < -level, axis=0)
    high += np.count_nonzero(hs > level, axis=0)
    np.fmin(mins, np.fmin.reduce(hs, axis=0), out=mins)  # fmin and fmax pass NaN over
    np.fmax(maxs, np.fmax.reduce(hs, axis=0), out=maxs)
    if top_vals.shape[1] > 0:
        _merge_top(hs, start, top_vals, top_pos)
        _merge_top(-hs, start, neg_vals, neg_pos)


def _merge_top(values, start, top_vals, top_pos):
    """Fold values (n, H), at text position ``start``, into the lists top_vals/top_pos (H, K).

    The result of track_chunk's insertions: each unit's list holds the K best of
    everything seen by (larger value, then earlier position), the empty slots
    (-inf at position -1) counting as seen first. A value that does not beat its
    unit's K-th never enters, nor does one below the chunk's own K-th largest, so
    only those are merged, with all the lists, in one sort.
    """
    n, H = values.shape
    K = top_vals.shape[1]
    columns = np.where(np.isnan(values.T), -np.inf, values.T)  # (H, n); NaN is never kept, -inf beats nothing
    chunk_kth = np.partition(columns, n - K, axis=1)[:, n - K] if n > K else np.full(H, -np.inf)  # (H,)
    unit, t = np.nonzero((columns >= chunk_kth[:, None]) & (columns > top_vals[:, K - 1 :]))
    if unit.size == 0:
        return
    units = np.concatenate([np.repeat(np.arange(H), K), unit])
    vals = np.concatenate([top_vals.ravel(), columns[unit, t]])
    positions = np.concatenate([top_pos.ravel(), start + t])
    order = np.lexsort((positions, -vals, units))  # by unit, then value (largest first), then position
    group_sizes = K + np.bincount(unit, minlength=H)  # (H,)
    rank = np.arange(len(order)) - np.repeat(np.cumsum(group_sizes) - group_sizes, group_sizes)  # place within its unit
    kept = order[rank < K]  # K per unit, in unit order
    top_vals[...] = vals[kept].reshape(H, K)
    top_pos[...] = positions[kept].reshape(H, K)


@njit(cache=True, nogil=True, error_model="numpy", plain=track_chunk_numpy)
def track_chunk(hs, start, level, low, high, mins, maxs, top_vals, top_pos, neg_vals, neg_pos):  # pragma: no cover
    """Fold one chunk's hidden states hs (n, H), at text position ``start``, into the running totals.

    low/high (H,) count h < -level and h > level; mins/maxs (H,) the extremes;
    top_vals/top_pos (H, K) keep the K largest h (largest first) and
    neg_vals/neg_pos (H, K) the K largest -h, i.e. the smallest h. A value
    equal to the K-th is not taken, so among equal values the earliest
    positions stay. NaN is never counted or kept.
    """
    n, H = hs.shape
    K = top_vals.shape[1]
    for t in range(n):
        row = hs[t]
        for i in range(H):  # no branch that depends on earlier rows: vectorised
            v = row[i]
            low[i] += v < -level
            high[i] += v > level
            mins[i] = v if v < mins[i] else mins[i]  # (written out: NaN never replaces an extreme)
            maxs[i] = v if v > maxs[i] else maxs[i]
        if K > 0:
            for i in range(H):  # after the first K rows an insertion is rare
                v = row[i]
                if v > top_vals[i, K - 1]:
                    _insert(top_vals[i], top_pos[i], v, start + t)
                if -v > neg_vals[i, K - 1]:
                    _insert(neg_vals[i], neg_pos[i], -v, start + t)


# --- records ---------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class UnitStats:
    """What the whole text did to every unit; arrays are read-only, row or entry u is unit u.

    Top lists hold k = min(top_k, N) positions, most extreme first, the
    earliest first among equal values.
    """

    chars: int  # N
    mean: np.ndarray  # (H,) mean of h_t[u] over all t
    std: np.ndarray  # (H,) population standard deviation
    minimum: np.ndarray  # (H,)
    maximum: np.ndarray  # (H,)
    low_counts: np.ndarray  # (H,) t with h_t[u] < -SATURATION
    high_counts: np.ndarray  # (H,) t with h_t[u] > SATURATION
    top_positions: np.ndarray  # (H, k) positions of the largest h_t[u]
    top_values: np.ndarray  # (H, k) their values
    bottom_positions: np.ndarray  # (H, k) positions of the smallest h_t[u]
    bottom_values: np.ndarray  # (H, k) their values
    histogram: np.ndarray  # (H, HIST_BINS) how many t had h_t[u] in each bin of [-1, 1] (h = 1 in the last)

    @property
    def hidden_size(self) -> int:
        return len(self.mean)

    @property
    def sat_low(self) -> np.ndarray:
        """(H,) fraction of t with h_t[u] < -SATURATION."""
        return self.low_counts / self.chars

    @property
    def sat_high(self) -> np.ndarray:
        """(H,) fraction of t with h_t[u] > SATURATION."""
        return self.high_counts / self.chars

    @property
    def dead(self) -> np.ndarray:
        """(H,) True where the unit's standard deviation is below DEAD_STD."""
        return self.std < DEAD_STD

    @property
    def always_saturated(self) -> np.ndarray:
        """(H,) True where |h_t[u]| > SATURATION at every t."""
        return self.low_counts + self.high_counts == self.chars

    @property
    def constant(self) -> np.ndarray:
        """(H,) True where h_t[u] has the same value at every t (an ablated unit, say)."""
        return self.minimum == self.maximum


class UnitTracker:
    """A pass consumer: saturation counts, extremes and top-K positions of every unit.

    Call :meth:`finish` with the moments of the same hidden states after the pass.
    """

    def __init__(self, hidden_size: int, top_k: int = TOP_K) -> None:
        H, K = hidden_size, max(int(top_k), 0)
        self.chars = 0
        self.low = np.zeros(H, dtype=np.int64)
        self.high = np.zeros(H, dtype=np.int64)
        self.mins = np.full(H, np.inf)
        self.maxs = np.full(H, -np.inf)
        self.top_vals = np.full((H, K), -np.inf)  # (H, K) largest h, largest first
        self.top_pos = np.full((H, K), -1, dtype=np.int64)
        self.neg_vals = np.full((H, K), -np.inf)  # (H, K) largest -h
        self.neg_pos = np.full((H, K), -1, dtype=np.int64)
        self.hist = np.zeros((H, HIST_BINS), dtype=np.int64)
        self._bin_base = HIST_BINS * np.arange(H)  # (H,) where each unit's bins start in a flat count

    def __call__(self, chunk: Chunk) -> None:
        track_chunk(chunk.hs, chunk.start, SATURATION, self.low, self.high, self.mins, self.maxs,
                    self.top_vals, self.top_pos, self.neg_vals, self.neg_pos)
        self._count_bins(chunk.hs)
        self.chars += len(chunk.hs)

    def _count_bins(self, hs: np.ndarray) -> None:
        """Add the chunk's h (n, H) to each unit's histogram (a diverged NaN is counted nowhere)."""
        finite = np.isfinite(hs)
        bins = np.clip(np.floor((np.where(finite, hs, 0.0) + 1.0) * (HIST_BINS / 2)), 0, HIST_BINS - 1)
        flat = (bins.astype(np.int64) + self._bin_base)[finite]
        self.hist += np.bincount(flat, minlength=self.hist.size).reshape(self.hist.shape)

    def finish(self, moments: Moments) -> UnitStats:
        """The record, with mean and std from ``moments`` (its first H columns are the units)."""
        H = len(self.low)
        k = min(self.top_vals.shape[1], self.chars)
        return UnitStats(
            chars=self.chars,
            mean=frozen(moments.mean[:H].copy()),
            std=frozen(np.sqrt(moments.variance[:H])),
            minimum=frozen(self.mins.copy()),
            maximum=frozen(self.maxs.copy()),
            low_counts=frozen(self.low.copy()),
            high_counts=frozen(self.high.copy()),
            top_positions=frozen(self.top_pos[:, :k].copy()),
            top_values=frozen(self.top_vals[:, :k].copy()),
            bottom_positions=frozen(self.neg_pos[:, :k].copy()),
            bottom_values=frozen(-self.neg_vals[:, :k]),
            histogram=frozen(self.hist.copy()),
        )


def saturated_fraction(values: np.ndarray) -> float:
    """The fraction of ``values`` (hidden activations) with |h| > SATURATION (0 for none)."""
    values = np.asarray(values)
    return float(np.mean(np.abs(values) > SATURATION)) if values.size else 0.0


# --- contexts ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TopPosition:
    """One extreme value of a unit, where it happened and the text around it."""

    position: int  # t
    activation: float  # h_t[u]
    context: str  # about 2 * CONTEXT_RADIUS characters with the one at t between CONTEXT_MARKS


@dataclass(frozen=True)
class UnitContexts:
    """A unit's largest (``positive``) and smallest (``negative``) values, most extreme first."""

    unit: int
    positive: tuple[TopPosition, ...]
    negative: tuple[TopPosition, ...]


def context(corpus: Corpus, position: int, radius: int = CONTEXT_RADIUS) -> str:
    """The text around ``position`` with that character marked; line breaks and tabs shown as symbols."""
    before = corpus.decode(position - radius, position)
    at = corpus.decode(position, position + 1)
    after = corpus.decode(position + 1, position + radius)
    opening, closing = CONTEXT_MARKS
    return visible(f"{before}{opening}{at}{closing}{after}")


def unit_contexts(stats: UnitStats, corpus: Corpus, unit: int) -> UnitContexts:
    """The top positions of ``unit`` in both directions, with their contexts."""

    def listed(positions: np.ndarray, values: np.ndarray) -> tuple[TopPosition, ...]:
        return tuple(
            TopPosition(position=int(p), activation=float(v), context=context(corpus, int(p)))
            for p, v in zip(positions, values)
            if p >= 0
        )

    return UnitContexts(
        unit=unit,
        positive=listed(stats.top_positions[unit], stats.top_values[unit]),
        negative=listed(stats.bottom_positions[unit], stats.bottom_values[unit]),
    )
