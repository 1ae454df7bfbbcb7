"""The step panel: one timestep of an iteration's forward or backward pass, with its numbers.

Stepping walks ``phase_sequence(T)``: the forward pass t = 0 … T-1, then the
backward pass t = T-1 … 0. Every number shown is read from the StepRecord's
per-timestep intermediates; nothing is recomputed from the parameters and the
record is never changed.
"""

from __future__ import annotations

import math

import numpy as np
from textual.content import Content
from textual.reactive import reactive

from ..engine import StepRecord
from .base import Panel
from .drawing import EMPTY_TEXT, TARGET_STYLE, fit, format_prob
from .glyphs import glyph
from .probs import ranking

PHASES = ("forward", "backward")
HEADER_STYLE = "bold"
EQUATION_STYLE = "$accent"
COLUMN_STYLE = "dim"
NOTE_STYLE = "italic $text-muted"
MAX_LOGITS = 5  # most logits shown on the top-logits line
NUMBER_CELLS = 9  # width of a table column: "-1.23e-05" or "-123.4567"

Line = tuple[int, Content]  # (priority: lower is kept longer when rows are short, one or more rows)


def phase_sequence(T: int) -> list[tuple[str, int]]:
    """Every (phase, t) of one iteration in stepping order: forward 0 … T-1, then backward T-1 … 0."""
    return [("forward", t) for t in range(T)] + [("backward", t) for t in reversed(range(T))]


def step_position(phase: str, t: int, delta: int, T: int) -> tuple[str, int]:
    """The position ``delta`` steps along ``phase_sequence(T)`` from (phase, t), clamped at both ends."""
    if T <= 0:
        return "forward", 0
    t = max(0, min(t, T - 1))
    index = t if phase == "forward" else 2 * T - 1 - t
    index = max(0, min(index + delta, 2 * T - 1))
    return ("forward", index) if index < T else ("backward", 2 * T - 1 - index)


def number(x: float, signed: bool = False) -> str:
    """A value in at most 9 cells: ``0.1234`` (``+0.1234`` when signed), or ``1.23e-05`` when tiny or huge."""
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    sign = "+" if signed else ""
    if x == 0 or 1e-3 <= abs(x) < 1e4:
        return f"{x:{sign}.4f}"
    return f"{x:{sign}.2e}"


def norm(v: np.ndarray) -> float:
    """The L2 norm of a vector."""
    return float(np.linalg.norm(v))


def keep(lines: list[Line], height: int) -> list[Content]:
    """The entries of highest priority (ties: earlier first) that fit ``height`` rows, in their original order.

    An entry of several rows is kept or left out whole.
    """
    budget, chosen = max(1, height), []
    for i in sorted(range(len(lines)), key=lambda i: (lines[i][0], i)):
        rows = len(lines[i][1].plain.split("\n"))
        if rows <= budget:
            chosen.append(i)
            budget -= rows
    return [lines[i][1] for i in sorted(chosen)]


def table(rows: list[tuple[int, str, np.ndarray]], unit: int, width: int) -> list[Line]:
    """A column head and one line per (priority, label, vector): the vector's norm and its ``unit`` entry.

    When the panel is too narrow for both columns, the norm column is left out.
    """
    label_w = max(len(label) for _, label, _ in rows)
    with_norm = 2 + label_w + 2 * (NUMBER_CELLS + 2) <= width
    head = f"  {'‖·‖':>{NUMBER_CELLS}}" if with_norm else ""
    lines = [(1, Content.styled(" " * (2 + label_w) + f"{head}  {f'unit {unit}':>{NUMBER_CELLS}}", COLUMN_STYLE))]
    for priority, label, vec in rows:
        size = f"  {number(norm(vec)):>{NUMBER_CELLS}}" if with_norm else ""
        lines.append((priority, Content(f"  {label:<{label_w}}{size}  {number(vec[unit], True):>{NUMBER_CELLS}}")))
    return lines


