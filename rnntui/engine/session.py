"""A training session: the trainer plus what a debugger adds around it.

Session owns the Trainer, the time-travel Timeline, the breakpoints, the
samples taken so far and the save state. It is the one way to drive training:
``rnntui train`` calls it directly, and the app through a SessionHost
(control.py), which runs it in a process of its own. It imports no UI library,
so everything here is testable headless. One thread at a time may use a
Session.

:func:`open_session` builds one from a corpus, the settings the user gave, a
checkpoint to resume and breakpoints, doing every check both front-ends need.
"""

from __future__ import annotations

import bisect
import enum
import json
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np

from .breakpoints import BreakpointSet
from .checkpoint import NonFiniteStateError, load_checkpoint, save_checkpoint, save_checkpoint_with_fallback
from .config import Config, adjustable_fields, structural_fields, with_default_eval_every
from .corpus import Corpus
from .errors import CheckpointError, ResumeMismatch
from .evaluation import Evaluation, evaluate
from .evaluation import from_array as evaluations_from_array
from .evaluation import to_array as evaluations_to_array
from .record import StepRecord, frozen
from .timeline import DEFAULT_BUDGET_BYTES, Timeline, TimelineError
from .trainer import Trainer

KEEP_SAMPLES = 2000  # samples kept for going back: 200,000 iterations at the default sample_every (about 0.7 MB)


@dataclass(frozen=True, eq=False)
class Branch:
    """A line of training for the branch list and the loss panel's overlay."""

    name: str
    forked_at: int | None  # iterations done where it left the line it came from (None: the first line)
    change: str  # what was changed there
    furthest: int  # the furthest iteration computed on it
    live: bool  # the line training goes on with
    switchable: bool  # its training state is held (False: only its curves, from a checkpoint)
    smooth: np.ndarray | None  # (furthest + 1,) smooth loss per iteration (kept lines only; the live one is the history)
    evaluations: tuple  # its evaluations (Evaluation), by iteration


@dataclass(frozen=True)
class Sample:
    """A piece of generated text, labelled with when and how it was drawn."""

    iteration: int  # updates the model had had (the trainer's iteration when it was drawn)
    temperature: float
    text: str
    on_demand: bool  # True: asked for by the user; False: every sample_every


# --- how runs end, and the state a front-end shows --------------------------


class RunEnd(enum.Enum):
    """Why a run of several iterations ended."""

    PAUSED = "paused"  # asked to stop (pause, Ctrl+C)
    LIMIT = "limit"  # the iterations asked for are done
    BREAKPOINT = "breakpoint"  # a breakpoint's condition started to hold
    DIVERGED = "diverged"  # a non-finite loss, gradient or parameter


@dataclass(frozen=True)
class Stop:
    """Why the last step stops a run: a breakpoint or divergence, with its message."""

    end: RunEnd  # BREAKPOINT or DIVERGED
    message: str


def stop_after(record: StepRecord, breakpoints: BreakpointSet, evaluations: tuple[Evaluation, ...] = ()) -> Stop | None:
    """Why training stops after ``record``, or None (``evaluations``: those made so far, for ``val`` breakpoints).

    Divergence comes first, so a diverging step ends as diverged even when a
    ``nan`` breakpoint would also fire.
    """
    if record.nonfinite is not None:
        return Stop(RunEnd.DIVERGED, f"diverged at iteration {record.iteration}: non-finite {record.nonfinite}")
    reason = breakpoints.check(record, evaluations)
    return None if reason is None else Stop(RunEnd.BREAKPOINT, reason)


@dataclass(frozen=True)
class RunResult:
    """How a run of several iterations ended."""

    steps: int  # iterations taken
    end: RunEnd
    detail: str | None = None  # the breakpoint or divergence message


class Phase(enum.Enum):
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


class StopCause(enum.Enum):
    """Why a run is stopped (rather than paused)."""

    BREAKPOINT = "breakpoint"
    DIVERGED = "diverged"
    FAILED = "failed"  # training raised an error
    ENGINE_LOST = "engine lost"  # the engine's process ended


