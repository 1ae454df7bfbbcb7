"""Mutation testing of the engine's contract lines with mutmut (a development tool, see README).

    python tools/mutation.py run       # a fresh run over SCOPE and HAND_MUTANTS, niced; writes mutants/
    python tools/mutation.py report    # detected / total per file, and every surviving mutant
    mutmut show NAME                   # the diff of one of mutmut's mutants

mutmut's own settings (files, test selection) are in pyproject.toml under [tool.mutmut].
The run uses the NumPy twins of the compiled loops (RNNTUI_JIT=0): Numba-compiled code
cannot be mutated, and mutmut never mutates decorated functions, so the compiled
originals are left alone while their twins are mutated.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: mutmut brings the toml package there
    import toml as tomllib

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "mutants"  # mutmut's working copy and results
SEP = "\u01c1"  # mutmut names a method Class.method as xǁClassǁmethod

# The functions that carry the engine's exact semantics (the original program's numbers), by module.
# Properties are decorated, so mutmut cannot mutate them (Trainer.seq_length, initial_smooth_loss).
SCOPE = {
    "trainer": [
        "Trainer.__init__",  # seed, hprev, p, n, smooth loss start, the sampling generator
        "Trainer._resets",  # the reset rule
        "Trainer.next_window",  # the window the next step trains on
        "Trainer.step",  # the window, smooth loss, hprev carried, p += T, n += 1, samples
        "Trainer._clip_and_update",  # clip and Adagrad (and their statistics)
        "Trainer.sample",  # sampling's own generator
        "Trainer.state",
        "Trainer.restore",
    ],
    "model": [
        "init_params",  # N(0, 1) * 0.01, drawn Wxh, Whh, Why; zero biases
        "forward_backward",  # the loss (a sum) and the raw gradients
        "loss_and_grads",
        "softmax_probs",
        "sample_indices",
        "Layout.views",
        "Layout.flatten",
    ],
    "kernels": [  # the NumPy twins of the compiled loops
        "forward_recurrence_numpy",
        "backward_recurrence_numpy",
        "softmax_loss_numpy",
        "clip_adagrad_numpy",
    ],
    "corpus": [  # the sorted vocabulary and the indices, of a string and of a file
        "Corpus.from_text",
        "Corpus._from_bytes_chunked",
        "_single_byte_fast_path",
        "_code_points",
        "Corpus._make",
        "Corpus.encode",
        "_vocab_and_lut",
        "_code_dtype",
        "_count",
        "_add_counts",
    ],
    "checkpoint": [  # save, load, and resume where the run left off
        "checkpoint_arrays",
        "save_checkpoint",
        "_npz_writer",
        "read_checkpoint",
        "load_checkpoint",
        "_restore",
        "_check_vocab",
    ],
}


# Contract lines mutmut cannot reach (properties are decorated, constants are not in a function),
# mutated by hand: (file, text, its replacement), each run against the same tests.
HAND_MUTANTS = [
    ("rnntui/engine/trainer.py", "self.train_length - 1)", "self.train_length - 2)"),  # T_eff
    ("rnntui/engine/trainer.py", "return min(self.config.seq_length,", "return max(self.config.seq_length,"),
    ("rnntui/engine/trainer.py", "vocab_size) * self.seq_length", "vocab_size) * self.config.seq_length"),  # T, not T_eff
    ("rnntui/engine/trainer.py", "-math.log(1.0 / self.corpus.vocab_size)", "math.log(self.corpus.vocab_size + 1)"),
    ("rnntui/engine/trainer.py", "ADAGRAD_EPS = 1e-8", "ADAGRAD_EPS = 1e-7"),
]
HAND_RESULTS = OUTPUT / "hand.json"


def mangled(module: str, function: str) -> str:
    """mutmut's name of a function's mutants, as a glob: rnntui.engine.trainer.xǁTrainerǁstep__mutmut_*."""
    if "." in function:
        cls, method = function.split(".")
        local = f"x{SEP}{cls}{SEP}{method}"
    else:
        local = f"x_{function}"
    return f"rnntui.engine.{module}.{local}__mutmut_*"


def scope_globs() -> list[str]:
    return [mangled(module, function) for module, functions in SCOPE.items() for function in functions]


def run(children: int) -> int:
    """A fresh mutmut run over SCOPE at the lowest priority; returns mutmut's exit status."""
    shutil.rmtree(OUTPUT, ignore_errors=True)  # stale stats would map tests to functions wrongly
    env = dict(os.environ, RNNTUI_JIT="0")
    command = ["nice", "-n", "19", sys.executable, "-m", "mutmut", "run", "--max-children", str(children),
               *scope_globs()]
    OUTPUT.mkdir()
    started = time.monotonic()
    with open(OUTPUT / "run.log", "w") as log:  # mutmut's progress lines, for a look when something fails
        status = subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    print(f"mutmut finished in {time.monotonic() - started:.0f} s (status {status})")
    started = time.monotonic()
    run_hand_mutants()
    print(f"{len(HAND_MUTANTS)} hand-made mutants in {time.monotonic() - started:.0f} s")
    return status


