"""Central-difference gradient check of loss_and_grads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import PARAM_NAMES, Pass, loss_and_grads

TOLERANCE = 1e-5  # the contract's bound on the relative error of every checked element
STEP = 1e-5  # the contract's central-difference step
SAMPLES = 10  # elements checked per parameter
SEED = 0  # which elements are checked: the same ones on every run, for a given shape


@dataclass(frozen=True)
class GradCheckResult:
    """Relative errors |a - n| / max(|a| + |n|, 1e-8) of one parameter's checked elements.

    ``noise`` is the rounding floor of the central difference itself,
    4 * eps * |loss| / step: for gradient elements near zero the relative error
    can be large although |a - n| is below what the difference can resolve.
    """

    name: str  # parameter name
    errors: np.ndarray  # (k,) relative error per checked element
    analytic: np.ndarray  # (k,) backprop gradient
    numeric: np.ndarray  # (k,) central difference
    noise: float = 0.0  # absolute differences up to this are rounding noise

    @property
    def max_error(self) -> float:
        return float(self.errors.max()) if self.errors.size else 0.0

    @property
    def median_error(self) -> float:
        return float(np.median(self.errors)) if self.errors.size else 0.0

    def element_passed(self, tolerance: float = TOLERANCE) -> np.ndarray:
        """(k,) True where the relative error is below ``tolerance`` or the difference is rounding noise."""
        return (self.errors < tolerance) | (np.abs(self.analytic - self.numeric) <= self.noise)

    def passed(self, tolerance: float = TOLERANCE) -> bool:
        """Every checked element passes (see element_passed)."""
        return bool(self.element_passed(tolerance).all())


def gradcheck(
    params: dict[str, np.ndarray],
    inputs,
    targets,
    hprev: np.ndarray,
    samples: int = SAMPLES,
    step: float = STEP,
    seed: int = SEED,
    base: Pass | None = None,
) -> dict[str, GradCheckResult]:
    """Compare backprop gradients with central differences on random elements.

    For each parameter, ``samples`` random elements are nudged by +/- ``step``
    (on a private copy; ``params`` is not touched) and (L+ - L-) / (2 step) is
    compared with the raw (unclipped) analytic gradient. ``base`` is
    ``loss_and_grads`` of these very arguments when the caller has it already.
    """
    work = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    if base is None:
        base = loss_and_grads(work, inputs, targets, hprev)
    analytic = base.grads
    noise = 4 * np.finfo(np.float64).eps * abs(base.loss) / step
    rng = np.random.default_rng(seed)
    results = {}
    for name in PARAM_NAMES:
        flat = work[name].reshape(-1)
        picks = rng.integers(0, flat.size, size=samples)
        a_vals, n_vals = [], []
        for i in picks:
            old = flat[i]
            flat[i] = old + step
            plus = loss_and_grads(work, inputs, targets, hprev).loss
            flat[i] = old - step
            minus = loss_and_grads(work, inputs, targets, hprev).loss
            flat[i] = old
            n_vals.append((plus - minus) / (2 * step))
            a_vals.append(analytic[name].reshape(-1)[i])
        a, n = np.array(a_vals), np.array(n_vals)
        errors = np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), 1e-8)
        results[name] = GradCheckResult(name, errors, a, n, noise)
    return results


@dataclass(frozen=True, eq=False)
class CheckedWindow:
    """Private copies of what a check of the next window needs, taken before it runs (maybe in a thread)."""

    iteration: int  # the iteration that will train on this window
    position: int  # where the window starts in the text
    inputs: np.ndarray  # (T,) character indices
    targets: np.ndarray  # (T,)
    hprev: np.ndarray  # (H,)
    params: dict[str, np.ndarray]  # copies of the current parameters
    clip: float  # the clip value in force


@dataclass(frozen=True, eq=False)
class WindowCheck:
    """A gradient check of one window: per-parameter results and what clipping will change."""

    iteration: int
    position: int
    window_length: int  # T
    loss: float  # the window's loss with the checked parameters
    clip: float
    step: float
    samples: int  # elements checked per parameter
    results: dict[str, GradCheckResult]
    shapes: dict[str, tuple[int, ...]]
    clipped: dict[str, int]  # raw gradient elements with |g| > clip, per parameter

    @property
    def noise(self) -> float:
        """The central difference's rounding floor for this window (the same for every parameter)."""
        return next(iter(self.results.values())).noise

    @property
    def failing(self) -> list[str]:
        """Parameters with at least one element off by more than the tolerance and the noise."""
        return [name for name, result in self.results.items() if not result.passed(TOLERANCE)]


def take_window(trainer) -> CheckedWindow:
    """Copy the window the next step of ``trainer`` trains on (the reset rule applied) and its parameters."""
    position, inputs, targets, hprev = trainer.next_window()
    params = {name: np.array(value) for name, value in trainer.params.items()}
    return CheckedWindow(trainer.iteration, position, inputs, targets, hprev, params, trainer.config.clip)


def check_window(window: CheckedWindow, samples: int = SAMPLES, step: float = STEP, seed: int = SEED) -> WindowCheck:
    """Run :func:`gradcheck` on ``window`` and count the raw gradient elements clipping will change."""
    params = window.params
    raw = loss_and_grads(params, window.inputs, window.targets, window.hprev)
    results = gradcheck(params, window.inputs, window.targets, window.hprev, samples=samples, step=step, seed=seed, base=raw)
    return WindowCheck(
        iteration=window.iteration,
        position=window.position,
        window_length=len(window.inputs),
        loss=float(raw.loss),
        clip=window.clip,
        step=step,
        samples=samples,
        results=results,
        shapes={name: params[name].shape for name in PARAM_NAMES},
        clipped={name: int(np.count_nonzero(np.abs(raw.grads[name]) > window.clip)) for name in PARAM_NAMES},
    )
