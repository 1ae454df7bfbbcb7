"""The neuron page (N): the training text coloured by one unit (checked cell by cell against a plain
per-character loop), the cursor's predictions, the strongest contexts and jumping to them, far scrolling
that recomputes only what is in view, other units, the histogram, and the label of an older analysis."""

from __future__ import annotations

import numpy as np
import pytest
from harness import screen_lines, wait_for
from test_corpus_pass import oracle_pass
from test_units_screen import BRACKETS, LONG_RUN, SIZES, SNAPSHOT_STEPS, make_app, open_table, title_line
from textual.widgets import OptionList

from rnntui.engine import Corpus
from rnntui.engine.units import HIST_BINS
from rnntui.tui import neuron_screen, scale
from rnntui.tui.glyphs import describe, glyph
from rnntui.tui.neuron_screen import NeuronScreen, NeuronText, TextLayout, line_starts, newline_index


async def open_page(pilot, unit: int) -> NeuronScreen:
    """Choose ``unit`` on the main screen, press N and wait until the page shows its text."""
    app = pilot.app
    app.main.unit = unit
    await pilot.press("N")
    await wait_for(pilot, lambda: isinstance(app.screen, NeuronScreen) and app.screen.computed is not None
                   and app.screen.query_one(NeuronText).wrap is not None, "the neuron page")
    await pilot.pause()
    return app.screen


def plain_rows(text: str, width: int) -> list[tuple[int, int]]:
    """(start, stop) of every drawn row: a row per line (its newline included), cut every ``width``."""
    rows, start = [], 0
    for line in text.splitlines(keepends=True):
        for a in range(0, len(line), width):
            rows.append((start + a, start + min(a + width, len(line))))
        start += len(line)
    return rows


def cell_style(app, x: int, y: int):
    """The style of the screen cell at (x, y)."""
    strip = app.screen._compositor.render_strips()[y]
    for segment in strip:
        if x < len(segment.text):
            return segment.text[x], segment.style
        x -= len(segment.text)
    raise IndexError(x)


def check_visible_text(app, text: str, hs: np.ndarray, unit: int) -> int:
    """Every visible character is the text's glyph on the colour of the unit's h there; returns how many."""
    view = app.screen.query_one(NeuronText)
    area = view.content_region
    width = view.scrollable_content_region.width
    rows = plain_rows(text, width)
    top = int(view.scroll_offset.y)
    checked = 0
    for y in range(min(area.height, len(rows) - top)):
        start, stop = rows[top + y]
        for p in range(start, stop):
            ch, style = cell_style(app, area.x + p - start, area.y + y)
            assert ch == glyph(text[p]) and style.bgcolor == scale.color(hs[p, unit]), (p, ch)
            checked += 1
    return checked


