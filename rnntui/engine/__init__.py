"""rnntui's engine: the minimal char-RNN, pure NumPy (plus compiled inner loops).

Public API::

    from rnntui.engine import Config, Corpus, Trainer, open_session
    trainer = Trainer(Corpus.from_path("input.txt"), Config(hidden_size=100))
    record = trainer.step()          # immutable StepRecord
    text = trainer.sample(200)       # never changes training

    session = open_session(corpus, {"hidden_size": 64}, resume=None, breakpoints=["nan"])
    result = session.run(1000, should_stop=lambda: False)   # breakpoints, samples, time travel
    session.save("run.npz")

This package imports no UI library.
"""

from .breakpoints import VALID_FORMS, Breakpoint, BreakpointError, BreakpointSet, parse_breakpoint
from .checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from .config import Config, adjustable_fields, settings, structural_fields
from .corpus import Corpus
from .errors import CheckpointError, ConfigError, CorpusError, RnntuiError
from .evaluation import Evaluation, evaluate
from .gradcheck import GradCheckResult, gradcheck
from .history import Event, History
from .model import PARAM_NAMES, Layout, Pass, loss_and_grads
from .record import StepRecord
from .session import RunEnd, RunResult, RunState, Sample, Saved, Session, open_session
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
    "adjustable_fields",
    "settings",
    "structural_fields",
    "ConfigError",
    "Corpus",
    "CorpusError",
    "Evaluation",
    "Event",
    "evaluate",
    "GradCheckResult",
    "History",
    "Layout",
    "Pass",
    "RnntuiError",
    "RunEnd",
    "RunResult",
    "RunState",
    "Sample",
    "Saved",
    "Session",
    "open_session",
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
