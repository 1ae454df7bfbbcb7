"""Damaged checkpoints that still parse are refused at load with one line naming what is wrong;
a non-finite training state is never saved."""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import numpy as np
import pytest

from rnntui.engine import PARAM_NAMES, CheckpointError, Config, Corpus, Trainer, load_checkpoint, save_checkpoint
from rnntui.engine.checkpoint import NonFiniteStateError, save_checkpoint_with_fallback

H, T, STEPS = 8, 6, 5
TEXT = "the quick brown fox jumps over the lazy dog.\n" * 4


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus.from_text(TEXT, name="fox")


@pytest.fixture(scope="module")
def good(corpus, tmp_path_factory) -> dict[str, np.ndarray]:
    """The arrays of an intact checkpoint after STEPS iterations."""
    trainer = Trainer(corpus, Config(hidden_size=H, seq_length=T, sample_every=0))
    for _ in range(STEPS):
        trainer.step()
    trainer.set_hyperparameters(learning_rate=0.05)  # one event in the history
    path = tmp_path_factory.mktemp("good") / "good.npz"
    save_checkpoint(trainer, path)
    with np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def offsets(V: int) -> dict[str, tuple[int, int]]:
    """Where each parameter lies in the flat vector: Wxh (H, V), Whh (H, H), Why (V, H), bh (H), by (V), in order."""
    sizes = {"Wxh": H * V, "Whh": H * H, "Why": V * H, "bh": H, "by": V}
    out, start = {}, 0
    for name in PARAM_NAMES:
        out[name] = (start, start + sizes[name])
        start += sizes[name]
    return out


def write(tmp_path: Path, arrays: dict[str, np.ndarray], **changes) -> Path:
    """The good arrays with ``changes`` applied, written back with np.savez."""
    path = tmp_path / "run.npz"
    np.savez(path, **{**arrays, **changes})
    return path


def refusal(path: Path, corpus: Corpus) -> str:
    """The one-line message load_checkpoint refuses ``path`` with."""
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, corpus)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    return message


def with_value(arr: np.ndarray, index, value) -> np.ndarray:
    out = np.array(arr, copy=True)
    out[index] = value
    return out


def test_the_intact_checkpoint_loads(tmp_path, good, corpus):
    trainer = load_checkpoint(write(tmp_path, good), corpus)
    assert trainer.iteration == STEPS and len(trainer.history) == STEPS


# --- values --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, index, value, words",
    [
        ("Whh", 3, math.nan, "parameters hold NaN (Whh)"),
        ("by", -1, math.inf, "parameters hold infinity (by)"),
        ("Wxh", 0, -math.inf, "parameters hold infinity (Wxh)"),
    ],
)
def test_non_finite_parameters_are_named(tmp_path, good, corpus, name, index, value, words):
    start, stop = offsets(corpus.vocab_size)[name]
    params = with_value(good["params"], range(start, stop)[index], value)
    message = refusal(write(tmp_path, good, params=params), corpus)
    assert message == f"{tmp_path / 'run.npz'}: the {words}; use an intact checkpoint"


def test_nan_and_infinity_in_two_parameters_are_both_named(tmp_path, good, corpus):
    where = offsets(corpus.vocab_size)
    params = with_value(good["params"], where["Wxh"][0], math.nan)
    params[where["bh"][0]] = math.inf
    assert "parameters hold NaN and infinity (Wxh, bh)" in refusal(write(tmp_path, good, params=params), corpus)


def test_non_finite_adagrad_memory_is_named(tmp_path, good, corpus):
    memory = with_value(good["memory"], offsets(corpus.vocab_size)["Why"][0], math.nan)
    assert "Adagrad memory holds NaN (Why)" in refusal(write(tmp_path, good, memory=memory), corpus)


def test_negative_adagrad_memory_is_refused(tmp_path, good, corpus):
    memory = with_value(good["memory"], offsets(corpus.vocab_size)["bh"][0], -1e-3)
    assert "Adagrad memory is negative in bh" in refusal(write(tmp_path, good, memory=memory), corpus)


@pytest.mark.parametrize("value, words", [(math.nan, "holds NaN"), (math.inf, "holds infinity"), (1.5, "lies outside [-1, 1]")])
def test_a_carried_hidden_state_no_tanh_gives_is_refused(tmp_path, good, corpus, value, words):
    hprev = with_value(good["hprev"], 2, value)
    assert f"carried hidden state {words}" in refusal(write(tmp_path, good, hprev=hprev), corpus)


