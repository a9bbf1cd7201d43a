"""Small timing helpers shared by the demo and the benchmark command."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np


def median_seconds(func: Callable[[], Any], repeat: int = 7, min_time: float = 0.05) -> float:
    """Median time of one ``func()`` call over ``repeat`` rounds lasting ``min_time`` each."""
    number = _calls_per_round(func, min_time)
    return float(np.median([_round_seconds(func, number) for _ in range(repeat)]))


def paired_seconds(
    func: Callable[[], Any], baseline: Callable[[], Any], repeat: int = 7, min_time: float = 0.05
) -> tuple[float, float, float]:
    """Time ``func`` and ``baseline`` in alternating rounds; their ratio round by round.

    Each of ``repeat`` rounds times ``baseline`` and then ``func``, back to back
    (each for about ``min_time``), so that both see the same state of the
    machine: a slow minute on a shared VM slows both, and the ratio stays.

    Parameters
    ----------
    func, baseline : callable
        Called with no arguments.
    repeat : int, default 7
        Rounds.
    min_time : float, default 0.05
        Seconds each of the two takes in one round (at least one call).

    Returns
    -------
    seconds, baseline_seconds : float
        The median time of one call of each.
    ratio : float
        The median over the rounds of ``func``'s time / ``baseline``'s time.

    Examples
    --------
    >>> import numpy as np
    >>> from fasthinge.bench.timing import paired_seconds
    >>> a = np.ones(1000)
    >>> t, t_base, ratio = paired_seconds(lambda: a * 2, lambda: a.copy(), repeat=3, min_time=0)
    >>> bool(t > 0 and t_base > 0 and ratio > 0)
    True
    """
    number = _calls_per_round(func, min_time)
    base_number = _calls_per_round(baseline, min_time)
    ours, base = [], []
    for _ in range(repeat):
        base.append(_round_seconds(baseline, base_number))
        ours.append(_round_seconds(func, number))
    ratio = np.median(np.divide(ours, base))
    return float(np.median(ours)), float(np.median(base)), float(ratio)


def _calls_per_round(func: Callable[[], Any], min_time: float) -> int:
    """Calls of ``func`` that last about ``min_time`` (after a warm-up call)."""
    func()  # warm-up (compilation, page faults of first allocations)
    start = time.perf_counter()
    func()
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, int(min_time / once))


def _round_seconds(func: Callable[[], Any], number: int) -> float:
    """Mean seconds of one call over ``number`` calls in a row."""
    start = time.perf_counter()
    for _ in range(number):
        func()
    return (time.perf_counter() - start) / number


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
