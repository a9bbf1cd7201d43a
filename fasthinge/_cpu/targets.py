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
from ._simd import maximum, store_fence
from ._tiles import CACHE_LINE_BYTES as LINE
from ._tiles import LANES, categorical_band, tile_rows
from ._transposed import (
    BAND,
    ROW_ACTIVE,
    ROW_DONE,
    ROW_ZERO,
    categorical_grad_rows,
    categorical_staged_grad_rows,
    multilabel_block_pass,
    multilabel_pass,
    stream_copy,
    transpose_block_in,
    transpose_block_out,
    transpose_in,
    transpose_out,
)


@row_jit
def _categorical_row(scores, targets, i, margin, kink_frac, split_ties, g0, g, gi):
    """Keras ``max(0, max_c((1 − t_c)·s_c) − Σ_c t_c·s_c + m)`` of row ``i``; gradient in ``g[gi]``.

    Rows are taken by index, not as slices: a slice is a new array, with
    reference counting on every row (see the note in ``multiclass.py``).
    """
    zero = margin - margin
    one = scores.dtype.type(1.0)
    pos = zero
    neg = scores.dtype.type(-np.inf)
    for c in range(scores.shape[1]):
        pos += targets[i, c] * scores[i, c]
        neg = maximum(neg, (one - targets[i, c]) * scores[i, c])
    z = neg - pos + margin
    if z > 0 or z != z:
        scale = g0 if z > 0 else z
    elif z == 0:
        scale = g0 * kink_frac
    else:
        g[gi, :] = zero
        return zero
    _categorical_grad(scores, targets, i, neg, scale, split_ties, g, gi)
    return z if z > 0 or z != z else zero


@row_jit
def _categorical_grad(scores, targets, i, neg, scale, split_ties, g, gi):
    """An active row ``i``'s gradient into ``g[gi]``.

    ``scale`` on the max of ``(1 − t)·s`` (split among ties, or on the first),
    minus ``scale·t`` everywhere.
    """
    n_classes = scores.shape[1]
    zero = scores.dtype.type(0.0)  # = margin − margin: margins are finite
    one = scores.dtype.type(1.0)
    first, n_ties = n_classes, 0
    for c in range(n_classes):
        hit = (one - targets[i, c]) * scores[i, c] == neg
        first = min(first, c if hit else n_classes)
        n_ties += hit
    share = scale / scores.dtype.type(n_ties) if split_ties and n_ties > 1 else scale
    for c in range(n_classes):
        t = targets[i, c]
        wins = (one - t) * scores[i, c] == neg if split_ties else c == first
        g[gi, c] = (share * (one - t) if wins else zero) - scale * t


def _categorical_grad_rows_python(flat, flat_targets, row_offset, n_classes, sums, scales,
                                  modes, grad, split_ties):  # fmt: skip
    """``_transposed.categorical_grad_rows`` as plain Python (``_categorical_grad``'s loops)."""
    scores = flat.reshape(-1, n_classes)
    targets = flat_targets.reshape(-1, n_classes)
    g = grad.reshape(-1, n_classes)
    for r in range(modes.shape[0]):
        row = row_offset // n_classes + r
        if modes[r] == ROW_ZERO:
            g[row, :] = 0
        elif modes[r] == ROW_ACTIVE:
            _categorical_grad(scores, targets, row, sums[1, r], scales[r], split_ties, g, row)


def _categorical_staged_grad_rows_python(*args):
    """``_transposed.categorical_staged_grad_rows`` as plain Python: the rows, unstaged."""
    _categorical_grad_rows_python(*args[:-1])


if numba.config.DISABLE_JIT:  # intrinsics only exist compiled
    categorical_grad_rows = _categorical_grad_rows_python
    categorical_staged_grad_rows = _categorical_staged_grad_rows_python


