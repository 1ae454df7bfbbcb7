"""The kernels' own arithmetic: exp and tanh without library calls, the fused update.

Under RNNTUI_JIT=0 (tests/test_no_jit.py runs this file so) the same checks hold
for the NumPy twins; the checks of what Numba compiled are skipped there.
"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from rnntui.engine import kernels
from rnntui.engine.jit import COMPILED
from rnntui.engine.kernels import clip_adagrad, exp_into, tanh_into
from rnntui.engine.model import Layout, zeros_aligned

SMALLEST_NORMAL = np.finfo(np.float64).tiny
compiled_only = pytest.mark.skipif(not COMPILED, reason="checks what Numba compiled; the NumPy twins run here")


def ulp_errors(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """|got - want| in units in the last place of ``want``, for finite ``want``."""
    finite = np.isfinite(want)
    return np.abs(got[finite] - want[finite]) / np.spacing(np.abs(want[finite]))


def special_values() -> np.ndarray:
    return np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e308, -1e308, 5e-324, -5e-324])


def test_tanh_is_within_3_ulp_of_numpy_everywhere():
    xs = np.concatenate(
        [
            np.linspace(-25, 25, 1_000_001),
            np.geomspace(1e-300, 1, 50_001),
            -np.geomspace(1e-300, 1, 50_001),
            special_values(),
        ]
    )
    got = np.empty_like(xs)
    tanh_into(xs, got)
    want = np.tanh(xs)
    assert ulp_errors(got, want).max() <= 3
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.array_equal(np.signbit(got), np.signbit(want))  # -0.0 stays -0.0
    assert got[np.abs(xs) > 19.1].tolist() == np.sign(xs[np.abs(xs) > 19.1]).tolist()


def test_exp_is_within_1_ulp_of_numpy_and_overflows_where_numpy_does():
    xs = np.concatenate(
        [
            np.linspace(-800, 800, 1_000_001),
            np.linspace(-30, 30, 200_001),
            np.linspace(709.0, 710.0, 10_001),  # the overflow edge
            np.linspace(-746.0, -744.0, 10_001),  # the underflow edge, subnormal results
            special_values(),
        ]
    )
    got = np.empty_like(xs)
    exp_into(xs, got)
    with np.errstate(over="ignore"):
        want = np.exp(xs)
    assert ulp_errors(got, want).max() <= 1
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.array_equal(np.isposinf(got), np.isposinf(want))
    assert np.array_equal(got == 0.0, want == 0.0)
    assert ((got > 0) & (got < SMALLEST_NORMAL)).any()  # subnormal results are produced, not flushed


def test_clip_adagrad_matches_the_update_written_out():
    layout = Layout(vocab_size=7, hidden_size=12)
    rng = np.random.default_rng(3)
    flat = rng.standard_normal(layout.size)
    mem = np.abs(rng.standard_normal(layout.size)) * 10
    grad = rng.standard_normal(layout.size) * 4  # some beyond the clip
    grad[5] = np.nan
    bounds = np.append(layout.offsets, layout.size).astype(np.int64)
    sums = np.empty((5, 4))
    counts = np.empty(5, dtype=np.int64)
    lr, clip, eps = 0.1, 5.0, 1e-8

    clipped = np.clip(grad, -clip, clip)
    want_mem = mem + clipped * clipped
    update = lr * clipped / np.sqrt(want_mem + eps)
    want_flat = flat - update
    before = flat.copy()

    clip_adagrad(flat, grad, mem, bounds, clip, lr, eps, sums, counts)

    np.testing.assert_array_equal(mem, want_mem)  # element-wise: bit-identical, NaN included
    np.testing.assert_array_equal(flat, want_flat)
    for k, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:])):
        part = slice(start, stop)
        expected = [
            np.sum(grad[part] ** 2),
            np.sum(clipped[part] ** 2),
            np.sum(before[part] ** 2),
            np.sum(update[part] ** 2),
        ]
        np.testing.assert_allclose(sums[k], expected, rtol=1e-12)
        assert counts[k] == np.count_nonzero(np.abs(grad[part]) > clip)


@pytest.mark.parametrize("n", [1, 7, 8, 1000])
def test_zeros_aligned_starts_a_cache_line(n):
    buffers = [zeros_aligned(n) for _ in range(20)]
    for buf in buffers:
        assert buf.ctypes.data % 64 == 0
        assert buf.shape == (n,) and not buf.any()


@compiled_only
def test_the_adagrad_update_compiles_without_fast_math_flags():
    """clip_adagrad may reassociate its sums, but the update itself must stay exact."""
    from numba import njit

    recompiled = njit(nogil=True, error_model="numpy", fastmath={"reassoc"})(kernels.clip_adagrad.py_func)
    n = 16
    bounds = np.array([0, 4, 8, 12, 14, 16], dtype=np.int64)
    recompiled(np.ones(n), np.ones(n), np.ones(n), bounds, 5.0, 0.1, 1e-8, np.empty((5, 4)), np.empty(5, np.int64))
    ir = "\n".join(recompiled.inspect_llvm().values())
    assert re.search(r"fadd reassoc", ir)  # the sums
    assert not re.search(r"(fdiv|fsub) reassoc|call reassoc .*sqrt", ir)  # the update (its only divisions, subtractions, roots)


@compiled_only
def test_warm_up_compiles_the_kernels_a_real_step_uses():
    code = (
        "from rnntui.engine import Config, Corpus, Trainer, warm_up\n"
        "from rnntui.engine import kernels as k\n"
        "ks = [k.forward_recurrence, k.backward_recurrence, k.softmax_loss, k.clip_adagrad]\n"
        "warm_up()\n"
        "warm = [len(f.signatures) for f in ks]\n"
        "Trainer(Corpus.from_text('hello there, world'), Config(hidden_size=40, seq_length=7)).step()\n"
        "print(warm, [len(f.signatures) for f in ks])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    warm, after = out.split("] [")
    assert warm == "[1, 1, 1, 1" and after == "1, 1, 1, 1]"  # compiled once, and a real step needs nothing new
