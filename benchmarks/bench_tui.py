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
latency      Key press (space) to every panel re-rendered with the new record
             and the frame that shows it composed and encoded for a terminal.
first-frame  ``rnntui`` launched in a pseudo-terminal of 120 x 40 until the
             header line (the corpus name) is on screen; cold (empty Numba
             cache in a temporary NUMBA_CACHE_DIR) and warm separately.
memory       Run mode until N iterations (100,000 by default), sampling the
             resident set size and what it is made of along the way.

    python benchmarks/bench_tui.py                       # everything (about 4 minutes)
    python benchmarks/bench_tui.py --quick               # shorter runs of everything
    python benchmarks/bench_tui.py --sections latency,first-frame
    python benchmarks/bench_tui.py --sections memory --iterations 20000

The configuration is the app's default on the built-in corpus
(rnntui/data/default.txt, V=65): H=100, T=25, samples every 100 iterations.
The BLAS thread settings are left exactly as the environment has them.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import gc
import os
import platform
import pty
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
    iterations: int = 100_000
    verdicts: list[Verdict] = field(default_factory=list)


def make_trainer(opts: Options):
    from rnntui.engine import Config, Corpus, Trainer

    corpus = Corpus.from_path(DEFAULT_CORPUS)
    return Trainer(corpus, Config(hidden_size=opts.hidden_size, seq_length=opts.seq_length))


def make_app(opts: Options):
    """A fresh app on a fresh session, exactly as the ``rnntui`` command builds them."""
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


async def start_running(pilot, screen) -> None:
    await pilot.press("r")
    if not await wait_until(lambda: screen.state == "running", 5):
        raise RuntimeError(f"r did not start a run (state {screen.state!r})")


async def stop_running(pilot, screen) -> None:
    await pilot.press("r")
    if not await wait_until(lambda: screen.state != "running", 10):
        raise RuntimeError("r did not pause the run within 10 s")
    await pilot.pause()


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