@pytest.mark.parametrize("value, words", [(math.nan, "is NaN"), (math.inf, "is infinite")])
def test_a_non_finite_smooth_loss_is_refused(tmp_path, good, corpus, value, words):
    message = refusal(write(tmp_path, good, smooth_loss=np.array(value)), corpus)
    assert f"smooth loss {words}" in message


@pytest.mark.parametrize(
    "key, row, value, words",
    [
        ("history_loss", 2, math.nan, "loss history holds NaN at iteration 2"),
        ("history_loss", 0, math.inf, "loss history holds infinity at iteration 0"),
        ("history_smooth", 4, math.inf, "smooth-loss history holds infinity at iteration 4"),
        ("history_grad", (1, 3), math.nan, "gradient-norm history holds NaN or a negative norm at iteration 1"),
        ("history_clipped", (3, 0), -1.0, "clipped-norm history holds NaN or a negative norm at iteration 3"),
    ],
)
def test_impossible_history_values_are_refused(tmp_path, good, corpus, key, row, value, words):
    damaged = with_value(good[key], row, value)
    assert words in refusal(write(tmp_path, good, **{key: damaged}), corpus)


def test_an_overflowed_gradient_norm_is_accepted(tmp_path, good, corpus):
    """A raw gradient norm beyond float32 (stored as +inf) happens in a healthy run: clipping keeps the state finite."""
    grads = with_value(good["history_grad"], (2, 1), np.inf)
    trainer = load_checkpoint(write(tmp_path, good, history_grad=grads), corpus)
    assert np.isinf(trainer.history.grad_norms[2, 1])


def test_an_iteration_count_that_disagrees_with_the_history_is_refused(tmp_path, good, corpus):
    message = refusal(write(tmp_path, good, iteration=np.array(STEPS - 1)), corpus)
    assert f"iteration count {STEPS - 1} disagrees with the {STEPS} rows of the loss history" in message
    shorter = {key: good[key][:-1] for key in ("history_loss", "history_smooth", "history_grad", "history_clipped")}
    assert "disagrees" in refusal(write(tmp_path, good, **shorter), corpus)


def test_histories_of_different_shapes_are_refused(tmp_path, good, corpus):
    assert "different lengths" in refusal(write(tmp_path, good, history_grad=good["history_grad"][:, :4]), corpus)
    assert "different lengths" in refusal(write(tmp_path, good, history_smooth=good["history_smooth"][:-1]), corpus)


# --- kinds and shapes ----------------------------------------------------------------------------------


def complex_of(arr):
    return np.asarray(arr).astype(np.complex128)


def int_of(arr):
    return np.asarray(arr).astype(np.int64)


@pytest.mark.parametrize(
    "key, damage, words",
    [
        ("params", complex_of, "parameters (params) stored as complex128"),
        ("params", int_of, "parameters (params) stored as int64"),
        ("memory", int_of, "Adagrad memory (memory) stored as int64"),
        ("hprev", complex_of, "carried hidden state (hprev) stored as complex128"),
        ("smooth_loss", int_of, "smooth loss (smooth_loss) stored as int64"),
        ("smooth_loss", complex_of, "smooth loss (smooth_loss) stored as complex128"),
        ("smooth_loss", lambda a: np.array([a]), "smooth loss (smooth_loss) stored as float64 with shape (1,), not one real float"),
        ("history_loss", int_of, "loss history (history_loss) stored as int64"),
        ("history_smooth", complex_of, "smooth-loss history (history_smooth) stored as complex128"),
        ("history_grad", complex_of, "gradient-norm history (history_grad) stored as complex128"),
        ("history_clipped", lambda a: a[:, 0], "clipped-norm history (history_clipped) stored as float32 with shape"),
        ("iteration", lambda a: np.array(float(a)), "iteration count (iteration) stored as float64"),
        ("iteration", lambda a: np.array([a, a]), "iteration count (iteration) stored as int64 with shape (2,)"),
        ("position", lambda a: np.array(str(a)), "data position (position) stored as <U"),
        ("vocab", lambda a: a.astype(np.float64), "vocabulary (vocab) stored as float64"),
        ("config", lambda a: np.array([str(a)]), "configuration (config) stored as <U"),
        ("fingerprint", lambda a: np.array(3), "corpus fingerprint (fingerprint) stored as int64"),
        ("history_event_iter", lambda a: a.astype(np.float64), "event iterations (history_event_iter) stored as float64"),
        ("params", lambda a: a > 0, "parameters (params) stored as bool"),
    ],
)
def test_wrong_kinds_and_shapes_are_refused(tmp_path, good, corpus, key, damage, words):
    message = refusal(write(tmp_path, good, **{key: damage(good[key])}), corpus)
    assert words in message and message.endswith("; use an intact checkpoint")


