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
import numpy as np

from ._jit import parallel_jit, row_jit, serial_jit
from ._simd import add

#: Elements per block: the inner loop runs over one block (L1-resident scratch).
BLOCK = 512


@row_jit
def _binary_block(f, t, sw, g, loss, params, acc):
    """Write the derivative ``g`` and losses ``loss`` of one block; return ``acc + Σ loss``.

    Branch-free (selects only), so the loop vectorises. It always writes ``g``
    and ``loss`` (the caller passes scratch when it does not want them), so
    the same loop, hence the same order of additions, serves every call.
    """
    margin, p, kink_frac, pos, g_const, grad_denom, ignore = params[:7]
    zero = margin - margin
    one = f.dtype.type(1.0)
    has_sw = sw.shape[0] > 0
    for k in range(f.shape[0]):
        label = t[k]
        g0 = f.dtype.type(sw[k] / grad_denom) if has_sw else g_const
        sign = one if label == pos else zero - one
        z = margin - sign * f[k]
        active = z > 0
        h = (z if p == 1 else z * z) if active else zero
        coef = (g0 if p == 1 else (g0 + g0) * z) if active else zero
        coef = g0 * kink_frac if (z == 0) & (p == 1) else coef
        h = z if z != z else h  # NaN propagates into the loss and the derivative
        coef = z if z != z else coef
        h = h * sw[k] if has_sw else h
        kept = label != ignore
        h = h if kept else zero
        g[k] = (zero - sign * coef) if kept else zero
        loss[k] = h
        acc = add(acc, h)
    return acc


@row_jit
def _binary_chunk(c, scores, labels, weights, params, grad, loss_out):
    """Elements of chunk ``c``, block by block; returns the float64 sum of their losses."""
    (sample_weight,) = weights
    chunk = params[-1]
    scratch_g = np.empty(0 if grad.shape[0] else BLOCK, scores.dtype)
    scratch_loss = np.empty(0 if loss_out.shape[0] else BLOCK, scores.dtype)
    lo = c * chunk
    hi = min(scores.shape[0], lo + chunk)
    acc = 0.0
    for b in range(lo, hi, BLOCK):
        e = min(hi, b + BLOCK)
        g = grad[b:e] if grad.shape[0] else scratch_g[: e - b]
        loss = loss_out[b:e] if loss_out.shape[0] else scratch_loss[: e - b]
        sw = sample_weight[b:e] if sample_weight.shape[0] else sample_weight
        acc = _binary_block(scores[b:e], labels[b:e], sw, g, loss, params, acc)
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
