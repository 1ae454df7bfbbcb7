"""The app's speed and memory against the targets for running in the debugger.

Four sections, each printed as it runs, then one summary table with the
targets and MET / NOT MET:

throughput   Run mode (key ``r``) in ``App.run_test(size=(120, 40))`` against
             the headless engine (``Trainer.step()`` in a loop) on the same
             corpus and config, alternated in timed rounds in this process so
             load from other processes hits both sides alike. The app renders
             at its normal rate meanwhile. Also shown, as a diagnosis only:
             ``Session.run`` without the UI (the timeline, breakpoints and
             samples the app adds around the trainer).
             After the rounds, where the UI thread's time goes in run mode.
latency      Key press (space) to every panel re-rendered with the new record
             and the frame that shows it composed and encoded for a terminal,
             under ``run_test``; full garbage collections met are counted.
first-frame  ``rnntui`` launched in a pseudo-terminal of 120 x 40 until the
             header line (the corpus name) is on screen; cold (empty Numba
             cache in a temporary NUMBA_CACHE_DIR) and warm separately. Warm
             launches also time key presses through the terminal (space to
             the status bar's new iteration), a cross-check of ``latency``.
memory       Run mode until N iterations (100,000 by default), sampling the
             resident set size and what it is made of along the way (in a
             fresh process when other sections run too).

    python benchmarks/bench_tui.py                       # everything (4 to 5 minutes)
    python benchmarks/bench_tui.py --quick               # shorter runs of everything (about 1.5 minutes)
    python benchmarks/bench_tui.py --sections latency,first-frame
    python benchmarks/bench_tui.py --sections memory --iterations 20000

The exit status is 1 when a target is not met, else 0.

The configuration is the app's default on the built-in corpus
(rnntui/data/default.txt, V=65): H=100, T=25, samples every 100 iterations.
The BLAS thread settings are left exactly as the environment has them.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import fcntl
import gc
import json
import os
import platform
import pty
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT / "rnntui" / "data" / "default.txt"
SIZE = (120, 40)  # terminal columns x rows for every section

TARGET_RATIO = 0.70  # run mode it/s / headless it/s, at least
TARGET_LATENCY_MS = 100.0  # key press to every panel updated, under
TARGET_FIRST_FRAME_S = 1.5  # process start to the first full frame, under
TARGET_FLAT_MIB = 16.0  # RSS growth beyond the history arrays and snapshots, at most
SECTIONS = ("throughput", "latency", "first-frame", "memory")


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
    launches: int = 3
    pty_steps: int = 10
    iterations: int = 100_000
    breakdown: bool = True
    verdicts: list[Verdict] = field(default_factory=list)


def make_trainer(opts: Options):
    from rnntui.engine import Config, Corpus, Trainer

    corpus = Corpus.from_path(DEFAULT_CORPUS)
    return Trainer(corpus, Config(hidden_size=opts.hidden_size, seq_length=opts.seq_length))


def make_app(opts: Options):
    """A fresh app on a fresh session, as ``run_app`` builds them for a new run without breakpoints."""
    from rnntui.engine.breakpoints import BreakpointSet
    from rnntui.engine.session import Session
    from rnntui.tui.app import RnntuiApp

    session = Session(make_trainer(opts), BreakpointSet())
    return RnntuiApp(session), session


def rss_bytes() -> int:
    """Resident set size of this process (VmRSS)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


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


def post_key(app, key: str, char: str | None) -> float:
    """Hand a key to the app as its terminal driver does; returns perf_counter() just before.

    ``Pilot.press`` is not used for timing: after posting it waits until the
    process is idle, which in run mode (a busy worker thread) takes its full
    one-second limit, twice.
    """
    from textual import events

    event = events.Key(key, char)
    event.set_sender(app)
    t = time.perf_counter()
    app._driver.send_message(event)
    return t


@dataclass
class PauseCheck:
    """What one press of r (pause) did: seconds to the worker's end, iterations after the key was handled."""

    seconds: float
    iterations_after: int


async def start_running(app, screen) -> None:
    post_key(app, "r", "r")
    if not await wait_until(lambda: screen.state == "running", 5):
        raise RuntimeError(f"r did not start a run (state {screen.state!r})")