@dataclass(frozen=True)
class RunState:
    """What the header shows and the actions check: running, paused (maybe in the past), or stopped."""

    phase: Phase
    furthest: int | None = None  # paused or stopped behind the front: the furthest iteration computed
    cause: StopCause | None = None  # why it stopped (phase STOPPED only)
    message: str = ""  # the stop's reason in words

    @classmethod
    def running(cls) -> "RunState":
        return cls(Phase.RUNNING)

    @classmethod
    def paused(cls, furthest: int | None = None) -> "RunState":
        """Paused; ``furthest`` when the iteration shown is behind the furthest one computed."""
        return cls(Phase.PAUSED, furthest=furthest)

    @classmethod
    def stopped(cls, cause: StopCause, message: str, furthest: int | None = None) -> "RunState":
        """Stopped; ``furthest`` as for :meth:`paused` (a run from the past stopped before the front)."""
        return cls(Phase.STOPPED, furthest=furthest, cause=cause, message=message)

    @property
    def is_running(self) -> bool:
        return self.phase is Phase.RUNNING

    @property
    def in_the_past(self) -> bool:
        return self.phase is not Phase.RUNNING and self.furthest is not None


_STOP_CAUSES = {RunEnd.BREAKPOINT: StopCause.BREAKPOINT, RunEnd.DIVERGED: StopCause.DIVERGED}


# --- the session -----------------------------------------------------------


