"""The ``rnntui`` command.

Two forms::

    rnntui [FILE] [options]          open the debugger on FILE
    rnntui train [FILE] [options]    train without the UI, printing progress

Without FILE both use the built-in corpus. Every problem with the user's input
(an engine ``RnntuiError`` or a bad flag) ends the program with one line on
stderr and exit status 2. The ``train`` path never imports the UI library.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.resources
import json
import math
import os
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TextIO

import numpy as np

from rnntui import __version__
from rnntui.engine import (
    PARAM_NAMES,
    BreakpointSet,
    CheckpointError,
    Config,
    Corpus,
    GradCheckResult,
    Pass,
    RnntuiError,
    StepRecord,
    Trainer,
    load_checkpoint,
    gradcheck,
    loss_and_grads,
    parse_breakpoint,
    save_checkpoint,
    use_one_blas_thread,
)
from rnntui.engine.gradcheck import TOLERANCE as GRADCHECK_TOLERANCE
from rnntui.engine.session import stop_after

EXIT_OK = 0
EXIT_FAILED = 1  # training diverged, or the gradient check failed
EXIT_USAGE = 2  # bad input: corpus, flag value, checkpoint, breakpoint
EXIT_BREAKPOINT = 3  # a --break condition stopped the run
EXIT_INTERRUPTED = 130  # Ctrl+C (128 + SIGINT, as shells report it)

DEFAULT_ITERATIONS = 1000
GRADCHECK_STEP = 1e-5
PROGRESS_FALLBACK_EVERY = 100  # progress line interval when sample_every is 0
BAR_REFRESH_SECONDS = 0.1  # the progress bar is redrawn at most ~10 times a second
BAR_WIDTH = 24

STRUCTURAL_FIELDS = ("hidden_size", "seq_length", "seed")  # fixed once a run has started
ADJUSTABLE_FIELDS = ("learning_rate", "clip", "temperature", "sample_every", "sample_length")

_DEFAULTS = Config()
CONFIG_FLAGS: tuple[tuple[str, type, str, str], ...] = (
    ("hidden_size", int, "H", f"neurons in the tanh layer (default {_DEFAULTS.hidden_size})"),
    ("seq_length", int, "T", f"characters per truncated-BPTT window (default {_DEFAULTS.seq_length})"),
    ("learning_rate", float, "LR", f"Adagrad step size (default {_DEFAULTS.learning_rate})"),
    ("clip", float, "C", f"clip every gradient element to [-C, C] (default {_DEFAULTS.clip:g})"),
    ("seed", int, "N", f"seed of the weight initialisation and sampler (default {_DEFAULTS.seed})"),
    ("sample_every", int, "N", f"iterations between samples, 0 = never (default {_DEFAULTS.sample_every})"),
    ("sample_length", int, "N", f"characters per sample (default {_DEFAULTS.sample_length})"),
    ("temperature", float, "TEMP", f"sampling temperature (default {_DEFAULTS.temperature:g})"),
)


# --- argument parsing ---------------------------------------------------------


def _non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one ``rnntui: error:`` line like every other bad input."""

    def error(self, message: str):
        """Print the problem and where the flags are listed, and exit with status 2."""
        _error(f"{message} (see {self.prog} --help)")
        self.exit(EXIT_USAGE)


def _add_shared_arguments(parser: argparse.ArgumentParser) -> None:
    """FILE, one flag per Config field, --encoding, --resume and --break."""
    parser.add_argument("file", nargs="?", metavar="FILE", help="training text (default: the built-in corpus)")
    group = parser.add_argument_group("model and training")
    for name, kind, metavar, help_text in CONFIG_FLAGS:
        flag = "--" + name.replace("_", "-")
        group.add_argument(flag, dest=name, type=kind, metavar=metavar, default=None, help=help_text)
    parser.add_argument("--encoding", default="utf-8", metavar="ENC", help="text encoding of FILE (default utf-8)")
    parser.add_argument(
        "--resume",
        metavar="CKPT",
        help="continue from a checkpoint; --learning-rate, --clip, --temperature, --sample-every and "
        "--sample-length may be changed, --hidden-size, --seq-length and --seed must match it",
    )
    parser.add_argument(
        "--break",
        dest="breaks",
        action="append",
        default=[],
        metavar="EXPR",
        help="stop a run when EXPR holds, e.g. 'nan', 'clip Whh > 0.1', 'smooth < 40', 'every 500' (repeatable)",
    )


