"""The immutable record each training step returns; the UI reads only these."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np

from .model import PARAM_NAMES


def frozen(arr: np.ndarray) -> np.ndarray:
    """Mark an array read-only and return it."""
    arr.setflags(write=False)  # (faster than assigning arr.flags.writeable)
    return arr


class FrozenMap(Mapping):
    """A read-only mapping that can travel to another process (a MappingProxyType cannot be pickled)."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping | Iterable = ()) -> None:
        self._items = dict(items)

    def __getitem__(self, key):
        return self._items[key]

    def __iter__(self):
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"FrozenMap({self._items!r})"

    def __reduce__(self):
        return (FrozenMap, (self._items,))


def frozen_map(values: np.ndarray) -> Mapping[str, float]:
    """A read-only name -> float mapping of per-parameter values given in PARAM_NAMES order."""
    return FrozenMap(zip(PARAM_NAMES, values.tolist()))


@dataclass(frozen=True, eq=False)
class StepRecord:
    """Everything one training iteration computed, frozen (arrays are read-only).

    Shapes: T = the effective window length, H = hidden size, V = vocabulary size.
    Gradient statistics are per parameter, keyed like ``Trainer.params``.
    """

    iteration: int  # n of this iteration (the first is 0)
    position: int  # data pointer p where the window starts
    reset: bool  # hprev was zeroed and p set to 0 before this window
    seq_length: int  # effective T of this window
    inputs: np.ndarray  # (T,) indices of data[p : p+T]
    targets: np.ndarray  # (T,) indices of data[p+1 : p+T+1]
    hprev: np.ndarray  # (H,) hidden state carried into the window
    hs: np.ndarray  # (T, H) hidden states h_t
    ys: np.ndarray  # (T, V) logits y_t = Why h_t + by
    ps: np.ndarray  # (T, V) softmax probabilities p_t
    wxh_x: np.ndarray  # (T, H) Wxh x_t (the input's column of Wxh)
    whh_h: np.ndarray  # (T, H) Whh h_{t-1}
    bh: np.ndarray  # (H,) hidden bias used in this window
    losses: np.ndarray  # (T,) -ln p_t[target_t]
    dh_out: np.ndarray  # (T, H) dL/dh_t coming from the output at t
    dh: np.ndarray  # (T, H) total dL/dh_t (output part + flow from t+1)
    dhraw: np.ndarray  # (T, H) dL/d(pre-activation_t)
    dh_norms: np.ndarray  # (T,) ||dL/dh_t||, gradient flow through time
    loss: float  # sum of losses over the window
    smooth_loss: float  # 0.999 * previous + 0.001 * loss
    smooth_loss_before: float  # smooth loss before this iteration (for spike detection)
    grad_norms: Mapping[str, float]  # L2 norm of the raw gradient
    clipped_norms: Mapping[str, float]  # L2 norm after clipping
    clip_fractions: Mapping[str, float]  # fraction of elements clipped
    update_ratios: Mapping[str, float]  # ||update|| / ||weights before update||
    learning_rate: float  # learning rate used for this update
    clip: float  # clip value used for this update
    nonfinite: str | None  # first non-finite value found (e.g. "loss", "grad Whh"), or None
    sample: str | None = None  # text sampled before this step (every sample_every), or None
    sample_temperature: float | None = None  # temperature of ``sample``

    def __reduce__(self):
        # for sending to another process: the arrays are frozen again on arrival
        return (_rebuild_record, ({f.name: getattr(self, f.name) for f in dataclasses.fields(self)},))

    @property
    def loss_per_char(self) -> float:
        """Loss divided by the window length."""
        return self.loss / self.seq_length

    @property
    def clipping_engaged(self) -> bool:
        """True when any gradient element was clipped."""
        return any(f > 0 for f in self.clip_fractions.values())

    @property
    def target_probs(self) -> np.ndarray:
        """(T,) probability the model gave each target."""
        return self.ps[np.arange(self.seq_length), self.targets]

    @property
    def dys(self) -> np.ndarray:
        """(T, V) dL/dy_t = p_t minus 1 at the target."""
        dy = self.ps.copy()
        dy[np.arange(self.seq_length), self.targets] -= 1.0
        return dy

    def step_contributions(self, t: int) -> dict[str, float]:
        """Frobenius norm of what timestep ``t`` added to each gradient.

        Each term is an outer product (or a vector), so its norm is the product
        of the norms of its factors.
        """
        dy_norm = float(np.linalg.norm(self.dys[t]))
        raw_norm = float(np.linalg.norm(self.dhraw[t]))
        h_prev_t = self.hprev if t == 0 else self.hs[t - 1]
        return {
            "Wxh": raw_norm,  # dhraw_t x_t^T with x_t one-hot
            "Whh": raw_norm * float(np.linalg.norm(h_prev_t)),
            "Why": dy_norm * float(np.linalg.norm(self.hs[t])),
            "bh": raw_norm,
            "by": dy_norm,
        }


def _rebuild_record(values: dict) -> StepRecord:
    """A StepRecord from :meth:`StepRecord.__reduce__`'s values, its arrays read-only."""
    for value in values.values():
        if isinstance(value, np.ndarray):
            frozen(value)
    return StepRecord(**values)
