"""Max-type multiclass hinges beyond Crammer–Singer: cost matrices and top-k.

- Margin rescaling (structured SVM): ``ℓ = max(0, max_{j≠y} (Δ[y, j] + s_j) − s_y)``.
- Slack rescaling: ``ℓ = max_{j≠y} Δ[y, j]·(m + s_j − s_y)_+``.
- Top-k SVM (Lapin, Hein & Schiele): with ``h_j = m + s_j − s_y`` over the
  wrong classes only and ``T`` the k largest, α: ``max(0, (1/k) Σ_T h_j)``,
  β: ``(1/k) Σ_T max(0, h_j)``.

Drivers have the multiclass signature (see ``multiclass.py``) with
``weights = (class_weight, sample_weight, cost, indices, values)`` (``cost``
(C, C) or empty; ``indices``/``values`` (N, k + 1) for a compact gradient,
see ``_rows.compress_row``, or (0, 0))
and ``params = (margin, kind, k, kink_mode, kink_frac, split_ties, g_const,
grad_denom, ignore, rows)``.
"""

from __future__ import annotations

import numba
import numpy as np

from ._jit import parallel_jit, row_jit, serial_jit
from ._rows import band_buffers, compress_row, zero_row
from ._simd import maximum
from ._tiles import LANES, structured_rows, tile_rows

MARGIN_RESCALING, SLACK_RESCALING, TOPK_ALPHA, TOPK_BETA = 0, 1, 2, 3
KINK_ZERO, KINK_HALF = 0, 2


@row_jit
def _rescaling_row(kind, s, y, margin, cost_row, w_y, kink_mode, split_ties, g0, g, vals):
    """Margin or slack rescaling of one row; gradient (scaled by g0) into g.

    ``vals`` (a scratch row) receives the quantity maximised over ``j ≠ y``:
    ``Δ[y, j] + s_j`` (margin) or ``Δ[y, j]·(m + s_j − s_y)_+`` (slack, NaN kept).
    """
    n_classes = s.shape[0]
    zero = margin - margin
    neg_inf = s.dtype.type(-np.inf)
    best = neg_inf
    slack = kind == SLACK_RESCALING
    for j in range(n_classes):
        u = margin + s[j] - s[y]
        v = cost_row[j] * (u if u > 0 or u != u else zero) if slack else cost_row[j] + s[j]
        vals[j] = v
        best = maximum(best, v if j != y else neg_inf)
    z = best - s[y] if kind == MARGIN_RESCALING else best
    g[:] = zero
    if n_classes == 1 or not (z >= 0 or z != z):
        return zero
    # the argmax set J (j ≠ y) and, at z == 0, whether a hinge sits on its kink
    j_first, n_ties = n_classes, 0
    for j in range(n_classes):
        hit = j != y and vals[j] == best
        if hit:
            j_first = min(j_first, j)
            n_ties += 1
    if z != z:  # NaN: the loss, and the gradient of y and of the first NaN entry
        g[y] = z
        for j in range(n_classes):
            v = vals[j]
            if j != y and (v != v or j == j_first):
                g[j] = z
                break
        return z
    k = n_ties if split_ties else 1
    j_kink = j_first
    if z == 0:  # the kink: a hinge exactly at 0 (margin: y ties with the best wrong class)
        if kind == SLACK_RESCALING:
            j_kink, k = n_classes, 1
            for j in range(n_classes):
                if j != y and cost_row[j] != 0 and margin + s[j] - s[y] == 0:
                    j_kink = min(j_kink, j)
        if kink_mode == KINK_ZERO or j_kink == n_classes:
            return zero
    frac = s.dtype.type(1.0) / s.dtype.type(k)  # each winner's share
    if z == 0 and kink_mode == KINK_HALF:  # jax: y joins the tie set of the max
        frac = s.dtype.type(1.0) / s.dtype.type(k + 1)
    split = split_ties and not (z == 0 and kind == SLACK_RESCALING)
    g_y = zero
    for j in range(n_classes):
        if j == y:
            continue
        tied = vals[j] == best
        if j == j_kink or (split and tied):
            slope = cost_row[j] if kind == SLACK_RESCALING else s.dtype.type(1.0)
            coef = g0 * w_y * slope * frac
            g[j] = coef
            g_y -= coef
    g[y] = g_y
    return z * w_y


