"""Compiled inner loops: the recurrence (forward and backward), the softmax and the fused
clip-and-Adagrad pass, each with its NumPy twin.

The recurrence is sequential in t, so per-timestep NumPy calls would cost more
in call overhead than in arithmetic at the sizes rnntui shows (H ~ 100), and the
element-wise update would make several passes over every parameter. These loops
are compiled with Numba instead. Loops run over views with ``range(n)`` so the
compiler can prove indices are non-negative and vectorise; only sums (dot
products, sums of squares, the softmax's denominator) may be reassociated
(``fastmath={"reassoc"}``), and the same compiled code always sums in the same
order, so runs stay bit-identical. Numba compiles a called function with its
caller's fast-math flags unless the callee names its own, so functions called
from a reassociating kernel that must stay exact say ``fastmath=False``.

Without Numba (see jit.py) each loop called from Python is replaced by its
NumPy twin, written just before it: the same arguments and outputs, whole-array
operations with a loop over timesteps only, BLAS products and NumPy's exp and
tanh. The twins agree with the loops within the contract's one-step tolerance
and are deterministic on their own.
"""

from __future__ import annotations

import math

import numpy as np

from .jit import njit

# Elements per block in clip_adagrad's twin. Temporaries as large as a whole
# parameter would come from malloc's mmap and be faulted in afresh at every call
# (several times the arithmetic); 16,000 float64 values stay below glibc's 128 KiB threshold.
TWIN_BLOCK = 16_000


# --- exp and tanh without a library call ------------------------------------
# A libm call per element cannot be vectorised and costs about five times as
# much as the arithmetic below: a tenth of a training step at H = 256.
# Range reduction: y = k ln2 + r with k = round(y / ln2), |r| <= ln2 / 2;
# expm1(r) from its Taylor series to r^13 / 13! (the next term is below
# 1e-17 of the result); exp(y) = 2^k (1 + expm1(r)). 2^k is built from its
# IEEE-754 bits. Both functions are within 3 ulp of NumPy's (tested).
_LN2_HI = 6.93147180369123816490e-01  # ln 2 to 32 significant bits: k * _LN2_HI is exact for |k| < 2^21
_LN2_LO = 1.90821492927058770002e-10  # ln 2 - _LN2_HI
_INV_LN2 = 1.44269504088896338700e00  # 1 / ln 2
_C2, _C3, _C4, _C5 = 1 / 2, 1 / 6, 1 / 24, 1 / 120  # Taylor coefficients 1/n! of expm1
_C6, _C7, _C8, _C9 = 1 / 720, 1 / 5040, 1 / 40320, 1 / 362880
_C10, _C11, _C12, _C13 = 1 / 3628800, 1 / 39916800, 1 / 479001600, 1 / 6227020800
_TANH_ONE = 20.0  # tanh(x) rounds to 1.0 above |x| ~ 19.06; capping there keeps k <= 58
_EXP_MAX = 710.0  # exp overflows to inf above ~709.78
_EXP_MIN = -746.0  # exp rounds to 0 below ~-745.13


@njit(inline="always", error_model="numpy")
def _reduce(y):  # pragma: no cover - compiled
    """(k, expm1(r)) with y = k ln2 + r, |r| <= ln2 / 2, for |y| <= 746 (NaN: k = 0, r = NaN)."""
    k = np.floor(y * _INV_LN2 + 0.5)
    k = k if k == k else 0.0  # NaN has no integer value to convert to
    r = (y - k * _LN2_HI) - k * _LN2_LO
    p = _C13
    p = p * r + _C12
    p = p * r + _C11
    p = p * r + _C10
    p = p * r + _C9
    p = p * r + _C8
    p = p * r + _C7
    p = p * r + _C6
    p = p * r + _C5
    p = p * r + _C4
    p = p * r + _C3
    p = p * r + _C2
    return np.int64(k), r + r * r * p


@njit(inline="always", error_model="numpy")
def _pow2(k):  # pragma: no cover - compiled
    """2.0 ** k for integer -1022 <= k <= 1023, from its bits (exact)."""
    return np.int64((k + 1023) << 52).view(np.float64)


