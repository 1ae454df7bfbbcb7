"""How good the model is: bits per character on the training text and on held-out text.

The smooth loss averages window losses under ever-changing weights; an
evaluation runs one fixed model over a whole text instead (the corpus pass,
from h = 0, no truncation, no update) and reports the mean over t of
-ln p_t(x_{t+1}) in nats and in bits per character. The training part and the
held-out part (``--val-frac``) are each evaluated as a sequence of their own.
Evaluating never changes training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from .breakdown import Breakdown, BreakdownAccumulator, top_predictions
from .corpus import Corpus
from .corpus_pass import LN2, Chunk, run_pass
from .ngram import fit_ngrams
from .record import FrozenMap

EVAL_COLUMNS = ("iteration", "train_nats", "val_nats", "on_demand")  # how evaluations are stored in a checkpoint


@dataclass(frozen=True)
class Evaluation:
    """One model (after ``iteration`` updates) run over the training part and the held-out part."""

    iteration: int  # updates the model had: the model iteration ``iteration``'s forward pass uses
    train_nats: float  # mean -ln p per character over the training part
    val_nats: float | None  # the same over the held-out part, None without one
    on_demand: bool = False  # asked for by the user rather than every eval_every iterations

    @property
    def train_bpc(self) -> float:
        return self.train_nats / LN2

    @property
    def val_bpc(self) -> float | None:
        return None if self.val_nats is None else self.val_nats / LN2

    @property
    def gap(self) -> float | None:
        """Held-out bpc minus training bpc: how much better the model does on text it trained on."""
        return None if self.val_nats is None else (self.val_nats - self.train_nats) / LN2

    def describe(self) -> str:
        """``eval iter 500: train 2.143 bpc, held-out 2.301 bpc`` (the headless line)."""
        held = "" if self.val_bpc is None else f", held-out {self.val_bpc:.3f} bpc"
        return f"eval iter {self.iteration}: train {self.train_bpc:.3f} bpc{held}"


def evaluate(
    params: Mapping[str, np.ndarray],
    training: Corpus,
    held_out: Corpus | None,
    iteration: int,
    on_demand: bool = False,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Evaluation:
    """Run ``params`` over each part from h = 0 (PassCancelled when ``cancel()`` says so)."""
    total = len(training) + (len(held_out) if held_out is not None else 0)

    def part_progress(offset: int):
        if progress is None:
            return None
        return lambda done, _: progress(offset + done, total)

    train = run_pass(params, training.data, progress=part_progress(0), cancel=cancel)
    val = None
    if held_out is not None:
        val = run_pass(params, held_out.data, progress=part_progress(len(training)), cancel=cancel)
    return Evaluation(iteration, train.nats_per_char, None if val is None else val.nats_per_char, on_demand)


def to_array(evaluations) -> np.ndarray:
    """(n, 4) float64 rows (see EVAL_COLUMNS) for a checkpoint; NaN where there is no held-out figure."""
    rows = [(e.iteration, e.train_nats, math.nan if e.val_nats is None else e.val_nats, float(e.on_demand))
            for e in evaluations]
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(EVAL_COLUMNS))


def from_array(array: np.ndarray, has_held_out: bool, latest: int | None = None,
               diverged: bool = False) -> list[Evaluation]:
    """Evaluations from :func:`to_array`'s rows; ValueError, naming the row, for rows no run makes.

    Rows go by iteration, a scheduled evaluation before an on-demand one, at
    most one of each per iteration (how a Session keeps them). A loss is a
    mean of -ln p, never negative; NaN in the held-out column means no
    held-out figure. ``latest``: the last iteration an evaluation can have
    (a checkpoint's iteration). ``diverged``: losses may be NaN or infinite
    (a kept branch's model may have diverged); otherwise they are finite.
    """
    array = np.asarray(array)
    if array.dtype.kind != "f" or array.ndim != 2 or array.shape[1] != len(EVAL_COLUMNS):
        raise ValueError(f"evaluations must be an (n, {len(EVAL_COLUMNS)}) float array, got {array.dtype} {array.shape}")
    out: list[Evaluation] = []
    for row, (iteration, train, val, on_demand) in enumerate(array.tolist()):
        problem = _row_problem(iteration, train, val, on_demand, latest, diverged)
        if problem is None and out and (iteration, on_demand) <= (out[-1].iteration, float(out[-1].on_demand)):
            problem = "out of order (rows go by iteration, a scheduled evaluation before an on-demand one, one of each)"
        if problem is not None:
            raise ValueError(f"evaluation row {row}: {problem}")
        out.append(Evaluation(int(iteration), train, val if has_held_out and math.isfinite(val) else None, bool(on_demand)))
    return out


def _row_problem(iteration: float, train: float, val: float, on_demand: float, latest: int | None,
                 diverged: bool) -> str | None:
    """What makes one stored evaluation row impossible, in words, or None."""
    if not (math.isfinite(iteration) and iteration >= 0 and iteration == int(iteration)):
        return f"iteration {iteration} is not a whole number of at least 0"
    if latest is not None and iteration > latest:
        return f"iteration {int(iteration)} lies beyond the checkpoint's iteration {latest}"
    if on_demand not in (0.0, 1.0):
        return f"on-demand flag {on_demand} is neither 0 nor 1"
    for what, nats, absent in (("training", train, False), ("held-out", val, math.isnan(val))):
        if nats < 0:
            return f"{what} loss {nats} nats is negative"
        if not (diverged or absent or math.isfinite(nats)):  # NaN held-out: the run had no held-out part
            return f"{what} loss {nats} nats is not finite"
    return None


# --- the full report: evaluation, n-gram baselines, error breakdown -------------------------


@dataclass(frozen=True, eq=False)
class EvaluationReport:
    """What ``rnntui eval`` and the evaluation screen show."""

    evaluation: Evaluation
    baselines: Mapping[int, float]  # k -> bits per character of the k-gram model (k = 1..5) on ``scored``
    in_sample: bool  # no held-out part: the baselines and the breakdown score the training text itself
    scored_chars: int  # characters of the text the baselines and the breakdown score
    breakdown: Breakdown  # the RNN's errors on that text, by category

    def to_dict(self) -> dict:
        """A JSON-ready dict: iteration, train_bpc, val_bpc (null without a held-out part), baselines, errors."""
        e = self.evaluation
        return {
            "iteration": e.iteration,
            "train_bpc": _finite(e.train_bpc),
            "val_bpc": None if e.val_bpc is None else _finite(e.val_bpc),
            "baselines": {str(k): _finite(v) for k, v in self.baselines.items()},
            "baselines_in_sample": self.in_sample,
            "errors": self.breakdown.to_dict(),
        }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def evaluation_report(
    params: Mapping[str, np.ndarray],
    training: Corpus,
    held_out: Corpus | None,
    iteration: int,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> EvaluationReport:
    """Evaluate, fit the k-gram baselines on the training part, and break down the RNN's errors.

    The baselines and the breakdown score the held-out part, or the training
    part itself (in sample) when there is none. PassCancelled on cancel.
    """
    scored = held_out if held_out is not None else training
    total = len(training) + (len(held_out) if held_out is not None else 0)
    report = progress or (lambda done, total: None)
    train = run_pass(params, training.data, progress=lambda done, _: report(done, total), cancel=cancel)
    ngrams = fit_ngrams(training.data, training.vocab_size)
    accumulator = BreakdownAccumulator(scored.data, scored.vocab, ngrams)

    def feed(chunk: Chunk) -> None:
        top_index, top_p = top_predictions(chunk.probs[: len(chunk.log_probs)])
        accumulator.add(chunk.start, np.exp(chunk.log_probs), top_index, top_p)

    offset = len(training) if held_out is not None else 0  # without a held-out part the training text is scored twice
    result = run_pass(params, scored.data, [feed], with_probs=True, cancel=cancel,
                      progress=lambda done, _: report(min(offset + done, total), total))
    val_nats = result.nats_per_char if held_out is not None else None
    evaluation = Evaluation(iteration, train.nats_per_char, val_nats, on_demand=True)
    baselines = dict(zip(range(1, ngrams.max_order + 1), ngrams.bpc(scored.data)))
    return EvaluationReport(evaluation, FrozenMap(baselines), held_out is None, len(scored),
                            accumulator.result())
