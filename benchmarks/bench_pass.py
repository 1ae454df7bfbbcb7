"""Corpus pass speed against the straightforward loop, and its memory over a large text.

Speed (the default): a 1,000,000-character text made of the built-in corpus
(V = 65) repeated, at H = 100 with training-scale parameters. It first checks that
the pass and the loop agree (h_t and ln p_t(x_{t+1}) over the first 20,000
characters, to 1e-9), then alternates timed rounds of ``run_pass`` over the
whole text (as called by default, and with ``overlap=False``: all in one thread)
and of the loop, per character

    h = np.tanh(Wxh[:, x] + Whh @ h + bh); p = np.exp(Why @ h + by); p /= p.sum(); ln p[x_next]

and prints characters per second of each (medians over rounds) and the median
of the per-round ratios to the loop against the target.

    python benchmarks/bench_pass.py                 # 3 rounds over 1,000,000 characters, about 30 s
    python benchmarks/bench_pass.py --quick         # 3 rounds over 200,000 characters
    python benchmarks/bench_pass.py --memory        # peak memory of the pass, 10 and 100 MB texts
    python benchmarks/bench_pass.py --memory --mb 4,16 --kind both

Memory: each size runs in a fresh interpreter, which builds the text as
indices (no string), compiles the loops on a small text, then resets its peak
resident memory (``/proc/self/clear_refs``) and runs the pass (``--kind
pass``: ``run_pass`` with no consumer; ``analyze``: every statistic and feature)
under tracemalloc. It reports the peak resident memory added over what the
process held before, tracemalloc's peak (NumPy's arrays and Python objects),
and the bytes the result keeps (the boundary states and a copy of the
parameters); the target is under 256 MiB whatever the size.

BLAS runs on one thread for both sides, as the ``rnntui`` command runs it, and
glibc's malloc thresholds are fixed first (see bench_engine.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import default_corpus, load_average, steady_allocator, training_scale_state  # noqa: E402
from rnntui.engine import Corpus, use_one_blas_thread  # noqa: E402
from rnntui.engine.corpus_pass import run_pass  # noqa: E402

HIDDEN_SIZE = 100
SPEED_TARGET = 5.0  # pass characters per second / loop characters per second
MEMORY_TARGET_MIB = 256
EQUALITY_TOLERANCE = 1e-9
CHECKED_CHARS = 20_000


def text_of(chars: int) -> tuple[Corpus, np.ndarray]:
    """The built-in corpus repeated to ``chars`` characters (as indices), and the corpus itself."""
    corpus = default_corpus()
    reps = -(-chars // len(corpus))
    return corpus, np.tile(corpus.data, reps)[:chars]


def loop_pass(params: dict, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The straightforward loop: h_t (N, H) and ln p_t(x_{t+1}) (N-1,)."""
    Wxh, Whh, Why, bh, by = (params[k] for k in ("Wxh", "Whh", "Why", "bh", "by"))
    h = np.zeros(Whh.shape[0])
    hs = np.empty((len(data), len(h)))
    log_probs = np.empty(len(data) - 1)
    for t in range(len(data)):
        h = np.tanh(Wxh[:, data[t]] + Whh @ h + bh)
        p = np.exp(Why @ h + by)
        p = p / p.sum()
        hs[t] = h
        if t + 1 < len(data):
            log_probs[t] = np.log(p[data[t + 1]])
    return hs, log_probs


def loop_rate(params: dict, data: np.ndarray) -> float:
    """Characters per second of the loop, keeping nothing but the loss (as the pass does)."""
    Wxh, Whh, Why, bh, by = (params[k] for k in ("Wxh", "Whh", "Why", "bh", "by"))
    targets = data[1:].tolist() + [0]
    h = np.zeros(Whh.shape[0])
    loss = 0.0
    start = time.perf_counter()
    for x, target in zip(data.tolist(), targets):
        h = np.tanh(Wxh[:, x] + Whh @ h + bh)
        p = np.exp(Why @ h + by)
        p = p / p.sum()
        loss -= np.log(p[target])
    return len(data) / (time.perf_counter() - start)


def pass_rate(params: dict, data: np.ndarray, overlap: bool = True) -> float:
    start = time.perf_counter()
    run_pass(params, data, overlap=overlap)
    return len(data) / (time.perf_counter() - start)


def equality(params: dict, data: np.ndarray) -> float:
    """Largest difference between the pass and the loop over h_t and ln p_t(x_{t+1})."""
    got_hs, got_log_probs = [], []

    def keep(chunk):
        got_hs.append(chunk.hs.copy())
        got_log_probs.append(chunk.log_probs.copy())

    run_pass(params, data, [keep], chunk_size=4096)
    hs, log_probs = loop_pass(params, data)
    return max(np.abs(np.concatenate(got_hs) - hs).max(), np.abs(np.concatenate(got_log_probs) - log_probs).max())


