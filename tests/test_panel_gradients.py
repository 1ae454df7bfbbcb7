"""The gradients panel shows the record's own norms, clipping and gradient flow."""

from __future__ import annotations

import numpy as np
import pytest
from harness import HARNESS_TEXT, ClickHarness, PanelHarness, harness_for
from textual.geometry import Region

from rnntui.engine import PARAM_NAMES, Config, Corpus, Trainer
from rnntui.tui.base import RunInfo
from rnntui.tui.drawing import LEVELS, level_char
from rnntui.tui.gradients import (
    SPARK_MAX,
    GradientsPanel,
    format_clip,
    format_norm,
    format_percent,
    format_ratio,
    sparkline,
    table_columns,
)

SIZE = (70, 14)
STEPS = 30
FORCED = 1e-3  # so small that every gradient gets clipped
HUGE = 1e9  # so large that nothing does
PARTIAL = 1.0  # clips some parameters of this run and not others


def clipped_run(clip: float, harness: type[PanelHarness] = PanelHarness) -> tuple[Trainer, PanelHarness]:
    """A run of STEPS iterations with ``clip``, and a ``harness`` over its last record."""
    trainer = Trainer(
        Corpus.from_text(HARNESS_TEXT, name="harness.txt"),
        Config(hidden_size=16, seq_length=12, sample_every=0, clip=clip),
    )
    records = [trainer.step() for _ in range(STEPS)]
    app = harness(GradientsPanel, records[-1], RunInfo(trainer.corpus, 16), cursor_t=3)
    return trainer, app


def drawn(panel) -> list[tuple[str, list]]:
    """Each content row as drawn on screen (border and padding cut off), with its segments."""
    strips = panel.render_lines(Region(0, 0, *panel.outer_size))
    return [(strip.text[2:-2].rstrip(), list(strip)) for strip in strips[1:-1]]


def row_of(panel, name: str) -> tuple[str, list]:
    """The table row of parameter ``name``."""
    rows = [(text, segs) for text, segs in drawn(panel) if text.split()[:1] == [name]]
    assert len(rows) == 1
    return rows[0]


def row_is_bold(segments: list, name: str) -> bool:
    """True when the segment holding ``name`` is drawn bold."""
    return any(name in seg.text and seg.style and seg.style.bold for seg in segments)


@pytest.mark.parametrize("clip", [FORCED, PARTIAL, 5.0, HUGE])
async def test_every_number_in_the_table_is_the_records(clip):
    trainer, app = clipped_run(clip)
    async with app.run_test(size=SIZE) as pilot:
        app.panel.history_norms = trainer.history.grad_norms[-SPARK_MAX:]
        await pilot.pause()
        rec = app.panel.record
        for name in PARAM_NAMES:
            fields = row_of(app.panel, name)[0].split()
            assert fields[1] == format_norm(rec.grad_norms[name])
            assert fields[2] == format_norm(rec.clipped_norms[name])
            assert fields[3] == format_percent(rec.clip_fractions[name])
            assert fields[4] == format_ratio(rec.update_ratios[name]).strip()
        assert f"clip {format_clip(rec.clip)}" in drawn(app.panel)[0][0]


async def test_a_short_panel_names_its_columns_in_the_border():
    trainer, app = clipped_run(5.0)
    async with app.run_test(size=(70, 7)) as pilot:  # five rows: the parameters only, no row of titles
        await pilot.pause()
        panel = app.panel
        assert all(not text.startswith("param") for text, _ in drawn(panel))
        assert str(panel.border_title) == "Gradients · ‖g‖ raw ‖g‖ clip clip% upd/w"
        await pilot.resize_terminal(*SIZE)
        await pilot.pause()
        assert any(text.startswith("param") for text, _ in drawn(panel)) and str(panel.border_title) == "Gradients"


@pytest.mark.parametrize("clip", [FORCED, PARTIAL])
async def test_clipping_rows_are_highlighted_when_clipping_engaged(clip):
    trainer, app = clipped_run(clip)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        rec = app.panel.record
        assert rec.clipping_engaged
        engaged = [name for name in PARAM_NAMES if rec.clip_fractions[name] > 0]
        assert 0 < len(engaged) < len(PARAM_NAMES) if clip == PARTIAL else len(engaged) == len(PARAM_NAMES)
        header = drawn(app.panel)[0][0]
        assert f"clip {format_clip(clip)}" in header
        assert header.endswith("clipped: " + " ".join(engaged))
        for name in PARAM_NAMES:
            assert row_is_bold(row_of(app.panel, name)[1], name) == (rec.clip_fractions[name] > 0)


def test_clip_value_format():
    assert format_clip(FORCED) == "±0.001"
    assert format_clip(5.0) == "±5.0"


async def test_no_highlight_without_clipping():
    trainer, app = clipped_run(HUGE)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        rec = app.panel.record
        assert not rec.clipping_engaged
        assert drawn(app.panel)[0][0].endswith("no clipping")
        for name in PARAM_NAMES:
            assert not row_is_bold(row_of(app.panel, name)[1], name)
            assert row_of(app.panel, name)[0].split()[3] == "0.0%"


