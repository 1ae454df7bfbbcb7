"""``rnntui shot [FILE] [options] [--iterations N] [--size WxH] [--key KEYS] OUT.svg``: the app as a picture.

No terminal is needed. The session is trained N iterations first (through
Session.run, as ``rnntui train`` trains, without printing), then the app opens
headless at the given size on that session, with its engine in a thread of
this process, the keys are pressed one by one, and Textual's own screenshot
is written as SVG, marked as rnntui's (an existing OUT is replaced only when it
bears that mark: any other file there is kept).

After every key the shot waits until the screen shows what the engine has:
a run the key started has ended, no job (a gradient check...) is still
working, and the debugger screen shows the engine's newest record. So the
same command gives the same picture, which is what the README's captures need.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from pathlib import Path

from textual.keys import Keys, key_to_character

from rnntui.cli import (
    EXIT_OK,
    Parser,
    add_iterations_argument,
    add_shared_arguments,
    build_session,
    check_output,
    parse_or_exit,
    print_notices,
    train_first,
)
from rnntui.engine import RnntuiError
from rnntui.engine.control import start_in_thread
from rnntui.engine.files import first_bytes, printable, write_atomically
from rnntui.engine.session import Session
from rnntui.tui.app import RnntuiApp
from rnntui.tui.main_screen import MainScreen

DEFAULT_SIZE = (120, 40)  # the README's captures
SIZE_LIMITS = ((40, 1000), (10, 500))  # (min, max) columns and rows; below 80x24 the app asks for more room
DEFAULT_ITERATIONS = 0
SETTLE_TIMEOUT_S = 60.0  # a key whose effect has not ended by then (a run without end, r) is an error
SETTLE_POLL_S = 0.02  # how often the engine is asked while waiting
MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")
SHOT_MARK = "<!-- written by rnntui shot -->"  # on the line after <svg ...>: how an OUT to replace is known
MARK_WITHIN_BYTES = 4096  # where the mark is looked for
KEY_NAMES = frozenset(key.value for key in Keys)
KEY_HELP = (
    "a key is a character (i, ?, [) or Textual's name for it: space, enter, escape, tab, backspace, "
    "left, right, up, down, pageup, pagedown, home, end, f1, comma, full_stop, question_mark, "
    "with ctrl+, shift+ or alt+ in front where needed"
)


# --- flags ---------------------------------------------------------------------------------


def _size(text: str) -> tuple[int, int]:
    """argparse type: ``120x40`` -> (120, 40), within SIZE_LIMITS."""
    match = re.fullmatch(r"(\d+)[xX](\d+)", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"expected COLUMNSxROWS such as 120x40, got {text!r}")
    size = int(match[1]), int(match[2])
    for value, (low, high), what in zip(size, SIZE_LIMITS, ("columns", "rows")):
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what} must be from {low} to {high}, got {value}")
    return size


def build_shot_parser() -> argparse.ArgumentParser:
    """Parser of ``rnntui shot``: rnntui's flags, --iterations, --size, --key and OUT."""
    parser = Parser(
        prog="rnntui shot",
        description="Train, open the debugger headless, press keys, and save the screen as an SVG picture.",
        epilog="Keys: --key space --key right, or --key space,right (a comma itself is 'comma'). "
        "Exit status: 0 written, 2 bad input, 130 interrupted.",
    )
    add_shared_arguments(parser)
    shot = parser.add_argument_group("the picture")
    add_iterations_argument(
        shot, DEFAULT_ITERATIONS,
        f"iterations to train before opening the app (default {DEFAULT_ITERATIONS}; after --resume, N more)",
    )
    shot.add_argument(
        "--size",
        type=_size,
        default=DEFAULT_SIZE,
        metavar="COLSxROWS",
        help=f"terminal size of the picture (default {DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]})",
    )
    shot.add_argument(
        "--key",
        dest="keys",
        action="append",
        default=[],
        metavar="KEYS",
        help="keys to press in the app, in order: one key or several separated by commas (repeatable)",
    )
    shot.add_argument("out", metavar="OUT.svg", help="the picture to write (an .svg file)")
    return parser


def is_key_name(name: str) -> bool:
    """A key Textual can press: a character, or [modifier+...]name with a known lower-case name."""
    if len(name) == 1:
        return True
    *modifiers, base = name.split("+")
    if any(modifier not in MODIFIERS for modifier in modifiers):
        return False
    if len(base) == 1:
        return True
    return base == base.lower() and (base in KEY_NAMES or key_to_character(base) is not None)


