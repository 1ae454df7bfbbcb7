"""The hidden state heatmap draws the record's own h values on the fixed scale, with a cell cursor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from harness import HARNESS_TEXT, PanelHarness, fixed_run, harness_for
from rich.cells import cell_len
from textual import events
from textual.geometry import Region

from rnntui.engine import Config, Corpus, Trainer
from rnntui.engine.units import SATURATION
from rnntui.tui import scale
from rnntui.tui.base import RunInfo
from rnntui.tui.glyphs import glyph
from rnntui.tui.heatmap import PREV, PREV_LABEL, Heatmap, RowOrder
from rnntui.tui.messages import CursorMoved, UnitSelected

SMALL = (80, 20)  # the harness run (H=16, T=12) fits whole
TALL = (80, 16)  # H=100 scrolls
TINY = (60, 15)  # H=100, T=25 in a small corner of the screen


class ScreenLike(PanelHarness):
    """The harness, owning cursor_t and unit like the screen: it records the messages and binds them back."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.moves: list[int] = []
        self.units: list[int] = []

    def on_cursor_moved(self, message: CursorMoved) -> None:
        self._cursor_t = message.target(self._cursor_t, self.panel.record.seq_length - 1)  # as the screen does
        self.moves.append(self._cursor_t)
        self.panel.cursor_t = self._cursor_t

    def on_unit_selected(self, message: UnitSelected) -> None:
        self._unit = message.target(self._unit, self.panel.info.hidden_size - 1)
        self.units.append(self._unit)
        self.panel.unit = self._unit


def small_app(**kwargs) -> ScreenLike:
    """The harness run's last record (H=16, T=12)."""
    trainer, records = fixed_run()
    return ScreenLike(Heatmap, records[-1], RunInfo(trainer.corpus, trainer.config.hidden_size), **kwargs)


def tall_app(hidden_size: int = 100, seq_length: int = 25, **kwargs) -> ScreenLike:
    """A run with many units (three steps over the harness text, repeated so a long window fits)."""
    corpus = Corpus.from_text(HARNESS_TEXT * 3, name="harness.txt")
    trainer = Trainer(corpus, Config(hidden_size=hidden_size, seq_length=seq_length, sample_every=0))
    record = [trainer.step() for _ in range(3)][-1]
    return ScreenLike(Heatmap, record, RunInfo(corpus, hidden_size), **kwargs)


def drawn(panel: Heatmap) -> list[tuple[str, list]]:
    """Each content row as drawn on screen (border and padding cut off), with its segments."""
    strips = [strip.crop(2, strip.cell_length - 2) for strip in panel.render_lines(Region(0, 0, *panel.outer_size))]
    return [(strip.text, list(strip)) for strip in strips[1:-1]]


def style_at(segments: list, x: int):
    """The style of the cell at content column ``x``."""
    for segment in segments:
        width = cell_len(segment.text)
        if x < width:
            return segment.style
        x -= width
    raise IndexError(x)


def unit_rows(panel: Heatmap) -> dict[int, tuple[str, list]]:
    """The drawn heatmap rows, keyed by the unit index in their label."""
    rows = [(text.split(maxsplit=1)[0], text, segs) for text, segs in drawn(panel)[1:] if text.strip()]
    return {int(label): (text, segs) for label, text, segs in rows if label.isdigit()}


def shown_range(panel: Heatmap) -> tuple[int, int, int]:
    """(first, last, of) from the scroll indicator ``units a-b of H``."""
    text = next(text for text, _ in drawn(panel) if "units " in text)
    span, of = text.split("units ")[1].split(" of ")
    first, last = span.split("-")
    return int(first), int(last), int(of.split()[0])


def cursor_row(panel: Heatmap) -> int:
    """The unit whose label is drawn highlighted (reverse)."""
    rows = [u for u, (text, segs) in unit_rows(panel).items() if style_at(segs, 0).reverse]
    assert len(rows) == 1
    return rows[0]


def detail_rows(panel: Heatmap) -> list[str]:
    """The detail lines under the grid (one, or two when narrow)."""
    lines = [text.strip() for text, _ in drawn(panel)]
    first = next(i for i, text in enumerate(lines) if text.startswith("unit "))
    return [line for line in lines[first:] if line]


def detail(panel: Heatmap) -> str:
    """The detail text under the grid, as one line."""
    return "  ".join(detail_rows(panel))


