"""``rnntui serve [FILE] [options] [--host H] [--port P]``: the debugger in a web browser.

textual-serve runs a command for every browser tab that connects and relays
that process's screen over a websocket. Here the command is this interpreter
running ``rnntui`` with the FILE and flags given to ``serve`` (in the same
working folder), so each tab trains its own model, independently of the others. The flags and the corpus
are checked once before listening (a mistake is one line and exit status 2,
never a page that fails in the browser), and so is the port.

Ctrl+C (SIGINT) and SIGTERM stop the server: every tab's rnntui is told to
quit and waited for. The exit status is 130 after Ctrl+C, as in the README's
table, and 0 after SIGTERM (a service manager's way of stopping it).
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import re
import shlex
import signal
import socket
import sys
from typing import Any

from aiohttp import web
from aiohttp.web_runner import GracefulExit
from textual_serve.server import Server

from rnntui.cli import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    SUBCOMMANDS,
    Parser,
    add_shared_arguments,
    build_session,
    parse_or_exit,
    print_notices,
)
from rnntui.engine import RnntuiError

DEFAULT_HOST = "127.0.0.1"  # this machine only, unless --host says otherwise
DEFAULT_PORT = 8000
SHUTDOWN_WAIT_S = 5.0  # how long stopping waits for open connections to finish
STOP_STATUS = {signal.SIGINT: EXIT_INTERRUPTED, signal.SIGTERM: EXIT_OK}
HOST_HEADER = re.compile(r"[A-Za-z0-9.\-]+(:\d+)?|\[[0-9A-Fa-f:.]+\](:\d+)?")  # name:port, a.b.c.d:port, [v6]:port


def _port(text: str) -> int:
    """argparse type: a TCP port number, 1 to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 1 to 65535, got {value}")
    return value


def build_serve_parser() -> argparse.ArgumentParser:
    """Parser of ``rnntui serve [FILE] [options]``: rnntui's flags plus --host and --port."""
    parser = Parser(
        prog="rnntui serve",
        description="Serve the debugger to web browsers: every browser tab gets its own rnntui "
        "with FILE and these flags.",
        epilog="Exit status: 130 stopped with Ctrl+C, 0 stopped by SIGTERM, 2 bad input or the port is in use.",
    )
    add_shared_arguments(parser)
    web = parser.add_argument_group("web server")
    web.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}: this machine only; 0.0.0.0 for every network)",
    )
    web.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    return parser


def app_argv(argv: list[str]) -> list[str]:
    """``argv`` less --host and --port: rnntui's own FILE and flags, as given and in order.

    ``argv`` must have parsed (so every flag is whole). A FILE first on the line
    and named like a subcommand (``train``) is written ``./train``, as the
    README advises, so that the tab's rnntui reads it as FILE.
    """
    web_flags = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    web_flags.add_argument("--host")
    web_flags.add_argument("--port")
    _, rest = web_flags.parse_known_args(argv)
    if rest and (rest[0] == "train" or rest[0] in SUBCOMMANDS):
        rest[0] = f"./{rest[0]}"
    return rest


def tab_command(argv: list[str]) -> str:
    """The shell command textual-serve runs for each browser tab (``exec``: no shell stays in between)."""
    return "exec " + shlex.join([sys.executable, "-m", "rnntui", *app_argv(argv)])


def check_port_free(host: str, port: int) -> None:
    """Fail with one line if nothing can listen on ``host``:``port`` (in use, not this machine's address)."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise RnntuiError(f"--host {host!r} is not an address of this machine ({err.strerror})",
                          "give an address such as 127.0.0.1 or 0.0.0.0") from None
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: TIME_WAIT is no obstacle
            try:
                probe.bind(address)
            except OSError as err:
                raise _listen_error(host, port, err) from None


def _listen_error(host: str, port: int, err: OSError) -> RnntuiError:
    if err.errno == errno.EADDRINUSE:
        return RnntuiError(f"port {port} on {host} is in use", "choose another with --port")
    if err.errno == errno.EACCES:
        return RnntuiError(f"port {port} on {host} needs privileges", "choose a port above 1023 with --port")
    return RnntuiError(f"cannot listen on {host} port {port} ({err.strerror})", "choose another --host or --port")


def browse_url(host: str, port: int) -> str:
    """The address to open in a browser on this machine (an any-address host is reached as localhost)."""
    shown = "localhost" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def main(argv: list[str]) -> int:
    """Run ``rnntui serve``; returns the exit status once stopped (RnntuiError for bad input)."""
    args = parse_or_exit(build_serve_parser(), argv)
    if isinstance(args, int):
        return args
    session = build_session(args)  # every mistake in FILE or the flags, now rather than in each tab
    print_notices(session)
    del session
    check_port_free(args.host, args.port)
    return BrowserServer(tab_command(argv), args.host, args.port).serve_until_stopped()


class BrowserServer(Server):
    """textual-serve's server, with rnntui's start-up line, page addresses that follow the browser,
    and a stop that ends every tab's rnntui."""

    def __init__(self, command: str, host: str, port: int) -> None:
        super().__init__(command, host=host, port=port, title="rnntui")
        self.url = browse_url(host, port)
        self._listening_url = self.public_url  # for a request that names no usable host
        self._tabs: set[asyncio.Task] = set()  # one websocket handler per open tab
        self._status = EXIT_OK

    def serve_until_stopped(self) -> int:
        """Listen until SIGINT or SIGTERM; return the exit status (see STOP_STATUS)."""
        loop = asyncio.new_event_loop()
        for signum in STOP_STATUS:
            loop.add_signal_handler(signum, self._stop, signum)
        try:
            web.run_app(
                self._make_app(),
                host=self.host,
                port=self.port,
                handle_signals=False,
                loop=loop,
                print=self._announce,  # called once the port is bound
                shutdown_timeout=SHUTDOWN_WAIT_S,
            )
        except OSError as err:  # the port was taken between the check and now
            raise _listen_error(self.host, self.port, err) from None
        return self._status

    def _stop(self, signum: int) -> None:
        self._status = STOP_STATUS[signum]
        raise GracefulExit  # aiohttp's way out of run_app: its cleanup runs on_shutdown

    def _announce(self, *_: Any) -> None:
        print(f"rnntui serve: open {self.url} in a browser (one rnntui per tab); Ctrl+C stops", flush=True)

    async def on_startup(self, app: web.Application) -> None:
        """Nothing: the address is announced once the port is bound."""

    async def on_shutdown(self, app: web.Application) -> None:
        """Close every tab: each handler then tells its rnntui to quit and waits for it."""
        tabs = list(self._tabs)
        for task in tabs:
            task.cancel()
        if tabs:
            await asyncio.wait(tabs, timeout=SHUTDOWN_WAIT_S)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        task = asyncio.current_task()
        self._tabs.add(task)
        try:
            return await super().handle_websocket(request)
        finally:
            self._tabs.discard(task)

    async def handle_index(self, request: web.Request) -> web.Response:
        """The page, with its script and websocket addresses on the host and port the browser used
        (an SSH tunnel's local port, a name in a class's network), not the address listened on."""
        used = request.host if HOST_HEADER.fullmatch(request.host) else None
        # read by the page's rendering below before anything else can run on this loop
        self.public_url = f"{request.scheme}://{used}" if used else self._listening_url
        return await super().handle_index(request)
