"""Checkpoints: one .npz written atomically, read back with allow_pickle=False and checked array by array.

A checkpoint is only ever written from a finite training state, and a file
is only accepted if every array has the kind, shape and values a run can
produce: anything else is refused at load with one line naming what is
wrong, rather than failing (or silently training on garbage) later.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import Config, field_names
from .corpus import Corpus
from .errors import CheckpointError, ConfigError
from .files import OutputError, write_atomically, write_rescue
from .history import History
from .model import PARAM_NAMES, Layout
from .trainer import Trainer, TrainerState

FORMAT = "rnntui-checkpoint"
VERSION = 1
SUFFIX = ".npz"  # np.savez writes a zip archive of .npy files
MAX_CODE_POINT = 0x10FFFF  # the vocabulary holds Unicode code points
FINGERPRINT_DIGITS = 64  # a corpus fingerprint is a sha256 in lowercase hex
MIN_CORPUS_LENGTH = 2  # a corpus needs at least 2 characters (one input and its next character)
NORM_ROUNDING = 1e-6  # relative: raw and clipped norms are summed apart, so equal ones may differ by rounding


class NonFiniteStateError(CheckpointError):
    """The trainer's state holds NaN or infinity, so nothing was saved.

    ``nonfinite`` says what is not finite (e.g. "the parameters hold NaN
    (Whh)"), ``path`` where the save was asked for. The caller decides what
    to save instead (an earlier, finite state) or keeps the file it has.
    """

    def __init__(self, path, nonfinite: str) -> None:
        problem = f"not saving {path}: {nonfinite}, so the run has diverged"
        hint = "save an iteration before the divergence"
        super().__init__(f"{problem}; {hint}")
        self.problem, self.hint = problem, hint  # the parts, as RnntuiError keeps them
        self.path = path
        self.nonfinite = nonfinite

    def __reduce__(self):
        return (self.__class__, (self.path, self.nonfinite))


@dataclass(frozen=True)
class _Field:
    """What one stored array must be: its description in messages, dtype kinds and number of dimensions."""

    what: str
    kinds: str  # NumPy dtype kinds allowed: f real float, i/u integer, U text
    ndim: int


_FIELDS = {
    "format": _Field("the format name", "U", 0),
    "version": _Field("the format version", "iu", 0),
    "params": _Field("the parameters", "f", 1),
    "memory": _Field("the Adagrad memory", "f", 1),
    "hprev": _Field("the carried hidden state", "f", 1),
    "position": _Field("the data position", "iu", 0),
    "iteration": _Field("the iteration count", "iu", 0),
    "smooth_loss": _Field("the smooth loss", "f", 0),
    "config": _Field("the configuration", "U", 0),
    "vocab": _Field("the vocabulary", "iu", 1),
    "fingerprint": _Field("the corpus fingerprint", "U", 0),
    "corpus_name": _Field("the corpus name", "U", 0),
    "corpus_length": _Field("the corpus length", "iu", 0),
    "history_loss": _Field("the loss history", "f", 1),
    "history_smooth": _Field("the smooth-loss history", "f", 1),
    "history_grad": _Field("the gradient-norm history", "f", 2),
    "history_clipped": _Field("the clipped-norm history", "f", 2),
    "history_event_iter": _Field("the event iterations", "iu", 1),
    "history_event_text": _Field("the event texts", "U", 1),
}

REQUIRED = ("params", "memory", "hprev", "position", "iteration", "smooth_loss", "config", "vocab",
            "fingerprint", "corpus_name", "corpus_length",
            "history_loss", "history_smooth", "history_grad", "history_clipped")
_NORM_HISTORIES = ("history_grad", "history_clipped")  # (n, 5) norms: may overflow to +inf, never NaN
_LOSS_HISTORIES = ("history_loss", "history_smooth")  # (n,) must be finite, like the smooth loss


# --- what is not finite ------------------------------------------------------------------


def _nonfinite_words(values: np.ndarray) -> str:
    """"NaN", "infinity" or "NaN and infinity": what non-finite values ``values`` holds."""
    has_nan, has_inf = bool(np.isnan(values).any()), bool(np.isinf(values).any())
    return " and ".join(word for word, present in (("NaN", has_nan), ("infinity", has_inf)) if present)


def _flat_problem(subject: str, flat: np.ndarray, layout: Layout) -> str | None:
    """'the parameters hold NaN (Whh)' when some of the named parts of ``flat`` are not finite, else None."""
    views = layout.views(flat)
    bad = [name for name in PARAM_NAMES if not np.isfinite(views[name]).all()]
    if not bad:
        return None
    return f"{subject} {_nonfinite_words(flat[~np.isfinite(flat)])} ({', '.join(bad)})"


def _state_problem(params: np.ndarray, memory: np.ndarray, hprev: np.ndarray, smooth_loss: float,
                   layout: Layout) -> str | None:
    """The first part of a training state that is not finite, in words, or None when all is finite."""
    for subject, flat in (("the parameters hold", params), ("the Adagrad memory holds", memory)):
        problem = _flat_problem(subject, flat, layout)
        if problem:
            return problem
    if not np.isfinite(hprev).all():
        return f"the carried hidden state holds {_nonfinite_words(hprev[~np.isfinite(hprev)])}"
    if not np.isfinite(smooth_loss):
        return f"the smooth loss is {'NaN' if np.isnan(smooth_loss) else 'infinite'}"
    return None


# --- saving --------------------------------------------------------------------------------


def checkpoint_arrays(trainer: Trainer, extra: dict[str, np.ndarray] | None = None, path="checkpoint") -> dict[str, np.ndarray]:
    """Every array a checkpoint of ``trainer`` holds; raises NonFiniteStateError for a non-finite state.

    ``extra`` adds named arrays (for example breakpoints) under keys
    starting with ``extra_``. ``path`` only names the file in the message.
    """
    state = trainer.state()
    problem = _state_problem(state.params, state.memory, state.hprev, state.smooth_loss, trainer.layout)
    if problem:
        raise NonFiniteStateError(path, problem)
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT),
        "version": np.array(VERSION),
        "params": state.params,
        "memory": state.memory,
        "hprev": state.hprev,
        "position": np.array(state.position, dtype=np.int64),
        "iteration": np.array(state.iteration, dtype=np.int64),
        "smooth_loss": np.array(state.smooth_loss, dtype=np.float64),
        "config": np.array(json.dumps(state.config.to_dict())),
        "vocab": np.array([ord(c) for c in trainer.vocab], dtype=np.int64),
        "fingerprint": np.array(trainer.corpus.fingerprint),
        "corpus_name": np.array(trainer.corpus.name),
        "corpus_length": np.array(len(trainer.corpus), dtype=np.int64),
    }
    arrays.update(trainer.history.to_arrays())
    for key, value in (extra or {}).items():
        arrays[f"extra_{key}"] = np.asarray(value)
    return arrays


def _npz_writer(arrays: dict[str, np.ndarray]):
    return lambda fh: np.savez(fh, **arrays)


def save_checkpoint(trainer: Trainer, path, extra: dict[str, np.ndarray] | None = None) -> Path:
    """Write ``trainer``'s full state to ``path`` (.npz) atomically; return ``path``.

    The data go to a temporary file beside the final file (through symbolic
    links), which is synced and then renamed over it: a crash leaves either
    the old file or the new one, never half of one. Raises
    NonFiniteStateError (nothing written) for a state holding NaN or
    infinity, and OutputError when the file cannot be written.
    """
    arrays = checkpoint_arrays(trainer, extra, path)
    return write_atomically(path, _npz_writer(arrays), what="checkpoint")


def save_checkpoint_with_fallback(trainer: Trainer, path, extra: dict[str, np.ndarray] | None = None) -> tuple[Path, str | None]:
    """Save like :func:`save_checkpoint`; if ``path`` cannot be written, save a rescue copy instead.

    Returns ``(written_path, problem)``: ``(path, None)`` when ``path`` was
    written, else the new rescue file (``<name>.rescue-<timestamp>.npz``
    beside the target, else in the home folder, else in the temporary
    folder; never overwriting a file) and the one-line reason ``path``
    failed (without advice: e.g. "cannot write run.npz (No space left on
    device)"). Raises NonFiniteStateError for a non-finite state, and
    OutputError only when no rescue folder takes the file either.
    """
    writer = _npz_writer(checkpoint_arrays(trainer, extra, path))
    try:
        return write_atomically(path, writer, what="checkpoint"), None
    except OutputError as err:
        problem = err.problem  # without the advice: the rescue has already acted on it
    return write_rescue(path, writer, suffix=SUFFIX), problem


# --- loading -------------------------------------------------------------------------------


def _refuse(path, problem: str) -> CheckpointError:
    return CheckpointError(f"{path}: {problem}; use an intact checkpoint")


def _expected_words(field: _Field) -> str:
    noun = {"f": "real float", "iu": "integer", "U": "string"}[field.kinds]
    return f"one {noun}" if field.ndim == 0 else f"a {field.ndim}-D array of {noun}s"


def _check_field(path, key: str, arr: np.ndarray) -> None:
    """Refuse an array whose dtype kind or number of dimensions is not what ``key`` holds."""
    field = _FIELDS[key]
    if arr.dtype.kind not in field.kinds or arr.ndim != field.ndim:
        raise _refuse(path, f"{field.what} ({key}) stored as {arr.dtype} with shape {arr.shape}, not {_expected_words(field)}")


def _not_ours(path) -> CheckpointError:
    return CheckpointError(f"{path} is not an rnntui checkpoint; give a file written by --save or ctrl+s")


def _load_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of the .npz archive at ``path``; CheckpointError for anything np.savez did not write."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # one array saved with np.save (.npy), not an archive
            raise _not_ours(path)
        with loaded as npz:
            return {key: npz[key] for key in npz.files}
    except (zipfile.BadZipFile, EOFError) as err:
        raise CheckpointError(f"{path} is truncated or damaged ({err}); use an intact checkpoint") from None
    except ValueError:
        raise _not_ours(path) from None
    except OSError as err:
        raise CheckpointError(f"{path} cannot be read as a checkpoint ({err}); give a file written by --save or ctrl+s") from None


def _is_ours(format_member: np.ndarray | None) -> bool:
    """The ``format`` member names this program's checkpoints."""
    return format_member is not None and str(format_member) == FORMAT


def _read_member(archive: zipfile.ZipFile, key: str) -> np.ndarray:
    with archive.open(f"{key}.npy") as member:
        return np.lib.format.read_array(member, allow_pickle=False)


def checkpoint_iterations(path: str | os.PathLike[str]) -> int | None:
    """The iterations an rnntui checkpoint at ``path`` holds; None when ``path`` holds no checkpoint of ours.

    Cheap, and never raises: only the two small members naming the format and
    the count are read (to recognise a file before replacing it, not to load it).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            if not _is_ours(_read_member(archive, "format")):
                return None
            return int(_read_member(archive, "iteration"))
    except (OSError, EOFError, KeyError, ValueError, TypeError, NotImplementedError, zipfile.BadZipFile):
        return None


def holds_checkpoint(path: str | os.PathLike[str]) -> bool:
    """``path`` holds an rnntui checkpoint (see :func:`checkpoint_iterations`)."""
    return checkpoint_iterations(path) is not None


def read_checkpoint(path) -> dict[str, np.ndarray]:
    """All arrays of a checkpoint file, checked to be ours (format and version); raises CheckpointError."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint; check the path given to --resume")
    if path.is_dir():
        raise CheckpointError(f"{path} is a directory, not a checkpoint; give the .npz file")
    arrays = _load_arrays(path)
    if not _is_ours(arrays.get("format")):
        raise _not_ours(path)
    if "version" not in arrays:
        raise CheckpointError(f"{path} lacks version; it is damaged or incomplete, use an intact checkpoint")
    _check_field(path, "version", arrays["version"])
    if int(arrays["version"]) != VERSION:
        raise CheckpointError(f"{path} is checkpoint version {int(arrays['version'])}; this rnntui reads version {VERSION}")
    return arrays


