"""Per-unit statistics of the corpus pass against brute force over the oracle's full arrays."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import training_scale_params
from test_corpus_pass import oracle_pass

from rnntui.engine import Corpus
from rnntui.engine.corpus_pass import run_pass
from rnntui.engine.units import HIST_BINS, Moments, UnitTracker, context, unit_contexts


def test_moments_equal_numpy_over_uneven_batches():
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((1000, 4)) * [1.0, 1e-4, 3.0, 0.5] + [0.0, 1e3, -2.0, 0.0]  # a column far from 0, small spread
    rows[:, 3] += 0.7 * rows[:, 2]
    moments = Moments(4)
    for a, b in [(0, 1), (1, 1), (1, 300), (300, 301), (301, 1000)]:
        moments.add(rows[a:b])
    assert moments.count == 1000
    assert np.allclose(moments.mean, rows.mean(axis=0), rtol=1e-13, atol=0)
    expected = np.cov(rows.T, bias=True)
    scale = np.sqrt(np.outer(np.diag(expected), np.diag(expected)))  # an entry's size as a correlation
    # (the column at 1e3 loses about 1e-9 of its 1e-4 spread to rounding when centred, here and in np.cov)
    assert np.all(np.abs(moments.comoment / 1000 - expected) <= 1e-8 * scale)
    assert np.allclose(np.diag(moments.comoment) / 1000, np.diag(expected), rtol=1e-8, atol=0)
    halves = Moments(4)
    halves.add(rows[:400].copy(), overwrite=True)
    other = Moments(4)
    other.add(rows[400:])
    merged = halves.merged(other)
    assert np.allclose(merged.variance, rows.var(axis=0), rtol=1e-10, atol=0)


def tracked(params, data, chunk_size, top_k=10, ablate=None):
    """UnitStats from a pass, and the oracle's full hidden states."""
    H = np.shape(params["Whh"])[0]
    tracker = UnitTracker(H, top_k)
    moments = Moments(H)
    run_pass(params, data, [tracker, lambda chunk: moments.add(chunk.hs)], chunk_size=chunk_size, ablate=ablate)
    return tracker.finish(moments), oracle_pass(params, data, ablate=ablate)[0]


def brute_force_top(hs, unit, k, largest):
    """Positions of the k largest (or smallest) values of a column; ties: earliest first."""
    values = hs[:, unit]
    positions = np.arange(len(values))
    order = np.lexsort((positions, -values if largest else values))
    return order[:k], values[order[:k]]


@pytest.mark.parametrize("chunk_size", [1, 7, 100, 5000])
def test_unit_statistics_equal_brute_force(chunk_size):
    V, H, N = 13, 20, 1200
    params = training_scale_params(V, H, seed=1)
    params["Wxh"] = params["Wxh"] * 3  # push some units into saturation
    data = np.random.default_rng(2).integers(0, V, N)
    stats, hs = tracked(params, data, chunk_size)
    assert np.allclose(stats.mean, hs.mean(axis=0), rtol=0, atol=1e-12)
    assert np.allclose(stats.std, hs.std(axis=0), rtol=1e-10, atol=0)
    assert np.array_equal(stats.low_counts, (hs < -0.95).sum(axis=0))
    assert np.array_equal(stats.high_counts, (hs > 0.95).sum(axis=0))
    assert 0 < stats.sat_high.max() < 1 and 0 < stats.sat_low.max() < 1  # the case exercises both
    assert np.allclose(stats.sat_low, (hs < -0.95).mean(axis=0), rtol=1e-12)
    assert np.allclose(stats.minimum, hs.min(axis=0), rtol=0, atol=1e-9)
    assert np.allclose(stats.maximum, hs.max(axis=0), rtol=0, atol=1e-9)
    for unit in range(H):
        positions, values = brute_force_top(hs, unit, 10, largest=True)
        assert np.array_equal(stats.top_positions[unit], positions)
        assert np.allclose(stats.top_values[unit], values, rtol=0, atol=1e-9)
        positions, values = brute_force_top(hs, unit, 10, largest=False)
        assert np.array_equal(stats.bottom_positions[unit], positions)
        assert np.allclose(stats.bottom_values[unit], values, rtol=0, atol=1e-9)


