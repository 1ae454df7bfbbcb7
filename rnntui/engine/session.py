"""A training session: the trainer plus what a debugger adds around it.

Session owns the Trainer, the time-travel Timeline, the breakpoints, the
samples taken so far and the save state. The app and the headless trainer both
drive training through it; it imports no UI library, so everything here is
testable headless. Only one thread may call the mutating methods at a time
(the app's worker while running, the UI thread while paused); the UI thread
reads ``last_record``, ``samples`` and ``samples_version`` at any time.
"""

from __future__ import annotations

import bisect
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .breakpoints import BreakpointSet
from .checkpoint import save_checkpoint
from .record import StepRecord
from .timeline import DEFAULT_BUDGET_BYTES, Timeline, TimelineError
from .trainer import Trainer


@dataclass(frozen=True)
class Sample:
    """A piece of generated text, labelled with when and how it was drawn."""

    iteration: int  # the iteration the model had reached
    temperature: float
    text: str
    on_demand: bool  # True: asked for by the user; False: every sample_every


KEEP_SAMPLES = 2000  # samples kept for going back: 200,000 iterations at the default sample_every (about 0.7 MB)


def stop_after(record: StepRecord, breakpoints: BreakpointSet) -> tuple[str, str] | None:
    """Why training stops after ``record``: ("diverged", message), ("breakpoint", reason) or None.

    Divergence comes first, so a diverging step ends as diverged even when a
    ``nan`` breakpoint would also fire. The app's runs and ``rnntui train`` both stop by this.
    """
    if record.nonfinite is not None:
        return "diverged", f"diverged at iteration {record.iteration}: non-finite {record.nonfinite}"
    reason = breakpoints.check(record)
    return None if reason is None else ("breakpoint", reason)


