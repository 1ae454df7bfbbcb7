"""The ``rnntui`` command.

The forms::

    rnntui [FILE] [options]            open the debugger on FILE
    rnntui train [FILE] [options]      train without the UI, printing progress
    rnntui analyze|eval|whatif ...     look at a model headless (rnntui/commands/)
    rnntui serve [FILE] [options]      the debugger in web browsers, one per tab
    rnntui shot [FILE] [options] OUT   a picture of the debugger as an SVG

Without FILE both use the built-in corpus. Every problem with the user's input
(an engine ``RnntuiError``, a bad flag, a path the system refuses, a model too
large for memory) ends the program with one line on stderr and exit status 2.
The ``train`` path never imports the UI library.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import importlib
import importlib.resources
import json
import math
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rnntui import __version__
from rnntui.engine import (
    PARAM_NAMES,
    BreakpointSet,
    Config,
    ConfigError,
    Corpus,
    Evaluation,
    RnntuiError,
    RunEnd,
    RunResult,
    Saved,
    Session,
    StepRecord,
    open_session,
    parse_breakpoint,
    settings,
    use_one_blas_thread,
)
from rnntui.engine.checkpoint import checkpoint_iterations, holds_checkpoint
from rnntui.engine.config import adjustable_fields, structural_fields
from rnntui.engine.control import warm_up_everything
from rnntui.engine.corpus import MAX_CORPUS_BYTES, check_encoding, describe_size, visible
from rnntui.engine.errors import ResumeMismatch
from rnntui.engine.files import (
    LineLog,
    OutputError,
    check_distinct_outputs,
    first_bytes,
    os_error_advice,
    printable,
    same_file,
)
from rnntui.engine.files import check_output as check_output_path
from rnntui.engine.gradcheck import TOLERANCE as GRADCHECK_TOLERANCE
from rnntui.engine.gradcheck import WindowCheck, check_window, take_window
from rnntui.engine.jit import COMPILED, engine_description

EXIT_OK = 0
EXIT_FAILED = 1  # training diverged, or the gradient check failed
EXIT_USAGE = 2  # bad input: corpus, flag value, checkpoint, breakpoint
EXIT_BREAKPOINT = 3  # a --break condition stopped the run
EXIT_INTERRUPTED = 130  # Ctrl+C (128 + SIGINT, as shells report it)

DEFAULT_ITERATIONS = 1000
PROGRESS_FALLBACK_EVERY = 100  # progress line interval when sample_every is 0
BAR_REFRESH_SECONDS = 0.1  # the progress bar is redrawn at most ~10 times a second
BAR_WIDTH = 24
LOG_PEEK_BYTES = 1 << 16  # enough for the first line of any metrics log
MEMORY_ADVICE = "use a smaller --hidden-size or --sample-length, or a shorter text"
ARRAY_TOO_LARGE = ("Maximum allowed dimension exceeded", "array is too big")  # NumPy's ValueErrors for a size


SUBCOMMANDS = {  # rnntui NAME ...: the module whose main(argv) runs it (imported only when used)
    "analyze": "rnntui.commands.analyze",
    "eval": "rnntui.commands.evaluate",
    "whatif": "rnntui.commands.whatif",
    "serve": "rnntui.commands.serve",
    "shot": "rnntui.commands.shot",
}
COMMAND_SUMMARIES = {  # what rnntui --help says of each command beside the app
    "train": "train without the UI, printing progress and samples",
    "analyze": "what each hidden unit follows over the whole text",
    "eval": "bits per character, held-out and against k-gram baselines",
    "whatif": "change an input character or silence units and compare",
    "serve": "serve the app to web browsers",
    "shot": "save the app's screen as an SVG picture",
}


def flag(field: str) -> str:
    """The command-line flag of a Config field: learning_rate -> --learning-rate."""
    return "--" + field.replace("_", "-")


# --- argument parsing ---------------------------------------------------------


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _int_at_least(text, 0)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _int_at_least(text, 1)


def _int_at_least(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"expected {least} or more, got {value}")
    return value


_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def _byte_size(text: str) -> int:
    """argparse type: a number of bytes, with an optional K, M, G or T (binary) unit: 2G, 500M, 1048576."""
    cleaned = text.strip().lower().removesuffix("ib").removesuffix("b")
    unit = cleaned[-1:] if cleaned[-1:] in _SIZE_UNITS else ""
    try:
        value = float(cleaned[: len(cleaned) - len(unit)]) * _SIZE_UNITS[unit]
    except ValueError:
        value = math.nan
    if not math.isfinite(value):  # also inf and 1e400, which no int can hold
        raise argparse.ArgumentTypeError(f"expected a size such as 2G, 500M or 1048576, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a size of at least 1 byte, got {text!r}")
    return int(value)


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one ``rnntui: error:`` line like every other bad input, and a flag's value
    may start with '-' (``--edit -1=a``, ``--save -x.npz``), which argparse alone takes for another flag."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.flags: set[str] = set()  # every option string, e.g. "-h", "--save"
        self.one_value_flags: set[str] = set()  # the long flags that take exactly one value
        super().__init__(*args, **kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        return self._known(super().add_argument(*args, **kwargs))

    def add_argument_group(self, *args: Any, **kwargs: Any) -> Any:  # argparse names no public type for a group
        group = super().add_argument_group(*args, **kwargs)
        add_to_group = group.add_argument
        group.add_argument = lambda *a, **k: self._known(add_to_group(*a, **k))  # a group's flags are the parser's
        return group

    def _known(self, action: argparse.Action) -> argparse.Action:
        self.flags.update(action.option_strings)
        if action.nargs is None and action.option_strings:
            self.one_value_flags.update(option for option in action.option_strings if option.startswith("--"))
        return action

    def _flag_named(self, word: str) -> str | None:
        """The flag ``word`` names: itself, or the one flag it abbreviates (argparse takes unique prefixes)."""
        if word in self.flags or not word.startswith("--"):
            return word
        named = [flag for flag in self.flags if flag.startswith(word)]
        return named[0] if len(named) == 1 else None

    def join_dash_values(self, argv: list[str]) -> list[str]:
        """``--edit -1=a`` as ``--edit=-1=a``: a value that starts with '-' stays the value of the flag before it.

        Only a long flag that takes one value is joined, and only to a word
        that is not itself a flag; ``--`` ends the flags.
        """
        out: list[str] = []
        words = iter(argv)
        for word in words:
            if word == "--":
                out += [word, *words]
                break
            out.append(word)
            if self._flag_named(word) in self.one_value_flags:
                value = next(words, None)
                if value is None:
                    break
                dashed = len(value) > 1 and value.startswith("-") and not value.startswith("--")
                if dashed and value not in self.flags:
                    out[-1] = f"{word}={value}"
                else:
                    out.append(value)
        return out

    def error(self, message: str):
        """Print the problem and where the flags are listed, and exit with status 2."""
        _error(f"{message} (see {self.prog} --help)")
        self.exit(EXIT_USAGE)


def add_shared_arguments(parser: argparse.ArgumentParser) -> None:
    """FILE, one flag per Config field, --encoding, --resume and --break."""
    parser.add_argument("file", nargs="?", metavar="FILE", help="training text (default: the built-in corpus)")
    group = parser.add_argument_group("model and training")
    defaults = Config()
    for name, setting in settings():
        help_text = f"{setting.help} (default {getattr(defaults, name):g})"
        group.add_argument(flag(name), dest=name, type=setting.kind, metavar=setting.metavar, default=None, help=help_text)
    parser.add_argument("--encoding", default="utf-8", metavar="ENC", help="text encoding of FILE (default utf-8)")
    parser.add_argument(
        "--max-bytes",
        type=_byte_size,
        default=MAX_CORPUS_BYTES,
        metavar="SIZE",
        help=f"read at most SIZE bytes of FILE, e.g. 2G or 500M (default {describe_size(MAX_CORPUS_BYTES)})",
    )
    parser.add_argument(
        "--resume",
        metavar="CKPT",
        help=f"continue from a checkpoint; {', '.join(flag(n) for n in adjustable_fields())} may be changed, "
        f"{', '.join(flag(n) for n in structural_fields())} must match it",
    )
    parser.add_argument(
        "--break",
        dest="breaks",
        action="append",
        default=[],
        metavar="EXPR",
        help="stop a run when EXPR holds, e.g. 'nan', 'clip Whh > 0.1', 'smooth < 40', 'every 500' (repeatable)",
    )


def add_iterations_argument(group, default: int | None, help_text: str) -> None:
    """``--iterations N``: how many iterations a command trains (each command says what for)."""
    group.add_argument("--iterations", type=non_negative_int, default=default, metavar="N", help=help_text)


def build_app_parser() -> argparse.ArgumentParser:
    """Parser of ``rnntui [FILE] [options]``."""
    parser = Parser(
        prog="rnntui",
        description="A terminal visual debugger for character-level RNNs.",
        epilog="commands (see rnntui COMMAND --help):\n"
        + "".join(f"  {name:<9} {summary}\n" for name, summary in COMMAND_SUMMARIES.items())
        + "\nA corpus file named like a command (e.g. 'train') can be given as ./train.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"rnntui {__version__}")
    add_shared_arguments(parser)
    return parser


def build_train_parser() -> argparse.ArgumentParser:
    """Parser of ``rnntui train [FILE] [options]``."""
    parser = Parser(
        prog="rnntui train",
        description="Train the char-RNN without the UI, printing progress and samples.",
        epilog="Exit status: 0 done, 1 diverged or gradient check failed, 2 bad input, "
        "3 stopped by --break, 130 interrupted (Ctrl+C).",
    )
    add_shared_arguments(parser)
    run = parser.add_argument_group("headless run")
    add_iterations_argument(run, None, f"iterations to run in this invocation (default {DEFAULT_ITERATIONS})")
    run.add_argument(
        "--log",
        metavar="FILE",
        help="write one JSON object per iteration (replacing an earlier log, appended to when resuming; "
        "a stream such as /dev/stdout or a FIFO is appended to)",
    )
    run.add_argument(
        "--save",
        metavar="CKPT",
        help="save a checkpoint at the end, on Ctrl+C, on divergence and when a breakpoint stops the run "
        "(an existing checkpoint only when resuming from it, or with --overwrite)",
    )
    run.add_argument(
        "--overwrite",
        action="store_true",
        help="let --save replace an existing checkpoint that this run does not resume from",
    )
    run.add_argument(
        "--gradcheck",
        action="store_true",
        help="check the gradients on the next window instead of training; exit 0 if they pass, else 1",
    )
    run.add_argument("--quiet", action="store_true", help="print only errors and the final summary line")
    return parser


def build_inspection_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """Parser of a command that looks at a model (analyze, eval, whatif): rnntui's flags, --iterations, --json."""
    parser = Parser(prog=prog, description=description,
                    epilog="Exit status: 0 done, 2 bad input, 130 interrupted (Ctrl+C).")
    add_shared_arguments(parser)
    group = parser.add_argument_group("the model looked at")
    add_iterations_argument(group, 0, "train N iterations first (after --resume: N more; default 0)")
    group.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return parser


