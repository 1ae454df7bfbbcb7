"""The unit table (U): one row per hidden unit over the whole training text.

Columns: mean and standard deviation of h_t, the fractions of t saturated low
(h < -0.95) and high (h > 0.95), the dead / always-saturated flags, and Pearson's
r with the chosen feature. Rows sort by any column (o cycles, O reverses, a click
on a header sorts by it and a second click reverses); the default is |r| with the
chosen feature, largest first. Beside the table, a scatter of the saturation
fractions, one dot per unit (after Karpathy et al. 2015, figure 3). Enter opens
the neuron page of the highlighted unit and makes it the main screen's unit.

The title line of this screen and of the neuron page stays one line: at a narrow
width its parts give way (``OneLineTitle``), and the regex field's hint shortens
to fit (``HintedInput``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Label, Select, Static
from textual_plotext import PlotextPlot

from ..engine.analysis import Analysis
from ..engine.features import REGEX_PREFIX, FeatureError, FeatureResult, parse_features
from ..engine.units import SATURATION
from .analysis_actions import AnalysisScreen, AnalysisStore, Computed
from .drawing import fit
from .footer import WholeKeysFooter
from .heatmap import RowOrder

DOT, CHOSEN_DOT = "•", "●"
DOT_COLOR, CHOSEN_COLOR = "cyan+", "red+"
SORT = Binding.Group("Sort")  # o and O share one footer entry
REGEX_HINTS = (  # the regex field's placeholder, the longest that fits the field first
    "PATTERN, enter: a feature of your own (e.g. [aeiou] or \\bthe\\b)",
    "PATTERN, enter: a feature of your own",
    "PATTERN, enter (e.g. [aeiou])",
    "PATTERN, enter",
)


class OneLineTitle(AnalysisScreen):
    """An analysis screen whose title line never wraps: parts give way at a narrow width."""

    DEFAULT_CSS = """
    OneLineTitle #analysis-title {
        height: 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def choose_title(self, forms: list[str]) -> str:
        """The longest form that fits the title line (the shortest when none does: it then ends in an
        ellipsis)."""
        title = self.query_one("#analysis-title", Static)
        width = title.content_region.width or self.size.width - title.styles.gutter.width
        return next((form for form in forms if cell_len(form) <= width), forms[-1])


class HintedInput(Input):
    """An input whose placeholder is the longest of its hints that fits its width."""

    def __init__(self, hints: tuple[str, ...], **kwargs) -> None:
        super().__init__(placeholder=hints[0], **kwargs)
        self.hints = hints

    def on_resize(self) -> None:
        self.placeholder = fit(self.content_region.width - 1, *self.hints)  # a cell for the cursor


@dataclass(frozen=True)
class Column:
    """A column of the table: how it sorts and how its cells read."""

    key: str
    header: str  # "r" is followed by the feature's name
    descending: bool  # the first sort by it puts the largest first
    values: Callable[[Analysis, str], np.ndarray]  # (H,) what it sorts by, given the chosen feature
    cell: Callable[[Analysis, str, int], str]  # the text of unit u's cell


def _flags(analysis: Analysis) -> np.ndarray:
    """(H,) 2 for a dead unit, 1 for one always saturated, else 0."""
    stats = analysis.units
    return 2 * stats.dead + stats.always_saturated


def flags_text(analysis: Analysis, unit: int) -> str:
    """The flags cell: dead, always saturated, or nothing."""
    stats = analysis.units
    return "dead" if stats.dead[unit] else "always sat" if stats.always_saturated[unit] else ""


COLUMNS = (
    Column("unit", "unit", False, lambda a, f: np.arange(a.hidden_size), lambda a, f, u: str(u)),
    Column("mean", "mean", True, lambda a, f: a.units.mean, lambda a, f, u: f"{a.units.mean[u]:+.3f}"),
    Column("std", "std", True, lambda a, f: a.units.std, lambda a, f, u: f"{a.units.std[u]:.3f}"),
    Column("low", "sat low", True, lambda a, f: a.units.sat_low, lambda a, f, u: f"{a.units.sat_low[u]:.1%}"),
    Column("high", "sat high", True, lambda a, f: a.units.sat_high, lambda a, f, u: f"{a.units.sat_high[u]:.1%}"),
    Column("flags", "flags", True, lambda a, f: _flags(a), lambda a, f, u: flags_text(a, u)),
    Column("r", "r", True, lambda a, f: np.abs(a.features[f].r), lambda a, f, u: f"{a.features[f].r[u]:+.3f}"),
)
BY_KEY = {column.key: column for column in COLUMNS}


def default_feature(analysis: Analysis) -> str:
    """The first feature that varies over the text (the first feature when none does)."""
    return next((name for name, result in analysis.features.items() if result.varies), next(iter(analysis.features)))


