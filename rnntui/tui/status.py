"""The header line: what is being trained, where it stands, and the run state."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ..engine import StepRecord
from .base import RunInfo


def fmt_int(n: int) -> str:
    """1234567 -> '1,234,567'."""
    return f"{n:,}"


class StatusBar(Widget):
    """One or two lines of run facts; the screen binds ``record``, ``state`` and ``rate``."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $panel;
        color: $text;
        padding: 0 1;
    }
    """

    record: reactive[StepRecord | None] = reactive(None)
    state: reactive[str] = reactive("paused")  # paused, running, stopped: <reason>, ...
    rate: reactive[float] = reactive(0.0)  # iterations per second while running
    done: reactive[int] = reactive(0)  # iterations done before any record was shown (a resumed run)

    def __init__(self, info: RunInfo, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.info = info

    def render(self) -> Text:
        corpus = self.info.corpus
        rec = self.record
        text = Text(overflow="fold")
        text.append(self.state_label(), style=self.state_style())
        text.append(f" │ {corpus.name}", style="bold")
        text.append(f" {fmt_int(len(corpus))} chars V={corpus.vocab_size} H={self.info.hidden_size}")
        if rec is None and self.done:
            text.append(f" │ resumed after {fmt_int(self.done)} iterations: press space to step", style="dim")
        elif rec is None:
            text.append(" │ no step yet", style="dim")
        else:
            text.append(f" │ iter {fmt_int(rec.iteration)}", style="bold")
            text.append(f" │ p {fmt_int(rec.position)}/{fmt_int(len(corpus))}")
            text.append(f" │ loss {rec.loss:.3f}")
            text.append(f" │ smooth {rec.smooth_loss:.3f}", style="bold")
        text.append(f" │ {self.rate:,.0f} it/s")
        self._fit_height(text)
        return text

    def _fit_height(self, text: Text) -> None:
        """Take as many rows as the text needs; a layout pass happens only when that number changes."""
        width = max(1, self.content_size.width)
        rows = max(1, -(-text.cell_len // width))
        current = self.styles.height.value if self.styles.height is not None else None
        if rows != current:
            self.call_later(setattr, self.styles, "height", rows)

    def state_label(self) -> str:
        """The state with a symbol: ▶ running, ⏸ paused, ■ stopped: reason."""
        if self.state == "running":
            return "▶ running"
        if self.state == "paused":
            return "⏸ paused"
        return f"■ {self.state}"

    def state_style(self) -> str:
        if self.state == "running":
            return "bold green"
        if self.state == "paused":
            return "bold yellow"
        return "bold red"
