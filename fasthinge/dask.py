"""Dask: fasthinge's losses and a linear model's gradient over arrays chunked by rows.

Each row chunk (all classes of its rows) runs the fused kernel once, where the
chunk lives, and the loss is a tree reduction of float64 partial sums. The
"mean" denominator is the number of rows (known from the shape) or, with
``ignore_index`` or a weighted mean, a tree reduction over the labels and
weights alone (read once more, before the kernels: they are small), so each
chunk's gradient is scaled exactly as in a single-machine call.
:func:`linear_loss_and_grad` computes ``S = X·W``, the fused loss and gradient
``G`` and ``Xᵀ·G`` in one task per chunk (``X·W`` is never computed twice) and
adds the ``Xᵀ·G`` blocks by a tree reduction, dividing by the denominator at
the end (no chunk waits for the others): one ``dask.compute`` per optimiser
iteration.

Works with any Dask scheduler: threads, processes, or a
``dask.distributed`` cluster (``Client("tcp://scheduler:8786")``).

Equality with one machine: the gradient rows are bit-identical (the same
kernel, the same scale). The loss adds the same float64 row values in
another order (a tree over chunks instead of one pass), so it may differ in
the last bit of float64 before the final rounding to the scores' dtype; with
``sample_weight`` and ``"mean"``, ``Σ w`` is added in another order too.
``Xᵀ·G`` is a sum over chunks (accumulated in float64): equal to NumPy's
``X.T @ G`` within rounding.

Examples
--------
>>> import dask, dask.array as da, numpy as np, fasthinge as fh
>>> from fasthinge import dask as fhd
>>> rng = np.random.default_rng(0)
>>> s, y = rng.standard_normal((1000, 5)), rng.integers(0, 5, 1000)
>>> loss, grad = fhd.loss_and_grad(da.from_array(s, chunks=(300, 5)), y, "crammer_singer")
>>> loss, grad = dask.compute(loss, grad)
>>> expected = fh.crammer_singer(s, y)
>>> bool(np.isclose(loss, expected[0], rtol=1e-15)), bool((grad == expected[1]).all())
(True, True)
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import dask
import dask.array as da
import numpy as np

from . import _bridge as b
from . import _execution as ex

__all__ = ["linear_loss_and_grad", "loss_and_grad", "numba_cache_plugin"]

#: Losses that take (scores, labels) and reduce over rows.
LOSSES = tuple(name for name in b.CORE)
#: How many partial results one task of the tree reductions adds.
SPLIT_EVERY = 8


def _loss_function(loss: str) -> Callable[..., Any]:
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {list(LOSSES)}, got {loss!r}")
    return b.spec(loss).func


def _row_chunks(array: Any, name: str, rows: tuple) -> da.Array:
    """``array`` (NumPy or Dask) as a Dask array with the row chunks ``rows``, whole otherwise."""
    if isinstance(array, da.Array):
        result = array
    else:
        result = da.from_array(np.asarray(array), chunks=-1)
    if result.ndim == 0 or result.shape[0] != sum(rows):
        raise ValueError(f"{name} must have {sum(rows)} rows (one per row of the scores), "
                         f"got shape {result.shape}")  # fmt: skip
    return result.rechunk((rows, *(-1,) * (result.ndim - 1)))


def _blocks(array: da.Array | None, count: int) -> list:
    """The row blocks of ``array`` as Delayed objects (``None`` for each without it)."""
    return [None] * count if array is None else list(array.to_delayed().ravel())


def _tree(values: list, combine: Callable[..., Any], split_every: int) -> Any:
    """Add Delayed ``values`` with ``combine``, ``split_every`` at a time (a tree)."""
    while len(values) > 1:
        values = [dask.delayed(combine)(*values[i : i + split_every])
                  for i in range(0, len(values), split_every)]  # fmt: skip
    return values[0]


def _add(*parts: Any) -> Any:
    """Elementwise sum of tuples of float64 values or arrays."""
    return tuple(functools.reduce(np.add, items) for items in zip(*parts, strict=True))


def _kept(labels: np.ndarray, weights: np.ndarray | None, ignore: int | None, dtype: Any) -> tuple:
    """(kept rows, Σ w over them in float64): one chunk's part of the "mean" denominator."""
    kept = None if ignore is None else labels != ignore
    count = float(labels.shape[0] if kept is None else np.count_nonzero(kept))
    if weights is None:
        return count, 0.0
    w = np.asarray(weights, dtype=dtype)  # as the kernel sees them: in the scores' dtype
    return count, float(np.sum(w if kept is None else w[kept], dtype=np.float64))


