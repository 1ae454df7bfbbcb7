"""The gradients panel: per-parameter norms, clipping, and the gradient's flow through time."""

from __future__ import annotations

import math

import numpy as np
from textual.content import Content
from textual.events import Click
from textual.reactive import reactive

from ..engine import PARAM_NAMES, StepRecord
from .base import Panel
from .drawing import BAR_STYLE, EMPTY_TEXT, fit, level_char, marker_line, strip_line, window_span
from .messages import CursorMoved

CLIPPED_STYLE = "bold $warning"
SPARK_MAX = 40  # most iterations a sparkline shows
SPARK_MIN = 8  # narrower than this, the sparkline column is left out
COLUMNS = {"param": 5, "‖g‖ raw": 9, "‖g‖ clip": 9, "clip%": 6, "upd/w": 9}  # title: cells, in display order
COLUMN_PRIORITY = ("param", "‖g‖ raw", "clip%", "‖g‖ clip", "upd/w")  # kept first when narrow
# Optional lines, in the order they are kept when rows are short (the five parameter rows always show).
LINE_PRIORITY = ("colhead", "cells", "header", "summary", "marker", "extremes", "blank")
FLOW_LABEL = "‖dL/dh‖ "  # put before the flow cells when the summary line is left out


def format_norm(x: float) -> str:
    """A norm or ratio with 4 significant digits, always as ``1.234e-02`` (9 cells)."""
    if not math.isfinite(x):
        return str(x)
    return f"{x:.3e}"


def format_ratio(x: float) -> str:
    """An update/weight ratio; NaN means the weights were all zero (biases at the start): ``—``."""
    if math.isnan(x):
        return "—".center(9)
    return format_norm(x)


def format_percent(fraction: float) -> str:
    """The share of elements clipped: ``12.5%``, ``<0.1%`` when tiny but not zero."""
    pct = 100.0 * fraction
    if 0 < pct < 0.1:
        return "<0.1%"
    return f"{pct:.1f}%"


def format_clip(clip: float) -> str:
    """The clip value as ``±5.0`` or ``±0.001``."""
    text = f"{clip:.6g}"
    if text.lstrip("-").isdigit():
        text += ".0"
    return "±" + text


def sparkline(values: np.ndarray) -> str:
    """One cell per value, heights on a log scale between the values' own min and max."""
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(values > 0, np.log10(values), np.nan)
    finite = logs[np.isfinite(logs)]
    if finite.size == 0:
        return " " * len(values)
    low, high = float(finite.min()), float(finite.max())
    span = high - low
    cells = []
    for v in logs:
        if not math.isfinite(v):
            cells.append(" ")
        else:
            cells.append(level_char(0.5 if span == 0 else 0.125 + 0.875 * (v - low) / span))
    return "".join(cells)


def join_cells(titles: list[str], values: dict[str, str], spark: str) -> str:
    """One table line: ``values`` of the ``titles`` columns padded to their widths, then ``spark``."""
    cells = " ".join(f"{values[c]:<{COLUMNS[c]}}" for c in titles)
    return f"{cells} {spark}" if spark else cells.rstrip()


def summary_line(norms: np.ndarray, width: int) -> str:
    """||dL/dh|| at the first and last timestep, and their ratio (as much as fits ``width``)."""
    last = len(norms) - 1
    first, final = format_norm(norms[0]), format_norm(norms[last])
    ratio = format_norm(norms[0] / norms[last] if norms[last] > 0 else math.inf)
    return fit(
        width,
        f"‖dL/dh‖ t=0: {first} … t={last}: {final} (first/last {ratio})",
        f"‖dL/dh‖ t=0: {first} … t={last}: {final}",
        f"‖dL/dh‖ {first} … {final}",
        f"dL/dh {first}…{final}",
    )


def extremes_line(norms: np.ndarray, width: int) -> str:
    """Where ||dL/dh_t|| is largest and smallest in the window (as much as fits ``width``)."""
    if not np.isfinite(norms).any():
        return "‖dL/dh‖ is not finite"
    hi, lo = int(np.nanargmax(norms)), int(np.nanargmin(norms))
    top, low = format_norm(norms[hi]), format_norm(norms[lo])
    return fit(
        width,
        f"max {top} t={hi} · min {low} t={lo} · bars ÷ max",
        f"max {top} t={hi} · min {low} t={lo}",
        f"max {top} min {low}",
    )


def table_columns(width: int) -> tuple[list[str], int]:
    """The table columns that fit ``width`` cells (display order) and the cells left for the sparkline."""
    kept, used = [], -1
    for title in COLUMN_PRIORITY:
        if used + 1 + COLUMNS[title] <= width:
            kept.append(title)
            used += 1 + COLUMNS[title]
    spark = min(SPARK_MAX, width - used - 1)
    return [c for c in COLUMNS if c in kept], spark if spark >= SPARK_MIN else 0


def shown_lines(height: int) -> set[str]:
    """Which optional lines fit ``height`` rows next to the five parameter rows."""
    room = max(0, height - len(PARAM_NAMES))
    return set(LINE_PRIORITY[:room])


