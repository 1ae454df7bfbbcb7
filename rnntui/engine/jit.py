"""Which engine runs the inner loops: compiled by Numba, or their NumPy twins.

Decided once, when this module is first imported:

- ``RNNTUI_JIT=0`` (or ``false``, ``no``, ``off``) asks for the NumPy twins;
- so does a Numba that cannot be imported (not installed, or built for another
  NumPy or Python), in which case Numba is not needed at all;
- so does ``NUMBA_DISABLE_JIT=1``: Numba would run the loops as Python, one
  element at a time, far slower than the twins.

Otherwise the loops are compiled. A twin takes the same arguments and fills the
same outputs with whole-array NumPy operations (loops over timesteps only), and
agrees with its compiled loop within the contract's one-step tolerance; each
path is deterministic on its own.

Numba refuses to decorate a function whose cache it cannot write anywhere (its
package's ``__pycache__``, ``NUMBA_CACHE_DIR``, the user's cache folder), which
would make importing the engine fail on a read-only installation. Such a loop
is compiled in memory instead, at each start, and :func:`engine_description`
says so.
"""

from __future__ import annotations

import functools
import os
from types import ModuleType
from typing import Callable

import numpy as np

SWITCH = "RNNTUI_JIT"  # the environment variable
OFF = ("0", "false", "no", "off")  # its values that ask for the NumPy twins (any case)


def _load_numba() -> tuple[ModuleType | None, str]:
    """(numba, "") when the loops are to be compiled, else (None, why not)."""
    setting = os.environ.get(SWITCH, "").strip()
    if setting.lower() in OFF:
        return None, f"{SWITCH}={setting}"
    try:
        import numba
    except ModuleNotFoundError as err:
        if err.name != "numba":  # a module Numba needs is missing
            return None, f"Numba could not be imported: {_first_line(err)}"
        return None, "Numba is not installed"
    except (ImportError, OSError) as err:  # e.g. built for another NumPy; llvmlite's library missing
        return None, f"Numba could not be imported: {_first_line(err)}"
    if numba.config.DISABLE_JIT:
        return None, "NUMBA_DISABLE_JIT=1"
    return numba, ""


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


_numba, _not_compiled_because = _load_numba()
COMPILED = _numba is not None  # True: Numba compiles the loops; False: the NumPy twins run
_in_memory: list[str] = []  # loops compiled without a cache: no cache folder was writable


def njit(*, plain: Callable | None = None, **options) -> Callable[[Callable], Callable]:
    """Decorator: ``numba.njit(**options)`` of the loop when compiling, else its NumPy twin.

    ``plain`` is the twin, for loops called from Python; it then runs with
    NumPy's floating-point warnings off, as the compiled loops run
    (``error_model="numpy"``: an overflow gives inf, silently). Without
    ``plain`` (helpers called only from compiled loops) the function itself is
    returned undecorated when not compiling.
    """

    def decorate(fn: Callable) -> Callable:
        if not COMPILED:
            return fn if plain is None else _quiet(plain)
        try:
            return _numba.njit(**options)(fn)
        except RuntimeError:  # "cannot cache function ...: no locator available": no writable cache folder
            if not options.get("cache"):
                raise
            _in_memory.append(fn.__qualname__)
            return _numba.njit(**dict(options, cache=False))(fn)

    return decorate


def _quiet(fn: Callable) -> Callable:
    """fn with NumPy's floating-point warnings off while it runs."""

    @functools.wraps(fn)
    def quiet(*args):
        with np.errstate(all="ignore"):
            return fn(*args)

    return quiet


def engine_description() -> str:
    """One line naming the engine, e.g. ``compiled kernels (Numba 0.61.2)`` or
    ``plain NumPy kernels (RNNTUI_JIT=0)``."""
    if not COMPILED:
        return f"plain NumPy kernels ({_not_compiled_because})"
    where = "; no writable cache folder, compiled at each start" if _in_memory else ""
    return f"compiled kernels (Numba {_numba.__version__}{where})"
