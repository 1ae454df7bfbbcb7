"""Loading a large corpus: wall time and peak memory of ``Corpus.from_path``.

Writes 100 MB text files to a temporary folder (ASCII prose-like text, and
variants with multi-byte UTF-8 characters spread through it), loads each in a
fresh Python process, and reports the load time and the peak resident memory
the load added on top of an interpreter that has already imported numpy and
rnntui. The files are deleted at the end.

    python benchmarks/bench_corpus.py              # 100 MB files
    python benchmarks/bench_corpus.py --mb 20      # smaller, quicker

Targets: a load takes under 5 s and adds under 4x the file size in memory. The
whole ``rnntui train`` command on the first file (a few hundred iterations, so
everything a run allocates is counted: the corpus, the trainer, the timeline)
must also stay under 4x the file size.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TIME_TARGET_S = 5.0
MEMORY_TARGET = 4.0  # peak added memory / file size
TRAIN_ITERATIONS = 200  # for the whole-command measurement: enough to reach steady state

# Words for the generated text. The accented and symbol-bearing forms only go
# into the UTF-8 variants.
ASCII_WORDS = (
    "the a of and to in is it that was for on with as by at from this be or not "
    "network letter window state hidden weight step loss signal reader notebook "
    "every small slowly again guess surprise learns text line page river stone "
    "morning light harbour boat wind north rain quiet long short after before "
    "when while under over through between number column matrix gradient"
).split()
MULTIBYTE_WORDS = ("café", "naïve", "über", "façade", "señor", "Ångström", "—", "“quoted”", "€5", "½", "→")
ASTRAL_WORDS = ("🙂", "🌊", "𝔸")  # outside the Basic Multilingual Plane: 4 UTF-8 bytes each
PUNCTUATION = (".", ",", ";", ":", "?", "!")

# What both children use: a field of /proc/self/status, in kB (VmHWM: the peak resident memory so far).
STATUS_KB = r"""
def status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1
"""

# Run in a fresh interpreter: import, note the baseline, load, note the peak.
CHILD = r"""
import json, sys, time
import numpy
import rnntui.engine
from rnntui.engine import Corpus
""" + STATUS_KB + r"""
baseline = status_kb("VmHWM")
start = time.perf_counter()
corpus = Corpus.from_path(sys.argv[1])
seconds = time.perf_counter() - start
print(json.dumps({
    "seconds": seconds,
    "baseline_kb": baseline,
    "peak_kb": status_kb("VmHWM"),
    "chars": len(corpus),
    "vocab": corpus.vocab_size,
    "dtype": str(corpus.data.dtype),
}))
"""


@dataclass(frozen=True)
class Variant:
    """One kind of generated file."""

    name: str
    multibyte: tuple[str, ...]  # words mixed in besides the ASCII ones
    multibyte_share: float  # fraction of words drawn from ``multibyte``


VARIANTS = (
    Variant("ascii", (), 0.0),
    Variant("utf8", MULTIBYTE_WORDS, 0.02),
    Variant("utf8-astral", MULTIBYTE_WORDS + ASTRAL_WORDS, 0.02),
)


def make_block(variant: Variant, n_words: int, seed: int) -> str:
    """About ``n_words`` words of sentence-shaped text with line breaks."""
    rng = np.random.default_rng(seed)
    words = np.array(ASCII_WORDS, dtype=object)[rng.integers(0, len(ASCII_WORDS), n_words)]
    if variant.multibyte:
        swap = rng.random(n_words) < variant.multibyte_share
        words[swap] = np.array(variant.multibyte, dtype=object)[rng.integers(0, len(variant.multibyte), swap.sum())]
    pieces = []
    for i, word in enumerate(words.tolist()):
        pieces.append(word)
        r = rng.random()
        if r < 0.08:
            pieces.append(PUNCTUATION[i % len(PUNCTUATION)])
        pieces.append("\n" if r > 0.93 else " ")
    return "".join(pieces)


def write_file(path: Path, variant: Variant, size: int) -> int:
    """Write ``size`` bytes (or a few fewer, ending on a whole character) of generated text."""
    blocks = [make_block(variant, 150_000, seed) for seed in range(4)]
    encoded = [b.encode("utf-8") for b in blocks]
    written = 0
    with open(path, "wb") as out:
        i = 0
        while written < size:
            chunk = encoded[i % len(encoded)]
            if written + len(chunk) > size:
                chunk = chunk[: size - written].decode("utf-8", errors="ignore").encode("utf-8")
            out.write(chunk)
            written += len(chunk)
            i += 1
            if not chunk:
                break
    return written


def load_in_child(path: Path) -> dict:
    """Load ``path`` with Corpus.from_path in a fresh interpreter; return its measurements."""
    done = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"loading {path.name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def train_in_child(path: Path, iterations: int) -> dict:
    """Run the whole ``rnntui train`` command on ``path``; its peak resident memory and time."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", TRAIN_CHILD, str(path), str(iterations)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"rnntui train on {path.name} failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["seconds"] = time.perf_counter() - start
    return result


