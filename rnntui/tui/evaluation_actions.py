"""Evaluation on the main screen: bits per character on held-out text, baselines, the error breakdown,
and the kept branches.

* ``e`` evaluates the current model now (an ``EvaluationJob`` beside training;
  it joins the history, so the header and the bits-per-character view show it);
* ``E`` opens the evaluation screen (an ``EvaluationReportJob``);
* ``v`` switches the loss panel to bits per character and back; the k-gram
  baselines it draws come from an evaluation report, run the first time the
  view is shown (and taken from every report the evaluation screen runs);
* ``b`` lists the branches, Enter goes on with one; ``B`` shows or hides the
  kept branches' curves on the loss panel.

A mixin for MainScreen, using only its public surface: ``controller``,
``command``, ``running``, ``pause``, ``notify``, ``show_mirror``,
``query_one`` (and Textual's ``app`` and ``set_interval``). The screen binds
the reactives below to the header and the loss panel, and calls
:meth:`show_evaluations` from ``show_mirror``.
"""

from __future__ import annotations

from textual.reactive import reactive

from ..engine.control import Mirror
from ..engine.evaluation import Evaluation, EvaluationReport
from ..engine.jobs import EvaluationJob, EvaluationReportJob
from .drawing import count
from .evaluation_screen import EvaluationScreen, JobWatch
from .loss_curve import BPC_VIEW, LossCurve

EVALUATING = "evaluating"  # what the header says while an on-demand evaluation runs


def describe_evaluation(evaluation: Evaluation) -> str:
    """``after 1,500 updates: train 2.143 bpc, held-out 2.301 bpc (gap +0.158)``."""
    text = f"after {count(evaluation.iteration, 'update')}: train {evaluation.train_bpc:.3f} bpc"
    if evaluation.val_bpc is not None:
        text += f", held-out {evaluation.val_bpc:.3f} bpc (gap {evaluation.gap:+.3f})"
    return text


def live_branch_name(mirror: Mirror) -> str | None:
    return next((b.name for b in mirror.branches if b.live), None)