class StepPanel(Panel):
    """One timestep of one iteration: the current equation with that timestep's own numbers.

    ``phase`` ("forward" or "backward") and ``cursor_t`` pick the position; ``unit``
    picks the hidden unit whose component each vector shows. With too few rows the
    least important lines are left out first (the equations, then the logits and
    gradient lines); the header, the unit's column head and the h_t / dh chain stay.
    """

    TITLE = "Step into iteration"
    DEFAULT_CSS = "StepPanel { text-wrap: nowrap; text-overflow: ellipsis; }"

    phase: reactive[str] = reactive("forward")

    def validate_phase(self, phase: str) -> str:
        """Only "forward" and "backward" are phases."""
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, not {phase!r}")
        return phase

    def watch_record(self, record: StepRecord | None) -> None:
        """The title names the iteration being stepped through."""
        self.border_title = self.TITLE if record is None else f"{self.TITLE} {record.iteration}"
        self._update_position()

    def watch_cursor_t(self) -> None:
        self._update_position()

    def watch_phase(self) -> None:
        self._update_position()

    def _update_position(self) -> None:
        """The subtitle says how far along the iteration's 2T steps the panel is."""
        rec = self.record
        if rec is None:
            self.border_subtitle = ""
            return
        T, t = rec.seq_length, self.clamp_t(self.cursor_t)
        index = phase_sequence(T).index((self.phase, t)) + 1
        self.border_subtitle = f"step {index} of {2 * T}"

    @property
    def selected_unit(self) -> int:
        """``unit`` clamped to the hidden size."""
        return max(0, min(self.unit, self.info.hidden_size - 1))

    def render(self) -> Content:
        """The current timestep's equations and numbers, fitted to the panel."""
        rec = self.record
        if rec is None:
            return Content.styled(EMPTY_TEXT, "dim")
        width, height = max(20, self.content_size.width), max(1, self.content_size.height)
        t, unit = self.clamp_t(self.cursor_t), self.selected_unit
        build = self._forward if self.phase == "forward" else self._backward
        return Content("\n").join(keep(build(rec, t, unit, width), height))

    def _char(self, index: int) -> str:
        return glyph(self.info.vocab[int(index)])

    def _forward(self, rec: StepRecord, t: int, unit: int, width: int) -> list[Line]:
        """h_t from its three parts, the top logits, p_t of the target and the loss so far."""
        x, T = int(rec.inputs[t]), rec.seq_length
        ch, target = self._char(x), self._char(rec.targets[t])
        header = fit(
            width,
            f"forward t={t}/{T}: x='{ch}' (index {x}) → target '{target}'",
            f"forward t={t}/{T}: x='{ch}' (index {x})",
            f"forward t={t}: x='{ch}'",
        )
        pre = rec.wxh_x[t] + rec.whh_h[t] + rec.bh
        rows = [
            (2, "Wxh·x_t", rec.wxh_x[t]),
            (2, "Whh·h_{t-1}", rec.whh_h[t]),
            (4, "bh", rec.bh),
            (3, "sum (pre-act.)", pre),
            (1, "h_t = tanh(sum)", rec.hs[t]),
        ]
        p, loss = format_prob(float(rec.ps[t, rec.targets[t]])), number(rec.losses[t])
        so_far = number(np.sum(rec.losses[: t + 1]))
        equation = fit(width, "h_t = tanh(Wxh·x_t + Whh·h_{t-1} + bh)", "h_t = tanh(sum of parts)")
        return [
            (0, Content.styled(header, HEADER_STYLE)),
            (5, Content.styled(equation, EQUATION_STYLE)),
            *table(rows, unit, width),
            (4, self._logits(rec, t, width)),
            (1, Content(fit(width, f"p_t[target '{target}'] = {p}   loss term −ln p = {loss}", f"p_t['{target}'] {p}  −ln p {loss}"))),
            (3, Content(fit(width, f"loss so far (t=0..{t}) = {so_far}", f"loss so far {so_far}"))),
        ]

    def _logits(self, rec: StepRecord, t: int, width: int) -> Content:
        """The y_t equation, then the largest logits with their characters, as many as fit (the target's in its colour)."""
        ys, target = rec.ys[t], int(rec.targets[t])
        top = [int(v) for v in ranking(ys)[:MAX_LOGITS]]
        entries = [(f"'{self._char(v)}' {number(ys[v], True)}", TARGET_STYLE if v == target else "") for v in top]
        while len(entries) > 1 and sum(len(text) + 2 for text, _ in entries) > width:  # "  " before each
            entries.pop()
        title = fit(width, "y_t = Why·h_t + by, top logits:", "top logits y_t:")
        parts: list[tuple[str, str] | str] = [(title, EQUATION_STYLE), "\n  "]
        for i, entry in enumerate(entries):
            parts += ["  "] * (i > 0) + [entry]
        return Content.assemble(*parts)

    def _backward(self, rec: StepRecord, t: int, unit: int, width: int) -> list[Line]:
        """dy, dh from both sources, dhraw, the dh_next handed on, and what each gradient gained."""
        T, target = rec.seq_length, int(rec.targets[t])
        header = fit(
            width,
            f"backward t={t}/{T}: x='{self._char(rec.inputs[t])}' → target '{self._char(target)}'",
            f"backward t={t}/{T}",
            f"backward t={t}",
        )
        dy = rec.dys[t]
        dy_text = f"‖dy‖ {number(norm(dy))}  dy['{self._char(target)}'] {number(dy[target], True)}"
        came = "dh_next: none" if t == T - 1 else f"dh_next from t={t + 1}"
        rows = [
            (2, "Whyᵀdy", rec.dh_out[t]),
            (2, came, rec.dh[t] - rec.dh_out[t]),
            (1, "dh", rec.dh[t]),
            (1, "dhraw=(1−h_t²)⊙dh", rec.dhraw[t]),
        ]
        if t >= 1:
            rows.append((1, f"dh_next to t={t - 1}", rec.dh[t - 1] - rec.dh_out[t - 1]))
        equation = fit(width, "dh = Whyᵀdy (from output) + dh_next (from t+1)", "dh = Whyᵀdy + dh_next")
        lines = [
            (0, Content.styled(header, HEADER_STYLE)),
            (3, Content(fit(width, f"dy = p_t − onehot(target)  {dy_text}", f"dy = p − onehot  {dy_text}", dy_text))),
            (5, Content.styled(equation, EQUATION_STYLE)),
            *table(rows, unit, width),
        ]
        if t == 0:
            note = fit(width, "  dh_next to hprev: dropped (truncated BPTT)", "  to hprev: dropped (truncation)")
            lines.append((1, Content.styled(note, NOTE_STYLE)))
        return lines + self._contributions(rec, t, width)

    def _contributions(self, rec: StepRecord, t: int, width: int) -> list[Line]:
        """The norm of what timestep t added to each gradient: hidden side from dhraw, output side from dy."""
        c = {name: number(value) for name, value in rec.step_contributions(t).items()}
        hidden = f"dWxh {c['Wxh']}  dWhh {c['Whh']}  dbh {c['bh']}"
        output = f"dWhy {c['Why']}  dby {c['by']}"
        if len(f"  from dhraw: {hidden}") <= width:  # label both lines, or neither
            hidden, output = f"from dhraw: {hidden}", f"from dy:    {output}"
        title = fit(width, f"added to the gradients at t={t} (‖·‖):", f"added at t={t} (‖·‖):")
        return [
            (4, Content.styled(title, EQUATION_STYLE)),
            (3, Content(f"  {hidden}")),
            (3, Content(f"  {output}")),
        ]
