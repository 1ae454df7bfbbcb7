"""The neuron page (N): one unit over the whole training text.

The text is drawn with each character coloured by the unit's activation after
reading it, on the heatmap's scale. Activations are never kept for the whole
text: the visible rows (and a margin around them) are recomputed exactly from
the pass's kept states (``recompute``), so any text length scrolls at the same
cost. A cursor on a character shows h, the five likeliest next characters and
the target. Beside the text: the unit's statistics, r with every feature, a
histogram of h over the whole text, and its strongest contexts in both
directions (enter on one moves the text there). ``[`` and ``]`` go to the
previous and next unit.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ..engine.corpus import Corpus
from ..engine.corpus_pass import PassResult, Region, recompute
from ..engine.units import CONTEXT_MARKS, HIST_BINS, SATURATION, TopPosition, unit_contexts
from . import scale
from .analysis_actions import AnalysisStore, Computed
from .footer import WholeKeysFooter
from .glyphs import describe, glyph
from .heatmap import RowOrder
from .units_screen import OneLineTitle

TOP_NEXT = 5  # likeliest next characters shown at the cursor
MAX_LINES = 1_000_000  # a text with more lines is wrapped at the width only (the line index costs 16 bytes a line)
SCAN = 1 << 24  # characters searched for newlines at a time
MIN_MARGIN = 1024  # characters recomputed beyond the visible text on each side, at least
HIST_ROWS = 4  # text rows of the histogram's bars
BARS = " ▁▂▃▄▅▆▇█"  # eighths of a row
FEATURE_WIDTH = 12  # characters of a feature's name in the facts (a long regex is cut)
CURSOR_STYLE = Style(bold=True, underline=True)


# --- laying the text out -----------------------------------------------------------
def line_starts(data: np.ndarray, newline: int | None) -> np.ndarray:
    """(L,) the first position of every line (0, then each position after a newline, before the end).

    A text of more than MAX_LINES lines counts as one line (it is then wrapped at the width only).
    """
    found = [np.zeros(1, dtype=np.int64)]
    count = 0
    if newline is not None:
        for a in range(0, len(data), SCAN):
            after = np.flatnonzero(data[a : a + SCAN] == newline) + (a + 1)
            count += len(after)
            if count > MAX_LINES:
                return found[0]
            found.append(after)
    starts = np.concatenate(found)
    return starts[starts < len(data)]


class TextLayout:
    """The text's rows on screen: a new row at each line's start and every ``width`` characters of a line."""

    def __init__(self, chars: int, starts: np.ndarray, width: int) -> None:
        self.chars, self.width = chars, width
        self.starts = starts  # (L,)
        lengths = np.diff(np.append(starts, chars))  # (L,) a line's characters, its newline included
        rows = np.maximum(1, -(-lengths // width))  # (L,)
        self.first_row = np.concatenate(([0], np.cumsum(rows)))  # (L + 1,) the first row of each line

    @property
    def rows(self) -> int:
        return int(self.first_row[-1])

    def span(self, row: int) -> tuple[int, int]:
        """Positions start..stop-1 drawn in ``row``."""
        line = int(np.searchsorted(self.first_row, row, side="right")) - 1
        start = int(self.starts[line]) + (row - int(self.first_row[line])) * self.width
        end = int(self.starts[line + 1]) if line + 1 < len(self.starts) else self.chars
        return start, min(start + self.width, end)

    def row_of(self, position: int) -> int:
        """The row that draws ``position``."""
        line = int(np.searchsorted(self.starts, position, side="right")) - 1
        return int(self.first_row[line]) + (position - int(self.starts[line])) // self.width


def newline_index(text: Corpus) -> int | None:
    """The vocabulary index of the newline, or None."""
    return text.vocab.index("\n") if "\n" in text.vocab else None


# --- the text view --------------------------------------------------------------------
class NeuronText(ScrollView, can_focus=True):
    """The training text coloured by one unit, with a character cursor; draws only the visible rows."""

    DEFAULT_CSS = """
    NeuronText {
        overflow-y: scroll;
        overflow-x: hidden;
    }
    """
    BINDINGS = [
        Binding("left", "move(-1)", "Back", show=False),
        Binding("right", "move(1)", "On", show=False),
        Binding("up", "move_rows(-1)", "Row up", show=False),
        Binding("down", "move_rows(1)", "Row down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump_end(0)", "Text start", show=False),
        Binding("end", "jump_end(1)", "Text end", show=False),
    ]

    class Moved(Message):
        """The cursor, the visible text or the unit changed."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.cursor = 0  # the position under the cursor
        self.unit = 0
        self.result: PassResult | None = None
        self.text: Corpus | None = None
        self.exact: Region | None = None  # exact h and predictions of the visible rows and a margin
        self.wrap: TextLayout | None = None  # the rows for the current width
        self._starts: np.ndarray | None = None  # line starts of ``text``

    # --- what is shown ---------------------------------------------------------
    def show(self, computed: Computed, unit: int) -> None:
        """Draw ``computed``'s text coloured by ``unit`` (the cursor stays where it was)."""
        if computed.text is not self.text:
            self._starts = line_starts(computed.text.data, newline_index(computed.text))
            self.wrap = None
        self.result, self.text = computed.analysis.pass_result, computed.text
        self.exact = None
        self.cursor = min(self.cursor, len(computed.text) - 1)
        self._relayout()
        self.set_unit(unit)

    def set_unit(self, unit: int) -> None:
        self.unit = unit
        self.refresh()
        self.post_message(self.Moved())

    def _relayout(self) -> None:
        """Rows for the current width (the view keeps the cursor's row in sight)."""
        if self.text is None:
            return
        width = max(1, self.scrollable_content_region.width)
        if self.wrap is None or self.wrap.width != width:
            self.wrap = TextLayout(len(self.text), self._starts, width)
            self.virtual_size = Size(width, self.wrap.rows)
            self.call_after_refresh(self._follow)
        self.refresh()

    def on_resize(self) -> None:
        self._relayout()

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if round(old) != round(new):
            self.post_message(self.Moved())

    # --- exact values of the visible text -------------------------------------------
    def visible_span(self) -> tuple[int, int]:
        """Positions start..stop-1 of the rows in view."""
        layout = self.wrap
        if layout is None or layout.rows == 0:
            return 0, 0
        top = min(int(self.scroll_offset.y), layout.rows - 1)
        bottom = min(top + max(self.scrollable_content_region.height, 1), layout.rows) - 1
        return layout.span(top)[0], layout.span(bottom)[1]

    def ensure_region(self) -> Region | None:
        """The region, recomputed when it does not cover the visible text (with a margin each side)."""
        if self.result is None or self.wrap is None:
            return None
        start, stop = self.visible_span()
        start, stop = min(start, self.cursor), max(stop, self.cursor + 1)
        region = self.exact
        if region is None or start < region.start or stop > region.stop:
            margin = max(MIN_MARGIN, 2 * (stop - start))
            self.exact = recompute(self.result, max(0, start - margin), min(len(self.text), stop + margin),
                                    top_k=TOP_NEXT)
        return self.exact

    def values(self, start: int, stop: int) -> np.ndarray:
        """(stop - start,) h of the unit at positions start..stop-1 (inside the region)."""
        region = self.ensure_region()
        if region is None:
            return np.zeros(0)
        return region.hs[start - region.start : stop - region.start, self.unit]

    # --- drawing ------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        layout = self.wrap
        row = int(self.scroll_offset.y) + y
        if layout is None or row >= layout.rows:
            return Strip.blank(width)
        start, stop = layout.span(row)
        values = self.values(start, stop).tolist()
        vocab, data = self.text.vocab, self.text.data
        segments = []
        for offset, (index, value) in enumerate(zip(data[start:stop].tolist(), values)):
            style = scale.cell_style(value, bold=start + offset == self.cursor)
            if start + offset == self.cursor:
                style += CURSOR_STYLE
            segments.append(Segment(glyph(vocab[index]), style))
        return Strip(segments, stop - start).extend_cell_length(width)

    # --- the cursor -------------------------------------------------------------------
    def jump(self, position: int, centre: bool = True) -> None:
        """Put the cursor on ``position`` and bring it into view (a third of the way down when ``centre``)."""
        if self.text is None:
            return
        self.cursor = max(0, min(position, len(self.text) - 1))
        if centre and self.wrap is not None:
            row = self.wrap.row_of(self.cursor)
            self.scroll_to(y=max(0, row - self.scrollable_content_region.height // 3), animate=False)
        self._follow()

    def _follow(self) -> None:
        """Scroll just enough to show the cursor's row; redraw; tell the screen."""
        if self.wrap is not None:
            row, height = self.wrap.row_of(self.cursor), max(1, self.scrollable_content_region.height)
            top = int(self.scroll_offset.y)
            if row < top:
                self.scroll_to(y=row, animate=False, immediate=True)
            elif row >= top + height:
                self.scroll_to(y=row - height + 1, animate=False, immediate=True)
        self.refresh()
        self.post_message(self.Moved())

    def action_move(self, delta: int) -> None:
        self.jump(self.cursor + delta, centre=False)

    def action_move_rows(self, rows: int) -> None:
        """Up or down ``rows`` rows, keeping the column where the row is long enough."""
        if self.wrap is None:
            return
        layout = self.wrap
        row = layout.row_of(self.cursor)
        column = self.cursor - layout.span(row)[0]
        target = max(0, min(row + rows, layout.rows - 1))
        start, stop = layout.span(target)
        self.jump(min(start + column, stop - 1), centre=False)

    def action_page(self, direction: int) -> None:
        self.action_move_rows(direction * max(1, self.scrollable_content_region.height - 1))

    def action_jump_end(self, end: int) -> None:
        self.jump(len(self.text) - 1 if end and self.text is not None else 0, centre=False)

    def on_click(self, event: events.Click) -> None:
        """A click puts the cursor on the character under it."""
        offset = event.get_content_offset(self)
        if offset is None or self.wrap is None:
            return
        row = int(self.scroll_offset.y) + offset.y
        if row < self.wrap.rows:
            start, stop = self.wrap.span(row)
            self.jump(min(start + offset.x, stop - 1), centre=False)


# --- the side panel ---------------------------------------------------------------------
def histogram_lines(counts: np.ndarray, rows: int = HIST_ROWS) -> list[Text]:
    """Bars of ``counts`` in HIST_BINS bins over [-1, 1], each bin two columns in its colour, then the axis."""
    edges = np.linspace(-1.0, 1.0, HIST_BINS + 1)
    eighths = np.zeros(HIST_BINS, dtype=int) if not counts.max(initial=0) else np.round(counts / counts.max() * rows * 8)
    centres = (edges[:-1] + edges[1:]) / 2
    lines = []
    for level in range(rows - 1, -1, -1):  # top row first
        line = Text()
        for filled, centre in zip(eighths.astype(int).tolist(), centres.tolist()):
            part = min(max(filled - 8 * level, 0), 8)
            line.append(BARS[part] * 2, Style(color=scale.color(centre)))
        lines.append(line)
    width = 2 * HIST_BINS
    axis = "-1".ljust(width // 2 - 1) + "0" + "+1".rjust(width - width // 2)
    lines.append(Text(axis, style="dim"))
    return lines


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 21st ..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def facts_text(computed: Computed, unit: int, per_line: int = 2) -> Text:
    """The unit's statistics over the whole text and its r with every feature (with its rank by |r|),
    ``per_line`` features to a line."""
    analysis = computed.analysis
    stats = analysis.units
    text = Text()
    text.append(f"unit {unit}", "bold")
    text.append(f"  mean {stats.mean[unit]:+.3f}  std {stats.std[unit]:.3f}"
                f"  range {stats.minimum[unit]:+.3f}..{stats.maximum[unit]:+.3f}\n")
    text.append(f"saturated (|h| > {SATURATION:g}): low {stats.sat_low[unit]:.1%}  high {stats.sat_high[unit]:.1%}")
    if stats.dead[unit]:
        text.append("  dead", "bold yellow")
    elif stats.always_saturated[unit]:
        text.append("  always saturated", "bold yellow")
    text.append(f"\nr with each feature, and the unit's rank of {stats.hidden_size} by |r|:")
    width = min(FEATURE_WIDTH, max(len(name) for name in analysis.features))
    for i, (name, result) in enumerate(analysis.features.items()):
        ranked = result.ranked.tolist()
        rank = ordinal(ranked.index(unit) + 1) if unit in ranked else "—"
        shown = name if len(name) <= width else name[: width - 1] + "…"
        text.append("\n  " if i % per_line == 0 else "   ")
        text.append(f"{shown:<{width}} {result.r[unit]:+.3f} {rank:>5}")
    return text


def context_prompt(top: TopPosition) -> Text:
    """A context line: the activation, then the text around the position with its character marked."""
    opening, closing = CONTEXT_MARKS
    before, rest = top.context.split(opening, 1)
    at, after = rest.split(closing, 1)
    text = Text(f"{top.activation:+.3f} ", style=scale.cell_style(top.activation), no_wrap=True, overflow="ellipsis")
    text.append(" " + before, "dim")
    text.append(at, "bold reverse")
    text.append(after, "dim")
    return text


class NeuronScreen(OneLineTitle):
    """One unit over the whole training text: the coloured text, its statistics and its contexts."""

    DEFAULT_CSS = """
    NeuronScreen #neuron-body {
        height: 1fr;
    }
    NeuronScreen NeuronText {
        width: 1fr;
        height: 1fr;
        border: round $primary 50%;
    }
    NeuronScreen NeuronText:focus {
        border: round $accent;
    }
    NeuronScreen #cursor {
        height: 2;
        padding: 0 1;
    }
    NeuronScreen #side {
        width: 60;
    }
    NeuronScreen #about {
        height: auto;
        max-height: 60%;
    }
    NeuronScreen #facts, NeuronScreen #histogram {
        height: auto;
        padding: 0 1;
    }
    NeuronScreen #contexts {
        height: 1fr;
        border: round $primary 50%;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    NeuronScreen #contexts:focus {
        border: round $accent;
    }
    NeuronScreen.narrow #neuron-body {
        layout: vertical;
    }
    NeuronScreen.narrow #side {
        width: 100%;
        height: 10;
        layout: horizontal;
    }
    NeuronScreen.narrow #about {
        width: 40;
        height: 100%;
        max-height: 100%;
    }
    NeuronScreen.narrow #contexts {
        width: 1fr;
        height: 100%;
    }
    """
    BINDINGS = [
        Binding("left_square_bracket", "other_unit(-1)", "Prev unit"),
        Binding("right_square_bracket", "other_unit(1)", "Next unit"),
    ]

    def __init__(self, store: AnalysisStore, choose_unit: Callable[[int], None], unit: int,
                 order: RowOrder | None = None) -> None:
        super().__init__(store, choose_unit)
        self.unit = unit
        self.order = order  # the order [ and ] follow (None: by unit number)

    def heading(self) -> str:
        return f"Neuron page · unit {self.unit}{self._rank()}"

    def short_heading(self) -> str:
        return f"Unit {self.unit}{self._rank()}"

    def _rank(self) -> str:
        """Where the unit stands in the order [ and ] follow, e.g. `` (3rd by |r| depth ↓)``, or nothing."""
        if self.order is None:
            return ""
        return f" ({ordinal(self.order.units.index(self.unit) + 1)} by {self.order.by})"

    def compose(self) -> ComposeResult:
        yield from self.compose_status()
        with Horizontal(id="neuron-body"):
            yield NeuronText(id="text")
            with Vertical(id="side"):
                with VerticalScroll(id="about"):
                    yield Static("", id="facts")
                    yield Static("", id="histogram")
                yield OptionList(id="contexts")
        yield Static("", id="cursor")
        yield WholeKeysFooter()

    def on_mount(self) -> None:
        self.query_one("#about").can_focus = False  # tab goes from the text straight to the contexts
        self.query_one(NeuronText).focus()  # (AnalysisScreen.on_mount runs next and shows the analysis)

    def narrowed(self) -> None:
        """The facts go to one feature a line (or back to two)."""
        if self.computed is not None:
            self.show(self.computed)

    # --- drawing --------------------------------------------------------------------
    def show(self, computed: Computed) -> None:
        """A new analysis (or unit): the text, the facts and the contexts."""
        self.unit = min(self.unit, computed.analysis.hidden_size - 1)
        text = self.query_one(NeuronText)
        text.border_title = f"{computed.text.name} · unit {self.unit} (h after each character)"
        text.show(computed, self.unit)
        self.query_one("#facts", Static).update(facts_text(computed, self.unit, 1 if self.has_class("narrow") else 2))
        analysis = computed.analysis
        lines = [Text(f"histogram of h over the text ({analysis.chars:,} characters)", style="dim"),
                 *histogram_lines(analysis.units.histogram[self.unit])]
        self.query_one("#histogram", Static).update(Text("\n").join(lines))
        self._fill_contexts(computed)
        self._update_title()

    def _fill_contexts(self, computed: Computed) -> None:
        contexts = unit_contexts(computed.analysis.units, computed.text, self.unit)
        listing = self.query_one(OptionList)
        listing.border_title = f"strongest contexts of unit {self.unit} (enter: go there)"
        options: list[Option] = []
        for name, tops in (("most positive", contexts.positive), ("most negative", contexts.negative)):
            options.append(Option(Text(name, style="bold"), disabled=True))
            # a short text can list one position in both: the ids differ by list
            options.extend(Option(context_prompt(top), id=f"{name.split()[1]}-at-{top.position}") for top in tops)
        listing.set_options(options)

    @on(NeuronText.Moved)
    def _moved(self) -> None:
        """The cursor line follows the text view."""
        text = self.query_one(NeuronText)
        if text.wrap is None:
            return
        self.query_one("#cursor", Static).update(self.cursor_text(text))

    def cursor_text(self, view: NeuronText) -> Text:
        """The cursor's character, h, the likeliest next characters and the target."""
        region, p, vocab = view.ensure_region(), view.cursor, view.text.vocab
        i = p - region.start
        ch = vocab[int(view.text.data[p])]
        line = Text(f"position {p:,} of {len(view.text):,}  {describe(ch)}  ")
        line.append(f"h={region.hs[i, self.unit]:+.4f}", scale.cell_style(region.hs[i, self.unit]))
        line.append("\nnext: ")
        for index, prob in zip(region.top_indices[i].tolist(), region.top_probs[i].tolist()):
            line.append(f"{glyph(vocab[index])} {prob:.3f}  ")
        if p + 1 < len(view.text):
            target = vocab[int(view.text.data[p + 1])]
            line.append(f"target {glyph(target)} p={np.exp(region.target_log_probs[i]):.3f}", "bold")
        else:
            line.append("(the last character predicts nothing)", "dim")
        return line

    # --- moving --------------------------------------------------------------------------
    @on(OptionList.OptionSelected, "#contexts")
    def _context_chosen(self, event: OptionList.OptionSelected) -> None:
        """Enter on a context: the text view goes there."""
        position = int(event.option.id.rpartition("-at-")[2])
        text = self.query_one(NeuronText)
        text.jump(position)
        text.focus()

    def action_other_unit(self, direction: int) -> None:
        """[ and ]: the previous or next unit (in the table's order when opened from it)."""
        if self.computed is None:
            return
        units = self.order.units if self.order is not None else range(self.computed.analysis.hidden_size)
        index = units.index(self.unit) + direction
        if 0 <= index < len(units):
            self.unit = units[index]
            self.choose_unit(self.unit)
            self.show(self.computed)