def test_selection() -> list[str]:
    """The test files mutmut runs (pyproject.toml), for the hand-made mutants too."""
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    return settings["pytest_add_cli_args_test_selection"]


def hand_name(file: str, index: int) -> str:
    return f"rnntui.engine.{Path(file).stem}.hand_{index}"


def run_hand_mutants() -> dict[str, str]:
    """Apply each of HAND_MUTANTS to a copy of the package, run the tests on it; name -> killed / survived."""
    statuses = {}
    with tempfile.TemporaryDirectory(prefix="rnntui-mutant-") as folder:
        copy = Path(folder)
        shutil.copytree(ROOT / "rnntui", copy / "rnntui", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(ROOT / "tests", copy / "tests", ignore=shutil.ignore_patterns("__pycache__", "__snapshots__"))
        shutil.copy2(ROOT / "pyproject.toml", copy)
        command = ["nice", "-n", "19", sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                   *test_selection()]
        env = dict(os.environ, RNNTUI_JIT="0")
        clean = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True)
        if clean.returncode != 0:  # a kill must come from the mutant, not from a test that fails anyway
            raise SystemExit("the tests fail on the unmutated copy:\n" + clean.stdout[-3000:])
        for index, (file, text, replacement) in enumerate(HAND_MUTANTS, 1):
            source = (ROOT / file).read_text()
            if source.count(text) != 1:
                raise SystemExit(f"hand mutant {index}: {text!r} is not once in {file}; update HAND_MUTANTS")
            (copy / file).write_text(source.replace(text, replacement))
            tests = subprocess.run(command, cwd=copy, env=env, capture_output=True)
            statuses[hand_name(file, index)] = "survived" if tests.returncode == 0 else "killed"
            (copy / file).write_text(source)
    HAND_RESULTS.write_text(json.dumps(statuses, indent=1))
    return statuses


def results() -> dict[str, str]:
    """Status of every mutant in SCOPE: mutant name -> killed / survived / timeout / ..."""
    codes: dict[str, int | None] = {}
    for meta in OUTPUT.glob("rnntui/engine/*.py.meta"):
        codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    globs = scope_globs()
    statuses = {name: status_of(code) for name, code in codes.items() if any(fnmatch.fnmatchcase(name, g) for g in globs)}
    if HAND_RESULTS.exists():
        statuses.update(json.loads(HAND_RESULTS.read_text()))
    return statuses


def status_of(code: int | None) -> str:
    """mutmut's exit codes in words (its stats.py): pytest failing is a kill."""
    if code in (1, 3):
        return "killed"
    return {0: "survived", None: "not checked", 5: "no tests", 33: "no tests", 36: "timeout", 24: "timeout",
            -24: "timeout", 152: "timeout", 255: "timeout"}.get(code, f"suspicious ({code})")


DETECTED = ("killed", "timeout")  # a mutant that makes the tests fail or hang is caught


def report() -> int:
    """Print detected / total per file and the survivors; 1 when any mutant in scope survived."""
    statuses = results()
    if not statuses:
        print("no results: run `python tools/mutation.py run` first")
        return 2
    by_file: dict[str, Counter] = {}
    for name, status in statuses.items():
        by_file.setdefault(name.split(".")[2], Counter())[status] += 1
    for label, counts in [*((f"{m}.py", by_file.get(m, Counter())) for m in SCOPE), ("all", Counter(statuses.values()))]:
        detected = sum(counts[s] for s in DETECTED)
        print(f"{label:15} {detected:4} detected / {sum(counts.values()):4}   {dict(sorted(counts.items()))}")
    alive = sorted(name for name, status in statuses.items() if status not in DETECTED)
    for name in alive:
        print(f"  {statuses[name]:10} {name}")
    return 1 if alive else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("run", "report", "scope"))
    parser.add_argument("--children", type=int, default=2, help="mutants tested at once (default 2)")
    args = parser.parse_args(argv)
    if args.command == "scope":
        print("\n".join(scope_globs()))
        return 0
    if args.command == "run":
        run(args.children)
    return report()


if __name__ == "__main__":
    sys.exit(main())
