"""Small timing helpers shared by the demo and the benchmark command."""

from __future__ import annotations

import time
from collections.abc import Callable
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
    return median_seconds(lambda: parallel_copy(src, dst))