@njit(inline="always", error_model="numpy")
def _tanh(x):  # pragma: no cover - compiled
    """tanh(x) = sign(x) e / (e + 2) with e = expm1(2|x|); NaN stays NaN, the sign of zero is kept."""
    a = min(abs(x), _TANH_ONE)
    k, expm1_r = _reduce(a + a)  # 0 <= k <= 58
    scale = _pow2(k)
    e = scale * expm1_r + (scale - 1.0)  # expm1(2|x|) = 2^k expm1(r) + (2^k - 1)
    return math.copysign(e / (e + 2.0), x)


@njit(inline="always", error_model="numpy")
def _exp(x):  # pragma: no cover - compiled
    """exp(x): inf above ~709.78 and 0 below ~-745.13, as np.exp; NaN stays NaN."""
    k, expm1_r = _reduce(max(min(x, _EXP_MAX), _EXP_MIN))  # -1076 <= k <= 1024
    half = k >> 1  # 2^k in two factors, each a normal number
    return (1.0 + expm1_r) * _pow2(half) * _pow2(k - half)


def tanh_into_numpy(x, out):
    """tanh_into's twin: NumPy's tanh."""
    np.tanh(x, out=out)


@njit(cache=True, nogil=True, error_model="numpy", plain=tanh_into_numpy)
def tanh_into(x, out):  # pragma: no cover - compiled
    """out[i] = _tanh(x[i]) for 1-D arrays (for tests and benchmarks)."""
    for i in range(x.size):
        out[i] = _tanh(x[i])


def exp_into_numpy(x, out):
    """exp_into's twin: NumPy's exp."""
    np.exp(x, out=out)


@njit(cache=True, nogil=True, error_model="numpy", plain=exp_into_numpy)
def exp_into(x, out):  # pragma: no cover - compiled
    """out[i] = _exp(x[i]) for 1-D arrays (for tests and benchmarks)."""
    for i in range(x.size):
        out[i] = _exp(x[i])


# --- products with Whh, one timestep at a time ------------------------------
@njit(nogil=True, error_model="numpy", fastmath={"reassoc"})
def _matvec(W, v, out):  # pragma: no cover - compiled
    """out = W v, eight rows of W per pass over v (eight independent dot products).

    Its own function, not inlined by Numba, so that its reassociation stays
    here: fast-math flags belong to each instruction and survive LLVM's
    inlining, so forward_recurrence around it stays exact.
    """
    H = W.shape[0]
    H8 = H - H % 8
    for i in range(0, H8, 8):
        r0, r1, r2, r3 = W[i], W[i + 1], W[i + 2], W[i + 3]
        r4, r5, r6, r7 = W[i + 4], W[i + 5], W[i + 6], W[i + 7]
        s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
        for j in range(v.size):
            vj = v[j]
            s0 += r0[j] * vj
            s1 += r1[j] * vj
            s2 += r2[j] * vj
            s3 += r3[j] * vj
            s4 += r4[j] * vj
            s5 += r5[j] * vj
            s6 += r6[j] * vj
            s7 += r7[j] * vj
        out[i], out[i + 1], out[i + 2], out[i + 3] = s0, s1, s2, s3
        out[i + 4], out[i + 5], out[i + 6], out[i + 7] = s4, s5, s6, s7
    for i in range(H8, H):
        row = W[i]
        s = 0.0
        for j in range(v.size):
            s += row[j] * v[j]
        out[i] = s


@njit(nogil=True, error_model="numpy", fastmath={"reassoc"})
def _dot(a, b):  # pragma: no cover - compiled
    """a . b, summed in any order (vectorised); its own function so that callers stay exact."""
    s = 0.0
    for j in range(a.size):
        s += a[j] * b[j]
    return s


@njit(nogil=True, error_model="numpy", fastmath={"reassoc"})
def _sum(a):  # pragma: no cover - compiled
    """sum of a, in any order (vectorised); its own function so that callers stay exact."""
    s = 0.0
    for j in range(a.size):
        s += a[j]
    return s


@njit(inline="always", error_model="numpy")
def _matvec_transposed(W, v, out):  # pragma: no cover - compiled
    """out = W^T v: rows of W scaled by v's entries and summed, four rows per pass over out.

    (Four rows measured a little faster than eight here; in W v, eight.)
    """
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