def expected_detail(record, unit: int, column: int) -> list[str]:
    """The fields the detail line must show, formatted from the record's own numbers."""
    series = record.hs[:, unit]
    value = record.hprev[unit] if column == PREV else record.hs[column, unit]
    where = PREV_LABEL if column == PREV else f"t={column}"
    return [
        f"unit {unit}  {where}",
        f"h={value:+.4f}",
        f"min {series.min():+.2f} mean {series.mean():+.2f} max {series.max():+.2f}",
        f"saturated {np.mean(np.abs(series) > SATURATION):.0%}",
    ]


def check_cells(panel: Heatmap) -> None:
    """Every visible cell is coloured by the fixed scale from the record's value."""
    rec, geom = panel.record, panel.geometry
    rows = unit_rows(panel)
    assert sorted(rows) == list(range(geom.top, geom.top + geom.rows))
    for unit, (_, segs) in rows.items():
        for dx in range(geom.cell_w):
            assert style_at(segs, geom.prev_x + dx).bgcolor == scale.color(rec.hprev[unit])
            for i in range(geom.cols):
                t = geom.left + i
                assert style_at(segs, geom.grid_x + i * geom.cell_w + dx).bgcolor == scale.color(rec.hs[t, unit])


async def test_cells_are_the_records_values_on_the_fixed_scale():
    app = small_app(cursor_t=3, unit=5)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        panel = app.panel
        assert panel.geometry.rows == panel.info.hidden_size and panel.geometry.cols == panel.record.seq_length
        assert panel.geometry.cell_w == 2
        check_cells(panel)
        assert shown_range(panel) == (0, panel.info.hidden_size - 1, panel.info.hidden_size)


async def test_header_shows_the_inputs_coloured_by_the_chosen_unit():
    app = small_app(cursor_t=4, unit=9)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        panel, rec, geom = app.panel, app.panel.record, app.panel.geometry
        text, segs = drawn(panel)[0]
        assert text[geom.prev_x + geom.cell_w - len(PREV_LABEL) :].startswith(PREV_LABEL)
        for t in range(rec.seq_length):
            x = geom.grid_x + t * geom.cell_w
            assert text[x] == glyph(panel.info.vocab[rec.inputs[t]])
            assert style_at(segs, x).bgcolor == scale.color(rec.hs[t, 9])
            assert bool(style_at(segs, x).underline) == (t == 4)


async def test_detail_line_shows_the_records_numbers():
    app = small_app(cursor_t=0, unit=0)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        panel, rec = app.panel, app.panel.record
        for unit, t in [(0, 0), (5, 3), (15, rec.seq_length - 1), (7, 6)]:
            panel.unit, panel.cursor_t = unit, t
            await pilot.pause()
            for field in expected_detail(rec, unit, t):
                assert field in detail(panel)
            assert cursor_row(panel) == unit


async def test_saturation_counts_steps_beyond_the_threshold():
    app = tall_app()
    async with app.run_test(size=TINY) as pilot:
        await pilot.pause()
        panel, rec = app.panel, app.panel.record
        saturated = (np.abs(rec.hs) > SATURATION).mean(axis=0)
        unit = int(np.argmax((saturated > 0) & (saturated < 1)))  # a unit saturated part of the time
        assert 0 < saturated[unit] < 1
        panel.unit = unit
        await pilot.pause()
        for field in expected_detail(rec, unit, 0):
            assert field in detail(panel)


async def test_arrow_keys_move_the_cell_and_post_messages():
    app = small_app(cursor_t=2, unit=3)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        panel, rec = app.panel, app.panel.record
        await pilot.press("right", "down", "down", "up")
        assert app.moves == [3] and app.units == [4, 5, 4]
        assert (panel.cursor_t, panel.unit) == (3, 4)
        await pilot.press("left", "left", "left", "left")  # 2, 1, 0, then the hprev column: the panel's own
        assert app.moves == [3, 2, 1, 0] and panel.column == PREV
        await pilot.press("left")  # nothing left of hprev
        assert app.moves == [3, 2, 1, 0]
        for field in expected_detail(rec, 4, PREV):
            assert field in detail(panel)
        await pilot.press("right")
        assert panel.column == 0 and app.moves == [3, 2, 1, 0]  # out of hprev: still t=0
        await pilot.press("enter")
        assert app.units == [4, 5, 4, 4]  # enter chooses the unit again, for the input window
        await pilot.press("end", "down", "home", "up")
        assert app.units == [4, 5, 4, 4, rec.hs.shape[1] - 1, 0]
        panel.cursor_t = rec.seq_length - 1
        await pilot.press("right")
        assert app.moves[-1] == 0 and panel.cursor_t == rec.seq_length - 1  # nothing right of the window