@row_jit
def _categorical_bands(start, stop, scores, targets, weights, params, grad, loss_out,
                       staging=None):  # fmt: skip
    """Rows ``start..`` in bands of W; returns (next row, loss sum).

    Row ``r`` of a band is SIMD lane ``r`` (``_tiles.categorical_band``):
    ``Σ t·s`` in index order and the max of ``(1 − t)·s``, as the row code
    computes them; the active rows' gradients are then ``_categorical_grad``'s
    (``_transposed.categorical_grad_rows``: row-major vectors, the same
    operations). A row with a NaN ``(1 − t)·s`` or a NaN ``z`` is redone by
    ``_categorical_row``. ``staging`` given (the staged drivers): bands with
    no such row stage their gradient block (``categorical_staged_grad_rows``),
    then one fence; omitted, Numba prunes that code (``multiclass._ww_bands``).
    """
    margin, kink_frac, split_ties, g_const, grad_denom, _ = params
    (sample_weight,) = weights
    n_classes = scores.shape[1]
    has_sw = sample_weight.shape[0] > 0
    zero = margin - margin
    flat = scores.reshape(scores.size)
    flat_targets = targets.reshape(targets.size)
    gflat = grad.reshape(grad.size)
    width = tile_rows(scores)
    # the lanes' state in two arrays (views of them cost no allocation, ~30 ns each):
    # the two sums and the scales; the NaN flags, the modes and the (unused) labels
    floats = np.empty((3, LANES), scores.dtype)
    ints = np.empty((3, LANES), np.int64)
    sums, scales = floats[:2], floats[2, :width]
    nan, modes, no_labels = ints[:1], ints[1, :width], ints[2]
    no_labels[:] = -1
    gbuf = grad if grad.shape[0] else np.empty((1, n_classes), scores.dtype)
    scratch = np.empty(width * n_classes if staging is not None else 0, scores.dtype)
    acc = np.float64(0.0)  # a float64 sum when run as Python too (NUMBA_DISABLE_JIT)
    i = start
    while i + width <= stop:
        categorical_band(flat, i * n_classes, n_classes, flat_targets, sums, nan, no_labels, grad)
        for r in range(width):
            row = i + r
            gi = row if grad.shape[0] else 0
            g0 = scores.dtype.type(sample_weight[row] / grad_denom) if has_sw else g_const
            z = sums[1, r] - sums[0, r] + margin
            modes[r] = ROW_DONE
            if nan[0, r] or z != z:  # the row code, exactly
                loss = _categorical_row(scores, targets, row, margin, kink_frac, split_ties, g0,
                                        gbuf, gi)  # fmt: skip
            elif z < 0:
                loss = zero
                modes[r] = ROW_ZERO
            else:
                loss = z if z > 0 else zero
                scales[r] = g0 if z > 0 else g0 * kink_frac
                modes[r] = ROW_ACTIVE
            loss = loss * sample_weight[row] if has_sw else loss
            if loss_out.shape[0]:
                loss_out[row] = loss
            acc += loss
        if grad.shape[0]:
            args = (i * n_classes, n_classes, sums, scales, modes, gflat, split_ties)
            if staging is not None and ROW_DONE not in modes:  # (a redone row is written)
                categorical_staged_grad_rows(flat, flat_targets, *args, scratch)
            else:
                categorical_grad_rows(flat, flat_targets, *args)
        i += width
    if staging is not None:
        store_fence()  # the streamed blocks
    return i, acc


@row_jit
def _categorical_chunk(c, scores, targets, weights, params, grad, loss_out, staging=None):
    """Rows of chunk ``c``; returns the float64 sum of their losses.

    Runs of W rows go to ``_categorical_bands`` (SIMD across rows, the same
    results; ``staging``: the staged drivers' ``True``, see there).
    """
    margin, kink_frac, split_ties, g_const, grad_denom, rows = params
    (sample_weight,) = weights
    gbuf = grad if grad.shape[0] else np.empty((1, scores.shape[1]), scores.dtype)
    acc = np.float64(0.0)  # a float64 sum when run as Python too (NUMBA_DISABLE_JIT)
    start = c * rows
    stop = min(scores.shape[0], (c + 1) * rows)
    if stop - start >= tile_rows(scores) and scores.shape[1] < 2**31:
        args = (scores, targets, weights, params, grad, loss_out, staging)
        start, acc = _categorical_bands(start, stop, *args)
    for i in range(start, stop):
        gi = i if grad.shape[0] else 0
        g0 = scores.dtype.type(sample_weight[i] / grad_denom) if sample_weight.shape[0] else g_const
        loss = _categorical_row(scores, targets, i, margin, kink_frac, split_ties, g0, gbuf, gi)
        loss = loss * sample_weight[i] if sample_weight.shape[0] else loss
        if loss_out.shape[0]:
            loss_out[i] = loss
        acc += loss
    return acc


