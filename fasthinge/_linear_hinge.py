"""Fused linear layer + multiclass hinge: loss and gradients without the (N, C) score matrix."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from . import _execution as ex
from . import _family, _multiclass
from . import _validation as v

#: The multiclass losses ``linear_hinge`` accepts (each takes scores (N, C) and labels (N,)).
LOSSES = {
    "crammer_singer": _multiclass.crammer_singer,
    "weston_watkins": _multiclass.weston_watkins,
    "one_vs_all": _family.one_vs_all,
    "structured_hinge": _family.structured_hinge,
    "topk_hinge": _family.topk_hinge,
}
_REDUCTIONS = ("mean", "sum", "sum_over_batch_size")
#: Default chunk: about this many scores (2 buffers of chunk × C).
CHUNK_SCORES = 1 << 20


def _as_matrix(a: Any, name: str, ndim: int, dtype: np.dtype | None = None) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must be float32 or float64, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if dtype is not None and arr.dtype != dtype:
        raise TypeError(f"{name} has dtype {arr.dtype} but X has dtype {dtype}; use one dtype")
    return arr


def _chunk_rows(chunk_rows: Any, n_rows: int, n_classes: int) -> int:
    if chunk_rows is None:
        return max(1, min(max(n_rows, 1), max(64, CHUNK_SCORES // max(1, n_classes))))
    try:
        rows = operator.index(chunk_rows)
    except TypeError:
        raise TypeError(f"chunk_rows must be an int or None, got {chunk_rows!r}") from None
    if rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {rows}")
    return rows


def linear_hinge(
    X: Any,
    W: Any,
    labels: Any,
    *,
    b: Any = None,
    loss: str = "crammer_singer",
    sample_weight: Any = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    chunk_rows: int | None = None,
    return_dX: bool = False,
    n_threads: int | None = None,
    **loss_kwargs: Any,
) -> tuple:
    """Loss of the linear model ``X·W + b`` and its gradients, one row chunk at a time.

    Computes what ``S = X @ W + b; loss, G = fh.<loss>(S, labels, ...)`` and
    ``dW = X.T @ G`` compute, without the (N, C) score matrix: each chunk of
    ``chunk_rows`` rows gets its scores from BLAS into one preallocated
    (chunk, C) buffer, the fused hinge kernel writes that chunk's gradient
    into a second buffer, and ``X_chunkᵀ·G_chunk`` is added to ``dW``. Peak
    extra memory is two (chunk, C) buffers and one (D, C) buffer, instead of
    two (N, C) matrices (the idea of Liger-Kernel's fused linear
    cross-entropy, for hinge losses).

    Parameters
    ----------
    X : array_like of shape (N, D), float32 or float64
        Inputs.
    W : array_like of shape (D, C), same dtype as X
        Weights.
    labels : array_like of shape (N,), integer
        True class of each row, in ``[0, C)`` (or ``ignore_index``).
    b : array_like of shape (C,), optional
        Intercepts; when given, ``db`` is returned too.
    loss : {"crammer_singer", "weston_watkins", "one_vs_all", "structured_hinge", \
"topk_hinge"}, default "crammer_singer"
        The fasthinge loss applied to the scores.
    sample_weight : array_like of shape (N,), optional
        Weight of each row.
    reduction : {"mean", "sum", "sum_over_batch_size"}, default "mean"
        As in the loss functions: ``"mean"`` divides by the (weighted) number
        of kept rows of the whole batch, once, after the chunks are added.
    ignore_index : int, optional
        Rows with this label contribute nothing.
    chunk_rows : int, optional
        Rows per chunk. Default: about 2²⁰ / C rows (at least 64).
    return_dX : bool, default False
        Also return the gradient with respect to X, shape (N, D).
    n_threads : int, optional
        Threads of the hinge kernel. BLAS keeps its own setting (limit it with
        ``threadpoolctl.threadpool_limits`` or ``OPENBLAS_NUM_THREADS``): on a
        busy machine, Numba's and BLAS's thread pools waiting for each other's
        cores can cost more than they gain, and one thread for both can be the
        fastest choice.
    **loss_kwargs
        Passed to the loss: ``margin``, ``p``, ``class_weight``, ``kink``,
        ``ties``, ``normalize``, ``cost`` (structured_hinge), ``k`` (topk_hinge), ...

    Returns
    -------
    loss : float32 or float64 scalar
        The reduced loss, in X's dtype.
    dW : ndarray of shape (D, C)
        Gradient with respect to W.
    db : ndarray of shape (C,)
        Gradient with respect to b (only when ``b`` is given).
    dX : ndarray of shape (N, D)
        Gradient with respect to X (only with ``return_dX=True``).

    Notes
    -----
    Each chunk is reduced with ``reduction="sum"`` and the chunks are added
    in order (loss in float64), so the result depends only on the inputs and
    ``chunk_rows``, never on the thread count; it equals the naive path to
    rounding.

    Examples
    --------
    >>> import numpy as np, fasthinge as fh
    >>> rng = np.random.default_rng(0)
    >>> X, W = rng.standard_normal((1000, 5)), rng.standard_normal((5, 3))
    >>> y = rng.integers(0, 3, 1000)
    >>> loss, dW = fh.linear_hinge(X, W, y, chunk_rows=128)
    >>> ref_loss, G = fh.crammer_singer(X @ W, y)
    >>> bool(np.isclose(loss, ref_loss)), bool(np.allclose(dW, X.T @ G))
    (True, True)
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
    v.check_choice(reduction, "reduction", _REDUCTIONS)
    return_dX = v.check_flag(return_dX, "return_dX")
    for key in ("scores", "labels", "reduction", "sample_weight", "out", "return_grad"):
        if key in loss_kwargs:
            raise TypeError(f"linear_hinge() got an unexpected keyword argument {key!r}")
    if loss_kwargs.get("compact"):
        raise ValueError("compact=True is not supported by linear_hinge")
    X = _as_matrix(X, "X", 2)
    W = _as_matrix(W, "W", 2, X.dtype)
    n_rows, n_features = X.shape
    if W.shape[0] != n_features:
        raise ValueError(f"W must have shape ({n_features}, C) to match X, got {W.shape}")
    n_classes = W.shape[1]
    if b is not None:
        b = _as_matrix(b, "b", 1, X.dtype)
        if b.shape[0] != n_classes:
            raise ValueError(f"b must have shape ({n_classes},), got {b.shape}")
    y = np.asarray(labels)
    if y.shape != (n_rows,):
        raise ValueError(f"labels must have shape ({n_rows},), got {y.shape}")
    sw = None
    if sample_weight is not None:
        sw = v.as_weight(sample_weight, "sample_weight", n_rows, X.dtype)
    rows = _chunk_rows(chunk_rows, n_rows, n_classes)
    func = LOSSES[loss]
    ignore = v.check_ignore_index(ignore_index)
    denom = ex.denominator(y, ignore, ex.empty(X.dtype) if sw is None else sw, reduction)

    dtype = X.dtype
    buf_rows = min(rows, max(n_rows, 1))
    S = np.empty((buf_rows, n_classes), dtype)  # scores of one chunk
    G = np.empty((buf_rows, n_classes), dtype)  # their gradient
    part = np.empty((n_features, n_classes), dtype)  # X_chunkᵀ·G_chunk
    dW = np.zeros((n_features, n_classes), dtype)
    db = np.zeros(n_classes, np.float64) if b is not None else None
    dX = np.empty((n_rows, n_features), dtype) if return_dX else None
    total = 0.0
    for start in range(0, n_rows, rows):
        stop = min(start + rows, n_rows)
        Xc, S_c, G_c = X[start:stop], S[: stop - start], G[: stop - start]
        np.matmul(Xc, W, out=S_c)
        if b is not None:
            S_c += b
        chunk_loss, _ = func(
            S_c, y[start:stop], sample_weight=None if sw is None else sw[start:stop],
            reduction="sum", ignore_index=ignore_index, out=G_c, n_threads=n_threads,
            **loss_kwargs,
        )  # fmt: skip
        total += float(chunk_loss)
        np.matmul(Xc.T, G_c, out=part)
        dW += part
        if db is not None:
            db += G_c.sum(axis=0, dtype=np.float64)
        if dX is not None:
            np.matmul(G_c, W.T, out=dX[start:stop])
    loss_value = dtype.type(total / denom if denom else np.nan)
    scale = 1.0 / denom if denom else 1.0  # every row ignored: the gradients are 0
    if scale != 1.0:
        dW *= dtype.type(scale)
        if dX is not None:
            dX *= dtype.type(scale)
    result: tuple = (loss_value, dW)
    if db is not None:
        result += ((db * scale).astype(dtype),)
    if dX is not None:
        result += (dX,)
    return result
