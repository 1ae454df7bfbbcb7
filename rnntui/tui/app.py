"""The rnntui Textual application and its entry point."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Iterable

from textual import events
from textual.app import App, SystemCommand
from textual.screen import Screen

from ..engine.checkpoint import checkpoint_iterations, holds_checkpoint
from ..engine.control import Controller, EngineLost, Mirror, start_engine_process, start_in_thread
from ..engine.files import OutputError, check_output, printable
from ..engine.session import Session
from .dialogs import ConfirmDialog, TextPrompt
from .drawing import count
from .keys import palette_commands
from .main_screen import MainScreen

ENGINE_ENV = "RNNTUI_ENGINE"  # "thread": run the engine in a thread of the app's process instead of its own


class RnntuiApp(App):
    """A visual debugger for a char-RNN being trained (see the help screen, ``?``)."""

    CSS_PATH = Path(__file__).with_name("rnntui.tcss")  # absolute: subclasses live elsewhere
    TITLE = "rnntui"

    def __init__(self, controller: Controller, protected: Mapping[str, str] | None = None) -> None:
        """``protected``: files ctrl+s never writes over (the text being trained on), by how messages name them."""
        super().__init__()
        self.controller = controller
        self.protected = dict(protected or {})
        self.closing = False  # quitting has begun: keys typed after it are ignored

    async def on_event(self, event: events.Event) -> None:
        # keys queued behind the quit would open screens while the app closes (the help, the
        # unit table ... would fail half-built)
        if self.closing and isinstance(event, (events.Key, events.MouseDown, events.Click)):
            return
        await super().on_event(event)

    def on_mount(self) -> None:
        self.push_screen(MainScreen(self.controller))

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
        for title, help_text, action in palette_commands():
            yield SystemCommand(title, help_text, lambda a=action: self.call_later(self.run_action, a, screen))

    # --- save, help, quit --------------------------------------------------
    def default_save_path(self) -> Path:
        mirror = self.controller.mirror
        if mirror.save_path is not None:
            return Path(mirror.save_path)
        stem = Path(self.controller.corpus.name).stem or "run"
        return Path(f"{stem}.rnntui.npz")

    def action_save_checkpoint(self) -> None:
        """ctrl+s: ask for a path, confirm overwriting another file, save atomically."""
        if not self.controller.alive:
            self.notify("the engine process has ended: there is nothing it can vouch for to save", severity="error")
            return
        if self.main.running:
            self.notify("pause (r) before saving", severity="warning")
            return

        def chosen(answer: str | None) -> None:
            if not answer:
                return
            path = Path(answer).expanduser()
            known = self.controller.mirror.save_path
            if path.exists() and (known is None or path != Path(known)):
                dialog = ConfirmDialog(replace_question(path, self.controller.mirror.iteration), "Replace", "Cancel",
                                       enter_answers_yes=False)
                self.push_screen(dialog, lambda yes: yes and self._save(path))
            else:
                self._save(path)

        check = partial(check_save_path, protected=self.protected)
        self.push_screen(TextPrompt("Save checkpoint to:", str(self.default_save_path()), check=check), chosen)

    def _save(self, path: Path) -> None:
        saved = self.main.command(self.controller.save, path)
        if saved is None:
            return
        if saved.note:
            self.notify(saved.note, title="Checkpoint", severity="warning", timeout=12)
        else:
            self.notify(f"saved after {count(saved.iteration, 'iteration')} to {saved.path}", title="Checkpoint")

    def action_show_help(self) -> None:
        from .help import HelpScreen

        self.push_screen(HelpScreen())

    def action_request_quit(self) -> None:
        """q: quit, asking first when there is unsaved progress."""
        mirror = self.controller.mirror
        if not self.controller.alive or not mirror.dirty:
            self._quit()
            return
        self.push_screen(ConfirmDialog(quit_question(mirror), "Quit", "Stay", decided=self._quit_decided),
                         lambda yes: yes and self._quit())

    async def action_quit(self) -> None:
        """ctrl+q (Textual's quit key) goes through the same question as q."""
        self.action_request_quit()

    def _quit_decided(self, yes: bool) -> None:
        self.closing = yes  # from the answer on, keys typed ahead are not handled

    def _quit(self) -> None:
        self.closing = True
        if self.controller.alive and self.main.running:
            try:
                self.controller.pause()
            except EngineLost:
                pass
        self.exit(0)


def replace_question(path: Path, iteration: int) -> str:
    """Whether to replace the file at ``path`` (another run's checkpoint, or an empty file), saying what it
    holds and what replaces it."""
    held = checkpoint_iterations(path)
    holds = "is an empty file" if held is None else f"holds a checkpoint after {count(held, 'iteration')}"
    return f"{printable(str(path))} {holds}; this run is after {count(iteration, 'iteration')}. Replace it?"


def quit_question(mirror: Mirror) -> str:
    """What quitting now would lose, as a question: the iterations first, then the other parts."""
    unsaved = mirror.unsaved_iterations
    lost = [count(unsaved, "iteration")] if unsaved else []
    lost += [part for part in mirror.unsaved_parts if part != "iterations"]
    return f"Not saved since the last save: {', '.join(lost)}. Quit anyway?"


def check_save_path(value: str, protected: Mapping[str, str] | None = None) -> str | None:
    """Why a checkpoint cannot be saved at ``value`` (names shown with control characters escaped), or None.

    As ``--save`` is checked (``check_output``): the folder must take new
    files; a folder, a stream (/dev/stdout, a FIFO, a device), a name the
    system refuses (too long, ending in '/'), one of ``protected`` or an
    existing file that is not a checkpoint is no place for one. An existing
    checkpoint is left to the question that asks before replacing it.
    """
    if not value:
        return "type a file name, e.g. run.npz"
    try:  # the name as typed (~ expanded): Path() would drop a final '/'
        check_output(os.path.expanduser(value), "checkpoint", protected or {}, holds_checkpoint, "an rnntui checkpoint")
    except OutputError as err:
        return printable(str(err))
    return None


def start_controller(session: Session) -> Controller:
    """The engine for the app: a process of its own, or a thread when RNNTUI_ENGINE=thread."""
    if os.environ.get(ENGINE_ENV, "").strip().lower() == "thread":
        return start_in_thread(session)
    return start_engine_process(session)


def run_app(session: Session, protected: Mapping[str, str] | None = None) -> int:
    """Open the debugger on ``session`` (``protected``: see RnntuiApp); returns the exit status. The engine
    ends with the app."""
    controller = start_controller(session)
    try:
        app = RnntuiApp(controller, protected)
        result = app.run()
    finally:
        controller.close()
    return int(result or 0) if app.return_code is None else app.return_code