def load_checkpoint(path, corpus: Corpus) -> Trainer:
    """A Trainer restored from ``path`` for ``corpus`` (same vocabulary required).

    Every array is checked before use; a damaged one raises CheckpointError
    with one line naming it.
    """
    arrays = read_checkpoint(path)
    missing = [key for key in REQUIRED if key not in arrays]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}; it is damaged or incomplete, use an intact checkpoint")
    for key in _FIELDS:
        if key in arrays:
            _check_field(path, key, arrays[key])
    try:
        return _restore(path, arrays, corpus)
    except (KeyError, ValueError, TypeError, IndexError) as err:
        raise CheckpointError(f"{path} holds inconsistent data ({err}); use an intact checkpoint") from None


def _check_vocab(path, codes: np.ndarray, corpus: Corpus) -> None:
    """The checkpoint's vocabulary must be the corpus's, character for character, in the same order."""
    if codes.size and (codes.min() < 0 or codes.max() > MAX_CODE_POINT):
        raise _refuse(path, "the vocabulary holds numbers that are not Unicode characters")
    vocab = "".join(chr(int(c)) for c in codes)
    wanted = "".join(corpus.vocab)
    if vocab == wanted:
        return
    differing = sorted(set(vocab) ^ set(corpus.vocab))
    if differing:
        raise CheckpointError(
            f"{path} was trained on another vocabulary ({len(vocab)} characters; the corpus "
            f"{corpus.name} has {corpus.vocab_size}, differing in {''.join(differing)[:20]!r}); "
            f"resume with the corpus it was saved from"
        )
    if len(vocab) != len(wanted):
        raise _refuse(path, "the vocabulary lists some characters more than once")
    raise CheckpointError(
        f"{path} has the same {len(vocab)} characters as the corpus {corpus.name} but in a different order, "
        f"so its indices would mean other characters; it is damaged or not written by this rnntui: "
        f"use an intact checkpoint or start a new run without --resume"
    )


