"""The breakpoints dialog: list, add, switch on/off and remove the session's breakpoints."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList

from ..engine import RnntuiError
from ..engine.breakpoints import VALID_FORMS, Breakpoint
from ..engine.control import Controller, EngineLost
from .dialogs import modal_box_css

HINT = "enter add · tab list/input · space/t on/off · d/del remove · esc close"
EMPTY = "no breakpoints yet: type one below and press enter"


def breakpoint_row(number: int, bp: Breakpoint) -> Content:
    """One line of the list: the 1-based number, on/off, and the canonical text (dim when off)."""
    state = ("on ", "bold $success") if bp.enabled else ("off", "$text-muted")
    text = (bp.source, "") if bp.enabled else (bp.source, "$text-muted")
    return Content.assemble(f"{number:>2}  ", state, "  ", text)


class BreakpointList(OptionList):
    """The list of breakpoints; its keys act on the highlighted one through the screen."""

    BINDINGS = [
        Binding("space,t", "screen.toggle_highlighted", "On/off"),
        Binding("delete,d", "screen.remove_highlighted", "Remove"),
    ]


class BreakpointsScreen(ModalScreen[None]):
    """Edit the session's breakpoints through the controller; dismisses with None."""

    DEFAULT_CSS = modal_box_css("BreakpointsScreen", width=78, padding="0 1", max_width="100%") + """
    BreakpointsScreen Label {
        width: 100%;
    }
    BreakpointsScreen #title {
        text-style: bold;
    }
    BreakpointsScreen BreakpointList {
        height: auto;
        max-height: 10;
    }
    BreakpointsScreen #empty {
        color: $text-muted;
        padding: 1 1;
    }
    BreakpointsScreen #error {
        color: $error;
    }
    BreakpointsScreen #forms, BreakpointsScreen #hint {
        color: $text-muted;
    }
    """
    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.controller = controller

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Breakpoints: the run stops after the first iteration that meets one", id="title")
            yield BreakpointList(id="list")
            yield Label(EMPTY, id="empty")
            yield Input(placeholder="new breakpoint, e.g. spike > 3 or clip Whh > 0.1", id="new")
            yield Label("", id="error")
            yield Label(f"forms: {VALID_FORMS}", id="forms")
            yield Label(HINT, id="hint")

    def on_mount(self) -> None:
        self.refresh_list(0)
        self.show_error(None)
        self.query_one("#new", Input).focus()

    # --- display -----------------------------------------------------------
    @property
    def listing(self) -> BreakpointList:
        """The list widget."""
        return self.query_one(BreakpointList)

    def refresh_list(self, highlight: int | None) -> None:
        """Show the session's breakpoints again and highlight row ``highlight`` (clamped)."""
        items = list(self.controller.mirror.breakpoints)
        listing = self.listing
        listing.set_options(breakpoint_row(i + 1, bp) for i, bp in enumerate(items))
        listing.display = bool(items)
        self.query_one("#empty", Label).display = not items
        if items and highlight is not None:
            listing.highlighted = min(max(highlight, 0), len(items) - 1)

    def show_error(self, message: str | None) -> None:
        """Show ``message`` under the input, or hide the error line."""
        error = self.query_one("#error", Label)
        error.update(message or "")
        error.display = bool(message)

    # --- actions -----------------------------------------------------------
    @on(Input.Submitted, "#new")
    def add_breakpoint(self, event: Input.Submitted) -> None:
        """Parse the input's text and append it; a parse error stays on screen."""
        if not self.edit(self.controller.add_breakpoint, event.value):
            return
        self.show_error(None)
        event.input.clear()
        self.refresh_list(len(self.controller.mirror.breakpoints) - 1)

    def action_toggle_highlighted(self) -> None:
        """Switch the highlighted breakpoint on or off."""
        index = self.listing.highlighted
        if index is None:
            return
        self.edit(self.controller.toggle_breakpoint, index)
        self.refresh_list(index)

    def action_remove_highlighted(self) -> None:
        """Remove the highlighted breakpoint; the next one (or the new last one) is highlighted."""
        index = self.listing.highlighted
        if index is None:
            return
        self.edit(self.controller.remove_breakpoint, index)
        self.refresh_list(index)
        if not self.controller.mirror.breakpoints:
            self.query_one("#new", Input).focus()

    def edit(self, change, argument) -> bool:
        """Make a change through the controller; a problem is shown under the input (False returned)."""
        try:
            change(argument)
        except EngineLost as err:
            self.show_error(err.problem)
            return False
        except RnntuiError as err:
            self.show_error(err.problem)  # the valid forms are listed under it already
            return False
        return True

    def action_close(self) -> None:
        """Close the dialog."""
        self.dismiss(None)
