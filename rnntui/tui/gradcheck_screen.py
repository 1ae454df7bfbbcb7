"""The gradient check dialog: backprop against central differences on the next window."""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

from ..engine.control import Controller, EngineBusy, EngineLost
from ..engine.gradcheck import SAMPLES, SEED, STEP, TOLERANCE, WindowCheck
from ..engine.jobs import GradCheckJob
from ..engine.model import PARAM_NAMES
from .dialogs import modal_box_css

POLL_S = 0.1  # how often the dialog asks whether the check has finished
COLUMNS = ("parameter", "shape", "max error", "median error", "result", "|g| > clip")


def format_error(error: float) -> str:
    """A relative error as shown in the table."""
    return f"{error:.2e}"


def table_row(check: WindowCheck, name: str) -> tuple[str | Text, ...]:
    """The table's cells for parameter ``name``."""
    result = check.results[name]
    shape = " x ".join(str(n) for n in check.shapes[name])
    size = int(np.prod(check.shapes[name]))
    clipped = f"{check.clipped[name]:,} of {size:,}"
    return (name, shape, format_error(result.max_error), format_error(result.median_error), verdict(check, name), clipped)


def verdict(check: WindowCheck, name: str) -> Text:
    """pass / FAIL; a pass whose largest relative error is above the tolerance says why it still passes."""
    result = check.results[name]
    if not result.passed(TOLERANCE):
        return Text("FAIL", style="bold red")
    if result.max_error < TOLERANCE:
        return Text("pass", style="green")
    worst = float(np.abs(result.analytic - result.numeric)[result.errors >= TOLERANCE].max())
    return Text(f"pass: |a-n| {worst:.0e} <= noise", style="green")


def clipping_note(check: WindowCheck) -> str | None:
    """What clipping will do to this window's gradients, or None when it changes nothing."""
    engaged = [(name, n) for name, n in check.clipped.items() if n]
    if not engaged:
        return None
    parts = [f"{n:,} {'element' if n == 1 else 'elements'} of {name}" if i == 0 else f"{n:,} of {name}"
             for i, (name, n) in enumerate(engaged)]
    return (f"clipping (clip {check.clip:g}) will change {', '.join(parts)}: "
            "the applied gradient differs from these raw gradients by design")


class GradcheckScreen(ModalScreen[None]):
    """Runs a gradient check in a thread and shows one row per parameter; dismisses with None."""

    DEFAULT_CSS = modal_box_css("GradcheckScreen", width=78, padding="0 1", max_width="100%") + """
    GradcheckScreen Label {
        width: 100%;
    }
    GradcheckScreen #title {
        text-style: bold;
    }
    GradcheckScreen DataTable {
        height: auto;
        margin: 1 0;
    }
    GradcheckScreen #note {
        color: $warning;
    }
    GradcheckScreen #hint {
        margin-top: 1;
        color: $text-muted;
    }
    """
    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, controller: Controller, samples: int = SAMPLES, step: float = STEP, seed: int = SEED) -> None:
        super().__init__()
        self.controller = controller
        self.samples = samples
        self.step = step
        self.seed = seed
        self.report: WindowCheck | None = None
        self.job_id: int | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Gradient check", id="title")
            yield Label("checking…", id="status")
            yield DataTable(cursor_type="none", zebra_stripes=True)
            yield Label("", id="note")
            yield Label("escape: close", id="hint")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        table.display = False
        self.query_one("#note", Label).display = False
        try:
            self.job_id = self.controller.start_job(GradCheckJob(self.samples, self.step, self.seed))
        except EngineLost as err:
            self.show_failure(err.problem)
            return
        self._watch = self.set_interval(POLL_S, self.check_job)

    def check_job(self) -> None:
        """Ask the engine how the check goes; show the report once it has finished."""
        try:
            self.controller.poll()
        except EngineBusy:
            return  # it may answer yet: the check goes on being watched
        except EngineLost as err:
            self._watch.stop()
            self.show_failure(err.problem)
            return
        status = self.controller.mirror.take_job(self.job_id)
        if status is None or not status.finished:
            return
        self._watch.stop()
        if status.error is not None:
            self.show_failure(status.error)
        else:
            self.show_report(status.result)

    def show_failure(self, problem: str) -> None:
        self.query_one("#status", Label).update(f"the check failed: {problem}")

    def show_report(self, check: WindowCheck) -> None:
        """Fill the table and the lines around it."""
        self.report = check
        self.query_one("#status", Label).update(
            f"iteration {check.iteration:,}: the window the next step trains on, loss {check.loss:.4f}\n"
            f"{check.samples} random elements per parameter, step {check.step:g}. An element passes when "
            f"|a-n| / (|a|+|n|) is below {TOLERANCE:g} or |a-n| is below the difference's rounding noise "
            f"({check.noise:.1e}). a: backprop (unclipped), n: central difference."
        )
        table = self.query_one(DataTable)
        table.add_rows(table_row(check, name) for name in PARAM_NAMES)
        table.display = True
        note = clipping_note(check)
        label = self.query_one("#note", Label)
        label.update(note or "")
        label.display = note is not None

    def action_close(self) -> None:
        """Close the dialog (a check still running finishes in the engine and is forgotten)."""
        if self.job_id is not None and self.report is None:
            try:
                self.controller.cancel_job(self.job_id)
            except EngineLost:
                pass
        self.dismiss(None)
