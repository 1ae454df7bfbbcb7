"""The footer of every screen: Textual's, but a key that does not fit whole is left out.

Textual's footer cuts its last key wherever the terminal ends (``h H▏`` at 120
columns, ``[ ] ▏`` at 80). Here the keys are measured once they are laid out,
and those from the first that no longer fits on are hidden, so every key shown
has its whole label. The keys left out stay bound and are listed by ``?`` and in
the command palette, whose key is always shown.
"""

from __future__ import annotations

from textual.widget import Widget
from textual.widgets import Footer

PALETTE_CLASS = "-command-palette"  # Textual's class for the palette's key, docked at the right


class WholeKeysFooter(Footer):
    """A footer that shows as many whole keys as fit, in order, and the palette's key."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._widths: dict[tuple, int] = {}  # signature(child) -> cells it takes with its margins, once shown

    async def recompose(self) -> None:
        await super().recompose()
        # Fit at once with the widths measured before: while a dialog is open the screen below is not
        # laid out again, so a footer waiting for its new keys' sizes would show them cut meanwhile.
        self._fit()
        self.call_after_refresh(self._measure_and_fit)

    def on_resize(self) -> None:
        self._fit()

    def _entries(self) -> list[list[Widget]]:
        """The footer's keys in order, a group's keys with the label after them as one entry."""
        entries: list[list[Widget]] = []
        for child in self.children:
            if child.has_class(PALETTE_CLASS):
                continue
            if type(child).__name__ == "FooterLabel" and entries:  # the label of the group before it
                entries[-1].append(child)
            else:
                entries.append([child])
        return entries

    @staticmethod
    def _signature(widget: Widget) -> tuple:
        """What a footer child shows, which fixes its width: the same key recomposed has the same signature."""
        # Textual does not export its footer's widget classes: they are told apart by their names
        kind = type(widget).__name__
        if kind == "FooterKey":
            return (kind, widget.key, widget.key_display, widget.description)
        if kind == "KeyGroup":
            return (kind, *(WholeKeysFooter._signature(child) for child in widget.children))
        return (kind, str(getattr(widget, "content", "")))

    @staticmethod
    def _cells(widget: Widget) -> int:
        return widget.outer_size.width + widget.styles.margin.width

    def _measure_and_fit(self) -> None:
        for child in self.children:
            if child.display and child.outer_size.width:
                self._widths[self._signature(child)] = self._cells(child)
        self._fit()

    def _fit(self) -> None:
        if not self._widths:
            return
        palette = sum(self._widths.get(self._signature(c), 0) for c in self.children if c.has_class(PALETTE_CLASS))
        room = self.size.width - palette
        used = 0
        full = False
        for entry in self._entries():
            width = sum(self._widths.get(self._signature(part), 0) for part in entry)
            full = full or used + width > room
            for part in entry:
                part.display = not full
            if not full:
                used += width