def _denominator(totals: tuple, reduction: str, weighted: bool) -> float:
    """The batch's denominator from the summed ``_kept`` parts (as ``_execution`` computes it)."""
    count, weight = totals
    if reduction == "sum_over_batch_size" or not weighted:
        return count
    if weight == 0 and count:
        raise ValueError(
            "sample_weight sums to 0 over the kept rows, so the weighted mean is undefined; "
            "use reduction='sum' or reduction='sum_over_batch_size'"
        )
    return weight


def _chunk_loss(loss: str, scores: Any, labels: Any, weights: Any, denominator: float,
                options: dict) -> tuple:  # fmt: skip
    """One chunk: ``(Σ rows in float64, row losses, gradient scaled by the batch's "mean")``."""
    token = ex.BATCH_DENOMINATOR.set(denominator)
    try:
        rows, grad = _loss_function(loss)(scores, labels, sample_weight=weights, reduction="none",
                                          **options)  # fmt: skip
    finally:
        ex.BATCH_DENOMINATOR.reset(token)
    return (np.sum(rows, dtype=np.float64),), rows, grad


def _finish(total: tuple, denominator: float, reduction: str, dtype: Any) -> np.ndarray:
    """The reduced loss: ``Σ / denominator`` (NaN for no kept rows) rounded once to ``dtype``."""
    (value,) = total
    if reduction == "sum":
        return np.asarray(value, dtype=dtype)
    return np.asarray(value / denominator if denominator else np.nan, dtype=dtype)


def _prepare(scores: Any, labels: Any, sample_weight: Any, reduction: str, options: dict,
             split_every: int, dtype: Any) -> tuple:  # fmt: skip
    """Row-chunked inputs, their Delayed blocks and the Delayed batch denominator."""
    if not isinstance(scores, da.Array):
        raise TypeError(f"scores must be a dask.array.Array, got {type(scores).__name__}")
    if scores.ndim not in (1, 2):
        raise ValueError(f"scores must be 1-D or 2-D, got shape {scores.shape}")
    if reduction not in ("mean", "sum", "none", "sum_over_batch_size"):
        raise ValueError(f"reduction must be one of ['mean', 'sum', 'none', "
                         f"'sum_over_batch_size'], got {reduction!r}")  # fmt: skip
    if isinstance(split_every, bool) or not isinstance(split_every, int) or split_every < 2:
        raise ValueError(f"split_every must be an integer >= 2, got {split_every!r}")
    if scores.ndim == 2 and scores.numblocks[1] != 1:
        scores = scores.rechunk({1: -1})  # a chunk holds whole rows: every class of its rows
    rows = scores.chunks[0]
    labels = _row_chunks(labels, "labels", rows)
    weights = None if sample_weight is None else _row_chunks(sample_weight, "sample_weight", rows)
    count = len(rows)
    y_blocks, w_blocks = _blocks(labels, count), _blocks(weights, count)
    ignore = options.get("ignore_index")
    weighted = sample_weight is not None and reduction == "mean"
    if reduction in ("sum", "none"):
        denominator: Any = 1.0
    elif ignore is None and not weighted:
        denominator = float(sum(rows))  # known from the shape: no pass over the labels
    else:  # a tree over the labels and weights alone (read once more: they are small)
        parts = [dask.delayed(_kept)(y, w, ignore, dtype)
                 for y, w in zip(y_blocks, w_blocks, strict=True)]  # fmt: skip
        totals = _tree(parts, _add, split_every)
        denominator = dask.delayed(_denominator)(totals, reduction, weighted)
    return scores, rows, y_blocks, w_blocks, denominator


