"""The evaluation screen (E): how good the model is, against what, and where it goes wrong.

It runs an ``EvaluationReportJob`` in the engine's job thread (a copy of the
current parameters, beside training) with a progress bar, and shows:

* the figures: bits per character on the training and held-out parts, the gap;
* the baselines: each k-gram model's bits per character beside the RNN's, on
  the same text (the held-out part, or in sample on the training text without one);
* the error breakdown (see rnntui.engine.breakdown): the count and share of each
  category, and its examples one at a time: the context, the target, the RNN's
  most likely next characters and the best k-gram's probability of the target.

:class:`JobWatch` (start an engine job and poll it until it ends) serves the
main screen's evaluation actions as well.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message_pump import MessagePump
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Label, ProgressBar, Static

from ..engine import RnntuiError
from ..engine.breakdown import CATEGORIES, ERROR_P, ErrorExample
from ..engine.control import Controller
from ..engine.evaluation import EvaluationReport
from ..engine.jobs import EvaluationReportJob
from .glyphs import glyph, glyphs

POLL_S = 0.1  # how often a running job is asked how it goes
PAGE = 10  # examples skipped by page up / page down
BASELINE_COLUMNS = ("model", "k-gram bpc", "RNN bpc", "RNN − k-gram")
BREAKDOWN_COLUMNS = ("error category", "errors", "share")
BETTER, WORSE = "green", "red"  # the RNN beats the baseline, or not


class JobWatch:
    """One engine job, started and then asked every POLL_S how it goes until it ends.

    ``on_done(result)`` gets the result, ``on_failure(problem)`` the job's error or
    the engine's end, ``on_progress(done, total)`` how far it got; a cancelled
    job calls none of them.
    """

    def __init__(
        self,
        controller: Controller,
        job: Any,
        on_done: Callable[[Any], None],
        on_failure: Callable[[str], None],
        on_progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.controller = controller
        self.job = job
        self.on_done, self.on_failure, self.on_progress = on_done, on_failure, on_progress
        self.job_id: int | None = None
        self.ended = False
        self._timer: Timer | None = None

    @property
    def running(self) -> bool:
        return self.job_id is not None and not self.ended

    def start(self, owner: MessagePump) -> bool:
        """Start the job, polled by a timer of ``owner``; False (after ``on_failure``) when refused."""
        try:
            self.job_id = self.controller.start_job(self.job)
        except RnntuiError as err:  # the engine has gone, or refused the job
            self._end()
            self.on_failure(err.problem)
            return False
        self._timer = owner.set_interval(POLL_S, self.check)
        return True

    def check(self) -> None:
        """Ask the engine; report progress, or the end."""
        if self.ended:
            return
        try:
            self.controller.poll()
        except RnntuiError as err:
            self._end()
            self.on_failure(err.problem)
            return
        status = self.controller.mirror.take_job(self.job_id)
        if status is None:
            return
        if not status.finished:
            if self.on_progress is not None:
                self.on_progress(status.done, status.total)
            return
        self._end()
        if status.error is not None:
            self.on_failure(status.error)
        elif not status.cancelled:
            self.on_done(status.result)

    def cancel(self) -> None:
        """Stop polling and ask the engine to stop the job (its result, if any, is dropped)."""
        if not self.running:
            return
        self._end()
        try:
            self.controller.cancel_job(self.job_id)
        except RnntuiError:
            pass

    def _end(self) -> None:
        self.ended = True
        if self._timer is not None:
            self._timer.stop()


# --- what the screen shows, as text ----------------------------------------------


def rnn_bpc(report: EvaluationReport) -> float:
    """The RNN's bits per character on the text the baselines score (held-out, or training in sample)."""
    e = report.evaluation
    return e.train_bpc if report.in_sample else e.val_bpc


