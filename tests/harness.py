"""A small app that shows one panel fed a fixed record, for panel tests and snapshots."""

from __future__ import annotations

import time
from typing import Callable

from textual.app import App, ComposeResult

from rnntui.engine import Config, Corpus, StepRecord, Trainer
from rnntui.engine.control import start_in_thread
from rnntui.engine.session import Session
from rnntui.tui.app import RnntuiApp
from rnntui.tui.base import Panel, RunInfo
from rnntui.tui.messages import CursorMoved

HARNESS_TEXT = (
    "Tick, tock, the clock counts: one, two, three.\n"
    "\tIndented line with (brackets [nested {deep}]).\n"
    "Café naïve — ünïcödé; 日本 wide.\n"
)


def fixed_run(steps: int = 5, hidden_size: int = 16, seq_length: int = 12) -> tuple[Trainer, list[StepRecord]]:
    """A deterministic small run: the harness text, seed 0, ``steps`` iterations."""
    corpus = Corpus.from_text(HARNESS_TEXT, name="harness.txt")
    trainer = Trainer(corpus, Config(hidden_size=hidden_size, seq_length=seq_length, sample_every=0))
    records = [trainer.step() for _ in range(steps)]
    return trainer, records


class PanelHarness(App):
    """Mounts one panel full-screen and sets its record, cursor and unit."""

    CSS = "Screen { layout: vertical; } Panel { height: 1fr; }"

    def __init__(
        self,
        make_panel: Callable[[RunInfo], Panel],
        record: StepRecord | None,
        info: RunInfo,
        cursor_t: int = 0,
        unit: int = 0,
    ) -> None:
        super().__init__()
        self._make_panel = make_panel
        self._record = record
        self._info = info
        self._cursor_t = cursor_t
        self._unit = unit

    def compose(self) -> ComposeResult:
        yield self._make_panel(self._info)

    def on_mount(self) -> None:
        panel = self.query_one(Panel)
        panel.record = self._record
        panel.cursor_t = self._cursor_t
        panel.unit = self._unit
        panel.focus()

    @property
    def panel(self) -> Panel:
        return self.query_one(Panel)


class ClickHarness(PanelHarness):
    """Collects the CursorMoved messages the panel posts."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.moved: list[int] = []

    def on_cursor_moved(self, message: CursorMoved) -> None:
        self.moved.append(message.t)


def harness_for(make_panel: Callable[[RunInfo], Panel], steps: int = 5, **kwargs) -> PanelHarness:
    """A PanelHarness over ``fixed_run(steps)``'s last record."""
    trainer, records = fixed_run(steps)
    info = RunInfo(corpus=trainer.corpus, hidden_size=trainer.config.hidden_size)
    return PanelHarness(make_panel, records[-1] if records else None, info, **kwargs)


def screen_lines(app: App) -> list[str]:
    """The text of every line currently on the app's screen."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def widget_text(widget) -> str:
    """The text a widget shows now (its region of the screen, border included)."""
    region = widget.region
    lines = screen_lines(widget.app)[region.y : region.bottom]
    return "\n".join(line[region.x : region.right] for line in lines)


# --- the whole app, over a session in a thread of the test's process ---------------------------

WAIT_S = 30.0  # a condition that does not hold within this long is a failure


class DebuggerApp(RnntuiApp):
    """The debugger on ``session``, whose engine runs in a thread here: a test may read the session
    itself whenever the engine is idle (between commands, or after a run ended)."""

    def __init__(self, session: Session, protected: dict[str, str] | None = None) -> None:
        self.session = session
        super().__init__(start_in_thread(session), protected)

    def on_unmount(self) -> None:
        self.controller.close()


async def wait_for(pilot, condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    """Let the app run until ``condition()`` holds (checked between short pauses); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def wait_for_run_end(pilot) -> None:
    """Wait until the screen shows that the run it started has ended."""
    screen = pilot.app.main
    await wait_for(pilot, lambda: not screen.state.is_running, "the run to end")
    await pilot.pause()
