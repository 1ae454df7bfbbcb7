"""The app's speed and memory against the targets for running in the debugger.

The app runs as ``rnntui`` runs it: the session is built as ``cli.build_session``
builds it (built-in corpus, default settings), the engine runs in a process of
its own (``start_engine_process``) and the app asks it for a coalesced update
10 times a second. Four sections, each printed as it runs, then one summary
table with the targets and MET / NOT MET:

throughput   In one process: run mode (key ``r``) of ``RnntuiApp`` under
             ``App.run_test(size=(120, 40))`` against ``Session.run`` here (the
             loop ``rnntui train`` runs, without its printing), on a session
             built the same way, alternated in timed rounds. The app's
             iterations are the engine's own counts (the mirror's ``iteration``
             after a poll). Then in a real terminal: ``rnntui`` in a 120 x 40
             pseudo-terminal (r, N seconds, r, the iteration read from the
             header) against ``rnntui train`` in a subprocess for the same
             time, alternated. CPU shares of the UI and engine processes are
             reported for both.
latency      Under ``run_test``: space (paused) to every view drawing the new
             record re-rendered and the frame composed and encoded; right or
             left arrow while running to every view showing the timestep cursor
             re-rendered; pause (r while running): the iteration in the pause's
             reply against the one the engine stopped at.
first-frame  ``rnntui`` launched in a pseudo-terminal of 120 x 40 until the
             header line (the corpus name) is on screen; cold (empty Numba
             cache in a temporary NUMBA_CACHE_DIR) and warm separately. Warm
             launches also time key presses through the terminal (space to
             the status bar's new iteration), a cross-check of ``latency``.
memory       Run mode until N iterations (100,000 by default), sampling the
             resident set size of the UI process and of the engine process and
             what the engine keeps (history and snapshots, read in the engine
             between two steps), in a fresh process when other sections run too.

    python benchmarks/bench_tui.py                       # everything (3 to 4 minutes)
    python benchmarks/bench_tui.py --quick               # shorter runs of everything (about 1.5 minutes)
    python benchmarks/bench_tui.py --sections latency,first-frame
    python benchmarks/bench_tui.py --sections memory --iterations 20000

The exit status is 1 when a target is not met, else 0.

The configuration is the app's default on the built-in corpus
(rnntui/data/default.txt, V=65): H=100, T=25, samples every 100 iterations.
BLAS runs on one thread in every process, as the ``rnntui`` command does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import fcntl
import gc
import json
import os
import platform
import pty
import random
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT / "rnntui" / "data" / "default.txt"
SIZE = (120, 40)  # terminal columns x rows for every section

TARGET_RATIO = 0.90  # run mode it/s / headless it/s, at least
TARGET_LATENCY_MS = 30.0  # key press to every panel updated, median under
TARGET_FIRST_FRAME_S = 0.8  # process start to the first full frame, under
TARGET_FLAT_MIB = 16.0  # RSS growth of either process beyond what the engine is meant to keep, at most
SECTIONS = ("throughput", "latency", "first-frame", "memory")

ENGINE_SETTLE_S = 1.5  # after a launch's first step: the engine's warm-up thread has loaded every kernel
TRAIN_UNTIL_INTERRUPTED = 10**9  # --iterations of an `rnntui train` that Ctrl+C (SIGINT) stops
FULL_CORE = 0.9  # CPU share of headless training below which other processes are taking its core
PRESS_GAP_S = (0.1, 0.2)  # idle time before each timed key, drawn at random so presses meet every phase of the polling


# --- shared helpers ------------------------------------------------------------------


@dataclass
class Verdict:
    """One row of the summary table."""

    section: str
    measure: str
    value: str
    target: str
    met: bool | None  # None: information only


@dataclass
class Options:
    hidden_size: int = 100
    seq_length: int = 25
    rounds: int = 3
    seconds: float = 5.0
    steps: int = 30
    pauses: int = 5
    launches: int = 3
    pty_steps: int = 10
    iterations: int = 100_000
    breakdown: bool = True
    verdicts: list[Verdict] = field(default_factory=list)

    def flags(self) -> list[str]:
        """The command-line flags of this configuration (the defaults unless --hidden-size or --seq-length differ)."""
        from rnntui.engine import Config

        defaults = Config()
        given = []
        if self.hidden_size != defaults.hidden_size:
            given += ["--hidden-size", str(self.hidden_size)]
        if self.seq_length != defaults.seq_length:
            given += ["--seq-length", str(self.seq_length)]
        return given


def make_session(opts: Options):
    """A new session as ``rnntui`` builds it from its command line (``cli.build_session``)."""
    from rnntui.cli import build_app_parser, build_session

    return build_session(build_app_parser().parse_args(opts.flags()))


def rnntui_command() -> list[str]:
    rnntui = Path(sys.executable).with_name("rnntui")
    return [str(rnntui)] if rnntui.exists() else [sys.executable, "-m", "rnntui"]


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of a process (VmRSS)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


def _stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat from the state field on (the command name may hold spaces)."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (all its threads)."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (the app's engine process)."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(_stat_fields(int(entry))[1]) == pid:
                    children.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue  # ended meanwhile
    return children


def mib(n: float) -> float:
    return n / 2**20


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between order statistics."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def spread(values: list[float]) -> str:
    """``median m, p95 p, max x`` of milliseconds."""
    return f"median {statistics.median(values):.1f} ms, p95 {percentile(values, 95):.1f} ms, max {max(values):.1f} ms"


async def wait_until(condition: Callable[[], bool], timeout: float, poll: float = 0.002) -> bool:
    """Yield to the event loop until ``condition()`` holds; False on timeout."""
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(poll)
    return True


async def settle(seconds: float = 0.3) -> None:
    """Let the app run on its own for a while.

    ``Pilot.pause()`` is not used: it calls the screen's update handler
    directly, and after that, changes made outside the app's own timer
    callbacks were seen not to be drawn until something else refreshed the
    screen. The app never does that by itself, so it would skew timings.
    """
    await asyncio.sleep(seconds)


async def mounted(app) -> object:
    """The main screen once the app has mounted it."""
    from rnntui.tui.main_screen import MainScreen

    if not await wait_until(lambda: isinstance(app.screen, MainScreen), 10):
        raise RuntimeError("the main screen did not appear within 10 s")
    await settle()
    return app.screen


@contextlib.asynccontextmanager
async def app_on_engine(opts: Options):
    """(app, main screen, controller): ``RnntuiApp`` under ``run_test`` on an engine process, as ``run_app`` starts them."""
    from rnntui.engine.control import start_engine_process
    from rnntui.tui.app import RnntuiApp

    if threading.active_count() != 1:  # control.py forks only from a single-threaded process, as rnntui is
        print(f"  note: {threading.active_count()} threads here, so the engine process is spawned, not forked")
    controller = start_engine_process(make_session(opts))
    try:
        app = RnntuiApp(controller)
        async with app.run_test(size=SIZE):
            yield app, await mounted(app), controller
    finally:
        controller.close()


def engine_pid(controller) -> int:
    return controller._transport.pid  # no public way to ask (see benchmarks/README.md)


def post_key(app, key: str, char: str | None) -> float:
    """Hand a key to the app as its terminal driver does; returns perf_counter() just before.

    ``Pilot.press`` is not used for timing: after posting it waits for the
    app to be idle, which would add its own wait to every timing.
    """
    from textual import events

    event = events.Key(key, char)
    event.set_sender(app)
    t = time.perf_counter()
    app._driver.send_message(event)
    return t


def engine_count(controller) -> tuple[float, int]:
    """(perf_counter() halfway through a poll's round trip, the engine's iteration count in its reply)."""
    t = time.perf_counter()
    controller.poll()
    return (t + time.perf_counter()) / 2, controller.mirror.iteration


async def start_running(app, screen) -> None:
    post_key(app, "r", "r")
    if not await wait_until(lambda: screen.running, 5):
        raise RuntimeError(f"r did not start a run (state {screen.state!r})")


@dataclass
class PauseCheck:
    """One press of r while running: key to the pause's reply, the iteration in that reply, where the engine stopped."""

    reply_ms: float
    reply_iteration: int
    stopped_iteration: int

    @property
    def exact(self) -> bool:
        return self.reply_iteration == self.stopped_iteration


