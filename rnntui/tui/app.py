"""The rnntui Textual application and its entry point."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from textual.app import App, SystemCommand
from textual.screen import Screen

from ..engine import RnntuiError, Trainer, warm_up
from ..engine.breakpoints import BreakpointSet, parse_breakpoint
from ..engine.session import Session
from .dialogs import ConfirmDialog, TextPrompt
from .main_screen import MainScreen


class RnntuiApp(App):
    """A visual debugger for a char-RNN being trained (see the help screen, ``?``)."""

    CSS_PATH = "rnntui.tcss"
    TITLE = "rnntui"

    def __init__(self, session: Session, notice: str | None = None, checkpoint: str | Path | None = None) -> None:
        super().__init__()
        self.session = session
        self.notice = notice
        if checkpoint is not None:
            session.save_path = Path(checkpoint)

    def on_mount(self) -> None:
        self.push_screen(MainScreen(self.session, self.notice))
        self.run_worker(warm_up, name="warm-up", thread=True, exit_on_error=False)  # compile while the user reads

    @property
    def main(self) -> MainScreen:
        """The debugger screen (below any open dialog)."""
        return next(s for s in self.screen_stack if isinstance(s, MainScreen))

    # --- commands (palette) ------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title != "Quit":  # ours asks first when progress is unsaved
                yield command
        if not isinstance(screen, MainScreen):
            return
        for title, help_text, action in COMMANDS:
            yield SystemCommand(title, help_text, lambda a=action: self.call_later(self.run_action, a, screen))

    # --- save, help, quit --------------------------------------------------
    def default_save_path(self) -> Path:
        if self.session.save_path is not None:
            return self.session.save_path
        stem = Path(self.session.trainer.corpus.name).stem or "run"
        return Path(f"{stem}.rnntui.npz")

    def action_save_checkpoint(self) -> None:
        """ctrl+s: ask for a path, confirm overwriting another file, save atomically."""
        if self.main.running:
            self.notify("pause (r) before saving", severity="warning")
            return

        def chosen(answer: str | None) -> None:
            if not answer:
                return
            path = Path(answer).expanduser()
            if path.exists() and path != self.session.save_path:
                question = f"{path} exists. Overwrite it?"
                self.push_screen(ConfirmDialog(question, "Overwrite", "Cancel"), lambda yes: yes and self._save(path))
            else:
                self._save(path)

        self.push_screen(TextPrompt("Save checkpoint to:", str(self.default_save_path()), check=_check_save_path), chosen)

    def _save(self, path: Path) -> None:
        try:
            saved = self.session.save(path)
        except (RnntuiError, OSError) as err:
            self.notify(f"not saved: {err}", severity="error", timeout=10)
            return
        self.notify(f"saved after {self.session.trainer.iteration:,} iterations to {saved}", title="Checkpoint")

    def action_show_help(self) -> None:
        from .help import HelpScreen

        self.push_screen(HelpScreen())

    def action_request_quit(self) -> None:
        """q: quit, asking first when there is unsaved progress."""
        if not self.session.dirty:
            self._quit()
            return
        since = self.session.trainer.iteration - (self.session.saved_iteration or 0)
        what = "1 iteration" if abs(since) == 1 else f"{abs(since):,} iterations"
        question = f"{what} since the last save are not saved. Quit anyway?"
        self.push_screen(ConfirmDialog(question, "Quit", "Stay"), lambda yes: yes and self._quit())

    async def action_quit(self) -> None:
        """ctrl+q (Textual's quit key) goes through the same question as q."""
        self.action_request_quit()

    def _quit(self) -> None:
        self.main._stop_flag.set()
        self.exit(0)


def _check_save_path(value: str) -> str | None:
    if not value:
        return "type a file name, e.g. run.npz"
    path = Path(value).expanduser()
    if path.is_dir():
        return f"{path} is a folder; add a file name"
    if not path.parent.exists():
        return f"folder {path.parent} does not exist"
    return None


COMMANDS: list[tuple[str, str, str]] = [
    ("Step one iteration", "Forward, backward, clip and Adagrad once (space)", "step"),
    ("Run / pause", "Train continuously, or pause (r)", "toggle_run"),
    ("Run N iterations", "Ask for a number and run that many (n)", "run_n"),
    ("Sample now", "Draw a sample from the current model (s)", "sample"),
    ("Temperature down", "Sampling temperature / 1.25 ([)", "temperature(-1)"),
    ("Temperature up", "Sampling temperature x 1.25 (])", "temperature(1)"),
    ("Step back one iteration", "Time travel: show the previous iteration again (backspace)", "back"),
    ("Go to iteration", "Time travel: jump to any iteration, earlier or later (g)", "goto"),
    ("Step into iteration", "Walk the shown iteration timestep by timestep (i)", "step_into"),
    ("Next timestep", "While stepping into: forward t=0..T-1, then backward (.)", "step_move(1)"),
    ("Previous timestep", "While stepping into: one timestep back (,)", "step_move(-1)"),
    ("Leave step-into", "Close the step panel (escape)", "leave_step"),
    ("Breakpoints", "List, add, switch and remove breakpoints (k)", "breakpoints"),
    ("Hyperparameters", "Change learning rate, clip, temperature, sampling (h)", "hyperparameters"),
    ("Gradient check", "Central differences on the next window (c)", "gradcheck"),
    ("Colour by unit", "Colour the input window by the chosen unit, or stop (u)", "colour_unit"),
    ("Timestep left", "Move the timestep cursor (left)", "cursor(-1)"),
    ("Timestep right", "Move the timestep cursor (right)", "cursor(1)"),
    ("Unit up", "Choose the previous hidden unit (up)", "unit(-1)"),
    ("Unit down", "Choose the next hidden unit (down)", "unit(1)"),
    ("Toggle log scale", "Loss curve in log10 (l)", "toggle_log"),
    ("Toggle last 500 / all", "Loss curve range (w)", "toggle_window"),
    ("Save checkpoint", "Write a checkpoint atomically (ctrl+s)", "save"),
    ("Help", "Keys, panels and the equations behind them (?)", "help"),
    ("Quit", "Leave rnntui, asking if progress is unsaved (q)", "quit"),
]


def run_app(
    trainer: Trainer,
    breakpoints: Iterable[str] = (),
    notice: str | None = None,
    checkpoint: str | Path | None = None,
) -> int:
    """Open the debugger on ``trainer``; returns the exit status.

    Breakpoint texts are parsed before the app starts, so a bad one raises
    RnntuiError with its message. Breakpoints saved in a resumed checkpoint
    come back too.
    """
    bps = BreakpointSet()
    saved = trainer.checkpoint_extras.get("breakpoints")
    if saved is not None:
        bps = BreakpointSet.from_array(saved)
    known = {bp.source for bp in bps}
    for text in breakpoints:
        parsed = parse_breakpoint(text)
        if parsed.source not in known:
            bps.add(text)
            known.add(parsed.source)
    session = Session(trainer, bps)
    app = RnntuiApp(session, notice=notice, checkpoint=checkpoint)
    result = app.run()
    return int(result or 0) if app.return_code is None else app.return_code
