"""Corpus-wide unit analysis on the main screen: the unit table (U), the neuron page (N), and the
heatmap's views of the whole layer (maximised, two units per row, rows in the table's order).

The analysis runs in the engine's job thread (``AnalysisJob``) on a copy of the
parameters, beside training; the screens poll for it and show a progress bar
meanwhile, and escape cancels it. Results are kept per set of parameters (the
updates they had, and the hyperparameter changes among them), so going back to
an iteration analysed before shows its analysis at once; a screen showing an
analysis of other parameters than the engine's says so.

The mixin uses only MainScreen's public surface: ``controller``, ``unit``,
``notify``, and Textual's own (``query_one``, ``maximize``, ``app``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Label, ProgressBar, Static

from ..engine import Corpus, RnntuiError
from ..engine.analysis import Analysis
from ..engine.control import Controller, EngineBusy, EngineLost, JobStatus
from ..engine.features import FEATURE_NAMES
from ..engine.jobs import AnalysisJob
from .drawing import count
from .heatmap import Heatmap, RowOrder

POLL_S = 0.1  # how often an analysis screen asks the engine how the job goes
NARROW = 100  # below this width an analysis screen stacks its parts (class "narrow")
CACHE_SIZE = 4  # analyses kept; each holds its parameters and a hidden state every 65,536 characters

ParamsKey = tuple[int, tuple[tuple[int, str], ...]]


def params_key(controller: Controller) -> ParamsKey:
    """What tells the engine's current parameters apart: the updates they had, and the hyperparameter
    changes among those updates (another branch of the same length has other ones)."""
    mirror = controller.mirror
    n = mirror.iteration
    return n, tuple((e.iteration, e.text) for e in mirror.history.events if e.iteration < n)


def training_text(corpus: Corpus, chars: int) -> Corpus:
    """The text an analysis of ``chars`` characters covers: the corpus, or its training part
    (the held-out text follows it)."""
    return corpus if chars == len(corpus) else corpus.part(0, chars, "training part")


TITLE_SEPARATOR = " · "  # between the parts of an analysis screen's title


def staleness(computed: ParamsKey, now: ParamsKey, short: bool = False) -> str | None:
    """Why an analysis of parameters ``computed`` is not one of the parameters ``now``, or None.

    ``short``: the same facts in fewer words, for a narrow title.
    """
    if computed == now:
        return None
    done, current = computed[0], now[0]
    where = "on another branch" if done == current else f"now at {current:,}"
    if short:
        return f"after {count(done, 'step')}{';' if done != current else ''} {where}: press r"
    return f"computed after {count(done, 'step')}{';' if done != current else ''} {where}: press r to recompute"


@dataclass(frozen=True, eq=False)
class Computed:
    """An analysis made whole with its text, and the parameters it was computed on."""

    analysis: Analysis
    text: Corpus  # the training text it covers
    key: ParamsKey

    @property
    def iteration(self) -> int:
        return self.key[0]


class AnalysisStore:
    """The analyses of one session: at most one job at a time, results kept per set of parameters."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.features: tuple[str, ...] = FEATURE_NAMES  # what every new analysis measures (regexes added)
        self.latest: Computed | None = None  # the newest result
        self.status: JobStatus | None = None  # the running job's last report
        self.problem: str | None = None  # why the last job gave no result (failed or cancelled)
        self.order: RowOrder | None = None  # the unit table's order, for the heatmap
        self.dropped: JobStatus | None = None  # the last report of the last cancelled job
        self._cache: dict[ParamsKey, Computed] = {}  # oldest first
        self._job: tuple[int, ParamsKey] | None = None  # (job id, parameters) of the running job
        self._dropped: set[int] = set()  # cancelled jobs whose last report is still to be taken

    @property
    def running(self) -> bool:
        return self._job is not None

    @property
    def now(self) -> ParamsKey:
        return params_key(self.controller)

    def current(self) -> Computed | None:
        """The analysis of the engine's current parameters with every wanted feature, if there is one."""
        found = self._cache.get(self.now)
        return found if found is not None and set(self.features) <= set(found.analysis.features) else None

    def best(self) -> Computed | None:
        """What to show: the analysis of the current parameters, else the newest one."""
        return self.current() or self.latest

    def start(self, extra_features: tuple[str, ...] = ()) -> None:
        """Analyse the current parameters (with ``extra_features`` from now on), unless that job runs.

        Raises EngineLost when the engine has gone.
        """
        self.features = tuple(dict.fromkeys(self.features + tuple(extra_features)))
        if self._job is not None:
            if self._job[1] == self.now and not extra_features:
                return
            self.cancel()
        job_id = self.controller.start_job(AnalysisJob(features=self.features))
        self._job, self.status, self.problem = (job_id, self.now), None, None  # the reply brought the job's iteration

    def check(self) -> JobStatus | None:
        """Ask the engine how the job goes; keep a finished result. The job's latest status, or None.

        Raises EngineLost when the engine has gone.
        """
        if self._job is None and not self._dropped:
            return None
        self.controller.poll()
        mirror = self.controller.mirror
        for job_id in list(self._dropped):
            dropped = mirror.take_job(job_id)
            if dropped is not None:
                self.dropped = dropped
                if dropped.finished:
                    self._dropped.discard(job_id)
        if self._job is None:
            return None
        job_id, key = self._job
        status = mirror.take_job(job_id) or self.status
        self.status = status
        if status is not None and status.finished:
            self._job = None
            if status.error is not None:
                self.problem = f"the analysis failed: {status.error}"
            elif status.cancelled:
                self.problem = "the analysis was cancelled"
            else:
                self._keep(status.result, key)
        return status

    def _keep(self, detached: Analysis, key: ParamsKey) -> None:
        text = training_text(self.controller.corpus, detached.chars)
        computed = Computed(detached.attached(text), text, key)
        self._cache.pop(key, None)
        self._cache[key] = computed
        while len(self._cache) > CACHE_SIZE:
            del self._cache[next(iter(self._cache))]
        self.latest = computed

    def cancel(self) -> None:
        """Stop the running job (its result, if it still comes, is dropped)."""
        if self._job is None:
            return
        job_id, self._job = self._job[0], None
        self._dropped.add(job_id)
        self.problem = "the analysis was cancelled"
        try:
            self.controller.cancel_job(job_id)
        except EngineLost:
            pass