async def pause_with_check(app, screen, controller) -> PauseCheck:
    """Press r to pause; note the pause's reply; later ask the engine where it stopped."""
    replies: list[tuple[float, int]] = []
    pause = controller.pause

    def noted_pause() -> None:
        pause()
        replies.append((time.perf_counter(), controller.mirror.iteration))  # the reply's update, applied

    controller.pause = noted_pause  # what the screen's r handler calls
    try:
        t0 = post_key(app, "r", "r")
        if not await wait_until(lambda: bool(replies) and not screen.running, 10):
            raise RuntimeError("r did not pause the run within 10 s")
    finally:
        del controller.pause
    await settle(0.3)  # long enough for any iteration after the reply to show
    _, stopped = engine_count(controller)
    if controller.mirror.state.is_running:
        raise RuntimeError("the engine still runs after the pause's reply")
    t_reply, iteration = replies[0]
    return PauseCheck(1e3 * (t_reply - t0), iteration, stopped)


def headline(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 76 - len(title)), flush=True)


# --- 1. run mode throughput ------------------------------------------------------------


def headless_rate(session, seconds: float) -> tuple[float, int, float]:
    """``Session.run`` in this process for about ``seconds``: (iterations per second, iterations, CPU share)."""
    start, cpu = time.perf_counter(), time.process_time()
    deadline = start + seconds
    result = session.run(None, lambda: time.perf_counter() >= deadline)
    wall = time.perf_counter() - start
    return result.steps / wall, result.steps, (time.process_time() - cpu) / wall


@dataclass
class RunMeasure:
    """One timed run: its rate, iterations and CPU share of a core per process (None where not measured)."""

    rate: float
    iterations: int
    cpu: float | None = None  # the training process's own (headless) or the UI process's (app)
    engine_cpu: float | None = None  # the app's engine process
    pause: PauseCheck | None = None
    note: str = ""


async def app_rate(app, screen, controller, seconds: float) -> RunMeasure:
    """Run mode over ``seconds``, counted by the engine; CPU of this (the UI) process and of the engine process."""
    engine = engine_pid(controller)
    await start_running(app, screen)
    await settle(0.2)
    (t0, i0), c0, e0 = engine_count(controller), time.process_time(), cpu_seconds(engine)
    await asyncio.sleep(seconds)
    (t1, i1), c1, e1 = engine_count(controller), time.process_time(), cpu_seconds(engine)
    pause = await pause_with_check(app, screen, controller)
    wall = t1 - t0
    return RunMeasure((i1 - i0) / wall, i1 - i0, (c1 - c0) / wall, (e1 - e0) / wall, pause)


class UiCost:
    """Time this (the UI) process spends per kind of work while installed (a diagnosis).

    Wraps, for the duration of a ``with`` block, ``Widget._render_content`` (one
    widget's render, by class), ``Screen._refresh_layout`` (a layout: reflow and
    full repaint), ``Screen._compositor_refresh`` (composing a frame, renders
    included) and ``MainScreen.show_mirror`` (handing the mirror to the
    reactives and their watchers), timed with ``time.thread_time()`` (CPU of
    the calling thread); and ``Controller.call`` (the round trips to the
    engine), timed by the wall clock: the event loop waits that long. Nested
    items overlap: the rows do not add up.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._undo: list[tuple[type, str, object]] = []

    def _add(self, key: str, seconds: float) -> None:
        self.seconds[key] = self.seconds.get(key, 0.0) + seconds
        self.calls[key] = self.calls.get(key, 0) + 1

    def _wrap(self, cls: type, name: str, label: Callable[[object], str], clock: Callable[[], float] = time.thread_time) -> None:
        original = cls.__dict__[name]
        cost = self

        def timed(self, *args, **kwargs):
            t = clock()
            try:
                return original(self, *args, **kwargs)
            finally:
                cost._add(label(self), clock() - t)

        setattr(cls, name, timed)
        self._undo.append((cls, name, original))

    def __enter__(self) -> UiCost:
        from textual.screen import Screen
        from textual.widget import Widget

        from rnntui.engine.control import Controller
        from rnntui.tui.main_screen import MainScreen

        self._wrap(Widget, "_render_content", lambda w: f"render {type(w).__name__}")
        self._wrap(Screen, "_refresh_layout", lambda w: "layout (reflow + repaint)")
        self._wrap(Screen, "_compositor_refresh", lambda w: "compose frame (incl. renders)")
        self._wrap(MainScreen, "show_mirror", lambda w: "MainScreen.show_mirror")
        self._wrap(Controller, "call", lambda c: "engine round trips (wall)", time.perf_counter)
        return self

    def __exit__(self, *exc: object) -> None:
        for cls, name, original in reversed(self._undo):
            setattr(cls, name, original)


async def run_mode_costs(app, screen, controller, seconds: float) -> None:
    """Print where this (the UI) process's time goes during ``seconds`` of run mode."""
    start = time.perf_counter()
    with UiCost() as cost:
        run = await app_rate(app, screen, controller, seconds)
    span = time.perf_counter() - start  # from r to the pause checked: everything the wrappers saw
    print(
        f"  where the UI process's time goes in run mode ({span:.1f} s, {run.rate:.0f} it/s while measured; "
        f"UI process CPU {100 * run.cpu:.0f}% of a core, engine {100 * run.engine_cpu:.0f}%):"
    )
    print(f"    {'':34} {'ms per s':>8} {'calls/s':>8} {'ms/call':>8}")
    for key in sorted(cost.seconds, key=cost.seconds.get, reverse=True):
        per_s = 1e3 * cost.seconds[key] / span
        if per_s >= 1.0:
            print(f"    {key:34} {per_s:8.0f} {cost.calls[key] / span:8.1f} {1e3 * cost.seconds[key] / cost.calls[key]:8.1f}")


