"""Breakpoints: small conditions, checked on each StepRecord, that stop a run.

A breakpoint is written in a tiny language, for example ``nan``,
``clip Whh > 0.1``, ``spike > 3`` or ``every 100``.  :func:`parse_breakpoint`
turns the text into a :class:`Breakpoint`; :class:`BreakpointSet` keeps an
ordered list of them for the headless trainer and the app, and converts it to
and from a NumPy unicode array so it can travel in a checkpoint.

The parser is a hand-written tokenizer plus a recursive-descent reader; user
text is never evaluated.  Every problem raises :class:`BreakpointError` with a
one-line message.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import string
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np

from .errors import RnntuiError
from .evaluation import Evaluation
from .model import PARAM_NAMES
from .record import StepRecord
from .units import SATURATION, saturated_fraction

VALID_FORMS = (
    "nan | clip | clip PARAM > F | loss > X | spike > K | smooth < X | iter == N | every N "
    "| saturation > F | target_prob < P | val > X | gap > X | val rises"
)

HELP = """\
Breakpoints stop the run at the end of the iteration where a condition starts to hold
(a breakpoint that fired stays quiet while its condition keeps holding).
  nan                 any non-finite value in the loss, a gradient or a parameter
  clip                gradient clipping changed at least one element of any parameter
  clip PARAM > F      fraction of PARAM's gradient elements clipped is above F (PARAM: Wxh Whh Why bh by)
                      (also >=; 'clip PARAM' alone means 'clip PARAM > 0')
  loss > X            the window's raw loss (summed over its characters) is above X (also >=, <, <=)
  spike > K           the window's loss is above K times the smooth loss before the step (also >=)
  smooth < X          the smooth loss is below X, e.g. a goal reached (also <=, >, >=)
  iter == N           this is iteration N (the first iteration is 0)
  every N             iterations N, 2N, 3N, ... (never iteration 0)
  saturation > F      fraction of the window's hidden activations with |h| > 0.95 is above F (also >=, <, <=)
  target_prob < P     at some timestep the model gave the target character probability below P (also <=)
  val > X             the latest evaluation's held-out bits per character is above X (also >=, <, <=)
  gap > X             held-out minus training bits per character, at the latest evaluation, is above X (also >=)
  val rises           the held-out bits per character was worse than the best so far for 3 evaluations in a row
