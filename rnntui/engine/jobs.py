"""Long work a front-end starts through a Controller (see control.py): each runs in a
thread beside training, on copies of what it needs taken between two steps."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .analysis import Analysis, analyze
from .control import JobCancelled, JobProgress
from .corpus import Corpus
from .corpus_pass import PassCancelled, run_pass
from .evaluation import Evaluation, EvaluationReport, evaluate, evaluation_report
from .features import FEATURE_NAMES
from .gradcheck import SAMPLES, SEED, STEP, WindowCheck, check_window, take_window
from .session import Session
from .units import TOP_K
from .whatif import AblationScan, SetHprev, WhatIfDiff, WindowRun, ablation_scan, compare, rank_descending, run_window


@dataclass(frozen=True, eq=False)
class Model:
    """Copies of the current model and the texts it reads, taken between two steps."""

    params: dict[str, np.ndarray]
    training: Corpus  # the training text (the part before the held-out text, if any)
    held_out: Corpus | None
    iteration: int  # updates the parameters had

    @classmethod
    def of(cls, session: Session) -> "Model":
        trainer = session.trainer
        params = {name: value.copy() for name, value in trainer.params.items()}
        return cls(params, trainer.training_corpus, trainer.held_out_corpus, trainer.iteration)


def cancellable(work: Callable[[JobProgress], Any]) -> Callable[[JobProgress], Any]:
    """``work`` with a corpus pass's cancellation turned into the job's."""

    def run(progress: JobProgress) -> Any:
        try:
            return work(progress)
        except PassCancelled:
            raise JobCancelled from None

    return run


@dataclass(frozen=True)
class GradCheckJob:
    """Central differences against backprop on the window the next step trains on."""

    samples: int = SAMPLES
    step: float = STEP
    seed: int = SEED
    kind: str = "gradient check"

    def prepare(self, session: Session) -> Callable[[JobProgress], WindowCheck]:
        window = take_window(session.trainer)
        return lambda progress: check_window(window, self.samples, self.step, self.seed)


@dataclass(frozen=True)
class AnalysisJob:
    """The corpus pass over the training text with the current parameters, and every unit statistic.

    The result is labelled with the number of updates the parameters had
    (``Analysis.iteration``) and comes without the text's indices (the
    front-end has the text: ``Analysis.attached(corpus)``).
    """

    features: tuple[str, ...] = FEATURE_NAMES
    units: tuple[int, ...] = ()
    top_k: int = TOP_K
    kind: str = "unit analysis"

    def prepare(self, session: Session) -> Callable[[JobProgress], Analysis]:
        model = Model.of(session)

        def work(progress: JobProgress) -> Analysis:
            analysis = analyze(model.params, model.training, self.features, self.units, self.top_k,
                               progress=progress.report, cancel=progress.cancelled, iteration=model.iteration)
            return analysis.detached()

        return cancellable(work)


@dataclass(frozen=True)
class EvaluationJob:
    """An on-demand evaluation of the current model; when done it joins the session's history."""

    kind: str = "evaluation"

    def prepare(self, session: Session) -> Callable[[JobProgress], Evaluation]:
        m = Model.of(session)
        return cancellable(lambda progress: evaluate(m.params, m.training, m.held_out, m.iteration, on_demand=True,
                                                     progress=progress.report, cancel=progress.cancelled))

    def finish(self, session: Session, evaluation: Evaluation) -> None:
        session.add_evaluation(evaluation)


@dataclass(frozen=True)
class EvaluationReportJob:
    """Evaluation, k-gram baselines and the error breakdown of the current model (the evaluation screen)."""

    kind: str = "evaluation report"

    def prepare(self, session: Session) -> Callable[[JobProgress], EvaluationReport]:
        m = Model.of(session)
        return cancellable(lambda progress: evaluation_report(m.params, m.training, m.held_out, m.iteration,
                                                              progress=progress.report, cancel=progress.cancelled))


@dataclass(frozen=True)
class WhatIfResult:
    """The window of an iteration run as it was and with interventions (and read by another iteration)."""

    iteration: int  # the iteration whose window and parameters were used
    position: int
    before: WindowRun
    after: WindowRun
    diff: WhatIfDiff
    scan: AblationScan | None  # each unit zeroed over the window, when asked
    other_iteration: int | None  # the iteration whose parameters read the same window, when asked
    across: WhatIfDiff | None  # that reading against this one's


@dataclass(frozen=True)
class WhatIfJob:
    """Interventions on the window of iteration ``iteration``, with the parameters it trained with.

    ``hprev_from``: use the carried state of that iteration's window instead
    (added to the interventions first). ``other_iteration``: also read the
    unchanged window with that iteration's parameters (a diff across
    iterations). Runs on copies; training, the timeline and checkpoints are
    untouched.
    """

    iteration: int
    interventions: tuple = ()
    cursor_t: int = 0
    scan: bool = False
    hprev_from: int | None = None
    other_iteration: int | None = None
    kind: str = "what-if"

    def prepare(self, session: Session) -> Callable[[JobProgress], WhatIfResult]:
        record = session.record_at(self.iteration)
        params = session.params_at(self.iteration)
        interventions = tuple(self.interventions)
        if self.hprev_from is not None:
            interventions = (SetHprev.from_record(session.record_at(self.hprev_from)),) + interventions
        other = session.params_at(self.other_iteration) if self.other_iteration is not None else None
        inputs, targets, hprev = record.inputs, record.targets, record.hprev

        def work(progress: JobProgress) -> WhatIfResult:
            before = run_window(params, inputs, targets, hprev)
            after = run_window(params, inputs, targets, hprev, interventions)
            scan = ablation_scan(params, inputs, targets, hprev, self.cursor_t) if self.scan else None
            across = None
            if other is not None:
                across = compare(before, run_window(other, inputs, targets, hprev), self.cursor_t)
            return WhatIfResult(self.iteration, record.position, before, after, compare(before, after, self.cursor_t),
                                scan, self.other_iteration, across)

        return work


@dataclass(frozen=True)
class CorpusScan:
    """Each unit zeroed over the whole training text: how many bits per character it costs."""

    iteration: int  # updates the parameters had
    baseline_bpc: float
    delta_bpc: np.ndarray  # (H,) bits per character with the unit zeroed, minus the baseline
    ranking: np.ndarray  # units by delta, largest first


@dataclass(frozen=True)
class CorpusScanJob:
    """The ablation scan over the whole training text (one corpus pass per unit), with progress.

    ``count``: the parameters after that many updates (those iteration
    ``count`` trained with: a shown window's own); None for the current ones.
    """

    count: int | None = None
    kind: str = "corpus ablation scan"

    def prepare(self, session: Session) -> Callable[[JobProgress], CorpusScan]:
        m = Model.of(session)
        if self.count is not None:
            m = dataclasses.replace(m, params=session.params_at(self.count), iteration=self.count)
        data, H = m.training.data, session.trainer.config.hidden_size

        def work(progress: JobProgress) -> CorpusScan:
            baseline = run_pass(m.params, data, cancel=progress.cancelled).bits_per_char
            deltas = np.empty(H)
            for unit in range(H):
                progress.report(unit, H)
                deltas[unit] = run_pass(m.params, data, ablate=unit, cancel=progress.cancelled).bits_per_char - baseline
            progress.report(H, H)
            return CorpusScan(m.iteration, baseline, deltas, rank_descending(deltas))

        return cancellable(work)
