"""The input window panel: glyph rows, column alignment, cursor, detail numbers, unit colouring."""

from __future__ import annotations

import re

import pytest
from harness import PanelHarness, fixed_run
from rich.cells import cell_len
from textual.geometry import Region

from rnntui.engine import Config, Corpus, Trainer
from rnntui.tui import scale
from rnntui.tui.base import RunInfo
from rnntui.tui.glyphs import describe, glyph
from rnntui.tui.input_window import InputWindow
from rnntui.tui.messages import CursorMoved

WIDE_STEPS = 10  # fixed_run's 10th window (p=108) holds 'ünïcödé; 日本 w'
CONTROL_STEPS = 4  # fixed_run's 4th window (p=36) holds a newline and a tab
ODD_TEXT = "ae\u0301b\u200bc 日本\u3000d\te\r\x1bf\n" * 2  # combining, zero-width, wide, control


class CursorHarness(PanelHarness):
    """The harness, owning the cursor like the screen does: it records CursorMoved and binds it back."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.moves: list[int] = []

    def on_cursor_moved(self, message: CursorMoved) -> None:
        self._cursor_t = message.target(self._cursor_t, self.panel.record.seq_length - 1)  # as the screen does
        self.moves.append(self._cursor_t)
        self.panel.cursor_t = self._cursor_t


def fixed_app(steps: int, cursor_t: int = 0, unit: int = 0) -> CursorHarness:
    """A cursor-owning harness over ``fixed_run(steps)``'s last record."""
    trainer, records = fixed_run(steps)
    info = RunInfo(corpus=trainer.corpus, hidden_size=trainer.config.hidden_size)
    return CursorHarness(InputWindow, records[-1] if records else None, info, cursor_t=cursor_t, unit=unit)


def own_app(text: str, seq_length: int, cursor_t: int = 0) -> CursorHarness:
    """A harness over the first record of a fresh run on ``text``."""
    trainer = Trainer(Corpus.from_text(text), Config(hidden_size=8, seq_length=seq_length, sample_every=0))
    info = RunInfo(corpus=trainer.corpus, hidden_size=8)
    return CursorHarness(InputWindow, trainer.step(), info, cursor_t=cursor_t)


def content_cells(panel: InputWindow) -> list[list[tuple[str, object]]]:
    """The panel's content as drawn: per line, one (text, style) per terminal cell.

    A wide character fills two cells (the second empty); a zero-width one joins the cell before.
    """
    strips = panel.render_lines(Region(0, 0, panel.outer_size.width, panel.outer_size.height))
    lines = []
    for strip in strips[1:-1]:  # inside the border
        cells: list[tuple[str, object]] = []
        for seg in strip:
            for ch in seg.text:
                if cell_len(ch) == 0 and cells:
                    cells[-1] = (cells[-1][0] + ch, cells[-1][1])
                    continue
                cells.append((ch, seg.style))
                cells.extend([("", seg.style)] * (cell_len(ch) - 1))
        lines.append(cells[2:-2])  # border and padding
    return lines


def row(panel: InputWindow, label: str) -> list[tuple[str, object]]:
    """The cells of the row that starts with ``label``."""
    lines = content_cells(panel)
    return next(cells for cells in lines if "".join(ch for ch, _ in cells[:3]).rstrip() == label)


def cursor_column(cells: list[tuple[str, object]]) -> int:
    """The only reverse-video cell of an uncoloured row."""
    (col,) = [i for i, (_, style) in enumerate(cells) if style.reverse]
    return col


def expected_glyphs(panel: InputWindow, indices) -> str:
    """What a row should show for vocabulary indices."""
    return "".join(glyph(panel.info.vocab[int(i)]) for i in indices)


def first_glyph_column(panel: InputWindow, label: str) -> int:
    """Where a row's glyphs start (a glyph is never a plain space) when the row is not scrolled."""
    line = next(line for line in plain_text(panel).split("\n") if line.startswith(label))
    return len(line[:4]) + len(line[4:]) - len(line[4:].lstrip(" "))