def test_ties_keep_the_earliest_positions_and_flags_name_saturated_dead_and_constant_units():
    V, H, N = 4, 6, 300
    params = training_scale_params(V, H, seed=3)
    params["bh"] = np.array([40.0, -40.0, 0.0, 0.0, 0.0, 0.0])  # units 0 and 1: exactly +1 and -1 at every t
    params["Wxh"][2] *= 1e-4  # unit 2: barely moves
    params["Whh"][2] *= 1e-4
    data = np.random.default_rng(4).integers(0, V, N)
    stats, hs = tracked(params, data, chunk_size=17, top_k=5, ablate=5)
    assert np.all(hs[:, 0] == 1.0) and np.all(hs[:, 1] == -1.0)
    assert stats.top_positions[0].tolist() == [0, 1, 2, 3, 4]  # all equal: the earliest
    assert stats.bottom_positions[1].tolist() == [0, 1, 2, 3, 4]
    assert stats.always_saturated.tolist() == [True, True, False, False, False, False]
    assert stats.sat_high[0] == 1.0 and stats.sat_low[1] == 1.0
    assert stats.dead.tolist() == list(hs.std(axis=0) < 0.01)
    assert stats.dead[2] and not stats.dead[3]
    assert stats.constant.tolist() == [True, True, False, False, False, True]  # 5 is ablated: always 0


def test_a_text_shorter_than_top_k_keeps_every_position():
    params = training_scale_params(3, 4, seed=0)
    stats, hs = tracked(params, np.array([0, 1, 2]), chunk_size=2, top_k=10)
    assert stats.top_positions.shape == (4, 3)
    for unit in range(4):
        assert stats.top_positions[unit].tolist() == brute_force_top(hs, unit, 3, largest=True)[0].tolist()


def test_context_marks_the_position_and_shows_line_breaks():
    corpus = Corpus.from_text("first line\nsecond\tline here and then a good deal more text follows")
    assert context(corpus, 0, radius=4) == "⟦f⟧irs"
    assert context(corpus, 10, radius=4) == "line⟦⏎⟧sec"
    assert context(corpus, 17, radius=3) == "ond⟦⇥⟧li"
    end = len(corpus) - 1
    assert context(corpus, end, radius=3) == "low⟦s⟧"
    full = context(corpus, 30)
    assert len(full) == 20 + 3 + 19 and full[20:23] == "⟦" + corpus.decode(30, 31) + "⟧"


def test_unit_contexts_list_the_top_positions_with_their_text():
    corpus = Corpus.from_text("abcabcabd" * 10)
    params = training_scale_params(corpus.vocab_size, 5, seed=2)
    tracker, moments = UnitTracker(5, 3), Moments(5)
    run_pass(params, corpus.data, [tracker, lambda chunk: moments.add(chunk.hs)], chunk_size=11)
    stats = tracker.finish(moments)
    hs = oracle_pass(params, corpus.data)[0]
    contexts = unit_contexts(stats, corpus, 4)
    positions, values = brute_force_top(hs, 4, 3, largest=False)
    assert [p.position for p in contexts.negative] == positions.tolist()
    assert np.allclose([p.activation for p in contexts.negative], values, atol=1e-9)
    assert [p.context for p in contexts.negative] == [context(corpus, int(p)) for p in positions]
    assert contexts.unit == 4 and len(contexts.positive) == 3


def test_each_units_histogram_counts_h_over_the_whole_text_in_bins_of_minus_one_to_one():
    rng = np.random.default_rng(5)
    params = {"Wxh": rng.standard_normal((5, 4)) * 2, "Whh": rng.standard_normal((5, 5)), "Why": rng.standard_normal((4, 5)),
              "bh": rng.standard_normal(5), "by": np.zeros(4)}
    data = rng.integers(0, 4, 3000)
    tracker, moments = UnitTracker(5), Moments(5)
    run_pass(params, data, [tracker, lambda chunk: moments.add(chunk.hs)], chunk_size=128)
    stats = tracker.finish(moments)
    h = np.zeros(5)
    expected = np.zeros((5, HIST_BINS), dtype=int)
    for x in data:  # the plain loop, binned by hand
        h = np.tanh(params["Wxh"][:, x] + params["Whh"] @ h + params["bh"])
        for u in range(5):
            expected[u, min(max(int(np.floor((h[u] + 1) * (HIST_BINS / 2))), 0), HIST_BINS - 1)] += 1
    assert np.array_equal(stats.histogram, expected) and stats.histogram.sum() == 5 * len(data)
