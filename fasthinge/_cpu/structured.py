"""Max-type multiclass hinges beyond Crammer–Singer: cost matrices and top-k.

- Margin rescaling (structured SVM): ``ℓ = max(0, max_{j≠y} (Δ[y, j] + s_j) − s_y)``.
- Slack rescaling: ``ℓ = max_{j≠y} Δ[y, j]·(m + s_j − s_y)_+``.
- Top-k SVM (Lapin, Hein & Schiele): with ``h_j = m + s_j − s_y`` over the
  wrong classes only and ``T`` the k largest, α: ``max(0, (1/k) Σ_T h_j)``,
  β: ``(1/k) Σ_T max(0, h_j)``.

Two pairs of drivers, ``rescaling_*`` (margin and slack rescaling) and ``topk_*``
(α and β), each compiling only its own losses' code, have the multiclass
signature (see ``multiclass.py``) with
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
from ._rows import band_buffers, borrowed, compress_row, zero_row
from ._simd import (
    BLOCK,
    COMPRESS,
    KTH_IN_REGISTERS,
    above_or_nan,
    at_least,
    kth_largest,
    list_at_least,
    lowest_bit,
    maximum,
    store_fence,
    stream_zeros,
    wrong_max,
)
from ._tiles import LANES, structured_loss_rows, structured_rows, structured_staged_rows, tile_rows
from ._transposed import (
    BAND,
    G_SCALE,
    G_Y,
    LABEL,
    LOSS,
    topk_gradient,
    topk_sink,
    topk_sums,
    transpose_in,
    transpose_out,
)
from .multiclass import LONG_ROW_LOSS, streams_zeros

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


#: Up to this k, a column enters top-k's running buffer by k branch-free
#: compare-exchanges; above, by insertion (one thread, C = 1000, ns a row:
#: k = 5 1877–1957 vs 2067–2528, k = 50 14078–15637 vs 7899–8830).
TOPK_SINK_MAX_K = 8


#: From this many classes, rows find ``tau`` with ``_simd.kth_largest`` (k up to
#: ``KTH_IN_REGISTERS``): every column through per-lane registers, no branch.
KTH_VECTOR_CLASSES = 64


@row_jit
def _kth_largest_wrong(scores, flat, i, y, k, top):
    """The k-th largest ``s_j`` over ``j ≠ y`` in row ``i``; NaN if the row has a NaN.

    Below ``KTH_VECTOR_CLASSES`` classes or above ``KTH_IN_REGISTERS`` (the caller
    takes the others to ``_simd.kth_largest``): ``top`` (a scratch of k values, from
    −inf) keeps the k largest seen, in descending order, a tie behind the earlier
    column: a larger column sinks through it by k compare-exchanges (branch-free)
    up to ``TOPK_SINK_MAX_K``, by insertion above (the same order). Columns go in blocks
    of ``BLOCK`` (``flat``: the scores flattened), compared at once with the
    last of ``top``: only the columns that pass (above it, or NaN) are looked
    at, in order; in a wide row, a few of each block.
    """
    n_classes = scores.shape[1]
    offset = i * n_classes
    for p in range(k):
        top[p] = -np.inf
    for j0 in range(0, n_classes, BLOCK):
        kth = top[k - 1]
        if j0 + BLOCK <= n_classes:
            mask = above_or_nan(flat, offset + j0, kth)
        else:  # the last, partial block
            mask = 0
            for b in range(n_classes - j0):
                mask |= (not scores[i, j0 + b] <= kth) << b
        while mask:
            j = j0 + lowest_bit(mask)
            mask &= mask - 1
            v = scores[i, j]
            if v != v:
                return v
            if j == y or not v > top[k - 1]:
                continue
            if k <= TOPK_SINK_MAX_K:  # k compare-exchanges, no branch
                for p in range(k):
                    t = top[p]
                    larger = v > t
                    top[p] = v if larger else t
                    v = t if larger else v
            else:  # insertion: moves only the entries below v
                pos = k - 1
                while pos > 0 and top[pos - 1] < v:
                    top[pos] = top[pos - 1]
                    pos -= 1
                top[pos] = v
    return top[k - 1]


#: ``_at_least`` packs a block's passing columns (``list_at_least``) where at least one
#: column in this many passes (C ≤ this × k): a sparser row's blocks are mostly empty,
#: a branch the predictor wins. One thread, float32, into ``out``, packed against bit
#: walks (time ratio): k = 1 C = 100 0.95, 200 1.03, 400 1.15; k = 2 C = 100 0.86, 200
#: 0.93, 400 1.10; k = 5 C = 100 0.78, 200 0.79, 400 0.89, 1000 1.03; k = 8 C = 100
#: 0.77, 200 0.74, 400 0.81.
PACK_CLASSES_A_K = 128


@row_jit
def _at_least(scores, flat, i, y, tau, columns, k):
    """The columns ``j ≠ y`` of row ``i`` with ``s_j ≥ tau`` into ``columns``; their count.

    In column order. Blocks of ``BLOCK`` columns are tested at once (as in
    ``_kth_largest_wrong``). With AVX-512 (``COMPRESS``) and about ``k`` passing
    columns in at most ``PACK_CLASSES_A_K · k``, a block's passing columns are packed
    in registers and stored at once (``list_at_least``), without a branch; else the
    set bits are walked, and at C = 100, k = 5, whether a block had any was a branch
    the predictor lost half the time.
    """
    n_classes = scores.shape[1]
    offset = i * n_classes
    pack = COMPRESS and n_classes <= PACK_CLASSES_A_K * k
    n = 0
    j = 0
    for j0 in range(0, n_classes - BLOCK + 1, BLOCK):
        if pack:
            n = list_at_least(flat, offset + j0, tau, columns, n, j0, y)
            j = j0 + BLOCK
            continue
        mask = at_least(flat, offset + j0, tau)
        while mask:
            jj = j0 + lowest_bit(mask)
            mask &= mask - 1
            if jj != y:
                columns[n] = jj
                n += 1
        j = j0 + BLOCK
    for jj in range(j, n_classes):
        if scores[i, jj] >= tau and jj != y:
            columns[n] = jj
            n += 1
    return n


@row_jit
def _topk_row(kind, scores, flat, i, y, margin, k, kink_frac, split_ties, g0, w_y, g, gi, top,
              columns, zeroed):  # fmt: skip
    """Top-k SVM α or β of row ``i``; gradient (scaled by g0) into ``g[gi]``.

    ``zeroed``: whether ``g[gi]`` holds zeros already (streamed, ``stream_zeros``).

    Only the columns at or above ``tau`` (the k-th largest wrong score) enter
    the loss and the gradient: they are listed once, in column order
    (``columns``, a scratch of C indices), and every later step walks that
    list, so a wide row is read about twice. Rows are taken by index, not as
    slices: a slice is a new array, with reference counting on every row (see
    the note in ``multiclass.py``).
    """
    n_classes = scores.shape[1]
    dtype = scores.dtype.type
    zero = margin - margin
    # the vector walk inline: through ``_kth_largest_wrong``, a call with its arrays'
    # fields on the stack, a row took 1.04–1.13x the time (C = 100–10³, k = 5)
    if k <= KTH_IN_REGISTERS and n_classes >= KTH_VECTOR_CLASSES:
        tau = kth_largest(flat, i * n_classes, n_classes, y, k)
    else:
        tau = _kth_largest_wrong(scores, flat, i, y, k, top)
    if tau != tau:  # NaN anywhere in the row: NaN loss and gradient row
        for j in range(n_classes):
            g[gi, j] = np.nan
        return dtype(np.nan)
    n_listed = _at_least(scores, flat, i, y, tau, columns, k)
    n_above = 0
    for c in range(n_listed):
        n_above += scores[i, columns[c]] > tau
    n_tied = n_listed - n_above
    slots = k - n_above  # how many of the tied entries belong to the top k
    inv_k = dtype(1.0) / dtype(k)
    base = margin - scores[i, y]
    total = zero
    for c in range(n_listed):  # the top-k sum (or the sum of its hinges; NaN kept)
        s = scores[i, columns[c]]
        if s > tau:
            h = base + s
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
    for j in range(0 if zeroed else n_classes):
        g[gi, j] = zero
    tied_left = slots
    share_tied = dtype(slots) / dtype(n_tied)
    g_y = zero
    for c in range(n_listed):
        j = columns[c]
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


#: Top-k takes bands of rows up to this many classes; above, rows, whose
#: ``tau`` comes from one branch-free vector walk (``_simd.kth_largest``, k ≤ 8),
#: where a band pays C·k compare-exchanges and three walks of C columns. One
#: thread pinned, float32, into ``out``, ns a row, bands vs rows: C = 96, k = 5:
#: 213 vs 227, k = 2: 184 vs 150; C = 128, k = 5: 276 vs 255, k = 2: 254 vs 165;
#: C = 256, k = 1: 465 vs 201, k = 5: 514 vs 343, k = 8: 544 vs 472; float64
#: C = 128, k = 5: 492 vs 315; C = 256, k = 5: 916 vs 485; C = 64, k = 5: 141 vs 197.
TOPK_BAND_MAX_CLASSES = 96
#: Where rows win earlier (``topk_band_max_classes``), one thread pinned, into ``out``,
#: rows against bands: float32 k = 1: C = 72 1.01, 80 0.91, 96 0.78 (k = 2 at 96:
#: 1.04); float64 k = 1: C = 64 0.64, 80 0.60, 96 0.50; k = 2: 64 0.81, 80 0.72;
#: k = 5: 72 1.07, 80 0.98, 96 0.90; k = 8: 80 1.05, 96 1.01.
TOPK_BAND_MAX_CLASSES_FLOAT32_K1 = 72
TOPK_BAND_MAX_CLASSES_FLOAT64_K2 = KTH_VECTOR_CLASSES - 1
TOPK_BAND_MAX_CLASSES_FLOAT64_K5 = 80
#: Above ``TOPK_SINK_MAX_K`` the row code inserts, and bands win up to this many
#: classes (one thread, float32, ns a row, bands vs rows: C = 1000, k = 9:
#: 2298–2496 vs 2843–3305; k = 20: 3010 vs 4953–5129; C = 2000 about even).
TOPK_BAND_MAX_CLASSES_LARGE_K = 1024
#: Rows of a top-k band: SIMD lanes (``_transposed.BAND``).
TOPK_BAND_ROWS = 16


#: Without a gradient the bands win further. One thread pinned, loss only, bands against
#: rows: k = 1: float32 C = 100 0.81, 200 1.02; float64 100 0.96, 200 1.41; k = 2:
#: float32 100 0.50, 200 0.76; float64 100 0.76, 200 1.14; k = 5: float32 100 0.43,
#: 200 0.59, 500 0.91, 1000 1.20; float64 100 0.59, 200 0.83, 400 1.08.
TOPK_LOSS_BAND_MAX_CLASSES_K1 = 100
TOPK_LOSS_BAND_MAX_CLASSES_K2 = 128
TOPK_LOSS_BAND_MAX_CLASSES = 256


@row_jit
def topk_band_max_classes(k, itemsize, has_grad=True):
    """The most classes top-k takes in bands (``k``, the scores' itemsize, a gradient or not)."""
    if k > TOPK_SINK_MAX_K:
        return TOPK_BAND_MAX_CLASSES_LARGE_K
    if not has_grad:
        if k <= 2:
            return TOPK_LOSS_BAND_MAX_CLASSES_K1 if k == 1 else TOPK_LOSS_BAND_MAX_CLASSES_K2
        return TOPK_LOSS_BAND_MAX_CLASSES
    if itemsize == 8 and k <= 2:
        return TOPK_BAND_MAX_CLASSES_FLOAT64_K2
    if itemsize == 8 and k <= 5:
        return TOPK_BAND_MAX_CLASSES_FLOAT64_K5
    return TOPK_BAND_MAX_CLASSES_FLOAT32_K1 if k == 1 else TOPK_BAND_MAX_CLASSES


@row_jit
def _topk_bands(start, stop, scores, labels, weights, params, grad, loss_out, acc):
    """Top-k α/β for rows ``start..`` in bands of 16; returns (next row, ``acc`` + their losses).

    Rows are lanes (``_transposed``): a band is transposed into ``tile``
    (C, 16), and every step of ``_topk_row`` runs lane-wise, branch-free, with
    the row code's operations in its order: each lane's k largest wrong scores
    sink through ``top`` (``topk_sink``: k compare-exchanges a column), the
    counts above and at ``tau`` and the top-k sum in column order
    (``topk_sums``), and the gradient (``topk_gradient``; ties "first": the
    first ``slots`` tied columns). A band with an ignored label, a NaN score
    or an ``inf − inf`` loss is left to the row code (the caller's loop): the
    rows before it are done, and the returned row is that band's first.
    """
    width = TOPK_BAND_ROWS
    if stop - start < width:  # no band: no scratch to allocate
        return start, acc
    margin, kind, k, _, kink_frac, split_ties, g_const, grad_denom, ignore, _ = params
    class_weight, sample_weight, _, _, _ = weights
    n_classes = scores.shape[1]
    dtype = scores.dtype.type
    inv_k = dtype(1.0) / dtype(k)
    alpha = kind == TOPK_ALPHA
    has_sw = sample_weight.shape[0] > 0
    want_grad = grad.shape[0] > 0
    padded = (n_classes + BAND - 1) // BAND * BAND  # whole blocks of 16 in scratch
    tile = np.empty((padded, width), scores.dtype)
    gtile = np.empty((padded, width), scores.dtype)
    flat, gflat = scores.reshape(scores.size), grad.reshape(grad.size)
    top = np.empty((2 * k, width), scores.dtype)  # the k largest, and the sink's second half
    lanes = np.empty((7, width), scores.dtype)  # tau, base, total, loss, scale, g_scale, g_y
    counts = np.empty((4, width), np.int64)  # label, above, tied, tied_left
    i = start
    while i + width <= stop:
        special = transpose_in(flat, i * n_classes, n_classes, tile)  # a NaN read
        for r in range(width):
            y = labels[i + r]
            special |= y == ignore
            y = 0 if y == ignore else y  # (the band is left to the row code)
            counts[LABEL, r] = y
            g0 = dtype(sample_weight[i + r] / grad_denom) if has_sw else g_const
            lanes[G_SCALE, r] = g0 * class_weight[y] * inv_k
        if special:
            return i, acc
        topk_sink(tile, counts, top, n_classes)  # each lane's k largest wrong scores
        if topk_sums(tile, counts, lanes, top[:k], n_classes, alpha, margin, kink_frac):
            return i, acc  # an inf − inf loss
        if want_grad:
            topk_gradient(tile, counts, lanes, gtile, n_classes, k, alpha, split_ties, kink_frac)
        for r in range(width):
            row = i + r
            y = counts[LABEL, r]
            gtile[y, r] = lanes[G_Y, r]
            loss = lanes[LOSS, r] * class_weight[y]
            loss = loss * sample_weight[row] if has_sw else loss
            if loss_out.shape[0]:
                loss_out[row] = loss
            acc += loss
        if want_grad:
            transpose_out(gtile, gflat, i * n_classes, n_classes)
        i += width
    return i, acc


@row_jit
def _margin_bands(start, stop, scores, labels, weights, params, grad, loss_out, staging=None):
    """Margin rescaling, ties "first": rows ``start..`` in bands of W; returns (next row, loss sum).

    Row ``r`` of a band is SIMD lane ``r`` (``_tiles.structured_rows``, set-up
    and finish included): the max of ``Δ[y, j] + s_j`` over ``j ≠ y`` and its
    first column, the band's gradient rows zeroed, then the two non-zero
    entries of an active row, with the row code's operations. In a band with
    a row that has a NaN, no value above −inf or an ignored label, the rows
    are finished here, those by ``_rescaling_row`` / ``zero_row``. ``staging``
    given (the staged drivers): the bands stage their gradient blocks
    (``_tiles.structured_staged_rows``), then one fence.
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
    has_grad = grad.shape[0] > 0
    i = start
    while i + width <= stop:
        scalars = (i, margin, g_const, grad_denom, ignore, kink_mode)
        args = (flat, i * n_classes, n_classes, flat_cost, best, index, weights, scalars, acc)
        if staging is not None:  # (the staged drivers: see ``_structured_chunk``)
            special = structured_staged_rows(*args, loss_out, labels, flat_grad)
        elif has_grad:
            special = structured_rows(*args, loss_out, labels, flat_grad)
        else:
            special = structured_loss_rows(*args, loss_out, labels, flat_grad)
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
            else:
                active, loss, coef = _margin_terms(z, g0, w_y, kink_mode, one, zero)
                if active and grad.shape[0]:
                    grad[row, index[0, r]] = coef
                    grad[row, y] = zero - coef
            loss = loss * sample_weight[row] if has_sw else loss
            if loss_out.shape[0]:
                loss_out[row] = loss
            acc[0] += loss
        i += width
    if staging is not None:
        store_fence()  # the streamed blocks
    return i, acc[0]


@row_jit
def _margin_terms(z, g0, w_y, kink_mode, one, zero):
    """``(active, loss, coef)`` of a row with ``z = max_{j≠y}(Δ[y, j] + s_j) − s_y``, not NaN.

    The row code's (``_rescaling_row``, ties "first"): active from ``z > 0``, and
    at ``z == 0`` unless kink "zero" (``coef`` halved for kink "half"). Scalars only.
    """
    if z < 0 or (z == 0 and kink_mode == KINK_ZERO):
        return False, zero, zero
    frac = one / (one + one) if z == 0 and kink_mode == KINK_HALF else one / one
    return True, z * w_y, g0 * w_y * one * frac


@row_jit
def _margin_long_rows(start, stop, scores, labels, weights, params, loss_out, acc):
    """Margin rescaling's loss alone, ties "first": ``_margin_bands``' losses a row at a time.

    From ``LONG_ROW_LOSS`` classes, as Crammer–Singer's: the max of
    ``Δ[y, j] + s_j`` over ``j ≠ y`` by one vector sweep (``wrong_max`` with
    the cost row added). A NaN row takes the row code. Returns ``acc`` plus the
    rows' losses, in row order. With the gradient the bands stay faster at any
    width: an active row would need the sums again for the max's column and a
    third pass (two threads, (10⁴, 10³) float32: 4.3–4.8 ms in bands, 6.3–8.0 ms
    so; the loss alone 3.1–3.4 ms in bands, 1.9–2.4 ms so).
    """
    margin, kind, _, kink_mode, _, split_ties, g_const, grad_denom, ignore, _ = params
    class_weight, sample_weight, cost, _, _ = weights
    n_classes = scores.shape[1]
    has_sw = sample_weight.shape[0] > 0
    zero = margin - margin
    one = scores.dtype.type(1.0)
    flat, no_grad = scores.reshape(scores.size), np.empty(0, scores.dtype)
    flat_cost = cost.reshape(cost.size)
    vals = np.empty(n_classes, scores.dtype)
    scratch = np.empty(n_classes, scores.dtype)
    for row in range(start, stop):
        y = labels[row]
        if y == ignore:
            if loss_out.shape[0]:
                loss_out[row] = zero
            continue
        g0 = scores.dtype.type(sample_weight[row] / grad_denom) if has_sw else g_const
        w_y = class_weight[y]
        first, cost_first = row * n_classes, y * n_classes
        best = wrong_max(flat, first, n_classes, y, no_grad, flat_cost, cost_first)
        z = best - scores[row, y]
        if z != z:  # the row code, exactly
            loss = _rescaling_row(
                kind, scores[row], y, margin, cost[y], w_y, kink_mode, split_ties, g0, scratch, vals
            )
        else:
            loss = _margin_terms(z, g0, w_y, kink_mode, one, zero)[1]
        loss = loss * sample_weight[row] if has_sw else loss
        if loss_out.shape[0]:
            loss_out[row] = loss
        acc += loss
    return acc


@row_jit
def _structured_rows(start, stop, scores, labels, weights, params, grad, loss_out, acc, zeroed,
                     topk):  # fmt: skip
    """The row code for rows ``start..stop``; returns ``acc`` plus their losses, in row order.

    ``topk``: ``TOPK`` or ``RESCALING`` (see ``_structured_chunk``); ``zeroed``:
    whether the rows' gradient holds zeros already (top-k only).
    """
    margin, kind, k, kink_mode, kink_frac, split_ties, g_const, grad_denom, ignore, _ = params
    class_weight, sample_weight, cost, indices, values = weights
    gbuf = grad if grad.shape[0] else np.empty((1, scores.shape[1]), scores.dtype)
    top = np.empty(max(k, 1), scores.dtype)
    vals = np.empty(scores.shape[1], scores.dtype)
    columns = np.empty(scores.shape[1], np.int64)
    flat = scores.reshape(scores.size)
    # what the row helpers take, without reference counting (the originals live on here)
    s_rows, s_flat, g_rows, costs = borrowed(scores), borrowed(flat), borrowed(gbuf), borrowed(cost)
    top_k, listed, row_values = borrowed(top), borrowed(columns), borrowed(vals)
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
        if topk is None:
            loss = _rescaling_row(kind, s_rows[i], y, margin, costs[y], w_y, kink_mode,
                                  split_ties, g0, g_rows[gi], row_values)  # fmt: skip
        else:
            loss = _topk_row(kind, s_rows, s_flat, i, y, margin, k, kink_frac, split_ties, g0,
                             w_y, g_rows, gi, top_k, listed, zeroed)  # fmt: skip
        if indices.shape[0]:
            compress_row(g_rows[gi], i, indices, values)
        loss = loss * sample_weight[i] if sample_weight.shape[0] else loss
        if loss_out.shape[0]:
            loss_out[i] = loss
        acc += loss
    return acc


#: The last argument of ``_structured_chunk`` and ``_structured_rows``: the rescaling
#: losses' code or top-k's. Numba prunes an ``if topk is None`` branch on the
#: constant's type, so each compiles only its own walks (cold first call of
#: ``topk_hinge`` 15.5 s with every structured loss's code, of margin rescaling 15.4 s).
RESCALING, TOPK = None, True


@row_jit
def _structured_chunk(c, scores, labels, weights, params, grad, loss_out, topk, staging=None):
    """Rows of chunk ``c``; returns the float64 sum of their losses (in row order).

    ``topk``: ``RESCALING`` (margin or slack rescaling, ``params``' kind) or
    ``TOPK`` (top-k α or β), a constant. Margin rescaling with ties "first"
    and no compact output takes runs of W rows in ``_margin_bands``, top-k up
    to ``topk_band_max_classes`` classes without compact output bands of 16
    in ``_topk_bands`` (SIMD across rows, the same results); a top-k band
    those leave (an ignored label, NaN, ``inf − inf``) takes the row code.
    ``staging`` (the staged drivers' ``True``): margin rescaling's bands stage
    their gradient blocks (``_tiles.structured_staged_rows``).
    """
    kind, split_ties, rows = params[1], params[5], params[9]
    indices = weights[3]
    args = (scores, labels, weights, params, grad, loss_out)
    acc = np.float64(0.0)  # a float64 sum when run as Python too (NUMBA_DISABLE_JIT)
    start = c * rows
    stop = min(scores.shape[0], (c + 1) * rows)
    if topk is None:
        bands = kind == MARGIN_RESCALING and not split_ties and indices.shape[0] == 0
        bands &= stop - start >= tile_rows(scores) and scores.shape[1] < 2**31
        if bands and not grad.shape[0] and scores.shape[1] >= LONG_ROW_LOSS:
            acc = _margin_long_rows(start, stop, scores, labels, weights, params, loss_out, acc)
            start = stop
        elif bands:
            start, acc = _margin_bands(start, stop, *args, staging)
    else:
        widest = topk_band_max_classes(params[2], scores.itemsize, grad.shape[0] > 0)
        while indices.shape[0] == 0 and scores.shape[1] <= widest and start < stop:
            start, acc = _topk_bands(start, stop, *args, acc)
            end = min(start + TOPK_BAND_ROWS, stop)  # a band left to the row code, or the tail
            if end > start:  # (the row code allocates its scratch rows)
                acc = _structured_rows(start, end, scores, labels, weights, params, grad,
                                       loss_out, acc, np.bool_(False), topk)  # fmt: skip
            start = end
    nbytes = scores.size * scores.itemsize
    zeroed = topk is not None and start == c * rows and not indices.shape[0] and grad.shape[0] > 0
    zeroed = zeroed and streams_zeros(scores.shape[1], scores.itemsize, nbytes, params[2] + 1)
    if zeroed:  # long rows past the cache: their zeros streamed first (as Crammer–Singer's)
        flat_grad = grad.reshape(grad.size)
        stream_zeros(flat_grad, start * scores.shape[1], (stop - start) * scores.shape[1])
        store_fence()
    if start < stop:  # (the marker as written: after a star it would lose its constant type)
        acc = _structured_rows(start, stop, scores, labels, weights, params, grad, loss_out, acc,
                               zeroed, topk)  # fmt: skip
    return acc


@serial_jit
def rescaling_serial(scores, labels, weights, params, grad, loss_out, partials):
    """Serial driver of margin and slack rescaling: the chunks in order (as the parallel one)."""
    for c in range(partials.shape[0]):
        partials[c] = _structured_chunk(c, scores, labels, weights, params, grad, loss_out,
                                        RESCALING)  # fmt: skip


@parallel_jit
def rescaling_parallel(scores, labels, weights, params, grad, loss_out, partials):
    """Parallel driver of margin and slack rescaling: ``prange`` over the fixed chunks."""
    for c in numba.prange(partials.shape[0]):
        partials[c] = _structured_chunk(c, scores, labels, weights, params, grad, loss_out,
                                        RESCALING)  # fmt: skip


@serial_jit
def rescaling_staged_serial(scores, labels, weights, params, grad, loss_out, partials):
    """``rescaling_serial`` whose margin-rescaling bands stage their gradient."""
    for c in range(partials.shape[0]):
        partials[c] = _structured_chunk(c, scores, labels, weights, params, grad, loss_out,
                                        RESCALING, True)  # fmt: skip


@parallel_jit
def rescaling_staged_parallel(scores, labels, weights, params, grad, loss_out, partials):
    """``rescaling_parallel`` whose margin-rescaling bands stage their gradient."""
    for c in numba.prange(partials.shape[0]):
        partials[c] = _structured_chunk(c, scores, labels, weights, params, grad, loss_out,
                                        RESCALING, True)  # fmt: skip


@serial_jit
def topk_serial(scores, labels, weights, params, grad, loss_out, partials):
    """Serial driver of top-k α and β: the chunks in order (as the parallel one)."""
    for c in range(partials.shape[0]):
        partials[c] = _structured_chunk(c, scores, labels, weights, params, grad, loss_out, TOPK)


@parallel_jit
def topk_parallel(scores, labels, weights, params, grad, loss_out, partials):
    """Parallel driver of top-k α and β: ``prange`` over the fixed chunks."""
    for c in numba.prange(partials.shape[0]):
        partials[c] = _structured_chunk(c, scores, labels, weights, params, grad, loss_out, TOPK)