def loss_and_grad(
    scores: da.Array,
    labels: Any,
    loss: str = "crammer_singer",
    *,
    sample_weight: Any = None,
    reduction: str = "mean",
    split_every: int = SPLIT_EVERY,
    **options: Any,
) -> tuple[da.Array, da.Array]:
    """A fasthinge loss and its gradient over a Dask array chunked by rows (lazy).

    Parameters
    ----------
    scores : dask.array.Array of shape (N, C) or (N,)
        Scores, chunked by rows (column chunks are merged: a chunk must hold
        every class of its rows).
    labels : array_like or dask.array.Array, one entry (or row) per score row
        Labels (or (N, C) targets); rechunked to the scores' rows.
    loss : str, default "crammer_singer"
        The name of a fasthinge loss (``"weston_watkins"``, ``"binary_hinge"``, ...).
    sample_weight : array_like or dask.array.Array of shape (N,), optional
        Per-row weights.
    reduction : {"mean", "sum", "none", "sum_over_batch_size"}, default "mean"
        As in fasthinge; ``"mean"`` divides by the whole batch's ``Σ w`` (or
        kept rows), never by a chunk's.
    split_every : int, default 8
        How many partial sums one task of the tree reduction adds.
    **options
        The loss's other keywords (``margin``, ``p``, ``class_weight``,
        ``ignore_index``, ``kink``, ...; ``cost`` for ``structured_hinge``,
        ``k`` for ``topk_hinge``).

    Returns
    -------
    loss : dask.array.Array
        0-d (or (N,) row losses for ``"none"``), in the scores' dtype.
    grad : dask.array.Array
        The gradient, chunked like the scores.

    Notes
    -----
    Compute both with one ``dask.compute(loss, grad)``: each chunk's kernel
    runs once for both.

    Examples
    --------
    >>> import dask, dask.array as da, numpy as np
    >>> from fasthinge import dask as fhd
    >>> s = da.from_array(np.array([[0.1, 0.2, 0.4, 0.8]] * 4), chunks=(2, 4))
    >>> loss, grad = dask.compute(*fhd.loss_and_grad(s, [3, 3, 3, 3], "weston_watkins"))
    >>> float(loss), grad[0].tolist()
    (0.32499999999999996, [0.0625, 0.0625, 0.0625, -0.1875])
    """
    _loss_function(loss)
    if "return_grad" in options or "out" in options or options.get("compact"):
        raise TypeError("loss_and_grad always returns the loss and the gradient; "
                        "return_grad, out and compact are not accepted")  # fmt: skip
    scores, rows, y_blocks, w_blocks, denominator = _prepare(
        scores, labels, sample_weight, reduction, options, split_every, scores.dtype
    )
    s_blocks = list(scores.to_delayed().ravel())
    dtype, tail = scores.dtype, scores.shape[1:]
    parts = [dask.delayed(_chunk_loss, nout=3)(loss, s, y, w, denominator, options)
             for s, y, w in zip(s_blocks, y_blocks, w_blocks, strict=True)]  # fmt: skip
    pieces = list(zip(parts, rows, strict=True))
    grad = da.concatenate([da.from_delayed(p[2], (n, *tail), dtype) for p, n in pieces])
    if reduction == "none":
        value = da.concatenate([da.from_delayed(p[1], (n,), dtype) for p, n in pieces])
    else:
        total = _tree([p[0] for p in parts], _add, split_every)
        value = da.from_delayed(dask.delayed(_finish)(total, denominator, reduction, dtype), (),
                                dtype)  # fmt: skip
    return value, grad


def _chunk_linear(loss: str, x: np.ndarray, w: np.ndarray, labels: Any, weights: Any,
                  options: dict) -> tuple:  # fmt: skip
    """One chunk of a linear model: ``(Σ rows, Xᵀ·G)`` of the summed loss, in float64.

    ``S = X·W`` is computed once, here; the batch's denominator divides the sums at
    the end, so no chunk waits for the whole batch's labels.
    """
    scores = x @ w
    (total,), _, grad = _chunk_loss(loss, scores, labels, weights, 1.0, options)
    return total, (x.T @ grad).astype(np.float64)


def _finish_linear(totals: tuple, denominator: float, reduction: str, dtype: Any) -> tuple:
    """``(loss, dW)``: the summed loss and ``Xᵀ·G`` divided by the denominator, rounded once."""
    total, grad = totals
    scale = 1.0 if reduction == "sum" else denominator
    return _finish((total,), denominator, reduction, dtype), np.asarray(
        grad / scale if scale else grad, dtype=dtype
    )