# Config fields newer than the first checkpoints: one written before them lacks them, and their
# defaults are what it ran with.
ADDED_FIELDS = ("val_frac", "eval_every")


def _config_fields_problem(values: dict) -> str | None:
    """Which of Config's fields ``values`` lacks and which it has that Config lacks, in words, or None."""
    names = field_names()
    missing = [name for name in names if name not in values and name not in ADDED_FIELDS]
    unknown = sorted(set(values) - set(names))
    words = ([f"no {', '.join(missing)}"] if missing else []) + ([f"unknown {', '.join(unknown)}"] if unknown else [])
    return " and ".join(words) or None


def _read_config(path, text: str) -> Config:
    """The saved configuration: a JSON object with Config's fields (a save writes every one; an older
    checkpoint may lack ADDED_FIELDS)."""
    def invalid(problem: str) -> CheckpointError:
        return CheckpointError(f"{path} holds an invalid configuration ({problem}); use an intact checkpoint")

    try:
        values = json.loads(text)
    except (ValueError, RecursionError) as err:  # RecursionError: nested too deep to read
        raise invalid(str(err)) from None
    if not isinstance(values, dict):
        raise invalid(f"a JSON {type(values).__name__}, not an object")
    problem = _config_fields_problem(values)
    if problem:
        raise invalid(problem)
    try:
        return Config(**values)
    except ConfigError as err:
        raise invalid(err.problem) from None