def cpu_text(run: RunMeasure) -> str:
    shares = [f"{100 * run.cpu:.0f}%"] if run.cpu is not None else []
    if run.engine_cpu is not None:
        shares.append(f"engine {100 * run.engine_cpu:.0f}%")
    return f"CPU {' + '.join(shares)}" if shares else ""


async def alternated_rounds(rounds: int, headless, app) -> list[tuple[RunMeasure, RunMeasure]]:
    """(headless, app) per round, headless first in even rounds and second in odd ones; each round printed.

    ``headless`` and ``app`` are coroutine functions that time one side and return its RunMeasure.
    """
    pairs = []
    for k in range(rounds):
        if k % 2 == 0:
            h = await headless()
            a = await app()
        else:
            a = await app()
            h = await headless()
        pairs.append((h, a))
        headless_cpu = f", {cpu_text(h)}" if h.cpu is not None else ""
        print(
            f"  round {k + 1} ({'headless' if k % 2 == 0 else 'app'} first): headless {h.rate:7.0f} it/s "
            f"({h.iterations} it{headless_cpu}{h.note}) | app {a.rate:7.0f} it/s ({a.iterations} it, UI {cpu_text(a)}"
            f"{a.note}) | ratio {a.rate / h.rate:.3f}",
            flush=True,
        )
    return pairs


def summarise_rounds(pairs: list[tuple[RunMeasure, RunMeasure]], opts: Options, where: str, headless_name: str) -> None:
    """Median rates, ratio and CPU shares of the rounds, and the throughput verdict."""
    headless = statistics.median(h.rate for h, _ in pairs)
    app = statistics.median(a.rate for _, a in pairs)
    ratio = statistics.median(a.rate / h.rate for h, a in pairs)
    ui_cpu = statistics.median(a.cpu for _, a in pairs)
    engine_cpu = statistics.median(a.engine_cpu for _, a in pairs)
    headless_cpu = statistics.median(h.cpu for h, _ in pairs)
    print(
        f"  median: headless {headless:7.0f} it/s | app {app:7.0f} it/s | ratio {ratio:.3f} (median of the rounds' "
        f"ratios) | app's UI process {100 * ui_cpu:.0f}% of a core, engine process {100 * engine_cpu:.0f}%"
    )
    if headless_cpu < FULL_CORE:
        print(f"  note: headless training got {100 * headless_cpu:.0f}% of a core (median): other processes took the rest, "
              "so these figures are not this machine's; measure on a quiet machine")
    opts.verdicts.append(
        Verdict("throughput", f"{where}: run mode / {headless_name}", f"{ratio:.3f} ({app:.0f}/{headless:.0f})",
                f">= {TARGET_RATIO:.2f}", ratio >= TARGET_RATIO)
    )
    opts.verdicts.append(Verdict("throughput", f"{where}: UI process CPU in run mode", f"{100 * ui_cpu:.0f}% of a core", "(reported)", None))


async def section_throughput(opts: Options) -> None:
    from rnntui.engine.control import warm_up_everything

    headline(f"1. run mode vs headless training (H={opts.hidden_size}, T={opts.seq_length})")
    print(
        f"{opts.rounds} rounds of {opts.seconds:g} s per side, alternating which side goes first; the verdict uses the\n"
        "median of the rounds' ratios (app / headless), so load from other processes hits both halves of a round.\n"
        f"a) In this process: RnntuiApp under run_test {SIZE[0]}x{SIZE[1]} on its engine process (start_engine_process, as\n"
        "   rnntui starts it), in run mode (r ... r) while the app polls and draws at its normal rate, counted by the\n"
        "   engine: the mirror's iteration after a poll at each end of the window. Headless: Session.run here, on a\n"
        "   session built the same way (cli.build_session), kernels warmed up as rnntui train does. This is the loop\n"
        "   rnntui train runs, without its printing, timed without any process start: the strictest baseline.\n"
        "   CPU: this process (the UI's, or headless training's) by time.process_time(), the engine's from /proc/PID/stat."
    )
    headless = make_session(opts)
    warm_up_everything()
    headless_rate(headless, 0.3)  # the first steps outside the timing
    async with app_on_engine(opts) as (app, screen, controller):
        post_key(app, "space", " ")  # the first step outside the timing
        if not await wait_until(lambda: controller.mirror.iteration >= 1, 30):
            raise RuntimeError("space did not step within 30 s")
        await app_rate(app, screen, controller, 0.5)  # a warm-up run

        async def headless_round() -> RunMeasure:
            return RunMeasure(*headless_rate(headless, opts.seconds))

        async def app_round() -> RunMeasure:
            return await app_rate(app, screen, controller, opts.seconds)

        pairs = await alternated_rounds(opts.rounds, headless_round, app_round)
        shown_rate = screen.rate
        if opts.breakdown:
            await run_mode_costs(app, screen, controller, min(opts.seconds, 3.0))
    summarise_rounds(pairs, opts, "run_test", "Session.run")
    print(f"  (the app's status bar showed {shown_rate:,.0f} it/s when last paused)")
    pauses = [a.pause for _, a in pairs]
    print("  pause after each round: reply iteration / engine stopped at: "
          + ", ".join(f"{p.reply_iteration}/{p.stopped_iteration}" for p in pauses))
    await terminal_throughput(opts)


# --- rnntui and rnntui train as child processes -------------------------------------------


HEADER_TEXT = DEFAULT_CORPUS.name.encode()  # the status bar names the corpus
RUNNING_TEXT = re.compile(re.escape("▶ running".encode()))  # the header's run state
PAUSED_TEXT = re.compile(re.escape("⏸ paused".encode()))
ESCAPE = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]")  # CSI, OSC, charset
STATUS_ITERATION = re.compile(rb"iter ([0-9][0-9,]*) \xe2\x94\x82 p ")  # the header's "iter N │ p ...", escapes removed
FIRST_PROGRESS = re.compile(rb"^iter 0, loss", re.MULTILINE)  # rnntui train's first line after its warm-up and first step
TRAIN_SUMMARY = re.compile(rb"interrupted: ([0-9]+) iterations? \(([0-9]+) it/s\)")  # its summary after Ctrl+C
MATCH_OVERLAP = 64  # bytes searched again before new output: a pattern split across two reads is still found


