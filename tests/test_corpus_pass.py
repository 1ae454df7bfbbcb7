"""The corpus pass against a straightforward loop written from the contract."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from conftest import training_scale_params

from rnntui.engine import Config, Corpus, RnntuiError, Trainer, corpus_pass
from rnntui.engine.corpus_pass import PassCancelled, UnitError, recompute, run_pass

TOLERANCE = 1e-9


def oracle_pass(params, data, h0=None, ablate=None):
    """h_t (N, H), ln p_t(x_{t+1}) (N-1,) and p_t (N, V), one character at a time, in plain NumPy."""
    Wxh, Whh, Why, bh, by = (np.asarray(params[k], dtype=np.float64) for k in ("Wxh", "Whh", "Why", "bh", "by"))
    H, V = Wxh.shape
    h = np.zeros(H) if h0 is None else np.array(h0, dtype=np.float64)
    hs, log_probs, probs = [], [], []
    for t, x in enumerate(data):
        h = np.tanh(Wxh[:, x] + Whh @ h + bh)
        if ablate is not None:
            h[ablate] = 0.0
        y = Why @ h + by
        p = np.exp(y) / np.sum(np.exp(y))
        hs.append(h)
        probs.append(p)
        if t + 1 < len(data):
            log_probs.append(np.log(p[data[t + 1]]))
    return np.array(hs).reshape(len(data), H), np.array(log_probs), np.array(probs).reshape(len(data), V)


class Collector:
    """A consumer that copies every chunk (tests only: a real consumer streams)."""

    def __init__(self):
        self.starts, self.hs, self.log_probs, self.probs, self.inputs = [], [], [], [], []

    def __call__(self, chunk):
        assert not chunk.hs.flags.writeable and not chunk.log_probs.flags.writeable
        self.starts.append(chunk.start)
        self.inputs.append(chunk.inputs.copy())
        self.hs.append(chunk.hs.copy())
        self.log_probs.append(chunk.log_probs.copy())
        if chunk.probs is not None:
            self.probs.append(chunk.probs.copy())

    def joined(self, name):
        return np.concatenate(getattr(self, name))


def random_text(V: int, N: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, V, N).astype(np.uint8)


CASES = [  # (V, H, N, chunk_size)
    (2, 3, 50, 7),  # V = 2
    (2, 5, 2, 1),  # the shortest text with a prediction, one character per chunk
    (7, 16, 300, 64),
    (7, 16, 300, 300),  # one chunk exactly
    (7, 16, 301, 100),  # a last chunk of one character
    (30, 24, 2000, None),  # the automatic chunk size
    (65, 100, 1500, 512),
]


@pytest.mark.parametrize("V, H, N, chunk_size", CASES)
def test_pass_equals_the_straightforward_loop(V, H, N, chunk_size):
    params = training_scale_params(V, H, seed=N)
    data = random_text(V, N, seed=H)
    got = Collector()
    result = run_pass(params, data, [got], with_probs=True, chunk_size=chunk_size)
    hs, log_probs, probs = oracle_pass(params, data)
    assert np.array_equal(got.joined("inputs"), data)
    assert np.abs(got.joined("hs") - hs).max() <= TOLERANCE
    assert got.joined("log_probs").shape == (N - 1,)
    assert np.abs(got.joined("log_probs") - log_probs).max() <= TOLERANCE
    assert np.abs(got.joined("probs") - probs).max() <= TOLERANCE
    assert result.nats_per_char == pytest.approx(-log_probs.mean(), rel=TOLERANCE)
    assert result.bits_per_char == pytest.approx(-np.log2(probs[np.arange(N - 1), data[1:]]).mean(), rel=TOLERANCE)
    assert np.abs(result.final_state - hs[-1]).max() <= TOLERANCE
    assert got.starts == list(range(0, N, result.chunk_size))
    # state i is h before position i * E: zeros, then h_{iE-1}
    E = result.state_every
    assert E % result.chunk_size == 0
    assert result.states.shape == (len(range(0, N, E)), H)
    assert np.array_equal(result.states[0], np.zeros(H))
    assert np.abs(result.states[1:] - hs[E - 1 : N - 1 : E]).max(initial=0) <= TOLERANCE


def test_pass_of_hello_with_a_given_h0_and_chunk_edges_inside_the_text():
    corpus = Corpus.from_text("hello")
    params = training_scale_params(corpus.vocab_size, 8, seed=5)
    h0 = np.tanh(np.random.default_rng(6).standard_normal(8))
    for chunk_size in (1, 2, 3, 4, 5, 6):
        got = Collector()
        result = run_pass(params, corpus.data, [got], h0=h0, chunk_size=chunk_size)
        hs, log_probs, _ = oracle_pass(params, corpus.data, h0=h0)
        assert np.abs(got.joined("hs") - hs).max() <= TOLERANCE
        assert np.abs(got.joined("log_probs") - log_probs).max() <= TOLERANCE
        assert np.array_equal(result.states[0], h0)
        # a different h0 changes h_0, so the pass really starts from it
        assert np.abs(hs[0] - oracle_pass(params, corpus.data)[0][0]).max() > 1e-3


def test_a_one_character_text_predicts_nothing():
    params = training_scale_params(3, 4, seed=0)
    got = Collector()
    result = run_pass(params, np.array([2], dtype=np.uint8), [got])
    assert got.joined("hs").shape == (1, 4) and got.joined("log_probs").shape == (0,)
    assert result.predictions == 0 and np.isnan(result.bits_per_char)


@pytest.mark.parametrize("unit, chunk_size", [(0, 5), (6, 64), (11, 1000)])
def test_ablation_equals_the_loop_with_the_unit_zeroed_after_the_tanh(unit, chunk_size):
    V, H, N = 9, 12, 400
    params = training_scale_params(V, H, seed=unit)
    data = random_text(V, N, seed=unit + 1)
    h0 = np.full(H, 0.5)
    got = Collector()
    result = run_pass(params, data, [got], h0=h0, ablate=unit, chunk_size=chunk_size)
    hs, log_probs, _ = oracle_pass(params, data, h0=h0, ablate=unit)
    assert np.all(got.joined("hs")[:, unit] == 0.0)
    assert np.abs(got.joined("hs") - hs).max() <= TOLERANCE
    assert np.abs(got.joined("log_probs") - log_probs).max() <= TOLERANCE
    # and the ablation made a difference downstream (h_{t+1} and y_t saw the 0)
    plain, plain_log_probs, _ = oracle_pass(params, data, h0=h0)
    assert np.abs(np.delete(plain - hs, unit, axis=1)).max() > 1e-3
    assert abs(result.nats_per_char + plain_log_probs.mean()) > 1e-6


def test_a_unit_outside_the_model_is_a_one_line_error():
    params = training_scale_params(3, 4, seed=0)
    for bad in (4, -1, 2.0, True):
        with pytest.raises(UnitError) as err:
            run_pass(params, np.array([0, 1, 2]), ablate=bad)
        assert isinstance(err.value, RnntuiError) and "\n" not in str(err.value) and "0 to 3" in str(err.value)


def test_indices_outside_the_vocabulary_are_refused():
    params = training_scale_params(3, 4, seed=0)
    with pytest.raises(ValueError, match="vocabulary"):
        run_pass(params, np.array([0, 3]))


@pytest.mark.parametrize("start, stop", [(0, 1), (0, 40), (37, 38), (40, 41), (39, 121), (150, 239), (239, 240), (200, 200)])
def test_region_recompute_is_exact(monkeypatch, start, stop):
    monkeypatch.setattr(corpus_pass, "STATE_SPACING", 90)  # a state kept every 80 characters (two chunks)
    V, H, N, L = 11, 10, 240, 40
    params = training_scale_params(V, H, seed=3)
    data = random_text(V, N, seed=4)
    got = Collector()
    result = run_pass(params, data, [got], chunk_size=L, ablate=2)
    assert result.state_every == 80 and len(result.states) == 3
    region = recompute(result, start, stop, top_k=4)
    assert np.array_equal(region.hs, got.joined("hs")[start:stop])  # bit for bit
    hs, log_probs, probs = oracle_pass(params, data, ablate=2)
    assert np.abs(region.hs - hs[start:stop]).max(initial=0) <= TOLERANCE
    expected_top = np.argsort(-probs[start:stop], axis=1, kind="stable")[:, :4]
    assert np.array_equal(region.top_indices, expected_top)
    assert np.abs(region.top_probs - np.take_along_axis(probs[start:stop], expected_top, axis=1)).max(initial=0) <= TOLERANCE
    expected_log = np.append(log_probs, np.nan)[start:stop]
    assert np.allclose(region.target_log_probs, expected_log, rtol=0, atol=TOLERANCE, equal_nan=True)


def test_recompute_uses_the_parameters_of_the_pass_not_later_ones():
    corpus = Corpus.from_text("the cat sat on the mat. " * 20)
    trainer = Trainer(corpus, Config(hidden_size=8, seq_length=10, sample_every=0))
    result = run_pass(trainer.params, corpus.data, chunk_size=50)
    before = recompute(result, 120, 180)
    for _ in range(5):
        trainer.step()
    assert np.array_equal(recompute(result, 120, 180).hs, before.hs)
    with pytest.raises(ValueError):
        recompute(result, 100, len(corpus) + 1)


def test_progress_reaches_the_total_and_cancel_raises_between_chunks():
    params = training_scale_params(5, 6, seed=0)
    data = random_text(5, 1000, seed=1)
    calls = []
    run_pass(params, data, chunk_size=300, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(300, 1000), (600, 1000), (900, 1000), (1000, 1000)]

    seen = []
    with pytest.raises(PassCancelled):
        run_pass(params, data, [lambda chunk: seen.append(chunk.start)], chunk_size=300, cancel=lambda: len(seen) == 2)
    assert seen == [0, 300]  # stopped before the third chunk


def test_a_pass_between_steps_leaves_training_bit_identical():
    from rnntui.engine.analysis import analyze

    corpus = Corpus.from_text("(a [b] {c}) \"d\" e\n" * 30)
    config = Config(hidden_size=12, seq_length=9, sample_every=5)
    analysed, plain = Trainer(corpus, config), Trainer(corpus, config)
    for _ in range(7):
        analysed.step()
        plain.step()
    run_pass(analysed.params, corpus.data, chunk_size=64, ablate=3)
    analyze(analysed.params, corpus, units=(0, 1), chunk_size=100)
    for _ in range(7):
        a, b = analysed.step(), plain.step()
        assert a.loss == b.loss and a.sample == b.sample
        for field in ("hs", "ps", "dh", "hprev"):
            assert np.array_equal(getattr(a, field), getattr(b, field))
    for name in analysed.params:
        assert np.array_equal(analysed.params[name], plain.params[name])
        assert np.array_equal(analysed.memory[name], plain.memory[name])
    assert np.array_equal(analysed.hprev, plain.hprev) and analysed.position == plain.position


def test_what_a_pass_keeps_is_one_state_per_state_spacing():
    V, H = 5, 16
    params = training_scale_params(V, H, seed=0)
    data = random_text(V, 300_000, seed=0)
    result = run_pass(params, data, chunk_size=1000)
    assert result.state_every == 65_000
    assert result.states.shape == (5, H)
    assert result.nbytes < 6 * H * 8 + 2 * (H * V * 3 + H * H + H + V) * 8
    assert result.data is data  # the text is referenced, not copied


def test_the_worker_thread_changes_nothing_and_is_gone_after_a_pass_or_an_error():
    V, H = 9, 20
    params = training_scale_params(V, H, seed=8)
    data = random_text(V, 5000, seed=9)
    together, alone = Collector(), Collector()
    first = run_pass(params, data, [together], chunk_size=333, with_probs=True)
    second = run_pass(params, data, [alone], chunk_size=333, with_probs=True, overlap=False)
    for name in ("hs", "log_probs", "probs"):
        assert np.array_equal(together.joined(name), alone.joined(name))
    assert first.nll_sum == second.nll_sum and np.array_equal(first.states, second.states)

    def failing(chunk):
        if chunk.start >= 999:
            raise RuntimeError("consumer failed")

    with pytest.raises(RuntimeError, match="consumer failed"):
        run_pass(params, data, [failing], chunk_size=333)
    with pytest.raises(PassCancelled):
        run_pass(params, data, chunk_size=333, cancel=lambda: True)
    assert not [t for t in threading.enumerate() if t.name.startswith("corpus-pass")]
