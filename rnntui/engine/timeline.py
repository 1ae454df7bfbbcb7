"""Time travel: go back to any earlier iteration and see exactly what it computed.

A :class:`Timeline` wraps a :class:`Trainer` and is the only thing that should
step it. It keeps full copies of the trainer state (snapshots) now and then,
and a schedule of the hyperparameter changes made along the way. Going to
iteration ``n`` restores the nearest snapshot at or before ``n`` and replays
the steps up to ``n`` with the same hyperparameters at the same iterations.
The engine is deterministic, so the replayed records are bit-identical to the
ones of the first run.

Memory stays under a budget however long the run: when a new snapshot would
exceed it, one older snapshot is dropped, chosen so that the gap it leaves is
small compared with how far back it lies. The result is dense snapshots for
the recent past and sparser ones further back (the spacing grows roughly in
proportion to the age), so a jump of ``d`` iterations back replays a number of
steps that grows with ``d``, never the whole run. The first snapshot (where the
timeline started, normally iteration 0) is never dropped.

Iteration numbers follow :class:`StepRecord`: the record of iteration ``n`` is
the one whose ``.iteration == n``; after it the trainer's ``iteration`` is
``n + 1``.
"""

from __future__ import annotations

import bisect
import dataclasses
from dataclasses import dataclass

import numpy as np

from .config import Config
from .errors import RnntuiError
from .history import Event, History
from .record import StepRecord
from .trainer import Trainer, TrainerState

DEFAULT_BUDGET_BYTES = 64 * 2**20  # snapshot memory, 64 MiB
KEPT_BUDGET_BYTES = 64 * 2**20  # what the kept branches hold beyond the live one (snapshots and histories), 64 MiB
FIRST_LINE = "main"  # the name of the line a timeline starts with
REPLAY_BYTES = 8 * 2**20  # default interval * state size: about this much state per replayed interval
MIN_INTERVAL = 10  # snapshots further apart than this cost well under a step each on average
MAX_INTERVAL = 100  # small models still get a snapshot at least this often


class TimelineError(RnntuiError, ValueError):
    """A time-travel request that cannot be met (before the start, or the trainer moved outside)."""


def default_interval(state_bytes: int) -> int:
    """Iterations between snapshots for a trainer state of ``state_bytes`` bytes.

    A step costs roughly in proportion to the state size, so ``REPLAY_BYTES /
    state_bytes`` iterations take about the same time to replay whatever the
    model size: stepping back one iteration stays quick for large models and
    recent history stays dense for small ones. The result is kept between
    MIN_INTERVAL and MAX_INTERVAL.
    """
    return int(min(MAX_INTERVAL, max(MIN_INTERVAL, round(REPLAY_BYTES / max(state_bytes, 1)))))


@dataclass(eq=False)
class Line:
    """A line of training (a branch) kept while another one is live; see :meth:`Timeline.switch_to`.

    Snapshots are shared with the lines it has in common with (the states are
    immutable copies), so a kept line costs its own snapshots and its history.
    """

    name: str
    forked_at: int | None  # iterations done where it left the line it came from (None: the first line)
    change: str  # what was changed there ("learning_rate 0.1 -> 0.3")
    first: int
    iters: list[int]
    states: list[TrainerState]
    change_iters: list[int]
    change_configs: list[Config]
    events: list[Event]
    furthest: int  # the furthest iteration computed on it
    at: int  # iterations done where its trainer was left
    state: TrainerState  # the trainer's state there
    history: tuple[np.ndarray, ...]  # loss, smooth loss, raw and clipped gradient norms of iterations 0..furthest

    @property
    def history_bytes(self) -> int:
        return sum(arr.nbytes for arr in self.history)


@dataclass(frozen=True)
class LineSummary:
    """What a list of branches shows about one."""

    name: str
    forked_at: int | None
    change: str
    furthest: int
    live: bool


