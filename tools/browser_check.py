"""Check ``rnntui serve`` in a real headless browser: the splash, the app, keys, a screenshot.

Not part of the test run and not a dependency of rnntui. It needs a Chromium
and Playwright's Python package; on Debian, for example::

    apt-get install -y chromium
    pip install playwright     # no `playwright install`: the system's chromium is used

Run it from the repository root with the project's Python::

    python tools/browser_check.py                       # the built-in corpus, browser_check.png
    python tools/browser_check.py --out /tmp/b.png --presses 5 -- samples/prose.txt --hidden-size 64

What it does: starts ``rnntui serve`` on a free port (with the rnntui
arguments given after ``--``), opens ``/?delay=1`` so that textual-serve's
splash waits for a click, clicks its Start button, waits for the debugger's
panels, presses space ``--presses`` times, waits until the header shows the
last of those iterations, saves a PNG screenshot of the page, and stops the
server with Ctrl+C (SIGINT), expecting exit status 130 and no process of it
left. xterm.js draws the terminal on a canvas, so the text checked ("Input
window", "Gradients", "iter") is the screen text the page received over its
websocket, with the terminal's escape sequences removed.

Prints one line per check; exit status 0 when all passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1500, "height": 950}  # about 150 x 48 cells at textual-serve's 16px font
STARTUP_S = 60.0  # rnntui serve imports numpy, numba and textual before it listens
WAIT_MS = 30_000  # the page, the app's first screen, an iteration's header
PANELS = ("Input window", "Gradients", "iter")
ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")  # CSI, OSC, 2-byte


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(port: int, rnntui_args: list[str]) -> subprocess.Popen:
    """``rnntui serve`` in a session of its own (so its whole process group can be checked afterwards)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "rnntui", "serve", "--port", str(port), *rnntui_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    line = server.stdout.readline()  # the announcement, once the port is bound (or an error)
    if not line.startswith("rnntui serve: open "):
        server.wait(STARTUP_S)
        raise SystemExit(f"rnntui serve did not start: {line.strip()} (exit status {server.returncode})")
    return server


class Screen:
    """The text the page's terminal received over its websocket, escape sequences removed."""

    def __init__(self) -> None:
        self.received = bytearray()

    def watch(self, websocket) -> None:
        websocket.on("framereceived", self._frame)

    def _frame(self, payload) -> None:
        if isinstance(payload, bytes):
            self.received += payload

    @property
    def text(self) -> str:
        return ESCAPES.sub("", self.received.decode("utf-8", "replace"))


def wait_for_text(page, screen: Screen, pattern: str, since: int = 0) -> bool:
    """Let the page run until ``pattern`` (a regular expression) shows in what arrived after ``since``."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        if re.search(pattern, screen.text[since:]):
            return True
        page.wait_for_timeout(50)
    return False


def check(results: list[bool], ok: bool, what: str) -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {what}", flush=True)
    results.append(ok)


def browse(url: str, out: Path, presses: int, chromium: str, results: list[bool]) -> None:
    """Everything the browser does; each outcome goes to ``results``."""
    screen = Screen()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.on("websocket", screen.watch)
            page.goto(f"{url}/?delay=1", timeout=WAIT_MS)
            start = page.locator("#start")
            start.wait_for(state="visible", timeout=WAIT_MS)
            check(results, "rnntui" in page.inner_text(".intro"), "textual-serve's splash names rnntui")
            start.click()  # reloads the page without ?delay: the tab's rnntui starts
            page.wait_for_selector("body.-first-byte", timeout=WAIT_MS)
            check(results, wait_for_text(page, screen, "Input window"), "the app drew its panels")
            page.focus(".xterm-helper-textarea")  # where xterm.js takes the keyboard
            mark = len(screen.text)
            for _ in range(presses):
                page.keyboard.press("Space")
            shown = wait_for_text(page, screen, rf"iter {presses - 1:,}\b", since=mark)
            check(results, shown, f"the header shows iter {presses - 1} after {presses} presses of space")
            page.wait_for_timeout(300)  # let the canvas paint the last frame it received
            page.screenshot(path=str(out))
            check(results, out.stat().st_size > 0, f"screenshot saved to {out}")
            text = screen.text
            for panel in PANELS:
                check(results, panel in text, f"the screen text contains {panel!r}")
        finally:
            browser.close()


def stop_server(server: subprocess.Popen, results: list[bool]) -> None:
    """Ctrl+C: exit status 130, and nothing of the server's process group left."""
    server.send_signal(signal.SIGINT)
    try:
        status = server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        status = server.wait()
    check(results, status == 130, f"rnntui serve stopped on Ctrl+C with exit status {status}")
    deadline = time.monotonic() + 10
    while True:
        try:
            os.killpg(server.pid, 0)  # the server led its group: its tabs and their engines are in it
        except ProcessLookupError:
            check(results, True, "no process of the server, its tabs or their engines is left")
            return
        if time.monotonic() > deadline:
            check(results, False, "no process of the server, its tabs or their engines is left")
            return
        time.sleep(0.1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("browser_check.png"), help="the screenshot (PNG)")
    parser.add_argument("--presses", type=int, default=3, help="presses of space (default 3)")
    parser.add_argument("--chromium", default=CHROMIUM, help=f"the browser to drive (default {CHROMIUM})")
    parser.add_argument("rnntui_args", nargs="*", help="FILE and flags for rnntui serve, after --")
    args = parser.parse_args(argv)
    results: list[bool] = []
    server = start_server(free_port(), args.rnntui_args)
    url = f"http://127.0.0.1:{server.args[server.args.index('--port') + 1]}"
    try:
        browse(url, args.out, args.presses, args.chromium, results)
    finally:
        stop_server(server, results)
    return 0 if results and all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
