"""The gradient check dialog: backprop against central differences on the next window."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label
from textual.worker import Worker, WorkerState

from ..engine.gradcheck import TOLERANCE, GradCheckResult, gradcheck
from ..engine.model import PARAM_NAMES, loss_and_grads
from ..engine.session import Session
from .dialogs import modal_box_css

SAMPLES = 10  # elements checked per parameter
STEP = 1e-5  # central-difference step
SEED = 0  # which elements are checked: the same ones on every run, for a given shape
COLUMNS = ("parameter", "shape", "max error", "median error", "result", "|g| > clip")


@dataclass(frozen=True)
class GradcheckReport:
    """Everything the dialog shows about one check."""

    iteration: int  # the iteration whose window was checked (the next one to run)
    loss: float  # the window's loss with the current parameters
    clip: float  # the clip threshold in force
    results: dict[str, GradCheckResult]  # per parameter, from gradcheck()
    shapes: dict[str, tuple[int, ...]]
    clipped: dict[str, int]  # raw gradient elements with |g| > clip, per parameter


@dataclass(frozen=True)
class CheckedWindow:
    """Private copies of what the check needs, taken on the UI thread before it starts."""

    iteration: int
    inputs: np.ndarray  # (T,) character indices
    targets: np.ndarray  # (T,)
    hprev: np.ndarray  # (H,)
    params: dict[str, np.ndarray]  # copies of the current parameters
    clip: float


def take_window(session: Session) -> CheckedWindow:
    """Copy the window the next step trains on, and the current parameters."""
    trainer = session.trainer
    inputs, targets, hprev = session.next_window()
    params = {name: np.array(value) for name, value in trainer.params.items()}
    return CheckedWindow(trainer.iteration, inputs, targets, hprev, params, trainer.config.clip)


def check_window(window: CheckedWindow, samples: int = SAMPLES, step: float = STEP, seed: int = SEED) -> GradcheckReport:
    """Run gradcheck on ``window`` and count the raw gradient elements clipping will change."""
    params, clip = window.params, window.clip
    raw = loss_and_grads(params, window.inputs, window.targets, window.hprev)
    return GradcheckReport(
        iteration=window.iteration,
        loss=float(raw.loss),
        clip=clip,
        results=gradcheck(
            params, window.inputs, window.targets, window.hprev, samples=samples, step=step, seed=seed, base=raw
        ),
        shapes={name: params[name].shape for name in PARAM_NAMES},
        clipped={name: int(np.count_nonzero(np.abs(raw.grads[name]) > clip)) for name in PARAM_NAMES},
    )


def format_error(error: float) -> str:
    """A relative error as shown in the table."""
    return f"{error:.2e}"


def table_row(report: GradcheckReport, name: str) -> tuple[str | Text, ...]:
    """The table's cells for parameter ``name``."""
    result = report.results[name]
    shape = " x ".join(str(n) for n in report.shapes[name])
    passed = result.passed(TOLERANCE)
    verdict = Text("pass", style="green") if passed else Text("FAIL", style="bold red")
    size = int(np.prod(report.shapes[name]))
    clipped = f"{report.clipped[name]:,} of {size:,}"
    return (name, shape, format_error(result.max_error), format_error(result.median_error), verdict, clipped)


def noise_of(report: GradcheckReport) -> float:
    """The central difference's rounding floor for this window (the same for every parameter)."""
    return next(iter(report.results.values())).noise


def clipping_note(report: GradcheckReport) -> str | None:
    """What clipping will do to this window's gradients, or None when it changes nothing."""
    engaged = [(name, n) for name, n in report.clipped.items() if n]
    if not engaged:
        return None
    parts = [f"{n:,} {'element' if n == 1 else 'elements'} of {name}" if i == 0 else f"{n:,} of {name}"
             for i, (name, n) in enumerate(engaged)]
    return (f"clipping (clip {report.clip:g}) will change {', '.join(parts)}: "
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

    def __init__(self, session: Session, samples: int = SAMPLES, step: float = STEP, seed: int = SEED) -> None:
        super().__init__()
        self.session = session
        self.samples = samples
        self.step = step
        self.seed = seed
        self.report: GradcheckReport | None = None

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
        window = take_window(self.session)
        work = partial(check_window, window, self.samples, self.step, self.seed)
        self.run_worker(work, thread=True, exclusive=True, name="gradcheck")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Show the report when the check finishes, or its error when it fails."""
        if event.state == WorkerState.SUCCESS:
            self.show_report(event.worker.result)
        elif event.state == WorkerState.ERROR:
            self.query_one("#status", Label).update(f"the check failed: {event.worker.error}")

    def show_report(self, report: GradcheckReport) -> None:
        """Fill the table and the lines around it."""
        self.report = report
        self.query_one("#status", Label).update(
            f"iteration {report.iteration:,}: the window the next step trains on, loss {report.loss:.4f}\n"
            f"{self.samples} random elements per parameter, step {self.step:g}. An element passes when "
            f"|a-n| / (|a|+|n|) is below {TOLERANCE:g} or |a-n| is below the difference's rounding noise "
            f"({noise_of(report):.1e}). a: backprop (unclipped), n: central difference."
        )
        table = self.query_one(DataTable)
        table.add_rows(table_row(report, name) for name in PARAM_NAMES)
        table.display = True
        note = clipping_note(report)
        label = self.query_one("#note", Label)
        label.update(note or "")
        label.display = note is not None

    def action_close(self) -> None:
        """Close the dialog (a check still running is left to finish in the background)."""
        self.dismiss(None)
