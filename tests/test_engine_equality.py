"""The engine against the straightforward per-timestep oracle (the contract's equality rules)."""

import numpy as np
import pytest
from conftest import training_scale_params
from oracle import oracle_loss_and_grads

from rnntui.engine import PARAM_NAMES, Config, Corpus, Trainer, loss_and_grads


def assert_close_to_scale(actual, expected, rtol, what):
    actual, expected = np.asarray(actual), np.asarray(expected)
    scale = np.abs(expected).max()
    diff = np.abs(actual - expected).max()
    assert diff <= rtol * max(scale, 1e-300), f"{what}: max diff {diff:.3e} vs scale {scale:.3e}"


@pytest.mark.parametrize(
    "V,H,T,seed",
    [(2, 3, 1, 0), (2, 5, 6, 1), (5, 10, 7, 2), (17, 32, 25, 3), (65, 100, 25, 4), (40, 64, 50, 5)],
)
def test_one_step_matches_oracle_on_random_states(V, H, T, seed):
    params = training_scale_params(V, H, seed)
    rng = np.random.default_rng(100 + seed)
    inputs = rng.integers(0, V, T)
    targets = rng.integers(0, V, T)
    hprev = rng.uniform(-1, 1, H)
    ours = loss_and_grads(params, inputs, targets, hprev)
    ref_loss, ref_grads, ref_h = oracle_loss_and_grads(params, inputs, targets, hprev)
    assert abs(ours.loss - ref_loss) <= 1e-10 * abs(ref_loss)
    for name in PARAM_NAMES:
        assert ours.grads[name].shape == ref_grads[name].shape
        assert_close_to_scale(ours.grads[name], ref_grads[name], 1e-10, name)
    assert_close_to_scale(ours.h_last, ref_h, 1e-10, "h_last")


def test_hello_corpus_one_step_matches_oracle():
    corpus = Corpus.from_text("hello")
    trainer = Trainer(corpus, Config(hidden_size=8))
    assert trainer.seq_length == 4
    params = training_scale_params(corpus.vocab_size, 8, 9)
    data = np.asarray(corpus.data)
    hprev = np.random.default_rng(1).uniform(-1, 1, 8)
    ours = loss_and_grads(params, data[:4], data[1:5], hprev)
    ref_loss, ref_grads, _ = oracle_loss_and_grads(params, data[:4], data[1:5], hprev)
    assert abs(ours.loss - ref_loss) <= 1e-10 * abs(ref_loss)
    for name in PARAM_NAMES:
        assert_close_to_scale(ours.grads[name], ref_grads[name], 1e-10, name)


def test_loss_and_grads_accepts_column_biases_and_leaves_params_alone():
    params = training_scale_params(6, 4, 7)
    column = dict(params, bh=params["bh"].reshape(4, 1), by=params["by"].reshape(6, 1))
    before = {k: v.copy() for k, v in column.items()}
    a = loss_and_grads(params, [0, 1, 2], [1, 2, 3], np.zeros(4))
    b = loss_and_grads(column, [0, 1, 2], [1, 2, 3], np.zeros(4))
    assert a.loss == b.loss
    for name in PARAM_NAMES:
        np.testing.assert_array_equal(column[name], before[name])


def reference_iteration(trainer: Trainer):
    """Run one iteration of the contract's loop from the trainer's current state, by hand."""
    data = np.asarray(trainer.corpus.data)
    T = trainer.seq_length
    params = {k: v.copy() for k, v in trainer.params.items()}
    memory = {k: v.copy() for k, v in trainer.memory.items()}
    p, n, hprev = trainer.position, trainer.iteration, trainer.hprev.copy()
    if p + T + 1 >= len(data) or n == 0:
        hprev = np.zeros_like(hprev)
        p = 0
    loss, grads, _ = oracle_loss_and_grads(params, data[p : p + T], data[p + 1 : p + T + 1], hprev)
    cfg = trainer.config
    for name in PARAM_NAMES:
        g = np.clip(grads[name], -cfg.clip, cfg.clip)
        memory[name] += g * g
        params[name] += -cfg.learning_rate * g / np.sqrt(memory[name] + 1e-8)
    return loss, params, p