@row_jit
def _multilabel_row(scores, targets, i, margin, kink_frac, drop_nan, g0, g, gi, is_target):
    """PyTorch: ``Σ_{k} Σ_{d ∉ T} (m − x[t_k] + x[d])_+ / C`` of row ``i``, in PyTorch's order.

    The gradient goes into ``g[gi]``. Rows are taken by index, not as slices
    (see ``_categorical_row``).
    """
    n_classes = scores.shape[1]
    zero = margin - margin
    for d in range(n_classes):
        is_target[d] = False
        g[gi, d] = zero
    n_targets = 0
    while n_targets < n_classes and targets[i, n_targets] >= 0:
        is_target[targets[i, n_targets]] = True
        n_targets += 1
    total = 0.0  # PyTorch sums a row in its accumulate type (double)
    for k in range(n_targets):
        target = targets[i, k]
        base = margin - scores[i, target]
        g_target = g[gi, target]  # in a register: the same subtractions, in the same order
        for d in range(n_classes):
            if is_target[d]:
                continue
            z = base + scores[i, d]
            coef = g0 if z > 0 else (g0 * kink_frac if z == 0 else zero)
            keep_nan = (z != z) & (not drop_nan)  # PyTorch (drop_nan) skips NaN terms
            coef = z if keep_nan else coef
            if z > 0 or keep_nan:
                total += z
            g_target -= coef
            g[gi, d] += coef
        g[gi, target] = g_target
    return scores.dtype.type(total) / scores.dtype.type(n_classes)


#: Rows of a multilabel band (SIMD lanes), and the most classes it takes whole: the
#: band's transposed scores, gradient and target mask are (C, 16) scratch arrays
#: (144 KB at 1024 float32 classes). Longer rows go in blocks of at most that many
#: columns (``_multilabel_long_bands``). Bands vs rows, one thread, two targets, ns a
#: row: C = 200 941–979 vs 1827–1890, C = 1000 7136–7249 vs 9471–9849.
MULTILABEL_BAND_ROWS = 16
MULTILABEL_BAND_MAX_CLASSES = 1024


@row_jit
def _band_losses(first, totals, scores, sample_weight, loss_out, acc):
    """``acc`` plus a multilabel band's row losses, in row order.

    The losses ``totals / C`` (times the sample weights) also go into
    ``loss_out``; ``first`` is the band's first row.
    """
    dtype, n_classes = scores.dtype.type, scores.shape[1]
    for r in range(totals.shape[0]):
        row = first + r
        loss = dtype(totals[r]) / dtype(n_classes)
        loss = loss * sample_weight[row] if sample_weight.shape[0] else loss
        if loss_out.shape[0]:
            loss_out[row] = loss
        acc += loss
    return acc


