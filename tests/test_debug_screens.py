"""The breakpoints, hyperparameters and gradient check dialogs, over a real Session."""

from __future__ import annotations

import numpy as np
import pytest
from harness import wait_for
from textual.app import App
from textual.widgets import DataTable, Input

from rnntui.engine import Config, Corpus, Trainer
from rnntui.engine.breakpoints import VALID_FORMS, BreakpointError, parse_breakpoint
from rnntui.engine.control import start_in_thread
from rnntui.engine.errors import ConfigError
from rnntui.engine.gradcheck import gradcheck
from rnntui.engine.model import PARAM_NAMES, loss_and_grads
from rnntui.engine.session import Session
from rnntui.tui.breakpoints_screen import BreakpointList, BreakpointsScreen
from rnntui.tui.gradcheck_screen import SAMPLES, SEED, STEP, GradcheckScreen, format_error
from rnntui.tui.hyperparams_screen import HyperparamsScreen

TEXT = "the quick brown fox jumps over the lazy dog.\n" * 8
SIZE = (80, 24)


def make_session(steps: int = 3, **config: object) -> Session:
    """A small real session that has run ``steps`` iterations."""
    session = Session(Trainer(Corpus.from_text(TEXT, name="fox"), Config(hidden_size=16, seq_length=10, **config)))
    for _ in range(steps):
        session.step()
    return session


class ScreenHost(App):
    """Pushes one dialog, made for a controller over ``session``, at start; keeps what it dismisses with."""

    def __init__(self, make_screen, session: Session) -> None:
        super().__init__()
        self.make_screen = make_screen
        self.controller = start_in_thread(session)
        self.results: list[object] = []

    def on_mount(self) -> None:
        self.push_screen(self.make_screen(self.controller), self.results.append)

    def on_unmount(self) -> None:
        self.controller.close()


def text_of(app: App, selector: str) -> str:
    return str(app.screen.query_one(selector).content)


def shown(app: App, selector: str) -> bool:
    return app.screen.query_one(selector).display


# --- breakpoints ------------------------------------------------------------


def listed(app: App) -> list[list[str]]:
    """The rows of the on-screen list, split into number, state and text."""
    listing = app.screen.query_one(BreakpointList)
    return [str(listing.get_option_at_index(i).prompt).split(None, 2) for i in range(listing.option_count)]


def expected_rows(session: Session) -> list[list[str]]:
    return [[str(i + 1), "on" if bp.enabled else "off", bp.source] for i, bp in enumerate(session.breakpoints)]


async def test_breakpoints_add_through_the_input_and_refuse_a_duplicate():
    session = make_session()
    session.breakpoints.add("nan")
    app = ScreenHost(BreakpointsScreen, session)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"spike>3", "enter", *"CLIP whh", "enter")
        assert [bp.source for bp in session.breakpoints] == ["nan", "spike > 3", "clip Whh > 0"]
        assert listed(app) == expected_rows(session)
        assert app.screen.query_one("#new", Input).value == "" and not shown(app, "#error")
        assert text_of(app, "#forms") == f"forms: {VALID_FORMS}"
        await pilot.press(*"spike  >  3", "enter")
        assert "already exists (number 2)" in text_of(app, "#error") and len(session.breakpoints) == 3


async def test_breakpoints_parse_error_is_shown_and_nothing_is_added():
    session = make_session()
    app = ScreenHost(BreakpointsScreen, session)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"loss >> 3", "enter")
        with pytest.raises(BreakpointError) as expected:
            parse_breakpoint("loss >> 3")
        assert shown(app, "#error") and text_of(app, "#error") == expected.value.problem
        assert "unexpected '>' at column 7" in text_of(app, "#error")
        assert VALID_FORMS not in text_of(app, "#error")  # listed once, under the error
        assert text_of(app, "#forms") == f"forms: {VALID_FORMS}"
        assert listed(app) == [] and len(session.breakpoints) == 0
        assert app.screen.query_one("#new", Input).value == "loss >> 3"  # kept for fixing
        await pilot.press("backspace", "backspace", "backspace", *" 3", "enter")
        assert [bp.source for bp in session.breakpoints] == ["loss > 3"] and not shown(app, "#error")


