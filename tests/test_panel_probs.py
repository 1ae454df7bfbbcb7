"""The softmax panel shows the record's own probabilities, ranks and entropy."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest
from harness import HARNESS_TEXT, ClickHarness, PanelHarness, fixed_run, harness_for
from textual.geometry import Region

from rnntui.engine import Config, Corpus, Trainer
from rnntui.tui.base import RunInfo
from rnntui.tui.drawing import LEVELS, format_prob, level_char
from rnntui.tui.glyphs import glyph
from rnntui.tui.probs import ProbsPanel, format_nats, log_heights

SIZE = (60, 16)


def drawn(panel) -> list[tuple[str, list]]:
    """Each content row as drawn on screen (border and padding cut off), with its segments."""
    strips = panel.render_lines(Region(0, 0, *panel.outer_size))
    return [(strip.text[2:-2].rstrip(), list(strip)) for strip in strips[1:-1]]


def texts(panel) -> list[str]:
    return [text for text, _ in drawn(panel)]


def is_bold(segments: list, needle: str) -> bool:
    """True when the segment holding ``needle`` is drawn bold."""
    return any(needle in seg.text and seg.style and seg.style.bold for seg in segments)


def expected_order(p: np.ndarray) -> np.ndarray:
    return np.argsort(-p, kind="stable")


def target_rank(p: np.ndarray, target: int) -> int:
    """1-based rank of the target among all characters, from the probabilities alone."""
    assert np.sum(p == p[target]) == 1  # no ties, so the rank is unambiguous
    return int(np.sum(p > p[target])) + 1


def check_cursor(panel, t: int) -> None:
    """Every number the panel shows at timestep ``t`` is the record's."""
    rec, vocab = panel.record, panel.info.vocab
    p = rec.ps[t]
    target = int(rec.targets[t])
    lines = drawn(panel)
    assert lines[0][0] == f"t={t} after '{glyph(vocab[rec.inputs[t]])}' → target '{glyph(vocab[target])}'"
    h = float(-(p * np.log(p)).sum())
    assert f"entropy {format_nats(h)} nats ({format_nats(h / np.log(2))} bits)" in lines[1][0]
    order = expected_order(p)
    rows = [(text, segs) for text, segs in lines[2:] if text[:2].strip().isdigit()]
    assert len(rows) == 8
    for i, (text, segs) in enumerate(rows):
        fields = text.replace("◀ target", "").split()
        v = int(order[i])
        assert fields[0] == str(i + 1)
        assert fields[1] == glyph(vocab[v])
        assert fields[-1] == format_prob(float(p[v]))
        assert ("◀ target" in text) == (v == target)
        assert is_bold(segs, fields[-1]) == (v == target)
    rank = target_rank(p, target)
    extra = [(text, segs) for text, segs in lines if text.startswith("target ")]
    if rank <= 8:
        assert not extra
        assert "◀ target" in rows[rank - 1][0]
    else:
        assert len(extra) == 1
        assert extra[0][0] == f"target '{glyph(vocab[target])}' p={format_prob(float(p[target]))} rank {rank}/{len(p)}"
        assert is_bold(extra[0][1], "rank")


async def test_every_cursor_shows_the_records_top_k_rank_and_entropy():
    app = harness_for(ProbsPanel)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        panel = app.panel
        ranks = set()
        for t in range(panel.record.seq_length):
            panel.cursor_t = t
            await pilot.pause()
            check_cursor(panel, t)
            ranks.add(target_rank(panel.record.ps[t], int(panel.record.targets[t])) <= 8)
        assert ranks == {True, False}  # both the in-top-k row and the extra target row were exercised