def sorted_units(analysis: Analysis, feature: str, column: str, descending: bool) -> tuple[int, ...]:
    """The units ordered by ``column`` (r: by |r| with ``feature``); equal values by unit number."""
    values = BY_KEY[column].values(analysis, feature)
    order = np.argsort(-values if descending else values, kind="stable")
    return tuple(int(u) for u in order)


def sort_label(feature: str, column: str, descending: bool) -> str:
    """The order in words, e.g. ``|r| depth ↓``."""
    name = f"|r| {feature}" if column == "r" else BY_KEY[column].header
    return f"{name} {'↓' if descending else '↑'}"


def row_order(computed: Computed, feature: str, column: str, descending: bool) -> RowOrder:
    """The table's order as a heatmap row order, labelled with what it is and when it was computed."""
    units = sorted_units(computed.analysis, feature, column, descending)
    return RowOrder(units, sort_label(feature, column, descending), computed.iteration)


def probe_text(result: FeatureResult) -> str:
    """The feature's held-out linear probe: ``probe R² 0.570`` (fitted on the first half, scored on the second)."""
    return "probe R² —" if result.probe_r2 is None else f"probe R² {result.probe_r2:.3f}"


class UnitsScreen(OneLineTitle):
    """The unit table and the saturation scatter, over the store's best analysis."""

    DEFAULT_CSS = """
    UnitsScreen #choosers {
        height: 1;
        padding: 0 1;
    }
    UnitsScreen #choosers Label {
        width: auto;
        padding-right: 1;
    }
    UnitsScreen #feature {
        width: 26;
        margin-right: 2;
    }
    UnitsScreen #regex {
        width: 1fr;
    }
    UnitsScreen #probe {
        padding-left: 2;
    }
    UnitsScreen #regex-error {
        height: auto;
        color: $error;
        padding: 0 1;
        display: none;
    }
    UnitsScreen #regex-error.shown {
        display: block;
    }
    UnitsScreen #body {
        height: 1fr;
    }
    UnitsScreen #units {
        width: auto;
        max-width: 70%;
        height: 1fr;
    }
    UnitsScreen #scatter-box {
        width: 1fr;
        height: 1fr;
        margin-left: 1;
    }
    UnitsScreen #scatter-y {
        color: $text-muted;
    }
    UnitsScreen #scatter {
        height: 1fr;
    }
    UnitsScreen.narrow #body {
        layout: vertical;
    }
    UnitsScreen.narrow #units {
        width: 100%;
        max-width: 100%;
    }
    UnitsScreen.narrow #scatter-box {
        height: 9;
    }
    UnitsScreen.narrow #feature {
        width: 22;
        margin-right: 1;
    }
    """
    BINDINGS = [
        Binding("N", "open_unit", "Neuron page"),
        Binding("o", "next_sort", "Sort by next", group=SORT),
        Binding("O", "reverse_sort", "Reverse", group=SORT),
        Binding("f", "focus_feature", "Feature", show=False),  # the chooser's label names the key
        Binding("slash", "focus_regex", "Regex", show=False),
    ]

    def __init__(self, store: AnalysisStore, choose_unit: Callable[[int], None],
                 set_order: Callable[[RowOrder], None]) -> None:
        super().__init__(store, choose_unit)
        self.set_order = set_order  # tells the main screen the table's order (for the heatmap)
        self.feature: str | None = None  # the feature of the r column
        self.sort_column, self.descending = "r", True
        self.order: tuple[int, ...] = ()  # the units as listed, top first
        self._wanted_feature: str | None = None  # a regex feature asked for, shown once computed

    def heading(self) -> str:
        label = sort_label(self.feature, self.sort_column, self.descending) if self.feature else ""
        return f"Unit table · sorted by {label}"

    def short_heading(self) -> str:
        return f"Units · {sort_label(self.feature, self.sort_column, self.descending)}" if self.feature else "Units"

    def compose(self) -> ComposeResult:
        yield from self.compose_status()
        with Horizontal(id="choosers"):
            yield Label("feature (f)")
            yield Select([], id="feature", allow_blank=True, compact=True, prompt="…")
            yield Label("regex (/)")
            yield HintedInput(REGEX_HINTS, id="regex", compact=True)
            yield Label("", id="probe")
        yield Label("", id="regex-error")
        with Horizontal(id="body"):
            yield DataTable(id="units", cursor_type="row", zebra_stripes=True)
            with Vertical(id="scatter-box"):
                yield Label(f"↑ sat high (h > {SATURATION:g}) · a dot per unit", id="scatter-y")
                yield PlotextPlot(id="scatter")
        yield WholeKeysFooter()

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()  # (AnalysisScreen.on_mount runs next and shows the analysis)

    # --- drawing -------------------------------------------------------------
    def show(self, computed: Computed) -> None:
        """A new analysis: the feature choices, then the rows and the scatter."""
        features = computed.analysis.features
        wanted = self._wanted_feature
        if wanted in features:
            self.feature, self._wanted_feature = wanted, None
        elif self.feature not in features:
            self.feature = default_feature(computed.analysis)
        select = self.query_one("#feature", Select)
        with select.prevent(Select.Changed):
            select.set_options([(self._feature_choice(computed.analysis, name), name) for name in features])
            select.value = self.feature
        self._fill()

    @staticmethod
    def _feature_choice(analysis: Analysis, name: str) -> str:
        result = analysis.features[name]
        return name if result.varies else f"{name} (constant)"

    def _fill(self) -> None:
        """The rows in the chosen order, the cursor kept on its unit; the scatter; the heatmap's order."""
        computed = self.computed
        if computed is None or self.feature is None:
            return
        analysis = computed.analysis
        table = self.query_one(DataTable)
        keep = self.highlighted_unit()
        self.order = sorted_units(analysis, self.feature, self.sort_column, self.descending)
        table.clear(columns=True)  # the r column's header names the feature and is sized to it
        for column in COLUMNS:
            table.add_column(column.header if column.key != "r" else f"r {self.feature}", key=column.key)
        for u in self.order:
            cells = [Text(column.cell(analysis, self.feature, u), justify="left" if column.key == "flags" else "right")
                     for column in COLUMNS]
            table.add_row(*cells, key=str(u))
        table.refresh()
        if keep is not None:
            table.move_cursor(row=self.order.index(keep), animate=False)
        self.query_one("#probe", Label).update(probe_text(analysis.features[self.feature]))
        self._draw_scatter()
        self._update_title()
        self.set_order(row_order(computed, self.feature, self.sort_column, self.descending))

    def highlighted_unit(self) -> int | None:
        """The unit of the table's cursor row, or None before the rows."""
        table = self.query_one(DataTable)
        if not self.order or table.row_count == 0:
            return None
        return self.order[min(table.cursor_row, len(self.order) - 1)]

    def _draw_scatter(self) -> None:
        """Saturated-high against saturated-low fraction, a dot per unit; the highlighted unit stands out."""
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.xlabel(f"sat low (h < -{SATURATION:g}) →")  # the y axis is named above the plot, at its top left
        plt.xlim(0, 1)
        plt.ylim(0, 1)
        if self.computed is not None:
            stats = self.computed.analysis.units
            plt.scatter(stats.sat_low.tolist(), stats.sat_high.tolist(), marker=DOT, color=DOT_COLOR)
            unit = self.highlighted_unit()
            if unit is not None:
                plt.scatter([float(stats.sat_low[unit])], [float(stats.sat_high[unit])], marker=CHOSEN_DOT,
                            color=CHOSEN_COLOR)
        plot.refresh()

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self) -> None:
        self._draw_scatter()

    # --- sorting ----------------------------------------------------------------
    def sort_by(self, column: str, descending: bool | None = None) -> None:
        """Sort by ``column`` (its own first direction unless ``descending`` is given)."""
        self.sort_column = column
        self.descending = BY_KEY[column].descending if descending is None else descending
        self._fill()

    @on(DataTable.HeaderSelected)
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        column = event.column_key.value
        self.sort_by(column, not self.descending if column == self.sort_column else None)

    def action_next_sort(self) -> None:
        """o: sort by the next column."""
        keys = [column.key for column in COLUMNS]
        self.sort_by(keys[(keys.index(self.sort_column) + 1) % len(keys)])

    def action_reverse_sort(self) -> None:
        """O: reverse the order."""
        self.sort_by(self.sort_column, not self.descending)

    # --- features ---------------------------------------------------------------
    @on(Select.Changed, "#feature")
    def _feature_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value != self.feature:
            self.feature = event.value
            self._fill()

    @on(Input.Submitted, "#regex")
    def _regex_submitted(self, event: Input.Submitted) -> None:
        """A pattern typed: its feature is shown at once when computed, else an analysis with it starts."""
        pattern = event.value.strip()
        error = self.query_one("#regex-error", Label)
        if not pattern:
            return
        name = pattern if pattern.startswith(REGEX_PREFIX) else REGEX_PREFIX + pattern
        try:
            parse_features([name])
        except FeatureError as err:
            error.update(err.problem)
            error.add_class("shown")
            return
        error.remove_class("shown")
        if self.computed is not None and name in self.computed.analysis.features:
            self.feature = name
            self.show(self.computed)
        else:
            self._wanted_feature = name
            self._start((name,))
        self.query_one(DataTable).focus()

    def action_focus_feature(self) -> None:
        self.query_one("#feature", Select).focus()

    def action_focus_regex(self) -> None:
        self.query_one("#regex", Input).focus()

    # --- opening a unit -----------------------------------------------------------
    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_open_unit()

    def action_open_unit(self) -> None:
        """Enter or N: the neuron page of the highlighted unit, which becomes the main screen's unit."""
        from .neuron_screen import NeuronScreen

        unit = self.highlighted_unit()
        if unit is None or self.computed is None:
            return
        self.choose_unit(unit)
        order = row_order(self.computed, self.feature, self.sort_column, self.descending)
        self.app.push_screen(NeuronScreen(self.store, self.choose_unit, unit, order))
