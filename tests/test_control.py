"""The controller: the same commands give the same records in a thread, in a process, and directly."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time

import numpy as np
import pytest

from rnntui.engine import Corpus, RnntuiError, Trainer, control
from rnntui.engine.control import EngineBusy, EngineLost, start_engine_process, start_in_thread
from rnntui.engine.gradcheck import check_window, take_window
from rnntui.engine.jobs import GradCheckJob
from rnntui.engine.session import Phase, RunEnd, Session, StopCause, open_session

TEXT = "the quick brown fox jumps over the lazy dog.\n" * 8
SETTINGS = {"hidden_size": 12, "seq_length": 8, "sample_every": 5, "sample_length": 20}
WAIT_S = 30.0  # a condition that does not come true within this is a failure, not a wait


def new_session(**settings) -> Session:
    return open_session(Corpus.from_text(TEXT, name="fox"), {**SETTINGS, **settings})


@pytest.fixture(params=["thread", "process"])
def start(request):
    """Start a controller on a session in a thread or in a process; every one is closed afterwards."""
    made = []

    def starter(session: Session):
        controller = (start_in_thread if request.param == "thread" else start_engine_process)(session)
        made.append(controller)
        return controller

    yield starter
    for controller in made:
        controller.close()


def wait_until(controller, condition, what: str) -> None:
    """Poll the engine until ``condition()`` holds (each poll is a round trip, not a sleep)."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        controller.poll()


def run_to_end(controller, limit: int):
    controller.run(limit)
    wait_until(controller, lambda: controller.mirror.finished, "the run to end")
    return controller.mirror.take_finished()[-1]


def same_record(a, b) -> bool:
    """Every field equal, arrays and per-parameter figures bit for bit (NaN equal to NaN)."""
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if hasattr(x, "keys"):  # per-parameter figures, NaN where a norm is undefined
            if list(x) != list(y) or not np.array_equal(list(x.values()), list(y.values()), equal_nan=True):
                return False
        elif isinstance(x, np.ndarray):
            if not np.array_equal(x, y):
                return False
        elif x != y:
            return False
    return True


SCRIPT = [  # (command, argument): the same script driven directly and through a controller
    ("step", None), ("step", None), ("run", 40), ("goto", 10), ("back", None),
    ("set", {"learning_rate": 0.05}), ("step", None), ("run", 25), ("goto", 20), ("goto", 35),
]


def drive_directly(session: Session) -> list:
    shown = []
    for command, arg in SCRIPT:
        if command == "step":
            session.step()
        elif command == "run":
            session.run(arg, lambda: False)
        elif command == "goto":
            session.goto(arg)
        elif command == "back":
            session.back()
        elif command == "set":
            session.set_hyperparameters(**arg)
        shown.append(session.last_record)
    return shown


def drive_controller(controller) -> list:
    shown = []
    for command, arg in SCRIPT:
        if command == "run":
            run_to_end(controller, arg)
        elif command == "set":
            controller.set_hyperparameters(**arg)
        else:
            getattr(controller, command)(*(() if arg is None else (arg,)))
        shown.append(controller.mirror.record)
    return shown


def test_a_controller_shows_the_records_a_directly_driven_session_computes(start):
    expected = drive_directly(new_session())
    controller = start(new_session())
    got = drive_controller(controller)
    assert [r.iteration for r in got] == [r.iteration for r in expected]
    assert all(same_record(a, b) for a, b in zip(got, expected))
    direct = new_session()
    drive_directly(direct)
    history = controller.mirror.history
    assert np.array_equal(history.loss, direct.trainer.history.loss)
    assert np.array_equal(history.grad_norms, direct.trainer.history.grad_norms)
    assert [e.text for e in history.events] == [e.text for e in direct.trainer.history.events]
    assert [s.text for s in controller.mirror.samples] == [s.text for s in direct.samples_until(direct.last_record)][-20:]


def test_records_arrive_read_only(start):
    controller = start(new_session())
    controller.step()
    record = controller.mirror.record
    assert not record.hs.flags.writeable and not record.ps.flags.writeable
    with pytest.raises(TypeError):
        record.grad_norms["Whh"] = 0.0  # type: ignore[index]
    assert not controller.mirror.history.loss.flags.writeable


def test_a_change_while_running_lands_between_two_steps(start):
    controller = start(new_session(sample_every=0))
    controller.run(None)
    wait_until(controller, lambda: controller.mirror.iteration >= 20, "20 iterations")
    controller.set_hyperparameters(learning_rate=0.02)
    wait_until(controller, lambda: controller.mirror.iteration >= controller.mirror.history.events[-1].iteration + 5,
               "5 more iterations")
    controller.pause()
    [event] = controller.mirror.history.events
    assert event.text == "learning_rate 0.1 -> 0.02"
    # the records say which rate each update used: the change took effect exactly at the event's iteration
    controller.goto(event.iteration - 1)
    assert controller.mirror.record.learning_rate == 0.1
    controller.goto(event.iteration)
    assert controller.mirror.record.learning_rate == 0.02


