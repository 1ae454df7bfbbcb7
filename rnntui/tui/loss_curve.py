"""Loss curve: raw and smooth loss against iteration, with the uniform-guess baseline.

Drawing cost is bounded by the plot's width, not by the length of the run:
the raw loss is reduced to the minimum and maximum of each of about one
bucket per column (:func:`bucket_minmax`), the smooth loss to the last value
of each bucket (:func:`bucket_last`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from textual.app import ComposeResult
from textual.binding import Binding
from textual.markup import escape
from textual.reactive import reactive
from textual_plotext import PlotextPlot

from .base import Panel

RECENT = 500  # iterations shown in "last 500" mode
FALLBACK_BUCKETS = 100  # buckets used before the plot has a width
SHORT_PLOT = 8  # rows below which the axis labels give their row to the curve
RAW_COLOR, SMOOTH_COLOR, BASELINE_COLOR, EVENT_COLOR = "red+", "cyan+", "yellow", "magenta"


def bucket_edges(n: int, n_buckets: int) -> np.ndarray:
    """Edges of ``min(n, n_buckets)`` consecutive, non-empty, near-equal buckets over n points.

    Bucket i holds indices ``edges[i] : edges[i + 1]``; no buckets when n is 0.
    """
    k = max(1, min(n, n_buckets))
    if n == 0:
        return np.zeros(1, dtype=np.int64)
    return (np.arange(k + 1, dtype=np.int64) * n) // k


def bucket_minmax(x: np.ndarray, y: np.ndarray, n_buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """The points holding each bucket's minimum and maximum of ``y``, in x order.

    At most ``2 * n_buckets`` points come back, whatever the input size; a
    bucket whose minimum and maximum are the same point gives it once. ``y``
    should be finite (NaN wins ``argmin``).
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.shape != y.shape:
        raise ValueError("x and y must have the same shape")
    edges = bucket_edges(len(y), n_buckets)
    picks: list[int] = []
    for lo, hi in zip(edges[:-1].tolist(), edges[1:].tolist()):
        part = y[lo:hi]
        a, b = sorted((lo + int(np.argmin(part)), lo + int(np.argmax(part))))
        picks.extend((a,) if a == b else (a, b))
    idx = np.asarray(picks, dtype=np.intp)
    return x[idx], y[idx]


