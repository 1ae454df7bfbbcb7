"""'What if?' on one training window: change the text, the carried state or a unit, and compare.

Everything here is a pure function of (parameters, window, interventions): it
reads the parameters and never changes a Trainer, its data pointer, its
hidden state or its random generators.

A window is what one iteration trains on: ``inputs`` = data[p : p+T],
``targets`` = data[p+1 : p+T+1] and the carried hidden state ``hprev``
(``Trainer.next_window()`` or the fields of a ``StepRecord``). Its text has
positions 0..T: position t < T is input t, position t >= 1 is also target
t-1.

Interventions (frozen dataclasses; any number of them, combined):

* :class:`EditChar` -- replace the character at one text position;
* :class:`ZeroHprev`, :class:`SetHprev` -- replace the carried state;
* :class:`ZeroUnit`, :class:`ClampUnit`, :class:`FlipUnit` -- replace a unit's
  value h_t[u] after the tanh (so y_t and h_{t+1} both see it), at one
  timestep, a span of timesteps or the whole window, in the order given.

:func:`run_window` runs a window with interventions, :func:`compare` diffs two
runs, :func:`ablation_scan` zeroes every unit in turn (all of them in one
batched pass), :func:`compare_params` reads one window with two parameter sets.
The ``parse_*`` functions read the headless ``rnntui whatif`` flags, and
:func:`whatif_json` / :func:`whatif_report` give its output.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Iterator, Mapping, NamedTuple, Sequence, Union

import numpy as np

from .errors import RnntuiError
from .model import PARAM_NAMES
from .record import StepRecord, frozen

TOP_CHARS = 5  # next characters listed at the cursor, before and after
_MAX_QUOTED = 40  # characters of the user's spec repeated in an error message


class WhatIfError(RnntuiError):
    """An intervention or a what-if flag does not fit the window or the model."""


# --- how characters are written in specs and reports ----------------------

_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\\": "\\\\"}  # character -> how --edit spells it
_UNESCAPES = {spelled: ch for ch, spelled in _ESCAPES.items()}
_CODE_POINT = re.compile(r"\\x([0-9A-Fa-f]{2})|\\u([0-9A-Fa-f]{4})|[Uu]\+([0-9A-Fa-f]{4,6})")
CHAR_FORMS = "\\n \\t \\r \\\\ \\xHH \\uHHHH U+HHHH"


def char_spec(ch: str) -> str:
    """How ``--edit`` spells ``ch``: itself when printable, else an escape (``\\n``, ``U+0007``)."""
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    return ch if ch.isprintable() else f"U+{ord(ch):04X}"


def _quoted(text: str) -> str:
    """The user's text quoted for an error message, shortened when long."""
    return repr(text if len(text) <= _MAX_QUOTED else text[: _MAX_QUOTED - 3] + "...")


def _shown(ch: str) -> str:
    """A character quoted for descriptions and reports."""
    return f"'{char_spec(ch)}'"


def read_char(text: str) -> str:
    """The character ``text`` spells: one character, a named escape, \\xHH, \\uHHHH or U+HHHH."""
    if len(text) == 1:
        return text
    if text in _UNESCAPES:
        return _UNESCAPES[text]
    match = _CODE_POINT.fullmatch(text)
    if match is None:
        raise WhatIfError(f"{_quoted(text)} is not one character; write one character or an escape ({CHAR_FORMS})")
    code = int(next(group for group in match.groups() if group is not None), 16)
    if code > 0x10FFFF:
        raise WhatIfError(f"{_quoted(text)} is beyond the last Unicode code point U+10FFFF; give a smaller one")
    return chr(code)


# --- interventions ---------------------------------------------------------


class _Dims(NamedTuple):
    """Sizes an intervention is checked against."""

    T: int  # window length
    H: int  # hidden size
    V: int  # vocabulary size


def _check_unit(unit: int, H: int) -> None:
    if not 0 <= unit < H:
        raise WhatIfError(f"unit {unit} is not in the hidden layer; choose a unit from 0 to {H - 1}")


def _check_timestep(t: int, T: int) -> None:
    if not 0 <= t < T:
        raise WhatIfError(f"timestep {t} is not in the window; choose a timestep from 0 to {T - 1}")


