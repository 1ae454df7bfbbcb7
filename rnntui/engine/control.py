"""Driving a Session from a front-end: typed commands, coalesced updates, two transports.

The app never touches a Session. It sends commands (step, run, pause, go to,
set hyperparameters, sample, save, breakpoints, jobs such as the gradient check
and the corpus passes) through a :class:`Controller`, and every reply carries an
:class:`Update`: the newest step record if it changed, the history rows the
front-end does not have yet, the samples it shows, the run state. Updates are
asked for at the front-end's pace, so records in between are never sent.

A :class:`SessionHost` executes commands on the Session. While a run goes on it
serves commands between two steps (so a change of hyperparameters, a sample or
a pause lands exactly between iterations), and long work (a gradient check, a
pass over the corpus) runs in a job thread beside training on a copy of the
parameters. Two transports carry requests and replies:

* :func:`start_engine_process`: the host runs in a process of its own, so
  training never waits for the front-end's interpreter lock (the app's default);
* :func:`start_in_thread`: the host runs in a thread of this process (tests,
  and the app with ``RNNTUI_ENGINE=thread``).

Both run the same host code, so a command gives identical records either way.
"""

from __future__ import annotations

import dataclasses
import itertools
import multiprocessing
import os
import pickle
import queue
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import numpy as np

from .breakpoints import Breakpoint
from .config import Config
from .errors import RnntuiError
from .evaluation import Evaluation
from .history import Event, History
from .record import StepRecord
from .session import Branch, RunResult, RunState, Sample, Saved, Session, StopCause
from .threads import use_one_blas_thread

SHOWN_SAMPLES = 20  # samples a front-end shows unless it asks for another number
REPLY_WAIT_S = 0.1  # how often a waiting client checks that the engine is still there
REPLY_TIMEOUT_S = 120.0  # no command takes this long: the engine is stuck
PATIENCE_S = 5.0  # how long a front-end waits for a reply before going on without it (stays responsive)
QUIT_WAIT_S = 2.0  # how long closing waits for the engine to end by itself
REAP_WAIT_S = 1.0  # how long to wait for the exit status of an engine process whose pipe closed


# --- commands ----------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """Something a front-end asks of the session; each kind is a subclass."""


@dataclass(frozen=True)
class Poll(Command):
    """Nothing but the update."""


@dataclass(frozen=True)
class Step(Command):
    """One iteration (while not running)."""


@dataclass(frozen=True)
class Run(Command):
    """Run until paused (``limit`` None) or for ``limit`` iterations; returns at once."""

    limit: int | None = None


@dataclass(frozen=True)
class Pause(Command):
    """Stop a run after the current iteration."""


@dataclass(frozen=True)
class GoTo(Command):
    iteration: int


@dataclass(frozen=True)
class Back(Command):
    pass


@dataclass(frozen=True)
class SetHyperparameters(Command):
    """Change adjustable settings from the next iteration on; returns a new-branch message or None."""

    changes: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class SampleNow(Command):
    temperature: float | None = None


@dataclass(frozen=True)
class Save(Command):
    """Save a checkpoint (while not running); returns a Saved (see Session.save)."""

    path: str
    rescue: bool = False  # save under a rescue name when the path cannot be written


@dataclass(frozen=True)
class SwitchBranch(Command):
    """Go on with a kept branch where it was left (not while running)."""

    name: str


@dataclass(frozen=True)
class EvaluateNow(Command):
    """Evaluate the current model on the training and held-out text; returns the Evaluation."""


@dataclass(frozen=True)
class AddBreakpoint(Command):
    text: str


@dataclass(frozen=True)
class ToggleBreakpoint(Command):
    index: int


@dataclass(frozen=True)
class RemoveBreakpoint(Command):
    index: int


@dataclass(frozen=True)
class StartJob(Command):
    """Start long work in a thread beside training; returns the job's id."""

    job: "Job"


@dataclass(frozen=True)
class CancelJob(Command):
    job_id: int


@dataclass(frozen=True)
class Quit(Command):
    """End the host (a run is paused first)."""


