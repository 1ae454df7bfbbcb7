"""Loss curve panel: bounded bucketing, the series it hands to plotext, toggles, baseline, markers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from harness import PanelHarness, fixed_run, widget_text
from test_evaluation_screen import eval_session, report_of
from textual_plotext import PlotextPlot

from rnntui.engine.evaluation import Evaluation
from rnntui.engine.session import Branch
from rnntui.tui.base import RunInfo
from rnntui.tui.loss_curve import (
    BPC_VIEW,
    RECENT,
    LossCurve,
    baseline_labels,
    bucket_edges,
    bucket_last,
    bucket_minmax,
    iteration_ticks,
)


def show_history(panel: LossCurve, history, baseline: float) -> None:
    """Hand a History to the panel as the screen does (pairs for the events), drawing once."""
    panel.set_reactive(LossCurve.baseline, float(baseline))
    panel.set_reactive(LossCurve.events, tuple((e.iteration, e.text) for e in history.events))
    panel.set_reactive(LossCurve.smooth, history.smooth_loss)
    panel.set_reactive(LossCurve.loss, history.loss)
    panel.redraw()


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
        show_history(panel, trainer.history, trainer.initial_smooth_loss)
        return panel

    return PanelHarness(make, records[-1], info), trainer


def recorded_plot_calls(panel: LossCurve, monkeypatch) -> list[tuple[str, tuple]]:
    """Spy on the plotext object: every plot(), scatter(), vertical_line() and axis label call the panel makes."""
    plt = panel.query_one(PlotextPlot).plt
    calls: list[tuple[str, tuple]] = []
    for name in ("plot", "scatter", "vertical_line", "xlabel", "ylabel", "text"):
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


@pytest.mark.parametrize(
    "width, shown",
    [
        (90, "raw smooth baseline {baseline:.2f} ⡇ 40: learning_rate 0.1 -> 0.05"),
        (50, "raw smooth base {baseline:.2f} ⡇40 LR 0.1→0.05"),
        (30, "⡇40 LR 0.1→0.05"),
    ],
)
async def test_a_narrow_panel_shortens_its_legend_but_not_the_change(width, shown):
    """The bottom border keeps the latest change whole: words go first, then the key."""
    app, trainer = loss_app(60, change_at=40)
    async with app.run_test(size=(width, 16)) as pilot:
        await pilot.pause()
        bottom = widget_text(app.panel).splitlines()[-1]
        expected = shown.format(baseline=trainer.initial_smooth_loss)
        assert bottom.endswith(f" {expected} ─╯") and "…" not in bottom


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


@pytest.mark.parametrize("width, height", [(32, 7), (70, 7)])
async def test_a_very_short_plot_keeps_only_its_left_and_bottom_axes(width, height):
    """At 80x24 the panel has 5 rows: no top frame line and no tick row, so 4 rows of curve."""
    app, trainer = loss_app(60)
    async with app.run_test(size=(width, height)) as pilot:
        await pilot.pause()
        rows = widget_text(app.panel).splitlines()[1:-1]  # inside the panel's border
        assert len(rows) == 5
        assert "┌" not in "".join(rows) and rows[-1].strip(" │").startswith("└")  # the bottom axis is the last row
        curve_rows = rows[:-1]
        assert all("┤" in row for row in curve_rows)  # every other row is curve, with its y tick
        top = max(trainer.history.loss.max(), trainer.history.smooth_loss.max())
        assert f"{top:.1f}" in curve_rows[0]  # the highest tick is the data's top
        title = widget_text(app.panel).splitlines()[0]
        assert "iter 0–59" in title  # the range the ticks no longer show


# --- the bits-per-character view and the kept branches' overlay ------------------------------------


def bpc_app(session, with_baselines: bool = True) -> PanelHarness:
    """A harness whose LossCurve shows ``session``'s history and evaluations in the bpc view
    (with the k-gram baselines of a report computed directly)."""
    history = session.trainer.history
    report = report_of(session) if with_baselines else None

    def make(run_info: RunInfo) -> LossCurve:
        panel = LossCurve(run_info)
        show_history(panel, history, session.trainer.initial_smooth_loss)
        panel.evaluations = session.evaluations
        panel.view = BPC_VIEW
        if report is not None:
            panel.show_baselines(report.baselines, report.in_sample)
        return panel

    info = RunInfo(corpus=session.trainer.corpus, hidden_size=session.trainer.config.hidden_size)
    return PanelHarness(make, session.last_record, info)


async def redrawn_calls(pilot, panel: LossCurve, monkeypatch) -> list[tuple[str, tuple]]:
    """The plotext calls of one redraw of ``panel``."""
    calls = recorded_plot_calls(panel, monkeypatch)
    panel.redraw()
    await pilot.pause()
    return calls


def evaluation_points(evaluations, attribute: str) -> tuple[list[int], list[float]]:
    return [e.iteration for e in evaluations], [getattr(e, attribute) for e in evaluations]


async def test_the_bpc_view_plots_the_evaluations_and_the_baselines(monkeypatch):
    session = eval_session(steps=60, eval_every=5)
    expected_baselines = report_of(session).baselines
    app = bpc_app(session)
    async with app.run_test(size=(70, 16)) as pilot:
        panel = app.panel
        calls = await redrawn_calls(pilot, panel, monkeypatch)
        plan = panel.bpc_plan()
        its, train = evaluation_points(session.evaluations, "train_bpc")
        _, held = evaluation_points(session.evaluations, "val_bpc")
        assert its == list(range(0, 60, 5))
        assert plan.train[0].tolist() == its and plan.train[1].tolist() == train  # fewer points than columns: all
        assert plan.held_out[0].tolist() == its and plan.held_out[1].tolist() == held
        assert plan.baselines == tuple(sorted(expected_baselines.items()))
        assert (plan.first, plan.last, plan.ylabel) == (0, 59, "bits/char")
        plotted = [args for name, args in calls if name == "plot"]
        for value in expected_baselines.values():  # a horizontal line across the range for each k
            assert ([0, 59], [value, value]) in plotted
        assert (its, train) in plotted and (its, held) in plotted
        dots = [args for name, args in calls if name == "scatter"]
        assert (its, train) in dots and (its, held) in dots  # sparse: the evaluated models are marked
        labels = [args[0] for name, args in calls if name == "text"]
        assert labels and {k for label in labels for k in label.removesuffix("-gram").split(",")} == {"1", "2", "3", "4", "5"}
        assert str(panel.border_title) == "Bits per character · all · iter 0–59"
        assert "train" in str(panel.border_subtitle) and "held-out" in str(panel.border_subtitle)
        await pilot.press("l")
        log_plan = panel.bpc_plan()
        np.testing.assert_allclose(log_plan.held_out[1], np.log10(held))
        np.testing.assert_allclose([v for _, v in log_plan.baselines],
                                   np.log10([v for _, v in sorted(expected_baselines.items())]))


async def test_the_bpc_view_without_a_held_out_part_and_before_any_evaluation():
    session = eval_session(steps=30, val_frac=0.0)
    app = bpc_app(session)
    async with app.run_test(size=(70, 16)) as pilot:
        panel = app.panel
        plan = panel.bpc_plan()
        assert plan.held_out is None and plan.train[0].tolist() == [0, 20]
        assert "held-out" not in str(panel.border_subtitle) and "k-grams (in sample)" in str(panel.border_subtitle)
        panel.evaluations = ()
        panel.baselines = ()
        await pilot.pause()
        assert panel.bpc_plan() is None
        assert str(panel.border_title).startswith("Bits per character · no evaluations yet")


async def test_the_bpc_view_draws_a_bounded_number_of_points():
    trainer, _ = fixed_run(0)
    app = PanelHarness(LossCurve, None, RunInfo(corpus=trainer.corpus, hidden_size=trainer.config.hidden_size))
    async with app.run_test(size=(70, 16)) as pilot:
        panel = app.panel
        rng = np.random.default_rng(1)
        evaluations = tuple(Evaluation(n, 3 + rng.random(), 3.5 + rng.random()) for n in range(20_000))
        panel.loss = panel.smooth = np.full(20_000, 50.0)
        panel.evaluations = evaluations
        panel.view = BPC_VIEW
        await pilot.pause()
        plan = panel.bpc_plan()
        held = np.array([e.val_bpc for e in evaluations])
        assert len(plan.held_out[0]) <= 2 * panel.n_buckets
        assert plan.held_out[1].max() == held.max() and plan.held_out[1].min() == held.min()
        assert panel.series_of(evaluations) is panel.series_of(evaluations)  # arrays made once per tuple
        await pilot.press("w")
        plan = panel.bpc_plan()
        assert plan.first == 20_000 - RECENT and plan.train[0].min() >= 20_000 - RECENT


def test_baseline_labels_share_a_row_when_their_lines_do():
    labels = baseline_labels(((1, 0.0), (2, 0.4), (3, 2.0), (4, 4.0), (5, math.nan)), rows=5, low=0.0, high=4.0)
    assert labels == [("1,2-gram", pytest.approx(0.2)), ("3-gram", 2.0), ("4-gram", 4.0)]
    assert baseline_labels(((1, 3.0), (2, 3.0)), rows=1, low=3.0, high=3.0) == [("1,2-gram", 3.0)]


def kept_branch(name: str, smooth: np.ndarray, evaluations=()) -> Branch:
    return Branch(name, None, "", len(smooth) - 1, False, True, smooth, tuple(evaluations))


async def test_kept_branches_are_overlaid_with_their_names_and_the_key_hides_them():
    app, _ = loss_app(120)
    async with app.run_test(size=(70, 16)) as pilot:
        panel = app.panel
        longer = np.linspace(60.0, 30.0, 200)  # a kept line that went further than the live one
        shorter = np.linspace(55.0, 50.0, 80)
        live = Branch("branch 2", 100, "", 119, True, True, None, ())
        panel.branches = (kept_branch("main", longer), kept_branch("branch 1", shorter), live)
        await pilot.pause()
        plan = panel.plan()
        assert [o.name for o in plan.overlays] == ["main", "branch 1"]
        assert plan.last == 119  # the live line's span: the kept line that went further is cut to it
        xs, ys = bucket_last(np.arange(120), longer[:120], panel.n_buckets)
        assert plan.overlays[0].xs.tolist() == xs.tolist() and plan.overlays[0].ys.tolist() == ys.tolist()
        assert plan.overlays[0].color != plan.overlays[1].color
        assert "main" in str(panel.border_subtitle) and "branch 1" in str(panel.border_subtitle)
        await pilot.press("w")  # the last 500 of the live line: the kept curves within it
        assert panel.plan().last == 119 and panel.plan().overlays[0].xs.max() == 119
        panel.action_toggle_overlay()
        await pilot.pause()
        assert panel.plan().overlays == () and "main" not in str(panel.border_subtitle)


async def test_a_kept_branch_that_diverged_is_drawn_up_to_its_last_finite_point():
    app, _ = loss_app(120)
    async with app.run_test(size=(70, 16)) as pilot:
        panel = app.panel
        diverged = np.concatenate([np.linspace(60.0, 70.0, 90), [np.inf, np.nan, np.nan]])
        live = Branch("branch 1", 100, "", 119, True, True, None, ())
        panel.branches = (kept_branch("main", diverged), live)
        await pilot.pause()
        (overlay,) = panel.plan().overlays
        assert np.isfinite(overlay.ys).all() and overlay.xs.max() <= 89  # the non-finite tail is left out
        assert "main" in widget_text(panel)


async def test_the_bpc_view_in_words():
    """What the snapshot below shows, in words."""
    session = eval_session(steps=60, eval_every=5)
    app = bpc_app(session)
    async with app.run_test(size=(70, 16)) as pilot:
        await pilot.pause()
        text = widget_text(app.panel)
        assert "Bits per character · all · iter 0–59" in text
        assert "train held-out k-grams" in text
        assert "bits/char" in text and "iteration" in text
        assert "-gram" in text  # the baselines' labels on their lines


def test_snapshot_bpc_view(snap_compare):
    assert snap_compare(bpc_app(eval_session(steps=60, eval_every=5)), terminal_size=(70, 16))
