"""Kept branches in the app: made by going back and changing a hyperparameter, listed with b,
switched to with Enter (the records shown are the old line's, bit for bit), overlaid on the loss panel."""

from __future__ import annotations

import re

import numpy as np
import pytest
from harness import DebuggerApp, screen_lines, wait_for, wait_for_run_end
from test_evaluation_screen import ROOT, SIZE, eval_session
from textual.widgets import DataTable, Input, Label

from rnntui.engine import Corpus, open_session
from rnntui.engine.session import Session
from rnntui.tui.branches_screen import BranchesScreen, fit_change
from rnntui.tui.loss_curve import BPC_VIEW, bucket_last, bucket_minmax
from rnntui.tui.main_screen import MainScreen

FORK = 20  # the iteration gone back to before the change
STEPS = 50  # iterations of the first line


def same_record(shown, old) -> bool:
    """The record on screen is the old line's: the same iteration and the same numbers."""
    return (shown.iteration == old.iteration and shown.loss == old.loss and shown.smooth_loss == old.smooth_loss
            and np.array_equal(shown.hs, old.hs) and np.array_equal(shown.ps, old.ps)
            and shown.grad_norms == old.grad_norms)


def first_line() -> tuple[Session, dict, np.ndarray, tuple]:
    """A session that ran STEPS iterations, with records, smooth loss and evaluations of that line taken now."""
    session = eval_session(steps=STEPS)
    records = {n: session.goto(n) for n in (10, FORK, 45, STEPS - 1)}  # the last goto brings it back to the front
    return session, records, session.trainer.history.smooth_loss.copy(), session.evaluations


async def branch_in_the_app(pilot) -> None:
    """g FORK, then ] (temperature up: a change after going back), then three steps on the new branch."""
    await pilot.press("g")
    pilot.app.screen.query_one(Input).value = str(FORK)
    await pilot.press("enter", "right_square_bracket", "space", "space", "space")
    await pilot.pause()


def listed(app) -> list[list[str]]:
    table = app.screen.query_one(DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def test_a_branch_is_listed_and_switching_shows_the_old_lines_records():
    session, old, _, old_evaluations = first_line()
    app = DebuggerApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await branch_in_the_app(pilot)
        screen = app.main
        assert screen.record.iteration == FORK + 3 and session.timeline.line_name == "branch 1"
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, BranchesScreen)
        latest = old_evaluations[-1]
        kept_at_fork = [e for e in old_evaluations if e.iteration <= FORK + 1][-1]
        assert listed(app) == [
            ["main", "kept", "the start", f"{STEPS - 1}", f"{latest.val_bpc:.3f} @ {latest.iteration}", "—"],
            ["branch 1", "live", f"iter {FORK}", f"{FORK + 3}", f"{kept_at_fork.val_bpc:.3f} @ {kept_at_fork.iteration}",
             "temperature 1.0 -> 1.25"],
        ]
        assert app.screen.query_one(DataTable).cursor_row == 1  # the live one is highlighted
        await pilot.press("up", "enter")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert session.timeline.line_name == "main"
        assert same_record(screen.record, old[FORK])  # main was left at the iteration gone back to
        assert screen.evaluations == tuple(e for e in old_evaluations if e.iteration <= FORK + 1)
        for n in (10, 45, STEPS - 1):
            screen.command(app.controller.goto, n)
            await pilot.pause()
            assert same_record(screen.record, old[n]), n
        assert screen.evaluations == old_evaluations


async def test_enter_pauses_a_run_before_switching():
    session, old, _, _ = first_line()
    session.goto(FORK)
    session.set_hyperparameters(learning_rate=0.05)
    app = DebuggerApp(session)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.main
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.record is not None and screen.record.iteration > FORK + 5, "a few steps")
        await pilot.press("b")
        await pilot.pause()
        await pilot.press("up", "enter")
        await wait_for_run_end(pilot)
        assert session.timeline.line_name == "main" and not session.running
        assert same_record(screen.record, old[FORK])
        assert screen.state.in_the_past and screen.state.furthest == STEPS - 1


