"""analyze(): the one entry point, its record and its JSON shape."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from conftest import training_scale_params
from test_corpus_pass import oracle_pass

from rnntui.engine import Config, Corpus, Trainer
from rnntui.engine.analysis import analyze
from rnntui.engine.corpus_pass import PassCancelled, UnitError, recompute
from rnntui.engine.features import FEATURE_NAMES, FeatureError
from rnntui.engine.units import context

TEXT = '(define (f x) "hi")\n[1, 2, {3}]\nHello, World!\n' * 20


@pytest.fixture
def corpus():
    return Corpus.from_text(TEXT)


@pytest.fixture
def params(corpus):
    return training_scale_params(corpus.vocab_size, 10, seed=0)


def test_to_dict_has_exactly_the_documented_shape(corpus, params):
    analysis = analyze(params, corpus, units=(3, 0), top_k=4, iteration=17, chunk_size=100)
    d = json.loads(json.dumps(analysis.to_dict(), allow_nan=False))
    assert set(d) == {"iteration", "chars", "bits_per_char", "units", "features", "top_contexts"}
    assert d["iteration"] == 17 and d["chars"] == len(TEXT)
    assert [u["unit"] for u in d["units"]] == list(range(10))
    assert all(set(u) == {"unit", "mean", "std", "sat_low", "sat_high"} for u in d["units"])
    assert list(d["features"]) == list(FEATURE_NAMES)
    for feature in d["features"].values():
        assert set(feature) == {"r", "ranked", "probe_r2"} and len(feature["r"]) == 10
    assert list(d["top_contexts"]) == ["3", "0"]  # only the units asked for, as strings, in the order asked
    for unit in d["top_contexts"].values():
        assert set(unit) == {"positive", "negative"} and len(unit["positive"]) == 4
        assert all(set(p) == {"position", "activation", "context"} for p in unit["positive"] + unit["negative"])


def test_the_numbers_agree_with_the_oracle(corpus, params):
    analysis = analyze(params, corpus, features=("depth",), units=(2,), top_k=3, chunk_size=64)
    hs, log_probs, _ = oracle_pass(params, corpus.data)
    assert analysis.bits_per_char == pytest.approx(-log_probs.mean() / np.log(2), rel=1e-9)
    assert analysis.nats_per_char == pytest.approx(-log_probs.mean(), rel=1e-9)
    assert np.allclose(analysis.units.mean, hs.mean(axis=0), atol=1e-12)
    top = np.lexsort((np.arange(len(hs)), -hs[:, 2]))[:3]
    contexts = analysis.top_contexts[2]
    assert [p.position for p in contexts.positive] == top.tolist()
    assert [p.context for p in contexts.positive] == [context(corpus, int(t)) for t in top]
    region = recompute(analysis.pass_result, 500, 540)
    assert np.abs(region.hs - hs[500:540]).max() <= 1e-9


def test_non_finite_numbers_become_null(corpus, params):
    blown = dict(params, Why=params["Why"] * 1e300)  # logits overflow: p_t is NaN, as in training
    d = analyze(blown, corpus, features=("depth",), units=(1,)).to_dict()
    assert d["bits_per_char"] is None
    json.dumps(d, allow_nan=False)


def test_bad_features_and_units_fail_before_the_pass(corpus, params):
    calls = []
    with pytest.raises(FeatureError):
        analyze(params, corpus, features=("depth", "nesting"), progress=lambda *a: calls.append(a))
    with pytest.raises(UnitError, match="0 to 9"):
        analyze(params, corpus, units=(10,), progress=lambda *a: calls.append(a))
    assert calls == []


def test_progress_and_cancel_reach_the_pass(corpus, params):
    calls = []
    analyze(params, corpus, features=(), chunk_size=500, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (len(corpus), len(corpus)) and len(calls) == -(-len(corpus) // 500)
    with pytest.raises(PassCancelled):
        analyze(params, corpus, chunk_size=500, cancel=lambda: True)


def test_the_record_is_immutable(corpus, params):
    analysis = analyze(params, corpus, units=(0,))
    with pytest.raises(dataclasses.FrozenInstanceError):
        analysis.chars = 3
    with pytest.raises(TypeError):
        analysis.features["x"] = None
    for arr in (analysis.units.mean, analysis.units.top_positions, analysis.features["depth"].r, analysis.features["depth"].ranked):
        assert not arr.flags.writeable


def test_training_teaches_units_the_bracket_depth():
    """A model trained on nested brackets has a unit that follows the depth better than at initialisation."""
    corpus = Corpus.from_text("".join("(" * d + "x" + ")" * d + " " for d in np.random.default_rng(0).integers(0, 5, 400)))
    trainer = Trainer(corpus, Config(hidden_size=16, seq_length=25, sample_every=0))
    before = analyze(trainer.params, corpus, features=("depth",))
    for _ in range(600):
        trainer.step()
    after = analyze(trainer.params, corpus, features=("depth",))
    assert after.bits_per_char < before.bits_per_char - 1
    assert after.features["depth"].probe_r2 > max(before.features["depth"].probe_r2, 0.5)
