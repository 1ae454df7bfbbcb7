"""The one configuration object of a training run, and what each of its fields means.

Every hyperparameter is described once, here: its type, its range, its flag's
metavar, its help text and whether it may change during a run. The CLI's flags,
the set of changes a running trainer accepts and the app's hyperparameters form
are all derived from these descriptions, so a new hyperparameter is one field.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from .errors import ConfigError

DEFAULT_EVAL_EVERY = 500  # evaluation interval when a held-out part is asked for and no interval is given
# Beyond these the arrays would not fit any machine this runs on (Whh alone is H x H floats: 3.2 GB
# at 20,000; a window or a sample keeps (T, V) probabilities): a one-line refusal, not an allocation.
MAX_HIDDEN_SIZE = 20_000
MAX_WINDOW = 1_000_000  # characters in a training window
# A sample is drawn a character at a time (about 10 µs each: a second per 100,000) and kept with the
# session's last samples: a longer one would stall every sampling iteration and fill memory.
MAX_SAMPLE_LENGTH = 100_000


@dataclass(frozen=True)
class Setting:
    """What a Config field takes and how it is offered to the user."""

    kind: type  # int or float
    metavar: str  # placeholder in --help, e.g. "LR"
    help: str  # one phrase, shown by --help and the hyperparameters form
    adjustable: bool  # may change during a run (the others are fixed once training starts)
    minimum: float = 0  # smallest allowed value (for floats: see ``exclusive``)
    exclusive: bool = False  # the value must be above ``minimum``, not equal to it
    maximum: float | None = None  # largest allowed value, if any (exclusive for floats, inclusive for ints)

    def check(self, name: str, value: object) -> None:
        """Raise ConfigError when ``value`` is not allowed for field ``name``."""
        wanted = self.wanted()
        if self.kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{name} must be a whole number, got {value!r}", name, wanted)
            if self.maximum is not None and not self.minimum <= value <= self.maximum:
                raise ConfigError(f"{name} must be {wanted}, got {value}", name, wanted)
            if value < self.minimum:
                raise ConfigError(f"{name} must be at least {self.minimum:g}, got {value}", name, wanted)
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name} must be a number, got {value!r}", name, wanted)
        too_low = value <= self.minimum if self.exclusive else value < self.minimum
        too_high = self.maximum is not None and value >= self.maximum
        if not math.isfinite(value) or too_low or too_high:
            raise ConfigError(f"{name} must be {self._range()}, got {value}", name, wanted)

    def _range(self) -> str:
        if self.maximum is not None:
            return f"a number from {self.minimum:g} up to (not including) {self.maximum:g}"
        return f"a finite number above {self.minimum:g}" if self.exclusive else f"at least {self.minimum:g}"

    def wanted(self) -> str:
        """What to give instead of a bad value, as advice ("a positive number")."""
        if self.kind is int:
            return f"{self.minimum:g} or more" if self.maximum is None else f"a whole number from {self.minimum:g} to {self.maximum:,}"
        if self.maximum is not None:
            return f"a number from {self.minimum:g} to below {self.maximum:g}"
        return "a positive number" if self.exclusive and self.minimum == 0 else f"a number above {self.minimum:g}"


def _field(default: object, setting: Setting):
    return dataclasses.field(default=default, metadata={"setting": setting})


@dataclass(frozen=True)
class Config:
    """Hyperparameters of the char-RNN and of its training loop.

    Frozen: a change (for example a new learning rate while paused) makes a new
    Config with :meth:`replace`, which validates again.
    """

    hidden_size: int = _field(100, Setting(int, "H", "neurons in the tanh layer", False, minimum=1,
                                           maximum=MAX_HIDDEN_SIZE))
    seq_length: int = _field(25, Setting(int, "T", "characters per truncated-BPTT window", False, minimum=1,
                                         maximum=MAX_WINDOW))
    learning_rate: float = _field(0.1, Setting(float, "LR", "Adagrad step size", True, exclusive=True))
    clip: float = _field(5.0, Setting(float, "C", "gradient elements are clipped to ±clip", True, exclusive=True))
    seed: int = _field(0, Setting(int, "N", "seeds the weight initialisation and the sampler", False))
    sample_every: int = _field(100, Setting(int, "N", "iterations between samples (0 = never)", True))
    sample_length: int = _field(200, Setting(int, "N", "characters per sample", True, minimum=1,
                                             maximum=MAX_SAMPLE_LENGTH))
    temperature: float = _field(1.0, Setting(float, "TEMP", "sampling temperature", True, exclusive=True))
    val_frac: float = _field(0.0, Setting(float, "F", "fraction of the text, at its end, held out for evaluation", False,
                                          maximum=1.0))
    eval_every: int = _field(0, Setting(int, "N", f"iterations between evaluations, 0 = never ({DEFAULT_EVAL_EVERY} "
                                                  "when --val-frac is given)", True))

    def __post_init__(self) -> None:
        for name, setting in settings():
            setting.check(name, getattr(self, name))

    def replace(self, **changes: object) -> "Config":
        """Return a copy with some fields changed (validated like a new Config)."""
        unknown = sorted(set(changes) - set(field_names()))
        if unknown:
            raise ConfigError(f"unknown setting {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, object]:
        """The fields as a plain dict (for checkpoints and logs)."""
        return dataclasses.asdict(self)


def settings() -> tuple[tuple[str, Setting], ...]:
    """(field name, Setting) for every Config field, in declaration order."""
    return tuple((f.name, f.metadata["setting"]) for f in dataclasses.fields(Config))


def field_names() -> tuple[str, ...]:
    return tuple(name for name, _ in settings())


def adjustable_fields() -> tuple[str, ...]:
    """The fields that may change during a run (learning rate, clip, sampling)."""
    return tuple(name for name, s in settings() if s.adjustable)


def structural_fields() -> tuple[str, ...]:
    """The fields fixed once a run has started: a resumed run must keep them."""
    return tuple(name for name, s in settings() if not s.adjustable)


def with_default_eval_every(settings: dict[str, object]) -> dict[str, object]:
    """``settings`` with eval_every set to DEFAULT_EVAL_EVERY when a held-out part is asked for without one."""
    if settings.get("val_frac") and "eval_every" not in settings:
        return {**settings, "eval_every": DEFAULT_EVAL_EVERY}
    return settings
