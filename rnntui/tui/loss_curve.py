"""Loss curve: raw and smooth loss against iteration, with the uniform-guess baseline;
or, in the bits-per-character view, the evaluations on the training and held-out text
with the k-gram baselines. Either view can overlay the kept branches' curves.

Drawing cost is bounded by the plot's width, not by the length of the run:
the raw loss is reduced to the minimum and maximum of each of about one
bucket per column (:func:`bucket_minmax`), the smooth loss to the last value
of each bucket (:func:`bucket_last`); evaluations, like the raw loss, to each
bucket's minimum and maximum, and a branch's curve like its kind. Evaluations
become arrays once per change (:class:`BpcSeries`), not once per drawing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.markup import escape
from textual.reactive import reactive
from textual_plotext import PlotextPlot

from ..engine.config import settings
from ..engine.evaluation import Evaluation
from ..engine.session import Branch
from .base import Panel

RECENT = 500  # iterations shown in "last 500" mode
FALLBACK_BUCKETS = 100  # buckets used before the plot has a width
SHORT_PLOT = 8  # rows below which the axis labels give their row to the curve
VERY_SHORT_PLOT = 6  # rows below which the top and right frame lines and the x ticks give theirs too
RAW_COLOR, SMOOTH_COLOR, BASELINE_COLOR, EVENT_COLOR = "red+", "cyan+", "yellow", "magenta"
TRAIN_COLOR, HELD_OUT_COLOR = "cyan+", "red+"  # bits per character on each part
OVERLAY_COLORS = ("green+", "blue+", "white", "green", "blue")  # kept branches, in list order (then again)
LOSS_VIEW, BPC_VIEW = "loss", "bpc"
PLOT_FURNITURE_ROWS = 4  # rows of a plot that are not data: the frame's two, the tick labels, the axis label
SPARSE_POINTS = 4  # evaluations at least this many columns apart on average are also marked as dots


def baseline_labels(baselines: tuple[tuple[int, float], ...], rows: int, low: float, high: float
                    ) -> list[tuple[str, float]]:
    """Labels for the k-gram lines: one per text row holding any (``"2-gram"``, or ``"2,3-gram"`` for
    several in one row), at the mean of their values; ``rows`` rows span ``low`` .. ``high``."""
    by_row: dict[int, list[tuple[int, float]]] = {}
    for k, value in baselines:
        if np.isfinite(value):
            row = round((value - low) / (high - low) * (rows - 1)) if high > low and rows > 1 else 0
            by_row.setdefault(row, []).append((k, value))
    return [(",".join(str(k) for k, _ in group) + "-gram", sum(v for _, v in group) / len(group))
            for _, group in sorted(by_row.items())]


def markup_color(plot_color: str) -> str:
    """The markup colour of a plotext colour name (``"cyan+"`` -> ``"cyan"``), for the legend."""
    return plot_color.rstrip("+")


# Cells of a border title's frame: "╭─ " before it and " ─╮" after it (the same below).
BORDER_FRAME = 6


def short_event_text(text: str) -> str:
    """An event's text made short for a narrow legend: a setting's name becomes its
    placeholder (``learning_rate 0.1 -> 0.05`` -> ``LR 0.1→0.05``) and an explanation in
    parentheses is left out."""
    text = text.split(" (", 1)[0].replace(" -> ", "→")
    name, _, rest = text.partition(" ")
    setting = dict(settings()).get(name)
    return f"{setting.metavar} {rest}" if setting is not None and rest else text


def fit_border_text(candidates: tuple[str, ...], width: int) -> str:
    """The first markup text, most detailed first, that fits ``width`` cells (the last one
    when none does): a narrow panel's title or legend drops words before it cuts a fact."""
    candidates = tuple(legend.lstrip() for legend in candidates)
    for legend in candidates:
        if Content.from_markup(legend).cell_length <= width:
            return legend
    return candidates[-1]


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