def plain_text(panel: InputWindow) -> str:
    return panel.render().plain


# --- content ---------------------------------------------------------------
async def test_empty_state_invites_first_step():
    app = fixed_app(0)
    async with app.run_test(size=(80, 12)):
        assert plain_text(app.panel) == "press space to take the first step"


@pytest.mark.parametrize("steps", [1, CONTROL_STEPS, WIDE_STEPS])
async def test_rows_show_inputs_over_targets_in_order(steps):
    app = fixed_app(steps)
    async with app.run_test(size=(80, 12)):
        rec = app.panel.record
        ins, outs = row(app.panel, "in"), row(app.panel, "out")
        start = cursor_column(ins)
        assert cursor_column(outs) == start
        shown_in = "".join(ch for ch, _ in ins[start : start + rec.seq_length])
        shown_out = "".join(ch for ch, _ in outs[start : start + rec.seq_length])
        assert shown_in == expected_glyphs(app.panel, rec.inputs)
        assert shown_out == expected_glyphs(app.panel, rec.targets)
        assert shown_in[1:] == shown_out[:-1]  # each target is the next input, one column left


async def test_control_characters_are_visible_glyphs():
    app = fixed_app(CONTROL_STEPS)
    async with app.run_test(size=(80, 12)):
        text = plain_text(app.panel)
        window = app.panel.info.corpus.decode(app.panel.record.position, app.panel.record.position + 13)
        assert "\n" in window and "\t" in window
        assert "\t" not in text and all(len(line) > 0 for line in text.split("\n"))
        assert glyph("\n") + glyph("\t") in text


@pytest.mark.parametrize("app_factory", [lambda: fixed_app(WIDE_STEPS), lambda: own_app(ODD_TEXT, 24)])
async def test_one_cell_per_timestep_with_wide_and_combining_characters(app_factory):
    app = app_factory()
    async with app.run_test(size=(80, 12)):
        rec = app.panel.record
        ins, outs = row(app.panel, "in"), row(app.panel, "out")
        start = cursor_column(ins)
        for t in range(rec.seq_length):  # timestep t sits in cell start+t of both rows
            assert ins[start + t][0] == glyph(app.panel.info.vocab[int(rec.inputs[t])])
            assert outs[start + t][0] == glyph(app.panel.info.vocab[int(rec.targets[t])])
        assert len(ins) == len(outs) == app.panel.size.width


@pytest.mark.parametrize("steps", [1, 5, 10, 11])
async def test_reset_mark_follows_record(steps):
    app = fixed_app(steps)
    async with app.run_test(size=(80, 12)):
        rec = app.panel.record
        text = plain_text(app.panel)
        assert ("↺ hprev reset" in text) == rec.reset
        assert f"p={rec.position}/{len(app.panel.info.corpus)}" in text  # nothing held out: the whole text


async def test_the_position_counts_the_training_part_as_the_header_does():
    trainer, records = fixed_run(5)
    N = len(trainer.corpus)
    info = RunInfo(corpus=trainer.corpus, hidden_size=trainer.config.hidden_size, val_frac=0.25)
    app = CursorHarness(InputWindow, records[-1], info)
    async with app.run_test(size=(80, 12)):
        assert f"p={records[-1].position}/{N - int(0.25 * N)}  " in plain_text(app.panel)


async def test_reset_mark_kept_when_short():
    app = fixed_app(1)
    async with app.run_test(size=(40, 5)):
        assert app.panel.record.reset
        lines = plain_text(app.panel).split("\n")
        assert [line[:3] for line in lines[:2]] == ["in ", "out"]
        assert lines[2].startswith("↺ t=0")


