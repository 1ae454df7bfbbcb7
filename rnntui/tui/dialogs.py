"""Small modal prompts: a number, a line of text, a yes/no question."""

from __future__ import annotations

import re
from typing import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label


def modal_box_css(name: str, width: int = 64, padding: str = "1 2", max_width: str = "95%") -> str:
    """CSS for a modal screen ``name`` that shows one centred, bordered Vertical box."""
    return f"""
{name} {{
    align: center middle;
}}
{name} > Vertical {{
    width: {width};
    max-width: {max_width};
    height: auto;
    max-height: 100%;
    border: thick $accent;
    background: $surface;
    padding: {padding};
}}
"""


DIALOG_CSS = """
{name} Label {
    width: 100%;
}
{name} .error {
    color: $error;
    height: auto;
}
{name} Horizontal {
    height: auto;
    align-horizontal: right;
}
"""


class TextPrompt(ModalScreen[str | None]):
    """Ask for one line of text; ``check`` turns it into an error message or None."""

    DEFAULT_CSS = modal_box_css("TextPrompt") + DIALOG_CSS.replace("{name}", "TextPrompt")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, value: str = "", placeholder: str = "", check: Callable[[str], str | None] | None = None) -> None:
        super().__init__()
        self._title = title
        self._value = value
        self._placeholder = placeholder
        self._check = check

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title)
            yield Input(value=self._value, placeholder=self._placeholder, id="answer")
            yield Label("", classes="error", id="error")
            yield Label("enter: accept · escape: cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        problem = self._check(value) if self._check else None
        if problem:
            self.query_one("#error", Label).update(problem)
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)


_GROUPED = re.compile(r"\d{1,3}(?:,\d{3})+")  # 12,345 as the prompts themselves write numbers


def whole_number(text: str) -> int | None:
    """The whole number typed: digits, or digits grouped by commas (``1,000``); None for anything else."""
    text = text.strip()
    if _GROUPED.fullmatch(text):
        text = text.replace(",", "")
    return int(text) if text.isdigit() else None


def int_checker(minimum: int, maximum: int | None = None) -> Callable[[str], str | None]:
    """A ``check`` for TextPrompt that accepts whole numbers in a range (read with :func:`whole_number`)."""

    def check(value: str) -> str | None:
        n = whole_number(value)
        if n is None:
            return f"type a whole number (at least {minimum})"
        if n < minimum or (maximum is not None and n > maximum):
            upper = f" and at most {maximum:,}" if maximum is not None else ""
            return f"the number must be at least {minimum:,}{upper}"
        return None

    return check


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question; y answers yes, n/escape no, enter the focused button (yes unless told otherwise)."""

    DEFAULT_CSS = modal_box_css("ConfirmDialog") + DIALOG_CSS.replace("{name}", "ConfirmDialog")
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, yes: str = "Yes", no: str = "No",
                 decided: Callable[[bool], None] | None = None, enter_answers_yes: bool = True) -> None:
        """``decided`` is told the answer at once, before the dialog closes and its result
        callback runs (keys typed ahead are handled in between). Enter presses the focused
        button: yes, or no when ``enter_answers_yes`` is False (for a question whose yes loses
        something, so that a second Enter typed ahead does not)."""
        super().__init__()
        self._question = question
        self._yes = yes
        self._no = no
        self._decided = decided
        self._focused = "#yes" if enter_answers_yes else "#no"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._question)
            with Horizontal():
                yield Button(f"{self._yes} (y)", variant="primary", id="yes")
                yield Button(f"{self._no} (n)", id="no")

    def on_mount(self) -> None:
        self.query_one(self._focused, Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_answer(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        if self._decided is not None:
            self._decided(answer)
        self.dismiss(answer)