class Timeline:
    """Snapshots plus deterministic replay over one :class:`Trainer`.

    ``Timeline(trainer, budget_bytes=64 MiB, interval=None)`` takes the first
    snapshot at once (the trainer's current state, iteration 0 for a new run).
    Drive training through :meth:`step`, :meth:`goto`, :meth:`back` and
    :meth:`set_hyperparameters`; a trainer stepped or restored behind the
    timeline's back makes the next call raise :class:`TimelineError`.
    Hyperparameters changed directly on the trainer are picked up at the next
    call, exactly as if :meth:`set_hyperparameters` had made them.
    """

    def __init__(self, trainer: Trainer, budget_bytes: int = DEFAULT_BUDGET_BYTES, interval: int | None = None) -> None:
        first = trainer.state()
        if budget_bytes < 2 * first.nbytes:
            raise ValueError(
                f"budget_bytes={budget_bytes} holds fewer than two snapshots of {first.nbytes} bytes each; "
                f"give at least {2 * first.nbytes}"
            )
        if interval is not None and (isinstance(interval, bool) or not isinstance(interval, int) or interval < 1):
            raise ValueError(f"interval must be a whole number of at least 1, got {interval!r}")
        self.trainer = trainer
        self.budget_bytes = int(budget_bytes)
        self.interval = interval if interval is not None else default_interval(first.nbytes)
        self._iters: list[int] = [first.iteration]  # snapshot iterations, ascending
        self._states: list[TrainerState] = [first]
        self._nbytes = first.nbytes
        self._change_iters: list[int] = [first.iteration]  # schedule: config in force from each iteration on
        self._change_configs: list[Config] = [trainer.config]
        self._events: list[Event] = list(trainer.history.events)  # every event of the branch, past and future
        self._record: StepRecord | None = None
        self._at = trainer.iteration  # where the timeline last left the trainer
        self._furthest = trainer.iteration - 1
        self._ahead: list[np.ndarray] | None = None  # history rows beyond the trainer while behind
        self._ahead_start = 0  # the iteration of the first row of _ahead
        self.line_name = FIRST_LINE
        self.line_forked_at: int | None = None
        self.line_change = ""
        self._kept: list[Line] = []  # other lines, oldest first
        self._lines_made = 0
        self.dropped_lines: list[str] = []  # kept lines dropped to stay within KEPT_BUDGET_BYTES, to tell the user

    # --- read-only views -------------------------------------------------
    @property
    def first(self) -> int:
        """The earliest iteration whose record can be rebuilt (where the timeline started)."""
        return self._iters[0]

    @property
    def furthest(self) -> int:
        """The highest iteration computed on the current branch (``first - 1`` before any step)."""
        return self._furthest

    @property
    def record(self) -> StepRecord | None:
        """The record of the iteration the trainer just completed, or None before the first step."""
        return self._record

    @property
    def iteration(self) -> int:
        """The iteration now shown: ``trainer.iteration - 1`` (``first - 1`` before the first step)."""
        return self._at - 1

    @property
    def behind(self) -> bool:
        """True after going back: the next steps replay iterations already computed on this branch."""
        return self._at <= self._furthest

    @property
    def snapshot_iterations(self) -> tuple[int, ...]:
        """Iterations of the snapshots held (the trainer's ``iteration`` when each was taken), ascending."""
        return tuple(self._iters)

    @property
    def nbytes(self) -> int:
        """Bytes held by the snapshots' arrays (always at most ``budget_bytes``)."""
        return self._nbytes

    def __len__(self) -> int:
        """The number of snapshots held."""
        return len(self._iters)

    @property
    def schedule(self) -> tuple[tuple[int, Config], ...]:
        """(iteration, Config) pairs: each config is in force from its iteration until the next pair's."""
        return tuple(zip(self._change_iters, self._change_configs))

    def config_at(self, iteration: int) -> Config:
        """The hyperparameters that iteration ``iteration`` runs (or would run) with on this branch."""
        i = bisect.bisect_right(self._change_iters, iteration) - 1
        return self._change_configs[max(i, 0)]

    # --- moving ----------------------------------------------------------
    def step(self) -> StepRecord:
        """Run the next iteration: new training at the front, a replay of the branch when behind."""
        self._sync()
        return self._advance()

    def goto(self, n: int) -> StepRecord:
        """Return the record of iteration ``n``, leaving the trainer right after it.

        Earlier iterations are replayed from the nearest snapshot; later ones
        are stepped to (replayed up to ``furthest``, trained beyond it).
        """
        self._sync()
        n = int(n)
        if n < self.first:
            raise TimelineError(f"cannot go to iteration {n}: the timeline starts at iteration {self.first}")
        if self._record is not None and n == self._record.iteration:
            return self._record
        start = self._start_for(n)
        if start != self._at:
            self._restore(start)
        record = self._record
        while self._at <= n:
            record = self._advance()
        assert record is not None
        return record

    def replay_length(self, n: int) -> int:
        """How many steps :meth:`goto` ``(n)`` would run from here (0 for the iteration shown)."""
        if n < self.first:
            raise TimelineError(f"cannot go to iteration {n}: the timeline starts at iteration {self.first}")
        if self._record is not None and n == self._record.iteration:
            return 0
        return n - self._start_for(n) + 1

    def back(self) -> StepRecord:
        """Go back one iteration (the record before the one now shown)."""
        if self.iteration - 1 < self.first:
            raise TimelineError(f"cannot go back from iteration {self.iteration}: the timeline starts at {self.first}")
        return self.goto(self.iteration - 1)

    def move_to_count(self, count: int) -> None:
        """Leave the trainer where ``count`` iterations are done (``first <= count <= furthest + 1``).

        The state between two records: after iteration ``count - 1``, before
        iteration ``count``. Replays as :meth:`goto` does.
        """
        self._sync()
        if not self.first <= count <= self._furthest + 1:
            raise TimelineError(f"no state after {count} iterations: the timeline holds {self.first} to {self._furthest + 1}")
        if count == self._at:
            return
        if count > self.first:
            self.goto(count - 1)
        else:
            self._restore(self.first)

    def set_hyperparameters(self, **changes: object) -> str | None:
        """Change hyperparameters from the next step on (see :meth:`Trainer.set_hyperparameters`).

        After going back, a change starts a new branch: the line as it was
        (its future included) is kept under its name, and the live one becomes
        a new branch from the iteration shown; a sentence saying so is returned
        (and kept as an event in the history). Otherwise returns None.
        """
        self._sync()
        self.trainer.set_hyperparameters(**changes)
        return self._sync()

    # --- branches ----------------------------------------------------------
    @property
    def lines(self) -> tuple[LineSummary, ...]:
        """Every line, the kept ones oldest first, then the live one."""
        kept = tuple(LineSummary(k.name, k.forked_at, k.change, k.furthest, False) for k in self._kept)
        return kept + (LineSummary(self.line_name, self.line_forked_at, self.line_change, self._furthest, True),)

    @property
    def kept_lines(self) -> tuple[Line, ...]:
        return tuple(self._kept)

    @property
    def lines_made(self) -> int:
        """Branches made so far (the next is named ``branch {lines_made + 1}``)."""
        return self._lines_made

    def name_live_line(self, name: str, forked_at: int | None, change: str, lines_made: int) -> None:
        """Name the live line (a resumed run goes on with the line it saved)."""
        self.line_name, self.line_forked_at, self.line_change = name, forked_at, change
        self._lines_made = lines_made

    def switch_to(self, name: str) -> None:
        """Make the kept line ``name`` the live one (the live one is kept in its place).

        The trainer goes where that line was left; the next record comes from
        stepping or :meth:`goto`, both bit-identical to what that line computed.
        """
        self._sync()
        chosen = next((k for k in self._kept if k.name == name), None)
        if chosen is None:
            known = ", ".join(k.name for k in self._kept) or "none"
            raise TimelineError(f"no kept branch named {name!r} (kept: {known})")
        live = self._export()
        self._kept.remove(chosen)
        self._kept.append(live)
        self._import(chosen)

    def kept_bytes(self) -> int:
        """Bytes the kept lines hold beyond the live one: snapshots not shared with it, and their histories."""
        live = {id(state) for state in self._states}
        seen: set[int] = set()
        total = 0
        for line in self._kept:
            total += line.history_bytes
            for state in line.states:
                if id(state) not in live and id(state) not in seen:
                    seen.add(id(state))
                    total += state.nbytes
        return total

    def _export(self, config: Config | None = None) -> Line:
        """The live line as a Line (copies of its lists; states and history rows are copies already).

        ``config``: the one in force at the trainer's position, when the trainer's own was just changed.
        """
        state = self.trainer.state()
        if config is not None:
            state = dataclasses.replace(state, config=config)
        history = self.trainer.history
        rows = history.rows_from(0)
        if self._ahead is not None:
            rows = tuple(np.concatenate([mine, ahead[self._at - self._ahead_start :]])
                         for mine, ahead in zip(rows, self._ahead))
        return Line(
            name=self.line_name, forked_at=self.line_forked_at, change=self.line_change, first=self.first,
            iters=list(self._iters), states=list(self._states),
            change_iters=list(self._change_iters), change_configs=list(self._change_configs),
            events=list(self._events), furthest=self._furthest, at=self._at,
            state=state, history=rows,
        )

    def _keep(self, line: Line) -> None:
        """Keep ``line`` (the old future of a new branch) and name the live line as that branch."""
        self._kept.append(line)
        self._lines_made += 1
        self.line_name = f"branch {self._lines_made}"
        self.line_forked_at = self._at
        self.line_change = "; ".join(e.text for e in self.trainer.history.events if e.iteration == self._at
                                     and not e.text.startswith("new branch"))
        while self._kept and self.kept_bytes() > KEPT_BUDGET_BYTES:
            self.dropped_lines.append(self._kept.pop(0).name)

    def _import(self, line: Line) -> None:
        """Make ``line`` the live one and put the trainer where it was left."""
        self.line_name, self.line_forked_at, self.line_change = line.name, line.forked_at, line.change
        self._iters, self._states = list(line.iters), list(line.states)
        self._nbytes = sum(state.nbytes for state in self._states)
        self._change_iters, self._change_configs = list(line.change_iters), list(line.change_configs)
        self._events = list(line.events)
        self._furthest = line.furthest
        self.trainer.restore(line.state)
        history = self.trainer.history
        history.truncate(0)  # a cut: copies of the old rows elsewhere know to start over
        history.extend(*(arr[: line.at] for arr in line.history))  # row i is iteration i
        self._at = line.at
        self._ahead = [arr[line.at :].copy() for arr in line.history] if line.at <= line.furthest else None
        self._ahead_start = line.at
        self._record = None
        self._show_events()

    # --- internals -------------------------------------------------------
    def _sync(self) -> str | None:
        """Check the trainer is where the timeline left it and adopt outside config changes and events."""
        trainer = self.trainer
        if trainer.iteration != self._at:
            raise TimelineError(
                f"the trainer is at iteration {trainer.iteration} but its timeline left it at {self._at}; "
                "step it only through the timeline (or make a new Timeline)"
            )
        line_events = self._events  # the line's own events: the ones just made belong to a new branch
        self._events = list(trainer.history.events) + [e for e in self._events if e.iteration > self._at]
        if trainer.config == self.config_at(self._at):
            return None
        message = None
        if self.behind:  # keep the line as it was, under the config it had here, then cut its future
            before = self._export(config=self.config_at(self._at))
            before.events = line_events
            message = self._branch()
            self._keep(before)
        self._set_config_from(self._at, trainer.config)
        return message

    def _branch(self) -> str:
        """Discard everything after the current position; return the new-branch sentence."""
        at, old_furthest = self._at, self._furthest
        cut = bisect.bisect_right(self._iters, at)
        self._nbytes -= sum(s.nbytes for s in self._states[cut:])
        del self._iters[cut:], self._states[cut:]
        cut = bisect.bisect_right(self._change_iters, at)
        del self._change_iters[cut:], self._change_configs[cut:]
        self._furthest = at - 1
        self._ahead = None
        message = (
            f"new branch 'branch {self._lines_made + 1}' from iteration {at - 1} "
            f"(the old future after it, iterations {at} to {old_furthest}, is kept as {self.line_name!r})"
        )
        events = [e for e in self._events if e.iteration < at]
        events.append(Event(at, message))
        events += [e for e in self._events if e.iteration == at]
        self._events = events
        self.trainer.history.events = list(events)
        return message

    def _set_config_from(self, iteration: int, config: Config) -> None:
        """Record in the schedule that ``config`` is in force from ``iteration`` on."""
        i = bisect.bisect_left(self._change_iters, iteration)
        if i < len(self._change_iters) and self._change_iters[i] == iteration:
            self._change_configs[i] = config
        else:
            self._change_iters.insert(i, iteration)
            self._change_configs.insert(i, config)

    def _start_for(self, n: int) -> int:
        """Where to start stepping to reach record ``n``: the current position or the nearest snapshot."""
        start = self._iters[bisect.bisect_right(self._iters, n) - 1]
        return self._at if start <= self._at <= n else start

    def _restore(self, iteration: int) -> None:
        """Put the trainer (and its history) at the snapshot taken at ``iteration``, back or ahead."""
        if iteration < self._at:
            self._keep_rows_ahead(iteration)
            self.trainer.history.truncate(iteration)
        else:
            self._refill_history(iteration)
        self.trainer.restore(self._states[bisect.bisect_left(self._iters, iteration)])
        self._at = iteration
        self._record = None
        self._show_events()

    def _keep_rows_ahead(self, iteration: int) -> None:
        """Before cutting the history back to ``iteration``, keep the rows that will be cut.

        ``_ahead`` then holds the rows of iterations ``_ahead_start`` to
        ``furthest``, so a later jump forward restores a snapshot and copies
        the rows back instead of replaying every step in between.
        """
        history = self.trainer.history
        end = self._at if self._ahead is None else self._ahead_start
        if iteration >= end:
            return
        rows = [arr[iteration:end].copy() for arr in _history_columns(history)]
        if self._ahead is not None:
            rows = [np.concatenate([new, kept]) for new, kept in zip(rows, self._ahead)]
        self._ahead = rows
        self._ahead_start = iteration

    def _refill_history(self, iteration: int) -> None:
        """Append the kept rows of iterations ``_at`` to ``iteration - 1`` to the history."""
        if iteration == self._at:
            return
        assert self._ahead is not None and self._ahead_start <= self._at
        append = self.trainer.history.append
        loss, smooth, grad, clipped = self._ahead
        for i in range(self._at - self._ahead_start, iteration - self._ahead_start):
            append(loss[i], smooth[i], grad[i], clipped[i])

    def _advance(self) -> StepRecord:
        """One step with the scheduled config; snapshot (and thin) when new ground is covered."""
        trainer = self.trainer
        trainer.config = self.config_at(self._at)
        record = trainer.step()
        self._at = trainer.iteration
        trainer.config = self.config_at(self._at)
        self._record = record
        if self._at > self._furthest:
            self._ahead = None  # the history holds every row of the branch again
        if record.iteration > self._furthest:
            self._furthest = record.iteration
            if self._at - self._iters[-1] >= self.interval:
                self._add_snapshot(trainer.state())
        self._show_events()
        return record

    def _show_events(self) -> None:
        """Make the history's events those of the branch up to the current position."""
        events = self.trainer.history.events
        wanted = [e for e in self._events if e.iteration <= self._at]
        if len(events) != len(wanted) or events != wanted:
            self.trainer.history.events = wanted

    def _add_snapshot(self, state: TrainerState) -> None:
        """Append a snapshot of the front, then thin older ones until within the budget."""
        self._iters.append(state.iteration)
        self._states.append(state)
        self._nbytes += state.nbytes
        while self._nbytes > self.budget_bytes and len(self._iters) > 2:
            self._drop(self._cheapest_to_drop())

    def _cheapest_to_drop(self) -> int:
        """Index of the snapshot whose loss hurts least relative to its age.

        Dropping interior snapshot i merges its two gaps into one of
        ``iters[i+1] - iters[i-1]`` iterations; a jump to just before
        ``iters[i+1]`` then replays up to that many steps. Dividing by how far
        back ``iters[i+1]`` lies (plus one interval) favours dropping old
        snapshots from dense stretches, so spacing grows with age. Ties go to
        the oldest. The first and the newest snapshot are never chosen.
        """
        iters = np.asarray(self._iters, dtype=np.float64)
        merged = iters[2:] - iters[:-2]
        age = iters[-1] - iters[2:] + self.interval
        return int(np.argmin(merged / age)) + 1

    def _drop(self, index: int) -> None:
        """Forget snapshot ``index``."""
        self._nbytes -= self._states[index].nbytes
        del self._iters[index], self._states[index]


def _history_columns(history: History) -> tuple[np.ndarray, ...]:
    """The history's per-iteration arrays in the order ``History.append`` takes them."""
    return history.loss, history.smooth_loss, history.grad_norms, history.clipped_norms
