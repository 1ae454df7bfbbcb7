"""Damaged checkpoints that still parse are refused at load with one line naming what is wrong;
a non-finite training state is never saved."""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import numpy as np
import pytest

from rnntui import cli
from rnntui.engine import PARAM_NAMES, CheckpointError, Config, Corpus, Trainer, load_checkpoint, save_checkpoint
from rnntui.engine.checkpoint import NonFiniteStateError, save_checkpoint_with_fallback
from rnntui.engine.session import RunEnd, Session, open_session

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
    assert "hidden_size must be a whole number from 1 to 20,000, got 10000000" in message


def test_a_hidden_size_the_arrays_do_not_have_is_refused_before_anything_that_size_is_made(tmp_path, good, corpus):
    config = json.loads(str(good["config"]))
    config["hidden_size"] = 20_000  # allowed, but the saved arrays are H=8
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


# --- not a checkpoint at all ---------------------------------------------------------------------------


def test_a_plain_npy_file_is_not_a_checkpoint(tmp_path, good, corpus):
    path = tmp_path / "run.npy"
    np.save(path, good["params"])  # one array, not an archive of them
    assert "is not an rnntui checkpoint; give a file written by --save or ctrl+s" in refusal(path, corpus)


# --- the run's own fields ------------------------------------------------------------------------------


def test_a_negative_smooth_loss_is_refused(tmp_path, good, corpus):
    assert "smooth loss -0.5 is negative" in refusal(write(tmp_path, good, smooth_loss=np.array(-0.5)), corpus)


@pytest.mark.parametrize("key, words", [("history_loss", "loss history"), ("history_smooth", "smooth-loss history")])
def test_a_negative_loss_in_the_history_is_refused(tmp_path, good, corpus, key, words):
    damaged = with_value(good[key], 3, -1e-9)
    assert f"{words} holds a negative loss at iteration 3" in refusal(write(tmp_path, good, **{key: damaged}), corpus)


def test_a_clipped_norm_above_its_raw_norm_is_refused(tmp_path, good, corpus):
    clipped = with_value(good["history_clipped"], (2, 4), 2 * good["history_grad"][2, 4] + 1)
    message = refusal(write(tmp_path, good, history_clipped=clipped), corpus)
    assert "clipped gradient norm exceeds its raw norm at iteration 2" in message


def test_clipped_norms_equal_to_the_raw_ones_are_accepted(tmp_path, good, corpus):
    """Nothing clipped: the two norms are the same number."""
    trainer = load_checkpoint(write(tmp_path, good, history_clipped=good["history_grad"].copy()), corpus)
    assert np.array_equal(trainer.history.clipped_norms, good["history_grad"])


@pytest.mark.parametrize("date", [-1, STEPS + 1])
def test_an_event_dated_outside_the_run_is_refused(tmp_path, good, corpus, date):
    events = {"history_event_iter": np.array([2, date]), "history_event_text": np.array(["a", "b"])}
    assert f"event is dated iteration {date}, outside the run's 0 to {STEPS}" in refusal(write(tmp_path, good, **events), corpus)


def test_events_dated_from_0_to_the_checkpoint_iteration_are_accepted(tmp_path, good, corpus):
    """A change made before the next step is dated with the checkpoint's own iteration."""
    events = {"history_event_iter": np.array([0, STEPS]), "history_event_text": np.array(["a", "b"])}
    trainer = load_checkpoint(write(tmp_path, good, **events), corpus)
    assert [(e.iteration, e.text) for e in trainer.history.events] == [(0, "a"), (STEPS, "b")]


def config_with(good, **changes) -> np.ndarray:
    """The good configuration JSON with ``changes`` (a value of None removes the field)."""
    values = {**json.loads(str(good["config"])), **changes}
    return np.array(json.dumps({k: v for k, v in values.items() if v is not None}))