async def test_scrolling_keeps_the_cursor_row_visible():
    app = tall_app(unit=0)
    async with app.run_test(size=TINY) as pilot:
        await pilot.pause()
        panel = app.panel
        units = panel.record.hs.shape[1]
        assert panel.geometry.cols == panel.record.seq_length  # T=25 fits across 60 columns
        assert panel.geometry.rows < units
        for _ in range(30):
            await pilot.press("down")
            first, last, of = shown_range(panel)
            assert cursor_row(panel) == panel.unit and first <= panel.unit <= last and of == units
            assert sorted(unit_rows(panel)) == list(range(first, last + 1))
        check_cells(panel)
        page = panel.geometry.rows
        await pilot.press("pagedown")
        assert panel.unit == 30 + page and cursor_row(panel) == panel.unit
        await pilot.press("end")
        assert panel.unit == units - 1 and shown_range(panel)[1] == units - 1
        check_cells(panel)
        await pilot.press("pageup")
        assert panel.unit == units - 1 - page and cursor_row(panel) == panel.unit
        await pilot.press("home")
        assert panel.unit == 0 and shown_range(panel)[0] == 0
        panel.unit = 64  # set by the screen, as when another panel picks the unit
        await pilot.pause()
        assert cursor_row(panel) == 64


async def test_cursor_row_stays_visible_when_the_detail_takes_another_line():
    app = tall_app(unit=30, cursor_t=3)
    async with app.run_test(size=(84, 16)) as pilot:  # t=..: one detail line; hprev: two
        await pilot.pause()
        panel = app.panel
        counts = set()
        for _ in range(5):
            await pilot.press("left")
            counts.add(len(detail_rows(panel)))
            assert cursor_row(panel) == 30
        assert counts == {1, 2}
        await pilot.press("right")
        assert cursor_row(panel) == 30


async def test_cursor_row_stays_visible_when_the_terminal_shrinks():
    app = tall_app(unit=30)
    async with app.run_test(size=TALL) as pilot:
        await pilot.pause()
        assert cursor_row(app.panel) == 30
        for height in (14, 12, 10):
            await pilot.resize_terminal(TALL[0], height)
            await pilot.pause()
            assert cursor_row(app.panel) == 30 and shown_range(app.panel)[1] == 30


async def test_mouse_wheel_scrolls_without_moving_the_cursor():
    app = tall_app(unit=0)
    async with app.run_test(size=TINY) as pilot:
        await pilot.pause()
        panel = app.panel
        await pilot._post_mouse_events([events.MouseScrollDown], Heatmap, offset=(10, 5))
        first, _, _ = shown_range(panel)
        assert first > 0 and panel.unit == 0 and app.units == []
        check_cells(panel)
        await pilot.press("right")  # any key brings the view back to the cursor
        assert cursor_row(panel) == 0 and shown_range(panel)[0] == 0


async def test_click_selects_a_cell():
    app = tall_app(unit=40, cursor_t=10)
    async with app.run_test(size=TINY) as pilot:
        await pilot.pause()
        panel = app.panel
        geom = panel.geometry
        unit, t = geom.top + 2, 17
        x, y = geom.grid_x + (t - geom.left) * geom.cell_w, 1 + (unit - geom.top)
        await pilot.click(Heatmap, offset=(2 + x, 1 + y))  # border + padding, then the cell
        assert (app.moves, app.units) == ([t], [unit])
        assert (panel.cursor_t, panel.unit) == (t, unit) and cursor_row(panel) == unit
        for field in expected_detail(panel.record, unit, t):
            assert field in detail(panel)
        await pilot.click(Heatmap, offset=(2 + x, 1 + y))  # the selected cell again: choose the unit
        assert (app.moves, app.units) == ([t], [unit, unit])
        await pilot.click(Heatmap, offset=(2 + geom.prev_x, 1 + y))  # the hprev column
        assert panel.column == PREV and app.moves == [t, 0]
        await pilot.click(Heatmap, offset=(2 + geom.grid_x, 1))  # a header glyph picks its timestep only
        assert panel.cursor_t == geom.left and app.units == [unit, unit, unit]


