"""Compiled inner loops: the recurrence (forward and backward) and the fused Adagrad update.

The recurrence is sequential in t, so per-timestep NumPy calls would cost more
in call overhead than in arithmetic at the sizes rnntui shows (H ~ 100), and the
element-wise update would make several passes over every parameter. These loops
are compiled with Numba instead. Loops run over views with ``range(n)`` so the
compiler can prove indices are non-negative and vectorise; only sums of
squares and dot products may be reassociated (``fastmath={"reassoc"}``), and the
same compiled code always sums in the same order, so runs stay bit-identical.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc"})
def forward_recurrence(Whh, pre_in, hs_full, whh_h):  # pragma: no cover - compiled
    """h_t = tanh(pre_in[t] + Whh h_{t-1}) for t = 0..T-1.

    Whh (H, H); pre_in (T, H) holds Wxh x_t + bh; hs_full (T+1, H) has hprev
    in row 0 and receives h_t in row t+1; whh_h (T, H) receives Whh h_{t-1}.
    Each dot product may be summed in any order (vectorised), always the
    same order for the same compiled code, so runs stay bit-identical.
    """
    T, H = pre_in.shape
    for t in range(T):
        h = hs_full[t]
        out = whh_h[t]
        for i in range(H):
            row = Whh[i]
            s = 0.0
            for j in range(H):
                s += row[j] * h[j]
            out[i] = s
        nxt = hs_full[t + 1]
        pre = pre_in[t]
        for i in range(H):
            nxt[i] = np.tanh(pre[i] + out[i])


@njit(cache=True, nogil=True, error_model="numpy")
def backward_recurrence(Whh, dh_out, dtanh, dh, dhraw):  # pragma: no cover - compiled
    """Backward through time, t = T-1..0, with dh_next = 0 after the window.

    dh[t] = dh_out[t] + Whh^T dhraw[t+1]; dhraw[t] = (1 - h_t^2) * dh[t].
    Whh (H, H); dh_out, dtanh (T, H) inputs; dh, dhraw (T, H) outputs.
    """
    T, H = dh_out.shape
    dh_next = np.zeros(H)
    for t in range(T - 1, -1, -1):
        for i in range(H):
            d = dh_out[t, i] + dh_next[i]
            dh[t, i] = d
            dhraw[t, i] = d * dtanh[t, i]
        dh_next[:] = 0.0
        for i in range(H):
            r = dhraw[t, i]
            row = Whh[i]
            for j in range(H):
                dh_next[j] += row[j] * r


@njit(cache=True, nogil=True, error_model="numpy")
def clip_count(grad, bounds, clip, counts):  # pragma: no cover - compiled
    """Clip every element of ``grad`` to [-clip, clip] in place.

    counts[k] receives how many elements of parameter k (elements
    bounds[k]:bounds[k+1]) were outside the range. NaN stays NaN.
    """
    for k in range(len(bounds) - 1):
        part = grad[bounds[k] : bounds[k + 1]]
        n = 0
        for e in range(part.size):
            g = part[e]
            if g > clip or g < -clip:
                n += 1
            part[e] = min(max(g, -clip), clip)
        counts[k] = n


@njit(cache=True, nogil=True, error_model="numpy")
def adagrad(flat, grad, mem, learning_rate, eps, update):  # pragma: no cover - compiled
    """Adagrad on flat buffers: M += g*g; u = lr * g / sqrt(M + eps); P -= u.

    ``update`` receives u (for update-to-weight ratios).
    """
    for e in range(flat.size):
        g = grad[e]
        m = mem[e] + g * g
        mem[e] = m
        u = learning_rate * g / np.sqrt(m + eps)
        update[e] = u
        flat[e] -= u


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc"})
def sumsq_slices(flat, bounds, out):  # pragma: no cover - compiled
    """out[k] = sum of squares of flat[bounds[k]:bounds[k+1]] (summed in any order)."""
    for k in range(len(bounds) - 1):
        part = flat[bounds[k] : bounds[k + 1]]  # a view, so the loop index is provably >= 0
        s = 0.0
        for e in range(part.size):
            s += part[e] * part[e]
        out[k] = s


@njit(cache=True, nogil=True, error_model="numpy")
def softmax_loss(ys, targets, ps, dy, losses):  # pragma: no cover - compiled
    """Row-wise softmax of the logits ys (T, V) into ps, -ln p[target] into losses (T,),
    and dy = p with 1 subtracted at the target. Max-subtracted, so large logits
    do not overflow; the loss is computed from the log-sum-exp."""
    T, V = ys.shape
    for t in range(T):
        m = ys[t, 0]
        for v in range(1, V):
            if ys[t, v] > m:
                m = ys[t, v]
        total = 0.0
        for v in range(V):
            e = np.exp(ys[t, v] - m)
            ps[t, v] = e
            total += e
        for v in range(V):
            p = ps[t, v] / total
            ps[t, v] = p
            dy[t, v] = p
        losses[t] = (np.log(total) + m) - ys[t, targets[t]]
        dy[t, targets[t]] -= 1.0


@njit(cache=True, nogil=True, error_model="numpy")
def scatter_columns(dhraw, inputs, dWxh):  # pragma: no cover - compiled
    """dWxh (H, V) = sum over t of dhraw[t] placed in column inputs[t] (one-hot product)."""
    dWxh[:, :] = 0.0
    T, H = dhraw.shape
    for t in range(T):
        x = inputs[t]
        for i in range(H):
            dWxh[i, x] += dhraw[t, i]