def terminal_env() -> dict[str, str]:
    """The environment of a launch: this one, a colour terminal, the normal Numba cache."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(TERM="xterm-256color", COLORTERM="truecolor")
    return env


class ChildOutput:
    """What a child process writes to one file descriptor (a pty's master or a pipe), kept since clear()."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.output = bytearray()
        self.ended = False

    def read(self) -> None:
        try:
            data = os.read(self.fd, 1 << 16)
        except OSError:  # a pty's master reads EIO once the child has gone
            data = b""
        if data:
            self.output += data
        else:
            self.ended = True

    def clear(self) -> None:
        self.output = bytearray()


def appears(out: ChildOutput, pattern: re.Pattern[bytes], since: int = 0) -> Callable[[], bool]:
    """A condition for pump(): ``pattern`` is in what ``out`` wrote from offset ``since`` on (only new bytes are searched)."""
    checked = [since]

    def found() -> bool:
        hit = pattern.search(out.output, max(since, checked[0] - MATCH_OVERLAP))
        checked[0] = len(out.output)
        return hit is not None

    return found


def pump(outputs: list[ChildOutput], seconds: float, done: Callable[[], bool] | None = None) -> float | None:
    """Read every output for up to ``seconds`` (a child whose output is not read blocks on writing);
    with ``done``, stop at the first read after which it holds and return perf_counter() then."""
    deadline = time.perf_counter() + seconds
    while (left := deadline - time.perf_counter()) > 0:
        live = [out for out in outputs if not out.ended]
        if not live:
            break
        ready = select.select([out.fd for out in live], [], [], min(left, 0.05))[0]
        for out in live:
            if out.fd in ready:
                out.read()
        if ready and done is not None and done():
            return time.perf_counter()
    return None


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        return _stat_fields(pid)[0] != "Z"
    except OSError:
        return False


def end_leftovers(pids: list[int], seconds: float = 5.0) -> None:
    """Wait for processes this benchmark started to end; kill, by pid, any still there after ``seconds``."""
    deadline = time.perf_counter() + seconds
    for pid in pids:
        while alive(pid) and time.perf_counter() < deadline:
            time.sleep(0.05)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


class PtyApp:
    """``rnntui`` running in a pseudo-terminal of 120 x 40, and what it has written."""

    def __init__(self, env: dict[str, str], flags: list[str]) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
        self.start = time.perf_counter()
        self.proc = subprocess.Popen(
            rnntui_command() + flags,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=tempfile.gettempdir(),
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.screen = ChildOutput(self.master)

    @property
    def output(self) -> bytearray:
        """Written since the last clear()."""
        return self.screen.output

    def wait_for(self, pattern: re.Pattern[bytes], timeout: float, since: int = 0) -> float:
        """perf_counter() when the output from offset ``since`` first matches ``pattern``."""
        seen = pump([self.screen], timeout, appears(self.screen, pattern, since))
        if seen is None:
            raise RuntimeError(f"{pattern.pattern!r} not seen within {timeout:g} s; last output: {bytes(self.output[-300:])!r}")
        return seen

    def drain(self, seconds: float) -> None:
        """Read (and keep) output for ``seconds``."""
        pump([self.screen], seconds)

    def clear(self) -> None:
        self.screen.clear()

    def send(self, keys: bytes) -> float:
        t = time.perf_counter()
        os.write(self.master, keys)
        return t

    def cpu_seconds(self) -> tuple[float, float]:
        """CPU time used so far by the UI process and by its children (the engine process)."""
        return cpu_seconds(self.proc.pid), sum(cpu_seconds(pid) for pid in child_pids(self.proc.pid))

    def close(self) -> None:
        """SIGTERM (q would ask about unsaved steps), then SIGKILL after 5 s; the engine process ends as its pipe closes."""
        engines = child_pids(self.proc.pid) if self.proc.poll() is None else []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            end = time.perf_counter() + 5
            while self.proc.poll() is None and time.perf_counter() < end:
                self.drain(0.05)
            if self.proc.poll() is None:
                self.proc.kill()
        self.proc.wait()
        os.close(self.master)
        end_leftovers(engines)


def status_iteration(output: bytes | bytearray) -> int:
    """The iteration in the last header line drawn in ``output`` (terminal escapes removed)."""
    found = STATUS_ITERATION.findall(ESCAPE.sub(b"", output))
    if not found:
        raise RuntimeError(f"no 'iter N' header line in the output; last output: {bytes(output[-300:])!r}")
    return int(found[-1].replace(b",", b""))


def shows_iteration(n: int) -> re.Pattern[bytes]:
    """The status bar's ``iter N`` (not a prefix of a longer number)."""
    return re.compile(rb"iter " + f"{n:,}".encode() + rb"(?![0-9,])")


def terminal_app_round(app: PtyApp, seconds: float, before: int) -> tuple[RunMeasure, int]:
    """r, ``seconds``, r in the terminal: the header's iteration after the pause minus ``before``, over the
    time between the two key writes; and that iteration."""
    app.clear()
    (c0, e0), t0 = app.cpu_seconds(), app.send(b"r")
    running = app.wait_for(RUNNING_TEXT, 10)
    app.drain(seconds - (running - t0))
    (c1, e1), t1 = app.cpu_seconds(), app.send(b"r")
    mark = len(app.output)
    paused = app.wait_for(PAUSED_TEXT, 10, since=mark)
    app.drain(0.3)
    after = status_iteration(app.output[mark:])
    wall = t1 - t0
    note = f"; key to frame: r {1e3 * (running - t0):.0f} ms, pause {1e3 * (paused - t1):.0f} ms"
    return RunMeasure((after - before) / wall, after - before, (c1 - c0) / wall, (e1 - e0) / wall, note=note), after


def train_round(env: dict[str, str], opts: Options, app: PtyApp) -> RunMeasure:
    """``rnntui train`` from its first progress line for ``opts.seconds``, then Ctrl+C; the app's output is read meanwhile."""
    command = rnntui_command() + ["train", *opts.flags(), "--iterations", str(TRAIN_UNTIL_INTERRUPTED)]
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=env, cwd=tempfile.gettempdir(), start_new_session=True)
    out = ChildOutput(proc.stdout.fileno())
    try:
        t0 = pump([out, app.screen], 60, appears(out, FIRST_PROGRESS))
        if t0 is None:
            raise RuntimeError(f"rnntui train printed no 'iter 0' line within 60 s: {bytes(out.output[-300:])!r}")
        c0 = cpu_seconds(proc.pid)
        pump([out, app.screen], opts.seconds)
        c1, t1 = cpu_seconds(proc.pid), time.perf_counter()
        proc.send_signal(signal.SIGINT)  # stops after the current iteration and prints the summary
        pump([out, app.screen], 30, lambda: out.ended)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    summary = TRAIN_SUMMARY.search(out.output)
    if summary is None:
        raise RuntimeError(f"no summary line from rnntui train; last output: {bytes(out.output[-300:])!r}")
    iterations = int(summary[1]) - 1  # the first was done when 'iter 0' was printed
    wall = t1 - t0
    return RunMeasure(iterations / wall, iterations, (c1 - c0) / wall, note=f"; says {int(summary[2])} it/s")


async def terminal_throughput(opts: Options) -> None:
    print(
        f"b) In a real terminal: rnntui in a pseudo-terminal of {SIZE[0]}x{SIZE[1]}, one launch for all rounds (space,\n"
        f"   then {ENGINE_SETTLE_S:g} s for the engine's warm-up). A round: r, {opts.seconds:g} s, r; the iterations are the\n"
        "   header's 'iter N' after the pause minus before, over the time between the two key writes ('key to\n"
        "   frame' is how long each write took to show as the new state). Headless: rnntui train in a subprocess\n"
        "   (a new one per round, its default output read from a pipe), timed from its 'iter 0' line (printed after\n"
        f"   its warm-up and first step) for {opts.seconds:g} s, then Ctrl+C: the iterations its summary counts after the\n"
        "   first, over that time (its own figure, 'says', beside it). CPU from /proc/PID/stat: the app's UI process,\n"
        "   its engine process, rnntui train."
    )
    env = terminal_env()
    app = PtyApp(env, opts.flags())
    shown = [0]  # the header's iteration at the end of the last app round

    async def headless_round() -> RunMeasure:
        return train_round(env, opts, app)

    async def app_round() -> RunMeasure:
        run, shown[0] = terminal_app_round(app, opts.seconds, shown[0])
        return run

    try:
        app.wait_for(re.compile(re.escape(HEADER_TEXT)), 30)
        app.clear()
        app.send(b" ")
        app.wait_for(shows_iteration(0), 60)
        app.drain(ENGINE_SETTLE_S)
        pairs = await alternated_rounds(opts.rounds, headless_round, app_round)
    finally:
        app.close()
    summarise_rounds(pairs, opts, "terminal", "rnntui train")


# --- 2. key latency --------------------------------------------------------------------


class DrawProbe:
    """Timestamps of what a key press sets off, taken by wrapping the app's own calls.

    * ``trips``: round trips of ``controller.step`` (the key's command to the engine and back);
    * ``draws``: every ``render()`` of each view since the last reset, with the iteration and the
      timestep cursor it drew (the loss plot: the length of its loss array, no cursor);
    * ``frames``: every compositor update handed to ``App._display``. Under ``run_test`` the headless
      driver discards it, so the probe encodes it for a terminal itself (``render_segments``), which a
      real terminal would pay too; the time is taken after encoding.

    ``record_names`` are the shown views the screen binds its record to (status bar and panels) and the
    loss plot; ``cursor_names`` those it binds its timestep cursor to. Bindings leave no trace to read,
    so they are found by what the views hold: after a step and a move of the cursor, the screen's record
    (the same object) and its cursor position.
    """

    def __init__(self, app, screen, controller) -> None:
        from textual.widget import Widget
        from textual_plotext import PlotextPlot

        from rnntui.tui.loss_curve import LossCurve

        self.trips: list[tuple[float, float]] = []
        self.draws: dict[str, list[tuple[float, int, int]]] = {}
        self.frames: list[float] = []
        if screen.record is None or screen.cursor_t == 0:
            raise RuntimeError("step once and move the cursor once before probing: the bound views are found by that")
        views = [w for w in screen.query(Widget) if w is not screen and w.display and w.region.area > 0]
        record_views = [w for w in views if getattr(w, "record", None) is screen.record]
        cursor_views = [w for w in views if "cursor_t" in type(w)._reactives and w.cursor_t == screen.cursor_t]
        for widget in {id(w): w for w in record_views + cursor_views}.values():
            self._wrap(self._name(widget), widget, lambda w=widget: (
                w.record.iteration if getattr(w, "record", None) is not None else -1, getattr(w, "cursor_t", -1)))
        curve = screen.query_one(LossCurve)
        self._wrap("loss", curve.query_one(PlotextPlot), lambda c=curve: ((len(c.loss) - 1) if c.loss is not None else -1, -1))
        self.record_names = [self._name(w) for w in record_views] + ["loss"]
        self.cursor_names = [self._name(w) for w in cursor_views]

        step = controller.step

        def timed_step() -> None:
            t = time.perf_counter()
            step()
            self.trips.append((t, time.perf_counter()))

        controller.step = timed_step  # what the screen's space handler calls
        display, console = app._display, app.console

        def timed_display(screen_, renderable) -> None:
            display(screen_, renderable)
            if renderable is not None and hasattr(renderable, "render_segments"):
                renderable.render_segments(console)
                self.frames.append(time.perf_counter())

        app._display = timed_display

    @staticmethod
    def _name(widget) -> str:
        return widget.id or type(widget).__name__

    def _wrap(self, name: str, widget, shown: Callable[[], tuple[int, int]]) -> None:
        render = widget.render
        draws = self.draws.setdefault(name, [])

        def timed_render():
            result = render()
            draws.append((time.perf_counter(), *shown()))
            return result

        widget.render = timed_render

    def shown(self, names: list[str], wanted: Callable[[int, int], bool]) -> tuple[float, float] | None:
        """(the last of the views' first draws for which ``wanted(iteration, cursor)`` holds, the first frame
        sent after it), once every view in ``names`` has drawn so; else None."""
        firsts = []
        for name in names:
            first = next((t for t, iteration, cursor in self.draws[name] if wanted(iteration, cursor)), None)
            if first is None:
                return None
            firsts.append(first)
        last = max(firsts)
        frame = next((f for f in self.frames if f >= last), None)
        return None if frame is None else (last, frame)

    def reset(self) -> None:
        self.trips.clear()
        self.frames.clear()
        for draws in self.draws.values():
            draws.clear()


@dataclass
class Press:
    """One timed key press, perf_counter() each: posted, the last view drawn, the frame sent after it, and the
    engine round trip the key made (controller.step), if any."""

    posted: float
    drawn: float
    frame: float
    trip: tuple[float, float] | None

    @property
    def total_ms(self) -> float:
        return 1e3 * (self.frame - self.posted)


KEY_CHARACTERS = {"space": " ", "r": "r"}  # the character a terminal sends with the key, where there is one


async def timed_press(app, probe: DrawProbe, key: str, names: list[str], wanted: Callable[[int, int], bool]) -> Press:
    """Press ``key`` and wait until every view in ``names`` has drawn what ``wanted(iteration, cursor)`` accepts."""
    probe.reset()
    t0 = post_key(app, key, KEY_CHARACTERS.get(key))
    if not await wait_until(lambda: probe.shown(names, wanted) is not None, 5.0):
        raise RuntimeError(f"after {key}, the views {names} did not all draw what was wanted within 5 s")
    drawn, frame = probe.shown(names, wanted)
    return Press(t0, drawn, frame, probe.trips[0] if probe.trips else None)


class FullCollections:
    """Durations (seconds) of full (generation 2) garbage collections while installed."""

    def __init__(self) -> None:
        self.durations: list[float] = []
        self._started = 0.0

    def _on_gc(self, phase: str, info: dict) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.durations.append(time.perf_counter() - self._started)

    def __enter__(self) -> FullCollections:
        gc.callbacks.append(self._on_gc)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._on_gc)

    def describe(self) -> str:
        if not self.durations:
            return "no full (generation 2) garbage collection"
        return (f"{len(self.durations)} full (generation 2) garbage collections, "
                f"{1e3 * statistics.median(self.durations):.0f} ms each (median)")