async def test_long_windows_scroll_sideways_and_large_h_draws_only_visible_rows():
    app = tall_app(hidden_size=256, seq_length=80, unit=200, cursor_t=79)
    async with app.run_test(size=TINY) as pilot:
        await pilot.pause()
        panel = app.panel
        geom = panel.geometry
        assert geom.cell_w == 1 and geom.cols < 80 and geom.left + geom.cols - 1 == 79
        assert len(panel.render().lines) <= panel.content_size.height
        assert cursor_row(panel) == 200
        check_cells(panel)
        assert any(text.rstrip().endswith(f"t {geom.left}-79 of 80") for text, _ in drawn(panel))
        await pilot.press("home", *["left"] * 79)
        assert panel.geometry.left == 0 and panel.cursor_t == 0
        check_cells(panel)


async def test_nothing_before_the_first_step():
    trainer, _ = fixed_run(steps=0)
    app = ScreenLike(Heatmap, None, RunInfo(trainer.corpus, 16))
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        assert drawn(app.panel)[0][0].strip() == "press space to take the first step"
        await pilot.press("down", "right", "enter")
        assert app.moves == [] and app.units == []


def test_snapshot_small(snap_compare):
    assert snap_compare(small_app(cursor_t=3, unit=5), terminal_size=SMALL)


def test_snapshot_tall_scrolled(snap_compare):
    assert snap_compare(tall_app(unit=57, cursor_t=7), terminal_size=TALL)


async def test_a_short_panel_keeps_four_rows_and_names_them_on_the_detail_line():
    app = tall_app(unit=30, cursor_t=2)
    async with app.run_test(size=(60, 8)) as pilot:  # six content lines: header, 4 rows (not 2), detail
        await pilot.pause()
        panel, rec = app.panel, app.panel.record
        assert panel.geometry.compact and panel.geometry.rows == 4
        first, last, of = shown_range(panel)
        assert (last - first + 1, of) == (4, 100) and first <= 30 <= last
        assert sorted(unit_rows(panel)) == list(range(first, last + 1)) and cursor_row(panel) == 30
        (line,) = detail_rows(panel)
        assert line == f"unit 30  t=2  h={rec.hs[2, 30]:+.4f}  units {first}-{last} of 100"  # no window figures
        check_cells(panel)
        panel.focus()
        for key in ["up"] * 25 + ["left"] * 3 + ["right"] * 12:  # units 30..5, hprev, t=0..11: the layout stays
            await pilot.press(key)
            assert panel.geometry.compact and panel.geometry.rows == 4 and cursor_row(panel) == panel.unit
        await pilot.resize_terminal(60, 20)  # room again: the legend and the window figures come back
        await pilot.pause()
        assert not panel.geometry.compact and "saturated" in detail(panel)


async def test_a_short_but_wide_panel_keeps_its_legend_and_figures():
    app = tall_app(unit=30, cursor_t=2)
    async with app.run_test(size=(130, 7)) as pilot:  # the legend fits beside the header, the detail on one line
        await pilot.pause()
        panel = app.panel
        assert not panel.geometry.compact and panel.geometry.beside and panel.geometry.rows == 3
        assert "saturated" in detail(panel) and len(detail_rows(panel)) == 1


async def test_a_short_panel_does_not_switch_layout_as_the_cursor_moves():
    app = tall_app(unit=0, cursor_t=0)
    async with app.run_test(size=(80, 9)) as pilot:  # where the one-line detail comes and goes with the cursor
        await pilot.pause()
        panel = app.panel
        panel.focus()
        seen = set()
        for key in ["down"] * 14 + ["right"] * 12 + ["left"] * 13:
            await pilot.press(key)
            seen.add((panel.geometry.compact, panel.geometry.rows, len(detail_rows(panel))))
        assert seen == {(True, 5, 1)}


# --- two units per row, rows in another order, maximised ---------------------------------------


def pair_rows(panel: Heatmap) -> list[tuple[str, list]]:
    """The drawn grid rows (after the header) in pairs mode, top first."""
    return drawn(panel)[1 : 1 + panel.geometry.rows]