def test_pause_stops_within_the_iteration_it_arrives_in(start):
    controller = start(new_session(sample_every=0))
    controller.run(None)
    wait_until(controller, lambda: controller.mirror.iteration >= 10, "10 iterations")
    controller.pause()
    at = controller.mirror.iteration
    assert controller.mirror.state.phase is Phase.PAUSED
    controller.poll()
    assert controller.mirror.iteration == at
    [result] = controller.mirror.take_finished()
    assert result.end is RunEnd.PAUSED


def test_a_sample_asked_for_while_running_is_drawn_between_steps(start):
    controller = start(new_session(sample_every=0))
    controller.run(None)
    wait_until(controller, lambda: controller.mirror.iteration >= 5, "5 iterations")
    sample = controller.sample_now(0.5)
    controller.pause()
    assert sample.on_demand and sample.temperature == 0.5 and len(sample.text) == SETTINGS["sample_length"]
    assert sample in controller.mirror.samples


def test_a_change_after_going_back_starts_a_branch_and_says_so_once(start):
    controller = start(new_session(sample_every=3))
    run_to_end(controller, 10)
    controller.goto(4)
    message = controller.set_hyperparameters(temperature=0.5)
    assert message and "new branch 'branch 1' from iteration 4" in message and "kept as 'main'" in message
    assert controller.mirror.take_notices() == [message]
    assert all(s.iteration <= 5 for s in controller.mirror.samples)
    controller.poll()
    assert controller.mirror.take_notices() == []


def test_a_breakpoint_stops_the_run_and_the_state_says_why(start):
    controller = start(new_session())
    controller.add_breakpoint("iter == 7")
    result = run_to_end(controller, 100)
    assert result.end is RunEnd.BREAKPOINT and result.steps == 8
    state = controller.mirror.state
    assert state.phase is Phase.STOPPED and state.cause is StopCause.BREAKPOINT and "iter == 7" in state.message
    controller.back()
    assert controller.mirror.state.in_the_past and controller.mirror.state.furthest == 7


def test_commands_that_need_a_pause_are_refused_while_running(start):
    controller = start(new_session(sample_every=0))
    controller.run(None)
    for command in (controller.step, controller.back, lambda: controller.save("x.npz")):
        with pytest.raises(RnntuiError, match="pause first"):
            command()
    controller.pause()


def test_a_bad_command_raises_its_problem_and_keeps_the_engine(start):
    controller = start(new_session())
    with pytest.raises(RnntuiError) as caught:
        controller.add_breakpoint("loss >> 3")
    assert caught.value.problem.startswith("bad breakpoint 'loss >> 3'") and "valid forms" in caught.value.hint
    with pytest.raises(RnntuiError, match="clip must be a finite number above 0"):
        controller.set_hyperparameters(clip=-1.0)
    controller.step()
    assert controller.mirror.record.iteration == 0


def test_breakpoint_edits_reach_the_mirror(start):
    controller = start(new_session())
    controller.add_breakpoint("nan")
    controller.add_breakpoint("every 10")
    controller.toggle_breakpoint(0)
    assert [(bp.source, bp.enabled) for bp in controller.mirror.breakpoints] == [("nan", False), ("every 10", True)]
    controller.remove_breakpoint(1)
    assert [bp.source for bp in controller.mirror.breakpoints] == ["nan"]


def test_save_writes_the_engines_state(start, tmp_path):
    direct = new_session()
    direct.run(30, lambda: False)
    controller = start(new_session())
    run_to_end(controller, 30)
    assert controller.mirror.dirty
    saved = controller.save(tmp_path / "c.npz")
    assert saved.iteration == 30 and not controller.mirror.dirty and controller.mirror.save_path == str(saved.path)
    resumed = open_session(Corpus.from_text(TEXT, name="fox"), resume=tmp_path / "c.npz")
    assert np.array_equal(resumed.trainer.state().params, direct.trainer.state().params)


def test_a_gradient_check_job_reports_progress_and_its_result(start):
    session = new_session()
    expected = check_window(take_window(Trainer(session.trainer.corpus, session.trainer.config)))
    controller = start(session)
    job = controller.start_job(GradCheckJob())
    wait_until(controller, lambda: job in controller.mirror.jobs and controller.mirror.jobs[job].finished, "the job")
    status = controller.mirror.take_job(job)
    assert status.error is None and status.result.iteration == 0
    for name, result in expected.results.items():
        assert np.array_equal(status.result.results[name].errors, result.errors)
    assert controller.mirror.take_job(job) is None  # handed over once


def test_killing_the_engine_process_is_reported_and_the_last_record_stays():
    controller = start_engine_process(new_session())
    try:
        controller.step()
        record = controller.mirror.record
        os.kill(controller._transport.pid, signal.SIGKILL)
        started = time.monotonic()
        with pytest.raises(EngineLost, match="signal SIGKILL"):
            controller.poll()
        assert time.monotonic() - started < 5  # reported, not hung
        assert controller.mirror.record is record
        state = controller.mirror.state
        assert state.cause is StopCause.ENGINE_LOST and "SIGKILL" in state.message
        with pytest.raises(EngineLost):
            controller.step()
    finally:
        controller.close()