async def stop_running(app, screen) -> PauseCheck:
    """Press r to pause; measure how long the worker takes to stop and how many steps it takes after."""
    trainer = screen.session.trainer
    handled: list[int] = []
    action = screen.action_toggle_run

    def noted_toggle() -> None:
        handled.append(trainer.iteration)  # the key's handler runs: the stop flag is set next
        action()

    screen.action_toggle_run = noted_toggle
    try:
        t0 = post_key(app, "r", "r")
        if not await wait_until(lambda: screen.state != "running", 10):
            raise RuntimeError("r did not pause the run within 10 s")
        seconds = time.perf_counter() - t0
    finally:
        del screen.action_toggle_run
    await settle(0.1)
    return PauseCheck(seconds, trainer.iteration - handled[0] if handled else -1)


def headline(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 76 - len(title)), flush=True)


# --- 1. run mode throughput ------------------------------------------------------------


def headless_rate(step: Callable[[], object], seconds: float) -> float:
    """Call ``step`` for about ``seconds``; return calls per second."""
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(20):
            step()
        n += 20
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def session_rate(session, seconds: float) -> float:
    """``Session.run`` (what the app's worker calls) for about ``seconds``, without any UI."""
    start = time.perf_counter()
    deadline = start + seconds
    result = session.run(None, lambda: time.perf_counter() >= deadline)
    return result.steps / (time.perf_counter() - start)


async def app_rate(app, screen, seconds: float) -> tuple[float, int, PauseCheck]:
    """Iterations per second of run mode over ``seconds`` (after the worker is running)."""
    trainer = screen.session.trainer
    await start_running(app, screen)
    t0, i0 = time.perf_counter(), trainer.iteration
    await asyncio.sleep(seconds)
    t1, i1 = time.perf_counter(), trainer.iteration
    pause = await stop_running(app, screen)
    return (i1 - i0) / (t1 - t0), i1 - i0, pause


class UiCost:
    """Main-thread CPU time spent in the app's drawing, by kind, while installed (a diagnosis).

    Wraps, for the duration of a ``with`` block, ``Widget._render_content`` (one
    widget's render, by class), ``Screen._refresh_layout`` (a layout: reflow and
    full repaint), ``Screen._compositor_refresh`` (composing a frame, renders
    included) and ``MainScreen._tick`` (handing the newest record to the
    reactives and their watchers). Times are ``time.thread_time()`` of the
    calling thread, so waiting for the GIL is not counted. Nested items overlap:
    the rows do not add up.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._undo: list[tuple[type, str, object]] = []

    def _add(self, key: str, seconds: float) -> None:
        self.seconds[key] = self.seconds.get(key, 0.0) + seconds
        self.calls[key] = self.calls.get(key, 0) + 1

    def _wrap(self, cls: type, name: str, label: Callable[[object], str]) -> None:
        original = cls.__dict__[name]
        cost = self

        def timed(self, *args, **kwargs):
            t = time.thread_time()
            try:
                return original(self, *args, **kwargs)
            finally:
                cost._add(label(self), time.thread_time() - t)

        setattr(cls, name, timed)
        self._undo.append((cls, name, original))

    def __enter__(self) -> "UiCost":
        from textual.screen import Screen
        from textual.widget import Widget

        from rnntui.tui.main_screen import MainScreen

        self._wrap(Widget, "_render_content", lambda w: f"render {type(w).__name__}")
        self._wrap(Screen, "_refresh_layout", lambda w: "layout (reflow + repaint)")
        self._wrap(Screen, "_compositor_refresh", lambda w: "compose frame (incl. renders)")
        self._wrap(MainScreen, "_tick", lambda w: "MainScreen._tick (reactives)")
        return self

    def __exit__(self, *exc: object) -> None:
        for cls, name, original in reversed(self._undo):
            setattr(cls, name, original)


async def run_mode_costs(app, screen, seconds: float) -> None:
    """Print where the UI thread's time goes during ``seconds`` of run mode."""
    trainer = screen.session.trainer
    with UiCost() as cost:
        await start_running(app, screen)
        c0, w0, i0 = time.thread_time(), time.perf_counter(), trainer.iteration
        await asyncio.sleep(seconds)
        c1, w1, i1 = time.thread_time(), time.perf_counter(), trainer.iteration
        await stop_running(app, screen)
    wall = w1 - w0
    print(
        f"  where the UI thread's time goes in run mode ({seconds:g} s, {(i1 - i0) / wall:.0f} it/s while measured; "
        f"main thread CPU {100 * (c1 - c0) / wall:.0f}% of a core):"
    )
    print(f"    {'':34} {'ms per s':>8} {'calls/s':>8} {'ms/call':>8}")
    for key in sorted(cost.seconds, key=cost.seconds.get, reverse=True):
        per_s = 1e3 * cost.seconds[key] / wall
        if per_s >= 1.0:
            print(f"    {key:34} {per_s:8.0f} {cost.calls[key] / wall:8.1f} {1e3 * cost.seconds[key] / cost.calls[key]:8.1f}")