async def test_changing_cursor_changes_the_display():
    app = harness_for(ProbsPanel, cursor_t=0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        before = texts(app.panel)
        app.panel.cursor_t = 3
        await pilot.pause()
        after = texts(app.panel)
        assert before != after
        assert after[0].startswith("t=3 ")


async def test_strip_has_one_cell_per_timestep_with_the_cursor_marked():
    app = harness_for(ProbsPanel, cursor_t=4)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        rec = app.panel.record
        lines = texts(app.panel)
        probs = rec.target_probs
        label = next(i for i, text in enumerate(lines) if text.startswith("p(target)"))
        assert f"min {format_prob(float(probs.min()))}" in lines[label]
        assert f"mean {format_prob(float(probs.mean()))}" in lines[label]
        cells = lines[label + 1]
        assert len(cells) == rec.seq_length
        assert all(c in LEVELS for c in cells)
        assert cells == "".join(level_char(h) for h in log_heights(probs))
        assert lines[label + 2].index("▲") == 4
        assert f"t=4 p={format_prob(float(probs[4]))}" in lines[label + 2]


async def test_cursor_beyond_the_window_is_clamped():
    app = harness_for(ProbsPanel, cursor_t=99)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        last = app.panel.record.seq_length - 1
        assert texts(app.panel)[0].startswith(f"t={last} ")
        check_cursor(app.panel, last)


async def test_long_window_strip_fits_and_keeps_the_cursor_in_view():
    trainer = Trainer(Corpus.from_text(HARNESS_TEXT * 3), Config(hidden_size=8, seq_length=90, sample_every=0))
    record = trainer.step()
    app = PanelHarness(ProbsPanel, record, RunInfo(trainer.corpus, 8), cursor_t=80)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        lines = texts(app.panel)
        label = next(i for i, text in enumerate(lines) if text.startswith("p(target)"))
        width = app.panel.content_size.width
        assert len(lines[label + 1]) == width
        start = 90 - width  # the cursor near the end shows the last cells
        assert lines[label + 2].index("▲") == 80 - start  # text flips to the left of the marker
        assert f"(t={start}..89 shown)" in lines[label + 2]


async def test_nothing_before_the_first_step():
    app = harness_for(ProbsPanel, steps=0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert texts(app.panel)[0] == "press space to take the first step"


async def test_clicking_the_strip_asks_to_move_the_cursor():
    trainer, records = fixed_run()
    app = ClickHarness(ProbsPanel, records[-1], RunInfo(trainer.corpus, 16), cursor_t=0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        row = next(i for i, text in enumerate(texts(app.panel)) if text.startswith("p(target)")) + 1
        await pilot.click(ProbsPanel, offset=(2 + 7, 1 + row))  # border + padding, then cell 7
        await pilot.click(ProbsPanel, offset=(2 + 7, 1))  # the header: not the strip
        await pilot.pause()
        assert app.moved == [7]


def test_snapshot(snap_compare):
    assert snap_compare(harness_for(ProbsPanel, cursor_t=3), terminal_size=SIZE)


@pytest.mark.parametrize("size", [(32, 7), (32, 8), (48, 9), (48, 12)])
async def test_small_panels_keep_header_rows_target_and_strip_without_cutting_lines(size):
    app = harness_for(ProbsPanel, cursor_t=3)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        rec = app.panel.record
        p, target = rec.ps[3], int(rec.targets[3])
        lines = texts(app.panel)
        assert len(app.panel.render().plain.split("\n")) <= app.panel.content_size.height  # nothing cut below
        assert not any(text.endswith("…") for text in lines)  # every line fits as drawn
        assert lines[0].startswith("t=3 ")
        rows = [text for text in lines if text[:2].strip().isdigit()]
        assert len(rows) >= 2
        for i, text in enumerate(rows):
            assert text.split()[-1] == format_prob(float(p[expected_order(p)[i]]))
        rank = target_rank(p, target)
        assert any(f"rank {rank}/{len(p)}" in text for text in lines)
        strip = [text for text in lines if text and set(text) <= set(LEVELS)]
        assert len(strip) == 1 and len(strip[0]) == rec.seq_length


CJK_TEXT = "日本語の文章を読む。ことばは少しずつ覚える。日本の春は花の季節。" * 4


async def test_wide_characters_show_as_themselves_with_the_columns_aligned():
    trainer = Trainer(Corpus.from_text(CJK_TEXT, name="cjk"), Config(hidden_size=8, seq_length=10, sample_every=0))
    for _ in range(30):
        record = trainer.step()
    info = RunInfo(corpus=trainer.corpus, hidden_size=8)
    app = PanelHarness(ProbsPanel, record, info, cursor_t=2)
    async with app.run_test(size=(60, 16)) as pilot:
        await pilot.pause()
        panel = app.panel
        rows = [text for text, _ in drawn(panel) if text[:2].strip().isdigit()]
        order = expected_order(record.ps[2])
        vocab = info.vocab
        for i, text in enumerate(rows):
            assert text.split()[1] == vocab[int(order[i])]  # the character itself, not a stand-in
        # every bar starts in the same terminal column, whatever the character's width
        strips = panel.render_lines(Region(0, 0, panel.outer_size.width, panel.outer_size.height))
        starts = set()
        for strip in strips[1:-1]:
            cells = "".join(seg.text for seg in strip)
            if cells[1:4].strip().isdigit():
                width = 0  # terminal cells before the bar
                for ch in cells:
                    if ch in "█▏▎▍▌▋▊▉":
                        starts.add(width)
                        break
                    width += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        assert len(starts) == 1
        header = drawn(panel)[0][0]
        assert vocab[int(record.inputs[2])] in header and vocab[int(record.targets[2])] in header
