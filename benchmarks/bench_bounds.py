"""Where an engine step's time goes at H=256, T=50, next to what this machine allows for each part.

Measured in one process, each as the median of several rounds:

- the engine's ``Trainer.step()`` and the per-timestep oracle's ``step()``;
- the engine's parts, called on the same arrays a step uses: the forward and
  backward recurrences, the four window products (BLAS), the softmax and the
  fused clip-and-Adagrad pass; what is left of the step is Python;
- three bounds of the machine, each by the simplest loop that does the work:
  1. one read of a Whh-sized array (H*H float64) that sits in the core's L2
     cache. The recurrence reads all of Whh once per timestep forward and once
     per timestep backward (2T - 1 reads), one timestep after another;
  2. BLAS's rate on a large square product (1024^3), applied to the
     multiply-adds of the four window products;
  3. the Adagrad arithmetic alone (M += g*g, P -= lr*g/sqrt(M + eps)) over all
     parameters, with no clipping or statistics: its square root and division
     per element bound it.

The sum of the bounds is a floor for one core (the softmax, tanh and the
Python around the kernels come on top). It prints the oracle's time over that
floor: the highest ratio one core could reach, if every part ran at its bound.

    python benchmarks/bench_bounds.py           # about 40 s
    python benchmarks/bench_bounds.py --quick   # about 10 s
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import (  # noqa: E402
    Case,
    default_corpus,
    load_average,
    make_pair,
    steady_allocator,
    timed_rounds,
    warm_up,
)

from rnntui.engine import kernels, use_one_blas_thread  # noqa: E402
from rnntui.engine.model import forward_backward, zeros_aligned  # noqa: E402

CASE = Case(256, 50, 6.0)


@njit(nogil=True, error_model="numpy", fastmath={"reassoc"})
def _read_all(a, times):  # pragma: no cover - compiled
    """Sum of every element of the 1-D array a, ``times`` times over: that many reads of a
    (vectorised, with the sum in any order)."""
    s = 0.0
    for _ in range(times):
        for k in range(a.size):
            s += a[k]
    return s


@njit(nogil=True, error_model="numpy")
def _adagrad_only(w, m, g, learning_rate, eps):  # pragma: no cover - compiled
    """The contract's Adagrad on flat arrays, nothing else."""
    for e in range(g.size):
        mm = m[e] + g[e] * g[e]
        m[e] = mm
        w[e] = w[e] - learning_rate * g[e] / np.sqrt(mm + eps)


def seconds_per_call(call, seconds: float, rounds: int) -> float:
    """Median over ``rounds`` of the mean time of ``call()`` over about ``seconds``."""
    call()
    results = []
    for _ in range(rounds):
        count, start = 0, time.perf_counter()
        while (now := time.perf_counter()) - start < seconds:
            call()
            count += 1
        results.append((now - start) / count)
    return statistics.median(results)


def engine_parts(engine, seconds: float, rounds: int) -> dict[str, float]:
    """Seconds per call of each kernel of a step, on the arrays that step would use."""
    P, G = engine._P, engine._G
    _, inputs, targets, hprev = engine.next_window()
    loss, cache = forward_backward(P, inputs, targets, hprev, G)
    hs_full, wxh_x, whh_h, ys, ps, losses, dh_out, dh, dhraw, dh_norms = cache
    hs = hs_full[1:]
    dy = ps.copy()
    dy[np.arange(len(targets)), targets] -= 1.0
    dby = np.empty_like(P["by"])
    sums, counts = np.empty((5, 4)), np.empty(5, dtype=np.int64)
    flat, mem, grad = engine._flat.copy(), engine._mem.copy(), engine._grad.copy()

    def time_of(call):
        return seconds_per_call(call, seconds, rounds)

    return {
        "forward recurrence": time_of(
            lambda: kernels.forward_recurrence(P["Wxh"], P["Whh"], P["bh"], inputs, hs_full, wxh_x, whh_h)
        ),
        "backward recurrence": time_of(
            lambda: kernels.backward_recurrence(P["Whh"], dh_out, hs, inputs, dh, dhraw, dh_norms, G["bh"], G["Wxh"])
        ),
        "window products (BLAS)": time_of(
            lambda: (
                np.dot(hs, P["Why"].T, out=ys),
                np.dot(dy.T, hs, out=G["Why"]),
                np.dot(dy, P["Why"], out=dh_out),
                np.dot(dhraw.T, hs_full[:-1], out=G["Whh"]),
            )
        ),
        "softmax and loss": time_of(lambda: kernels.softmax_loss(ys.copy(), P["by"], targets, ps, dy, losses, dby)),
        "clip + Adagrad": time_of(
            lambda: kernels.clip_adagrad(flat, grad, mem, engine._bounds, 5.0, 1e-12, 1e-8, sums, counts)
        ),
    }