async def time_presses(app, probe: DrawProbe, count: int, gaps: random.Random,
                       press: Callable[[], tuple[str, Callable[[int, int], bool]]],
                       names: list[str]) -> tuple[list[Press], FullCollections]:
    """``count`` timed presses after 3 untimed ones, and the full collections met during the timed ones.

    ``press()`` gives each press's key and what the views must draw after it.
    """
    warmup = 3
    presses = []
    with FullCollections() as collections:
        for k in range(warmup + count):
            if k == warmup:
                presses.clear()
                collections.durations.clear()
            await settle(gaps.uniform(*PRESS_GAP_S))
            key, wanted = press()
            presses.append(await timed_press(app, probe, key, names, wanted))
    return presses, collections


async def section_latency(opts: Options) -> None:
    headline(f"2. key latency: key to every panel updated (H={opts.hidden_size}, T={opts.seq_length}, V=65)")
    print(
        "Method: under run_test, on an engine process; t0 = perf_counter() just before the key is posted to the app\n"
        "as its terminal driver would (Pilot.press waits for idleness afterwards, which would blur timings); the end\n"
        "is the first frame composed (and encoded for a terminal) after every view waited for has rendered what the\n"
        "key changes, found by wrapping each view's render() and App._display. Before each key the app is left to\n"
        f"itself for {PRESS_GAP_S[0]:g}-{PRESS_GAP_S[1]:g} s (drawn at random, so keys meet every phase of its 10 Hz polling).\n"
        "paused: space; the views drawing the record (status bar, panels, loss plot) must show the new iteration.\n"
        "  'engine round trip' is controller.step (the command to the engine process and the reply).\n"
        "running: right / left arrow (the timestep cursor, back and forth within 1..T-1); the views showing the\n"
        "  cursor must show the new position.\n"
        "pause: r while running; the iteration in the pause's reply against the engine's count 0.3 s later (a poll)."
    )
    gaps = random.Random(0)
    async with app_on_engine(opts) as (app, screen, controller):
        post_key(app, "space", " ")
        post_key(app, "right", None)
        if not await wait_until(lambda: screen.record is not None and screen.cursor_t == 1, 30):
            raise RuntimeError("space and right did not step and move the cursor within 30 s")
        await settle()
        probe = DrawProbe(app, screen, controller)
        print(f"  views drawing the record: {', '.join(probe.record_names)}")
        print(f"  views showing the cursor: {', '.join(probe.cursor_names)}")

        def space() -> tuple[str, Callable[[int, int], bool]]:
            iteration = controller.mirror.iteration  # the next record's
            return "space", lambda drawn, cursor: drawn == iteration

        stepped, paused_gc = await time_presses(app, probe, opts.steps, gaps, space, probe.record_names)
        await start_running(app, screen)
        await settle(0.5)
        last_t = screen.record.seq_length - 1
        moves = {"direction": 1}

        def arrow() -> tuple[str, Callable[[int, int], bool]]:
            target = screen.cursor_t + moves["direction"]
            if not 1 <= target <= last_t:
                moves["direction"] = -moves["direction"]
                target = screen.cursor_t + moves["direction"]
            return ("right" if moves["direction"] > 0 else "left"), lambda drawn, cursor: cursor == target

        moved, running_gc = await time_presses(app, probe, opts.steps, gaps, arrow, probe.cursor_names)
        checks = [await pause_with_check(app, screen, controller)]
        for _ in range(opts.pauses - 1):
            await start_running(app, screen)
            await settle(gaps.uniform(*PRESS_GAP_S))
            checks.append(await pause_with_check(app, screen, controller))
    report_latency(opts, stepped, paused_gc, moved, running_gc, checks)


