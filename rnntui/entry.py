"""The ``rnntui`` command's entry point: loads the program with Ctrl+C ending it quietly meanwhile.

Loading NumPy, Numba and the engine takes a noticeable moment; a Ctrl+C in it
would otherwise end in a traceback of whichever import it interrupted. While
loading, SIGINT keeps the system's default action (the process ends, status
130 in the shell, nothing printed); once loaded, Python's KeyboardInterrupt is
back and ``rnntui.cli.main`` handles Ctrl+C as everywhere else.
"""

from __future__ import annotations

import signal


def main() -> int:
    """Run the ``rnntui`` command line (``rnntui.cli.main``); returns its exit status."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    from rnntui.cli import main as command_line

    signal.signal(signal.SIGINT, signal.default_int_handler)
    return command_line()