@dataclass(frozen=True)
class EditChar:
    """Replace the character at text position ``position`` (0..T) with vocabulary index ``index``.

    Changes input ``position`` (when position < T) and target ``position - 1``
    (when position >= 1).
    """

    position: int
    index: int

    def check(self, dims: _Dims) -> None:
        if not 0 <= self.position <= dims.T:
            raise WhatIfError(
                f"text position {self.position} is not in the window; choose a position from 0 to {dims.T}"
            )
        if not 0 <= self.index < dims.V:
            raise WhatIfError(
                f"character index {self.index} is not in the vocabulary; choose an index from 0 to {dims.V - 1}"
            )

    def describe(self, vocab: Sequence[str] | None = None) -> str:
        char = _shown(vocab[self.index]) if vocab is not None else f"index {self.index}"
        return f"position {self.position} -> {char}"


@dataclass(frozen=True)
class ZeroHprev:
    """Start the window from a zero hidden state."""

    def check(self, dims: _Dims) -> None:
        pass

    def describe(self, vocab: Sequence[str] | None = None) -> str:
        return "hprev = zeros"


@dataclass(frozen=True, eq=False)
class SetHprev:
    """Start the window from ``vector`` (H,), e.g. the hprev of another iteration, named by ``label``."""

    vector: np.ndarray  # (H,) read-only copy
    label: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "vector", frozen(np.array(self.vector, dtype=np.float64)))

    @classmethod
    def from_record(cls, record: StepRecord) -> "SetHprev":
        """The hidden state carried into ``record``'s window."""
        return cls(record.hprev, f"hprev of iteration {record.iteration}")

    def check(self, dims: _Dims) -> None:
        if self.vector.shape != (dims.H,):
            raise WhatIfError(
                f"hprev '{self.label}' has shape {self.vector.shape}; give a vector of the hidden size, ({dims.H},)"
            )
        if not np.isfinite(self.vector).all():
            raise WhatIfError(f"hprev '{self.label}' has non-finite values; give a finite vector")

    def describe(self, vocab: Sequence[str] | None = None) -> str:
        return f"hprev = {self.label}"


@dataclass(frozen=True)
class Span:
    """Timesteps ``first`` to ``last`` inclusive."""

    first: int
    last: int

    def __post_init__(self) -> None:
        if self.first < 0 or self.last < self.first:
            raise WhatIfError(
                f"timesteps {self.first}-{self.last} are not a span; give T-T2 with 0 <= T <= T2"
            )

    @classmethod
    def at(cls, t: int) -> "Span":
        """The single timestep ``t``."""
        return cls(t, t)

    def describe(self) -> str:
        return f"at t={self.first}" if self.first == self.last else f"at t={self.first}..{self.last}"


class _UnitChange:
    """What the three unit interventions share: ``unit``, ``span`` (None: every timestep), checks."""

    unit: int
    span: Span | None

    def timesteps(self, T: int) -> range:
        """The timesteps this change applies at."""
        return range(T) if self.span is None else range(self.span.first, self.span.last + 1)

    def check(self, dims: _Dims) -> None:
        _check_unit(self.unit, dims.H)
        if self.span is not None:
            _check_timestep(self.span.last, dims.T)

    def _where(self) -> str:
        return "over the window" if self.span is None else self.span.describe()


@dataclass(frozen=True)
class ZeroUnit(_UnitChange):
    """Set unit ``unit`` to 0 after the tanh, at the timesteps of ``span`` (None: all)."""

    unit: int
    span: Span | None = None

    def replaced(self, values: np.ndarray) -> np.ndarray:
        return np.zeros_like(values)

    def describe(self, vocab: Sequence[str] | None = None) -> str:
        return f"zero unit {self.unit} {self._where()}"


@dataclass(frozen=True)
class ClampUnit(_UnitChange):
    """Set unit ``unit`` to ``value`` after the tanh, at the timesteps of ``span`` (None: all)."""

    unit: int
    value: float
    span: Span | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.value):
            raise WhatIfError(f"clamp value {self.value} is not finite; give a finite number such as 0.5")

    def replaced(self, values: np.ndarray) -> np.ndarray:
        return np.full_like(values, self.value)

    def describe(self, vocab: Sequence[str] | None = None) -> str:
        return f"clamp unit {self.unit} to {self.value:g} {self._where()}"