@pytest.mark.parametrize("size", SIZES)
async def test_the_visible_text_is_coloured_by_the_units_h(size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await open_page(pilot, 5)
        hs, _, _ = oracle_pass(app.session.trainer.params, app.session.trainer.corpus.data)
        assert check_visible_text(app, BRACKETS, hs, 5) > 100
        await pilot.press("pagedown", "pagedown", "down")
        await pilot.pause()
        assert app.screen.query_one(NeuronText).scroll_offset.y > 0
        check_visible_text(app, BRACKETS, hs, 5)


async def test_the_cursor_shows_h_the_likeliest_next_characters_and_the_target():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_page(pilot, 3)
        await pilot.press("down", "right", "right", "right")
        await pilot.pause()
        view = screen.query_one(NeuronText)
        width = view.scrollable_content_region.width
        start, _ = plain_rows(BRACKETS, width)[1]
        p = start + 3
        assert view.cursor == p
        hs, _, probs = oracle_pass(app.session.trainer.params, app.session.trainer.corpus.data)
        vocab = app.session.trainer.corpus.vocab
        lines = str(screen.query_one("#cursor").content).split("\n")
        assert lines[0] == f"position {p:,} of {len(BRACKETS):,}  {describe(BRACKETS[p])}  h={hs[p, 3]:+.4f}"
        likeliest = sorted(range(len(vocab)), key=lambda v: (-probs[p, v], v))[:5]
        shown = "  ".join(f"{glyph(vocab[v])} {probs[p, v]:.3f}" for v in likeliest)
        target = vocab.index(BRACKETS[p + 1])
        assert lines[1] == f"next: {shown}  target {glyph(BRACKETS[p + 1])} p={probs[p, target]:.3f}"
        _, style = cell_style(app, view.content_region.x + 3, view.content_region.y + 1)
        assert style.bold and style.underline  # the cursor's character


async def test_the_strongest_contexts_are_the_extremes_of_the_whole_text_and_enter_goes_there():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_page(pilot, 6)
        hs, _, _ = oracle_pass(app.session.trainer.params, app.session.trainer.corpus.data)
        t = np.arange(len(BRACKETS))
        highest = np.lexsort((t, -hs[:, 6]))[:10].tolist()  # largest first, earliest among equals
        lowest = np.lexsort((t, hs[:, 6]))[:10].tolist()
        listing = screen.query_one(OptionList)
        ids = [listing.get_option_at_index(i).id for i in range(listing.option_count)]
        assert ids == [None, *(f"positive-at-{p}" for p in highest), None, *(f"negative-at-{p}" for p in lowest)]
        first_negative = listing.get_option_at_index(12)
        assert str(first_negative.prompt).startswith(f"{hs[lowest[0], 6]:+.3f}  ")
        listing.focus()
        listing.highlighted = 12
        await pilot.press("enter")
        await pilot.pause()
        view = screen.query_one(NeuronText)
        assert view.cursor == lowest[0] and view.has_focus
        rows = plain_rows(BRACKETS, view.scrollable_content_region.width)
        row = next(i for i, (a, b) in enumerate(rows) if a <= lowest[0] < b)
        top = int(view.scroll_offset.y)
        assert top <= row < top + view.scrollable_content_region.height
        assert str(screen.query_one("#cursor").content).startswith(f"position {lowest[0]:,} of")
        check_visible_text(app, BRACKETS, hs, 6)


async def test_a_text_shorter_than_both_lists_shows_its_positions_in_each():
    """hello: five positions, so each is among the 10 most positive and the 10 most negative."""
    app = make_app(text="hello", hidden_size=4, steps=3)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_page(pilot, 0)
        hs, _, _ = oracle_pass(app.session.trainer.params, app.session.trainer.corpus.data)
        t = np.arange(len("hello"))
        listing = screen.query_one(OptionList)
        ids = [listing.get_option_at_index(i).id for i in range(listing.option_count)]
        highest, lowest = np.lexsort((t, -hs[:, 0])).tolist(), np.lexsort((t, hs[:, 0])).tolist()
        assert ids == [None, *(f"positive-at-{p}" for p in highest), None, *(f"negative-at-{p}" for p in lowest)]
        listing.focus()
        listing.highlighted = len(ids) - 1  # the last negative one
        await pilot.press("enter")
        await pilot.pause()
        assert screen.query_one(NeuronText).cursor == lowest[-1]


async def test_the_end_of_a_long_text_is_recomputed_exactly_and_only_near_the_view():
    text = BRACKETS * 20  # 80,460 characters: more than one kept state apart
    app = make_app(text, steps=20)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_page(pilot, 2)
        await pilot.press("end")
        await pilot.pause()
        view = screen.query_one(NeuronText)
        assert view.cursor == len(text) - 1
        hs, _, _ = oracle_pass(app.session.trainer.params, app.session.trainer.corpus.data)
        check_visible_text(app, text, hs, 2)
        assert view.exact.stop == len(text) and view.exact.stop - view.exact.start < 20_000
        assert "(the last character predicts nothing)" in str(screen.query_one("#cursor").content)


async def test_brackets_move_to_the_next_unit_everywhere():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_page(pilot, 4)
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert screen.unit == 5 and app.main.unit == 5
        hs, _, _ = oracle_pass(app.session.trainer.params, app.session.trainer.corpus.data)
        facts = str(screen.query_one("#facts").content)
        assert facts.startswith(f"unit 5  mean {hs[:, 5].mean():+.3f}  std {hs[:, 5].std():.3f}")
        check_visible_text(app, BRACKETS, hs, 5)
        await pilot.press("left_square_bracket", "left_square_bracket")
        await pilot.pause()
        assert screen.unit == 3 and app.main.unit == 3


async def test_the_histogram_counts_h_over_the_whole_text():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_page(pilot, 7)
        hs, _, _ = oracle_pass(app.session.trainer.params, app.session.trainer.corpus.data)
        counts = [0] * HIST_BINS
        for value in hs[:, 7]:
            counts[min(max(int(np.floor((value + 1) * (HIST_BINS / 2))), 0), HIST_BINS - 1)] += 1
        region = screen.query_one("#histogram").region
        lines = [line[region.x + 1 : region.right - 1] for line in screen_lines(app)[region.y : region.bottom]]
        assert lines[0].startswith(f"histogram of h over the text ({len(hs):,} characters)")
        top_row = lines[1]
        full = [i for i in range(HIST_BINS) if top_row[2 * i : 2 * i + 2] == "██"]
        assert full == [i for i, c in enumerate(counts) if c == max(counts)]
        empty_everywhere = [i for i in range(HIST_BINS) if all(line[2 * i : 2 * i + 2] == "  " for line in lines[1:5])]
        assert empty_everywhere == [i for i, c in enumerate(counts) if c == 0]


async def test_an_older_analysis_says_so_on_the_page_and_r_recomputes():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_page(pilot, 1)
        await pilot.press("escape", "space")
        await pilot.pause()
        screen = await open_page(pilot, 1)
        title = screen.query_one("#analysis-title")
        assert "computed after 60 steps; now at 61: press r to recompute" in str(title.content)
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.computed.iteration == 61, "the new analysis")
        assert "after 61 steps" in str(title.content) and "press r" not in str(title.content)
        hs, _, _ = oracle_pass(app.session.trainer.params, app.session.trainer.corpus.data)
        check_visible_text(app, BRACKETS, hs, 1)


