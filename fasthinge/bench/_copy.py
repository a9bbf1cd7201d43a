"""The memory roofline: a parallel Numba copy and a read-only pass over the same bytes."""

import numba
import numpy as np


@numba.njit(parallel=True, nogil=True, cache=True)
def parallel_copy(src: np.ndarray, dst: np.ndarray) -> None:
    """dst[:] = src with ``prange`` (read once, write once)."""
    for i in numba.prange(src.shape[0]):
        dst[i] = src[i]


@numba.njit(parallel=True, nogil=True, cache=True)
def _sum_words(words: np.ndarray) -> int:
    """Integer sum with ``prange``: associative, so it vectorises (unlike a float sum)."""
    total = np.uint64(0)
    for i in numba.prange(words.shape[0]):
        total += words[i]
    return total


def parallel_read(src: np.ndarray) -> int:
    """A read-only pass over the bytes of ``src``, bound by memory bandwidth.

    The bytes are summed as unsigned 64-bit words (8-bit ones when the size is
    not a multiple of 8); a floating-point sum without fastmath would instead
    be bound by the latency of its chain of additions.
    """
    flat = np.ascontiguousarray(src).reshape(-1).view(np.uint8)
    return _sum_words(flat.view(np.uint64) if flat.size % 8 == 0 else flat)