Keywords and parameter names ignore case; spaces around operators are optional."""

RISES_IN_A_ROW = 3  # evaluations in a row worse than the best before them, for 'val rises'

_ORDERING = (">", ">=", "<", "<=")
_ABOVE = (">", ">=")
_BELOW = ("<", "<=")
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
}
_PARAMS = {name.lower(): name for name in PARAM_NAMES}
_PARAM_LIST = ", ".join(PARAM_NAMES[:-1]) + " or " + PARAM_NAMES[-1]
_MAX_DIGITS = 18  # longest whole number accepted for iter and every
_MAX_QUOTED = 60  # characters of the user's text repeated in an error message


class BreakpointError(RnntuiError):
    """A breakpoint's text cannot be parsed, or a breakpoint set operation is invalid.

    For a parse error the hint lists the valid forms; ``problem`` alone is
    what places that show that list already (the app's breakpoint dialog) print.
    """


# --- the kinds of condition ----------------------------------------------


@dataclass(frozen=True)
class _Kind:
    """What one keyword accepts: its operators and the range of its number."""

    operators: tuple[str, ...]  # allowed comparisons; empty when the keyword takes none
    number: str | None  # "real" (>= 0), "positive", "fraction" ([0, 1]), "count" (int >= 0), "step" (int >= 1), None
    meaning: str  # what the number is, for range messages


_KINDS: dict[str, _Kind] = {
    "nan": _Kind((), None, ""),
    "clip": _Kind(_ABOVE, "fraction", "clipped fraction"),  # after a parameter name; bare 'clip' takes nothing
    "loss": _Kind(_ORDERING, "real", "loss"),
    "spike": _Kind(_ABOVE, "positive", "spike factor"),
    "smooth": _Kind(_ORDERING, "real", "smooth loss"),
    "iter": _Kind(("==",), "count", "iteration"),
    "every": _Kind((), "step", "interval"),
    "saturation": _Kind(_ORDERING, "fraction", "saturation fraction"),
    "target_prob": _Kind(_BELOW, "fraction", "probability"),
    "val": _Kind(_ORDERING, "real", "bits per character"),  # or 'val rises'
    "gap": _Kind(_ABOVE, "real", "bits per character"),
}


# --- tokenizer -----------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    """One lexical piece of a breakpoint's text; ``column`` is 1-based."""

    kind: str  # "word", "number", "op" or "end"
    text: str
    column: int


class _Problem(Exception):
    """Internal: a parse problem, turned into a BreakpointError by parse_breakpoint."""


_WORD_CHARS = frozenset(string.ascii_letters + "_")
_DIGITS = frozenset(string.digits)
_OPERATORS = (">=", "<=", "==", "!=", "=>", "=<", ">", "<", "=")  # longest first; some only to name them in errors


def _tokenize(text: str) -> list[_Token]:
    """Split ``text`` into words, numbers and operators, ending with an "end" token."""
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in " \t":
            i += 1
        elif ch in _WORD_CHARS:
            i = _read_word(text, i, tokens)
        elif ch in _DIGITS or (ch in "+-." and _number_starts(text, i)):
            i = _read_number(text, i, tokens)
        elif ch in "<>=!":
            i = _read_operator(text, i, tokens)
        else:
            raise _Problem(f"unexpected character {_show_char(ch)} at column {i + 1}")
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


def _read_word(text: str, i: int, tokens: list[_Token]) -> int:
    """Append the word starting at ``i``; return the index after it."""
    j = i
    while j < len(text) and text[j] in _WORD_CHARS:
        j += 1
    tokens.append(_Token("word", text[i:j], i + 1))
    return j


def _number_starts(text: str, i: int) -> bool:
    """True when a sign or point at ``i`` begins a number (a digit follows)."""
    j = i + 1 if text[i] in "+-" else i
    if j < len(text) and text[j] == ".":
        j += 1
    return j < len(text) and text[j] in _DIGITS


def _read_digits(text: str, j: int) -> int:
    """Index after the run of ASCII digits starting at ``j``."""
    while j < len(text) and text[j] in _DIGITS:
        j += 1
    return j


def _read_number(text: str, i: int, tokens: list[_Token]) -> int:
    """Append the number starting at ``i`` (sign, digits, point, exponent); return the index after it."""
    j = i + 1 if text[i] in "+-" else i
    j = _read_digits(text, j)
    if j < len(text) and text[j] == ".":
        j = _read_digits(text, j + 1)
    if j < len(text) and text[j] in "eE":
        k = j + 1
        if k < len(text) and text[k] in "+-":
            k += 1
        end = _read_digits(text, k)
        if end == k:
            raise _Problem(f"malformed number {_brief(text[i:end])} at column {i + 1}: the exponent needs digits")
        j = end
    tokens.append(_Token("number", text[i:j], i + 1))
    return j


def _read_operator(text: str, i: int, tokens: list[_Token]) -> int:
    """Append the operator starting at ``i``; return the index after it."""
    for op in _OPERATORS:
        if text.startswith(op, i):
            tokens.append(_Token("op", op, i + 1))
            return i + len(op)
    raise _Problem(f"unexpected character {_show_char(text[i])} at column {i + 1}")


def _brief(text: str) -> str:
    """A token quoted for an error message, shortened when long."""
    return repr(text if len(text) <= 24 else text[:21] + "...")


def _show_char(ch: str) -> str:
    """A character quoted for an error message, escaped when it is not printable."""
    return repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}"


# --- the breakpoint ------------------------------------------------------


