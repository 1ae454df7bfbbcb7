"""Time travel: snapshots, deterministic replay, bounded memory, branches."""

from collections.abc import Mapping
from dataclasses import fields

import numpy as np
import pytest

from rnntui.engine import Config, ConfigError, Corpus, StepRecord, Trainer
from rnntui.engine.timeline import MAX_INTERVAL, MIN_INTERVAL, Timeline, TimelineError, default_interval

CONFIG = Config(hidden_size=16, seq_length=10, sample_every=7, sample_length=12)


# --- helpers ---------------------------------------------------------------
def same_float(a, b) -> bool:
    """Bit-identical floats (NaN equals NaN of the same bits)."""
    return np.float64(a).tobytes() == np.float64(b).tobytes()


def assert_same_record(a: StepRecord, b: StepRecord) -> None:
    """Every field of two records is bit-identical."""
    for field in fields(StepRecord):
        va, vb = getattr(a, field.name), getattr(b, field.name)
        where = f"iteration {b.iteration}, field {field.name}"
        if isinstance(vb, np.ndarray):
            assert va.dtype == vb.dtype and va.shape == vb.shape, where
            np.testing.assert_array_equal(va, vb, err_msg=where)
            assert va.tobytes() == vb.tobytes(), where
        elif isinstance(vb, Mapping):
            assert list(va) == list(vb), where
            assert all(same_float(va[k], vb[k]) for k in vb), where
        elif isinstance(vb, float):
            assert isinstance(va, float) and same_float(va, vb), where
        else:
            assert va == vb, where


def straight_run(corpus, n, config=CONFIG, changes=None):
    """Records of ``n`` iterations without time travel; ``changes`` maps iteration -> hyperparameters."""
    trainer = Trainer(corpus, config)
    records = []
    for i in range(n):
        if changes and i in changes:
            trainer.set_hyperparameters(**changes[i])
        records.append(trainer.step())
    return trainer, records


def assert_history_matches(trainer, reference_trainer):
    """The trainer's history is the reference's, cut at the trainer's position."""
    n = trainer.iteration
    assert len(trainer.history) == n
    ref = reference_trainer.history
    np.testing.assert_array_equal(trainer.history.loss, ref.loss[:n])
    np.testing.assert_array_equal(trainer.history.smooth_loss, ref.smooth_loss[:n])
    np.testing.assert_array_equal(trainer.history.grad_norms, ref.grad_norms[:n])
    np.testing.assert_array_equal(trainer.history.clipped_norms, ref.clipped_norms[:n])


def make_timeline(corpus, snapshots=6, interval=5, config=CONFIG):
    """A timeline whose small budget (``snapshots`` states) forces thinning early."""
    trainer = Trainer(corpus, config)
    budget = snapshots * trainer.state().nbytes
    return Timeline(trainer, budget_bytes=budget, interval=interval)


def run(timeline, n):
    return [timeline.step() for _ in range(n)]


@pytest.fixture(scope="module")
def reference():
    """A straight run of 450 iterations on the small corpus, shared by the tests below."""
    corpus = Corpus.from_text("the quick brown fox jumps over the lazy dog.\n" * 8, name="fox")
    trainer, records = straight_run(corpus, 450)
    return corpus, trainer, records


# --- stepping and going to iterations ---------------------------------------
def test_steps_through_the_timeline_equal_a_straight_run(reference):
    corpus, ref_trainer, ref = reference
    timeline = make_timeline(corpus)
    for i, record in enumerate(run(timeline, 60)):
        assert_same_record(record, ref[i])
    assert timeline.furthest == 59 and timeline.iteration == 59 and timeline.record is not None
    assert_history_matches(timeline.trainer, ref_trainer)


def test_goto_earlier_returns_bit_identical_records(reference):
    corpus, ref_trainer, ref = reference
    timeline = make_timeline(corpus)
    run(timeline, 300)
    for n in (0, 1, 4, 5, 6, 57, 150, 298, 299, 233, 11):
        record = timeline.goto(n)
        assert record.iteration == n
        assert_same_record(record, ref[n])
        assert timeline.trainer.iteration == n + 1
        assert timeline.record is record and timeline.iteration == n
        assert_history_matches(timeline.trainer, ref_trainer)
    assert timeline.furthest == 299