class EvaluationActions:
    """Actions behind the evaluation keys (see EVALUATION_KEYS in keys.py)."""

    evaluations: reactive[tuple[Evaluation, ...]] = reactive((), repaint=False)  # the mirror's, up to the model shown
    branches: reactive[tuple] = reactive((), repaint=False)  # every line of training (the mirror's)
    engine_busy: reactive[tuple[str, int, int] | None] = reactive(None, repaint=False)  # (what, done, total) while evaluating

    _evaluation_watch: JobWatch | None = None  # an on-demand evaluation going on
    _evaluation_progress: tuple[str, int, int] | None = None
    _baselines_watch: JobWatch | None = None  # the report that gives the bpc view its baselines
    _report: EvaluationReport | None = None  # the last report, for the evaluation screen
    _report_key: tuple | None = None  # (branch, updates) of the model it was made on

    def show_evaluations(self, mirror: Mirror, with_history: bool) -> None:
        """Hand the mirror's evaluations and branches to the header and the loss panel (the busy state always,
        the lists with the history)."""
        self.engine_busy = self._busy_now()
        if with_history:
            self.evaluations = mirror.evaluations
            self.branches = mirror.branches

    def _busy_now(self) -> tuple[str, int, int] | None:
        """Long work going on: inside a step of the run (until it is done), or an evaluation asked for with e."""
        busy = self.controller.mirror.busy
        if busy is not None and busy[2] and busy[1] >= busy[2]:  # the last report of work that has ended
            busy = None
        return busy or self._evaluation_progress

    # --- e: evaluate now -----------------------------------------------------
    def action_evaluate_now(self) -> None:
        """e: evaluate the current model on the training and held-out text (beside training)."""
        if self._evaluation_watch is not None and self._evaluation_watch.running:
            self.notify("an evaluation is already running", severity="warning")
            return
        self._evaluation_progress = (EVALUATING, 0, 0)
        watch = JobWatch(self.controller, EvaluationJob(), self._evaluated, self._evaluation_failed,
                         self._evaluation_moved)
        self._evaluation_watch = watch
        watch.start(self)

    def _evaluation_moved(self, done: int, total: int) -> None:
        self._evaluation_progress = (EVALUATING, done, total)
        self.engine_busy = self._busy_now()

    def _evaluated(self, evaluation: Evaluation) -> None:
        self._evaluation_progress = None
        self.command(self.controller.poll)  # the evaluation joined the history after the last update was made
        self.notify(describe_evaluation(evaluation), title="Evaluation", timeout=8)

    def _evaluation_failed(self, problem: str) -> None:
        self._evaluation_progress = None
        self.show_mirror(with_history=False)
        self.notify(f"the evaluation failed: {problem}", severity="error", timeout=10)

    # --- E: the evaluation screen --------------------------------------------
    def _model_key(self) -> tuple:
        mirror = self.controller.mirror
        return live_branch_name(mirror), mirror.iteration

    def action_evaluation_report(self) -> None:
        """E: the evaluation screen (the last report when the model has not changed since, else a new one)."""
        report = self._report if self._report_key == self._model_key() else None
        self.app.push_screen(EvaluationScreen(self.controller, report), self._report_closed)

    def _report_closed(self, report: EvaluationReport | None) -> None:
        if report is not None:
            self._keep_report(report)

    def _keep_report(self, report: EvaluationReport) -> None:
        """Keep a report for the screen, and give its baselines to the bits-per-character view."""
        self._report = report
        self._report_key = (live_branch_name(self.controller.mirror), report.evaluation.iteration)
        self.query_one(LossCurve).show_baselines(report.baselines, report.in_sample)

    # --- v, B: the loss panel's views -----------------------------------------
    def action_toggle_bpc_view(self) -> None:
        """v: bits per character on the loss panel, or the loss again."""
        panel = self.query_one(LossCurve)
        panel.action_toggle_view()
        if panel.view == BPC_VIEW and not panel.baselines:
            self._fetch_baselines()

    def _fetch_baselines(self) -> None:
        """Run a report for the k-gram baselines (unless one runs already, or one is kept)."""
        panel = self.query_one(LossCurve)
        if self._report is not None:
            panel.show_baselines(self._report.baselines, self._report.in_sample)
            return
        if self._baselines_watch is not None and self._baselines_watch.running:
            return

        def moved(done: int, total: int) -> None:
            panel.baselines_note = f"k-grams {100 * done / total:.0f}%" if total else "k-grams…"

        def failed(problem: str) -> None:
            panel.baselines_note = "k-grams failed"
            self.notify(f"the k-gram baselines failed: {problem}", severity="error", timeout=10)

        panel.baselines_note = "k-grams…"
        self._baselines_watch = JobWatch(self.controller, EvaluationReportJob(), self._keep_report, failed, moved)
        self._baselines_watch.start(self)

    def action_toggle_branch_overlay(self) -> None:
        """B: the kept branches' curves on the loss panel, or not."""
        panel = self.query_one(LossCurve)
        panel.action_toggle_overlay()
        kept = sum(not b.live for b in self.controller.mirror.branches)
        state = "shown" if panel.overlay else "hidden"
        self.notify(f"kept branches' curves {state} ({kept} kept)" if kept else "no kept branches yet (see b)")

    # --- b: branches -----------------------------------------------------------
    def action_branches(self) -> None:
        """b: list the branches; Enter goes on with the highlighted one."""
        from .branches_screen import BranchesScreen

        self.app.push_screen(BranchesScreen(self.controller.mirror), self._switch_branch)

    def _switch_branch(self, name: str | None) -> None:
        """Go on with the kept branch ``name`` (a run is paused first)."""
        if name is None:
            return
        if self.running:
            self.pause()
        self.command(self.controller.switch_branch, name)
        mirror = self.controller.mirror
        if live_branch_name(mirror) == name:
            where = f"iteration {mirror.iteration - 1:,}" if mirror.iteration else "its start"
            self.notify(f"now on {name!r}, at {where} (furthest {mirror.furthest:,})", title="Branches")
