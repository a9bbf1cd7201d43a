"""Small timing helpers shared by the demo and the benchmark command."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np


def median_seconds(func: Callable[[], Any], repeat: int = 7, min_time: float = 0.05) -> float:
    """Median time of one ``func()`` call over ``repeat`` rounds lasting ``min_time`` each."""
    func()  # warm-up (compilation, page faults of first allocations)
    start = time.perf_counter()
    func()
    once = max(time.perf_counter() - start, 1e-7)
    number = max(1, int(min_time / once))
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            func()
        times.append((time.perf_counter() - start) / number)
    return float(np.median(times))


@contextmanager
def numba_threads(n_threads: int | None) -> Iterator[None]:
    """Run the block with Numba's thread count set to ``n_threads``.

    Parameters
    ----------
    n_threads : int or None
        Threads for the parallel regions entered inside the block; ``None``
        leaves the current setting.

    Yields
    ------
    None
        The previous setting is restored on exit.
    """
    if n_threads is None:
        yield
        return
    import numba

    previous = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def copy_seconds(
    src: np.ndarray, dst: np.ndarray, n_threads: int | None = None, **timer: Any
) -> float:
    """Median seconds of a parallel Numba copy ``dst[:] = src`` (read once, write once).

    Parameters
    ----------
    src, dst : ndarray
        C-contiguous arrays of the same size and dtype; they are copied as
        flat arrays, so shapes may differ.
    n_threads : int, optional
        Numba threads for the copy (default: the current setting).
    **timer
        ``repeat`` and ``min_time`` for :func:`median_seconds`.

    Returns
    -------
    float
        The median time of one copy.
    """
    from ._copy import parallel_copy

    flat_src, flat_dst = src.reshape(-1), dst.reshape(-1)
    with numba_threads(n_threads):
        return median_seconds(lambda: parallel_copy(flat_src, flat_dst), **timer)


def read_seconds(src: np.ndarray, n_threads: int | None = None, **timer: Any) -> float:
    """Median seconds of a parallel, vectorised read-only pass over the bytes of ``src``.

    Parameters
    ----------
    src : ndarray
        A C-contiguous array.
    n_threads : int, optional
        Numba threads for the pass (default: the current setting).
    **timer
        ``repeat`` and ``min_time`` for :func:`median_seconds`.

    Returns
    -------
    float
        The median time of one pass (``_copy.parallel_read``).
    """
    from ._copy import parallel_read

    with numba_threads(n_threads):
        return median_seconds(lambda: parallel_read(src), **timer)