async def section_throughput(opts: Options) -> None:
    from rnntui.engine.breakpoints import BreakpointSet
    from rnntui.engine.session import Session

    headline(f"1. run mode vs headless engine (H={opts.hidden_size}, T={opts.seq_length})")
    print(
        f"{opts.rounds} rounds; each times Trainer.step() headless, Session.run() headless and the app in run\n"
        f"mode (run_test {SIZE[0]}x{SIZE[1]}, r ... r) for {opts.seconds:g} s apiece, back to back in this process.\n"
        "The ratio is taken per round (app / headless engine); the verdict uses the median ratio."
    )
    engine = make_trainer(opts)
    bare_session = Session(make_trainer(opts), BreakpointSet())
    headless_rate(engine.step, 0.3)  # loads or compiles the kernels
    session_rate(bare_session, 0.3)
    app, session = make_app(opts)
    rows = []
    pauses: list[PauseCheck] = []
    async with app.run_test(size=SIZE):
        screen = await mounted(app)
        post_key(app, "space", " ")  # first step outside the timing
        await settle()
        await app_rate(app, screen, 0.5)  # warm-up run
        for k in range(opts.rounds):
            h = headless_rate(engine.step, opts.seconds)
            s = session_rate(bare_session, opts.seconds)
            a, n, pause = await app_rate(app, screen, opts.seconds)
            pauses.append(pause)
            rows.append((h, s, a, a / h))
            print(
                f"  round {k + 1}: headless {h:7.0f} it/s | Session.run {s:7.0f} it/s | "
                f"app run mode {a:7.0f} it/s ({n} it) | ratio {a / h:.3f}",
                flush=True,
            )
        shown_rate = screen.rate
        if opts.breakdown:
            await run_mode_costs(app, screen, min(opts.seconds, 3.0))
    med = [statistics.median(col) for col in zip(*rows)]
    print(
        f"  median:  headless {med[0]:7.0f} it/s | Session.run {med[1]:7.0f} it/s | "
        f"app run mode {med[2]:7.0f} it/s | ratio {med[3]:.3f}"
    )
    print(f"  (the app's status bar showed {shown_rate:,.0f} it/s when last paused)")
    worst_after = max(p.iterations_after for p in pauses)
    print(
        "  pause (r while running): iterations started after the key's handler ran: "
        + ", ".join(str(p.iterations_after) for p in pauses)
        + "; key to worker stopped: "
        + ", ".join(f"{1e3 * p.seconds:.0f} ms" for p in pauses)
    )
    opts.verdicts.append(
        Verdict("throughput", "run mode / headless it/s", f"{med[3]:.3f} ({med[2]:.0f}/{med[0]:.0f})", f">= {TARGET_RATIO:.2f}", med[3] >= TARGET_RATIO)
    )
    opts.verdicts.append(
        Verdict("throughput", "Session.run / headless it/s", f"{med[1] / med[0]:.3f}", "(diagnosis)", None)
    )
    opts.verdicts.append(
        Verdict("throughput", "pause: iterations after the key", f"{worst_after} (worst)", "<= 1", 0 <= worst_after <= 1)
    )


# --- 2. step latency --------------------------------------------------------------------


