"""Features worked by hand, chunked against whole, and r / probe R² against NumPy on full arrays."""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pytest
from conftest import training_scale_params
from test_corpus_pass import oracle_pass

from rnntui.engine import Corpus, RnntuiError
from rnntui.engine import features as features_module
from rnntui.engine.analysis import analyze
from rnntui.engine.features import FEATURE_NAMES, FeatureError, feature_values, make_features, parse_features

HAND_WORKED = [
    ("depth", "a(b[c)d]e)f)(", [0, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 0, 1]),  # the closers at 9 and 11 find nothing open
    ("depth", "((()", [1, 2, 3, 2]),
    ("column", "ab\ncd\n\ne", [0, 1, 2, 0, 1, 2, 0, 0]),
    ("quote", 'a"b"c"d', [0, 1, 1, 0, 0, 1, 1]),
    ("space", "aB 1,é\t+_", [0, 0, 1, 0, 0, 0, 1, 0, 0]),
    ("letter", "aB 1,é\t+_", [1, 1, 0, 0, 0, 1, 0, 0, 0]),
    ("digit", "aB 1,é\t+_", [0, 0, 0, 1, 0, 0, 0, 0, 0]),
    ("upper", "aB 1,é\t+_", [0, 1, 0, 0, 0, 0, 0, 0, 0]),
    ("punct", "aB 1,é\t+_", [0, 0, 0, 0, 1, 0, 0, 1, 1]),
    ("regex:b+", "abbcab", [0, 1, 1, 0, 0, 1]),
    ("regex:(?<=a)b", "abbcab", [0, 1, 0, 0, 0, 1]),
    ("regex:x*", "abxxd", [0, 0, 1, 1, 0]),
]


@pytest.mark.parametrize("name, text, expected", HAND_WORKED)
def test_feature_values_worked_by_hand(name, text, expected):
    assert feature_values(name, Corpus.from_text(text)).tolist() == expected


def plain_features(text: str) -> dict[str, np.ndarray]:
    """Every built-in feature by a plain loop over the characters, from the contract's definitions."""
    out = {name: [] for name in FEATURE_NAMES}
    depth, column, inside = 0, 0, 0
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}" and depth > 0:
            depth -= 1
        if ch == '"':
            inside = 1 - inside
        out["depth"].append(depth)
        out["column"].append(column)
        column = 0 if ch == "\n" else column + 1
        out["quote"].append(inside)
        out["space"].append(ch.isspace())
        out["letter"].append(ch.isalpha())
        out["digit"].append(ch.isdigit())
        out["upper"].append(ch.isupper())
        out["punct"].append(unicodedata.category(ch)[0] in "PS")
    return {name: np.array(values, dtype=np.float64) for name, values in out.items()}


def regex_marks(pattern: str, text: str) -> np.ndarray:
    marks = np.zeros(len(text))
    for match in re.finditer(pattern, text):
        marks[match.start() : match.end()] = 1.0
    return marks


def chunked(name: str, corpus: Corpus, chunk_size: int) -> np.ndarray:
    (feature,) = make_features([name], corpus)
    N = len(corpus)
    return np.concatenate([feature.values(a, min(a + chunk_size, N)) for a in range(0, N, chunk_size)])


def random_text(alphabet: str, n: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    return "".join(rng.choice(list(alphabet), n))


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 50, 10_000])
def test_built_in_features_in_chunks_equal_a_plain_loop_over_the_whole_text(chunk_size):
    text = random_text('ab (){}[]"\n1A,é+', 700, seed=chunk_size) + "))))(((((" + "x" * 30
    corpus = Corpus.from_text(text)
    expected = plain_features(text)
    for name in FEATURE_NAMES:
        assert chunked(name, corpus, chunk_size).tolist() == expected[name].tolist(), name


PATTERNS = ["b+", "x*", "|a", "(?<=a)b", "^a", "a$", r"\bab\b", "(?m)^.", "$", "b|", r"\s+", '"[^"]*"', "a.*?c", "[ab]{3,}"]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_regex_in_chunks_marks_what_finditer_over_the_whole_text_marks(pattern):
    texts = [random_text('ab c"x\n', 400, seed=s) for s in range(3)] + ["a", "ab", "b" * 50 + "a", '"' + "ab" * 40 + '"']
    for text in texts:
        corpus = Corpus.from_text(text) if len(text) >= 2 else Corpus.from_text(text + text)
        expected = regex_marks(pattern, corpus.decode(0, len(corpus)))
        for chunk_size in (1, 2, 5, 64):
            assert chunked(f"regex:{pattern}", corpus, chunk_size).tolist() == expected.tolist(), (text, chunk_size)


