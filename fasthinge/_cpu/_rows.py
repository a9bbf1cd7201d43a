"""Rare-path helpers shared by the row-wise (multiclass) chunk functions.

Per-row code that runs on every row is written out inside the chunk functions
(see the note in ``multiclass.py``): these helpers take arrays, so they are
only called on rare paths (an ignored row) or once per long row.
"""

from __future__ import annotations

import numpy as np

from ._jit import row_jit


@row_jit
def scratch_row(scores, grad):
    """A scratch gradient row when ``grad`` is a placeholder (loss only, compact), else empty."""
    return np.empty(0 if grad.shape[0] else scores.shape[1], scores.dtype)


@row_jit
def zero_row(i, grad, loss_out):
    """Zero the outputs of an ignored row ``i``."""
    if grad.shape[0]:
        grad[i, :] = 0
    if loss_out.shape[0]:
        loss_out[i] = 0


@row_jit
def compress_row(g, i, indices, values):
    """Store row ``i``'s non-zero gradient entries, in index order, in ``indices[i]``/``values[i]``.

    Unused slots get index −1 and value 0; ``indices`` (0, 0) means no compact output.
    """
    if indices.shape[0] == 0:
        return
    width = indices.shape[1]
    k = 0
    for j in range(g.shape[0]):
        if g[j] != 0 and k < width:
            indices[i, k] = j
            values[i, k] = g[j]
            k += 1
    for r in range(k, width):
        indices[i, r] = -1
        values[i, r] = 0