@dataclass(frozen=True)
class Breakpoint:
    """One parsed condition.

    Frozen: :meth:`toggled` and :meth:`with_enabled` return a new object.
    ``str(bp)`` is the canonical source text and parses back to an equal
    breakpoint (enabled state aside, which is not part of the text).
    A disabled breakpoint never fires.  Build breakpoints with
    :func:`parse_breakpoint`, which checks every field.
    """

    kind: str  # a key of the language: "nan", "clip", "loss", "spike", ...
    param: str | None = None  # canonical parameter name, for "clip PARAM > F"
    op: str | None = None  # comparison operator, or None for nan, clip, every
    value: float | int | None = None  # the threshold, N for iter and every
    enabled: bool = True

    def __str__(self) -> str:
        return self.source

    @property
    def source(self) -> str:
        """Canonical text: lower-case keyword, canonical parameter name, single spaces."""
        parts = [self.kind]
        if self.param is not None:
            parts.append(self.param)
        if self.op is not None:
            parts.append(self.op)
        if self.value is not None:
            parts.append(_format_number(self.value))
        return " ".join(parts)

    def toggled(self) -> "Breakpoint":
        """A copy with the enabled flag flipped."""
        return self.with_enabled(not self.enabled)

    def with_enabled(self, enabled: bool) -> "Breakpoint":
        """A copy with the given enabled flag."""
        return dataclasses.replace(self, enabled=bool(enabled))

    def check(self, record: StepRecord, evaluations: Sequence[Evaluation] = ()) -> str | None:
        """The reason this breakpoint fires on ``record``, or None (always None when disabled).

        ``evaluations``: those made so far on this branch, oldest first (for val, gap and val rises).
        """
        if not self.enabled:
            return None
        if self.kind in _EVALUATION_CHECKS:
            detail = _EVALUATION_CHECKS[self.kind](self, record, evaluations)
        else:
            detail = _CHECKS[self.kind](self, record)
        return None if detail is None else f"{self.source}: {detail}"

    def _holds(self, measured: float) -> bool:
        """``measured OP value`` (False for NaN)."""
        return _COMPARE[self.op](measured, self.value)


def _format_number(value: float | int) -> str:
    """Shortest text that reads back as ``value`` (whole numbers without a point)."""
    if isinstance(value, int):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _g(x: float) -> str:
    """A measured number: enough digits that it never reads as equal to a nearby threshold."""
    return f"{x:.6g}"


# --- checks: each returns a detail string when the condition holds -------


def _check_nan(bp: Breakpoint, r: StepRecord) -> str | None:
    if r.nonfinite is None:
        return None
    return f"non-finite {r.nonfinite} at iteration {r.iteration}"


def _check_clip(bp: Breakpoint, r: StepRecord) -> str | None:
    if bp.param is None:
        engaged = [f"{name} {_g(frac)}" for name, frac in r.clip_fractions.items() if frac > 0]
        if not engaged:
            return None
        return f"clipped fraction {', '.join(engaged)} at iteration {r.iteration}"
    fraction = r.clip_fractions[bp.param]
    if not bp._holds(fraction):
        return None
    return f"{bp.param} clipped fraction {_g(fraction)} at iteration {r.iteration}"


def _check_loss(bp: Breakpoint, r: StepRecord) -> str | None:
    if not bp._holds(r.loss):
        return None
    return f"loss {_g(r.loss)} at iteration {r.iteration}"


def _check_spike(bp: Breakpoint, r: StepRecord) -> str | None:
    before = r.smooth_loss_before
    if not _COMPARE[bp.op](r.loss, bp.value * before):
        return None
    ratio = r.loss / before if before > 0 else math.inf
    return f"loss {_g(r.loss)} is {_g(ratio)} x the smooth loss {_g(before)} at iteration {r.iteration}"


def _check_smooth(bp: Breakpoint, r: StepRecord) -> str | None:
    if not bp._holds(r.smooth_loss):
        return None
    return f"smooth loss {_g(r.smooth_loss)} at iteration {r.iteration}"


def _check_iter(bp: Breakpoint, r: StepRecord) -> str | None:
    return f"reached iteration {r.iteration}" if r.iteration == bp.value else None


def _check_every(bp: Breakpoint, r: StepRecord) -> str | None:
    if r.iteration > 0 and r.iteration % bp.value == 0:
        return f"iteration {r.iteration}"
    return None


def saturation(record: StepRecord) -> float:
    """Fraction of the window's T x H hidden activations with |h| > SATURATION."""
    return saturated_fraction(record.hs)


def _check_saturation(bp: Breakpoint, r: StepRecord) -> str | None:
    fraction = saturation(r)
    if not bp._holds(fraction):
        return None
    return f"{_g(fraction)} of hidden activations have |h| > {SATURATION} at iteration {r.iteration}"


def _check_target_prob(bp: Breakpoint, r: StepRecord) -> str | None:
    probs = r.target_probs
    if probs.size == 0:
        return None
    t = int(np.argmin(probs))
    if not bp._holds(float(probs[t])):
        return None
    return f"target at t={t} had probability {_g(float(probs[t]))} at iteration {r.iteration}"


