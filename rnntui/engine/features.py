"""Features of the text, their correlation with every unit, and linear probes.

A feature gives a number per character t, describing the state after reading t
(the contract's definitions):

- ``depth``: unclosed ``(``, ``[``, ``{``; a closer with nothing open leaves 0
  (a count: any closer closes any opener);
- ``column``: characters since the last newline before t (right after a newline: 0);
- ``quote``: 1 inside double quotes (each ``"`` toggles; the opening one counts as
  inside, the closing one does not);
- ``space``, ``letter``, ``digit``, ``upper``: 1 when the character is of that
  class (Python's ``str.isspace``, ``isalpha``, ``isdigit``, ``isupper``);
  ``punct``: 1 for punctuation and symbols (Unicode categories P and S, which
  include every ASCII character of ``string.punctuation``);
- ``regex:PATTERN``: 1 for characters inside any match of ``re.finditer(PATTERN, text)``.

Values are produced a chunk at a time with carried state (an open bracket, the
last newline, an open quote or a match run on into the next chunk).

For each feature: Pearson's r with every unit over all t (0 where the unit or the
feature is constant), the units ranked by |r|, and a held-out probe: least squares
of the feature on [h_t, 1] fitted on t < N // 2 and scored by R² on the rest. All
of it comes from two :class:`~rnntui.engine.units.Moments` of the columns [h_t,
features] (one per half), so the memory is O((H + F)^2) whatever N is.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .corpus import Corpus
from .corpus_pass import Chunk
from .errors import RnntuiError
from .record import frozen
from .units import Moments

CLASS_TESTS: dict[str, Callable[[str], bool]] = {
    "space": str.isspace,
    "letter": str.isalpha,
    "digit": str.isdigit,
    "upper": str.isupper,
    "punct": lambda ch: unicodedata.category(ch)[0] in "PS",
}
FEATURE_NAMES = ("depth", "column", "quote", *CLASS_TESTS)  # the built-in features, in order
REGEX_PREFIX = "regex:"
VALID_FEATURES = ", ".join(FEATURE_NAMES) + f", {REGEX_PREFIX}PATTERN"
OPENERS, CLOSERS = "([{", ")]}"
NEWLINE, QUOTE = "\n", '"'
REGEX_CONTEXT = 4096  # characters of text a regex sees beyond the chunk (lookarounds, a failed long attempt)


class FeatureError(RnntuiError):
    """An unknown feature name or a regular expression that does not compile."""


# --- features ---------------------------------------------------------------------------
class Feature:
    """A number per character; :meth:`values` is called for consecutive ranges, in text order."""

    name: str

    def values(self, start: int, stop: int) -> np.ndarray:  # pragma: no cover - interface
        """(stop - start,) float64 values of characters start..stop-1."""
        raise NotImplementedError


def _vocab_table(corpus: Corpus, test: Callable[[str], object], dtype=np.float64) -> np.ndarray:
    """(V,) test(character) for every character of the vocabulary."""
    return np.array([bool(test(ch)) for ch in corpus.vocab], dtype=dtype)


class ClassFeature(Feature):
    """1 where the character passes a test, else 0 (no state)."""

    def __init__(self, name: str, corpus: Corpus, test: Callable[[str], bool]) -> None:
        self.name = name
        self.data = corpus.data
        self.table = _vocab_table(corpus, test)  # (V,)

    def values(self, start: int, stop: int) -> np.ndarray:
        return self.table[self.data[start:stop]]


class DepthFeature(Feature):
    """Unclosed brackets: d_t = max(0, d_{t-1} + step_t), with step +1 at an opener, -1 at a closer."""

    name = "depth"

    def __init__(self, corpus: Corpus) -> None:
        self.data = corpus.data
        self.step = _vocab_table(corpus, OPENERS.__contains__, np.int64) - _vocab_table(corpus, CLOSERS.__contains__, np.int64)
        self.depth = 0  # d before the next range

    def values(self, start: int, stop: int) -> np.ndarray:
        # A walk held at 0 from below is the free walk minus its lowest point so far
        # (when that is below 0): s_t - min(0, min_{k<=t} s_k), with s starting at the carried depth.
        walk = self.depth + np.cumsum(self.step[self.data[start:stop]])  # (n,)
        depth = walk - np.minimum(np.minimum.accumulate(walk), 0)
        if len(depth):
            self.depth = int(depth[-1])
        return depth.astype(np.float64)


class ColumnFeature(Feature):
    """t minus the position of the last newline before t, minus 1 (the line's first character: 0)."""

    name = "column"

    def __init__(self, corpus: Corpus) -> None:
        self.data = corpus.data
        self.is_newline = _vocab_table(corpus, NEWLINE.__eq__, bool)  # (V,)
        self.last_newline = -1  # position of the last newline before the next range

    def values(self, start: int, stop: int) -> np.ndarray:
        positions = np.arange(start, stop)  # (n,)
        newline_at = np.where(self.is_newline[self.data[start:stop]], positions, -1)
        last_at_or_before = np.maximum.accumulate(np.maximum(newline_at, self.last_newline))  # (n,)
        last_before = np.concatenate(([self.last_newline], last_at_or_before[:-1]))
        if len(positions):
            self.last_newline = int(last_at_or_before[-1])
        return (positions - last_before - 1).astype(np.float64)


class QuoteFeature(Feature):
    """Parity of the double quotes read so far, t included: 1 from an opening quote up to its closing one."""

    name = "quote"

    def __init__(self, corpus: Corpus) -> None:
        self.data = corpus.data
        self.is_quote = _vocab_table(corpus, QUOTE.__eq__, np.int64)  # (V,)
        self.quotes = 0  # quotes before the next range, mod 2

    def values(self, start: int, stop: int) -> np.ndarray:
        parity = (self.quotes + np.cumsum(self.is_quote[self.data[start:stop]])) % 2  # (n,)
        if len(parity):
            self.quotes = int(parity[-1])
        return parity.astype(np.float64)


class RegexFeature(Feature):
    """1 inside matches of ``re.finditer(pattern, text)``, found chunk by chunk.

    Each range is decoded with REGEX_CONTEXT characters of text before the scan
    position and after the range, and scanned from where the previous match
    ended, so matches are the ones a scan of the whole text finds. A match that
    reaches the end of the decoded text is searched again in a longer piece,
    and a match running past the range marks the following ranges too. The one
    limit: a pattern whose lookarounds (or a long attempt that fails) need more
    than REGEX_CONTEXT characters beyond the range may see a different text.
    """

    def __init__(self, name: str, corpus: Corpus, pattern: re.Pattern) -> None:
        self.name = name
        self.data = corpus.data
        self.pattern = pattern
        self.code_points = np.array([ord(ch) for ch in corpus.vocab], dtype=np.uint32)  # (V,)
        self.resume = 0  # where the scan continues (the end of the last match)
        self.marked_until = 0  # a match that ran past the last range marks up to here

    def _text(self, begin: int, end: int) -> str:
        return self.code_points[self.data[begin:end]].tobytes().decode("utf-32-le", errors="surrogatepass")

    def values(self, start: int, stop: int) -> np.ndarray:
        out = np.zeros(stop - start)  # (n,)
        out[: max(min(self.marked_until, stop) - start, 0)] = 1.0
        for match_start, match_end in self._matches_starting_before(stop):
            out[max(match_start, start) - start : min(match_end, stop) - start] = 1.0
            self.marked_until = max(self.marked_until, match_end)
        return out

    def _matches_starting_before(self, stop: int):
        """Yield (start, end) of the next matches that start before ``stop``, advancing the scan."""
        N = len(self.data)
        begin = max(self.resume - REGEX_CONTEXT, 0)  # context before: lookbehinds, \b; ^ only at the text's start
        end = min(stop + REGEX_CONTEXT, N)
        while True:
            text = self._text(begin, end)
            cut_short = False
            for match in self.pattern.finditer(text, self.resume - begin):
                found = (match.start() + begin, match.end() + begin)
                if found[0] >= stop:
                    break
                # a match at the piece's end (or before its last character, where $ matches
                # before a newline) might go on in the text: scan a longer piece
                if match.end() >= len(text) - 1 and end < N:
                    cut_short = True
                    break
                yield found
                self.resume = found[1]  # (a restart here may find an empty match again: it marks nothing)
            if not cut_short:
                break
            end = min(end + (end - begin), N)
        # no match starts in resume..stop-1, so scanning on from stop finds the same ones
        self.resume = max(self.resume, stop)


def parse_features(names: Sequence[str]) -> tuple[str, ...]:
    """Check feature names (and compile regexes) without a corpus; duplicates are dropped."""
    out: list[str] = []
    for name in names:
        _compile(name)
        if name not in out:
            out.append(name)
    return tuple(out)


def _compile(name: str) -> re.Pattern | None:
    """The compiled pattern of a regex feature, None for a built-in one; FeatureError otherwise."""
    if not isinstance(name, str):
        raise FeatureError(f"feature names are text, got {name!r}; valid features: {VALID_FEATURES}")
    if name.startswith(REGEX_PREFIX):
        try:
            return re.compile(name[len(REGEX_PREFIX) :])
        except (re.error, OverflowError) as err:  # OverflowError: a repeat count too large (a{99999999999})
            reason = str(err).splitlines()[0]
            raise FeatureError(f"bad regular expression in feature {name!r}: {reason}; valid features: {VALID_FEATURES}") from None
    if name not in FEATURE_NAMES:
        raise FeatureError(f"unknown feature {name!r}; valid features: {VALID_FEATURES}")
    return None


def make_features(names: Sequence[str], corpus: Corpus) -> list[Feature]:
    """Fresh feature objects (their carried state at the text's start) for ``names``."""
    features: list[Feature] = []
    for name in parse_features(names):
        pattern = _compile(name)
        if pattern is not None:
            features.append(RegexFeature(name, corpus, pattern))
        elif name in CLASS_TESTS:
            features.append(ClassFeature(name, corpus, CLASS_TESTS[name]))
        else:
            features.append({"depth": DepthFeature, "column": ColumnFeature, "quote": QuoteFeature}[name](corpus))
    return features


def feature_values(name: str, corpus: Corpus) -> np.ndarray:
    """(N,) the values of one feature over the whole text (for short texts and tests)."""
    (feature,) = make_features([name], corpus)
    return feature.values(0, len(corpus))


# --- streaming over the pass --------------------------------------------------------------------
class FeatureTracker:
    """A pass consumer: moments of the columns [h_t (H), feature values (F)] per half of the text.

    The first half (t < N // 2) is the probe's training set, the rest its test
    set; together they give every correlation and the units' means and variances.
    """

    def __init__(self, hidden_size: int, features: Sequence[Feature], chars: int) -> None:
        self.hidden_size = hidden_size
        self.features = list(features)
        self.split = chars // 2  # t < split: first half
        width = hidden_size + len(self.features)
        self.first = Moments(width)
        self.second = Moments(width)
        self.minimum = np.full(len(self.features), np.inf)  # (F,) to tell a feature that never varies
        self.maximum = np.full(len(self.features), -np.inf)
        self._rows = np.empty((0, width))  # (L, H + F) reused for every chunk

    def __call__(self, chunk: Chunk) -> None:
        n, H = chunk.hs.shape
        if len(self._rows) < n:
            self._rows = np.empty((n, self._rows.shape[1]))
        rows = self._rows[:n]
        rows[:, :H] = chunk.hs
        for j, feature in enumerate(self.features):
            values = feature.values(chunk.start, chunk.stop)
            rows[:, H + j] = values
            if n:
                self.minimum[j] = min(self.minimum[j], values.min())
                self.maximum[j] = max(self.maximum[j], values.max())
        cut = min(max(self.split - chunk.start, 0), n)  # rows before cut are in the first half
        self.first.add(rows[:cut], overwrite=True)
        self.second.add(rows[cut:], overwrite=True)

    @property
    def varies(self) -> np.ndarray:
        """(F,) True for features that take more than one value over the text."""
        return self.minimum < self.maximum


# --- results --------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class FeatureResult:
    """One feature against every unit."""

    name: str
    varies: bool  # False: one value over the whole text, so nothing to correlate or probe
    r: np.ndarray  # (H,) Pearson r of h_t[u] with the feature; 0 where either is constant
    ranked: np.ndarray  # (R,) the units that vary, by |r| largest first (ties: lower unit first); empty if not varies
    probe_r2: float | None  # R² of the held-out probe; None when not varies or the second half has one value

    @property
    def best_unit(self) -> int | None:
        """The unit with the largest |r|, or None."""
        return int(self.ranked[0]) if len(self.ranked) else None

    @property
    def best_abs_r(self) -> float:
        """The largest |r| over the units (0 when nothing varies)."""
        return float(abs(self.r[self.ranked[0]])) if len(self.ranked) else 0.0


def correlations(moments: Moments, hidden_size: int, column: int, constant_units: np.ndarray) -> np.ndarray:
    """(H,) Pearson r of each unit with column ``column`` of the moments; 0 for constant units."""
    H = hidden_size
    C = moments.comoment
    scale = np.sqrt(np.diag(C)[:H] * C[column, column])  # (H,)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = C[:H, column] / scale
    r = np.clip(r, -1.0, 1.0)  # rounding can step just past +-1
    r[constant_units] = 0.0
    return r


def probe_r2(first: Moments, second: Moments, hidden_size: int, column: int) -> float | None:
    """R² on the second half of least squares of column ``column`` on [h, 1] fitted on the first half.

    Fitted on the centred moments (the intercept then follows from the means);
    units constant in the first half get weight 0, and the rest are scaled to
    unit variance before the solve, which helps its conditioning. Where the fit
    is not determined (fewer first-half rows than units), the smallest weights
    are chosen. None when either half is empty or the second half's values are all equal.
    """
    H = hidden_size
    if first.count == 0 or second.count == 0:
        return None
    Cxx, cxy = first.comoment[:H, :H], first.comoment[:H, column]
    d = np.sqrt(np.diag(Cxx))  # (H,)
    keep = d > 0
    w = np.zeros(H)  # (H,) weights of the units
    if keep.any():
        scaled = Cxx[np.ix_(keep, keep)] / np.outer(d[keep], d[keep])
        w[keep] = np.linalg.lstsq(scaled, cxy[keep] / d[keep], rcond=None)[0] / d[keep]
    intercept = first.mean[column] - first.mean[:H] @ w
    # residual sum of squares on the second half, from its centred moments and means
    C = second.comoment
    ss_total = C[column, column]
    if not ss_total > 0:
        return None
    offset = second.mean[column] - intercept - second.mean[:H] @ w
    ss_residual = C[column, column] - 2 * w @ C[:H, column] + w @ C[:H, :H] @ w + second.count * offset**2
    return float(1.0 - max(ss_residual, 0.0) / ss_total)


def feature_result(tracker: FeatureTracker, full: Moments, index: int, constant_units: np.ndarray) -> FeatureResult:
    """The result of feature ``index`` of ``tracker`` after the pass; ``full`` holds both halves' moments."""
    H = tracker.hidden_size
    column = H + index
    name = tracker.features[index].name
    if not tracker.varies[index]:
        return FeatureResult(name, False, frozen(np.zeros(H)), frozen(np.zeros(0, dtype=np.intp)), None)
    r = correlations(full, H, column, constant_units)
    varying = np.flatnonzero(~constant_units)
    ranked = varying[np.argsort(-np.abs(r[varying]), kind="stable")]
    return FeatureResult(name, True, frozen(r), frozen(ranked), probe_r2(tracker.first, tracker.second, H, column))