def record_views(screen) -> list:
    """The displayed widgets that draw the current StepRecord themselves (status bar and panels)."""
    from textual.widget import Widget

    from rnntui.tui.loss_curve import LossCurve
    from rnntui.tui.samples import SamplesPanel

    return [
        w
        for w in screen.query(Widget)
        if "record" in type(w)._reactives
        and not isinstance(w, (LossCurve, SamplesPanel))
        and w is not screen
        and w.display
        and w.region.area > 0
    ]


class StepProbe:
    """Timestamps of what one key press sets off, taken by wrapping the app's own calls.

    * ``engine``: ``Session.step`` entered and returned (the iteration itself);
    * ``render``: the last ``render()`` of each panel, with the iteration it drew
      (panels read ``record.iteration``; the loss plot, the length of its loss array);
    * ``frames``: every compositor update handed to ``App._display``. Under
      ``run_test`` the headless driver discards it, so the probe encodes it for a
      terminal itself (``render_segments``), which a real terminal would pay too;
      the time is taken after encoding.
    """

    def __init__(self, app, screen) -> None:
        from textual_plotext import PlotextPlot

        from rnntui.tui.loss_curve import LossCurve

        self.engine: list[tuple[float, float]] = []
        self.render: dict[str, tuple[float, int]] = {}
        self.frames: list[float] = []
        session = screen.session
        step = session.step

        def timed_step():
            t = time.perf_counter()
            record = step()
            self.engine.append((t, time.perf_counter()))
            return record

        session.step = timed_step
        self.panels = {}
        for widget in record_views(screen):
            name = widget.id or type(widget).__name__
            self.panels[name] = widget
            self._wrap(name, widget, lambda w=widget: w.record.iteration if w.record is not None else -1)
        curve = screen.query_one(LossCurve)
        plot = curve.query_one(PlotextPlot)
        self.panels["loss"] = curve
        self._wrap("loss", plot, lambda c=curve: (len(c.loss) - 1) if c.loss is not None else -1)

        display = app._display
        console = app.console

        def timed_display(screen_, renderable):
            display(screen_, renderable)
            if renderable is not None and hasattr(renderable, "render_segments"):
                renderable.render_segments(console)
                self.frames.append(time.perf_counter())

        app._display = timed_display

    def _wrap(self, name: str, widget, shown: Callable[[], int]) -> None:
        render = widget.render

        def timed_render():
            result = render()
            self.render[name] = (time.perf_counter(), shown())
            return result

        widget.render = timed_render

    def done(self, iteration: int) -> bool:
        """Every panel has drawn ``iteration`` and a frame has gone out after the last of those draws."""
        if len(self.render) < len(self.panels) or any(it != iteration for _, it in self.render.values()):
            return False
        last = max(t for t, _ in self.render.values())
        return any(f >= last for f in self.frames)

    def reset(self) -> None:
        self.engine.clear()
        self.frames.clear()


