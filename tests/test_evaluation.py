"""Held-out evaluation: the split, bits per character against a plain loop, history, checkpoints, breakpoints."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnntui.engine import ConfigError, Corpus, Trainer, load_checkpoint, open_session
from rnntui.engine.breakpoints import BreakpointSet, parse_breakpoint
from rnntui.engine.config import Config
from rnntui.engine.evaluation import Evaluation, evaluation_report
from rnntui.engine.ngram import fit_ngrams
from rnntui.engine.session import RunEnd

TEXT = "the quick brown fox jumps over the lazy dog. " * 6 + "pack my box with five dozen liquor jugs!\n" * 3
SMALL = {"hidden_size": 12, "seq_length": 8, "sample_every": 0}


def corpus() -> Corpus:
    return Corpus.from_text(TEXT, name="fox")


def plain_nats(params, indices) -> float:
    """Mean -ln p_t(x_{t+1}) over t = 0..N-2, one character at a time from h = 0 (the oracle)."""
    Wxh, Whh, Why, bh, by = (np.array(params[k]) for k in ("Wxh", "Whh", "Why", "bh", "by"))
    h = np.zeros(Whh.shape[0])
    total = 0.0
    for t in range(len(indices) - 1):
        h = np.tanh(Wxh[:, indices[t]] + Whh @ h + bh)
        y = Why @ h + by
        p = np.exp(y - y.max())
        p /= p.sum()
        total += -math.log(p[indices[t + 1]])
    return total / (len(indices) - 1)


def test_the_last_floor_of_f_times_n_characters_are_held_out_and_training_never_reads_them():
    c = corpus()
    n = len(c)
    trainer = Trainer(c, Config(**SMALL, val_frac=0.25))
    held = math.floor(0.25 * n)
    assert trainer.train_length == n - held
    assert np.array_equal(trainer.held_out_corpus.data, c.data[n - held:])
    assert np.array_equal(trainer.training_corpus.data, c.data[: n - held])
    assert trainer.training_corpus.vocab == c.vocab  # the vocabulary is the whole text's
    positions = []
    for _ in range(200):
        record = trainer.step()
        positions.append(record.position)
        assert record.position + record.seq_length + 1 <= n - held  # targets stay inside the training part
    # the reset rule uses the training part's length: p + T + 1 >= N_train starts over
    assert 0 in positions[1:] and max(positions) + 8 + 1 < n - held + 8


def test_a_split_that_leaves_fewer_than_two_characters_on_a_side_is_refused():
    c = Corpus.from_text("abcdefghij", name="ten")
    with pytest.raises(ConfigError, match="holds out 0"):
        Trainer(c, Config(hidden_size=4, val_frac=0.05))
    with pytest.raises(ConfigError, match="leaving 1 to train on"):
        Trainer(c, Config(hidden_size=4, val_frac=0.9))
    assert Trainer(c, Config(hidden_size=4, val_frac=0.2)).train_length == 8


@pytest.mark.parametrize("val_frac", [0.0, 0.3])
def test_an_evaluation_equals_the_plain_loop_on_each_part(val_frac):
    session = open_session(corpus(), {**SMALL, "val_frac": val_frac, "eval_every": 10})
    session.run(25, lambda: False)
    trainer = session.trainer
    evaluation = session.evaluate_now()
    params = trainer.params
    assert evaluation.iteration == trainer.iteration == 25
    assert evaluation.train_nats == pytest.approx(plain_nats(params, trainer.training_corpus.data), rel=1e-9)
    if val_frac:
        assert evaluation.val_nats == pytest.approx(plain_nats(params, trainer.held_out_corpus.data), rel=1e-9)
        assert evaluation.gap == pytest.approx(evaluation.val_bpc - evaluation.train_bpc)
    else:
        assert evaluation.val_nats is None and evaluation.val_bpc is None and evaluation.gap is None
    assert evaluation.train_bpc == pytest.approx(evaluation.train_nats / math.log(2))
    assert [e.iteration for e in session.evaluations if not e.on_demand] == [0, 10, 20]


def test_evaluations_never_change_training():
    quiet = open_session(corpus(), {**SMALL, "val_frac": 0.2, "eval_every": 0})
    busy = open_session(corpus(), {**SMALL, "val_frac": 0.2, "eval_every": 3})
    for _ in range(30):
        a, b = quiet.step(), busy.step()
        assert a.loss == b.loss and np.array_equal(a.hs, b.hs)
        if b.iteration % 7 == 0:
            busy.evaluate_now()
    assert np.array_equal(quiet.trainer.state().params, busy.trainer.state().params)
    assert len(busy.evaluations) == 10 + 5


def test_a_held_out_part_defaults_to_an_evaluation_every_500_iterations():
    assert open_session(corpus(), {**SMALL, "val_frac": 0.2}).trainer.config.eval_every == 500
    assert open_session(corpus(), {**SMALL, "val_frac": 0.2, "eval_every": 0}).trainer.config.eval_every == 0
    assert open_session(corpus(), SMALL).trainer.config.eval_every == 0


def test_evaluations_are_saved_resumed_and_travel_in_time(tmp_path):
    settings = {**SMALL, "val_frac": 0.2, "eval_every": 5}
    session = open_session(corpus(), settings)
    session.run(23, lambda: False)
    session.evaluate_now()
    before = session.evaluations
    session.save(tmp_path / "e.npz")
    resumed = open_session(corpus(), resume=tmp_path / "e.npz")
    assert resumed.evaluations == before
    # resumed, the run goes on bit-identically to one that never stopped
    session.run(12, lambda: False)
    resumed.run(12, lambda: False)
    assert resumed.evaluations == session.evaluations
    assert np.array_equal(resumed.trainer.state().params, session.trainer.state().params)
    # going back shows the evaluations of that time; a change there starts a branch without the later ones
    session.goto(12)
    assert [e.iteration for e in session.evaluations_until(12)] == [0, 5, 10]
    session.set_hyperparameters(learning_rate=0.05)
    assert [e.iteration for e in session.evaluations] == [0, 5, 10]  # 15, 20, 23 and 25, 30, 35 are gone


def test_damaged_saved_evaluations_are_refused(tmp_path):
    session = open_session(corpus(), {**SMALL, "val_frac": 0.2, "eval_every": 5})
    session.run(6, lambda: False)
    session.save(tmp_path / "e.npz")
    arrays = dict(np.load(tmp_path / "e.npz"))
    arrays["extra_evaluations"] = np.array([[1.5, 2.0, 2.0, 0.0]])
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(Exception, match="saved evaluations are damaged"):
        open_session(corpus(), resume=tmp_path / "bad.npz")


# --- breakpoints on evaluations -------------------------------------------------------------


def ev(iteration: int, train: float, val: float | None) -> Evaluation:
    ln2 = math.log(2)
    return Evaluation(iteration, train * ln2, None if val is None else val * ln2)


def fires(text: str, evaluations, iteration: int = 100) -> bool:
    _, record = trained_record()
    return parse_breakpoint(text).check(record, evaluations) is not None


def trained_record():
    trainer = Trainer(corpus(), Config(**SMALL))
    return trainer, trainer.step()


@pytest.mark.parametrize(
    "text, evaluations, expected",
    [
        ("val > 2", [ev(0, 1.0, 2.5)], True),
        ("val > 2", [ev(0, 1.0, 1.5)], False),
        ("val > 2", [ev(0, 1.0, 2.5), ev(5, 1.0, 1.9)], False),  # the latest counts
        ("val < 2", [ev(0, 1.0, 1.5)], True),
        ("val > 2", [ev(0, 3.0, None)], False),  # no held-out part: never
        ("gap > 0.4", [ev(0, 1.0, 1.5)], True),
        ("gap > 0.6", [ev(0, 1.0, 1.5)], False),
        ("val rises", [ev(0, 1, 3.0), ev(1, 1, 2.0), ev(2, 1, 2.1), ev(3, 1, 2.2), ev(4, 1, 2.05)], True),
        ("val rises", [ev(0, 1, 3.0), ev(1, 1, 2.0), ev(2, 1, 2.1), ev(3, 1, 1.9), ev(4, 1, 2.05)], False),
        ("val rises", [ev(0, 1, 3.0), ev(1, 1, 2.0), ev(2, 1, 2.1), ev(3, 1, 2.2)], False),  # two in a row
        ("val rises", [ev(0, 1, 3.0), ev(1, 1, 3.1), ev(2, 1, 3.2), ev(3, 1, 3.3)], True),
        ("val rises", [], False),
    ],
)
def test_evaluation_breakpoints(text, evaluations, expected):
    assert fires(text, evaluations) is expected


def test_evaluation_breakpoints_parse_and_read_back():
    for text in ("val > 2.5", "val<=1", "gap > 0.3", "val rises", "VAL RISES"):
        bp = parse_breakpoint(text)
        assert parse_breakpoint(bp.source) == bp
    assert parse_breakpoint("val rises").source == "val rises"
    with pytest.raises(Exception, match="valid forms"):
        parse_breakpoint("gap < 3")


def test_a_val_breakpoint_stops_a_headless_run_after_the_evaluation_that_meets_it():
    session = open_session(corpus(), {**SMALL, "val_frac": 0.2, "eval_every": 10}, breakpoints=["val < 4.6"])
    result = session.run(200, lambda: False)
    first = next(e for e in session.evaluations if e.val_bpc < 4.6)
    assert result.end is RunEnd.BREAKPOINT and session.last_record.iteration == first.iteration
    assert f"at evaluation {first.iteration}" in result.detail


def test_the_breakpoint_set_passes_evaluations_through():
    breakpoints = BreakpointSet()
    breakpoints.add("val > 2")
    _, record = trained_record()
    assert breakpoints.check(record, [ev(0, 1.0, 2.5)]).startswith("val > 2: held-out 2.5 bits per character")
    assert breakpoints.check(record, [ev(0, 1.0, 2.5)]) is None  # held: fires once


# --- the report: baselines and breakdown ------------------------------------------------------


@pytest.mark.parametrize("val_frac", [0.0, 0.25])
def test_the_report_scores_the_held_out_part_or_the_training_text_in_sample(val_frac):
    session = open_session(corpus(), {**SMALL, "val_frac": val_frac})
    session.run(40, lambda: False)
    trainer = session.trainer
    report = evaluation_report(trainer.params, trainer.training_corpus, trainer.held_out_corpus, trainer.iteration)
    scored = trainer.held_out_corpus or trainer.training_corpus
    expected = fit_ngrams(trainer.training_corpus.data, trainer.corpus.vocab_size).bpc(scored.data)
    assert [report.baselines[k] for k in range(1, 6)] == pytest.approx(list(expected), rel=1e-12)
    assert report.in_sample is (val_frac == 0) and report.scored_chars == len(scored)
    assert report.breakdown.positions == len(scored) - 1
    assert report.evaluation.train_nats == pytest.approx(plain_nats(trainer.params, trainer.training_corpus.data))
    d = report.to_dict()
    assert set(d) >= {"iteration", "train_bpc", "val_bpc", "baselines", "errors"}
    assert set(d["baselines"]) == {"1", "2", "3", "4", "5"}
    assert (d["val_bpc"] is None) is (val_frac == 0)


def test_the_loaded_trainer_keeps_the_split(tmp_path):
    session = open_session(corpus(), {**SMALL, "val_frac": 0.25})
    session.run(3, lambda: False)
    session.save(tmp_path / "s.npz")
    trainer = load_checkpoint(tmp_path / "s.npz", corpus())
    assert trainer.config.val_frac == 0.25 and trainer.train_length == session.trainer.train_length
