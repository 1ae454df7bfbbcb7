"""The hyperparameters dialog: change the live training settings while paused."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from ..engine import RnntuiError
from ..engine.config import Setting, adjustable_fields, settings
from ..engine.control import Controller
from ..engine.errors import ConfigError
from .dialogs import modal_box_css

FIELDS: tuple[tuple[str, Setting], ...] = tuple((name, s) for name, s in settings() if name in adjustable_fields())


def parse_number(name: str, setting: Setting, text: str) -> float | int:
    """The number ``text`` spells for field ``name``; raises ValueError with a message for the form."""
    text = text.strip()
    try:
        return setting.kind(text)
    except ValueError:
        wanted = "a whole number" if setting.kind is int else "a number"
        raise ValueError(f"{name} must be {wanted}, got {text!r}") from None


class HyperparamsScreen(ModalScreen[str | None]):
    """A form with the live hyperparameters; dismisses with a summary of the change, or None."""

    DEFAULT_CSS = modal_box_css("HyperparamsScreen", width=78, padding="0 1", max_width="100%") + """
    HyperparamsScreen #title {
        text-style: bold;
        margin-bottom: 1;
    }
    HyperparamsScreen .row {
        height: 1;
    }
    HyperparamsScreen .row Label {
        width: 15;
    }
    HyperparamsScreen .row Input {
        width: 14;
        height: 1;
        border: none;
        padding: 0 1;
        background: $boost;
    }
    HyperparamsScreen .row Input:focus {
        background: $primary 40%;
    }
    HyperparamsScreen .row .meaning {
        width: 1fr;
        padding-left: 2;
        color: $text-muted;
    }
    HyperparamsScreen .error {
        width: 100%;
        color: $error;
        padding-left: 16;
    }
    HyperparamsScreen #buttons {
        height: auto;
        margin-top: 1;
        align-horizontal: right;
    }
    HyperparamsScreen #buttons Button {
        margin-left: 2;
    }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.controller = controller

    def compose(self) -> ComposeResult:
        mirror = self.controller.mirror
        with Vertical():
            yield Label(f"Hyperparameters from iteration {mirror.iteration:,} on", id="title")
            for name, setting in FIELDS:
                with Horizontal(classes="row"):
                    yield Label(name)
                    yield Input(str(getattr(mirror.config, name)), id=name)
                    yield Label(setting.help, classes="meaning")
                yield Label("", classes="error", id=f"{name}-error")
            yield Label("", classes="error", id="form-error")
            with Horizontal(id="buttons"):
                yield Button("Apply (enter)", variant="primary", compact=True, id="apply")
                yield Button("Cancel (escape)", compact=True, id="cancel")

    def on_mount(self) -> None:
        for label in self.query(".error"):
            label.display = False
        self.query_one(f"#{FIELDS[0][0]}", Input).focus()

    def show_error(self, name: str, message: str | None) -> None:
        """Show ``message`` under field ``name`` ("form" for the whole form), or hide it."""
        label = self.query_one(f"#{name}-error", Label)
        label.update(message or "")
        label.display = bool(message)

    # --- reading the form --------------------------------------------------
    def read_field(self, name: str, setting: Setting) -> tuple[float | int | None, str | None]:
        """(value, None) for a valid field ``name``, else (None, what is wrong with it)."""
        try:
            value = parse_number(name, setting, self.query_one(f"#{name}", Input).value)
            self.controller.mirror.config.replace(**{name: value})
        except ValueError as err:
            return None, str(err)
        except ConfigError as err:
            return None, err.problem
        return value, None

    def read_changes(self) -> dict[str, float | int] | None:
        """The changed fields, validated; None (with messages shown) when any field is bad."""
        config = self.controller.mirror.config
        changes: dict[str, float | int] = {}
        ok = True
        for name, setting in FIELDS:
            value, problem = self.read_field(name, setting)
            self.show_error(name, problem)
            if problem is not None:
                ok = False
            elif value != getattr(config, name):
                changes[name] = value
        return changes if ok else None

    @on(Input.Changed)
    def _edited(self, event: Input.Changed) -> None:
        """A field's message follows its text as it is typed: shown while the text is bad, gone once it is
        good; the form's message (the engine's refusal) goes with any edit."""
        name = event.input.id
        if self.query_one(f"#{name}-error", Label).display:
            self.show_error(name, self.read_field(name, dict(FIELDS)[name])[1])
        self.show_error("form", None)

    # --- actions -----------------------------------------------------------
    @on(Input.Submitted)
    @on(Button.Pressed, "#apply")
    def action_apply(self) -> None:
        """Validate every field; apply the changed ones, or nothing if any is bad."""
        changes = self.read_changes()
        if changes is None:
            return
        if not changes:
            self.dismiss(None)
            return
        config = self.controller.mirror.config
        try:
            self.controller.set_hyperparameters(**changes)
        except RnntuiError as err:
            self.show_error("form", err.problem)
            return
        summary = ", ".join(f"{name} {getattr(config, name)} -> {value}" for name, value in changes.items())
        self.dismiss(summary)  # a new branch is told once, by the engine's notice

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without changing anything."""
        self.dismiss(None)