async def section_latency(opts: Options) -> None:
    headline(f"2. step latency: space to every panel updated (H={opts.hidden_size}, T={opts.seq_length}, V=65)")
    print(
        "Method: under run_test, t0 = perf_counter() just before the space key is posted to the app as its\n"
        "terminal driver would (Pilot.press waits for idleness afterwards, which would blur timings); the end is\n"
        "the first frame composed (and encoded for a terminal) after every view that draws the record (status\n"
        "bar and panels, listed below) and the loss plot have rendered the new iteration, found by wrapping each\n"
        "view's render() and App._display. The samples panel changes only when a sample arrives, so it is not\n"
        "waited for. Between presses the app is left idle for 0.1 s. Row 'engine' is Session.step alone."
    )
    app, session = make_app(opts)
    collections: list[float] = []  # durations of full (generation 2) garbage collections, seconds
    gc_started = [0.0]

    def on_gc(phase: str, info: dict) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            collections.append(time.perf_counter() - gc_started[0])

    totals, engines, renders = [], [], []
    slow: list[tuple[float, int]] = []
    async with app.run_test(size=SIZE):
        screen = await mounted(app)
        probe = StepProbe(app, screen)
        print(f"  views waited for: {', '.join(probe.panels)}")
        warmup = 3
        for k in range(warmup + opts.steps):
            await settle(0.1)
            iteration = session.trainer.iteration
            probe.reset()
            t0 = post_key(app, "space", " ")
            if not await wait_until(lambda: probe.done(iteration), 5.0):
                raise RuntimeError(f"panels did not all show iteration {iteration} within 5 s: {probe.render}")
            last_render = max(t for t, _ in probe.render.values())
            t_end = min(f for f in probe.frames if f >= last_render)
            if k < warmup:
                if k == warmup - 1:
                    gc.callbacks.append(on_gc)
                continue
            e0, e1 = probe.engine[0]
            totals.append((t_end - t0) * 1e3)
            engines.append((e1 - e0) * 1e3)
            renders.append((last_render - e1) * 1e3)
            slow.append((totals[-1], iteration))
    gc.callbacks.remove(on_gc)
    med, p95 = statistics.median(totals), percentile(totals, 95)
    print(f"  {len(totals)} steps (after {warmup} untimed), milliseconds:")
    print(f"  {'':24} {'median':>8} {'p95':>8} {'max':>8}")
    for label, values in (
        ("engine (Session.step)", engines),
        ("step to last render", renders),
        ("key to frame (total)", totals),
    ):
        print(f"  {label:24} {statistics.median(values):8.1f} {percentile(values, 95):8.1f} {max(values):8.1f}")
    worst = sorted(slow, reverse=True)[:3]
    print("  slowest: " + ", ".join(f"iteration {it}: {ms:.1f} ms" for ms, it in worst))
    if collections:
        print(
            f"  full (generation 2) garbage collections during the timed steps: {len(collections)}, "
            f"{statistics.median(collections) * 1e3:.0f} ms each (median); a step that meets one is slow by that much"
        )
    else:
        print("  no full (generation 2) garbage collection during the timed steps")
    opts.verdicts.append(Verdict("latency", "space -> all panels, median", f"{med:.1f} ms", f"< {TARGET_LATENCY_MS:.0f} ms", med < TARGET_LATENCY_MS))
    opts.verdicts.append(Verdict("latency", "space -> all panels, p95", f"{p95:.1f} ms", f"< {TARGET_LATENCY_MS:.0f} ms", p95 < TARGET_LATENCY_MS))


# --- 3. first frame ---------------------------------------------------------------------


HEADER_TEXT = DEFAULT_CORPUS.name.encode()  # the status bar names the corpus