def forward_recurrence_numpy(Wxh, Whh, bh, inputs, hs_full, wxh_x, whh_h):
    """forward_recurrence's twin: the input columns gathered at once, a BLAS product per timestep."""
    wxh_x[...] = Wxh[:, inputs].T  # (T, H)
    for t in range(len(inputs)):
        np.dot(Whh, hs_full[t], out=whh_h[t])
        h = hs_full[t + 1]
        np.add(wxh_x[t], whh_h[t], out=h)
        h += bh
        np.tanh(h, out=h)


@njit(cache=True, nogil=True, error_model="numpy", plain=forward_recurrence_numpy)
def forward_recurrence(Wxh, Whh, bh, inputs, hs_full, wxh_x, whh_h):  # pragma: no cover - compiled
    """h_t = tanh(Wxh x_t + Whh h_{t-1} + bh) for t = 0..T-1, summed in that order.

    Wxh (H, V), Whh (H, H), bh (H,) and inputs (T,) in; hs_full (T+1, H) has
    hprev in row 0 and receives h_t in row t+1; wxh_x (T, H) receives the
    gathered input column Wxh[:, x_t] and whh_h (T, H) receives Whh h_{t-1}.
    Each dot product may be summed in any order (vectorised), always the
    same order for the same compiled code, so runs stay bit-identical.
    """
    T = inputs.size
    H = Whh.shape[0]
    for t in range(T):
        x = inputs[t]
        wx = wxh_x[t]
        for i in range(H):
            wx[i] = Wxh[i, x]
        out = whh_h[t]
        _matvec(Whh, hs_full[t], out)
        nxt = hs_full[t + 1]
        for i in range(H):
            nxt[i] = _tanh((wx[i] + out[i]) + bh[i])


def backward_recurrence_numpy(Whh, dh_out, hs, inputs, dh, dhraw, dh_norms, dbh, dWxh):
    """backward_recurrence's twin: a BLAS product per timestep, the sums over the window afterwards."""
    slope = 1.0 - hs * hs  # (T, H) tanh' at every h_t
    dh_next = np.zeros(Whh.shape[0])  # (H,)
    for t in range(len(inputs) - 1, -1, -1):
        np.add(dh_out[t], dh_next, out=dh[t])
        np.multiply(dh[t], slope[t], out=dhraw[t])
        if t > 0:
            np.dot(dhraw[t], Whh, out=dh_next)  # Whh^T dhraw[t]
    dh_norms[...] = np.linalg.norm(dh, axis=1)
    np.sum(dhraw, axis=0, out=dbh)
    dWxh[...] = 0.0
    np.add.at(dWxh.T, inputs, dhraw)  # dWxh[:, x_t] += dhraw[t], repeated inputs included


@njit(cache=True, nogil=True, error_model="numpy", plain=backward_recurrence_numpy)
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
        d_row, r_row, h_row, o_row = dh[t], dhraw[t], hs[t], dh_out[t]
        for i in range(H):  # vectorised: no sum in this loop
            d = o_row[i] + dh_next[i]
            d_row[i] = d
            r = d * (1.0 - h_row[i] * h_row[i])
            r_row[i] = r
            dbh[i] += r
        dh_norms[t] = np.sqrt(_dot(d_row, d_row))
        x = inputs[t]
        for i in range(H):
            dWxh[i, x] += r_row[i]
        if t > 0:
            _matvec_transposed(Whh, r_row, dh_next)


@njit(nogil=True, error_model="numpy", fastmath=False)  # named, or it would take clip_adagrad's flags
def _adagrad_element(w, m, g, learning_rate, eps):  # pragma: no cover - compiled
    """One element of Adagrad, exactly as written (no fast-math): (new P, new M, u)."""
    m = m + g * g
    u = learning_rate * g / np.sqrt(m + eps)
    return w - u, m, u