def parse_keys(values: list[str]) -> list[str]:
    """The keys of every ``--key`` value (each one key or several separated by commas), checked."""
    keys = []
    for value in values:
        for name in value.split(","):
            name = name.strip()
            if not name:
                raise RnntuiError(f"--key {value!r} has an empty key name", "write a comma key as 'comma'")
            if not is_key_name(name):
                raise RnntuiError(f"--key {name!r} is not a key", KEY_HELP)
            keys.append(name)
    return keys


def check_out(args: argparse.Namespace) -> None:
    """OUT must name an .svg file that can be written, is not FILE or --resume, and is new or an earlier shot;
    checked before any training."""
    out = args.out
    if out and Path(out).suffix.lower() != ".svg":
        raise RnntuiError(f"{out} is not an .svg file name", "give the picture a name ending in .svg, e.g. shot.svg")
    check_output(out, "OUT.svg", args, is_shot_picture, "a picture written by rnntui shot")


def marked(svg: str) -> str:
    """``svg`` with SHOT_MARK on the line after its opening ``<svg ...>`` tag."""
    opening, rest = svg.split("\n", 1)
    return f"{opening}\n{SHOT_MARK}\n{rest}"


def is_shot_picture(path: Path) -> bool:
    """The file at ``path`` is an SVG that rnntui shot wrote (it bears SHOT_MARK near its start)."""
    head = first_bytes(path, MARK_WITHIN_BYTES)
    return head.lstrip().startswith(b"<svg") and SHOT_MARK.encode() in head


# --- the picture -------------------------------------------------------------------------


def settled(app) -> bool:
    """The screen shows what the engine has: no run going, no job working, the newest record drawn."""
    controller = app.controller
    controller.poll()  # the engine's state now, into the mirror the screen draws from
    mirror = controller.mirror
    if mirror.state.is_running or mirror.jobs:  # a job stays listed until its screen has shown the result
        return False
    shown = [screen for screen in app.screen_stack if isinstance(screen, MainScreen)]
    return bool(shown) and shown[0].record is mirror.record


async def settle(pilot, after: str) -> None:
    """Let the app work until ``settled``; a quit or a run that never ends is an RnntuiError."""
    app = pilot.app
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        await pilot.pause()  # handle what is queued and lay out the screen
        if app.return_code is not None:
            raise RnntuiError(f"the app quit after {after}", "leave out the keys that quit it (q, ctrl+q)")
        if settled(app):
            await pilot.wait_for_scheduled_animations()
            return
        if time.monotonic() > deadline:
            raise RnntuiError(
                f"training was still going {SETTLE_TIMEOUT_S:.0f} s after {after}",
                "a shot needs runs that end by themselves: n with a count (--key n,5,0,enter) or --iterations",
            )
        await pilot.pause(SETTLE_POLL_S)


async def capture(session: Session, size: tuple[int, int], keys: list[str]) -> tuple[str, int | None]:
    """Open the app on ``session`` headless at ``size``, press ``keys``; the SVG and the iteration shown."""
    controller = start_in_thread(session)
    try:
        app = RnntuiApp(controller)
        app.animation_level = "none"  # the picture is of where things end, not of the way there
        async with app.run_test(size=size, notifications=True) as pilot:
            await settle(pilot, "opening the app")
            for number, key in enumerate(keys, 1):
                await pilot.press(key)
                await settle(pilot, f"key {number} ({key})")
            record = app.main.record
            return app.export_screenshot(), None if record is None else record.iteration
    finally:
        controller.close()


def main(argv: list[str]) -> int:
    """Run ``rnntui shot``; returns the exit status (an RnntuiError for bad input)."""
    args = parse_or_exit(build_shot_parser(), argv, intermixed=True)  # OUT may come after the flags, FILE before
    if isinstance(args, int):
        return args
    keys = parse_keys(args.keys)
    check_out(args)
    session = build_session(args)
    print_notices(session)
    train_first(session, args.iterations, diverging_fails=False)  # a diverged app is worth a picture
    svg, shown = asyncio.run(capture(session, args.size, keys))
    write_atomically(args.out, lambda fh: fh.write(marked(svg).encode("utf-8")), "OUT.svg")
    what = "no iteration yet" if shown is None else f"iteration {shown:,}"
    print(f"wrote {printable(args.out)} ({args.size[0]}x{args.size[1]}, {what} shown)", flush=True)
    return EXIT_OK