class Session:
    """Trainer + timeline + breakpoints + samples + save state."""

    def __init__(
        self, trainer: Trainer, breakpoints: BreakpointSet | None = None, keep_samples: int = KEEP_SAMPLES
    ) -> None:
        self.trainer = trainer
        # at least the default budget, and always room for a few snapshots of a large model
        budget = max(DEFAULT_BUDGET_BYTES, 4 * trainer.state().nbytes)
        self.timeline = Timeline(trainer, budget_bytes=budget)
        self.breakpoints = breakpoints if breakpoints is not None else BreakpointSet()
        self.last_record: StepRecord | None = None
        self.record_serial = 0  # grows whenever last_record changes (a front-end's cue to redraw)
        self._stop: Stop | None = None  # the last step stops a run (see stop_after), or a run failed
        self._failure: str | None = None
        self.running = False  # inside run()
        self.saved_iteration: int | None = trainer.iteration if trainer.iteration else None
        self.save_path: Path | None = None
        self.notices: list[str] = []  # things to tell the user once they are looking (short corpus, ...)
        self._samples: deque[Sample] = deque(maxlen=keep_samples)
        self.samples_version = 0  # grows whenever the kept samples change
        self._evaluations: list[Evaluation] = []  # this branch's, by iteration (some may lie ahead after going back)
        self.evaluations_version = 0  # grows whenever they change
        self._saved_mark = self._progress_mark()  # what "no unsaved progress" looks like
        self.progress_hook: Callable[[str, int, int], None] | None = None  # told (what, done, total) during long work
        self._kept_payload: dict[str, tuple[deque, list]] = {}  # kept line -> its samples and evaluations
        self.saved_branches: list[Branch] = []  # branches read from a checkpoint: curves only
        self.branches_version = 0  # grows whenever the list of branches changes

    # --- stepping ----------------------------------------------------------
    def step(self) -> StepRecord:
        """One iteration; evaluates first when one is due, collects its sample, checks breakpoints and divergence."""
        if self._evaluation_due():
            self._add_evaluation(self._evaluate(on_demand=False))
        record = self.timeline.step()
        self._show(record)
        if record.sample is not None:
            self._add_sample(Sample(record.iteration, record.sample_temperature or 1.0, record.sample, False))
        self._stop = stop_after(record, self.breakpoints, self.evaluations_until(record.iteration))
        self._failure = None
        return record

    def run(
        self,
        limit: int | None,
        should_stop: Callable[[], bool],
        on_record: Callable[[StepRecord], None] | None = None,
    ) -> RunResult:
        """Step until ``should_stop()``, ``limit`` iterations, a breakpoint, or divergence.

        ``should_stop`` is asked before every step (a front-end handles its
        requests there); ``on_record`` sees every record (for a log).
        """
        steps = 0
        self.running = True
        try:
            while limit is None or steps < limit:
                if should_stop():
                    return RunResult(steps, RunEnd.PAUSED)
                record = self.step()
                steps += 1
                if on_record is not None:
                    on_record(record)
                if self._stop is not None:
                    return RunResult(steps, self._stop.end, self._stop.message)
            return RunResult(steps, RunEnd.LIMIT)
        finally:
            self.running = False

    def fail(self, problem: str) -> None:
        """Record that training raised an error (shown as a stopped run until the next step)."""
        self._failure = problem

    def next_window(self):
        """(inputs, targets, hprev) that the next step will train on (the reset rule applied)."""
        _, inputs, targets, hprev = self.trainer.next_window()
        return inputs, targets, hprev

    @property
    def state_between_runs(self) -> RunState:
        """The state once no run goes on: stopped by the last step (or a failure), or paused."""
        timeline = self.timeline
        furthest = timeline.furthest if timeline.behind else None
        if self._failure is not None:
            return RunState.stopped(StopCause.FAILED, self._failure, furthest)
        if self._stop is not None:
            return RunState.stopped(_STOP_CAUSES[self._stop.end], self._stop.message, furthest)
        return RunState.paused(furthest)

    @property
    def stop_reason(self) -> str | None:
        """The breakpoint or divergence message of the last step, if it stops a run (None after a jump)."""
        return self._stop.message if self._stop is not None else None

    # --- time travel -------------------------------------------------------
    def goto(self, iteration: int) -> StepRecord:
        """Show iteration ``iteration`` again (replayed bit-identically).

        Only iterations computed so far: training further goes through
        :meth:`run`, which checks breakpoints and keeps samples.
        """
        if iteration > self.timeline.furthest:
            raise TimelineError(
                f"iteration {iteration:,} has not been trained yet (the furthest is {self.timeline.furthest:,}); "
                "run to get there"
            )
        return self._arrived(self.timeline.goto(iteration))

    def back(self) -> StepRecord:
        """Step back one iteration."""
        return self._arrived(self.timeline.back())

    def _arrived(self, record: StepRecord) -> StepRecord:
        """After a jump: the record on show (``samples_until`` tells which samples existed then)."""
        self._show(record)
        self._stop = None
        self._failure = None
        return record

    def params_at(self, count: int) -> dict[str, np.ndarray]:
        """Copies of the parameters after ``count`` updates (those iteration ``count`` trains with).

        Replays from a snapshot and comes back: the trainer, the timeline and
        the record shown end as they were, bit for bit.
        """
        return self._visiting(count, lambda: {name: v.copy() for name, v in self.trainer.params.items()})

    def record_at(self, iteration: int) -> StepRecord:
        """The record of ``iteration`` (replayed), leaving the trainer where it was."""
        return self._visiting(iteration, lambda: self.timeline.goto(iteration))

    def _visiting(self, count: int, read: Callable[[], object]):
        at = self.trainer.iteration
        self.timeline.move_to_count(count)
        try:
            return read()
        finally:
            self.timeline.move_to_count(at)

    def _show(self, record: StepRecord) -> None:
        self.last_record = record
        self.record_serial += 1

    def set_hyperparameters(self, **changes: object) -> str | None:
        """Change hyperparameters from the next step on; returns a new-branch message or None.

        After going back, the change starts a new branch: the line as it was
        is kept (see :meth:`switch_branch`), with its samples and evaluations.
        """
        kept_name = self.timeline.line_name
        payload = (deque(self._samples, maxlen=self._samples.maxlen), list(self._evaluations))
        message = self.timeline.set_hyperparameters(**changes)
        if message is not None:  # the kept line takes the future's samples and evaluations with it
            self._kept_payload[kept_name] = payload
            self._forget_samples_after(self.trainer.iteration - 1)
            self._forget_evaluations_after(self.trainer.iteration)
            self._branches_changed()
        return message

    # --- branches ------------------------------------------------------------
    @property
    def branches(self) -> tuple[Branch, ...]:
        """Every line: those saved in the checkpoint (curves only), the kept ones oldest first, the live one."""
        out = list(self.saved_branches)
        for line in self.timeline.kept_lines:
            evaluations = tuple(self._kept_payload.get(line.name, ((), []))[1])
            out.append(Branch(line.name, line.forked_at, line.change, line.furthest, False, True,
                              line.history[1], evaluations))
        t = self.timeline
        out.append(Branch(t.line_name, t.line_forked_at, t.line_change, t.furthest, True, True, None,
                          tuple(self._evaluations)))
        return tuple(out)

    def switch_branch(self, name: str) -> StepRecord | None:
        """Go on with the kept branch ``name`` where it was left; the live one is kept in its place."""
        live_name = self.timeline.line_name
        payload = (deque(self._samples, maxlen=self._samples.maxlen), list(self._evaluations))
        self.timeline.switch_to(name)
        self._kept_payload[live_name] = payload
        samples, evaluations = self._kept_payload.pop(name, (deque(maxlen=self._samples.maxlen), []))
        self._samples, self._evaluations = samples, evaluations
        self.samples_version += 1
        self.evaluations_version += 1
        self._branches_changed()
        shown = self.trainer.iteration - 1
        return self._arrived(self.timeline.goto(shown)) if shown >= self.timeline.first else None

    def _branches_changed(self) -> None:
        for name in self.timeline.dropped_lines:
            self._kept_payload.pop(name, None)
            self.notices.append(
                f"branch {name!r} was dropped to keep the kept branches within their memory budget (oldest first)"
            )
        self.timeline.dropped_lines.clear()
        self.branches_version += 1

    # --- evaluation --------------------------------------------------------
    def _evaluation_due(self) -> bool:
        """An evaluation every eval_every iterations, before the step, unless this branch has it already."""
        every, n = self.trainer.config.eval_every, self.trainer.iteration
        return bool(every) and n % every == 0 and not any(
            e.iteration == n and not e.on_demand for e in self._evaluations
        )

    def _evaluate(self, on_demand: bool) -> Evaluation:
        trainer, hook = self.trainer, self.progress_hook
        progress = None if hook is None else (lambda done, total: hook("evaluating", done, total))
        return evaluate(trainer.params, trainer.training_corpus, trainer.held_out_corpus, trainer.iteration,
                        on_demand, progress=progress)

    def evaluate_now(self) -> Evaluation:
        """Evaluate the current model (after ``trainer.iteration`` updates) now; it joins the history."""
        evaluation = self._evaluate(on_demand=True)
        self.add_evaluation(evaluation)
        return evaluation

    def add_evaluation(self, evaluation: Evaluation) -> None:
        """Keep an evaluation made elsewhere (an on-demand one computed beside training)."""
        self._add_evaluation(evaluation)

    def _add_evaluation(self, evaluation: Evaluation) -> None:
        kept = [e for e in self._evaluations if (e.iteration, e.on_demand) != (evaluation.iteration, evaluation.on_demand)]
        kept.append(evaluation)
        self._evaluations = sorted(kept, key=lambda e: (e.iteration, e.on_demand))
        self.evaluations_version += 1

    def _forget_evaluations_after(self, iteration: int) -> None:
        kept = [e for e in self._evaluations if e.iteration <= iteration]
        if len(kept) != len(self._evaluations):
            self._evaluations = kept
            self.evaluations_version += 1

    @property
    def evaluations(self) -> tuple[Evaluation, ...]:
        """Every evaluation of this branch, by iteration."""
        return tuple(self._evaluations)

    def evaluation_at(self, iteration: int) -> Evaluation | None:
        """The scheduled evaluation made at ``iteration`` (before that step), or None."""
        return next((e for e in self._evaluations if e.iteration == iteration and not e.on_demand), None)

    def evaluations_until(self, iteration: int) -> tuple[Evaluation, ...]:
        """The evaluations made up to the model of iteration ``iteration`` (time travel shows those)."""
        return tuple(e for e in self._evaluations if e.iteration <= iteration)

    # --- samples -----------------------------------------------------------
    def _add_sample(self, sample: Sample) -> None:
        """Keep ``sample`` in iteration order; when the list is full, the oldest other one goes.

        A replay after time travel draws the samples of its iterations again:
        one still kept is not added twice, and an automatic one older than
        every kept sample of a full list was pushed out before and stays out.
        A sample the user asked for is always kept, even behind the others.
        """
        samples = self._samples
        if samples.maxlen == 0:
            return
        if not samples or sample.iteration > samples[-1].iteration:  # the newest: the usual case
            samples.append(sample)
        elif not self._insert_sample(sample):
            return
        self.samples_version += 1

    def _insert_sample(self, sample: Sample) -> bool:
        """Put a sample that is not the newest in its place (see _add_sample); False if it is not kept."""
        samples = list(self._samples)
        limit = self._samples.maxlen
        full = len(samples) == limit
        if sample in samples or (full and not sample.on_demand and sample.iteration < samples[0].iteration):
            return False
        samples.insert(bisect.bisect_right([s.iteration for s in samples], sample.iteration), sample)
        if full:
            samples.pop(1 if samples[0] is sample else 0)
        self._samples = deque(samples, maxlen=limit)
        return True

    def sample_now(self, temperature: float | None = None) -> Sample:
        """Draw a sample on demand (never changes training)."""
        cfg = self.trainer.config
        temperature = cfg.temperature if temperature is None else temperature
        text = self.trainer.sample(cfg.sample_length, temperature=temperature)
        sample = Sample(self.trainer.iteration, temperature, text, True)
        self._add_sample(sample)
        return sample

    @property
    def samples(self) -> tuple[Sample, ...]:
        """The kept samples, oldest first."""
        return tuple(self._samples)

    def samples_until(self, record: StepRecord | None) -> tuple[Sample, ...]:
        """The kept samples that existed when ``record`` was the newest.

        An automatic sample of iteration n is drawn as step n begins, so it exists
        once record n does; one asked for while record n was the newest was drawn
        from the state after it (iteration n + 1).
        """
        if record is None:
            return self.samples
        n = record.iteration
        return tuple(s for s in self._samples if s.iteration <= (n + 1 if s.on_demand else n))

    def _forget_samples_after(self, iteration: int) -> None:
        """On a new branch: drop samples drawn after ``iteration`` (they went with the kept line)."""
        kept = [s for s in self._samples if s.iteration <= iteration]
        if len(kept) != len(self._samples):
            self._samples = deque(kept, maxlen=self._samples.maxlen)
            self.samples_version += 1

    # --- saving ------------------------------------------------------------
    def _progress_mark(self) -> dict[str, object]:
        """What a checkpoint keeps, part by part: a part that differs from the last save's is unsaved.

        Where the user stands is not a part: going back after a save loses nothing.
        """
        return {
            "iterations": max(self.timeline.furthest + 1, self.trainer.iteration),
            "hyperparameter changes": self.trainer.config,
            "evaluations": self.evaluations_version,
            "breakpoint changes": tuple((str(bp), bp.enabled) for bp in self.breakpoints),
        }

    def _take_saved_mark(self) -> None:
        """What is here now counts as saved (after a save, or once a resumed run is set up)."""
        self._saved_mark = self._progress_mark()

    @property
    def unsaved_parts(self) -> tuple[str, ...]:
        """The parts of the progress changed since the last save (or the start), as phrases,
        e.g. ("iterations", "evaluations", "breakpoint changes")."""
        now = self._progress_mark()
        return tuple(part for part, value in now.items() if value != self._saved_mark[part])

    @property
    def dirty(self) -> bool:
        """True when something computed or changed since the last save (or the start) would be lost."""
        return bool(self.unsaved_parts)

    @property
    def unsaved_iterations(self) -> int:
        """Iterations computed since the last save (or the start of this session)."""
        computed = max(self.timeline.furthest + 1, self.trainer.iteration)
        return max(0, computed - self._saved_mark["iterations"])

    def save(self, path: str | Path, rescue: bool = False) -> "Saved":
        """Save a checkpoint atomically, with the breakpoints and any other extras it was resumed with.

        A diverged state (NaN or infinity) is never written: the last finite
        state, before the first diverged iteration, is saved instead, and
        ``Saved.note`` says so. With ``rescue``, a file that cannot be written
        (a full disk, a folder made read-only) is saved under a rescue name
        instead (see ``save_checkpoint_with_fallback``), and the note names it.
        """
        extra = {k: v for k, v in self.trainer.checkpoint_extras.items() if not k.startswith(BRANCH_PREFIX)}
        extra["breakpoints"] = self.breakpoints.to_array()
        extra.update(branches_to_arrays([b for b in self.branches if not b.live]))
        t = self.timeline
        extra[f"{BRANCH_PREFIX}live"] = np.array(json.dumps(
            {"name": t.line_name, "forked_at": t.line_forked_at, "change": t.line_change, "made": t.lines_made}))
        try:
            extra["evaluations"] = evaluations_to_array(self.evaluations_until(self.trainer.iteration))
            written, problem = self._write(path, extra, rescue)
            saved_count, note = self.trainer.iteration, None
        except NonFiniteStateError:
            diverged = self._first_diverged()
            saved_count = max(diverged - 1, self.timeline.first)
            shown = self.timeline.iteration
            self.timeline.move_to_count(saved_count)
            extra["evaluations"] = evaluations_to_array(self.evaluations_until(saved_count))
            try:
                written, problem = self._write(path, extra, rescue)
            finally:
                self.timeline.move_to_count(shown + 1)
            note = (f"iteration {diverged} diverged; saved the last sound state, after {saved_count} iterations "
                    "(the update before the divergence is left out)")
        if problem is not None:
            note = f"{problem}; saved to {written} instead" + ("" if note is None else f" ({note})")
        self.saved_iteration = saved_count
        self._take_saved_mark()
        self.save_path = Path(written)
        return Saved(Path(written), saved_count, note, rescued=problem is not None)

    def _write(self, path: str | Path, extra: dict, rescue: bool) -> tuple[Path, str | None]:
        if rescue:
            return save_checkpoint_with_fallback(self.trainer, path, extra=extra)
        return save_checkpoint(self.trainer, path, extra=extra), None

    def _first_diverged(self) -> int:
        """The first iteration whose loss is not finite (or the diverged record's, when the loss was)."""
        bad = np.flatnonzero(~np.isfinite(self.trainer.history.loss))
        if bad.size:
            return int(bad[0])
        record = self.last_record
        return record.iteration if record is not None else self.trainer.iteration


