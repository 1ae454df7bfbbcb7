"""The header line: facts from the record, broken between items, and an honest rate."""

import pytest
from harness import DebuggerApp, wait_for, wait_for_run_end, widget_text
from rich.text import Text
from test_app import main, make_app
from test_evaluation import plain_nats
from test_evaluation_screen import SETTINGS, eval_session

from rnntui.engine.corpus_pass import LN2
from rnntui.engine.evaluation import Evaluation
from rnntui.engine.session import RunState, StopCause
from rnntui.tui.status import SEPARATOR, evaluation_variants, wrap_items


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


# --- the latest evaluation ------------------------------------------------------------------------


def header_text(app) -> str:
    return widget_text(main(app).query_one("#status"))


async def test_the_header_shows_the_latest_held_out_bpc_and_follows_time_travel():
    session = eval_session(steps=45)  # evaluated at 0, 20 and 40
    held_out = session.trainer.held_out_corpus.data
    bpc = {n: plain_nats(session.params_at(n), held_out) / LN2 for n in (20, 40)}
    app = DebuggerApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main(app)
        assert screen.evaluations == session.evaluations
        assert f"│ held-out {bpc[40]:.3f} bpc @ 40" in header_text(app)
        for _ in range(10):  # back to iteration 34: the model then had 35 updates, the latest evaluation is 20's
            await pilot.press("backspace")
        await wait_for(pilot, lambda: screen.record.iteration == 34, "iteration 34")
        await pilot.pause()
        assert f"held-out {bpc[20]:.3f} bpc @ 20" in header_text(app)
        assert "@ 40" not in header_text(app)


async def test_without_a_held_out_part_the_header_shows_the_training_bpc():
    session = eval_session(steps=25, val_frac=0.0)
    train = plain_nats(session.params_at(20), session.trainer.corpus.data) / LN2
    app = DebuggerApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert f"│ train {train:.3f} bpc @ 20" in header_text(app) and "held-out" not in header_text(app)


async def test_no_evaluation_no_figure():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("space")
        await pilot.pause()
        assert "bpc" not in header_text(app)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_the_header_keeps_two_lines_with_an_evaluation_running_and_paused(size):
    app = DebuggerApp(eval_session(steps=25, eval_every=5))
    async with app.run_test(size=size) as pilot:
        screen = main(app)
        status = screen.query_one("#status")
        heights = {"before": status.size.height}
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.rate > 0 and screen.evaluations[-1].iteration > 25, "a later evaluation")
        await pilot.pause()
        heights["running"] = status.size.height
        running = header_text(app)
        await pilot.press("r")
        await wait_for_run_end(pilot)
        await pilot.pause()
        heights["paused"] = status.size.height
        assert set(heights.values()) == {2}, (heights, running)
        latest = screen.evaluations[-1]
        shown = {f"held-out {latest.val_bpc:.3f} bpc @ {latest.iteration:,}", f"held-out {latest.val_bpc:.3f} bpc",
                 f"val {latest.val_bpc:.3f}"}
        assert any(form in header_text(app) for form in shown), header_text(app)
        assert "bpc" in running or "val " in running or "eval " in running  # the figure, or the work replacing it
        if size == (120, 40):  # room for the whole form
            assert f"held-out {latest.val_bpc:.3f} bpc @ {latest.iteration:,}" in header_text(app)


async def test_work_going_on_in_the_engine_is_shown_until_it_ends():
    app = DebuggerApp(eval_session(steps=25))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main(app)
        status = screen.query_one("#status")
        app.controller.mirror.busy = ("evaluating", 3, 10)
        screen.show_mirror(with_history=False)
        assert screen.engine_busy == ("evaluating", 3, 10) and status.busy == ("evaluating", 3, 10)
        assert "· evaluating 30%" in status.render().plain
        app.controller.mirror.busy = ("evaluating", 10, 10)  # the last word of work that has ended
        screen.show_mirror(with_history=False)
        assert screen.engine_busy is None and "evaluating" not in status.render().plain
        await pilot.pause()