@pytest.mark.parametrize("t", [0, 5, 11])
async def test_detail_line_numbers_are_the_records(t):
    app = fixed_app(CONTROL_STEPS, cursor_t=t)
    async with app.run_test(size=(110, 12)):
        rec, vocab = app.panel.record, app.panel.info.vocab
        text = plain_text(app.panel)
        found = re.search(r"t=(\d+)  input (.+) → target (.+)  p\(target\)=(\S+)  loss term (\S+)", text)
        assert found is not None
        assert int(found[1]) == t
        assert found[2] == describe(vocab[int(rec.inputs[t])])
        assert found[3] == describe(vocab[int(rec.targets[t])])
        assert float(found[4]) == pytest.approx(rec.target_probs[t], rel=5e-3)
        assert float(found[5]) == pytest.approx(rec.losses[t], abs=5e-3)


# --- unit colouring ----------------------------------------------------------
@pytest.mark.parametrize("unit", [0, 7, 15])
async def test_unit_colouring_uses_the_scale_for_h(unit):
    app = fixed_app(WIDE_STEPS, cursor_t=2)
    async with app.run_test(size=(80, 12)) as pilot:
        app.panel.color_unit = unit
        await pilot.pause()
        rec = app.panel.record
        ins = row(app.panel, "in")
        start = first_glyph_column(app.panel, "in")
        for t in range(rec.seq_length):
            assert ins[start + t][1].bgcolor.triplet == scale.color(rec.hs[t, unit]).triplet
        assert f"coloured by unit {unit} (h after each input" in plain_text(app.panel)


async def test_colouring_toggles_and_follows_selected_unit():
    app = fixed_app(WIDE_STEPS, unit=3)
    async with app.run_test(size=(80, 12)) as pilot:
        assert app.panel.color_unit is None
        assert "coloured by unit" not in plain_text(app.panel)
        app.panel.action_toggle_colour()
        await pilot.pause()
        assert app.panel.color_unit == 3
        app.panel.unit = 9
        await pilot.pause()
        assert app.panel.color_unit == 9
        app.panel.action_toggle_colour()
        await pilot.pause()
        assert app.panel.color_unit is None


# --- cursor --------------------------------------------------------------
async def test_keys_post_cursor_moved():
    app = fixed_app(WIDE_STEPS, cursor_t=4)
    async with app.run_test(size=(80, 12)) as pilot:
        last = app.panel.record.seq_length - 1
        for key in ["right", "right", "left", "left", "left", "end", "home", "left"]:
            await pilot.press(key)
        assert app.moves == [5, 6, 5, 4, 3, last, 0, 0]  # the last "left" at t=0: the owner keeps it at 0


async def test_a_burst_of_keys_moves_by_every_press():
    app = fixed_app(WIDE_STEPS, cursor_t=2)
    async with app.run_test(size=(80, 12)) as pilot:
        panel = app.panel
        for _ in range(5):  # handled before the owner binds any move back, as keys arriving at once
            panel.action_move_cursor(1)
        assert panel.cursor_t == 2  # drawn where the owner puts it, with every other panel showing the cursor
        await pilot.pause()
        assert app.moves == [3, 4, 5, 6, 7] and panel.cursor_t == 7


@pytest.mark.parametrize("keys", [("end", "left"), ("home", "right"), ("right", "home", "right")])
async def test_keys_typed_before_the_owner_answers_all_count(keys):
    last = fixed_run(WIDE_STEPS)[1][-1].seq_length - 1
    start = 0 if keys[0] == "end" else last
    app = fixed_app(WIDE_STEPS, cursor_t=start)
    async with app.run_test(size=(80, 12)) as pilot:
        panel = app.panel
        actions = {"end": lambda: panel.action_jump_cursor(-1), "home": lambda: panel.action_jump_cursor(0),
                   "left": lambda: panel.action_move_cursor(-1), "right": lambda: panel.action_move_cursor(1)}
        for key in keys:  # handled before the owner binds any move back
            actions[key]()
        await pilot.pause()
        expected = start
        for key in keys:  # the plain reading of the keys, one after another
            expected = {"end": last, "home": 0, "left": max(expected - 1, 0), "right": min(expected + 1, last)}[key]
        assert panel.cursor_t == expected and app.moves[-1] == expected