class CommandFailed(Exception):
    """A command cannot give what was asked (e.g. training diverged before it could look): one line, exit 1."""


def trained_session(args: argparse.Namespace) -> Session:
    """The session of ``args`` after training ``args.iterations`` iterations, for a command that looks at it.

    Its notices are printed first. Ctrl+C interrupts the command (exit 130);
    divergence raises CommandFailed, as nothing sound is left to look at; a
    breakpoint is a note, and the command goes on with the model where it stopped.
    """
    session = build_session(args)
    print_notices(session)
    train_first(session, args.iterations, diverging_fails=True)
    return session


def print_notices(session: Session) -> None:
    """The session's notices (a short corpus, a checkpoint of another text...) as ``note:`` lines on stderr."""
    for notice in session.notices:
        print(f"note: {printable(notice)}", file=sys.stderr, flush=True)


def train_first(session: Session, iterations: int, diverging_fails: bool) -> None:
    """Train ``iterations`` before a command looks at the model (analyze, eval, whatif, shot).

    A breakpoint or divergence that ends training early is a note on stderr;
    with ``diverging_fails`` divergence raises CommandFailed instead. Ctrl+C
    raises KeyboardInterrupt: a partly trained model is not what was asked for.
    """
    if not iterations:
        return
    start = session.trainer.iteration
    result = session.run(iterations, lambda: False)
    if result.end is RunEnd.DIVERGED and diverging_fails:
        raise CommandFailed(divergence_message(session, start))
    if result.end in (RunEnd.BREAKPOINT, RunEnd.DIVERGED):
        print(f"note: training stopped after {result.steps} of {iterations} iterations: {result.detail}",
              file=sys.stderr, flush=True)


