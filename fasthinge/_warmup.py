"""``fasthinge.warmup()``: compile (or load from Numba's cache) every kernel ahead of time."""

from __future__ import annotations

import time

import numpy as np

from . import _threading


def warmup(dtypes: tuple = ("float32", "float64"), *, parallel: bool = True) -> float:
    """Compile every kernel for ``dtypes`` (int64 labels) and return the seconds it took.

    The small-call entries (``f(scores, labels)`` on a small batch) included.

    Opt-in: nothing is compiled at import. A first call otherwise pays the
    compilation (about 1 s per kernel and dtype, or 0.01–0.1 s from Numba's
    on-disk cache); call this once at start-up to move that cost out of a
    training loop or a latency-sensitive path.

    Parameters
    ----------
    dtypes : tuple of str, default ("float32", "float64")
        The score dtypes to compile for.
    parallel : bool, default True
        Also compile the parallel drivers (used above
        ``PARALLEL_MIN_ELEMENTS`` scores).

    Returns
    -------
    float
        Wall-clock seconds spent.

    Examples
    --------
    >>> import fasthinge as fh
    >>> seconds = fh.warmup(("float64",), parallel=False)
    >>> seconds >= 0
    True
    """
    import fasthinge as fh

    start = time.perf_counter()
    from ._cpu.targets import MULTILABEL_BAND_MAX_CLASSES  # (imports Numba)

    wide_classes = MULTILABEL_BAND_MAX_CLASSES + 1
    sizes = [4] + ([_threading.PARALLEL_MIN_ELEMENTS // 4 + 1] if parallel else [])
    for dtype in dtypes:
        for n in sizes:
            s = np.linspace(-1, 1, n * 4, dtype=dtype).reshape(n, 4)
            y = np.arange(n) % 4
            t = np.where(y % 2, 1, -1)
            for func in (fh.weston_watkins, fh.crammer_singer, fh.one_vs_all):
                func(s, y)
                func(s, y, return_grad=False)
            cost = 1 - np.eye(4, dtype=dtype)  # the scores' dtype: the small path too
            for func, third in ((fh.topk_hinge, 2), (fh.structured_hinge, cost)):
                func(s, y, third)
                func(s, y, third, return_grad=False)
            onehot = np.eye(4, dtype=dtype)[y]  # targets in the dtype: the small path too
            multilabel = np.where(onehot > 0, y[:, None], -1)
            for func, targets in (
                (fh.categorical_hinge, onehot),
                (fh.multilabel_margin, multilabel),
            ):
                func(s, targets)
                func(s, targets, return_grad=False)
            # rows that take multilabel_margin's ``_long`` drivers (column blocks): 16, or
            # enough for the parallel driver
            long_rows = (
                16
                if n == sizes[0]
                else max(16, -(-_threading.PARALLEL_MIN_ELEMENTS // wide_classes))
            )
            wide = np.linspace(-1, 1, long_rows * wide_classes, dtype=dtype)
            wide = wide.reshape(long_rows, wide_classes)
            long_targets = np.full(wide.shape, -1)
            long_targets[:, 0] = np.arange(long_rows)
            fh.multilabel_margin(wide, long_targets)
            for func in (fh.binary_hinge, fh.smooth_hinge, fh.hinge_embedding):
                func(s.ravel(), np.repeat(t, 4))
                func(s.ravel(), np.repeat(t, 4), return_grad=False)
    return time.perf_counter() - start
