"""The corpus pass: given parameters run over a whole text as one continuous sequence.

For t = 0..N-1, from h_{-1} = h0 (zeros unless given), with no truncation and no update:

    h_t = tanh(Wxh[:, x_t] + Whh h_{t-1} + bh)        "the state after reading t"
    p_t = softmax(Why h_t + by)

The text is processed in chunks of a few ten thousand characters: a compiled loop
computes the chunk's h_t (the recurrence is sequential), one BLAS product gives
the logits of the whole chunk, and a compiled loop takes their softmax and
ln p_t(x_{t+1}). Each consumer (unit statistics, features, evaluation, ablation
scans) is a callable that receives every :class:`Chunk` in order and keeps only
what it streams, so the memory stays bounded whatever the text's length.

The pass keeps the hidden state at every chunk boundary (H floats per chunk), so
:func:`recompute` can give the exact h_t of any region later by re-running from
the nearest boundary before it.

Arithmetic follows the straightforward loop: (Wxh[:, x] + Whh h) + bh, then
p = exp(y) / sum(exp(y)) with no shift by the maximum (as training computes it:
a diverged model gives NaN here exactly where a training step would), and
ln p = log(p[x_{t+1}]). Only dot products and the softmax's sum are summed in
another order (kernels.py), so results agree with that loop to about 1e-15 per
step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping, Sequence

import numpy as np
from numba import njit

from .errors import RnntuiError
from .kernels import _exp, _matvec, _sum, _tanh
from .model import PARAM_NAMES
from .record import frozen

CHUNK_BYTES = 32 << 20  # per-chunk working arrays: hs (n, H), exps and probabilities (n, V) each
MIN_CHUNK = 256  # characters; the smallest automatic chunk (huge vocabularies)
MAX_CHUNK = 65_536  # characters; the largest automatic chunk (tiny models)
LN2 = math.log(2.0)


class PassCancelled(Exception):
    """The pass's ``cancel()`` returned true: the pass stopped between two chunks."""


class UnitError(RnntuiError):
    """A hidden unit number outside the model (for ablation or analysis)."""


def check_unit(unit: int, hidden_size: int, what: str = "unit") -> int:
    """``unit`` as an int if 0 <= unit < hidden_size, else a one-line UnitError."""
    if isinstance(unit, bool) or not isinstance(unit, (int, np.integer)) or not 0 <= unit < hidden_size:
        raise UnitError(f"{what} {unit!r} is not a unit of this model; give a number from 0 to {hidden_size - 1}")
    return int(unit)


# --- compiled loops ----------------------------------------------------------
@njit(cache=True, nogil=True, error_model="numpy")
def hidden_chunk(Wxh_T, Whh, bh, inputs, h_prev, ablate, hs, whh_h):  # pragma: no cover - compiled
    """hs[t] = tanh((Wxh_T[x_t] + Whh hs[t-1]) + bh) for t = 0..n-1, with hs[-1] = h_prev.

    Wxh_T (V, H) is Wxh transposed, so the input's column is one contiguous row.
    When ``ablate`` >= 0 that unit is set to 0 after the tanh at every t, so the
    next step sees the 0 too. whh_h (H,) is scratch.
    """
    H = bh.size
    prev = h_prev
    for t in range(inputs.size):
        wx = Wxh_T[inputs[t]]
        _matvec(Whh, prev, whh_h)
        row = hs[t]
        for i in range(H):
            row[i] = _tanh((wx[i] + whh_h[i]) + bh[i])
        if ablate >= 0:
            row[ablate] = 0.0
        prev = row


@njit(cache=True, nogil=True, error_model="numpy")
def softmax_chunk(ys, by, targets, log_probs, probs, want_probs):  # pragma: no cover - compiled
    """Softmax of the logits ys (n, V) (by is added here), ys overwritten with exp(y).

    log_probs[t] = ln p_t[targets[t]] for t < targets.size (the last character
    of the text predicts nothing); probs (n, V) receives p_t when want_probs.
    """
    n, V = ys.shape
    for t in range(n):
        e = ys[t]
        for v in range(V):
            e[v] = _exp(e[v] + by[v])
        total = _sum(e)
        if t < targets.size:
            log_probs[t] = np.log(e[targets[t]] / total)
        if want_probs:
            p = probs[t]
            for v in range(V):
                p[v] = e[v] / total


