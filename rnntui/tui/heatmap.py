"""The hidden state heatmap: a row per unit, a column per timestep, after a column for hprev.

Column PREV (-1) is the state carried into the window; for other panels it
means timestep 0. Only the cells that fit are drawn, so any H stays fast.

Two views show more of the layer at once: two units per text row (the upper
half of each cell is one unit, the lower half the next), and the rows in the
order of a unit analysis (a :class:`RowOrder`, e.g. by |r| with a feature)
instead of by unit number. The screen may also maximise the panel.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rich.console import Console, ConsoleOptions
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding

from ..engine import StepRecord
from ..engine.units import saturated_fraction
from . import scale
from .base import Panel
from .drawing import count
from .glyphs import glyph
from .messages import CursorMoved, UnitSelected

PREV = -1  # column index of hprev
PREV_LABEL = "h₋₁"
LEGEND_STEPS = 11  # swatches in the legend, from -1 to +1
WHEEL_ROWS = 3  # rows scrolled per mouse wheel notch
MIN_ROWS = 4  # unit rows kept in a short panel by giving up the colour key and the window statistics
CURSOR = {1: "x", 2: "[]"}  # the cursor's mark, by cell width
EMPTY = "press space to take the first step"
HALVES = "▀"  # a two-unit cell: the foreground colours the upper half (one unit), the background the lower
HALF_MARKS = ("▴", "▾")  # after the label of the cursor's row: the chosen unit is the upper or the lower half


@dataclass(frozen=True)
class RowOrder:
    """The order of the heatmap's rows: every unit once, top first, and what it is sorted by."""

    units: tuple[int, ...]
    by: str  # what the rows are sorted by, e.g. "|r| depth ↓"
    iteration: int | None = None  # the updates of the parameters the order was measured on

    @property
    def label(self) -> str:
        """The order in words, e.g. ``|r| depth ↓ (1,200 steps)``."""
        return self.by if self.iteration is None else f"{self.by} ({count(self.iteration, 'step')})"


def follow(start: int, pos: int, span: int, total: int) -> int:
    """First index of a ``span``-long view of ``total`` items moved just enough to show ``pos``."""
    start = max(min(start, pos), pos - span + 1)
    return max(0, min(start, total - span))


@dataclass(frozen=True)
class Geometry:
    """Where things are drawn in the content area (rows and columns as indices)."""

    label_w: int  # width of the unit index labels
    cell_w: int  # width of one heatmap cell (1 or 2)
    top: int  # first visible row (the first visible unit when one unit per row in natural order)
    rows: int  # visible rows
    left: int  # first visible timestep
    cols: int  # visible timestep columns
    beside: bool  # the legend shares the header line
    compact: bool  # short panel: no legend line; the rows in view are named on the detail line
    prev_x: int  # x of the hprev column (after the label and a space)
    grid_x: int  # x of the first timestep column (after hprev and a gap)

    def column_at(self, x: int) -> int | None:
        """The column (PREV or a timestep) at content x, or None."""
        if self.prev_x <= x < self.prev_x + self.cell_w:
            return PREV
        index = (x - self.grid_x) // self.cell_w
        return self.left + index if x >= self.grid_x and index < self.cols else None

    def row_at(self, y: int) -> int | None:
        """The row drawn at content y (row 0 is the header), or None."""
        return self.top + y - 1 if 1 <= y <= self.rows else None


def detail_lines(record: StepRecord, unit: int, column: int) -> tuple[str, str]:
    """The cursor's value, then the unit's min/mean/max and saturated fraction over the window."""
    series = record.hs[:, unit]
    value = record.hprev[unit] if column == PREV else record.hs[column, unit]
    saturated = saturated_fraction(series)
    return format_detail(unit, column, value, (series.min(), series.mean(), series.max()), saturated)


def format_detail(unit: int, column: int, value: float, spread: tuple, saturated: float) -> tuple[str, str]:
    """The two detail lines from their numbers; ``spread`` is the window's (min, mean, max)."""
    where = f"{PREV_LABEL} (carried in)" if column == PREV else f"t={column}"
    low, mean, high = spread
    return (
        f"unit {unit}  {where}  h={value:+.4f}",
        f"window min {low:+.2f} mean {mean:+.2f} max {high:+.2f}  saturated {saturated:.0%}",
    )