_CHECKS: dict[str, Callable[[Breakpoint, StepRecord], str | None]] = {
    "nan": _check_nan,
    "clip": _check_clip,
    "loss": _check_loss,
    "spike": _check_spike,
    "smooth": _check_smooth,
    "iter": _check_iter,
    "every": _check_every,
    "saturation": _check_saturation,
    "target_prob": _check_target_prob,
}


def _latest_held_out(evaluations: Sequence[Evaluation]) -> Evaluation | None:
    held = [e for e in evaluations if e.val_bpc is not None]
    return held[-1] if held else None


def _check_val(bp: Breakpoint, r: StepRecord, evaluations: Sequence[Evaluation]) -> str | None:
    latest = _latest_held_out(evaluations)
    if latest is None or not bp._holds(latest.val_bpc):
        return None
    return f"held-out {_g(latest.val_bpc)} bits per character at evaluation {latest.iteration}"


def _check_gap(bp: Breakpoint, r: StepRecord, evaluations: Sequence[Evaluation]) -> str | None:
    latest = _latest_held_out(evaluations)
    if latest is None or not bp._holds(latest.gap):
        return None
    return (f"held-out minus training {_g(latest.gap)} bits per character ({_g(latest.val_bpc)} against "
            f"{_g(latest.train_bpc)}) at evaluation {latest.iteration}")


def _check_val_rises(bp: Breakpoint, r: StepRecord, evaluations: Sequence[Evaluation]) -> str | None:
    vals = [(e.iteration, e.val_bpc) for e in evaluations if e.val_bpc is not None]
    if len(vals) <= RISES_IN_A_ROW:
        return None
    worse = [value > min(v for _, v in vals[:i]) for i, (_, value) in enumerate(vals) if i]
    if not all(worse[-RISES_IN_A_ROW:]):
        return None
    best = min(v for _, v in vals[: len(vals) - RISES_IN_A_ROW])
    return (f"held-out bits per character worse than the best so far ({_g(best)}) for {RISES_IN_A_ROW} evaluations "
            f"in a row, now {_g(vals[-1][1])} at evaluation {vals[-1][0]}")


_EVALUATION_CHECKS: dict[str, Callable[[Breakpoint, StepRecord, Sequence[Evaluation]], str | None]] = {
    "val": _check_val,
    "gap": _check_gap,
    "val rises": _check_val_rises,
}


# --- parser --------------------------------------------------------------


def parse_breakpoint(text: object) -> Breakpoint:
    """Parse one breakpoint, e.g. ``"clip Whh > 0.1"``; raises BreakpointError on anything else."""
    if not isinstance(text, str):
        problem = f"a breakpoint must be text, got {type(text).__name__}"
        raise BreakpointError(problem, f"valid forms: {VALID_FORMS}")
    try:
        return _Parser(_tokenize(text)).breakpoint()
    except _Problem as err:
        problem = f"bad breakpoint {_quote(text)}: {err}"
        raise BreakpointError(problem, f"valid forms: {VALID_FORMS}") from None


def _quote(text: str) -> str:
    """The user's text quoted on one line, shortened when long."""
    if len(text) > _MAX_QUOTED:
        text = text[: _MAX_QUOTED - 3] + "..."
    return repr(text)


