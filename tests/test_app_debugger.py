"""The debugger powers inside the app: step-into, time travel, breakpoints, live hyperparameters."""

import numpy as np
import pytest
from harness import DebuggerApp, wait_for_run_end, widget_text
from test_app import SIZE, make_app

from rnntui.engine import BreakpointSet, Config, RnntuiError
from rnntui.engine.session import Session, StopCause, open_session
from rnntui.tui.dialogs import TextPrompt
from rnntui.tui.step_panel import StepPanel, number


async def test_step_into_walks_forward_then_backward_with_panels_following():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", "space")
        screen = app.main
        rec = app.session.last_record
        iteration = app.session.trainer.iteration
        await pilot.press("i")
        await pilot.pause()
        step = screen.query_one(StepPanel)
        assert screen.step_phase == "forward" and step.display and not screen.query_one("#loss").display
        await pilot.press("full_stop", "full_stop", "full_stop")
        await pilot.pause()
        assert screen.cursor_t == 3 and step.phase == "forward"
        text = widget_text(step)
        assert "forward t=3" in text
        assert number(float(rec.hs[3, screen.unit]), signed=True) in text
        assert "t=3" in widget_text(screen.query_one("#probs"))  # the probabilities follow
        for _ in range(rec.seq_length):
            await pilot.press("full_stop")
        await pilot.pause()
        assert step.phase == "backward" and screen.cursor_t == rec.seq_length - 1 - 3
        assert "backward" in widget_text(step)
        await pilot.press("comma")
        assert screen.cursor_t == rec.seq_length - 1 - 2
        await pilot.press("escape")
        await pilot.pause()
        assert screen.step_phase is None and not step.display and screen.query_one("#loss").display
        # stepping inside an iteration never trains or changes the record
        assert app.session.trainer.iteration == iteration and app.session.last_record is rec


async def test_back_and_goto_show_bit_identical_records():
    app = make_app(Config(hidden_size=16, seq_length=12, sample_every=5))
    async with app.run_test(size=SIZE) as pilot:
        firsts = []
        for _ in range(8):
            await pilot.press("space")
            firsts.append(app.session.last_record)
        await pilot.press("backspace")
        await pilot.pause()
        screen = app.main
        again = screen.record
        assert again.iteration == 6
        np.testing.assert_array_equal(again.hs, firsts[6].hs)
        assert again.loss == firsts[6].loss
        assert screen.state.in_the_past and screen.state.furthest == 7
        assert "⏸ paused in the past (furthest 7)" in widget_text(screen.query_one("#status"))
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, TextPrompt)
        app.screen.query_one("Input").value = "2"
        await pilot.press("enter")
        await pilot.pause()
        assert screen.record.iteration == 2
        np.testing.assert_array_equal(screen.record.ps, firsts[2].ps)
        assert f"iter {2}" in widget_text(screen.query_one("#status"))
        await pilot.press("space")  # stepping forward replays the same future
        np.testing.assert_array_equal(app.session.last_record.dhraw, firsts[3].dhraw)
        assert app.session.last_record.sample == firsts[3].sample


def test_numbers_are_read_as_the_prompts_write_them():
    from rnntui.tui.dialogs import int_checker, whole_number

    assert [whole_number(text) for text in ("7", "1,000", " 12,345,678 ", "٣٠")] == [7, 1000, 12_345_678, 30]
    check = int_checker(0, 20_000)
    for text in ("1,00", ",100", "1,0000", "1.5", "1e3", "-3", "", "a"):
        assert whole_number(text) is None and check(text) == "type a whole number (at least 0)", text
    assert check("20,000") is None and check("20,001") == "the number must be at least 0 and at most 20,000"


async def test_a_breakpoint_stops_run_mode_at_its_iteration():
    corpus_app = make_app(Config(hidden_size=16, seq_length=12, sample_every=0))
    trainer = corpus_app.session.trainer
    breakpoints = BreakpointSet()
    breakpoints.add("iter == 37")
    app = DebuggerApp(Session(trainer, breakpoints))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await wait_for_run_end(pilot)
        assert app.session.last_record.iteration == 37
        assert app.main.state.cause is StopCause.BREAKPOINT and app.main.state.message.startswith("iter == 37")
        assert "iter == 37" in widget_text(app.main.query_one("#status"))


async def test_temperature_change_after_going_back_starts_a_new_branch():
    app = make_app(Config(hidden_size=16, seq_length=12, sample_every=0))
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(6):
            await pilot.press("space")
        await pilot.press("backspace", "backspace")
        await pilot.pause()
        assert app.session.timeline.behind
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert not app.session.timeline.behind
        assert app.session.timeline.furthest == app.session.last_record.iteration
        events = app.session.trainer.history.events
        assert events and events[-1].text.startswith("temperature")
        await pilot.press("space")  # the change applies from this iteration on, marked on the curve
        await pilot.pause()
        changed_at = events[-1].iteration
        assert app.main.query_one("#loss").plan().markers == (changed_at,)


def test_a_bad_breakpoint_is_refused_before_the_app_starts(small_corpus):
    with pytest.raises(RnntuiError, match="valid forms"):
        open_session(small_corpus, {"hidden_size": 4}, breakpoints=["loss >> 3"])