def build_app_parser() -> argparse.ArgumentParser:
    """Parser of ``rnntui [FILE] [options]``."""
    parser = Parser(
        prog="rnntui",
        description="A terminal visual debugger for character-level RNNs.",
        epilog="To train without the UI: rnntui train [FILE] [options] (see rnntui train --help). "
        "A corpus file named 'train' can be given as ./train.",
    )
    parser.add_argument("--version", action="version", version=f"rnntui {__version__}")
    _add_shared_arguments(parser)
    return parser


def build_train_parser() -> argparse.ArgumentParser:
    """Parser of ``rnntui train [FILE] [options]``."""
    parser = Parser(
        prog="rnntui train",
        description="Train the char-RNN without the UI, printing progress and samples.",
        epilog="Exit status: 0 done, 1 diverged or gradient check failed, 2 bad input, "
        "3 stopped by --break, 130 interrupted (Ctrl+C).",
    )
    _add_shared_arguments(parser)
    run = parser.add_argument_group("headless run")
    run.add_argument(
        "--iterations",
        type=_non_negative_int,
        default=None,
        metavar="N",
        help=f"iterations to run in this invocation (default {DEFAULT_ITERATIONS})",
    )
    run.add_argument(
        "--log",
        metavar="FILE",
        help="write one JSON object per iteration (appended to when resuming)",
    )
    run.add_argument(
        "--save",
        metavar="CKPT",
        help="save a checkpoint at the end, on Ctrl+C, on divergence and when a breakpoint stops the run",
    )
    run.add_argument(
        "--gradcheck",
        action="store_true",
        help="check the gradients on the next window instead of training; exit 0 if they pass, else 1",
    )
    run.add_argument("--quiet", action="store_true", help="print only errors and the final summary line")
    return parser


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace | int:
    """Parse ``argv``; return argparse's exit status instead of raising SystemExit."""
    try:
        return parser.parse_args(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE


def _check_train_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Reject flag combinations that make no sense (argparse-style error, exit 2)."""
    if not args.gradcheck:
        return
    training_flags = {"--iterations": args.iterations, "--log": args.log, "--save": args.save, "--break": args.breaks}
    clashing = [flag for flag, value in training_flags.items() if value]
    if clashing:
        parser.error(f"--gradcheck checks gradients without training; drop {', '.join(clashing)}")


# --- entry point ----------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the ``rnntui`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    use_one_blas_thread()
    try:
        if argv and argv[0] == "train":
            return _train_command(argv[1:])
        return _app_command(argv)
    except RnntuiError as err:
        _error(str(err))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_FAILED


def _train_command(argv: list[str]) -> int:
    """``rnntui train``: headless training or a gradient check."""
    parser = build_train_parser()
    args = _parse(parser, argv)
    if isinstance(args, int):
        return args
    try:
        _check_train_flags(parser, args)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    trainer = build_trainer(args)
    if args.gradcheck:
        return run_gradcheck(trainer, quiet=args.quiet)
    breakpoints = build_breakpoints(trainer, args.breaks)
    _check_writable(args.save, "--save")
    _check_writable(args.log, "--log")
    return run_training(trainer, args, breakpoints)


def _app_command(argv: list[str]) -> int:
    """``rnntui [FILE]``: build the trainer, then hand over to the debugger UI."""
    args = _parse(build_app_parser(), argv)
    if isinstance(args, int):
        return args
    trainer = build_trainer(args)
    validate_breakpoints(args.breaks)  # a typo fails here, before the UI opens
    try:
        from rnntui.tui.app import run_app
    except ModuleNotFoundError as err:
        if err.name not in ("rnntui.tui.app", "textual"):
            raise
        raise RnntuiError(f"the debugger UI is not available ({err}); use 'rnntui train' instead") from None
    notices = [trainer.window_notice]
    if args.resume is not None and not trainer.checkpoint_fingerprint_matches:
        notices.append(f"{trainer.corpus.name} differs from the text {args.resume} was trained on "
                       "(same characters); training continues on the new text")
    notice = "; ".join(n for n in notices if n) or None
    status = run_app(trainer, breakpoints=list(args.breaks), notice=notice, checkpoint=args.resume)
    return EXIT_OK if status is None else int(status)


def _error(message: str) -> None:
    """Print ``rnntui: error: message`` as one line on stderr."""
    print(f"rnntui: error: {_one_line(message)}", file=sys.stderr, flush=True)


def _one_line(text: str) -> str:
    """Collapse line breaks so a message always fits one line."""
    return " ".join(text.split("\n")).strip()


def _silence_stdout() -> None:
    """After a closed pipe (``rnntui train | head``), send what is left of stdout nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # stdout is not a real file (e.g. captured in tests)


# --- corpus, config, checkpoint ----------------------------------------------------


def builtin_corpus_path() -> Path:
    """Path of the corpus shipped with the package (``rnntui/data/default.txt``)."""
    try:
        return Path(str(importlib.resources.files("rnntui") / "data" / "default.txt"))
    except (TypeError, NotADirectoryError, ModuleNotFoundError):
        return Path(__file__).resolve().parent / "data" / "default.txt"


def load_corpus(file: str | None, encoding: str) -> Corpus:
    """The corpus in ``file``, or the built-in one (named ``default.txt (built-in)``)."""
    if file is not None:
        return Corpus.from_path(file, encoding=encoding)
    path = builtin_corpus_path()
    if not path.is_file():
        raise RnntuiError(f"the built-in corpus {path} is missing from this installation; give a FILE to train on")
    corpus = Corpus.from_path(path, encoding="utf-8")
    return dataclasses.replace(corpus, name=f"{path.name} (built-in)")


def typed_config_values(args: argparse.Namespace) -> dict[str, Any]:
    """The Config fields the user actually gave on the command line."""
    return {name: getattr(args, name) for name, *_ in CONFIG_FLAGS if getattr(args, name) is not None}


def build_trainer(args: argparse.Namespace) -> Trainer:
    """A fresh Trainer from FILE and the flags, or one resumed from ``--resume``.

    Raises an ``RnntuiError`` for a bad corpus, a bad value, a bad checkpoint,
    or a structural flag (hidden size, window, seed) that contradicts the checkpoint.
    """
    given = typed_config_values(args)
    config = Config(**given)  # validates every value before the (slower) corpus load
    corpus = load_corpus(args.file, args.encoding)
    if args.resume is None:
        return Trainer(corpus, config)
    trainer = load_checkpoint(args.resume, corpus)
    _check_structural(trainer.config, given, args.resume)
    changes = {name: value for name, value in given.items() if name in ADJUSTABLE_FIELDS}
    if changes:
        trainer.set_hyperparameters(**changes)
    return trainer


def _check_structural(saved: Config, given: dict[str, Any], checkpoint: str) -> None:
    """Refuse --hidden-size/--seq-length/--seed values that differ from the checkpoint's."""
    for name in STRUCTURAL_FIELDS:
        if name in given and given[name] != getattr(saved, name):
            flag = "--" + name.replace("_", "-")
            raise CheckpointError(
                f"{flag} {given[name]} differs from {checkpoint}, which was trained with {name} "
                f"{getattr(saved, name)}; drop {flag} to resume, or start a new run without --resume"
            )


def _check_writable(path: str | None, flag: str) -> None:
    """Fail before training when an output file's folder does not exist."""
    if path is None:
        return
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise RnntuiError(f"{flag} {path}: folder {folder} does not exist; create it or choose another path")
    if target.is_dir():
        raise RnntuiError(f"{flag} {path} is a directory; give a file name")


# --- breakpoints -------------------------------------------------------------------


def validate_breakpoints(texts: list[str]) -> None:
    """Parse each ``--break`` text; a bad one raises BreakpointError listing the valid forms."""
    for text in texts:
        parse_breakpoint(text)


def build_breakpoints(trainer: Trainer, texts: list[str]) -> BreakpointSet:
    """The breakpoints of a headless run: those saved in a resumed checkpoint, then ``--break``'s.

    A ``--break`` equal to a saved breakpoint is not added twice; if the saved
    one was switched off, giving it again switches it back on.
    """
    saved = trainer.checkpoint_extras.get("breakpoints")
    breakpoints = BreakpointSet.from_array(saved) if saved is not None else BreakpointSet()
    for text in texts:
        wanted = parse_breakpoint(text)
        existing = [i for i, bp in enumerate(breakpoints) if bp.source == wanted.source]
        if not existing:
            breakpoints.add(text)
        elif not breakpoints[existing[0]].enabled:
            breakpoints.toggle(existing[0])
    return breakpoints


def describe_breakpoints(breakpoints: BreakpointSet) -> str:
    """``nan, every 100 (off)``: the breakpoints in order, disabled ones marked."""
    return ", ".join(bp.source + ("" if bp.enabled else " (off)") for bp in breakpoints)


# --- metrics log ---------------------------------------------------------------------


def _finite_or_none(value: float) -> float | None:
    """JSON has no NaN or infinity: non-finite numbers are written as null."""
    return value if math.isfinite(value) else None


def metrics_json(record: StepRecord) -> str:
    """One JSON line of the log: iteration, loss, smooth_loss, grad_norm, clipped_norm."""
    entry = {
        "iteration": record.iteration,
        "loss": _finite_or_none(record.loss),
        "smooth_loss": _finite_or_none(record.smooth_loss),
        "grad_norm": {name: _finite_or_none(record.grad_norms[name]) for name in PARAM_NAMES},
        "clipped_norm": {name: _finite_or_none(record.clipped_norms[name]) for name in PARAM_NAMES},
    }
    return json.dumps(entry, allow_nan=False)


def open_log(path: str, append: bool) -> TextIO:
    """Open the metrics log; an OSError becomes a one-line RnntuiError."""
    try:
        return open(path, "a" if append else "w", encoding="utf-8")
    except OSError as err:
        raise RnntuiError(f"cannot write --log {path} ({err.strerror}); choose another path") from None


# --- progress output -------------------------------------------------------------------


def format_loss(value: float) -> str:
    """Four decimals for ordinary losses; four significant digits for huge or non-finite ones."""
    return f"{value:.4f}" if abs(value) < 1e6 else f"{value:.4g}"


class Progress:
    """Prints what a headless run shows: samples, ``iter N, loss L`` lines and a progress bar.

    Lines go to stdout. The one-line bar goes to stderr, only when stderr is a
    terminal, and is redrawn at most every BAR_REFRESH_SECONDS.
    """

    def __init__(self, trainer: Trainer, total: int, quiet: bool) -> None:
        self.trainer = trainer
        self.total = total
        self.quiet = quiet
        self.bar = not quiet and sys.stderr.isatty()
        self.done = 0
        self.started = time.monotonic()
        self._last_line: tuple[float, int] | None = None  # (time, iteration) of the last progress line
        self._last_bar = 0.0  # when the bar was last drawn (time.monotonic)
        self._bar_shown = False  # the bar is on screen and must be erased before other output

    @property
    def rate(self) -> float:
        """Iterations per second over this run so far."""
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self, text: str) -> None:
        """Print a line on stdout (clearing the bar first), unless quiet."""
        if self.quiet:
            return
        self.clear_bar()
        print(text, file=sys.stdout, flush=True)

    def note(self, text: str) -> None:
        """Print a note on stderr, unless quiet."""
        if not self.quiet:
            self.clear_bar()
            print(f"note: {text}", file=sys.stderr, flush=True)

    def update(self, record: StepRecord) -> None:
        """Show what one finished iteration calls for."""
        self.done += 1
        if record.sample is not None:
            self.line("----")
            self.line(record.sample)
            self.line("----")
        interval = self.trainer.config.sample_every or PROGRESS_FALLBACK_EVERY
        if record.iteration % interval == 0:
            self.line(f"iter {record.iteration}, loss {format_loss(record.smooth_loss)}{self._recent_rate()}")
        if self.bar:
            self._draw_bar()

    def _recent_rate(self) -> str:
        """`` (N it/s)`` since the previous progress line; empty for the first line of a run."""
        now, iteration = time.monotonic(), self.trainer.iteration
        previous, self._last_line = self._last_line, (now, iteration)
        if previous is None or now <= previous[0]:
            return ""
        return f" ({(iteration - previous[1]) / (now - previous[0]):.0f} it/s)"

    def _draw_bar(self) -> None:
        now = time.monotonic()
        if now - self._last_bar < BAR_REFRESH_SECONDS:
            return
        self._last_bar = now
        filled = BAR_WIDTH * self.done // self.total if self.total else BAR_WIDTH
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        text = (
            f"[{bar}] {self.done}/{self.total}  iter {self.trainer.iteration}  "
            f"loss {format_loss(self.trainer.smooth_loss)}  {self.rate:.0f} it/s"
        )
        width = shutil.get_terminal_size().columns - 1  # never wrap onto a second line
        sys.stderr.write("\r" + text[:width] + "\x1b[K")
        sys.stderr.flush()
        self._bar_shown = True

    def clear_bar(self) -> None:
        """Erase the bar line (before other output, and at the end)."""
        if self._bar_shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self._bar_shown = False


