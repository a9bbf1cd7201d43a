"""Shared Numba options for every CPU kernel.

Environment knobs are read once, here, at import of the kernel package (never
inside a kernel: Numba freezes globals at compile time).

- ``FASTHINGE_CACHE=0`` disables Numba's on-disk cache (default: on). Where the
  cache lives, and why an upgrade never loads a stale kernel: ``_cache.py``.

``fastmath`` is always off: NaN must propagate and ``z > 0`` tests must keep
their IEEE meaning.
"""

from __future__ import annotations

import os

import numba

from . import _cache

_CACHE = os.environ.get("FASTHINGE_CACHE", "1") != "0" and _cache.install()

#: Options of the helpers called by the drivers. A call that takes arrays is not
#: inlined (numba 0.68): hot per-row loops live inside the chunk functions.
ROW = dict(nogil=True, fastmath=False, error_model="numpy")
#: Options of the serial drivers.
SERIAL = dict(ROW)
#: Options of the parallel drivers (``prange`` over fixed chunks).
PARALLEL = dict(ROW, parallel=True)


def jit(**options):
    """``numba.njit(**options)``, cached on disk unless ``FASTHINGE_CACHE=0``.

    The cache is ``_cache.FunctionCache``: Numba's, with its index locked across
    processes (``cache=True`` would set Numba's own, unlocked).
    """

    def decorate(func):
        dispatcher = numba.njit(**options)(func)
        if _CACHE and hasattr(dispatcher, "enable_caching"):  # not under NUMBA_DISABLE_JIT
            dispatcher._cache = _cache.FunctionCache(func)
        return dispatcher

    return decorate


def row_jit(func):
    """Compile a per-row helper (lazy; compiled on first use)."""
    return jit(**ROW)(func)


def inline_jit(func):
    """A ``row_jit`` helper inlined into its callers at Numba's IR level.

    For block loops called once per block with slices of the caller's arrays:
    as calls, each block's views cost reference counting (``NRT_incref`` /
    ``NRT_decref``); inlined, Numba prunes it.
    """
    return jit(**ROW, inline="always")(func)


def serial_jit(func):
    """Compile a serial driver (lazy)."""
    return jit(**SERIAL)(func)


def parallel_jit(func):
    """Compile a parallel driver (lazy).

    Serial and parallel drivers must be distinct Python functions: Numba's
    cache does not tell a ``parallel=True`` build from a ``parallel=False``
    build of the same function.
    """
    return jit(**PARALLEL)(func)
