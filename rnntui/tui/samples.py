"""Samples: text the model generated, newest first, each labelled with its iteration and temperature."""

from __future__ import annotations

import unicodedata

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from ..engine import Sample
from .base import Panel
from .drawing import count
from .glyphs import glyph

TAB_SIZE = 4
SHOWN_CHARACTERS = 2_000  # of each sample: more than the panel shows at once, and drawn in no time
_SCROLL_METHODS = {
    "up": "scroll_up",
    "down": "scroll_down",
    "page_up": "scroll_page_up",
    "page_down": "scroll_page_down",
    "home": "scroll_home",
    "end": "scroll_end",
}
_VISIBLE_CONTROL = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # categories drawn as glyphs


def sample_label(sample: Sample) -> str:
    """E.g. ``after 1,200 steps · T=1.00`` (`` · on demand`` added for those): the model's update count.

    That is the model iteration 1,200's forward pass uses. Not "iter N": a
    sample asked for while the header shows iter 1,199 comes from that model too.
    """
    demand = " · on demand" if sample.on_demand else ""
    return f"after {count(sample.iteration, 'step')} · T={sample.temperature:.2f}{demand}"


def readable(text: str) -> str:
    """Sample text as prose: newlines kept, tabs expanded, control characters as visible glyphs.

    Printable characters (wide ones included) are kept as they are.
    """
    lines = text.split("\n")
    return "\n".join(_readable_line(line).expandtabs(TAB_SIZE) for line in lines)


def _readable_line(line: str) -> str:
    """Replace control and invisible format characters of one line (tabs stay for expandtabs)."""
    return "".join(
        glyph(ch) if ch != "\t" and unicodedata.category(ch) in _VISIBLE_CONTROL else ch for ch in line
    )


def render_samples(samples: tuple[Sample, ...]) -> Text:
    """All samples, newest first: a bold label line, the text (its first SHOWN_CHARACTERS), a blank line between."""
    out = Text()
    for i, sample in enumerate(reversed(samples)):
        if i:
            out.append("\n\n")
        out.append(sample_label(sample), style="bold")
        out.append("\n")
        out.append(readable(sample.text[:SHOWN_CHARACTERS]))
        if len(sample.text) > SHOWN_CHARACTERS:
            out.append(f" … {count(len(sample.text) - SHOWN_CHARACTERS, 'more character')}", style="dim")
    return out


class SamplesPanel(Panel):
    """The last few samples, newest first, in a scrollable view.

    The screen assigns ``samples`` (newest last, as they were taken) and
    ``temperature`` (the temperature the next sample will use, shown in the
    title). The view is rebuilt only when ``samples`` changes.
    """

    TITLE = "Samples"
    BINDINGS = [
        Binding("up", "scroll_samples('up')", "Scroll up", show=False),
        Binding("down", "scroll_samples('down')", "Scroll down", show=False),
        Binding("pageup", "scroll_samples('page_up')", "Page up", show=False),
        Binding("pagedown", "scroll_samples('page_down')", "Page down", show=False),
        Binding("home", "scroll_samples('home')", "Newest", show=False),
        Binding("end", "scroll_samples('end')", "Oldest", show=False),
    ]
    DEFAULT_CSS = """
    SamplesPanel VerticalScroll { height: 1fr; scrollbar-size-vertical: 1; }
    SamplesPanel .empty { color: $text-muted; }
    """

    samples: reactive[tuple] = reactive(())
    temperature: reactive[float] = reactive(1.0)

    def compose(self) -> ComposeResult:
        with VerticalScroll(can_focus=False):
            yield Static(id="samples-text")

    def on_mount(self) -> None:
        self._rebuild()
        self._set_title()

    def watch_samples(self) -> None:
        self._rebuild()
        self._set_title()

    def watch_temperature(self) -> None:
        self._set_title()

    @property
    def scroller(self) -> VerticalScroll:
        """The scrolling container (for scrolling from the app or tests)."""
        return self.query_one(VerticalScroll)

    def action_scroll_samples(self, how: str) -> None:
        """Scroll the samples: up, down, page_up, page_down, home or end."""
        getattr(self.scroller, _SCROLL_METHODS[how])(animate=False)

    def _rebuild(self) -> None:
        """Redraw the text of every sample (only called when ``samples`` changes)."""
        body = self.query("#samples-text").first(Static) if self.children else None
        if body is None:
            return
        if self.samples:
            body.update(render_samples(self.samples))
            body.remove_class("empty")
        else:
            body.update("no samples yet")
            body.add_class("empty")

    def _set_title(self) -> None:
        self.border_title = f"{self.TITLE} · T={self.temperature:.2f}"
        count = len(self.samples)
        self.border_subtitle = f"{count} kept · newest first" if count else ""