def test_evaluation_forms_longest_first():
    held = Evaluation(1500, 2.0 * LN2, 2.5 * LN2)
    plain = [t.plain for t in evaluation_variants((held,), None)]
    assert plain == ["held-out 2.500 bpc @ 1,500", "held-out 2.500 bpc", "val 2.500"]
    train_only = Evaluation(1500, 2.0 * LN2, None)
    assert evaluation_variants((train_only,), None)[0].plain == "train 2.000 bpc @ 1,500"
    busy = [t.plain for t in evaluation_variants((held,), ("evaluating", 1, 4))]
    assert busy == ["held-out 2.500 bpc @ 1,500 · evaluating 25%", "held-out 2.500 bpc · evaluating 25%",
                    "val 2.500 · eval 25%", "eval 25%"]
    assert [t.plain for t in evaluation_variants((), ("evaluating", 0, 0))] == ["evaluating …", "eval …"]
    assert evaluation_variants((), None) == []


async def run_a_while(pilot) -> None:
    """r, until the rate is measured, and r again (the run has ended when this returns)."""
    await pilot.press("r")
    await wait_for(pilot, lambda: main(pilot.app).rate > 0, "a measured rate")
    await pilot.press("r")
    await wait_for_run_end(pilot)


async def test_paused_in_the_past_the_last_runs_rate_gives_way_on_a_narrow_header():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await run_a_while(pilot)
        screen = main(app)
        await pilot.press("backspace")
        await wait_for(pilot, lambda: screen.state.in_the_past, "going back")
        await pilot.pause()
        await pilot.pause()
        first, second = header_text(app).splitlines()
        assert first.startswith(f" ⏸ paused in the past (furthest {screen.state.furthest:,})")
        assert "last run" not in first and second.startswith(f" iter {screen.record.iteration:,}")
        assert screen.query_one("#status").size.height == 2


@pytest.mark.parametrize(
    "state, label, style",
    [
        (RunState.running(), "▶ running", "bold green"),
        (RunState.paused(), "⏸ paused", "bold yellow"),
        (RunState.paused(furthest=1234), "⏸ paused in the past (furthest 1,234)", "bold yellow"),
        (RunState.stopped(StopCause.BREAKPOINT, "iter == 7: reached iteration 7"), "■ stopped: iter == 7: reached iteration 7",
         "bold red"),
        (RunState.stopped(StopCause.DIVERGED, "diverged at iteration 3: non-finite loss = nan"),
         "■ stopped: diverged at iteration 3: non-finite loss = nan", "bold red"),
        (RunState.stopped(StopCause.FAILED, "training failed (RuntimeError: x)"),
         "■ stopped: training failed (RuntimeError: x)", "bold red"),
        (RunState.stopped(StopCause.ENGINE_LOST, "the engine process was ended by signal SIGKILL"),
         "■ engine lost: the engine process was ended by signal SIGKILL", "bold red"),
    ],
)
def test_each_run_state_has_its_header(state, label, style):
    from harness import fixed_run

    from rnntui.tui.base import RunInfo
    from rnntui.tui.status import StatusBar

    trainer, _ = fixed_run(1)
    bar = StatusBar(RunInfo(trainer.corpus, trainer.config.hidden_size))
    bar.state = state
    assert bar.state_label() == label and bar.state_style() == style
    assert bar.run_items()[0].plain == label


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_a_breakpoint_reached_from_the_past_says_how_far_training_went(size):
    session = eval_session(steps=40)  # a held-out fifth: training reads the first part only
    session.breakpoints.add("iter == 20")
    chars = len(session.trainer.corpus)
    trained = chars - int(SETTINGS["val_frac"] * chars)
    app = DebuggerApp(session)
    async with app.run_test(size=size) as pilot:
        screen = main(app)
        await pilot.press("g", *"10", "enter")
        await wait_for(pilot, lambda: screen.record is not None and screen.record.iteration == 10, "iteration 10")
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.state.cause is StopCause.BREAKPOINT, "the breakpoint")
        await pilot.pause()
        first, second = header_text(app).splitlines()
        assert first.startswith(" ■ stopped: iter == 20")
        assert second.startswith(f" iter 20 (furthest 39) │ p {screen.record.position:,}/{trained:,} │")
        assert screen.query_one("#status").size.height == 2