class AnalysisScreen(Screen):
    """A screen showing an analysis: a title line that says which parameters it is of, and a
    progress bar while a job runs. Subclasses draw the analysis in :meth:`show`."""

    DEFAULT_CSS = """
    AnalysisScreen #analysis-title {
        height: auto;
        padding: 0 1;
        background: $boost;
    }
    AnalysisScreen #analysis-title.stale {
        color: $warning;
    }
    AnalysisScreen #analysis-progress {
        height: 1;
        padding: 0 1;
        display: none;
    }
    AnalysisScreen.computing #analysis-progress {
        display: block;
    }
    AnalysisScreen #analysis-progress Label {
        width: 1fr;
        padding-left: 2;
    }
    """
    BINDINGS = [
        Binding("escape", "leave", "Back / cancel"),
        Binding("r", "recompute", "Recompute"),
    ]

    def __init__(self, store: AnalysisStore, choose_unit: Callable[[int], None]) -> None:
        super().__init__()
        self.store = store
        self.choose_unit = choose_unit  # makes a unit the main screen's chosen unit
        self.computed: Computed | None = None  # what is shown

    def compose_status(self) -> ComposeResult:
        yield Static("", id="analysis-title")
        with Horizontal(id="analysis-progress"):
            yield ProgressBar(show_eta=False)
            yield Label("")

    def on_mount(self) -> None:
        self.set_class(self.size.width < NARROW, "narrow")
        if self.store.best() is None and not self.store.running:
            self._start()
        self.set_interval(POLL_S, self.poll)
        self.poll()

    def on_resize(self, event) -> None:
        narrow = event.size.width < NARROW
        if narrow != self.has_class("narrow"):
            self.set_class(narrow, "narrow")
            self.narrowed()

    def poll(self) -> None:
        """Follow the job, show a new result, and keep the title true to the engine's parameters."""
        try:
            status = self.store.check()
        except EngineBusy as err:  # it may answer yet: say so until it does
            self._say(err.problem)
            return
        except EngineLost as err:
            self._say(f"the engine has ended: {err.problem}")
            return
        self.set_class(self.store.running, "computing")
        if self.store.running:
            self._show_progress(status)
        best = self.store.best()
        if best is not None and best is not self.computed:
            self.computed = best
            self.show(best)
        self._update_title()

    def _show_progress(self, status: JobStatus | None) -> None:
        done, total = (status.done, status.total) if status is not None else (0, 0)
        self.query_one(ProgressBar).update(total=total or None, progress=done)
        count = f"{done:,} of {total:,} characters" if total else "starting"
        self.query_one("#analysis-progress Label", Label).update(f"unit analysis: {count} · escape cancels")

    def _update_title(self) -> None:
        title = self.query_one("#analysis-title", Static)
        computed = self.computed
        if computed is None:
            title.update(self.store.problem or "waiting for the first analysis")
            title.set_class(self.store.problem is not None, "stale")
            return
        title.update(self.choose_title(self.title_forms(computed)))
        title.set_class(staleness(computed.key, self.store.now) is not None, "stale")

    def title_forms(self, computed: Computed) -> list[str]:
        """The title line, in full (``HEADING · 4,023 characters of NAME · 2.464 bits/char · after
        N steps``), then ever shorter: the text's name goes, the words shorten, the heading
        shortens, then the length and the bpc go. Which parameters it is of stays in each."""
        analysis = computed.analysis
        now = self.store.now
        where = staleness(computed.key, now) or f"after {count(computed.iteration, 'step')}"
        short_where = staleness(computed.key, now, short=True) or where
        chars, bpc = f"{analysis.chars:,}", f"{analysis.bits_per_char:.3f}"
        problem = [self.store.problem] if self.store.problem and not self.store.running else []
        heading, short_heading = self.heading(), self.short_heading()
        forms = [
            [heading, f"{chars} characters of {computed.text.name}", f"{bpc} bits/char", where, *problem],
            [heading, f"{chars} chars", f"{bpc} bits/char", where, *problem],
            [heading, f"{chars} chars", f"{bpc} bpc", where, *problem],
            [short_heading, f"{chars} chars", f"{bpc} bpc", where, *problem],
            [short_heading, f"{bpc} bpc", where, *problem],
            [short_heading, where, *problem],
            [short_heading, short_where, *problem],
        ]
        return [TITLE_SEPARATOR.join(parts) for parts in forms]

    def choose_title(self, forms: list[str]) -> str:
        """Which of the title's forms to show: the full one (a screen whose title must keep to one
        line picks the longest that fits)."""
        return forms[0]

    def _say(self, problem: str) -> None:
        self.query_one("#analysis-title", Static).update(problem)

    def _start(self, extra_features: tuple[str, ...] = ()) -> None:
        try:
            self.store.start(extra_features)
        except RnntuiError as err:
            self._say(f"cannot start the analysis: {err.problem}")
            return
        self.set_class(True, "computing")
        self._show_progress(None)

    def action_recompute(self) -> None:
        """r: analyse the engine's current parameters."""
        self._start()

    def action_leave(self) -> None:
        """escape: cancel a running analysis (closing the screen when there is nothing to show), else close."""
        if self.store.running:
            self.store.cancel()
            self.set_class(False, "computing")
            self._update_title()
            if self.computed is not None:
                return
        self.dismiss(None)

    # --- for subclasses -------------------------------------------------------
    def heading(self) -> str:
        """The first words of the title line."""
        return ""

    def short_heading(self) -> str:
        """The heading for a narrow title."""
        return self.heading()

    def show(self, computed: Computed) -> None:
        """Draw ``computed`` (called once per new analysis)."""

    def narrowed(self) -> None:
        """The screen became narrow, or wide again (the class "narrow" is already set)."""