def test_a_version_that_is_not_an_integer_is_refused(tmp_path, good, corpus):
    assert "format version (version) stored as <U1" in refusal(write(tmp_path, good, version=np.array("1")), corpus)


def test_unpaired_events_are_refused(tmp_path, good, corpus):
    texts = np.append(good["history_event_text"], "extra")
    assert "do not pair up" in refusal(write(tmp_path, good, history_event_text=texts), corpus)


# --- vocabulary and configuration --------------------------------------------------------------------


def test_a_vocabulary_in_another_order_says_so(tmp_path, good, corpus):
    message = refusal(write(tmp_path, good, vocab=good["vocab"][::-1].copy()), corpus)
    assert f"the same {corpus.vocab_size} characters as the corpus fox but in a different order" in message
    assert "differing in ''" not in message and "--resume" in message


def test_a_vocabulary_with_a_repeated_character_says_so(tmp_path, good, corpus):
    vocab = np.append(good["vocab"], good["vocab"][0])
    assert "lists some characters more than once" in refusal(write(tmp_path, good, vocab=vocab), corpus)


def test_a_vocabulary_of_non_characters_is_refused(tmp_path, good, corpus):
    vocab = with_value(good["vocab"], -1, 0x110000)
    assert "not Unicode characters" in refusal(write(tmp_path, good, vocab=vocab), corpus)


def test_another_vocabulary_still_names_the_differing_characters(tmp_path, good, corpus):
    vocab = with_value(good["vocab"], -1, ord("Z"))
    message = refusal(write(tmp_path, good, vocab=vocab), corpus)
    assert "another vocabulary" in message and "differing in" in message and "Z" in message


def test_a_configuration_that_is_not_an_object_is_refused(tmp_path, good, corpus):
    assert "invalid configuration" in refusal(write(tmp_path, good, config=np.array("[1, 2]")), corpus)


def test_a_huge_hidden_size_is_refused_before_anything_that_size_is_made(tmp_path, good, corpus):
    config = json.loads(str(good["config"]))
    config["hidden_size"] = 10**7  # a Trainer this size would need petabytes
    message = refusal(write(tmp_path, good, config=np.array(json.dumps(config))), corpus)
    assert "parameters of the wrong size" in message


# --- saving a non-finite state -------------------------------------------------------------------------


@pytest.fixture
def diverged(corpus) -> Trainer:
    """A trainer whose state went non-finite through training (a learning rate far too large)."""
    trainer = Trainer(corpus, Config(hidden_size=H, seq_length=T, sample_every=0, learning_rate=1e300))
    for _ in range(200):
        if trainer.step().nonfinite:
            break
    state = trainer.state()
    assert not (np.isfinite(state.params).all() and np.isfinite(state.hprev).all() and math.isfinite(state.smooth_loss))
    return trainer


def expected_nonfinite(trainer: Trainer) -> tuple[str, list[str]]:
    """What the refusal must name: the first non-finite part in the order params, memory, hprev, smooth loss."""
    state = trainer.state()
    for subject, flat in (("the parameters hold", state.params), ("the Adagrad memory holds", state.memory)):
        bad = [name for name, part in trainer.layout.views(flat).items() if not np.isfinite(part).all()]
        if bad:
            return subject, bad
    if not np.isfinite(state.hprev).all():
        return "the carried hidden state holds", []
    return "the smooth loss is", []


def test_a_non_finite_state_is_not_saved_and_the_old_file_is_kept(tmp_path, diverged):
    path = tmp_path / "run.npz"
    path.write_bytes(b"old")
    with pytest.raises(NonFiniteStateError) as err:
        save_checkpoint(diverged, path)
    message = str(err.value)
    assert isinstance(err.value, CheckpointError) and "\n" not in message and str(path) in message
    subject, names = expected_nonfinite(diverged)
    assert err.value.nonfinite.startswith(subject) and all(name in err.value.nonfinite for name in names)
    assert err.value.nonfinite in message
    again = pickle.loads(pickle.dumps(err.value))
    assert type(again) is NonFiniteStateError and str(again) == message and again.nonfinite == err.value.nonfinite
    with pytest.raises(NonFiniteStateError):
        save_checkpoint_with_fallback(diverged, path)
    assert path.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["run.npz"]