async def test_breakpoints_toggle_and_delete_the_highlighted_one():
    session = make_session()
    for text in ("nan", "loss > 40", "every 7"):
        session.breakpoints.add(text)
    app = ScreenHost(BreakpointsScreen, session)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("tab")  # from the input to the list
        listing = app.screen.query_one(BreakpointList)
        assert listing.has_focus and listing.highlighted == 0
        await pilot.press("down", "t")
        assert [bp.enabled for bp in session.breakpoints] == [True, False, True]
        assert listed(app)[1] == ["2", "off", "loss > 40"]
        await pilot.press("space")
        assert [bp.enabled for bp in session.breakpoints] == [True, True, True]
        await pilot.press("space", "d")
        assert [bp.source for bp in session.breakpoints] == ["nan", "every 7"]
        assert listed(app) == expected_rows(session) and listing.highlighted == 1
        await pilot.press("delete", "delete")
        assert len(session.breakpoints) == 0 and not listing.display and shown(app, "#empty")
        assert app.screen.query_one("#new", Input).has_focus
        await pilot.press("escape")
    assert app.results == [None]


# --- hyperparameters -------------------------------------------------------


async def type_into(pilot, name: str, text: str) -> None:
    """Replace field ``name``'s text by typing."""
    field = pilot.app.screen.query_one(f"#{name}", Input)
    field.focus()
    await pilot.press("end", *["backspace"] * len(field.value), *text)


async def test_hyperparams_apply_changes_only_the_changed_fields_and_records_them():
    session = make_session(learning_rate=0.1, sample_every=100)
    trainer, before = session.trainer, len(session.trainer.history.events)
    app = ScreenHost(HyperparamsScreen, session)
    async with app.run_test(size=SIZE) as pilot:
        for name in ("learning_rate", "clip", "temperature", "sample_every", "sample_length"):
            assert app.screen.query_one(f"#{name}", Input).value == str(getattr(trainer.config, name))
        await type_into(pilot, "learning_rate", "0.05")
        await type_into(pilot, "sample_every", "25")
        await type_into(pilot, "clip", "5")  # the same value: not a change
        await pilot.click("#apply")
        app.push_screen(HyperparamsScreen(app.controller), app.results.append)
        await pilot.pause()
        await pilot.press("enter")  # an unchanged form applies nothing and dismisses with None
    assert (trainer.config.learning_rate, trainer.config.sample_every, trainer.config.clip) == (0.05, 25, 5.0)
    events = trainer.history.events[before:]
    assert sorted(e.text for e in events) == ["learning_rate 0.1 -> 0.05", "sample_every 100 -> 25"]
    assert all(e.iteration == trainer.iteration for e in events)
    assert sorted(app.results[0].split(", ")) == sorted(e.text for e in events) and app.results[1:] == [None]


async def test_hyperparams_bad_fields_show_messages_and_apply_nothing():
    session = make_session()
    trainer, config, before = session.trainer, session.trainer.config, len(session.trainer.history.events)
    app = ScreenHost(HyperparamsScreen, session)
    async with app.run_test(size=SIZE) as pilot:
        for name, text in [("learning_rate", "fast"), ("clip", "-1"), ("sample_length", "2.5"), ("temperature", "0.5")]:
            await type_into(pilot, name, text)  # temperature is valid, but nothing applies while others are bad
        await pilot.press("enter")
        with pytest.raises(ConfigError) as clip_error:
            config.replace(clip=-1.0)
        assert text_of(app, "#learning_rate-error") == "learning_rate must be a number, got 'fast'"
        clip_text = text_of(app, "#clip-error")
        assert clip_text in str(clip_error.value) and clip_text.startswith("clip must be a finite number above 0")
        assert text_of(app, "#sample_length-error") == "sample_length must be a whole number, got '2.5'"
        assert not shown(app, "#temperature-error") and not shown(app, "#sample_every-error")
        assert trainer.config == config and len(trainer.history.events) == before
        assert isinstance(app.screen, HyperparamsScreen) and app.results == []
        await pilot.press("escape")
    assert app.results == [None] and trainer.config == config and len(trainer.history.events) == before