@dataclass(frozen=True)
class Saved:
    """Where a checkpoint went and what it holds."""

    path: Path
    iteration: int  # iterations done in the saved state
    note: str | None = None  # when not what was asked: the last finite state, or a rescue file
    rescued: bool = False  # the path asked for could not be written: ``path`` is a rescue file


# --- opening a session -------------------------------------------------------


def open_session(
    corpus: Corpus,
    settings: Mapping[str, object] | None = None,
    resume: str | Path | None = None,
    breakpoints: Iterable[str] = (),
    keep_samples: int = KEEP_SAMPLES,
) -> Session:
    """A Session on ``corpus``: new with ``settings``, or resumed from the checkpoint ``resume``.

    ``settings`` holds the Config fields the user gave. When resuming, the
    fields fixed for a run (hidden size, window, seed) must equal the saved
    ones, and the adjustable ones override the saved values from the next
    iteration on (recorded as hyperparameter changes). Breakpoints saved in
    the checkpoint come back with their on/off state; each of ``breakpoints``
    is added, or switched on when it was saved switched off. Raises an
    RnntuiError (CheckpointError, ConfigError, BreakpointError) for bad input.
    """
    given = with_default_eval_every(dict(settings or {}))
    config = Config(**given)  # validates every value
    if resume is None:
        trainer = Trainer(corpus, config)
        saved_breakpoints = BreakpointSet()
    else:
        trainer = load_checkpoint(resume, corpus)
        _check_structural(trainer.config, given, resume)
        changes = {name: value for name, value in given.items() if name in adjustable_fields()}
        if changes:
            trainer.set_hyperparameters(**changes)
        saved = trainer.checkpoint_extras.get("breakpoints")
        saved_breakpoints = BreakpointSet.from_array(saved) if saved is not None else BreakpointSet()
    for text in breakpoints:
        saved_breakpoints.ensure(text)
    session = Session(trainer, saved_breakpoints, keep_samples=keep_samples)
    extras, has_held_out = trainer.checkpoint_extras, trainer.held_out_corpus is not None
    try:
        session.saved_branches = branches_from_arrays(extras, has_held_out)
        live = live_line_from_arrays(extras, session.saved_branches)
    except (ValueError, RecursionError) as err:  # RecursionError: JSON nested too deep to read
        raise CheckpointError(f"{resume}: the saved branches are damaged ({err})", "use an intact checkpoint") from None
    if live is not None:
        session.timeline.name_live_line(*live)
    stored = extras.get("evaluations", evaluations_to_array(()))  # none in a checkpoint saved without a Session
    try:
        saved_evaluations = evaluations_from_array(stored, has_held_out, latest=trainer.iteration)
    except ValueError as err:
        raise CheckpointError(f"{resume}: the saved evaluations are damaged ({err})", "use an intact checkpoint") from None
    for evaluation in saved_evaluations:
        session._add_evaluation(evaluation)
    session._take_saved_mark()  # the evaluations just read are the checkpoint's own
    if trainer.window_notice:
        session.notices.append(trainer.window_notice)
    if resume is not None:
        session.save_path = Path(resume)
        if not trainer.checkpoint_fingerprint_matches:
            session.notices.append(
                f"{corpus.name} differs from the text {Path(resume).name} was trained on "
                "(same characters); training continues on the new text"
            )
    return session


