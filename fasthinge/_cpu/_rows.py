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
from ._tiles import CACHE_BYTES, LANES


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


#: The fewest and most classes of the rows whose bands stage their gradient block beyond
#: the cache (built in an L1 scratch, then streamed out whole lines: plain stores read
#: each line before writing it), by loss and itemsize. Time staged ÷ plain, the two
#: builds in one process, two threads, into ``fh.empty_gradient``:
#:
#: - Weston–Watkins, float32: C = 10 1.13–1.19, 16–40 0.93–1.02, (2·10⁵, 48) 0.91–0.95,
#:   (10⁵, 100) 0.75–0.76, (4·10⁴, 256) 0.87, (2·10⁴, 512) 0.86–0.87; float64 C = 10
#:   1.03–1.08, (10⁵, 100) 0.72, (4·10⁴, 256) 0.87–0.89, (2.5·10⁴, 400) 1.00.
#:   One-vs-all, float32: 0.89, 0.82–0.94, 0.80–0.82, 0.85–0.89 at C = 48–512; after its
#:   walk lost the kink's select (eleventh session) also C = 24 0.83–0.91, 32 0.81–0.83, 40
#:   0.74–0.79 (C = 10 0.99–1.02, 12 0.92–1.05, 16 0.92–0.99: not taken); float64 C = 8
#:   0.90–0.92, 12 0.87–0.95.
#: - The categorical hinge (it reads the targets too), float32: C = 48 1.30, 100
#:   1.01–1.03, 128 0.91, 192 0.88, 256 0.84–0.87, 512 0.85–0.89; float64: C = 32 1.52,
#:   64 1.11, 128 0.98, 256 0.91–0.94.
#: - The multilabel margin (two targets a row; its gradient tile is transposed into the
#:   scratch), float32: C = 10 1.03, 16 1.08, 32 0.82, 48 0.80–0.83, 100 0.85–0.87, 192
#:   0.89–0.90, 256 0.94–0.95, 384 0.97, 512 1.03; float64: C = 8 1.02, 10 0.92, 16
#:   0.74–0.75, 48 0.81–0.84, 100 0.89, 256 1.02–1.05. After its pass lost the kink's
#:   compare (eleventh session), float32: C = 10 0.99–1.03, 12 1.02–1.05 (not taken), 16
#:   0.88–0.94, 24 0.86–0.87, 384 0.94–0.95, 512 0.98–1.02 (not taken).
#: - Crammer–Singer (zero rows and two entries) gained nothing while its walk waited on
#:   one chain of compares (tenth session: (2·10⁵, 48) 1.15, (10⁵, 100) 1.00); with two
#:   chains (eleventh), float32: C = 10 1.08, 16 0.96–1.00, 24 0.93–1.09, 32 0.90–0.96, 40
#:   0.87–0.92, 48 0.82, 64 0.71–0.78, 100 0.65–0.67, 128 0.71–0.78, 160 0.99, 192
#:   0.99–1.00, 256 1.01–1.02, 400 0.96, 512 0.97;
#:   float64: C = 16 1.19, 24 1.05, 32 0.91–0.96, 48 0.83–0.90, 64 0.77, 100 0.70, 128 0.71,
#:   256 0.99.
#: - Margin rescaling (Crammer–Singer's walk over ``Δ[y, j] + s_j``; "rescaling": the
#:   drivers' name, margin rescaling's bands only), float32: C = 48 0.98–1.02, 64
#:   0.85–0.96, 80 0.76, 100 0.77, 128 0.76–0.85, 160 0.99, 192 1.01; float64: C = 16
#:   1.01, 32 1.02, 48 0.89–0.94, 64 0.82–0.85, 80 0.74, 100 0.82, 128 0.82, 256 1.01.
STAGED_CLASSES = {
    "weston_watkins": {4: (48, 512), 8: (16, 256)},
    "one_vs_all": {4: (24, 512), 8: (8, 256)},
    "crammer_singer": {4: (32, 128), 8: (32, 128)},
    "rescaling": {4: (64, 128), 8: (48, 128)},
    "categorical_hinge": {4: (128, 512), 8: (128, 256)},
    "multilabel_margin": {4: (16, 384), 8: (10, 128)},
}


def stages_gradient(loss: str, scores: np.ndarray, grad: np.ndarray) -> bool:
    """Whether a call of ``loss``'s bands stages their gradient blocks (``STAGED_CLASSES``).

    With a gradient, beyond the cache, rows of the loss's range of classes; each
    band then checks where its block starts. Plain Python: the caller picks the
    ``*_staged`` drivers with it, so that their code is compiled only for calls
    that take them.
    """
    if grad.size == 0 or 2 * scores.nbytes <= CACHE_BYTES:
        return False
    fewest, most = STAGED_CLASSES[loss][scores.dtype.itemsize]
    return fewest <= scores.shape[-1] <= most
