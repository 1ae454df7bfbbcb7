"""``rnntui serve``: the page over HTTP, one rnntui per browser tab, a clean stop, one-line errors."""

from __future__ import annotations

import asyncio
import select
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from rnntui import cli
from rnntui.commands import serve

STARTUP_S = 60.0  # the server imports numpy, numba and textual before it listens
TAB_S = 30.0  # a tab's rnntui starts and draws its first screen (about 2 s)
STOP_S = 20.0


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Served:
    """``rnntui serve`` in a subprocess; ``url`` once it has said it listens."""

    def __init__(self, *argv: str) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rnntui", "serve", "--port", str(self.port), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.announced = self._first_line(STARTUP_S)
        self.url = f"http://127.0.0.1:{self.port}"

    def _first_line(self, timeout: float) -> str:
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            self.kill()
            raise AssertionError(f"rnntui serve said nothing within {timeout:.0f} s")
        return self.process.stdout.readline()

    def stop(self, signum: int = signal.SIGINT) -> tuple[int, str, str]:
        """Send ``signum``; return (exit status, rest of stdout, stderr)."""
        self.process.send_signal(signum)
        try:
            out, err = self.process.communicate(timeout=STOP_S)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"rnntui serve did not stop within {STOP_S:.0f} s") from None
        return self.process.returncode, out, err

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


@pytest.fixture
def served(corpus_file):
    started: list[Served] = []

    def start(*argv: str) -> Served:
        server = Served(*argv)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


def fetch(url: str, host: str | None = None) -> str:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return response.read().decode("utf-8")


def descendants(pid: int) -> dict[int, int]:
    """Every process below ``pid`` (children, their children...) and its parent, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # ended while we looked
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])  # the field after the state
    found: dict[int, int] = {}
    frontier = {pid}
    while frontier:
        below = {child: parent for child, parent in parents.items() if parent in frontier and child not in found}
        found.update(below)
        frontier = set(below)
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


# --- the page and a clean stop -------------------------------------------------------


def test_serves_textual_serves_page_and_stops_on_ctrl_c(served, corpus_file):
    server = served(str(corpus_file), "--hidden-size", "16")
    assert server.announced.startswith(f"rnntui serve: open {server.url} ")

    page = fetch(server.url + "/")
    assert "textual.js" in page  # textual-serve's client script
    assert f'data-session-websocket-url="ws://127.0.0.1:{server.port}/ws"' in page
    assert "<div>rnntui</div>" in page  # the splash names the app

    status, out, err = server.stop(signal.SIGINT)
    assert status == cli.EXIT_INTERRUPTED
    assert "Traceback" not in out + err
    assert not alive(server.process.pid)


def test_sigterm_stops_with_status_0(served):
    server = served()
    status, _, err = server.stop(signal.SIGTERM)
    assert status == cli.EXIT_OK
    assert "Traceback" not in err


def test_page_addresses_follow_the_host_the_browser_used(served):
    server = served()
    tunnelled = fetch(server.url + "/", host="localhost:9000")  # e.g. ssh -L 9000:localhost:PORT
    assert 'data-session-websocket-url="ws://localhost:9000/ws"' in tunnelled
    assert 'href="http://localhost:9000/static/css/xterm.css"' in tunnelled
    odd = fetch(server.url + "/", host='x"><script>')  # not an address: the listening one is used
    assert f'data-session-websocket-url="ws://127.0.0.1:{server.port}/ws"' in odd
    assert "<script>" not in odd.split("<body", 1)[1]
    server.stop()


async def open_tab(url: str, width: int, height: int, until: bytes) -> tuple[aiohttp.ClientSession, object, bytes]:
    """Connect as the page's script does; read the tab's screen until ``until`` shows."""
    session = aiohttp.ClientSession()
    received = b""
    try:
        ws = await session.ws_connect(f"{url}/ws?width={width}&height={height}")
        async with asyncio.timeout(TAB_S):  # one limit for the whole wait: the server's pings restart a receive's
            while until not in received:
                message = await ws.receive()
                assert message.type == aiohttp.WSMsgType.BINARY, message
                received += message.data
    except (TimeoutError, AssertionError) as err:
        await session.close()
        raise TabFailed(f"the tab did not show {until!r} ({len(received)} bytes received)") from err
    return session, ws, received


class TabFailed(Exception):
    """A tab's rnntui did not draw; the server's output says why (it relays the tab's stderr)."""


@needs_proc
def test_each_tab_runs_its_own_rnntui_and_stopping_ends_them_all(served, corpus_file):
    server = served(str(corpus_file), "--hidden-size", "16", "--seq-length", "10")

    async def scenario() -> tuple[dict[int, int], set[int], list[aiohttp.WSMsgType]]:
        tabs = [await open_tab(server.url, 100, 30, b"Input window") for _ in range(2)]
        processes = descendants(server.process.pid)
        tab_processes = {pid for pid, parent in processes.items() if parent == server.process.pid}
        server.process.send_signal(signal.SIGINT)
        endings = [await closing(ws) for _, ws, _ in tabs]
        for session, _, _ in tabs:
            await session.close()
        return processes, tab_processes, endings

    try:
        processes, tab_processes, endings = asyncio.run(scenario())
    except TabFailed as failure:
        server.process.kill()
        out, err = server.process.communicate()
        raise AssertionError(f"{failure}; rnntui serve said: {out.strip()} {err.strip()}") from None
    assert len(tab_processes) == 2  # one rnntui per tab, with FILE and the flags given to serve
    for pid in tab_processes:
        assert _command(pid) == [sys.executable, "-m", "rnntui", str(corpus_file), "--hidden-size", "16",
                                 "--seq-length", "10"]
    engines = {pid for pid, parent in processes.items() if parent in tab_processes}
    assert len(engines) == 2  # each tab's engine runs in a process of its own
    assert endings == [aiohttp.WSMsgType.CLOSE] * 2  # the server closed both tabs
    assert server.process.wait(timeout=STOP_S) == cli.EXIT_INTERRUPTED
    assert "Traceback" not in server.process.stderr.read()
    wait_until(lambda: not any(alive(pid) for pid in processes), STOP_S, "every tab's processes to end")


async def closing(ws) -> aiohttp.WSMsgType:
    """Read a tab's websocket until it ends; how it ended."""
    async with asyncio.timeout(STOP_S):
        while True:
            message = await ws.receive()
            if message.type not in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                return message.type


def _command(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    except OSError:
        return []


# --- the command each tab runs ---------------------------------------------------------


def without_web_flags(args) -> dict:
    return {name: value for name, value in vars(args).items() if name not in ("host", "port")}


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["fox.txt", "--hidden-size", "8", "--port", "9001", "--learning-rate", "-1", "--break", "smooth < 40",
         "--host=0.0.0.0", "--clip", "2.5", "--break", "nan", "--encoding", "latin-1", "--max-bytes", "2M",
         "--resume", "run.npz"],
        ["--seq-length=10", "--port=9001", "--", "-dash.txt"],
        ["--port", "9001", "--", "--port"],  # a FILE named like the flag
    ],
)
def test_each_tab_gets_rnntuis_own_flags_as_given(argv):
    served = serve.build_serve_parser().parse_args(argv)
    tab_argv = serve.app_argv(argv)
    assert "--host" not in " ".join(tab_argv).replace("-- --port", "") and "9001" not in tab_argv
    assert without_web_flags(cli.build_app_parser().parse_args(tab_argv)) == without_web_flags(served)