@dataclass(frozen=True)
class RunResult:
    """Why a run of several iterations ended."""

    steps: int  # iterations taken
    reason: str  # "paused", "limit", "breakpoint", "diverged"
    detail: str | None = None  # breakpoint or divergence message


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
        self._stop: tuple[str, str] | None = None  # (kind, message) if the last step stops a run, see stop_after
        self.saved_iteration: int | None = trainer.iteration if trainer.iteration else None
        self._saved_mark = self._progress_mark()  # what "no unsaved progress" looks like
        self.save_path: Path | None = None
        self._samples: deque[Sample] = deque(maxlen=keep_samples)
        self.samples_version = 0  # grows whenever the kept samples change
        self._pending: list[dict[str, object]] = []  # hyperparameter changes queued while running
        self._sample_requests: list[float] = []  # on-demand samples asked for while running (temperatures)
        self.branch_message: str | None = None  # a new branch started by a queued change, for the UI
        self._lock = threading.Lock()

    # --- stepping ----------------------------------------------------------
    def step(self) -> StepRecord:
        """One iteration; collects its sample and checks breakpoints and divergence.

        Hyperparameter changes queued with :meth:`queue_hyperparameters` are
        applied first, by the thread that steps.
        """
        self._apply_pending()
        self._draw_requested_samples()
        record = self.timeline.step()
        self._accept(record)
        return record

    def _accept(self, record: StepRecord) -> None:
        self.last_record = record
        if record.sample is not None:
            self._add_sample(Sample(record.iteration, record.sample_temperature or 1.0, record.sample, False))
        self._stop = stop_after(record, self.breakpoints)

    def run(self, limit: int | None, should_stop: Callable[[], bool]) -> RunResult:
        """Step until ``should_stop()``, ``limit`` iterations, a breakpoint, or divergence.

        Changes and samples queued while running are applied before returning,
        so none is left waiting for a later, unrelated step.
        """
        steps = 0
        try:
            while limit is None or steps < limit:
                if should_stop():
                    return RunResult(steps, "paused")
                self.step()
                steps += 1
                if self._stop is not None:
                    kind, detail = self._stop
                    return RunResult(steps, kind, detail)
            return RunResult(steps, "limit")
        finally:
            self._apply_pending()
            self._draw_requested_samples()

    def next_window(self):
        """(inputs, targets, hprev) that the next step will train on (the reset rule applied)."""
        _, inputs, targets, hprev = self.trainer.next_window()
        return inputs, targets, hprev

    # --- time travel -------------------------------------------------------
    def goto(self, iteration: int) -> StepRecord:
        """Show iteration ``iteration`` again (replayed bit-identically).

        Only iterations computed so far: training further goes through
        :meth:`run`, which checks breakpoints and keeps samples.
        """
        self._apply_pending()
        if iteration > self.timeline.furthest:
            raise TimelineError(
                f"iteration {iteration:,} has not been trained yet (the furthest is {self.timeline.furthest:,}); "
                "run to get there"
            )
        return self._arrived(self.timeline.goto(iteration))

    def back(self) -> StepRecord:
        """Step back one iteration."""
        self._apply_pending()
        return self._arrived(self.timeline.back())

    def _arrived(self, record: StepRecord) -> StepRecord:
        """After a jump: the record on show (``samples_until`` tells which samples existed then)."""
        self.last_record = record
        self._stop = None
        return record

    @property
    def stop_reason(self) -> str | None:
        """The breakpoint or divergence message of the last step, if it stops a run (None after a jump)."""
        return self._stop[1] if self._stop is not None else None

    def set_hyperparameters(self, **changes: object) -> str | None:
        """Change hyperparameters from the next step on; returns a new-branch message or None.

        Call only while no other thread is stepping; use queue_hyperparameters then.
        """
        self._apply_pending()  # older queued changes first, so this newer one wins
        return self._set_hyperparameters(**changes)

    def _set_hyperparameters(self, **changes: object) -> str | None:
        message = self.timeline.set_hyperparameters(**changes)
        if message is not None:  # a new branch: the old future's samples are gone with it
            self._forget_samples_after(self.trainer.iteration - 1)
        return message

    def queue_hyperparameters(self, **changes: object) -> None:
        """Validate changes now and apply them before the next iteration (safe while running)."""
        self.trainer.config.replace(**changes)  # raises ConfigError on a bad value
        with self._lock:
            self._pending.append(dict(changes))

    def _apply_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for changes in pending:
            message = self._set_hyperparameters(**changes)
            if message is not None:
                self.branch_message = message

    def request_sample(self, temperature: float) -> None:
        """Ask for an on-demand sample while running: the training thread draws it between two steps."""
        with self._lock:
            self._sample_requests.append(temperature)

    def _draw_requested_samples(self) -> None:
        with self._lock:
            requests, self._sample_requests = self._sample_requests, []
        for temperature in requests:
            self.sample_now(temperature)

    # --- samples -----------------------------------------------------------
    def _add_sample(self, sample: Sample) -> None:
        """Keep ``sample`` in iteration order; when the list is full, the oldest other one goes.

        A replay after time travel draws the samples of its iterations again:
        one still kept is not added twice, and an automatic one older than
        every kept sample of a full list was pushed out before and stays out.
        A sample the user asked for is always kept, even behind the others.
        """
        with self._lock:
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
        with self._lock:
            return tuple(self._samples)

    def samples_until(self, record: StepRecord | None) -> tuple[Sample, ...]:
        """The kept samples that existed when ``record`` was the newest: drawn up to the state after it."""
        if record is None:
            return self.samples
        return tuple(s for s in self.samples if s.iteration <= record.iteration + 1)

    def _forget_samples_after(self, iteration: int) -> None:
        """On a new branch: drop samples drawn after ``iteration`` (they belong to the discarded future)."""
        with self._lock:
            kept = [s for s in self._samples if s.iteration <= iteration]
            if len(kept) != len(self._samples):
                self._samples = deque(kept, maxlen=self._samples.maxlen)
                self.samples_version += 1

    # --- saving ------------------------------------------------------------
    def _progress_mark(self) -> tuple:
        """Where training stands: iterations computed, the shown position, and the hyperparameters."""
        computed = max(self.timeline.furthest + 1, self.trainer.iteration)
        return (computed, self.trainer.iteration, self.trainer.config)

    @property
    def dirty(self) -> bool:
        """True when something computed or changed since the last save (or the start) would be lost."""
        return self._progress_mark() != self._saved_mark

    def save(self, path: str | Path) -> Path:
        """Save a checkpoint atomically, with the breakpoints and any other extras it was resumed with."""
        self._apply_pending()
        extra = dict(self.trainer.checkpoint_extras)
        extra["breakpoints"] = self.breakpoints.to_array()
        path = save_checkpoint(self.trainer, path, extra=extra)
        self.saved_iteration = self.trainer.iteration
        self._saved_mark = self._progress_mark()
        self.save_path = Path(path)
        return self.save_path
