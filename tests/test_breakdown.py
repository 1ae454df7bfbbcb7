"""The error breakdown: categories worked out by hand, and streaming against a plain per-position loop."""

import itertools
import math

import numpy as np
import pytest

from rnntui.engine.breakdown import (
    CATEGORIES,
    EXAMPLES_KEPT,
    BreakdownAccumulator,
    error_breakdown,
    rare_characters,
    top_predictions,
)
from rnntui.engine.ngram import fit_ngrams


def encode(text, vocab):
    return np.array([vocab.index(ch) for ch in text], dtype=np.uint8)


def some_top(n, V):
    """Arbitrary top-3 arrays (the categories never read them)."""
    return np.tile(np.arange(3) % V, (n, 1)), np.tile([0.5, 0.3, 0.2], (n, 1))


def test_each_category_by_hand_in_order_of_precedence():
    train_text = "ab " * 10
    text = " ab!b zaz ba"
    vocab = sorted(set(train_text + text))  # ' ' '!' 'a' 'b' 'z': V = 5, so the rarest ceil(5/100) = 1 ...
    # ... character has count 0, and '!' and 'z' (both absent from the training text) tie there: both rare.
    # Unigram: a, b and ' ' 10 times each, P1 = (10 + 3/5) / 33 = 0.32 each; after ' ' comes 'a' (9 of 9),
    # after 'a' comes 'b' (10 of 10), after 'b' comes ' ' (10 of 10). No context with '!' or 'z' was seen.
    rnn_p = np.array([0.1, 0.2, 0.05, 0.3, 0.9, 0.01, 0.4, 0.02, 0.49, 0.5, 0.1])
    expected = {
        0: "n-gram",  # ' ' -> 'a': P2 = (9 + P1) / 10; also a word start, but n-gram comes first
        1: "n-gram",  # 'a' -> 'b': P2 = (10 + P1) / 11
        2: "rare",  # 'b' -> '!': not alphanumeric, never seen
        3: "word start",  # '!' -> 'b': unseen context, every order gives P1 = 0.32
        # 4: 'b' -> ' ' would be an n-gram, but the RNN gave it 0.9: no error
        5: "word start",  # ' ' -> 'z': rare too, but word start comes first
        6: "other",  # 'z' -> 'a': unseen context (0.32), inside a word, common
        7: "rare",  # 'a' -> 'z': P2 = P1(z) / 11, inside a word
        8: "other",  # 'z' -> ' ': unseen context (0.32), not alphanumeric, common
        # 9: ' ' -> 'b' would be a word start, but p = 0.5 exactly is not below ERROR_P
        10: "other",  # 'b' -> 'a': P2 = P1(a) / 11, inside a word, common
    }
    models = fit_ngrams(encode(train_text, vocab), len(vocab))
    top_index, top_p = some_top(len(rnn_p), len(vocab))
    result = error_breakdown(encode(text, vocab), vocab, models, rnn_p, top_index, top_p)

    assert result.positions == 11 and result.errors == 9
    assert dict(result.counts) == {"n-gram": 2, "word start": 2, "rare": 2, "other": 3}
    for category in CATEGORIES:
        assert [e.t for e in result.examples[category]] == [t for t, c in expected.items() if c == category]
    assert result.rare_chars == "!z"
    assert result.shares["other"] == pytest.approx(3 / 9)
    assert result.error_rate == pytest.approx(9 / 11)
    assert result.to_dict() == {"n-gram": 2, "word start": 2, "rare": 2, "other": 3, "errors": 9, "positions": 11}

    other = result.examples["other"][1]
    assert (other.t, other.context, other.target, other.p) == (8, " ab!b zaz", " ", 0.49)
    assert other.top == ((" ", 0.5), ("!", 0.3), ("a", 0.2))
    assert other.ngram_p == pytest.approx((10 + 3 / 5) / 33) and other.ngram_order == 1  # every order equal: k = 1
    first = result.examples["n-gram"][0]
    assert first.ngram_p == pytest.approx((9 + (10 + 3 / 5) / 33) / 10) and first.ngram_order == 2