@row_jit
def _multilabel_bands(start, stop, scores, targets, weights, params, grad, loss_out, acc,
                      staging=None):  # fmt: skip
    """Rows ``start..`` in bands of 16; returns (next row, ``acc`` + their losses, in row order).

    Rows are lanes (``_transposed``): the band is copied transposed into
    ``tile`` (C, 16) and its target mask into ``is_target``; then, target
    after target (a lane past its last target adds nothing), ``multilabel_pass``
    runs ``_multilabel_row``'s operations lane-wise and branch-free, column
    after column, in its order: a target column, or a lane without that target,
    adds ``±0.0`` to the float64 sum and ``+0.0`` to the gradient (no change:
    neither is ever −0.0). The pass gathers each lane's target itself. The
    gradient tile goes back transposed; ``staging`` given (the staged drivers),
    into a scratch first, a band on whole cache lines, which is then streamed
    out (``stream_copy``), with one fence at the end.
    """
    margin, kink_frac, drop_nan, g_const, grad_denom, _ = params
    (sample_weight,) = weights
    n_classes = scores.shape[1]
    width = MULTILABEL_BAND_ROWS
    dtype = scores.dtype.type
    has_sw = sample_weight.shape[0] > 0
    keep_nan = not drop_nan
    padded = (n_classes + BAND - 1) // BAND * BAND  # whole blocks of 16 in scratch
    tile = np.empty((padded, width), scores.dtype)
    gtile = np.empty((padded, width), scores.dtype)
    is_target = np.empty((padded, width), np.bool_)
    g0s = np.empty(width, scores.dtype)
    totals = np.empty(width, np.float64)
    n_targets = np.empty(width, np.int64)
    flat, gflat = scores.reshape(scores.size), grad.reshape(grad.size)
    flat_targets = targets.reshape(targets.size)
    block = width * n_classes
    scratch = np.empty(block if staging is not None else 0, scores.dtype)
    i = start
    while i + width <= stop:
        transpose_in(flat, i * n_classes, n_classes, tile)
        gtile[:] = 0
        is_target[:] = False
        most = 0
        for r in range(width):
            row = i + r
            g0s[r] = dtype(sample_weight[row] / grad_denom) if has_sw else g_const
            totals[r] = 0.0
            n = 0
            while n < n_classes and targets[row, n] >= 0:
                is_target[targets[row, n], r] = True
                n += 1
            n_targets[r] = n
            most = max(most, n)
        for t in range(most):
            multilabel_pass(tile, is_target, gtile, g0s, totals, flat_targets, i * n_classes, t,
                            n_targets, n_classes, margin, kink_frac, keep_nan)  # fmt: skip
        if grad.shape[0]:
            offset = i * n_classes
            if staging is not None and _on_lines(gflat, offset, block):
                transpose_out(gtile, scratch, 0, n_classes)
                stream_copy(scratch, gflat, offset, block)
            else:
                transpose_out(gtile, gflat, offset, n_classes)
        acc = _band_losses(i, totals, scores, sample_weight, loss_out, acc)
        i += width
    if staging is not None:
        store_fence()  # the streamed blocks
    return i, acc


@row_jit
def _on_lines(flat, start, n):
    """Whether ``flat[start : start + n]`` starts a cache line and fills whole lines."""
    item = flat.itemsize
    return (flat.ctypes.data + start * item) % LINE == 0 and n * item % LINE == 0