# --- parameters ----------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Weights:
    """Read-only float64 copies of the parameters the pass ran with, laid out for it."""

    Wxh: np.ndarray  # (H, V)
    Whh: np.ndarray  # (H, H)
    Why: np.ndarray  # (V, H)
    bh: np.ndarray  # (H,)
    by: np.ndarray  # (V,)
    Wxh_T: np.ndarray  # (V, H) Wxh transposed: the input's column is a contiguous row

    @classmethod
    def of(cls, params: Mapping[str, np.ndarray]) -> "Weights":
        """Copies of ``params`` (Wxh (H, V), Whh (H, H), Why (V, H), bh and by flat or columns).

        Copies, because a trainer's parameters are live views that the next step changes.
        """
        missing = [name for name in PARAM_NAMES if name not in params]
        if missing:
            raise ValueError(f"parameters lack {', '.join(missing)}")
        H, V = np.shape(params["Wxh"])
        shapes = {"Wxh": (H, V), "Whh": (H, H), "Why": (V, H), "bh": (H,), "by": (V,)}
        arrays = {}
        for name, shape in shapes.items():
            arr = np.array(params[name], dtype=np.float64, order="C")
            is_bias_column = name in ("bh", "by") and arr.size == shape[0]
            if arr.shape != shape and not is_bias_column:
                raise ValueError(f"{name} has shape {arr.shape}, expected {shape}")
            arrays[name] = frozen(arr.reshape(shape))
        return cls(Wxh_T=frozen(np.ascontiguousarray(arrays["Wxh"].T)), **arrays)

    @property
    def hidden_size(self) -> int:
        return self.Whh.shape[0]

    @property
    def vocab_size(self) -> int:
        return self.Why.shape[0]

    def as_params(self) -> Mapping[str, np.ndarray]:
        """The five parameters keyed like ``Trainer.params`` (read-only)."""
        return MappingProxyType({name: getattr(self, name) for name in PARAM_NAMES})


# --- what consumers receive -------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Chunk:
    """One chunk of the pass, handed to every consumer in text order.

    The arrays are read-only views of buffers the pass reuses for the next
    chunk: a consumer streams what it needs and copies anything it keeps.
    """

    start: int  # position of the chunk's first character in the text
    inputs: np.ndarray  # (n,) vocabulary indices x_t, t = start..start+n-1
    hs: np.ndarray  # (n, H) h_t
    log_probs: np.ndarray  # (m,) ln p_t(x_{t+1}); m = n, or n - 1 in the chunk holding the text's last character
    probs: np.ndarray | None  # (n, V) p_t, when the pass was asked for them

    @property
    def stop(self) -> int:
        """One past the chunk's last position."""
        return self.start + len(self.inputs)


Consumer = Callable[[Chunk], None]


@dataclass(frozen=True, eq=False)
class PassResult:
    """What a pass keeps: enough to recompute any region exactly, and the text's loss.

    ``boundary_states[c]`` is the hidden state before position c * chunk_size
    (row 0 is h0), the starting point from which :func:`recompute` re-runs.
    """

    weights: Weights  # the parameters the pass ran with
    data: np.ndarray  # (N,) the text's vocabulary indices (the caller's array, not a copy)
    chunk_size: int
    ablate: int | None  # the unit held at 0, or None
    boundary_states: np.ndarray  # (C, H) h before each chunk's first character
    final_state: np.ndarray  # (H,) h_{N-1}
    nll_sum: float  # sum over t = 0..N-2 of -ln p_t(x_{t+1}), in nats

    @property
    def chars(self) -> int:
        """N, the text's length."""
        return len(self.data)

    @property
    def predictions(self) -> int:
        """N - 1: every character but the last predicts the next one."""
        return max(self.chars - 1, 0)

    @property
    def nats_per_char(self) -> float:
        """Mean over t = 0..N-2 of -ln p_t(x_{t+1}) (NaN for a one-character text)."""
        return self.nll_sum / self.predictions if self.predictions else math.nan

    @property
    def bits_per_char(self) -> float:
        """Mean over t = 0..N-2 of -log2 p_t(x_{t+1})."""
        return self.nats_per_char / LN2

    @property
    def nbytes(self) -> int:
        """Bytes the result holds beyond the text itself."""
        w = self.weights
        return sum(a.nbytes for a in (w.Wxh, w.Whh, w.Why, w.bh, w.by, w.Wxh_T, self.boundary_states, self.final_state))


