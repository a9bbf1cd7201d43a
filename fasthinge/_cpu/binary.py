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

from ._jit import inline_jit, parallel_jit, row_jit, serial_jit
from ._simd import add
from .labels import NO_IGNORE

#: Elements per block: the inner loop runs over one block (L1-resident scratch).
BLOCK = 512
#: ``mode`` values (see ``fasthinge._binary``).
HINGE, SQUARED, SMOOTH, EMBEDDING, MODIFIED_HUBER = 1, 2, 3, 4, 5


@row_jit
def _margin_constants(params, one):
    """``(mode flags, piece constants)`` of ``params`` (``one``: 1 in the dtype), once a block."""
    _, mode, _, gamma, scale = params[:5]
    inv_gamma = one / gamma
    half = one / (one + one)
    pieces = (gamma, gamma * half, inv_gamma, inv_gamma * half, scale)
    return (mode == HINGE, mode == SQUARED, mode == MODIFIED_HUBER), pieces


@row_jit
def _margin_piece(u, sign, x, g0, flags, pieces):
    """``(h, coef)`` of ``u = m − t·x`` on the active side (``u > 0``), before the selects.

    HINGE ``u``, SQUARED ``u²``, SMOOTH ``scale·(u²/(2γ) | u − γ/2)`` for ``u ≤ γ |
    u > γ``, MODIFIED_HUBER its linear piece as scikit-learn writes it (``−4·t·x``).
    Scalars only, so LLVM inlines it into the block loops.
    """
    hinge, squared, huber = flags
    gamma, half_gamma, inv_gamma, half_inv_gamma, scale = pieces
    zero = sign - sign  # (not u − u: u may be inf)
    if hinge:
        return u, g0
    if squared:
        return u * u, (g0 + g0) * u
    beyond = u > gamma
    linear = scale * (zero - sign * x) if huber else scale * (u - half_gamma)
    h = linear if beyond else scale * (u * u * half_inv_gamma)
    return h, scale * (g0 if beyond else g0 * u * inv_gamma)


@inline_jit
def _plain_margin_block(f, t, g, loss, params, acc, signs):
    """``_margin_block`` without sample weights, ignored labels or a hinge kink.

    The general loop's operations without its selects that are no-ops here
    (a kink "zero" puts ``g0 · 0``, the ``+0`` already there), hence the same
    values; the sum is the same ``_block_sum`` (``tests/test_binary_family.py``
    checks the two loops agree bit for bit). Called from the chunk function
    directly (a call fewer per block). One thread, float32, 10⁵ elements, ns an
    element: hinge 1.11 → 0.79, squared 0.95 → 0.75, smooth 1.20 → 1.05,
    modified Huber 1.23 → 1.10 (Xeon). The labels' ±1 first into ``signs`` (a
    block of scratch) and the sum after the loop (AMD EPYC, AVX2, the whole call
    at 10⁵ elements): hinge 1.21 → 1.02, perceptron 1.21 → 1.08, smooth and
    modified Huber 1.63 → 1.16–1.17. Inlined (``inline_jit``) with ``_signs`` and
    ``_block_sum``, the blocks' views need no reference counting: one thread, 10⁵
    and 10⁶ elements, new ÷ old, hinge 0.88–0.90, perceptron and modified Huber 0.94,
    smooth 0.93–0.98 (two threads at 10⁶: hinge 0.90, modified Huber 0.96; at 10⁷,
    bound by memory, 0.99–1.02; ``_embedding_block`` inlined too: 1.00–1.03).
    """
    margin, _, _, _, _, pos, _, g0 = params[:8]
    one = f.dtype.type(1.0)
    flags, pieces = _margin_constants(params, one)
    zero = margin - margin
    signs = signs[: f.shape[0]]
    _signs(t, pos, one, signs)
    for k in range(f.shape[0]):
        sign = signs[k]
        u = margin - sign * f[k]
        active = u > 0
        h, coef = _margin_piece(u, sign, f[k], g0, flags, pieces)
        h = h if active else zero
        coef = coef if active else zero
        h = u if u != u else h  # NaN propagates into the loss and the derivative
        coef = u if u != u else coef
        g[k] = zero - sign * coef
        loss[k] = h
    return _block_sum(loss, acc)


@inline_jit
def _signs(t, pos, one, out):
    """``out[k] = ±1`` (in ``one``'s dtype) as ``t[k]`` is ``pos`` or not.

    A loop of its own: int64 labels in the loss loop made LLVM vectorise it 4
    wide (the widest type); on floats alone it runs 8 wide (AVX2 float32).
    """
    for k in range(t.shape[0]):
        out[k] = one if t[k] == pos else -one


@inline_jit
def _block_sum(loss, acc):
    """``acc + Σ loss`` in float64: every block loop's sum, so all add in one order.

    A loop of its own, after the block's losses are written: the losses'
    order of addition (the vectorised ``add``) no longer depends on what the
    loss loop computes, so the plain and the general loops agree bit for bit
    by construction.
    """
    for k in range(loss.shape[0]):
        acc = add(acc, np.float64(loss[k]))
    return acc


@inline_jit
def _margin_block(f, t, sw, g, loss, params, acc):
    """Binary margin losses of one block: write ``g`` and ``loss``; return ``acc + Σ loss``.

    With ``u = m − t·f``, the pieces of ``_margin_piece`` where ``u > 0``, else 0;
    a kink of the hinge (``u = 0``) takes ``kink_frac`` of the slope.
    Branch-free (selects only), so the loop vectorises. It always writes ``g``
    and ``loss`` (the caller passes scratch when it does not want them), so
    the same loop, hence the same order of additions, serves every call.
    """
    margin, mode, kink_frac, _, _, pos, _, g_const, grad_denom, ignore = params[:10]
    one = f.dtype.type(1.0)
    flags, pieces = _margin_constants(params, one)
    zero = margin - margin
    has_sw = sw.shape[0] > 0
    hinge = mode == HINGE
    for k in range(f.shape[0]):
        label = t[k]
        g0 = f.dtype.type(sw[k] / grad_denom) if has_sw else g_const
        sign = one if label == pos else zero - one
        u = margin - sign * f[k]
        active = u > 0
        h, coef = _margin_piece(u, sign, f[k], g0, flags, pieces)
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
    return _block_sum(loss, acc)


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
    return _block_sum(loss, acc)


@row_jit
def _binary_chunk(c, scores, labels, weights, params, grad, loss_out):
    """Elements of chunk ``c``, block by block; returns the float64 sum of their losses."""
    (sample_weight,) = weights
    chunk = params[-1]
    scratch_g = np.empty(0 if grad.shape[0] else BLOCK, scores.dtype)
    scratch_loss = np.empty(0 if loss_out.shape[0] else BLOCK, scores.dtype)
    mode, kink_frac, ignore = params[1], params[2], params[9]
    # no sample weights, ignored labels or hinge kink: the loop without their selects
    plain = not sample_weight.shape[0] and ignore == NO_IGNORE and (mode != HINGE or kink_frac == 0)
    signs = np.empty(BLOCK if plain else 0, scores.dtype)  # ±1 of a block's labels
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
            acc = _plain_margin_block(scores[b:e], labels[b:e], g, loss, params, acc, signs)
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
