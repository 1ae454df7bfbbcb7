"""The what-if screen (X): change the window shown and see what follows.

Three tabs over the window of the iteration shown, each from one engine job
(``WhatIfJob``, run in the engine's job thread on copies: training, the
timeline and checkpoints never change):

1. **Change** -- interventions (edit a character, replace the carried state,
   zero / clamp / flip a unit at one timestep or a span), listed and removable,
   and the original and changed runs side by side: each timestep's loss term and
   p(target), the window's Δ loss, the top next characters at the cursor before
   and after, and the difference heatmap Δh (units by time, largest change first).
2. **Units** -- the ablation scan: each unit zeroed over the window, ranked by
   the change of the window's loss or of p(target) at the cursor; and over the
   whole training text (``CorpusScanJob``, Δ bits per character, with progress,
   cancelled by escape). Enter on a unit makes it the main screen's unit.
3. **Across** -- the same window read by the parameters of another iteration:
   Δh, Δp(target) and Δ loss term per timestep, and the units that changed most.

Every change re-runs the job; key presses that arrive while it runs are
coalesced into one more run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.measure import Measurement
from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Label, OptionList, ProgressBar, Static, TabbedContent, TabPane

from ..engine import RnntuiError, StepRecord
from ..engine.control import Controller, EngineBusy, EngineLost, JobStatus
from ..engine.jobs import CorpusScan, CorpusScanJob, WhatIfJob, WhatIfResult
from ..engine.whatif import (
    CHAR_FORMS,
    ClampUnit,
    EditChar,
    FlipUnit,
    SpecError,
    WhatIfDiff,
    WhatIfError,
    ZeroHprev,
    ZeroUnit,
    char_spec,
    parse_ablate,
    parse_clamp,
    parse_edit,
    parse_flip,
)
from .dialogs import TextPrompt, int_checker, whole_number
from .drawing import fit, format_prob, window_span
from .footer import WholeKeysFooter
from .glyphs import describe, glyph
from .heatmap import cell

POLL_S = 0.1  # how often the screen asks the engine how its jobs go
EARLIER = 100  # the other iteration first offered for a diff: this many before the one shown
NARROW = 100  # below this width the side column gets narrower
COMPACT = 34  # below this height the difference heatmap gets fewer rows
LEGEND_STEPS = 11  # swatches in the Δh legend
MAX_COLUMN = " max|Δh|"  # the Δh rows' last column: each unit's largest |Δh| over the window
TARGET = Style(bold=True, underline=True)  # the target among the top characters
EDITED = Style(bold=True, reverse=True)  # an edited character of the window's text
CURSOR = Style(underline=True, bold=True)  # the cursor's timestep in the text and the Δh header
DIGITS = 3  # decimals of the per-timestep tables (the window's loss gets 4)
LOSS_W, P_W, DELTA_W = DIGITS + 3, DIGITS + 2, DIGITS + 4  # cells for 12.345, 0.123 and +12.345
STEP_COLUMNS = (("t", "t", 1), ("in", "in", 2), ("tgt", "tgt", 3), ("loss", "loss", LOSS_W),
                ("loss_new", "new", LOSS_W), ("dloss", "Δ loss", DELTA_W), ("p", "p", P_W),
                ("p_new", "new", P_W))  # (key, header, width)
ACROSS_COLUMNS = (("t", "t", 1), ("in", "in", 2), ("tgt", "tgt", 3), ("p", "p", P_W), ("p_new", "other", P_W),
                  ("dp", "Δ p", DELTA_W), ("dloss", "Δ loss", DELTA_W))
UNIT_CHANGE = Binding.Group("Unit")
CARRIED_STATE = Binding.Group("hprev")
TABS = {"change": "#steps", "units": "#window-scan", "across": "#across-steps"}  # tab -> what takes the focus
CHANGE_KEYS = ("edit", "unit_change", "zero_hprev", "hprev_from", "remove")  # actions of the Change tab
UNITS_KEYS = ("sort_scan", "corpus_scan")
ACROSS_KEYS = ("other_iteration",)


# --- numbers as shown ------------------------------------------------------------


def format_delta(x: float, digits: int = 4) -> str:
    """A change with its sign and ``digits`` decimals; exactly 0 as ``0``, and a change too small
    for the decimals in scientific notation, so that only a true zero ever reads as zero."""
    if x == 0:
        return "0"
    if abs(x) < 0.5 * 10.0**-digits:
        return f"{x:+.0e}".replace("e-0", "e-")
    return f"{x:+.{digits}f}"


def format_size(x: float, digits: int = 4) -> str:
    """A magnitude (never negative) as :func:`format_delta` writes it, without the sign."""
    return format_delta(x, digits).lstrip("+")


class Fitted:
    """A line that does not wrap while it has a choice: the first of ``variants`` (longest first, each
    a str or a Text) that fits the width it is drawn at. Only the last, when even it is too long,
    wraps, so that a message is never cut."""

    def __init__(self, *variants: str | Text) -> None:
        self.variants = variants

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        chosen = fit(options.max_width, *self.variants)
        yield Text(chosen) if isinstance(chosen, str) else chosen

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(len(self.variants[-1]), max(len(v) for v in self.variants))


# --- the interventions as the user builds them ----------------------------------------


@dataclass(frozen=True)
class HprevOf:
    """Start the window from the hidden state carried into iteration ``iteration``'s window
    (the job's ``hprev_from``: the engine replays that iteration to find it)."""

    iteration: int

    def describe(self, vocab: Sequence[str] | None = None) -> str:
        return f"hprev = hprev of iteration {self.iteration:,}"


CARRIED = (ZeroHprev, HprevOf)  # the carried-state changes: at most one is in effect


def with_change(changes: tuple, change) -> tuple:
    """``changes`` with ``change`` added: a carried state replaces the carried state, an edit
    replaces an edit of the same position, anything else is added last (unit changes apply in order)."""
    if isinstance(change, CARRIED):
        kept = tuple(c for c in changes if not isinstance(c, CARRIED))
    elif isinstance(change, EditChar):
        kept = tuple(c for c in changes if not (isinstance(c, EditChar) and c.position == change.position))
    else:
        kept = changes
    return kept + (change,)


def whatif_job(iteration: int, changes: tuple, cursor_t: int, other_iteration: int | None) -> WhatIfJob:
    """The engine job for ``changes`` on iteration ``iteration``'s window, with the ablation scan."""
    hprev_from = next((c.iteration for c in changes if isinstance(c, HprevOf)), None)
    interventions = tuple(c for c in changes if not isinstance(c, HprevOf))
    return WhatIfJob(iteration, interventions, cursor_t, scan=True, hprev_from=hprev_from,
                     other_iteration=other_iteration)


def window_text(record: StepRecord) -> np.ndarray:
    """The indices of the window's text, positions 0..T: the inputs, then the last target."""
    return np.append(record.inputs, record.targets[-1])


def text_as_run(record: StepRecord, changes: tuple) -> np.ndarray:
    """The indices of the window's text with the edits among ``changes`` applied."""
    indices = window_text(record).copy()
    for change in changes:
        if isinstance(change, EditChar):
            indices[change.position] = change.index
    return indices


def typed_char(ch: str) -> str:
    """How the edit prompt takes ``ch``: as the command line spells it, but a space as a code point,
    since the prompt trims what is typed."""
    spelled = char_spec(ch)
    return spelled if spelled.strip() == spelled else f"U+{ord(ch):04X}"


def typed_form(change: ZeroUnit | ClampUnit | FlipUnit) -> str:
    """A unit change as its prompt takes it: ``U``, ``U=VALUE``, with ``@T`` or ``@T-T2``."""
    text = f"{change.unit}={change.value:g}" if isinstance(change, ClampUnit) else f"{change.unit}"
    span = change.span
    if span is None:
        return text
    return f"{text}@{span.first}" if span.first == span.last else f"{text}@{span.first}-{span.last}"


UNIT_VERBS = {ZeroUnit: "zero", ClampUnit: "clamp", FlipUnit: "flip"}


def change_label(change, record: StepRecord, vocab: Sequence[str]) -> Fitted:
    """One line for the list of interventions, in words where they fit, shorter where they do not."""
    if isinstance(change, EditChar):
        was = vocab[window_text(record)[change.position]]
        edit = f"'{char_spec(was)}' → '{char_spec(vocab[change.index])}'"
        return Fitted(f"text {change.position}: {edit}", f"{change.position}: {edit}")
    if isinstance(change, HprevOf):
        return Fitted(change.describe(), f"hprev of iteration {change.iteration:,}", f"hprev of {change.iteration:,}")
    if type(change) in UNIT_VERBS:
        return Fitted(change.describe(vocab), f"{UNIT_VERBS[type(change)]} {typed_form(change)}")
    return Fitted(change.describe(vocab))


def in_prompt_words(err: WhatIfError, form: str, example: str) -> str:
    """Why a prompt refuses its answer, in the prompt's terms: the engine's message names the command
    line's flag, which the app does not have. ``form`` is what the prompt takes, ``example`` one answer."""
    if not isinstance(err, SpecError):
        return err.problem
    if err.malformed:
        return f"{err.quoted}: {err.reason}; type {form}, e.g. {example}"
    return f"{err.quoted}: {err.reason}"  # the reason names the value and the range to choose from


# --- the difference heatmap ---------------------------------------------------------------


class DeltaMap(Widget, can_focus=True):
    """Δh of a diff: a row per unit, the largest max |Δh| first, a column per timestep, on the
    diverging scale stretched so that its ends are ± the largest |Δh| (the legend says how much);
    without colour (NO_COLOR), as the heatmap's bar glyphs. Up/down, page up/down, home/end scroll the rows."""

    DEFAULT_CSS = """
    DeltaMap {
        border: round $primary 50%;
        border-title-color: $text;
        padding: 0 1;
    }
    DeltaMap:focus {
        border: round $accent;
    }
    """
    BINDINGS = [
        Binding("up", "scroll_rows(-1)", "Up", show=False),
        Binding("down", "scroll_rows(1)", "Down", show=False),
        Binding("pageup", "scroll_rows(-10)", "Page up", show=False),
        Binding("pagedown", "scroll_rows(10)", "Page down", show=False),
        Binding("home", "scroll_rows(-1_000_000)", "First", show=False),
        Binding("end", "scroll_rows(1_000_000)", "Last", show=False),
    ]

    diff: reactive[WhatIfDiff | None] = reactive(None)

    def __init__(self, vocab: Sequence[str], title: str, empty: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.vocab = vocab
        self.border_title = title
        self.empty = empty  # shown before there is a diff
        self.top = 0  # first unit row in view (an index into units_by_change)

    @property
    def plain(self) -> bool:
        """Draw values as bar glyphs: without colour (NO_COLOR) a colour would not tell - from +."""
        return bool(getattr(self.app, "no_color", False))

    def action_scroll_rows(self, rows: int) -> None:
        if self.diff is not None:
            self.top = max(0, min(self.top + rows, self.diff.dh.shape[1] - 1))
            self.refresh()

    def render(self) -> Text:
        diff = self.diff
        if diff is None:
            return Text(self.empty, style="dim")
        width, height = self.content_size
        T, H = diff.dh.shape
        largest = float(diff.max_abs_dh.max())
        label_w = len(str(H - 1))
        room = width - label_w - 1 - len(MAX_COLUMN) - 1  # for the cells, beside the label and the values
        cell_w = 2 if 2 * T <= room else 1
        left, stop = window_span(T, max(1, room // cell_w), diff.cursor_t)
        rows = max(1, min(H, height - 2))
        self.top = min(self.top, H - rows)
        lines = [self._header(diff, label_w, cell_w, left, stop)]
        for unit in diff.units_by_change[self.top : self.top + rows]:
            lines.append(self._row(diff, int(unit), largest, label_w, cell_w, left, stop))
        lines.append(self._legend(largest, rows, H, (left, stop), T))
        text = Text("\n").join(lines)
        text.no_wrap = True
        return text

    def _header(self, diff: WhatIfDiff, label_w: int, cell_w: int, left: int, stop: int) -> Text:
        text = Text(" " * (label_w + 1))
        for t in range(left, stop):
            style = CURSOR if t == diff.cursor_t else Style(dim=True)
            text.append(glyph(self.vocab[diff.after.inputs[t]]), style).append(" " * (cell_w - 1))
        return text.append(MAX_COLUMN, "dim")

    def _row(self, diff: WhatIfDiff, unit: int, largest: float, label_w: int, cell_w: int, left: int,
             stop: int) -> Text:
        text = Text(f"{unit:>{label_w}} ", "dim")
        for t in range(left, stop):
            text.append(*cell(diff.dh[t, unit] / largest if largest > 0 else 0.0, False, cell_w, self.plain))
        return text.append(f" {format_size(float(diff.max_abs_dh[unit]))}")

    def _legend(self, largest: float, rows: int, H: int, span: tuple[int, int], T: int) -> Text:
        if largest == 0:
            return Text("Δh is exactly 0 at every unit and timestep", "dim")
        text = Text(f"-{largest:.2g} ", "dim")
        for value in np.linspace(-1.0, 1.0, LEGEND_STEPS):
            text.append(*cell(value, False, 1, self.plain))
        where = f"units {self.top + 1}-{self.top + rows} of {H} by max|Δh|"
        if span != (0, T):
            where += f", t {span[0]}-{span[1] - 1}"
        return text.append(f" +{largest:.2g}  {where}", "dim")


# --- job bookkeeping ------------------------------------------------------------------------


class JobSlot:
    """One kind of engine job at a time: start, ask how it goes, cancel; a result or a problem."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.job_id: int | None = None
        self.status: JobStatus | None = None  # the running job's latest report
        self._dropped: set[int] = set()  # cancelled jobs whose last report is still to be taken

    @property
    def running(self) -> bool:
        return self.job_id is not None

    @property
    def waiting(self) -> bool:
        """A job runs, or a cancelled one has still to report."""
        return self.job_id is not None or bool(self._dropped)

    def start(self, job) -> None:
        """Raises RnntuiError (EngineLost among them) when the engine refuses or has gone."""
        self.job_id, self.status = self.controller.start_job(job), None

    def take(self) -> JobStatus | None:
        """The job's latest status (after a poll of the controller); a finished one ends the slot's job."""
        mirror = self.controller.mirror
        for job_id in list(self._dropped):
            dropped = mirror.take_job(job_id)
            if dropped is None or dropped.finished:
                self._dropped.discard(job_id)
        if self.job_id is None:
            return None
        status = mirror.take_job(self.job_id)
        if status is not None:
            self.status = status
            if status.finished:
                self.job_id = None
        return status

    def forget(self) -> None:
        """The engine has gone: nothing will report any more."""
        self.job_id = None
        self._dropped.clear()

    def cancel(self) -> None:
        if self.job_id is not None:
            job_id, self.job_id = self.job_id, None
            self._dropped.add(job_id)
            try:
                self.controller.cancel_job(job_id)
            except EngineLost:
                pass


def scan_progress(done: int, total: int | None) -> Fitted:
    """The progress line of the scan of the whole text: which unit of how many, and how to stop it."""
    if not total:
        return Fitted("starting · escape cancels", "starting")
    unit, units = f"{done + 1:,}", f"{total:,}"
    return Fitted(f"unit {unit} of {units} · escape cancels", f"unit {unit} of {units} · esc cancels",
                  f"{unit}/{units} · esc cancels", f"{unit}/{units}")


def problem_of(status: JobStatus, what: str) -> str | None:
    """Why a finished job gave no result, or None when it did."""
    if status.error is not None:
        return f"the {what} failed: {status.error}"
    if status.cancelled:
        return f"the {what} was cancelled"
    return None


# --- the screen -----------------------------------------------------------------------------------


class WhatIfScreen(Screen):
    """What if? on the window of ``record``'s iteration (see the module docstring)."""

    DEFAULT_CSS = """
    WhatIfScreen {
        layout: vertical;
    }
    WhatIfScreen #head {
        height: auto;
        padding: 0 1;
        background: $boost;
    }
    WhatIfScreen #head.failed {
        color: $warning;
    }
    WhatIfScreen TabbedContent {
        height: 1fr;
    }
    WhatIfScreen TabPane {
        padding: 0;
        height: 1fr;
    }
    WhatIfScreen .row {
        height: 1fr;
    }
    WhatIfScreen #side {
        width: 34;
        height: 1fr;
        padding: 0 0 0 1;
        scrollbar-size-vertical: 1;
    }
    WhatIfScreen.narrow #side {
        width: 25;
    }
    WhatIfScreen .caption {
        height: auto;
        width: 100%;
        color: $text-muted;
    }
    WhatIfScreen #across-caption {
        padding: 0 1;
    }
    WhatIfScreen #changes {
        height: auto;
        max-height: 6;
        border: none;
        padding: 0;
    }
    WhatIfScreen #summary {
        height: auto;
    }
    WhatIfScreen DataTable {
        height: 1fr;
        width: auto;
        max-width: 100%;
    }
    WhatIfScreen DeltaMap {
        height: 1fr;
    }
    WhatIfScreen.compact DeltaMap {
        height: 8;
    }
    WhatIfScreen .column {
        width: 1fr;
        height: 1fr;
        padding: 0 1;
    }
    WhatIfScreen #corpus-progress {
        height: 1;
        display: none;
    }
    WhatIfScreen.scanning #corpus-progress {
        display: block;
    }
    WhatIfScreen #corpus-progress ProgressBar {
        width: 27;
    }
    WhatIfScreen #corpus-progress Bar {
        width: 20;
    }
    WhatIfScreen.narrow #corpus-progress ProgressBar {
        width: 17;
    }
    WhatIfScreen.narrow #corpus-progress Bar {
        width: 10;
    }
    WhatIfScreen #corpus-progress Label {
        width: 1fr;
        padding-left: 1;
    }
    """
    BINDINGS = [
        Binding("escape", "leave", "Close"),
        Binding("1", "tab('change')", "Change", show=False),
        Binding("2", "tab('units')", "Units", show=False),
        Binding("3", "tab('across')", "Across", show=False),
        Binding("e", "edit", "Edit"),
        Binding("a", "unit_change('zero')", "Zero", group=UNIT_CHANGE),
        Binding("c", "unit_change('clamp')", "Clamp", group=UNIT_CHANGE),
        Binding("f", "unit_change('flip')", "Flip", group=UNIT_CHANGE),
        Binding("z", "zero_hprev", "Zeros", group=CARRIED_STATE),
        Binding("p", "hprev_from", "Of iteration", group=CARRIED_STATE),
        Binding("d,delete", "remove", "Remove"),
        Binding("s", "sort_scan", "Sort"),
        Binding("w", "corpus_scan", "Whole text"),
        Binding("i", "other_iteration", "Other iteration"),
    ]

    def __init__(self, controller: Controller, record: StepRecord, cursor_t: int, unit: int,
                 choose_unit: Callable[[int], None]) -> None:
        super().__init__()
        self.controller = controller
        self.record = record  # the window and the iteration whose parameters read it
        self.vocab = controller.corpus.vocab
        self.hidden_size = len(record.hprev)
        self.cursor_t = max(0, min(cursor_t, record.seq_length - 1))
        self.unit = max(0, min(unit, self.hidden_size - 1))
        self.choose_unit = choose_unit  # makes a unit the main screen's unit
        self.changes: tuple = ()  # the interventions, in the order they were added
        self.other_iteration: int | None = None  # the iteration whose parameters read the window too
        self.result: WhatIfResult | None = None  # the newest result shown
        self.corpus_scan: CorpusScan | None = None
        self.sort_by_p = False  # rank the window scan by Δp(target) at the cursor instead of Δ loss
        self.problem: str | None = None  # why the last what-if gave no result
        self.corpus_problem: str | None = None
        self._whatif = JobSlot(controller)
        self._corpus = JobSlot(controller)
        self._again = False  # something changed while a what-if ran: run once more when it ends

    # --- layout --------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static("", id="head")
        with TabbedContent(initial="change"):
            with TabPane("1 Change", id="change"):
                with Horizontal(classes="row"):
                    with VerticalScroll(id="side"):
                        yield Label("", id="changes-caption", classes="caption")
                        yield OptionList(id="changes", compact=True)
                        yield Static("", id="summary")
                    yield DataTable(id="steps", cursor_type="row", zebra_stripes=True)
                yield DeltaMap(self.vocab, "Δh = changed − original", "computing…", id="change-map")
            with TabPane("2 Units", id="units"):
                with Horizontal(classes="row"):
                    with Vertical(classes="column"):
                        yield Label("", id="scan-caption", classes="caption")
                        yield DataTable(id="window-scan", cursor_type="row", zebra_stripes=True)
                    with Vertical(classes="column"):
                        yield Label("", id="corpus-caption", classes="caption")
                        with Horizontal(id="corpus-progress"):
                            yield ProgressBar(show_eta=False)
                            yield Label("")
                        yield DataTable(id="corpus-scan", cursor_type="row", zebra_stripes=True)
            with TabPane("3 Across", id="across"):
                yield Label("", id="across-caption", classes="caption")
                with Horizontal(classes="row"):
                    yield DataTable(id="across-steps", cursor_type="row", zebra_stripes=True)
                    yield DataTable(id="across-units", cursor_type="row", zebra_stripes=True)
                yield DeltaMap(self.vocab, "Δh = other iteration − this one", "press i and type another iteration",
                               id="across-map")
        yield WholeKeysFooter()

    def on_mount(self) -> None:
        self._add_step_rows("#steps", STEP_COLUMNS)
        self._add_step_rows("#across-steps", ACROSS_COLUMNS)
        self.query_one("#window-scan", DataTable).add_columns("#", "unit", "Δ loss", "Δ p")
        self.query_one("#corpus-scan", DataTable).add_columns("#", "unit", "Δ bits/char")
        self.query_one("#across-units", DataTable).add_columns("unit", "max|Δh|")
        self._fit(self.size.width, self.size.height)
        self._show_changes()
        self._show_corpus_scan()
        self._show_across_caption()
        self.query_one("#steps", DataTable).focus()
        self.set_interval(POLL_S, self.poll)
        self.recompute()

    def _add_step_rows(self, selector: str, columns: tuple[tuple[str, str, int], ...]) -> None:
        """Columns, then one row per timestep (filled in by each result; the row cursor is the cursor t)."""
        table = self.query_one(selector, DataTable)
        widths = {"t": len(str(self.record.seq_length - 1))}
        for key, header, width in columns:
            table.add_column(header, width=max(widths.get(key, width), len(header)), key=key)
        for t in range(self.record.seq_length):
            table.add_row(*([str(t)] + [""] * (len(columns) - 1)), key=str(t))
        table.move_cursor(row=self.cursor_t, animate=False)

    def on_resize(self, event) -> None:
        self._fit(event.size.width, event.size.height)
        self._show_head()  # its line fits the width

    def _fit(self, width: int, height: int) -> None:
        self.set_class(width < NARROW, "narrow")
        self.set_class(height < COMPACT, "compact")

    # --- the jobs ------------------------------------------------------------------------
    @property
    def computing(self) -> bool:
        """A what-if runs or is due: ``result`` may not be of the current interventions yet."""
        return self._whatif.running or self._again

    @property
    def scanning(self) -> bool:
        """The scan of the whole text runs."""
        return self._corpus.running

    def recompute(self) -> None:
        """Run the what-if for the current interventions, cursor and other iteration (once more
        after the running one, when one runs)."""
        if self._whatif.running:
            self._again = True
            return
        self._again = False
        job = whatif_job(self.record.iteration, self.changes, self.cursor_t, self.other_iteration)
        try:
            self._whatif.start(job)
        except RnntuiError as err:
            self.problem = f"cannot run the what-if: {err.problem}"
        self._show_head()

    @property
    def settled(self) -> bool:
        """No job of this screen runs or has still to report (a cancelled one included): nothing more will come."""
        return not (self._whatif.waiting or self._corpus.waiting)

    def poll(self) -> None:
        """Ask the engine how the jobs go; show what has finished."""
        if self.settled:
            return
        try:
            self.controller.poll()
        except EngineBusy as err:  # it may answer yet: keep waiting for the jobs
            self.problem = err.problem
            self._show_head()
            return
        except EngineLost as err:
            self.problem = f"the engine has ended: {err.problem}"
            self._whatif.forget()
            self._corpus.forget()
            self._show_head()
            return
        status = self._whatif.take()
        if status is not None and status.finished:
            self._whatif_finished(status)
        status = self._corpus.take()
        if status is not None:
            self._corpus_report(status)

    def _whatif_finished(self, status: JobStatus) -> None:
        self.problem = problem_of(status, "what-if")
        if self.problem is None:
            self.show(status.result)
        if self._again:
            self.recompute()
        else:
            self._show_head()

    def _corpus_report(self, status: JobStatus) -> None:
        if status.finished:
            self.corpus_problem = problem_of(status, "scan of the whole text")
            if self.corpus_problem is None:
                self.corpus_scan = status.result
            self._show_corpus_scan()
            return
        bar = self.query_one(ProgressBar)
        bar.update(total=status.total or None, progress=status.done)
        self.query_one("#corpus-progress Label", Label).update(scan_progress(status.done, status.total))

    # --- drawing ---------------------------------------------------------------------------
    def show(self, result: WhatIfResult) -> None:
        """Draw a what-if result on every tab."""
        self.result = result
        self._show_steps("#steps", result.diff)
        self._show_summary(result)
        self.query_one("#change-map", DeltaMap).diff = result.diff
        self._show_window_scan(result)
        self._show_across(result)

    def _show_head(self) -> None:
        record, T = self.record, self.record.seq_length
        busy = " · computing…" if self._whatif.running else ""
        where = f"t={self.cursor_t} · unit {self.unit}"
        place = f"What if · iteration {record.iteration:,} · window at {record.position:,}, T={T} · {where}"
        lines = [Fitted(f"{place} · the parameters it trained with{busy}", f"{place}{busy}",
                        f"What if · iteration {record.iteration:,} · {where}{busy}"), self._text_line()]
        if self.problem:
            lines.append(Text(self.problem, "bold"))
        widget = self.query_one("#head", Static)
        widget.update(Group(*lines))
        widget.set_class(self.problem is not None, "failed")

    def _text_line(self) -> Text:
        """The window's text as it is run (edits applied and highlighted), the cursor's input underlined."""
        indices = text_as_run(self.record, self.changes)
        edited = {change.position for change in self.changes if isinstance(change, EditChar)}
        width = max(10, self.size.width - 8)
        left, stop = window_span(len(indices), width, self.cursor_t)
        text = Text("text  ", "dim")
        for position in range(left, stop):
            style = EDITED if position in edited else CURSOR if position == self.cursor_t else Style()
            text.append(glyph(self.vocab[indices[position]]), style)
        return text

    def _show_changes(self) -> None:
        listing = self.query_one("#changes", OptionList)
        highlighted = listing.highlighted
        listing.clear_options()
        listing.add_options(change_label(c, self.record, self.vocab) for c in self.changes)
        if self.changes:
            listing.highlighted = min(highlighted if highlighted is not None else 0, len(self.changes) - 1)
        listing.display = bool(self.changes)
        caption = self.query_one("#changes-caption", Label)
        caption.display = not self.changes  # the list speaks for itself
        caption.update(Fitted("no interventions yet: e edits a character, z / p the carried state; a zeros, "
                              "c clamps, f flips a unit", "no interventions yet: press e, a, c, f, z or p",
                              "none yet: press e, a c f, z or p", "none yet: e, a c f, z p"))
        self._show_head()

    def _show_steps(self, selector: str, diff: WhatIfDiff) -> None:
        """Each timestep of ``diff`` in a step table: the cells of the columns it has."""
        table = self.query_one(selector, DataTable)
        before, after = diff.before, diff.after
        for t in range(before.seq_length):
            cells = {
                "in": self._char_cell(before.inputs[t], after.inputs[t]),
                "tgt": self._char_cell(before.targets[t], after.targets[t]),
                "loss": f"{before.losses[t]:.{DIGITS}f}",
                "loss_new": f"{after.losses[t]:.{DIGITS}f}",
                "dloss": format_delta(float(diff.dlosses[t]), DIGITS),
                "p": f"{before.p_target[t]:.{DIGITS}f}",
                "p_new": f"{after.p_target[t]:.{DIGITS}f}",
                "dp": format_delta(float(diff.dp_target[t]), DIGITS),
            }
            for column in table.columns:
                if column.value in cells:
                    table.update_cell(str(t), column, cells[column.value])

    def _char_cell(self, was: int, now: int) -> Text:
        """A character of a step table: as run, highlighted when an edit changed it."""
        return Text(glyph(self.vocab[now]), EDITED if now != was else "")

    def _show_summary(self, result: WhatIfResult) -> None:
        diff, t = result.diff, result.diff.cursor_t
        before, after = result.before, result.after
        lines = [
            Fitted(f"loss {before.loss:.4f} → {after.loss:.4f}", f"loss {before.loss:.2f} → {after.loss:.2f}"),
            Text(f"Δ loss {format_delta(diff.dloss)}", "bold"),
            Text(f"top {len(diff.top_before.indices)} next at t={t} '{glyph(self.vocab[after.inputs[t]])}'"),
            Text(f"{'original':<13}changed", "dim"),
        ]
        for (i, p), (j, q) in zip(zip(*diff.top_before), zip(*diff.top_after)):
            line = Text()
            line.append(f"{glyph(self.vocab[i])} {format_prob(float(p))}", TARGET if i == before.targets[t] else "")
            line.append("    ")
            line.append(f"{glyph(self.vocab[j])} {format_prob(float(q))}", TARGET if j == after.targets[t] else "")
            lines.append(line)
        self.query_one("#summary", Static).update(Group(*lines))

    def _show_window_scan(self, result: WhatIfResult) -> None:
        scan = result.scan
        t = scan.cursor_t
        order = np.argsort(scan.dp_target, kind="stable") if self.sort_by_p else scan.ranking
        key = "Δ p" if self.sort_by_p else "Δ loss"
        by = f"{key}, largest {'drop' if self.sort_by_p else 'rise'} first"
        self.query_one("#scan-caption", Label).update(Fitted(
            f"each unit zeroed over this window: Δ window loss, Δ p(target) at t={t} · by {by} (s: the other) · "
            "enter chooses a unit",
            f"each unit zeroed over this window · Δ p at t={t} · by {by} (s: the other)",
            f"each unit zeroed over this window · Δ p at t={t} · by {key}",
            f"unit zeroed · Δ p at t={t} · by {key}",
            f"Δ p at t={t} · by {key}"))
        rows = [(str(rank + 1), str(int(unit)), format_delta(float(scan.deltas[unit])),
                 format_delta(float(scan.dp_target[unit]))) for rank, unit in enumerate(order)]
        self._refill("#window-scan", rows)

    def _show_corpus_scan(self) -> None:
        scanning = self._corpus.running
        self.set_class(scanning, "scanning")
        scan = self.corpus_scan
        if scan is None:
            variants = ["whole training text: w zeroes each unit in turn (one pass per unit)",
                        "whole training text: w zeroes each unit in turn", "whole text: w zeroes each unit"]
        else:
            after, bpc = f"after {scan.iteration:,} steps", f"{scan.baseline_bpc:.4f} bits/char"
            variants = [f"whole training text {after}: {bpc}; Δ with the unit zeroed, largest first (w reruns)",
                        f"whole training text {after}: {bpc}; Δ with the unit zeroed",
                        f"whole text {after}: {bpc} (w reruns)", f"whole text {after}: {bpc}",
                        f"whole text: {bpc}"]
        if self.corpus_problem and not scanning:  # the problem before any explanation
            variants = [f"{v} · {self.corpus_problem}" for v in variants] + [self.corpus_problem]
        self.query_one("#corpus-caption", Label).update(Fitted(*variants))
        if scan is not None:
            rows = [(str(rank + 1), str(int(unit)), format_delta(float(scan.delta_bpc[unit]), 5))
                    for rank, unit in enumerate(scan.ranking)]
            self._refill("#corpus-scan", rows)

    def _refill(self, selector: str, rows: list[tuple[str, ...]]) -> None:
        """Replace a ranked table's rows (keyed by unit), keeping the cursor on the unit it was on."""
        table = self.query_one(selector, DataTable)
        unit = self._unit_at_cursor(table)
        table.clear()
        for row in rows:
            table.add_row(*row, key=row[1])
        if unit is not None:
            table.move_cursor(row=table.get_row_index(str(unit)), animate=False)

    @staticmethod
    def _unit_at_cursor(table: DataTable) -> int | None:
        if table.row_count == 0:
            return None
        return int(table.get_row_at(table.cursor_row)[1])

    def _show_across(self, result: WhatIfResult) -> None:
        self._show_across_caption()
        across = result.across
        if across is None:
            return
        self._show_steps("#across-steps", across)
        units = self.query_one("#across-units", DataTable)
        units.clear()
        for unit in across.units_by_change:
            units.add_row(str(int(unit)), format_size(float(across.max_abs_dh[unit])), key=str(int(unit)))
        self.query_one("#across-map", DeltaMap).diff = across

    def _show_across_caption(self) -> None:
        result, other = self.result, self.other_iteration
        this = self.record.iteration
        if other is None:
            caption = Fitted(f"iteration {this:,}'s window read by another iteration's parameters: press i to "
                             "choose one", "another iteration's parameters on this window: press i",
                             "press i to choose another iteration")
        elif result is None or result.across is None or result.other_iteration != other:
            caption = Fitted(f"reading iteration {this:,}'s window with iteration {other:,}'s parameters…",
                             f"reading with iteration {other:,}'s parameters…")
        else:
            across = result.across
            read = f"iteration {this:,}'s window read by iteration {other:,}'s parameters"
            loss = f"window loss {across.before.loss:.4f} → {across.after.loss:.4f}, Δ {format_delta(across.dloss)}"
            caption = Fitted(f"{read} (i: another) · {loss} · Δ = iteration {other:,} − iteration {this:,}",
                             f"{read} (i: another) · {loss}",
                             f"read by iteration {other:,}'s parameters (i: another) · {loss}",
                             f"iteration {other:,}'s parameters · {loss}",
                             f"iteration {other:,} · {loss}")
        self.query_one("#across-caption", Label).update(caption)

    # --- the cursor and the unit -----------------------------------------------------------
    @on(DataTable.RowHighlighted, "#steps, #across-steps")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The user moved a step table's row: the cursor follows. (Moves of a table without the focus
        are the screen's own: its first row appearing, or following the other table.)"""
        t = event.cursor_row
        if t == self.cursor_t or not event.data_table.has_focus:
            return
        self.cursor_t = t
        for selector in ("#steps", "#across-steps"):
            table = self.query_one(selector, DataTable)
            if table is not event.data_table:
                table.move_cursor(row=t, animate=False)
        self.recompute()

    @on(DataTable.RowSelected, "#window-scan, #corpus-scan, #across-units")
    def _unit_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a unit: it becomes the unit of every panel (and the default of unit changes here)."""
        self.unit = int(event.row_key.value)
        self.choose_unit(self.unit)
        self.notify(f"unit {self.unit} chosen: every panel of the main screen shows it", timeout=4)
        self._show_head()

    # --- tabs and the keys each one takes -----------------------------------------------------
    def action_tab(self, tab: str) -> None:
        """1, 2, 3: show a tab."""
        self.query_one(TabbedContent).active = tab
        self.query_one(TABS[tab]).focus()  # the focus left behind would bring its own tab back

    @on(TabbedContent.TabActivated)
    def _tab_changed(self) -> None:
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Each tab's keys work (and show in the footer) on that tab only."""
        owners = {"change": CHANGE_KEYS, "units": UNITS_KEYS, "across": ACROSS_KEYS}
        tabs = self.query(TabbedContent)
        for tab, actions in owners.items():
            if action in actions:
                return bool(tabs) and tabs.first().active == tab
        return True

    # --- interventions ---------------------------------------------------------------------------
    def add(self, change) -> None:
        """Add an intervention (see :func:`with_change`) and run the what-if again."""
        self.changes = with_change(self.changes, change)
        self._show_changes()
        self.query_one("#changes", OptionList).highlighted = len(self.changes) - 1  # added last
        self.recompute()

    def _ask(self, title: str, value: str, parse: Callable[[str], object], form: str) -> None:
        """Ask for one intervention in ``form``, offering ``value``; ``parse`` reads it (WhatIfError: why not)."""

        def check(text: str) -> str | None:
            try:
                parse(text)
            except WhatIfError as err:
                return in_prompt_words(err, form, value)
            return None

        self.app.push_screen(TextPrompt(title, value, check=check), lambda text: text and self.add(parse(text)))

    def action_edit(self) -> None:
        """e: replace one character of the window's text."""
        T, t = self.record.seq_length, self.cursor_t
        was, now = (self.vocab[text[t]] for text in (window_text(self.record), text_as_run(self.record, self.changes)))
        edited = any(isinstance(change, EditChar) and change.position == t for change in self.changes)
        now_is = f"position {t} is now {describe(now)}" + (f", edited from {describe(was)}" if edited else "")
        form = "POSITION=CHAR"
        title = (f"Edit the text: {form}. Position 0..{T} is input t and target t-1 ({now_is}); "
                 f"CHAR is any character of the text or an escape ({CHAR_FORMS}; a space is U+0020)")
        self._ask(title, f"{t}={typed_char(now)}", lambda text: parse_edit(text, T, self.hidden_size, self.vocab),
                  form)

    def action_unit_change(self, kind: str) -> None:
        """a, c, f: zero, clamp or flip a unit at a timestep, a span, or over the whole window."""
        T, H, t, u = self.record.seq_length, self.hidden_size, self.cursor_t, self.unit
        what, form, parse = {
            "zero": ("Zero a unit", "U", parse_ablate),
            "clamp": ("Clamp a unit to a value", "U=VALUE", parse_clamp),
            "flip": ("Flip a unit's sign", "U", parse_flip),
        }[kind]
        title = (f"{what}: {form}@T at timestep T, {form}@T-{T - 1} from T to the end of the window, or {form} "
                 f"over the whole window (units 0..{H - 1}, timesteps 0..{T - 1})")
        value = form[1:].replace("VALUE", "1")  # a clamp's value to start from
        self._ask(title, f"{u}{value}@{t}", lambda text: parse(text, T, H, self.vocab),
                  f"{form}@T, {form}@T-T2 or {form}")

    def action_zero_hprev(self) -> None:
        """z: start the window from zeros."""
        self.add(ZeroHprev())

    def action_hprev_from(self) -> None:
        """p: start the window from the hidden state carried into another iteration's window."""
        mirror = self.controller.mirror
        first, furthest = mirror.first, mirror.furthest
        default = max(first, self.record.iteration - 1)
        title = (f"Start the window from the hprev carried into which iteration's window? "
                 f"({first:,} to {furthest:,})")
        self.app.push_screen(TextPrompt(title, str(default), check=int_checker(first, furthest)),
                             lambda answer: answer and self.add(HprevOf(whole_number(answer))))

    def action_remove(self) -> None:
        """d / delete: remove the highlighted intervention."""
        index = self.query_one("#changes", OptionList).highlighted
        if index is None or not self.changes:
            return
        self.changes = self.changes[:index] + self.changes[index + 1 :]
        self._show_changes()
        self.recompute()

    # --- the scans and the diff across iterations ---------------------------------------------------
    def action_sort_scan(self) -> None:
        """s: rank the window scan by Δ window loss, or by Δ p(target) at the cursor."""
        self.sort_by_p = not self.sort_by_p
        if self.result is not None:
            self._show_window_scan(self.result)

    def action_corpus_scan(self) -> None:
        """w: zero each unit over the whole training text (one pass per unit; escape cancels)."""
        if self._corpus.running:
            return
        try:
            self._corpus.start(CorpusScanJob(self.record.iteration))
        except RnntuiError as err:
            self.corpus_problem = f"cannot start the scan: {err.problem}"
        else:
            self.corpus_problem = None
            self.query_one(ProgressBar).update(total=None, progress=0)
            self.query_one("#corpus-progress Label", Label).update(scan_progress(0, None))
        self._show_corpus_scan()

    def action_other_iteration(self) -> None:
        """i: read this window with another iteration's parameters too."""
        mirror = self.controller.mirror
        first, furthest = mirror.first, mirror.furthest
        default = max(first, self.record.iteration - EARLIER) if self.other_iteration is None else self.other_iteration
        title = f"Read this window with the parameters of which iteration? ({first:,} to {furthest:,})"

        def chosen(answer: str | None) -> None:
            if answer:
                self.other_iteration = whole_number(answer)
                self._show_across_caption()
                self.recompute()

        self.app.push_screen(TextPrompt(title, str(default), check=int_checker(first, furthest)), chosen)

    def action_leave(self) -> None:
        """escape: cancel a running scan of the whole text, else close."""
        if self._corpus.running:
            self._corpus.cancel()
            self.corpus_problem = "the scan of the whole text was cancelled"
            self._show_corpus_scan()
            return
        self.dismiss(None)
