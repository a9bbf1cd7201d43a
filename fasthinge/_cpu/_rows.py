"""Rare-path helpers shared by the row-wise (multiclass) chunk functions.

Per-row code that runs on every row is written out inside the chunk functions
(see the note in ``multiclass.py``): these helpers take arrays, so they are
only called on rare paths (an ignored row) or once per long row, or take
``borrowed`` arrays.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.core import cgutils, types
from numba.extending import intrinsic

from ._jit import row_jit
from ._tiles import CACHE_BYTES, LANES, STAGE_MAX_ROW_BYTES, STAGE_MIN_CLASSES


@intrinsic
def _borrowed(typingctx, array):  # pragma: no cover (compile-time code)
    """``array`` with no reference count to keep: the same data, shape and type, a NULL meminfo.

    A call that takes an array makes Numba increment its reference count on entry and
    decrement it on exit, with atomic instructions, unless its pruning pass removes
    them, which it does not in large helpers (top-k's rows: five arrays a call, a
    row a call). Numba skips both for a NULL meminfo: (2·10⁴, 100) top-k k = 5, one
    thread, 0.94× over three process pairs (the atomics' profile share 18 % → 2 %);
    (2000, 10³) unchanged. Pass a borrowed array only to calls that neither keep nor
    return it, while the caller holds the original.
    """
    if not isinstance(array, types.Array):
        return None

    def codegen(context, builder, signature, args):
        view = context.make_array(array)(context, builder, value=args[0])
        view.meminfo = cgutils.get_null_value(view.meminfo.type)
        return view._getvalue()

    return array(array), codegen


def _borrowed_python(array):
    """``borrowed`` as plain Python: the array itself."""
    return array


borrowed = _borrowed_python if numba.config.DISABLE_JIT else _borrowed


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


def stages_gradient(scores: np.ndarray, grad: np.ndarray, fewest: int = 0) -> bool:
    """Whether a call's bands stage their gradient blocks (``_tiles._Band.stage``).

    With a gradient, beyond the cache, rows of ``STAGE_MIN_CLASSES`` (and at least
    ``fewest``) classes up to ``STAGE_MAX_ROW_BYTES``; each band then checks where
    its block starts. Plain Python: the caller picks the ``*_staged`` drivers with
    it, so that their code is compiled only for calls that take them.
    """
    if grad.size == 0 or 2 * scores.nbytes <= CACHE_BYTES:
        return False
    n_classes, itemsize = scores.shape[-1], scores.dtype.itemsize
    shortest = max(STAGE_MIN_CLASSES[itemsize], fewest)
    return shortest <= n_classes and n_classes * itemsize <= STAGE_MAX_ROW_BYTES
