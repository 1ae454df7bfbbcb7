"""Determinism, records, sampling, gradient check, checkpoints."""

import importlib
import subprocess
import sys
import warnings

import numpy as np
import pytest

from rnntui.engine import (
    PARAM_NAMES,
    CheckpointError,
    Config,
    ConfigError,
    Corpus,
    Trainer,
    gradcheck,
    load_checkpoint,
    save_checkpoint,
)
from rnntui.engine.config import MAX_HIDDEN_SIZE, MAX_SAMPLE_LENGTH, MAX_WINDOW
from rnntui.engine.model import Layout, init_params, loss_and_grads

gradcheck_module = importlib.import_module("rnntui.engine.gradcheck")  # the package's name is the function


def run(trainer, n):
    return [trainer.step() for _ in range(n)]


def assert_same_records(a, b):
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        assert ra.loss == rb.loss and ra.smooth_loss == rb.smooth_loss and ra.position == rb.position
        np.testing.assert_array_equal(ra.hs, rb.hs)
        np.testing.assert_array_equal(ra.ps, rb.ps)
        assert dict(ra.grad_norms) == dict(rb.grad_norms)


def test_same_seed_is_bit_identical(small_corpus):
    cfg = Config(hidden_size=16, seq_length=10, sample_every=7)
    a, b = Trainer(small_corpus, cfg), Trainer(small_corpus, cfg)
    ra, rb = run(a, 40), run(b, 40)
    assert_same_records(ra, rb)
    assert [r.sample for r in ra] == [r.sample for r in rb]
    for name in PARAM_NAMES:
        np.testing.assert_array_equal(a.params[name], b.params[name])


def test_different_seed_differs(small_corpus):
    a = Trainer(small_corpus, Config(hidden_size=8, seed=1))
    b = Trainer(small_corpus, Config(hidden_size=8, seed=2))
    assert not np.array_equal(a.params["Wxh"], b.params["Wxh"])


def test_initialisation_order_and_scale():
    layout = Layout(vocab_size=5, hidden_size=4)
    flat = init_params(layout, 3)
    views = layout.views(flat)
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(views["Wxh"], rng.standard_normal((4, 5)) * 0.01)
    np.testing.assert_array_equal(views["Whh"], rng.standard_normal((4, 4)) * 0.01)
    np.testing.assert_array_equal(views["Why"], rng.standard_normal((5, 4)) * 0.01)
    assert not views["bh"].any() and not views["by"].any()


def test_record_is_immutable_and_consistent(small_trainer):
    record = small_trainer.step()
    for arr in (record.hs, record.ps, record.inputs, record.hprev, record.dh_norms, record.losses):
        with pytest.raises(ValueError):
            arr[...] = 0
    with pytest.raises(AttributeError):
        record.loss = 0.0
    with pytest.raises(TypeError):
        record.grad_norms["Wxh"] = 1.0
    assert record.loss == pytest.approx(record.losses.sum())
    assert record.loss_per_char == pytest.approx(record.loss / record.seq_length)
    np.testing.assert_allclose(record.ps.sum(axis=1), 1.0)
    np.testing.assert_allclose(record.dh_norms, np.linalg.norm(record.dh, axis=1))
    # h_t = tanh(Wxh x_t + Whh h_{t-1} + bh), from the record's own parts
    np.testing.assert_allclose(record.hs, np.tanh(record.wxh_x + record.whh_h + record.bh), atol=1e-12)
    np.testing.assert_allclose(record.target_probs, np.exp(-record.losses))


def test_params_view_is_read_only(small_trainer):
    with pytest.raises(ValueError):
        small_trainer.params["Whh"][0, 0] = 1.0


def test_clip_statistics(small_corpus):
    trainer = Trainer(small_corpus, Config(hidden_size=16, seq_length=10, clip=1e-4, sample_every=0))
    trainer.step()
    record = trainer.step()
    assert record.clipping_engaged
    for name in PARAM_NAMES:
        assert record.clipped_norms[name] <= record.grad_norms[name] + 1e-15
        assert 0 <= record.clip_fractions[name] <= 1
    size = trainer.params["Whh"].size
    assert record.clipped_norms["Whh"] <= 1e-4 * np.sqrt(size) + 1e-15


def test_history_tracks_every_step(small_trainer):
    records = run(small_trainer, 12)
    hist = small_trainer.history
    assert len(hist) == 12
    np.testing.assert_array_equal(hist.loss, [r.loss for r in records])
    np.testing.assert_array_equal(hist.smooth_loss, [r.smooth_loss for r in records])
    np.testing.assert_allclose(hist.grad_norms[-1], [records[-1].grad_norms[k] for k in PARAM_NAMES], rtol=1e-6)


def test_sampling_never_changes_training(small_corpus):
    cfg = Config(hidden_size=16, seq_length=10, sample_every=0)
    a, b = Trainer(small_corpus, cfg), Trainer(small_corpus, cfg)
    ra = []
    for _ in range(15):
        a.sample(50, temperature=0.7)
        ra.append(a.step())
    rb = run(b, 15)
    assert_same_records(ra, rb)
    text = a.sample(30, seed_char="t")
    assert len(text) == 30 and set(text) <= set(small_corpus.vocab)


