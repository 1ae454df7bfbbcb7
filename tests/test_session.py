"""Session: the training layer the app and scripts share (runs, jumps, samples, save state)."""

import numpy as np
import pytest

from rnntui.engine import CheckpointError, Config, Corpus, TimelineError, Trainer, load_checkpoint
from rnntui.engine.session import RunEnd, Session, open_session

TEXT = "the quick brown fox jumps over the lazy dog.\n" * 8


def make_session(keep_samples: int | None = None, **config) -> Session:
    config = {"hidden_size": 16, "seq_length": 10, "sample_every": 0, **config}
    kept = {} if keep_samples is None else {"keep_samples": keep_samples}
    return Session(Trainer(Corpus.from_text(TEXT, name="fox"), Config(**config)), **kept)


def test_a_large_model_gets_room_for_snapshots():
    session = make_session(hidden_size=1200)
    assert session.timeline.budget_bytes >= 4 * session.trainer.state().nbytes
    session.step()
    session.step()
    assert session.back().iteration == 0


def test_goto_only_replays_what_was_computed():
    session = make_session()
    for _ in range(5):
        session.step()
    assert session.goto(2).iteration == 2
    with pytest.raises(TimelineError, match="not been trained yet"):
        session.goto(40)


def test_replaying_old_iterations_does_not_bring_back_samples_that_were_pushed_out():
    session = make_session(keep_samples=3, sample_every=2)
    session.run(12, lambda: False)
    kept = session.samples
    assert [s.iteration for s in kept] == [6, 8, 10]
    session.goto(1)
    session.run(5, lambda: False)  # replays 2..6: samples 2 and 4 were pushed out long ago, 6 is kept
    assert session.samples == kept
    session.sample_now()  # an on-demand sample at iteration 7 goes between 6 and 8
    assert [(s.iteration, s.on_demand) for s in session.samples] == [(7, True), (8, False), (10, False)]
    session.goto(2)
    asked = session.sample_now()  # behind every kept sample, but asked for: kept, and shown there
    assert [(s.iteration, s.on_demand) for s in session.samples] == [(3, True), (8, False), (10, False)]
    assert session.samples_until(session.last_record) == (asked,)


def test_keeping_no_samples_keeps_none():
    session = make_session(keep_samples=0, sample_every=1)
    session.run(3, lambda: False)
    session.sample_now()
    assert session.samples == ()


def test_dirty_follows_progress_and_going_back(tmp_path):
    session = make_session()
    assert not session.dirty
    for _ in range(5):
        session.step()
    assert session.dirty
    session.save(tmp_path / "s.npz")
    assert not session.dirty
    for _ in range(5):
        session.step()
    session.goto(4)  # the saved iteration again, but iterations 5..9 were computed since
    assert session.dirty


def test_each_unsaved_part_is_named_until_a_save(tmp_path):
    session = make_session()
    session.step()
    assert session.unsaved_parts == ("iterations",)
    session.save(tmp_path / "s.npz")
    session.evaluate_now()  # nothing trained, but an evaluation a save would keep
    assert session.unsaved_parts == ("evaluations",) and session.dirty
    session.save(tmp_path / "s.npz")
    session.breakpoints.add("every 50")
    assert session.unsaved_parts == ("breakpoint changes",)
    session.save(tmp_path / "s.npz")
    session.breakpoints.toggle(0)
    assert session.unsaved_parts == ("breakpoint changes",)
    session.breakpoints.toggle(0)  # back as saved: nothing to lose
    assert session.unsaved_parts == () and not session.dirty
    session.set_hyperparameters(clip=2.0)
    assert session.unsaved_parts == ("hyperparameter changes",)


def test_a_resumed_run_starts_with_nothing_unsaved(tmp_path):
    session = make_session(eval_every=2)
    session.run(5, lambda: False)
    session.breakpoints.add("smooth < 1")
    session.save(tmp_path / "s.npz")
    resumed = open_session(session.trainer.corpus, resume=tmp_path / "s.npz")
    assert len(resumed.evaluations) == len(session.evaluations) > 0 and len(resumed.breakpoints) == 1
    assert resumed.unsaved_parts == () and not resumed.dirty


def test_save_keeps_the_extras_it_was_resumed_with(tmp_path):
    session = make_session()
    session.step()
    session.trainer.checkpoint_extras["note"] = np.array("kept")
    session.save(tmp_path / "a.npz")
    again = load_checkpoint(tmp_path / "a.npz", session.trainer.corpus)
    assert str(again.checkpoint_extras["note"]) == "kept" and "breakpoints" in again.checkpoint_extras


