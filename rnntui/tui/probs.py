"""The softmax panel: what the model expected next at the cursor's timestep."""

from __future__ import annotations

import math

import numpy as np
from textual.content import Content
from textual.events import Click

from ..engine import StepRecord
from .base import Panel
from .drawing import BAR_STYLE, EMPTY_TEXT, TARGET_STYLE, fit, format_prob, hbar, marker_line, strip_line, window_span
from .glyphs import cells, padded, shown
from .messages import CursorMoved

MAX_K = 8  # most candidate rows shown
MIN_K = 3  # fewest candidate rows kept before optional lines are dropped
LOG_DECADES = 4  # the strip's log scale spans 1e-4 .. 1
TARGET_MARK = " ◀ target"


def format_nats(h: float) -> str:
    """An entropy (or any nats/bits value) with four decimals; never ``-0.0000``."""
    return f"{h:.4f}" if h != 0 else "0.0000"


def entropy(p: np.ndarray) -> float:
    """Shannon entropy -sum p ln p in nats (terms with p = 0 count as 0)."""
    p = np.asarray(p, dtype=np.float64)
    nz = p[p > 0]
    return max(0.0, float(-(nz * np.log(nz)).sum()))  # rounding can leave -0.0 or a hair below


def ranking(p: np.ndarray) -> np.ndarray:
    """Indices of ``p`` from most to least likely (ties keep vocabulary order)."""
    return np.argsort(-np.asarray(p), kind="stable")


def log_heights(p: np.ndarray) -> np.ndarray:
    """Probabilities as fractions of a cell on a log scale from 10**-LOG_DECADES to 1.

    Any p > 0 gets at least the lowest level; only p = 0 is blank.
    """
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        heights = np.clip(1.0 + np.log10(p) / LOG_DECADES, 1e-9, 1.0)
    return np.where(p > 0, heights, np.where(p == 0, 0.0, np.nan))


def plan(height: int, rank: int, n_vocab: int) -> tuple[int, int]:
    """How many optional lines (entropy, strip label, marker) and candidate rows fit ``height`` rows.

    The header and the strip always show; a target outside the top k takes a row of its own.
    """
    rows = height - 2
    for optional in (3, 2, 1, 0):
        k = min(MAX_K, n_vocab, rows - optional)
        if rank > k:
            k = min(k, rows - optional - 1)
        if k >= min(MIN_K, n_vocab):
            return optional, k
    return 0, max(1, k)


class ProbsPanel(Panel):
    """Top-k next characters at ``cursor_t``, the target's rank, entropy, and p(target) over the window.

    The layout fits the panel's size: with few rows the cursor marker, the strip's
    label and then the entropy line give way before the candidate rows drop below
    MIN_K. Clicking a cell of the strip posts :class:`CursorMoved` for that timestep.
    """

    TITLE = "Softmax p(next char)"
    DEFAULT_CSS = "ProbsPanel { text-wrap: nowrap; text-overflow: ellipsis; }"

    _strip_at: tuple[int, tuple[int, int]] | None = None  # (row, span) of the strip's cells

    def render(self) -> Content:
        """The whole panel as styled lines."""
        self._strip_at = None
        rec = self.record
        if rec is None:
            return Content(EMPTY_TEXT)
        width, height = max(12, self.content_size.width), max(3, self.content_size.height)
        t = self.clamp_t(self.cursor_t)
        rank = int(np.flatnonzero(ranking(rec.ps[t]) == rec.targets[t])[0]) + 1
        optional, k = plan(height, rank, rec.ps.shape[1])
        span = window_span(rec.seq_length, width, t)
        lines = [self._header(rec, t, width)]
        if optional >= 1:
            lines.append(self._entropy(rec.ps[t], width))
        lines += self._candidates(rec, t, k, rank, width)
        if optional >= 2:
            lines.append(self._strip_label(rec.target_probs, width))
        self._strip_at = (len(lines), span)
        lines.append(strip_line(log_heights(rec.target_probs), 1.0, span, t, BAR_STYLE))
        if optional >= 3:
            lines.append(self._marker(rec, t, span, width))
        return Content("\n").join(lines)

    def _header(self, rec: StepRecord, t: int, width: int) -> Content:
        vocab = self.info.vocab
        after, target = shown(vocab[rec.inputs[t]]), shown(vocab[rec.targets[t]])
        lead = fit(width - 3, f"t={t} after '{after}' → target ", f"t={t} '{after}' → ")
        return Content.assemble(lead, (f"'{target}'", TARGET_STYLE))

    def _entropy(self, p: np.ndarray, width: int) -> str:
        h = entropy(p)
        nats, bits, top = format_nats(h), format_nats(h / math.log(2)), format_nats(math.log(len(p)))
        return fit(
            width,
            f"entropy {nats} nats ({bits} bits) of max {top}",
            f"entropy {nats} nats ({bits} bits)",
            f"entropy {nats} nats",  # not "H": that is the hidden size
        )

    def _candidates(self, rec: StepRecord, t: int, k: int, rank: int, width: int) -> list[Content]:
        """The top-k rows, plus a target row when the target is not among them."""
        p, vocab = rec.ps[t], self.info.vocab
        target = int(rec.targets[t])
        num_w = len(str(len(p)))
        char_w = max(cells(ch) for ch in vocab)  # two cells when a wide character must show as itself
        bar_w = max(1, width - (num_w + 2 + char_w) - 7 - len(TARGET_MARK))  # "nn c " bar " 0.1234" mark
        lines = []
        for i, v in enumerate(ranking(p)[:k]):
            style = TARGET_STYLE if int(v) == target else ""
            lines.append(
                Content.assemble(
                    (f"{i + 1:>{num_w}} {padded(vocab[v], char_w)} ", style),
                    (hbar(float(p[v]), bar_w), style or BAR_STYLE),
                    (f" {format_prob(float(p[v])):>6}" + (TARGET_MARK if style else ""), style),
                )
            )
        if rank > k:
            ch, prob = shown(vocab[target]), format_prob(float(p[target]))
            extra = fit(width, f"target '{ch}' p={prob} rank {rank}/{len(p)}", f"'{ch}' {prob} rank {rank}/{len(p)}")
            lines.append(Content.styled(extra, TARGET_STYLE))
        return lines

    def _strip_label(self, probs: np.ndarray, width: int) -> str:
        low, mean = format_prob(float(probs.min())), format_prob(float(probs.mean()))
        return fit(
            width,
            f"p(target) log 1e-{LOG_DECADES}..1: min {low} mean {mean}",
            f"p(target) min {low} mean {mean}",
            f"min {low} mean {mean}",
        )

    def _marker(self, rec: StepRecord, t: int, span: tuple[int, int], width: int) -> str:
        shown = "" if span == (0, rec.seq_length) else f" (t={span[0]}..{span[1] - 1} shown)"
        text = fit(width - 2, f"t={t} p={format_prob(float(rec.target_probs[t]))}{shown}", f"t={t}")
        return marker_line(span, t, text, width)

    def on_click(self, event: Click) -> None:
        """A click on the strip moves the cursor to that timestep."""
        offset = event.get_content_offset(self)
        if self._strip_at is None or offset is None or offset.y != self._strip_at[0]:
            return
        start, stop = self._strip_at[1]
        if 0 <= offset.x < stop - start:
            self.post_message(CursorMoved(start + offset.x))