def test_sample_every_puts_samples_in_records(small_corpus):
    trainer = Trainer(small_corpus, Config(hidden_size=8, seq_length=10, sample_every=5, sample_length=20))
    records = run(trainer, 11)
    assert [r.iteration for r in records if r.sample is not None] == [0, 5, 10]
    assert all(len(r.sample) == 20 and r.sample_temperature == 1.0 for r in records if r.sample)


def test_gradcheck_passes_on_training_state(small_corpus):
    trainer = Trainer(small_corpus, Config(hidden_size=10, seq_length=8, sample_every=0))
    run(trainer, 30)
    data = np.asarray(small_corpus.data)
    results = gradcheck(trainer.params, data[:8], data[1:9], trainer.hprev, samples=8)
    assert set(results) == set(PARAM_NAMES)
    for res in results.values():
        assert res.max_error < 1e-5, (res.name, res.max_error)


def test_gradcheck_takes_the_callers_base_pass_instead_of_computing_it_again(small_corpus, monkeypatch):
    trainer = Trainer(small_corpus, Config(hidden_size=6, seq_length=5, sample_every=0))
    data = np.asarray(small_corpus.data)
    window = (trainer.params, data[:5], data[1:6], trainer.hprev)
    own = gradcheck(*window, samples=3)
    base = loss_and_grads(*window)
    calls = []
    real = gradcheck_module.loss_and_grads
    monkeypatch.setattr(gradcheck_module, "loss_and_grads", lambda *a: calls.append(1) or real(*a))
    given = gradcheck(*window, samples=3, base=base)
    assert len(calls) == 2 * 3 * len(PARAM_NAMES)  # the nudged passes only
    for name in PARAM_NAMES:
        assert np.array_equal(given[name].analytic, own[name].analytic)
        assert np.array_equal(given[name].numeric, own[name].numeric) and given[name].noise == own[name].noise


def test_save_load_resume_is_bit_identical(tmp_path, small_corpus):
    cfg = Config(hidden_size=16, seq_length=10, sample_every=4)
    straight = Trainer(small_corpus, cfg)
    expected = run(straight, 30)
    first = Trainer(small_corpus, cfg)
    run(first, 13)
    path = tmp_path / "run.npz"
    save_checkpoint(first, path)
    resumed = load_checkpoint(path, small_corpus)
    assert resumed.iteration == 13 and len(resumed.history) == 13
    got = run(resumed, 17)
    assert_same_records(got, expected[13:])
    assert [r.sample for r in got] == [r.sample for r in expected[13:]]
    np.testing.assert_array_equal(resumed.history.loss, straight.history.loss)
    for name in PARAM_NAMES:
        np.testing.assert_array_equal(resumed.params[name], straight.params[name])
        np.testing.assert_array_equal(resumed.memory[name], straight.memory[name])


def test_save_is_atomic_and_leaves_no_temp(tmp_path, small_trainer):
    path = tmp_path / "c.npz"
    path.write_bytes(b"old")
    small_trainer.step()
    save_checkpoint(small_trainer, path)
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]
    with np.load(path, allow_pickle=False) as npz:
        assert int(npz["iteration"]) == 1


def test_load_rejects_bad_files(tmp_path, small_corpus, small_trainer):
    not_ckpt = tmp_path / "x.npz"
    np.savez(not_ckpt, a=np.zeros(3))
    with pytest.raises(CheckpointError, match="not an rnntui checkpoint"):
        load_checkpoint(not_ckpt, small_corpus)
    text = tmp_path / "t.npz"
    text.write_text("hello")
    with pytest.raises(CheckpointError):
        load_checkpoint(text, small_corpus)
    good = tmp_path / "g.npz"
    save_checkpoint(small_trainer, good)
    truncated = tmp_path / "trunc.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated or damaged"):
        load_checkpoint(truncated, small_corpus)
    with pytest.raises(CheckpointError, match="another vocabulary"):
        load_checkpoint(good, Corpus.from_text("completely different text!"))
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.npz", small_corpus)