def test_goto_leaves_the_trainer_ready_for_the_next_iteration(reference):
    corpus, _, ref = reference
    timeline = make_timeline(corpus)
    run(timeline, 100)
    timeline.goto(40)
    assert_same_record(timeline.trainer.step(), ref[41])  # the plain trainer continues correctly too


def test_goto_later_replays_then_trains_beyond_the_furthest(reference):
    corpus, ref_trainer, ref = reference
    timeline = make_timeline(corpus)
    run(timeline, 200)
    timeline.goto(30)
    assert_same_record(timeline.goto(170), ref[170])
    assert timeline.furthest == 199
    assert_same_record(timeline.goto(420), ref[420])  # new ground
    assert timeline.furthest == 420 and not timeline.behind
    assert_history_matches(timeline.trainer, ref_trainer)
    assert_same_record(timeline.goto(205), ref[205])  # snapshots taken beyond 200 serve replays


def test_far_jump_forward_restores_a_snapshot_and_the_history_rows(reference):
    corpus, ref_trainer, ref = reference
    timeline = make_timeline(corpus, snapshots=80, interval=5)
    run(timeline, 300)
    timeline.goto(120)
    timeline.goto(10)  # further back: the kept rows grow at the front
    timeline.goto(60)
    assert timeline.replay_length(297) == 3  # from the snapshot at 295, not 237 steps from here
    assert_same_record(timeline.goto(297), ref[297])
    assert_history_matches(timeline.trainer, ref_trainer)
    assert_same_record(timeline.goto(299), ref[299])
    assert not timeline.behind
    assert_same_record(timeline.step(), ref[300])
    assert_history_matches(timeline.trainer, ref_trainer)


def test_goto_current_iteration_returns_the_same_record(reference):
    corpus, _, _ = reference
    timeline = make_timeline(corpus)
    last = run(timeline, 20)[-1]
    assert timeline.goto(19) is last
    assert timeline.replay_length(19) == 0


def test_back_steps_back_one_iteration_at_a_time(reference):
    corpus, ref_trainer, ref = reference
    timeline = make_timeline(corpus)
    run(timeline, 120)
    for n in range(118, 80, -1):
        record = timeline.back()
        assert record.iteration == n
        assert_same_record(record, ref[n])
        assert_history_matches(timeline.trainer, ref_trainer)


def test_back_stops_at_the_first_iteration(reference):
    corpus, _, ref = reference
    timeline = make_timeline(corpus)
    run(timeline, 10)
    assert_same_record(timeline.goto(1), ref[1])
    assert_same_record(timeline.back(), ref[0])
    with pytest.raises(TimelineError, match="starts at"):
        timeline.back()
    with pytest.raises(TimelineError, match="starts at iteration 0"):
        timeline.goto(-1)


def test_going_back_then_forward_reproduces_the_same_future(reference):
    corpus, ref_trainer, ref = reference
    timeline = make_timeline(corpus)
    run(timeline, 200)
    timeline.goto(149)  # back 50
    assert timeline.behind
    for i, record in enumerate(run(timeline, 80), start=150):
        assert_same_record(record, ref[i])
    assert timeline.furthest == 229 and not timeline.behind
    assert_history_matches(timeline.trainer, ref_trainer)


def test_samples_are_replayed_with_their_records(reference):
    corpus, _, ref = reference
    timeline = make_timeline(corpus)
    run(timeline, 100)
    record = timeline.goto(63)  # 63 = 9 * sample_every
    assert record.sample is not None and record.sample == ref[63].sample


