"""rnntui analyze, eval and whatif end to end: their output against the engine computed directly, and bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from test_cli import assert_one_line_error, run

from rnntui.engine import Corpus, open_session
from rnntui.engine.analysis import analyze
from rnntui.engine.checkpoint import read_checkpoint
from rnntui.engine.ngram import fit_ngrams
from rnntui.engine.whatif import ZeroUnit, run_window

ROOT = Path(__file__).resolve().parent.parent
BRACKETS = ROOT / "samples" / "brackets.txt"
SMALL = ["--hidden-size", "16", "--seq-length", "10", "--sample-every", "0"]


def trained(iterations: int, **settings):
    session = open_session(Corpus.from_path(BRACKETS), {"hidden_size": 16, "seq_length": 10, "sample_every": 0,
                                                        **settings})
    session.run(iterations, lambda: False)
    return session


# --- analyze -------------------------------------------------------------------------------------


def test_analyze_json_equals_the_analysis_computed_directly(capsys):
    status, out, _ = run(capsys, "analyze", BRACKETS, *SMALL, "--iterations", 60, "--unit", 3, "--top", 4, "--json")
    assert status == 0
    report = json.loads(out)
    trainer = trained(60).trainer
    direct = analyze(trainer.params, trainer.training_corpus, units=(3,), top_k=4).to_dict()
    assert report["iteration"] == 60 and report["chars"] == direct["chars"] == len(trainer.corpus)
    assert report["bits_per_char"] == pytest.approx(direct["bits_per_char"], rel=1e-12)
    assert report["units"] == direct["units"]
    assert set(report["features"]) == {"depth", "column", "quote", "space", "letter", "digit", "upper", "punct"}
    assert report["features"]["depth"]["ranked"] == direct["features"]["depth"]["ranked"]
    assert list(report["top_contexts"]) == ["3"] and len(report["top_contexts"]["3"]["positive"]) == 4


def test_analyze_text_names_the_features_and_the_units_contexts(capsys):
    status, out, _ = run(capsys, "analyze", BRACKETS, *SMALL, "--iterations", 30, "--feature", "depth",
                         "--feature", "regex:\\(", "--unit", 2)
    assert status == 0
    assert out.startswith("analysis of brackets.txt after 30 steps")
    assert "\ndepth " in out and "\nregex:\\( " in out and "\ncolumn" not in out
    assert "unit 2, most positive contexts:" in out and "unit 2, most negative contexts:" in out


@pytest.mark.parametrize(
    "argv, fragments",
    [
        (["--feature", "bogus"], ["unknown feature 'bogus'", "valid features", "regex:PATTERN"]),
        (["--feature", "regex:("], ["bad regular expression"]),
        (["--unit", "16"], ["unit 16", "0 to 15"]),
        (["--top", "-1"], ["--top"]),
        (["--top", "0"], ["--top", "expected 1 or more, got 0"]),
    ],
)
def test_analyze_bad_input_is_one_line(capsys, argv, fragments):
    status, out, err = run(capsys, "analyze", BRACKETS, *SMALL, *argv)
    assert_one_line_error(status, err, *fragments)


def test_analyze_refuses_a_checkpoint_for_another_corpus(capsys, tmp_path):
    ckpt = tmp_path / "b.npz"
    assert run(capsys, "train", BRACKETS, *SMALL, "--iterations", 3, "--save", ckpt, "--quiet")[0] == 0
    status, _, err = run(capsys, "analyze", ROOT / "samples" / "prose.txt", "--resume", ckpt)
    assert_one_line_error(status, err, "another vocabulary")


# --- eval -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("val_frac", [None, "0.2"])
def test_eval_json_against_the_engine(capsys, val_frac):
    extra = [] if val_frac is None else ["--val-frac", val_frac]
    status, out, _ = run(capsys, "eval", BRACKETS, *SMALL, "--iterations", 50, *extra, "--json")
    assert status == 0
    report = json.loads(out)
    trainer = trained(50, **({} if val_frac is None else {"val_frac": float(val_frac)})).trainer
    scored = trainer.held_out_corpus or trainer.training_corpus
    baselines = fit_ngrams(trainer.training_corpus.data, trainer.corpus.vocab_size).bpc(scored.data)
    assert report["iteration"] == 50
    assert [report["baselines"][str(k)] for k in range(1, 6)] == pytest.approx(list(baselines), rel=1e-12)
    assert (report["val_bpc"] is None) is (val_frac is None)
    errors = report["errors"]
    assert sum(errors[c] for c in ("n-gram", "word start", "rare", "other")) == errors["errors"]
    assert errors["positions"] == len(scored) - 1


def test_eval_text_shows_the_table_and_the_breakdown(capsys):
    status, out, _ = run(capsys, "eval", BRACKETS, *SMALL, "--iterations", 20, "--val-frac", "0.1")
    assert status == 0
    assert "held out: the last 402 of 4,023 characters" in out or "held out: the last" in out
    for k in range(1, 6):
        assert f"  {k}-gram " in out
    assert "errors (p(next character) < 0.5)" in out and "word start" in out


def test_eval_bad_val_frac_is_one_line(capsys):
    status, _, err = run(capsys, "eval", BRACKETS, "--val-frac", "1.5")
    assert_one_line_error(status, err, "val_frac", "--val-frac")
    tiny = ["eval", ROOT / "samples" / "hello.txt", "--val-frac", "0.1"]
    status, _, err = run(capsys, *tiny)
    assert_one_line_error(status, err, "holds out 0", "--val-frac")


# --- whatif --------------------------------------------------------------------------------------


def test_whatif_json_against_the_engine_and_the_checkpoint_is_never_written(capsys, tmp_path):
    ckpt = tmp_path / "w.npz"
    assert run(capsys, "train", BRACKETS, *SMALL, "--iterations", 40, "--save", ckpt, "--quiet")[0] == 0
    before = ckpt.read_bytes()
    status, out, _ = run(capsys, "whatif", BRACKETS, "--resume", ckpt, "--ablate", "3@2-5", "--scan", "--json")
    assert status == 0 and ckpt.read_bytes() == before
    report = json.loads(out)
    trainer = open_session(Corpus.from_path(BRACKETS), resume=ckpt).trainer
    position, inputs, targets, hprev = trainer.next_window()
    plain = run_window(trainer.params, inputs, targets, hprev)
    changed = run_window(trainer.params, inputs, targets, hprev, [ZeroUnit(3, _span(2, 5))])
    assert report["iteration"] == 40 and report["position"] == position
    assert report["loss_before"] == plain.losses.tolist() and report["loss_after"] == changed.losses.tolist()
    assert report["total_delta"] == pytest.approx(changed.loss - plain.loss, abs=1e-12)
    deltas = [entry["delta"] for entry in report["scan"]]
    assert deltas == sorted(deltas, reverse=True) and len(deltas) == 16


def _span(first: int, last: int):
    from rnntui.engine.whatif import Span

    return Span(first, last)


def test_whatif_without_interventions_changes_nothing(capsys):
    status, out, _ = run(capsys, "whatif", BRACKETS, *SMALL, "--iterations", 5, "--json")
    report = json.loads(out)
    assert status == 0 and report["loss_before"] == report["loss_after"] and report["total_delta"] == 0
    assert "scan" not in report


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--edit", "3=☃"], "not in the vocabulary"),
        (["--edit", "99=x"], "not in the window"),
        (["--ablate", "16"], "unit 16"),
        (["--clamp", "2=lots"], "--clamp"),
        (["--ablate", "2@7-3"], "--ablate"),
        (["--hprev", "ones"], "--hprev"),
    ],
)
def test_whatif_bad_input_is_one_line(capsys, argv, fragment):
    status, _, err = run(capsys, "whatif", BRACKETS, *SMALL, *argv)
    assert_one_line_error(status, err, fragment)


def test_whatif_interventions_apply_in_command_line_order(capsys):
    first = json.loads(run(capsys, "whatif", BRACKETS, *SMALL, "--iterations", 30, "--clamp", "1=0.5",
                           "--ablate", "1", "--json")[1])
    second = json.loads(run(capsys, "whatif", BRACKETS, *SMALL, "--iterations", 30, "--ablate", "1",
                            "--clamp", "1=0.5", "--json")[1])
    zeroed = json.loads(run(capsys, "whatif", BRACKETS, *SMALL, "--iterations", 30, "--ablate", "1", "--json")[1])
    assert first["loss_after"] == zeroed["loss_after"] != second["loss_after"]
    assert not math.isnan(first["total_delta"]) and np.isfinite(second["total_delta"])


# --- shared: the training before looking, JSON, notes, bad input -------------------------------------

INSPECTING = ["analyze", "eval", "whatif"]


def test_a_bad_regex_with_a_huge_repeat_is_one_line(capsys):
    status, _, err = run(capsys, "analyze", BRACKETS, *SMALL, "--feature", "regex:a{99999999999}")
    assert_one_line_error(status, err, "bad regular expression", "regex:a{99999999999}")


def test_top_is_bounded_by_the_positions_of_the_text(capsys):
    hello = ROOT / "samples" / "hello.txt"
    status, out, _ = run(capsys, "analyze", hello, "--unit", 0, "--top", 99999999999, "--json")
    assert status == 0
    contexts = json.loads(out)["top_contexts"]["0"]
    chars = len(hello.read_text(encoding="utf-8"))
    assert len(contexts["positive"]) == len(contexts["negative"]) == chars  # every position, once each way
    assert sorted(c["position"] for c in contexts["positive"]) == list(range(chars))


def test_whatif_json_writes_non_finite_losses_as_null(capsys):
    status, out, err = run(capsys, "whatif", BRACKETS, *SMALL, "--iterations", 5, "--clamp", "1=1e308", "--json")
    assert status == 0 and "Warning" not in err

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    report = json.loads(out, parse_constant=refuse)
    trainer = trained(5).trainer
    from rnntui.engine.whatif import ClampUnit
    _, inputs, targets, hprev = trainer.next_window()
    with np.errstate(all="ignore"):
        after = run_window(trainer.params, inputs, targets, hprev, [ClampUnit(1, 1e308, _span(0, len(inputs) - 1))])
    expected = [value if math.isfinite(value) else None for value in after.losses.tolist()]
    assert None in expected and report["loss_after"] == expected
    assert report["total_delta"] is None


def test_an_edit_of_a_position_written_with_a_minus_reaches_the_spec_parser(capsys):
    status, _, err = run(capsys, "whatif", BRACKETS, *SMALL, "--edit", "-1=a")
    assert_one_line_error(status, err, "--edit '-1=a'", "text position")
    assert "expected one argument" not in err


@pytest.mark.parametrize("command", INSPECTING)
def test_ctrl_c_during_the_training_first_interrupts_the_command(capsys, monkeypatch, command):
    import signal

    from rnntui.engine import Trainer

    real_step, calls = Trainer.step, []

    def step_then_ctrl_c(self):
        calls.append(1)
        if len(calls) == 3:
            signal.raise_signal(signal.SIGINT)  # as the terminal sends it
        return real_step(self)

    monkeypatch.setattr(Trainer, "step", step_then_ctrl_c)
    status, out, err = run(capsys, command, BRACKETS, *SMALL, "--iterations", 1000)
    assert status == 130 and out == ""
    assert err.splitlines()[-1] == "rnntui: error: interrupted"
    assert len(calls) == 3


@pytest.mark.parametrize("command", INSPECTING)
def test_divergence_during_the_training_first_fails_with_one_line(capsys, command, tmp_path):
    status, out, err = run(capsys, command, BRACKETS, *SMALL, "--learning-rate", "1e300", "--iterations", 50)
    session = trained(50, learning_rate=1e300)  # the same run, directly: where it diverged
    record = session.last_record
    assert record.nonfinite is not None
    saved = tmp_path / "sound.npz"  # the same run saved by rnntui train: what a save keeps of it
    run(capsys, "train", BRACKETS, *SMALL, "--learning-rate", "1e300", "--iterations", 50, "--save", saved)
    sound = int(read_checkpoint(saved)["iteration"])
    assert status == 1 and out == ""
    [line] = err.splitlines()
    assert line.startswith(f"rnntui: error: training diverged at iteration {record.iteration} ")
    assert f"the last sound state is after {sound} iteration" in line
    assert f"--iterations {sound}" in line and "--learning-rate" in line


@pytest.mark.parametrize("command", INSPECTING)
def test_a_breakpoint_during_the_training_first_is_a_note_and_the_command_goes_on(capsys, command):
    status, out, err = run(capsys, command, BRACKETS, *SMALL, "--break", "iter == 6", "--iterations", 50, "--json")
    assert status == 0
    assert "note: training stopped after 7 of 50 iterations: iter == 6" in err
    assert json.loads(out)["iteration"] == 7  # the model where the breakpoint stopped it


@pytest.mark.parametrize("command", INSPECTING)
def test_a_checkpoint_of_another_text_with_the_same_characters_is_noted(capsys, tmp_path, command):
    ckpt, shuffled = tmp_path / "b.npz", tmp_path / "shuffled.txt"
    text = BRACKETS.read_text(encoding="utf-8")
    shuffled.write_text(text[1:] + text[0], encoding="utf-8")  # the same characters, another text
    assert run(capsys, "train", BRACKETS, *SMALL, "--iterations", 3, "--save", ckpt, "--quiet")[0] == 0
    status, _, err = run(capsys, command, shuffled, "--resume", ckpt)
    assert status == 0
    notice = open_session(Corpus.from_path(shuffled), resume=ckpt).notices[-1]
    assert "differs from the text" in notice and f"note: {notice}" in err.splitlines()


def test_control_characters_of_names_patterns_and_the_text_never_reach_the_terminal_raw(capsys, tmp_path):
    text = tmp_path / "co\x1bX\n.txt"
    text.write_text("ab\x1b[2Jcd\x07 hello world hello\n" * 20, encoding="utf-8")
    status, out, _ = run(capsys, "analyze", text, *SMALL, "--unit", "0", "--top", "3",
                         "--feature", "regex:\x1b\\[2J")
    assert status == 0
    assert "\x1b" not in out and "\x07" not in out
    assert "co\\x1bX\\n.txt" in out  # the name, escaped
    assert "␛" in out and "␇" in out  # the text's controls as their pictures in the contexts
    status, out, _ = run(capsys, "eval", text, *SMALL)
    assert status == 0 and "\x1b" not in out and "co\\x1bX\\n.txt" in out
    status, out, _ = run(capsys, "whatif", text, *SMALL, "--edit", "2=a")
    assert status == 0 and "\x1b" not in out and "\x07" not in out


def test_samples_of_rnntui_train_show_the_texts_controls_as_pictures_and_keep_its_lines(capsys, tmp_path):
    text = tmp_path / "esc.txt"
    text.write_text("a\x1b[31mb\x07c\td\n" * 40, encoding="utf-8")
    status, out, _ = run(capsys, "train", text, "--hidden-size", "8", "--iterations", 3, "--sample-every", 1,
                         "--sample-length", 400)
    assert status == 0
    assert "\x1b" not in out and "\x07" not in out
    samples = out.split("----")[1::2]  # the lines between the markers
    assert len(samples) == 3
    drawn = "".join(samples)
    assert {"␛", "␇"} <= set(drawn) and "\n" in drawn.strip("\n")  # a sample of 400 characters of this text


def test_the_training_summary_escapes_the_checkpoint_name(capsys, tmp_path):
    saved = tmp_path / "e\x1b[31mx\n.npz"
    status, out, _ = run(capsys, "train", BRACKETS, *SMALL, "--iterations", 2, "--quiet", "--save", saved)
    assert status == 0 and saved.exists()
    assert out.count("\n") == 1 and "\x1b" not in out and "e\\x1b[31mx\\n.npz" in out
