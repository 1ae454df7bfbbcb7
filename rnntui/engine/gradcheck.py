"""Central-difference gradient check of loss_and_grads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import PARAM_NAMES, Pass, loss_and_grads


TOLERANCE = 1e-5  # the contract's bound on the relative error of every checked element


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
    samples: int = 10,
    step: float = 1e-5,
    seed: int = 0,
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