def _check_structural(saved: Config, given: Mapping[str, object], checkpoint: str | Path) -> None:
    """Refuse hidden size, window or seed values that differ from the checkpoint's."""
    for name in structural_fields():
        if name in given and given[name] != getattr(saved, name):
            raise ResumeMismatch(name, given[name], getattr(saved, name), str(checkpoint))


# --- branches in a checkpoint: their curves, not their training states -------------------------

BRANCH_PREFIX = "branch_"  # checkpoint extras holding kept branches


def branches_to_arrays(branches: Iterable[Branch]) -> dict[str, np.ndarray]:
    """Checkpoint extras for kept branches: a JSON list of their facts, and each one's smooth loss curve."""
    meta, arrays = [], {}
    for i, branch in enumerate(branches):
        meta.append({"name": branch.name, "forked_at": branch.forked_at, "change": branch.change,
                     "furthest": branch.furthest})
        arrays[f"{BRANCH_PREFIX}smooth_{i}"] = np.asarray(branch.smooth, dtype=np.float64)
        arrays[f"{BRANCH_PREFIX}evaluations_{i}"] = evaluations_to_array(branch.evaluations)
    arrays[f"{BRANCH_PREFIX}meta"] = np.array(json.dumps(meta))
    return arrays


_KEPT_FACTS = ("name", "forked_at", "change", "furthest")  # what branches_to_arrays saves of each kept branch
_LIVE_FACTS = ("name", "forked_at", "change", "made")  # what Session.save saves of the live line
_NUMBERED = re.compile(r"branch (\d+)")  # the names new branches get: branch 1, branch 2, ... up to the number made