async def test_the_live_branch_and_one_with_curves_only_cannot_be_switched_to(tmp_path):
    session, _, _, _ = first_line()
    session.goto(FORK)
    session.set_hyperparameters(clip=1.0)
    session.run(2, lambda: False)
    session.save(tmp_path / "b.npz")
    corpus = Corpus.from_text((ROOT / "samples" / "prose.txt").read_text(), name="prose.txt")
    resumed = open_session(corpus, resume=tmp_path / "b.npz")
    app = DebuggerApp(resumed)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("b")
        await pilot.pause()
        assert [row[0] for row in listed(app)] == ["main", "branch 1"]
        assert [row[1] for row in listed(app)] == ["curves only", "live"]
        await pilot.press("enter")  # the live one
        await pilot.pause()
        error = app.screen.query_one("#error", Label)
        assert error.display and "'branch 1' is the live branch already" in str(error.content)
        await pilot.press("up", "enter")
        await pilot.pause()
        assert isinstance(app.screen, BranchesScreen)
        assert "'main' has only its curves (from a checkpoint): it cannot be continued" in str(error.content)
        assert resumed.timeline.line_name == "branch 1"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def test_the_loss_panel_overlays_the_kept_branch_in_both_views():
    session, _, main_smooth, old_evaluations = first_line()
    app = DebuggerApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await branch_in_the_app(pilot)
        panel = app.main.query_one("#loss")
        plan = panel.plan()
        (overlay,) = plan.overlays
        live = len(app.main.loss)  # iterations of the live branch: FORK + 1 shared, then 3 of its own
        assert plan.last == live - 1 == FORK + 3  # the live line's span: main, which went further, is cut to it
        xs, ys = bucket_last(np.arange(live), main_smooth[:live], panel.n_buckets)
        assert overlay.name == "main" and overlay.xs.tolist() == xs.tolist() and overlay.ys.tolist() == ys.tolist()
        assert "main" in str(panel.border_subtitle)
        await pilot.press("v")
        await wait_for(pilot, lambda: bool(panel.baselines), "the k-gram baselines")
        assert panel.view == BPC_VIEW
        bpc_plan = panel.bpc_plan()
        (overlay,) = bpc_plan.overlays
        shown = [e for e in old_evaluations if e.iteration <= bpc_plan.last]
        assert 0 < len(shown) < len(old_evaluations)
        its = np.array([e.iteration for e in shown])
        held = np.array([e.val_bpc for e in shown])
        xs, ys = bucket_minmax(its, held, panel.n_buckets)
        assert overlay.xs.tolist() == xs.tolist() == its.tolist() and overlay.ys.tolist() == ys.tolist()
        await pilot.press("B")
        await pilot.pause()
        assert panel.bpc_plan().overlays == () and "main" not in str(panel.border_subtitle)
        await pilot.press("v")
        assert panel.plan().overlays == ()
        await pilot.press("B")
        assert [o.name for o in panel.plan().overlays] == ["main"]


def test_a_change_fits_its_room_in_full_by_placeholders_or_cut_with_an_ellipsis():
    one, two = "learning_rate 0.1 -> 0.3", "clip 5.0 -> 1.0; learning_rate 0.1 -> 0.3"
    assert fit_change(one, 40) == one and fit_change(one, len(one)) == one
    assert fit_change(one, len(one) - 1) == "LR 0.1→0.3"  # the placeholders of rnntui --help
    assert fit_change(two, 30) == "C 5.0→1.0; LR 0.1→0.3"
    assert fit_change(two, 8) == "C 5.0→1…"
    assert fit_change(one, 1) == "…"


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_a_long_change_is_never_cut_mid_word_without_an_ellipsis(size):
    session, _, _, _ = first_line()
    session.goto(FORK)
    session.set_hyperparameters(learning_rate=0.3, clip=1.0, temperature=1.25)
    session.run(3, lambda: False)
    change = session.branches[-1].change
    assert change == "clip 5.0 -> 1.0; learning_rate 0.1 -> 0.3; temperature 1.0 -> 1.25"
    short = "C 5.0→1.0; LR 0.1→0.3; TEMP 1.0→1.25"
    app = DebuggerApp(session)
    async with app.run_test(size=size) as pilot:
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, BranchesScreen), "the branch list")
        await pilot.pause()
        cell = listed(app)[1][-1]
        assert cell in (change, short) or (cell.endswith("…") and short.startswith(cell[:-1])), cell
        assert any("branch 1" in line and cell in line for line in screen_lines(app))  # whole on screen
        if size == (120, 40):
            assert not cell.endswith("…")


# --- snapshot -------------------------------------------------------------------------------------


def branched_session() -> Session:
    """The first line, then back to FORK and a lower learning rate, three steps on."""
    session, _, _, _ = first_line()
    session.goto(FORK)
    session.set_hyperparameters(learning_rate=0.05)
    session.run(3, lambda: False)
    return session


def row_shown(text: str, *cells: str) -> bool:
    """Some line of ``text`` holds ``cells`` in order, separated by spaces only."""
    return re.search(r"\s+".join(re.escape(cell) for cell in cells), text) is not None


async def test_the_list_in_words():
    """What the snapshot below shows, in words."""
    session = branched_session()
    main_evaluations = session.branches[0].evaluations
    main_latest, at_fork = main_evaluations[-1], next(e for e in main_evaluations if e.iteration == FORK)
    app = DebuggerApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("b")
        await pilot.pause()
        text = "\n".join(screen_lines(app))
        assert "Branches: every line of training" in text
        assert row_shown(text, "main", "kept", "the start", str(STEPS - 1), f"{main_latest.val_bpc:.3f} @ 40", "—")
        assert row_shown(text, "branch 1", "live", f"iter {FORK}", str(FORK + 3), f"{at_fork.val_bpc:.3f} @ {FORK}",
                         "learning_rate 0.1 -> 0.05")
        assert "Kept branches hold at most 64 MiB together" in text
        assert "enter: go on with the highlighted branch where it was left (a run is paused first)" in text


def test_snapshot_branches(snap_compare):
    assert snap_compare(DebuggerApp(branched_session()), press=["b"], terminal_size=SIZE)
