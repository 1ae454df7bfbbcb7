"""Loss curve panel: bounded bucketing, the series it hands to plotext, toggles, baseline, markers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from harness import PanelHarness, fixed_run
from textual_plotext import PlotextPlot

from rnntui.tui.base import RunInfo
from rnntui.tui.loss_curve import (
    RECENT,
    LossCurve,
    bucket_edges,
    bucket_last,
    bucket_minmax,
    iteration_ticks,
)


def loss_app(steps: int, change_at: int | None = None) -> tuple[PanelHarness, object]:
    """A harness whose LossCurve shows the History of a real ``steps``-iteration run.

    With ``change_at``, the learning rate is changed after that many steps (an event marker).
    """
    trainer, records = fixed_run(change_at if change_at is not None else steps)
    if change_at is not None:
        trainer.set_hyperparameters(learning_rate=0.05)
        records += [trainer.step() for _ in range(steps - change_at)]
    info = RunInfo(corpus=trainer.corpus, hidden_size=trainer.config.hidden_size)

    def make(run_info: RunInfo) -> LossCurve:
        panel = LossCurve(run_info)
        panel.show_history(trainer.history, trainer.initial_smooth_loss)
        return panel

    return PanelHarness(make, records[-1], info), trainer


def recorded_plot_calls(panel: LossCurve, monkeypatch) -> list[tuple[str, tuple]]:
    """Spy on the plotext object: every plot(), scatter(), vertical_line() and axis label call the panel makes."""
    plt = panel.query_one(PlotextPlot).plt
    calls: list[tuple[str, tuple]] = []
    for name in ("plot", "scatter", "vertical_line", "xlabel", "ylabel"):
        original = getattr(plt, name)

        def spy(*args, _name=name, _original=original, **kwargs):
            calls.append((_name, args))
            return _original(*args, **kwargs)

        monkeypatch.setattr(plt, name, spy)
    return calls


# --- bucketing ---------------------------------------------------------------


@pytest.mark.parametrize("n, n_buckets", [(1, 5), (10, 3), (10, 10), (10, 40), (997, 64), (5000, 7)])
def test_bucket_minmax_keeps_each_bucket_min_and_max(n, n_buckets):
    rng = np.random.default_rng(n)
    x = np.arange(n) + 100
    y = rng.standard_normal(n)
    xs, ys = bucket_minmax(x, y, n_buckets)
    edges = bucket_edges(n, n_buckets)
    assert edges[0] == 0 and edges[-1] == n and np.all(np.diff(edges) >= 1)
    assert len(edges) - 1 == min(n, n_buckets)
    kept = dict(zip(xs.tolist(), ys.tolist()))
    for lo, hi in zip(edges[:-1], edges[1:]):
        part = y[lo:hi]
        for i in (lo + np.argmin(part), lo + np.argmax(part)):
            assert kept[x[i]] == y[i]
        in_bucket = [v for k, v in kept.items() if x[lo] <= k < x[hi - 1] + 1]
        assert min(in_bucket) == part.min() and max(in_bucket) == part.max()
    assert np.all(np.diff(xs) > 0)  # x order, no duplicates


@pytest.mark.parametrize("n", [10, 1_000_000])
@pytest.mark.parametrize("n_buckets", [4, 60, 200])
def test_bucket_minmax_output_is_bounded(n, n_buckets):
    rng = np.random.default_rng(0)
    y = rng.random(n)
    xs, ys = bucket_minmax(np.arange(n), y, n_buckets)
    assert len(xs) == len(ys) <= 2 * n_buckets
    assert ys.max() == y.max() and ys.min() == y.min()


def test_bucket_minmax_empty_and_mismatched():
    xs, ys = bucket_minmax(np.zeros(0), np.zeros(0), 10)
    assert len(xs) == len(ys) == 0
    with pytest.raises(ValueError):
        bucket_minmax(np.arange(3), np.arange(4), 2)


def test_bucket_last_takes_each_bucket_end():
    y = np.arange(1000.0) ** 0.5
    xs, ys = bucket_last(np.arange(1000), y, 30)
    edges = bucket_edges(1000, 30)
    assert xs.tolist() == (edges[1:] - 1).tolist()
    assert xs[-1] == 999 and ys[-1] == y[-1]


def test_iteration_ticks_are_whole_and_span_the_range():
    ticks = iteration_ticks(200, 699)
    assert ticks[0] == 200 and ticks[-1] == 699 and all(isinstance(t, int) for t in ticks)


# --- the panel -----------------------------------------------------------------


async def test_panel_plots_bucketed_history_and_baseline(monkeypatch):
    app, trainer = loss_app(120)
    async with app.run_test(size=(70, 16)) as pilot:
        panel = app.panel
        calls = recorded_plot_calls(panel, monkeypatch)
        panel.redraw()
        await pilot.pause()
        plan = panel.plan()
        n = len(trainer.history)
        raw_x, raw_y = bucket_minmax(np.arange(n), trainer.history.loss, panel.n_buckets)
        sm_x, sm_y = bucket_last(np.arange(n), trainer.history.smooth_loss, panel.n_buckets)
        assert plan.raw[0].tolist() == raw_x.tolist() and plan.raw[1].tolist() == raw_y.tolist()
        assert plan.smooth[1].tolist() == sm_y.tolist() and plan.smooth[0].tolist() == sm_x.tolist()
        assert plan.smooth[1][-1] == trainer.smooth_loss
        assert len(plan.raw[0]) <= 2 * panel.n_buckets
        # what reached plotext: baseline, raw, smooth, in that order
        plotted = [args for name, args in calls if name == "plot"]
        assert plotted[1] == (raw_x.tolist(), raw_y.tolist())
        assert plotted[2] == (sm_x.tolist(), sm_y.tolist())
        expected_baseline = math.log(trainer.corpus.vocab_size) * trainer.seq_length
        assert plotted[0][1] == [pytest.approx(expected_baseline)] * 2
        assert plan.baseline == pytest.approx(trainer.initial_smooth_loss)
        assert f"baseline {expected_baseline:.2f}" in str(panel.border_subtitle)
        assert str(panel.border_title) == f"Loss · all · iter 0–{n - 1}"


async def test_log_toggle_plots_log10_values(monkeypatch):
    app, trainer = loss_app(80)
    async with app.run_test(size=(70, 16)) as pilot:
        panel = app.panel
        calls = recorded_plot_calls(panel, monkeypatch)
        await pilot.press("l")
        assert panel.log_scale
        n = len(trainer.history)
        raw_x, raw_y = bucket_minmax(np.arange(n), trainer.history.loss, panel.n_buckets)
        plan = panel.plan()
        np.testing.assert_allclose(plan.raw[1], np.log10(raw_y))
        np.testing.assert_allclose(plan.baseline, math.log10(trainer.initial_smooth_loss))
        assert plan.ylabel == "log10(loss)" and str(panel.border_title).endswith("· log10")
        plotted = [args for name, args in calls if name == "plot"]
        np.testing.assert_allclose(plotted[-2][1], np.log10(raw_y))
        panel.action_toggle_log()
        assert not panel.log_scale and panel.plan().raw[1].tolist() == raw_y.tolist()


async def test_window_toggle_limits_to_last_500():
    steps = RECENT + 150
    app, trainer = loss_app(steps, change_at=100)
    async with app.run_test(size=(70, 16)) as pilot:
        panel = app.panel
        assert panel.plan().first == 0 and panel.plan().markers == (100,)
        await pilot.press("w")
        plan = panel.plan()
        n = len(trainer.history)
        assert (plan.first, plan.last) == (n - RECENT, n - 1)
        assert plan.raw[0].min() >= n - RECENT and plan.smooth[0][-1] == n - 1
        raw_x, raw_y = bucket_minmax(np.arange(n - RECENT, n), trainer.history.loss[n - RECENT :], panel.n_buckets)
        assert plan.raw[1].tolist() == raw_y.tolist()
        assert plan.markers == ()  # the change at 100 is outside the window
        assert str(panel.border_title) == f"Loss · last {RECENT} · iter {n - RECENT}–{n - 1}"
        panel.action_toggle_window()
        assert panel.plan().first == 0


async def test_events_are_dotted_vertical_markers(monkeypatch):
    app, trainer = loss_app(60, change_at=40)
    async with app.run_test(size=(70, 16)) as pilot:
        panel = app.panel
        calls = recorded_plot_calls(panel, monkeypatch)
        panel.redraw()
        await pilot.pause()
        event = trainer.history.events[0]
        plan = panel.plan()
        columns = [args for name, args in calls if name == "scatter"]
        assert [xs[0] for xs, _ in columns] == [event.iteration]  # one column of dots, at the change
        (xs, ys), = columns
        data = np.concatenate([plan.raw[1], plan.smooth[1], [plan.baseline]])
        assert min(ys) == data.min() and max(ys) == data.max()  # spanning the data, not the frame
        assert not [name for name, _ in calls if name == "vertical_line"]
        assert f"{event.iteration}: {event.text}" in str(panel.border_subtitle)


async def test_no_data_and_nonfinite_values():
    trainer, records = fixed_run(3)
    info = RunInfo(corpus=trainer.corpus, hidden_size=16)
    app = PanelHarness(LossCurve, None, info)
    async with app.run_test(size=(70, 16)) as pilot:
        panel = app.panel
        assert panel.plan() is None and "no iterations yet" in str(panel.border_title)
        loss = np.array([50.0, np.nan, 40.0, np.inf, 30.0])
        panel.baseline = trainer.initial_smooth_loss
        panel.smooth = loss
        panel.loss = loss
        await pilot.pause()
        plan = panel.plan()
        assert plan.raw[0].tolist() == [0, 2, 4] and plan.raw[1].tolist() == [50.0, 40.0, 30.0]
        assert plan.smooth[0].tolist() == [0, 2, 4]
        panel.smooth = panel.loss = np.array([40.0])  # a single iteration still draws
        await pilot.press("l")
        assert panel.plan().raw[1].tolist() == [np.log10(40.0)]
        assert str(panel.border_title) == "Loss · all · iter 0–0 · log10"


def test_snapshot_loss_curve(snap_compare):
    app, _ = loss_app(300, change_at=250)
    assert snap_compare(app, terminal_size=(70, 16))


@pytest.mark.parametrize("height, labelled", [(9, False), (16, True)])
async def test_a_short_plot_gives_the_axis_labels_row_to_the_curve(monkeypatch, height, labelled):
    app, _ = loss_app(60)
    async with app.run_test(size=(70, height)) as pilot:
        panel = app.panel
        calls = recorded_plot_calls(panel, monkeypatch)
        panel.redraw()
        await pilot.pause()
        labels = [args[0] for name, args in calls if name in ("xlabel", "ylabel")]
        assert labels == (["iteration", "loss"] if labelled else ["", ""])