def branches_from_arrays(extras: Mapping[str, np.ndarray], has_held_out: bool) -> list[Branch]:
    """The branches :func:`branches_to_arrays` saved, as curves (they cannot be switched to).

    ValueError, naming the branch, for anything a save does not write: each
    branch has its facts, forked_at at most one past its furthest iteration
    (a branch left before its first step), and a smooth-loss curve with one
    value per iteration 0 to furthest, never negative, finite until the
    branch diverged and not after. Its evaluations may be a diverged model's.
    """
    if f"{BRANCH_PREFIX}meta" not in extras:
        return []
    meta = json.loads(str(extras[f"{BRANCH_PREFIX}meta"]))
    if not isinstance(meta, list):
        raise ValueError(f"the list of kept branches is a JSON {type(meta).__name__}")
    out = []
    for i, fact in enumerate(meta):
        name, forked, change, furthest = _facts(fact, _KEPT_FACTS, f"kept branch {i}")
        if forked is not None and forked > furthest + 1:
            raise ValueError(f"branch {name!r} forked at iteration {forked}, beyond its furthest iteration {furthest}")
        smooth = _saved_curve(extras, f"{BRANCH_PREFIX}smooth_{i}", name, furthest)
        evaluations = evaluations_from_array(_saved_array(extras, f"{BRANCH_PREFIX}evaluations_{i}", name),
                                             has_held_out, diverged=True)
        out.append(Branch(name, forked, change, furthest, False, False, smooth, tuple(evaluations)))
    return out


