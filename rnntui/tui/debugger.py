"""The debugger's own controls on the main screen: time travel, step-into,
breakpoints, live hyperparameters and the gradient check.

A mixin for MainScreen, using only its public surface: ``controller``,
``record``, ``cursor_t``, ``unit``, ``running``, ``command``, ``pause`` and
``start_run``.
"""

from __future__ import annotations

from textual.reactive import reactive

from .dialogs import TextPrompt, int_checker, whole_number
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
        if self._paused_or_warn("going back"):
            self.command(self.controller.back)

    def action_goto(self) -> None:
        """g: jump to any iteration number computed so far or later."""
        if not self._paused_or_warn("jumping"):
            return
        mirror = self.controller.mirror
        if mirror.furthest < mirror.first:
            prompt = f"Go to iteration ({mirror.first:,} or later; nothing is trained yet, so it trains there):"
        else:
            prompt = (f"Go to iteration ({mirror.first:,} to {mirror.furthest:,} seen; "
                      "later ones are trained):")
        default = max(mirror.first, (self.record.iteration if self.record else 0) - 100)
        check = int_checker(mirror.first, mirror.furthest + 10_000_000)
        self.app.push_screen(TextPrompt(prompt, str(default), check=check), lambda answer: answer and self._go_to(whole_number(answer)))

    def _go_to(self, iteration: int) -> None:
        """Replay to a computed iteration; past the furthest one, replay there and run the rest
        (a normal run: breakpoints apply, samples are kept, r pauses it)."""
        furthest = self.controller.mirror.furthest
        if iteration <= furthest:
            self.command(self.controller.goto, iteration)
            return
        if furthest >= 0 and (self.record is None or self.record.iteration != furthest):
            self.command(self.controller.goto, furthest)
        self.start_run(iteration - furthest)

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
            self.pause()
        self.app.push_screen(BreakpointsScreen(self.controller))

    def action_hyperparameters(self) -> None:
        """h: change the adjustable hyperparameters (Config.adjustable_fields; pauses a run first)."""
        from .hyperparams_screen import HyperparamsScreen

        if self.running:
            self.pause()
        self.app.push_screen(HyperparamsScreen(self.controller), self._hyperparameters_changed)

    def _hyperparameters_changed(self, summary: str | None) -> None:
        self.show_mirror(with_history=True)
        if summary:
            self.notify(summary, title="Hyperparameters", timeout=8)

    def action_gradcheck(self) -> None:
        """c: central-difference gradient check on the next window (pauses a run first)."""
        from .gradcheck_screen import GradcheckScreen

        if self.running:
            self.pause()
        self.app.push_screen(GradcheckScreen(self.controller))

    def action_colour_unit(self) -> None:
        """u: colour the input window by the chosen unit, or stop."""
        self.color_unit = None if self.color_unit is not None else self.unit
