"""The step panel shows one timestep's forward or backward numbers, all read from the record."""

from __future__ import annotations

import numpy as np
import pytest
from harness import fixed_run, harness_for
from textual.geometry import Region

from rnntui.tui.base import RunInfo
from rnntui.tui.drawing import EMPTY_TEXT, format_prob
from rnntui.tui.glyphs import glyph
from rnntui.tui.step_panel import StepPanel, number, phase_sequence, step_position

SIZE = (70, 14)
ARRAYS = ("inputs", "targets", "hprev", "hs", "ys", "ps", "wxh_x", "whh_h", "bh", "losses", "dh_out", "dh", "dhraw")


def texts(panel) -> list[str]:
    """Each content row as drawn on screen (border and padding cut off)."""
    strips = panel.render_lines(Region(0, 0, *panel.outer_size))
    return [strip.text[2:-2].rstrip() for strip in strips[1:-1]]


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def row(lines: list[str], label: str) -> list[str]:
    """The number fields of the table row labelled ``label`` (the norm, then the unit's value)."""
    for text in lines:
        body = text.strip()
        if body.startswith(label + " "):
            fields = body[len(label) :].split()
            if fields and all(is_number(f) for f in fields):
                return fields
    raise AssertionError(f"no row {label!r} in {lines}")


def vector_cells(vec: np.ndarray, unit: int) -> list[str]:
    """What a table row shows for ``vec``: its norm and its ``unit`` entry, in the panel's format."""
    return [number(np.linalg.norm(vec)), number(vec[unit], signed=True)]


def ch(panel, index) -> str:
    return glyph(panel.info.vocab[int(index)])


async def show(pilot, panel, phase: str, t: int, unit: int = 0) -> list[str]:
    panel.phase, panel.cursor_t, panel.unit = phase, t, unit
    await pilot.pause()
    return texts(panel)


# --- the stepping order ------------------------------------------------------------


def test_phase_sequence_is_forward_up_then_backward_down():
    assert phase_sequence(3) == [
        ("forward", 0), ("forward", 1), ("forward", 2),
        ("backward", 2), ("backward", 1), ("backward", 0),
    ]  # fmt: skip
    assert phase_sequence(0) == []


def test_step_position_walks_the_sequence_and_clamps_at_both_ends():
    T = 5
    sequence = phase_sequence(T)
    position = sequence[0]
    walked = [position]
    for _ in range(2 * T + 3):  # past the end on purpose
        position = step_position(*position, 1, T)
        walked.append(position)
    assert walked[: 2 * T] == sequence
    assert set(walked[2 * T :]) == {("backward", 0)}
    back = [position]
    for _ in range(2 * T + 3):
        position = step_position(*position, -1, T)
        back.append(position)
    assert back[: 2 * T] == sequence[::-1]
    assert set(back[2 * T :]) == {("forward", 0)}
    assert step_position("forward", T - 1, 1, T) == ("backward", T - 1)  # the turn
    assert step_position("backward", T - 1, -1, T) == ("forward", T - 1)
    assert step_position("forward", 1, 100, T) == ("backward", 0)
    assert step_position("backward", 99, 0, T) == ("backward", T - 1)  # a t past the window is clamped first


# --- forward ---------------------------------------------------------------------


@pytest.mark.parametrize("t, unit", [(0, 0), (3, 5), (11, 15)])
async def test_forward_shows_the_records_parts_state_logits_and_loss(t, unit):
    app = harness_for(StepPanel)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.panel
        rec = panel.record
        assert t < rec.seq_length
        lines = await show(pilot, panel, "forward", t, unit)
        x, y = int(rec.inputs[t]), int(rec.targets[t])
        assert lines[0] == f"forward t={t}/{rec.seq_length}: x='{ch(panel, x)}' (index {x}) → target '{ch(panel, y)}'"
        assert f"unit {unit}" in lines[2]
        assert row(lines, "Wxh·x_t") == vector_cells(rec.wxh_x[t], unit)
        assert row(lines, "Whh·h_{t-1}") == vector_cells(rec.whh_h[t], unit)
        assert row(lines, "bh") == vector_cells(rec.bh, unit)
        assert row(lines, "sum (pre-act.)") == vector_cells(rec.wxh_x[t] + rec.whh_h[t] + rec.bh, unit)
        assert row(lines, "h_t = tanh(sum)") == vector_cells(rec.hs[t], unit)
        order = np.argsort(-rec.ys[t], kind="stable")[:5]
        shown = [f"'{ch(panel, v)}' {number(rec.ys[t, v], signed=True)}" for v in order]
        assert lines[lines.index("y_t = Why·h_t + by, top logits:") + 1] == "  " + "  ".join(shown)
        p, loss = format_prob(float(rec.ps[t, y])), number(rec.losses[t])
        assert f"p_t[target '{ch(panel, y)}'] = {p}   loss term −ln p = {loss}" in lines
        assert f"loss so far (t=0..{t}) = {number(rec.losses[: t + 1].sum())}" in lines