@dataclass(frozen=True, eq=False)
class BpcSeries:
    """One line's evaluations as arrays, in iteration order."""

    iterations: np.ndarray  # (n,) updates the evaluated model had
    train: np.ndarray  # (n,) bits per character on the training part
    held_out: np.ndarray | None  # (n,) on the held-out part; None without one

    @classmethod
    def of(cls, evaluations: tuple[Evaluation, ...]) -> BpcSeries:
        iterations = np.array([e.iteration for e in evaluations], dtype=np.int64)
        train = np.array([e.train_bpc for e in evaluations], dtype=np.float64)
        held_out = None
        if any(e.val_bpc is not None for e in evaluations):
            held_out = np.array([np.nan if e.val_bpc is None else e.val_bpc for e in evaluations], dtype=np.float64)
        return cls(iterations, train, held_out)

    @property
    def headline(self) -> np.ndarray:
        """The figure that says how good the model is: held-out bpc, or training bpc without a held-out part."""
        return self.held_out if self.held_out is not None else self.train


@dataclass(frozen=True, eq=False)
class Overlay:
    """A kept branch's curve as drawn: reduced, in plot units."""

    name: str
    xs: np.ndarray
    ys: np.ndarray
    color: str  # plotext colour


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
    overlays: tuple[Overlay, ...] = ()  # kept branches' smooth loss, last per bucket


@dataclass(frozen=True)
class BpcPlan:
    """What the bits-per-character view draws, in plot units."""

    train: tuple[np.ndarray, np.ndarray]  # (xs, ys): training-part bpc, min/max per bucket
    held_out: tuple[np.ndarray, np.ndarray] | None  # the same for the held-out part; None without one
    baselines: tuple[tuple[int, float], ...]  # (k, bpc of the k-gram model), k ascending
    overlays: tuple[Overlay, ...]  # kept branches' held-out bpc (training bpc without a held-out part)
    first: int
    last: int
    ylabel: str  # "bits/char" or "log10(bits/char)"

    @property
    def y_span(self) -> tuple[float, float]:
        """The lowest and highest value drawn (0, 1 when there is none)."""
        parts = [self.train[1], *(o.ys for o in self.overlays), np.array([v for _, v in self.baselines])]
        if self.held_out is not None:
            parts.append(self.held_out[1])
        values = np.concatenate(parts)
        values = values[np.isfinite(values)]
        return (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)


