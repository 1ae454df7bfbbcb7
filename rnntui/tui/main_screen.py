"""The debugger screen: the header, six panels, the footer, and the training controls.

The screen drives training only through its Controller (rnntui.engine.control)
and draws only what the controller's mirror holds: the newest step record, the
history, the samples and the run state. While training runs, the screen asks
for an update REFRESH_HZ times a second; whatever happened in between is
coalesced by the engine.
"""

from __future__ import annotations

import gc
import time

import numpy as np
from textual import on
from textual.app import ComposeResult
from textual.containers import Grid
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Static

from ..engine import RnntuiError, StepRecord
from ..engine.control import Controller, EngineBusy, EngineLost
from ..engine.session import RunEnd, RunResult, RunState
from .analysis_actions import AnalysisActions
from .base import RunInfo
from .debugger import DebuggerActions
from .evaluation_actions import EvaluationActions
from .footer import WholeKeysFooter
from .gradients import GradientsPanel
from .heatmap import Heatmap
from .input_window import InputWindow
from .keys import SCREEN_KEYS
from .loss_curve import LossCurve
from .messages import CursorMoved, UnitSelected
from .probs import ProbsPanel
from .samples import SamplesPanel
from .status import StatusBar
from .step_panel import StepPanel
from .whatif_actions import WhatIfActions

MIN_WIDTH, MIN_HEIGHT = 80, 24  # below this the layout cannot show every panel
COMPACT_HEIGHT = 34  # below this the input window row gets shorter
REFRESH_HZ = 10  # how often the UI asks the engine for the newest record while running
SLOW_REFRESH_S = 1.0  # while running, the loss curve and samples (costlier to draw) update this often
RATE_WINDOW_S = 0.5  # the iterations-per-second figure is measured over at least this long
GRAD_HISTORY = 40  # iterations of gradient norms in the sparklines
TEMPERATURE_STEP = 1.25  # factor per [ or ] press
TEMPERATURE_RANGE = (0.05, 10.0)
TOO_SMALL = (
    "The terminal is too small for rnntui's panels.\n"
    f"Enlarge the terminal to at least {MIN_WIDTH} x {MIN_HEIGHT} (it is {{w}} x {{h}})."
)


