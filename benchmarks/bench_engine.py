"""Engine speed against the per-timestep oracle, side by side in one process.

For each (H, T) case this builds an engine ``Trainer`` (``sample_every=0``)
and the oracle's ``OracleTrainer`` (tests/oracle.py) on the same corpus with
the same initial parameters, checks that one forward/backward pass of each
agrees, warms both up (the engine compiles its Numba kernels on first use),
then alternates timed rounds of ``step()`` between them and reports the
median iterations per second of each and the median of the per-round
ratios (engine and oracle timed back to back, so a burst of load from other
processes on a shared machine hits both sides of a ratio alike) against the
target.

    python benchmarks/bench_engine.py            # 5 rounds of 1.5 s per side
    python benchmarks/bench_engine.py --quick    # 3 rounds of 0.5 s per side

BLAS runs on one thread for both sides, as the ``rnntui`` command runs it
(``--blas-threads default`` leaves it as the environment has it), and glibc's
malloc thresholds are fixed first (see ``steady_allocator``).
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import numba

import rnntui.engine as engine_package
from rnntui.engine import Config, Corpus, Trainer, loss_and_grads, use_one_blas_thread

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

from oracle import OracleTrainer, oracle_loss_and_grads  # noqa: E402

EQUALITY_TOLERANCE = 1e-10  # largest difference / largest magnitude, per array


@dataclass(frozen=True)
class Case:
    """One benchmark configuration and the speed-up it should reach."""

    hidden_size: int
    seq_length: int
    target: float  # engine it/s divided by oracle it/s

    @property
    def label(self) -> str:
        return f"H={self.hidden_size} T={self.seq_length}"


CASES = (Case(100, 25, 4.0), Case(256, 50, 6.0))


def default_corpus() -> Corpus:
    """The built-in corpus that ``rnntui`` shows when run without a file (rnntui/data/default.txt)."""
    return Corpus.from_path(Path(engine_package.__file__).resolve().parent.parent / "data" / "default.txt")


def make_pair(corpus: Corpus, case: Case) -> tuple[Trainer, OracleTrainer]:
    """An engine trainer and an oracle trainer starting from the same parameters."""
    config = Config(hidden_size=case.hidden_size, seq_length=case.seq_length, sample_every=0)
    engine = Trainer(corpus, config)
    start = {name: np.array(view) for name, view in engine.params.items()}
    oracle = OracleTrainer(start, corpus.data, corpus.vocab_size, case.seq_length)
    return engine, oracle


# --- one-step equality --------------------------------------------------
def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Largest element-wise difference over the largest magnitude of ``b``."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    diff = float(np.max(np.abs(a - b))) if b.size else 0.0
    return diff / scale if scale > 0 else diff


def training_scale_state(V: int, H: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Parameters of the scale training produces, and a carried hidden state in (-1, 1)."""
    rng = np.random.default_rng(seed)
    params = {
        "Wxh": rng.standard_normal((H, V)),
        "Whh": rng.standard_normal((H, H)) / np.sqrt(H),
        "Why": rng.standard_normal((V, H)),
        "bh": rng.standard_normal(H) * 0.5,
        "by": rng.standard_normal(V) * 0.5,
    }
    return params, np.tanh(rng.standard_normal(H))


def worst_step_difference(params: dict, inputs: np.ndarray, targets: np.ndarray, hprev: np.ndarray) -> float:
    """Largest relative difference between engine and oracle over loss, gradients and h_last."""
    engine = loss_and_grads(params, inputs, targets, hprev)
    loss, grads, h_last = oracle_loss_and_grads(params, inputs, targets, hprev)
    worst = relative_difference(np.array([engine.loss]), np.array([loss]))
    for name, grad in grads.items():
        worst = max(worst, relative_difference(engine.grads[name], grad))
    return max(worst, relative_difference(engine.h_last, h_last))