def test_a_file_named_like_a_subcommand_is_still_the_file():
    for name in ["train", *cli.SUBCOMMANDS]:
        tab_argv = serve.app_argv([name, "--hidden-size", "8"])
        assert tab_argv == [f"./{name}", "--hidden-size", "8"]  # rnntui would run the subcommand for the bare name
        assert cli.build_app_parser().parse_args(tab_argv).file == f"./{name}"


def test_tab_command_is_this_interpreter_running_rnntui_quoted_for_the_shell():
    command = serve.tab_command(["my notes.txt", "--break", "smooth < 40", "--port", "9001"])
    assert shlex.split(command) == ["exec", sys.executable, "-m", "rnntui", "my notes.txt", "--break", "smooth < 40"]


# --- bad input: one line, status 2, nothing served ----------------------------------------


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = cli.main(["serve", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status: int, out: str, err: str, *fragments: str) -> None:
    assert status == cli.EXIT_USAGE
    assert out == ""  # no address announced: nothing was served
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnntui: error: "), err
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize(
    "argv, fragments",
    [
        (["--hidden-size", "x"], ["--hidden-size", "rnntui serve --help"]),
        (["--port", "70000"], ["--port", "1 to 65535"]),
        (["--port", "http"], ["--port", "'http'"]),
        (["--no-such-flag"], ["--no-such-flag"]),
        (["--learning-rate", "-1"], ["--learning-rate"]),
        (["--break", "loss >> 3"], ["bad breakpoint"]),
        (["--host", "no-such-host.invalid"], ["--host 'no-such-host.invalid' is not an address"]),
        (["--host", ""], ["--host '' is not an address"]),
    ],
)
def test_bad_flags(capsys, argv, fragments):
    assert_one_line_error(*run(capsys, *argv), *fragments)


def test_missing_corpus(capsys, tmp_path):
    assert_one_line_error(*run(capsys, str(tmp_path / "nothing.txt")), "nothing.txt")


def test_bad_checkpoint(capsys, corpus_file, tmp_path):
    not_a_checkpoint = tmp_path / "run.npz"
    not_a_checkpoint.write_text("hello")
    assert_one_line_error(*run(capsys, str(corpus_file), "--resume", str(not_a_checkpoint)), "run.npz")


def test_port_in_use(capsys, corpus_file):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert_one_line_error(*run(capsys, str(corpus_file), "--port", str(port)), f"port {port}", "in use")