async def app_rate(pilot, screen, seconds: float) -> tuple[float, int]:
    """Iterations per second of run mode over ``seconds`` (after the worker is running)."""
    trainer = screen.session.trainer
    await start_running(pilot, screen)
    t0, i0 = time.perf_counter(), trainer.iteration
    await asyncio.sleep(seconds)
    t1, i1 = time.perf_counter(), trainer.iteration
    await stop_running(pilot, screen)
    return (i1 - i0) / (t1 - t0), i1 - i0


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
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.main
        await pilot.press("space")  # first step outside the timing
        await app_rate(pilot, screen, 0.5)  # warm-up run
        for k in range(opts.rounds):
            h = headless_rate(engine.step, opts.seconds)
            s = session_rate(bare_session, opts.seconds)
            a, n = await app_rate(pilot, screen, opts.seconds)
            rows.append((h, s, a, a / h))
            print(
                f"  round {k + 1}: headless {h:7.0f} it/s | Session.run {s:7.0f} it/s | "
                f"app run mode {a:7.0f} it/s ({n} it) | ratio {a / h:.3f}",
                flush=True,
            )
        shown_rate = screen.rate
    med = [statistics.median(col) for col in zip(*rows)]
    print(
        f"  median:  headless {med[0]:7.0f} it/s | Session.run {med[1]:7.0f} it/s | "
        f"app run mode {med[2]:7.0f} it/s | ratio {med[3]:.3f}"
    )
    print(f"  (the app's status bar showed {shown_rate:,.0f} it/s when last paused)")
    opts.verdicts.append(
        Verdict("throughput", "run mode / headless it/s", f"{med[3]:.3f} ({med[2]:.0f}/{med[0]:.0f})", f">= {TARGET_RATIO:.2f}", med[3] >= TARGET_RATIO)
    )
    opts.verdicts.append(
        Verdict("throughput", "Session.run / headless it/s", f"{med[1] / med[0]:.3f}", "(diagnosis)", None)
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
        "Method: under run_test, t0 = perf_counter() just before pilot.press('space') posts the key; the end is\n"
        "the first frame composed (and encoded for a terminal) after every view that draws the record (status\n"
        "bar and panels, listed below) and the loss plot have rendered the new iteration, found by wrapping each\n"
        "view's render() and App._display. The samples panel changes only when a sample arrives, so it is not\n"
        "waited for. Between presses the app is left idle. Row 'engine' is Session.step alone."
    )
    app, session = make_app(opts)
    totals, engines, handled, renders = [], [], [], []
    slow: list[tuple[float, int]] = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.main
        probe = StepProbe(app, screen)
        print(f"  views waited for: {', '.join(probe.panels)}")
        warmup = 3
        for k in range(warmup + opts.steps):
            await pilot.pause(0.05)
            iteration = session.trainer.iteration
            probe.reset()
            t0 = time.perf_counter()
            await pilot.press("space")
            t_press = time.perf_counter()
            if not await wait_until(lambda: probe.done(iteration), 5.0):
                raise RuntimeError(f"panels did not all show iteration {iteration} within 5 s: {probe.render}")
            last_render = max(t for t, _ in probe.render.values())
            t_end = min(f for f in probe.frames if f >= last_render)
            if k < warmup:
                continue
            e0, e1 = probe.engine[0]
            totals.append((t_end - t0) * 1e3)
            engines.append((e1 - e0) * 1e3)
            handled.append((t_press - t0) * 1e3)
            renders.append((last_render - e1) * 1e3)
            slow.append((totals[-1], iteration))
    med, p95 = statistics.median(totals), percentile(totals, 95)
    print(f"  {len(totals)} steps (after {warmup} untimed), milliseconds:")
    print(f"  {'':24} {'median':>8} {'p95':>8} {'max':>8}")
    for label, values in (
        ("engine (Session.step)", engines),
        ("step to last render", renders),
        ("pilot.press returned", handled),
        ("key to frame (total)", totals),
    ):
        print(f"  {label:24} {statistics.median(values):8.1f} {percentile(values, 95):8.1f} {max(values):8.1f}")
    worst = sorted(slow, reverse=True)[:3]
    print("  slowest: " + ", ".join(f"iteration {it}: {ms:.1f} ms" for ms, it in worst))
    opts.verdicts.append(Verdict("latency", "space -> all panels, median", f"{med:.1f} ms", f"< {TARGET_LATENCY_MS:.0f} ms", med < TARGET_LATENCY_MS))
    opts.verdicts.append(Verdict("latency", "space -> all panels, p95", f"{p95:.1f} ms", f"< {TARGET_LATENCY_MS:.0f} ms", p95 < TARGET_LATENCY_MS))


# --- 3. first frame ---------------------------------------------------------------------


HEADER_TEXT = DEFAULT_CORPUS.name.encode()  # the status bar names the corpus


def launch_until_header(env: dict[str, str], timeout: float = 30.0) -> tuple[float, float | None]:
    """Start ``rnntui`` in a 120 x 40 pty; seconds to the header on screen, and to the first step shown.

    After the header appears, space is sent and the time until the status bar
    shows ``iter 0`` is taken too (the first step loads or compiles the Numba
    kernels). The process is then ended with SIGTERM (``q`` would ask about
    the unsaved step).
    """
    rnntui = Path(sys.executable).with_name("rnntui")
    command = [str(rnntui)] if rnntui.exists() else [sys.executable, "-m", "rnntui"]
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    start = time.perf_counter()
    proc = subprocess.Popen(
        command, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=tempfile.gettempdir(), start_new_session=True, close_fds=True
    )
    os.close(slave)
    seen = b""
    header_at = step_at = None
    sent_space = False
    try:
        deadline = start + timeout
        while time.perf_counter() < deadline and step_at is None:
            ready, _, _ = select.select([master], [], [], 0.01)
            if ready:
                try:
                    chunk = os.read(master, 1 << 16)
                except OSError:
                    break
                now = time.perf_counter()
                seen += chunk
                if header_at is None and HEADER_TEXT in seen:
                    header_at = now - start
                    seen = b""
                elif header_at is not None and sent_space and b"iter 0" in seen:
                    step_at = now - start
            if header_at is not None and not sent_space:
                os.write(master, b" ")
                sent_space = True
            if proc.poll() is not None:
                break
        if header_at is None:
            raise RuntimeError(f"no header within {timeout:.0f} s; last output: {seen[-300:]!r}")
        return header_at, step_at
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            end = time.perf_counter() + 5
            while proc.poll() is None and time.perf_counter() < end:
                if select.select([master], [], [], 0.05)[0]:
                    try:
                        os.read(master, 1 << 16)
                    except OSError:
                        break
            if proc.poll() is None:
                proc.kill()
        proc.wait()
        os.close(master)


