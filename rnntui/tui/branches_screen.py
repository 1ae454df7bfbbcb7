"""The branch list (b): every line of training, and going on with a kept one.

A change of hyperparameters after going back keeps the old line as a branch
under its name (see rnntui.engine.timeline). The list shows each line: where it
forked, what changed there, how far it got, its latest evaluation, and whether
it is live, kept (its training state is held: Enter goes on with it) or curves
only (read from a checkpoint). The change, the last column, takes the room the
others leave: in full, with each setting named by its placeholder (``LR 0.1→0.3``),
or cut with an ellipsis. It dismisses with the name chosen, or None.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

from ..engine.control import Mirror
from ..engine.session import Branch
from ..engine.timeline import KEPT_BUDGET_BYTES
from .dialogs import modal_box_css
from .drawing import fit
from .loss_curve import short_event_text

REFRESH_S = 0.5  # how often the list follows the live line's progress
COLUMNS = ("branch", "state", "from", "furthest", "latest bpc", "change")  # the change last: it may be long
LIVE, KEPT, CURVES_ONLY = "live", "kept", "curves only"
BUDGET_NOTE = (
    f"Kept branches hold at most {KEPT_BUDGET_BYTES / 2**20:g} MiB together (their own snapshots and "
    "curves); when a new one would go over, the oldest is dropped first and a note says so. "
    "Curves only: a branch saved in a checkpoint keeps its curves, not its training state."
)


def fit_change(change: str, room: int) -> str:
    """``change`` (``clip 5.0 -> 1.0; learning_rate 0.1 -> 0.3``) in at most ``room`` cells: in full,
    with each setting named by its placeholder (``C 5.0→1.0; LR 0.1→0.3``), or that cut with an ellipsis."""
    short = "; ".join(short_event_text(part) for part in change.split("; "))
    text = fit(room, change, short)
    return text if cell_len(text) <= room else text[: max(room - 1, 0)] + "…"


def branch_state(branch: Branch) -> str:
    return LIVE if branch.live else KEPT if branch.switchable else CURVES_ONLY


def latest_bpc(evaluations: tuple) -> str:
    """The latest evaluation's held-out bpc (``train`` bpc without a held-out part), or a dash."""
    if not evaluations:
        return "—"
    latest = evaluations[-1]
    if latest.val_bpc is not None:
        return f"{latest.val_bpc:.3f} @ {latest.iteration:,}"
    return f"train {latest.train_bpc:.3f} @ {latest.iteration:,}"


def branch_row(branch: Branch, mirror: Mirror) -> tuple[str, ...]:
    """The list's cells for ``branch``; the live line's progress and evaluations are the mirror's (current)."""
    furthest, evaluations = branch.furthest, branch.evaluations
    if branch.live:  # the list is sent when it changes; the mirror follows the live line at every update
        furthest = mirror.furthest
        evaluations = max(evaluations, mirror.evaluations, key=lambda es: es[-1].iteration if es else -1)
    start = "the start" if branch.forked_at is None else f"iter {max(branch.forked_at - 1, 0):,}"
    return (branch.name, branch_state(branch), start, f"{furthest:,}" if furthest >= 0 else "—",
            latest_bpc(evaluations), branch.change or "—")


class BranchesScreen(ModalScreen[str | None]):
    """The lines of training; Enter on a kept one dismisses with its name."""

    DEFAULT_CSS = modal_box_css("BranchesScreen", width=100, padding="0 1", max_width="100%") + """
    BranchesScreen Label {
        width: 100%;
    }
    BranchesScreen #title {
        text-style: bold;
    }
    BranchesScreen DataTable {
        height: auto;
        max-height: 12;
        margin: 1 0;
    }
    BranchesScreen #error {
        color: $warning;
    }
    BranchesScreen #note, BranchesScreen #hint {
        color: $text-muted;
    }
    """
    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, mirror: Mirror) -> None:
        super().__init__()
        self.mirror = mirror
        self._shown: tuple[list[tuple[str, ...]], int | None] = ([], None)  # the rows listed, and the change's room

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Branches: every line of training", id="title")
            yield DataTable(cursor_type="row", zebra_stripes=True)
            yield Label("", id="error")
            yield Label(BUDGET_NOTE, id="note")
            yield Label("enter: go on with the highlighted branch where it was left (a run is paused first) · "
                        "escape: close", id="hint")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        self.refresh_rows()
        live = next((i for i, b in enumerate(self.mirror.branches) if b.live), 0)
        table.move_cursor(row=live)
        table.focus()
        self.query_one("#error").display = False
        self.set_interval(REFRESH_S, self.refresh_rows)
        self.call_after_refresh(self.refresh_rows)  # the table has its width now

    def on_resize(self) -> None:
        self.call_after_refresh(self.refresh_rows)

    def change_room(self, rows: list[tuple[str, ...]]) -> int | None:
        """Cells left for the change by the other columns, each as wide as its widest cell (None before
        the table has a width)."""
        table = self.query_one(DataTable)
        width = table.scrollable_content_region.width
        if width <= 0:
            return None
        padding = 2 * table.cell_padding
        others = sum(max(cell_len(text) for text in (header, *(row[i] for row in rows))) + padding
                     for i, header in enumerate(COLUMNS[:-1]))
        return width - others - padding

    def refresh_rows(self) -> None:
        """Rebuild the list when what it shows changed (keeping the highlighted row)."""
        rows = [branch_row(b, self.mirror) for b in self.mirror.branches]
        room = self.change_room(rows)
        if (rows, room) == self._shown:
            return
        self._shown = rows, room
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        for branch, row in zip(self.mirror.branches, rows):
            change = row[-1] if room is None else fit_change(row[-1], room)
            table.add_row(*row[:-1], change, key=branch.name)
        table.move_cursor(row=min(cursor, len(rows) - 1))

    @on(DataTable.RowSelected)
    def _chosen(self, event: DataTable.RowSelected) -> None:
        branch = next(b for b in self.mirror.branches if b.name == event.row_key.value)
        problem = None
        if branch.live:
            problem = f"{branch.name!r} is the live branch already"
        elif not branch.switchable:
            problem = f"{branch.name!r} has only its curves (from a checkpoint): it cannot be continued"
        if problem is None:
            self.dismiss(branch.name)
            return
        error = self.query_one("#error", Label)
        error.update(problem)
        error.display = True

    def action_close(self) -> None:
        self.dismiss(None)