@row_jit
def _multilabel_long_bands(start, stop, scores, targets, weights, params, grad, loss_out, acc):
    """``_multilabel_bands`` for rows longer than ``MULTILABEL_BAND_MAX_CLASSES``.

    Each target's pass walks the row in column blocks (as many as needed, of
    equal width up to one column, at least 513 wide): the block's scores, and
    from the second target on its gradient so far, transposed into scratch, the
    block's target columns marked, then ``multilabel_block_pass``, and the
    gradient block back. Each lane's ``base = margin − s_target`` and running
    ``g_target`` stay in (16,) arrays across the blocks, and ``g_target`` is
    stored after the last one; the float64 sums carry across blocks and targets.
    Column after column in the row's order, hence ``_multilabel_row``'s results.
    """
    margin, kink_frac, drop_nan, g_const, grad_denom, _ = params
    (sample_weight,) = weights
    n_classes = scores.shape[1]
    width = MULTILABEL_BAND_ROWS
    dtype = scores.dtype.type
    zero = margin - margin
    has_sw = sample_weight.shape[0] > 0
    has_grad = grad.shape[0] > 0
    keep_nan = not drop_nan
    n_blocks = (n_classes + MULTILABEL_BAND_MAX_CLASSES - 1) // MULTILABEL_BAND_MAX_CLASSES
    block = (n_classes + n_blocks - 1) // n_blocks
    padded = (block + BAND - 1) // BAND * BAND
    tile = np.empty((padded, width), scores.dtype)
    gtile = np.empty((padded, width), scores.dtype)
    is_target = np.empty((padded, width), np.bool_)
    g0s = np.empty(width, scores.dtype)
    bases = np.empty(width, scores.dtype)
    g_targets = np.empty(width, scores.dtype)
    totals = np.empty(width, np.float64)
    n_targets = np.empty(width, np.int64)
    flat, gflat = scores.reshape(scores.size), grad.reshape(grad.size)
    i = start
    while i + width <= stop:
        most = 0
        for r in range(width):
            row = i + r
            g0s[r] = dtype(sample_weight[row] / grad_denom) if has_sw else g_const
            totals[r] = 0.0
            n = 0
            while n < n_classes and targets[row, n] >= 0:
                n += 1
            n_targets[r] = n
            most = max(most, n)
        if most == 0 and has_grad:  # no pass writes the band's gradient rows
            grad[i : i + width] = zero
        for t in range(most):
            for r in range(width):
                row = i + r
                target = targets[row, t] if t < n_targets[r] else 0
                bases[r] = margin - scores[row, target]
                g_targets[r] = grad[row, target] if has_grad and t > 0 else zero
            for j0 in range(0, n_classes, block):
                length = min(block, n_classes - j0)
                at = i * n_classes + j0
                transpose_block_in(flat, at, n_classes, length, tile)
                if has_grad and t > 0:
                    transpose_block_in(gflat, at, n_classes, length, gtile)
                else:
                    gtile[:length] = zero
                is_target[:length] = False
                for r in range(width):
                    for n in range(n_targets[r]):
                        column = targets[i + r, n] - j0
                        if 0 <= column < length:
                            is_target[column, r] = True
                multilabel_block_pass(tile, is_target, gtile, g0s, totals, bases, g_targets, t,
                                      n_targets, length, margin, kink_frac, keep_nan)  # fmt: skip
                if has_grad:
                    transpose_block_out(gtile, gflat, at, n_classes, length)
            for r in range(width if has_grad else 0):
                if t < n_targets[r]:
                    grad[i + r, targets[i + r, t]] = g_targets[r]
        acc = _band_losses(i, totals, scores, sample_weight, loss_out, acc)
        i += width
    return i, acc


#: The last argument of ``_multilabel_chunk``: whether rows longer than
#: ``MULTILABEL_BAND_MAX_CLASSES`` may come in runs of 16 (the ``_long`` drivers), or
#: not (the other drivers, and the small entry: 16 of them are more than its one
#: chunk). Numba prunes an ``if long_rows is not None`` branch on the constant's type:
#: those do not compile the column blocks (the small entry's cold first call 7.2–7.4 s
#: with them, 4.8–5.3 s without).
ANY_ROWS, SHORT_ROWS = True, None


@row_jit
def _multilabel_chunk(c, scores, targets, weights, params, grad, loss_out, long_rows,
                      staging=None):  # fmt: skip
    """Rows of chunk ``c``; returns the float64 sum of their losses (in row order).

    Runs of 16 rows take ``_multilabel_bands`` (SIMD across rows, the same
    results), or, above ``MULTILABEL_BAND_MAX_CLASSES`` classes and unless
    ``long_rows`` is ``SHORT_ROWS``, ``_multilabel_long_bands``; the rest of the
    chunk the row code.
    """
    margin, kink_frac, drop_nan, g_const, grad_denom, rows = params
    (sample_weight,) = weights
    gbuf = grad if grad.shape[0] else np.empty((1, scores.shape[1]), scores.dtype)
    is_target = np.empty(scores.shape[1], np.bool_)
    acc = np.float64(0.0)  # a float64 sum when run as Python too (NUMBA_DISABLE_JIT)
    start = c * rows
    stop = min(scores.shape[0], (c + 1) * rows)
    args = (scores, targets, weights, params, grad, loss_out)
    if scores.shape[1] <= MULTILABEL_BAND_MAX_CLASSES:
        start, acc = _multilabel_bands(start, stop, *args, acc, staging)
    elif long_rows is not None:
        start, acc = _multilabel_long_bands(start, stop, *args, acc)
    for i in range(start, stop):
        gi = i if grad.shape[0] else 0
        g0 = scores.dtype.type(sample_weight[i] / grad_denom) if sample_weight.shape[0] else g_const
        loss = _multilabel_row(scores, targets, i, margin, kink_frac, drop_nan, g0, gbuf, gi,
                               is_target)  # fmt: skip
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
def categorical_hinge_staged_serial(scores, targets, weights, params, grad, loss_out, partials):
    """``categorical_hinge_serial`` whose bands stage their gradient blocks."""
    for c in range(partials.shape[0]):
        partials[c] = _categorical_chunk(c, scores, targets, weights, params, grad, loss_out, True)


