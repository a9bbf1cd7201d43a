"""Bookkeeping shared by the row-wise (multiclass) chunk functions.

Each chunk function loops over its rows and, per row: skips an ignored label
(``zero_row``), picks where the gradient row goes (``grad[i]`` or, for loss
only, a scratch row from ``scratch_row``: rows always write a gradient, so one
loop body, one order of operations, serves both), scales it
(``row_scale``), and stores the weighted loss (``store_loss``).

These helpers are small on purpose: LLVM inlines them. A helper taking arrays
that LLVM does not inline costs reference counting on every row (measured 2x
at C = 10); ``zero_row`` is the exception, on the rare path.
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
def row_scale(sample_weight, i, grad_denom, g_const):
    """The gradient scale of row ``i``: ``w_i / grad_denom`` in the dtype, or ``g_const``."""
    if sample_weight.shape[0]:
        return sample_weight.dtype.type(sample_weight[i] / grad_denom)
    return g_const


@row_jit
def store_loss(loss, sample_weight, i, loss_out):
    """Weight row ``i``'s loss, store it in ``loss_out`` (for "none") and return it."""
    if sample_weight.shape[0]:
        loss = loss * sample_weight[i]
    if loss_out.shape[0]:
        loss_out[i] = loss
    return loss


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
