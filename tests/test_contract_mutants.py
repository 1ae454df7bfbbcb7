"""The contract's lines that a mutation run (tools/mutation.py) found untested, each checked
against an independent computation: the carried state (p, n, hprev), the window the next step
trains on, sampling and its own generator, the softmax, clipping and Adagrad across blocks,
the vocabulary and its indices, and what a checkpoint keeps.
"""

from __future__ import annotations

import copy
import hashlib
import math
import re

import numpy as np
import pytest
from conftest import training_scale_params
from oracle import OracleTrainer, oracle_loss_and_grads

from rnntui.engine import (
    PARAM_NAMES,
    CheckpointError,
    Config,
    Corpus,
    CorpusError,
    Layout,
    Trainer,
    TrainerState,
    kernels,
    load_checkpoint,
    loss_and_grads,
    read_checkpoint,
    save_checkpoint,
)
from rnntui.engine import corpus as corpus_module
from rnntui.engine.checkpoint import checkpoint_arrays
from rnntui.engine.files import OutputError
from rnntui.engine.model import sample_indices, softmax_probs

TEXT = "the cat sat on the mat; the dog sat on the log.\n" * 3
RELATIVE = 1e-8  # the contract's tolerance over a run (relative)


# --- plain computations written from the contract ---------------------------------------
def plain_forward(params, inputs, hprev):
    """(hs (T, H), ys (T, V), ps (T, V)) of one window, one timestep at a time."""
    Wxh, Whh, Why, bh, by = (np.asarray(params[k], dtype=np.float64) for k in PARAM_NAMES)
    h = np.asarray(hprev, dtype=np.float64).ravel()
    hs, ys, ps = [], [], []
    for x in inputs:
        h = np.tanh(Wxh[:, x] + Whh @ h + bh.ravel())
        y = Why @ h + by.ravel()
        e = np.exp(y)
        hs.append(h)
        ys.append(y)
        ps.append(e / e.sum())
    return np.array(hs), np.array(ys), np.array(ps)


def plain_draw(p, u):
    """The first index whose cumulative probability exceeds u times the total (inverse CDF)."""
    total = math.fsum(p)
    running = 0.0
    for i, pi in enumerate(p):
        running += pi
        if u * total < running:
            return i
    return len(p) - 1


def plain_sample(params, h, seed_ix, n, temperature, rng):
    """Indices drawn from softmax(y / temperature), each fed back in, from hidden state h."""
    Wxh, Whh, Why, bh, by = (np.asarray(params[k], dtype=np.float64) for k in PARAM_NAMES)
    h = np.asarray(h, dtype=np.float64).copy()
    x, out = seed_ix, []
    for u in rng.random(n):
        h = np.tanh(Wxh[:, x] + Whh @ h + bh)
        z = (Why @ h + by) / temperature
        e = np.exp(z - z.max())
        x = plain_draw(e / e.sum(), u)
        out.append(x)
    return out


def window_by_the_rule(data, T, position, iteration, hprev):
    """(p, inputs, targets, hprev) of the next window: the contract's reset rule, then the slices."""
    if position + T + 1 >= len(data) or iteration == 0:
        position, hprev = 0, np.zeros_like(hprev)
    return position, data[position : position + T], data[position + 1 : position + T + 1], hprev