def test_replay_length_counts_the_steps_goto_runs(reference):
    corpus, _, _ = reference
    timeline = make_timeline(corpus, snapshots=50, interval=10)
    run(timeline, 100)  # snapshots at 0, 10, ..., 100
    assert timeline.replay_length(95) == 6  # from the snapshot at 90
    assert timeline.replay_length(100) == 1  # from the front
    timeline.goto(95)
    assert timeline.replay_length(97) == 2  # stepping on from here


# --- memory bound -----------------------------------------------------------
def test_snapshot_memory_stays_under_the_budget(reference):
    corpus, ref_trainer, ref = reference
    timeline = make_timeline(corpus, snapshots=5, interval=3)
    state_bytes = timeline.trainer.state().nbytes
    for _ in range(450):
        timeline.step()
        assert timeline.nbytes <= timeline.budget_bytes
        assert timeline.snapshot_iterations[0] == 0
        assert timeline.nbytes == len(timeline) * state_bytes
    iters = timeline.snapshot_iterations
    assert len(iters) == 5 and list(iters) == sorted(iters)
    gaps = np.diff(iters)
    assert gaps[0] > gaps[-1]  # older snapshots are sparser
    for n in (2, 100, 300, 449):
        assert_same_record(timeline.goto(n), ref[n])
    assert_history_matches(timeline.trainer, ref_trainer)


def test_thinning_keeps_recent_snapshots_dense():
    corpus = Corpus.from_text("abcdefghij" * 30)
    config = Config(hidden_size=4, seq_length=5, sample_every=0)
    timeline = make_timeline(corpus, snapshots=20, interval=2, config=config)
    run(timeline, 3000)
    iters = np.array(timeline.snapshot_iterations)
    assert len(iters) == 20 and iters[0] == 0
    assert iters[-1] == 3000 and iters[-2] == 2998  # the newest stretch is at full density
    gaps = np.diff(iters)
    age = 3000 - iters[1:]
    assert np.all(gaps[:-1] >= gaps[1:] / 2)  # spacing never shrinks much going back in time
    assert np.all(gaps <= np.maximum(2, age))  # and never exceeds the age (replay <= 2 x jump)


def test_budget_must_hold_two_snapshots(small_trainer):
    size = small_trainer.state().nbytes
    with pytest.raises(ValueError, match="fewer than two snapshots"):
        Timeline(small_trainer, budget_bytes=2 * size - 1)
    with pytest.raises(ValueError, match="interval"):
        Timeline(small_trainer, interval=0)


def test_default_interval_depends_on_the_state_size():
    assert default_interval(1) == MAX_INTERVAL
    assert default_interval(10**9) == MIN_INTERVAL
    assert default_interval(371_440) == 23  # H=100 on the built-in corpus
    assert default_interval(200_000) > default_interval(400_000)


# --- hyperparameters and branches -------------------------------------------
def test_change_at_the_front_is_replayed_at_the_same_iteration(reference):
    corpus, _, _ = reference
    changes = {50: {"learning_rate": 0.05, "temperature": 0.5}, 90: {"clip": 1.0}}
    ref_trainer, ref = straight_run(corpus, 150, changes=changes)
    timeline = make_timeline(corpus)
    run(timeline, 50)
    assert timeline.set_hyperparameters(**changes[50]) is None
    run(timeline, 40)
    timeline.trainer.set_hyperparameters(**changes[90])  # made directly on the trainer: adopted too
    run(timeline, 60)
    assert [i for i, _ in timeline.schedule] == [0, 50, 90]
    for n in (20, 49, 50, 51, 70, 89, 90, 120, 149, 63):  # replays cross the change points
        assert_same_record(timeline.goto(n), ref[n])
        assert_history_matches(timeline.trainer, ref_trainer)
    assert ref[63].sample_temperature == 0.5
    timeline.goto(30)
    assert timeline.trainer.config.learning_rate == CONFIG.learning_rate
    timeline.goto(49)  # the next step is 50: the config shown is the one it will use
    assert timeline.trainer.config.learning_rate == 0.05
    assert [e.iteration for e in timeline.trainer.history.events] == [50, 50]


