"""The corpus pass: given parameters run over a whole text as one continuous sequence.

For t = 0..N-1, from h_{-1} = h0 (zeros unless given), with no truncation and no update:

    h_t = tanh(Wxh[:, x_t] + Whh h_{t-1} + bh)        "the state after reading t"
    p_t = softmax(Why h_t + by)

The text is processed in chunks of about a thousand characters (sized to stay
in the L2 cache for the chunk's readers): a compiled loop computes the chunk's
h_t (the recurrence is sequential), one BLAS product gives the logits of the
whole chunk, and a compiled loop takes their softmax and ln p_t(x_{t+1}). The
next chunk's recurrence runs in a worker thread meanwhile. Each consumer (unit statistics, features, evaluation, ablation
scans) is a callable that receives every :class:`Chunk` in order and keeps only
what it streams, so the memory stays bounded whatever the text's length.

The pass keeps the hidden state every STATE_SPACING characters (H floats each,
at a chunk boundary), so :func:`recompute` can give the exact h_t of any region
later by re-running from the nearest kept state before it.

Arithmetic follows the straightforward loop: (Wxh[:, x] + Whh h) + bh, then
p = exp(y) / sum(exp(y)) with no shift by the maximum (as training computes it:
a diverged model gives NaN here exactly where a training step would), and
ln p = log(p[x_{t+1}]). Only the dot products with Whh and Why and the softmax's
sum are summed in another order, and tanh and exp are kernels.py's (within a few
ulp of NumPy's), so results agree with that loop to about 1e-15 per step.
Without Numba (jit.py) the loops' NumPy twins run: a BLAS product and NumPy's
tanh per character, whole-chunk softmax; the bias is added to the input's column
before Whh h_{t-1} is, another order of the same sum.
"""

from __future__ import annotations

import math
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from .errors import RnntuiError
from .jit import njit
from .kernels import _exp, _sum, _tanh
from .model import PARAM_NAMES
from .record import frozen

CHUNK_BYTES = 2 << 20  # a chunk's hs (n, H) and logits (n, V): about a core's L2, where the next readers find them
MIN_CHUNK = 64  # characters; the smallest automatic chunk (huge vocabularies)
MAX_CHUNK = 65_536  # characters; the largest automatic chunk (tiny models)
STATE_SPACING = 65_536  # characters between kept hidden states (rounded down to whole chunks, at least one)
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


# --- compiled loops and their NumPy twins --------------------------------------
@njit(nogil=True, error_model="numpy", fastmath={"reassoc"})
def _whh_product(Whh, h, out, backward):  # pragma: no cover - compiled
    """out = Whh h, eight rows per pass over h, the passes in reverse order when ``backward``.

    Whh (80 KB at H = 100) does not fit L1, so a pass over it in the same order
    every step finds none of it there. Going back and forth, each step starts
    with the rows the step before ended with, still in L1: about a fifth faster
    at H = 100 (kernels._matvec goes forward only). Every row's sum is computed
    by the same code in either order, so the order never changes a result. Its
    own function (not inlined), so that its reassociation stays here.
    """
    H = Whh.shape[0]
    blocks = H // 8
    for b in range(blocks):
        i = 8 * (blocks - 1 - b if backward else b)
        s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
        for j in range(h.size):
            x = h[j]
            s0 += Whh[i, j] * x
            s1 += Whh[i + 1, j] * x
            s2 += Whh[i + 2, j] * x
            s3 += Whh[i + 3, j] * x
            s4 += Whh[i + 4, j] * x
            s5 += Whh[i + 5, j] * x
            s6 += Whh[i + 6, j] * x
            s7 += Whh[i + 7, j] * x
        out[i], out[i + 1], out[i + 2], out[i + 3] = s0, s1, s2, s3
        out[i + 4], out[i + 5], out[i + 6], out[i + 7] = s4, s5, s6, s7
    for i in range(8 * blocks, H):
        s = 0.0
        for j in range(h.size):
            s += Whh[i, j] * h[j]
        out[i] = s


def hidden_chunk_numpy(Wxh_T, Whh, bh, inputs, h_prev, ablate, hs, whh_h):
    """hidden_chunk's twin: the chunk's input rows plus bh gathered at once, a BLAS product per character."""
    np.take(Wxh_T, inputs, axis=0, out=hs)  # (n, H) Wxh[:, x_t] in row t
    hs += bh
    prev = h_prev
    for row in hs:
        np.dot(Whh, prev, out=whh_h)
        row += whh_h
        np.tanh(row, out=row)
        if ablate >= 0:
            row[ablate] = 0.0
        prev = row


@njit(cache=True, nogil=True, error_model="numpy", plain=hidden_chunk_numpy)
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
        _whh_product(Whh, prev, whh_h, t % 2 == 1)
        row = hs[t]
        for i in range(H):
            row[i] = _tanh((wx[i] + whh_h[i]) + bh[i])
        if ablate >= 0:
            row[ablate] = 0.0
        prev = row


