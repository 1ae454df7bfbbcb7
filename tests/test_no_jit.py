"""The engine without Numba: the NumPy twins of the compiled loops, and the switch (jit.py).

The engine's tests against the oracles run again in a child process with
RNNTUI_JIT=0 (ENGINE_TESTS, this file included). The tests that start other
processes run only where the loops are compiled: in that child they would only
repeat themselves.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, training_scale_params
from oracle import oracle_loss_and_grads

from rnntui.engine import Config, Corpus, Trainer, corpus_pass, jit, kernels, loss_and_grads, units
from rnntui.engine.corpus_pass import Chunk, run_pass
from rnntui.engine.jit import engine_description
from rnntui.engine.units import Moments, UnitTracker

ENGINE_TESTS = (  # the oracles' tests of everything the twins replace, and of determinism
    "test_engine_equality.py",
    "test_engine_kernels.py",
    "test_engine_state.py",
    "test_corpus_pass.py",
    "test_units.py",
    "test_features.py",
    "test_analysis.py",
    "test_no_jit.py",
)
ENTRY_POINTS = {  # every loop called from Python, by module; each has a twin named NAME_numpy
    kernels: ("tanh_into", "exp_into", "forward_recurrence", "backward_recurrence", "clip_adagrad", "softmax_loss"),
    corpus_pass: ("hidden_chunk", "softmax_chunk"),
    units: ("track_chunk",),
}
ONE_STEP = 1e-10  # the contract's one-step tolerance, relative to the array's largest magnitude
TEXT = "the cat sat on the mat; the dog sat on the log.\n" * 4
CONFIG = {"hidden_size": 24, "seq_length": 10, "sample_every": 0}

outside_the_child = pytest.mark.skipif(not jit.COMPILED, reason="this process runs the NumPy twins already")


def python(code: str, env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: int = 120):
    """Run ``code`` in a fresh interpreter with RNNTUI_JIT unset and ``env`` added."""
    environ = {k: v for k, v in os.environ.items() if k != jit.SWITCH}
    return subprocess.run([sys.executable, "-c", code], env=dict(environ, **(env or {})), cwd=cwd,
                           capture_output=True, text=True, timeout=timeout)


def assert_close_to_scale(actual, expected, what: str) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    diff, scale = np.abs(actual - expected).max(), np.abs(expected).max()
    assert diff <= ONE_STEP * scale, f"{what}: max diff {diff:.3e} vs scale {scale:.3e}"


# --- in this process, whichever engine it runs --------------------------------------------
def test_this_process_runs_the_engine_the_environment_asks_for():
    setting = os.environ.get(jit.SWITCH, "")
    loops = [(getattr(module, name), getattr(module, f"{name}_numpy")) for module, names in ENTRY_POINTS.items()
             for name in names]
    if setting.lower() in jit.OFF:
        assert not jit.COMPILED and engine_description() == f"plain NumPy kernels ({jit.SWITCH}={setting})"
        assert "numba" not in sys.modules  # not even imported
        assert all(loop.__wrapped__ is twin for loop, twin in loops)
    else:
        numba = pytest.importorskip("numba")
        assert jit.COMPILED and engine_description().startswith(f"compiled kernels (Numba {numba.__version__}")
        assert all(loop.py_func is not twin for loop, twin in loops)  # dispatchers of the loops themselves


def test_a_diverged_window_gives_nan_where_the_original_does_and_warns_of_nothing():
    params = {k: v * 200 for k, v in training_scale_params(6, 8, seed=1).items()}  # logits beyond exp's range
    inputs, targets, hprev = [0, 3, 5, 1], [3, 5, 1, 2], np.zeros(8)
    with np.errstate(all="ignore"):
        want = oracle_loss_and_grads(params, inputs, targets, hprev)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = loss_and_grads(params, inputs, targets, hprev)
        result = run_pass(params, np.array(inputs + targets, dtype=np.uint8))
    assert not np.isfinite(want) and not np.isfinite(got.loss) and np.isnan(want) == np.isnan(got.loss)
    assert not np.isfinite(result.nll_sum)
    assert np.isnan(got.cache.ps).any() and np.isfinite(got.cache.hs_full).all()


def test_unit_tracking_keeps_no_nan_and_the_earliest_of_equal_values():
    hs = np.array([  # (7, 3) two chunks: rows 0-3 and 4-6
        [0.5, np.nan, 0.0],
        [0.9, -0.2, 0.0],
        [np.nan, 0.7, 0.0],
        [0.5, 0.7, 0.0],
        [0.9, np.nan, 0.0],
        [-0.96, 0.7, 0.0],
        [0.5, 0.1, 0.0],
    ])
    tracker, moments = UnitTracker(3, top_k=2), Moments(3)
    for start, stop in ((0, 4), (4, 7)):
        inputs = np.zeros(stop - start, dtype=np.intp)
        tracker(Chunk(start=start, inputs=inputs, hs=hs[start:stop], log_probs=np.zeros(0), probs=None))
        moments.add(hs[start:stop])
    stats = tracker.finish(moments)
    assert stats.top_positions.tolist() == [[1, 4], [2, 3], [0, 1]]  # ties: the earliest positions first
    assert stats.top_values.tolist() == [[0.9, 0.9], [0.7, 0.7], [0.0, 0.0]]
    assert stats.bottom_positions.tolist() == [[5, 0], [1, 6], [0, 1]]
    assert stats.bottom_values.tolist() == [[-0.96, 0.5], [-0.2, 0.1], [0.0, 0.0]]
    assert stats.minimum.tolist() == [-0.96, -0.2, 0.0] and stats.maximum.tolist() == [0.9, 0.7, 0.0]
    assert stats.low_counts.tolist() == [1, 0, 0] and stats.high_counts.tolist() == [0, 0, 0]


# --- other processes ----------------------------------------------------------------------
@outside_the_child
def test_the_engine_tests_pass_on_the_numpy_twins():
    files = [str(ROOT / "tests" / name) for name in ENGINE_TESTS]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
        env=dict(os.environ, **{jit.SWITCH: "0"}), cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert re.search(r"\d+ passed", summary) and "failed" not in summary and "error" not in summary, summary


CHILD_RUN = (  # a few steps, a corpus pass and unit statistics; prints what the parent compares
    "import json\n"
    "from rnntui.engine import Config, Corpus, Trainer\n"
    "from rnntui.engine.corpus_pass import run_pass\n"
    "from rnntui.engine.units import UnitTracker\n"
    "from rnntui.engine.jit import COMPILED, engine_description\n"
    f"t = Trainer(Corpus.from_text({TEXT!r}), Config(**{CONFIG!r}))\n"
    "losses = [t.step().loss for _ in range(3)]\n"
    "tracker = UnitTracker(t.config.hidden_size)\n"
    "nll = run_pass(t.params, t.corpus.data, [tracker], chunk_size=50).nll_sum\n"
    "print(json.dumps({'compiled': COMPILED, 'engine': engine_description(), 'losses': losses, 'nll': nll,\n"
    "                  'top': tracker.top_pos.tolist(), 'params': t.state().params.tolist()}))\n"
)


def parent_run() -> dict:
    """What CHILD_RUN computes, computed here."""
    t = Trainer(Corpus.from_text(TEXT), Config(**CONFIG))
    losses = [t.step().loss for _ in range(3)]
    tracker = UnitTracker(t.config.hidden_size)
    nll = run_pass(t.params, t.corpus.data, [tracker], chunk_size=50).nll_sum
    return {"losses": losses, "nll": nll, "top": tracker.top_pos.tolist(), "params": t.state().params.tolist()}


@outside_the_child
@pytest.mark.parametrize(
    "setup, env, why",
    [
        ("import sys; sys.modules['numba'] = None\n", {}, "Numba is not installed"),
        ("", {"PYTHONPATH": "{fake}"}, "Numba could not be imported: Numba needs NumPy 2.2 or less"),
        ("", {"NUMBA_DISABLE_JIT": "1"}, "NUMBA_DISABLE_JIT=1"),
        ("", {jit.SWITCH: "off"}, f"{jit.SWITCH}=off"),
    ],
    ids=["no-numba", "broken-numba", "numba-disabled", "switched-off"],
)
def test_without_numba_the_engine_runs_the_twins_and_agrees_with_the_compiled_loops(tmp_path, setup, env, why):
    fake = tmp_path / "numba"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('Numba needs NumPy 2.2 or less\\n(details)')\n")
    env = {k: v.format(fake=tmp_path) for k, v in env.items()}
    run = python(setup + CHILD_RUN, env)
    assert run.returncode == 0 and run.stderr == "", run.stderr
    child, parent = json.loads(run.stdout), parent_run()
    assert not child["compiled"] and child["engine"] == f"plain NumPy kernels ({why})"
    for what in ("losses", "params"):  # three steps: still far inside the one-step tolerance (chaos needs ~20)
        assert_close_to_scale(child[what], parent[what], what)
    assert abs(child["nll"] - parent["nll"]) <= ONE_STEP * abs(parent["nll"])
    assert child["top"] == parent["top"]


@outside_the_child
def test_rnntui_train_on_the_twins_follows_the_compiled_run_for_the_first_iterations(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT[:60])  # short: the window wraps (the reset rule) within the run
    iterations = 10
    log, checkpoint = tmp_path / "log.jsonl", tmp_path / "run.npz"
    flags = ["--hidden-size", "24", "--seq-length", "10", "--sample-every", "0"]
    run = subprocess.run(
        [sys.executable, "-m", "rnntui", "train", str(corpus), "--iterations", str(iterations), *flags,
         "--log", str(log), "--save", str(checkpoint), "--quiet"],
        env=dict(os.environ, **{jit.SWITCH: "0"}), cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    logged = [json.loads(line)["loss"] for line in log.read_text().splitlines()]
    trainer = Trainer(Corpus.from_path(corpus), Config(**CONFIG))
    compiled = [trainer.step() for _ in range(iterations)]
    assert any(record.reset for record in compiled[1:])
    assert len(logged) == iterations
    for n, (plain, record) in enumerate(zip(logged, compiled)):
        assert abs(plain - record.loss) <= ONE_STEP * abs(record.loss), f"iteration {n}"
    with np.load(checkpoint) as saved:
        assert_close_to_scale(saved["params"], trainer.state().params, "parameters after the run")


def read_only_copy(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the package where no cache folder Numba knows can be written, even by root.

    Every ``__pycache__`` is a regular file, and NUMBA_CACHE_DIR, HOME and
    XDG_CACHE_HOME lie below a regular file: creating any of them fails whoever asks.
    """
    site = tmp_path / "site"
    shutil.copytree(ROOT / "rnntui", site / "rnntui", ignore=shutil.ignore_patterns("__pycache__"))
    for folder in [site / "rnntui", *(p for p in (site / "rnntui").rglob("*") if p.is_dir())]:
        (folder / "__pycache__").write_text("")
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    env = {"PYTHONPATH": str(site), "NUMBA_CACHE_DIR": str(blocker / "numba"), "HOME": str(blocker / "home"),
           "XDG_CACHE_HOME": str(blocker / "cache")}
    return site, env


@outside_the_child
def test_without_a_writable_cache_folder_the_loops_compile_in_memory_and_say_nothing(tmp_path):
    site, env = read_only_copy(tmp_path)
    run = python(f"import rnntui; assert rnntui.__file__.startswith({str(site)!r})\n" + CHILD_RUN, env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""  # no NumbaWarning, no traceback
    child, parent = json.loads(run.stdout), parent_run()
    assert child["compiled"] and child["engine"].endswith("; no writable cache folder, compiled at each start)")
    for what in ("losses", "nll", "top", "params"):
        assert child[what] == parent[what], what  # the same compiled code: bit for bit
    assert not any(site.rglob("*.nbi"))  # nothing was cached
