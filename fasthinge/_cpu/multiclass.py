"""Fused multiclass hinge kernels: Weston–Watkins and Crammer–Singer.

Each loss has a serial and a parallel driver with one signature::

    weston_watkins_serial(scores, labels, weights, params, grad, loss_out, partials)

- ``scores`` (N, C) float32/float64, C-contiguous; ``labels`` (N,) int32/int64,
  already validated (each in ``[0, C)`` or equal to the ignore sentinel).
- ``weights = (class_weight, sample_weight)``: ``class_weight`` (C,) in the
  scores' dtype (ones when the caller gave none), ``sample_weight`` (N,) or
  empty when the caller gave none.
- ``params``: the loss's scalars (see each ``_chunk``), then ``g_const,
  grad_denom, ignore, rows_per_chunk``: each row's gradient is scaled by
  ``sample_weight[i] / grad_denom`` (float64), or by ``g_const`` (the
  scores' dtype) without sample weights. Floats are in the scores' dtype.
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
import numpy as np

from ._jit import parallel_jit, row_jit, serial_jit
from ._rows import band_buffers, compress_row, zero_row
from ._simd import first_at_least, maximum, store_fence, stream_zeros, wrong_max
from ._tiles import (
    CACHE_BYTES,
    LANES,
    TOTAL,
    cs_loss_rows,
    cs_rows,
    cs_staged_rows,
    tile_rows,
    ww_loss_rows,
    ww_rows,
    ww_staged_rows,
)

KINK_ZERO, KINK_FULL, KINK_HALF = 0, 1, 2


@row_jit
def _ww_row(s, y, margin, p, w_y, kink_frac, drop_nan, g0, g):
    """Σ_{j≠y} w_y·(m − s_y + s_j)_+^p of one row; its gradient (scaled by g0) into g.

    PyTorch's CPU kernel (LossMultiMargin.cpp) operation by operation, in the
    scores' dtype: ``z = (m − s_y) + s_j``; ``h = z`` or ``z·z``, times
    ``w_y``, summed in index order; gradient ``g0·w_y`` or ``((2·g0)·z)·w_y``
    and, on ``y``, ``0 − h_1 − h_2 − …`` in index order. Branch-free.
    """
    zero = margin - margin
    base = margin - s[y]
    slope = g0 * w_y
    kink_coef = g0 * kink_frac * w_y
    total = zero
    g_y = zero
    hinge = p == 1
    keep_nan = not drop_nan
    for j in range(s.shape[0]):
        z = base + s[j]
        active = z > 0
        term = (z if hinge else z * z) * w_y
        coef = slope if hinge else ((g0 + g0) * z) * w_y
        term = term if active else zero
        coef = coef if active else zero
        coef = kink_coef if (z == 0) & hinge else coef
        is_nan = (z != z) & keep_nan  # NaN propagates into loss and gradient
        term = z if is_nan else term
        coef = z if is_nan else coef
        wrong = j != y
        term = term if wrong else zero
        coef = coef if wrong else zero
        total += term
        g_y -= coef
        g[j] = coef
    g[y] = g_y
    return total


@row_jit
def _first_nan(s, y):
    """Index of the first NaN wrong score (the rare path: a call is fine)."""
    for j in range(s.shape[0]):
        if j != y and s[j] != s[j]:
            return j
    return -1


@row_jit
def _cs_row(s, y, margin, p, w_y, kink_mode, split_ties, g0, g):
    """w_y·(m − (s_y − max_{j≠y} s_j))_+^p of one row; gradient (scaled by g0) into g.

    Vectorised sweeps over the (L1-resident) row: the max of the wrong scores
    (``maximum`` propagates NaN), then, for an active row, the first index of
    that max and the gradient row. The loops are written out here, not in
    helpers: a helper taking arrays that LLVM does not inline costs
    reference counting on every row, and measured 2-4x slower.
    """
    n_classes = s.shape[0]
    zero = margin - margin
    if n_classes == 1:  # no wrong class: nothing can violate (and no index to write)
        g[0] = zero
        return zero
    neg_inf = s.dtype.type(-np.inf)
    best = neg_inf
    for j in range(n_classes):
        best = maximum(best, s[j] if j != y else neg_inf)
    z = margin - (s[y] - best)
    if z > 0:
        loss = (z if p == 1 else z * z) * w_y
        coef = (g0 if p == 1 else (g0 + g0) * z) * w_y
    elif z != z:  # NaN propagates into the loss and the gradient
        loss = z
        coef = z
    elif z == 0 and p == 1 and kink_mode != KINK_ZERO:
        loss = zero
        coef = g0 * w_y
    else:
        for j in range(n_classes):
            g[j] = zero
        return zero
    j_first = n_classes
    n_ties = 0
    for j in range(n_classes):
        hit = (s[j] == best) & (j != y)
        j_first = min(j_first, j if hit else n_classes)
        n_ties += hit
    if best != best:  # the first NaN wrong score takes the max's share
        j_first = _first_nan(s, y)
        n_ties = 1
    k = n_ties if split_ties else 1
    if z == 0 and kink_mode == KINK_HALF:  # jax: y joins the tie set of the max
        coef = coef * s.dtype.type(k) / s.dtype.type(k + 1)
    share = coef / s.dtype.type(k)
    for j in range(n_classes):
        g[j] = zero
    if k > 1:
        for j in range(n_classes):
            if s[j] == best and j != y:
                g[j] = share
    else:
        g[j_first] = share
    g[y] = zero - coef
    return loss


#: Up to this many classes, Crammer–Singer rows take one scalar pass (a vectorised
#: loop costs more than it saves on a short row: measured 3.5x at C = 10).
SMALL_ROW = 16
#: From this many classes on, Crammer–Singer rows (ties "first") are taken one by
#: one with vector sweeps (``wrong_max``, ``first_at_least``) instead of in bands;
#: for the loss alone from ``LONG_ROW_LOSS``. Measured (Intel Xeon, 16-row bands,
#: float32, ns an element, alternating builds): with the gradient, (10⁴, 10³)
#: 0.31 → 0.25 on two threads, (200, 10³) 0.46 → 0.36 on one, but (4·10⁴, 256)
#: 0.30 → 0.44 out of cache (16 rows in flight beat one); the loss alone wins
#: from C = 64 on.
LONG_ROW = 512
LONG_ROW_LOSS = 64
#: From this many classes on, rows too when the scores and the gradient exceed
#: the CPU's largest cache (``_tiles.cache_bytes``). AMD EPYC (AVX2: 8-row
#: bands, 32 MB L3), float32, two threads, into ``out``, rows against bands:
#: (10⁵, 100) 0.79x (float64 0.60x), (8·10⁴, 128) 0.59x, (4·10⁴, 256) 0.54x,
#: but (1.6·10⁵, 64) 1.10x; in cache bands win: (16000, 100) rows 1.57x,
#: (4·10⁴, 100) 1.01x; one thread in L2, (2000, 100) 1.27x, (4000, 128) 1.13x.
#: Since the bands' chunks hold whole bands and their prefetches keep pace, the
#: bands win up to 128 classes (x the time of a same-process copy, one thread,
#: bands against rows: (10⁵, 100) 1.93–2.10 against 3.10–3.18, float64 1.18–1.34
#: against 1.71–1.74; (8·10⁴, 128) 1.69–1.84 against 2.01–2.25; two threads
#: (10⁵, 100) 1.47 against 1.88–1.94, (8·10⁴, 128) even) and the rows from 160
#: ((6·10⁴, 160), two threads: 1.22–1.32 against 1.56–1.62; one thread even).
LONG_ROW_OUT_OF_CACHE = 144


#: Beyond the cache, a chunk's gradient rows that hold only a few non-zero entries
#: (Crammer–Singer's two, top-k's k + 1) can be zeroed first with stores that bypass
#: the cache (``stream_zeros``: a line is written without being read first), the
#: entries then written with plain stores, each of which reads its line back. That
#: pays when a row has at least this many bytes an entry. Crammer–Singer's sweeps,
#: float32, x a same-process copy (plain stores), paired with the rows zeroed as
#: read: two threads (10³, 10⁴) 1.05–1.08 → 0.81–0.89, (10⁴, 10³) 1.01–1.05 →
#: 0.91–1.03, (5000, 2000) 0.98 → 0.81; one thread (5000, 2000) 1.00–1.03 →
#: 0.83–0.87, (10³, 10⁴) 1.11–1.14 → 0.89–0.94; float64, two threads, (2·10⁴, 500)
#: 1.02–1.03 → 0.77–0.88, (10³, 5000) 1.09 → 0.81–0.88; but float32 (2·10⁴, 500)
#: 1.02–1.03 → 1.04–1.19 and (10⁵, 200) 1.01 → 1.12. Top-k (k = 5, six entries),
#: two threads: (10³, 10⁴) 1.17–1.24 → 0.98–1.07, (5000, 2000) even, (10⁴, 10³)
#: 1.31–1.44 → 1.53–1.76.
STREAM_ROW_BYTES_AN_ENTRY = 1536


@row_jit
def streams_zeros(n_classes, itemsize, nbytes, entries):
    """Whether rows with ``entries`` non-zero entries stream their zeros (``nbytes``: the scores').

    Only beyond the cache: in it the caller reads the gradient next.
    """
    long_enough = n_classes * itemsize >= STREAM_ROW_BYTES_AN_ENTRY * entries
    return long_enough and 2 * nbytes > CACHE_BYTES


@row_jit
def long_rows(n_classes, nbytes, has_grad):
    """Whether Crammer–Singer rows of ``n_classes`` take vector sweeps instead of bands.

    ``nbytes``: the scores' (the gradient has as many).
    """
    if not has_grad:
        return n_classes >= LONG_ROW_LOSS
    return n_classes >= LONG_ROW or (
        n_classes >= LONG_ROW_OUT_OF_CACHE and 2 * nbytes > CACHE_BYTES
    )


@row_jit
def _cs_terms(z, p, g0, w_y, kink_mode, half, zero):
    """``(loss, coef)`` of a row with ``z = m − (s_y − max_{j≠y} s_j)``: the row code's.

    ``coef`` is the gradient's magnitude on the max's column (``+``) and on the
    label (``−``); ``half`` is 0.5 for kink "half", else 1. Scalars only (inlined).
    """
    if z > 0:
        return (z if p == 1 else z * z) * w_y, (g0 if p == 1 else (g0 + g0) * z) * w_y
    if z == 0 and p == 1 and kink_mode != KINK_ZERO:
        return zero, g0 * w_y * half
    return zero, zero


# Per-row code that runs on every row is written out inside the chunk functions:
# a call of an njit function taking arrays is not inlined by LLVM, and its
# reference counting (atomics on the caller's arrays, contended between
# threads) cost 3x at C = 10 (measured, numba 0.68). Calls that take arrays
# only happen on rare paths (ignored or NaN rows) or once per long row.


@row_jit
def _ww_bands(start, stop, scores, labels, weights, params, grad, loss_out, staging=None):
    """Weston–Watkins rows ``start..`` in bands of W; returns (next row, loss sum).

    The defaults' rows (see ``_ww_chunk``) with row ``r`` of a band as SIMD
    lane ``r`` (``_tiles.ww_rows``, set-up and finish included; without a
    gradient ``ww_loss_rows``, which sums no ``g_y``): each lane
    adds its row's terms in index order, with the row code's operations, so
    the results are the row code's bit for bit. In a band with an ignored
    row or a NaN loss, the rows are finished here: a NaN row is redone by
    ``_ww_row``, an ignored row zeroed.

    ``staging`` given (the staged drivers, for calls ``_rows.stages_gradient``
    picks): the bands stage their gradient blocks (``_tiles.ww_staged_rows``),
    then one fence. Numba prunes the branches on it at compile time, so each
    build holds one kind of band (with both in the loop the plain bands at
    (10⁶, 10) took 1.04–1.06x as long).
    """
    margin, p, norm, kink_frac, drop_nan, g_const, grad_denom, ignore, _ = params
    sample_weight = weights[1]
    n_classes = scores.shape[1]
    has_sw = sample_weight.shape[0] > 0
    flat, flat_grad, lanes = band_buffers(scores, grad, 5)
    acc = np.zeros(1)
    width = tile_rows(scores)
    has_grad = grad.shape[0] > 0
    i = start
    while i + width <= stop:
        scalars = (i, margin, g_const, grad_denom, ignore, norm)
        args = (flat, i * n_classes, n_classes, lanes, weights, scalars, acc, loss_out, labels)
        if staging is not None:
            special = ww_staged_rows(*args, flat_grad)
        else:
            special = ww_rows(*args, flat_grad) if has_grad else ww_loss_rows(*args, flat_grad)
        for r in range(width if special else 0):  # the band's rows, in row order
            row = i + r
            y = labels[row]
            if y == ignore:
                zero_row(row, grad, loss_out)
                continue
            total = lanes[TOTAL, r]
            if total != total:  # NaN: the row code, exactly
                g0 = scores.dtype.type(sample_weight[row] / grad_denom) if has_sw else g_const
                gbuf = grad[row] if grad.shape[0] else np.empty(n_classes, scores.dtype)
                w_y = weights[0][y]
                total = _ww_row(scores[row], y, margin, p, w_y, kink_frac, drop_nan, g0, gbuf)
            loss = total / norm
            loss = loss * sample_weight[row] if has_sw else loss
            if loss_out.shape[0]:
                loss_out[row] = loss
            acc[0] += loss
        i += width
    if staging is not None:
        store_fence()  # the streamed blocks
    return i, acc[0]


@row_jit
def _ww_chunk(c, scores, labels, weights, params, grad, loss_out, staging=None):
    """Weston–Watkins rows of chunk ``c``; returns the float64 sum of their losses.

    For the defaults (p = 1, kink "zero", NaN propagates) a row takes the
    loop below, in PyTorch's order of operations as ``_ww_row`` with fewer
    selects: a NaN ``z`` is kept (``not z <= 0``), so the row's loss turns NaN
    and the row is redone by ``_ww_row`` to put NaN in its gradient too. Runs
    of W such rows go to ``_ww_bands`` (the same results, SIMD across rows;
    ``staging``: the staged drivers' ``True``, see there).
    """
    margin, p, norm, kink_frac, drop_nan, g_const, grad_denom, ignore, rows = params
    class_weight, sample_weight = weights
    fast = p == 1 and kink_frac == 0 and not drop_nan
    has_sw = sample_weight.shape[0] > 0
    zero = margin - margin
    gbuf = grad if grad.shape[0] else np.empty((1, scores.shape[1]), scores.dtype)
    acc = np.float64(0.0)  # a float64 sum when run as Python too (NUMBA_DISABLE_JIT)
    start = c * rows
    stop = min(scores.shape[0], (c + 1) * rows)
    if fast and stop - start >= tile_rows(scores) and scores.shape[1] < 2**31:
        start, acc = _ww_bands(start, stop, scores, labels, weights, params, grad, loss_out,
                               staging)  # fmt: skip
    for i in range(start, stop):
        y = labels[i]
        if y == ignore:
            zero_row(i, grad, loss_out)
            continue
        gi = i if grad.shape[0] else 0
        g0 = scores.dtype.type(sample_weight[i] / grad_denom) if has_sw else g_const
        w_y = class_weight[y]
        total = zero
        if fast:
            base = margin - scores[i, y]
            slope = g0 * w_y
            g_y = zero
            for j in range(scores.shape[1]):
                z = base + scores[i, j]
                keep = (not z <= 0) & (j != y)
                total += z * w_y if keep else zero
                coef = slope if keep else zero
                g_y -= coef
                gbuf[gi, j] = coef
            gbuf[gi, y] = g_y
        if not fast or total != total:  # the general row, or a NaN row redone exactly
            total = _ww_row(scores[i], y, margin, p, w_y, kink_frac, drop_nan, g0, gbuf[gi])
        loss = total / norm
        loss = loss * sample_weight[i] if has_sw else loss
        if loss_out.shape[0]:
            loss_out[i] = loss
        acc += loss
    return acc


@row_jit
def _cs_bands(start, stop, scores, labels, weights, params, grad, loss_out, staging=None):
    """Crammer–Singer rows ``start..`` in bands of W; returns (next row, loss sum).

    Ties "first" and no compact output. Row ``r`` of a band is SIMD lane ``r``
    (``_tiles.cs_rows``, set-up and finish included): the max of the wrong
    scores and its first index are found for W rows at once, the band's
    gradient rows zeroed and each row's two non-zero entries written. In a
    band with a row that has a NaN, no wrong score above −inf or an ignored
    label, the rows are finished here, those by the row code (``_cs_row`` /
    ``zero_row``): the results are the row path's. ``staging`` given (the staged
    drivers, for calls ``_rows.stages_gradient`` picks): the bands stage their
    gradient blocks (``_tiles.cs_staged_rows``), then one fence.
    """
    margin, p, kink_mode, split_ties, g_const, grad_denom, ignore, _ = params
    class_weight, sample_weight = weights[0], weights[1]
    n_classes = scores.shape[1]
    has_sw = sample_weight.shape[0] > 0
    zero = margin - margin
    half = scores.dtype.type(0.5 if kink_mode == KINK_HALF else 1.0)
    flat, flat_grad, best = band_buffers(scores, grad, 1)
    index = np.empty((2, LANES), np.int64)
    acc = np.zeros(1)
    width = tile_rows(scores)
    has_grad = grad.shape[0] > 0
    i0 = start
    while i0 + width <= stop:
        scalars = (i0, margin, g_const, grad_denom, ignore, p, kink_mode, half)
        args = (flat, i0 * n_classes, n_classes, best, index, weights, scalars, acc, loss_out)
        if staging is not None:
            special = cs_staged_rows(*args, labels, flat_grad)
        elif has_grad:
            special = cs_rows(*args, labels, flat_grad)
        else:
            special = cs_loss_rows(*args, labels, flat_grad)
        for r in range(width if special else 0):  # the band's rows, in row order
            i = i0 + r
            y = labels[i]
            if y == ignore:
                zero_row(i, grad, loss_out)
                continue
            g0 = scores.dtype.type(sample_weight[i] / grad_denom) if has_sw else g_const
            w_y = class_weight[y]
            z = margin - (scores[i, y] - best[0, r])
            loss, coef = _cs_terms(z, p, g0, w_y, kink_mode, half, zero)
            if index[1, r] or index[0, r] < 0 or z != z:  # NaN or no max > -inf: the row code
                gi = i if grad.shape[0] else 0
                scratch = grad if grad.shape[0] else np.empty((1, n_classes), scores.dtype)
                loss = _cs_row(scores[i], y, margin, p, w_y, kink_mode, split_ties, g0, scratch[gi])
            elif coef != 0 and grad.shape[0]:
                grad[i, index[0, r]] = coef
                grad[i, y] = zero - coef
            loss = loss * sample_weight[i] if has_sw else loss
            if loss_out.shape[0]:
                loss_out[i] = loss
            acc[0] += loss
        i0 += width
    if staging is not None:
        store_fence()  # the streamed blocks
    return i0, acc[0]


@row_jit
def _cs_chunk(c, scores, labels, weights, params, grad, loss_out, staging=None):
    """Crammer–Singer rows of chunk ``c``; returns the float64 sum of their losses.

    With ties "first" and no compact output, runs of W rows go to
    ``_cs_bands`` (SIMD across rows, the same results), or, from ``LONG_ROW``
    classes on (``LONG_ROW_LOSS`` for the loss alone), take vector sweeps
    along each row: its max (``wrong_max``, which zeroes the gradient row as it
    reads, unless ``streams_zeros``: then the chunk's rows are zeroed first,
    past the cache) and, for an active row, the max's first index
    (``first_at_least``). Other rows of at most
    ``SMALL_ROW`` classes with ties "first" take one scalar pass below (max,
    its first index and the zeroed gradient row); a NaN wrong score, split
    ties and longer rows go to ``_cs_row`` (vectorised sweeps).
    ``weights = (class_weight, sample_weight, indices, values)``: with
    ``indices`` (N, 2) the gradient is stored compactly (see ``compress_row``).
    """
    margin, p, kink_mode, split_ties, g_const, grad_denom, ignore, rows = params
    class_weight, sample_weight, indices, values = weights
    n_classes = scores.shape[1]
    small = 1 < n_classes <= SMALL_ROW and not split_ties
    has_sw = sample_weight.shape[0] > 0
    zero = margin - margin
    half = scores.dtype.type(0.5 if kink_mode == KINK_HALF else 1.0)
    gbuf = grad if grad.shape[0] else np.empty((1, n_classes), scores.dtype)
    acc = np.float64(0.0)  # a float64 sum when run as Python too (NUMBA_DISABLE_JIT)
    start = c * rows
    stop = min(scores.shape[0], (c + 1) * rows)
    bands = n_classes > 1 and not split_ties and indices.shape[0] == 0 and n_classes < 2**31
    bands &= stop - start >= tile_rows(scores)
    nbytes = scores.size * scores.itemsize
    sweeps = bands and long_rows(n_classes, nbytes, grad.shape[0] > 0)
    if bands and not sweeps:
        start, acc = _cs_bands(start, stop, scores, labels, weights, params, grad, loss_out,
                               staging)  # fmt: skip
    flat, flat_grad = scores.reshape(scores.size), grad.reshape(grad.size)
    streaming = sweeps and grad.shape[0] > 0
    streaming = streaming and streams_zeros(n_classes, scores.itemsize, nbytes, 2)
    zeroed = flat_grad[:0] if streaming else flat_grad  # the rows wrong_max zeroes as it reads
    if streaming:  # the chunk's gradient rows zeroed first, past the cache
        stream_zeros(flat_grad, start * n_classes, (stop - start) * n_classes)
        store_fence()
    for i in range(start, stop):
        y = labels[i]
        gi = i if grad.shape[0] else 0
        if y == ignore:
            zero_row(i, grad, loss_out)
            gbuf[gi, :] = 0
            compress_row(gbuf[gi], i, indices, values)
            continue
        g0 = scores.dtype.type(sample_weight[i] / grad_denom) if has_sw else g_const
        w_y = class_weight[y]
        loss = zero
        redo = not small
        if small:
            best = scores[i, 0]
            j_best = -1
            for j in range(n_classes):
                v = scores[i, j]
                gbuf[gi, j] = zero
                redo |= v != v and j != y
                if j != y and (j_best < 0 or v > best):
                    best = v
                    j_best = j
            z = margin - (scores[i, y] - best)
            coef = zero
            if z > 0 or z != z:
                coef = z if z != z else (g0 if p == 1 else (g0 + g0) * z) * w_y
                loss = z if z != z else (z if p == 1 else z * z) * w_y
            elif z == 0 and p == 1 and kink_mode != KINK_ZERO:
                coef = g0 * w_y * half
            if coef != 0 and not redo:
                gbuf[gi, j_best] = coef
                gbuf[gi, y] = zero - coef
        elif sweeps:  # the band's results, a row at a time: a NaN row is redone below
            best = wrong_max(flat, i * n_classes, n_classes, y, zeroed, None, 0)  # grad[i] = 0
            z = margin - (scores[i, y] - best)
            redo = z != z
            loss, coef = _cs_terms(z, p, g0, w_y, kink_mode, half, zero)
            if grad.shape[0] and not redo:
                if coef != 0:
                    grad[i, first_at_least(flat, i * n_classes, n_classes, y, best)] = coef
                    grad[i, y] = zero - coef
        if redo:  # long rows, split ties, or a NaN wrong score
            loss = _cs_row(scores[i], y, margin, p, w_y, kink_mode, split_ties, g0, gbuf[gi])
        if indices.shape[0]:
            compress_row(gbuf[gi], i, indices, values)
        loss = loss * sample_weight[i] if has_sw else loss
        if loss_out.shape[0]:
            loss_out[i] = loss
        acc += loss
    return acc


@serial_jit
def weston_watkins_serial(scores, labels, weights, params, grad, loss_out, partials):
    """Serial driver: the chunks in order (same chunks and sums as the parallel one)."""
    for c in range(partials.shape[0]):
        partials[c] = _ww_chunk(c, scores, labels, weights, params, grad, loss_out)


@parallel_jit
def weston_watkins_parallel(scores, labels, weights, params, grad, loss_out, partials):
    """Parallel driver: ``prange`` over the fixed chunks."""
    for c in numba.prange(partials.shape[0]):
        partials[c] = _ww_chunk(c, scores, labels, weights, params, grad, loss_out)


@serial_jit
def weston_watkins_staged_serial(scores, labels, weights, params, grad, loss_out, partials):
    """``weston_watkins_serial`` whose bands stage their gradient (``_ww_staged_bands``)."""
    for c in range(partials.shape[0]):
        partials[c] = _ww_chunk(c, scores, labels, weights, params, grad, loss_out, True)


@parallel_jit
def weston_watkins_staged_parallel(scores, labels, weights, params, grad, loss_out, partials):
    """``weston_watkins_parallel`` whose bands stage their gradient (``_ww_staged_bands``)."""
    for c in numba.prange(partials.shape[0]):
        partials[c] = _ww_chunk(c, scores, labels, weights, params, grad, loss_out, True)


@serial_jit
def crammer_singer_serial(scores, labels, weights, params, grad, loss_out, partials):
    """Serial driver: the chunks in order (same chunks and sums as the parallel one)."""
    for c in range(partials.shape[0]):
        partials[c] = _cs_chunk(c, scores, labels, weights, params, grad, loss_out)


@parallel_jit
def crammer_singer_parallel(scores, labels, weights, params, grad, loss_out, partials):
    """Parallel driver: ``prange`` over the fixed chunks."""
    for c in numba.prange(partials.shape[0]):
        partials[c] = _cs_chunk(c, scores, labels, weights, params, grad, loss_out)


@serial_jit
def crammer_singer_staged_serial(scores, labels, weights, params, grad, loss_out, partials):
    """``crammer_singer_serial`` whose bands stage their gradient (``cs_staged_rows``)."""
    for c in range(partials.shape[0]):
        partials[c] = _cs_chunk(c, scores, labels, weights, params, grad, loss_out, True)


@parallel_jit
def crammer_singer_staged_parallel(scores, labels, weights, params, grad, loss_out, partials):
    """``crammer_singer_parallel`` whose bands stage their gradient (``cs_staged_rows``)."""
    for c in numba.prange(partials.shape[0]):
        partials[c] = _cs_chunk(c, scores, labels, weights, params, grad, loss_out, True)
