"""Fused binary hinge kernel: ``(m − t·f)_+^p`` and its derivative in one pass.

Drivers (serial and parallel, same chunks, same sums)::

    binary_serial(scores, labels, weights, params, grad, loss_out, partials)

- ``scores`` (N,) float32/float64; ``labels`` (N,) of any real dtype, already
  validated: each equals ``pos`` (t = +1), ``neg`` (t = −1) or ``ignore``.
- ``weights = (sample_weight,)``: (N,) in the scores' dtype, or empty.
- ``params = (margin, p, kink_frac, pos, g_const, grad_denom, ignore, chunk)``.
- ``grad`` (N,) or empty; ``loss_out`` (N,) or empty; ``partials`` float64,
  one per fixed chunk of ``chunk`` elements (see ``multiclass.py``).
"""

from __future__ import annotations

import numba

from ._jit import parallel_jit, row_jit, serial_jit


@row_jit
def _binary_chunk(c, scores, labels, weights, params, grad, loss_out):
    """Elements of chunk ``c``; returns the float64 sum of their losses."""
    margin, p, kink_frac, pos, g_const, grad_denom, ignore, chunk = params
    (sample_weight,) = weights
    zero = margin - margin
    has_sw = sample_weight.shape[0] > 0
    write_grad = grad.shape[0] > 0
    write_loss = loss_out.shape[0] > 0
    lo = c * chunk
    hi = min(scores.shape[0], lo + chunk)
    acc = 0.0
    for i in range(lo, hi):
        label = labels[i]
        if label == ignore:
            if write_grad:
                grad[i] = 0
            if write_loss:
                loss_out[i] = 0
            continue
        g0 = scores.dtype.type(sample_weight[i] / grad_denom) if has_sw else g_const
        positive = label == pos
        z = margin - (scores[i] if positive else -scores[i])
        if z > 0:
            loss = z if p == 1 else z * z
            coef = g0 if p == 1 else (g0 + g0) * z
        elif z != z:  # NaN propagates into the loss and the derivative
            loss = z
            coef = z
        elif z == 0 and p == 1:
            loss = zero
            coef = g0 * kink_frac
        else:
            loss = zero
            coef = zero
        if write_grad:
            grad[i] = zero - coef if positive else coef
        if has_sw:
            loss = loss * sample_weight[i]
        if write_loss:
            loss_out[i] = loss
        acc += loss
    return acc


@serial_jit
def binary_serial(scores, labels, weights, params, grad, loss_out, partials):
    """Serial driver: chunks in order (same chunks and sums as the parallel one)."""
    for c in range(partials.shape[0]):
        partials[c] = _binary_chunk(c, scores, labels, weights, params, grad, loss_out)


@parallel_jit
def binary_parallel(scores, labels, weights, params, grad, loss_out, partials):
    """Parallel driver: ``prange`` over the fixed chunks."""
    for c in numba.prange(partials.shape[0]):
        partials[c] = _binary_chunk(c, scores, labels, weights, params, grad, loss_out)