def test_change_after_going_back_starts_a_new_branch(reference):
    corpus, _, old = reference
    new_trainer, new = straight_run(corpus, 200, changes={121: {"learning_rate": 0.05}})
    timeline = make_timeline(corpus)
    run(timeline, 200)
    timeline.goto(120)
    message = timeline.set_hyperparameters(learning_rate=0.05)
    assert message == ("new branch 'branch 1' from iteration 120 "
                       "(the old future after it, iterations 121 to 199, is kept as 'main')")
    assert timeline.furthest == 120 and not timeline.behind
    assert max(timeline.snapshot_iterations) <= 121
    assert [i for i, _ in timeline.schedule] == [0, 121]
    events = timeline.trainer.history.events
    assert [e.text for e in events] == [message, "learning_rate 0.1 -> 0.05"]
    assert all(e.iteration == 121 for e in events)
    assert len(timeline.trainer.history) == 121

    record = timeline.step()
    assert record.learning_rate == 0.05
    assert_same_record(record, new[121])
    run(timeline, 60)
    assert timeline.furthest == 181
    for n in (100, 120, 121, 150, 181):  # replays on the new branch cross the change at 121
        assert_same_record(timeline.goto(n), new[n])
        assert_history_matches(timeline.trainer, new_trainer)
    assert_same_record(timeline.goto(199), new[199])
    assert timeline.goto(130).learning_rate == 0.05


def test_the_new_branch_differs_from_the_old_future(reference):
    corpus, _, old = reference
    timeline = make_timeline(corpus)
    run(timeline, 100)
    timeline.goto(60)
    timeline.set_hyperparameters(learning_rate=0.5)
    run(timeline, 5)
    assert timeline.record.iteration == 65
    assert timeline.record.loss != old[65].loss
    assert timeline.record.learning_rate == 0.5


def test_unchanged_value_after_going_back_keeps_the_future(reference):
    corpus, _, ref = reference
    timeline = make_timeline(corpus)
    run(timeline, 100)
    timeline.goto(40)
    assert timeline.set_hyperparameters(learning_rate=CONFIG.learning_rate) is None
    assert timeline.furthest == 99 and timeline.behind
    assert_same_record(timeline.goto(99), ref[99])


def test_invalid_change_after_going_back_changes_nothing(reference):
    corpus, _, ref = reference
    timeline = make_timeline(corpus)
    run(timeline, 100)
    timeline.goto(40)
    with pytest.raises(ConfigError):
        timeline.set_hyperparameters(learning_rate=-1.0)
    assert timeline.furthest == 99
    assert_same_record(timeline.goto(80), ref[80])


def test_direct_change_after_going_back_also_branches(reference):
    corpus, _, _ = reference
    timeline = make_timeline(corpus)
    run(timeline, 100)
    timeline.goto(40)
    timeline.trainer.set_hyperparameters(temperature=2.0)
    record = timeline.step()
    assert record.iteration == 41 and timeline.furthest == 41
    assert any(e.text.startswith("new branch 'branch 1' from iteration 40") for e in timeline.trainer.history.events)
    assert [line.name for line in timeline.lines] == ["main", "branch 1"]


def test_branch_then_go_back_before_the_branch_point_keeps_the_old_past(reference):
    corpus, _, old = reference
    timeline = make_timeline(corpus)
    run(timeline, 150)
    timeline.goto(100)
    timeline.set_hyperparameters(learning_rate=0.02)
    run(timeline, 10)
    for n in (5, 100, 50):
        assert_same_record(timeline.goto(n), old[n])
    assert timeline.trainer.config.learning_rate == CONFIG.learning_rate
    timeline.goto(100)  # the next step, 101, is the first of the new branch
    assert timeline.trainer.config.learning_rate == 0.02