def figures_text(report: EvaluationReport) -> Text:
    """The evaluation's figures and what the baselines and the breakdown score."""
    e, breakdown = report.evaluation, report.breakdown
    text = Text.assemble(("after ", "dim"), (f"{e.iteration:,}", "bold"), (" updates: ", "dim"),
                         "train ", (f"{e.train_bpc:.3f}", "bold"), " bpc")
    if e.val_bpc is not None:
        text.append_text(Text.assemble(" · held-out ", (f"{e.val_bpc:.3f}", "bold"), " bpc",
                                       " · gap ", (f"{e.gap:+.3f}", "bold"), " bpc"))
        scored = f"on the held-out text ({report.scored_chars:,} characters); k-gram models fitted on the training part"
    else:
        scored = (f"in sample on the training text ({report.scored_chars:,} characters), which the k-gram models "
                  "were fitted on (no held-out text: see --val-frac)")
    text.append(f"\nbaselines and errors scored {scored}\n", style="dim")
    text.append(f"errors (the RNN gives the next character p < {ERROR_P:g}): ")
    text.append(f"{breakdown.errors:,}", style="bold")
    text.append(f" of {breakdown.positions:,} positions ({breakdown.error_rate:.1%})")
    return text


def baseline_rows(report: EvaluationReport) -> list[tuple[str | Text, ...]]:
    """One row per k-gram model: its bpc, the RNN's on the same text, and the difference."""
    rnn = rnn_bpc(report)
    rows = []
    for k, value in sorted(report.baselines.items()):
        difference = rnn - value
        rows.append((f"{k}-gram", f"{value:.3f}", f"{rnn:.3f}",
                     Text(f"{difference:+.3f}", style=BETTER if difference < 0 else WORSE)))
    return rows


def breakdown_rows(report: EvaluationReport) -> list[tuple[str, ...]]:
    """One row per error category: how many errors, and their share of all errors."""
    breakdown = report.breakdown
    return [(category, f"{breakdown.counts[category]:,}", f"{breakdown.shares[category]:.1%}")
            for category in CATEGORIES]


def quoted(ch: str) -> str:
    """A character as shown in an example: its one-cell glyph in quotes (double quotes for a quote)."""
    return f'"{ch}"' if ch == "'" else f"'{glyph(ch)}'"


def example_text(report: EvaluationReport, category: str, index: int) -> Text:
    """Example ``index`` of ``category``: where, the context and target, the RNN's top guesses, the best k-gram."""
    breakdown = report.breakdown
    examples = breakdown.examples[category]
    count = breakdown.counts[category]
    heading = Text(category, style="bold")
    if category == "rare":
        heading.append(f" (rare characters: {' '.join(quoted(ch) for ch in breakdown.rare_chars)})", style="dim")
    if not examples:
        heading.append(" · no errors in this category", style="dim")
        return heading
    heading.append(f" · example {index + 1} of {len(examples):,}", style="bold")
    kept = "" if len(examples) == count else f" (the first {len(examples):,} kept of {count:,})"
    heading.append(kept + "  ·  left/right: previous, next", style="dim")
    return Text("\n").join([heading, *example_lines(examples[index])])


def example_lines(example: ErrorExample) -> list[Text]:
    """The lines of one example."""
    context = Text.assemble((f"t = {example.t:,}:  ", "dim"), ("…" if example.t + 1 > len(example.context) else ""),
                            glyphs(example.context), (glyph(example.target), "bold reverse"))
    target = Text.assemble("target ", (quoted(example.target), "bold"), "  RNN p ", (f"{example.p:.4f}", "bold red"),
                           "  ·  best k-gram (k = ", str(example.ngram_order), ") p ", (f"{example.ngram_p:.4f}", "bold"))
    top = Text("RNN's top guesses: ")
    for ch, p in example.top:
        top.append_text(Text.assemble((quoted(ch), "bold"), f" {p:.4f}   "))
    return [context, target, top]


