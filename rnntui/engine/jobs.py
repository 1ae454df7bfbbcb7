"""Long work a front-end starts through a Controller (see control.py): each runs in a
thread beside training, on copies of what it needs taken between two steps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .control import JobProgress
from .gradcheck import SAMPLES, SEED, STEP, WindowCheck, check_window, take_window
from .session import Session


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