@pytest.mark.parametrize(
    "changes, words",
    [({"seed": None}, "(no seed)"), ({"eval_every": None, "clip": None}, "(no clip)"),
     ({"momentum": 0.9}, "(unknown momentum)"), ({"seed": None, "zz": 1}, "(no seed and unknown zz)")],
)
def test_a_configuration_missing_a_field_or_with_an_unknown_one_is_refused(tmp_path, good, corpus, changes, words):
    message = refusal(write(tmp_path, good, config=config_with(good, **changes)), corpus)
    assert f"holds an invalid configuration {words}; use an intact checkpoint" in message


def test_a_checkpoint_from_before_the_held_out_settings_runs_with_their_defaults(tmp_path, good, corpus):
    """The first checkpoints had no val_frac and no eval_every: they resume as the runs they were."""
    path = write(tmp_path, good, config=config_with(good, val_frac=None, eval_every=None))
    trainer = load_checkpoint(path, corpus)
    saved = json.loads(str(good["config"]))
    assert (trainer.config.val_frac, trainer.config.eval_every) == (0.0, 0)
    assert trainer.config.hidden_size == saved["hidden_size"] and trainer.config.seed == saved["seed"]


def test_an_invalid_configuration_value_gives_one_fix(tmp_path, good, corpus):
    message = refusal(write(tmp_path, good, config=config_with(good, hidden_size=8.0)), corpus)
    assert message.endswith("(hidden_size must be a whole number, got 8.0); use an intact checkpoint")


@pytest.mark.parametrize(
    "fingerprint", ["abc", "A" * 64, "g" * 64, "0" * 65, ""],
)
def test_a_fingerprint_that_is_not_a_sha256_is_refused(tmp_path, good, corpus, fingerprint):
    message = refusal(write(tmp_path, good, fingerprint=np.array(fingerprint)), corpus)
    assert "the corpus fingerprint" in message and "is not a sha256 (64 hex digits)" in message


def test_another_texts_fingerprint_is_not_refused(tmp_path, good, corpus):
    trainer = load_checkpoint(write(tmp_path, good, fingerprint=np.array("0" * 64)), corpus)
    assert not trainer.checkpoint_fingerprint_matches


@pytest.mark.parametrize(
    "value, words",
    [(np.array(1), "corpus length 1 is below 2"), (np.array(-7), "corpus length -7 is below 2"),
     (np.array([len(TEXT)]), "corpus length (corpus_length) stored as int64 with shape (1,)"),
     (np.array(float(len(TEXT))), "corpus length (corpus_length) stored as float64")],
)
def test_an_impossible_corpus_length_is_refused(tmp_path, good, corpus, value, words):
    assert words in refusal(write(tmp_path, good, corpus_length=value), corpus)


@pytest.mark.parametrize("key", ["corpus_length", "corpus_name", "fingerprint"])
def test_a_missing_corpus_fact_is_refused(tmp_path, good, corpus, key):
    path = tmp_path / "run.npz"
    np.savez(path, **{k: v for k, v in good.items() if k != key})
    assert f"lacks {key}" in refusal(path, corpus)


# --- what a Session adds: evaluations, branches --------------------------------------------------------

VAL_FRAC, EVAL_EVERY = 0.2, 5


@pytest.fixture(scope="module")
def saved_session(corpus, tmp_path_factory) -> tuple[Session, dict[str, np.ndarray]]:
    """A session saved after 16 iterations: evaluations on a held-out part (scheduled and on demand),
    a kept branch 'main' (iterations 0 to 19) left by a learning-rate change at iteration 9, a breakpoint;
    and the arrays of its checkpoint."""
    session = Session(Trainer(corpus, Config(hidden_size=H, seq_length=T, sample_every=0, val_frac=VAL_FRAC,
                                             eval_every=EVAL_EVERY)))
    session.run(20, lambda: False)
    session.evaluate_now()  # on demand at 20: one past the kept branch's furthest iteration
    session.goto(8)
    session.set_hyperparameters(learning_rate=0.05)
    session.run(6, lambda: False)
    session.evaluate_now()  # on demand at 15, then the scheduled one at 15
    session.run(1, lambda: False)
    session.evaluate_now()  # on demand at 16, the checkpoint's own iteration
    session.breakpoints.add("every 50")
    path = tmp_path_factory.mktemp("session") / "session.npz"
    session.save(path)
    with np.load(path, allow_pickle=False) as npz:
        return session, {key: npz[key] for key in npz.files}