def default_chunk_size(hidden_size: int, vocab_size: int) -> int:
    """Characters per chunk so that hs (n, H) and two (n, V) arrays fit CHUNK_BYTES."""
    n = CHUNK_BYTES // (8 * (hidden_size + 2 * vocab_size))
    return int(min(max(n, MIN_CHUNK), MAX_CHUNK))


# --- the pass -----------------------------------------------------------------------
class _Buffers:
    """Working arrays of one chunk, allocated once per pass."""

    def __init__(self, chunk_size: int, hidden_size: int, vocab_size: int, with_probs: bool) -> None:
        self.inputs = np.empty(chunk_size, dtype=np.intp)  # (L,)
        self.hs = np.empty((chunk_size, hidden_size))  # (L, H)
        self.whh_h = np.empty(hidden_size)  # (H,) scratch of the recurrence
        self.ys = np.empty((chunk_size, vocab_size))  # (L, V) logits, then their exps
        self.log_probs = np.empty(chunk_size)  # (L,)
        self.probs = np.empty((chunk_size if with_probs else 0, vocab_size))  # (L, V) or empty


def _recur(w: Weights, data: np.ndarray, start: int, stop: int, h: np.ndarray, ablate: int, buf: _Buffers) -> int:
    """h_t for t = start..stop-1 from h = h_{start-1} into buf.hs[:n] (inputs into buf.inputs[:n]); returns n."""
    n = stop - start
    buf.inputs[:n] = data[start:stop]
    hidden_chunk(w.Wxh_T, w.Whh, w.bh, buf.inputs[:n], h, ablate, buf.hs[:n], buf.whh_h)
    return n


def _outputs(w: Weights, data: np.ndarray, start: int, stop: int, hs: np.ndarray, buf: _Buffers, with_probs: bool) -> int:
    """Softmax of Why h_t + by for the chunk's rows; returns m, the rows with a next character."""
    n = stop - start
    targets = np.asarray(data[start + 1 : stop + 1], dtype=np.intp)  # (m,) x_{t+1}
    ys = buf.ys[:n]
    np.dot(hs, w.Why.T, out=ys)  # (n, V) Why h_t; softmax_chunk adds by
    probs = buf.probs[:n] if with_probs else buf.probs
    softmax_chunk(ys, w.by, targets, buf.log_probs, probs, with_probs)
    return len(targets)


def _check_inputs(w: Weights, data: np.ndarray, h0, ablate) -> tuple[np.ndarray, int]:
    """Validate the text, h0 and ablate; return h0 as a fresh (H,) array and ablate as an int (-1: none)."""
    H, V = w.hidden_size, w.vocab_size
    if data.ndim != 1 or not np.issubdtype(data.dtype, np.integer):
        raise ValueError("the text must be a 1-D array of vocabulary indices")
    if len(data) and (int(data.min()) < 0 or int(data.max()) >= V):
        raise ValueError(f"the text has indices outside the model's vocabulary of {V} characters")
    h = np.zeros(H) if h0 is None else np.array(h0, dtype=np.float64).reshape(H)
    return h, -1 if ablate is None else check_unit(ablate, H, "ablated unit")


