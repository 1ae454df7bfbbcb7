"""The debugger's own controls on the main screen: time travel, step-into,
breakpoints, live hyperparameters and the gradient check.

A mixin for MainScreen: it expects ``session``, ``record``, ``cursor_t``,
``running``, ``state`` and ``_show`` from the screen.
"""

from __future__ import annotations

from textual.reactive import reactive

from ..engine import RnntuiError
from .dialogs import TextPrompt, int_checker
from .step_panel import StepPanel, step_position


class DebuggerActions:
    """Actions behind the keys backspace, g, i, period, comma, escape, k, h, c and u."""

    step_phase: reactive[str | None] = reactive(None)  # "forward"/"backward" while stepping into

    # --- guards ------------------------------------------------------------
    def _paused_or_warn(self, what: str) -> bool:
        if self.running:
            self.notify(f"pause (r) before {what}", severity="warning")
            return False
        return True

    # --- time travel -------------------------------------------------------
    def action_back(self) -> None:
        """backspace: show the previous iteration again (replayed bit-identically)."""
        if not self._paused_or_warn("going back"):
            return
        self._travel(lambda: self.session.back())

    def action_goto(self) -> None:
        """g: jump to any iteration number computed so far or later."""
        if not self._paused_or_warn("jumping"):
            return
        timeline = self.session.timeline
        prompt = TextPrompt(
            f"Go to iteration ({timeline.first:,} to {timeline.furthest:,} seen; later ones are trained):",
            str(max(timeline.first, (self.record.iteration if self.record else 0) - 100)),
            check=int_checker(timeline.first, timeline.furthest + 10_000_000),
        )
        self.app.push_screen(prompt, lambda answer: answer and self._go_to(int(answer)))

    def _go_to(self, iteration: int) -> None:
        """Replay to a computed iteration; past the furthest one, replay there and run the rest
        (a normal run: breakpoints apply, samples are kept, r pauses it)."""
        furthest = self.session.timeline.furthest
        if iteration <= furthest:
            self._travel(lambda: self.session.goto(iteration))
            return
        if furthest >= 0 and (self.record is None or self.record.iteration != furthest):
            self._travel(lambda: self.session.goto(furthest))
        self.start_run(iteration - furthest)

    def _travel(self, move) -> None:
        try:
            record = move()
        except RnntuiError as err:
            self.notify(str(err), severity="warning")
            return
        self._history_len = -1
        self._show(record)
        self.state = self._paused_state()

    def _paused_state(self) -> str:
        timeline = self.session.timeline
        if timeline.behind:
            return f"paused in the past (furthest {timeline.furthest:,})"
        return "paused"

    # --- step into an iteration --------------------------------------------
    def action_step_into(self) -> None:
        """i: walk through the shown iteration timestep by timestep (forward, then backward)."""
        if self.record is None or not self._paused_or_warn("stepping into an iteration"):
            return
        if self.step_phase is not None:
            self.action_leave_step()
            return
        self.step_phase = "forward"
        self.cursor_t = 0

    def action_step_move(self, delta: int) -> None:
        """. and ,: next / previous timestep of the forward-then-backward walk."""
        if self.step_phase is None or self.record is None:
            return
        self.step_phase, self.cursor_t = step_position(self.step_phase, self.cursor_t, delta, self.record.seq_length)

    def action_leave_step(self) -> None:
        """escape: leave step-into mode."""
        self.step_phase = None

    def watch_step_phase(self, phase: str | None) -> None:
        self.set_class(phase is not None, "stepping")
        panel = self.query_one(StepPanel)
        if phase is not None:
            panel.phase = phase

    # --- breakpoints, hyperparameters, gradient check ----------------------
    def action_breakpoints(self) -> None:
        """k: list, add, disable and remove breakpoints (pauses a run first)."""
        from .breakpoints_screen import BreakpointsScreen

        if self.running:
            self._stop_flag.set()
        self.app.push_screen(BreakpointsScreen(self.session))

    def action_hyperparameters(self) -> None:
        """h: change learning rate, clip, temperature, sample_every, sample_length (paused)."""
        from .hyperparams_screen import HyperparamsScreen

        if not self._paused_or_warn("changing hyperparameters"):
            return
        self.app.push_screen(HyperparamsScreen(self.session), self._hyperparameters_changed)

    def _hyperparameters_changed(self, summary: str | None) -> None:
        if not summary:
            return
        self.temperature = self.session.trainer.config.temperature
        self._history_len = -1
        self._pull_history()
        self.state = self._paused_state()
        self.notify(summary, title="Hyperparameters", timeout=8)

    def action_gradcheck(self) -> None:
        """c: central-difference gradient check on the next window (paused)."""
        from .gradcheck_screen import GradcheckScreen

        if not self._paused_or_warn("the gradient check"):
            return
        self.app.push_screen(GradcheckScreen(self.session))

    def action_colour_unit(self) -> None:
        """u: colour the input window by the chosen unit, or stop."""
        self.color_unit = None if self.color_unit is not None else self.unit