async def test_a_burst_past_the_last_timestep_stops_there():
    last = fixed_run(WIDE_STEPS)[1][-1].seq_length - 1  # the last timestep of the record fixed_app shows
    app = fixed_app(WIDE_STEPS, cursor_t=last - 1)
    async with app.run_test(size=(80, 12)) as pilot:
        panel = app.panel
        for _ in range(4):
            panel.action_move_cursor(1)
        await pilot.pause()
        assert app.moves == [last] * 4 and panel.cursor_t == last


async def test_click_on_a_character_posts_its_timestep():
    app = fixed_app(WIDE_STEPS, cursor_t=0)
    async with app.run_test(size=(80, 12)) as pilot:
        lines = plain_text(app.panel).split("\n")
        out_line = next(i for i, line in enumerate(lines) if line.startswith("out"))
        start = cursor_column(row(app.panel, "out"))
        await pilot.click(InputWindow, offset=(2 + start + 7, 1 + out_line))
        await pilot.click(InputWindow, offset=(2, 1 + out_line))  # on the label: nothing
        await pilot.click(InputWindow, offset=(2 + start + 3, 1))  # the window in the context row
        assert app.moves == [7, 3]


async def test_long_window_scrolls_to_keep_cursor_visible():
    text = "the quick brown fox jumps over the lazy dog; " * 4
    app = own_app(text, seq_length=80)
    async with app.run_test(size=(40, 8)) as pilot:
        rec = app.panel.record
        expected = expected_glyphs(app.panel, rec.inputs)
        for t in [0, 30, 79, 41, 2]:
            app.panel.cursor_t = t
            await pilot.pause()
            ins = row(app.panel, "in")
            col = cursor_column(ins)
            assert ins[col][0] == expected[t]
            shown = "".join(ch for ch, _ in ins[4:-1])
            assert shown == expected[t - (col - 4) : t - (col - 4) + len(shown)]
            assert ("‹" in ins[3][0]) == (col - 4 < t)


# --- snapshots -------------------------------------------------------------
def test_snapshot_plain(snap_compare):
    assert snap_compare(fixed_app(CONTROL_STEPS, cursor_t=10), terminal_size=(80, 12))


def test_snapshot_unit_coloured(snap_compare):
    async def colour(pilot):
        pilot.app.panel.color_unit = 5

    assert snap_compare(fixed_app(WIDE_STEPS, cursor_t=3, unit=5), run_before=colour, terminal_size=(80, 12))


async def test_the_detail_line_shows_a_wide_character_as_itself_with_its_code_point():
    app = own_app("日本語の文章を読む。ことばは少しずつ覚える。" * 3, seq_length=8, cursor_t=1)
    async with app.run_test(size=(100, 12)) as pilot:
        await pilot.pause()
        panel = app.panel
        rec, vocab = panel.record, panel.info.vocab
        x, y = vocab[int(rec.inputs[1])], vocab[int(rec.targets[1])]
        text = plain_text(panel)
        assert f"{x}→{y} (U+{ord(x):04X}→U+{ord(y):04X})" in text or f"input '{x}' U+{ord(x):04X}" in text


async def test_without_colour_the_units_values_show_as_bars_under_the_inputs(monkeypatch):
    from rnntui.tui.scale import level_glyph

    monkeypatch.setenv("NO_COLOR", "1")
    app = fixed_app(5, unit=3)
    async with app.run_test(size=(100, 12)) as pilot:
        app.panel.color_unit = 3
        await pilot.pause()
        panel, rec = app.panel, app.panel.record
        lines = plain_text(panel).splitlines()
        levels = next(line for line in lines if line.startswith("h "))
        inputs = next(line for line in lines if line.startswith("in "))
        start = first_glyph_column(panel, "in")
        bars = levels[start : start + rec.seq_length]
        assert bars == "".join(level_glyph(float(v)) for v in rec.hs[:, 3])
        assert len(inputs) >= start + rec.seq_length
        assert "unit 3: h after each input as bar height" in plain_text(panel)