def report_latency(opts: Options, stepped: list[Press], paused_gc: FullCollections, moved: list[Press],
                   running_gc: FullCollections, checks: list[PauseCheck]) -> None:
    """Print the latency tables and add the section's verdicts."""
    trips = [1e3 * (p.trip[1] - p.trip[0]) for p in stepped]
    to_drawn = [1e3 * (p.drawn - p.trip[1]) for p in stepped]
    print(f"  paused, space ({len(stepped)} presses after 3 untimed), milliseconds:")
    print(f"    {'':28} {'median':>8} {'p95':>8} {'max':>8}")
    for label, values in (
        ("engine round trip", trips),
        ("reply to last view drawn", to_drawn),
        ("key to frame (total)", [p.total_ms for p in stepped]),
    ):
        print(f"    {label:28} {statistics.median(values):8.1f} {percentile(values, 95):8.1f} {max(values):8.1f}")
    print(f"    {paused_gc.describe()} during the timed presses")
    moving = [p.total_ms for p in moved]
    print(f"  running, right/left arrow ({len(moved)} presses after 3 untimed): key to frame {spread(moving)}")
    print(f"    {running_gc.describe()} during the timed presses")
    exact = sum(check.exact for check in checks)
    print(
        f"  pause (r while running), {len(checks)} times: reply iteration / engine stopped at: "
        + ", ".join(f"{c.reply_iteration}/{c.stopped_iteration}" for c in checks)
        + f"; key to reply {spread([c.reply_ms for c in checks])}"
    )
    stepped_ms = [p.total_ms for p in stepped]
    for measure, values in (("space (paused) -> all panels", stepped_ms), ("arrow (running) -> cursor panels", moving)):
        median = statistics.median(values)
        opts.verdicts.append(Verdict("latency", f"{measure}, median", f"{median:.1f} ms", f"< {TARGET_LATENCY_MS:.0f} ms",
                                     median < TARGET_LATENCY_MS))
        opts.verdicts.append(Verdict("latency", f"{measure}, p95", f"{percentile(values, 95):.1f} ms", "(reported)", None))
    opts.verdicts.append(Verdict("latency", "pause: reply iteration = stop iteration", f"{exact}/{len(checks)}", "all",
                                 exact == len(checks)))


# --- 3. first frame ---------------------------------------------------------------------


def launch(env: dict[str, str], flags: list[str], steps: int = 0) -> tuple[float, float, list[float]]:
    """Seconds to the first frame, seconds to the first step shown, and the latency of ``steps`` more steps.

    After the header appears, space is sent and the time until the status bar
    shows ``iter 0`` is taken (the first step waits for the engine's kernels).
    Then each further space is timed from the write to the pty until ``iter N``
    arrives: the status bar is the last view drawn in the frame that updates
    every panel, so this is key press to all panels on the terminal.
    """
    app = PtyApp(env, flags)
    try:
        header = app.wait_for(re.compile(re.escape(HEADER_TEXT)), 30) - app.start
        app.clear()
        first_step = app.wait_for(shows_iteration(0), 60) - app.start if app.send(b" ") else 0.0
        latencies = []
        for n in range(1, steps + 1):
            app.drain(0.15)
            app.clear()
            t0 = app.send(b" ")
            latencies.append(1e3 * (app.wait_for(shows_iteration(n), 10) - t0))
        return header, first_step, latencies
    finally:
        app.close()