def live_line_from_arrays(extras: Mapping[str, np.ndarray], kept: list[Branch]) -> tuple[str, int | None, str, int] | None:
    """The live line's name, forked_at, change and the branches made so far (Timeline.name_live_line's arguments).

    None for a checkpoint saved without branches. ValueError when the kept
    branches come without the live line (or the other way round), when two
    lines share a name, or when a name is numbered beyond the branches made
    (a new branch would take it).
    """
    key = f"{BRANCH_PREFIX}live"
    if (key in extras) != (f"{BRANCH_PREFIX}meta" in extras):
        raise ValueError("the kept branches and the live line are not saved together")
    if key not in extras:
        return None
    name, forked, change, made = _facts(json.loads(str(extras[key])), _LIVE_FACTS, "the live line")
    names = [branch.name for branch in kept] + [name]
    repeated = [n for i, n in enumerate(names) if n in names[:i]]
    if repeated:
        raise ValueError(f"two lines are named {repeated[0]!r}")
    beyond = [n for n in names if (number := _NUMBERED.fullmatch(n)) and int(number[1]) > made]
    if beyond:
        raise ValueError(f"{beyond[0]!r} is numbered beyond the {made} branches made")
    return name, forked, change, made


def _facts(fact: object, keys: tuple[str, ...], what: str) -> tuple:
    """The values of ``keys`` in the JSON object ``fact``, checked: a name, a change, iterations and counts >= 0."""
    if not isinstance(fact, dict):
        raise ValueError(f"{what} is a JSON {type(fact).__name__}, not an object")
    missing, unknown = [k for k in keys if k not in fact], sorted(set(fact) - set(keys))
    if missing or unknown:
        raise ValueError(f"{what} lacks {', '.join(missing)}" if missing else f"{what} has unknown {', '.join(unknown)}")
    for key in keys:
        value = fact[key]
        if key in ("name", "change"):
            fine = isinstance(value, str) and (key == "change" or value != "")
        else:  # forked_at (null for the first line), furthest, made: whole numbers >= 0
            fine = (value is None and key == "forked_at") or (type(value) is int and value >= 0)
        if not fine:
            raise ValueError(f"{what} has {key} {value!r}")
    return tuple(fact[key] for key in keys)


