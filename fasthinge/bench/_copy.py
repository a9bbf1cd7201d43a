"""The memory roofline: a parallel Numba copy and read (sum) over the same bytes."""

import numba
import numpy as np


@numba.njit(parallel=True, nogil=True, cache=True)
def parallel_copy(src: np.ndarray, dst: np.ndarray) -> None:
    """dst[:] = src with ``prange`` (read once, write once)."""
    for i in numba.prange(src.shape[0]):
        dst[i] = src[i]


@numba.njit(parallel=True, nogil=True, cache=True)
def parallel_read(src: np.ndarray) -> float:
    """A read-only pass (sum) over ``src`` with ``prange``."""
    total = 0.0
    for i in numba.prange(src.shape[0]):
        total += src[i]
    return total