@parallel_jit
def categorical_hinge_staged_parallel(scores, targets, weights, params, grad, loss_out, partials):
    """``categorical_hinge_parallel`` whose bands stage their gradient blocks."""
    for c in numba.prange(partials.shape[0]):
        partials[c] = _categorical_chunk(c, scores, targets, weights, params, grad, loss_out, True)


@serial_jit
def multilabel_margin_serial(scores, targets, weights, params, grad, loss_out, partials):
    """Serial driver: the chunks in order (same chunks and sums as the parallel one).

    For rows of at most ``MULTILABEL_BAND_MAX_CLASSES`` classes (``SHORT_ROWS``).
    """
    for c in range(partials.shape[0]):
        partials[c] = _multilabel_chunk(c, scores, targets, weights, params, grad, loss_out,
                                        SHORT_ROWS)  # fmt: skip


@parallel_jit
def multilabel_margin_parallel(scores, targets, weights, params, grad, loss_out, partials):
    """Parallel driver: ``prange`` over the fixed chunks.

    For rows of at most ``MULTILABEL_BAND_MAX_CLASSES`` classes: without the column
    blocks (pruned on ``SHORT_ROWS``; longer rows take ``multilabel_margin_long_*``) its
    cold compile took 6.1–6.7 s instead of 12.0 (the first call, two threads, float32,
    (400, 100): 7.8–8.3 s instead of 13.8).
    """
    for c in numba.prange(partials.shape[0]):
        partials[c] = _multilabel_chunk(c, scores, targets, weights, params, grad, loss_out,
                                        SHORT_ROWS)  # fmt: skip


@serial_jit
def multilabel_margin_long_serial(scores, targets, weights, params, grad, loss_out, partials):
    """``multilabel_margin_serial`` for longer rows (``_multilabel_long_bands``)."""
    for c in range(partials.shape[0]):
        partials[c] = _multilabel_chunk(c, scores, targets, weights, params, grad, loss_out,
                                        ANY_ROWS)  # fmt: skip


@parallel_jit
def multilabel_margin_long_parallel(scores, targets, weights, params, grad, loss_out, partials):
    """``multilabel_margin_parallel`` for longer rows (``_multilabel_long_bands``)."""
    for c in numba.prange(partials.shape[0]):
        partials[c] = _multilabel_chunk(c, scores, targets, weights, params, grad, loss_out,
                                        ANY_ROWS)  # fmt: skip


@serial_jit
def multilabel_margin_staged_serial(scores, targets, weights, params, grad, loss_out, partials):
    """``multilabel_margin_serial`` whose bands stage their gradient blocks."""
    for c in range(partials.shape[0]):
        partials[c] = _multilabel_chunk(c, scores, targets, weights, params, grad, loss_out,
                                        SHORT_ROWS, True)  # fmt: skip


@parallel_jit
def multilabel_margin_staged_parallel(scores, targets, weights, params, grad, loss_out,
                                      partials):  # fmt: skip
    """``multilabel_margin_parallel`` whose bands stage their gradient blocks."""
    for c in numba.prange(partials.shape[0]):
        partials[c] = _multilabel_chunk(c, scores, targets, weights, params, grad, loss_out,
                                        SHORT_ROWS, True)  # fmt: skip
