"""Rare-path helpers shared by the row-wise (multiclass) chunk functions.

Per-row code that runs on every row is written out inside the chunk functions
(see the note in ``multiclass.py``): these helpers take arrays, so they are
only called on rare paths (an ignored row) or once per long row.
"""

from __future__ import annotations

import numpy as np

from ._jit import row_jit
from ._tiles import LANES


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


@row_jit
def band_buffers(scores, grad, n_state):
    """What a walk in bands needs: flat views of ``scores`` and ``grad``, and the lane state.

    The state is ``(n_state, LANES)`` in the scores' dtype (``_tiles``: for
    Weston–Watkins and one-vs-all the five rows ``BASE`` … ``G_Y``, of which
    the caller reads ``TOTAL`` and ``G_Y``; for the max-type losses the
    running max).
    """
    lanes = np.empty((n_state, LANES), scores.dtype)
    return scores.reshape(scores.size), grad.reshape(grad.size), lanes
