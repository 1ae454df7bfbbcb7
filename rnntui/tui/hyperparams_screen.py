"""The hyperparameters dialog: change the live training settings while paused."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from ..engine import RnntuiError
from ..engine.errors import ConfigError
from ..engine.session import Session
from .dialogs import modal_box_css


@dataclass(frozen=True)
class Field:
    """One editable hyperparameter: its Config name, number type and a short explanation."""

    name: str
    kind: type  # float or int
    meaning: str


FIELDS = (
    Field("learning_rate", float, "Adagrad step size"),
    Field("clip", float, "gradient elements are clipped to ±clip"),
    Field("temperature", float, "sampling temperature"),
    Field("sample_every", int, "iterations between samples (0 = never)"),
    Field("sample_length", int, "characters per sample"),
)


def parse_number(field: Field, text: str) -> float | int:
    """The number ``text`` spells for ``field``; raises ValueError with a message for the form."""
    text = text.strip()
    try:
        return field.kind(text)
    except ValueError:
        wanted = "a whole number" if field.kind is int else "a number"
        raise ValueError(f"{field.name} must be {wanted}, got {text!r}") from None


def form_message(err: Exception) -> str:
    """An error's message without the command-line advice ConfigError ends with."""
    return str(err).split("; set --")[0]


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

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session

    def compose(self) -> ComposeResult:
        config = self.session.trainer.config
        with Vertical():
            yield Label(f"Hyperparameters from iteration {self.session.trainer.iteration:,} on", id="title")
            for field in FIELDS:
                with Horizontal(classes="row"):
                    yield Label(field.name)
                    yield Input(str(getattr(config, field.name)), id=field.name)
                    yield Label(field.meaning, classes="meaning")
                yield Label("", classes="error", id=f"{field.name}-error")
            yield Label("", classes="error", id="form-error")
            with Horizontal(id="buttons"):
                yield Button("Apply (enter)", variant="primary", compact=True, id="apply")
                yield Button("Cancel (escape)", compact=True, id="cancel")

    def on_mount(self) -> None:
        for label in self.query(".error"):
            label.display = False
        self.query_one(f"#{FIELDS[0].name}", Input).focus()

    def show_error(self, name: str, message: str | None) -> None:
        """Show ``message`` under field ``name`` ("form" for the whole form), or hide it."""
        label = self.query_one(f"#{name}-error", Label)
        label.update(message or "")
        label.display = bool(message)

    # --- reading the form --------------------------------------------------
    def read_changes(self) -> dict[str, float | int] | None:
        """The changed fields, validated; None (with messages shown) when any field is bad."""
        config = self.session.trainer.config
        changes: dict[str, float | int] = {}
        ok = True
        for field in FIELDS:
            problem = None
            try:
                value = parse_number(field, self.query_one(f"#{field.name}", Input).value)
                config.replace(**{field.name: value})
            except (ValueError, ConfigError) as err:
                problem, ok = form_message(err), False
            else:
                if value != getattr(config, field.name):
                    changes[field.name] = value
            self.show_error(field.name, problem)
        return changes if ok else None

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
        config = self.session.trainer.config
        try:
            branch = self.session.set_hyperparameters(**changes)
        except (RnntuiError, ValueError) as err:
            self.show_error("form", str(err))
            return
        summary = ", ".join(f"{name} {getattr(config, name)} -> {value}" for name, value in changes.items())
        self.dismiss(summary if branch is None else f"{summary}; {branch}")

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without changing anything."""
        self.dismiss(None)
