"""The k-gram baselines against interpolated Witten-Bell written the plain way (Counters, loops)."""

from collections import Counter
from fractions import Fraction

import numpy as np
import pytest

from rnntui.engine import ngram
from rnntui.engine.ngram import MAX_ORDER, fit_ngrams


class OracleWittenBell:
    """Interpolated Witten-Bell from the formula, with a Counter of every gram of the training text."""

    def __init__(self, train, V):
        self.V = V
        self.grams = Counter(tuple(train[i : i + m]) for m in range(1, MAX_ORDER + 1) for i in range(len(train) - m + 1))

    def probs(self, context, order):
        context = tuple(context)[len(context) - min(len(context), order - 1) :]
        p = [1.0 / self.V] * self.V  # P_0
        for m in range(1, len(context) + 2):
            history = context[len(context) - (m - 1) :]
            follow = [self.grams[history + (c,)] for c in range(self.V)]
            total, types = sum(follow), sum(1 for n in follow if n)
            if total:
                p = [(follow[c] + types * p[c]) / (total + types) for c in range(self.V)]
        return np.array(p)


def markov_text(rng, n, V, used):
    """n indices over the first ``used`` characters, each next one mostly fixed by the one before."""
    favourite = rng.integers(0, used, size=used)
    text = [int(rng.integers(0, used))]
    for _ in range(n - 1):
        text.append(int(favourite[text[-1]]) if rng.random() < 0.7 else int(rng.integers(0, used)))
    return np.array(text, dtype=np.uint8 if V <= 256 else np.uint16)


def some_contexts(rng, train, V, count):
    """Contexts of 0..6 characters: half cut from the training text (seen), half random (mostly unseen)."""
    contexts = []
    for _ in range(count):
        length = int(rng.integers(0, 7))
        if rng.random() < 0.5 and len(train) > length:
            at = int(rng.integers(0, len(train) - length + 1))
            contexts.append(tuple(int(c) for c in train[at : at + length]))
        else:
            contexts.append(tuple(int(c) for c in rng.integers(0, V, size=length)))
    return contexts


@pytest.mark.parametrize("V, used, n", [(2, 2, 400), (2, 1, 50), (7, 5, 600), (70, 60, 3000)])
def test_probs_sum_to_one_and_match_the_formula_for_every_order(V, used, n):
    rng = np.random.default_rng(V * 1000 + used)
    train = markov_text(rng, n, V, used)
    models = fit_ngrams(train, V)
    oracle = OracleWittenBell(train.tolist(), V)
    for context in some_contexts(rng, train, V, 150):
        for order in range(1, MAX_ORDER + 1):
            p = models.model(order).probs(context)
            assert p.shape == (V,)
            assert abs(p.sum() - 1.0) < 1e-12
            assert p.min() > 0
            np.testing.assert_allclose(p, oracle.probs(context, order), rtol=1e-12, atol=0)


def test_values_worked_out_by_hand_on_abracadabra():
    vocab = "abcdrz"  # 'z' never occurs in the training text
    train = np.array(["abcdrz".index(ch) for ch in "abracadabra"])
    models = fit_ngrams(train, len(vocab))
    a, b, c, d, r, z = range(6)
    V = Fraction(6)
    # Unigram: N = 11 characters, N1+(.) = 5 distinct (a b c d r); c(a) = 5, c(b) = 2, c(r) = 2, c(z) = 0.
    P1 = {ch: (Fraction(n) + 5 / V) / (11 + 5) for ch, n in {a: 5, b: 2, c: 1, d: 1, r: 2, z: 0}.items()}
    # Order 2, context "a": a occurs at 0, 3, 5, 7, 10; the last is followed by nothing, so
    # c(a.) = 4, with followers b (twice), c, d: N1+(a.) = 3.
    P2_a = {ch: (Fraction(n) + 3 * P1[ch]) / (4 + 3) for ch, n in {a: 0, b: 2, c: 1, d: 1, r: 0, z: 0}.items()}
    # Order 3, context "ra": "ra" occurs at 2 (then c) and at 9 (end of text): c(ra.) = 1, N1+(ra.) = 1.
    P3_ra = {ch: (Fraction(n) + 1 * P2_a[ch]) / (1 + 1) for ch, n in {a: 0, b: 0, c: 1, d: 0, r: 0, z: 0}.items()}
    # Order 3, context "ab": at 0 and 7, both followed by r: c(ab.) = 2, N1+(ab.) = 1; its lower order is P2(. | b),
    # where b is followed by r twice: c(b.) = 2, N1+(b.) = 1.
    P2_b = {ch: (Fraction(2 if ch == r else 0) + 1 * P1[ch]) / (2 + 1) for ch in range(6)}
    P3_ab = {ch: (Fraction(2 if ch == r else 0) + 1 * P2_b[ch]) / (2 + 1) for ch in range(6)}
    # Order 4, context "zab": "za" never occurs, so P4(. | zab) = P3(. | ab) (unseen contexts back off).
    expected = [
        (1, (), P1),
        (5, (), P1),  # the unigram of any order when the context is empty
        (2, (a,), P2_a),
        (3, (r, a), P3_ra),
        (3, (b, r, a), P3_ra),  # order 3 reads only the last 2 characters
        (3, (a, b), P3_ab),
        (4, (z, a, b), P3_ab),
        (2, (z,), P1),  # 'z' was never seen as a context: back to the unigram
    ]
    for order, context, want in expected:
        got = models.model(order).probs(context)
        np.testing.assert_allclose(got, [float(want[ch]) for ch in range(6)], rtol=1e-14, err_msg=f"{order} {context}")
    np.testing.assert_array_equal(models.char_counts, [5, 2, 1, 1, 2, 0])