def clip_adagrad_numpy(flat, grad, mem, bounds, clip, learning_rate, eps, sums, counts):
    """clip_adagrad's twin: the same element-wise update (bit for bit), a block of a parameter at a time."""
    sums[...] = 0.0
    counts[...] = 0
    for k in range(len(bounds) - 1):
        for start in range(bounds[k], bounds[k + 1], TWIN_BLOCK):
            block = slice(start, min(start + TWIN_BLOCK, bounds[k + 1]))
            g, w, m = grad[block], flat[block], mem[block]  # views: w and m are updated in place
            c = np.clip(g, -clip, clip)  # NaN stays NaN
            counts[k] += np.count_nonzero(np.abs(g) > clip)
            sums[k, :3] += np.dot(g, g), np.dot(c, c), np.dot(w, w)
            m += c * c
            u = learning_rate * c / np.sqrt(m + eps)
            w -= u
            sums[k, 3] += np.dot(u, u)


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc"}, plain=clip_adagrad_numpy)
def clip_adagrad(flat, grad, mem, bounds, clip, learning_rate, eps, sums, counts):  # pragma: no cover
    """Clip each gradient element to [-clip, clip] and apply Adagrad, in one pass.

    Per element: g = clip(grad); M += g*g; u = learning_rate * g / sqrt(M + eps);
    P -= u. ``flat`` (P) and ``mem`` (M) are updated in place; ``grad`` is
    only read. For parameter k (elements bounds[k]:bounds[k+1]): sums[k] =
    (sum of grad^2 before clipping, after clipping, sum of P^2 before the
    update, sum of u^2); counts[k] = elements that were outside the range.
    NaN stays NaN. Only the sums may be reassociated: the update itself is
    computed in _adagrad_element, whose arithmetic carries no fast-math flags.
    """
    for k in range(len(bounds) - 1):
        g_part = grad[bounds[k] : bounds[k + 1]]  # views: the loop index is provably >= 0
        w_part = flat[bounds[k] : bounds[k + 1]]
        m_part = mem[bounds[k] : bounds[k + 1]]
        raw = 0.0
        clipped = 0.0
        weights = 0.0
        updates = 0.0
        n = 0
        for e in range(g_part.size):
            g = g_part[e]
            raw += g * g
            if g > clip or g < -clip:
                n += 1
            c = min(max(g, -clip), clip)
            clipped += c * c
            w = w_part[e]
            weights += w * w
            w_part[e], m_part[e], u = _adagrad_element(w, m_part[e], c, learning_rate, eps)
            updates += u * u
        sums[k, 0] = raw
        sums[k, 1] = clipped
        sums[k, 2] = weights
        sums[k, 3] = updates
        counts[k] = n


def softmax_loss_numpy(ys, by, targets, ps, dy, losses, dby):
    """softmax_loss's twin, whole-array, with NumPy's exp (and no shift by the maximum either)."""
    ys += by
    np.exp(ys, out=ps)
    ps /= ps.sum(axis=1, keepdims=True)
    rows = np.arange(len(targets))
    np.negative(np.log(ps[rows, targets]), out=losses)
    dy[...] = ps
    dy[rows, targets] -= 1.0
    np.sum(dy, axis=0, out=dby)


@njit(cache=True, nogil=True, error_model="numpy", plain=softmax_loss_numpy)
def softmax_loss(ys, by, targets, ps, dy, losses, dby):  # pragma: no cover - compiled
    """Output layer of the window: add by to the logits ys (T, V) in place, softmax
    them into ps, -ln p[target] into losses (T,), dy = p with 1 subtracted at
    the target, and dby = the sum of dy over the window.

    As the original program computes it: p = exp(y) / sum(exp(y)), with no
    shift by the maximum. So a diverging run overflows exactly where the
    original does (logits above ~709 give inf/inf = NaN), and the debugger can
    stop on it instead of training on in silence.
    """
    T, V = ys.shape
    dby[:] = 0.0
    for t in range(T):
        y_row, e_row, d_row = ys[t], ps[t], dy[t]
        for v in range(V):  # vectorised: no sum in this loop
            y = y_row[v] + by[v]
            y_row[v] = y
            e_row[v] = _exp(y)
        total = _sum(e_row)
        for v in range(V):
            p = e_row[v] / total
            e_row[v] = p
            d_row[v] = p
        target = targets[t]
        losses[t] = -np.log(e_row[target])
        d_row[target] -= 1.0
        for v in range(V):
            dby[v] += d_row[v]