@pytest.mark.parametrize("pattern", ["b+", "x*", "|a", "(?<=a)b", "^a", "a$", r"\bab\b", "$", "b|", "[ab]{3,}", "b{4}"])
def test_regex_matches_longer_than_the_context_window_run_on_across_chunks(monkeypatch, pattern):
    # every piece is the chunk and four characters on each side (enough for these patterns'
    # lookarounds and attempts, the documented limit), while matches run over many chunks
    monkeypatch.setattr(features_module, "REGEX_CONTEXT", 4)
    for seed in range(4):
        text = "".join(ch * n for ch, n in zip(random_text("abx ", 60, seed=seed), np.random.default_rng(seed).integers(1, 12, 60)))
        corpus = Corpus.from_text(text)
        expected = regex_marks(pattern, text)
        for chunk_size in (1, 3, 8):
            assert chunked(f"regex:{pattern}", corpus, chunk_size).tolist() == expected.tolist(), (text, chunk_size)


def test_unknown_names_and_bad_patterns_are_one_line_errors_that_list_the_valid_names():
    for bad in ["depht", "regex:(", "regex:a{2,1}", "Depth", 3]:
        with pytest.raises(FeatureError) as err:
            parse_features(["depth", bad])
        message = str(err.value)
        assert isinstance(err.value, RnntuiError) and "\n" not in message
        assert "depth, column, quote, space, letter, digit, upper, punct, regex:PATTERN" in message
    assert parse_features(["depth", "regex:a+", "depth"]) == ("depth", "regex:a+")


def correlation_case(text: str, H: int = 8, seed: int = 0):
    corpus = Corpus.from_text(text)
    params = training_scale_params(corpus.vocab_size, H, seed=seed)
    params["bh"] = params["bh"].copy()
    params["bh"][0] = 40.0  # unit 0 is exactly 1 at every t: a constant unit
    hs = oracle_pass(params, corpus.data)[0]
    return corpus, params, hs


def test_r_and_probe_r2_equal_numpy_on_full_arrays():
    text = random_text('ab (){}[]"\n1A,.', 3000, seed=7)
    corpus, params, hs = correlation_case(text)
    N, H = hs.shape
    analysis = analyze(params, corpus, features=FEATURE_NAMES + ("regex:a+b",), chunk_size=333)
    expected_values = plain_features(text) | {"regex:a+b": regex_marks("a+b", text)}
    half = N // 2
    for name, result in analysis.features.items():
        f = expected_values[name]
        assert result.varies
        r = np.array([0.0] + [np.corrcoef(hs[:, u], f)[0, 1] for u in range(1, H)])
        assert np.abs(result.r - r).max() <= 1e-9, name
        assert result.ranked.tolist() == sorted(range(1, H), key=lambda u: -abs(r[u])), name
        X = np.column_stack([hs, np.ones(N)])
        w = np.linalg.lstsq(X[:half], f[:half], rcond=None)[0]
        residual = f[half:] - X[half:] @ w
        r2 = 1 - residual @ residual / np.sum((f[half:] - f[half:].mean()) ** 2)
        assert result.probe_r2 == pytest.approx(r2, abs=1e-9), name
        assert result.best_abs_r == pytest.approx(np.abs(r).max(), abs=1e-9) and result.best_unit == result.ranked[0]


def test_a_feature_the_text_does_not_vary_is_flagged_instead_of_ranked():
    text = random_text("ab (c)\n", 1000, seed=1)  # no quote, digit or capital
    corpus, params, hs = correlation_case(text)
    analysis = analyze(params, corpus, features=("quote", "digit", "upper", "depth", "regex:z"))
    for name in ("quote", "digit", "upper", "regex:z"):
        result = analysis.features[name]
        assert not result.varies and result.ranked.size == 0 and result.probe_r2 is None
        assert np.all(result.r == 0) and result.best_unit is None
    assert analysis.features["depth"].varies and analysis.features["depth"].ranked.size == hs.shape[1] - 1


def test_a_feature_constant_on_the_second_half_has_r_but_no_probe_score():
    text = random_text("ab1 ", 400, seed=2) + random_text("ab ", 400, seed=3)  # digits only in the first half
    corpus, params, hs = correlation_case(text)
    result = analyze(params, corpus, features=("digit",)).features["digit"]
    f = plain_features(text)["digit"]
    assert result.varies and result.probe_r2 is None
    assert result.r[3] == pytest.approx(np.corrcoef(hs[:, 3], f)[0, 1], abs=1e-9)