# --- the carried state: reset rule, window, hprev, p, n ---------------------------------
@pytest.mark.parametrize(
    "text, T",
    [
        ("abcdefghij" * 2 + "ab", 10),  # 2T + 2 characters: windows at 0, 10, then a wrap
        ("abcdefghij" * 2 + "a", 10),  # 2T + 1: p = 10 gives p + T + 1 == len, so every window starts over
        ("hello", 25),  # a short corpus: T_eff = 4
        (TEXT, 7),  # several windows in a row carry hprev before the wrap
    ],
)
def test_a_reference_that_carries_its_own_pointer_hidden_state_and_memory_follows_the_engine(text, T):
    """The contract's run equality: the reference takes only the engine's parameters before each
    iteration; its data pointer, hprev, iteration count, Adagrad memory and smooth loss are its own."""
    corpus = Corpus.from_text(text)
    trainer = Trainer(corpus, Config(hidden_size=12, seq_length=T, sample_every=0))
    reference = OracleTrainer(trainer.params, np.asarray(corpus.data), corpus.vocab_size, T)
    assert trainer.position == reference.p == 0 and trainer.iteration == 0
    np.testing.assert_array_equal(trainer.hprev, np.zeros(12))
    assert trainer.smooth_loss == pytest.approx(reference.smooth_loss, rel=1e-15)
    for n in range(12):
        reference.params = {k: v.copy() for k, v in trainer.params.items()}
        p_before = reference.p if reference.p + reference.seq_length + 1 < len(corpus) and n > 0 else 0
        want_loss = reference.step()
        record = trainer.step()
        assert record.position == p_before and record.iteration == n
        assert abs(record.loss - want_loss) <= RELATIVE * want_loss
        assert trainer.position == reference.p and trainer.iteration == reference.n == n + 1
        np.testing.assert_allclose(trainer.hprev, reference.hprev, rtol=RELATIVE, atol=1e-12)
        assert trainer.smooth_loss == pytest.approx(reference.smooth_loss, rel=RELATIVE)
        for name in PARAM_NAMES:
            np.testing.assert_allclose(trainer.params[name], reference.params[name], rtol=RELATIVE, atol=1e-12)
            np.testing.assert_allclose(trainer.memory[name], reference.mem[name], rtol=RELATIVE, atol=1e-14)


def test_next_window_is_the_reset_rule_applied_and_the_window_the_step_then_trains_on():
    corpus = Corpus.from_text("abcdefghij" * 2 + "ab")
    trainer = Trainer(corpus, Config(hidden_size=6, seq_length=10, sample_every=0))
    data = np.asarray(corpus.data)
    resets = 0
    for _ in range(6):
        want = window_by_the_rule(data, 10, trainer.position, trainer.iteration, trainer.hprev)
        position, inputs, targets, hprev = trainer.next_window()
        assert position == want[0]
        for got, expected in zip((inputs, targets, hprev), want[1:]):
            np.testing.assert_array_equal(got, expected)
        assert inputs.dtype.kind == targets.dtype.kind == "i"  # indices
        assert hprev.shape == (6,) and hprev.dtype == np.float64
        record = trainer.step()
        resets += record.reset
        assert record.position == position
        np.testing.assert_array_equal(record.inputs, inputs)
        np.testing.assert_array_equal(record.targets, targets)
        np.testing.assert_array_equal(record.hprev, hprev)
    assert resets >= 3  # the first window and the wraps were covered


def test_a_trainer_without_a_configuration_uses_the_contracts_defaults():
    trainer = Trainer(Corpus.from_text(TEXT))
    config = trainer.config
    assert (config.hidden_size, config.seq_length, config.learning_rate, config.clip) == (100, 25, 0.1, 5.0)
    assert trainer.params["Whh"].shape == (100, 100) and trainer.seq_length == 25