def _check_sizes(path, arrays: dict[str, np.ndarray], layout: Layout, corpus: Corpus) -> None:
    """Position and iteration are possible, array sizes fit the model, the histories have one row per iteration."""
    position, iteration = int(arrays["position"]), int(arrays["iteration"])
    if not (0 <= position < len(corpus)) or iteration < 0:
        raise CheckpointError(f"{path} has position {position} and iteration {iteration}, impossible here; use an intact checkpoint")
    if arrays["params"].shape != (layout.size,) or arrays["memory"].shape != (layout.size,):
        raise CheckpointError(f"{path} has parameters of the wrong size; use an intact checkpoint")
    if arrays["hprev"].shape != (layout.hidden_size,):
        raise CheckpointError(f"{path} has a carried hidden state of the wrong size; use an intact checkpoint")
    n = len(arrays["history_loss"])
    if len(arrays["history_smooth"]) != n or any(arrays[k].shape != (n, len(PARAM_NAMES)) for k in _NORM_HISTORIES):
        raise CheckpointError(f"{path} has loss histories of different lengths; use an intact checkpoint")
    if iteration != n:
        raise _refuse(path, f"the iteration count {iteration} disagrees with the {n} rows of the loss history (one per iteration)")
    events = [arrays[k] for k in ("history_event_iter", "history_event_text") if k in arrays]
    if len(events) == 1 or (len(events) == 2 and len(events[0]) != len(events[1])):
        raise _refuse(path, "the event iterations and texts do not pair up")


def _first_row(mask: np.ndarray) -> int:
    """The first row index where ``mask`` (rows, or rows x columns) is True."""
    return int(np.flatnonzero(mask.reshape(len(mask), -1).any(axis=1))[0])