def run_pass(
    params: Mapping[str, np.ndarray],
    data: np.ndarray,
    consumers: Sequence[Consumer] = (),
    *,
    h0: np.ndarray | None = None,
    ablate: int | None = None,
    with_probs: bool = False,
    chunk_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> PassResult:
    """Run ``params`` over the whole text ``data`` (vocabulary indices) and feed every chunk to ``consumers``.

    ``h0`` (H,) is h_{-1} (zeros by default). ``ablate`` names a unit whose
    h_t is replaced by 0 after the tanh at every t (h0 is left as given).
    ``with_probs`` hands consumers the full p_t rows too. ``progress(done,
    total)`` is called after each chunk with characters done; ``cancel()`` is
    checked before each chunk and a true answer raises :class:`PassCancelled`.
    Never changes ``params``. Returns the :class:`PassResult`.
    """
    w = Weights.of(params)
    data = np.asarray(data)
    h, ablate_ix = _check_inputs(w, data, h0, ablate)
    N = len(data)
    L = int(chunk_size) if chunk_size is not None else default_chunk_size(w.hidden_size, w.vocab_size)
    if L < 1:
        raise ValueError("chunk_size must be at least 1")
    buf = _Buffers(min(L, max(N, 1)), w.hidden_size, w.vocab_size, with_probs)
    boundaries = []  # h before each chunk
    nll_sum = 0.0
    for start in range(0, N, L):
        if cancel is not None and cancel():
            raise PassCancelled("the corpus pass was cancelled")
        boundaries.append(h)
        stop = min(start + L, N)
        n = _recur(w, data, start, stop, h, ablate_ix, buf)
        m = _outputs(w, data, start, stop, buf.hs[:n], buf, with_probs)
        nll_sum -= float(buf.log_probs[:m].sum())  # pairwise within the chunk
        chunk = Chunk(
            start=start,
            inputs=_read_only(buf.inputs[:n]),
            hs=_read_only(buf.hs[:n]),
            log_probs=_read_only(buf.log_probs[:m]),
            probs=_read_only(buf.probs[:n]) if with_probs else None,
        )
        for consume in consumers:
            consume(chunk)
        h = buf.hs[n - 1].copy()  # (H,) the next chunk's h_{start-1}
        if progress is not None:
            progress(stop, N)
    return PassResult(
        weights=w,
        data=data,
        chunk_size=L,
        ablate=None if ablate_ix < 0 else ablate_ix,
        boundary_states=frozen(np.array(boundaries).reshape(len(boundaries), w.hidden_size)),
        final_state=frozen(h),
        nll_sum=nll_sum,
    )


def _read_only(arr: np.ndarray) -> np.ndarray:
    """A read-only view (the buffer itself stays writable for the pass)."""
    view = arr.view()
    view.flags.writeable = False
    return view


# --- recomputing a region ------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Region:
    """The exact h_t and next-character predictions of positions start..stop-1."""

    start: int
    stop: int
    hs: np.ndarray  # (n, H) h_t, bit-identical to the pass's
    top_indices: np.ndarray  # (n, k) vocabulary indices of the k likeliest next characters, likeliest first
    top_probs: np.ndarray  # (n, k) their probabilities
    target_log_probs: np.ndarray  # (n,) ln p_t(x_{t+1}); NaN at the text's last character


def recompute(result: PassResult, start: int, stop: int, top_k: int = 5) -> Region:
    """h_t and the ``top_k`` likeliest next characters for t = start..stop-1, recomputed exactly.

    Re-runs the recurrence from the boundary state of the chunk holding
    ``start`` (at most one chunk of extra work); the recurrence is the same
    compiled code from the same state, so h_t equals the pass's bit for bit.
    Needs memory for (stop - start) rows of H and V values.
    """
    N = result.chars
    if not 0 <= start <= stop <= N:
        raise ValueError(f"region {start}..{stop} is not within the text's 0..{N}")
    w, L = result.weights, result.chunk_size
    H, V = w.hidden_size, w.vocab_size
    k = int(min(max(top_k, 0), V))
    n = stop - start
    hs = np.empty((n, H))  # (n, H)
    if n:
        first = start // L  # the chunk holding start
        buf = _Buffers(min(L, stop - first * L), H, V, with_probs=False)
        ablate = -1 if result.ablate is None else result.ablate
        h = result.boundary_states[first].copy()  # (H,) writable, as the compiled loop expects
        for a in range(first * L, stop, L):
            b = min(a + L, stop)
            _recur(w, result.data, a, b, h, ablate, buf)
            lo = max(a, start)
            if b > lo:
                hs[lo - start : b - start] = buf.hs[lo - a : b - a]
            h = buf.hs[b - a - 1].copy()
    probs = np.empty((n, V))  # (n, V)
    log_probs = np.full(n, np.nan)  # (n,)
    if n:
        targets = np.asarray(result.data[start + 1 : stop + 1], dtype=np.intp)
        ys = hs @ w.Why.T  # (n, V)
        softmax_chunk(ys, w.by, targets, log_probs, probs, True)
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]  # (n, k) likeliest first, ties by index
    return Region(
        start=start,
        stop=stop,
        hs=frozen(hs),
        top_indices=frozen(order),
        top_probs=frozen(np.take_along_axis(probs, order, axis=1)),
        target_log_probs=frozen(log_probs),
    )
