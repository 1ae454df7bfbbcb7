"""The header line: facts from the record, broken between items, and an honest rate."""

import pytest
from harness import wait_for, wait_for_run_end, widget_text
from rich.text import Text

from rnntui.engine.session import StopCause
from rnntui.tui.status import SEPARATOR, wrap_items
from test_app import make_app, main


def test_items_wrap_between_items_never_inside_one():
    items = [Text(word) for word in ("paused", "prose.txt 4,026 chars", "iter 12", "loss 1.5", "700 it/s")]
    for width in range(9, 60):
        lines = wrap_items(items, width).plain.split("\n")
        assert SEPARATOR.join(lines) == SEPARATOR.join(item.plain for item in items)
        pieces = [piece for line in lines for piece in line.split(SEPARATOR)]
        assert pieces == [item.plain for item in items]  # every line break falls between two items
        assert all(len(line) <= width or line in pieces for line in lines)  # only a lone long item is wider


def test_an_item_longer_than_the_line_is_folded_on_lines_of_its_own():
    text = wrap_items([Text("ab"), Text("x" * 25), Text("cd")], 10)
    assert text.plain.split("\n") == ["ab", "x" * 25, "cd"]  # Rich folds the long line when drawn


async def test_the_rate_shows_while_running_and_as_the_last_runs_after():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main(app)
        status = screen.query_one("#status")
        await pilot.press("space")
        await pilot.pause()
        assert "it/s" not in widget_text(status)  # no run yet: no rate to show
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.rate > 0, "a measured rate")
        await pilot.pause()
        assert f"│ {screen.rate:,.0f} it/s" in widget_text(status) and "last run" not in widget_text(status)
        await pilot.press("r")
        await wait_for_run_end(pilot)
        assert f"last run {screen.rate:,.0f} it/s" in widget_text(status)
        rec = screen.record
        assert widget_text(status).count("\n") == 1  # two lines, running or paused
        assert f"smooth {rec.smooth_loss:.3f}" in widget_text(status)


async def test_the_header_grows_for_an_item_longer_than_a_line():
    app = make_app()
    app.session.breakpoints.add("spike > 0.5")  # fires at the first step, with a long reason
    async with app.run_test(size=(80, 24)) as pilot:
        screen = main(app)
        await pilot.press("space")
        await pilot.pause()
        await pilot.pause()
        assert screen.state.cause is StopCause.BREAKPOINT and screen.state.message.startswith("spike > 0.5: loss")
        status = screen.query_one("#status")
        shown = widget_text(status)
        assert f"smooth {screen.record.smooth_loss:.3f}" in shown  # nothing cut off below the long state
        assert status.size.height == len(shown.splitlines()) >= 3


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_the_header_keeps_its_height_running_and_paused(size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        screen = main(app)
        status = screen.query_one("#status")
        await pilot.press("space")
        await pilot.pause()
        heights = {"before": status.size.height}
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.rate > 0, "a measured rate")
        await pilot.pause()
        heights["running"] = status.size.height
        await pilot.press("r")
        await wait_for_run_end(pilot)
        await pilot.pause()
        heights["paused"] = status.size.height
        assert set(heights.values()) == {2}, heights
        assert screen.query_one("#panels").region.y == 2