def loop_target_probs(model, text):
    """p_t(x_{t+1}) by calling probs on the context x_{t-k+2} .. x_t (cut at the start) for each t."""
    k = model.order
    return np.array([model.probs(text[max(t - k + 2, 0) : t + 1])[text[t + 1]] for t in range(len(text) - 1)])


@pytest.mark.parametrize("V, used, n_train, n_text", [(2, 2, 300, 80), (70, 50, 2000, 300), (9, 6, 0, 40), (9, 6, 3, 40), (5, 5, 200, 2)])
def test_target_probs_and_bpc_equal_a_loop_over_probs(V, used, n_train, n_text):
    rng = np.random.default_rng(n_train + V)
    train = markov_text(rng, n_train, V, used) if n_train else np.zeros(0, dtype=np.uint8)
    text = np.concatenate([markov_text(rng, n_text - n_text // 4, V, used), rng.integers(0, V, n_text // 4)])
    models = fit_ngrams(train, V)
    together = models.target_probs(text)
    assert together.shape == (MAX_ORDER, n_text - 1)
    bpcs = models.bpc(text)
    for model in models.models:
        loop = loop_target_probs(model, text)
        np.testing.assert_allclose(model.target_probs(text), loop, rtol=1e-13, atol=0)
        np.testing.assert_allclose(together[model.order - 1], loop, rtol=1e-13, atol=0)
        assert model.bpc(text) == pytest.approx(np.mean(-np.log2(loop)), rel=1e-12)
        assert bpcs[model.order - 1] == pytest.approx(np.mean(-np.log2(loop)), rel=1e-12)


def test_scoring_in_pieces_reads_the_context_before_each_piece(monkeypatch):
    rng = np.random.default_rng(5)
    V = 12
    train = markov_text(rng, 1500, V, 10)
    text = markov_text(rng, 200, V, 12)
    models = fit_ngrams(train, V)
    loops = np.array([loop_target_probs(model, text) for model in models.models])
    monkeypatch.setattr(ngram, "_PIECE", 7)  # many internal pieces, each needing context from the one before
    np.testing.assert_allclose(models.target_probs(text), loops, rtol=1e-13, atol=0)
    for start, stop in [(0, 3), (2, 9), (50, 51), (150, 199), (10, 10)]:
        np.testing.assert_allclose(models.target_probs(text, start, stop), loops[:, start:stop], rtol=1e-13, atol=0)
        np.testing.assert_allclose(models.model(3).target_probs(text, start, stop), loops[2, start:stop], rtol=1e-13, atol=0)
    assert models.model(5).bpc(text) == pytest.approx(np.mean(-np.log2(loops[4])), rel=1e-12)


def test_unseen_everything_is_uniform():
    models = fit_ngrams(np.zeros(0, dtype=np.uint8), 4)
    np.testing.assert_array_equal(models.model(5).probs((1, 2, 3, 0)), np.full(4, 0.25))
    assert models.model(3).bpc(np.array([0, 1, 2, 3])) == pytest.approx(2.0)


def test_bad_input_is_refused():
    models = fit_ngrams(np.array([0, 1, 0, 1]), 2)
    with pytest.raises(ValueError, match="at least 2 characters"):
        models.model(2).bpc(np.array([1]))
    with pytest.raises(ValueError, match="0..1"):
        models.model(2).probs((0, 2))
    with pytest.raises(ValueError, match="0..1"):
        models.model(2).target_probs(np.array([0, 1, 5]))
    with pytest.raises(ValueError, match="0..1"):
        fit_ngrams(np.array([0, 3]), 2)
    with pytest.raises(ValueError, match="order"):
        models.model(6)
    with pytest.raises(ValueError, match="do not fit"):
        models.target_probs(np.array([0, 1, 0]), 1, 3)


def test_tables_and_counts_are_read_only():
    models = fit_ngrams(np.array([0, 1, 1, 0, 1]), 3)
    assert not models.char_counts.flags.writeable
    for table in models.tables:
        assert not table.keys.flags.writeable and not table.counts.flags.writeable