class GradientsPanel(Panel):
    """Norms of each parameter's gradient before and after clipping, and ||dL/dh_t|| for every t.

    ``history_norms`` is an (n, 5) array of recent raw gradient norms (columns in
    PARAM_NAMES order) that the screen sets; it feeds the sparklines. The layout
    fits the panel's size: narrow, the sparkline and then the least needed columns
    are left out; short, the lines of LINE_PRIORITY are kept in that order. Clicking
    a cell of the flow row posts :class:`CursorMoved` for that timestep.
    """

    TITLE = "Gradients"
    DEFAULT_CSS = "GradientsPanel { text-wrap: nowrap; text-overflow: ellipsis; }"

    history_norms: reactive[np.ndarray | None] = reactive(None, always_update=True)

    _flow_at: tuple[int, int, tuple[int, int]] | None = None  # (row, first column, span) of the flow cells

    def on_resize(self) -> None:
        """Too short for the row of column titles: name the columns in the border instead."""
        width, height = max(20, self.content_size.width), self.content_size.height
        titles = table_columns(width)[0][1:]  # after "param"
        short = "colhead" not in shown_lines(height)
        self.border_title = f"{self.TITLE} · {' '.join(titles)}" if short else self.TITLE

    def render(self) -> Content:
        """The whole panel as styled lines."""
        self._flow_at = None
        rec = self.record
        if rec is None:
            return Content(EMPTY_TEXT)
        width, shown = max(20, self.content_size.width), shown_lines(self.content_size.height)
        t = self.clamp_t(self.cursor_t)
        lines: list[Content | str] = []
        if "header" in shown:
            lines.append(self._header(rec, width))
        lines += self._table(rec, width, "colhead" in shown)
        if "blank" in shown:
            lines.append("")
        return Content("\n").join(lines + self._flow(rec, t, width, shown, len(lines)))

    def _header(self, rec: StepRecord, width: int) -> Content | str:
        engaged = [name for name in PARAM_NAMES if rec.clip_fractions[name] > 0]
        state = "clipped: " + " ".join(engaged) if engaged else "no clipping"
        clip = f"clip {format_clip(rec.clip)}"
        lead = fit(width - len(state), f"iteration {rec.iteration} · {clip} · ", f"{clip} · ", f"{clip} ")
        return Content.assemble(lead, (state, CLIPPED_STYLE if engaged else ""))

    def _table(self, rec: StepRecord, width: int, with_head: bool) -> list[Content | str]:
        """The column titles (when ``with_head``) and one row per parameter."""
        titles, room = table_columns(width)
        history = self.history_norms
        n = 0 if history is None else min(room, len(history))
        rows: list[Content | str] = []
        if with_head:
            spark_title = fit(room, f"last {n} raw ‖g‖ (log)", f"log ‖g‖ ×{n}", "log ‖g‖") if n else "no history yet"
            spark_title = fit(room, spark_title, "") if room else ""
            rows.append(Content.styled(join_cells(titles, dict(zip(titles, titles)), spark_title), "bold"))
        for j, name in enumerate(PARAM_NAMES):
            values = {
                "param": name,
                "‖g‖ raw": format_norm(rec.grad_norms[name]),
                "‖g‖ clip": format_norm(rec.clipped_norms[name]),
                "clip%": format_percent(rec.clip_fractions[name]),
                "upd/w": format_ratio(rec.update_ratios[name]),
            }
            spark = sparkline(history[len(history) - n :, j]) if n else ""
            row = join_cells(titles, values, spark)
            rows.append(Content.styled(row, CLIPPED_STYLE) if rec.clip_fractions[name] > 0 else row)
        return rows

    def _flow(self, rec: StepRecord, t: int, width: int, shown: set[str], row: int) -> list[Content | str]:
        """||dL/dh_t|| per timestep: a summary line, bars over the window's max, the cursor, extremes."""
        norms = np.asarray(rec.dh_norms, dtype=np.float64)
        lines: list[Content | str] = []
        if "summary" in shown:
            lines.append(summary_line(norms, width))
        if "cells" not in shown:
            return lines
        label = "" if "summary" in shown else FLOW_LABEL
        span = window_span(rec.seq_length, width - len(label), t)
        top = float(np.nanmax(norms)) if np.isfinite(norms).any() else 0.0
        self._flow_at = (row + len(lines), len(label), span)
        lines.append(Content.assemble(label, strip_line(norms, top, span, t, BAR_STYLE)))
        if "marker" in shown:
            lines.append(" " * len(label) + marker_line(span, t, f"t={t} {format_norm(norms[t])}", width - len(label)))
        if "extremes" in shown:
            lines.append(extremes_line(norms, width))
        return lines

    def on_click(self, event: Click) -> None:
        """A click on the flow row moves the cursor to that timestep."""
        offset = event.get_content_offset(self)
        if self._flow_at is None or offset is None or offset.y != self._flow_at[0]:
            return
        x0, (start, stop) = self._flow_at[1], self._flow_at[2]
        if 0 <= offset.x - x0 < stop - start:
            self.post_message(CursorMoved(start + offset.x - x0))
