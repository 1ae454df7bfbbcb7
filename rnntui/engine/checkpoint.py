"""Checkpoints: one .npz written atomically, read back with allow_pickle=False."""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .config import Config
from .corpus import Corpus
from .errors import CheckpointError, ConfigError
from .history import History
from .model import Layout
from .trainer import Trainer, TrainerState

FORMAT = "rnntui-checkpoint"
VERSION = 1


def save_checkpoint(trainer: Trainer, path, extra: dict[str, np.ndarray] | None = None) -> Path:
    """Write ``trainer``'s full state to ``path`` (.npz) atomically.

    The data go to a temporary file in the same folder, which is flushed,
    synced and then renamed over ``path``: a crash leaves either the old file
    or the new one, never half of one. ``extra`` adds named arrays (for
    example breakpoints) under keys starting with ``extra_``.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise CheckpointError(f"cannot save to {path}: folder {folder} does not exist; create it or choose another path")
    state = trainer.state()
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
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _FILE_MODE)  # mkstemp makes it private; a checkpoint is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _read_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


_FILE_MODE = 0o666 & ~_read_umask()  # what a new ordinary file gets (read once, at import)


def read_checkpoint(path) -> dict[str, np.ndarray]:
    """All arrays of a checkpoint file, validated as ours; raises CheckpointError."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint; check the path given to --resume")
    if path.is_dir():
        raise CheckpointError(f"{path} is a directory, not a checkpoint; give the .npz file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (zipfile.BadZipFile, EOFError) as err:
        raise CheckpointError(f"{path} is truncated or damaged ({err}); use an intact checkpoint") from None
    except ValueError:
        raise CheckpointError(f"{path} is not an rnntui checkpoint; give a file written by --save or ctrl+s") from None
    except OSError as err:
        raise CheckpointError(f"{path} cannot be read as a checkpoint ({err}); give a file written by --save or ctrl+s") from None
    if "format" not in arrays or str(arrays["format"]) != FORMAT:
        raise CheckpointError(f"{path} is not an rnntui checkpoint; give a file written by --save or ctrl+s")
    if int(arrays["version"]) != VERSION:
        raise CheckpointError(f"{path} is checkpoint version {int(arrays['version'])}; this rnntui reads version {VERSION}")
    return arrays


REQUIRED = ("params", "memory", "hprev", "position", "iteration", "smooth_loss", "config", "vocab",
            "fingerprint", "history_loss", "history_smooth", "history_grad", "history_clipped")


def load_checkpoint(path, corpus: Corpus) -> Trainer:
    """A Trainer restored from ``path`` for ``corpus`` (same vocabulary required)."""
    arrays = read_checkpoint(path)
    missing = [key for key in REQUIRED if key not in arrays]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}; it is damaged or incomplete, use an intact checkpoint")
    try:
        return _restore(path, arrays, corpus)
    except (KeyError, ValueError, TypeError, IndexError) as err:
        raise CheckpointError(f"{path} holds inconsistent data ({err}); use an intact checkpoint") from None


def _restore(path, arrays: dict[str, np.ndarray], corpus: Corpus) -> Trainer:
    """Build the Trainer from validated arrays; raises CheckpointError on inconsistent contents."""
    vocab = "".join(chr(int(c)) for c in arrays["vocab"])
    if vocab != "".join(corpus.vocab):
        missing = sorted(set(vocab) ^ set(corpus.vocab))
        raise CheckpointError(
            f"{path} was trained on another vocabulary ({len(vocab)} characters; the corpus "
            f"{corpus.name} has {corpus.vocab_size}, differing in {''.join(missing)[:20]!r}); "
            f"resume with the corpus it was saved from"
        )
    try:
        config = Config.from_dict(json.loads(str(arrays["config"])))
    except (ValueError, TypeError, ConfigError) as err:
        raise CheckpointError(f"{path} holds an invalid configuration ({err}); use an intact checkpoint") from None
    trainer = Trainer(corpus, config)
    layout = Layout(corpus.vocab_size, config.hidden_size)
    if arrays["params"].shape != (layout.size,) or arrays["memory"].shape != (layout.size,):
        raise CheckpointError(f"{path} has parameters of the wrong size; use an intact checkpoint")
    if arrays["hprev"].shape != (config.hidden_size,):
        raise CheckpointError(f"{path} has a carried hidden state of the wrong size; use an intact checkpoint")
    position, iteration = int(arrays["position"]), int(arrays["iteration"])
    if not (0 <= position < len(corpus)) or iteration < 0:
        raise CheckpointError(f"{path} has position {position} and iteration {iteration}, impossible here; use an intact checkpoint")
    n = len(arrays["history_loss"])
    if any(len(arrays[key]) != n for key in ("history_smooth", "history_grad", "history_clipped")):
        raise CheckpointError(f"{path} has loss histories of different lengths; use an intact checkpoint")
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
