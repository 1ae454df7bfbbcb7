"""The debugger screen: the header, six panels, the footer, and the training controls."""

from __future__ import annotations

import gc
import threading
import time

import numpy as np
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from ..engine import RnntuiError, StepRecord
from ..engine.session import RunResult, Session
from .base import RunInfo
from .debugger import DebuggerActions
from .gradients import GradientsPanel
from .heatmap import Heatmap
from .input_window import InputWindow
from .loss_curve import LossCurve
from .messages import CursorMoved, UnitSelected
from .probs import ProbsPanel
from .samples import Sample as PanelSample
from .samples import SamplesPanel
from .status import StatusBar
from .step_panel import StepPanel

MIN_WIDTH, MIN_HEIGHT = 80, 24  # below this the layout cannot show every panel
COMPACT_HEIGHT = 34  # below this the input window row gets shorter
REFRESH_HZ = 10  # how often the UI shows the newest record while running
SLOW_REFRESH_S = 1.0  # while running, the loss curve and samples (costlier to draw) update this often
KEEP_SAMPLES = 20  # samples shown in the samples panel
GRAD_HISTORY = 40  # iterations of gradient norms in the sparklines
TEMPERATURE_STEP = 1.25  # factor per [ or ] press
TOO_SMALL = (
    "The terminal is too small for rnntui's panels.\n"
    f"Enlarge the terminal to at least {MIN_WIDTH} x {MIN_HEIGHT} (it is {{w}} x {{h}})."
)


TEMPERATURE = Binding.Group("Temp")
LOSS_VIEW = Binding.Group("Log/500")
TRAVEL = Binding.Group("Back/Go")