def _headless_first_firing(config: Config, text: str, limit: int = 60) -> int | None:
    """Where a breakpoint first fires on a headless run of the same trainer (or None)."""
    trainer = make_app(config).session.trainer
    breakpoints = BreakpointSet()
    breakpoints.add(text)
    for _ in range(limit):
        record = trainer.step()
        if breakpoints.check(record) is not None or record.nonfinite is not None:
            return record.iteration
    return None


def _thresholds() -> dict[str, float]:
    """Thresholds taken from a reference run, so each breakpoint fires somewhere inside 40 iterations."""
    trainer = make_app(SMALL).session.trainer
    records = [trainer.step() for _ in range(40)]
    losses = [r.loss for r in records[5:]]
    return {
        "loss": sorted(losses)[-3],
        "smooth": records[25].smooth_loss,
        "target": sorted(float(r.target_probs.min()) for r in records)[5],
    }


SMALL = Config(hidden_size=16, seq_length=12, sample_every=0)
LIMITS = _thresholds()
KINDS = [
    ("nan", Config(hidden_size=8, seq_length=8, learning_rate=1e300, clip=1e300, sample_every=0)),
    ("clip", Config(hidden_size=16, seq_length=12, clip=1e-3, sample_every=0)),
    ("clip Why > 0.5", Config(hidden_size=16, seq_length=12, clip=0.05, sample_every=0)),
    (f"loss > {LIMITS['loss']!r}", SMALL),
    ("spike > 1.05", SMALL),
    (f"smooth < {LIMITS['smooth']!r}", SMALL),
    ("iter == 9", SMALL),
    ("every 7", SMALL),
    ("saturation > 0.2", Config(hidden_size=16, seq_length=12, learning_rate=2.0, sample_every=0)),
    (f"target_prob < {LIMITS['target']!r}", SMALL),
]


@pytest.mark.parametrize("text,config", KINDS, ids=[k for k, _ in KINDS])
async def test_each_breakpoint_kind_stops_the_app_where_it_fires_headless(text, config):
    expected = _headless_first_firing(config, text)
    assert expected is not None, f"{text} never fires in the reference run"
    app = make_app(config)
    app.session.breakpoints.add(text)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await wait_for_run_end(pilot)
        assert app.session.last_record.iteration == expected
        assert app.main.state.cause in (StopCause.BREAKPOINT, StopCause.DIVERGED)


async def test_time_travel_shows_the_samples_of_that_time_without_duplicates():
    app = make_app(Config(hidden_size=16, seq_length=12, sample_every=3))
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(10):
            await pilot.press("space")
        await pilot.pause()
        assert [s.iteration for s in app.main.samples] == [0, 3, 6, 9]
        for _ in range(5):
            await pilot.press("backspace")
        await pilot.pause()
        assert app.main.record.iteration == 4
        assert [s.iteration for s in app.main.samples] == [0, 3]
        for _ in range(5):
            await pilot.press("space")  # replaying draws the same samples again: no duplicates
        await pilot.pause()
        assert [s.iteration for s in app.main.samples] == [0, 3, 6, 9]
        assert len(app.session.samples) == 4


async def test_go_to_a_later_iteration_runs_there_with_breakpoints_on():
    app = make_app(Config(hidden_size=16, seq_length=12, sample_every=0))
    app.session.breakpoints.add("iter == 12")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", "space", "g")
        await pilot.pause()
        app.screen.query_one("Input").value = "30"
        await pilot.press("enter")
        await wait_for_run_end(pilot)
        assert app.session.last_record.iteration == 12  # the breakpoint stopped the run on the way
        assert app.main.state.cause is StopCause.BREAKPOINT and app.main.state.message.startswith("iter == 12")


async def test_a_failing_training_thread_does_not_leave_the_app_running(monkeypatch):
    app = make_app()

    def broken(limit, should_stop):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(app.session, "run", broken)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await wait_for_run_end(pilot)
        state = app.main.state
        assert state.cause is StopCause.FAILED and state.message == "training failed (RuntimeError: disk on fire)"
        await pilot.press("space")  # stepping works again
        assert app.session.trainer.iteration == 1


async def test_stepping_into_at_80x24_shows_every_line_uncut():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("space", "space", "i", "full_stop", "full_stop")
        await pilot.pause()
        screen = app.main
        rec, step = screen.record, screen.query_one(StepPanel)
        assert not screen.query_one("#heatmap").display and step.size.width >= 76
        text = widget_text(step)
        loss = float(rec.losses[2])
        assert f"loss term −ln p = {number(loss)}" in text or f"−ln p = {loss:.4f}" in text
        assert "loss so far (t=0..2)" in text and "…" not in text
        for _ in range(16):
            await pilot.press("full_stop")
        await pilot.pause()
        text = widget_text(step)
        assert "backward" in text and "dWhy" in text and "dby" in text and "…" not in text
        await pilot.press("escape")
        await pilot.pause()
        assert screen.query_one("#heatmap").display and screen.query_one("#gradients").display