@pytest.mark.parametrize("size", SIZES)
async def test_the_title_fits_one_line_giving_way_part_by_part(size):
    app = make_app(hidden_size=32, steps=LONG_RUN)
    async with app.run_test(size=size) as pilot:
        table = await open_table(pilot)
        best = table.order[0]
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, NeuronScreen) and app.screen.computed is not None,
                       "the neuron page")
        await pilot.pause()
        title = title_line(app)
        assert f"nit {best} (1st by |r| depth ↓)" in title and "after 1,203 steps" in title
        assert not title.endswith("…")
        if size == (120, 40):
            assert title.startswith(f"Neuron page · unit {best} ") and "4,023 characters of brackets.txt" in title
        await pilot.press("escape", "escape", "space", "space")
        screen = await open_page(pilot, best)
        title = title_line(app)  # an older analysis: what it is of stays, the rest gives way
        assert f"nit {best} (1st by |r| depth ↓)" in title and "after 1,203 steps" in title
        assert "now at 1,205" in title and "press r" in title and not title.endswith("…")
        assert screen.unit == best


def test_text_layout_rows_are_the_lines_cut_at_the_width(monkeypatch):
    text = "ab\n\nabcdefgh\nxyz" + "q" * 11
    corpus = Corpus.from_text(text)
    for width in (1, 3, 4, 80):
        layout = TextLayout(len(text), line_starts(corpus.data, newline_index(corpus)), width)
        expected = plain_rows(text, width)
        assert [layout.span(r) for r in range(layout.rows)] == expected
        assert [layout.row_of(p) for p in range(len(text))] == [
            next(i for i, (a, b) in enumerate(expected) if a <= p < b) for p in range(len(text))]
    monkeypatch.setattr(neuron_screen, "MAX_LINES", 2)  # too many lines: the width alone cuts rows
    layout = TextLayout(len(text), line_starts(corpus.data, newline_index(corpus)), 5)
    assert [layout.span(r) for r in range(layout.rows)] == [(a, min(a + 5, len(text))) for a in range(0, len(text), 5)]


def test_snapshot_neuron_page(snap_compare):
    async def open_best_unit(pilot):
        await open_table(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, NeuronScreen)
                       and pilot.app.screen.query_one(NeuronText).wrap is not None, "the neuron page")
        await pilot.pause()

    assert snap_compare(make_app(steps=SNAPSHOT_STEPS), terminal_size=(120, 40), run_before=open_best_unit)


async def test_the_neuron_page_snapshot_shows_the_text_facts_contexts_and_cursor():
    """What test_snapshot_neuron_page's picture holds, in words."""
    app = make_app(steps=SNAPSHOT_STEPS)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_table(pilot)
        best = int(table.order[0])
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, NeuronScreen)
                       and app.screen.query_one(NeuronText).wrap is not None, "the neuron page")
        await pilot.pause()
        lines = screen_lines(app)
        assert lines[0].startswith(f" Neuron page · unit {best} (1st by |r| depth ↓) · 4,023 characters of "
                                   f"brackets.txt · ")
        assert lines[0].rstrip().endswith(f"after {SNAPSHOT_STEPS} steps")
        assert f"brackets.txt · unit {best} (h after each character)" in lines[1]
        assert lines[2].startswith("│" + glyph(BRACKETS[0]) + "{((n␣b)")  # the text from its start, glyphs for blanks
        assert f"unit {best}  mean" in lines[1] and "r with each feature" in lines[3]
        assert "   depth " in lines[4] and "1st" in lines[4]  # the unit leads the depth ranking
        assert any("most positive" in line for line in lines) and any("most negative" in line for line in lines)
        assert lines[-3].startswith(" position 0 of 4,023  '[' U+005B  h=")
        assert lines[-2].startswith(" next: ") and "Prev unit" in lines[-1]


async def test_with_held_out_text_the_analysis_and_the_page_cover_the_training_part_only():
    from harness import DebuggerApp

    from rnntui.engine import Config, Trainer
    from rnntui.engine.session import Session

    trainer = Trainer(Corpus.from_text(BRACKETS, name="brackets.txt"),
                      Config(hidden_size=8, seq_length=25, sample_every=0, val_frac=0.25))
    session = Session(trainer)
    session.step()
    train = len(BRACKETS) - len(BRACKETS) // 4  # N - floor(0.25 N)
    app = DebuggerApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_page(pilot, 0)
        assert f"{train:,} characters of brackets.txt (training part)" in str(screen.query_one("#analysis-title").content)
        await pilot.press("end")
        await pilot.pause()
        view = screen.query_one(NeuronText)
        assert view.cursor == train - 1
        hs, _, _ = oracle_pass(trainer.params, trainer.corpus.data[:train])
        check_visible_text(app, BRACKETS[:train], hs, 0)
        assert "(the last character predicts nothing)" in str(screen.query_one("#cursor").content)
