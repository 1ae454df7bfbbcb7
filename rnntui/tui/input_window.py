"""The input window: the corpus around the current window, inputs over targets, a timestep cursor."""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.reactive import reactive

from ..engine import StepRecord
from . import scale
from .base import Panel
from .glyphs import code_point, describe, glyph, shown
from .messages import CursorMoved

LABEL_WIDTH = 4  # "in  " / "out " before the first timestep column
CONTEXT = Style(dim=True)
WINDOW = Style(bold=True, bgcolor="grey30")
CURSOR = Style(reverse=True, bold=True)
LABEL = Style(bold=True)
RESET = Style(bold=True, color="yellow")
EMPTY_HINT = "press space to take the first step"


@dataclass(frozen=True)
class View:
    """Which timesteps are on screen and where: columns ``col .. col+visible`` show ``first .. first+visible``."""

    first: int  # first visible timestep
    visible: int  # number of visible timesteps
    col: int  # column of timestep ``first`` in every row


def keep_visible(scroll: int, cursor: int, total: int, visible: int) -> int:
    """The smallest change to ``scroll`` that keeps ``cursor`` inside the visible columns."""
    if total <= visible:
        return 0
    margin = min(3, visible // 4)
    if cursor < scroll + margin:
        scroll = cursor - margin
    elif cursor > scroll + visible - 1 - margin:
        scroll = cursor - visible + 1 + margin
    return max(0, min(scroll, total - visible))


def plan_view(total: int, width: int, cursor: int, scroll: int, before: int, after: int) -> View:
    """Place ``total`` timesteps in ``width`` cells.

    ``before`` and ``after`` count the corpus characters around the window;
    spare columns go to the context on both sides, more to the side that has text.
    """
    room = max(1, width - LABEL_WIDTH)
    if total <= room:
        slack = room - total
        extra = min(max(slack // 2, slack - after), max(0, before - LABEL_WIDTH))
        return View(0, total, LABEL_WIDTH + extra)
    visible = max(1, room - 1)  # one cell left for the "more" arrow
    return View(keep_visible(scroll, cursor, total, visible), visible, LABEL_WIDTH)


ROW_ORDER = ("context", "in", "levels", "out", "marker", "detail", "status", "legend")  # top to bottom
ROW_PRIORITY = ("in", "out", "levels", "detail", "status", "context", "legend", "marker")  # kept first when short


def choose_rows(height: int, coloured: bool, plain: bool = False) -> list[str]:
    """The rows that fit in ``height`` lines, in drawing order.

    The legend only when coloured by a unit; the unit's values as bar glyphs
    ("levels") only when coloured and the terminal shows no colour.
    """
    def wanted_row(name: str) -> bool:
        return {"legend": coloured, "levels": coloured and plain}.get(name, True)

    wanted = [name for name in ROW_PRIORITY if wanted_row(name)][:height]
    return [name for name in ROW_ORDER if name in wanted]


def detail_line(record: StepRecord, vocab: tuple[str, ...], t: int, width: int) -> str:
    """The cursor's timestep in words, in the longest form that fits ``width``."""
    x, y = vocab[int(record.inputs[t])], vocab[int(record.targets[t])]
    p, loss = float(record.target_probs[t]), float(record.losses[t])
    codes = f" ({code_point(x)}→{code_point(y)})" if max(ord(x), ord(y)) > 0x7E else ""
    forms = (
        f"t={t}  input {describe(x)} → target {describe(y)}  p(target)={p:.3g}  loss term {loss:.2f}",
        f"t={t}  {shown(x)}→{shown(y)}{codes}  p(target)={p:.3g}  loss term {loss:.2f}",
        f"t={t} {shown(x)}→{shown(y)}{codes} p={p:.3g} loss {loss:.2f}",
        f"t={t} {shown(x)}→{shown(y)} p={p:.3g} loss {loss:.2f}",
    )
    return next((form for form in forms if cell_len(form) <= width), forms[-1])


class InputWindow(Panel):
    """The training text around the window, the inputs row over the targets row, and a timestep cursor.

    ``color_unit`` (None = plain) colours each input by that unit's h_t on the
    fixed diverging scale; while set, it follows the selected ``unit``.
    Moving the cursor (keys or a click) posts :class:`CursorMoved`; the owner
    binds ``cursor_t`` back.
    """

    TITLE = "Input window"
    BINDINGS = [
        Binding("left", "move_cursor(-1)", "earlier t", show=False),
        Binding("right", "move_cursor(1)", "later t", show=False),
        Binding("home", "jump_cursor(0)", "first t", show=False),
        Binding("end", "jump_cursor(-1)", "last t", show=False),
    ]

    color_unit: reactive[int | None] = reactive(None)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._scroll = 0
        self._clickable: dict[int, View] = {}  # content line -> timesteps drawn on it

    def watch_unit(self, unit: int) -> None:
        """Keep colouring by the selected unit once colouring is on."""
        if self.color_unit is not None:
            self.color_unit = unit

    # --- keys and mouse ----------------------------------------------------
    def action_move_cursor(self, delta: int) -> None:
        """Move the cursor ``delta`` timesteps: sent as a move for the owner to add to its own cursor.

        The panel waits for the owner to bind the new position back rather than
        drawing it at once: drawn alone, it took the next frame, and the other
        panels showing the cursor had to wait a whole frame interval after it.
        Every key is sent, even at an edge: the position shown may be behind
        moves still on their way (End then Left), and the owner clamps.
        """
        if self.record is not None:
            self.post_message(CursorMoved(delta, relative=True))

    def action_jump_cursor(self, t: int) -> None:
        """Jump to timestep ``t`` (-1 = the last one)."""
        if self.record is not None:
            self._post_cursor(t if t >= 0 else self.record.seq_length - 1)

    def action_toggle_colour(self) -> None:
        """Colour the inputs by the selected unit, or stop colouring."""
        self.color_unit = None if self.color_unit is not None else self.unit

    def on_click(self, event: events.Click) -> None:
        """A click on a character of the window moves the cursor there."""
        offset = event.get_content_offset(self)
        view = self._clickable.get(offset.y) if offset is not None else None
        if view is not None and view.col <= offset.x < view.col + view.visible:
            self._post_cursor(view.first + offset.x - view.col)

    def _post_cursor(self, t: int) -> None:
        """Ask the owner to move the cursor to timestep ``t`` (drawn when it binds it back, as a key's move)."""
        if self.record is not None:
            self.post_message(CursorMoved(self.clamp_t(t)))

    # --- drawing ---------------------------------------------------------
    def render(self) -> Text:
        """The visible lines, chosen by priority to fit the panel's height."""
        rec = self.record
        self._clickable = {}
        if rec is None:
            return Text(EMPTY_HINT, style="dim")
        width, height = max(1, self.size.width), max(1, self.size.height)
        t = self.clamp_t(self.cursor_t)
        after = len(self.info.corpus) - rec.position - rec.seq_length
        view = plan_view(rec.seq_length, width, t, self._scroll, rec.position, after)
        self._scroll = view.first
        unit = self._colour_unit(rec)
        plain = bool(getattr(self.app, "no_color", False))
        shown = choose_rows(height, coloured=unit is not None, plain=plain)
        rows = {
            "context": lambda: self._context_row(rec, view, t, width),
            "in": lambda: self._timestep_row("in", rec.inputs, rec, view, t, unit),
            "out": lambda: self._timestep_row("out", rec.targets, rec, view, t, None),
            "levels": lambda: self._levels_row(rec, view, t, unit),
            "marker": lambda: Text(" " * (view.col + t - view.first) + "^", style="bold"),
            "detail": lambda: self._detail_row(rec, t, width, mark_reset="status" not in shown),
            "status": lambda: self._status_row(rec),
            "legend": lambda: self._legend_row(unit, plain),
        }
        lines = []
        for number, name in enumerate(shown):
            if name in ("context", "in", "out"):
                self._clickable[number] = view
            line = rows[name]()
            line.truncate(width, overflow="ellipsis")
            lines.append(line)
        out = Text("\n").join(lines)
        out.no_wrap = True
        return out

    def _colour_unit(self, rec: StepRecord) -> int | None:
        """``color_unit`` when it names a unit of this record, else None."""
        u = self.color_unit
        return u if u is not None and 0 <= u < rec.hs.shape[1] else None

    def _timestep_row(self, label: str, indices, rec: StepRecord, view: View, t: int, unit: int | None) -> Text:
        """A label then one glyph per visible timestep, the cursor in reverse video."""
        more_left = "‹" if view.first > 0 else " "
        row = Text()
        row.append(label.ljust(view.col - 1) + more_left, LABEL)
        for k in range(view.first, view.first + view.visible):
            ch = glyph(self.info.vocab[int(indices[k])])
            if unit is not None:
                style = scale.cell_style(float(rec.hs[k, unit]), bold=k == t) + Style(underline=k == t)
            else:
                style = CURSOR if k == t else Style()
            row.append(ch, style)
        if view.first + view.visible < rec.seq_length:
            row.append("›", LABEL)
        return row

    def _levels_row(self, rec: StepRecord, view: View, t: int, unit: int) -> Text:
        """The unit's h after each input as a bar glyph (for a terminal without colour), aligned with the inputs."""
        row = Text()
        row.append("h".ljust(view.col), LABEL)
        for k in range(view.first, view.first + view.visible):
            row.append(scale.level_glyph(float(rec.hs[k, unit])), CURSOR if k == t else Style())
        return row

    def _context_row(self, rec: StepRecord, view: View, t: int, width: int) -> Text:
        """Corpus text around the window (dim), the window highlighted, aligned with the rows."""
        corpus = self.info.corpus
        start = rec.position + view.first - view.col  # corpus index drawn in column 0
        row = Text()
        for col in range(width):
            i = start + col
            if not 0 <= i < len(corpus):
                row.append(" ")
                continue
            k = i - rec.position
            if 0 <= k < rec.seq_length:
                style = WINDOW + Style(underline=True) if k == t else WINDOW
            else:
                style = CONTEXT
            row.append(glyph(corpus.vocab[int(corpus.data[i])]), style)
        return row

    def _detail_row(self, rec: StepRecord, t: int, width: int, mark_reset: bool) -> Text:
        """The detail line; it carries the reset mark when the status row does not fit."""
        row = Text()
        if mark_reset and rec.reset:
            row.append("↺ ", RESET)
        row.append(detail_line(rec, self.info.vocab, t, width - cell_len(row.plain)))
        return row

    def _status_row(self, rec: StepRecord) -> Text:
        """Position in the corpus, window length, iteration, and the hprev reset mark."""
        row = Text()
        if rec.reset:
            row.append("↺ hprev reset", RESET)
            row.append("  ")
        row.append(f"p={rec.position}/{self.info.training_chars}  T={rec.seq_length}  iter {rec.iteration}")
        return row

    def _legend_row(self, unit: int, plain: bool = False) -> Text:
        """What the input colours mean."""
        if plain:
            return Text(f"unit {unit}: h after each input as bar height, ▁ -1 … ▄ 0 … █ +1")
        row = Text(f"coloured by unit {unit} (h after each input; ")
        row.append("blue -1", scale.cell_style(-1.0))
        row.append(" … ")
        row.append("red +1", scale.cell_style(1.0))
        row.append(")")
        return row