# --- the training run -------------------------------------------------------------------


class StopRequest:
    """Turns the first Ctrl+C into a request to stop after the current iteration.

    A step is never cut in half, so a checkpoint saved on Ctrl+C resumes
    exactly. A second Ctrl+C raises KeyboardInterrupt at once. Outside the
    main thread (where signals cannot be handled) this does nothing.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)


@dataclass
class Outcome:
    """How a training loop ended: ``done``, ``interrupted``, ``diverged`` or ``breakpoint``."""

    kind: str
    record: StepRecord | None = None  # the last record (for diverged)
    detail: str = ""  # why it stopped (breakpoint or divergence message)


def train_loop(
    trainer: Trainer,
    iterations: int,
    breakpoints: BreakpointSet,
    on_record: Callable[[StepRecord], None],
    stop: StopRequest,
) -> Outcome:
    """Step ``iterations`` times, or until Ctrl+C, divergence or a breakpoint (in the app's order,
    see ``stop_after``)."""
    try:
        for _ in range(iterations):
            if stop.requested:
                return Outcome("interrupted")
            record = trainer.step()
            on_record(record)
            verdict = stop_after(record, breakpoints)
            if verdict is not None:
                kind, detail = verdict
                return Outcome(kind, record, detail)
    except KeyboardInterrupt:
        return Outcome("interrupted")
    return Outcome("interrupted" if stop.requested else "done")


def run_training(trainer: Trainer, args: argparse.Namespace, breakpoints: BreakpointSet) -> int:
    """Train headless as ``args`` say; print progress and a summary; return the exit status."""
    total = DEFAULT_ITERATIONS if args.iterations is None else args.iterations
    progress = Progress(trainer, total, args.quiet)
    _print_start(progress, trainer, args, breakpoints)
    log = open_log(args.log, append=args.resume is not None) if args.log else None
    try:

        def on_record(record: StepRecord) -> None:
            if log is not None:
                log.write(metrics_json(record) + "\n")
            progress.update(record)

        with StopRequest() as stop:
            outcome = train_loop(trainer, total, breakpoints, on_record, stop)
    finally:
        if log is not None:
            log.close()
        progress.clear_bar()
    if args.save:
        save_run(trainer, args.save, breakpoints)
    return _finish(outcome, progress, trainer, args.save)


def save_run(trainer: Trainer, path: str, breakpoints: BreakpointSet) -> None:
    """Save a checkpoint with the breakpoints and any other extras the resumed checkpoint carried."""
    extra = dict(trainer.checkpoint_extras)
    extra["breakpoints"] = breakpoints.to_array()
    save_checkpoint(trainer, path, extra=extra)


def _print_start(progress: Progress, trainer: Trainer, args: argparse.Namespace, breakpoints: BreakpointSet) -> None:
    """The opening lines: corpus, model size, where the run starts, breakpoints, short-corpus notice."""
    corpus, cfg = trainer.corpus, trainer.config
    progress.line(
        f"training on {corpus.name}: {len(corpus)} characters, {corpus.vocab_size} distinct; "
        f"hidden {cfg.hidden_size}, window {trainer.seq_length}, learning rate {cfg.learning_rate:g}"
    )
    if args.resume is not None:
        progress.line(f"resumed from {args.resume} at iteration {trainer.iteration}")
        if not trainer.checkpoint_fingerprint_matches:
            print(
                f"rnntui: warning: {corpus.name} differs from the text {args.resume} was trained on "
                "(same characters); training continues on the new text",
                file=sys.stderr,
            )
    if len(breakpoints):
        progress.line(f"breakpoints: {describe_breakpoints(breakpoints)}")
    if trainer.window_notice is not None:
        progress.note(trainer.window_notice)


def _finish(outcome: Outcome, progress: Progress, trainer: Trainer, saved: str | None) -> int:
    """Print the one-line summary (and the divergence message); return the exit status."""
    labels = {
        "done": "done",
        "interrupted": "interrupted",
        "diverged": "diverged",
        "breakpoint": f"breakpoint ({outcome.detail})",
    }
    summary = (
        f"{labels[outcome.kind]}: {progress.done} iterations ({progress.rate:.0f} it/s), "
        f"now at iteration {trainer.iteration}, smooth loss {format_loss(trainer.smooth_loss)}"
    )
    if saved:
        summary += f"; saved {saved}"
    print(summary, file=sys.stdout, flush=True)
    if outcome.kind == "diverged":
        record = outcome.record
        print(
            f"rnntui: training diverged at iteration {record.iteration} (non-finite {record.nonfinite}); "
            f"try a lower --learning-rate than {record.learning_rate:g}",
            file=sys.stderr,
            flush=True,
        )
        return EXIT_FAILED
    return {"done": EXIT_OK, "interrupted": EXIT_INTERRUPTED, "breakpoint": EXIT_BREAKPOINT}[outcome.kind]


# --- gradient check ----------------------------------------------------------------------


def next_window(trainer: Trainer) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """``(position, inputs, targets, hprev)`` of the window the next step would train on."""
    return trainer.next_window()


def run_gradcheck(trainer: Trainer, quiet: bool) -> int:
    """Compare backprop with central differences on the next window; 0 if all pass, else 1."""
    position, inputs, targets, hprev = next_window(trainer)
    params = trainer.params
    full = loss_and_grads(params, inputs, targets, hprev)
    results = gradcheck(params, inputs, targets, hprev, step=GRADCHECK_STEP, base=full)
    say = (lambda text: None) if quiet else (lambda text: print(text, flush=True))
    say(
        f"gradient check at iteration {trainer.iteration}: window at position {position}, "
        f"{len(inputs)} characters, loss {format_loss(full.loss)}, step {GRADCHECK_STEP:g}"
    )
    say(f"{'param':<6} {'max rel err':>12} {'median':>12}")
    for name, result in results.items():
        verdict = "ok" if result.passed(GRADCHECK_TOLERANCE) else "FAIL"
        say(f"{name:<6} {result.max_error:>12.2e} {result.median_error:>12.2e}  {verdict}")
    for line in _gradcheck_notes(results, full, trainer.config.clip):
        say(f"note: {line}")
    failing = [name for name, r in results.items() if not r.passed(GRADCHECK_TOLERANCE)]
    if failing:
        worst = ", ".join(f"{name} (largest relative error {results[name].max_error:.2e})" for name in failing)
        print(f"gradcheck failed: {worst}: off by more than {GRADCHECK_TOLERANCE:g} relative "
              "and more than the rounding noise", flush=True)
        return EXIT_FAILED
    print(f"gradcheck passed: every checked element within {GRADCHECK_TOLERANCE:g} relative "
          "or within the rounding noise", flush=True)
    return EXIT_OK


def _gradcheck_notes(results: dict[str, GradCheckResult], full: Pass, clip: float) -> list[str]:
    """Notes on clipping and on failures that lie within floating-point rounding noise."""
    notes = []
    over = {name: int(np.count_nonzero(np.abs(full.grads[name]) > clip)) for name in PARAM_NAMES}
    active = [f"{name} ({count} elements)" for name, count in over.items() if count]
    if active:
        notes.append(
            f"clipping would be active on this window (|gradient| > {clip:g} in {', '.join(active)}); "
            "the check compares the raw, unclipped gradient"
        )
    noisy = [name for name, r in results.items() if r.passed(GRADCHECK_TOLERANCE) and r.max_error >= GRADCHECK_TOLERANCE]
    if noisy:
        noise = next(iter(results.values())).noise
        notes.append(
            f"{', '.join(noisy)}: elements with a large relative error differ by less than the rounding noise "
            f"of a central difference at this loss ({noise:.1e}); their gradients are tiny, and they count as passing"
        )
    return notes