@dataclass(frozen=True)
class FlipUnit(_UnitChange):
    """Flip the sign of unit ``unit`` after the tanh, at the timesteps of ``span`` (None: all)."""

    unit: int
    span: Span | None = None

    def replaced(self, values: np.ndarray) -> np.ndarray:
        return -values

    def describe(self, vocab: Sequence[str] | None = None) -> str:
        return f"flip unit {self.unit} {self._where()}"


Intervention = Union[EditChar, ZeroHprev, SetHprev, ZeroUnit, ClampUnit, FlipUnit]
_UNIT_CHANGES = (ZeroUnit, ClampUnit, FlipUnit)
_KINDS = (EditChar, ZeroHprev, SetHprev) + _UNIT_CHANGES


# --- the run -------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class WindowRun:
    """One window read by one parameter set, with interventions applied (arrays read-only)."""

    inputs: np.ndarray  # (T,) inputs used (after text edits)
    targets: np.ndarray  # (T,) targets used (after text edits)
    hprev: np.ndarray  # (H,) hidden state the window started from
    hs: np.ndarray  # (T, H) h_t, after unit interventions
    ps: np.ndarray  # (T, V) p_t = softmax(Why h_t + by)
    losses: np.ndarray  # (T,) -ln p_t[target_t]
    p_target: np.ndarray  # (T,) p_t[target_t]
    loss: float  # sum of losses
    interventions: tuple[Intervention, ...]  # as given, in order

    @property
    def seq_length(self) -> int:
        return len(self.inputs)


class _Model(NamedTuple):
    """The five parameters as float64 arrays, biases flat."""

    Wxh: np.ndarray  # (H, V)
    Whh: np.ndarray  # (H, H)
    Why: np.ndarray  # (V, H)
    bh: np.ndarray  # (H,)
    by: np.ndarray  # (V,)

    @classmethod
    def of(cls, params: Mapping[str, np.ndarray]) -> "_Model":
        Wxh, Whh, Why, bh, by = (np.asarray(params[name], dtype=np.float64) for name in PARAM_NAMES)
        return cls(Wxh, Whh, Why, bh.reshape(-1), by.reshape(-1))


