"""Run a serial or a parallel driver: thread counts and threading-layer safety.

Numba's ``workqueue`` threading layer is not thread-safe: two Python threads
entering parallel regions at once abort the process. As numbagg does, a call
that would enter it concurrently runs the serial driver instead. Serial and
parallel drivers use the same fixed chunks, so the result does not change.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

#: Below this many scalar elements a call runs the serial driver: entering a
#: parallel region costs about 2 µs (OpenMP) to 100 µs (workqueue).
PARALLEL_MIN_ELEMENTS = 1 << 15

_workqueue_lock = threading.Lock()
_layer_is_thread_safe: bool | None = None  # unknown until a parallel region ran


def launch(
    serial: Callable[..., Any],
    parallel: Callable[..., Any],
    args: tuple,
    n_elements: int,
    n_threads: int | None,
) -> None:
    """Run ``serial(*args)`` or ``parallel(*args)`` with ``n_threads`` threads."""
    if n_threads == 1 or n_elements < PARALLEL_MIN_ELEMENTS:
        serial(*args)
    elif _layer_is_thread_safe:
        _run_parallel(parallel, args, n_threads)
    elif _workqueue_lock.acquire(blocking=False):
        try:
            _run_parallel(parallel, args, n_threads)
        finally:
            _learn_layer()
            _workqueue_lock.release()
    else:  # another thread is inside an unsafe parallel region
        serial(*args)


def _run_parallel(parallel: Callable[..., Any], args: tuple, n_threads: int | None) -> None:
    numba = _numba()
    previous = numba.get_num_threads()
    if n_threads is None or n_threads == previous:
        parallel(*args)
        return
    numba.set_num_threads(n_threads)
    try:
        parallel(*args)
    finally:
        numba.set_num_threads(previous)


def _learn_layer() -> None:
    global _layer_is_thread_safe
    numba = _numba()
    try:
        _layer_is_thread_safe = numba.threading_layer() != "workqueue"
    except ValueError:  # no parallel region has run yet
        pass


def max_threads() -> int:
    """The largest ``n_threads`` accepted (Numba's ``NUMBA_NUM_THREADS``)."""
    return int(_numba().config.NUMBA_NUM_THREADS)


@functools.cache
def _numba() -> Any:
    """The ``numba`` module, imported on the first call (not by ``import fasthinge``)."""
    import numba

    return numba