class LossCurve(Panel):
    """Raw and smooth loss per iteration, the baseline, and hyperparameter-change markers;
    or bits per character per evaluation with the k-gram baselines (``view``).

    The screen assigns ``loss`` and ``smooth`` (read-only History views),
    ``baseline``, ``events``, ``evaluations`` and ``branches`` at a bounded
    rate, and the k-gram baselines with :meth:`show_baselines`. ``l`` toggles
    log10 values, ``w`` toggles the last 500 iterations / the whole run;
    ``overlay`` draws the kept branches' curves (each named in the legend).
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
    evaluations: reactive[tuple[Evaluation, ...]] = reactive(())  # the live line's, by iteration
    branches: reactive[tuple[Branch, ...]] = reactive(())  # every line; the kept ones are overlaid
    view: reactive[str] = reactive(LOSS_VIEW)  # LOSS_VIEW or BPC_VIEW
    overlay: reactive[bool] = reactive(True)  # draw the kept branches' curves
    baselines: reactive[tuple[tuple[int, float], ...]] = reactive(())  # (k, bpc of the k-gram model)
    baselines_in_sample: reactive[bool] = reactive(False)  # scored on the training text (no held-out part)
    baselines_note: reactive[str] = reactive("")  # while the baselines are computed, or why they are not

    _redraw_pending = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._series_cache: dict[int, tuple[tuple, BpcSeries]] = {}  # id(evaluations) -> (them, arrays)

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
    watch_branches = watch_view = watch_overlay = _changed
    watch_baselines = watch_baselines_in_sample = watch_baselines_note = _changed

    def watch_evaluations(self) -> None:
        if self.view == BPC_VIEW:
            self._changed()

    def action_toggle_log(self) -> None:
        """Switch between plain loss and log10(loss)."""
        self.log_scale = not self.log_scale

    def action_toggle_window(self) -> None:
        """Switch between the last 500 iterations and the whole run."""
        self.recent_only = not self.recent_only

    def action_toggle_view(self) -> None:
        """Switch between the loss and bits per character."""
        self.view = BPC_VIEW if self.view == LOSS_VIEW else LOSS_VIEW

    def action_toggle_overlay(self) -> None:
        """Draw the kept branches' curves, or not."""
        self.overlay = not self.overlay

    def show_baselines(self, baselines: Mapping[int, float], in_sample: bool) -> None:
        """The k-gram models' bits per character (k -> bpc), and whether they score the training text."""
        self.baselines = tuple(sorted((int(k), float(v)) for k, v in baselines.items()))
        self.baselines_in_sample = in_sample
        self.baselines_note = ""

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

    def _series(self, values: np.ndarray, start: int, reduce, stop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Reduce ``values[start:stop]`` then transform (log10 is monotone, so bucketing first is exact)."""
        ys = values[start:stop]
        xs, ys = _finite(np.arange(start, start + len(ys)), ys)
        return self._reduced(xs, ys, reduce)

    def _reduced(self, xs: np.ndarray, ys: np.ndarray, reduce) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = reduce(*_finite(xs, ys), self.n_buckets)
        return _finite(xs, self._transform(ys))

    @property
    def kept_branches(self) -> tuple[Branch, ...]:
        """The branches overlaid: every line but the live one, while the overlay is on."""
        return tuple(b for b in self.branches if not b.live) if self.overlay else ()

    def _range(self, n: int) -> tuple[int, int]:
        """(first, last) iteration shown: the live line's last RECENT iterations, or all of it.

        Kept branches are drawn over the live line's span only: a long old line
        would squeeze a new branch into a few columns.
        """
        return (max(0, n - RECENT) if self.recent_only else 0), max(n - 1, 0)

    def plan(self) -> CurvePlan | None:
        """What to draw for the current reactives, or None before the first iteration."""
        loss = self.loss if self.loss is not None else np.zeros(0)
        n = len(loss)
        if n == 0:
            return None
        kept = [b for b in self.kept_branches if b.smooth is not None and len(b.smooth)]
        start, last = self._range(n)
        smooth = self.smooth if self.smooth is not None else np.zeros(0)
        markers = tuple(sorted({int(it) for it, _ in self.events if start <= it <= n - 1}))
        overlays = tuple(Overlay(b.name, *self._series(b.smooth, start, bucket_last, last + 1), color)
                         for b, color in self._colored(kept))
        return CurvePlan(
            raw=self._series(loss, start, bucket_minmax),
            smooth=self._series(smooth[:n], min(start, len(smooth)), bucket_last),
            baseline=float(self._transform(np.float64(self.baseline))),
            markers=markers,
            first=start,
            last=last,
            ylabel="log10(loss)" if self.log_scale else "loss",
            overlays=overlays,
        )

    def _colored(self, kept: list[Branch]) -> list[tuple[Branch, str]]:
        """Each overlaid branch with its colour, fixed by its place among the kept branches."""
        order = {b.name: i for i, b in enumerate(b for b in self.branches if not b.live)}
        return [(b, OVERLAY_COLORS[order[b.name] % len(OVERLAY_COLORS)]) for b in kept]

    def series_of(self, evaluations: tuple[Evaluation, ...]) -> BpcSeries:
        """``evaluations`` as arrays, made once per tuple (the screen hands over a new one only on a change)."""
        cached = self._series_cache.get(id(evaluations))
        if cached is None or cached[0] is not evaluations:
            cached = (evaluations, BpcSeries.of(evaluations))
            self._series_cache[id(evaluations)] = cached
        return cached[1]

    def _forget_unused_series(self) -> None:
        shown = {id(self.evaluations), *(id(b.evaluations) for b in self.branches)}
        for key in [k for k in self._series_cache if k not in shown]:
            del self._series_cache[key]

    def _points(self, iterations: np.ndarray, values: np.ndarray, first: int, last: int):
        """The evaluations inside [first, last], min/max per bucket, in plot units."""
        inside = (iterations >= first) & (iterations <= last)
        return self._reduced(iterations[inside], values[inside], bucket_minmax)

    def bpc_plan(self) -> BpcPlan | None:
        """What the bits-per-character view draws, or None while there is nothing (no evaluation, no baseline)."""
        self._forget_unused_series()
        live = self.series_of(self.evaluations)
        kept = [(b, self.series_of(b.evaluations)) for b in self.kept_branches if b.evaluations]
        if not len(live.iterations) and not kept and not self.baselines:
            return None
        n = len(self.loss) if self.loss is not None else 0
        first, last = self._range(n)
        if len(live.iterations):
            last = max(last, int(live.iterations[-1]))  # the evaluation of the model after the last update
        colors = {b.name: c for b, c in self._colored([b for b, _ in kept])}
        return BpcPlan(
            train=self._points(live.iterations, live.train, first, last),
            held_out=None if live.held_out is None else self._points(live.iterations, live.held_out, first, last),
            baselines=tuple((k, float(self._transform(np.float64(v)))) for k, v in self.baselines),
            overlays=tuple(Overlay(b.name, *self._points(s.iterations, s.headline, first, last), colors[b.name])
                           for b, s in kept),
            first=first,
            last=last,
            ylabel="log10(bits/char)" if self.log_scale else "bits/char",
        )

    def redraw(self) -> None:
        """Rebuild the plot from the reactives and refresh it."""
        plot = self._plot
        if plot is None:
            return
        plt = plot.plt
        plt.clear_data()
        if self.view == BPC_VIEW:
            plan, set_titles, draw, nothing = self.bpc_plan(), self._set_bpc_titles, self._draw_bpc, "no evaluations yet"
        else:
            plan, set_titles, draw, nothing = self.plan(), self._set_titles, self._draw, "no iterations yet"
        set_titles(plan)
        if plan is not None:
            draw(plt, plan)
        else:
            plt.title(nothing)
            plt.xlabel("")
            plt.ylabel("")
        plot.refresh()

    def _draw_axes(self, plt, first: int, last: int, ylabel: str) -> int:
        """Labels, x range and ticks; returns the right end of the x axis."""
        plt.title("")
        height = self._plot.size.height if self._plot is not None else SHORT_PLOT
        short = height < SHORT_PLOT  # the curve needs the rows
        very_short = height < VERY_SHORT_PLOT  # the top frame line and the ticks' row too
        plt.xlabel("" if short else "iteration")
        plt.ylabel("" if short else ylabel)
        plt.xaxes(True, not very_short)
        plt.yaxes(True, not very_short)
        right = max(last, first + 1)
        plt.xlim(first, right)
        ticks = [] if very_short else iteration_ticks(first, right)  # the border title gives the range
        plt.xticks(ticks, [str(t) for t in ticks])
        return right

    @staticmethod
    def _draw_lines(plt, lines) -> None:
        """Each (xs, ys, colour) joined by braille dots (drawn in order: later ones on top)."""
        for xs, ys, color in lines:
            if len(xs):
                plt.plot(xs.tolist(), ys.tolist(), marker="braille", color=color)

    def _draw(self, plt, plan: CurvePlan) -> None:
        """Hand ``plan`` to plotext."""
        right = self._draw_axes(plt, plan.first, plan.last, plan.ylabel)
        if np.isfinite(plan.baseline):
            plt.plot([plan.first, right], [plan.baseline] * 2, marker="braille", color=BASELINE_COLOR)
        self._draw_lines(plt, [(o.xs, o.ys, o.color) for o in plan.overlays])
        self._draw_lines(plt, [(*plan.raw, RAW_COLOR), (*plan.smooth, SMOOTH_COLOR)])
        if plan.markers:
            self._draw_markers(plt, plan)

    def _plot_rows(self) -> int:
        """About how many text rows the plot's data area has (the frame, ticks and label take the rest)."""
        height = self._plot.size.height if self._plot is not None else 0
        return max(1, height - PLOT_FURNITURE_ROWS)

    def _draw_bpc(self, plt, plan: BpcPlan) -> None:
        """Baselines as labelled horizontal lines, branches, then training and held-out bpc (dots where sparse)."""
        right = self._draw_axes(plt, plan.first, plan.last, plan.ylabel)
        for _, value in plan.baselines:
            if np.isfinite(value):
                plt.plot([plan.first, right], [value] * 2, marker="braille", color=BASELINE_COLOR)
        for label, value in baseline_labels(plan.baselines, self._plot_rows(), *plan.y_span):
            plt.text(label, right, value, color=BASELINE_COLOR, alignment="right")
        lines = [(o.xs, o.ys, o.color) for o in plan.overlays] + [(*plan.train, TRAIN_COLOR)]
        if plan.held_out is not None:
            lines.append((*plan.held_out, HELD_OUT_COLOR))
        self._draw_lines(plt, lines)
        for xs, ys, color in lines:
            if 0 < len(xs) <= self.n_buckets // SPARSE_POINTS:
                plt.scatter(xs.tolist(), ys.tolist(), marker="•", color=color)

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
        span = f"iter {plan.first}–{plan.last}{scale}"
        self.border_title = fit_border_text(
            (f"{self.TITLE} · {window} · {span}", f"{self.TITLE} · {span}", span), self.outer_size.width - BORDER_FRAME
        )
        overlays = self._overlay_key(plan.overlays)
        change = short_change = ""
        if self.events:
            it, text = self.events[-1]
            change = f" [magenta]⡇ {it}: {escape(text)}[/]"
            short_change = f" [magenta]⡇{it} {escape(short_event_text(text))}[/]"
        self.border_subtitle = fit_border_text(
            (
                f"[red]raw[/] [cyan]smooth[/] [yellow]baseline {self.baseline:.2f}[/]{overlays}{change}",
                f"[red]raw[/] [cyan]smooth[/] [yellow]base {self.baseline:.2f}[/]{overlays}{short_change}",
                f"{overlays}{short_change}",
                short_change,
            ),
            self.outer_size.width - BORDER_FRAME,
        )

    @staticmethod
    def _overlay_key(overlays: tuple[Overlay, ...]) -> str:
        """The overlaid branches' names in their colours, for a legend."""
        return "".join(f" [{markup_color(o.color)}]{escape(o.name)}[/]" for o in overlays)

    def _set_bpc_titles(self, plan: BpcPlan | None) -> None:
        """Border title: range and mode; subtitle: the colour key (and the baselines' state)."""
        title = "Bits per character"
        if plan is None:
            self.border_title = f"{title} · no evaluations yet (e evaluates now)"
        else:
            window = f"last {RECENT}" if self.recent_only else "all"
            scale = " · log10" if self.log_scale else ""
            span = f"iter {plan.first}–{plan.last}{scale}"
            self.border_title = fit_border_text(
                (f"{title} · {window} · {span}", f"bpc · {window} · {span}", f"bpc · {span}"),
                self.outer_size.width - BORDER_FRAME,
            )
        key = "[cyan]train[/]"
        if plan is not None and plan.held_out is not None:
            key += " [red]held-out[/]"
        if self.baselines_note:
            key += f" [yellow]{escape(self.baselines_note)}[/]"
        elif self.baselines:
            key += " [yellow]k-grams" + (" (in sample)" if self.baselines_in_sample else "") + "[/]"
        self.border_subtitle = key + (self._overlay_key(plan.overlays) if plan is not None else "")