def test_n_gram_comes_before_rare_and_ties_at_the_rarest_count_are_all_rare():
    train_text = "ab " * 10 + "xQ"
    vocab = sorted(set(train_text))  # ' ' 'Q' 'a' 'b' 'x': x and Q occur once, the fewest: both rare
    # 'a' -> 'x': P2(x | a) = P1(x) / 11, inside a word: rare.
    # 'x' -> 'Q': x was followed by Q once, so P2(Q | x) = (1 + P1(Q)) / 2 > 0.5: an n-gram gets it.
    models = fit_ngrams(encode(train_text, vocab), len(vocab))
    top_index, top_p = some_top(2, len(vocab))
    result = error_breakdown(encode("axQ", vocab), vocab, models, np.array([0.1, 0.1]), top_index, top_p)
    assert dict(result.counts) == {"n-gram": 1, "word start": 0, "rare": 1, "other": 0}
    assert [e.t for e in result.examples["rare"]] == [0] and [e.t for e in result.examples["n-gram"]] == [1]
    assert result.rare_chars == "Qx"


def test_rarest_share_is_rounded_up_in_whole_characters_with_ties_included():
    counts = np.full(250, 100)  # ceil(250 / 100) = 3 rarest: counts 0, 5, 5; the third 5 ties in
    counts[[7, 9, 11, 13, 20]] = [0, 5, 5, 5, 6]
    assert np.flatnonzero(rare_characters(counts)).tolist() == [7, 9, 11, 13]
    counts = np.full(700, 100)  # ceil(700 / 100) = 7 exactly (0.01 * 700 in floating point is above 7)
    counts[:7] = np.arange(1, 8)
    counts[8] = 8
    assert np.flatnonzero(rare_characters(counts)).tolist() == list(range(7))
    assert np.flatnonzero(rare_characters(np.array([3, 1, 4]))).tolist() == [1]


def test_top_predictions_are_sorted_and_ties_go_to_the_lower_index():
    rng = np.random.default_rng(3)
    ps = rng.integers(0, 4, size=(50, 6)) / 10.0  # many ties
    index, p = top_predictions(ps)
    for row, got_index, got_p in zip(ps, index, p):
        want = sorted(range(6), key=lambda i: (-row[i], i))[:3]
        assert got_index.tolist() == want
        assert got_p.tolist() == [row[i] for i in want]
    index, p = top_predictions(np.array([[0.3, 0.7], [0.5, 0.5]]))  # V = 2: only two to show
    assert index.tolist() == [[1, 0], [0, 1]] and p.tolist() == [[0.7, 0.3], [0.5, 0.5]]


WORDS = ["the", "cat", "sat", "on", "a", "mat", "and", "then", "ran", "off", "to", "bed"]


def word_text(rng, n_words):
    """Words from a short list separated by a space, a comma, a full stop or a newline."""
    gaps = rng.choice([" ", " ", " ", ", ", ". ", ".\n"], size=n_words)
    return "".join(WORDS[int(i)] + gap for i, gap in zip(rng.integers(0, len(WORDS), size=n_words), gaps))


def oracle_breakdown(text, vocab, models, rnn_p, top_index, top_p):
    """Category and example fields of each error, one position at a time, straight from the definitions."""
    V = len(vocab)
    counts = models.char_counts.tolist()
    cutoff = sorted(counts)[math.ceil(V / 100) - 1]
    rows = []
    for t in range(len(text) - 1):
        if rnn_p[t] >= 0.5:
            continue
        target, before = vocab[text[t + 1]], vocab[text[t]]
        gram = [m.probs(text[max(t - m.order + 2, 0) : t + 1])[text[t + 1]] for m in models.models]
        if max(gram) >= 0.5:
            category = "n-gram"
        elif target.isalnum() and not before.isalnum():
            category = "word start"
        elif counts[text[t + 1]] <= cutoff:
            category = "rare"
        else:
            category = "other"
        context = "".join(vocab[i] for i in text[max(t - 29, 0) : t + 1])
        top = tuple((vocab[i], q) for i, q in zip(top_index[t].tolist(), top_p[t].tolist()))
        rows.append((category, t, context, target, float(rnn_p[t]), top, max(gram), 1 + gram.index(max(gram))))
    return rows


