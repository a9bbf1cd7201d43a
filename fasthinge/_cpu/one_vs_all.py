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

from ._jit import parallel_jit, row_jit, serial_jit
from ._rows import row_scale, scratch_row, store_loss, zero_row


@row_jit
def _ova_row(s, y, margin, p, kink_frac, g0, g, columns, w_i):
    """Σ_c (m − t_c s_c)_+^p of one row, gradient (scaled by g0) into g.

    With ``columns`` non-empty, also adds ``w_i·h_c`` to ``columns[c]``.
    """
    zero = margin - margin
    hinge = p == 1
    per_class = columns.shape[0] > 0
    total = zero
    for j in range(s.shape[0]):
        positive = j == y
        u = margin - (s[j] if positive else zero - s[j])
        active = u > 0
        h = (u if hinge else u * u) if active else zero
        coef = (g0 if hinge else (g0 + g0) * u) if active else zero
        coef = g0 * kink_frac if (u == 0) & hinge else coef
        h = u if u != u else h  # NaN propagates into the loss and the gradient
        coef = u if u != u else coef
        total += h
        g[j] = (zero - coef) if positive else coef
        if per_class:
            columns[j] += w_i * h
    return total


@row_jit
def _ova_chunk(c, scores, labels, weights, params, grad, loss_out):
    """One-vs-all rows of chunk ``c``; returns the float64 sum of their losses."""
    margin, p, norm, kink_frac, g_const, grad_denom, ignore, rows = params
    sample_weight, per_class = weights
    columns = per_class[c] if per_class.shape[0] else per_class.reshape(per_class.size)[:0]
    if per_class.shape[0]:
        columns[:] = 0.0
    scratch = scratch_row(scores, grad)
    acc = 0.0
    for i in range(c * rows, min(scores.shape[0], (c + 1) * rows)):
        y = labels[i]
        if y == ignore:
            zero_row(i, grad, loss_out)
            continue
        g = grad[i] if grad.shape[0] else scratch
        g0 = row_scale(sample_weight, i, grad_denom, g_const)
        w_i = sample_weight[i] / norm if sample_weight.shape[0] else 1.0 / norm
        loss = _ova_row(scores[i], y, margin, p, kink_frac, g0, g, columns, w_i) / norm
        acc += store_loss(loss, sample_weight, i, loss_out)
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