def section_first_frame(opts: Options) -> None:
    headline("3. first frame in a real terminal (pty 120x40)")
    print(
        f"Method: rnntui (built-in corpus) in a pseudo-terminal of {SIZE[0]}x{SIZE[1]}; from just before the process\n"
        f"starts until its output contains the header's corpus name ({HEADER_TEXT.decode()}). Textual writes a\n"
        "whole frame in one go, so this is the first full frame. Then space is sent and the time to 'iter 0'\n"
        "in the status bar is noted (the first step loads, or compiles, the Numba kernels).\n"
        "cold: NUMBA_CACHE_DIR is a new empty temporary folder for every launch (the repository's caches are\n"
        "left alone); warm: the normal cache, after one untimed launch. Median of the launches."
    )
    base = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR",)}
    base.update(TERM="xterm-256color", COLUMNS=str(SIZE[0]), LINES=str(SIZE[1]), COLORTERM="truecolor")
    launch_until_header(base)  # untimed: fills the OS file cache and the Numba cache
    results = {}
    for label in ("warm", "cold"):
        headers, steps = [], []
        for _ in range(opts.launches):
            env = dict(base)
            with tempfile.TemporaryDirectory(prefix="rnntui-numba-") as cache:
                if label == "cold":
                    env["NUMBA_CACHE_DIR"] = cache
                header, step = launch_until_header(env)
            headers.append(header)
            if step is not None:
                steps.append(step)
        results[label] = headers
        step_text = f"first step shown at {statistics.median(steps):.2f} s" if steps else "first step not seen"
        print(
            f"  {label}: first frame {', '.join(f'{h:.2f}' for h in headers)} s -> median {statistics.median(headers):.2f} s; "
            f"{step_text} (median)",
            flush=True,
        )
    for label in ("cold", "warm"):
        med = statistics.median(results[label])
        opts.verdicts.append(
            Verdict("first-frame", f"start -> first frame, {label}", f"{med:.2f} s", f"< {TARGET_FIRST_FRAME_S} s", med < TARGET_FIRST_FRAME_S)
        )


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
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.main
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
        await pilot.press("space")  # the first step loads the compiled kernels (tens of MiB, once)
        await pilot.pause()
        sample(trainer.iteration)
        start = time.perf_counter()
        await start_running(pilot, screen)
        for mark in marks[1:]:
            if not await wait_until(lambda: trainer.iteration >= mark, 3600, poll=0.02):
                raise RuntimeError("run stopped early")
            if mark == marks[-1]:
                await stop_running(pilot, screen)
            sample(trainer.iteration)
        elapsed = time.perf_counter() - start
        if screen.running:
            await stop_running(pilot, screen)
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
    print(
        f"  widgets {first[5]} -> {last[5]}; gc objects {first[6]:,} -> {last[6]:,} "
        f"({(last[6] - base[6]) / max(1, last[0] - base[0]):.4f} per iteration after the first mark)"
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
    parser.add_argument("--hidden-size", type=int, default=100)
    parser.add_argument("--seq-length", type=int, default=25)
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    opts = Options(hidden_size=args.hidden_size, seq_length=args.seq_length)
    if args.quick:
        opts.rounds, opts.seconds, opts.steps, opts.launches, opts.iterations = 2, 2.0, 15, 2, 20_000
    for name in ("rounds", "seconds", "steps", "launches", "iterations"):
        if getattr(args, name) is not None:
            setattr(opts, name, getattr(args, name))
    return sections, opts


def main(argv: list[str] | None = None) -> int:
    sections, opts = parse_args(argv)
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
        asyncio.run(section_memory(opts))
    print_summary(opts.verdicts)
    return 0 if all(v.met is not False for v in opts.verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
