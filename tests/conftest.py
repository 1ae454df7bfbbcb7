import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from rnntui.engine import Config, Corpus, Trainer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


FOX_TEXT = "the quick brown fox jumps over the lazy dog.\n" * 8


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    """The fox text as a file, fox.txt, in the test's folder."""
    path = tmp_path / "fox.txt"
    path.write_text(FOX_TEXT, encoding="utf-8")
    return path


@pytest.fixture
def small_corpus() -> Corpus:
    return Corpus.from_text(FOX_TEXT, name="fox")


@pytest.fixture
def small_trainer(small_corpus) -> Trainer:
    return Trainer(small_corpus, Config(hidden_size=16, seq_length=10, sample_every=0))


def training_scale_params(V: int, H: int, seed: int) -> dict[str, np.ndarray]:
    """Parameters of the scale training produces: Whh ~ 1/sqrt(H), other weights ~ 1."""
    rng = np.random.default_rng(seed)
    return {
        "Wxh": rng.standard_normal((H, V)),
        "Whh": rng.standard_normal((H, H)) / np.sqrt(H),
        "Why": rng.standard_normal((V, H)),
        "bh": rng.standard_normal(H) * 0.5,
        "by": rng.standard_normal(V) * 0.5,
    }
