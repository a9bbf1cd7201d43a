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


def copy_roofline(nbytes_in: int, dtype: np.dtype, n_threads: int | None = None) -> float:
    """Seconds for a parallel Numba copy of ``nbytes_in`` bytes (read + write): the floor."""
    from ._copy import parallel_copy

    n = nbytes_in // np.dtype(dtype).itemsize
    src = np.ones(n, dtype)
    dst = np.empty_like(src)
    with numba_threads(n_threads):
        return median_seconds(lambda: parallel_copy(src, dst))


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

    The bytes are summed as unsigned 64-bit words (8-bit ones when the size is
    not a multiple of 8): integer addition is associative, so the loop
    vectorises and the pass is bound by memory bandwidth, unlike a
    floating-point sum without fastmath (``_copy.parallel_read``), which is
    bound by the latency of its chain of additions.

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
        The median time of one pass.
    """
    flat = np.ascontiguousarray(src).reshape(-1).view(np.uint8)
    words = flat.view(np.uint64) if flat.size % 8 == 0 else flat
    read = _read_words()
    with numba_threads(n_threads):
        return median_seconds(lambda: read(words), **timer)


_READ_WORDS = None


def _read_words() -> Callable[[np.ndarray], Any]:
    """The word-summing kernel, compiled on first use (no Numba at import)."""
    global _READ_WORDS
    if _READ_WORDS is None:
        import numba

        @numba.njit(parallel=True, nogil=True, cache=True)
        def read_words(words: np.ndarray) -> int:
            total = np.uint64(0)
            for i in numba.prange(words.shape[0]):
                total += words[i]
            return total

        _READ_WORDS = read_words
    return _READ_WORDS