def section_first_frame(opts: Options) -> None:
    headline(f"3. first frame in a real terminal (pty {SIZE[0]}x{SIZE[1]})")
    print(
        f"Method: rnntui (built-in corpus) in a pseudo-terminal of {SIZE[0]}x{SIZE[1]}; from just before the process\n"
        f"starts until its output contains the header's corpus name ({HEADER_TEXT.decode()}). The engine process is\n"
        "started before the app (as run_app does) and the whole first frame is written in one go, so this is the\n"
        "first full frame. Then space is sent and the time to 'iter 0' in the status bar is noted (the first step\n"
        "waits for the engine's kernels, loaded or compiled by its warm-up thread).\n"
        "cold: NUMBA_CACHE_DIR is a new empty temporary folder for every launch (the repository's caches are\n"
        "left alone); warm: the normal cache, after one untimed launch. Median of the launches.\n"
        f"Warm launches also time {opts.pty_steps} more presses of space each, from the write to the pty until the\n"
        "status bar's 'iter N' arrives (a cross-check of section 2 through a real terminal)."
    )
    base = terminal_env()
    launch(base, opts.flags())  # untimed: fills the OS file cache and the Numba cache
    results = {}
    pty_latencies: list[float] = []
    for label in ("warm", "cold"):
        headers, first_steps = [], []
        for _ in range(opts.launches):
            env = dict(base)
            with tempfile.TemporaryDirectory(prefix="rnntui-numba-") as cache:
                if label == "cold":
                    env["NUMBA_CACHE_DIR"] = cache
                header, first_step, latencies = launch(env, opts.flags(), opts.pty_steps if label == "warm" else 0)
            headers.append(header)
            first_steps.append(first_step)
            pty_latencies += latencies
        results[label] = headers
        print(
            f"  {label}: first frame {', '.join(f'{h:.2f}' for h in headers)} s -> median {statistics.median(headers):.2f} s; "
            f"first step shown at {', '.join(f'{h:.2f}' for h in first_steps)} s -> median {statistics.median(first_steps):.2f} s",
            flush=True,
        )
    for label in ("cold", "warm"):
        med = statistics.median(results[label])
        opts.verdicts.append(
            Verdict("first-frame", f"start -> first frame, {label}", f"{med:.2f} s", f"< {TARGET_FIRST_FRAME_S} s", med < TARGET_FIRST_FRAME_S)
        )
    if pty_latencies:
        med = statistics.median(pty_latencies)
        print(f"  space to 'iter N' through the pty ({len(pty_latencies)} presses): {spread(pty_latencies)}")
        opts.verdicts.append(Verdict("latency", "space -> all panels, pty median", f"{med:.1f} ms", f"< {TARGET_LATENCY_MS:.0f} ms", med < TARGET_LATENCY_MS))


# --- 4. memory over a long run ------------------------------------------------------------


def checkpoints_for(total: int) -> list[int]:
    marks = [0, 10_000, 25_000, 50_000, 75_000, 100_000]
    if total != 100_000:
        marks = [0] + [round(total * f) for f in (0.1, 0.25, 0.5, 0.75, 1.0)]
    return marks


def census(app) -> tuple[int, int]:
    """(widgets on the screen stack, Python objects tracked by the garbage collector)."""
    from textual.widget import Widget

    widgets = sum(1 for screen in app.screen_stack for _ in screen.walk_children(Widget, with_self=False))
    return widgets, len(gc.get_objects())


@dataclass(frozen=True)
class EngineHoldings:
    """A job for the engine (see control.Job): the bytes its history and snapshots hold, read between two steps."""

    kind: str = "memory census"

    def prepare(self, session) -> Callable[[object], tuple[int, int]]:
        held = (session.trainer.history.nbytes, session.timeline.nbytes)
        return lambda progress: held


async def engine_holdings(controller) -> tuple[int, int]:
    """(history bytes, snapshot bytes) in the engine process now."""
    job_id = controller.start_job(EngineHoldings())
    deadline = time.perf_counter() + 10
    while time.perf_counter() < deadline:
        status = controller.mirror.take_job(job_id)
        if status is not None and status.finished:
            if status.error is not None:
                raise RuntimeError(f"the memory census failed in the engine: {status.error}")
            return status.result
        await asyncio.sleep(0.01)
        controller.poll()
    raise RuntimeError("the memory census did not finish within 10 s")


@dataclass
class MemorySample:
    iteration: int
    ui_rss: int
    ui_history: int  # the mirror's copy of the history
    engine_rss: int
    engine_history: int
    snapshots: int
    widgets: int
    objects: int

    @property
    def ui_other(self) -> int:
        return self.ui_rss - self.ui_history

    @property
    def engine_other(self) -> int:
        return self.engine_rss - self.engine_history - self.snapshots


async def section_memory(opts: Options) -> None:
    headline(f"4. memory over a long run ({opts.iterations:,} iterations in run mode)")
    print(
        "Method: one app under run_test on an engine process, in run mode (r) until the engine reaches each mark\n"
        "(as the app's own polls report it), sampling VmRSS of both processes from /proc/PID/status; in the\n"
        "engine, between two steps (a job of the engine's own kind), the bytes of its history arrays (48 per\n"
        "iteration, capacity doubling) and time-travel snapshots (bounded at 64 MiB); in the UI process, the\n"
        "mirror's copy of the history, the widgets on the screen and the objects the garbage collector tracks.\n"
        "'other' is RSS minus those: what each process holds besides. It must stay flat in both."
    )
    marks = checkpoints_for(opts.iterations)
    rows: list[MemorySample] = []
    gc.collect()
    async with app_on_engine(opts) as (app, screen, controller):
        engine = engine_pid(controller)
        mirror = controller.mirror

        async def sample() -> None:
            history, snapshots = await engine_holdings(controller)
            widgets, objects = census(app)
            row = MemorySample(mirror.iteration, rss_bytes(), mirror.history.nbytes, rss_bytes(engine), history,
                               snapshots, widgets, objects)
            rows.append(row)
            print(
                f"  iteration {row.iteration:>7,}: UI RSS {mib(row.ui_rss):6.1f} MiB (history {mib(row.ui_history):4.1f}, "
                f"other {mib(row.ui_other):6.1f}) | engine RSS {mib(row.engine_rss):6.1f} MiB (history "
                f"{mib(row.engine_history):4.1f}, snapshots {mib(row.snapshots):4.1f}, other {mib(row.engine_other):6.1f}) | "
                f"widgets {row.widgets} | gc objects {row.objects:,}",
                flush=True,
            )

        await sample()
        post_key(app, "space", " ")  # the first step: the engine's kernels in use (tens of MiB, once)
        if not await wait_until(lambda: mirror.iteration >= 1, 30):
            raise RuntimeError("space did not step within 30 s")
        await settle()
        await sample()
        start = time.perf_counter()
        await start_running(app, screen)
        for mark in marks[1:]:
            if not await wait_until(lambda mark=mark: mirror.iteration >= mark, 3600, poll=0.02):
                raise RuntimeError("the run stopped early")
            if mark == marks[-1]:
                await pause_with_check(app, screen, controller)
            await sample()
        elapsed = time.perf_counter() - start
    report_memory(opts, rows, elapsed)