def _check_values(path, arrays: dict[str, np.ndarray], layout: Layout) -> None:
    """Values a run can produce: finite state, non-negative memory, tanh's range, finite histories."""
    problem = _state_problem(arrays["params"], arrays["memory"], arrays["hprev"], float(arrays["smooth_loss"]), layout)
    if problem:
        raise _refuse(path, problem)
    if float(arrays["smooth_loss"]) < 0:
        raise _refuse(path, f"the smooth loss {float(arrays['smooth_loss'])} is negative (it averages losses, which never are)")
    negative = [name for name, part in layout.views(arrays["memory"]).items() if (part < 0).any()]
    if negative:
        raise _refuse(path, f"the Adagrad memory is negative in {', '.join(negative)} (it is a sum of squares)")
    if (np.abs(arrays["hprev"]) > 1).any():
        raise _refuse(path, "the carried hidden state lies outside [-1, 1], the range of tanh")
    _check_histories(path, arrays)


def _check_histories(path, arrays: dict[str, np.ndarray]) -> None:
    """Finite, non-negative losses; norms never NaN or negative, clipped ones never above the raw ones; events dated in the run."""
    for key in _LOSS_HISTORIES:
        bad = ~np.isfinite(arrays[key])
        if bad.any():
            raise _refuse(path, f"{_FIELDS[key].what} holds {_nonfinite_words(arrays[key][bad])} at iteration {_first_row(bad)}")
        if (arrays[key] < 0).any():
            raise _refuse(path, f"{_FIELDS[key].what} holds a negative loss at iteration {_first_row(arrays[key] < 0)}")
    for key in _NORM_HISTORIES:
        bad = np.isnan(arrays[key]) | (arrays[key] < 0)
        if bad.any():
            raise _refuse(path, f"{_FIELDS[key].what} holds NaN or a negative norm at iteration {_first_row(bad)}")
    raw, clipped = (arrays[key].astype(np.float64) for key in _NORM_HISTORIES)
    above = clipped > raw * (1 + NORM_ROUNDING)
    if above.any():
        raise _refuse(path, f"a clipped gradient norm exceeds its raw norm at iteration {_first_row(above)} "
                            "(clipping only shrinks a gradient)")
    iteration, dates = int(arrays["iteration"]), arrays.get("history_event_iter", np.zeros(0, dtype=np.int64))
    outside = (dates < 0) | (dates > iteration)
    if outside.any():
        raise _refuse(path, f"an event is dated iteration {int(dates[outside][0])}, outside the run's 0 to {iteration}")


def _check_corpus_facts(path, arrays: dict[str, np.ndarray]) -> None:
    """The fingerprint has a sha256's form and the length is one a corpus can have (their values may differ:
    another text with the same characters is allowed)."""
    fingerprint = str(arrays["fingerprint"])
    if len(fingerprint) != FINGERPRINT_DIGITS or any(c not in "0123456789abcdef" for c in fingerprint):
        raise _refuse(path, f"the corpus fingerprint {fingerprint[:FINGERPRINT_DIGITS]!r} is not a sha256 "
                            f"({FINGERPRINT_DIGITS} hex digits)")
    length = int(arrays["corpus_length"])
    if length < MIN_CORPUS_LENGTH:
        raise _refuse(path, f"the corpus length {length} is below {MIN_CORPUS_LENGTH}, the shortest corpus")


def _restore(path, arrays: dict[str, np.ndarray], corpus: Corpus) -> Trainer:
    """Check the arrays against ``corpus`` and build the Trainer; raises CheckpointError on bad contents."""
    _check_vocab(path, arrays["vocab"], corpus)
    config = _read_config(path, str(arrays["config"]))
    layout = Layout(corpus.vocab_size, config.hidden_size)
    _check_sizes(path, arrays, layout, corpus)  # before any allocation sized by the (possibly damaged) config
    _check_values(path, arrays, layout)
    _check_corpus_facts(path, arrays)
    trainer = Trainer(corpus, config)
    state = TrainerState(
        params=np.array(arrays["params"], dtype=np.float64),
        memory=np.array(arrays["memory"], dtype=np.float64),
        hprev=np.array(arrays["hprev"], dtype=np.float64),
        position=int(arrays["position"]),
        iteration=int(arrays["iteration"]),
        smooth_loss=float(arrays["smooth_loss"]),
        config=config,
    )
    trainer.restore(state)
    trainer.history = History.from_arrays(arrays)
    trainer.checkpoint_extras = {k[len("extra_") :]: v for k, v in arrays.items() if k.startswith("extra_")}
    trainer.checkpoint_fingerprint_matches = str(arrays["fingerprint"]) == corpus.fingerprint
    return trainer
