"""Compact per-iteration history: growable NumPy arrays, no per-iteration objects."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import PARAM_NAMES

_NP = len(PARAM_NAMES)


@dataclass(frozen=True)
class Event:
    """Something that happened between iterations (a hyperparameter change, a new branch)."""

    iteration: int  # the first iteration the change applies to
    text: str  # e.g. "learning_rate 0.1 -> 0.05"


class History:
    """Loss, smooth loss and gradient norms of every iteration run so far.

    Arrays grow by doubling; the public properties are read-only views of the
    filled part. Row i is iteration i. Losses are float64; gradient norms are
    float32 (they are only drawn), 48 bytes per iteration in all.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self._n = 0
        self._loss = np.empty(capacity)
        self._smooth = np.empty(capacity)
        self._grad = np.empty((capacity, _NP), dtype=np.float32)
        self._clipped = np.empty((capacity, _NP), dtype=np.float32)
        self.events: list[Event] = []
        self._cuts: list[int] = []  # the length left by each truncation that removed rows, in order

    def __len__(self) -> int:
        return self._n

    def append(self, loss: float, smooth: float, grad_norms: np.ndarray, clipped_norms: np.ndarray) -> None:
        """Add one iteration's numbers."""
        if self._n == len(self._loss):
            self._grow()
        i = self._n
        self._loss[i] = loss
        self._smooth[i] = smooth
        self._grad[i] = grad_norms
        self._clipped[i] = clipped_norms
        self._n += 1

    def extend(self, loss, smooth, grad_norms, clipped_norms) -> None:
        """Add several iterations' rows at once (arrays of equal length)."""
        k = len(loss)
        while self._n + k > len(self._loss):
            self._grow()
        rows = slice(self._n, self._n + k)
        self._loss[rows], self._smooth[rows] = loss, smooth
        self._grad[rows], self._clipped[rows] = grad_norms, clipped_norms
        self._n += k

    def rows_from(self, start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Copies of rows ``start`` to the end: loss, smooth loss, raw and clipped gradient norms."""
        return tuple(arr[start : self._n].copy() for arr in (self._loss, self._smooth, self._grad, self._clipped))

    def truncate(self, n: int) -> None:
        """Forget iterations n and later (and events from n on)."""
        n = max(n, 0)
        if n < self._n:
            self._cuts.append(n)
        self._n = min(self._n, n)
        self.events = [e for e in self.events if e.iteration <= self._n]

    @property
    def generation(self) -> int:
        """How many times rows were removed: a copy made at another generation may hold rows that are gone."""
        return len(self._cuts)

    def changed_from(self, generation: int, length: int) -> int:
        """The first row a copy of the first ``length`` rows, taken at ``generation``, lacks or has wrong.

        Rows are only ever appended or cut from the end, so the copy is right up
        to the shortest length the history had since it was taken.
        """
        if not 0 <= generation <= len(self._cuts):
            return 0
        return min([length, self._n, *self._cuts[generation:]])

    def _grow(self) -> None:
        cap = 2 * len(self._loss)
        self._loss = np.resize(self._loss, cap)
        self._smooth = np.resize(self._smooth, cap)
        self._grad = np.resize(self._grad, (cap, _NP))
        self._clipped = np.resize(self._clipped, (cap, _NP))

    @staticmethod
    def _view(arr: np.ndarray) -> np.ndarray:
        view = arr.view()
        view.flags.writeable = False
        return view

    @property
    def loss(self) -> np.ndarray:
        """(n,) raw loss (sum over the window) per iteration."""
        return self._view(self._loss[: self._n])

    @property
    def smooth_loss(self) -> np.ndarray:
        """(n,) smooth loss after each iteration."""
        return self._view(self._smooth[: self._n])

    @property
    def grad_norms(self) -> np.ndarray:
        """(n, 5) raw gradient L2 norms, columns in PARAM_NAMES order."""
        return self._view(self._grad[: self._n])

    @property
    def clipped_norms(self) -> np.ndarray:
        """(n, 5) gradient L2 norms after clipping."""
        return self._view(self._clipped[: self._n])

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (capacity, not just the filled part)."""
        return self._loss.nbytes + self._smooth.nbytes + self._grad.nbytes + self._clipped.nbytes

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Copies of the filled parts, for a checkpoint."""
        return {
            "history_loss": self.loss.copy(),
            "history_smooth": self.smooth_loss.copy(),
            "history_grad": self.grad_norms.copy(),
            "history_clipped": self.clipped_norms.copy(),
            "history_event_iter": np.array([e.iteration for e in self.events], dtype=np.int64),
            "history_event_text": np.array([e.text for e in self.events], dtype=np.str_),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "History":
        """Rebuild from :meth:`to_arrays` output."""
        loss = np.asarray(arrays["history_loss"], dtype=np.float64)
        hist = cls(capacity=max(1024, len(loss)))
        n = len(loss)
        hist._loss[:n] = loss
        hist._smooth[:n] = arrays["history_smooth"]
        hist._grad[:n] = arrays["history_grad"]
        hist._clipped[:n] = arrays["history_clipped"]
        hist._n = n
        iters = arrays.get("history_event_iter", np.zeros(0, dtype=np.int64))
        texts = arrays.get("history_event_text", np.zeros(0, dtype=np.str_))
        hist.events = [Event(int(i), str(t)) for i, t in zip(iters, texts)]
        return hist