def linear_loss_and_grad(
    X: da.Array,
    W: Any,
    labels: Any,
    loss: str = "crammer_singer",
    *,
    sample_weight: Any = None,
    reduction: str = "mean",
    split_every: int = SPLIT_EVERY,
    compute: bool = True,
    **options: Any,
) -> tuple[Any, Any]:
    """Loss and gradient ``∂loss/∂W`` of a linear model ``S = X·W``, in one pass over ``X``.

    Each row chunk of ``X`` computes ``S = X_chunk·W``, the fused loss and
    gradient ``G`` of the chunk, and ``X_chunkᵀ·G``; the ``Xᵀ·G`` blocks and the
    loss partial sums are added by tree reductions.

    Parameters
    ----------
    X : dask.array.Array of shape (N, D)
        Features, chunked by rows (column chunks are merged).
    W : array_like of shape (D, C) (or (D,) for a binary loss)
        Weights (NumPy; sent once to each worker).
    labels : array_like or dask.array.Array, one entry (or row) per row of ``X``
        Labels (or targets).
    loss : str, default "crammer_singer"
        A fasthinge loss.
    sample_weight : array_like or dask.array.Array of shape (N,), optional
        Per-row weights.
    reduction : {"mean", "sum", "sum_over_batch_size"}, default "mean"
        As in fasthinge (``"none"`` has no meaning for ``∂loss/∂W``).
    split_every : int, default 8
        How many partial results one task of the tree reductions adds.
    compute : bool, default True
        Run the graph (one ``dask.compute``) and return NumPy results; with
        False return the lazy ``(loss, dW)`` as Dask arrays.
    **options
        The loss's other keywords (``margin``, ``p``, ``class_weight``, ...).

    Returns
    -------
    loss : numpy scalar of ``W``'s dtype (0-d Dask array if not ``compute``)
        The reduced loss.
    dW : ndarray of ``W``'s shape and dtype (Dask array if not ``compute``)
        ``Xᵀ·G``, added in float64 and rounded once.

    Examples
    --------
    >>> import dask.array as da, numpy as np, fasthinge as fh
    >>> from fasthinge import dask as fhd
    >>> rng = np.random.default_rng(0)
    >>> X, W = rng.standard_normal((500, 3)), rng.standard_normal((3, 4))
    >>> y = rng.integers(0, 4, 500)
    >>> loss, dW = fhd.linear_loss_and_grad(da.from_array(X, chunks=100), W, y)
    >>> value, G = fh.crammer_singer(X @ W, y)
    >>> bool(np.isclose(loss, value, rtol=1e-14)), bool(np.allclose(dW, X.T @ G, rtol=1e-12))
    (True, True)
    """
    _loss_function(loss)
    if reduction == "none":
        raise ValueError("reduction='none' has no gradient with respect to W; "
                         "use 'mean', 'sum' or 'sum_over_batch_size'")  # fmt: skip
    if not isinstance(X, da.Array) or X.ndim != 2:
        raise TypeError(f"X must be a 2-D dask.array.Array, got {type(X).__name__} "
                        f"of shape {getattr(X, 'shape', None)}")  # fmt: skip
    weights_matrix = np.asarray(W)
    if weights_matrix.ndim not in (1, 2) or weights_matrix.shape[0] != X.shape[1]:
        raise ValueError(f"W must have shape ({X.shape[1]}, C) or ({X.shape[1]},) to match X, "
                         f"got {weights_matrix.shape}")  # fmt: skip
    X = X.rechunk({1: -1})
    dtype = np.result_type(X.dtype, weights_matrix.dtype)
    _, _, y_blocks, w_blocks, denominator = _prepare(
        X, labels, sample_weight, reduction, options, split_every, dtype
    )
    shared_w = dask.delayed(weights_matrix, pure=True)
    x_blocks = X.to_delayed().ravel()
    parts = [dask.delayed(_chunk_linear)(loss, x, shared_w, y, w, options)
             for x, y, w in zip(x_blocks, y_blocks, w_blocks, strict=True)]  # fmt: skip
    result = dask.delayed(_finish_linear, nout=2)(
        _tree(parts, _add, split_every), denominator, reduction, dtype
    )
    value = da.from_delayed(result[0], (), dtype)
    grad = da.from_delayed(result[1], weights_matrix.shape, dtype)
    return dask.compute(value, grad) if compute else (value, grad)


def numba_cache_plugin(root: str | os.PathLike | None = None) -> Any:
    """A ``dask.distributed`` worker plugin giving each worker its own Numba cache directory.

    Numba's on-disk cache can race when several processes compile the same
    kernel at once; with this plugin each worker compiles into (and reuses)
    ``<root>/<worker name>``. Register it before the first task:
    ``client.register_plugin(numba_cache_plugin())``.

    Parameters
    ----------
    root : path, optional
        The parent directory (default: a new temporary directory on each worker).

    Returns
    -------
    distributed.WorkerPlugin

    Examples
    --------
    >>> from fasthinge.dask import numba_cache_plugin
    >>> type(numba_cache_plugin()).__name__
    'NumbaCachePerWorker'
    """
    from distributed.diagnostics.plugin import WorkerPlugin

    class NumbaCachePerWorker(WorkerPlugin):
        """Sets ``NUMBA_CACHE_DIR`` on each worker before any kernel is compiled."""

        name = "fasthinge-numba-cache"

        def setup(self, worker: Any) -> None:
            base = tempfile.mkdtemp(prefix="fasthinge-numba-") if root is None else root
            path = os.path.join(base, str(worker.name).replace(os.sep, "_"))
            os.makedirs(path, exist_ok=True)
            os.environ["NUMBA_CACHE_DIR"] = path
            if "numba" in sys.modules:  # re-read the environment (kernels not yet compiled)
                sys.modules["numba"].config.reload_config()

    return NumbaCachePerWorker()