def divergence_message(session: Session, start: int | None = None) -> str:
    """``training diverged at iteration N (non-finite X)`` and the way out; with ``start`` (the iteration
    training began at), for a command that would look at the model: there is nothing sound to look at."""
    record = session.last_record
    stated = f"training diverged at iteration {record.iteration} (non-finite {record.nonfinite})"
    lower = f"a lower --learning-rate than {record.learning_rate:g}"
    if start is None:
        return f"{stated}; try {lower}"
    sound = max(record.iteration - 1, start)  # as a save keeps it: the update before the divergence is left out
    return (f"{stated}, so there is no sound model to look at (the last sound state is after {count(sound, 'iteration')}); "
            f"train fewer iterations (--iterations {sound - start}) or use {lower}")


def print_report(lines: Iterable[str]) -> None:
    """A text report on stdout, a line at a time, with any control character in it (from a file name, a
    feature's pattern, the text itself) written as an escape: it cannot move the cursor or clear the screen."""
    print("\n".join(printable(line) for line in lines), flush=True)


def print_json(value: object) -> None:
    """One JSON object on stdout; NaN and infinity, which JSON lacks, are written as null."""
    print(json.dumps(_json_ready(value), allow_nan=False, ensure_ascii=False), flush=True)


def _json_ready(value: object) -> object:
    """``value`` with every non-finite float, at any depth, replaced by None."""
    if isinstance(value, float):
        return _finite_or_none(value)
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(item) for item in value]
    return value


