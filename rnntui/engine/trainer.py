"""The training loop: data pointer, Adagrad, smooth loss, history. Math lives in model.py."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .config import Config, adjustable_fields
from .corpus import Corpus
from .errors import ConfigError
from .history import Event, History
from .kernels import clip_adagrad
from .model import PARAM_NAMES, Layout, forward_backward, init_params, sample_indices, zeros_aligned
from .record import StepRecord, frozen, frozen_map

ADAGRAD_EPS = 1e-8  # added to the memory under the square root
MIN_PART = 2  # characters each of the training and held-out parts needs (one to read, one to predict)


@dataclass(frozen=True, eq=False)
class TrainerState:
    """A full copy of what the next step depends on (for snapshots and checkpoints)."""

    params: np.ndarray  # (N,) flat parameters, see Layout
    memory: np.ndarray  # (N,) Adagrad memory
    hprev: np.ndarray  # (H,) carried hidden state
    position: int  # data pointer p
    iteration: int  # iterations done (n)
    smooth_loss: float
    config: Config  # hyperparameters in force (they can change while paused)

    @property
    def nbytes(self) -> int:
        return self.params.nbytes + self.memory.nbytes + self.hprev.nbytes


class Trainer:
    """Steps the char-RNN over a corpus one truncated-BPTT window at a time.

    ``Trainer(corpus, config)`` initialises weights from ``config.seed``.
    ``step()`` runs one iteration and returns its :class:`StepRecord`.
    """

    def __init__(self, corpus: Corpus, config: Config | None = None) -> None:
        self.corpus = corpus
        self.config = config if config is not None else Config()
        self.train_length = training_length(len(corpus), self.config.val_frac)  # the held-out part follows it
        self.layout = Layout(vocab_size=corpus.vocab_size, hidden_size=self.config.hidden_size)
        self._flat = init_params(self.layout, self.config.seed)  # (N,)
        self._mem = zeros_aligned(self.layout.size)  # (N,)
        self._grad = zeros_aligned(self.layout.size)  # (N,) reused every step
        self._P = self.layout.views(self._flat)
        self._G = self.layout.views(self._grad)
        self._bounds = np.append(self.layout.offsets, self.layout.size).astype(np.int64)  # (6,) slice edges
        self._sizes = np.diff(self._bounds)  # (5,) elements per parameter
        self.hprev = np.zeros(self.config.hidden_size)  # (H,)
        self.position = 0  # data pointer p
        self.iteration = 0  # n, iterations done
        self.smooth_loss = self.initial_smooth_loss
        self.history = History()
        self._data = corpus.data[: self.train_length]  # (N,) compact indices of the training part; windows cast to intp
        self._sample_rng = np.random.default_rng([self.config.seed, 1])
        self.checkpoint_extras: dict[str, np.ndarray] = {}  # extra arrays read from a checkpoint
        self.checkpoint_fingerprint_matches = True  # False when resumed on an edited corpus

    # --- copying to another process ---------------------------------------
    def __getstate__(self) -> dict:
        # the parameter views would arrive as separate arrays: send the buffers, rebuild the views
        state = dict(self.__dict__)
        del state["_P"], state["_G"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        for name in ("_flat", "_mem", "_grad"):
            buffer = zeros_aligned(self.layout.size)
            buffer[...] = state[name]
            setattr(self, name, buffer)
        self._P = self.layout.views(self._flat)
        self._G = self.layout.views(self._grad)

    # --- read-only views -------------------------------------------------
    @property
    def vocab(self) -> tuple[str, ...]:
        """The sorted vocabulary; index i is vocab[i]."""
        return self.corpus.vocab

    @property
    def params(self) -> dict[str, np.ndarray]:
        """Live read-only views of Wxh (H, V), Whh (H, H), Why (V, H), bh (H,), by (V,)."""
        out = {}
        for name, view in self._P.items():
            ro = view.view()
            ro.flags.writeable = False
            out[name] = ro
        return out

    @property
    def memory(self) -> dict[str, np.ndarray]:
        """Live read-only views of the Adagrad memory, keyed like params."""
        mem = self._mem.view()
        mem.flags.writeable = False
        return self.layout.views(mem)

    @property
    def training_corpus(self) -> Corpus:
        """The text training reads: the whole corpus, or the part before the held-out text."""
        if self.train_length == len(self.corpus):
            return self.corpus
        return self.corpus.part(0, self.train_length, "training part")

    @property
    def held_out_corpus(self) -> Corpus | None:
        """The held-out text at the end of the corpus (``val_frac``), or None."""
        if self.train_length == len(self.corpus):
            return None
        return self.corpus.part(self.train_length, len(self.corpus), "held out")

    @property
    def seq_length(self) -> int:
        """Effective window length T_eff = min(seq_length, len(corpus) - 1)."""
        return min(self.config.seq_length, self.train_length - 1)

    @property
    def window_notice(self) -> str | None:
        """A sentence for the user when the corpus is shorter than one window, else None."""
        if self.seq_length == self.config.seq_length:
            return None
        return (
            f"{'corpus' if self.held_out_corpus is None else 'the training part'} has {self.train_length} characters, "
            f"fewer than seq_length + 2 = "
            f"{self.config.seq_length + 2}; using a window of {self.seq_length}"
        )

    @property
    def initial_smooth_loss(self) -> float:
        """-ln(1/V) * T_eff, the loss of a uniform guess over one window."""
        return -math.log(1.0 / self.corpus.vocab_size) * self.seq_length

    def _resets(self) -> bool:
        """The reset rule: the next window starts over (hprev zeroed, p = 0) at the start or the end of the data."""
        return self.position + self.seq_length + 1 >= len(self._data) or self.iteration == 0

    def next_window(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """``(position, inputs, targets, hprev)`` the next step will train on (the reset rule applied)."""
        T = self.seq_length
        position, hprev = self.position, self.hprev
        if self._resets():
            position, hprev = 0, np.zeros_like(hprev)
        inputs = self._data[position : position + T].astype(np.intp)
        targets = self._data[position + 1 : position + T + 1].astype(np.intp)
        return position, inputs, targets, hprev.copy()

    # --- training --------------------------------------------------------
    def step(self) -> StepRecord:
        """Run one iteration (forward, backward, clip, Adagrad) and return its record."""
        cfg = self.config
        T = self.seq_length
        reset = self._resets()
        if reset:
            self.hprev = np.zeros(cfg.hidden_size)
            self.position = 0
        p, n = self.position, self.iteration
        inputs = self._data[p : p + T].astype(np.intp)  # (T,) the kernels index with intp
        targets = self._data[p + 1 : p + T + 1].astype(np.intp)
        hprev = self.hprev

        # a diverging run overflows: it is caught from its loss and said once, not as warnings on stderr
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            sample = None
            if cfg.sample_every and n % cfg.sample_every == 0:
                rng = np.random.default_rng([cfg.seed, 2, n])  # same text whenever iteration n is (re)run
                ix = sample_indices(self._P, hprev, inputs[0], cfg.sample_length, cfg.temperature, rng)
                sample = "".join(self.vocab[i] for i in ix)

            loss, cache = forward_backward(self._P, inputs, targets, hprev, self._G)
            stats = self._clip_and_update(cfg.learning_rate, cfg.clip)

        smooth_before = self.smooth_loss
        self.smooth_loss = self.smooth_loss * 0.999 + loss * 0.001
        self.hprev = cache.hs_full[-1].copy()
        self.position = p + T
        self.iteration = n + 1
        self.history.append(loss, self.smooth_loss, stats["grad"], stats["clipped"])

        return StepRecord(
            iteration=n,
            position=p,
            reset=reset,
            seq_length=T,
            inputs=frozen(inputs),
            targets=frozen(targets),
            hprev=frozen(cache.hs_full[0]),
            hs=frozen(cache.hs_full[1:]),
            ys=frozen(cache.ys),
            ps=frozen(cache.ps),
            wxh_x=frozen(cache.wxh_x),
            whh_h=frozen(cache.whh_h),
            bh=frozen(stats["bh_before"]),
            losses=frozen(cache.losses),
            dh_out=frozen(cache.dh_out),
            dh=frozen(cache.dh),
            dhraw=frozen(cache.dhraw),
            dh_norms=frozen(cache.dh_norms),
            loss=loss,
            smooth_loss=self.smooth_loss,
            smooth_loss_before=smooth_before,
            grad_norms=frozen_map(stats["grad"]),
            clipped_norms=frozen_map(stats["clipped"]),
            clip_fractions=frozen_map(stats["fractions"]),
            update_ratios=frozen_map(stats["ratios"]),
            learning_rate=cfg.learning_rate,
            clip=cfg.clip,
            nonfinite=self._first_nonfinite(loss, stats),
            sample=sample,
            sample_temperature=cfg.temperature if sample is not None else None,
        )

    def _clip_and_update(self, learning_rate: float, clip: float) -> dict[str, np.ndarray]:
        """Clip the gradients and apply Adagrad in one pass; return per-parameter statistics."""
        bh_before = self._P["bh"].copy()
        sums = np.empty((len(PARAM_NAMES), 4))
        counts = np.empty(len(PARAM_NAMES), dtype=np.int64)
        clip_adagrad(self._flat, self._grad, self._mem, self._bounds, clip, learning_rate, ADAGRAD_EPS, sums, counts)
        grad, clipped, w_norm, u_norm = np.sqrt(sums).T
        # NaN where the weights are all zero (biases at the start); plain floats: no warnings on inf
        ratios = np.array([u / w if w > 0 else math.nan for u, w in zip(u_norm.tolist(), w_norm.tolist())])
        return {
            "grad": grad,
            "clipped": clipped,
            "fractions": counts / self._sizes,
            "ratios": ratios,
            "weights": w_norm,
            "bh_before": bh_before,
        }

    @staticmethod
    def _first_nonfinite(loss: float, stats: dict[str, np.ndarray]) -> str | None:
        """Name the first non-finite value of this step: the loss, a gradient, or a parameter.

        Norms stand in for whole arrays (a norm is finite exactly when every
        element is, short of overflow). The clipped update is bounded by the
        learning rate, so parameters stay finite while weights and gradients are.
        """
        if not math.isfinite(loss):
            return f"loss = {loss}"
        for name, norm in zip(PARAM_NAMES, stats["grad"]):
            if not math.isfinite(norm):
                return f"gradient d{name}"
        for name, norm in zip(PARAM_NAMES, stats["weights"]):
            if not math.isfinite(norm):
                return f"parameter {name}"
        return None

    # --- sampling --------------------------------------------------------
    def sample(
        self,
        n: int,
        temperature: float | None = None,
        seed_char: str | None = None,
        hprev: np.ndarray | None = None,
    ) -> str:
        """Sample ``n`` characters from the current model.

        Starts from ``hprev`` (default: the carried hidden state) and
        ``seed_char`` (default: the character at the data pointer). Uses the
        trainer's own sampling generator, so training is never affected.
        """
        if n < 0:
            raise ValueError("n must be >= 0")
        temperature = self.config.temperature if temperature is None else float(temperature)
        if not (temperature > 0 and math.isfinite(temperature)):
            raise ValueError("temperature must be a finite number above 0")
        if seed_char is None:
            seed_ix = int(self._data[self.position if self.position < len(self._data) else 0])
        else:
            seed_ix = int(self.corpus.encode(seed_char)[0]) if seed_char else 0
        h = self.hprev if hprev is None else hprev
        ix = sample_indices(self._P, h, seed_ix, n, temperature, self._sample_rng)
        return "".join(self.vocab[i] for i in ix)

    # --- state -----------------------------------------------------------
    def state(self) -> TrainerState:
        """A copy of everything the next step depends on."""
        return TrainerState(
            params=self._flat.copy(),
            memory=self._mem.copy(),
            hprev=self.hprev.copy(),
            position=self.position,
            iteration=self.iteration,
            smooth_loss=self.smooth_loss,
            config=self.config,
        )

    def restore(self, state: TrainerState) -> None:
        """Put the trainer back into ``state`` (history is left to the caller)."""
        if state.params.shape != self._flat.shape or state.config.hidden_size != self.config.hidden_size:
            raise ValueError("state does not fit this trainer's layout")
        self._flat[...] = state.params
        self._mem[...] = state.memory
        self.hprev = state.hprev.copy()
        self.position = state.position
        self.iteration = state.iteration
        self.smooth_loss = state.smooth_loss
        self.config = state.config

    def set_hyperparameters(self, **changes: object) -> Config:
        """Change adjustable hyperparameters (learning rate, clip, sampling) from the next step on.

        Validated like a new Config; each change is recorded in ``history.events``.
        """
        fixed = sorted(set(changes) - set(adjustable_fields()))
        if fixed:
            raise ConfigError(f"cannot change {', '.join(fixed)} during a run", fixed[0], "its value at the start")
        new = self.config.replace(**changes)
        for key in sorted(changes):
            old_value, new_value = getattr(self.config, key), getattr(new, key)
            if old_value != new_value:
                self.history.events.append(Event(self.iteration, f"{key} {old_value} -> {new_value}"))
        self.config = new
        return new


def training_length(chars: int, val_frac: float) -> int:
    """Characters of an N-character text that training reads: N - floor(val_frac * N).

    Raises ConfigError when either part would have fewer than MIN_PART characters.
    """
    held = math.floor(val_frac * chars)
    if val_frac > 0 and (held < MIN_PART or chars - held < MIN_PART):
        raise ConfigError(
            f"val_frac {val_frac:g} of {chars:,} characters holds out {held:,}, leaving {chars - held:,} to train on; "
            f"each part needs at least {MIN_PART}",
            "val_frac",
            f"a fraction that leaves {MIN_PART} or more characters on each side",
        )
    return chars - held


def warm_up() -> None:
    """Compile every kernel a step uses (or load it from Numba's cache), on a tiny model.

    The kernels are compiled for the kinds of arrays they get, not their
    sizes, so this readies them for any Trainer. The app calls it in the
    background at start-up: on a new installation the first step would
    otherwise spend a second or two compiling.
    """
    corpus = Corpus.from_text("abcabc", name="warm-up")
    Trainer(corpus, Config(hidden_size=2, seq_length=2, sample_every=0)).step()