class MainScreen(DebuggerActions, AnalysisActions, EvaluationActions, WhatIfActions, Screen):
    """Owns the display state; panels receive it through data_bind.

    The screen's reactives only hold state for the panels (repaint=False):
    repainting the screen itself would redraw every panel on every change, where
    the panels bound to a value repaint only themselves.
    """

    BINDINGS = [key.binding() for key in SCREEN_KEYS]

    record: reactive[StepRecord | None] = reactive(None, repaint=False)
    cursor_t: reactive[int] = reactive(0, repaint=False)
    unit: reactive[int] = reactive(0, repaint=False)
    color_unit: reactive[int | None] = reactive(None, repaint=False)
    state: reactive[RunState] = reactive(RunState.paused, repaint=False)
    rate: reactive[float] = reactive(0.0, repaint=False)
    temperature: reactive[float] = reactive(1.0, repaint=False)
    samples: reactive[tuple] = reactive((), repaint=False)
    loss: reactive[np.ndarray | None] = reactive(None, always_update=True, repaint=False)
    smooth: reactive[np.ndarray | None] = reactive(None, always_update=True, repaint=False)
    events: reactive[tuple] = reactive((), repaint=False)
    grad_history: reactive[np.ndarray | None] = reactive(None, always_update=True, repaint=False)

    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.controller = controller
        mirror = controller.mirror
        self.info = RunInfo(controller.corpus, mirror.config.hidden_size, mirror.config.val_frac)
        corpus = controller.corpus
        window = min(mirror.config.seq_length, len(corpus) - 1)  # a short corpus trains a shorter window
        self.baseline = -np.log(1.0 / corpus.vocab_size) * window  # the loss of a uniform guess
        self._shown: StepRecord | None = None
        self._rate_mark = (time.perf_counter(), mirror.iteration)
        self._slow_mark = 0.0  # when the loss curve and samples were last updated
        self._busy_told = False  # the user was told the engine is not answering (until it answers again)
        self._history_key = (-1, -1)  # (generation, length) of the history last handed to the panels
        self._gc_frozen = False

    # --- layout ------------------------------------------------------------
    def compose(self) -> ComposeResult:
        S = MainScreen
        info = self.info
        yield StatusBar(info, id="status").data_bind(S.record, S.state, S.rate, S.evaluations, busy=S.engine_busy,
                                                     done=self.controller.mirror.iteration)
        with Grid(id="panels"):
            yield InputWindow(info, id="input").data_bind(S.record, S.cursor_t, S.unit, S.color_unit)
            yield SamplesPanel(info, id="samples").data_bind(S.samples, S.temperature)
            yield Heatmap(info, id="heatmap").data_bind(S.record, S.cursor_t, S.unit)
            yield ProbsPanel(info, id="probs").data_bind(S.record, S.cursor_t)
            yield GradientsPanel(info, id="gradients").data_bind(S.record, S.cursor_t, history_norms=S.grad_history)
            yield LossCurve(info, id="loss").data_bind(S.loss, S.smooth, S.events, S.evaluations, S.branches,
                                                       baseline=self.baseline)
            yield StepPanel(info, id="step").data_bind(S.record, S.cursor_t, S.unit)
        yield Static("", id="too-small")
        yield WholeKeysFooter()

    def on_mount(self) -> None:
        self.show_mirror(with_history=True)
        self.set_interval(1 / REFRESH_HZ, self._tick)
        self._fit_to_size(self.size.width, self.size.height)

    def on_resize(self, event) -> None:
        self._fit_to_size(event.size.width, event.size.height)

    def _fit_to_size(self, width: int, height: int) -> None:
        too_small = width < MIN_WIDTH or height < MIN_HEIGHT
        self.set_class(too_small, "too-small")
        self.set_class(height < COMPACT_HEIGHT, "compact")
        if too_small:
            self.query_one("#too-small", Static).update(TOO_SMALL.format(w=width, h=height))

    # --- talking to the engine -----------------------------------------------
    @property
    def running(self) -> bool:
        return self.state.is_running

    def command(self, action, *args, **kwargs):
        """Call a controller method; an engine error becomes a notification (None returned).

        Whatever the command changed is shown at once.
        """
        try:
            return action(*args, **kwargs)
        except EngineBusy as err:
            self._engine_busy(err, refused=self._busy_told)  # told before: this command was not even sent
        except EngineLost as err:
            self._engine_lost(err)
        except RnntuiError as err:
            self.notify(err.problem, severity="warning", timeout=8)
        finally:
            self.show_mirror(with_history=True)
        return None

    def _engine_lost(self, err: EngineLost) -> None:
        if isinstance(err, EngineBusy):
            self._engine_busy(err)
            return
        self.notify(
            f"{err.problem}. The last record stays on screen; nothing more can be trained or saved in this "
            "window (the last checkpoint, if any, is untouched). Press q to quit.",
            title="Engine lost", severity="error", timeout=30,
        )

    def _engine_busy(self, err: EngineBusy, refused: bool = False) -> None:
        """Say once, until it answers again, that the engine is not answering (the window stays usable); a key
        whose command could not be sent meanwhile (``refused``) is told so briefly, not dropped in silence."""
        if not self._busy_told:
            self._busy_told = True
            self.notify(f"{err.problem}: {err.hint}.", title="Engine not answering", severity="warning", timeout=10)
        elif refused:
            self.notify(f"not done: {err.problem}", title="Engine busy", severity="warning", timeout=4)

    def _tick(self) -> None:
        """Ask the engine for what is new (coalesced) and show it, at a bounded rate.

        While running, the loss curve and the samples follow at SLOW_REFRESH_S:
        they cost the most to draw.
        """
        if not self.controller.alive:
            return
        try:
            self.controller.poll()
        except EngineBusy as err:
            self._engine_busy(err)
            return
        except EngineLost as err:
            self._engine_lost(err)
            self.show_mirror(with_history=True)
            return
        if self._busy_told:
            self._busy_told = False
            self.notify("the engine answers again", title="Engine", timeout=4)
        now = time.perf_counter()
        slow_due = not self.running or now - self._slow_mark >= SLOW_REFRESH_S
        if slow_due:
            self._slow_mark = now
        self.show_mirror(with_history=slow_due)
        self._measure_rate(now)

    def show_mirror(self, with_history: bool = True) -> None:
        """Hand what the controller's mirror holds to the panels (the history views unless told not to)."""
        mirror = self.controller.mirror
        previous, self.state = self.state, mirror.state
        if mirror.record is not None and mirror.record is not self._shown:
            self._show(mirror.record)
        self.temperature = mirror.config.temperature  # time travel restores it too
        self.show_evaluations(mirror, with_history)
        if with_history:
            self.refresh_history()
            self.samples = mirror.samples
        for notice in mirror.take_notices():
            self.notify(notice, title="Note", timeout=8)
        for result in mirror.take_finished():
            self._run_finished(result)
        if previous.is_running and not self.running:
            self._freeze_startup_objects()

    def _show(self, record: StepRecord) -> None:
        self._shown = record
        self.cursor_t = min(self.cursor_t, record.seq_length - 1)
        self.record = record

    def refresh_history(self) -> None:
        """Hand the loss history and its events to the loss curve and the sparklines, if they changed."""
        history = self.controller.mirror.history
        key = (history.generation, len(history), len(history.events))
        if key == self._history_key:
            return
        self._history_key = key
        self.loss = history.loss
        self.smooth = history.smooth_loss
        self.grad_history = history.grad_norms[-GRAD_HISTORY:]
        self.events = tuple((e.iteration, e.text) for e in history.events)

    def _measure_rate(self, now: float) -> None:
        if not self.running:
            return
        done = self.controller.mirror.iteration
        then, before = self._rate_mark
        if now - then >= RATE_WINDOW_S:
            self.rate = (done - before) / (now - then)
            self._rate_mark = (now, done)

    def _run_finished(self, result: RunResult) -> None:
        if result.end is RunEnd.DIVERGED:
            self.notify(f"{result.detail}. Lower the learning rate or clip (h); time travel (backspace) can go back.",
                        severity="error", timeout=10)
        elif result.end is RunEnd.BREAKPOINT:
            self.notify(result.detail or "breakpoint", title="Breakpoint", severity="warning", timeout=6)

    def _freeze_startup_objects(self) -> None:
        """Once, after the first run: move everything alive so far out of the garbage collector's
        view, so full collections stay short while drawing."""
        if not self._gc_frozen:
            self._gc_frozen = True
            gc.collect()
            gc.freeze()

    # --- stepping and running ----------------------------------------------
    def action_step(self) -> None:
        """Space: one iteration (pauses first when running)."""
        if self.running:
            self.pause()
            return
        self.step_phase = None
        self.command(self.controller.step)
        self._freeze_startup_objects()

    def pause(self) -> None:
        """Pause a run (it ends after the iteration going on)."""
        self.command(self.controller.pause)

    def action_toggle_run(self) -> None:
        """r: run continuously, or pause."""
        if self.running:
            self.pause()
        else:
            self.start_run(None)

    def action_run_n(self) -> None:
        """n: ask how many iterations to run."""
        if self.running:
            return
        from .dialogs import TextPrompt, int_checker, whole_number

        def go(answer: str | None) -> None:
            if answer:
                self.start_run(whole_number(answer))

        self.app.push_screen(TextPrompt("Run how many iterations?", "100", check=int_checker(1, 10_000_000)), go)

    def start_run(self, limit: int | None) -> None:
        """Start training in the engine (limit None = until paused)."""
        self.step_phase = None
        self.rate = 0.0  # until this run's first half second is measured (no older run's figure)
        self._rate_mark = (time.perf_counter(), self.controller.mirror.iteration)
        self.command(self.controller.run, limit)

    # --- cursor, unit, temperature -----------------------------------------
    def action_cursor(self, delta: int) -> None:
        if self.record is not None:
            self.cursor_t = max(0, min(self.cursor_t + delta, self.record.seq_length - 1))

    def action_unit(self, delta: int) -> None:
        """up/down: the previous or next unit in the heatmap's row order (unit numbers, or the unit table's)."""
        slots = self.query_one(Heatmap).slots
        position = slots.index(self.unit) if self.unit in slots else self.unit
        self.unit = slots[max(0, min(position + delta, len(slots) - 1))]

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
        """[ and ]: sampling temperature down or up (while running, from the next iteration on)."""
        low, high = TEMPERATURE_RANGE
        value = self.temperature * (TEMPERATURE_STEP if direction > 0 else 1 / TEMPERATURE_STEP)
        self.command(self.controller.set_hyperparameters, temperature=round(max(low, min(value, high)), 4))

    def action_sample(self) -> None:
        """s: sample now from the current model (while running, between two steps)."""
        self.command(self.controller.sample_now, self.temperature)

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