def _window_arrays(model: _Model, inputs, targets, hprev) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Private copies of the window: (T,) index arrays and (H,) float64, checked against the model."""
    inputs = np.array(inputs, dtype=np.intp)
    targets = np.array(targets, dtype=np.intp)
    if inputs.ndim != 1 or inputs.shape != targets.shape or len(inputs) == 0:
        raise ValueError("inputs and targets must be 1-D index sequences of the same non-zero length")
    H, V = model.Wxh.shape
    if min(inputs.min(), targets.min()) < 0 or max(inputs.max(), targets.max()) >= V:
        raise ValueError(f"inputs and targets must be indices of the vocabulary, 0 to {V - 1}")
    hprev = np.array(hprev, dtype=np.float64).reshape(H)
    return inputs, targets, hprev


def _checked(interventions, dims: _Dims) -> tuple[Intervention, ...]:
    """``interventions`` as a tuple, each one checked against the window and the model."""
    interventions = tuple(interventions)
    for intervention in interventions:
        if not isinstance(intervention, _KINDS):
            raise TypeError(f"not an intervention: {intervention!r}")
        intervention.check(dims)
    return interventions


def _edit_window(inputs, targets, hprev, interventions) -> None:
    """Apply the text edits and the carried-state replacements, in order, in place."""
    T = len(inputs)
    for intervention in interventions:
        if isinstance(intervention, EditChar):
            if intervention.position < T:
                inputs[intervention.position] = intervention.index
            if intervention.position >= 1:
                targets[intervention.position - 1] = intervention.index
        elif isinstance(intervention, ZeroHprev):
            hprev[...] = 0.0
        elif isinstance(intervention, SetHprev):
            hprev[...] = intervention.vector


def _unit_changes_by_timestep(interventions, T: int) -> list[list[_UnitChange]]:
    """For each timestep, the unit changes that apply there, in the order given."""
    by_t: list[list[_UnitChange]] = [[] for _ in range(T)]
    for intervention in interventions:
        if isinstance(intervention, _UNIT_CHANGES):
            for t in intervention.timesteps(T):
                by_t[t].append(intervention)
    return by_t


def _softmax_rows(y: np.ndarray) -> np.ndarray:
    """Softmax of each row of ``y`` (B, V), shifted by the row's maximum so that no exp overflows."""
    e = np.exp(y - y.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _forward(
    model: _Model,
    inputs: np.ndarray,
    hprevs: np.ndarray,
    changes_by_t: list[list[_UnitChange]],
    ablate_diagonal: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (h_t (B, H), p_t (B, V)) for t = 0..T-1, for B runs of the window side by side.

    Row b starts from hprevs[b]. The unit changes of timestep t replace
    h_t[:, u] after the tanh; with ``ablate_diagonal`` (B = H) row k then
    also has unit k zeroed, so that row k is the run with unit k ablated.
    One matrix product per timestep carries all B runs through Whh.
    """
    Wxh, Whh, Why, bh, by = model
    h = hprevs  # (B, H)
    diagonal = np.arange(h.shape[1])
    for t, x in enumerate(inputs):
        h = np.tanh(Wxh[:, x] + h @ Whh.T + bh)  # (B, H)
        for change in changes_by_t[t]:
            h[:, change.unit] = change.replaced(h[:, change.unit])
        if ablate_diagonal:
            h[diagonal, diagonal] = 0.0
        yield h, _softmax_rows(h @ Why.T + by)  # (B, V)


def run_window(
    params: Mapping[str, np.ndarray],
    inputs,
    targets,
    hprev: np.ndarray,
    interventions: Sequence[Intervention] = (),
) -> WindowRun:
    """Run one window (no update, no truncation inside it) with ``interventions`` applied in order.

    ``params`` maps Wxh (H, V), Whh (H, H), Why (V, H), bh, by to arrays (only
    read); ``inputs``/``targets`` are (T,) index sequences and ``hprev`` (H,).
    Raises WhatIfError when an intervention does not fit the window or model.
    """
    model = _Model.of(params)
    inputs, targets, hprev = _window_arrays(model, inputs, targets, hprev)
    (H, V), T = model.Wxh.shape, len(inputs)
    interventions = _checked(interventions, _Dims(T, H, V))
    _edit_window(inputs, targets, hprev, interventions)

    hs, ps = np.empty((T, H)), np.empty((T, V))
    steps = _forward(model, inputs, hprev[np.newaxis], _unit_changes_by_timestep(interventions, T))
    for t, (h, p) in enumerate(steps):
        hs[t], ps[t] = h[0], p[0]
    p_target = ps[np.arange(T), targets]  # (T,)
    with np.errstate(divide="ignore"):  # p = 0: an infinite loss term, shown as inf
        losses = -np.log(p_target)
    return WindowRun(
        inputs=frozen(inputs),
        targets=frozen(targets),
        hprev=frozen(hprev),
        hs=frozen(hs),
        ps=frozen(ps),
        losses=frozen(losses),
        p_target=frozen(p_target),
        loss=float(losses.sum()),
        interventions=interventions,
    )


# --- comparison ----------------------------------------------------------


def rank_descending(values: np.ndarray) -> np.ndarray:
    """Indices of ``values`` from the largest to the smallest; equal values in index order, NaN last."""
    return np.argsort(-np.asarray(values), kind="stable")


class TopChars(NamedTuple):
    """The most probable next characters at one timestep, most probable first."""

    indices: np.ndarray  # (k,) vocabulary indices
    probs: np.ndarray  # (k,) their probabilities


def _top_chars(p: np.ndarray) -> TopChars:
    indices = rank_descending(p)[:TOP_CHARS]
    return TopChars(frozen(indices), frozen(p[indices].copy()))


@dataclass(frozen=True, eq=False)
class WhatIfDiff:
    """What changed between two runs of a window (after minus before; arrays read-only)."""

    before: WindowRun
    after: WindowRun
    cursor_t: int  # the timestep the top characters are read at
    dh: np.ndarray  # (T, H) after.hs - before.hs
    dlosses: np.ndarray  # (T,) change of each loss term
    dp_target: np.ndarray  # (T,) change of p(target) at each timestep
    dloss: float  # change of the window's loss
    max_abs_dh: np.ndarray  # (H,) largest |dh| of each unit over the window
    units_by_change: np.ndarray  # (H,) units, largest max_abs_dh first (ties by unit number)
    top_before: TopChars  # at cursor_t
    top_after: TopChars  # at cursor_t


def compare(before: WindowRun, after: WindowRun, cursor_t: int) -> WhatIfDiff:
    """The differences ``after - before`` of two runs of windows of the same shape."""
    if before.hs.shape != after.hs.shape or before.ps.shape != after.ps.shape:
        raise ValueError(f"runs of different shapes: {before.hs.shape} and {after.hs.shape}")
    _check_timestep(cursor_t, before.seq_length)
    dh = after.hs - before.hs  # (T, H)
    max_abs_dh = np.abs(dh).max(axis=0)  # (H,)
    return WhatIfDiff(
        before=before,
        after=after,
        cursor_t=cursor_t,
        dh=frozen(dh),
        dlosses=frozen(after.losses - before.losses),
        dp_target=frozen(after.p_target - before.p_target),
        dloss=after.loss - before.loss,
        max_abs_dh=frozen(max_abs_dh),
        units_by_change=frozen(rank_descending(max_abs_dh)),
        top_before=_top_chars(before.ps[cursor_t]),
        top_after=_top_chars(after.ps[cursor_t]),
    )


def compare_params(
    params_before: Mapping[str, np.ndarray],
    params_after: Mapping[str, np.ndarray],
    inputs,
    targets,
    hprev: np.ndarray,
    cursor_t: int,
) -> WhatIfDiff:
    """The same window read by two parameter sets (e.g. two iterations' weights)."""
    before = run_window(params_before, inputs, targets, hprev)
    after = run_window(params_after, inputs, targets, hprev)
    return compare(before, after, cursor_t)


# --- ablation scan -------------------------------------------------------


@dataclass(frozen=True, eq=False)
class AblationScan:
    """Each unit zeroed over the whole window in turn, on top of ``baseline``'s interventions."""

    baseline: WindowRun
    cursor_t: int
    deltas: np.ndarray  # (H,) change of the window's loss when unit k is zeroed (row k)
    dp_target: np.ndarray  # (H,) change of p(target) at cursor_t when unit k is zeroed
    ranking: np.ndarray  # (H,) units, largest delta first (ties by unit number)


def ablation_scan(
    params: Mapping[str, np.ndarray],
    inputs,
    targets,
    hprev: np.ndarray,
    cursor_t: int,
    interventions: Sequence[Intervention] = (),
) -> AblationScan:
    """Zero each unit over the whole window in turn and measure the change of the window's loss.

    Row k equals ``run_window(..., interventions + (ZeroUnit(k),))`` minus the
    run with ``interventions`` alone (to rounding), but all H runs go through
    the window together, one (H, H) batch of hidden states per timestep. A unit
    that is exactly zero at every timestep of the baseline needs no run: its
    ablation changes nothing, and its row is exactly zero.
    """
    baseline = run_window(params, inputs, targets, hprev, interventions)
    T = baseline.seq_length
    _check_timestep(cursor_t, T)
    model = _Model.of(params)
    H = len(baseline.hprev)
    changes_by_t = _unit_changes_by_timestep(baseline.interventions, T)

    hprevs = np.repeat(baseline.hprev[np.newaxis], H, axis=0)  # (H, H) row k: the run without unit k
    p_target = np.empty((T, H))  # row t: p_t[target_t] of each ablated run
    steps = _forward(model, baseline.inputs, hprevs, changes_by_t, ablate_diagonal=True)
    for t, (_, p) in enumerate(steps):
        p_target[t] = p[:, baseline.targets[t]]
    with np.errstate(divide="ignore"):  # p = 0: an infinite loss term, shown as inf
        deltas = -np.log(p_target).sum(axis=0) - baseline.loss  # (H,)
    dp_target = p_target[cursor_t] - baseline.p_target[cursor_t]  # (H,)

    silent = (baseline.hs == 0).all(axis=0)  # (H,) units that are already zero throughout
    deltas[silent] = 0.0
    dp_target[silent] = 0.0
    return AblationScan(
        baseline=baseline,
        cursor_t=cursor_t,
        deltas=frozen(deltas),
        dp_target=frozen(dp_target),
        ranking=frozen(rank_descending(deltas)),
    )


# --- parsing the headless flags ------------------------------------------


def _forms(flag: str, T: int, H: int) -> str:
    """The valid forms of one flag, with the ranges of this window and model."""
    units, steps = f"U: unit 0..{H - 1}", f"T, T2: timestep 0..{T - 1}"
    return {
        "edit": f"--edit T=CHAR (T: text position 0..{T}; CHAR: a character of the vocabulary or an escape)",
        "hprev": "--hprev zero",
        "ablate": f"--ablate U, U@T or U@T-T2 ({units}; {steps})",
        "clamp": f"--clamp U=VALUE, U=VALUE@T or U=VALUE@T-T2 ({units}; VALUE: a finite number; {steps})",
        "flip": f"--flip U, U@T or U@T-T2 ({units}; {steps})",
    }[flag]


class _Malformed(Exception):
    """Internal: a spec does not have its flag's form; turned into a SpecError by _parsed."""


class SpecError(WhatIfError):
    """A flag's value that cannot be used, with its parts apart so that a front-end without flags
    (the app's prompts) can word it in its own terms; ``str()`` is the command line's one line.

    ``flag`` is the flag without ``--``, ``text`` the value as given (``quoted``: as messages quote
    it), ``reason`` what is wrong with it. ``malformed``: the text does not have the flag's form at
    all, so the fix is the form; otherwise it has, and ``reason`` names the value and its range.
    """

    def __init__(self, flag: str, text: str, reason: str, malformed: bool, forms: str) -> None:
        super().__init__(f"bad --{flag} {_quoted(text)}: {reason}", f"valid forms: {forms}")
        self.flag, self.text, self.reason, self.malformed, self.forms = flag, text, reason, malformed, forms
        self.quoted = _quoted(text)

    def __reduce__(self):
        return (self.__class__, (self.flag, self.text, self.reason, self.malformed, self.forms))


def _parsed(flag: str, text: str, T: int, H: int, vocab: Sequence[str], build) -> Intervention:
    """``build(text)`` checked against the window; any problem as one SpecError naming the flag."""
    try:
        intervention = build(text)
        intervention.check(_Dims(T, H, len(vocab)))
    except (_Malformed, WhatIfError) as err:
        raise SpecError(flag, text, str(err), isinstance(err, _Malformed), _forms(flag, T, H)) from None
    return intervention


_WHOLE = re.compile(r"[0-9]+")
_SPAN = re.compile(r"([0-9]+)(?:-([0-9]+))?")


def _split_span(text: str) -> tuple[str, Span | None]:
    """``HEAD``, ``HEAD@T`` or ``HEAD@T-T2`` as (HEAD, its span; None without ``@``)."""
    head, at, where = text.strip().partition("@")
    if not at:
        return head, None
    match = _SPAN.fullmatch(where)
    if match is None:
        raise _Malformed(f"{_quoted(where)} is not a timestep T or a span T-T2")
    first, last = match.groups()
    return head, Span(int(first), int(last if last is not None else first))


def _unit_and_span(text: str) -> tuple[int, Span | None]:
    """``U``, ``U@T`` or ``U@T-T2``."""
    unit, span = _split_span(text)
    if not _WHOLE.fullmatch(unit):
        raise _Malformed(f"{_quoted(unit)} is not a unit number")
    return int(unit), span


def parse_edit(text: str, T: int, H: int, vocab: Sequence[str]) -> EditChar:
    """``--edit T=CHAR``: the character at text position T (0..T) becomes CHAR."""

    def build(text: str) -> EditChar:
        position, equals, spelled = text.partition("=")
        if not equals:
            raise _Malformed("no '=CHAR' after the position")
        if not _WHOLE.fullmatch(position.strip()):
            raise _Malformed(f"{_quoted(position)} is not a text position")
        char = read_char(spelled)
        if char not in vocab:
            raise WhatIfError(
                f"character {_shown(char)} is not in the vocabulary; choose one of the {len(vocab)} "
                "characters of the corpus"
            )
        return EditChar(int(position), list(vocab).index(char))

    return _parsed("edit", text, T, H, vocab, build)


def parse_hprev(text: str, T: int, H: int, vocab: Sequence[str]) -> ZeroHprev:
    """``--hprev zero``: start the window from a zero hidden state."""

    def build(text: str) -> ZeroHprev:
        if text.strip().lower() != "zero":
            raise _Malformed("the only carried state to ask for is zero")
        return ZeroHprev()

    return _parsed("hprev", text, T, H, vocab, build)


def parse_ablate(text: str, T: int, H: int, vocab: Sequence[str]) -> ZeroUnit:
    """``--ablate U[@T[-T2]]``: zero unit U at every timestep, at T, or from T to T2."""
    return _parsed("ablate", text, T, H, vocab, lambda text: ZeroUnit(*_unit_and_span(text)))


def parse_flip(text: str, T: int, H: int, vocab: Sequence[str]) -> FlipUnit:
    """``--flip U[@T[-T2]]``: flip the sign of unit U at every timestep, at T, or from T to T2."""
    return _parsed("flip", text, T, H, vocab, lambda text: FlipUnit(*_unit_and_span(text)))


def parse_clamp(text: str, T: int, H: int, vocab: Sequence[str]) -> ClampUnit:
    """``--clamp U=VALUE[@T[-T2]]``: set unit U to VALUE at every timestep, at T, or from T to T2."""

    def build(text: str) -> ClampUnit:
        unit_value, span = _split_span(text)
        unit, equals, value = unit_value.partition("=")
        if not equals:
            raise _Malformed("no '=VALUE' after the unit")
        if not _WHOLE.fullmatch(unit.strip()):
            raise _Malformed(f"{_quoted(unit)} is not a unit number")
        try:
            number = float(value)
        except ValueError:
            raise _Malformed(f"{_quoted(value)} is not a number") from None
        return ClampUnit(int(unit), number, span)

    return _parsed("clamp", text, T, H, vocab, build)


PARSERS = {
    "edit": parse_edit,
    "hprev": parse_hprev,
    "ablate": parse_ablate,
    "clamp": parse_clamp,
    "flip": parse_flip,
}  # flag name (without --) -> its parse function


# --- headless output -----------------------------------------------------


def whatif_json(
    iteration: int,
    position: int,
    before: WindowRun,
    after: WindowRun,
    scan: AblationScan | None = None,
) -> dict:
    """What ``rnntui whatif --json`` prints: per-timestep losses before and after, the total change, the scan."""
    out = {
        "iteration": int(iteration),
        "position": int(position),
        "loss_before": before.losses.tolist(),
        "loss_after": after.losses.tolist(),
        "total_delta": after.loss - before.loss,
    }
    if scan is not None:
        out["scan"] = [{"unit": int(k), "delta": float(scan.deltas[k])} for k in scan.ranking]
    return out


def whatif_report(
    iteration: int,
    position: int,
    before: WindowRun,
    after: WindowRun,
    vocab: Sequence[str],
    scan: AblationScan | None = None,
) -> str:
    """What ``rnntui whatif`` prints: the interventions, each timestep's loss term before and after,
    the window's change and, with a scan, the units ranked by how much zeroing them costs."""
    lines = [f"what-if on the window of iteration {iteration} (position {position}, T = {before.seq_length})"]
    changes = [intervention.describe(vocab) for intervention in after.interventions]
    lines.append("interventions: " + ("; ".join(changes) if changes else "none"))
    lines.append(f"{'t':>4}  {'input':<8}{'target':<8}{'before':>10}{'after':>10}{'change':>11}")
    for t in range(before.seq_length):
        lines.append(
            f"{t:>4}  {_shown(vocab[after.inputs[t]]):<8}{_shown(vocab[after.targets[t]]):<8}"
            f"{before.losses[t]:>10.4f}{after.losses[t]:>10.4f}{after.losses[t] - before.losses[t]:>+11.4f}"
        )
    lines.append(f"window loss {before.loss:.4f} -> {after.loss:.4f} (change {after.loss - before.loss:+.4f})")
    if scan is not None:
        lines.append(
            f"ablation scan: each unit zeroed over the window, largest rise of the window loss first "
            f"(p(target) at t={scan.cursor_t})"
        )
        lines.append(f"{'unit':>6}{'loss change':>14}{'p change':>12}")
        for k in scan.ranking:
            lines.append(f"{k:>6}{scan.deltas[k]:>+14.6f}{scan.dp_target[k]:>+12.6f}")
    return "\n".join(lines)