# The command in a fresh interpreter, its own peak read at the end (/proc's high-water mark covers the whole run).
TRAIN_CHILD = r"""
import io, json, sys, contextlib
from rnntui import cli
""" + STATUS_KB + r"""
baseline = status_kb("VmHWM")
with contextlib.redirect_stdout(io.StringIO()):
    status = cli.main(["train", sys.argv[1], "--iterations", sys.argv[2], "--sample-every", "0", "--quiet"])
print(json.dumps({"status": status, "baseline_kb": baseline, "peak_kb": status_kb("VmHWM")}))
"""


def train_line(size: int, m: dict) -> str:
    added = (m["peak_kb"] - m["baseline_kb"]) * 1024
    multiple = added / size
    verdict = "MET" if multiple < MEMORY_TARGET else "NOT MET"
    return (f"rnntui train (whole process, {m['iterations']} iterations): peak +{added / 1e6:6.0f} MB = "
            f"{multiple:4.2f}x file ({verdict}), {m['seconds']:.1f} s [baseline {m['baseline_kb'] / 1024:.0f} MB]")


def report_line(name: str, size: int, m: dict) -> str:
    """One table row with the verdicts."""
    added = (m["peak_kb"] - m["baseline_kb"]) * 1024
    multiple = added / size
    time_ok = "MET" if m["seconds"] < TIME_TARGET_S else "NOT MET"
    mem_ok = "MET" if multiple < MEMORY_TARGET else "NOT MET"
    return (
        f"{name:<12} {size / 1e6:6.1f} MB  {m['chars'] / 1e6:6.1f} M chars  V={m['vocab']:<3} {m['dtype']:<6}  "
        f"load {m['seconds']:5.2f} s ({time_ok})  peak +{added / 1e6:6.0f} MB = {multiple:4.2f}x file ({mem_ok})  "
        f"[baseline {m['baseline_kb'] / 1024:.0f} MB]"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=100.0, help="file size in MB (default 100)")
    parser.add_argument("--keep", action="store_true", help="leave the generated files (and print where)")
    args = parser.parse_args(argv)
    size = int(args.mb * 1_000_000)
    folder = Path(tempfile.mkdtemp(prefix="rnntui-bench-corpus-"))
    print(f"targets: load under {TIME_TARGET_S:g} s, peak added memory under {MEMORY_TARGET:g}x the file size")
    try:
        for variant in VARIANTS:
            path = folder / f"{variant.name}.txt"
            start = time.perf_counter()
            written = write_file(path, variant, size)
            made = time.perf_counter() - start
            print(report_line(variant.name, written, load_in_child(path)) + f"  (written in {made:.1f} s)", flush=True)
            if variant is VARIANTS[0]:  # the whole training command on the first text: what a user's machine sees
                trained = train_in_child(path, TRAIN_ITERATIONS)
                trained["iterations"] = TRAIN_ITERATIONS
                print(train_line(written, trained), flush=True)
            path.unlink()
    finally:
        if args.keep:
            print(f"files left in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
