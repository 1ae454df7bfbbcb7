"""Long work a front-end starts through a Controller (see control.py): each runs in a
thread beside training, on copies of what it needs taken between two steps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .analysis import Analysis, analyze
from .control import JobCancelled, JobProgress
from .corpus_pass import PassCancelled
from .evaluation import Evaluation, EvaluationReport, evaluate, evaluation_report
from .features import FEATURE_NAMES
from .gradcheck import SAMPLES, SEED, STEP, WindowCheck, check_window, take_window
from .session import Session
from .units import TOP_K


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
        trainer = session.trainer
        params = {name: value.copy() for name, value in trainer.params.items()}
        corpus, iteration = trainer.training_corpus, trainer.iteration

        def work(progress: JobProgress) -> Analysis:
            try:
                analysis = analyze(params, corpus, self.features, self.units, self.top_k,
                                   progress=progress.report, cancel=progress.cancelled, iteration=iteration)
            except PassCancelled:
                raise JobCancelled from None
            return analysis.detached()

        return work


@dataclass(frozen=True)
class EvaluationJob:
    """An on-demand evaluation of the current model; when done it joins the session's history."""

    kind: str = "evaluation"

    def prepare(self, session: Session) -> Callable[[JobProgress], Evaluation]:
        trainer = session.trainer
        params = {name: value.copy() for name, value in trainer.params.items()}
        training, held_out, iteration = trainer.training_corpus, trainer.held_out_corpus, trainer.iteration

        def work(progress: JobProgress) -> Evaluation:
            try:
                return evaluate(params, training, held_out, iteration, on_demand=True,
                                progress=progress.report, cancel=progress.cancelled)
            except PassCancelled:
                raise JobCancelled from None

        return work

    def finish(self, session: Session, evaluation: Evaluation) -> None:
        session.add_evaluation(evaluation)


@dataclass(frozen=True)
class EvaluationReportJob:
    """Evaluation, k-gram baselines and the error breakdown of the current model (the evaluation screen)."""

    kind: str = "evaluation report"

    def prepare(self, session: Session) -> Callable[[JobProgress], EvaluationReport]:
        trainer = session.trainer
        params = {name: value.copy() for name, value in trainer.params.items()}
        training, held_out, iteration = trainer.training_corpus, trainer.held_out_corpus, trainer.iteration

        def work(progress: JobProgress) -> EvaluationReport:
            try:
                return evaluation_report(params, training, held_out, iteration,
                                         progress=progress.report, cancel=progress.cancelled)
            except PassCancelled:
                raise JobCancelled from None

        return work