def speed(args: argparse.Namespace) -> int:
    use_one_blas_thread()
    allocator = steady_allocator()
    corpus, data = text_of(args.chars)
    params, _ = training_scale_state(corpus.vocab_size, HIDDEN_SIZE, seed=HIDDEN_SIZE)
    print(f"text: {corpus.name} repeated to {len(data):,} characters, V={corpus.vocab_size}, H={HIDDEN_SIZE}; {load_average()}")
    print(f"BLAS threads: one (both sides); malloc: {allocator}")
    difference = equality(params, data[:CHECKED_CHARS])
    verdict = "OK" if difference <= EQUALITY_TOLERANCE else "FAILED"
    print(f"equality over {CHECKED_CHARS:,} characters: largest difference {difference:.1e} (limit {EQUALITY_TOLERANCE:.0e})  {verdict}")
    pass_rate(params, data[:10_000])  # compile (or load from Numba's cache)
    rates = {"pass": [], "one thread": [], "loop": []}
    timers = {
        "pass": lambda: pass_rate(params, data),
        "one thread": lambda: pass_rate(params, data, overlap=False),
        "loop": lambda: loop_rate(params, data),
    }
    for r in range(args.rounds):
        for name in list(timers) if r % 2 == 0 else reversed(list(timers)):
            rates[name].append(timers[name]())
        print(f"round {r + 1}: " + "  ".join(f"{name} {values[-1]:,.0f} chars/s" for name, values in rates.items()), flush=True)
    print()
    for name in ("pass", "one thread"):
        ratio = statistics.median(p / q for p, q in zip(rates[name], rates["loop"]))
        met = "MET" if ratio >= SPEED_TARGET else "NOT MET"
        print(
            f"{name:<10} {statistics.median(rates[name]):>11,.0f} chars/s  loop {statistics.median(rates['loop']):,.0f} chars/s  "
            f"ratio {ratio:.1f}x (target {SPEED_TARGET:g}x)  {met}"
        )
    print(f"({load_average()}; 'pass' is run_pass as called by default, the next chunk's recurrence in a worker thread;")
    print(" 'one thread' is run_pass(overlap=False), everything in the calling thread)")
    return 0 if verdict == "OK" else 1


# --- memory -----------------------------------------------------------------------------
CHILD = r"""
import json, re, sys, time, tracemalloc
import numpy as np
sys.path.insert(0, sys.argv[1])
from bench_pass import text_of, HIDDEN_SIZE
from bench_engine import training_scale_state
from rnntui.engine import Corpus, use_one_blas_thread
from rnntui.engine.analysis import analyze
from rnntui.engine.corpus_pass import run_pass

def status_kb(field):  # a line of /proc/self/status such as "VmHWM:  123 kB"
    return int(re.search(field + r":\s+(\d+)", open("/proc/self/status").read()).group(1))

use_one_blas_thread()
chars, kind = int(sys.argv[2]), sys.argv[3]
base, data = text_of(chars)
corpus = Corpus(name="synthetic", vocab=base.vocab, data=data, fingerprint="")
params, _ = training_scale_state(corpus.vocab_size, HIDDEN_SIZE, seed=HIDDEN_SIZE)
small = Corpus(name="small", vocab=base.vocab, data=data[:5000], fingerprint="")
analyze(params, small, units=(0,))  # compile everything first
before = status_kb("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset VmHWM to the current resident size
tracemalloc.start()
start = time.perf_counter()
if kind == "pass":
    result = run_pass(params, corpus.data)
else:
    result = analyze(params, corpus, units=(0, 1)).pass_result
seconds = time.perf_counter() - start
traced_peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"added_kb": status_kb("VmHWM") - before, "traced_peak": traced_peak, "kept": result.nbytes,
                  "states": len(result.states), "state_every": result.state_every, "chunk_size": result.chunk_size,
                  "seconds": seconds}))
"""


def memory(args: argparse.Namespace) -> int:
    here = str(Path(__file__).resolve().parent)
    sizes = [float(mb) for mb in args.mb.split(",")]
    kinds = ["pass", "analyze"] if args.kind == "both" else [args.kind]
    print(f"peak memory added by the pass, H={HIDDEN_SIZE}, V=65; target under {MEMORY_TARGET_MIB} MiB; {load_average()}")
    ok = True
    for kind in kinds:
        for mb in sizes:
            chars = int(mb * 1_000_000)
            out = subprocess.run([sys.executable, "-c", CHILD, here, str(chars), kind], capture_output=True, text=True)
            if out.returncode != 0:
                print(out.stderr)
                return 1
            r = json.loads(out.stdout.strip().splitlines()[-1])
            added = r["added_kb"] / 1024
            met = added < MEMORY_TARGET_MIB
            ok &= met
            print(
                f"{kind:<8} {mb:6g} MB text: peak added {added:6.1f} MiB, tracemalloc peak {r['traced_peak'] / 2**20:6.1f} MiB, "
                f"kept {r['kept'] / 2**20:5.2f} MiB ({r['states']:,} states, one every {r['state_every']:,} characters; "
                f"chunks of {r['chunk_size']:,}), "
                f"{r['seconds']:.1f} s  {'MET' if met else 'NOT MET'}",
                flush=True,
            )
    return 0 if ok else 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200,000 characters instead of 1,000,000")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per side (medians are reported)")
    parser.add_argument("--chars", type=int, help="length of the timed text")
    parser.add_argument("--memory", action="store_true", help="measure peak memory over large texts instead of speed")
    parser.add_argument("--mb", default="10,100", help="with --memory: text sizes in millions of characters, comma-separated")
    parser.add_argument("--kind", choices=["pass", "analyze", "both"], default="pass", help="with --memory: what runs")
    args = parser.parse_args(argv)
    args.chars = args.chars or (200_000 if args.quick else 1_000_000)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return memory(args) if args.memory else speed(args)


if __name__ == "__main__":
    sys.exit(main())
