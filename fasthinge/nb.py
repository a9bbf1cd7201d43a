"""Row kernels callable from your own ``@njit`` (and ``@njit(parallel=True)``) code.

Each function handles **one row**: it returns that row's loss and writes the
row's (sub)gradient into ``g`` (a 1-D array of the row's length, in the
scores' dtype), in the same order of operations as the public functions (so
``weston_watkins_row`` is PyTorch's per-row arithmetic). Kink convention
"zero", ties "first", NaN propagates, ``p = 1`` or ``2``. There is no
validation here: labels must lie in ``[0, C)``, ``margin`` and ``scale`` must
have the scores' dtype (e.g. ``np.float32(1.0)`` for float32 scores).

Importing this module imports Numba (``import fasthinge`` does not).

Examples
--------
>>> import numba, numpy as np
>>> from fasthinge import nb
>>> @numba.njit
... def total_loss(S, y, G):
...     acc = 0.0
...     for i in range(S.shape[0]):
...         acc += nb.crammer_singer_row(S[i], y[i], S.dtype.type(1.0), 1, S.dtype.type(1.0), G[i])
...     return acc
>>> S = np.array([[2.0, 1.5, -1.0], [0.0, 3.0, 1.0]])
>>> G = np.empty_like(S)
>>> float(total_loss(S, np.array([0, 1]), G)), G.tolist()
(0.5, [[-1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
"""

from __future__ import annotations

from ._cpu import multiclass as _mc
from ._cpu._jit import row_jit

__all__ = ["crammer_singer_row", "weston_watkins_row"]


@row_jit
def crammer_singer_row(s, y, margin, p, scale, g):
    """Crammer–Singer loss of one row; its gradient times ``scale`` into ``g``.

    Parameters
    ----------
    s : 1-D float array (C,)
        The row's scores.
    y : int
        Its label, in ``[0, C)``.
    margin : float (the scores' dtype)
        The margin ``m``.
    p : int
        1 (hinge) or 2 (squared hinge).
    scale : float (the scores' dtype)
        Multiplies the gradient written to ``g`` (e.g. ``1/N`` for a mean).
    g : 1-D float array (C,)
        Receives the row's gradient.

    Returns
    -------
    float
        ``max(0, m − (s_y − max_{j≠y} s_j))^p`` in the scores' dtype.
    """
    return _mc._cs_row(s, y, margin, p, s.dtype.type(1.0), 0, False, scale, g)


@row_jit
def weston_watkins_row(s, y, margin, p, scale, g):
    """Weston–Watkins sum ``Σ_{j≠y} max(0, m − s_y + s_j)^p`` of one row (no ÷C).

    Parameters
    ----------
    s : 1-D float array (C,)
        The row's scores.
    y : int
        Its label, in ``[0, C)``.
    margin : float (the scores' dtype)
        The margin ``m``.
    p : int
        1 or 2.
    scale : float (the scores' dtype)
        Multiplies the gradient written to ``g`` (PyTorch's mean uses ``1/(N·C)``).
    g : 1-D float array (C,)
        Receives the row's gradient.

    Returns
    -------
    float
        The row's sum in the scores' dtype (divide by C for PyTorch's row loss).
    """
    return _mc._ww_row(s, y, margin, p, s.dtype.type(1.0), margin - margin, False, scale, g)