@pytest.mark.parametrize("n", [0, 1, 7, 25])
async def test_sparkline_length_follows_history(n):
    trainer, app = clipped_run(5.0)
    async with app.run_test(size=SIZE) as pilot:
        history = trainer.history.grad_norms[STEPS - n :] if n else None
        app.panel.history_norms = history
        await pilot.pause()
        width = table_columns(app.panel.content_size.width)[1]  # the sparkline column's cells
        shown = min(n, width)
        assert width < 25  # the largest case is cut to the room there is
        for j, name in enumerate(PARAM_NAMES):
            text = row_of(app.panel, name)[0]
            fields = text.split(maxsplit=5)
            spark = fields[5] if len(fields) > 5 else ""
            assert len(spark) == shown
            if shown:
                assert spark == sparkline(history[len(history) - shown :, j])
        head = drawn(app.panel)[1][0]
        assert (f"last {shown} raw ‖g‖ (log)" in head) if shown else ("no history yet" in head)


async def test_sparkline_updates_when_history_changes():
    trainer, app = clipped_run(5.0)
    async with app.run_test(size=SIZE) as pilot:
        app.panel.history_norms = trainer.history.grad_norms[:5]
        await pilot.pause()
        before = row_of(app.panel, "Whh")[0]
        app.panel.history_norms = trainer.history.grad_norms[:9]
        await pilot.pause()
        assert row_of(app.panel, "Whh")[0] != before


async def test_flow_row_has_one_cell_per_timestep():
    trainer, app = clipped_run(5.0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        rec = app.panel.record
        lines = [text for text, _ in drawn(app.panel)]
        norms = rec.dh_norms
        last = rec.seq_length - 1
        i = next(k for k, text in enumerate(lines) if text.startswith("‖dL/dh‖"))
        assert lines[i] == (
            f"‖dL/dh‖ t=0: {format_norm(norms[0])} … t={last}: {format_norm(norms[last])}"
            f" (first/last {format_norm(norms[0] / norms[last])})"
        )
        cells = lines[i + 1]
        assert len(cells) == rec.seq_length
        assert cells == "".join(level_char(v / norms.max()) for v in norms)
        assert lines[i + 2].index("▲") == 3
        assert f"t=3 {format_norm(norms[3])}" in lines[i + 2]
        hi, lo = int(np.argmax(norms)), int(np.argmin(norms))
        assert f"max {format_norm(norms[hi])} t={hi}" in lines[i + 3]
        assert f"min {format_norm(norms[lo])} t={lo}" in lines[i + 3]


async def test_flow_cursor_follows_cursor_t():
    trainer, app = clipped_run(5.0)
    async with app.run_test(size=SIZE) as pilot:
        app.panel.cursor_t = 9
        await pilot.pause()
        lines = [text for text, _ in drawn(app.panel)]
        i = next(k for k, text in enumerate(lines) if text.startswith("‖dL/dh‖"))
        assert lines[i + 2].index("▲") == 9


async def test_nothing_before_the_first_step():
    app = harness_for(GradientsPanel, steps=0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert drawn(app.panel)[0][0] == "press space to take the first step"


def with_history(trainer: Trainer):
    """A run_before hook that gives the panel the run's recent gradient norms."""

    async def run_before(pilot) -> None:
        pilot.app.panel.history_norms = trainer.history.grad_norms[-SPARK_MAX:]
        await pilot.pause()

    return run_before


def test_snapshot_clipping(snap_compare):
    trainer, app = clipped_run(FORCED)
    assert snap_compare(app, terminal_size=SIZE, run_before=with_history(trainer))


def test_snapshot_no_clipping(snap_compare):
    trainer, app = clipped_run(HUGE)
    assert snap_compare(app, terminal_size=SIZE, run_before=with_history(trainer))


async def test_clicking_the_flow_row_asks_to_move_the_cursor():
    trainer, app = clipped_run(5.0, ClickHarness)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        lines = [text for text, _ in drawn(app.panel)]
        row = next(k for k, text in enumerate(lines) if text.startswith("‖dL/dh‖")) + 1
        await pilot.click(GradientsPanel, offset=(2 + 10, 1 + row))  # border + padding, then cell 10
        await pilot.click(GradientsPanel, offset=(2 + 10, 1 + row + 1))  # the marker row: no move
        await pilot.pause()
        assert app.moved == [10]


@pytest.mark.parametrize("size", [(32, 9), (32, 13), (48, 9), (48, 16)])
async def test_small_panels_keep_the_rows_and_the_flow_without_cutting_lines(size):
    trainer, app = clipped_run(PARTIAL)
    async with app.run_test(size=size) as pilot:
        app.panel.history_norms = trainer.history.grad_norms[-SPARK_MAX:]
        await pilot.pause()
        rec = app.panel.record
        lines = [text for text, _ in drawn(app.panel)]
        assert len(app.panel.render().plain.split("\n")) <= app.panel.content_size.height  # nothing cut below
        assert not any(text.endswith("…") for text in lines)  # every line fits as drawn
        for name in PARAM_NAMES:
            fields = row_of(app.panel, name)[0].split()
            assert fields[1] == format_norm(rec.grad_norms[name])
            assert format_percent(rec.clip_fractions[name]) in fields
        flow = [text for text in lines if text.strip() and set(text.split()[-1]) <= set(LEVELS)]
        assert len(flow) == 1 and len(flow[0].split()[-1]) == rec.seq_length
