"""Fused multiclass hinge kernels: Weston–Watkins and Crammer–Singer.

Two drivers, one serial and one parallel, serve every multiclass loss::

    multiclass_serial(scores, labels, weights, params, grad, loss_out, partials)

- ``scores`` (N, C) float32/float64, C-contiguous; ``labels`` (N,) int32/int64,
  already validated (each in ``[0, C)`` or equal to the ignore sentinel).
- ``weights = (class_weight, sample_weight)``: ``class_weight`` (C,) in the
  scores' dtype (ones when the caller gave none), ``sample_weight`` (N,) or
  empty when the caller gave none.
- ``params``: ``(margin, p, norm, kink_mode, kink_frac, drop_nan, split_ties,
  g_const, grad_denom, ignore, rows_per_chunk, kind)``; floats in the scores'
  dtype except ``grad_denom`` (float64), see ``fasthinge._multiclass``.
- ``grad`` (N, C) written in place, or a (0, 0) array for loss only.
- ``loss_out`` (N,) per-row losses written in place, or empty.
- ``partials`` (n_chunks,) float64: the sum of the row losses of each chunk.

Rows are grouped in fixed chunks of ``rows_per_chunk`` rows that depend only on
the shape, never on the thread count, and each chunk's sum is accumulated
serially in float64: the caller adds ``partials`` in index order, so the
result is bit-identical for any number of threads.
"""

from __future__ import annotations

import numba

from ._jit import parallel_jit, row_jit, serial_jit

KINK_ZERO, KINK_FULL, KINK_HALF = 0, 1, 2
WESTON_WATKINS, CRAMMER_SINGER = 0, 1


@row_jit
def _ww_row(s, y, margin, p, w_y, kink_frac, drop_nan, g0, g, write_grad):
    """Σ_{j≠y} w_y·(m − s_y + s_j)_+^p of one row; its gradient (scaled by g0) into g.

    Follows PyTorch's CPU kernel (LossMultiMargin.cpp) operation by operation,
    in the scores' dtype: ``z = (m − s_y) + s_j``; ``h = z`` or ``z·z``;
    ``h·w_y`` summed in index order; gradient ``g0`` or ``(2·g0)·z`` times
    ``w_y``, and ``−Σ`` of those on the true class.
    """
    zero = margin - margin
    total = zero
    g_y = zero
    base = margin - s[y]
    for j in range(s.shape[0]):
        if j == y:
            continue
        z = base + s[j]
        if z > 0:
            h = z if p == 1 else z * z
            total += h * w_y
            coef = (g0 if p == 1 else (g0 + g0) * z) * w_y
        elif z != z and not drop_nan:  # NaN propagates into loss and gradient
            total += z
            coef = z
        elif z == 0 and p == 1:  # the kink: 0, ½ or the full slope
            coef = g0 * kink_frac * w_y
        else:
            coef = zero
        if write_grad:
            g[j] = coef
            g_y -= coef
    if write_grad:
        g[y] = g_y
    return total


@row_jit
def _best_wrong(s, y):
    """(best wrong score, its first index, number of ties, first NaN index or -1)."""
    best = s[0]
    j_best = -1
    j_nan = -1
    for j in range(s.shape[0]):
        if j == y:
            continue
        v = s[j]
        if v != v:
            if j_nan < 0:
                j_nan = j
        elif j_best < 0 or v > best:
            best = v
            j_best = j
    n_ties = 0
    if j_best >= 0:
        for j in range(s.shape[0]):
            if j != y and s[j] == best:
                n_ties += 1
    return best, j_best, n_ties, j_nan


@row_jit
def _cs_row(s, y, margin, p, w_y, kink_mode, split_ties, g0, g, write_grad):
    """w_y·(m − (s_y − max_{j≠y} s_j))_+^p of one row; gradient (scaled by g0) into g."""
    zero = margin - margin
    if write_grad:
        g[:] = 0
    best, j_best, n_ties, j_nan = _best_wrong(s, y)
    if j_nan >= 0:  # a NaN wrong score: the max is NaN
        z = s[j_nan]
        j_best = j_nan
        n_ties = 1
    elif j_best < 0:  # a single class: nothing can violate
        return zero
    else:
        z = margin - (s[y] - best)
    k = n_ties if split_ties else 1
    if z > 0:
        loss = (z if p == 1 else z * z) * w_y
        coef = (g0 if p == 1 else (g0 + g0) * z) * w_y
    elif z != z:  # NaN propagates into the loss and the gradient
        loss = z
        coef = z
    elif z == 0 and p == 1 and kink_mode != KINK_ZERO:
        loss = zero
        coef = g0 * w_y
        if kink_mode == KINK_HALF:  # jax: y joins the tie set of the max
            coef = coef * s.dtype.type(k) / s.dtype.type(k + 1)
    else:
        return zero
    if write_grad:
        g[y] = zero - coef
        if split_ties and k > 1:
            share = coef / s.dtype.type(k)
            for j in range(s.shape[0]):
                if j != y and s[j] == best:
                    g[j] = share
        else:
            g[j_best] = coef
    return loss


@row_jit
def _row(s, y, params, w_y, g0, g, write_grad):
    """Dispatch one row to the kernel of ``params.kind``; returns its loss."""
    margin, p, norm, kink_mode, kink_frac, drop_nan, split_ties = params[:7]
    kind = params[-1]
    if kind == WESTON_WATKINS:
        total = _ww_row(s, y, margin, p, w_y, kink_frac, drop_nan, g0, g, write_grad)
        return total / norm
    return _cs_row(s, y, margin, p, w_y, kink_mode, split_ties, g0, g, write_grad)


@row_jit
def _chunk(c, scores, labels, weights, params, grad, loss_out):
    """Rows of chunk ``c``; returns the float64 sum of their (weighted) losses."""
    g_const, grad_denom, ignore, rows = params[7:11]
    class_weight, sample_weight = weights
    has_sw = sample_weight.shape[0] > 0
    write_grad = grad.shape[0] > 0
    write_loss = loss_out.shape[0] > 0
    no_grad = grad.reshape(grad.size)[:0]
    lo = c * rows
    hi = min(scores.shape[0], lo + rows)
    acc = 0.0
    for i in range(lo, hi):
        y = labels[i]
        if y == ignore:
            if write_grad:
                grad[i, :] = 0
            if write_loss:
                loss_out[i] = 0
            continue
        g0 = scores.dtype.type(sample_weight[i] / grad_denom) if has_sw else g_const
        g_row = grad[i] if write_grad else no_grad
        row = _row(scores[i], y, params, class_weight[y], g0, g_row, write_grad)
        if has_sw:
            row = row * sample_weight[i]
        if write_loss:
            loss_out[i] = row
        acc += row
    return acc


@serial_jit
def multiclass_serial(scores, labels, weights, params, grad, loss_out, partials):
    """Serial driver: chunks in order (same chunks and sums as the parallel one)."""
    for c in range(partials.shape[0]):
        partials[c] = _chunk(c, scores, labels, weights, params, grad, loss_out)


@parallel_jit
def multiclass_parallel(scores, labels, weights, params, grad, loss_out, partials):
    """Parallel driver: ``prange`` over the fixed chunks."""
    for c in numba.prange(partials.shape[0]):
        partials[c] = _chunk(c, scores, labels, weights, params, grad, loss_out)