def longest_detail(units: int, steps: int) -> int:
    """Length of the longest one-line detail any cursor position can give (values within [-1, 1])."""
    widest = (format_detail(units - 1, column, -1.0, (-1.0, -1.0, -1.0), 1.0) for column in (PREV, steps - 1))
    return max(len(head) + 2 + len(stats) for head, stats in widest)


def cell(value: float, here: bool, width: int, plain: bool = False) -> tuple[str, Style]:
    """A coloured cell ``width`` wide as a (text, style) token; the cursor's cell is marked.

    ``plain`` (no colour): the value's bar glyph fills the cell instead, the cursor's reversed.
    """
    if plain:
        return scale.level_glyph(value) * width, CHOSEN if here else PLAIN
    return (CURSOR[width] if here else " " * width), scale.cell_style(value, bold=here)


@lru_cache(maxsize=(scale.LEVELS + 1) ** 2)
def _halves_style(upper: int, lower: int | None) -> Style:
    return Style(color=scale.color_for_level(upper), bgcolor=None if lower is None else scale.color_for_level(lower))


def halves(upper: float, lower: float | None, width: int, plain: bool = False) -> tuple[str, Style]:
    """A cell holding two units as a (text, style) token: ``upper`` colours its upper half, ``lower``
    (None: no unit, the last row of an odd count) its lower half.

    ``plain`` (no colour): the upper unit's bar glyph, then the lower's (a cell one wide shows the upper's).
    """
    if plain:
        text = scale.level_glyph(upper) + (" " if lower is None else scale.level_glyph(lower))
        return text[:width], PLAIN
    return HALVES * width, _halves_style(scale.level(upper), None if lower is None else scale.level(lower))


DIM = Style(dim=True)
CHOSEN = Style(bold=True, reverse=True)
PLAIN = Style()
SPACE = Segment(" ")


class Lines:
    """Lines for Rich: Text lines, or rows already cut into styled segments.

    The grid's rows are many one-cell segments with ready-made styles; handing
    them over as segments skips Text's span splitting, which dominated the
    heatmap's drawing time while training runs.
    """

    def __init__(self, lines: list[Text | list[Segment]], width: int) -> None:
        self.lines = lines
        self.width = width

    def __rich_console__(self, console: Console, options: ConsoleOptions):
        for line in self.lines:
            if isinstance(line, Text):
                line.truncate(self.width)
                yield from line.render(console)
            else:
                yield from Segment.adjust_line_length(line, self.width, pad=False)
            yield Segment.line()


