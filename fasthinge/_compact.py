"""``Xᵀ·G`` from a compact gradient, for linear models (public API)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _threading
from . import _validation as v
from ._array_api import array_api

#: Feature columns per chunk of ``compact_matmul``.
COLUMN_BLOCK = 256


@array_api
def compact_matmul(
    x: Any, indices: Any, values: Any, n_classes: int, *, n_threads: int | None = None
) -> np.ndarray:
    """``Xᵀ·G`` for a gradient ``G`` given as ``(indices, values)`` (``compact=True``).

    For a linear model ``S = X·W`` (``W`` of shape (D, C)), the gradient of
    the loss with respect to ``W`` is ``Xᵀ·G``. With the compact form of
    ``crammer_singer`` or ``topk_hinge`` this costs ``N·(k+1)·D``
    multiply-adds and never builds ``G``.

    Parameters
    ----------
    x : array_like of shape (N, D), float32 or float64
        The features.
    indices : array_like of shape (N, K), integer
        Column of each stored entry, −1 for an unused slot.
    values : array_like of shape (N, K)
        The stored entries, in ``x``'s dtype.
    n_classes : int
        C, the number of columns of ``G``.
    n_threads : int, optional
        Threads for this call; the result does not depend on it.

    Returns
    -------
    ndarray of shape (D, C)
        ``Xᵀ·G`` (a Fortran-ordered array: the transpose of a C-ordered (C, D)
        buffer).

    Examples
    --------
    >>> import numpy as np, fasthinge as fh
    >>> rng = np.random.default_rng(0)
    >>> X, W = rng.standard_normal((50, 8)), rng.standard_normal((8, 4))
    >>> y = rng.integers(0, 4, 50)
    >>> loss, (idx, val) = fh.crammer_singer(X @ W, y, compact=True)
    >>> dW = fh.compact_matmul(X, idx, val, 4)
    >>> bool(np.allclose(dW, X.T @ fh.crammer_singer(X @ W, y)[1]))
    True
    """
    x_arr = v.as_scores(x, 2, "x")
    n_rows, n_features = x_arr.shape
    idx = v.as_array(indices, "indices")
    if idx.dtype.kind not in "iu" or idx.ndim != 2 or idx.shape[0] != n_rows:
        raise ValueError(f"indices must be integers of shape ({n_rows}, K), got "
                         f"{idx.dtype} {idx.shape}")  # fmt: skip
    idx = np.ascontiguousarray(idx, dtype=np.int64)
    vals = v.as_array(values, "values")
    if vals.shape != idx.shape:
        raise ValueError(f"values must have the shape of indices {idx.shape}, got {vals.shape}")
    vals = np.ascontiguousarray(vals, dtype=x_arr.dtype)
    if idx.size and (idx.min() < -1 or idx.max() >= n_classes):
        raise ValueError(f"indices must be in [-1, {n_classes}), got {idx.min()}..{idx.max()}")
    n_threads = v.check_n_threads(n_threads, _threading.max_threads)
    from ._cpu import compact as kernels

    out_t = np.empty((n_classes, n_features), x_arr.dtype)
    n_chunks = -(-n_features // COLUMN_BLOCK)
    args = (x_arr, idx, vals, out_t, COLUMN_BLOCK, n_chunks)
    _threading.launch(kernels.compact_matmul_serial, kernels.compact_matmul_parallel, args,
                      x_arr.size * idx.shape[1], n_threads)  # fmt: skip
    return out_t.T