async def test_hyperparams_after_going_back_reports_the_new_branch_once():
    session = make_session(steps=5)
    session.goto(2)
    app = ScreenHost(HyperparamsScreen, session)
    async with app.run_test(size=SIZE) as pilot:
        await type_into(pilot, "temperature", "0.8")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.results, "the form closing")
        app.controller.poll()
        notices = app.controller.mirror.take_notices()
    *_, branch, change = [e.text for e in session.trainer.history.events]  # the engine's own record
    assert branch.startswith("new branch 'branch 1' from iteration") and change == "temperature 1.0 -> 0.8"
    assert app.results == [change]  # the form's summary: the change only
    assert notices == [branch]  # the branch, told once, by the engine's notice (shown for any change, [ or ] too)


# --- gradient check --------------------------------------------------------


async def finished_check(pilot) -> GradcheckScreen:
    await wait_for(pilot, lambda: pilot.app.screen.report is not None, "the gradient check")
    await pilot.pause()
    return pilot.app.screen


def table_rows(screen: GradcheckScreen) -> list[list[str]]:
    table = screen.query_one(DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


@pytest.mark.parametrize("clip", [1e-3, 1e9])
async def test_gradcheck_table_equals_a_direct_check_and_notes_clipping(clip):
    session = make_session(clip=clip)
    params, window = {k: v.copy() for k, v in session.trainer.params.items()}, session.next_window()
    direct = gradcheck(params, *window, samples=SAMPLES, step=STEP, seed=SEED)
    raw = loss_and_grads(params, *window)
    counts = {name: int((np.abs(raw.grads[name]) > clip).sum()) for name in PARAM_NAMES}
    engaged = [name for name in PARAM_NAMES if counts[name]]
    assert bool(engaged) == (clip < 1)
    app = ScreenHost(GradcheckScreen, session)
    async with app.run_test(size=SIZE) as pilot:
        screen = await finished_check(pilot)
        assert [row[0] for row in table_rows(screen)] == list(PARAM_NAMES)
        for row, name in zip(table_rows(screen), PARAM_NAMES):
            result = direct[name]
            assert np.array_equal(screen.report.results[name].errors, result.errors)
            verdict = "pass" if result.max_error < 1e-5 else "FAIL"
            assert row[1] == " x ".join(map(str, params[name].shape))
            assert row[2:5] == [format_error(result.max_error), format_error(result.median_error), verdict]
            assert row[5] == f"{counts[name]:,} of {params[name].size:,}"
        assert f"loss {raw.loss:.4f}" in text_of(app, "#status")
        assert shown(app, "#note") == bool(engaged)
        note = text_of(app, "#note")
        assert all(f"{counts[name]:,} of {name}" in note for name in engaged[1:])
        if engaged:
            assert f"will change {counts[engaged[0]]:,} elements of {engaged[0]}" in note
            assert note.endswith("the applied gradient differs from these raw gradients by design")
        await pilot.press("escape")
    assert app.results == [None] and session.trainer.iteration == 3
    assert all(np.array_equal(params[k], v) for k, v in session.trainer.params.items())  # the check is read-only


# --- snapshots --------------------------------------------------------------


def test_snapshot_breakpoints(snap_compare):
    session = make_session()
    for text in ("nan", "clip Whh > 0.1", "spike > 3"):
        session.breakpoints.add(text)
    session.breakpoints.toggle(1)
    assert snap_compare(ScreenHost(BreakpointsScreen, session), press=[*"loss >", "enter"], terminal_size=SIZE)


def test_snapshot_hyperparams_with_a_bad_field(snap_compare):
    async def bad_clip(pilot) -> None:
        await type_into(pilot, "clip", "0")
        await pilot.press("enter")

    app = ScreenHost(HyperparamsScreen, make_session())
    assert snap_compare(app, run_before=bad_clip, terminal_size=SIZE)


def test_snapshot_gradcheck(snap_compare):
    # A coarse step keeps the shown errors far above rounding noise, so the picture is the same on any machine.
    app = ScreenHost(lambda c: GradcheckScreen(c, step=1e-2), make_session(clip=1e-3))
    assert snap_compare(app, run_before=finished_check, terminal_size=SIZE)
