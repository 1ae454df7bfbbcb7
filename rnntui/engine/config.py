"""The one configuration object of a training run."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from .errors import ConfigError


@dataclass(frozen=True)
class Config:
    """Hyperparameters of the char-RNN and of its training loop.

    Frozen: a change (for example a new learning rate while paused) makes a new
    Config with :func:`dataclasses.replace`, which validates again.
    """

    hidden_size: int = 100  # H, neurons in the single tanh layer
    seq_length: int = 25  # T, characters per truncated-BPTT window
    learning_rate: float = 0.1  # Adagrad step size
    clip: float = 5.0  # every gradient element is clipped to [-clip, clip]
    seed: int = 0  # seeds the weight initialisation (and the sampler)
    sample_every: int = 100  # iterations between automatic samples (0 = never)
    sample_length: int = 200  # characters per sample
    temperature: float = 1.0  # sampling softmax temperature (1 = the model's own)

    def __post_init__(self) -> None:
        _check_int("hidden_size", self.hidden_size, minimum=1)
        _check_int("seq_length", self.seq_length, minimum=1)
        _check_positive("learning_rate", self.learning_rate)
        _check_positive("clip", self.clip)
        _check_int("seed", self.seed, minimum=0)
        _check_int("sample_every", self.sample_every, minimum=0)
        _check_int("sample_length", self.sample_length, minimum=1)
        _check_positive("temperature", self.temperature)

    def replace(self, **changes: object) -> "Config":
        """Return a copy with some fields changed (validated like a new Config)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, object]:
        """The fields as a plain dict (for checkpoints and logs)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, object]) -> "Config":
        """Build a Config from a dict, ignoring unknown keys."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, got {value!r}; set {_flag(name)} to an integer")
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}; set {_flag(name)} to {minimum} or more")


def _check_positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r}; set {_flag(name)} to a positive number")
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} must be a finite number above 0, got {value}; set {_flag(name)} to a positive number")
