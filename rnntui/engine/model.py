"""The char-RNN's math: parameters, forward and backward over one window, sampling.

Nothing here knows about data pointers, optimisers or history (see trainer.py).

Shapes: V = vocabulary size, H = hidden size, T = window length.
Biases are flat vectors: bh is (H,), by is (V,). All five parameters live as
views in one contiguous float64 buffer, so clipping and Adagrad are a few
whole-buffer operations (element-wise, so results equal per-parameter updates).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .kernels import backward_recurrence, forward_recurrence, softmax_loss

PARAM_NAMES = ("Wxh", "Whh", "Why", "bh", "by")
CACHE_LINE = 64  # bytes; vector loads that straddle two lines slow the Whh products by about a sixth


def zeros_aligned(n: int) -> np.ndarray:
    """A new float64 vector of ``n`` zeros whose first element starts a cache line.

    For the flat parameter, memory and gradient buffers: Whh then starts a
    line too when H * V is a multiple of 8, and so does each of its rows when
    H is. NumPy itself only promises 16 bytes.
    """
    per_line = CACHE_LINE // 8
    buf = np.zeros(n + per_line)
    start = (-buf.ctypes.data % CACHE_LINE) // 8
    return buf[start : start + n]


@dataclass(frozen=True)
class Layout:
    """Where each parameter sits in a flat buffer of ``size`` float64 values."""

    vocab_size: int  # V
    hidden_size: int  # H

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        V, H = self.vocab_size, self.hidden_size
        return {"Wxh": (H, V), "Whh": (H, H), "Why": (V, H), "bh": (H,), "by": (V,)}

    @property
    def offsets(self) -> np.ndarray:
        """Start index of each parameter in the flat buffer, in PARAM_NAMES order."""
        sizes = [int(np.prod(s)) for s in self.shapes.values()]
        return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)

    @property
    def size(self) -> int:
        return sum(int(np.prod(s)) for s in self.shapes.values())

    def views(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Named views (no copies) into ``flat``."""
        out = {}
        for name, start in zip(PARAM_NAMES, self.offsets):
            shape = self.shapes[name]
            out[name] = flat[start : start + int(np.prod(shape))].reshape(shape)
        return out

    def flatten(self, named: dict[str, np.ndarray]) -> np.ndarray:
        """A new flat buffer holding copies of the named arrays."""
        flat = zeros_aligned(self.size)
        views = self.views(flat)
        for name in PARAM_NAMES:
            arr = np.asarray(named[name], dtype=np.float64)
            if arr.size != views[name].size:
                raise ValueError(f"{name} has shape {arr.shape}, expected {views[name].shape}")
            views[name][...] = arr.reshape(views[name].shape)
        return flat


def init_params(layout: Layout, seed: int) -> np.ndarray:
    """Flat buffer of fresh parameters: N(0, 1) * 0.01 weights drawn Wxh, Whh, Why; zero biases."""
    rng = np.random.default_rng(seed)
    flat = zeros_aligned(layout.size)
    views = layout.views(flat)
    for name in ("Wxh", "Whh", "Why"):
        views[name][...] = rng.standard_normal(views[name].shape) * 0.01
    return flat


class Intermediates(NamedTuple):
    """Per-timestep values of one forward/backward pass (row t is timestep t)."""

    hs_full: np.ndarray  # (T+1, H) row 0 is hprev, row t+1 is h_t
    wxh_x: np.ndarray  # (T, H) Wxh x_t, the gathered input column
    whh_h: np.ndarray  # (T, H) Whh h_{t-1}
    ys: np.ndarray  # (T, V) logits y_t = Why h_t + by
    ps: np.ndarray  # (T, V) softmax probabilities p_t
    losses: np.ndarray  # (T,) -ln p_t[target_t]
    dh_out: np.ndarray  # (T, H) Why^T dy_t, the part of dL/dh_t from the output at t
    dh: np.ndarray  # (T, H) dL/dh_t, output part plus what flows back from t+1
    dhraw: np.ndarray  # (T, H) dL/d(pre-activation) = (1 - h_t^2) * dh_t
    dh_norms: np.ndarray  # (T,) ||dh_t||


class Pass(NamedTuple):
    """Result of :func:`loss_and_grads`; unpacks as ``loss, grads, h_last, cache``."""

    loss: float  # sum of -ln p over the window
    grads: dict[str, np.ndarray]  # raw (unclipped) gradients keyed like params
    h_last: np.ndarray  # (H,) h_{T-1}, the next window's hprev
    cache: Intermediates


