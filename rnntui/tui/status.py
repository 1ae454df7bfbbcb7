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


SEPARATOR = " │ "


def wrap_items(items: list[Text], width: int) -> Text:
    """``items`` joined by SEPARATOR, a new line started wherever the next item would not fit.

    An item longer than a whole line is folded on its own line.
    """
    out = Text(overflow="fold")
    used = 0
    for item in items:
        if used and used + len(SEPARATOR) + item.cell_len > width:
            out.append("\n")
            used = 0
        elif used:
            out.append(SEPARATOR)
            used += len(SEPARATOR)
        out.append_text(item)
        used += item.cell_len
    return out


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
    rate: reactive[float] = reactive(0.0)  # iterations per second while running (the last run's once it ends)
    done: reactive[int] = reactive(0)  # iterations done before any record was shown (a resumed run)

    def __init__(self, info: RunInfo, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.info = info

    def render(self) -> Text:
        """The items joined by " │ ", broken into lines between items, never inside one."""
        text = wrap_items(self.items(), max(1, self.content_size.width))
        self._fit_height(text)
        return text

    def items(self) -> list[Text]:
        """Each fact as its own styled piece, in the order shown."""
        corpus = self.info.corpus
        rec = self.record
        items = [
            Text(self.state_label(), style=self.state_style()),
            Text.assemble(
                (corpus.name, "bold"), f" {fmt_int(len(corpus))} chars V={corpus.vocab_size} H={self.info.hidden_size}"
            ),
        ]
        if rec is None and self.done:
            items.append(Text(f"resumed after {fmt_int(self.done)} iterations: press space to step", style="dim"))
        elif rec is None:
            items.append(Text("no step yet", style="dim"))
        else:
            items += [
                Text(f"iter {fmt_int(rec.iteration)}", style="bold"),
                Text(f"p {fmt_int(rec.position)}/{fmt_int(len(corpus))}"),
                Text(f"loss {rec.loss:.3f}"),
                Text(f"smooth {rec.smooth_loss:.3f}", style="bold"),
            ]
        if self.rate > 0 and self.state == "running":
            items.append(Text(f"{self.rate:,.0f} it/s"))
        elif self.rate > 0:
            items.append(Text(f"last run {self.rate:,.0f} it/s", style="dim"))
        return items

    def _fit_height(self, text: Text) -> None:
        """Take as many rows as the text takes drawn (an item longer than a line folds onto more);
        a layout pass happens only when that number changes."""
        rows = len(text.wrap(self.app.console, max(1, self.content_size.width)))
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