@pytest.mark.parametrize("unit", [0, 7, 15])
async def test_h_t_is_tanh_of_the_sum_of_the_parts(unit):
    app = harness_for(StepPanel)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.panel
        rec = panel.record
        np.testing.assert_allclose(np.tanh(rec.wxh_x + rec.whh_h + rec.bh), rec.hs, atol=1e-12)
        for t in range(rec.seq_length):
            lines = await show(pilot, panel, "forward", t, unit)
            parts = [float(row(lines, label)[1]) for label in ("Wxh·x_t", "Whh·h_{t-1}", "bh")]
            total, h = float(row(lines, "sum (pre-act.)")[1]), float(row(lines, "h_t = tanh(sum)")[1])
            assert total == pytest.approx(sum(parts), abs=2e-4)  # three rounded parts
            assert h == pytest.approx(np.tanh(total), abs=1e-4)  # rounding of each shown value


async def test_target_among_the_top_logits_is_bold():
    app = harness_for(StepPanel)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.panel
        rec = panel.record
        hits = [t for t in range(rec.seq_length) if rec.targets[t] in np.argsort(-rec.ys[t])[:5]]
        assert hits  # the fixed run has such a timestep
        t = hits[0]
        await show(pilot, panel, "forward", t)
        y = int(rec.targets[t])
        entry = f"'{ch(panel, y)}' {number(rec.ys[t, y], signed=True)}"
        segments = [seg for strip in panel.render_lines(Region(0, 0, *panel.outer_size)) for seg in strip]
        assert any(entry in seg.text and seg.style and seg.style.bold for seg in segments)


# --- backward --------------------------------------------------------------------


@pytest.mark.parametrize("t, unit", [(11, 0), (5, 3), (1, 9), (0, 2)])
async def test_backward_shows_the_records_dy_dh_dhraw_and_contributions(t, unit):
    app = harness_for(StepPanel)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.panel
        rec = panel.record
        T = rec.seq_length
        lines = await show(pilot, panel, "backward", t, unit)
        y = int(rec.targets[t])
        assert lines[0] == f"backward t={t}/{T}: x='{ch(panel, rec.inputs[t])}' → target '{ch(panel, y)}'"
        dy = rec.dys[t]
        assert f"‖dy‖ {number(np.linalg.norm(dy))}  dy['{ch(panel, y)}'] {number(dy[y], signed=True)}" in lines[1]
        assert row(lines, "Whyᵀdy") == vector_cells(rec.dh_out[t], unit)
        came = "dh_next: none" if t == T - 1 else f"dh_next from t={t + 1}"
        assert row(lines, came) == vector_cells(rec.dh[t] - rec.dh_out[t], unit)
        assert row(lines, "dh") == vector_cells(rec.dh[t], unit)
        assert row(lines, "dhraw=(1−h_t²)⊙dh") == vector_cells(rec.dhraw[t], unit)
        if t >= 1:
            assert row(lines, f"dh_next to t={t - 1}") == vector_cells(rec.dh[t - 1] - rec.dh_out[t - 1], unit)
            assert not any("hprev" in text for text in lines)
        else:
            assert "  dh_next to hprev: dropped (truncated BPTT)" in lines
        c = {name: number(value) for name, value in rec.step_contributions(t).items()}
        assert f"  from dhraw: dWxh {c['Wxh']}  dWhh {c['Whh']}  dbh {c['bh']}" in lines
        assert f"  from dy:    dWhy {c['Why']}  dby {c['by']}" in lines


async def test_dh_next_handed_on_is_what_the_earlier_timestep_receives():
    app = harness_for(StepPanel)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.panel
        for t in range(panel.record.seq_length - 1, 0, -1):
            sent = row(await show(pilot, panel, "backward", t, 4), f"dh_next to t={t - 1}")
            received = row(await show(pilot, panel, "backward", t - 1, 4), f"dh_next from t={t}")
            assert sent == received


async def test_last_timestep_receives_no_dh_next():
    app = harness_for(StepPanel)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.panel
        last = panel.record.seq_length - 1
        lines = await show(pilot, panel, "backward", last, 1)
        assert row(lines, "dh_next: none") == [number(0.0), number(0.0, signed=True)]
        assert row(lines, "dh") == row(lines, "Whyᵀdy")


# --- following the screen's state ------------------------------------------------------