@pytest.fixture(scope="module")
def evaluated():
    rng = np.random.default_rng(11)
    train_text = word_text(rng, 800)
    held_text = word_text(rng, 500).replace("bed", "b3d").replace("off", "oFF")  # '3' and 'F' unseen in training
    vocab = sorted(set(train_text + held_text))
    text = encode(held_text, vocab)
    logits = rng.normal(size=(len(text) - 1, len(vocab))) * 2.0
    ps = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    rnn_p = ps[np.arange(len(text) - 1), text[1:]]
    rnn_p[::3] = rng.uniform(0, 1, size=len(rnn_p[::3]))  # more variety around 0.5
    top_index, top_p = top_predictions(ps)
    return text, vocab, fit_ngrams(encode(train_text, vocab), len(vocab)), rnn_p, top_index, top_p


def test_one_chunk_matches_the_loop_and_keeps_the_first_examples(evaluated):
    text = evaluated[0]
    result = error_breakdown(*evaluated)
    rows = oracle_breakdown(*evaluated)
    assert result.positions == len(text) - 1
    assert result.errors == len(rows)
    assert dict(result.counts) == {c: sum(1 for row in rows if row[0] == c) for c in CATEGORIES}
    assert max(result.counts.values()) > EXAMPLES_KEPT  # the cap is exercised
    assert min(result.counts.values()) > 0  # every category occurs
    for category in CATEGORIES:
        want = [row[1:] for row in rows if row[0] == category][:EXAMPLES_KEPT]
        got = result.examples[category]
        assert len(got) == min(result.counts[category], EXAMPLES_KEPT)
        for example, (t, context, target, p, top, ngram_p, ngram_order) in zip(got, want):
            assert (example.t, example.context, example.target, example.p, example.top) == (t, context, target, p, top)
            assert example.ngram_p == pytest.approx(ngram_p, rel=1e-12) and example.ngram_order == ngram_order
    assert any(len(e.context) == 30 for e in result.examples["other"])


def test_streaming_in_chunks_equals_one_chunk(evaluated):
    text, vocab, models, rnn_p, top_index, top_p = evaluated
    whole = error_breakdown(*evaluated)
    cuts = [0, 1, 1, 5, 40, 41, 300, 1200, len(rnn_p)]  # includes an empty chunk and one of one position
    accumulator = BreakdownAccumulator(text, vocab, models)
    for lo, hi in itertools.pairwise(cuts):
        accumulator.add(lo, rnn_p[lo:hi], top_index[lo:hi], top_p[lo:hi])
    streamed = accumulator.result()
    assert streamed.to_dict() == whole.to_dict()
    assert dict(streamed.examples) == dict(whole.examples)
    assert streamed.rare_chars == whole.rare_chars == "3F"


def test_a_partial_result_counts_only_what_was_fed(evaluated):
    text, vocab, models, rnn_p, top_index, top_p = evaluated
    accumulator = BreakdownAccumulator(text, vocab, models)
    accumulator.add(0, rnn_p[:100], top_index[:100], top_p[:100])
    partial = accumulator.result()
    assert partial.positions == 100
    assert partial.errors == int(np.sum(rnn_p[:100] < 0.5))


def test_chunks_out_of_order_or_past_the_end_are_refused(evaluated):
    text, vocab, models, rnn_p, top_index, top_p = evaluated
    accumulator = BreakdownAccumulator(text, vocab, models)
    with pytest.raises(ValueError, match="in order"):
        accumulator.add(5, rnn_p[5:10], top_index[5:10], top_p[5:10])
    with pytest.raises(ValueError, match="past the text"):
        accumulator.add(0, np.append(rnn_p, 0.1), np.vstack([top_index, top_index[:1]]), np.vstack([top_p, top_p[:1]]))
    with pytest.raises(ValueError, match="vocab"):
        BreakdownAccumulator(text, vocab[:-1], models)


def test_a_nan_probability_is_an_error():
    vocab = ["a", "b"]
    models = fit_ngrams(np.array([0, 1, 0, 1, 1, 0]), 2)
    top_index, top_p = some_top(3, 2)
    result = error_breakdown(np.array([0, 0, 0, 0]), vocab, models, np.array([np.nan, 0.9, 0.9]), top_index, top_p)
    assert result.errors == 1