@pytest.fixture
def session_arrays(saved_session) -> dict[str, np.ndarray]:
    return saved_session[1]


def opening_refusal(path: Path, corpus: Corpus) -> str:
    """The one-line message opening ``path`` as a resumed session is refused with."""
    with pytest.raises(CheckpointError) as err:
        open_session(corpus, resume=path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{path}: ") and message.endswith("; use an intact checkpoint")
    return message


def test_the_session_checkpoint_is_what_the_tests_below_damage(saved_session, corpus):
    session, arrays = saved_session
    assert session.trainer.held_out_corpus is not None and int(arrays["iteration"]) == 16
    assert [(e.iteration, e.on_demand) for e in session.evaluations] == [
        (0, False), (5, False), (10, False), (15, False), (15, True), (16, True)]
    assert [(b.name, b.live, b.forked_at, b.furthest) for b in session.branches] == [
        ("main", False, None, 19), ("branch 1", True, 9, 15)]
    assert [e.iteration for e in session.branches[0].evaluations] == [0, 5, 10, 15, 20]


def test_a_saved_session_loads_with_everything_it_had(tmp_path, saved_session, corpus):
    session, arrays = saved_session
    resumed = open_session(corpus, resume=write(tmp_path, arrays))
    assert resumed.trainer.iteration == 16 and resumed.trainer.config.learning_rate == 0.05
    assert resumed.evaluations == session.evaluations_until(16)
    assert all(e.val_nats is not None for e in resumed.evaluations)
    kept, live = resumed.branches[0], resumed.branches[-1]
    original = session.branches[0]
    assert (kept.name, kept.forked_at, kept.change, kept.furthest) == ("main", None, "", 19)
    assert np.array_equal(kept.smooth, original.smooth) and kept.evaluations == original.evaluations
    assert (live.name, live.forked_at, live.change) == ("branch 1", 9, "learning_rate 0.1 -> 0.05")
    assert [str(bp) for bp in resumed.breakpoints] == [str(bp) for bp in session.breakpoints]
    assert [(e.iteration, e.text) for e in resumed.trainer.history.events] == [
        (e.iteration, e.text) for e in session.trainer.history.events]


def test_a_diverged_branch_is_saved_and_loads(tmp_path, corpus):
    """A line that diverged, then was left by going back: its curve ends in NaN and its model evaluates to NaN."""
    session = Session(Trainer(corpus, Config(hidden_size=H, seq_length=T, sample_every=0, learning_rate=1e300)))
    assert session.run(50, lambda: False).end is RunEnd.DIVERGED
    assert math.isnan(session.evaluate_now().train_nats)
    session.goto(0)
    session.set_hyperparameters(learning_rate=0.1)
    session.save(tmp_path / "run.npz")
    kept = open_session(corpus, resume=tmp_path / "run.npz").branches[0]
    original = session.branches[0]
    assert kept.furthest == original.furthest and np.array_equal(kept.smooth, original.smooth, equal_nan=True)
    assert not np.isfinite(kept.smooth[-1]) and math.isnan(kept.evaluations[-1].train_nats)


def test_a_branch_left_before_its_first_step_is_saved_and_loads(tmp_path, corpus):
    """Branching at iteration 5 and switching back at once keeps 'branch 1' with forked_at one past its furthest."""
    session = Session(Trainer(corpus, Config(hidden_size=H, seq_length=T, sample_every=0)))
    session.run(10, lambda: False)
    session.goto(4)
    session.set_hyperparameters(learning_rate=0.05)
    session.switch_branch("main")
    session.save(tmp_path / "run.npz")
    kept = open_session(corpus, resume=tmp_path / "run.npz").branches[0]
    assert (kept.name, kept.forked_at, kept.furthest, len(kept.smooth)) == ("branch 1", 5, 4, 5)


def evaluation_rows(arrays, row, column, value) -> dict[str, np.ndarray]:
    """The session's evaluations with one entry changed (column: iteration, train, val, on_demand)."""
    columns = ("iteration", "train", "val", "on_demand")
    return {"extra_evaluations": with_value(arrays["extra_evaluations"], (row, columns.index(column)), value)}


@pytest.mark.parametrize(
    "row, column, value, words",
    [
        (2, "train", math.inf, "evaluation row 2: training loss inf nats is not finite"),
        (1, "train", -0.25, "evaluation row 1: training loss -0.25 nats is negative"),
        (3, "val", math.inf, "evaluation row 3: held-out loss inf nats is not finite"),
        (0, "val", -1.0, "evaluation row 0: held-out loss -1.0 nats is negative"),
        (5, "iteration", 17, "evaluation row 5: iteration 17 lies beyond the checkpoint's iteration 16"),
        (2, "iteration", 2.5, "evaluation row 2: iteration 2.5 is not a whole number"),
        (0, "iteration", math.inf, "evaluation row 0: iteration inf is not a whole number"),
        (4, "on_demand", 0.5, "evaluation row 4: on-demand flag 0.5 is neither 0 nor 1"),
        (0, "on_demand", 2.0, "evaluation row 0: on-demand flag 2.0 is neither 0 nor 1"),
        (2, "iteration", 1, "evaluation row 2: out of order"),
        (4, "on_demand", 0.0, "evaluation row 4: out of order"),  # a second scheduled evaluation at 15
    ],
)
def test_impossible_evaluations_are_refused(tmp_path, session_arrays, corpus, row, column, value, words):
    path = write(tmp_path, session_arrays, **evaluation_rows(session_arrays, row, column, value))
    message = opening_refusal(path, corpus)
    assert f"the saved evaluations are damaged ({words}" in message


def test_evaluations_in_reverse_order_are_refused(tmp_path, session_arrays, corpus):
    reversed_rows = session_arrays["extra_evaluations"][::-1].copy()
    message = opening_refusal(write(tmp_path, session_arrays, extra_evaluations=reversed_rows), corpus)
    assert "evaluation row 1: out of order" in message


def test_an_evaluation_without_a_held_out_figure_is_accepted(tmp_path, saved_session, corpus):
    session, arrays = saved_session
    resumed = open_session(corpus, resume=write(tmp_path, arrays, **evaluation_rows(arrays, 1, "val", math.nan)))
    assert resumed.evaluations[1].val_nats is None and resumed.evaluations[2] == session.evaluations[2]


def with_json(arrays, key: str, change) -> dict[str, np.ndarray]:
    """``{key: ...}``: the JSON in ``arrays[key]`` after ``change(value)`` (which edits it in place)."""
    value = json.loads(str(arrays[key]))
    change(value)
    return {key: np.array(json.dumps(value))}


def kept_fact(name: str, value):
    return lambda meta: meta[0].__setitem__(name, value)


def live_fact(name: str, value):
    return lambda live: live.__setitem__(name, value)


def without(name: str):
    return lambda facts: (facts[0] if isinstance(facts, list) else facts).pop(name)


@pytest.mark.parametrize(
    "key, change, words",
    [
        ("extra_branch_meta", kept_fact("forked_at", 21), "branch 'main' forked at iteration 21, beyond its furthest iteration 19"),
        ("extra_branch_meta", kept_fact("forked_at", -1), "kept branch 0 has forked_at -1"),
        ("extra_branch_meta", kept_fact("forked_at", 3.0), "kept branch 0 has forked_at 3.0"),
        ("extra_branch_meta", kept_fact("furthest", -1), "kept branch 0 has furthest -1"),
        ("extra_branch_meta", kept_fact("furthest", True), "kept branch 0 has furthest True"),
        ("extra_branch_meta", kept_fact("furthest", 18), "branch 'main' has a smooth-loss curve of float64 (20,), not 19 floats"),
        ("extra_branch_meta", kept_fact("name", ""), "kept branch 0 has name ''"),
        ("extra_branch_meta", kept_fact("name", 7), "kept branch 0 has name 7"),
        ("extra_branch_meta", kept_fact("name", "branch 1"), "two lines are named 'branch 1'"),
        ("extra_branch_meta", kept_fact("name", "branch 2"), "'branch 2' is numbered beyond the 1 branches made"),
        ("extra_branch_meta", kept_fact("extra", 1), "kept branch 0 has unknown extra"),
        ("extra_branch_meta", without("furthest"), "kept branch 0 lacks furthest"),
        ("extra_branch_meta", lambda meta: meta.append(dict(meta[0])), "branch 'main' lacks branch_smooth_1"),
        ("extra_branch_meta", lambda meta: meta[0].clear(), "kept branch 0 lacks name, forked_at, change, furthest"),
        ("extra_branch_live", live_fact("made", -1), "the live line has made -1"),
        ("extra_branch_live", live_fact("name", "main"), "two lines are named 'main'"),
        ("extra_branch_live", live_fact("forked_at", -3), "the live line has forked_at -3"),
        ("extra_branch_live", live_fact("made", 0), "'branch 1' is numbered beyond the 0 branches made"),
        ("extra_branch_live", without("change"), "the live line lacks change"),
    ],
)
def test_impossible_branch_facts_are_refused(tmp_path, session_arrays, corpus, key, change, words):
    message = opening_refusal(write(tmp_path, session_arrays, **with_json(session_arrays, key, change)), corpus)
    assert f"the saved branches are damaged ({words}" in message


def test_two_kept_branches_with_one_name_are_refused(tmp_path, session_arrays, corpus):
    twice = with_json(session_arrays, "extra_branch_meta", lambda meta: meta.append(dict(meta[0])))
    copies = {"extra_branch_smooth_1": session_arrays["extra_branch_smooth_0"],
              "extra_branch_evaluations_1": session_arrays["extra_branch_evaluations_0"]}
    message = opening_refusal(write(tmp_path, session_arrays, **twice, **copies), corpus)
    assert "two lines are named 'main'" in message


def curve_with(arrays, index, value) -> dict[str, np.ndarray]:
    return {"extra_branch_smooth_0": with_value(arrays["extra_branch_smooth_0"], index, value)}


@pytest.mark.parametrize(
    "changes, words",
    [
        (lambda a: curve_with(a, 7, math.nan), "branch 'main' has a smooth loss of nan at iteration 7 but finite ones after it"),
        (lambda a: curve_with(a, 0, math.inf), "branch 'main' has a smooth loss of inf at iteration 0 but finite ones after it"),
        (lambda a: curve_with(a, 4, -2.0), "branch 'main' has a negative smooth loss at iteration 4"),
        (lambda a: curve_with(a, -1, -math.inf), "branch 'main' has a negative smooth loss at iteration 19"),
        (lambda a: {"extra_branch_smooth_0": a["extra_branch_smooth_0"][:-1]},
         "branch 'main' has a smooth-loss curve of float64 (19,), not 20 floats (iterations 0 to 19)"),
        (lambda a: {"extra_branch_smooth_0": np.stack([a["extra_branch_smooth_0"]] * 2)},
         "branch 'main' has a smooth-loss curve of float64 (2, 20), not 20 floats"),
        (lambda a: {"extra_branch_smooth_0": a["extra_branch_smooth_0"].astype(np.int64)},
         "branch 'main' has a smooth-loss curve of int64 (20,)"),
    ],
)
def test_an_impossible_branch_curve_is_refused(tmp_path, session_arrays, corpus, changes, words):
    message = opening_refusal(write(tmp_path, session_arrays, **changes(session_arrays)), corpus)
    assert f"the saved branches are damaged ({words}" in message


def test_a_curve_that_diverged_and_stayed_diverged_is_accepted(tmp_path, session_arrays, corpus):
    curve = session_arrays["extra_branch_smooth_0"].copy()
    curve[15:17], curve[17:] = math.inf, math.nan  # inf, then NaN once a NaN loss came in
    branch = open_session(corpus, resume=write(tmp_path, session_arrays, extra_branch_smooth_0=curve)).branches[0]
    assert np.array_equal(branch.smooth, curve, equal_nan=True)


@pytest.mark.parametrize(
    "row, column, value, words",
    [(1, 1, -1.0, "evaluation row 1: training loss -1.0 nats is negative"),
     (3, 3, 0.5, "evaluation row 3: on-demand flag 0.5 is neither 0 nor 1"),
     (4, 0, 5.0, "evaluation row 4: out of order")],
)
def test_impossible_branch_evaluations_are_refused(tmp_path, session_arrays, corpus, row, column, value, words):
    rows = with_value(session_arrays["extra_branch_evaluations_0"], (row, column), value)
    message = opening_refusal(write(tmp_path, session_arrays, extra_branch_evaluations_0=rows), corpus)
    assert f"the saved branches are damaged ({words}" in message


@pytest.mark.parametrize("drop", ["extra_branch_meta", "extra_branch_live"])
def test_kept_branches_and_the_live_line_come_together(tmp_path, session_arrays, corpus, drop):
    path = tmp_path / "run.npz"
    np.savez(path, **{k: v for k, v in session_arrays.items() if k != drop})
    assert "the kept branches and the live line are not saved together" in opening_refusal(path, corpus)


# --- every command refuses at load, with one line and exit status 2 -------------------------------------

COMMANDS = {
    "train": lambda text, ckpt, out: ["train", text, "--resume", ckpt],
    "eval": lambda text, ckpt, out: ["eval", text, "--resume", ckpt],
    "analyze": lambda text, ckpt, out: ["analyze", text, "--resume", ckpt],
    "whatif": lambda text, ckpt, out: ["whatif", text, "--resume", ckpt],
    "shot": lambda text, ckpt, out: ["shot", text, "--resume", ckpt, out],
    "the app": lambda text, ckpt, out: [text, "--resume", ckpt],
}

DAMAGES = {
    "a plain .npy file": (None, "is not an rnntui checkpoint"),
    "a 2-D branch curve": (lambda a: {"extra_branch_smooth_0": np.stack([a["extra_branch_smooth_0"]] * 2)},
                           "the saved branches are damaged"),
    "evaluations out of order": (lambda a: {"extra_evaluations": a["extra_evaluations"][::-1].copy()},
                                 "the saved evaluations are damaged"),
    "a configuration without seed": (lambda a: {"config": config_with(a, seed=None)}, "invalid configuration (no seed)"),
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("damage", DAMAGES)
def test_every_command_refuses_a_damaged_checkpoint_at_load(capsys, tmp_path, session_arrays, command, damage):
    text = tmp_path / "fox.txt"
    text.write_text(TEXT, encoding="utf-8")
    changes, words = DAMAGES[damage]
    if changes is None:
        ckpt = tmp_path / "run.npy"
        np.save(ckpt, session_arrays["params"])
    else:
        ckpt = write(tmp_path, session_arrays, **changes(session_arrays))
    status = cli.main([str(a) for a in COMMANDS[command](text, ckpt, tmp_path / "shot.svg")])
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert status == 2 and len(lines) == 1 and out == "", err
    assert lines[0].startswith(f"rnntui: error: {ckpt}") and words in lines[0], lines[0]
    assert not (tmp_path / "shot.svg").exists()