class _Parser:
    """Reads a token list: KEYWORD [PARAM] [OP] [NUMBER] END, as the keyword allows."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.pos]

    def advance(self) -> _Token:
        token = self.current
        self.pos += 1
        return token

    def unexpected(self, expected: str) -> _Problem:
        """A problem naming the current token (or the end of the text) and what should be there."""
        token = self.current
        if token.kind == "end":
            return _Problem(f"missing {expected} at column {token.column} (end of text)")
        return _Problem(f"unexpected {_brief(token.text)} at column {token.column} (expected {expected})")

    def breakpoint(self) -> Breakpoint:
        if self.current.kind == "end":
            raise _Problem("the text is empty")
        keyword = self.keyword()
        if keyword == "nan":
            bp = Breakpoint("nan")
        elif keyword == "clip":
            bp = self.clip()
        elif keyword == "every":
            bp = Breakpoint("every", value=self.number(_KINDS["every"]))
        elif keyword == "val" and self.current.kind == "word" and self.current.text.lower() == "rises":
            self.advance()
            bp = Breakpoint("val rises")
        else:
            kind = _KINDS[keyword]
            op = self.operator(keyword, kind.operators)
            bp = Breakpoint(keyword, op=op, value=self.number(kind))
        self.finish()
        return bp

    def keyword(self) -> str:
        token = self.current
        if token.kind != "word":
            raise self.unexpected("a condition name such as nan, clip or loss")
        name = token.text.lower()
        if name not in _KINDS:
            close = difflib.get_close_matches(name, list(_KINDS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise _Problem(f"unknown condition {_brief(token.text)} at column {token.column}{hint}")
        self.advance()
        return name

    def clip(self) -> Breakpoint:
        """``clip`` alone, or ``clip PARAM [> F]`` (a bare parameter means ``> 0``)."""
        if self.current.kind == "end":
            return Breakpoint("clip")
        token = self.current
        if token.kind != "word":
            raise self.unexpected(f"a parameter name, one of {_PARAM_LIST}, or the end")
        param = _PARAMS.get(token.text.lower())
        if param is None:
            raise _Problem(f"unknown parameter {_brief(token.text)} at column {token.column} (use {_PARAM_LIST})")
        self.advance()
        if self.current.kind == "end":
            return Breakpoint("clip", param=param, op=">", value=0.0)
        op = self.operator(f"clip {param}", _KINDS["clip"].operators)
        return Breakpoint("clip", param=param, op=op, value=self.number(_KINDS["clip"]))

    def operator(self, subject: str, allowed: tuple[str, ...]) -> str:
        token = self.current
        if token.kind != "op":
            raise self.unexpected(f"an operator: {' or '.join(allowed)}")
        if token.text not in allowed:
            raise _Problem(
                f"operator {_brief(token.text)} at column {token.column} does not apply to {subject} "
                f"(use {' or '.join(allowed)})"
            )
        self.advance()
        return token.text

    def number(self, kind: _Kind) -> float | int:
        whole = kind.number in ("count", "step")
        token = self.current
        if token.kind != "number":
            raise self.unexpected("a whole number" if whole else "a number")
        self.advance()
        value = _whole_number(token, kind) if whole else _real_number(token, kind)
        _check_range(token, value, kind)
        return value

    def finish(self) -> None:
        if self.current.kind != "end":
            raise self.unexpected("the end of the breakpoint")


def _whole_number(token: _Token, kind: _Kind) -> int:
    """The integer a token spells with digits only."""
    digits = token.text.lstrip("+-")
    if not all(ch in _DIGITS for ch in digits):
        raise _Problem(f"{kind.meaning} must be a whole number, got {_brief(token.text)} at column {token.column}")
    if len(digits.lstrip("0")) > _MAX_DIGITS:
        raise _Problem(f"{kind.meaning} {_brief(token.text)} at column {token.column} is too large")
    return int(token.text)


def _real_number(token: _Token, kind: _Kind) -> float:
    """The finite float a number token spells."""
    value = float(token.text)  # the tokenizer admits only sign, ASCII digits, point and exponent
    if not math.isfinite(value):
        raise _Problem(f"{kind.meaning} {_brief(token.text)} at column {token.column} is too large to be finite")
    return value


def _check_range(token: _Token, value: float | int, kind: _Kind) -> None:
    """Reject thresholds that make no sense for the keyword."""
    where = f"at column {token.column}"
    if value < 0:
        raise _Problem(f"{kind.meaning} must not be negative, got {_brief(token.text)} {where}")
    if kind.number == "fraction" and value > 1:
        raise _Problem(f"{kind.meaning} must be between 0 and 1, got {_brief(token.text)} {where}")
    if kind.number in ("positive", "step") and value == 0:
        raise _Problem(f"{kind.meaning} must be above 0, got {_brief(token.text)} {where}")


# --- the set -------------------------------------------------------------

_ON, _OFF = "on", "off"
_HELD = "held"  # its condition held at the last check: it fires again only after it stops holding


class BreakpointSet:
    """An ordered list of breakpoints shared by the headless trainer and the app.

    Indices are 0-based positions in insertion order.  Breakpoints are frozen,
    so :meth:`toggle` replaces the entry with a toggled copy.

    A breakpoint fires where its condition *starts* to hold: once it has fired
    (say ``smooth < 60``) it stays quiet while the condition keeps holding, so a
    run can be continued, and fires again only after the condition stopped
    holding and came back. What held at the last check is saved with the set.
    """

    def __init__(self, breakpoints: list[Breakpoint] | None = None) -> None:
        self._items: list[Breakpoint] = []
        self._held: set[str] = set()  # sources whose condition held at the last check
        self.version = 0  # grows with every change to the list (what a front-end shows)
        for bp in breakpoints or []:
            self._append(bp)

    def __iter__(self) -> Iterator[Breakpoint]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> Breakpoint:
        return self._items[self._index(index)]

    def __repr__(self) -> str:
        return f"BreakpointSet({[str(bp) + ('' if bp.enabled else ' (off)') for bp in self._items]})"

    def add(self, text: str) -> Breakpoint:
        """Parse ``text`` and append it (enabled); duplicates of an existing breakpoint are rejected."""
        return self._append(parse_breakpoint(text))

    def _append(self, bp: Breakpoint) -> Breakpoint:
        for i, other in enumerate(self._items):
            if other.source == bp.source:
                raise BreakpointError(f"breakpoint {bp.source!r} already exists (number {i + 1}); toggle or remove that one")
        self._items.append(bp)
        self.version += 1
        return bp

    def ensure(self, text: str) -> Breakpoint:
        """Make sure the breakpoint ``text`` is in the set and on: added if new, switched on if off.

        Giving a breakpoint again (``--break`` on a resumed run) means the user
        wants it now, whatever state it was saved in.
        """
        wanted = parse_breakpoint(text)
        for i, bp in enumerate(self._items):
            if bp.source == wanted.source:
                return bp if bp.enabled else self.toggle(i)
        return self._append(wanted)

    def remove(self, index: int) -> Breakpoint:
        """Remove and return the breakpoint at ``index``."""
        bp = self._items.pop(self._index(index))
        self._held.discard(bp.source)
        self.version += 1
        return bp

    def toggle(self, index: int) -> Breakpoint:
        """Flip the enabled flag of the breakpoint at ``index``; return the new one."""
        i = self._index(index)
        self._items[i] = self._items[i].toggled()
        self.version += 1
        return self._items[i]

    def _index(self, index: int) -> int:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(self._items):
            raise BreakpointError(
                f"no breakpoint at index {index!r}; there are {len(self._items)} (indices start at 0)"
            )
        return int(index)

    def check(self, record: StepRecord, evaluations: Sequence[Evaluation] = ()) -> str | None:
        """The reason of the first enabled breakpoint whose condition starts to hold at ``record``, or None.

        Every enabled breakpoint is evaluated, so each one's held state stays current.
        """
        first = None
        for bp in tuple(self._items):  # a copy: the app may edit the list while a run checks it
            reason = bp.check(record, evaluations)  # None for a disabled breakpoint
            if reason is None:
                self._held.discard(bp.source)
                continue
            if bp.source not in self._held and first is None:
                first = reason
            self._held.add(bp.source)
        return first

    def to_array(self) -> np.ndarray:
        """(n, 3) unicode array: canonical text, "on"/"off", and "held" or "" per breakpoint (no pickling)."""
        rows = [[bp.source, _ON if bp.enabled else _OFF, _HELD if bp.source in self._held else ""] for bp in self._items]
        return np.array(rows, dtype=np.str_).reshape(len(rows), 3)

    @classmethod
    def from_array(cls, arr: np.ndarray) -> "BreakpointSet":
        """Rebuild a set from :meth:`to_array` output; raises BreakpointError if it is not one."""
        arr = np.asarray(arr)
        if arr.dtype.kind != "U" or arr.ndim != 2 or arr.shape[1] not in (2, 3):
            raise BreakpointError(
                f"saved breakpoints must be an (n, 3) text array, got {arr.dtype} of shape {arr.shape}; "
                f"the checkpoint is damaged or from another program"
            )
        out = cls()
        for row in arr.tolist():
            source, state = row[0], row[1]
            if state not in (_ON, _OFF):
                raise BreakpointError(f"saved breakpoint {source!r} has state {state!r}, not 'on' or 'off'; the checkpoint is damaged")
            bp = out._append(parse_breakpoint(source).with_enabled(state == _ON))
            if len(row) == 3 and row[2] == _HELD:
                out._held.add(bp.source)
        return out


__all__ = [
    "HELP",
    "SATURATION",
    "VALID_FORMS",
    "Breakpoint",
    "BreakpointError",
    "BreakpointSet",
    "parse_breakpoint",
    "saturation",
]
