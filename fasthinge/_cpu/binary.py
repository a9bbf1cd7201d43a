"""Fused elementwise kernels: binary margin losses and PyTorch's hinge embedding.

Drivers (serial and parallel, same chunks, same sums)::

    binary_serial(scores, labels, weights, params, grad, loss_out, partials)

- ``scores`` (N,) float32/float64; ``labels`` (N,) of any real dtype, already
  validated: for the margin losses each equals ``pos`` (t = +1), ``neg``
  (t = −1) or ``ignore``.
- ``weights = (sample_weight,)``: (N,) in the scores' dtype, or empty.
- ``params = (margin, mode, kink_frac, gamma, scale, pos, neg, g_const,
  grad_denom, ignore, chunk)``, floats in the scores' dtype except
  ``grad_denom``; ``mode`` picks the loss (HINGE, SQUARED, SMOOTH, EMBEDDING,
  MODIFIED_HUBER).
- ``grad`` (N,) or empty; ``loss_out`` (N,) or empty; ``partials`` float64,
  one per fixed chunk of ``chunk`` elements (see ``multiclass.py``).
"""

from __future__ import annotations

import numba
import numpy as np

from ._jit import parallel_jit, row_jit, serial_jit
from ._simd import add
from .labels import NO_IGNORE

#: Elements per block: the inner loop runs over one block (L1-resident scratch).
BLOCK = 512
#: ``mode`` values (see ``fasthinge._binary``).
HINGE, SQUARED, SMOOTH, EMBEDDING, MODIFIED_HUBER = 1, 2, 3, 4, 5


@row_jit
def _plain_hinge_block(f, t, g, loss, margin, pos, g0, acc):
    """``_margin_block``'s HINGE for the defaults: no sample weights or ignored labels, kink "zero".

    The general loop's operations without its selects that are no-ops here
    (the kink's ``g0 · 0`` is the ``+0`` already there), hence the same values;
    the sum is the same vectorised ``add`` (``tests/test_binary_family.py``
    checks the two loops agree bit for bit). Called from the chunk function
    directly (a call fewer per block): 0.95–1.3 → 0.71–0.75 ns an element (one
    thread, float32, 10⁵ elements).
    """
    zero = margin - margin
    one = f.dtype.type(1.0)
    for k in range(f.shape[0]):
        sign = one if t[k] == pos else zero - one
        u = margin - sign * f[k]
        active = u > 0
        h = u if active else zero
        coef = g0 if active else zero
        h = u if u != u else h  # NaN propagates into the loss and the derivative
        coef = u if u != u else coef
        g[k] = zero - sign * coef
        loss[k] = h
        acc = add(acc, h)
    return acc


@row_jit
def _margin_block(f, t, sw, g, loss, params, acc):
    """Binary margin losses of one block: write ``g`` and ``loss``; return ``acc + Σ loss``.

    With ``u = m − t·f``: ``mode`` HINGE ``u_+``, SQUARED ``u_+²``, SMOOTH
    ``scale·(0 | u²/(2γ) | u − γ/2)`` for ``u ≤ 0 | u ≤ γ | u > γ``, and
    MODIFIED_HUBER, SMOOTH with scale 4, γ 2, m 1, whose linear piece is
    computed as scikit-learn does (``−4·t·f``).
    Branch-free (selects only), so the loop vectorises. It always writes ``g``
    and ``loss`` (the caller passes scratch when it does not want them), so
    the same loop, hence the same order of additions, serves every call.
    """
    margin, mode, kink_frac, gamma, scale, pos, _, g_const, grad_denom, ignore = params[:10]
    zero = margin - margin
    one = f.dtype.type(1.0)
    inv_gamma = one / gamma
    half_inv_gamma = inv_gamma / f.dtype.type(2.0)
    half_gamma = gamma / f.dtype.type(2.0)
    has_sw = sw.shape[0] > 0
    hinge = mode == HINGE
    squared = mode == SQUARED
    huber = mode == MODIFIED_HUBER
    for k in range(f.shape[0]):
        label = t[k]
        g0 = f.dtype.type(sw[k] / grad_denom) if has_sw else g_const
        sign = one if label == pos else zero - one
        u = margin - sign * f[k]
        active = u > 0
        if hinge:
            h = u
            coef = g0
        elif squared:
            h = u * u
            coef = (g0 + g0) * u
        else:
            beyond = u > gamma
            # modified Huber's linear piece as scikit-learn writes it: −4z, z = t·f
            linear = scale * (zero - sign * f[k]) if huber else scale * (u - half_gamma)
            h = linear if beyond else scale * (u * u * half_inv_gamma)
            coef = scale * (g0 if beyond else g0 * u * inv_gamma)
        h = h if active else zero
        coef = coef if active else zero
        coef = g0 * kink_frac if (u == 0) & hinge else coef
        h = u if u != u else h  # NaN propagates into the loss and the derivative
        coef = u if u != u else coef
        h = h * sw[k] if has_sw else h
        kept = label != ignore
        h = h if kept else zero
        g[k] = (zero - sign * coef) if kept else zero
        loss[k] = h
        acc = add(acc, h)
    return acc


@row_jit
def _embedding_block(f, t, sw, g, loss, params, acc):
    """PyTorch ``HingeEmbeddingLoss`` of one block: ``[t ≠ −1]·x + [t ≠ 1]·(m − x)_+``.

    A target of 1 gives ``x``, −1 gives ``(m − x)_+`` and any other value
    both terms (as PyTorch computes it).
    """
    margin, _, kink_frac, _, _, pos, neg, g_const, grad_denom, ignore = params[:10]
    zero = margin - margin
    one = f.dtype.type(1.0)
    has_sw = sw.shape[0] > 0
    for k in range(f.shape[0]):
        label = t[k]
        g0 = f.dtype.type(sw[k] / grad_denom) if has_sw else g_const
        x = f[k]
        u = margin - x
        linear = label != neg
        hinged = label != pos
        slope = one if u > 0 else (kink_frac if u == 0 else zero)
        h = (x if linear else zero) + ((u if u > 0 else zero) if hinged else zero)
        coef = (g0 if linear else zero) - (g0 * slope if hinged else zero)
        h = x if x != x else h  # NaN propagates into the loss and the derivative
        coef = x if x != x else coef
        h = h * sw[k] if has_sw else h
        kept = label != ignore
        h = h if kept else zero
        g[k] = coef if kept else zero
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
    margin, mode, kink_frac, _, _, pos, _, g_const, _, ignore = params[:10]
    plain = mode == HINGE and not sample_weight.shape[0] and kink_frac == 0 and ignore == NO_IGNORE
    lo = c * chunk
    hi = min(scores.shape[0], lo + chunk)
    acc = np.float64(0.0)  # a float64 sum when run as Python too (NUMBA_DISABLE_JIT)
    for b in range(lo, hi, BLOCK):
        e = min(hi, b + BLOCK)
        g = grad[b:e] if grad.shape[0] else scratch_g[: e - b]
        loss = loss_out[b:e] if loss_out.shape[0] else scratch_loss[: e - b]
        sw = sample_weight[b:e] if sample_weight.shape[0] else sample_weight
        if params[1] == EMBEDDING:
            acc = _embedding_block(scores[b:e], labels[b:e], sw, g, loss, params, acc)
        elif plain:
            acc = _plain_hinge_block(scores[b:e], labels[b:e], g, loss, margin, pos, g_const, acc)
        else:
            acc = _margin_block(scores[b:e], labels[b:e], sw, g, loss, params, acc)
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
