"""``Xᵀ·G`` for a gradient ``G`` stored compactly (per row: a few indices and values).

``out_t`` is (C, D): each chunk owns a block of feature columns, so threads
never write the same element, and every element is accumulated over the rows
in index order (deterministic for any thread count).
"""

from __future__ import annotations

import numba

from ._jit import parallel_jit, row_jit, serial_jit


@row_jit
def _columns_chunk(c, x, indices, values, out_t, width):
    """``out_t[:, block c] = Σ_i Σ_k values[i, k]·x[i, block c]`` into row ``indices[i, k]``."""
    lo = c * width
    hi = min(x.shape[1], lo + width)
    out_t[:, lo:hi] = 0
    for i in range(x.shape[0]):
        for k in range(indices.shape[1]):
            j = indices[i, k]
            if j < 0:
                continue
            v = values[i, k]
            for d in range(lo, hi):
                out_t[j, d] += v * x[i, d]


@serial_jit
def compact_matmul_serial(x, indices, values, out_t, width, n_chunks):
    """Serial driver."""
    for c in range(n_chunks):
        _columns_chunk(c, x, indices, values, out_t, width)


@parallel_jit
def compact_matmul_parallel(x, indices, values, out_t, width, n_chunks):
    """Parallel driver: ``prange`` over blocks of feature columns."""
    for c in numba.prange(n_chunks):
        _columns_chunk(c, x, indices, values, out_t, width)
