"""BLAS thread control for the engine's small matrix products."""

from __future__ import annotations

from threadpoolctl import threadpool_limits


def use_one_blas_thread() -> None:
    """Run BLAS on one thread in this process.

    The window's matrix products are small (at most a few hundred rows): a
    second BLAS thread mostly adds synchronisation, and when the other core is
    busy a step can become several times slower. The rnntui command calls this
    at start-up; scripts that drive the engine may call it too.
    """
    threadpool_limits(limits=1, user_api="blas")