class PtyApp:
    """``rnntui`` running in a pseudo-terminal of 120 x 40, and what it has written."""

    def __init__(self, env: dict[str, str]) -> None:
        rnntui = Path(sys.executable).with_name("rnntui")
        command = [str(rnntui)] if rnntui.exists() else [sys.executable, "-m", "rnntui"]
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
        self.start = time.perf_counter()
        self.proc = subprocess.Popen(
            command,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=tempfile.gettempdir(),
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.output = b""  # written since the last clear()

    def wait_for(self, pattern: "re.Pattern[bytes]", timeout: float) -> float:
        """perf_counter() when the output since the last clear() first matches ``pattern``."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if select.select([self.master], [], [], 0.005)[0]:
                try:
                    self.output += os.read(self.master, 1 << 16)
                except OSError:
                    break
                if pattern.search(self.output):
                    return time.perf_counter()
            elif self.proc.poll() is not None:
                break
        raise RuntimeError(f"{pattern.pattern!r} not seen within {timeout:g} s; last output: {self.output[-300:]!r}")

    def drain(self, seconds: float) -> None:
        """Read (and keep) output for ``seconds``."""
        deadline = time.perf_counter() + seconds
        while (left := deadline - time.perf_counter()) > 0:
            if select.select([self.master], [], [], left)[0]:
                try:
                    self.output += os.read(self.master, 1 << 16)
                except OSError:
                    return

    def clear(self) -> None:
        self.output = b""

    def send(self, keys: bytes) -> float:
        t = time.perf_counter()
        os.write(self.master, keys)
        return t

    def close(self) -> None:
        """SIGTERM (q would ask about unsaved steps), then SIGKILL after 5 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            end = time.perf_counter() + 5
            while self.proc.poll() is None and time.perf_counter() < end:
                self.drain(0.05)
            if self.proc.poll() is None:
                self.proc.kill()
        self.proc.wait()
        os.close(self.master)


def shows_iteration(n: int) -> "re.Pattern[bytes]":
    """The status bar's ``iter N`` (not a prefix of a longer number)."""
    return re.compile(rb"iter " + f"{n:,}".encode() + rb"(?![0-9,])")


def launch(env: dict[str, str], steps: int = 0) -> tuple[float, float, list[float]]:
    """Seconds to the first frame, seconds to the first step shown, and the latency of ``steps`` more steps.

    After the header appears, space is sent and the time until the status bar
    shows ``iter 0`` is taken (the first step loads or compiles the Numba
    kernels). Then each further space is timed from the write to the pty until
    ``iter N`` arrives: the status bar is the last view drawn in the frame that
    updates every panel, so this is key press to all panels on the terminal.
    """
    app = PtyApp(env)
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
        f"starts until its output contains the header's corpus name ({HEADER_TEXT.decode()}). Textual writes the\n"
        "whole first frame in one go (about 18 kB here), so this is the first full frame. Then space is sent and\n"
        "the time to 'iter 0' in the status bar is noted (the first step loads, or compiles, the Numba kernels).\n"
        "cold: NUMBA_CACHE_DIR is a new empty temporary folder for every launch (the repository's caches are\n"
        "left alone); warm: the normal cache, after one untimed launch. Median of the launches.\n"
        f"Warm launches also time {opts.pty_steps} more presses of space each, from the write to the pty until the\n"
        "status bar's 'iter N' arrives (a cross-check of section 2 through a real terminal)."
    )
    base = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    base.update(TERM="xterm-256color", COLORTERM="truecolor")
    launch(base)  # untimed: fills the OS file cache and the Numba cache
    results = {}
    pty_latencies: list[float] = []
    for label in ("warm", "cold"):
        headers, first_steps = [], []
        for _ in range(opts.launches):
            env = dict(base)
            with tempfile.TemporaryDirectory(prefix="rnntui-numba-") as cache:
                if label == "cold":
                    env["NUMBA_CACHE_DIR"] = cache
                header, first_step, latencies = launch(env, opts.pty_steps if label == "warm" else 0)
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
        med, p95 = statistics.median(pty_latencies), percentile(pty_latencies, 95)
        print(
            f"  step latency through the pty ({len(pty_latencies)} presses): median {med:.1f} ms, p95 {p95:.1f} ms, "
            f"max {max(pty_latencies):.1f} ms"
        )
        opts.verdicts.append(Verdict("latency", "space -> all panels, pty median", f"{med:.1f} ms", f"< {TARGET_LATENCY_MS:.0f} ms", med < TARGET_LATENCY_MS))
        opts.verdicts.append(Verdict("latency", "space -> all panels, pty p95", f"{p95:.1f} ms", f"< {TARGET_LATENCY_MS:.0f} ms", p95 < TARGET_LATENCY_MS))


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