@row_jit
def _kth_largest_wrong(scores, i, y, k, top):
    """The k-th largest of ``s_j`` over ``j ≠ y`` in row ``i`` (``top``: a scratch of k values)."""
    filled = 0
    for j in range(scores.shape[1]):
        if j == y:
            continue
        v = scores[i, j]
        if filled < k:
            pos = filled
            filled += 1
        elif v > top[k - 1]:
            pos = k - 1
        else:
            continue
        while pos > 0 and top[pos - 1] < v:  # insertion into the descending buffer
            top[pos] = top[pos - 1]
            pos -= 1
        top[pos] = v
    return top[k - 1]


@row_jit
def _topk_row(kind, scores, i, y, margin, k, kink_frac, split_ties, g0, w_y, g, gi, top):
    """Top-k SVM α or β of row ``i``; gradient (scaled by g0) into ``g[gi]``.

    Rows are taken by index, not as slices: a slice is a new array, with
    reference counting on every row (see the note in ``multiclass.py``).
    """
    n_classes = scores.shape[1]
    dtype = scores.dtype.type
    zero = margin - margin
    nan_seen = False
    for j in range(n_classes):
        nan_seen |= scores[i, j] != scores[i, j]
    if nan_seen:  # NaN anywhere in the row: NaN loss and gradient row
        for j in range(n_classes):
            g[gi, j] = np.nan
        return dtype(np.nan)
    tau = _kth_largest_wrong(scores, i, y, k, top)
    n_above, n_tied = 0, 0
    for j in range(n_classes):
        n_above += (j != y) & (scores[i, j] > tau)
        n_tied += (j != y) & (scores[i, j] == tau)
    slots = k - n_above  # how many of the tied entries belong to the top k
    inv_k = dtype(1.0) / dtype(k)
    base = margin - scores[i, y]
    total = zero
    for j in range(n_classes):  # the top-k sum (or the sum of its hinges; NaN kept)
        if j != y and scores[i, j] > tau:
            h = base + scores[i, j]
            total += h if kind == TOPK_ALPHA or not h <= 0 else zero
    h_tau = base + tau
    tied_term = h_tau if kind == TOPK_ALPHA or not h_tau <= 0 else zero
    total += tied_term * dtype(slots)
    loss = total * inv_k
    if loss != loss:  # inf − inf (±inf scores): NaN loss and gradient row
        for j in range(n_classes):
            g[gi, j] = loss
        return loss
    scale = dtype(1.0)
    if kind == TOPK_ALPHA:
        scale = dtype(1.0) if loss > 0 else (kink_frac if loss == 0 else zero)
        loss = loss if loss > 0 else zero
    for j in range(n_classes):
        g[gi, j] = zero
    tied_left = slots
    share_tied = dtype(slots) / dtype(n_tied)
    g_y = zero
    for j in range(n_classes):
        if j == y or scores[i, j] < tau:
            continue
        member = dtype(1.0)
        if scores[i, j] == tau:
            if split_ties:
                member = share_tied
            elif tied_left > 0:
                tied_left -= 1
            else:
                continue
        if kind == TOPK_BETA:
            h = base + scores[i, j]
            scale = dtype(1.0) if h > 0 else (kink_frac if h == 0 else zero)
        coef = g0 * w_y * inv_k * member * scale
        g[gi, j] = coef
        g_y -= coef
    g[gi, y] = g_y
    return loss * w_y


