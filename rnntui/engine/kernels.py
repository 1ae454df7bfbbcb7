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


@njit(inline="always", error_model="numpy", fastmath={"reassoc"})
def _matvec(W, v, out):  # pragma: no cover - compiled
    """out = W v, four rows of W per pass over v (four independent dot products)."""
    H = W.shape[0]
    H4 = H - H % 4
    for i in range(0, H4, 4):
        r0, r1, r2, r3 = W[i], W[i + 1], W[i + 2], W[i + 3]
        s0 = s1 = s2 = s3 = 0.0
        for j in range(v.size):
            vj = v[j]
            s0 += r0[j] * vj
            s1 += r1[j] * vj
            s2 += r2[j] * vj
            s3 += r3[j] * vj
        out[i], out[i + 1], out[i + 2], out[i + 3] = s0, s1, s2, s3
    for i in range(H4, H):
        row = W[i]
        s = 0.0
        for j in range(v.size):
            s += row[j] * v[j]
        out[i] = s


@njit(inline="always", error_model="numpy")
def _matvec_transposed(W, v, out):  # pragma: no cover - compiled
    """out = W^T v: rows of W scaled by v's entries and summed, four rows per pass."""
    H = W.shape[0]
    H4 = H - H % 4
    out[:] = 0.0
    for i in range(0, H4, 4):
        a0, a1, a2, a3 = v[i], v[i + 1], v[i + 2], v[i + 3]
        r0, r1, r2, r3 = W[i], W[i + 1], W[i + 2], W[i + 3]
        for j in range(out.size):
            out[j] += (r0[j] * a0 + r1[j] * a1) + (r2[j] * a2 + r3[j] * a3)
    for i in range(H4, H):
        a = v[i]
        row = W[i]
        for j in range(out.size):
            out[j] += row[j] * a


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
        out = whh_h[t]
        _matvec(Whh, hs_full[t], out)
        nxt = hs_full[t + 1]
        pre = pre_in[t]
        for i in range(H):
            nxt[i] = np.tanh(pre[i] + out[i])


@njit(cache=True, nogil=True, error_model="numpy")
def backward_recurrence(Whh, dh_out, hs, inputs, dh, dhraw, dh_norms, dbh, dWxh):  # pragma: no cover
    """Backward through time, t = T-1..0, with dh_next = 0 after the window.

    dh[t] = dh_out[t] + Whh^T dhraw[t+1]; dhraw[t] = (1 - h_t^2) * dh[t].
    Along the way: dh_norms[t] = ||dh[t]||, dbh = sum of dhraw[t], and
    dWxh[:, inputs[t]] += dhraw[t] (the one-hot product, as a column add).
    Whh (H, H); dh_out, hs (T, H) and inputs (T,) in; dh, dhraw (T, H),
    dh_norms (T,), dbh (H,) and dWxh (H, V) out. What would flow from t=0 into
    hprev is not computed: truncated BPTT drops it.
    """
    T, H = dh_out.shape
    dh_next = np.zeros(H)
    dbh[:] = 0.0
    dWxh[:, :] = 0.0
    for t in range(T - 1, -1, -1):
        sq = 0.0
        x = inputs[t]
        for i in range(H):
            d = dh_out[t, i] + dh_next[i]
            dh[t, i] = d
            sq += d * d
            r = d * (1.0 - hs[t, i] * hs[t, i])
            dhraw[t, i] = r
            dbh[i] += r
            dWxh[i, x] += r
        dh_norms[t] = np.sqrt(sq)
        if t > 0:
            _matvec_transposed(Whh, dhraw[t], dh_next)


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc"})
def clip_with_norms(grad, flat, bounds, clip, sums, counts):  # pragma: no cover - compiled
    """Clip every element of ``grad`` to [-clip, clip] in place and gather statistics.

    For parameter k (elements bounds[k]:bounds[k+1]): sums[k] = (sum of g^2
    before clipping, after clipping, sum of w^2 of the weights ``flat``);
    counts[k] = elements that were outside the range. NaN stays NaN. Only the
    sums may be reassociated; each clipped element is exact.
    """
    for k in range(len(bounds) - 1):
        g_part = grad[bounds[k] : bounds[k + 1]]  # views: the loop index is provably >= 0
        w_part = flat[bounds[k] : bounds[k + 1]]
        raw = 0.0
        clipped = 0.0
        weights = 0.0
        n = 0
        for e in range(g_part.size):
            g = g_part[e]
            raw += g * g
            if g > clip or g < -clip:
                n += 1
            c = min(max(g, -clip), clip)
            g_part[e] = c
            clipped += c * c
            weights += w_part[e] * w_part[e]
        sums[k, 0] = raw
        sums[k, 1] = clipped
        sums[k, 2] = weights
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
    and dy = p with 1 subtracted at the target.

    As the original program computes it: p = exp(y) / sum(exp(y)), with no
    shift by the maximum. So a diverging run overflows exactly where the
    original does (logits above ~709 give inf/inf = NaN), and the debugger can
    stop on it instead of training on in silence.
    """
    T, V = ys.shape
    for t in range(T):
        total = 0.0
        for v in range(V):
            e = np.exp(ys[t, v])
            ps[t, v] = e
            total += e
        for v in range(V):
            p = ps[t, v] / total
            ps[t, v] = p
            dy[t, v] = p
        losses[t] = -np.log(ps[t, targets[t]])
        dy[t, targets[t]] -= 1.0