async def test_panel_follows_cursor_phase_unit_and_record():
    _, records = fixed_run()
    app = harness_for(StepPanel)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.panel
        T = panel.record.seq_length
        assert panel.border_title == f"Step into iteration {records[-1].iteration}"
        lines = await show(pilot, panel, "forward", 2, 3)
        assert lines[0].startswith("forward t=2/") and "unit 3" in lines[2]
        assert panel.border_subtitle == f"step 3 of {2 * T}"
        lines = await show(pilot, panel, "backward", 2, 6)
        assert lines[0].startswith("backward t=2/") and "unit 6" in lines[3]
        assert panel.border_subtitle == f"step {2 * T - 2} of {2 * T}"
        panel.cursor_t = 99  # beyond the window: clamped
        await pilot.pause()
        assert texts(panel)[0].startswith(f"backward t={T - 1}/")
        panel.record = records[0]
        await pilot.pause()
        assert panel.border_title == f"Step into iteration {records[0].iteration}"
        assert row(texts(panel), "dh") == vector_cells(records[0].dh[T - 1], 6)


async def test_stepping_through_the_iteration_never_changes_the_record():
    app = harness_for(StepPanel)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.panel
        rec = panel.record
        before = {name: np.array(getattr(rec, name), copy=True) for name in ARRAYS}
        scalars = (rec.loss, rec.smooth_loss, dict(rec.grad_norms))
        position = ("forward", 0)
        for step in range(2 * rec.seq_length + 1):
            await show(pilot, panel, *position, unit=step % 16)
            position = step_position(*position, 1, rec.seq_length)
        assert panel.record is rec
        for name, array in before.items():
            np.testing.assert_array_equal(getattr(rec, name), array)
        assert (rec.loss, rec.smooth_loss, dict(rec.grad_norms)) == scalars


def test_phase_must_be_forward_or_backward():
    trainer, _ = fixed_run(steps=0)
    panel = StepPanel(RunInfo(trainer.corpus, 16))
    with pytest.raises(ValueError):
        panel.phase = "sideways"


async def test_nothing_before_the_first_step():
    app = harness_for(StepPanel, steps=0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert texts(app.panel)[0] == EMPTY_TEXT
        assert app.panel.border_title == "Step into iteration"


@pytest.mark.parametrize("size", [(49, 12), (49, 10), (40, 8)])
@pytest.mark.parametrize("phase", ["forward", "backward"])
async def test_small_panels_keep_the_header_and_key_rows_whole(size, phase):
    app = harness_for(StepPanel)
    async with app.run_test(size=size) as pilot:
        panel = app.panel
        rec = panel.record
        lines = await show(pilot, panel, phase, 3, 2)
        assert len(panel.render().plain.split("\n")) <= panel.content_size.height
        assert not any(text.endswith("…") for text in lines)
        assert lines[0].startswith(f"{phase} t=3")
        assert "unit 2" in "\n".join(lines)
        if phase == "forward":
            assert row(lines, "h_t = tanh(sum)")[-1] == number(rec.hs[3, 2], signed=True)
        else:
            assert row(lines, "dh")[-1] == number(rec.dh[3, 2], signed=True)


async def test_seven_rows_keep_the_whole_chain_of_the_equation():
    """The size the debugger's layout gives the panel at 120 x 40: the parts, h_t, and the dh chain stay."""
    app = harness_for(StepPanel)
    async with app.run_test(size=(48, 9)) as pilot:
        panel = app.panel
        rec = panel.record
        lines = await show(pilot, panel, "forward", 3, 2)
        assert len(lines) == 7
        for label, vec in [("Wxh·x_t", rec.wxh_x[3]), ("Whh·h_{t-1}", rec.whh_h[3]), ("h_t = tanh(sum)", rec.hs[3])]:
            assert row(lines, label) == vector_cells(vec, 2)
        lines = await show(pilot, panel, "backward", 3, 2)
        assert row(lines, "Whyᵀdy") == vector_cells(rec.dh_out[3], 2)
        assert row(lines, "dh_next from t=4") == vector_cells(rec.dh[3] - rec.dh_out[3], 2)
        assert row(lines, "dh") == vector_cells(rec.dh[3], 2)
        assert row(lines, "dhraw=(1−h_t²)⊙dh") == vector_cells(rec.dhraw[3], 2)
        assert row(lines, "dh_next to t=2") == vector_cells(rec.dh[2] - rec.dh_out[2], 2)


# --- snapshots -------------------------------------------------------------------


def at(phase: str, t: int):
    """A run_before hook that moves the panel to (phase, t)."""

    async def move(pilot) -> None:
        pilot.app.panel.phase = phase
        pilot.app.panel.cursor_t = t
        await pilot.pause()

    return move


def test_snapshot_forward(snap_compare):
    assert snap_compare(harness_for(StepPanel, unit=5), terminal_size=SIZE, run_before=at("forward", 3))


def test_snapshot_backward(snap_compare):
    assert snap_compare(harness_for(StepPanel, unit=5), terminal_size=SIZE, run_before=at("backward", 3))