def bucket_last(x: np.ndarray, y: np.ndarray, n_buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """The last point of each bucket (for an already smooth series); includes the final point."""
    x, y = np.asarray(x), np.asarray(y)
    idx = bucket_edges(len(y), n_buckets)[1:] - 1
    return x[idx], y[idx]


def iteration_ticks(first: int, last: int, count: int = 5) -> list[int]:
    """Up to ``count`` whole iteration numbers spread evenly from ``first`` to ``last``."""
    return sorted(set(np.linspace(first, last, count).round().astype(int).tolist()))


def _finite(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop points whose y is NaN or infinite (copies only when there are some)."""
    keep = np.isfinite(y)
    return (x, y) if keep.all() else (x[keep], y[keep])


@dataclass(frozen=True)
class CurvePlan:
    """Exactly what the panel draws: reduced series in plot units, markers and labels."""

    raw: tuple[np.ndarray, np.ndarray]  # (xs, ys) of the raw loss after min/max bucketing
    smooth: tuple[np.ndarray, np.ndarray]  # (xs, ys) of the smooth loss, last per bucket
    baseline: float  # -ln(1/V)*T in plot units (log10 of it in log mode)
    markers: tuple[int, ...]  # iterations of hyperparameter changes inside the range
    first: int  # first iteration in range
    last: int  # last iteration in range
    ylabel: str  # "loss" or "log10(loss)"


class LossCurve(Panel):
    """Raw and smooth loss per iteration, the baseline, and hyperparameter-change markers.

    The screen assigns ``loss`` and ``smooth`` (read-only History views),
    ``baseline`` and ``events`` at a bounded rate. ``l`` toggles log10 values,
    ``w`` toggles the last 500 iterations / the whole run.
    """

    TITLE = "Loss"
    BINDINGS = [
        Binding("l", "toggle_log", "Log scale"),
        Binding("w", "toggle_window", "Last 500 / all"),
    ]
    DEFAULT_CSS = """
    LossCurve PlotextPlot { height: 1fr; }
    """

    loss: reactive[np.ndarray | None] = reactive(None, always_update=True)
    smooth: reactive[np.ndarray | None] = reactive(None, always_update=True)
    baseline: reactive[float] = reactive(float("nan"))
    events: reactive[tuple] = reactive(())  # (iteration, text) pairs
    log_scale: reactive[bool] = reactive(False)
    recent_only: reactive[bool] = reactive(False)

    def validate_events(self, events) -> tuple:
        """Accept Event objects or (iteration, text) pairs; store pairs."""
        return tuple((e.iteration, e.text) if hasattr(e, "iteration") else tuple(e) for e in events)

    _redraw_pending = False

    def compose(self) -> ComposeResult:
        yield PlotextPlot()

    def on_mount(self) -> None:
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()

    def _changed(self) -> None:
        """Several reactives often change together: redraw once, after they all have."""
        if not self._redraw_pending:
            self._redraw_pending = True
            self.call_later(self._redraw_now)

    def _redraw_now(self) -> None:
        self._redraw_pending = False
        self.redraw()

    watch_loss = watch_smooth = watch_baseline = watch_events = _changed
    watch_log_scale = watch_recent_only = _changed

    def action_toggle_log(self) -> None:
        """Switch between plain loss and log10(loss)."""
        self.log_scale = not self.log_scale

    def action_toggle_window(self) -> None:
        """Switch between the last 500 iterations and the whole run."""
        self.recent_only = not self.recent_only

    def show_history(self, history, baseline: float) -> None:
        """Take a History's arrays and events and the baseline, and redraw once (not per reactive)."""
        self.set_reactive(LossCurve.baseline, float(baseline))
        self.set_reactive(LossCurve.events, self.validate_events(history.events))
        self.set_reactive(LossCurve.smooth, history.smooth_loss)
        self.set_reactive(LossCurve.loss, history.loss)
        self.redraw()

    @property
    def _plot(self) -> PlotextPlot | None:
        """The plot child, or None before compose."""
        return self.query(PlotextPlot).first() if self.children else None

    @property
    def n_buckets(self) -> int:
        """Buckets per series: one per column of the plot."""
        width = self._plot.size.width if self._plot is not None else 0
        return width if width > 0 else FALLBACK_BUCKETS

    def _transform(self, values: np.ndarray) -> np.ndarray:
        if not self.log_scale:
            return values
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log10(values)

    def _series(self, values: np.ndarray, start: int, reduce) -> tuple[np.ndarray, np.ndarray]:
        """Reduce ``values[start:]`` then transform (log10 is monotone, so bucketing first is exact)."""
        ys = values[start:]
        xs, ys = _finite(np.arange(start, start + len(ys)), ys)
        xs, ys = reduce(xs, ys, self.n_buckets)
        return _finite(xs, self._transform(ys))

    def plan(self) -> CurvePlan | None:
        """What to draw for the current reactives, or None before the first iteration."""
        loss = self.loss if self.loss is not None else np.zeros(0)
        n = len(loss)
        if n == 0:
            return None
        start = max(0, n - RECENT) if self.recent_only else 0
        smooth = self.smooth if self.smooth is not None else np.zeros(0)
        markers = tuple(sorted({int(it) for it, _ in self.events if start <= it <= n - 1}))
        return CurvePlan(
            raw=self._series(loss, start, bucket_minmax),
            smooth=self._series(smooth[:n], min(start, len(smooth)), bucket_last),
            baseline=float(self._transform(np.float64(self.baseline))),
            markers=markers,
            first=start,
            last=n - 1,
            ylabel="log10(loss)" if self.log_scale else "loss",
        )

    def redraw(self) -> None:
        """Rebuild the plot from the reactives and refresh it."""
        plot = self._plot
        if plot is None:
            return
        plan = self.plan()
        self._set_titles(plan)
        plt = plot.plt
        plt.clear_data()
        if plan is not None:
            self._draw(plt, plan)
        else:
            plt.title("no iterations yet")
            plt.xlabel("")
            plt.ylabel("")
        plot.refresh()

    def _draw(self, plt, plan: CurvePlan) -> None:
        """Hand ``plan`` to plotext."""
        plt.title("")
        short = self._plot is not None and self._plot.size.height < SHORT_PLOT  # the curve needs the rows
        plt.xlabel("" if short else "iteration")
        plt.ylabel("" if short else plan.ylabel)
        right = max(plan.last, plan.first + 1)
        plt.xlim(plan.first, right)
        ticks = iteration_ticks(plan.first, right)
        plt.xticks(ticks, [str(t) for t in ticks])
        if np.isfinite(plan.baseline):
            plt.plot([plan.first, right], [plan.baseline] * 2, marker="braille", color=BASELINE_COLOR)
        for xs, ys, color in ((*plan.raw, RAW_COLOR), (*plan.smooth, SMOOTH_COLOR)):
            if len(xs):
                plt.plot(xs.tolist(), ys.tolist(), marker="braille", color=color)
        if plan.markers:
            self._draw_markers(plt, plan)

    def _draw_markers(self, plt, plan: CurvePlan) -> None:
        """A column of separate braille dots per marker, one per row over the data's span
        (scattered, not joined): a solid vertical line would look like the plot's own frame."""
        values = [plan.raw[1], plan.smooth[1], np.array([plan.baseline])]
        finite = np.concatenate([v[np.isfinite(v)] for v in values])
        if not finite.size:
            return
        rows = max(2, self._plot.size.height if self._plot is not None else 0)
        ys = np.linspace(finite.min(), finite.max(), rows).tolist()
        for it in plan.markers:
            plt.scatter([it] * rows, ys, marker="braille", color=EVENT_COLOR)

    def _set_titles(self, plan: CurvePlan | None) -> None:
        """Border title: range and mode; subtitle: the colour key and the latest change."""
        if plan is None:
            self.border_title = f"{self.TITLE} · no iterations yet"
            self.border_subtitle = ""
            return
        window = f"last {RECENT}" if self.recent_only else "all"
        scale = " · log10" if self.log_scale else ""
        self.border_title = f"{self.TITLE} · {window} · iter {plan.first}–{plan.last}{scale}"
        key = f"[red]raw[/] [cyan]smooth[/] [yellow]baseline {self.baseline:.2f}[/]"
        if self.events:
            it, text = self.events[-1]
            key += f" [magenta]⡇ {it}: {escape(text)}[/]"
        self.border_subtitle = key
