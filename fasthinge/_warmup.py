"""``fasthinge.warmup()``: compile (or load from Numba's cache) every kernel ahead of time."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np

from . import _threading
from ._validation import FLOAT_DTYPES, SMALL_LABELS, check_count, check_flag

#: The kernels' families, longest to compile first (a family's calls share their kernels).
FAMILIES = ("topk_hinge", "structured_hinge", "crammer_singer", "weston_watkins", "one_vs_all",
            "multilabel_margin", "categorical_hinge", "compact_matmul", "binary")  # fmt: skip
#: The family of each public function (the binary ones share one driver; ``linear_hinge``
#: runs the kernels of the loss it wraps).
FAMILY_OF = {name: name for name in FAMILIES[:-1]} | {
    name: "binary"
    for name in ("binary_hinge", "perceptron", "smooth_hinge", "modified_huber", "hinge_embedding")
}


def warmup(
    dtypes: tuple = ("float32", "float64"),
    *,
    functions: tuple | None = None,
    parallel: bool = True,
    processes: int = 1,
) -> float:
    """Compile every kernel for ``dtypes`` (int64 labels) and return the seconds it took.

    The small-call entries (``f(scores, labels)`` on a small batch) included.

    Opt-in: nothing is compiled at import. A first call otherwise pays the
    compilation (4–9 s per function and dtype on a 2-core AMD EPYC, or
    0.01–0.1 s a kernel from Numba's on-disk cache); call this once at start-up
    (or once per machine, the cache keeps the kernels) to move that cost out of
    a training loop or a latency-sensitive path.

    Parameters
    ----------
    dtypes : tuple of str, default ("float32", "float64")
        The score dtypes to compile for.
    functions : tuple of str, optional
        The names of the loss functions to compile (e.g. ``("weston_watkins",)``;
        the binary losses share one driver); default all of them.
    parallel : bool, default True
        Also compile the parallel drivers (used above
        ``PARALLEL_MIN_ELEMENTS`` scores).
    processes : int, default 1
        With more than one, that many fresh Python processes first compile the
        kernels into Numba's on-disk cache (each a share of the functions and
        dtypes), and this process then loads them from there. Entries are
        written under a file lock, so the processes share one cache safely. Without the cache
        (``FASTHINGE_CACHE=0``) or the JIT (``NUMBA_DISABLE_JIT=1``) the kernels
        are compiled here only. A cold float32 warm-up took 77 s in one process
        and 43 s with ``processes=2`` on the 2-core machine of the Performance page.

    Returns
    -------
    float
        Wall-clock seconds spent.

    Examples
    --------
    >>> import fasthinge as fh
    >>> seconds = fh.warmup(("float64",), functions=("weston_watkins",), parallel=False)
    >>> seconds >= 0
    True
    >>> fh.warmup(functions=("hinge",))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: functions: unknown function 'hinge'; expected one of binary_hinge, ...
    """
    import numba

    from ._cpu import _jit

    processes = check_count(processes, "processes")
    parallel = check_flag(parallel, "parallel")  # (a bool: the tasks go out as JSON)
    dtypes = _dtype_names(dtypes)
    families = _families(functions)
    start = time.perf_counter()
    tasks = [(dtype, family, parallel) for dtype in dtypes for family in families]
    if processes > 1 and tasks and _jit._CACHE and not numba.config.DISABLE_JIT:
        from concurrent.futures import ThreadPoolExecutor

        shares = [tasks[k::processes] for k in range(min(processes, len(tasks)))]
        with ThreadPoolExecutor(len(shares)) as pool:  # each thread waits on one process
            list(pool.map(_compile_in_process, shares))
    for task in tasks:  # (loaded from the cache where the processes compiled them)
        warm_family(*task)
    return time.perf_counter() - start


def _dtype_names(dtypes: tuple) -> list:
    """``dtypes`` as names, each ``"float32"`` or ``"float64"`` (``FLOAT_DTYPES``)."""
    names = []
    for dtype in dtypes:
        try:
            kind = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"dtypes must hold NumPy dtypes, got {dtype!r}") from None
        if kind not in FLOAT_DTYPES:
            raise ValueError(f"dtypes must be float32 or float64, got {dtype!r}")
        names.append(kind.name)  # (a name: warm-up processes get the tasks as JSON)
    return names


def _families(functions: tuple | None) -> list:
    """The ``FAMILIES`` that ``functions`` (public names, or ``None``: all) need, in order."""
    if functions is None:
        return list(FAMILIES)
    if isinstance(functions, str):
        raise TypeError(f"functions must be a tuple of names, got the string {functions!r}")
    for name in functions:
        if name not in FAMILY_OF:
            raise ValueError(f"functions: unknown function {name!r}; expected one of "
                             f"{', '.join(sorted(FAMILY_OF))}")  # fmt: skip
    wanted = {FAMILY_OF[name] for name in functions}
    return [family for family in FAMILIES if family in wanted]


def _compile_in_process(tasks: list) -> None:
    """Run ``warm_family`` on each of ``tasks`` in a fresh Python process (same environment).

    A subprocess, not ``multiprocessing``: its spawned children import the
    caller's ``__main__`` again, which fails in a script without a
    ``if __name__ == "__main__"`` guard. It imports this copy of fasthinge.
    """
    import json
    import os
    import subprocess

    code = ("import json, sys\nfrom fasthinge._warmup import warm_family\n"
            "for task in json.loads(sys.argv[1]):\n    warm_family(*task)")  # fmt: skip
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # this fasthinge's
    path = os.pathsep.join([here, *filter(None, [os.environ.get("PYTHONPATH")])])
    command = [sys.executable, "-c", code, json.dumps(tasks)]
    env = dict(os.environ, PYTHONPATH=path)
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode:
        raise RuntimeError(f"warm-up process failed ({tasks}):\n{done.stderr[-2000:]}")


def warm_family(dtype: str, family: str, parallel: bool) -> None:
    """Call each function of ``family`` on ``dtype`` scores: small, and parallel if asked.

    Loss and gradient, and loss only, on the shapes that take each kind of
    driver and label check (``FAMILIES``; ``warmup``'s processes run it too).
    """
    # rows: the small path; the labels' chunked serial check; their parallel one (the
    # multiclass drivers: parallel from both, the binary one from the last)
    rows = [4] + ([SMALL_LABELS + 1, _threading.PARALLEL_MIN_ELEMENTS] if parallel else [])
    for n in rows:
        s = np.linspace(-1, 1, n * 4, dtype=dtype).reshape(n, 4)
        y = np.arange(n) % 4
        _CALLS[family](s, y, n > rows[0])


def _both(func: Callable, *args: object) -> None:
    """``func(*args)`` with the gradient, then the loss alone."""
    func(*args)
    func(*args, return_grad=False)


def _multiclass(name: str) -> Callable:
    """The warm-up of the multiclass function ``name`` (scores and labels)."""
    import fasthinge as fh

    return lambda s, y, large: _both(getattr(fh, name), s, y)


def _topk(s: np.ndarray, y: np.ndarray, large: bool) -> None:
    import fasthinge as fh

    _both(fh.topk_hinge, s, y, 2)


def _structured(s: np.ndarray, y: np.ndarray, large: bool) -> None:
    """A (4, 4) cost (the scores' dtype: the small path too); large: one with 2¹⁵ entries.

    The larger one's selected rows are checked by the parallel driver.
    """
    import fasthinge as fh

    _both(fh.structured_hinge, s, y, 1 - np.eye(4, dtype=s.dtype))
    if large:
        wide = np.linspace(-1, 1, 128 * 256, dtype=s.dtype).reshape(128, 256)
        fh.structured_hinge(wide, np.arange(128), 1 - np.eye(256, dtype=s.dtype))


def _categorical(s: np.ndarray, y: np.ndarray, large: bool) -> None:
    import fasthinge as fh

    _both(fh.categorical_hinge, s, np.eye(4, dtype=s.dtype)[y])  # the dtype: the small path too


def _multilabel(s: np.ndarray, y: np.ndarray, large: bool) -> None:
    """Short rows, and rows that take the ``_long`` drivers (column blocks).

    Of those, 16 rows, or enough for the parallel driver.
    """
    import fasthinge as fh

    from ._cpu.targets import MULTILABEL_BAND_MAX_CLASSES  # (imports Numba)

    _both(fh.multilabel_margin, s, np.where(np.eye(4)[y] > 0, y[:, None], -1))
    wide_classes = MULTILABEL_BAND_MAX_CLASSES + 1
    long_rows = max(16, -(-_threading.PARALLEL_MIN_ELEMENTS // wide_classes)) if large else 16
    wide = np.linspace(-1, 1, long_rows * wide_classes, dtype=s.dtype)
    long_targets = np.full((long_rows, wide_classes), -1)
    long_targets[:, 0] = np.arange(long_rows)
    fh.multilabel_margin(wide.reshape(long_rows, wide_classes), long_targets)


def _compact_matmul(s: np.ndarray, y: np.ndarray, large: bool) -> None:
    """``Xᵀ·G`` from a compact Crammer–Singer gradient (``s`` as ``X``)."""
    import fasthinge as fh

    _, (indices, values) = fh.crammer_singer(s, y, compact=True)
    fh.compact_matmul(s, indices, values, 4)


def _binary(s: np.ndarray, y: np.ndarray, large: bool) -> None:
    import fasthinge as fh

    scores, signs = np.ascontiguousarray(s[:, 0]), np.where(y % 2, 1, -1)  # (N,): as many
    for func in (fh.binary_hinge, fh.smooth_hinge, fh.hinge_embedding):
        _both(func, scores, signs)


_CALLS = {
    "topk_hinge": _topk,
    "structured_hinge": _structured,
    "crammer_singer": _multiclass("crammer_singer"),
    "weston_watkins": _multiclass("weston_watkins"),
    "one_vs_all": _multiclass("one_vs_all"),
    "multilabel_margin": _multilabel,
    "categorical_hinge": _categorical,
    "compact_matmul": _compact_matmul,
    "binary": _binary,
}