def forward_backward(
    P: dict[str, np.ndarray],
    inputs: np.ndarray,
    targets: np.ndarray,
    hprev: np.ndarray,
    G: dict[str, np.ndarray],
) -> tuple[float, Intermediates]:
    """Loss and raw gradients of one window, written into the arrays of ``G``.

    Everything but the recurrence is batched over the window: the logits of
    all timesteps come from one matrix product, and so do dWhy, dh_out (Why^T
    dy_t for every t) and dWhh. The recurrence itself, the softmax with the
    loss, and the sums of dby, dbh and dWxh (column adds) run in compiled
    loops (kernels.py).
    """
    Wxh, Whh, Why, bh, by = (P[k] for k in PARAM_NAMES)
    T = len(inputs)
    V, H = Why.shape
    TH, TV = (T, H), (T, V)
    hs_full, wxh_x, whh_h, ys, ps, dy, losses, dh_out, dh, dhraw, dh_norms = (
        np.empty(shape) for shape in [(T + 1, H), TH, TH, TV, TV, TV, (T,), TH, TH, TH, (T,)]
    )

    # forward: h_t = tanh(Wxh x_t + Whh h_{t-1} + bh)
    hs_full[0] = hprev  # (T+1, H) row t+1 is h_t
    forward_recurrence(Wxh, Whh, bh, inputs, hs_full, wxh_x, whh_h)
    hs = hs_full[1:]  # (T, H)

    # output: y_t = Why h_t + by; p_t = softmax(y_t); loss_t = -ln p_t[target]
    np.dot(hs, Why.T, out=ys)  # (T, V) Why h_t; softmax_loss adds by
    softmax_loss(ys, by, targets, ps, dy, losses, G["by"])  # dy (T, V) = dL/dy_t = p_t - onehot(target_t)
    loss = float(losses.sum())  # pairwise: less rounding noise than a running sum, which central differences see

    # backward through time
    np.dot(dy.T, hs, out=G["Why"])
    np.dot(dy, Why, out=dh_out)  # (T, H)
    backward_recurrence(Whh, dh_out, hs, inputs, dh, dhraw, dh_norms, G["bh"], G["Wxh"])
    np.dot(dhraw.T, hs_full[:-1], out=G["Whh"])

    cache = Intermediates(hs_full, wxh_x, whh_h, ys, ps, losses, dh_out, dh, dhraw, dh_norms)
    return loss, cache


def loss_and_grads(
    params: dict[str, np.ndarray],
    inputs,
    targets,
    hprev: np.ndarray,
) -> Pass:
    """Loss, raw gradients, last hidden state and per-timestep intermediates of one window.

    ``params`` maps Wxh (H, V), Whh (H, H), Why (V, H), bh (H,), by (V,) to
    arrays (bh/by may also be columns); ``inputs``/``targets`` are index
    sequences of equal length T; ``hprev`` is the incoming hidden state (H,).
    Returns ``Pass(loss, grads, h_last, cache)``; ``grads`` holds new arrays
    shaped like the flat-bias convention, ``loss`` is the sum over the window.
    """
    inputs = np.asarray(inputs, dtype=np.intp)
    targets = np.asarray(targets, dtype=np.intp)
    if inputs.shape != targets.shape or inputs.ndim != 1 or len(inputs) == 0:
        raise ValueError("inputs and targets must be 1-D index sequences of the same non-zero length")
    H, V = np.shape(params["Wxh"])
    if min(inputs.min(), targets.min()) < 0 or max(inputs.max(), targets.max()) >= V:
        raise ValueError(f"inputs and targets must be indices of the vocabulary, 0 to {V - 1}")
    layout = Layout(vocab_size=V, hidden_size=H)
    P = layout.views(layout.flatten(params))
    G = layout.views(zeros_aligned(layout.size))
    hprev = np.asarray(hprev, dtype=np.float64).reshape(H)
    loss, cache = forward_backward(P, inputs, targets, hprev, G)
    return Pass(loss, G, cache.hs_full[-1].copy(), cache)


def softmax_probs(y: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(y / temperature) as a new array."""
    z = y / temperature
    z = np.exp(z - z.max())
    return z / z.sum()


def sample_indices(
    P: dict[str, np.ndarray],
    h: np.ndarray,
    seed_ix: int,
    n: int,
    temperature: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draw ``n`` indices, feeding each drawn character back in, from hidden state ``h``."""
    Wxh, Whh, Why, bh, by = (P[k] for k in PARAM_NAMES)
    h = np.array(h, dtype=np.float64)
    x = int(seed_ix)
    out = np.empty(n, dtype=np.intp)
    uniforms = rng.random(n)
    for i in range(n):
        h = np.tanh(Wxh[:, x] + Whh @ h + bh)
        p = softmax_probs(Why @ h + by, temperature)
        x = int(np.searchsorted(np.cumsum(p), uniforms[i] * p.sum(), side="right"))
        x = min(x, len(p) - 1)
        out[i] = x
    return out