def test_record_logits_and_probabilities_are_those_of_the_parameters_before_the_update():
    trainer = Trainer(Corpus.from_text(TEXT), Config(hidden_size=10, seq_length=8, sample_every=0))
    for _ in range(3):
        trainer.step()
    params = {k: v.copy() for k, v in trainer.params.items()}
    _, inputs, _, hprev = trainer.next_window()
    hs, ys, ps = plain_forward(params, inputs, hprev)
    record = trainer.step()
    np.testing.assert_allclose(record.hs, hs, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(record.ys, ys, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(record.ps, ps, rtol=1e-10, atol=1e-16)
    assert record.learning_rate == 0.1 and record.clip == 5.0
    assert record.sample is None and record.sample_temperature is None


# --- sampling --------------------------------------------------------------------------------
@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_sample_indices_draw_from_the_softmax_at_the_temperature_feeding_each_draw_back(temperature):
    params = training_scale_params(9, 7, seed=3)
    h = np.random.default_rng(4).uniform(-1, 1, 7)
    got = sample_indices(params, h, 2, 60, temperature, np.random.default_rng(11))
    want = plain_sample(params, h, 2, 60, temperature, np.random.default_rng(11))
    assert got.tolist() == want


def test_a_draw_never_goes_past_the_last_character():
    V, H = 40, 3
    almost_one = np.nextafter(1.0, 0.0)  # the largest value a uniform draw in [0, 1) can take
    # logits whose cumulative sum of probabilities ends a rounding step below almost_one times their total
    by = next(y for y in (np.random.default_rng(s).standard_normal(V) for s in range(500))
              if np.cumsum(softmax_probs(y, 1.0))[-1] < almost_one * softmax_probs(y, 1.0).sum())
    params = {"Wxh": np.zeros((H, V)), "Whh": np.zeros((H, H)), "Why": np.zeros((V, H)), "bh": np.zeros(H), "by": by}

    class Uniforms:
        def random(self, n):
            return np.full(n, almost_one)

    assert sample_indices(params, np.zeros(H), 0, 3, 1.0, Uniforms()).tolist() == [V - 1] * 3
    params["by"] = np.where(np.arange(V) == V - 1, 60.0, 0.0)  # the last character takes (almost) all the mass
    drawn = sample_indices(params, np.zeros(H), 0, 50, 1.0, np.random.default_rng(0))
    assert drawn.tolist() == [V - 1] * 50


def test_softmax_probs_is_the_normalised_exponential_of_the_logits_over_the_temperature():
    y = np.array([0.3, -1.2, 2.0, 0.0])
    for temperature in (1.0, 0.25, 3.0):
        e = [math.exp(v / temperature) for v in y]
        np.testing.assert_allclose(softmax_probs(y, temperature), [v / math.fsum(e) for v in e], rtol=1e-14)
    large = np.array([800.0, 799.0, 0.0])  # exp(800) overflows: only the shifted form stays finite
    np.testing.assert_allclose(softmax_probs(large, 1.0), [1 / (1 + math.exp(-1)), 1 / (1 + math.e), 0.0],
                               rtol=1e-14, atol=1e-300)


def sampling_trainer() -> Trainer:
    """A trainer 5 steps in, with weights of the scale training reaches: each draw depends on the state
    (from the small first weights nearly every character is equally likely, whatever the state)."""
    trainer = Trainer(Corpus.from_text(TEXT), Config(hidden_size=10, seq_length=8, sample_every=0, temperature=0.8))
    for _ in range(5):
        trainer.step()
    state = trainer.state()
    strong = trainer.layout.flatten(training_scale_params(trainer.corpus.vocab_size, 10, seed=5))
    trainer.restore(TrainerState(strong, state.memory, state.hprev, state.position, state.iteration,
                                 state.smooth_loss, state.config))
    return trainer


def expected_sample(trainer, n, temperature, seed_ix, h):
    """The text the trainer's own generator gives (a copy of it, so the trainer's stays where it is)."""
    rng = copy.deepcopy(trainer._sample_rng)
    return "".join(trainer.vocab[i] for i in plain_sample(trainer.params, h, seed_ix, n, temperature, rng))


def test_trainer_sample_starts_from_the_given_state_seed_and_temperature():
    trainer = sampling_trainer()
    data = np.asarray(trainer.corpus.data)
    h = np.random.default_rng(2).uniform(-1, 1, 10)
    index = trainer.vocab.index
    cases = [
        ({}, 0.8, int(data[trainer.position]), trainer.hprev),  # defaults: the character at p, hprev, the config's temperature
        ({"temperature": 1.7}, 1.7, int(data[trainer.position]), trainer.hprev),
        ({"seed_char": "m"}, 0.8, index("m"), trainer.hprev),
        ({"hprev": h}, 0.8, int(data[trainer.position]), h),
        ({"seed_char": ""}, 0.8, 0, trainer.hprev),  # no seed character: the first of the vocabulary
    ]
    assert trainer.position != 0 and data[trainer.position] != 0
    texts = []
    for kwargs, temperature, seed_ix, hprev in cases:
        texts.append(expected_sample(trainer, 40, temperature, seed_ix, hprev))
        assert trainer.sample(40, **kwargs) == texts[-1], kwargs
    assert len(set(texts)) == len(cases)  # each case starts elsewhere: a sampler that ignored one would fail
    assert trainer.sample(0) == ""


def test_sample_seeds_from_the_first_character_when_the_pointer_is_past_the_training_text():
    trainer = sampling_trainer()
    state = trainer.state()
    trainer.restore(TrainerState(state.params, state.memory, state.hprev, len(trainer.corpus), state.iteration,
                                 state.smooth_loss, state.config))
    first = int(trainer.corpus.data[0])
    texts = [expected_sample(trainer, 30, 0.8, seed_ix, trainer.hprev) for seed_ix in range(trainer.corpus.vocab_size)]
    assert texts.count(texts[first]) == 1  # no other seed character gives this text
    assert trainer.sample(30) == texts[first]


@pytest.mark.parametrize("n, temperature", [(-1, 1.0), (5, 0.0), (5, -1.0), (5, math.inf), (5, math.nan)])
def test_sample_refuses_a_negative_length_and_a_temperature_that_is_not_a_positive_number(n, temperature):
    with pytest.raises(ValueError, match="n must be|temperature must be a finite number above 0"):
        sampling_trainer().sample(n, temperature=temperature)


def test_the_sampler_is_deterministic_and_draws_a_stream_of_its_own():
    config = Config(hidden_size=10, seq_length=8, sample_every=1, sample_length=60)
    a, b, c = (Trainer(Corpus.from_text(TEXT), config) for _ in range(3))
    text = a.sample(60)
    assert text == b.sample(60)  # the same seed: the same text
    # Before the first step the interactive sampler starts where iteration 0's sample starts (the same
    # parameters, hprev = 0, the first character): only its generator differs, so its text must too.
    assert c.step().sample != text


# --- the loss and the gradients of one window -----------------------------------------------
def test_loss_and_grads_takes_a_column_hidden_state_and_keeps_the_per_timestep_values():
    params = training_scale_params(6, 5, seed=8)
    inputs, targets = [0, 3, 5, 1, 1], [3, 5, 1, 1, 2]
    hprev = np.random.default_rng(6).uniform(-1, 1, 5)
    flat = loss_and_grads(params, inputs, targets, hprev)
    column = loss_and_grads(params, inputs, targets, hprev.reshape(5, 1))  # as the original program keeps it
    want_loss, want_grads, want_h = oracle_loss_and_grads(params, inputs, targets, hprev)
    for result in (flat, column):
        assert abs(result.loss - want_loss) <= 1e-10 * want_loss
        np.testing.assert_allclose(result.h_last, want_h, rtol=1e-10)
        for name in PARAM_NAMES:
            np.testing.assert_allclose(result.grads[name], want_grads[name], rtol=1e-9, atol=1e-12)
    hs, ys, ps = plain_forward(params, inputs, hprev)
    cache = flat.cache
    np.testing.assert_allclose(cache.hs_full[0], hprev)
    np.testing.assert_allclose(cache.hs_full[1:], hs, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(cache.ys, ys, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(cache.ps, ps, rtol=1e-10, atol=1e-16)
    np.testing.assert_allclose(cache.losses, -np.log(ps[np.arange(5), targets]), rtol=1e-10)


@pytest.mark.parametrize("inputs, targets", [([0, 1, 2], [1, 2]), ([], []), ([[0, 1]], [[1, 2]])])
def test_loss_and_grads_refuses_windows_that_are_not_two_equal_index_sequences(inputs, targets):
    params = training_scale_params(4, 3, seed=0)
    with pytest.raises(ValueError, match="inputs and targets must be 1-D index sequences of the same non-zero length"):
        loss_and_grads(params, inputs, targets, np.zeros(3))


def test_loss_and_grads_names_a_parameter_of_the_wrong_size():
    params = dict(training_scale_params(4, 3, seed=0), bh=np.zeros(5))
    with pytest.raises(ValueError, match="bh has shape"):
        loss_and_grads(params, [0, 1], [1, 2], np.zeros(3))


# --- clipping and Adagrad ---------------------------------------------------------------------
def test_clip_and_adagrad_over_parameters_longer_than_a_block(monkeypatch):
    """The NumPy twin updates a block at a time: sums and counts must add up over the blocks."""
    monkeypatch.setattr(kernels, "TWIN_BLOCK", 4)  # every parameter below spans several blocks
    layout = Layout(vocab_size=5, hidden_size=6)
    bounds = np.append(layout.offsets, layout.size).astype(np.int64)
    rng = np.random.default_rng(12)
    flat, mem = rng.standard_normal(layout.size), rng.uniform(0, 3, layout.size)
    grad = rng.standard_normal(layout.size) * 6
    grad[[0, 7, 40]] = 5.0, -5.0, 5.0  # exactly at the bound: inside [-clip, clip], so not clipped
    sums, counts = np.empty((5, 4)), np.empty(5, dtype=np.int64)
    before, mem_before = flat.copy(), mem.copy()

    kernels.clip_adagrad(flat, grad, mem, bounds, 5.0, 0.1, 1e-8, sums, counts)

    for k, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:])):
        g, w, m = grad[start:stop], before[start:stop], mem_before[start:stop]
        clipped = [min(max(v, -5.0), 5.0) for v in g]
        new_m = [mi + c * c for mi, c in zip(m, clipped)]
        update = [0.1 * c / math.sqrt(mi + 1e-8) for c, mi in zip(clipped, new_m)]
        np.testing.assert_allclose(mem[start:stop], new_m, rtol=1e-15)
        np.testing.assert_allclose(flat[start:stop], [wi - ui for wi, ui in zip(w, update)], rtol=1e-14, atol=1e-15)
        squares = [math.fsum(v * v for v in values) for values in (g, clipped, w, update)]
        np.testing.assert_allclose(sums[k], squares, rtol=1e-12)
        assert counts[k] == sum(abs(v) > 5.0 for v in g)


def test_update_ratios_are_the_update_norm_over_the_weight_norm_before_it():
    trainer = Trainer(Corpus.from_text(TEXT), Config(hidden_size=8, seq_length=9, sample_every=0))
    for n in range(3):
        before = {k: v.copy() for k, v in trainer.params.items()}
        record = trainer.step()
        for name in PARAM_NAMES:
            weight = np.linalg.norm(before[name])
            if weight == 0:  # the biases before the first update
                assert n == 0 and name in ("bh", "by") and math.isnan(record.update_ratios[name])
                continue
            ratio = np.linalg.norm(trainer.params[name] - before[name]) / weight
            assert record.update_ratios[name] == pytest.approx(ratio, rel=1e-9), (n, name)


# --- the vocabulary and its indices -------------------------------------------------------------
def sorted_vocabulary_and_indices(text):
    vocab = sorted(set(text))
    return tuple(vocab), [vocab.index(c) for c in text]


def test_vocabulary_counted_in_slices_misses_no_character(monkeypatch):
    monkeypatch.setattr(corpus_module, "_COUNT_CHUNK", 5)  # the corpus below is counted in six slices
    text = "A!zzz" + "zyx yxz zyx yxz zyx " + "q."  # "A" and "!" only in the first slice, "." in the last
    corpus = Corpus.from_text(text)
    vocab, indices = sorted_vocabulary_and_indices(text)
    assert corpus.vocab == vocab and corpus.data.tolist() == indices


@pytest.mark.parametrize("size, dtype", [(256, np.uint8), (257, np.uint16), (65536, np.uint16), (65537, np.uint32)])
def test_indices_fit_the_vocabulary_at_each_width(size, dtype):
    chars = [chr(c) for c in range(1, 0x20000) if not 0xD800 <= c <= 0xDFFF][:size]
    text = "".join(reversed(chars)) + chars[0]
    corpus = Corpus.from_text(text)
    assert corpus.vocab_size == size and corpus.data.dtype == dtype
    assert corpus.data[0] == size - 1 and corpus.data[-1] == 0 and corpus.data[-2] == 0
    assert len(np.unique(corpus.data)) == size


def test_corpus_indices_are_read_only():
    corpus = Corpus.from_text("hello")
    with pytest.raises(ValueError):
        corpus.data[0] = 1


def test_a_text_with_a_lone_surrogate_is_a_corpus_of_its_characters():
    text = "ab\udcffba"  # a lone surrogate, as errors="surrogateescape" leaves for an undecodable byte
    corpus = Corpus.from_text(text)
    vocab, indices = sorted_vocabulary_and_indices(text)
    assert corpus.vocab == vocab and corpus.data.tolist() == indices
    assert corpus.fingerprint == hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def test_encode_names_every_character_missing_from_the_vocabulary():
    corpus = Corpus.from_text("hello")  # vocabulary e h l o
    assert corpus.encode("oleh").tolist() == [3, 2, 0, 1]
    with pytest.raises(CorpusError, match="characters not in the corpus vocabulary: 'xz'"):
        corpus.encode("hzex")


def test_corpus_text_errors_name_the_problem():
    assert Corpus.from_text("ab").name == "<text>"
    with pytest.raises(CorpusError, match="corpus text must be a str, got bytes"):
        Corpus.from_text(b"hello")
    with pytest.raises(CorpusError, match=r"notes looks binary \(NUL character at offset 2\)"):
        Corpus.from_text("ab\x00c\x00", name="notes")
    with pytest.raises(CorpusError, match="notes has only 1 character"):
        Corpus.from_text("a", name="notes")


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_file_decoded_a_few_bytes_at_a_time_gives_the_texts_vocabulary_indices_and_fingerprint(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_module, "_CHUNK", 5)  # characters of two to four bytes straddle the pieces
    text = "naïve café: 日本語, ☃ and 𝄞\n" * 2
    path = write(tmp_path, "multi.txt", text.encode("utf-8"))
    corpus = Corpus.from_path(path)
    vocab, indices = sorted_vocabulary_and_indices(text)
    assert corpus.vocab == vocab and corpus.data.tolist() == indices and corpus.data.dtype == np.uint8
    assert corpus.fingerprint == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_the_fingerprint_is_of_the_text_whatever_the_files_encoding(tmp_path):
    text = "naïve café: 日本語\n"
    corpus = Corpus.from_path(write(tmp_path, "wide.txt", text.encode("utf-16")), encoding="utf-16")
    assert corpus.fingerprint == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert corpus.vocab == tuple(sorted(set(text)))


def test_a_file_that_decodes_to_a_lone_surrogate_is_a_corpus_of_its_characters(tmp_path):
    corpus = Corpus.from_path(write(tmp_path, "escaped.txt", b"ab\\ud800ba"), encoding="unicode_escape")
    text = "ab\ud800ba"
    vocab, indices = sorted_vocabulary_and_indices(text)
    assert corpus.vocab == vocab and corpus.data.tolist() == indices
    assert corpus.fingerprint == hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def test_files_the_decoder_reads_name_themselves_in_their_errors(tmp_path):
    nul = write(tmp_path, "nul.txt", "ab\x00c".encode("utf-16"))  # no NUL byte check for UTF-16: the decoded text is checked
    with pytest.raises(CorpusError, match=re.escape(f"{nul} looks binary (it decodes to NUL characters)")):
        Corpus.from_path(nul, encoding="utf-16")
    one = write(tmp_path, "one.txt", "é".encode("utf-8"))  # not ASCII: the decoder's path
    with pytest.raises(CorpusError, match=re.escape(f"{one} has only 1 character")):
        Corpus.from_path(one)


# --- checkpoints ---------------------------------------------------------------------------------
def trained(text: str, steps: int = 4) -> Trainer:
    trainer = Trainer(Corpus.from_text(text, name="notes"), Config(hidden_size=6, seq_length=5, sample_every=0))
    for _ in range(steps):
        trainer.step()
    return trainer


def test_the_highest_code_point_survives_a_checkpoint(tmp_path):
    trainer = trained("ab\U0010ffffba" * 4)
    save_checkpoint(trainer, tmp_path / "run.npz")
    resumed = load_checkpoint(tmp_path / "run.npz", trainer.corpus)
    assert resumed.vocab[-1] == "\U0010ffff" and resumed.iteration == 4


def test_a_checkpoint_holding_a_nul_in_its_vocabulary_was_trained_on_another_vocabulary(tmp_path):
    trainer = trained(TEXT)
    arrays = checkpoint_arrays(trainer)
    arrays["vocab"] = np.concatenate([[0], arrays["vocab"][1:]])  # NUL is a character, never one of a corpus
    np.savez(tmp_path / "run.npz", **arrays)
    with pytest.raises(CheckpointError, match="another vocabulary"):
        load_checkpoint(tmp_path / "run.npz", trainer.corpus)


def test_a_checkpoint_of_another_vocabulary_names_every_differing_character(tmp_path):
    trainer = trained(TEXT)
    arrays = checkpoint_arrays(trainer)
    arrays["vocab"] = np.concatenate([arrays["vocab"][:-2], [ord("X"), ord("Y")]])  # two characters swapped for others
    np.savez(tmp_path / "run.npz", **arrays)
    differing = sorted(set(trainer.vocab) ^ {chr(c) for c in arrays["vocab"]})
    assert len(differing) == 4
    with pytest.raises(CheckpointError, match=re.escape(f"differing in {''.join(differing)!r}")):
        load_checkpoint(tmp_path / "run.npz", trainer.corpus)


def test_a_checkpoint_records_its_corpus_and_knows_whether_it_is_resumed_on_the_same_text(tmp_path):
    trainer = trained(TEXT)
    assert trainer.checkpoint_fingerprint_matches is True  # a new run has nothing to disagree with
    save_checkpoint(trainer, tmp_path / "run.npz")
    arrays = read_checkpoint(tmp_path / "run.npz")
    assert str(arrays["corpus_name"]) == "notes" and int(arrays["corpus_length"]) == len(TEXT)
    assert load_checkpoint(tmp_path / "run.npz", trainer.corpus).checkpoint_fingerprint_matches is True
    edited = Corpus.from_text(TEXT[::-1], name="notes")  # the same characters in another text
    assert edited.vocab == trainer.corpus.vocab
    assert load_checkpoint(tmp_path / "run.npz", edited).checkpoint_fingerprint_matches is False


def test_a_checkpoint_that_cannot_be_written_says_it_is_a_checkpoint(tmp_path):
    with pytest.raises(OutputError, match="cannot write checkpoint"):
        save_checkpoint(trained(TEXT, 1), tmp_path / "missing" / "run.npz")


def test_a_checkpoint_missing_several_arrays_names_them_all(tmp_path):
    arrays = checkpoint_arrays(trained(TEXT, 1))
    del arrays["params"], arrays["memory"]
    np.savez(tmp_path / "run.npz", **arrays)
    with pytest.raises(CheckpointError, match="lacks params, memory;"):
        load_checkpoint(tmp_path / "run.npz", Corpus.from_text(TEXT))


def test_restore_refuses_a_state_of_another_layout():
    trainer, other = trained(TEXT, 1), trained(TEXT + "#", 1)  # one more character: another layout
    with pytest.raises(ValueError, match="state does not fit this trainer's layout"):
        trainer.restore(other.state())


def test_files_that_are_not_checkpoints_of_this_version_are_refused_with_the_reason(tmp_path):
    arrays = checkpoint_arrays(trained(TEXT, 1))
    text = write(tmp_path, "notes.npz", b"hello, not a zip archive")
    newer = tmp_path / "newer.npz"
    np.savez(newer, **dict(arrays, version=np.array(2)))
    unversioned = tmp_path / "unversioned.npz"
    np.savez(unversioned, **{k: v for k, v in arrays.items() if k != "version"})
    for path, words in [
        (text, f"{text} is not an rnntui checkpoint"),
        (tmp_path, f"{tmp_path} is a directory, not a checkpoint"),
        (newer, f"{newer} is checkpoint version 2; this rnntui reads version 1"),
        (unversioned, f"{unversioned} lacks version"),
    ]:
        with pytest.raises(CheckpointError, match=re.escape(words)):
            read_checkpoint(path)