# --- jobs ----------------------------------------------------------------------


class JobProgress:
    """Handed to a job's work: it reports how far it got and asks whether to stop."""

    def __init__(self) -> None:
        self.done = 0
        self.total = 0
        self._cancel = threading.Event()

    def report(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()


class Job(Protocol):
    """Long work on a copy of the session's state.

    ``prepare`` runs on the host's thread between two steps and copies what the
    work needs; the callable it returns runs in a thread of its own and must
    not touch the session. A job may also have ``finish(session, result)``,
    which the host's thread calls once with the result (to keep it in the
    session's history, say).
    """

    kind: str  # shown while it runs, e.g. "gradient check"

    def prepare(self, session: Session) -> Callable[[JobProgress], Any]: ...

    # optional: finish(self, session: Session, result) -> None, called once on the host's thread with the result


class JobCancelled(Exception):
    """Raised by a job's work when its progress says to stop."""


@dataclass(frozen=True)
class JobStatus:
    """Where a job stands; ``finished`` statuses are sent once, with the result or the error."""

    job_id: int
    kind: str
    done: int
    total: int
    finished: bool = False
    result: Any = None
    error: str | None = None  # the problem, when the work raised
    cancelled: bool = False


@dataclass
class _JobRun:
    job_id: int
    kind: str
    progress: JobProgress
    finish: Callable[[Session, Any], None] | None = None
    thread: threading.Thread | None = None
    result: Any = None
    error: str | None = None
    cancelled: bool = False
    finished: bool = False

    def status(self) -> JobStatus:
        return JobStatus(
            self.job_id, self.kind, self.progress.done, self.progress.total,
            self.finished, self.result, self.error, self.cancelled,
        )


# --- updates -------------------------------------------------------------------


@dataclass(frozen=True)
class Known:
    """What a front-end already has, so an update sends only what is new."""

    record_serial: int = -1
    history_generation: int = 0
    history_length: int = 0
    samples_key: tuple[int, int] = (-1, -1)
    breakpoints_version: int = -1
    evaluations_key: tuple[int, int] = (-1, -1)
    branches_version: int = -1
    samples_shown: int = SHOWN_SAMPLES


@dataclass(frozen=True, eq=False)
class HistoryRows:
    """History rows from ``start`` on (what the front-end lacks), as of ``generation``."""

    start: int
    generation: int
    loss: np.ndarray  # (k,)
    smooth: np.ndarray  # (k,)
    grad: np.ndarray  # (k, 5)
    clipped: np.ndarray  # (k, 5)


@dataclass(frozen=True, eq=False)
class Update:
    """The session as a front-end sees it, with only what changed since its ``Known``."""

    state: RunState
    iteration: int  # updates done so far (the next record's iteration)
    first: int  # the earliest iteration time travel reaches
    furthest: int  # the furthest iteration computed on this branch
    config: Config
    record_serial: int
    record: StepRecord | None  # the record shown, when it changed
    history: HistoryRows
    events: tuple[Event, ...]
    samples_key: tuple[int, int]
    samples: tuple[Sample, ...] | None  # the newest samples up to the record shown, when they changed
    breakpoints_version: int
    breakpoints: tuple[Breakpoint, ...] | None  # when they changed
    evaluations_key: tuple[int, int]
    evaluations: tuple[Evaluation, ...] | None  # up to the model shown, when they changed
    branches_version: int
    branches: tuple[Branch, ...] | None  # every line of training, when the list changed
    dirty: bool  # progress would be lost without a save
    unsaved_parts: tuple[str, ...]  # which parts of it (Session.unsaved_parts)
    unsaved_iterations: int
    saved_iteration: int | None
    save_path: str | None
    busy: tuple[str, int, int] | None = None  # long work inside a step of the run: (what, done, total)
    notices: tuple[str, ...] = ()  # said once: a new branch, a short corpus, ...
    finished: RunResult | None = None  # a run that ended since the last update
    jobs: tuple[JobStatus, ...] = ()


@dataclass(frozen=True)
class Request:
    command: Command
    known: Known


@dataclass(frozen=True)
class Failure:
    """A command's error, sent as text (the problem and the hint)."""

    problem: str
    hint: str | None = None

    def error(self) -> RnntuiError:
        return RnntuiError(self.problem, self.hint)


@dataclass(frozen=True, eq=False)
class Reply:
    value: Any
    failure: Failure | None
    update: Update


# --- the host --------------------------------------------------------------------


class Channel(Protocol):
    """One end of a two-way connection (a multiprocessing Connection is one)."""

    def send(self, obj: Any) -> None: ...

    def recv(self) -> Any: ...

    def poll(self, timeout: float = 0.0) -> bool: ...


class SessionHost:
    """Executes commands on a Session and builds the updates (see the module docstring)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._run_asked: Run | None = None  # a Run command not started yet
        self._pause = False
        self._quit = False
        self._finished: RunResult | None = None
        self._busy: tuple[str, int, int] | None = None  # long work inside a step of a run: (what, done, total)
        self._notices, session.notices = session.notices, []  # told once, by this host
        self._jobs: dict[int, _JobRun] = {}
        self._job_ids = itertools.count(1)
        self._handlers: dict[type, Callable[[Any], Any]] = {
            Poll: lambda c: None,
            Step: self._step,
            Run: self._run,
            Pause: self._pause_run,
            GoTo: lambda c: self._paused_only("go to an iteration", lambda: self.session.goto(c.iteration)),
            Back: lambda c: self._paused_only("go back", self.session.back),
            SetHyperparameters: self._set_hyperparameters,
            SampleNow: lambda c: self.session.sample_now(c.temperature),
            EvaluateNow: lambda c: self.session.evaluate_now(),
            SwitchBranch: lambda c: self._paused_only("switch branches", lambda: self.session.switch_branch(c.name)),
            Save: lambda c: self._paused_only("save", lambda: self.session.save(c.path, rescue=c.rescue)),
            AddBreakpoint: lambda c: self.session.breakpoints.add(c.text),
            ToggleBreakpoint: lambda c: self.session.breakpoints.toggle(c.index),
            RemoveBreakpoint: lambda c: self.session.breakpoints.remove(c.index),
            StartJob: self._start_job,
            CancelJob: self._cancel_job,
            Quit: self._stop_serving,
        }

    # --- serving -------------------------------------------------------------
    def serve(self, channel: Channel) -> None:
        """Answer requests until Quit (or until the other end goes away); run when asked."""
        while not self._quit:
            if self._run_asked is not None:
                self._run_now(channel)
                continue
            try:
                request = channel.recv()
            except (EOFError, OSError):
                return
            self._answer(channel, request)
        self._cancel_jobs()

    def _run_now(self, channel: Channel) -> None:
        limit, self._run_asked, self._pause = self._run_asked.limit, None, False

        def busy(what: str, done: int, total: int) -> None:  # long work inside a step: keep answering
            self._busy = (what, done, total)
            self._serve_waiting(channel)

        def between_steps() -> bool:
            self._busy = None  # whatever long work the last step did is over
            return self._serve_waiting(channel)

        self.session.progress_hook = busy
        try:
            self._finished = self.session.run(limit, between_steps)
        except Exception as err:  # report it and keep serving: the front-end decides what to do
            self.session.fail(f"training failed ({type(err).__name__}: {err})")
        finally:
            self.session.progress_hook = None
            self._busy = None

    def _serve_waiting(self, channel: Channel) -> bool:
        """Between two steps of a run: answer what has arrived; True when the run should stop."""
        try:  # after a pause, later requests wait for the run to end (they may need it ended)
            while not (self._pause or self._quit) and channel.poll():
                self._answer(channel, channel.recv())
        except (EOFError, OSError):  # the front-end is gone
            self._quit = True
        return self._pause or self._quit

    def _answer(self, channel: Channel, request: Request) -> None:
        if isinstance(request.command, Quit):  # nobody reads a reply to Quit: a large one would block the pipe
            self._stop_serving(request.command)
            return
        reply = self.handle(request)
        try:
            try:
                channel.send(reply)
            except (pickle.PicklingError, TypeError, AttributeError) as err:  # a value another process cannot take
                channel.send(_sendable(reply, err))
        except (EOFError, OSError):
            self._quit = True

    def handle(self, request: Request) -> Reply:
        """Execute one command; its value, or its failure, with an update."""
        value, failure = None, None
        try:
            value = self._handlers[type(request.command)](request.command)
        except RnntuiError as err:
            failure = Failure(err.problem, err.hint)
        except Exception as err:  # a bug must not take the engine down: say what it was
            failure = Failure(f"{type(err).__name__}: {err}", "this is a bug in rnntui; " + _last_frame(err))
        return Reply(value, failure, self.update(request.known))

    # --- commands ------------------------------------------------------------
    def _paused_only(self, what: str, action: Callable[[], Any]) -> Any:
        if self.running:
            raise RnntuiError(f"cannot {what} while running", "pause first")
        return action()

    @property
    def running(self) -> bool:
        return self.session.running or self._run_asked is not None

    def _step(self, command: Step) -> None:
        self._paused_only("take a single step", self.session.step)

    def _run(self, command: Run) -> None:
        if self.running:
            raise RnntuiError("already running", "pause first")
        self._run_asked = command
        self._finished = None

    def _pause_run(self, command: Pause) -> None:
        self._pause = True
        self._run_asked = None

    def _set_hyperparameters(self, command: SetHyperparameters) -> str | None:
        message = self.session.set_hyperparameters(**dict(command.changes))
        if message is not None:
            self._notices.append(message)
        return message

    def _stop_serving(self, command: Quit) -> None:
        self._quit = True
        self._run_asked = None

    # --- jobs ------------------------------------------------------------------
    def _start_job(self, command: StartJob) -> int:
        work = command.job.prepare(self.session)  # copies what it needs, here between two steps
        run = _JobRun(next(self._job_ids), command.job.kind, JobProgress(), getattr(command.job, "finish", None))
        run.thread = threading.Thread(target=self._work, args=(run, work), name=f"job {run.job_id}", daemon=True)
        self._jobs[run.job_id] = run
        run.thread.start()
        return run.job_id

    @staticmethod
    def _work(run: _JobRun, work: Callable[[JobProgress], Any]) -> None:
        try:
            run.result = work(run.progress)
        except JobCancelled:
            run.cancelled = True
        except RnntuiError as err:
            run.error = str(err)
        except Exception as err:  # reported with the job, never lost in a thread
            run.error = f"{type(err).__name__}: {err}"
        run.finished = True

    def _cancel_job(self, command: CancelJob) -> None:
        run = self._jobs.get(command.job_id)
        if run is not None:
            run.progress.cancel()

    def _cancel_jobs(self) -> None:
        for run in self._jobs.values():
            run.progress.cancel()

    def _job_statuses(self) -> tuple[JobStatus, ...]:
        statuses = tuple(run.status() for run in self._jobs.values())
        for status in statuses:
            if status.finished:  # reported once, with its result
                run = self._jobs.pop(status.job_id)
                if run.finish is not None and status.error is None and not status.cancelled:
                    run.finish(self.session, status.result)
        return statuses

    # --- updates ---------------------------------------------------------------
    def update(self, known: Known) -> Update:
        """What the front-end lacks, given what it ``known``s."""
        session = self.session
        trainer, timeline = session.trainer, session.timeline
        history = trainer.history
        start = history.changed_from(known.history_generation, known.history_length)
        rows = HistoryRows(start, history.generation, *history.rows_from(start))
        shown = session.last_record
        samples_key = (session.samples_version, shown.iteration if shown is not None else -1)
        samples = None
        if samples_key != known.samples_key:
            samples = session.samples_until(shown)[-known.samples_shown :] if known.samples_shown else ()
        breakpoints = session.breakpoints
        shown_model = shown.iteration if shown is not None else trainer.iteration
        evaluations_key = (session.evaluations_version, shown_model)
        evaluations = None
        if evaluations_key != known.evaluations_key:
            evaluations = session.evaluations_until(max(shown_model, trainer.iteration))
        self._notices += session.notices
        session.notices.clear()
        notices, self._notices = tuple(self._notices), []
        finished, self._finished = self._finished, None
        unsaved = session.unsaved_parts
        return Update(
            state=session.state_between_runs if self._pause or not self.running else RunState.running(),
            iteration=trainer.iteration,
            first=timeline.first,
            furthest=timeline.furthest,
            config=trainer.config,
            record_serial=session.record_serial,
            record=shown if session.record_serial != known.record_serial else None,
            history=rows,
            events=tuple(history.events),
            samples_key=samples_key,
            samples=samples,
            breakpoints_version=breakpoints.version,
            breakpoints=tuple(breakpoints) if breakpoints.version != known.breakpoints_version else None,
            evaluations_key=evaluations_key,
            evaluations=evaluations,
            branches_version=session.branches_version,
            branches=session.branches if session.branches_version != known.branches_version else None,
            dirty=bool(unsaved),
            unsaved_parts=unsaved,
            unsaved_iterations=session.unsaved_iterations,
            saved_iteration=session.saved_iteration,
            save_path=str(session.save_path) if session.save_path is not None else None,
            busy=self._busy,
            notices=notices,
            finished=finished,
            jobs=self._job_statuses(),
        )


def _sendable(reply: Reply, err: Exception) -> Reply:
    """``reply`` with whatever cannot be pickled turned into failures that say so (the engine goes on).

    A job result that cannot travel becomes that job's error; a command's value,
    the command's failure.
    """
    problem = f"could not be sent to the front-end ({type(err).__name__}: {err}); this is a bug in rnntui"
    jobs = tuple(
        status if _picklable(status) else dataclasses.replace(status, result=None, error=f"its result {problem}")
        for status in reply.update.jobs
    )
    update = dataclasses.replace(reply.update, jobs=jobs)
    if _picklable(reply.value):
        return Reply(reply.value, reply.failure, update)
    return Reply(None, Failure(f"the answer {problem}"), update)


def _picklable(value: Any) -> bool:
    try:
        pickle.dumps(value)
    except (pickle.PicklingError, TypeError, AttributeError):
        return False
    return True


def _last_frame(err: BaseException) -> str:
    frames = traceback.extract_tb(err.__traceback__)
    if not frames:
        return "no traceback"
    last = frames[-1]
    return f"at {os.path.basename(last.filename)}:{last.lineno} in {last.name}"


# --- what a front-end keeps -------------------------------------------------------


@dataclass
class Mirror:
    """The front-end's copy of the session, kept current by applying updates.

    Everything a front-end draws is read from here; records and history rows
    arrive read-only. ``notices``, ``finished`` runs and finished jobs pile up
    until the front-end takes them.
    """

    state: RunState = field(default_factory=RunState.paused)
    iteration: int = 0
    first: int = 0
    furthest: int = -1
    config: Config = field(default_factory=Config)
    record: StepRecord | None = None
    history: History = field(default_factory=History)
    samples: tuple[Sample, ...] = ()
    breakpoints: tuple[Breakpoint, ...] = ()
    evaluations: tuple[Evaluation, ...] = ()
    branches: tuple[Branch, ...] = ()
    dirty: bool = False
    unsaved_parts: tuple[str, ...] = ()
    unsaved_iterations: int = 0
    saved_iteration: int | None = None
    save_path: str | None = None
    busy: tuple[str, int, int] | None = None
    jobs: dict[int, JobStatus] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    finished: list[RunResult] = field(default_factory=list)
    known: Known = field(default_factory=Known)

    def apply(self, update: Update) -> None:
        """Bring the copy up to date with ``update``."""
        self.state, self.iteration, self.config = update.state, update.iteration, update.config
        self.first, self.furthest = update.first, update.furthest
        if update.record is not None:
            self.record = update.record
        self._apply_history(update.history)
        self.history.events = list(update.events)
        if update.samples is not None:
            self.samples = update.samples
        if update.breakpoints is not None:
            self.breakpoints = update.breakpoints
        if update.evaluations is not None:
            self.evaluations = update.evaluations
        if update.branches is not None:
            self.branches = update.branches
        self.dirty, self.unsaved_iterations = update.dirty, update.unsaved_iterations
        self.unsaved_parts = update.unsaved_parts
        self.saved_iteration, self.save_path = update.saved_iteration, update.save_path
        self.busy = update.busy
        self.notices.extend(update.notices)
        if update.finished is not None:
            self.finished.append(update.finished)
        for status in update.jobs:
            self.jobs[status.job_id] = status
        self.known = Known(
            record_serial=update.record_serial,
            history_generation=update.history.generation,
            history_length=len(self.history),
            samples_key=update.samples_key,
            breakpoints_version=update.breakpoints_version,
            evaluations_key=update.evaluations_key,
            branches_version=update.branches_version,
            samples_shown=self.known.samples_shown,
        )

    def _apply_history(self, rows: HistoryRows) -> None:
        self.history.truncate(rows.start)
        if len(rows.loss):
            self.history.extend(rows.loss, rows.smooth, rows.grad, rows.clipped)

    def take_notices(self) -> list[str]:
        notices, self.notices = self.notices, []
        return notices

    def take_finished(self) -> list[RunResult]:
        finished, self.finished = self.finished, []
        return finished

    def take_job(self, job_id: int) -> JobStatus | None:
        """The job's latest status; a finished one is handed over once and forgotten."""
        status = self.jobs.get(job_id)
        if status is not None and status.finished:
            del self.jobs[job_id]
        return status


# --- the front-end's end -------------------------------------------------------------


class EngineLost(RnntuiError):
    """The engine (its process or thread) ended or stopped answering."""


class EngineBusy(EngineLost):
    """The engine has not answered yet (stopped by a signal, or held by long work): it may still.

    The command may yet run; its reply is collected, and its update shown, when it comes.
    """


class _NoReplyYet(Exception):
    """No reply within the patience given (internal: the Controller turns it into EngineBusy)."""


class Transport(Protocol):
    def request(self, request: Request, patience: float = REPLY_TIMEOUT_S) -> Reply: ...

    def collect(self) -> Reply | None: ...

    def close(self) -> None: ...

    @property
    def alive(self) -> bool: ...


class Controller:
    """A front-end's handle on a session: one method per command, and the mirror they keep current."""

    def __init__(self, transport: Transport, initial: Update, corpus=None) -> None:
        self._transport = transport
        self._lock = threading.Lock()  # one request at a time
        self.mirror = Mirror()
        self.mirror.apply(initial)
        self.corpus = corpus  # the text being trained on (the front-end's own copy)
        self.lost: str | None = None  # why the engine ended, once it has
        self.waiting_since: float | None = None  # a reply is overdue since then (monotonic clock)

    def call(self, command: Command) -> Any:
        """Send ``command``; apply the reply's update; return its value or raise its error.

        Raises EngineBusy when the engine has not answered within PATIENCE_S (or has not
        yet answered an earlier command): the front-end stays responsive, and the late
        reply is applied by a later call. EngineLost when the engine has gone.
        """
        if self.lost is not None:
            raise EngineLost(self.lost)
        with self._lock:
            try:
                self._collect_late_reply()
                reply = self._transport.request(Request(command, self.mirror.known), PATIENCE_S)
            except _NoReplyYet:
                self.waiting_since = time.monotonic()
                raise self._busy() from None
            except EngineBusy:
                raise
            except EngineLost as err:
                self._lose(err.problem)
                raise
        self.mirror.apply(reply.update)
        if reply.failure is not None:
            raise reply.failure.error()
        return reply.value

    def _collect_late_reply(self) -> None:
        """Apply the overdue reply if it has come (its value is dropped: its caller has gone on)."""
        if self.waiting_since is None:
            return
        reply = self._transport.collect()
        if reply is None:
            if time.monotonic() - self.waiting_since >= REPLY_TIMEOUT_S:
                self._lose(f"the engine did not answer for {REPLY_TIMEOUT_S:g} s")
                raise EngineLost(self.lost)
            raise self._busy()
        self.waiting_since = None
        self.mirror.apply(reply.update)

    def _busy(self) -> EngineBusy:
        waited = time.monotonic() - self.waiting_since
        return EngineBusy(
            f"the engine has not answered for {waited:.0f} s (stopped, or held by long work)",
            "the window waits for it; q quits",
        )

    def _lose(self, problem: str) -> None:
        self.lost = problem
        self.mirror.state = RunState.stopped(StopCause.ENGINE_LOST, problem)

    # one method per command, for readable call sites
    def poll(self) -> None:
        self.call(Poll())

    def step(self) -> None:
        self.call(Step())

    def run(self, limit: int | None = None) -> None:
        self.call(Run(limit))

    def pause(self) -> None:
        self.call(Pause())

    def goto(self, iteration: int) -> None:
        self.call(GoTo(iteration))

    def back(self) -> None:
        self.call(Back())

    def set_hyperparameters(self, **changes: Any) -> str | None:
        return self.call(SetHyperparameters(tuple(sorted(changes.items()))))

    def sample_now(self, temperature: float | None = None) -> Sample:
        return self.call(SampleNow(temperature))

    def save(self, path: str | os.PathLike[str], rescue: bool = False) -> Saved:
        return self.call(Save(str(path), rescue))

    def evaluate_now(self) -> Evaluation:
        return self.call(EvaluateNow())

    def switch_branch(self, name: str) -> None:
        self.call(SwitchBranch(name))

    def add_breakpoint(self, text: str) -> Breakpoint:
        return self.call(AddBreakpoint(text))

    def toggle_breakpoint(self, index: int) -> Breakpoint:
        return self.call(ToggleBreakpoint(index))

    def remove_breakpoint(self, index: int) -> Breakpoint:
        return self.call(RemoveBreakpoint(index))

    def start_job(self, job: Job) -> int:
        return self.call(StartJob(job))

    def cancel_job(self, job_id: int) -> None:
        self.call(CancelJob(job_id))

    @property
    def alive(self) -> bool:
        return self.lost is None and self._transport.alive

    def close(self) -> None:
        """End the engine; idempotent, never hangs, leaves no process or thread behind."""
        with self._lock:
            self._transport.close()


def _wait_for_reply(channel: Channel, alive: Callable[[], bool], describe_end: Callable[[], str],
                    patience: float = REPLY_TIMEOUT_S) -> Reply:
    """The next message from ``channel``, checking every REPLY_WAIT_S that the other end still runs;
    _NoReplyYet after ``patience`` seconds."""
    waited = 0.0
    while not channel.poll(min(REPLY_WAIT_S, patience)):
        waited += REPLY_WAIT_S
        if not alive():
            raise EngineLost(describe_end())
        if waited >= patience:
            raise _NoReplyYet()
    return _receive(channel, describe_end)


def _late_reply(channel: Channel, alive: Callable[[], bool], describe_end: Callable[[], str]) -> Reply | None:
    """The overdue reply if it has come, else None (EngineLost if the engine has gone meanwhile)."""
    if channel.poll():
        return _receive(channel, describe_end)
    if not alive():
        raise EngineLost(describe_end())
    return None


def _receive(channel: Channel, describe_end: Callable[[], str]) -> Reply:
    try:
        return channel.recv()
    except (EOFError, OSError):
        raise EngineLost(describe_end()) from None


# --- transport: a thread of this process ------------------------------------------------


class _QueueEnd:
    """One end of a pair of queues, with a Connection's send/recv/poll."""

    def __init__(self, inbox: queue.SimpleQueue, outbox: queue.SimpleQueue) -> None:
        self._inbox, self._outbox = inbox, outbox
        self._held: list[Any] = []

    def send(self, obj: Any) -> None:
        self._outbox.put(obj)

    def recv(self) -> Any:
        return self._held.pop() if self._held else self._inbox.get()

    def poll(self, timeout: float = 0.0) -> bool:
        if self._held:
            return True
        try:
            self._held.append(self._inbox.get(timeout=timeout) if timeout > 0 else self._inbox.get_nowait())
        except queue.Empty:
            return False
        return True


class ThreadTransport:
    """The host in a daemon thread of this process; messages pass by reference."""

    def __init__(self, host: SessionHost) -> None:
        to_host, to_client = queue.SimpleQueue(), queue.SimpleQueue()
        self._end = _QueueEnd(to_client, to_host)
        host_end = _QueueEnd(to_host, to_client)
        self._thread = threading.Thread(target=host.serve, args=(host_end,), name="rnntui engine", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def request(self, request: Request, patience: float = REPLY_TIMEOUT_S) -> Reply:
        if not self.alive:
            raise EngineLost("the engine thread has ended")
        self._end.send(request)
        return _wait_for_reply(self._end, lambda: self.alive, self._describe_end, patience)

    def collect(self) -> Reply | None:
        return _late_reply(self._end, lambda: self.alive, self._describe_end)

    @staticmethod
    def _describe_end() -> str:
        return "the engine thread has ended"

    def close(self) -> None:
        if self.alive:
            self._end.send(Request(Quit(), Known()))
            self._thread.join(QUIT_WAIT_S)


def start_in_thread(session: Session) -> Controller:
    """A Controller whose session runs in a thread of this process."""
    host = SessionHost(session)
    initial = host.update(Known())
    return Controller(ThreadTransport(host), initial, corpus=session.trainer.corpus)


# --- transport: a process of its own -----------------------------------------------------


def warm_up_everything() -> None:
    """Compile (or load from Numba's cache) the training step's kernels and the corpus pass's."""
    from .analysis import warm_up as warm_up_analysis
    from .trainer import warm_up

    warm_up()
    warm_up_analysis()


def _engine_main(channel: Channel, front_end: Channel, session: Session) -> None:
    """The engine process: serve the session until told to quit or the front-end goes away."""
    front_end.close()  # inherited by fork: held open here, the front-end's end would never read as gone
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the front-end's to handle
    use_one_blas_thread()
    threading.Thread(target=warm_up_everything, name="warm-up", daemon=True).start()  # while the user reads
    SessionHost(session).serve(channel)


class ProcessTransport:
    """The host in a child process, over a pipe."""

    def __init__(self, session: Session) -> None:
        context = _start_context()
        self._conn, child_end = context.Pipe(duplex=True)
        self._process = context.Process(
            target=_engine_main, args=(child_end, self._conn, session), name="rnntui engine", daemon=True
        )
        self._process.start()
        child_end.close()

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return self._process.is_alive()

    def describe_end(self) -> str:
        self._process.join(REAP_WAIT_S)  # its end is seen on the pipe a moment before its exit status
        code = self._process.exitcode
        if code is None:
            return "the engine process stopped answering"
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
            return f"the engine process was ended by signal {name}"
        return f"the engine process ended with exit status {code}"

    def request(self, request: Request, patience: float = REPLY_TIMEOUT_S) -> Reply:
        try:
            self._conn.send(request)
        except (OSError, ValueError):
            raise EngineLost(self.describe_end()) from None
        return _wait_for_reply(self._conn, lambda: self.alive, self.describe_end, patience)

    def collect(self) -> Reply | None:
        return _late_reply(self._conn, lambda: self.alive, self.describe_end)

    def close(self) -> None:
        if self.alive:
            try:
                self._conn.send(Request(Quit(), Known()))
            except (OSError, ValueError):
                pass
            self._process.join(QUIT_WAIT_S)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(QUIT_WAIT_S)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()


def _start_context():
    """fork where it is safe and available (fast: the session is inherited, not copied), else spawn."""
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def start_engine_process(session: Session) -> Controller:
    """A Controller whose session runs in a process of its own.

    The first update is made here, from ``session`` itself, so a front-end
    can draw before the engine process has started. ``session`` must not be
    used afterwards: the engine process holds the live one.
    """
    initial = SessionHost(session).update(Known())
    return Controller(ProcessTransport(session), initial, corpus=session.trainer.corpus)