@pytest.mark.parametrize(
    "text,T",
    [
        # 2*T + 2 characters: the second window ends at p + T + 1 == len - 1 (no wrap), the third wraps.
        ("abcdefghij" * 2 + "ab", 10),
        # 2*T + 1 characters: the second window would have p + T + 1 == len exactly, so it wraps (the rule is >=).
        ("abcdefghij" * 2 + "a", 10),
        ("hello", 25),
        ("the cat sat on the mat; the dog sat on the log.\n" * 3, 25),
    ],
)
def test_first_ten_iterations_match_reference(text, T):
    corpus = Corpus.from_text(text)
    trainer = Trainer(corpus, Config(hidden_size=12, seq_length=T, learning_rate=0.1, sample_every=0))
    positions = []
    for _ in range(10):
        ref_loss, ref_params, ref_p = reference_iteration(trainer)
        record = trainer.step()
        positions.append(record.position)
        assert record.position == ref_p
        assert abs(record.loss - ref_loss) <= 1e-8 * abs(ref_loss)
        for name in PARAM_NAMES:
            np.testing.assert_allclose(trainer.params[name], ref_params[name], rtol=1e-8, atol=1e-12)
    if text.startswith("abcdefghij") and len(corpus) == 2 * T + 2:
        assert positions[:4] == [0, 10, 0, 10]
    if text.startswith("abcdefghij") and len(corpus) == 2 * T + 1:
        assert positions[:4] == [0, 0, 0, 0]  # p = 10 would make p + T + 1 == len: every window starts over


def test_smooth_loss_follows_the_contracts_formula_exactly():
    corpus = Corpus.from_text("the cat sat on the mat; the dog sat on the log.\n" * 3)
    trainer = Trainer(corpus, Config(hidden_size=8, seq_length=9, sample_every=0))
    smooth = -np.log(1.0 / corpus.vocab_size) * 9  # the loss of a uniform guess over one window
    assert trainer.smooth_loss == smooth
    for _ in range(60):
        record = trainer.step()
        assert record.smooth_loss_before == smooth
        smooth = 0.999 * smooth + 0.001 * record.loss
        assert record.smooth_loss == smooth == trainer.smooth_loss == trainer.history.smooth_loss[-1]


def test_effective_window_and_smooth_loss_start():
    trainer = Trainer(Corpus.from_text("hello"), Config(seq_length=25, hidden_size=4))
    assert trainer.seq_length == 4
    assert "window of 4" in trainer.window_notice
    assert trainer.smooth_loss == pytest.approx(-np.log(1 / 4) * 4)
    record = trainer.step()
    assert record.seq_length == 4 and record.reset
    assert record.hs.shape == (4, 4) and record.ps.shape == (4, 4)
    assert record.smooth_loss == pytest.approx(0.999 * (-np.log(1 / 4) * 4) + 0.001 * record.loss)
    assert Trainer(Corpus.from_text("x" * 30 + "y"), Config()).window_notice is None


def test_two_character_corpus_trains():
    trainer = Trainer(Corpus.from_text("ab"), Config(hidden_size=3))
    for _ in range(5):
        record = trainer.step()
        assert record.seq_length == 1 and record.reset and record.position == 0


@pytest.mark.parametrize("inputs, targets", [([0, 5], [1, 2]), ([0, 1], [1, -1]), ([7, 1], [1, 2])])
def test_loss_and_grads_rejects_indices_outside_the_vocabulary(inputs, targets):
    rng = np.random.default_rng(0)
    H, V = 4, 5
    params = {"Wxh": rng.standard_normal((H, V)), "Whh": rng.standard_normal((H, H)), "Why": rng.standard_normal((V, H)),
              "bh": np.zeros(H), "by": np.zeros(V)}
    with pytest.raises(ValueError, match="0 to 4"):
        loss_and_grads(params, inputs, targets, np.zeros(H))