def test_damaged_checkpoints_give_one_line_errors(tmp_path):
    session = make_session()
    session.step()
    good = tmp_path / "good.npz"
    session.save(good)
    with np.load(good, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    corpus = session.trainer.corpus
    missing = dict(arrays)
    del missing["memory"]
    np.savez(tmp_path / "missing.npz", **missing)
    with pytest.raises(CheckpointError, match="lacks memory"):
        load_checkpoint(tmp_path / "missing.npz", corpus)
    bad_hprev = dict(arrays, hprev=np.zeros(3))
    np.savez(tmp_path / "hprev.npz", **bad_hprev)
    with pytest.raises(CheckpointError, match="hidden state of the wrong size"):
        load_checkpoint(tmp_path / "hprev.npz", corpus)
    bad_position = dict(arrays, position=np.array(10**9))
    np.savez(tmp_path / "pos.npz", **bad_position)
    with pytest.raises(CheckpointError, match="impossible here"):
        load_checkpoint(tmp_path / "pos.npz", corpus)


def test_a_diverging_step_ends_a_run_as_divergence_even_with_a_nan_breakpoint():
    session = make_session(learning_rate=1e300)
    session.breakpoints.add("nan")
    result = session.run(50, lambda: False)
    assert result.end is RunEnd.DIVERGED and result.detail == session.stop_reason
    assert result.detail.startswith(f"diverged at iteration {session.last_record.iteration}: non-finite ")


def test_a_breakpoint_ends_a_run_with_its_reason_and_going_back_clears_it():
    session = make_session()
    session.breakpoints.add("iter == 3")
    result = session.run(50, lambda: False)
    assert (result.steps, result.end) == (4, RunEnd.BREAKPOINT) and result.detail == session.stop_reason
    session.back()
    assert session.stop_reason is None


def test_going_back_shows_the_samples_of_that_time_long_after():
    session = make_session(sample_every=1)
    session.run(300, lambda: False)
    shown = session.goto(10)
    assert [s.iteration for s in session.samples_until(shown)] == list(range(11))  # sample 11 comes with step 11
    assert [s.iteration for s in session.samples[-3:]] == [297, 298, 299]


def test_going_back_shows_the_samples_that_existed_when_that_iteration_first_ran():
    session = make_session(sample_every=10)
    seen = {}  # record iteration -> the samples there as training first reached it
    for _ in range(31):
        record = session.step()
        if record.iteration == 25:
            session.sample_now()  # drawn from the state after record 25: iteration 26
        if record.iteration in (9, 10, 19, 25):
            seen[record.iteration] = session.samples
    assert [s.iteration for s in seen[9]] == [0] and [s.iteration for s in seen[10]] == [0, 10]
    assert [(s.iteration, s.on_demand) for s in seen[25]] == [(0, False), (10, False), (20, False), (26, True)]
    for n, samples in seen.items():
        assert session.samples_until(session.goto(n)) == samples


# --- kept branches --------------------------------------------------------------------------------


def test_a_branch_keeps_its_samples_and_evaluations_and_switching_brings_them_back():
    session = make_session(sample_every=4, eval_every=5)
    session.run(30, lambda: False)
    old_samples, old_evaluations = session.samples, session.evaluations
    old_records = {n: session.goto(n) for n in (12, 25, 29)}
    session.goto(12)
    message = session.set_hyperparameters(learning_rate=0.03)
    assert "kept as 'main'" in message
    assert all(s.iteration <= 12 for s in session.samples) and all(e.iteration <= 13 for e in session.evaluations)
    session.run(10, lambda: False)
    new_samples = session.samples
    branches = session.branches
    assert [(b.name, b.live, b.forked_at) for b in branches] == [("main", False, None), ("branch 1", True, 13)]
    assert branches[0].change == "" and branches[1].change == "learning_rate 0.1 -> 0.03"
    assert len(branches[0].smooth) == 30 and branches[0].evaluations == old_evaluations
    record = session.switch_branch("main")
    assert record.iteration == 12 and session.samples == old_samples and session.evaluations == old_evaluations
    for n, expected in old_records.items():
        again = session.goto(n)
        assert again.loss == expected.loss and np.array_equal(again.hs, expected.hs)
    session.switch_branch("branch 1")
    assert session.samples == new_samples and session.last_record.iteration == 22


def test_kept_branches_are_saved_as_curves(tmp_path):
    session = make_session(eval_every=5)
    session.run(20, lambda: False)
    session.goto(8)
    session.set_hyperparameters(clip=1.0)
    session.run(5, lambda: False)
    main_curve = session.branches[0].smooth.copy()
    session.save(tmp_path / "b.npz")
    resumed = open_session(Corpus.from_text(TEXT, name="fox"), resume=tmp_path / "b.npz")
    saved = resumed.branches[0]
    assert (saved.name, saved.live, saved.switchable, saved.forked_at, saved.furthest) == ("main", False, False, None, 19)
    assert np.array_equal(saved.smooth, main_curve) and [e.iteration for e in saved.evaluations] == [0, 5, 10, 15]
    assert resumed.branches[-1].live
    resumed.save(tmp_path / "c.npz")  # saved again, the curves stay
    again = open_session(Corpus.from_text(TEXT, name="fox"), resume=tmp_path / "c.npz")
    assert [b.name for b in again.branches] == ["main", "branch 1"]
    with pytest.raises(TimelineError, match="no kept branch named 'main'"):
        resumed.switch_branch("main")