def report_memory(opts: Options, rows: list[MemorySample], elapsed: float) -> None:
    """Print the growth of both processes and add the section's verdicts."""
    first, base, last = rows[0], rows[1], rows[-1]
    done = last.iteration - base.iteration
    print(f"  {done:,} iterations of run mode in {elapsed:.1f} s ({done / elapsed:,.0f} it/s with the sampling above)")
    span = f"{base.iteration:,}->{last.iteration:,}"
    for name, growth, explained, total in (
        ("UI", last.ui_other - base.ui_other, last.ui_history - base.ui_history, last.ui_rss - base.ui_rss),
        ("engine", last.engine_other - base.engine_other,
         (last.engine_history - base.engine_history) + (last.snapshots - base.snapshots), last.engine_rss - base.engine_rss),
    ):
        print(f"  {name} process, {span}: RSS {mib(total):+.1f} MiB, of which what it is meant to keep {mib(explained):+.1f} MiB, "
              f"other {mib(growth):+.1f} MiB")
        opts.verdicts.append(Verdict("memory", f"{name} RSS at {last.iteration:,} it",
                                     f"{mib(last.ui_rss if name == 'UI' else last.engine_rss):.1f} MiB", "(reported)", None))
        opts.verdicts.append(Verdict("memory", f"{name} growth {span} beyond what it keeps", f"{mib(growth):.1f} MiB",
                                     f"<= {TARGET_FLAT_MIB:.0f} MiB", mib(growth) <= TARGET_FLAT_MIB))
    objects = [row.objects for row in rows[1:]]
    print(
        f"  widgets {first.widgets} -> {last.widgets}; gc objects in the UI process from iteration {base.iteration:,} on: "
        f"between {min(objects):,} and {max(objects):,} ({last.objects - base.objects:+,} over {done:,} iterations)"
    )
    opts.verdicts.append(Verdict("memory", "widgets at start / end", f"{first.widgets} / {last.widgets}", "equal",
                                 first.widgets == last.widgets))


# --- driver ------------------------------------------------------------------------------


def print_summary(verdicts: list[Verdict]) -> None:
    headline("summary")
    rows = [("section", "measure", "value", "target")] + [(v.section, v.measure, v.value, v.target) for v in verdicts]
    w = [max(len(row[i]) for row in rows) for i in range(4)]
    print(f"  {'section':<{w[0]}}  {'measure':<{w[1]}}  {'value':>{w[2]}}  {'target':<{w[3]}}  verdict")
    for v in verdicts:
        verdict = "-" if v.met is None else ("MET" if v.met else "NOT MET")
        print(f"  {v.section:<{w[0]}}  {v.measure:<{w[1]}}  {v.value:>{w[2]}}  {v.target:<{w[3]}}  {verdict}")


def parse_args(argv: list[str] | None) -> tuple[list[str], Options, str | None]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, from {', '.join(SECTIONS)} (default all)")
    parser.add_argument("--quick", action="store_true",
                        help="short runs: 2 rounds of 2 s, 15 presses, 3 pauses, 2 launches, 20,000 iterations")
    parser.add_argument("--rounds", type=int, help="throughput rounds per variant (default 3)")
    parser.add_argument("--seconds", type=float, help="seconds per side per throughput round (default 5)")
    parser.add_argument("--steps", type=int, help="timed key presses per kind for latency (default 30)")
    parser.add_argument("--pauses", type=int, help="pauses checked in latency (default 5)")
    parser.add_argument("--launches", type=int, help="launches per first-frame measurement (default 3)")
    parser.add_argument("--iterations", type=int, help="iterations of the memory run (default 100,000)")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the UI process's cost breakdown after the throughput rounds")
    parser.add_argument("--verdicts-to", help=argparse.SUPPRESS)  # internal: the memory section in a child process
    parser.add_argument("--hidden-size", type=int, default=100, help="H (default 100)")
    parser.add_argument("--seq-length", type=int, default=25, help="T (default 25)")
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    opts = Options(hidden_size=args.hidden_size, seq_length=args.seq_length, breakdown=not args.no_breakdown)
    if args.quick:
        opts.rounds, opts.seconds, opts.steps, opts.pauses, opts.launches = 2, 2.0, 15, 3, 2
        opts.iterations, opts.pty_steps = 20_000, 5
    for name in ("rounds", "seconds", "steps", "pauses", "launches", "iterations"):
        if getattr(args, name) is not None:
            setattr(opts, name, getattr(args, name))
    return sections, opts, args.verdicts_to


def memory_in_child(opts: Options) -> None:
    """Run the memory section in a fresh process, so the other sections' allocations do not blur its RSS."""
    with tempfile.NamedTemporaryFile(prefix="rnntui-bench-", suffix=".json", delete=False) as handle:
        path = handle.name
    try:
        command = [sys.executable, str(Path(__file__).resolve()), "--sections", "memory", "--iterations", str(opts.iterations)]
        command += ["--hidden-size", str(opts.hidden_size), "--seq-length", str(opts.seq_length), "--verdicts-to", path]
        sys.stdout.flush()
        subprocess.run(command, check=False)
        with open(path, encoding="utf-8") as saved:
            opts.verdicts += [Verdict(**row) for row in json.load(saved)]
    finally:
        os.unlink(path)


def main(argv: list[str] | None = None) -> int:
    from rnntui.engine import use_one_blas_thread

    sections, opts, verdicts_to = parse_args(argv)
    use_one_blas_thread()  # as the rnntui command does first, for the app and for rnntui train
    if verdicts_to is not None:  # a child running one section for a parent
        asyncio.run(section_memory(opts))
        with open(verdicts_to, "w", encoding="utf-8") as out:
            json.dump([dataclasses.asdict(v) for v in opts.verdicts], out)
        return 0
    import numba
    import numpy
    import textual

    print(
        f"rnntui app benchmark: Python {platform.python_version()}, NumPy {numpy.__version__}, Numba {numba.__version__}, "
        f"Textual {textual.__version__}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"corpus {DEFAULT_CORPUS.relative_to(ROOT)}, H={opts.hidden_size}, T={opts.seq_length}, terminal {SIZE[0]}x{SIZE[1]}")
    if "first-frame" in sections:
        section_first_frame(opts)  # first: other sections would warm this process's caches, not the child's
    if "throughput" in sections:
        asyncio.run(section_throughput(opts))
    if "latency" in sections:
        asyncio.run(section_latency(opts))
    if "memory" in sections:
        if len(sections) > 1:
            memory_in_child(opts)
        else:
            asyncio.run(section_memory(opts))
    print_summary(opts.verdicts)
    return 0 if all(v.met is not False for v in opts.verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