class AnalysisActions:
    """Actions behind the unit-analysis keys (see ANALYSIS_KEYS in keys.py)."""

    @property
    def analyses(self) -> AnalysisStore:
        """This session's analyses (made on first use)."""
        store = getattr(self, "_analysis_store", None)
        if store is None:
            store = self._analysis_store = AnalysisStore(self.controller)
        return store

    def choose_unit(self, unit: int) -> None:
        """Make ``unit`` the chosen unit of every panel."""
        self.unit = unit

    def action_unit_table(self) -> None:
        """U: one row per unit over the whole training text, sortable, with a saturation scatter."""
        from .units_screen import UnitsScreen

        self.app.push_screen(UnitsScreen(self.analyses, self.choose_unit, self.set_row_order))

    def action_neuron_page(self) -> None:
        """N: the chosen unit over the whole training text, its strongest contexts and statistics."""
        from .neuron_screen import NeuronScreen

        order = self.analyses.order
        self.app.push_screen(NeuronScreen(self.analyses, self.choose_unit, self.unit, order))

    def action_maximize_heatmap(self) -> None:
        """z: the heatmap fills the screen, or goes back to its place."""
        heatmap = self.query_one(Heatmap)
        if self.maximized is heatmap:
            self.minimize()
        else:
            self.maximize(heatmap, container=False)
            heatmap.focus()

    def action_heatmap_pairs(self) -> None:
        """x: one or two units per heatmap row."""
        heatmap = self.query_one(Heatmap)
        heatmap.arrange(per_row=1 if heatmap.per_row == 2 else 2)

    def action_heatmap_order(self) -> None:
        """o: heatmap rows in the unit table's order, or by unit number."""
        heatmap = self.query_one(Heatmap)
        if heatmap.order is not None:
            heatmap.arrange(order=None)
            return
        order = self.analyses.order or self._default_order()
        if order is None:
            self.notify("sorting needs a unit analysis: open the unit table (U) first", severity="warning")
            return
        heatmap.arrange(order=order)

    def _default_order(self) -> RowOrder | None:
        """The unit table's default order for the newest analysis, or None without one."""
        from .units_screen import default_feature, row_order

        best = self.analyses.best()
        if best is None:
            return None
        return row_order(best, default_feature(best.analysis), "r", descending=True)

    def set_row_order(self, order: RowOrder) -> None:
        """The unit table's order changed: keep it for the heatmap (and show it there if sorted)."""
        self.analyses.order = order
        heatmap = self.query_one(Heatmap)
        if heatmap.order is not None:
            heatmap.arrange(order=order)