class EvaluationScreen(Screen[EvaluationReport | None]):
    """Runs (or shows) an evaluation report; dismisses with the report, or None when there is none."""

    DEFAULT_CSS = """
    EvaluationScreen {
        layout: vertical;
        padding: 0 1;
    }
    EvaluationScreen #title {
        text-style: bold;
        width: 100%;
    }
    EvaluationScreen #status {
        color: $text-muted;
    }
    EvaluationScreen #tables {
        height: auto;
        margin: 1 0 0 0;
    }
    EvaluationScreen DataTable {
        height: auto;
        width: auto;
        margin-right: 2;
    }
    EvaluationScreen #example {
        margin-top: 1;
        height: auto;
    }
    EvaluationScreen #hint {
        dock: bottom;
        color: $text-muted;
    }
    """
    BINDINGS = [
        Binding("escape", "close", "Close / cancel"),
        Binding("r", "recompute", "Run again"),
        Binding("right,n", "example(1)", "Next example", priority=True),
        Binding("left,p", "example(-1)", "Previous example", priority=True),
        Binding("pagedown", f"example({PAGE})", "+10 examples", priority=True),
        Binding("pageup", f"example(-{PAGE})", "-10 examples", priority=True),
    ]

    def __init__(self, controller: Controller, report: EvaluationReport | None = None) -> None:
        super().__init__()
        self.controller = controller
        self.report: EvaluationReport | None = report
        self.category = CATEGORIES[0]
        self.example_index = 0
        self._watch: JobWatch | None = None

    def compose(self) -> ComposeResult:
        yield Label("Evaluation: bits per character, k-gram baselines, error breakdown", id="title")
        yield Label("", id="status")
        yield ProgressBar(show_eta=False, id="progress")
        with Vertical(id="report"):
            yield Static("", id="figures")
            with Horizontal(id="tables"):
                yield DataTable(cursor_type="none", zebra_stripes=True, id="baselines")
                yield DataTable(cursor_type="row", id="breakdown")
            yield Static("", id="example")
        yield Label("↑↓ category · ←→ (n p) page up/down: examples · r: run again · escape: close", id="hint")

    def on_mount(self) -> None:
        baselines = self.query_one("#baselines", DataTable)
        baselines.add_columns(*BASELINE_COLUMNS)
        baselines.can_focus = False
        self.query_one("#breakdown", DataTable).add_columns(*BREAKDOWN_COLUMNS)
        self.query_one("#report").display = False
        if self.report is not None:
            self.show_report(self.report)
        else:
            self.action_recompute()

    # --- the job -------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._watch is not None and self._watch.running

    def action_recompute(self) -> None:
        """r: run the report (again) on the model as it is now."""
        if self.running:
            return
        self._say("running the report on the current model… (escape cancels)")
        self.query_one("#progress", ProgressBar).update(total=None, progress=0)
        self.query_one("#progress").display = True
        self._watch = JobWatch(self.controller, EvaluationReportJob(), self.show_report, self._failed, self._progress)
        self._watch.start(self)

    def _progress(self, done: int, total: int) -> None:
        self.query_one("#progress", ProgressBar).update(total=total or None, progress=done)

    def _failed(self, problem: str) -> None:
        self.query_one("#progress").display = False
        self._say(f"the report failed: {problem}")

    def _say(self, line: str) -> None:
        self.query_one("#status", Label).update(line)

    # --- showing the report ----------------------------------------------------
    def show_report(self, report: EvaluationReport) -> None:
        """Fill the figures, both tables and the first example of the highlighted category."""
        self.report = report
        self.query_one("#progress").display = False
        self.query_one("#report").display = True
        now = self.controller.mirror.iteration
        self._say("" if now == report.evaluation.iteration else f"the model now has {now:,} updates: r runs it again")
        self.query_one("#figures", Static).update(figures_text(report))
        baselines = self.query_one("#baselines", DataTable)
        baselines.clear()
        baselines.add_rows(baseline_rows(report))
        table = self.query_one("#breakdown", DataTable)
        table.clear()
        table.add_rows(breakdown_rows(report))
        table.move_cursor(row=CATEGORIES.index(self.category))
        table.focus()
        self._show_example()

    @on(DataTable.RowHighlighted, "#breakdown")
    def _category_chosen(self, event: DataTable.RowHighlighted) -> None:
        category = CATEGORIES[event.cursor_row]
        if category != self.category:
            self.category, self.example_index = category, 0
        self._show_example()

    def action_example(self, delta: int) -> None:
        """Page through the highlighted category's examples (stopping at either end)."""
        if self.report is None:
            return
        kept = len(self.report.breakdown.examples[self.category])
        self.example_index = max(0, min(self.example_index + delta, kept - 1))
        self._show_example()

    def _show_example(self) -> None:
        if self.report is not None:
            self.query_one("#example", Static).update(example_text(self.report, self.category, self.example_index))

    def action_close(self) -> None:
        """escape: cancel a report still running and close."""
        if self._watch is not None:
            self._watch.cancel()
        self.dismiss(self.report)