async def section_memory(opts: Options) -> None:
    headline(f"4. memory over a long run ({opts.iterations:,} iterations in run mode)")
    print(
        "Method: one app under run_test in run mode (r) until the trainer reaches each mark, sampling VmRSS of\n"
        "this process, the history arrays (48 bytes per iteration, capacity doubling), the time-travel snapshots\n"
        "(bounded at 64 MiB), the widgets on the screen and the objects the garbage collector tracks. 'other'\n"
        "is RSS minus history and snapshots: what the UI and everything else hold. It must stay flat."
    )
    app, session = make_app(opts)
    marks = checkpoints_for(opts.iterations)
    rows = []
    gc.collect()
    async with app.run_test(size=SIZE):
        screen = await mounted(app)
        trainer = session.trainer

        def sample(label_iteration: int) -> None:
            widgets, objects = census(app)
            rss = rss_bytes()
            hist = trainer.history.nbytes
            snaps = session.timeline.nbytes
            rows.append((label_iteration, time.perf_counter(), rss, hist, snaps, widgets, objects))
            print(
                f"  iteration {label_iteration:>7,}: RSS {mib(rss):7.1f} MiB | history {mib(hist):5.1f} MiB | "
                f"snapshots {mib(snaps):5.1f} MiB | other {mib(rss - hist - snaps):7.1f} MiB | "
                f"widgets {widgets} | gc objects {objects:,}",
                flush=True,
            )

        sample(0)
        post_key(app, "space", " ")  # the first step loads the compiled kernels (tens of MiB, once)
        await settle()
        sample(trainer.iteration)
        start = time.perf_counter()
        await start_running(app, screen)
        for mark in marks[1:]:
            if not await wait_until(lambda: trainer.iteration >= mark, 3600, poll=0.02):
                raise RuntimeError("run stopped early")
            if mark == marks[-1]:
                await stop_running(app, screen)
            sample(trainer.iteration)
        elapsed = time.perf_counter() - start
        if screen.running:
            await stop_running(app, screen)
    done = rows[-1][0]
    print(f"  {done - 1:,} iterations of run mode in {elapsed:.1f} s ({(done - 1) / elapsed:,.0f} it/s with the sampling above)")
    first, base, last = rows[0], rows[2], rows[-1]
    growth = last[2] - base[2]
    explained = (last[3] - base[3]) + (last[4] - base[4])
    other = growth - explained
    print(
        f"  RSS growth {first[0]:,} -> {last[0]:,}: {mib(last[2] - first[2]):.1f} MiB; "
        f"{base[0]:,} -> {last[0]:,}: {mib(growth):.1f} MiB, of which history + snapshots {mib(explained):.1f} MiB, "
        f"other {mib(other):.1f} MiB"
    )
    objects = [row[6] for row in rows[2:]]
    print(
        f"  widgets {first[5]} -> {last[5]}; gc objects from iteration {base[0]:,} on: between {min(objects):,} and "
        f"{max(objects):,} ({last[6] - base[6]:+,} over {last[0] - base[0]:,} iterations)"
    )
    opts.verdicts.append(
        Verdict("memory", f"RSS at {last[0]:,} it", f"{mib(last[2]):.1f} MiB", "(reported)", None)
    )
    opts.verdicts.append(
        Verdict(
            "memory",
            f"growth {base[0]:,}->{last[0]:,} beyond history+snapshots",
            f"{mib(other):.1f} MiB",
            f"<= {TARGET_FLAT_MIB:.0f} MiB",
            mib(other) <= TARGET_FLAT_MIB,
        )
    )
    opts.verdicts.append(
        Verdict("memory", "widgets at start / end", f"{first[5]} / {last[5]}", "equal", first[5] == last[5])
    )


# --- driver ------------------------------------------------------------------------------


def print_summary(verdicts: list[Verdict]) -> None:
    headline("summary")
    w = [max(len(row[i]) for row in [("section", "measure", "value", "target")] + [(v.section, v.measure, v.value, v.target) for v in verdicts]) for i in range(4)]
    print(f"  {'section':<{w[0]}}  {'measure':<{w[1]}}  {'value':>{w[2]}}  {'target':<{w[3]}}  verdict")
    for v in verdicts:
        verdict = "-" if v.met is None else ("MET" if v.met else "NOT MET")
        print(f"  {v.section:<{w[0]}}  {v.measure:<{w[1]}}  {v.value:>{w[2]}}  {v.target:<{w[3]}}  {verdict}")


def parse_args(argv: list[str] | None) -> tuple[list[str], Options]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, from {', '.join(SECTIONS)} (default all)")
    parser.add_argument("--quick", action="store_true", help="short runs: 2 rounds of 2 s, 15 steps, 2 launches, 20,000 iterations")
    parser.add_argument("--rounds", type=int, help="throughput rounds (default 3)")
    parser.add_argument("--seconds", type=float, help="seconds per side per throughput round (default 5)")
    parser.add_argument("--steps", type=int, help="timed key presses for latency (default 30)")
    parser.add_argument("--launches", type=int, help="launches per first-frame measurement (default 3)")
    parser.add_argument("--iterations", type=int, help="iterations of the memory run (default 100,000)")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the UI-thread cost breakdown after the throughput rounds")
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
        opts.rounds, opts.seconds, opts.steps, opts.launches, opts.iterations = 2, 2.0, 15, 2, 20_000
        opts.pty_steps = 5
    for name in ("rounds", "seconds", "steps", "launches", "iterations"):
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
    sections, opts, verdicts_to = parse_args(argv)
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