def test_engine_imports_no_ui_library():
    code = (
        "import sys, rnntui.engine\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'plotext', 'textual_plotext')]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_gradcheck_passes_at_default_size_and_flags_a_wrong_gradient(monkeypatch):
    from rnntui.engine import gradcheck as gradcheck_fn
    from rnntui.engine import model

    corpus = Corpus.from_path(__import__("pathlib").Path(__file__).parent.parent / "rnntui" / "data" / "default.txt")
    trainer = Trainer(corpus, Config(sample_every=0))
    for _ in range(250):
        trainer.step()
    _, inputs, targets, hprev = trainer.next_window()
    results = gradcheck_fn(trainer.params, inputs, targets, hprev, samples=10)
    assert all(r.passed() for r in results.values()), {k: r.max_error for k, r in results.items()}
    noise = results["Whh"].noise
    assert 0 < noise < 1e-7

    real = model.forward_backward

    def wrong(P, inputs, targets, hprev, G):
        loss, cache = real(P, inputs, targets, hprev, G)
        G["Whh"] *= 1.001  # a 0.1 % error in one gradient
        return loss, cache

    monkeypatch.setattr(model, "forward_backward", wrong)
    broken = gradcheck_fn(trainer.params, inputs, targets, hprev, samples=10)
    assert not broken["Whh"].passed()
    assert broken["Why"].passed()


def test_utf16_file_read_as_utf8_names_the_encoding(tmp_path):
    from rnntui.engine import CorpusError

    path = tmp_path / "wide.txt"
    path.write_text("hello wide world", encoding="utf-16")
    with pytest.raises(CorpusError, match="utf-16 byte-order mark; pass --encoding utf-16"):
        Corpus.from_path(path)
    assert Corpus.from_path(path, encoding="utf-16").decode(0, 5) == "hello"


def test_per_timestep_intermediates_match_the_oracles_products(small_trainer):
    """What the step panel shows at timestep t, recomputed from scratch as explicit products."""
    for _ in range(3):
        small_trainer.step()
    params = {k: v.copy() for k, v in small_trainer.params.items()}
    record = small_trainer.step()
    Wxh, Whh, Why, bh = params["Wxh"], params["Whh"], params["Why"], params["bh"]
    T, H = record.hs.shape
    h_prev = [record.hprev, *record.hs[:-1]]
    dh_next = np.zeros(H)
    for t in range(T - 1, -1, -1):
        x = np.zeros(Wxh.shape[1])
        x[record.inputs[t]] = 1.0
        np.testing.assert_allclose(record.wxh_x[t], Wxh @ x, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(record.whh_h[t], Whh @ h_prev[t], rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(record.bh, bh)
        dy = record.ps[t].copy()
        dy[record.targets[t]] -= 1.0
        np.testing.assert_allclose(record.dys[t], dy)
        np.testing.assert_allclose(record.dh_out[t], Why.T @ dy, rtol=1e-10, atol=1e-15)
        dh = Why.T @ dy + dh_next
        np.testing.assert_allclose(record.dh[t], dh, rtol=1e-9, atol=1e-14)
        dhraw = (1 - record.hs[t] ** 2) * dh
        np.testing.assert_allclose(record.dhraw[t], dhraw, rtol=1e-9, atol=1e-14)
        contributions = record.step_contributions(t)
        assert contributions["Whh"] == pytest.approx(np.linalg.norm(np.outer(dhraw, h_prev[t])), rel=1e-9)
        assert contributions["Why"] == pytest.approx(np.linalg.norm(np.outer(dy, record.hs[t])), rel=1e-9)
        assert contributions["Wxh"] == pytest.approx(np.linalg.norm(np.outer(dhraw, x)), rel=1e-9)
        assert contributions["by"] == pytest.approx(np.linalg.norm(dy), rel=1e-12)
        dh_next = Whh.T @ dhraw


def test_runs_are_bit_identical_across_processes(tmp_path):
    """Two fresh interpreters (the second loads the compiled kernels from the cache) give the same bytes."""
    code = (
        "import sys, hashlib\n"
        "from rnntui.engine import Config, Corpus, Trainer\n"
        "t = Trainer(Corpus.from_text('abcabd ' * 40), Config(hidden_size=12, seq_length=9, sample_every=5))\n"
        "h = hashlib.sha256()\n"
        "for _ in range(30):\n"
        "    r = t.step(); h.update(r.hs.tobytes()); h.update(r.ps.tobytes()); h.update(str(r.sample).encode())\n"
        "h.update(t.state().params.tobytes())\n"
        "print(h.hexdigest())\n"
    )
    digests = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
               for _ in range(2)]
    assert digests[0] == digests[1] and len(digests[0].strip()) == 64


@pytest.mark.parametrize("field, largest", [("hidden_size", MAX_HIDDEN_SIZE), ("seq_length", MAX_WINDOW),
                                            ("sample_length", MAX_SAMPLE_LENGTH)])
def test_sizes_beyond_any_machine_are_refused_before_anything_is_allocated(field, largest):
    assert getattr(Config(**{field: largest}), field) == largest  # the largest is a valid setting
    with pytest.raises(ConfigError) as err:
        Config(**{field: largest + 1})
    assert err.value.problem == f"{field} must be a whole number from 1 to {largest:,}, got {largest + 1}"
    with pytest.raises(ConfigError):
        Config(**{field: 10**23})  # would overflow an array dimension


def test_a_diverging_step_raises_no_floating_point_warnings():
    """Divergence is caught from the loss (and said once); numpy's overflow warnings would be noise."""
    trainer = Trainer(Corpus.from_text("hello world, hello rnn. " * 4), Config(hidden_size=8, seq_length=8,
                                                                            learning_rate=1e308, clip=1e308))
    with np.errstate(all="warn"), warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning would fail the step here
        losses = [trainer.step().loss for _ in range(4)]
    assert not np.isfinite(losses[-1])  # it did diverge