class Heatmap(Panel):
    """Hidden states of every unit over the window, on the fixed [-1, 1] scale, with a cell cursor.

    Moving the timestep posts CursorMoved; moving, clicking or choosing (enter)
    a unit posts UnitSelected. The screen binds both back into the reactives.
    :meth:`arrange` sets one or two units per row and the order of the rows;
    up and down follow the rows as drawn.
    """

    TITLE = "Hidden state h"
    BINDINGS = [
        Binding("up", "move(-1, 0)", "Unit up", show=False),
        Binding("down", "move(1, 0)", "Unit down", show=False),
        Binding("left", "move(0, -1)", "Earlier step", show=False),
        Binding("right", "move(0, 1)", "Later step", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First unit", show=False),
        Binding("end", "jump(1)", "Last unit", show=False),
        Binding("enter", "choose", "Colour input by unit", show=False),
    ]

    _on_prev = False  # the cursor is on the hprev column
    _top = 0  # first visible row
    _left = 0  # first visible timestep
    _follow = True  # keep the cursor's unit in view (off after a wheel scroll, on when the unit moves)
    geometry: Geometry | None = None  # the layout of the last render (None before)
    per_row = 1  # units per text row: 1, or 2 in half-height cells
    order: RowOrder | None = None  # the rows' order (None: by unit number)

    def arrange(self, per_row: int | None = None, order: RowOrder | None | bool = False) -> None:
        """Set the units per row (1 or 2) and the rows' order (None: by unit number; False: unchanged)."""
        if per_row is not None:
            self.per_row = 2 if per_row == 2 else 1
        if order is not False:
            self.order = order if order is None or len(order.units) == self.info.hidden_size else None
        self._follow = True
        self.refresh()

    @property
    def plain(self) -> bool:
        """Draw values as bar glyphs: the terminal shows no colour (NO_COLOR), so a colour would not tell -1 from +1."""
        return bool(getattr(self.app, "no_color", False))

    @property
    def slots(self) -> tuple[int, ...] | range:
        """The units in drawing order, top first."""
        return self.order.units if self.order is not None else range(self.info.hidden_size)

    def slot_of(self, unit: int) -> int:
        """Where ``unit`` stands in drawing order."""
        return self.order.units.index(unit) if self.order is not None else unit

    def row_units(self, row: int) -> tuple[int, ...]:
        """The units drawn in row ``row`` (the last row of an odd count in pairs holds one)."""
        return tuple(self.slots[row * self.per_row : (row + 1) * self.per_row])

    @property
    def total_rows(self) -> int:
        return -(-self.info.hidden_size // self.per_row)

    @property
    def column(self) -> int:
        """The cursor's column: PREV or a timestep of the window."""
        return PREV if self._on_prev else self.clamp_t(self.cursor_t)

    @property
    def selected_unit(self) -> int:
        """``unit`` clamped to the hidden size."""
        return max(0, min(self.unit, self.info.hidden_size - 1))

    def watch_unit(self) -> None:
        """The view follows the unit wherever it was set."""
        self._follow = True

    def watch_cursor_t(self, t: int) -> None:
        """Leave the hprev column when the timestep moves elsewhere (hprev counts as t=0)."""
        self._on_prev = self._on_prev and t == 0

    def _select_unit(self, unit: int, chosen: bool = False) -> None:
        """Move to ``unit``; ``chosen`` (enter or a click) also asks to colour the input window by it."""
        unit = max(0, min(unit, self.info.hidden_size - 1))
        if unit != self.unit or chosen:
            self.unit, self._follow = unit, True
            self.post_message(UnitSelected(unit, chosen=chosen))

    def _select_column(self, column: int) -> None:
        column = max(PREV, min(column, self.record.seq_length - 1))
        if column != self.column:
            self._on_prev = column == PREV
            self.cursor_t = max(column, 0)
            self.post_message(CursorMoved(self.cursor_t))
            self.refresh()

    def action_move(self, d_unit: int, d_column: int) -> None:
        """Move the cell cursor by whole units and columns."""
        if self.record is not None:
            self._follow = True  # after a wheel scroll, a key brings the cursor back into view
            if d_unit:
                self._shift_unit(d_unit)
            if d_column:
                self._shift_column(d_column)

    def _shift_unit(self, delta: int) -> None:
        """A key's move by ``delta`` units in drawing order: made here at once, and sent to the screen.

        In unit-number order it is sent as a move for the screen to add to its own
        unit, so every press of a burst counts; in another order, as the unit reached.
        """
        if self.order is None:
            unit = max(0, min(self.selected_unit + delta, self.info.hidden_size - 1))
            message = UnitSelected(delta, relative=True)
        else:
            unit = self.order.units[max(0, min(self.slot_of(self.selected_unit) + delta, self.info.hidden_size - 1))]
            message = UnitSelected(unit)
        if unit != self.unit:
            self.unit, self._follow = unit, True
            self.post_message(message)

    def _shift_column(self, delta: int) -> None:
        """A key's move by ``delta`` columns, sent as ``_shift_unit`` sends units. The hprev column
        is this panel's own: stepping into or out of it leaves the timestep at 0."""
        column = max(PREV, min(self.column + delta, self.record.seq_length - 1))
        if column == self.column:
            return
        moved = max(column, 0) - max(self.column, 0)
        self._on_prev = column == PREV
        if moved:
            self.cursor_t = max(column, 0)
            self.post_message(CursorMoved(moved, relative=True))
        self.refresh()

    def action_page(self, direction: int) -> None:
        """Move the unit cursor a screenful up (-1) or down (+1)."""
        self.action_move(direction * (self.geometry.rows * self.per_row if self.geometry else 1), 0)

    def action_jump(self, end: int) -> None:
        """Go to the first (0) or last (1) unit."""
        self.action_move(self.info.hidden_size * (1 if end else -1), 0)

    def action_choose(self) -> None:
        """Choose the cursor's unit (the screen colours the input window by it)."""
        if self.record is not None:
            self._select_unit(self.selected_unit, chosen=True)

    def on_click(self, event: events.Click) -> None:
        """Select the clicked cell: a row label picks the unit, a header glyph the timestep."""
        offset = event.get_content_offset(self)
        if self.record is None or self.geometry is None or offset is None:
            return
        row, column = self.geometry.row_at(offset.y), self.geometry.column_at(offset.x)
        if row is not None:
            units = self.row_units(row)  # in pairs: the upper unit, or the lower one when the upper is chosen
            self._select_unit(units[-1] if units[0] == self.selected_unit else units[0], chosen=True)
        if column is not None:
            self._select_column(column)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        """Scroll the rows down."""
        self._scroll(WHEEL_ROWS, event)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        """Scroll the rows up."""
        self._scroll(-WHEEL_ROWS, event)

    def _scroll(self, rows: int, event: events.MouseEvent) -> None:
        """Scroll the rows without moving the cursor (render clamps the bottom)."""
        self._top, self._follow = max(0, self._top + rows), False
        event.stop()
        self.refresh()

    def _fit(self, record: StepRecord, width: int, height: int, spare: int, compact: bool = False) -> Geometry:
        """Lay the grid out in ``width`` x ``height`` less ``spare`` lines, scrolled to the cursor.

        ``compact`` drops the legend's own line (the caller names the rows in view elsewhere).
        """
        units, steps, total = record.hs.shape[1], record.seq_length, self.total_rows
        label_w = len(str(units - 1))
        fixed = label_w + 2  # label, a space (in pairs: the half mark), and the gap after hprev
        cell_w = 2 if fixed + 2 * (steps + 1) <= width else 1
        cols = max(1, min(steps, (width - fixed) // cell_w - 1))
        legend_w = LEGEND_STEPS + 10 + len(self._rows_in_view(total - 1, total - 1))
        beside = not compact and fixed + (cols + 1) * cell_w + legend_w <= width
        rows = max(1, min(total, height - 1 - spare - (not beside and not compact)))
        here = self.slot_of(self.selected_unit) // self.per_row  # the cursor's row
        top = follow(self._top, here, rows, total) if self._follow else min(self._top, total - rows)
        left = follow(self._left, max(self.column, 0), cols, steps)
        return Geometry(label_w, cell_w, top, rows, left, cols, beside, compact, label_w + 1, fixed + cell_w)

    def render(self) -> Text:
        """Header, the visible rows, legend and detail; only what fits is built."""
        record = self.record
        if record is None:
            return Text(EMPTY, style="dim")
        width, height = self.content_size
        head, stats = detail_lines(record, self.selected_unit, self.column)
        if self._short(record, width, height):  # one detail line, no legend line
            geom = self.geometry = self._fit(record, width, height, 1, compact=True)
        else:
            detail = [f"{head}  {stats}"] if len(head) + 2 + len(stats) <= width else [head, stats]
            geom = self.geometry = self._fit(record, width, height, len(detail))
        self._top, self._left = geom.top, geom.left
        header = self._header(record, geom)
        draw = self._row if self.per_row == 1 else self._pair_row
        rows = [draw(record, geom, self.row_units(r)) for r in range(geom.top, geom.top + geom.rows)]
        if geom.compact:
            return Lines([header, *rows, Text.assemble(head, "  ", self._in_view(record, geom))], width)
        legend = self._legend(record, geom)
        gap = " " * (width - len(header) - len(legend))  # the legend at the right of the header
        lines = [Text.assemble(header, gap, legend), *rows] if geom.beside else [header, *rows, legend]
        lines += [Text(line) for line in detail]
        return Lines(lines, width)

    def _short(self, record: StepRecord, width: int, height: int) -> bool:
        """Too short for MIN_ROWS rows beside the legend and the window figures at their longest.

        Decided by the panel's size and the record's shape alone, so the layout
        does not switch as the cursor moves or the figures change length.
        """
        units = record.hs.shape[1]
        widest = self._fit(record, width, height, 2)  # two detail lines: the tallest layout
        if widest.beside and longest_detail(units, record.seq_length) <= width:
            return False  # the detail is always one line and the legend shares the header
        return widest.rows < min(MIN_ROWS, units)

    def _header(self, record: StepRecord, geom: Geometry) -> Text:
        """hprev's label, then each timestep's input glyph coloured by the unit's activation."""
        text = Text(" " * (geom.prev_x + geom.cell_w - len(PREV_LABEL)))
        text.append(PREV_LABEL, "bold reverse" if self.column == PREV else "dim").append(" ")
        for t in range(geom.left, geom.left + geom.cols):
            here = t == self.column  # the cursor's column is bold and underlined
            style = scale.cell_style(record.hs[t, self.selected_unit], bold=here) + Style(underline=here)
            text.append(glyph(self.info.vocab[record.inputs[t]]), style).append(" " * (geom.cell_w - 1))
        return text

    def _row(self, record: StepRecord, geom: Geometry, units: tuple[int, ...]) -> list[Segment]:
        """A unit's label, its hprev cell, a gap, and its cells for the visible timesteps."""
        (unit,) = units
        here = self.column if unit == self.selected_unit else None  # the cursor's column in this row
        label = Segment(f"{unit:>{geom.label_w}}", CHOSEN if here is not None else DIM)
        columns = [PREV, *range(geom.left, geom.left + geom.cols)]
        values = [record.hprev[unit], *record.hs[geom.left : geom.left + geom.cols, unit].tolist()]
        cells = [Segment(*cell(v, c == here, geom.cell_w, self.plain)) for c, v in zip(columns, values)]
        return [label, SPACE, cells[0], SPACE, *cells[1:]]

    def _pair_row(self, record: StepRecord, geom: Geometry, units: tuple[int, ...]) -> list[Segment]:
        """Two units in one row of half-height cells: the upper unit's colour above, the lower's below.

        The label names the upper unit, or the chosen one (highlighted, with a mark
        saying which half) when it is in this row; the cursor's cell is drawn whole
        in the chosen unit's colour, marked as in one-unit rows.
        """
        chosen = self.selected_unit if self.selected_unit in units else None
        label = Segment(f"{units[0] if chosen is None else chosen:>{geom.label_w}}", DIM if chosen is None else CHOSEN)
        mark = SPACE if chosen is None else Segment(HALF_MARKS[units.index(chosen)], CHOSEN)
        span = slice(geom.left, geom.left + geom.cols)
        columns = [PREV, *range(geom.left, geom.left + geom.cols)]
        series = [[record.hprev[u], *record.hs[span, u].tolist()] for u in units]
        if len(series) == 1:
            series.append([None] * len(columns))
        cells = []
        for c, upper, lower in zip(columns, *series):
            if chosen is not None and c == self.column:
                cells.append(Segment(*cell(upper if chosen == units[0] else lower, True, geom.cell_w, self.plain)))
            else:
                cells.append(Segment(*halves(upper, lower, geom.cell_w, self.plain)))
        return [label, mark, cells[0], SPACE, *cells[1:]]

    def _legend(self, record: StepRecord, geom: Geometry) -> Text:
        """The colour scale from -1 to +1, then which units and steps are in view."""
        text = Text("-1 ", "dim")
        for value in np.linspace(-1.0, 1.0, LEGEND_STEPS):
            text.append(*((scale.level_glyph(value),) if self.plain else (" ", scale.cell_style(value))))
        return text.append(" +1  ", "dim").append_text(self._in_view(record, geom))

    def _rows_in_view(self, first: int, last: int) -> str:
        """Rows ``first`` to ``last`` in words: the units, or (in another order) the rows and the order."""
        units = self.info.hidden_size
        if self.order is not None:
            pairs = ", in pairs," if self.per_row == 2 else ""
            return f"rows {first + 1}-{last + 1} of {self.total_rows}{pairs} by {self.order.label}"
        if self.per_row == 2:
            return f"units {2 * first}-{min(2 * last + 1, units - 1)} of {units}, 2 per row"
        return f"units {first}-{last} of {units}"

    def _in_view(self, record: StepRecord, geom: Geometry) -> Text:
        """Which units (and, when the window is cut, which steps) are in view."""
        text = Text(self._rows_in_view(geom.top, geom.top + geom.rows - 1), "dim")
        if geom.cols < record.seq_length:
            text.append(f"  t {geom.left}-{geom.left + geom.cols - 1} of {record.seq_length}")
        return text
