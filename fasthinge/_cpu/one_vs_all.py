"""Fused one-vs-all hinge: ``Σ_c (m − t_c·s_c)_+^p`` with ``t_c = +1`` for the label, else −1.

Drivers ``one_vs_all_serial`` / ``one_vs_all_parallel`` have the multiclass
signature (see ``multiclass.py``) with ``weights = (sample_weight, per_class)``:
``per_class`` is a float64 (n_chunks, C) array that receives, per chunk, the
weighted column sums of the elementwise losses (torchmetrics' per-class
output), or a (0, 0) array when not wanted.
``params = (margin, p, norm, kink_frac, g_const, grad_denom, ignore, rows)``.
"""

from __future__ import annotations

import numba
import numpy as np

from ._jit import parallel_jit, row_jit, serial_jit
from ._rows import band_buffers, zero_row
from ._simd import store_fence
from ._tiles import TOTAL, ova_rows, ova_staged_rows, tile_rows


@row_jit
def _ova_bands(start, stop, scores, labels, weights, params, grad, loss_out, staging=None):
    """Hinge (p = 1) rows ``start..`` in bands of W; returns (next row, loss sum).

    Row ``r`` of a band is SIMD lane ``r`` (``_tiles.ova_rows``, set-up and
    finish included), each lane adding its row's terms in index order with
    the row code's operations, so the results are the row code's bit for
    bit. In a band with an ignored row, its rows are finished here; at a row
    whose loss is NaN the bands stop, and the row code takes the rest of the
    chunk. ``staging`` given (the staged drivers): the bands stage their
    gradient blocks (``_tiles.ova_staged_rows``), then a fence; Numba prunes
    the branches on it at compile time (see ``multiclass._ww_bands``).
    """
    margin, _, norm, kink_frac, g_const, grad_denom, ignore, _ = params
    sample_weight = weights[0]
    n_classes = scores.shape[1]
    has_sw = sample_weight.shape[0] > 0
    flat, flat_grad, lanes = band_buffers(scores, grad, 5)
    acc = np.zeros(1)
    width = tile_rows(scores)
    i = start
    while i + width <= stop:
        scalars = (i, margin, g_const, grad_denom, ignore, norm, kink_frac)
        offset = i * n_classes  # arguments one by one: as a `*args` tuple, 1.13–1.25x at C = 10
        if staging is not None:
            special = ova_staged_rows(flat, offset, n_classes, lanes, weights, scalars, acc,
                                      loss_out, labels, flat_grad)  # fmt: skip
        else:
            special = ova_rows(flat, offset, n_classes, lanes, weights, scalars, acc, loss_out,
                               labels, flat_grad)  # fmt: skip
        for r in range(width if special else 0):  # the band's rows, in row order
            row = i + r
            if labels[row] == ignore:
                zero_row(row, grad, loss_out)
                continue
            total = lanes[TOTAL, r]
            if total != total:  # NaN: the row code takes it from here
                if staging is not None:
                    store_fence()
                return row, acc[0]
            loss = total / norm
            loss = loss * sample_weight[row] if has_sw else loss
            acc[0] += loss
        i += width
    if staging is not None:
        store_fence()  # the streamed blocks
    return i, acc[0]


@row_jit
def _ova_chunk(c, scores, labels, weights, params, grad, loss_out, staging=None):
    """One-vs-all rows of chunk ``c``; returns the float64 sum of their losses.

    The row loop is written out here (see the note in ``multiclass.py``): per
    element ``u = m − t·s``, ``h = u_+^p``, gradient ``−t·(1 or 2u)``, NaN kept.
    With ``per_class`` non-empty, the weighted ``h`` of each column is added
    to this chunk's row of ``per_class``. Otherwise hinge (p = 1) rows go in
    bands of W rows to ``_ova_bands`` (SIMD across rows, the same results; ``staging``:
    the staged drivers' ``True``, see there).
    """
    margin, p, norm, kink_frac, g_const, grad_denom, ignore, rows = params
    sample_weight, per_class = weights
    columns = per_class[c] if per_class.shape[0] else per_class.reshape(per_class.size)[:0]
    if per_class.shape[0]:
        columns[:] = 0.0
    has_sw = sample_weight.shape[0] > 0
    hinge = p == 1
    zero = margin - margin
    gbuf = grad if grad.shape[0] else np.empty((1, scores.shape[1]), scores.dtype)
    acc = np.float64(0.0)  # a float64 sum when run as Python too (NUMBA_DISABLE_JIT)
    start = c * rows
    stop = min(scores.shape[0], (c + 1) * rows)
    bands = hinge and not columns.shape[0] and scores.shape[1] < 2**31
    if bands and stop - start >= tile_rows(scores):
        start, acc = _ova_bands(start, stop, scores, labels, weights, params, grad, loss_out,
                                staging)  # fmt: skip
    for i in range(start, stop):
        y = labels[i]
        if y == ignore:
            zero_row(i, grad, loss_out)
            continue
        gi = i if grad.shape[0] else 0
        g0 = scores.dtype.type(sample_weight[i] / grad_denom) if has_sw else g_const
        w_col = (sample_weight[i] if has_sw else 1.0) / norm
        total = zero
        for j in range(scores.shape[1]):
            positive = j == y
            u = margin - (scores[i, j] if positive else zero - scores[i, j])
            active = u > 0
            h = (u if hinge else u * u) if active else zero
            coef = (g0 if hinge else (g0 + g0) * u) if active else zero
            coef = g0 * kink_frac if (u == 0) & hinge else coef
            h = u if u != u else h  # NaN propagates into the loss and the gradient
            coef = u if u != u else coef
            total += h
            gbuf[gi, j] = (zero - coef) if positive else coef
            if columns.shape[0]:
                columns[j] += w_col * h
        loss = total / norm
        loss = loss * sample_weight[i] if has_sw else loss
        if loss_out.shape[0]:
            loss_out[i] = loss
        acc += loss
    return acc


@serial_jit
def one_vs_all_serial(scores, labels, weights, params, grad, loss_out, partials):
    """Serial driver: the chunks in order (same chunks and sums as the parallel one)."""
    for c in range(partials.shape[0]):
        partials[c] = _ova_chunk(c, scores, labels, weights, params, grad, loss_out)


@parallel_jit
def one_vs_all_parallel(scores, labels, weights, params, grad, loss_out, partials):
    """Parallel driver: ``prange`` over the fixed chunks."""
    for c in numba.prange(partials.shape[0]):
        partials[c] = _ova_chunk(c, scores, labels, weights, params, grad, loss_out)


@serial_jit
def one_vs_all_staged_serial(scores, labels, weights, params, grad, loss_out, partials):
    """``one_vs_all_serial`` whose bands stage their gradient (``_ova_staged_bands``)."""
    for c in range(partials.shape[0]):
        partials[c] = _ova_chunk(c, scores, labels, weights, params, grad, loss_out, True)


@parallel_jit
def one_vs_all_staged_parallel(scores, labels, weights, params, grad, loss_out, partials):
    """``one_vs_all_parallel`` whose bands stage their gradient (``_ova_staged_bands``)."""
    for c in numba.prange(partials.shape[0]):
        partials[c] = _ova_chunk(c, scores, labels, weights, params, grad, loss_out, True)
