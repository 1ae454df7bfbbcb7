"""End-to-end tests of the ``rnntui`` command (``rnntui.cli.main`` and ``python -m rnntui``)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from rnntui import cli
from rnntui.engine import PARAM_NAMES, Config, Corpus, Trainer, load_checkpoint, read_checkpoint
from rnntui.engine.gradcheck import GradCheckResult, take_window

engine_gradcheck = sys.modules["rnntui.engine.gradcheck"]  # the module (the package exports a function of its name)

TEXT = "the quick brown fox jumps over the lazy dog.\n" * 8
SMALL = ["--hidden-size", "8", "--seq-length", "8"]  # a model small enough to run fast
SMALL_CONFIG = {"hidden_size": 8, "seq_length": 8}
ROOT_DIR = Path(__file__).resolve().parent.parent


def run(capsys, *argv: object) -> tuple[int, str, str]:
    """Run ``main`` with ``argv``; return (status, stdout, stderr)."""
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def engine_records(n: int, **config: object) -> tuple[Trainer, list]:
    """The engine's own run on TEXT: the trainer and its first ``n`` records."""
    trainer = Trainer(Corpus.from_text(TEXT), Config(**config))
    return trainer, [trainer.step() for _ in range(n)]


def assert_one_line_error(status: int, err: str, *fragments: str) -> None:
    """Exit status 2 and exactly one ``rnntui: error:`` line naming the problem, no traceback."""
    assert status == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("rnntui: error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


# --- progress, summary, samples ------------------------------------------------------


def test_train_prints_progress_samples_and_summary(capsys, corpus_file):
    status, out, err = run(capsys, "train", corpus_file, *SMALL, "--iterations", 25, "--sample-every", 10,
                           "--sample-length", 30)
    assert status == 0
    trainer, records = engine_records(25, sample_every=10, sample_length=30, **SMALL_CONFIG)
    lines = out.splitlines()
    assert lines[0].startswith("training on fox.txt: 360 characters")
    for n in (0, 10, 20):
        assert f"----\n{records[n].sample}\n----\niter {n}, loss {records[n].smooth_loss:.4f}" in out
    assert not any(line.startswith("iter 5,") for line in lines)
    assert lines[-1].startswith("done: 25 iterations (")
    assert lines[-1].endswith(f"now at iteration 25, smooth loss {trainer.smooth_loss:.4f}")
    assert "\r" not in err  # stderr is not a terminal: no progress bar


def test_progress_lines_fall_back_to_every_100_without_samples(capsys, corpus_file):
    status, out, _ = run(capsys, "train", corpus_file, *SMALL, "--iterations", 201, "--sample-every", 0)
    assert status == 0
    iter_lines = [line.split(",")[0] for line in out.splitlines() if line.startswith("iter ")]
    assert iter_lines == ["iter 0", "iter 100", "iter 200"]
    assert "----" not in out


def test_quiet_prints_only_the_summary(capsys, tmp_path):
    short = tmp_path / "hello.txt"
    short.write_text("hello", encoding="utf-8")
    status, out, err = run(capsys, "train", short, "--iterations", 3, "--quiet")
    assert status == 0
    assert out.splitlines() == [out.strip()]
    assert out.startswith("done: 3 iterations")
    assert err == ""


def test_short_corpus_notice_is_printed(capsys, tmp_path):
    short = tmp_path / "hello.txt"
    short.write_text("hello", encoding="utf-8")
    status, _, err = run(capsys, "train", short, "--iterations", 2)
    assert status == 0
    notice = Trainer(Corpus.from_text("hello"), Config()).window_notice
    assert f"note: {notice}" in err.splitlines()


def test_progress_bar_on_a_terminal(capsys, corpus_file, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    fake = Terminal()
    monkeypatch.setattr(sys, "stderr", fake)
    status = cli.main(["train", str(corpus_file), *SMALL, "--iterations", "20", "--sample-every", "0"])
    out, _ = capsys.readouterr()
    assert status == 0
    drawn = fake.getvalue()
    assert "\r[" in drawn and "/20  iter " in drawn and "it/s" in drawn
    assert drawn.endswith("\r\x1b[K")  # the bar is erased before the summary
    assert "\r" not in out


# --- the metrics log ----------------------------------------------------------------


def test_log_has_one_object_per_iteration_matching_the_engine(capsys, corpus_file, tmp_path):
    log = tmp_path / "metrics.jsonl"
    status, _, _ = run(capsys, "train", corpus_file, *SMALL, "--iterations", 12, "--log", log, "--quiet")
    assert status == 0
    entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    _, records = engine_records(12, **SMALL_CONFIG)
    assert [e["iteration"] for e in entries] == list(range(12))
    for entry, record in zip(entries, records):
        assert entry["loss"] == record.loss
        assert entry["smooth_loss"] == record.smooth_loss
        assert entry["grad_norm"] == dict(record.grad_norms)
        assert entry["clipped_norm"] == dict(record.clipped_norms)


def test_log_records_clipping(capsys, corpus_file, tmp_path):
    log = tmp_path / "metrics.jsonl"
    run(capsys, "train", corpus_file, *SMALL, "--iterations", 3, "--clip", "0.001", "--log", log, "--quiet")
    first = json.loads(log.read_text(encoding="utf-8").splitlines()[0])
    assert first["clipped_norm"]["by"] < first["grad_norm"]["by"]


# --- checkpoints -----------------------------------------------------------------------


def test_save_then_resume_continues_bit_identically(capsys, corpus_file, tmp_path):
    first, second, straight = tmp_path / "a.npz", tmp_path / "b.npz", tmp_path / "c.npz"
    log_split, log_straight = tmp_path / "split.jsonl", tmp_path / "straight.jsonl"
    common = ["train", corpus_file, *SMALL, "--quiet"]
    assert run(capsys, *common, "--iterations", 20, "--save", first, "--log", log_split)[0] == 0
    assert run(capsys, *common[:2], "--resume", first, "--iterations", 15, "--save", second,
               "--log", log_split, "--quiet")[0] == 0
    assert run(capsys, *common, "--iterations", 35, "--save", straight, "--log", log_straight)[0] == 0
    resumed, uninterrupted = read_checkpoint(second), read_checkpoint(straight)
    for key in ("params", "memory", "hprev", "position", "iteration", "smooth_loss"):
        assert np.array_equal(resumed[key], uninterrupted[key]), key
    assert int(resumed["iteration"]) == 35
    assert log_split.read_text() == log_straight.read_text()  # resuming appends to the log


def test_resume_overrides_adjustable_hyperparameters(capsys, corpus_file, tmp_path):
    ckpt, after = tmp_path / "a.npz", tmp_path / "b.npz"
    run(capsys, "train", corpus_file, *SMALL, "--iterations", 5, "--save", ckpt, "--quiet")
    status, _, _ = run(capsys, "train", corpus_file, "--resume", ckpt, "--iterations", 5, "--learning-rate",
                       "0.05", "--clip", "2", "--hidden-size", "8", "--save", after, "--quiet")
    assert status == 0
    saved = json.loads(str(read_checkpoint(after)["config"]))
    assert (saved["learning_rate"], saved["clip"], saved["hidden_size"]) == (0.05, 2.0, 8)


@pytest.mark.parametrize("flag, value, field", [("--hidden-size", 9, "hidden_size"), ("--seq-length", 4, "seq_length"),
                                                ("--seed", 3, "seed")])
def test_resume_refuses_a_different_structure(capsys, corpus_file, tmp_path, flag, value, field):
    ckpt = tmp_path / "a.npz"
    run(capsys, "train", corpus_file, *SMALL, "--iterations", 2, "--save", ckpt, "--quiet")
    status, _, err = run(capsys, "train", corpus_file, "--resume", ckpt, flag, value)
    assert_one_line_error(status, err, f"{flag} {value}", field, "--resume")


def test_resume_on_the_wrong_corpus_is_an_error(capsys, corpus_file, tmp_path):
    ckpt, other = tmp_path / "a.npz", tmp_path / "other.txt"
    other.write_text("completely different words!", encoding="utf-8")
    run(capsys, "train", corpus_file, *SMALL, "--iterations", 2, "--save", ckpt, "--quiet")
    status, _, err = run(capsys, "train", other, "--resume", ckpt)
    assert_one_line_error(status, err, "vocabulary")


# --- gradient check ------------------------------------------------------------------------


def test_gradcheck_passes_on_a_trained_state(capsys, corpus_file, tmp_path):
    ckpt = tmp_path / "a.npz"
    run(capsys, "train", corpus_file, *SMALL, "--iterations", 60, "--save", ckpt, "--quiet")
    status, out, _ = run(capsys, "train", corpus_file, "--resume", ckpt, "--gradcheck")
    assert status == 0
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in [[name] for name in PARAM_NAMES]]
    assert [row[0] for row in rows] == ["Wxh", "Whh", "Why", "bh", "by"]
    assert all(row[-1] == "ok" and float(row[1]) < 1e-5 for row in rows)
    assert out.splitlines()[-1].startswith("gradcheck passed")
    assert "clipping would be active" not in out


def test_gradcheck_notes_clipping(capsys, corpus_file):
    status, out, _ = run(capsys, "train", corpus_file, *SMALL, "--clip", "0.001", "--gradcheck")
    assert "note: clipping would be active" in out
    assert status in (0, 1)


def test_gradcheck_failure_exits_1(capsys, corpus_file, monkeypatch):
    def bad_gradcheck(params, inputs, targets, hprev, **kwargs):
        results = {}
        for name in PARAM_NAMES:
            error = 0.5 if name == "Why" else 1e-9
            results[name] = GradCheckResult(name, np.array([error]), np.array([1.0]), np.array([2.0]))
        return results

    monkeypatch.setattr(engine_gradcheck, "gradcheck", bad_gradcheck)
    status, out, _ = run(capsys, "train", corpus_file, *SMALL, "--gradcheck")
    assert status == 1
    assert any(line.startswith("Why") and line.endswith("FAIL") for line in out.splitlines())
    assert out.splitlines()[-1].startswith("gradcheck failed: Why (largest relative error 5.00e-01)")


def test_gradcheck_uses_the_window_the_next_step_trains_on(small_corpus):
    trainer = Trainer(small_corpus, Config(hidden_size=8, seq_length=10, sample_every=0))
    for _ in range(40):  # wraps around the 360-character corpus more than once
        window = take_window(trainer)
        record = trainer.step()
        assert window.position == record.position and window.iteration == record.iteration
        assert np.array_equal(window.inputs, record.inputs) and np.array_equal(window.targets, record.targets)
        assert np.array_equal(window.hprev, record.hprev)


# --- bad input: one line, exit 2 ----------------------------------------------------------


@pytest.mark.parametrize(
    "argv, fragments",
    [
        (["--hidden-size", "0"], ["hidden_size", "--hidden-size"]),
        (["--learning-rate", "-1"], ["learning_rate", "--learning-rate"]),
        (["--temperature", "nan"], ["temperature"]),
        (["--seq-length", "0"], ["seq_length"]),
        (["--encoding", "no-such-codec"], ["unknown encoding", "--encoding"]),
        (["--resume", "missing.npz"], ["missing.npz", "--resume"]),
        (["--save", "no/such/folder/x.npz"], ["--save", "does not exist"]),
        (["--log", "no/such/folder/m.jsonl"], ["--log", "does not exist"]),
    ],
)
def test_bad_values_give_one_line_and_status_2(capsys, corpus_file, argv, fragments):
    status, out, err = run(capsys, "train", corpus_file, *argv)
    assert_one_line_error(status, err, *fragments)
    assert "done:" not in out


def test_a_file_that_is_not_a_checkpoint(capsys, corpus_file):
    status, _, err = run(capsys, "train", corpus_file, "--resume", corpus_file)
    assert_one_line_error(status, err, "checkpoint")


def test_missing_corpus_file(capsys, tmp_path):
    status, _, err = run(capsys, "train", tmp_path / "nope.txt")
    assert_one_line_error(status, err, "nope.txt", "no such file")


@pytest.mark.parametrize(
    "argv, problem",
    [
        (["--hidden-size", "abc"], "--hidden-size"),
        (["--no-such-flag"], "--no-such-flag"),
        (["--iterations", "-3"], "expected 0 or more"),
        (["--gradcheck", "--save", "x.npz"], "drop --save"),
    ],
)
def test_bad_flags_are_one_line_errors(capsys, corpus_file, argv, problem):
    status, _, err = run(capsys, "train", corpus_file, *argv)
    assert_one_line_error(status, err, problem, "(see rnntui train --help)")


def test_a_bad_flag_of_the_app_is_a_one_line_error(capsys, corpus_file):
    status, _, err = run(capsys, corpus_file, "--hidden-size", "0.5")
    assert_one_line_error(status, err, "--hidden-size", "(see rnntui --help)")


def test_help_exits_0(capsys):
    status, out, _ = run(capsys, "train", "--help")
    assert status == 0
    for flag in ("--iterations", "--log", "--save", "--gradcheck", "--quiet", "--resume", "--break", "--encoding"):
        assert flag in out


def test_the_apps_help_lists_every_command_and_each_has_its_own_help(capsys):
    status, out, _ = run(capsys, "--help")
    assert status == 0
    listed = [line.split()[0] for line in out.split("commands (see rnntui COMMAND --help):\n")[1].splitlines()
              if line.startswith("  ")]
    assert sorted(listed) == sorted(["train", "analyze", "eval", "whatif", "serve", "shot"])
    for name in listed:
        status, own, _ = run(capsys, name, "--help")
        assert status == 0 and own.startswith(f"usage: rnntui {name}")


# --- Ctrl+C and divergence --------------------------------------------------------------------


def test_ctrl_c_prints_summary_saves_and_exits_130(capsys, corpus_file, tmp_path, monkeypatch):
    expected, _ = engine_records(7, **SMALL_CONFIG)
    real_step = Trainer.step
    calls = []

    def step_then_interrupt(self):
        if self.corpus.name == "warm-up":  # the kernels' warm-up before the clock starts
            return real_step(self)
        calls.append(1)
        if len(calls) > 7:
            raise KeyboardInterrupt
        return real_step(self)

    monkeypatch.setattr(Trainer, "step", step_then_interrupt)
    ckpt = tmp_path / "stop.npz"
    status, out, _ = run(capsys, "train", corpus_file, *SMALL, "--iterations", 100, "--save", ckpt)
    assert status == 130
    summary = out.splitlines()[-1]
    assert summary.startswith("interrupted: 7 iterations (")
    assert f"saved {ckpt}" in summary
    saved = read_checkpoint(ckpt)
    assert int(saved["iteration"]) == 7
    assert np.array_equal(saved["params"], expected.state().params)


def test_stop_request_turns_the_first_sigint_into_a_flag():
    previous = signal.getsignal(signal.SIGINT)
    with cli.StopRequest() as stop:
        signal.raise_signal(signal.SIGINT)
        assert stop.requested
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is previous


def test_sigint_stops_a_real_run_between_iterations(corpus_file, tmp_path):
    ckpt = tmp_path / "stop.npz"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rnntui", "train", str(corpus_file), *SMALL, "--iterations", "100000000",
         "--sample-every", "50", "--save", str(ckpt)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        for line in proc.stdout:  # wait until training is under way
            if line.startswith("iter 50,"):
                break
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    summary = rest.splitlines()[-1]
    assert summary.startswith("interrupted: ")
    done = int(summary.split()[1])
    assert int(read_checkpoint(ckpt)["iteration"]) == done
    trainer = load_checkpoint(ckpt, Corpus.from_path(corpus_file))  # a whole number of steps: resumes cleanly
    assert trainer.iteration == done and "Traceback" not in err


def test_divergence_exits_1_names_it_and_saves(capsys, corpus_file, tmp_path):
    ckpt, log = tmp_path / "nan.npz", tmp_path / "m.jsonl"
    status, out, err = run(capsys, "train", corpus_file, *SMALL, "--learning-rate", "1e300", "--save", ckpt,
                           "--log", log)
    assert status == 1
    message = err.strip().splitlines()[-1]
    assert message.startswith("rnntui: training diverged at iteration ")
    assert "non-finite" in message and "--learning-rate" in message
    assert out.splitlines()[-1].startswith("diverged: ")
    diverged_at = int(message.split("iteration ")[1].split()[0])
    saved = read_checkpoint(ckpt)  # the state before the update that diverged, not the diverged one
    assert int(saved["iteration"]) == diverged_at - 1
    assert all(np.isfinite(saved[key]).all() for key in ("params", "memory", "hprev", "smooth_loss"))
    assert f"iteration {diverged_at} diverged; saved the last sound state, after {diverged_at - 1} iterations" in out
    expected = Trainer(Corpus.from_path(corpus_file), Config(**SMALL_CONFIG, learning_rate=1e300))
    for _ in range(diverged_at - 1):
        expected.step()
    assert np.array_equal(saved["params"], expected.state().params)

    def reject(constant):
        raise ValueError(f"not JSON: {constant}")

    entries = [json.loads(line, parse_constant=reject) for line in log.read_text().splitlines()]
    assert len(entries) == diverged_at + 1


def test_divergence_found_by_the_engine_stops_the_run(capsys, corpus_file, monkeypatch):
    real_step = Trainer.step

    def step_with_nan(self):
        record = real_step(self)
        if record.iteration == 4:
            object.__setattr__(record, "nonfinite", "loss = nan")
        return record

    monkeypatch.setattr(Trainer, "step", step_with_nan)
    status, out, err = run(capsys, "train", corpus_file, *SMALL, "--iterations", 50)
    assert status == 1
    assert "diverged at iteration 4 (non-finite loss = nan)" in err
    assert out.splitlines()[-1].startswith("diverged: 5 iterations")


# --- breakpoints ----------------------------------------------------------------------------------


def test_breakpoint_stops_the_run_and_saves(capsys, corpus_file, tmp_path):
    ckpt = tmp_path / "bp.npz"
    status, out, _ = run(capsys, "train", corpus_file, *SMALL, "--break", "iter == 6", "--save", ckpt)
    assert status == cli.EXIT_BREAKPOINT == 3
    assert "breakpoints: iter == 6" in out.splitlines()
    summary = out.splitlines()[-1]
    assert summary.startswith("breakpoint (iter == 6: ") and "): 7 iterations (" in summary
    saved = read_checkpoint(ckpt)
    assert int(saved["iteration"]) == 7
    assert saved["extra_breakpoints"].tolist() == [["iter == 6", "on", "held"]]


def test_saved_breakpoints_apply_when_resuming(capsys, corpus_file, tmp_path):
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    assert run(capsys, "train", corpus_file, *SMALL, "--break", "every 5", "--save", first, "--quiet")[0] == 3
    assert int(read_checkpoint(first)["iteration"]) == 6  # iteration 5 fired
    status, out, _ = run(capsys, "train", corpus_file, "--resume", first, "--break", "EVERY 5", "--save", second)
    assert status == 3
    assert "breakpoints: every 5" in out.splitlines()  # given again: not added twice
    assert int(read_checkpoint(second)["iteration"]) == 11


def test_a_diverging_step_is_reported_as_divergence_even_with_a_nan_breakpoint(capsys, corpus_file):
    status, out, _ = run(capsys, "train", corpus_file, *SMALL, "--learning-rate", "1e300", "--break", "nan")
    assert status == 1
    assert out.splitlines()[-1].startswith("diverged: ")


def test_bad_breakpoint_is_a_one_line_error(capsys, corpus_file):
    status, _, err = run(capsys, "train", corpus_file, "--break", "nan", "--break", "loss >> 3")
    assert_one_line_error(status, err, "loss >> 3", "valid forms")


# --- the app form and the built-in corpus -------------------------------------------------------


@pytest.fixture
def fake_app(monkeypatch) -> list[tuple[tuple, dict]]:
    """Replace rnntui.tui.app with a stub whose run_app records its arguments and returns 0."""
    calls: list[tuple[tuple, dict]] = []
    module = types.ModuleType("rnntui.tui.app")

    def run_app(*args, **kwargs):
        calls.append((args, kwargs))
        return 0

    module.run_app = run_app
    monkeypatch.setitem(sys.modules, "rnntui.tui.app", module)
    monkeypatch.setattr(cli, "not_a_terminal", lambda: None)  # as if run in a terminal
    return calls


def test_app_form_opens_the_session_and_hands_over(capsys, corpus_file, fake_app):
    status, _, _ = run(capsys, corpus_file, "--hidden-size", "12", "--break", "iter == 3")
    assert status == 0
    [(args, kwargs)] = fake_app
    session = args[0]
    assert session.trainer.config.hidden_size == 12 and session.trainer.corpus.name == "fox.txt"
    assert [bp.source for bp in session.breakpoints] == ["iter == 3"] and session.save_path is None


def test_app_form_passes_the_resumed_checkpoint(capsys, corpus_file, tmp_path, fake_app):
    ckpt = tmp_path / "a.npz"
    run(capsys, "train", corpus_file, *SMALL, "--iterations", 4, "--save", ckpt, "--quiet")
    assert run(capsys, corpus_file, "--resume", ckpt)[0] == 0
    [(args, kwargs)] = fake_app
    assert args[0].trainer.iteration == 4 and args[0].save_path == ckpt


def test_app_form_reports_errors_before_opening(capsys, tmp_path, fake_app):
    status, _, err = run(capsys, tmp_path / "missing.txt")
    assert_one_line_error(status, err, "missing.txt")
    status, _, err = run(capsys, "--break", "gibberish", "--hidden-size", "4")
    assert status == 2 and fake_app == []


def test_a_corpus_named_train_can_be_given_as_a_path(capsys, tmp_path, monkeypatch, fake_app):
    monkeypatch.chdir(tmp_path)
    Path("train").write_text(TEXT, encoding="utf-8")
    assert run(capsys, "./train")[0] == 0
    assert fake_app[0][0][0].trainer.corpus.name == "train"
    status, out, _ = run(capsys, "train", "train", *SMALL, "--iterations", 2)
    assert status == 0 and out.startswith("training on train:")


def test_no_file_uses_the_built_in_corpus(capsys, tmp_path, monkeypatch):
    builtin = tmp_path / "default.txt"
    builtin.write_text(TEXT, encoding="utf-8")
    monkeypatch.setattr(cli, "builtin_corpus_path", lambda: builtin)
    status, out, _ = run(capsys, "train", *SMALL, "--iterations", 2)
    assert status == 0
    assert out.startswith("training on default.txt (built-in): 360 characters")


def test_the_shipped_built_in_corpus_loads():
    path = cli.builtin_corpus_path()
    if not path.is_file():
        pytest.skip("rnntui/data/default.txt is not in this tree yet")
    corpus = cli.load_corpus(None, "utf-8")
    assert corpus.name == "default.txt (built-in)" and len(corpus) > 1000


# --- real processes ------------------------------------------------------------------------------


def test_python_m_rnntui_train_runs(corpus_file, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "rnntui", "train", str(corpus_file), *SMALL, "--iterations", "120",
         "--sample-every", "50", "--sample-length", "20"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(",")[0] for line in lines if line.startswith("iter ")] == ["iter 0", "iter 50", "iter 100"]
    assert lines.count("----") == 6
    assert lines[-1].startswith("done: 120 iterations")
    assert result.stderr == ""


def test_train_never_imports_the_ui_library(corpus_file):
    code = (
        "import sys\n"
        "from rnntui.cli import main\n"
        f"status = main(['train', {str(corpus_file)!r}, '--hidden-size', '4', '--iterations', '2', '--quiet'])\n"
        "assert status == 0, status\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'plotext')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_bad_input_in_a_real_process_has_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "rnntui", "train", str(tmp_path / "absent.txt")],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert result.returncode == 2
    assert result.stderr.startswith("rnntui: error: ") and result.stderr.count("\n") == 1


def test_version_flag(capsys):
    from rnntui import __version__

    status = cli.main(["--version"])
    assert status == 0
    assert capsys.readouterr().out.strip() == f"rnntui {__version__}"


def test_a_resumed_run_that_diverges_never_replaces_a_good_checkpoint_with_a_diverged_one(capsys, corpus_file, tmp_path):
    ckpt = tmp_path / "run.npz"
    assert run(capsys, "train", corpus_file, *SMALL, "--iterations", 30, "--save", ckpt, "--quiet")[0] == 0
    good = read_checkpoint(ckpt)
    status, out, err = run(capsys, "train", corpus_file, "--resume", ckpt, "--save", ckpt,
                           "--learning-rate", "1e300", "--sample-every", "0")
    assert status == 1 and "diverged" in err
    after = read_checkpoint(ckpt)
    assert int(after["iteration"]) == 30 and np.array_equal(after["params"], good["params"])
    assert np.array_equal(after["memory"], good["memory"]) and float(after["smooth_loss"]) == float(good["smooth_loss"])
    # it keeps the learning rate that was asked for (so the file says what happened); a sane one resumes fine
    assert read_checkpoint_config(ckpt)["learning_rate"] == 1e300
    assert run(capsys, "train", corpus_file, "--resume", ckpt, "--iterations", 5, "--learning-rate", 0.1,
               "--quiet")[0] == 0


def read_checkpoint_config(path) -> dict:
    return json.loads(str(read_checkpoint(path)["config"]))


# --- nothing lost, nothing overwritten -------------------------------------------------------------


def test_a_log_write_error_stops_with_one_line_and_the_checkpoint_is_still_written(capsys, corpus_file, tmp_path):
    ckpt = tmp_path / "run.npz"
    status, out, err = run(capsys, "train", corpus_file, *SMALL, "--iterations", 20, "--save", ckpt,
                           "--log", "/dev/full", "--sample-every", "0")
    assert_one_line_error(status, err, "/dev/full", "No space left on device")
    assert out.splitlines()[-1].startswith("stopped: 1 iteration (") and f"saved {ckpt}" in out
    assert int(read_checkpoint(ckpt)["iteration"]) == 1  # the iteration whose log line failed is kept


def test_outputs_that_cannot_be_written_are_refused_before_training(capsys, corpus_file, tmp_path):
    device_before = os.stat("/dev/full")
    status, out, err = run(capsys, "train", corpus_file, *SMALL, "--save", "/dev/full")
    assert_one_line_error(status, err, "/dev/full", "not a regular file")
    assert out == "" and os.stat("/dev/full").st_ino == device_before.st_ino  # the device node is untouched
    status, out, err = run(capsys, "train", corpus_file, *SMALL, "--save", "/sys/run.npz")
    assert_one_line_error(status, err, "/sys", "cannot create files")
    assert out == ""  # nothing was trained
    same = tmp_path / "same"
    status, _, err = run(capsys, "train", corpus_file, *SMALL, "--save", same, "--log", same)
    assert_one_line_error(status, err, "the same file")


def test_a_save_that_fails_at_the_end_goes_to_a_rescue_file_that_is_named(capsys, corpus_file, tmp_path, monkeypatch):
    import rnntui.engine.checkpoint as checkpoint

    ckpt = tmp_path / "run.npz"
    real = checkpoint.write_atomically

    def fail_at_the_target(path, writer, what):
        if Path(path).resolve() == ckpt.resolve():
            raise checkpoint.OutputError(f"cannot write {path} (No space left on device)", "free some space")
        return real(path, writer, what=what)

    monkeypatch.setattr(checkpoint, "write_atomically", fail_at_the_target)
    status, out, err = run(capsys, "train", corpus_file, *SMALL, "--iterations", 5, "--save", ckpt, "--quiet")
    assert_one_line_error(status, err, "No space left on device", "saved to")
    rescue = Path(err.split("saved to ")[1].split()[0].rstrip(";"))
    assert rescue.exists() and ".rescue-" in rescue.name and int(read_checkpoint(rescue)["iteration"]) == 5
    assert not ckpt.exists()


def test_a_symlinked_save_path_writes_through_to_its_target(capsys, corpus_file, tmp_path):
    target, link = tmp_path / "real.npz", tmp_path / "link.npz"
    link.symlink_to(target)
    assert run(capsys, "train", corpus_file, *SMALL, "--iterations", 3, "--save", link, "--quiet")[0] == 0
    assert link.is_symlink() and int(read_checkpoint(target)["iteration"]) == 3


def test_endless_devices_and_unknown_encodings_are_refused(capsys, tmp_path):
    status, _, err = run(capsys, "train", "/dev/zero")
    assert_one_line_error(status, err, "/dev/zero", "character device")
    status, _, err = run(capsys, "train", "--encoding", "no-such-codec")
    assert_one_line_error(status, err, "unknown encoding 'no-such-codec'")
    big = tmp_path / "big.txt"
    big.write_text("abc" * 1000)
    status, _, err = run(capsys, "train", big, "--max-bytes", "1K")
    assert_one_line_error(status, err, "larger than 1 KiB", "--max-bytes")
    for size in ("lots", "inf", "1e400", "-inf", "nan"):
        status, _, err = run(capsys, "train", big, "--max-bytes", size)
        assert_one_line_error(status, err, "--max-bytes", "2G", repr(size))
    status, _, err = run(capsys, "train", big, "--max-bytes", "0.5")
    assert_one_line_error(status, err, "--max-bytes", "at least 1 byte")
    assert run(capsys, "train", big, "--max-bytes", "1M", *SMALL, "--iterations", 1, "--quiet")[0] == 0


def test_the_summary_counts_iterations_in_words(capsys, corpus_file):
    status, out, _ = run(capsys, "train", corpus_file, *SMALL, "--iterations", 1, "--quiet")
    assert status == 0 and out.startswith("done: 1 iteration (")


def test_the_app_without_a_terminal_says_so_and_exits_2():
    result = subprocess.run([sys.executable, "-m", "rnntui", "samples/hello.txt"], cwd=ROOT_DIR, capture_output=True,
                            text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == ("rnntui: error: rnntui needs a terminal to draw on (stdout is not one); "
                                     "run it in a terminal, or train without the UI: rnntui train")


def test_a_break_given_again_switches_a_saved_disabled_breakpoint_on_in_both_commands(capsys, corpus_file, tmp_path,
                                                                                        fake_app):
    from rnntui.engine import open_session

    ckpt = tmp_path / "b.npz"
    session = open_session(Corpus.from_path(corpus_file), {**SMALL_CONFIG}, breakpoints=["nan", "every 50"])
    session.breakpoints.toggle(1)  # saved switched off
    session.step()
    session.save(ckpt)
    status, out, _ = run(capsys, "train", corpus_file, "--resume", ckpt, "--iterations", 1, "--break", "every 50")
    assert status == 0 and "breakpoints: nan, every 50\n" in out  # on again (a switched-off one reads '(off)')
    status, out, _ = run(capsys, "train", corpus_file, "--resume", ckpt, "--iterations", 1)
    assert "breakpoints: nan, every 50 (off)" in out  # not given: as saved
    assert run(capsys, corpus_file, "--resume", ckpt, "--break", "every 50")[0] == 0
    [(args, _)] = fake_app
    assert [(bp.source, bp.enabled) for bp in args[0].breakpoints] == [("nan", True), ("every 50", True)]


# --- outputs that would lose a file: refused before training ----------------------------------------


def assert_refused_untouched(status: int, out: str, err: str, path: Path, before: bytes, *fragments: str) -> None:
    """Refused with one line, nothing trained, and the file at ``path`` holds what it held."""
    assert_one_line_error(status, err, *fragments)
    assert out == "" and path.read_bytes() == before


@pytest.mark.parametrize("output", ["--save", "--log"])
@pytest.mark.parametrize("spelling", ["same", "dot", "parent", "link"])
def test_an_output_that_is_the_training_text_is_refused(capsys, tmp_path, monkeypatch, output, spelling):
    monkeypatch.chdir(tmp_path)
    corpus = Path("c.txt")
    corpus.write_text(TEXT, encoding="utf-8")
    Path("dir").mkdir()
    Path("link.txt").symlink_to("c.txt")
    name = {"same": "c.txt", "dot": "./c.txt", "parent": "dir/../c.txt", "link": "link.txt"}[spelling]
    status, out, err = run(capsys, "train", "c.txt", *SMALL, "--iterations", 2, output, name)
    assert_refused_untouched(status, out, err, corpus, TEXT.encode(), output, "same file as FILE c.txt")


def test_a_log_over_the_resumed_checkpoint_is_refused_a_save_over_it_is_the_resume_workflow(capsys, corpus_file,
                                                                                              tmp_path):
    ckpt = tmp_path / "run.npz"
    assert run(capsys, "train", corpus_file, *SMALL, "--iterations", 3, "--save", ckpt, "--quiet")[0] == 0
    before = ckpt.read_bytes()
    status, out, err = run(capsys, "train", corpus_file, "--resume", ckpt, "--iterations", 2, "--log", ckpt)
    assert_refused_untouched(status, out, err, ckpt, before, "--log", "same file as --resume")
    assert run(capsys, "train", corpus_file, "--resume", ckpt, "--iterations", 2, "--save", ckpt, "--quiet")[0] == 0
    assert int(read_checkpoint(ckpt)["iteration"]) == 5


@pytest.mark.parametrize("extra", [[], ["--overwrite"]])
def test_save_never_replaces_a_file_that_is_not_a_checkpoint(capsys, corpus_file, tmp_path, extra):
    notes = tmp_path / "p.txt"
    notes.write_text("my notes\n", encoding="utf-8")
    status, out, err = run(capsys, "train", corpus_file, *SMALL, "--iterations", 2, "--save", notes, *extra)
    assert_refused_untouched(status, out, err, notes, b"my notes\n", "--save", "not an rnntui checkpoint")
    fake = tmp_path / "other.npz"  # a NumPy archive, but not one rnntui wrote
    np.savez(fake, params=np.zeros(3), iteration=np.array(4))
    before = fake.read_bytes()
    status, out, err = run(capsys, "train", corpus_file, *SMALL, "--iterations", 2, "--save", fake, *extra)
    assert_refused_untouched(status, out, err, fake, before, "not an rnntui checkpoint")


def test_an_empty_file_holds_nothing_to_lose_and_is_written(capsys, corpus_file, tmp_path):
    empty = tmp_path / "run.npz"
    empty.touch()
    assert run(capsys, "train", corpus_file, *SMALL, "--iterations", 2, "--save", empty, "--quiet")[0] == 0
    assert int(read_checkpoint(empty)["iteration"]) == 2


def test_log_replaces_its_own_log_but_no_other_file(capsys, corpus_file, tmp_path):
    log, notes = tmp_path / "m.jsonl", tmp_path / "notes.txt"
    notes.write_text('{"loss": 1}\nnot a log\n', encoding="utf-8")
    status, out, err = run(capsys, "train", corpus_file, *SMALL, "--iterations", 2, "--log", notes)
    assert_refused_untouched(status, out, err, notes, b'{"loss": 1}\nnot a log\n', "--log", "not an rnntui log")
    other_tool = tmp_path / "other.jsonl"  # another program's log that also counts iterations
    other_tool.write_text('{"iteration": 5, "mine": "important"}\n', encoding="utf-8")
    status, out, err = run(capsys, "train", corpus_file, *SMALL, "--iterations", 2, "--log", other_tool)
    assert_refused_untouched(status, out, err, other_tool, b'{"iteration": 5, "mine": "important"}\n', "--log",
                             "not an rnntui log")
    assert run(capsys, "train", corpus_file, *SMALL, "--iterations", 5, "--log", log, "--quiet")[0] == 0
    assert run(capsys, "train", corpus_file, *SMALL, "--iterations", 2, "--log", log, "--quiet")[0] == 0
    assert [json.loads(line)["iteration"] for line in log.read_text().splitlines()] == [0, 1]  # overwritten


def test_a_fresh_run_never_replaces_a_checkpoint_unless_told_to(capsys, corpus_file, tmp_path):
    ckpt = tmp_path / "run.npz"
    assert run(capsys, "train", corpus_file, *SMALL, "--iterations", 40, "--save", ckpt, "--quiet")[0] == 0
    before = ckpt.read_bytes()
    for extra in ([], ["--learning-rate", "1e300"]):  # also a run that would diverge at once
        status, out, err = run(capsys, "train", corpus_file, *SMALL, "--iterations", 5, "--save", ckpt, *extra)
        assert_refused_untouched(status, out, err, ckpt, before, "already holds a checkpoint (after 40 iterations)",
                                 f"--resume {ckpt}", "--overwrite")
    other = tmp_path / "other.npz"  # resuming from another checkpoint does not make this one expendable
    assert run(capsys, "train", corpus_file, *SMALL, "--iterations", 1, "--save", other, "--quiet")[0] == 0
    status, out, err = run(capsys, "train", corpus_file, "--resume", other, "--iterations", 1, "--save", ckpt)
    assert_refused_untouched(status, out, err, ckpt, before, "already holds a checkpoint")
    status, _, _ = run(capsys, "train", corpus_file, *SMALL, "--iterations", 5, "--save", ckpt, "--overwrite", "--quiet")
    assert status == 0 and int(read_checkpoint(ckpt)["iteration"]) == 5


def test_overwrite_is_in_the_help_and_clashes_with_gradcheck(capsys, corpus_file):
    status, out, _ = run(capsys, "train", "--help")
    assert status == 0 and "--overwrite" in out
    status, _, err = run(capsys, "train", corpus_file, "--gradcheck", "--overwrite")
    assert_one_line_error(status, err, "drop --overwrite")


@pytest.mark.parametrize("stream", ["/dev/stdout", "/dev/stderr", "/dev/fd/1", "/proc/self/fd/2"])
def test_a_checkpoint_is_a_file_never_a_stream(capsys, corpus_file, stream):
    status, out, err = run(capsys, "train", corpus_file, *SMALL, "--iterations", 2, "--save", stream)
    assert_one_line_error(status, err, f"--save {stream} is a stream")
    assert out == ""


def train_process(corpus_file: Path, *argv: str, **popen) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnntui", "train", str(corpus_file), *SMALL, *argv],
                          text=True, timeout=120, **popen)


def test_a_log_on_stdout_appended_by_the_shell_keeps_what_was_there(corpus_file, tmp_path):
    out = tmp_path / "f"
    out.write_text("keep me\n", encoding="utf-8")
    with open(out, "a", encoding="utf-8") as appended:  # rnntui train ... >> f
        result = train_process(corpus_file, "--iterations", "4", "--log", "/dev/stdout", "--quiet", stdout=appended,
                               stderr=subprocess.PIPE)
    assert result.returncode == 0, result.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "keep me"
    assert [json.loads(line)["iteration"] for line in lines[1:-1]] == [0, 1, 2, 3]
    assert lines[-1].startswith("done: 4 iterations")


def test_a_log_on_stdout_redirected_to_a_file_is_not_overwritten_by_the_progress_lines(corpus_file, tmp_path):
    out = tmp_path / "f"
    with open(out, "w", encoding="utf-8") as redirected:  # rnntui train ... > f, progress lines too
        result = train_process(corpus_file, "--iterations", "4", "--log", "/dev/stdout", "--sample-every", "2",
                               stdout=redirected, stderr=subprocess.PIPE)
    assert result.returncode == 0, result.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert [r["iteration"] for r in records] == [0, 1, 2, 3]
    assert lines[0].startswith("training on fox.txt") and lines[-1].startswith("done: 4 iterations")
    assert lines.count("----") == 4 and [line.split(",")[0] for line in lines if line.startswith("iter ")] == [
        "iter 0", "iter 2"]  # the samples and progress lines of iterations 0 and 2, whole, among the records


def test_a_log_on_stdout_into_a_pipe_is_accepted(corpus_file):
    result = train_process(corpus_file, "--iterations", "3", "--log", "/dev/stdout", "--quiet",
                           capture_output=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [json.loads(line)["iteration"] for line in lines[:-1]] == [0, 1, 2]
    assert lines[-1].startswith("done: 3 iterations")


def stdout_closed_during_training(corpus_file: Path, first_line_of_training: str, *argv: str) -> tuple[int, str]:
    """Run rnntui train with stdout a pipe whose reader goes away (``| head``) once training has printed a line
    (one starting with ``first_line_of_training``): what was trained by then must be kept."""
    process = subprocess.Popen([sys.executable, "-m", "rnntui", "train", str(corpus_file), *SMALL, *argv],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stdout:  # (ends at the end of output, should training never print)
        if line.startswith(first_line_of_training):
            break
    process.stdout.close()
    _, err = process.communicate(timeout=120)
    return process.returncode, err


@pytest.mark.parametrize("first_line, output", [('{"iteration"', ("--log", "/dev/stdout", "--quiet")),
                                                ("----", ("--sample-every", "1"))])
def test_a_stdout_whose_reader_went_away_stops_training_says_so_and_keeps_the_checkpoint(corpus_file, tmp_path,
                                                                                          first_line, output):
    saved = tmp_path / "run.npz"
    status, err = stdout_closed_during_training(corpus_file, first_line, "--iterations", "100000", "--save",
                                                str(saved), *output)
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith("rnntui: error:") and "reader went away" in err and "Traceback" not in err
    iterations = int(read_checkpoint(saved)["iteration"])
    assert 1 <= iterations < 100000  # stopped early, and what it trained is kept


def test_a_dash_is_standard_output_for_the_log_and_refused_for_a_checkpoint(capsys, corpus_file, tmp_path,
                                                                            monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    status, out, err = run(capsys, "train", corpus_file, *SMALL, "--iterations", 2, "--save", "-")
    assert_one_line_error(status, err, "--save -", "standard output", "./-")
    assert list(here.iterdir()) == [] and out == ""
    result = train_process(corpus_file, "--iterations", "2", "--log", "-", "--quiet", capture_output=True, cwd=here)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["iteration"] for line in result.stdout.splitlines()[:-1]] == [0, 1]
    assert list(here.iterdir()) == []  # no file named '-'


def test_ctrl_c_while_the_program_loads_ends_it_without_a_traceback(corpus_file):
    interrupt_while_loading = (  # Ctrl+C as NumPy starts to load (the moment rnntui.cli is imported)
        "import importlib.abc, os, signal, sys\n"
        "class CtrlC(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'numpy':\n"
        "            os.kill(os.getpid(), signal.SIGINT)\n"
        "sys.meta_path.insert(0, CtrlC())\n"
        "from rnntui.entry import main\n"
        "sys.argv[1:] = ['train', sys.argv[1]]\n"
        "sys.exit(main())\n"
    )
    result = subprocess.run([sys.executable, "-c", interrupt_while_loading, str(corpus_file)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == -signal.SIGINT  # ended by the signal, as the shell reports with status 130
    assert result.stderr == "" and result.stdout == ""


def test_empty_names_are_called_empty(capsys, corpus_file):
    status, _, err = run(capsys, "train", "")
    assert_one_line_error(status, err, "FILE is an empty name")
    for flag in ("--save", "--log", "--resume"):
        status, _, err = run(capsys, "train", corpus_file, flag, "")
        assert_one_line_error(status, err, f"{flag} is an empty name")
        assert "directory" not in err


def test_control_characters_in_names_are_shown_escaped(capsys, tmp_path):
    status, _, err = run(capsys, "train", tmp_path / "x\x1b[31my\n.txt")
    assert_one_line_error(status, err, "x\\x1b[31my\\n.txt")
    assert "\x1b" not in err


LONG_NAME = "a" * 300 + ".txt"  # one component longer than any filesystem takes (ENAMETOOLONG)


@pytest.mark.parametrize("where", ["FILE", "--resume", "--save", "--log"])
def test_a_name_too_long_is_one_line(capsys, corpus_file, tmp_path, where):
    path = str(tmp_path / LONG_NAME)
    argv = [path] if where == "FILE" else [corpus_file, where, path]
    status, out, err = run(capsys, "train", *argv, *SMALL, "--iterations", 1)
    assert_one_line_error(status, err, LONG_NAME, os.strerror(36), "shorter name")
    assert out == ""


def test_a_number_too_large_for_an_array_is_one_line(capsys, corpus_file):
    status, _, err = run(capsys, "train", corpus_file, "--hidden-size", "99999999999999999999999", "--iterations", 1)
    assert_one_line_error(status, err, "--hidden-size")


@pytest.mark.parametrize("command", ["train", "analyze", "eval", "whatif", "shot"])
def test_running_out_of_memory_is_one_line_in_every_command(capsys, corpus_file, tmp_path, monkeypatch, command):
    def too_large(*args, **kwargs):
        raise MemoryError("Unable to allocate 74.6 GiB for an array with shape (10013100073,) and data type float64")

    monkeypatch.setattr(cli, "open_session", too_large)
    argv = [command, corpus_file, *SMALL] + ([tmp_path / "s.svg"] if command == "shot" else [])
    status, _, err = run(capsys, *argv)
    assert_one_line_error(status, err, "not enough memory", "74.6 GiB", "--hidden-size", "--sample-length")


def test_a_value_starting_with_a_dash_stays_the_value_of_its_flag():
    parser = cli.build_train_parser()
    args = cli.parse_or_exit(parser, ["--save", "-x.npz", "--break", "-", "--iterations", "3"])
    assert (args.save, args.breaks, args.iterations) == ("-x.npz", ["-"], 3)
    assert cli.parse_or_exit(parser, ["--save", "--quiet"]) == 2  # a missing value is still missing
    args = cli.parse_or_exit(parser, ["--sav", "-x.npz", "--iter", "2"])  # argparse's unique prefixes too
    assert (args.save, args.iterations) == ("-x.npz", 2)


def test_json_output_writes_non_finite_numbers_as_null(capsys):
    cli.print_json({"a": float("nan"), "b": [1.5, float("inf"), {"c": -float("inf")}], "d": "x", "e": 2})
    assert json.loads(capsys.readouterr().out) == {"a": None, "b": [1.5, None, {"c": None}], "d": "x", "e": 2}
