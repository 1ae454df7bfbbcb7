"""rnntui's engine: the minimal char-RNN, pure NumPy (plus compiled inner loops).

Public API::

    from rnntui.engine import Config, Corpus, Trainer, save_checkpoint, load_checkpoint
    trainer = Trainer(Corpus.from_path("input.txt"), Config(hidden_size=100))
    record = trainer.step()          # immutable StepRecord
    text = trainer.sample(200)       # never changes training
    save_checkpoint(trainer, "run.npz"); load_checkpoint("run.npz", corpus)

This package imports no UI library.
"""

from .breakpoints import VALID_FORMS, Breakpoint, BreakpointError, BreakpointSet, parse_breakpoint
from .checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from .config import Config
from .corpus import Corpus
from .errors import CheckpointError, ConfigError, CorpusError, RnntuiError
from .gradcheck import GradCheckResult, gradcheck
from .history import Event, History
from .model import PARAM_NAMES, Layout, Pass, loss_and_grads
from .record import StepRecord
from .threads import use_one_blas_thread
from .timeline import Timeline, TimelineError
from .trainer import Trainer, TrainerState, warm_up

__all__ = [
    "VALID_FORMS",
    "Breakpoint",
    "BreakpointError",
    "BreakpointSet",
    "Timeline",
    "TimelineError",
    "parse_breakpoint",
    "PARAM_NAMES",
    "CheckpointError",
    "Config",
    "ConfigError",
    "Corpus",
    "CorpusError",
    "Event",
    "GradCheckResult",
    "History",
    "Layout",
    "Pass",
    "RnntuiError",
    "StepRecord",
    "Trainer",
    "TrainerState",
    "gradcheck",
    "load_checkpoint",
    "loss_and_grads",
    "read_checkpoint",
    "save_checkpoint",
    "use_one_blas_thread",
    "warm_up",
]