class MainScreen(DebuggerActions, Screen):
    """Owns the display state; panels receive it through data_bind."""

    BINDINGS = [
        Binding("space", "step", "Step"),
        Binding("r", "toggle_run", "Run"),
        Binding("n", "run_n", "Run N"),
        Binding("ctrl+s", "save", "Save"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("s", "sample", "Sample"),
        Binding("left_square_bracket", "temperature(-1)", "Temp-", group=TEMPERATURE),
        Binding("right_square_bracket", "temperature(1)", "Temp+", group=TEMPERATURE),
        Binding("left", "cursor(-1)", "t-", show=False),
        Binding("right", "cursor(1)", "t+", show=False),
        Binding("up", "unit(-1)", "unit-", show=False),
        Binding("down", "unit(1)", "unit+", show=False),
        Binding("backspace", "back", "Back", group=TRAVEL),
        Binding("g", "goto", "Go to", group=TRAVEL),
        Binding("i", "step_into", "Into"),
        Binding("full_stop", "step_move(1)", "Next t", show=False),
        Binding("comma", "step_move(-1)", "Prev t", show=False),
        Binding("escape", "leave_step", "Leave step-into", show=False),
        Binding("k", "breakpoints", "Breaks"),
        Binding("h", "hyperparameters", "Hyper"),
        Binding("c", "gradcheck", "Check"),
        Binding("u", "colour_unit", "Unit"),
        Binding("l", "toggle_log", "Log scale", group=LOSS_VIEW),
        Binding("w", "toggle_window", "Last 500", group=LOSS_VIEW),
    ]

    record: reactive[StepRecord | None] = reactive(None)
    cursor_t: reactive[int] = reactive(0)
    unit: reactive[int] = reactive(0)
    color_unit: reactive[int | None] = reactive(None)
    state: reactive[str] = reactive("paused")
    rate: reactive[float] = reactive(0.0)
    temperature: reactive[float] = reactive(1.0)
    samples: reactive[tuple] = reactive(())
    loss: reactive[np.ndarray | None] = reactive(None, always_update=True)
    smooth: reactive[np.ndarray | None] = reactive(None, always_update=True)
    events: reactive[tuple] = reactive(())
    grad_history: reactive[np.ndarray | None] = reactive(None, always_update=True)

    def __init__(self, session: Session, notice: str | None = None) -> None:
        super().__init__()
        self.session = session
        trainer = session.trainer
        self.info = RunInfo(corpus=trainer.corpus, hidden_size=trainer.config.hidden_size)
        self.baseline = trainer.initial_smooth_loss
        self.notice = notice
        self._stop_flag = threading.Event()
        self._shown: StepRecord | None = None
        self._rate_mark = (time.perf_counter(), trainer.iteration)
        self._slow_mark = 0.0  # when the loss curve and samples were last updated
        self._history_len = -1
        self._samples_key = (-1, -1)  # (samples version, shown iteration) last handed to the panel
        self._gc_frozen = False

    # --- layout ------------------------------------------------------------
    def compose(self) -> ComposeResult:
        S = MainScreen
        info = self.info
        yield StatusBar(info, id="status").data_bind(S.record, S.state, S.rate, done=self.session.trainer.iteration)
        with Grid(id="panels"):
            yield InputWindow(info, id="input").data_bind(S.record, S.cursor_t, S.unit, S.color_unit)
            yield SamplesPanel(info, id="samples").data_bind(S.samples, S.temperature)
            yield Heatmap(info, id="heatmap").data_bind(S.record, S.cursor_t, S.unit)
            yield ProbsPanel(info, id="probs").data_bind(S.record, S.cursor_t)
            yield GradientsPanel(info, id="gradients").data_bind(S.record, S.cursor_t, history_norms=S.grad_history)
            yield LossCurve(info, id="loss").data_bind(S.loss, S.smooth, S.events, baseline=self.baseline)
            yield StepPanel(info, id="step").data_bind(S.record, S.cursor_t, S.unit)
        yield Static("", id="too-small")
        yield Footer()

    def on_mount(self) -> None:
        self.temperature = self.session.trainer.config.temperature
        self._pull_history()
        if self.session.last_record is not None:
            self._show(self.session.last_record)
        self.set_interval(1 / REFRESH_HZ, self._tick)
        if self.notice:
            self.notify(self.notice, title="Note", timeout=8)
        self._fit_to_size(self.size.width, self.size.height)

    def on_resize(self, event) -> None:
        self._fit_to_size(event.size.width, event.size.height)

    def _fit_to_size(self, width: int, height: int) -> None:
        too_small = width < MIN_WIDTH or height < MIN_HEIGHT
        self.set_class(too_small, "too-small")
        self.set_class(height < COMPACT_HEIGHT, "compact")
        if too_small:
            self.query_one("#too-small", Static).update(TOO_SMALL.format(w=width, h=height))

    # --- showing records ---------------------------------------------------
    def _show(self, record: StepRecord, with_history: bool = True) -> None:
        """Hand a record to every panel (through the reactives), and the history views unless told not to."""
        self._shown = record
        self.cursor_t = min(self.cursor_t, record.seq_length - 1)
        self.record = record
        self.temperature = self.session.trainer.config.temperature  # time travel restores it too
        if with_history:
            self._pull_history()
            self._pull_samples()

    def _pull_history(self) -> None:
        history = self.session.trainer.history
        if len(history) == self._history_len:
            return
        self._history_len = len(history)
        self.loss = history.loss
        self.smooth = history.smooth_loss
        self.grad_history = history.grad_norms[-GRAD_HISTORY:]
        self.events = tuple((e.iteration, e.text) for e in history.events)

    def _pull_samples(self) -> None:
        """The samples as they were when the shown record was the newest (time travel included)."""
        key = (self.session.samples_version, self._shown.iteration if self._shown is not None else -1)
        if key != self._samples_key:
            self._samples_key = key
            kept = self.session.samples_until(self._shown)[-KEEP_SAMPLES:]
            self.samples = tuple(PanelSample(s.iteration, s.temperature, s.text, s.on_demand) for s in kept)

    def _tick(self) -> None:
        """Show the newest record (coalescing everything in between) at a bounded rate.

        While running, the loss curve and the samples follow at SLOW_REFRESH_S:
        they cost the most to draw, and every millisecond the UI thread spends
        drawing is taken from the training thread.
        """
        record = self.session.last_record
        now = time.perf_counter()
        slow_due = not self.running or now - self._slow_mark >= SLOW_REFRESH_S
        if record is not None and record is not self._shown:
            self._show(record, with_history=slow_due)
        elif slow_due:
            self._pull_history()
            self._pull_samples()
        if slow_due:
            self._slow_mark = now
        if self.state == "running":
            now, done = time.perf_counter(), self.session.trainer.iteration
            then, before = self._rate_mark
            if now - then >= 0.5:
                self.rate = (done - before) / (now - then)
                self._rate_mark = (now, done)

    # --- stepping and running ----------------------------------------------
    @property
    def running(self) -> bool:
        return self.state == "running"

    def action_step(self) -> None:
        """Space: one iteration, synchronously (pauses first when running)."""
        if self.running:
            self._stop_flag.set()
            return
        self.step_phase = None
        self.session.step()
        self._after_steps()

    def _after_steps(self) -> None:
        self._show(self.session.last_record)
        self._freeze_startup_objects()
        reason = self.session.stop_reason
        if reason:
            self._stopped(reason, diverged=self.session.last_record.nonfinite is not None)
        elif not self.running:
            self.state = self._paused_state()

    def _freeze_startup_objects(self) -> None:
        """Once, after the first step has loaded the compiled kernels: move everything alive so far
        out of the garbage collector's view, so full collections stay short while stepping."""
        if not self._gc_frozen:
            self._gc_frozen = True
            gc.collect()
            gc.freeze()

    def _stopped(self, reason: str, diverged: bool) -> None:
        self.state = f"stopped: {reason}"
        if diverged:
            self.notify(f"{reason}. Lower --learning-rate or --clip; time travel (backspace) can go back.", severity="error", timeout=10)
        else:
            self.notify(reason, title="Breakpoint", severity="warning", timeout=6)

    def action_toggle_run(self) -> None:
        """r: run continuously, or pause."""
        if self.running:
            self._stop_flag.set()
        else:
            self.start_run(None)

    def action_run_n(self) -> None:
        """n: ask how many iterations to run."""
        if self.running:
            return
        from .dialogs import TextPrompt, int_checker

        def go(answer: str | None) -> None:
            if answer:
                self.start_run(int(answer))

        self.app.push_screen(TextPrompt("Run how many iterations?", "100", check=int_checker(1, 10_000_000)), go)

    def start_run(self, limit: int | None) -> None:
        """Start the training worker (limit None = until paused)."""
        self.step_phase = None
        self._stop_flag = threading.Event()
        self.state = "running"
        self.rate = 0.0  # until this run's first half second is measured (no older run's figure)
        self._rate_mark = (time.perf_counter(), self.session.trainer.iteration)
        self._train(limit, self._stop_flag)

    @work(thread=True, exclusive=True, group="train", exit_on_error=False)
    def _train(self, limit: int | None, stop_flag: threading.Event) -> None:
        worker = get_current_worker()
        try:
            result = self.session.run(limit, lambda: stop_flag.is_set() or worker.is_cancelled)
        except Exception as err:  # never leave the screen "running" with no worker behind it
            if not worker.is_cancelled:
                self.app.call_from_thread(self._run_failed, err)
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self._run_finished, result)

    def _run_failed(self, err: Exception) -> None:
        self.state = f"stopped: training failed ({type(err).__name__}: {err})"
        self.notify(f"training stopped: {err}", severity="error", timeout=10)

    def _run_finished(self, result: RunResult) -> None:
        self.state = self._paused_state()
        if self.session.last_record is not None:
            self._show(self.session.last_record)
        self._freeze_startup_objects()
        if self.session.branch_message:
            self.notify(self.session.branch_message, title="Time travel", timeout=6)
            self.session.branch_message = None
        if result.reason in ("breakpoint", "diverged"):
            self._stopped(result.detail or result.reason, diverged=result.reason == "diverged")

    # --- cursor, unit, temperature -----------------------------------------
    def action_cursor(self, delta: int) -> None:
        if self.record is not None:
            self.cursor_t = max(0, min(self.cursor_t + delta, self.record.seq_length - 1))

    def action_unit(self, delta: int) -> None:
        self.unit = max(0, min(self.unit + delta, self.info.hidden_size - 1))

    @on(CursorMoved)
    def _cursor_moved(self, message: CursorMoved) -> None:
        message.stop()
        if self.record is not None:
            self.cursor_t = message.target(self.cursor_t, self.record.seq_length - 1)

    @on(UnitSelected)
    def _unit_selected(self, message: UnitSelected) -> None:
        message.stop()
        self.unit = message.target(self.unit, self.info.hidden_size - 1)
        if message.chosen:
            self.color_unit = self.unit

    def action_temperature(self, direction: int) -> None:
        """[ and ]: sampling temperature down or up."""
        value = self.temperature * (TEMPERATURE_STEP if direction > 0 else 1 / TEMPERATURE_STEP)
        value = round(max(0.05, min(value, 10.0)), 4)
        self.apply_hyperparameters(temperature=value)

    def apply_hyperparameters(self, **changes: object) -> None:
        """Change hyperparameters now (paused) or before the next iteration (running)."""
        try:
            if self.running:
                self.session.queue_hyperparameters(**changes)
                message = None
            else:
                message = self.session.set_hyperparameters(**changes)
        except (RnntuiError, ValueError) as err:
            self.notify(str(err), severity="error")
            return
        self.temperature = float(changes.get("temperature", self.session.trainer.config.temperature))
        if message:
            self.notify(message, title="Time travel", timeout=6)
        if not self.running:
            self.state = self._paused_state()
        self._history_len = -1
        self._pull_history()

    def action_sample(self) -> None:
        """s: sample now from the current model (while running, between two steps)."""
        if self.running:
            self.session.request_sample(self.temperature)
            return
        self.session.sample_now(self.temperature)
        self._pull_samples()

    # --- panels' own toggles -----------------------------------------------
    def action_toggle_log(self) -> None:
        self.query_one(LossCurve).action_toggle_log()

    def action_toggle_window(self) -> None:
        self.query_one(LossCurve).action_toggle_window()

    # --- save, help, quit --------------------------------------------------
    def action_save(self) -> None:
        self.app.action_save_checkpoint()

    def action_help(self) -> None:
        self.app.action_show_help()

    def action_quit(self) -> None:
        self.app.action_request_quit()
