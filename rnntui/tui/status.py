"""The header line: what is being trained, where it stands, and the run state."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ..engine import StepRecord
from ..engine.evaluation import Evaluation
from ..engine.session import Phase, RunState, StopCause
from .base import RunInfo
from .drawing import count


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


def evaluation_variants(evaluations: tuple[Evaluation, ...], busy: tuple[str, int, int] | None) -> list[Text]:
    """The latest evaluation (and long work going on in the engine) in words, longest form first.

    ``held-out 2.301 bpc @ 1,500`` (the iteration is the number of updates the
    model had), ``train 2.143 bpc @ 1,500`` without a held-out part; shorter
    forms drop the iteration, then the words (then, while work goes on, the figure).
    Empty when there is nothing to say.
    """
    figures: list[str] = []
    if evaluations:
        latest = evaluations[-1]
        held_out = latest.val_bpc is not None
        value = latest.val_bpc if held_out else latest.train_bpc
        name, short = ("held-out", "val") if held_out else ("train", "train")
        figures = [f"{name} {value:.3f} bpc @ {fmt_int(latest.iteration)}", f"{name} {value:.3f} bpc",
                   f"{short} {value:.3f}"]
    if busy is None:
        return [Text(f, style="bold") for f in figures]
    what, done, total = busy
    share = f"{100 * done / total:.0f}%" if total else "…"
    work, short_work = f"{what} {share}", f"{what[:4]} {share}"  # "evaluating 45%", "eval 45%"
    if not figures:
        return [Text(work, style="italic"), Text(short_work, style="italic")]
    pairs = [(figures[0], work), (figures[1], work), (figures[2], short_work)]
    # last, the work alone: while it goes on, the figure it will replace can wait
    return [Text.assemble((f, "bold"), " · ", (w, "italic")) for f, w in pairs] + [Text(short_work, style="italic")]


class StatusBar(Widget):
    """Two lines of run facts (more only when one item is longer than a line).

    The first line says how the run stands (state, corpus, rate), the second
    where it stands (iteration, position, losses). Keeping the two apart keeps
    the header's height the same whether running or paused, so the panels below
    never shift. The screen binds ``record``, ``state``, ``rate``,
    ``evaluations`` and ``busy``. The latest evaluation takes the longest of
    its forms that still fits on the second line (see evaluation_variants);
    the last run's rate gets shorter, or gives way, when the state needs the
    first line (paused in the past).
    """

    DEFAULT_CSS = """
    StatusBar {
        height: 2;
        background: $panel;
        color: $text;
        padding: 0 1;
    }
    """

    record: reactive[StepRecord | None] = reactive(None)
    state: reactive[RunState] = reactive(RunState.paused)
    rate: reactive[float] = reactive(0.0)  # iterations per second while running (the last run's once it ends)
    done: reactive[int] = reactive(0)  # iterations done before any record was shown (a resumed run)
    evaluations: reactive[tuple[Evaluation, ...]] = reactive(())  # up to the model shown, by iteration
    busy: reactive[tuple[str, int, int] | None] = reactive(None)  # long work inside a step of the run

    def __init__(self, info: RunInfo, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.info = info

    def render(self) -> Text:
        """Each line's items joined by " │ ", broken into more lines between items, never inside one."""
        width = max(1, self.content_size.width)
        text = Text("\n", overflow="fold").join(wrap_items(line, width) for line in self.lines())
        self._fit_height(text)
        return text

    def lines(self) -> tuple[list[Text], list[Text]]:
        """The facts of each line as styled pieces, in the order shown."""
        return self.run_items(), self.position_items()

    def items(self) -> list[Text]:
        """Every fact in the order shown."""
        first, second = self.lines()
        return first + second

    def run_items(self) -> list[Text]:
        """How the run stands: state, what is trained, the rate."""
        corpus = self.info.corpus
        items = [
            Text(self.state_label(), style=self.state_style()),
            Text.assemble(
                (corpus.name, "bold"), f" {fmt_int(len(corpus))} chars V={corpus.vocab_size} H={self.info.hidden_size}"
            ),
        ]
        if self.rate > 0 and self.state.is_running:
            items.append(Text(f"{self.rate:,.0f} it/s"))
        elif self.rate > 0:  # the last run's rate gives way when the state says more (paused in the past)
            rate = f"{self.rate:,.0f} it/s"
            return self._fitted(items, [Text(f"last run {rate}", style="dim"), Text(rate, style="dim")], [])
        return items

    def position_items(self) -> list[Text]:
        """Where the run stands: the record shown."""
        rec = self.record
        if rec is None and self.done:
            return [Text(f"resumed after {count(self.done, 'iteration')}: press space to step", style="dim")]
        if rec is None:
            return self._with_evaluation([Text("no step yet", style="dim")])
        furthest = self.state.furthest if self.state.phase is Phase.STOPPED else None  # paused says it above
        iteration = f"iter {fmt_int(rec.iteration)}" + ("" if furthest is None else f" (furthest {fmt_int(furthest)})")
        return self._with_evaluation([
            Text(iteration, style="bold"),
            Text(f"p {fmt_int(rec.position)}/{fmt_int(self.info.training_chars)}"),
            Text(f"loss {rec.loss:.3f}"),
            Text(f"smooth {rec.smooth_loss:.3f}", style="bold"),
        ])

    def _with_evaluation(self, items: list[Text]) -> list[Text]:
        """``items`` and the evaluation item in the longest form that fits (the shortest when none does)."""
        variants = evaluation_variants(self.evaluations, self.busy)
        return self._fitted(items, variants, variants[-1:])

    def _fitted(self, items: list[Text], variants: list[Text], otherwise: list[Text]) -> list[Text]:
        """``items`` and the first of ``variants`` that keeps them on as many lines, else ``items + otherwise``."""
        width = max(1, self.content_size.width)
        rows = len(wrap_items(items, width).plain.split("\n"))
        chosen = next((v for v in variants if len(wrap_items(items + [v], width).plain.split("\n")) == rows), None)
        return items + ([chosen] if chosen is not None else otherwise)

    def _fit_height(self, text: Text) -> None:
        """Take as many rows as the text takes drawn (an item longer than a line folds onto more);
        a layout pass happens only when that number changes."""
        rows = len(text.wrap(self.app.console, max(1, self.content_size.width)))
        current = self.styles.height.value if self.styles.height is not None else None
        if rows != current:
            self.call_later(setattr, self.styles, "height", rows)

    def state_label(self) -> str:
        """The state with a symbol: ▶ running, ⏸ paused (maybe in the past), ■ stopped: reason."""
        state = self.state
        if state.phase is Phase.RUNNING:
            return "▶ running"
        if state.phase is Phase.PAUSED:
            return "⏸ paused" if state.furthest is None else f"⏸ paused in the past (furthest {state.furthest:,})"
        if state.cause is StopCause.ENGINE_LOST:
            return f"■ engine lost: {state.message}"
        return f"■ stopped: {state.message}"

    def state_style(self) -> str:
        return STATE_STYLES[self.state.phase]


STATE_STYLES = {Phase.RUNNING: "bold green", Phase.PAUSED: "bold yellow", Phase.STOPPED: "bold red"}