def check_pairs(panel: Heatmap) -> None:
    """Every visible cell holds its row's two units: the upper one's colour above, the lower one's below;
    the cursor's cell is the chosen unit's colour, marked."""
    rec, geom = panel.record, panel.geometry
    slots = list(panel.order.units) if panel.order is not None else list(range(rec.hs.shape[1]))
    for i, (text, segs) in enumerate(pair_rows(panel)):
        units = slots[2 * (geom.top + i) : 2 * (geom.top + i) + 2]
        chosen = panel.unit if panel.unit in units else None
        assert text[: geom.label_w].strip() == str(units[0] if chosen is None else chosen)
        assert text[geom.label_w] == (" " if chosen is None else "▴▾"[units.index(chosen)])
        columns = [(PREV, geom.prev_x)] + [(geom.left + k, geom.grid_x + k * geom.cell_w) for k in range(geom.cols)]
        for column, x in columns:
            def value(u):
                return rec.hprev[u] if column == PREV else rec.hs[column, u]
            style = style_at(segs, x)
            if chosen is not None and column == panel.column:
                assert text[x : x + geom.cell_w] == "[]" and style.bgcolor == scale.color(value(chosen))
                continue
            assert text[x : x + geom.cell_w] == "▀" * geom.cell_w
            assert style.color == scale.color(value(units[0]))
            background = style_at(segs, geom.prev_x + geom.cell_w).bgcolor  # the gap after hprev: the panel's own
            assert style.bgcolor == (scale.color(value(units[1])) if len(units) == 2 else background)


async def arranged(pilot, **arrangement) -> Heatmap:
    """The harness's panel after ``arrange(**arrangement)`` has been drawn."""
    pilot.app.panel.arrange(**arrangement)
    await pilot.pause()
    return pilot.app.panel


async def test_two_units_per_row_colour_both_halves_of_every_cell():
    app = small_app(cursor_t=3, unit=5)
    async with app.run_test(size=SMALL) as pilot:
        panel = await arranged(pilot, per_row=2)
        assert panel.geometry.rows == 8 and panel.geometry.cell_w == 2
        check_pairs(panel)  # unit 5 is the lower half of the row of 4 and 5
        assert any(text.rstrip().endswith("units 0-15 of 16, 2 per row") for text, _ in drawn(panel))
        await pilot.press("down", "left")  # unit 6: the upper half of the next row
        assert app.units == [6] and panel.column == 2
        check_pairs(panel)
        check_cells(await arranged(pilot, per_row=1))


async def test_an_odd_layer_in_pairs_leaves_the_last_lower_half_empty():
    app = tall_app(hidden_size=5, seq_length=10, unit=0)
    async with app.run_test(size=SMALL) as pilot:
        await arranged(pilot, per_row=2)
        assert app.panel.geometry.rows == 3
        check_pairs(app.panel)


async def test_rows_in_another_order_and_the_keys_follow_them():
    order = RowOrder((3, 15, 0, 7, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14), "a test order")
    app = small_app(cursor_t=0, unit=15)
    async with app.run_test(size=(80, 22)) as pilot:  # the order's name puts the legend on a line of its own
        panel = await arranged(pilot, order=order)
        assert panel.geometry.rows == 16 and not panel.geometry.beside
        labels = [int(text.split()[0]) for text, _ in drawn(panel)[1 : 1 + panel.geometry.rows]]
        assert labels == list(order.units)
        check_rows_in_order(panel)
        assert any("rows 1-16 of 16 by a test order" in text for text, _ in drawn(panel))
        await pilot.press("down", "down", "up")
        assert app.units == [0, 7, 0]  # the next and previous rows, not the next unit numbers
        await pilot.press("home")
        assert app.units[-1] == 3
        await pilot.press("end")
        assert app.units[-1] == 14
        check_pairs(await arranged(pilot, per_row=2))
        assert (await arranged(pilot, order=None)).order is None
        check_pairs(panel)


def check_rows_in_order(panel: Heatmap) -> None:
    """One unit per row in the panel's order: each row's cells are that unit's values."""
    rec, geom = panel.record, panel.geometry
    for i, (_, segs) in enumerate(drawn(panel)[1 : 1 + geom.rows]):
        unit = panel.order.units[geom.top + i]
        for k in range(geom.cols):
            assert style_at(segs, geom.grid_x + k * geom.cell_w).bgcolor == scale.color(rec.hs[geom.left + k, unit])


async def test_a_click_in_pairs_picks_the_upper_unit_then_the_lower():
    app = small_app(cursor_t=2, unit=0)
    async with app.run_test(size=SMALL) as pilot:
        geom = (await arranged(pilot, per_row=2)).geometry
        y = 1 + 3  # the row of units 6 and 7
        await pilot.click(Heatmap, offset=(2 + geom.grid_x, 1 + y))
        assert app.units == [6]
        await pilot.click(Heatmap, offset=(2 + geom.grid_x, 1 + y))
        assert app.units == [6, 7]


