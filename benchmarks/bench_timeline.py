"""Time travel cost: snapshot memory, process memory and the time to jump back.

Trains ``--iterations`` steps (default 100,000) through a ``Timeline`` with the
default 64 MiB snapshot budget on the built-in corpus at H=100, T=25, then,
from the furthest iteration F, jumps to F-1, F-100 and F-10,000 (returning to
F after each) and reports the wall time of each jump, the steps it replayed,
and that the record it returned matches the first run.

    python benchmarks/bench_timeline.py                      # 100,000 iterations
    python benchmarks/bench_timeline.py --iterations 20000   # shorter
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import rnntui.engine as engine_package
from rnntui.engine import Config, Corpus, Trainer
from rnntui.engine.timeline import DEFAULT_BUDGET_BYTES, Timeline

JUMPS = (1, 100, 10_000)
MIB = 2**20


def default_corpus() -> Corpus:
    """The built-in corpus (rnntui/data/default.txt)."""
    return Corpus.from_path(Path(engine_package.__file__).resolve().parent.parent / "data" / "default.txt")


def resident_mib() -> float:
    """This process's resident memory (VmRSS) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def raw_rate(corpus: Corpus, config: Config, steps: int = 2000) -> float:
    """Iterations per second of a bare Trainer (no timeline), for comparison."""
    trainer = Trainer(corpus, config)
    trainer.step()  # compile the kernels outside the timing
    start = time.perf_counter()
    for _ in range(steps):
        trainer.step()
    return steps / (time.perf_counter() - start)


def train(timeline: Timeline, iterations: int) -> float:
    """Step ``iterations`` times through the timeline; return the iterations per second."""
    start = time.perf_counter()
    for _ in range(iterations):
        timeline.step()
    return iterations / (time.perf_counter() - start)


def jump(timeline: Timeline, target: int, first_run_losses: np.ndarray) -> tuple[float, int, bool]:
    """Go to ``target``; return the wall time, the steps replayed and whether the record matches."""
    steps = timeline.replay_length(target)
    start = time.perf_counter()
    record = timeline.goto(target)
    elapsed = time.perf_counter() - start
    same = record.iteration == target and record.loss == first_run_losses[target]
    same = same and np.array_equal(timeline.trainer.history.loss, first_run_losses[: target + 1])
    return elapsed, steps, bool(same)


def describe_snapshots(timeline: Timeline) -> str:
    """A one-line picture of where the snapshots are and how far apart."""
    iters = np.array(timeline.snapshot_iterations)
    gaps = np.diff(iters)
    head = ", ".join(str(i) for i in iters[:4])
    tail = ", ".join(str(i) for i in iters[-4:])
    return f"at {head}, ..., {tail}; gaps from {gaps.min()} (newest) to {gaps.max()} (oldest)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=100_000, help="iterations to train first (default 100000)")
    parser.add_argument("--hidden-size", type=int, default=100)
    parser.add_argument("--seq-length", type=int, default=25)
    parser.add_argument("--budget-mib", type=float, default=DEFAULT_BUDGET_BYTES / MIB, help="snapshot budget")
    args = parser.parse_args()

    corpus = default_corpus()
    config = Config(hidden_size=args.hidden_size, seq_length=args.seq_length)
    print(f"corpus {corpus.name}: {len(corpus)} characters, V={corpus.vocab_size}; "
          f"H={config.hidden_size} T={config.seq_length}")
    bare_before = raw_rate(corpus, config)

    trainer = Trainer(corpus, config)
    timeline = Timeline(trainer, budget_bytes=int(args.budget_mib * MIB))
    state_bytes = trainer.state().nbytes
    rss_before = resident_mib()
    budget = timeline.budget_bytes / MIB
    print(f"snapshot size {state_bytes / MIB:.3f} MiB, budget {budget:.0f} MiB, interval {timeline.interval}")

    rate = train(timeline, args.iterations)
    rss_after = resident_mib()
    furthest = timeline.furthest
    losses = timeline.trainer.history.loss.copy()
    bare_after = raw_rate(corpus, config)
    print(
        f"trained {args.iterations:,} iterations through the timeline: {rate:,.0f} it/s "
        f"(a bare trainer: {bare_before:,.0f} it/s before, {bare_after:,.0f} it/s after)"
    )
    print(f"snapshots: {len(timeline)}, {timeline.nbytes / MIB:.1f} MiB; {describe_snapshots(timeline)}")
    print(f"history: {trainer.history.nbytes / MIB:.1f} MiB")
    grown = rss_after - rss_before
    print(f"resident memory: {rss_before:.1f} MiB before, {rss_after:.1f} MiB after (+{grown:.1f} MiB)")

    for back in JUMPS:
        target = furthest - back
        if target < timeline.first:
            print(f"back {back:>6,}: skipped (fewer iterations than that)")
            continue
        elapsed, steps, same = jump(timeline, target, losses)
        ret_elapsed, ret_steps, ret_same = jump(timeline, furthest, losses)
        print(
            f"back {back:>6,}: {elapsed * 1000:8.1f} ms, {steps:>5} steps replayed, identical={same}; "
            f"return to {furthest}: {ret_elapsed * 1000:7.1f} ms ({ret_steps} steps), identical={ret_same}"
        )
    print(f"resident memory at the end: {resident_mib():.1f} MiB")


if __name__ == "__main__":
    main()