# --- starting mid-run and misuse ---------------------------------------------
def test_timeline_can_start_from_a_trainer_that_already_ran(reference):
    corpus, ref_trainer, ref = reference
    trainer = Trainer(corpus, CONFIG)
    for _ in range(30):
        trainer.step()
    timeline = Timeline(trainer, budget_bytes=6 * trainer.state().nbytes, interval=5)
    assert timeline.first == 30 and timeline.snapshot_iterations == (30,) and timeline.record is None
    run(timeline, 40)
    assert_same_record(timeline.goto(30), ref[30])
    assert_same_record(timeline.goto(55), ref[55])
    assert_history_matches(timeline.trainer, ref_trainer)
    with pytest.raises(TimelineError, match="starts at iteration 30"):
        timeline.goto(29)


def test_stepping_the_trainer_outside_the_timeline_is_reported(small_trainer):
    timeline = Timeline(small_trainer, interval=5)
    run(timeline, 3)
    small_trainer.step()
    with pytest.raises(TimelineError, match="only through the timeline"):
        timeline.step()


# --- kept branches -----------------------------------------------------------------------------------


def test_the_old_future_is_kept_and_switching_back_replays_it_bit_identically(reference):
    corpus, ref_trainer, old = reference
    new_trainer, new = straight_run(corpus, 200, changes={121: {"learning_rate": 0.05}})
    timeline = make_timeline(corpus)
    run(timeline, 200)
    timeline.goto(120)
    timeline.set_hyperparameters(learning_rate=0.05)
    run(timeline, 30)
    assert [(line.name, line.forked_at, line.live) for line in timeline.lines] == [("main", None, False),
                                                                               ("branch 1", 121, True)]
    assert timeline.lines[1].change == "learning_rate 0.1 -> 0.05" and timeline.lines[0].furthest == 199
    timeline.switch_to("main")  # the trainer goes where main was left (after iteration 120), its future intact
    assert timeline.trainer.iteration == 121
    assert timeline.furthest == 199 and timeline.behind
    for n in (199, 150, 121, 60):
        assert_same_record(timeline.goto(n), old[n])
        assert_history_matches(timeline.trainer, ref_trainer)
        assert timeline.trainer.history.events == []  # main never had the change made on branch 1
    assert [(line.name, line.live) for line in timeline.lines] == [("branch 1", False), ("main", True)]
    timeline.goto(121)
    timeline.step()
    timeline.set_hyperparameters(temperature=2.0)  # a branch from main names main's change only
    assert timeline.lines[-1].change == "temperature 1.0 -> 2.0"
    timeline.switch_to("branch 1")  # and back: left after iteration 150 of the new branch
    assert timeline.trainer.iteration == 151 and timeline.furthest == 150
    assert [e.text for e in timeline.trainer.history.events if not e.text.startswith("new branch")] == [
        "learning_rate 0.1 -> 0.05"
    ]
    assert_same_record(timeline.goto(140), new[140])
    assert_same_record(timeline.step(), new[141])


def test_kept_branches_stay_within_their_budget_dropping_the_oldest(reference, monkeypatch):
    import rnntui.engine.timeline as timeline_module

    corpus, _, _ = reference
    timeline = make_timeline(corpus)
    run(timeline, 120)
    budget = None
    names = ["main"]
    for k in range(5):  # branches from ever later points, each keeping the line before it
        timeline.goto(20 + 10 * k)
        timeline.set_hyperparameters(learning_rate=0.1 + 0.01 * (k + 1))
        run(timeline, 40)
        names.append(timeline.line_name)
        if budget is None:  # room for about two lines like the first one kept
            budget = int(2.2 * timeline.kept_bytes())
            monkeypatch.setattr(timeline_module, "KEPT_BUDGET_BYTES", budget)
        assert timeline.kept_bytes() <= budget
    dropped = timeline.dropped_lines
    assert dropped and dropped == names[: len(dropped)]  # the oldest went first, in order
    kept = [line.name for line in timeline.lines if not line.live]
    assert kept == names[len(dropped) : -1] and timeline.lines[-1].name == names[-1]


def test_unknown_branch_names_are_refused(reference):
    corpus, _, _ = reference
    timeline = make_timeline(corpus)
    run(timeline, 5)
    with pytest.raises(TimelineError, match="no kept branch named 'nope'"):
        timeline.switch_to("nope")