def brackets_app(hidden_size: int):
    from harness import DebuggerApp

    from rnntui.engine.session import Session

    text = (Path(__file__).resolve().parent.parent / "samples" / "brackets.txt").read_text()
    session = Session(Trainer(Corpus.from_text(text, name="brackets.txt"),
                              Config(hidden_size=hidden_size, seq_length=25, sample_every=0)))
    for _ in range(30):
        session.step()
    return DebuggerApp(session)


@pytest.mark.parametrize("hidden_size, shown", [(64, 64), (100, 70)])
async def test_maximised_with_two_units_per_row_120x40_shows_a_64_unit_layer_whole(hidden_size, shown):
    app = brackets_app(hidden_size)
    async with app.run_test(size=(120, 40)) as pilot:
        heatmap = app.main.query_one(Heatmap)
        await pilot.press("z", "x")
        await pilot.pause()
        assert app.main.maximized is heatmap and heatmap.has_focus
        assert (heatmap.region.width, heatmap.region.height) == (120, 39)  # all but the footer
        geom = heatmap.geometry
        assert geom.top == 0 and min(2 * geom.rows, hidden_size) == shown
        check_pairs(heatmap)
        await pilot.press("escape")
        await pilot.pause()
        assert app.main.maximized is None and heatmap.region.width < 120 and heatmap.per_row == 2
        await pilot.press("z", "z", "x")
        await pilot.pause()
        assert app.main.maximized is None and heatmap.per_row == 1


async def test_o_sorts_the_rows_by_the_unit_tables_order_once_there_is_an_analysis():
    from harness import wait_for

    from rnntui.engine.analysis import analyze
    from rnntui.tui.units_screen import UnitsScreen

    app = brackets_app(16)
    async with app.run_test(size=(120, 40)) as pilot:
        heatmap = app.main.query_one(Heatmap)
        await pilot.press("o")
        await pilot.pause()
        assert heatmap.order is None  # nothing to sort by yet: the user is told to open the table
        await pilot.press("U")
        await wait_for(pilot, lambda: isinstance(app.screen, UnitsScreen) and app.screen.computed is not None,
                       "the analysis")
        await pilot.press("escape", "o")
        await pilot.pause()
        r = analyze(app.session.trainer.params, app.session.trainer.corpus).features["depth"].r
        assert heatmap.order.units == tuple(sorted(range(16), key=lambda u: (-abs(r[u]), u)))
        check_rows_in_order(heatmap)
        assert any(text.rstrip().endswith("rows 1-8 of 16 by |r| depth ↓ (30 steps)") for text, _ in drawn(heatmap))
        await pilot.press("U", "o")  # the table sorted by unit number: the heatmap follows
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert heatmap.order.units == tuple(range(16)) and heatmap.order.by == "unit ↑"
        await pilot.press("o")
        await pilot.pause()
        assert heatmap.order is None
        first, _, of = shown_range(heatmap)  # "units a-b of 16" again
        assert (first, of) == (0, 16)


async def test_up_and_down_on_the_screen_follow_the_heatmaps_row_order():
    from test_app import make_app

    from rnntui.tui.heatmap import Heatmap, RowOrder

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("space")
        screen = app.main
        order = tuple(reversed(range(screen.info.hidden_size)))
        screen.query_one(Heatmap).arrange(order=RowOrder(order, "test", 0))
        screen.unit = order[3]
        await pilot.press("down", "down", "up")
        assert screen.unit == order[4]
        screen.query_one(Heatmap).arrange(order=None)
        await pilot.press("down")
        assert screen.unit == order[4] + 1


async def test_without_colour_each_cell_shows_its_value_as_a_bar_so_the_sign_stays_readable(monkeypatch):
    from rnntui.tui.scale import level_glyph

    monkeypatch.setenv("NO_COLOR", "1")
    app = harness_for(Heatmap)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.no_color
        panel, rec = app.panel, app.panel.record
        text = "\n".join(strip.text for strip in panel.render_lines(panel.region.reset_offset))
        row = next(line for line in text.splitlines() if line.startswith("│  1 "))  # unit 1's row
        hprev_cell, grid = row[5:7], row[8:].rstrip(" │")
        cells = [grid[i : i + 2] for i in range(0, len(grid), 2)]
        assert hprev_cell == level_glyph(rec.hprev[1]) * 2
        assert cells == [level_glyph(v) * 2 for v in rec.hs[: len(cells), 1]] and len(cells) == rec.seq_length
    assert level_glyph(-1.0) == "▁" and level_glyph(1.0) == "█" and level_glyph(-0.9) != level_glyph(0.9)