def machine_bounds(engine, seconds: float, rounds: int) -> dict[str, float]:
    """Seconds per step that each bound allows (see the module docstring)."""
    H, T, V = CASE.hidden_size, CASE.seq_length, engine.corpus.vocab_size
    W = zeros_aligned(H * H)  # on a cache line, as the engine's Whh (adding to it would copy it off the line)
    W[:] = 1.0
    reads = 2 * T - 1
    one_read = seconds_per_call(lambda: _read_all(W, reads), seconds / 4, rounds) / reads
    big = np.ones((1024, 1024))
    out = np.empty_like(big)
    gemm = seconds_per_call(lambda: np.dot(big, big, out=out), seconds, rounds)
    fma_per_second = 1024**3 / gemm
    window_fmas = 3 * V * H * T + H * H * T  # ys, dWhy, dh_out; dWhh
    n = engine.layout.size
    w, m, g = zeros_aligned(n), zeros_aligned(n), zeros_aligned(n)
    w[:], m[:], g[:] = 0.1, 1.0, 0.5
    adagrad = seconds_per_call(lambda: _adagrad_only(w, m, g, 1e-12, 1e-8), seconds / 4, rounds)
    return {
        f"read Whh from L2, {reads} times ({one_read * 1e6:.2f} us each)": reads * one_read,
        f"window products at BLAS's peak ({fma_per_second / 1e9:.1f} GFMA/s)": window_fmas / fma_per_second,
        f"Adagrad arithmetic alone ({n} elements)": adagrad,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter rounds")
    args = parser.parse_args(argv)
    seconds, rounds = (0.25, 3) if args.quick else (0.75, 5)
    use_one_blas_thread()
    allocator = steady_allocator()
    corpus = default_corpus()
    engine, oracle = make_pair(corpus, CASE)
    warm_up(engine, oracle, seconds)
    print(f"{CASE.label}, V={corpus.vocab_size}, BLAS on one thread, malloc {allocator}, {load_average()}\n")

    engine_rates, oracle_rates = timed_rounds(engine, oracle, rounds, seconds * 2)  # alternating, as bench_engine
    step, oracle_step = 1 / statistics.median(engine_rates), 1 / statistics.median(oracle_rates)
    parts = engine_parts(engine, seconds, rounds)
    bounds = machine_bounds(engine, seconds, rounds)

    def row(label: str, value: float) -> None:
        print(f"  {label:<58} {value * 1e3:7.3f} ms")

    print("engine step, by part")
    for label, value in parts.items():
        row(label, value)
    row("the rest (Python, records, statistics, cache refills)", step - sum(parts.values()))
    row("step", step)
    print("\nbounds of this machine")
    for label, value in bounds.items():
        row(label, value)
    floor = sum(bounds.values())
    row("floor for one core (sum)", floor)

    print(f"\noracle step {oracle_step * 1e3:.3f} ms ({1 / oracle_step:.0f} it/s)")
    print(f"engine step {step * 1e3:.3f} ms: {oracle_step / step:.2f}x the oracle, {step / floor:.2f}x the floor")
    print(f"{CASE.target:g}x needs a step of {oracle_step / CASE.target * 1e3:.3f} ms")
    print(f"oracle / floor: {oracle_step / floor:.2f}x, the most one core could reach in this run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
