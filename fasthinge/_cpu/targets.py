"""Fused hinges whose targets are (N, C) matrices.

Keras' categorical hinge and PyTorch's ``MultiLabelMarginLoss``.

Drivers have the multiclass signature (see ``multiclass.py``) with ``targets``
(N, C) in place of ``labels`` and ``weights = (sample_weight,)``:

- ``categorical_hinge_*``: ``targets`` in the scores' dtype (one-hot or soft);
  ``params = (margin, kink_frac, split_ties, g_const, grad_denom, rows)``.
- ``multilabel_margin_*``: ``targets`` integer class indices, read up to the
  first −1, validated to lie in ``[−1, C)``;
  ``params = (margin, kink_frac, drop_nan, g_const, grad_denom, rows)``.
"""

from __future__ import annotations

import numba
import numpy as np

from ._jit import parallel_jit, row_jit, serial_jit
from ._rows import scratch_row
from ._simd import maximum


@row_jit
def _categorical_row(s, t, margin, kink_frac, split_ties, g0, g):
    """Keras: ``max(0, max_c((1 − t_c)·s_c) − Σ_c t_c·s_c + m)``; gradient into g."""
    zero = margin - margin
    one = s.dtype.type(1.0)
    pos = zero
    neg = s.dtype.type(-np.inf)
    for c in range(s.shape[0]):
        pos += t[c] * s[c]
        neg = maximum(neg, (one - t[c]) * s[c])
    z = neg - pos + margin
    if z > 0 or z != z:
        scale = g0 if z > 0 else z
    elif z == 0:
        scale = g0 * kink_frac
    else:
        g[:] = zero
        return zero
    first, n_ties = s.shape[0], 0
    for c in range(s.shape[0]):
        hit = (one - t[c]) * s[c] == neg
        first = min(first, c if hit else s.shape[0])
        n_ties += hit
    share = scale / s.dtype.type(n_ties) if split_ties and n_ties > 1 else scale
    for c in range(s.shape[0]):
        wins = (one - t[c]) * s[c] == neg if split_ties else c == first
        g[c] = (share * (one - t[c]) if wins else zero) - scale * t[c]
    return z if z > 0 or z != z else zero


@row_jit
def _categorical_chunk(c, scores, targets, weights, params, grad, loss_out):
    """Rows of chunk ``c``; returns the float64 sum of their losses."""
    margin, kink_frac, split_ties, g_const, grad_denom, rows = params
    (sample_weight,) = weights
    scratch = scratch_row(scores, grad)
    acc = 0.0
    for i in range(c * rows, min(scores.shape[0], (c + 1) * rows)):
        g = grad[i] if grad.shape[0] else scratch
        g0 = scores.dtype.type(sample_weight[i] / grad_denom) if sample_weight.shape[0] else g_const
        loss = _categorical_row(scores[i], targets[i], margin, kink_frac, split_ties, g0, g)
        loss = loss * sample_weight[i] if sample_weight.shape[0] else loss
        if loss_out.shape[0]:
            loss_out[i] = loss
        acc += loss
    return acc


@row_jit
def _multilabel_row(s, t, margin, kink_frac, drop_nan, g0, g, is_target):
    """PyTorch: ``Σ_{k} Σ_{d ∉ T} (m − x[t_k] + x[d])_+ / C``, in PyTorch's order."""
    n_classes = s.shape[0]
    zero = margin - margin
    is_target[:] = False
    n_targets = 0
    while n_targets < n_classes and t[n_targets] >= 0:
        is_target[t[n_targets]] = True
        n_targets += 1
    total = 0.0  # PyTorch sums a row in its accumulate type (double)
    g[:] = zero
    for k in range(n_targets):
        target = t[k]
        base = margin - s[target]
        for d in range(n_classes):
            if is_target[d]:
                continue
            z = base + s[d]
            coef = g0 if z > 0 else (g0 * kink_frac if z == 0 else zero)
            keep_nan = (z != z) & (not drop_nan)  # PyTorch (drop_nan) skips NaN terms
            coef = z if keep_nan else coef
            if z > 0 or keep_nan:
                total += z
            g[target] -= coef
            g[d] += coef
    return s.dtype.type(total) / s.dtype.type(n_classes)


@row_jit
def _multilabel_chunk(c, scores, targets, weights, params, grad, loss_out):
    """Rows of chunk ``c``; returns the float64 sum of their losses."""
    margin, kink_frac, drop_nan, g_const, grad_denom, rows = params
    (sample_weight,) = weights
    scratch = scratch_row(scores, grad)
    is_target = np.empty(scores.shape[1], np.bool_)
    acc = 0.0
    for i in range(c * rows, min(scores.shape[0], (c + 1) * rows)):
        g = grad[i] if grad.shape[0] else scratch
        g0 = scores.dtype.type(sample_weight[i] / grad_denom) if sample_weight.shape[0] else g_const
        loss = _multilabel_row(scores[i], targets[i], margin, kink_frac, drop_nan, g0, g, is_target)
        loss = loss * sample_weight[i] if sample_weight.shape[0] else loss
        if loss_out.shape[0]:
            loss_out[i] = loss
        acc += loss
    return acc


@serial_jit
def categorical_hinge_serial(scores, targets, weights, params, grad, loss_out, partials):
    """Serial driver: the chunks in order (same chunks and sums as the parallel one)."""
    for c in range(partials.shape[0]):
        partials[c] = _categorical_chunk(c, scores, targets, weights, params, grad, loss_out)


@parallel_jit
def categorical_hinge_parallel(scores, targets, weights, params, grad, loss_out, partials):
    """Parallel driver: ``prange`` over the fixed chunks."""
    for c in numba.prange(partials.shape[0]):
        partials[c] = _categorical_chunk(c, scores, targets, weights, params, grad, loss_out)


@serial_jit
def multilabel_margin_serial(scores, targets, weights, params, grad, loss_out, partials):
    """Serial driver: the chunks in order (same chunks and sums as the parallel one)."""
    for c in range(partials.shape[0]):
        partials[c] = _multilabel_chunk(c, scores, targets, weights, params, grad, loss_out)


@parallel_jit
def multilabel_margin_parallel(scores, targets, weights, params, grad, loss_out, partials):
    """Parallel driver: ``prange`` over the fixed chunks."""
    for c in numba.prange(partials.shape[0]):
        partials[c] = _multilabel_chunk(c, scores, targets, weights, params, grad, loss_out)