def softmax_chunk_numpy(ys, by, targets, log_probs, probs, want_probs):
    """softmax_chunk's twin, whole-chunk, with NumPy's exp."""
    ys += by
    np.exp(ys, out=ys)
    totals = ys.sum(axis=1)  # (n,)
    m = targets.size
    np.log(ys[np.arange(m), targets] / totals[:m], out=log_probs[:m])
    if want_probs:
        np.divide(ys, totals[:, None], out=probs)


@njit(cache=True, nogil=True, error_model="numpy", plain=softmax_chunk_numpy)
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

    ``states[i]`` is the hidden state before position i * state_every (row 0
    is h0), a starting point from which :func:`recompute` re-runs.
    """

    weights: Weights  # the parameters the pass ran with
    data: np.ndarray  # (N,) the text's vocabulary indices (the caller's array, not a copy)
    chunk_size: int  # characters per chunk
    state_every: int  # characters between kept states, a multiple of chunk_size
    ablate: int | None  # the unit held at 0, or None
    states: np.ndarray  # (S, H) h before positions 0, state_every, 2 * state_every, ...
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
        return sum(a.nbytes for a in (w.Wxh, w.Whh, w.Why, w.bh, w.by, w.Wxh_T, self.states, self.final_state))


def default_chunk_size(hidden_size: int, vocab_size: int) -> int:
    """Characters per chunk so that hs (n, H) and the logits (n, V) fit CHUNK_BYTES."""
    n = CHUNK_BYTES // (8 * (hidden_size + vocab_size))
    return int(min(max(n, MIN_CHUNK), MAX_CHUNK))


# --- the pass -----------------------------------------------------------------------
class _Hidden:
    """Inputs and hidden states of one chunk (the pass keeps two: one computed while the other is consumed)."""

    def __init__(self, chunk_size: int, hidden_size: int) -> None:
        self.inputs = np.empty(chunk_size, dtype=np.intp)  # (L,)
        self.hs = np.empty((chunk_size, hidden_size))  # (L, H)
        self.whh_h = np.empty(hidden_size)  # (H,) scratch of the recurrence


class _Outputs:
    """Logits, log-probabilities and (when asked for) probabilities of one chunk."""

    def __init__(self, chunk_size: int, vocab_size: int, with_probs: bool) -> None:
        self.ys = np.empty((chunk_size, vocab_size))  # (L, V) logits, then their exps
        self.log_probs = np.empty(chunk_size)  # (L,)
        self.probs = np.empty((chunk_size if with_probs else 0, vocab_size))  # (L, V) or empty
        self.with_probs = with_probs


def _recur(w: Weights, data: np.ndarray, start: int, stop: int, h: np.ndarray, ablate: int, into: _Hidden) -> None:
    """h_t for t = start..stop-1 from h = h_{start-1} into into.hs[:n] (the inputs into into.inputs[:n])."""
    n = stop - start
    into.inputs[:n] = data[start:stop]
    hidden_chunk(w.Wxh_T, w.Whh, w.bh, into.inputs[:n], h, ablate, into.hs[:n], into.whh_h)


def _softmax(w: Weights, data: np.ndarray, start: int, hs: np.ndarray, into: _Outputs) -> int:
    """p_t = softmax(Why h_t + by) for the rows of hs (n, H) at text position start.

    Fills into.log_probs[:m] (and into.probs[:n]); returns m, the rows with a next character.
    """
    n = len(hs)
    targets = np.asarray(data[start + 1 : start + n + 1], dtype=np.intp)  # (m,) x_{t+1}
    ys = into.ys[:n]
    np.dot(hs, w.Why.T, out=ys)  # (n, V) Why h_t; softmax_chunk adds by
    probs = into.probs[:n] if into.with_probs else into.probs
    softmax_chunk(ys, w.by, targets, into.log_probs, probs, into.with_probs)
    return len(targets)


class _Done:
    """Stands for a finished future when the recurrence runs in the calling thread."""

    @staticmethod
    def result() -> None:
        return None


def _submit(executor: ThreadPoolExecutor | None, fn: Callable, *args) -> Future | _Done:
    """Run fn(*args) in the executor's thread, or here and now when there is none."""
    if executor is None:
        fn(*args)
        return _Done()
    return executor.submit(fn, *args)


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
    overlap: bool = True,
) -> PassResult:
    """Run ``params`` over the whole text ``data`` (vocabulary indices) and feed every chunk to ``consumers``.

    ``h0`` (H,) is h_{-1} (zeros by default). ``ablate`` names a unit whose
    h_t is replaced by 0 after the tanh at every t (h0 is left as given).
    ``with_probs`` hands consumers the full p_t rows too. ``progress(done,
    total)`` is called after each chunk with characters done; ``cancel()`` is
    checked before each chunk and a true answer raises :class:`PassCancelled`.
    With ``overlap`` the next chunk's recurrence runs in a worker thread
    while this chunk's softmax and consumers run in the calling one (the
    compiled loops release the GIL; results are the same either way).
    Never changes ``params``. Returns the :class:`PassResult`.
    """
    w = Weights.of(params)
    data = np.asarray(data)
    h, ablate_ix = _check_inputs(w, data, h0, ablate)
    N = len(data)
    L = int(chunk_size) if chunk_size is not None else default_chunk_size(w.hidden_size, w.vocab_size)
    if L < 1:
        raise ValueError("chunk_size must be at least 1")
    size = min(L, max(N, 1))
    hidden = (_Hidden(size, w.hidden_size), _Hidden(size, w.hidden_size))  # chunk c lives in hidden[c % 2]
    outputs = _Outputs(size, w.vocab_size, with_probs)
    starts = range(0, N, L)
    state_every = L * max(1, STATE_SPACING // L)
    states = []  # h before positions 0, state_every, ...
    nll_sum = 0.0
    executor = ThreadPoolExecutor(1, thread_name_prefix="corpus-pass") if overlap and len(starts) > 1 else None
    try:
        pending = _submit(executor, _recur, w, data, 0, min(L, N), h, ablate_ix, hidden[0]) if N else None
        for c, start in enumerate(starts):
            if cancel is not None and cancel():
                raise PassCancelled("the corpus pass was cancelled")
            if start % state_every == 0:
                states.append(h)
            stop = min(start + L, N)
            n = stop - start
            pending.result()  # chunk c's h_t are ready
            current = hidden[c % 2]
            h = current.hs[n - 1].copy()  # (H,) the next chunk's h_{start-1}
            if stop < N:  # the next chunk's recurrence runs while this one is consumed
                pending = _submit(executor, _recur, w, data, stop, min(stop + L, N), h, ablate_ix, hidden[(c + 1) % 2])
            m = _softmax(w, data, start, current.hs[:n], outputs)
            nll_sum -= float(outputs.log_probs[:m].sum())  # pairwise within the chunk
            chunk = Chunk(
                start=start,
                inputs=_read_only(current.inputs[:n]),
                hs=_read_only(current.hs[:n]),
                log_probs=_read_only(outputs.log_probs[:m]),
                probs=_read_only(outputs.probs[:n]) if with_probs else None,
            )
            for consume in consumers:
                consume(chunk)
            if progress is not None:
                progress(stop, N)
    finally:
        if executor is not None:
            executor.shutdown(wait=True)  # a recurrence still running finishes first
    return PassResult(
        weights=w,
        data=data,
        chunk_size=L,
        state_every=state_every,
        ablate=None if ablate_ix < 0 else ablate_ix,
        states=frozen(np.array(states).reshape(len(states), w.hidden_size)),
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

    Re-runs the recurrence from the last state kept at or before ``start``
    (at most state_every characters of extra work); the recurrence is the same
    compiled code from the same state, so h_t equals the pass's bit for bit.
    Needs memory for (stop - start) rows of H and V values.
    """
    N = result.chars
    if not 0 <= start <= stop <= N:
        raise ValueError(f"region {start}..{stop} is not within the text's 0..{N}")
    w, L, E = result.weights, result.chunk_size, result.state_every
    H, V = w.hidden_size, w.vocab_size
    k = int(min(max(top_k, 0), V))
    n = stop - start
    hs = np.empty((n, H))  # (n, H)
    if n:
        begin = start // E * E  # where the last state kept before start stands
        into = _Hidden(min(L, stop - begin), H)
        ablate = -1 if result.ablate is None else result.ablate
        h = result.states[start // E].copy()  # (H,) writable, as the compiled loop expects
        for a in range(begin, stop, L):
            b = min(a + L, stop)
            _recur(w, result.data, a, b, h, ablate, into)
            lo = max(a, start)
            if b > lo:
                hs[lo - start : b - start] = into.hs[lo - a : b - a]
            h = into.hs[b - a - 1].copy()
    outputs = _Outputs(n, V, with_probs=True)
    log_probs = np.full(n, np.nan)  # (n,)
    m = _softmax(w, result.data, start, hs, outputs) if n else 0
    log_probs[:m] = outputs.log_probs[:m]
    probs = outputs.probs  # (n, V)
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]  # (n, k) likeliest first, ties by index
    return Region(
        start=start,
        stop=stop,
        hs=frozen(hs),
        top_indices=frozen(order),
        top_probs=frozen(np.take_along_axis(probs, order, axis=1)),
        target_log_probs=frozen(log_probs),
    )