def _saved_array(extras: Mapping[str, np.ndarray], key: str, name: str) -> np.ndarray:
    if key not in extras:
        raise ValueError(f"branch {name!r} lacks {key}")
    return extras[key]


def _saved_curve(extras: Mapping[str, np.ndarray], key: str, name: str, furthest: int) -> np.ndarray:
    """Branch ``name``'s smooth-loss curve (read-only float64), checked (see :func:`branches_from_arrays`)."""
    curve = _saved_array(extras, key, name)
    if curve.dtype.kind != "f" or curve.shape != (furthest + 1,):
        raise ValueError(f"branch {name!r} has a smooth-loss curve of {curve.dtype} {curve.shape}, "
                         f"not {furthest + 1} floats (iterations 0 to {furthest})")
    if (curve < 0).any():
        raise ValueError(f"branch {name!r} has a negative smooth loss at iteration {int(np.argmax(curve < 0))}")
    finite = np.isfinite(curve)
    diverged = int(np.argmin(finite)) if not finite.all() else len(curve)
    if finite[diverged:].any():  # the smooth loss averages in every loss: once NaN or infinite, it stays so
        raise ValueError(f"branch {name!r} has a smooth loss of {curve[diverged]} at iteration {diverged} "
                         "but finite ones after it")
    return frozen(np.array(curve, dtype=np.float64))