@row_jit
def _margin_bands(start, stop, scores, labels, weights, params, grad, loss_out):
    """Margin rescaling, ties "first": rows ``start..`` in bands of W; returns (next row, loss sum).

    Row ``r`` of a band is SIMD lane ``r`` (``_tiles.structured_rows``, set-up
    and finish included): the max of ``Δ[y, j] + s_j`` over ``j ≠ y`` and its
    first column, the band's gradient rows zeroed, then the two non-zero
    entries of an active row, with the row code's operations. In a band with
    a row that has a NaN, no value above −inf or an ignored label, the rows
    are finished here, those by ``_rescaling_row`` / ``zero_row``.
    """
    margin, kind, _, kink_mode, _, split_ties, g_const, grad_denom, ignore, _ = params
    class_weight, sample_weight, cost, _, _ = weights
    n_classes = scores.shape[1]
    has_sw = sample_weight.shape[0] > 0
    zero = margin - margin
    one = scores.dtype.type(1.0)
    flat, flat_grad, best = band_buffers(scores, grad, 1)
    flat_cost = cost.reshape(cost.size)
    index = np.empty((2, LANES), np.int64)
    scratch = np.empty(n_classes, scores.dtype)
    vals = np.empty(n_classes, scores.dtype)
    acc = np.zeros(1)
    width = tile_rows(scores)
    i = start
    while i + width <= stop:
        scalars = (i, margin, g_const, grad_denom, ignore, kink_mode)
        special = structured_rows(flat, i * n_classes, n_classes, flat_cost, best, index, weights,
                                  scalars, acc, loss_out, labels, flat_grad)  # fmt: skip
        for r in range(width if special else 0):  # the band's rows, in row order
            row = i + r
            y = labels[row]
            if y == ignore:
                zero_row(row, grad, loss_out)
                continue
            g0 = scores.dtype.type(sample_weight[row] / grad_denom) if has_sw else g_const
            w_y = class_weight[y]
            z = best[0, r] - scores[row, y]
            if index[1, r] or index[0, r] < 0 or z != z:  # the row code, exactly
                g = grad[row] if grad.shape[0] else scratch
                s, cost_row = scores[row], cost[y]
                loss = _rescaling_row(
                    kind, s, y, margin, cost_row, w_y, kink_mode, split_ties, g0, g, vals
                )
            elif z < 0 or (z == 0 and kink_mode == KINK_ZERO):
                loss = zero
            else:
                frac = one / scores.dtype.type(2 if z == 0 and kink_mode == KINK_HALF else 1)
                coef = g0 * w_y * one * frac
                if grad.shape[0]:
                    grad[row, index[0, r]] = coef
                    grad[row, y] = zero - coef
                loss = z * w_y
            loss = loss * sample_weight[row] if has_sw else loss
            if loss_out.shape[0]:
                loss_out[row] = loss
            acc[0] += loss
        i += width
    return i, acc[0]


@row_jit
def _structured_chunk(c, scores, labels, weights, params, grad, loss_out):
    """Rows of chunk ``c``; returns the float64 sum of their losses.

    Margin rescaling with ties "first" and no compact output takes runs of W
    rows in ``_margin_bands`` (SIMD across rows, the same results).
    """
    margin, kind, k, kink_mode, kink_frac, split_ties, g_const, grad_denom, ignore, rows = params
    class_weight, sample_weight, cost, indices, values = weights
    gbuf = grad if grad.shape[0] else np.empty((1, scores.shape[1]), scores.dtype)
    top = np.empty(max(k, 1), scores.dtype)
    vals = np.empty(scores.shape[1], scores.dtype)
    acc = np.float64(0.0)  # a float64 sum when run as Python too (NUMBA_DISABLE_JIT)
    start = c * rows
    stop = min(scores.shape[0], (c + 1) * rows)
    bands = kind == MARGIN_RESCALING and not split_ties and indices.shape[0] == 0
    if bands and stop - start >= tile_rows(scores) and scores.shape[1] < 2**31:
        start, acc = _margin_bands(start, stop, scores, labels, weights, params, grad, loss_out)
    for i in range(start, stop):
        y = labels[i]
        gi = i if grad.shape[0] else 0
        if y == ignore:
            zero_row(i, grad, loss_out)
            if indices.shape[0]:
                gbuf[gi, :] = 0
                compress_row(gbuf[gi], i, indices, values)
            continue
        g0 = scores.dtype.type(sample_weight[i] / grad_denom) if sample_weight.shape[0] else g_const
        w_y = class_weight[y]
        if kind == TOPK_ALPHA or kind == TOPK_BETA:
            loss = _topk_row(kind, scores, i, y, margin, k, kink_frac, split_ties, g0, w_y, gbuf,
                             gi, top)  # fmt: skip
        else:
            cost_row = cost[y]
            loss = _rescaling_row(
                kind, scores[i], y, margin, cost_row, w_y, kink_mode, split_ties, g0, gbuf[gi], vals
            )
        if indices.shape[0]:
            compress_row(gbuf[gi], i, indices, values)
        loss = loss * sample_weight[i] if sample_weight.shape[0] else loss
        if loss_out.shape[0]:
            loss_out[i] = loss
        acc += loss
    return acc


@serial_jit
def structured_serial(scores, labels, weights, params, grad, loss_out, partials):
    """Serial driver: the chunks in order (same chunks and sums as the parallel one)."""
    for c in range(partials.shape[0]):
        partials[c] = _structured_chunk(c, scores, labels, weights, params, grad, loss_out)


@parallel_jit
def structured_parallel(scores, labels, weights, params, grad, loss_out, partials):
    """Parallel driver: ``prange`` over the fixed chunks."""
    for c in numba.prange(partials.shape[0]):
        partials[c] = _structured_chunk(c, scores, labels, weights, params, grad, loss_out)