def parse_or_exit(parser: Parser, argv: list[str], intermixed: bool = False) -> argparse.Namespace | int:
    """Parse ``argv``; an int is the exit status to return (a bad flag, or --help), argparse's SystemExit caught.

    ``intermixed``: positional arguments may come between the flags (argparse's parse_intermixed_args).
    """
    argv = parser.join_dash_values(argv)
    try:
        return parser.parse_intermixed_args(argv) if intermixed else parser.parse_args(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE


def _check_train_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Reject flag combinations that make no sense (argparse-style error, exit 2)."""
    if not args.gradcheck:
        return
    training_flags = {"--iterations": args.iterations, "--log": args.log, "--save": args.save, "--break": args.breaks,
                      "--overwrite": args.overwrite}
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
        if argv and argv[0] in SUBCOMMANDS:
            module = importlib.import_module(SUBCOMMANDS[argv[0]])
            return module.main(argv[1:])
        return _app_command(argv)
    except RnntuiError as err:
        _error(explain(err))
        return EXIT_USAGE
    except CommandFailed as failure:
        _error(str(failure))
        return EXIT_FAILED
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        _error(str(STDOUT_CLOSED))
        return EXIT_USAGE
    except MemoryError as err:
        _error(f"not enough memory{f' ({err})' if str(err) else ''}; {MEMORY_ADVICE}")
        return EXIT_USAGE
    except OSError as err:  # a path the system refuses (a name too long...) that no check caught first
        where = f"{err.filename}: " if err.filename is not None else ""
        _error(f"{where}{err.strerror or err}; {os_error_advice(err)}")
        return EXIT_USAGE
    except ValueError as err:
        if not any(words in str(err) for words in ARRAY_TOO_LARGE):
            raise
        _error(f"a size is too large for an array ({err}); {MEMORY_ADVICE}")
        return EXIT_USAGE


def explain(err: RnntuiError) -> str:
    """An engine error in the command line's words: a setting's advice names its flag."""
    if isinstance(err, ResumeMismatch):
        return (
            f"{flag(err.field)} {err.given} differs from {err.checkpoint}, which was trained with {err.field} "
            f"{err.saved}; drop {flag(err.field)} to resume, or start a new run without --resume"
        )
    if isinstance(err, ConfigError) and err.field is not None and err.wanted is not None:
        return f"{err.problem}; set {flag(err.field)} to {err.wanted}"
    return str(err)


def _train_command(argv: list[str]) -> int:
    """``rnntui train``: headless training or a gradient check."""
    parser = build_train_parser()
    args = parse_or_exit(parser, argv)
    if isinstance(args, int):
        return args
    try:
        _check_train_flags(parser, args)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    check_train_outputs(args)
    session = build_session(args)
    if args.gradcheck:
        return run_gradcheck(session, quiet=args.quiet)
    return run_training(session, args)


def _app_command(argv: list[str]) -> int:
    """``rnntui [FILE]``: open the session, then hand over to the debugger UI."""
    args = parse_or_exit(build_app_parser(), argv)
    if isinstance(args, int):
        return args
    session = build_session(args)
    if not COMPILED:  # the app says which engine runs when it is the slow one; the help screen always does
        session.notices.append(f"the engine runs {engine_description()}: training is about three times slower")
    stream = None if os.environ.get("TEXTUAL_DRIVER") else not_a_terminal()  # rnntui serve's tabs draw over pipes
    if stream is not None:  # the app draws on a terminal; into a pipe or a file it would only write escapes
        raise RnntuiError(f"rnntui needs a terminal to draw on ({stream} is not one)",
                          "run it in a terminal, or train without the UI: rnntui train")
    from rnntui.tui.app import run_app  # only here: rnntui train never imports the UI library

    status = run_app(session, protected=read_files(args, except_resumed=True))
    return EXIT_OK if status is None else int(status)


def not_a_terminal() -> str | None:
    """``stdout`` or ``stderr`` when that stream is not a terminal (the app writes to both), else None."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, f"__{name}__", None)
        if stream is None or not stream.isatty():
            return name
    return None


def _error(message: str) -> None:
    """Print ``rnntui: error: message`` as one line on stderr (control characters in it, in a file name say,
    written as escapes)."""
    print(f"rnntui: error: {printable(message.strip())}", file=sys.stderr, flush=True)


STDOUT_CLOSED = OutputError("standard output was closed", os_error_advice(BrokenPipeError(errno.EPIPE, "")))


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


def load_corpus(file: str | None, encoding: str, max_bytes: int = MAX_CORPUS_BYTES) -> Corpus:
    """The corpus in ``file``, or the built-in one (named ``default.txt (built-in)``)."""
    if file is not None:
        return Corpus.from_path(file, encoding=encoding, max_bytes=max_bytes)
    path = builtin_corpus_path()
    if not path.is_file():
        raise RnntuiError(f"the built-in corpus {path} is missing from this installation; give a FILE to train on")
    corpus = Corpus.from_path(path, encoding="utf-8")
    return dataclasses.replace(corpus, name=f"{path.name} (built-in)")


def given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The Config fields the user actually gave on the command line."""
    return {name: getattr(args, name) for name, _ in settings() if getattr(args, name) is not None}


EMPTY_NAME_HINTS = (  # (argument, how messages name it, the fix) for the files a session reads
    ("file", "FILE", "give the path of a text file, or leave FILE out to use the built-in corpus"),
    ("resume", "--resume", "give the path of a checkpoint"),
)


def build_session(args: argparse.Namespace) -> Session:
    """A Session from FILE, the flags, ``--resume`` and ``--break`` (see ``open_session``).

    The settings are checked before the (slower) corpus load; every problem is
    an RnntuiError.
    """
    for name, what, hint in EMPTY_NAME_HINTS:
        if getattr(args, name) == "":
            raise RnntuiError(f"{what} is an empty name", hint)
    given = given_settings(args)
    Config(**given)
    for text in args.breaks:
        parse_breakpoint(text)
    check_encoding(args.encoding)  # also when the built-in corpus is used: a typo is still a typo
    corpus = load_corpus(args.file, args.encoding, args.max_bytes)
    return open_session(corpus, given, resume=args.resume, breakpoints=args.breaks)


# --- outputs: checked before training ---------------------------------------------------


def read_files(args: argparse.Namespace, except_resumed: bool = False) -> dict[str, str]:
    """The files a command reads, by how messages name them: FILE (or the built-in corpus) and --resume
    (left out with ``except_resumed``: saving over the checkpoint resumed from is the resume workflow)."""
    read = {"FILE": args.file} if args.file else {"the built-in corpus": str(builtin_corpus_path())}
    if args.resume and not except_resumed:
        read["--resume"] = args.resume
    return read


def check_output(path: str, what: str, args: argparse.Namespace, is_ours, ours: str, streams_ok: bool = False,
                 resumed_ok: bool = False) -> None:
    """Refuse, before any training, an output that cannot be written or whose writing would lose a file
    (``rnntui.engine.files.check_output``): the files the run reads are protected, the checkpoint resumed
    from excepted with ``resumed_ok``."""
    check_output_path(path, what, read_files(args, except_resumed=resumed_ok), is_ours, ours, streams_ok)


STDOUT_NAME = "-"  # --log - is standard output, as for most tools; --save - is refused (no checkpoint goes there)


def check_train_outputs(args: argparse.Namespace) -> None:
    """--save and --log of ``rnntui train``: writable, none a file the run reads or that is not rnntui's own,
    no checkpoint replaced unless resumed from or --overwrite, not one file for both."""
    if args.save == STDOUT_NAME:
        raise OutputError("--save - would send the checkpoint to standard output, where no checkpoint can go",
                          "give a file name (./- for a file named '-')")
    if args.log == STDOUT_NAME:
        args.log = "/dev/stdout"
    if args.save is not None:
        check_output(args.save, "--save", args, holds_checkpoint, "an rnntui checkpoint", resumed_ok=True)
        _check_keeps_checkpoint(args)
    if args.log is not None:
        check_output(args.log, "--log", args, is_metrics_log,
                     f"an rnntui log (JSON lines with {', '.join(LOG_FIELDS)})", streams_ok=True)
    check_distinct_outputs(args.save, args.log)


def _check_keeps_checkpoint(args: argparse.Namespace) -> None:
    """A checkpoint at --save is replaced only by a run resumed from it, or with --overwrite."""
    held = checkpoint_iterations(args.save)
    if held is None or args.overwrite or (args.resume is not None and same_file(args.save, args.resume)):
        return
    raise OutputError(
        f"--save {args.save} already holds a checkpoint (after {count(held, 'iteration')}) that this run would replace",
        f"resume from it with --resume {args.save}, choose another path, or pass --overwrite",
    )


def is_metrics_log(path: str | os.PathLike[str]) -> bool:
    """The file at ``path`` starts like a log of ``rnntui train --log``: a JSON object with every LOG_FIELDS key."""
    first_line = first_bytes(path, LOG_PEEK_BYTES).split(b"\n", 1)[0]
    try:
        entry = json.loads(first_line)
    except ValueError:
        return False
    return isinstance(entry, dict) and all(field in entry for field in LOG_FIELDS)


def describe_breakpoints(breakpoints: BreakpointSet) -> str:
    """``nan, every 100 (off)``: the breakpoints in order, disabled ones marked."""
    return ", ".join(bp.source + ("" if bp.enabled else " (off)") for bp in breakpoints)


# --- metrics log ---------------------------------------------------------------------


def _finite_or_none(value: float) -> float | None:
    """JSON has no NaN or infinity: non-finite numbers are written as null."""
    return value if math.isfinite(value) else None


LOG_FIELDS = ("iteration", "loss", "smooth_loss", "grad_norm", "clipped_norm")  # on every line of the metrics log


def metrics_json(record: StepRecord, evaluation: Evaluation | None = None) -> str:
    """One JSON line of the log: iteration, loss, smooth_loss, grad_norm, clipped_norm; train_bpc and
    val_bpc on the iterations evaluated (val_bpc null without a held-out part)."""
    entry = dict(zip(LOG_FIELDS, (
        record.iteration,
        _finite_or_none(record.loss),
        _finite_or_none(record.smooth_loss),
        {name: _finite_or_none(record.grad_norms[name]) for name in PARAM_NAMES},
        {name: _finite_or_none(record.clipped_norms[name]) for name in PARAM_NAMES},
    )))
    if evaluation is not None:
        entry["train_bpc"] = _finite_or_none(evaluation.train_bpc)
        entry["val_bpc"] = None if evaluation.val_bpc is None else _finite_or_none(evaluation.val_bpc)
    return json.dumps(entry, allow_nan=False)


# --- progress output -------------------------------------------------------------------


def format_loss(value: float) -> str:
    """Four decimals for ordinary losses; four significant digits for huge or non-finite ones."""
    return f"{value:.4f}" if abs(value) < 1e6 else f"{value:.4g}"


class Progress:
    """Prints what a headless run shows: samples, ``iter N, loss L`` lines and a progress bar.

    Lines go to stdout. The one-line bar goes to stderr, only when stderr is a
    terminal, and is redrawn at most every BAR_REFRESH_SECONDS.
    """

    def __init__(self, trainer, total: int, quiet: bool) -> None:
        self.trainer = trainer
        self.total = total
        self.quiet = quiet
        self.bar = not quiet and sys.stderr.isatty()
        self.done = 0
        self.started = time.monotonic()
        self._last_line: tuple[float, int] | None = None  # (time, iteration) of the last progress line
        self._last_bar = 0.0  # when the bar was last drawn (time.monotonic)
        self._bar_shown = False  # the bar is on screen and must be erased before other output

    def restart_clock(self) -> None:
        """Measure the rate from now on."""
        self.started = time.monotonic()

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
            print(f"note: {printable(text)}", file=sys.stderr, flush=True)

    def update(self, record: StepRecord) -> None:
        """Show what one finished iteration calls for."""
        self.done += 1
        if record.sample is not None:
            self.line("----")
            self.line(visible(record.sample, lines=True))  # the text's other controls would act on the terminal
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


def run_training(session: Session, args: argparse.Namespace) -> int:
    """Train headless as ``args`` say; print progress and a summary; return the exit status."""
    trainer = session.trainer
    total = DEFAULT_ITERATIONS if args.iterations is None else args.iterations
    progress = Progress(trainer, total, args.quiet)
    _print_start(progress, session, args)
    warm_up_everything()  # compile before the clock starts: the first rate shown is the real one
    progress.restart_clock()
    log = LineLog(args.log, append=args.resume is not None) if args.log else None
    failure: RnntuiError | None = None  # a write error on the log: training stops, the checkpoint is still saved
    first = session.trainer.iteration

    def on_record(record: StepRecord) -> None:
        evaluation = session.evaluation_at(record.iteration)  # made before this step, if one was due
        if evaluation is not None:
            progress.line(evaluation.describe())
        if log is not None:
            log.write_line(metrics_json(record, evaluation))
        progress.update(record)

    try:
        with StopRequest() as stop:
            try:
                result = session.run(total, lambda: stop.requested, on_record)
            except KeyboardInterrupt:  # a second Ctrl+C: stop at once
                result = RunResult(progress.done, RunEnd.PAUSED)
            except (OutputError, BrokenPipeError) as err:  # the iteration whose line failed did train: count it
                progress.done = session.trainer.iteration - first
                failure, result = _output_failure(err), RunResult(progress.done, RunEnd.PAUSED)
    finally:
        if log is not None:
            try:
                log.close()
            except OutputError as err:
                failure = failure or err
        progress.clear_bar()
    saved = session.save(args.save, rescue=True) if args.save else None
    try:
        status = _finish(result, progress, session, saved, stopped_by=failure)
    except BrokenPipeError:  # the summary found stdout closed (the checkpoint is saved all the same)
        _silence_stdout()  # nothing more can reach that reader; the interpreter's last flush must not fail
        failure, status = failure or STDOUT_CLOSED, EXIT_USAGE
    if failure is not None or (saved is not None and saved.rescued):
        _error(str(failure) if failure is not None else saved.note)
        return EXIT_USAGE
    return status


def _output_failure(err: OutputError | BrokenPipeError) -> OutputError:
    """A failed write during training as the error to report: a progress line to a closed stdout is STDOUT_CLOSED."""
    return err if isinstance(err, OutputError) else STDOUT_CLOSED


def _print_start(progress: Progress, session: Session, args: argparse.Namespace) -> None:
    """The opening lines: corpus, model size, where the run starts, breakpoints, notices."""
    trainer = session.trainer
    corpus, cfg = trainer.corpus, trainer.config
    progress.line(
        f"training on {printable(corpus.name)}: {len(corpus)} characters, {corpus.vocab_size} distinct; "
        f"hidden {cfg.hidden_size}, window {trainer.seq_length}, learning rate {cfg.learning_rate:g}"
    )
    progress.line(f"engine: {engine_description()}")
    if args.resume is not None:
        progress.line(f"resumed from {printable(args.resume)} at iteration {trainer.iteration}")
    if len(session.breakpoints):
        progress.line(f"breakpoints: {describe_breakpoints(session.breakpoints)}")
    for notice in session.notices:
        progress.note(notice)


def _finish(result: RunResult, progress: Progress, session: Session, saved: Saved | None,
            stopped_by: RnntuiError | None = None) -> int:
    """Print the one-line summary (and the divergence message); return the exit status."""
    trainer = session.trainer
    label = {
        RunEnd.LIMIT: "done",
        RunEnd.PAUSED: "interrupted" if stopped_by is None else "stopped",
        RunEnd.DIVERGED: "diverged",
        RunEnd.BREAKPOINT: f"breakpoint ({result.detail})",
    }[result.end]
    summary = (
        f"{label}: {count(progress.done, 'iteration')} ({progress.rate:.0f} it/s), "
        f"now at iteration {trainer.iteration}, smooth loss {format_loss(trainer.smooth_loss)}"
    )
    if saved is not None:
        summary += f"; saved {saved.path}" if saved.note is None else f"; {saved.note}"
    print(printable(summary), file=sys.stdout, flush=True)
    if result.end is RunEnd.DIVERGED:
        print(f"rnntui: {divergence_message(session)}", file=sys.stderr, flush=True)
        return EXIT_FAILED
    return {RunEnd.LIMIT: EXIT_OK, RunEnd.PAUSED: EXIT_INTERRUPTED, RunEnd.BREAKPOINT: EXIT_BREAKPOINT}[result.end]


def count(n: int, noun: str) -> str:
    """``1 iteration``, ``2 iterations``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# --- gradient check ----------------------------------------------------------------------


def run_gradcheck(session: Session, quiet: bool) -> int:
    """Compare backprop with central differences on the next window; 0 if all pass, else 1."""
    check = check_window(take_window(session.trainer))
    say = (lambda text: None) if quiet else (lambda text: print(text, flush=True))
    say(
        f"gradient check at iteration {check.iteration}: window at position {check.position}, "
        f"{check.window_length} characters, loss {format_loss(check.loss)}, step {check.step:g}"
    )
    say(f"{'param':<6} {'max rel err':>12} {'median':>12}")
    for name, result in check.results.items():
        verdict = "ok" if result.passed(GRADCHECK_TOLERANCE) else "FAIL"
        say(f"{name:<6} {result.max_error:>12.2e} {result.median_error:>12.2e}  {verdict}")
    for line in _gradcheck_notes(check):
        say(f"note: {line}")
    if check.failing:
        worst = ", ".join(f"{name} (largest relative error {check.results[name].max_error:.2e})" for name in check.failing)
        print(f"gradcheck failed: {worst}: off by more than {GRADCHECK_TOLERANCE:g} relative "
              "and more than the rounding noise", flush=True)
        return EXIT_FAILED
    print(f"gradcheck passed: every checked element within {GRADCHECK_TOLERANCE:g} relative "
          "or within the rounding noise", flush=True)
    return EXIT_OK


def _gradcheck_notes(check: WindowCheck) -> list[str]:
    """Notes on clipping and on elements that pass only because they lie within the rounding noise."""
    notes = []
    active = [f"{name} ({n} elements)" for name, n in check.clipped.items() if n]
    if active:
        notes.append(
            f"clipping would be active on this window (|gradient| > {check.clip:g} in {', '.join(active)}); "
            "the check compares the raw, unclipped gradient"
        )
    noisy = [name for name, r in check.results.items() if r.passed(GRADCHECK_TOLERANCE) and r.max_error >= GRADCHECK_TOLERANCE]
    if noisy:
        notes.append(
            f"{', '.join(noisy)}: elements with a large relative error differ by less than the rounding noise "
            f"of a central difference at this loss ({check.noise:.1e}); their gradients are tiny, and they count as passing"
        )
    return notes
