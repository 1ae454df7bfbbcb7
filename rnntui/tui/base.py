"""What every panel shares: run facts, and the reactives the screen binds."""

from __future__ import annotations

from dataclasses import dataclass

from textual.reactive import reactive
from textual.widget import Widget

from ..engine import Corpus, StepRecord
from ..engine.trainer import training_length


@dataclass(frozen=True)
class RunInfo:
    """Facts about the run that do not change from step to step."""

    corpus: Corpus  # the training text (for the input window's context)
    hidden_size: int  # H
    val_frac: float = 0.0  # the fraction held out at the end of the text

    @property
    def vocab(self) -> tuple[str, ...]:
        return self.corpus.vocab

    @property
    def training_chars(self) -> int:
        """The characters training reads: the text less its held-out end."""
        return training_length(len(self.corpus), self.val_frac)


class Panel(Widget, can_focus=True):
    """A titled panel that draws the newest StepRecord.

    The screen binds ``record``, ``cursor_t`` and ``unit`` with ``data_bind``;
    a panel never reaches into the trainer. ``record`` is None before the
    first step.
    """

    DEFAULT_CSS = """
    Panel {
        border: round $primary 50%;
        border-title-color: $text;
        padding: 0 1;
    }
    Panel:focus-within, Panel:focus {
        border: round $accent;
    }
    """

    TITLE = ""  # shown in the border

    record: reactive[StepRecord | None] = reactive(None)
    cursor_t: reactive[int] = reactive(0)  # selected timestep of the window
    unit: reactive[int] = reactive(0)  # selected hidden unit

    def __init__(self, info: RunInfo, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.info = info
        self.border_title = self.TITLE

    def clamp_t(self, t: int) -> int:
        """``t`` clamped to the current window (0 before the first step)."""
        if self.record is None:
            return 0
        return max(0, min(t, self.record.seq_length - 1))