def one_step_check(corpus: Corpus, engine: Trainer, case: Case) -> float:
    """Worst relative difference over two states: the fresh model, and a training-scale one mid-corpus."""
    T = engine.seq_length
    data = np.asarray(corpus.data, dtype=np.intp)
    fresh = {name: np.array(view) for name, view in engine.params.items()}
    worst = worst_step_difference(fresh, data[:T], data[1 : T + 1], np.zeros(case.hidden_size))
    params, hprev = training_scale_state(corpus.vocab_size, case.hidden_size, seed=case.hidden_size)
    p = (len(data) // 2 // T) * T
    return max(worst, worst_step_difference(params, data[p : p + T], data[p + 1 : p + T + 1], hprev))


# --- throughput ---------------------------------------------------------
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (glibc's malloc.h)


def steady_allocator() -> str:
    """Keep large temporaries on the heap, so neither side's speed depends on allocator history.

    The oracle makes a new (H, H) array every timestep (512 KiB at H=256).
    glibc serves blocks that size with mmap and returns them on free until
    its adaptive threshold has grown past them, and trims the heap when its
    top grows past another threshold, so depending on what the process did
    before, each oracle step took either about 480 page faults or none: 160
    or 174 it/s on the same machine within a minute. Fixed thresholds above
    any array either side makes take the faults away for both.
    """
    path = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(path)
        ok = libc.mallopt(M_MMAP_THRESHOLD, 16 << 20) == 1 and libc.mallopt(M_TRIM_THRESHOLD, 32 << 20) == 1
    except (OSError, AttributeError, TypeError):
        ok = False
    return "fixed thresholds (mmap 16 MiB, trim 32 MiB)" if ok else "left as it is (no glibc mallopt)"


def iterations_per_second(step, seconds: float) -> float:
    """Call ``step`` repeatedly for about ``seconds`` and return calls per second."""
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    now = start
    while now < deadline:
        step()
        count += 1
        now = time.perf_counter()
    return count / (now - start)


def warm_up(engine: Trainer, oracle: OracleTrainer, seconds: float) -> None:
    """Run both for a while so compilation, caches and allocators have settled."""
    iterations_per_second(engine.step, seconds)
    iterations_per_second(oracle.step, seconds)


def timed_rounds(
    engine: Trainer, oracle: OracleTrainer, rounds: int, seconds: float
) -> tuple[list[float], list[float]]:
    """Alternate engine and oracle rounds (engine first in even rounds, oracle first in odd ones)."""
    engine_rates, oracle_rates = [], []
    for r in range(rounds):
        if r % 2 == 0:
            engine_rates.append(iterations_per_second(engine.step, seconds))
            oracle_rates.append(iterations_per_second(oracle.step, seconds))
        else:
            oracle_rates.append(iterations_per_second(oracle.step, seconds))
            engine_rates.append(iterations_per_second(engine.step, seconds))
    return engine_rates, oracle_rates


def run_case(corpus: Corpus, case: Case, rounds: int, seconds: float) -> dict:
    """Equality check and timing of one case; returns the numbers for the table."""
    engine, oracle = make_pair(corpus, case)
    difference = one_step_check(corpus, engine, case)
    warm_up(engine, oracle, seconds)
    engine_rates, oracle_rates = timed_rounds(engine, oracle, rounds, seconds)
    return {
        "case": case,
        "difference": difference,
        "engine": statistics.median(engine_rates),
        "oracle": statistics.median(oracle_rates),
        "ratio": statistics.median(e / o for e, o in zip(engine_rates, oracle_rates)),
        "engine_rates": engine_rates,
        "oracle_rates": oracle_rates,
    }


# --- report -------------------------------------------------------------
def describe_environment(corpus: Corpus) -> str:
    """One paragraph naming what the numbers depend on."""
    blas = {k: v for k, v in os.environ.items() if k.endswith("_NUM_THREADS")}
    return (
        f"python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}, "
        f"{os.cpu_count()} CPUs, thread settings {blas or 'not set'}, {load_average()}\n"
        f"corpus {corpus.name}: {len(corpus)} characters, vocabulary {corpus.vocab_size}"
    )


def load_average() -> str:
    """The 1-minute load average, for reading the oracle's numbers: its per-timestep
    outer products stream memory, so its speed follows the load of other processes
    more than the engine's does."""
    try:
        return f"load average {os.getloadavg()[0]:.2f}"
    except OSError:
        return "load average unknown"


def equality_line(result: dict) -> str:
    case, diff = result["case"], result["difference"]
    verdict = "OK" if diff <= EQUALITY_TOLERANCE else "FAILED"
    return (
        f"{case.label:<13} one-step equality: worst relative difference {diff:.1e} "
        f"(limit {EQUALITY_TOLERANCE:.0e})  {verdict}"
    )


def speed_line(result: dict) -> str:
    case = result["case"]
    ratio = result["ratio"]
    verdict = "MET" if ratio >= case.target else "NOT MET"
    return (
        f"{case.label:<13} engine {result['engine']:7.0f} it/s  oracle {result['oracle']:6.0f} it/s  "
        f"ratio {ratio:4.1f}x (target {case.target:g}x)  {verdict}"
    )


def rounds_line(result: dict) -> str:
    engine = " ".join(f"{r:.0f}" for r in result["engine_rates"])
    oracle = " ".join(f"{r:.0f}" for r in result["oracle_rates"])
    return f"{'':<13} rounds: engine [{engine}]  oracle [{oracle}]"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds of 0.5 s per side instead of 5 of 1.5 s")
    parser.add_argument("--rounds", type=int, help="timed rounds per side (median is reported)")
    parser.add_argument("--seconds", type=float, help="length of one timed round")
    parser.add_argument("--corpus", type=Path, help="text file to train on (default: the built-in corpus)")
    parser.add_argument(
        "--blas-threads", choices=["one", "default"], default="one",
        help="one: BLAS on one thread for both sides, as the rnntui command runs (default); default: leave BLAS as it is",
    )
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (3 if args.quick else 5)
    args.seconds = args.seconds or (0.5 if args.quick else 1.5)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run every case, print the table; exit status 1 if an equality check failed."""
    args = parse_args(argv)
    if args.blas_threads == "one":
        use_one_blas_thread()
    allocator = steady_allocator()
    corpus = Corpus.from_path(args.corpus) if args.corpus else default_corpus()
    print(describe_environment(corpus))
    print(f"BLAS threads: {args.blas_threads} (both sides alike); malloc: {allocator}")
    print(
        f"{args.rounds} alternating rounds of {args.seconds:g} s per side; it/s are medians over rounds, "
        f"the ratio is the median of the per-round ratios (each round times both back to back)\n"
    )
    results = []
    for case in CASES:
        result = run_case(corpus, case, args.rounds, args.seconds)
        results.append(result)
        print(equality_line(result))
        print(speed_line(result))
        print(rounds_line(result), flush=True)
    print(f"\nsummary ({load_average()})")
    for result in results:
        print(speed_line(result))
    return 0 if all(r["difference"] <= EQUALITY_TOLERANCE for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