def test_closing_leaves_no_process_behind_even_while_running():
    controller = start_engine_process(new_session(sample_every=0))
    pid = controller._transport.pid
    controller.run(None)
    controller.close()
    assert not controller._transport.alive
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_the_engine_process_ends_when_the_front_end_goes_away():
    controller = start_engine_process(new_session(sample_every=0))
    transport = controller._transport
    controller.run(None)
    transport._conn.close()  # what the front-end's death looks like from the engine's side
    transport._process.join(WAIT_S)
    assert not transport._process.is_alive()


def test_a_session_copied_to_another_process_trains_exactly_as_the_original():
    import pickle

    original = new_session()
    original.run(7, lambda: False)
    copy = pickle.loads(pickle.dumps(original))  # what a spawned engine process receives
    assert not copy.trainer.corpus.data.flags.writeable
    for _ in range(5):
        assert same_record(copy.step(), original.step())
    assert np.array_equal(copy.trainer.state().params, original.trainer.state().params)


class _Unsendable:
    def __reduce__(self):
        raise TypeError("cannot pickle this on purpose")


@dataclasses.dataclass(frozen=True)
class _UnsendableJob:
    kind: str = "unsendable"

    def prepare(self, session):
        return lambda progress: _Unsendable()


def test_a_result_that_cannot_be_sent_is_a_failure_and_the_engine_goes_on():
    controller = start_engine_process(new_session())
    try:
        job = controller.start_job(_UnsendableJob())
        wait_until(controller, lambda: job in controller.mirror.jobs and controller.mirror.jobs[job].finished, "the job")
        status = controller.mirror.take_job(job)
        assert status.result is None and status.error.startswith("its result could not be sent")
        assert "cannot pickle this on purpose" in status.error
        controller.step()  # the engine is still there
        assert controller.mirror.record.iteration == 0
    finally:
        controller.close()


def test_analysis_and_evaluation_results_travel_between_processes():
    from rnntui.engine.jobs import AnalysisJob, EvaluationReportJob

    controller = start_engine_process(new_session(val_frac=0.2))
    try:
        run_to_end(controller, 20)
        for job in (AnalysisJob(units=(1,)), EvaluationReportJob()):
            job_id = controller.start_job(job)
            wait_until(controller, lambda: job_id in controller.mirror.jobs and controller.mirror.jobs[job_id].finished,
                       job.kind)
            status = controller.mirror.take_job(job_id)
            assert status.error is None and status.result is not None
        assert status.result.baselines[1] > 0 and status.result.breakdown.counts["other"] >= 0
    finally:
        controller.close()


def test_the_engine_process_ends_at_once_when_closed_after_a_long_run():
    # the reply to Quit would carry every history row the front-end lacks; unread, it filled the pipe
    controller = start_engine_process(new_session(sample_every=0))
    run_to_end(controller, 3000)
    started = time.monotonic()
    controller.close()
    assert time.monotonic() - started < 1.0 and controller._transport._process.exitcode == 0


# --- an engine that does not answer ---------------------------------------------------------------


def held_session(release: threading.Event) -> Session:
    """A session whose steps wait for ``release``: an engine held by long work (or stopped)."""
    session = new_session()
    step = session.step

    def held_step():
        release.wait(WAIT_S)
        return step()

    session.step = held_step
    return session


def poll_while_busy(controller) -> None:
    """Poll as the app's timer does (every 10 ms here) until a poll is answered or the engine is lost."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            controller.poll()
            return
        except EngineBusy:
            time.sleep(0.01)  # the timer's interval, not a wait for an outcome
    raise AssertionError("the engine stayed busy")


def test_a_silent_engine_makes_commands_busy_not_lost_and_its_late_reply_is_applied(monkeypatch):
    monkeypatch.setattr(control, "PATIENCE_S", 0.2)
    release = threading.Event()
    controller = start_in_thread(held_session(release))
    try:
        with pytest.raises(EngineBusy, match="has not answered"):
            controller.step()  # sent; the reply will come late
        with pytest.raises(EngineBusy):
            controller.poll()  # nothing more is sent while a reply is overdue
        assert controller.lost is None and controller.mirror.iteration == 0
        release.set()
        poll_while_busy(controller)
        assert controller.mirror.iteration == 1 and controller.waiting_since is None  # the step's effect shows
        controller.step()  # and commands work again
        assert controller.mirror.iteration == 2
    finally:
        release.set()
        controller.close()


def test_an_engine_silent_past_the_reply_timeout_is_lost(monkeypatch):
    monkeypatch.setattr(control, "PATIENCE_S", 0.1)
    monkeypatch.setattr(control, "REPLY_TIMEOUT_S", 0.3)
    release = threading.Event()
    controller = start_in_thread(held_session(release))
    try:
        with pytest.raises(EngineBusy):
            controller.step()
        with pytest.raises(EngineLost) as lost:
            poll_while_busy(controller)
        assert not isinstance(lost.value, EngineBusy) and "did not answer for 0.3 s" in lost.value.problem
        assert controller.mirror.state.cause is StopCause.ENGINE_LOST
    finally:
        release.set()
        controller.close()
