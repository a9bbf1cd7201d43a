"""CUDA kernels of every public loss: fused loss + gradient, deterministic partial sums.

Layouts (chosen by ``api`` from the shape; ``G`` is a kernel argument):

- **Row groups** (every multiclass loss above ``_tiles.MAX_CLASSES`` classes; below, the
  tiles of ``_tiles`` run the same row functions of ``_rows``): a group of ``G``
  consecutive threads (a power of two, ``G ≥ C`` rounded up, at most a block)
  owns one row; a block of ``TPB`` threads handles ``TPB / G`` consecutive
  rows at a time, so for small C a warp reads ``32 / G`` whole consecutive
  rows (contiguous memory: coalesced) and for large C a whole block sweeps one
  row with unit stride. Lane ``l`` reads columns ``l, l + G, …``. The per-row
  sums and the max (value, first index, tie count) are combined in shared
  memory by a fixed tree. Top-k and multilabel margin take a data-dependent
  number of group rounds per row (top-k: up to k for ``tau``, and up to k more
  to pick the first tied columns without split ties; multilabel margin: one
  per target); whether another round runs is a block vote
  (``syncthreads_or``), so every thread of a block takes the same rounds.
- **Elements** (the binary family): one thread per element, grid-stride.

Every kernel ends with a block reduction of its threads' float64 loss sums
into ``partials[blockIdx.x]``; ``finalize`` adds the partials in a fixed
order. There are no atomics: the result depends on the shape only.

All reductions use shared memory and barriers (never warp shuffles), so the
CUDA simulator runs every line of this module except one: ``group_barrier``'s
``cuda.syncwarp()``, which real hardware uses for groups of at most a warp
(the simulator, which has no ``syncwarp``, takes the ``syncthreads`` beside
it: a stronger barrier around the same code). The kernels are built
per compute type ``T`` (float32 for bfloat16/float16/float32 inputs, float64
for float64): values are loaded with ``load`` (``T(x)``, or for bfloat16 the
bits widened to float32) and gradients are stored with ``put`` in the input
dtype (bfloat16: rounded to nearest even). Row offsets are 64-bit (``int64``
row indices, Numba's intp strides), so N·C > 2³¹ is addressed correctly.
"""

from __future__ import annotations

import functools
import math
from types import SimpleNamespace

import numpy as np
from numba import float32, float64, int16, int64, uint16, uint32

from ._runtime import SIMULATOR, TPB, cuda

KINK_ZERO, KINK_FULL, KINK_HALF = 0, 1, 2
MARGIN_RESCALING, SLACK_RESCALING, TOPK_ALPHA, TOPK_BETA = 0, 1, 2, 3
HINGE, SQUARED, SMOOTH, EMBEDDING, MODIFIED_HUBER = 1, 2, 3, 4, 5
#: ``label_stats`` kinds: class indices, binary codes, any value (no check).
CLASS_LABELS, BINARY_LABELS, ANY_LABELS = 0, 1, 2
#: Groups of at most a warp synchronise with ``syncwarp`` on hardware. The simulator
#: has no ``syncwarp``: there every group barrier is a ``syncthreads`` (stronger,
#: same logic), so the ``syncwarp`` line is the only line it never runs.
WARP_BARRIERS = not SIMULATOR


@cuda.jit(device=True)
def group_barrier(group):
    """Barrier for the threads of one row group (called by every thread of the block)."""
    if WARP_BARRIERS and group <= 32:
        cuda.syncwarp()  # real hardware only (a group never straddles a warp)
    else:
        cuda.syncthreads()


@cuda.jit(device=True)
def group_sum(buf, t, lane, group, value):
    """The float64 sum of ``value`` over the ``group`` threads of ``t``'s row (all threads call)."""
    buf[t] = value
    group_barrier(group)
    step = group // 2
    while step > 0:
        if lane < step:
            buf[t] += buf[t + step]
        group_barrier(group)
        step //= 2
    total = buf[t - lane]
    group_barrier(group)
    return total


@cuda.jit(device=True)
def group_sum2(buf, buf2, t, lane, group, a, b):
    """``group_sum`` of two values at once (one tree, half the barriers)."""
    buf[t] = a
    buf2[t] = b
    group_barrier(group)
    step = group // 2
    while step > 0:
        if lane < step:
            buf[t] += buf[t + step]
            buf2[t] += buf2[t + step]
        group_barrier(group)
        step //= 2
    r = t - lane
    total_a, total_b = buf[r], buf2[r]
    group_barrier(group)
    return total_a, total_b


@cuda.jit(device=True)
def group_min(buf, t, lane, group, value):
    """The minimum of ``value`` over the ``group`` threads of ``t``'s row (all threads call)."""
    buf[t] = value
    group_barrier(group)
    step = group // 2
    while step > 0:
        if lane < step and buf[t + step] < buf[t]:
            buf[t] = buf[t + step]
        group_barrier(group)
        step //= 2
    result = buf[t - lane]
    group_barrier(group)
    return result


@cuda.jit(device=True)
def block_sum(buf, t, value):
    """The float64 sum of ``value`` over the block, in a fixed tree order (all threads call)."""
    buf[t] = value
    cuda.syncthreads()
    step = TPB // 2
    while step > 0:
        if t < step:
            buf[t] += buf[t + step]
        cuda.syncthreads()
        step //= 2
    return buf[0]


@cuda.jit(device=True)
def block_min(buf, t, value):
    """The minimum of ``value`` over the block (all threads call)."""
    buf[t] = value
    cuda.syncthreads()
    step = TPB // 2
    while step > 0:
        if t < step and buf[t + step] < buf[t]:
            buf[t] = buf[t + step]
        cuda.syncthreads()
        step //= 2
    return buf[0]


@cuda.jit(device=True)
def label_at(labels, i, n_rows, ignore):
    """``labels[i]`` for a row of the launch, else ``ignore`` (never read out of bounds)."""
    y = ignore
    if i < n_rows:
        y = labels[i]
    return y


@cuda.jit(device=True)
def classify(y, i, n_rows, n_classes, ignore, lane, first_bad):
    """``(inside, live, first_bad)`` of row ``i`` with label ``y`` (see ``row_label``)."""
    inside = i < n_rows
    live = inside and y != ignore and y >= 0 and y < n_classes
    if inside and not live and y != ignore and lane == 0 and i < first_bad:
        first_bad = float64(i)
    return inside, live, first_bad


@cuda.jit(device=True)
def row_label(labels, i, n_rows, n_classes, ignore, lane, first_bad):
    """``(inside, y, live, first_bad)`` for row ``i`` of a row group.

    ``live``: a row of this launch with a label in ``[0, C)`` (not ignored). An
    invalid label lowers ``first_bad`` to ``i`` (lane 0 only), which the caller
    reports after the launch; it is never used as an index.
    """
    y = label_at(labels, i, n_rows, ignore)
    inside, live, first_bad = classify(y, i, n_rows, n_classes, ignore, lane, first_bad)
    return inside, y, live, first_bad


@cuda.jit(device=True)
def store_block_results(buf, mbuf, t, acc, first_bad, partials, bad):
    """The block's float64 loss sum into ``partials`` and its first invalid row into ``bad``."""
    total = block_sum(buf, t, acc)
    worst = block_min(mbuf, t, first_bad)
    if t == 0:
        partials[cuda.blockIdx.x] = total
        bad[cuda.blockIdx.x] = worst


@cuda.jit(device=True)
def merge(v1, i1, n1, v2, i2, n2):
    """Combine two (max value, first index, tie count) triples.

    NaN beats every number (the first NaN wins, count 1), then the larger
    value; equal values keep the lower index and add their counts.
    """
    if v1 != v1 or v2 != v2:
        if v1 != v1 and (v2 == v2 or i1 < i2):
            return v1, i1, int64(1)
        return v2, i2, int64(1)
    if v1 > v2:
        return v1, i1, n1
    if v2 > v1:
        return v2, i2, n2
    return v1, (i1 if i1 < i2 else i2), n1 + n2


@cuda.jit(device=True)
def group_argmax(vbuf, ibuf, nbuf, t, lane, group, value, index, count):
    """``merge`` over the ``group`` threads of ``t``'s row (all threads call)."""
    vbuf[t] = value
    ibuf[t] = index
    nbuf[t] = count
    group_barrier(group)
    step = group // 2
    while step > 0:
        if lane < step:
            v, i, n = merge(vbuf[t], ibuf[t], nbuf[t], vbuf[t + step], ibuf[t + step],
                            nbuf[t + step])  # fmt: skip
            vbuf[t] = v
            ibuf[t] = i
            nbuf[t] = n
        group_barrier(group)
        step //= 2
    r = t - lane
    v, i, n = vbuf[r], ibuf[r], nbuf[r]
    group_barrier(group)
    return v, i, n


@cuda.jit
def finalize(partials, n_partials, mean, denominator, out):
    """``out[0]`` = Σ partials (fixed order), divided by ``denominator`` when ``mean``.

    One block. A zero denominator gives NaN (the mean of no rows).
    """
    buf = cuda.shared.array(TPB, float64)
    t = cuda.threadIdx.x
    acc = 0.0
    for k in range(t, n_partials, TPB):
        acc += partials[k]
    total = block_sum(buf, t, acc)
    if t == 0:
        value = total
        if mean:
            value = total / denominator if denominator != 0 else math.nan
        out[0] = value


@cuda.jit
def finalize_columns(columns, denominator, out):
    """``out[j]`` = Σ_c columns[c, j] / denominator (fixed order), NaN for a zero denominator."""
    j = cuda.blockIdx.x * TPB + cuda.threadIdx.x
    if j < columns.shape[1]:
        acc = 0.0
        for c in range(columns.shape[0]):
            acc += columns[c, j]
        out[j] = acc / denominator if denominator != 0 else math.nan


#: ``first_bad_entry`` kinds: multilabel targets (each in ``[−1, C)``); a cost matrix
#: (finite, ``≥ 0``, zero diagonal).
TARGET_ENTRIES, COST_ENTRIES = 0, 1


@cuda.jit
def first_bad_entry(matrix, kind, stats):
    """``stats[b, 0]`` = the first flat index of an invalid entry of ``matrix`` (or its size)."""
    buf = cuda.shared.array(TPB, float64)
    t = cuda.threadIdx.x
    n_cols = matrix.shape[1]
    size = int64(matrix.shape[0]) * n_cols
    first = float64(size)
    k = int64(cuda.blockIdx.x) * TPB + t
    step = int64(cuda.gridDim.x) * TPB
    while k < size:
        i = k // n_cols
        j = k - i * n_cols
        v = matrix[i, j]
        if kind == TARGET_ENTRIES:
            bad = v < -1 or v >= n_cols
        else:  # NaN fails both comparisons
            bad = not (v >= 0 and v < math.inf) or (i == j and v != 0)
        if bad and k < first:
            first = float64(k)
        k += step
    buf[t] = first
    cuda.syncthreads()
    half = TPB // 2
    while half > 0:
        if t < half:
            if buf[t + half] < buf[t]:
                buf[t] = buf[t + half]
        cuda.syncthreads()
        half //= 2
    if t == 0:
        stats[cuda.blockIdx.x] = buf[0]


@cuda.jit
def read_pass(values, flag):
    """Read every element of a 1-D array once (the loss-only roofline of ``gpu_check``)."""
    i = int64(cuda.blockIdx.x) * TPB + cuda.threadIdx.x
    step = int64(cuda.gridDim.x) * TPB
    acc = 0.0
    while i < values.shape[0]:
        acc += values[i]
        i += step
    if acc == flag[1]:  # flag[1] is NaN: never true, but it keeps the loads
        flag[0] = 1.0


@cuda.jit(device=True)
def bfloat16_value(bits):
    """The float32 value of bfloat16 ``bits`` (int16): the bits are float32's upper half."""
    cell = cuda.local.array(1, uint32)
    cell[0] = uint32(uint16(bits)) << 16
    return cell.view(np.float32)[0]  # a bit cast: no local memory in the PTX


@cuda.jit(device=True)
def bfloat16_bits(value):
    """bfloat16 bits (int16) of float32 ``value``, rounded to nearest even (NaN stays NaN)."""
    cell = cuda.local.array(1, float32)
    cell[0] = value
    word = cell.view(np.uint32)[0]
    if value != value:
        return int16(0x7FC0)
    word = word + uint32(0x7FFF) + ((word >> 16) & uint32(1))
    return int16(uint16(word >> 16))


@cuda.jit
def to_bfloat16(values, bits):
    """``bits[i]`` = bfloat16 bits of ``values[i]`` (the loss outputs of a bfloat16 call)."""
    i = int64(cuda.blockIdx.x) * TPB + cuda.threadIdx.x
    step = int64(cuda.gridDim.x) * TPB
    while i < values.shape[0]:
        bits[i] = bfloat16_bits(float32(values[i]))
        i += step


@functools.cache
def build(T, bfloat16=False):
    """The loss kernels computing in ``T`` (``numba.float32`` or ``numba.float64``).

    With ``bfloat16`` the score and gradient arrays hold bfloat16 bits (int16
    views): ``load`` widens them to float32 as it reads, ``put`` rounds as it
    writes. Otherwise ``load`` is ``T(x)`` and ``put`` leaves the value to the
    store's own conversion (float16 gradients are rounded by the store).
    """
    if bfloat16:
        load, put = bfloat16_value, bfloat16_bits
    else:

        @cuda.jit(device=True)
        def load(x):
            return T(x)

        @cuda.jit(device=True)
        def put(x):
            return x

    from ._rows import make_rows  # here: _rows imports this module's device functions

    parts = make_rows(T, load, put, True)
    clear, ww_part, ova_part = parts.clear, parts.ww_part, parts.ova_part
    cs_max, cs_coef, cs_grad = parts.cs_max, parts.cs_coef, parts.cs_grad
    rescaling_row, topk_row = parts.rescaling_row, parts.topk_row
    categorical_row, multilabel_row = parts.categorical_row, parts.multilabel_row

    @cuda.jit
    def label_stats(labels, sw, kind, n_classes, pos, neg, ignore, has_ignore, stats):
        """Per block: first invalid label index, number of kept rows, Σ kept sample weights.

        ``stats[b] = (first_bad or N, kept, Σw)``: the labels are checked on the
        device and only these three numbers per block come back to the host.
        """
        fbuf = cuda.shared.array(TPB, float64)
        kbuf = cuda.shared.array(TPB, float64)
        wbuf = cuda.shared.array(TPB, float64)
        t = cuda.threadIdx.x
        n = labels.shape[0]
        has_sw = sw.shape[0] > 0
        first = float64(n)
        kept = 0.0
        wsum = 0.0
        i = int64(cuda.blockIdx.x) * TPB + t
        step = int64(cuda.gridDim.x) * TPB
        while i < n:
            y = labels[i]
            ignored = has_ignore and y == ignore
            bad = False
            if kind == CLASS_LABELS:
                bad = (y < 0 or y >= n_classes) and not ignored
            elif kind == BINARY_LABELS:
                bad = y != pos and y != neg and not ignored
            if bad and i < first:
                first = float64(i)
            if not ignored:
                kept += 1.0
                if has_sw:
                    wsum += float64(T(sw[i]))
            i += step
        fbuf[t] = first
        kbuf[t] = kept
        wbuf[t] = wsum
        cuda.syncthreads()
        half = TPB // 2
        while half > 0:
            if t < half:
                if fbuf[t + half] < fbuf[t]:
                    fbuf[t] = fbuf[t + half]
                kbuf[t] += kbuf[t + half]
                wbuf[t] += wbuf[t + half]
            cuda.syncthreads()
            half //= 2
        if t == 0:
            stats[cuda.blockIdx.x, 0] = fbuf[0]
            stats[cuda.blockIdx.x, 1] = kbuf[0]
            stats[cuda.blockIdx.x, 2] = wbuf[0]

    @cuda.jit
    def weston_watkins(scores, labels, cw, sw, grad, loss_out, partials, bad, margin, p, norm,
                       kink_frac, drop_nan, g_const, grad_denom, ignore, G):  # fmt: skip
        """Weston–Watkins, one row per group of G threads (see ``_cpu.multiclass._ww_row``)."""
        buf = cuda.shared.array(TPB, float64)
        buf2 = cuda.shared.array(TPB, float64)
        t = cuda.threadIdx.x
        lane = t % G
        n_rows = scores.shape[0]
        n_classes = scores.shape[1]
        has_sw = sw.shape[0] > 0
        want_grad = grad.shape[0] > 0
        want_loss = loss_out.shape[0] > 0
        zero = margin - margin
        hinge = p == 1
        keep_nan = not drop_nan
        acc = 0.0
        mbuf = cuda.shared.array(TPB, float64)
        first_bad = float64(2.0**62)
        row0 = int64(cuda.blockIdx.x) * (TPB // G)
        step = int64(cuda.gridDim.x) * (TPB // G)
        while row0 < n_rows:  # the same trip count for the whole block
            i = row0 + t // G
            inside, y, live, first_bad = row_label(labels, i, n_rows, n_classes, ignore, lane,
                                                   first_bad)  # fmt: skip
            total = 0.0
            coefs = 0.0
            if live:
                w_y = T(cw[y]) if cw.shape[0] > 0 else zero + T(1.0)
                g0 = T(T(sw[i]) / grad_denom) if has_sw else g_const
                total, coefs = ww_part(
                    scores,
                    grad,
                    i,
                    y,
                    lane,
                    G,
                    n_classes,
                    margin,
                    hinge,
                    keep_nan,
                    w_y,
                    g0,
                    kink_frac,
                    want_grad,
                )
            elif inside and want_grad:
                clear(grad, i, lane, G, n_classes, zero)
            total, coefs = group_sum2(buf, buf2, t, lane, G, total, coefs)
            if lane == 0 and inside:
                loss = zero
                if live:
                    if want_grad:
                        grad[i, y] = put(zero - T(coefs))
                    loss = T(total) / norm
                    if has_sw:
                        loss = loss * T(sw[i])
                if want_loss:
                    loss_out[i] = loss
                acc += float64(loss)
            row0 += step
        store_block_results(buf, mbuf, t, acc, first_bad, partials, bad)

    @cuda.jit
    def crammer_singer(scores, labels, cw, sw, grad, loss_out, partials, bad, margin, p,
                       kink_mode, split_ties, g_const, grad_denom, ignore, G):  # fmt: skip
        """Crammer–Singer, one row per group of G threads (see ``_cpu.multiclass._cs_row``)."""
        vbuf = cuda.shared.array(TPB, float64)
        ibuf = cuda.shared.array(TPB, int64)
        nbuf = cuda.shared.array(TPB, int64)
        t = cuda.threadIdx.x
        lane = t % G
        n_rows = scores.shape[0]
        n_classes = scores.shape[1]
        has_sw = sw.shape[0] > 0
        want_grad = grad.shape[0] > 0
        want_loss = loss_out.shape[0] > 0
        zero = margin - margin
        acc = 0.0
        mbuf = cuda.shared.array(TPB, float64)
        first_bad = float64(2.0**62)
        row0 = int64(cuda.blockIdx.x) * (TPB // G)
        step = int64(cuda.gridDim.x) * (TPB // G)
        while row0 < n_rows:
            i = row0 + t // G
            inside, y, live, first_bad = row_label(labels, i, n_rows, n_classes, ignore, lane,
                                                   first_bad)  # fmt: skip
            bv = -math.inf
            bi = int64(n_classes)
            bn = int64(0)
            if live:
                bv, bi, bn = cs_max(scores, i, y, lane, G, n_classes)
            bv, bi, bn = group_argmax(vbuf, ibuf, nbuf, t, lane, G, bv, bi, bn)
            loss = zero
            if live:
                w_y = T(cw[y]) if cw.shape[0] > 0 else zero + T(1.0)
                g0 = T(T(sw[i]) / grad_denom) if has_sw else g_const
                loss, coef, k, best = cs_coef(scores, i, y, n_classes, margin, p, kink_mode,
                                                   split_ties, w_y, g0, bv, bn)  # fmt: skip
                if want_grad:
                    cs_grad(scores, grad, i, y, lane, G, n_classes, coef, k, bi, best, zero)
            elif inside and want_grad:
                clear(grad, i, lane, G, n_classes, zero)
            if lane == 0 and inside:
                if live and has_sw:
                    loss = loss * T(sw[i])
                if want_loss:
                    loss_out[i] = loss
                acc += float64(loss)
            row0 += step
        store_block_results(vbuf, mbuf, t, acc, first_bad, partials, bad)

    @cuda.jit
    def one_vs_all(scores, labels, sw, grad, loss_out, partials, bad,
                   margin, p, norm, kink_frac, g_const, grad_denom, ignore, G):  # fmt: skip
        """One-vs-all, one row per group of G threads (see ``_cpu.one_vs_all``)."""
        buf = cuda.shared.array(TPB, float64)
        t = cuda.threadIdx.x
        lane = t % G
        n_rows = scores.shape[0]
        n_classes = scores.shape[1]
        has_sw = sw.shape[0] > 0
        want_grad = grad.shape[0] > 0
        want_loss = loss_out.shape[0] > 0
        zero = margin - margin
        hinge = p == 1
        acc = 0.0
        mbuf = cuda.shared.array(TPB, float64)
        first_bad = float64(2.0**62)
        row0 = int64(cuda.blockIdx.x) * (TPB // G)
        step = int64(cuda.gridDim.x) * (TPB // G)
        while row0 < n_rows:
            i = row0 + t // G
            inside, y, live, first_bad = row_label(labels, i, n_rows, n_classes, ignore, lane,
                                                   first_bad)  # fmt: skip
            total = 0.0
            if live:
                g0 = T(T(sw[i]) / grad_denom) if has_sw else g_const
                total = ova_part(scores, grad, i, y, lane, G, n_classes, margin, hinge, g0,
                                      kink_frac, want_grad)  # fmt: skip
            elif inside and want_grad:
                clear(grad, i, lane, G, n_classes, zero)
            total = group_sum(buf, t, lane, G, total)
            if lane == 0 and inside:
                loss = zero
                if live:
                    loss = T(total) / norm
                    if has_sw:
                        loss = loss * T(sw[i])
                if want_loss:
                    loss_out[i] = loss
                acc += float64(loss)
            row0 += step
        store_block_results(buf, mbuf, t, acc, first_bad, partials, bad)

    @cuda.jit
    def one_vs_all_columns(scores, labels, sw, columns, margin, p, norm, ignore, rows):
        """Per-class sums: ``columns[c, j]`` = Σ over chunk ``c``'s rows of ``w_i/norm · h_ij``.

        One thread per column (consecutive threads read consecutive columns),
        ``blockIdx.y`` = the chunk of ``rows`` rows; rows in order.
        """
        j = cuda.blockIdx.x * TPB + cuda.threadIdx.x
        c = cuda.blockIdx.y
        n_rows = scores.shape[0]
        n_classes = scores.shape[1]
        if j >= n_classes:
            return
        has_sw = sw.shape[0] > 0
        zero = margin - margin
        acc = 0.0
        end = (int64(c) + 1) * rows
        for i in range(int64(c) * rows, end if end < n_rows else n_rows):
            y = labels[i]
            if y == ignore:
                continue
            s = load(scores[i, j])
            positive = j == y
            u = margin - (s if positive else zero - s)
            h = zero
            if u > 0:
                h = u if p == 1 else u * u
            if u != u:
                h = u
            w_col = (float64(T(sw[i])) if has_sw else 1.0) / float64(norm)
            acc += w_col * float64(h)
        columns[c, j] = acc

    @cuda.jit
    def categorical_hinge(scores, targets, sw, grad, loss_out, partials,
                          margin, kink_frac, split_ties, g_const, grad_denom, G):  # fmt: skip
        """Keras' categorical hinge, one row per group (see ``_cpu.targets._categorical_row``)."""
        vbuf = cuda.shared.array(TPB, float64)
        ibuf = cuda.shared.array(TPB, int64)
        nbuf = cuda.shared.array(TPB, int64)
        t = cuda.threadIdx.x
        lane = t % G
        n_rows = scores.shape[0]
        n_classes = scores.shape[1]
        want_grad = grad.shape[0] > 0
        want_loss = loss_out.shape[0] > 0
        acc = 0.0
        row0 = int64(cuda.blockIdx.x) * (TPB // G)
        step = int64(cuda.gridDim.x) * (TPB // G)
        while row0 < n_rows:
            i = row0 + t // G
            inside = i < n_rows
            loss = categorical_row(scores, grad, i, targets, i, i, inside, t, lane, G, n_classes,
                                   vbuf, ibuf, nbuf, sw, margin, kink_frac, split_ties, g_const,
                                   grad_denom, want_grad)  # fmt: skip
            if lane == 0 and inside:
                if want_loss:
                    loss_out[i] = loss
                acc += float64(loss)
            row0 += step
        total = block_sum(vbuf, t, acc)
        if t == 0:
            partials[cuda.blockIdx.x] = total

    @cuda.jit
    def binary(scores, labels, sw, grad, loss_out, partials, bad, margin, mode, kink_frac, gamma,
               scale, pos, neg, g_const, grad_denom, ignore):  # fmt: skip
        """Binary margin losses and the hinge embedding, one thread per element.

        See ``_cpu.binary._margin_block`` and ``_embedding_block``.
        """
        buf = cuda.shared.array(TPB, float64)
        t = cuda.threadIdx.x
        n = scores.shape[0]
        has_sw = sw.shape[0] > 0
        want_grad = grad.shape[0] > 0
        want_loss = loss_out.shape[0] > 0
        zero = margin - margin
        one = zero + T(1.0)
        two = one + one
        inv_gamma = one / gamma
        half_inv_gamma = inv_gamma / two
        half_gamma = gamma / two
        acc = 0.0
        mbuf = cuda.shared.array(TPB, float64)
        first_bad = float64(2.0**62)
        k = int64(cuda.blockIdx.x) * TPB + t
        step = int64(cuda.gridDim.x) * TPB
        while k < n:
            label = labels[k]
            f = load(scores[k])
            g0 = T(T(sw[k]) / grad_denom) if has_sw else g_const
            if mode == EMBEDDING:
                u = margin - f
                linear = label != neg
                hinged = label != pos
                slope = zero
                if u > 0:
                    slope = one
                elif u == 0:
                    slope = kink_frac
                h = (f if linear else zero) + ((u if u > 0 else zero) if hinged else zero)
                coef = (g0 if linear else zero) - (g0 * slope if hinged else zero)
                if f != f:  # NaN propagates into the loss and the derivative
                    h = f
                    coef = f
                sign = one
            else:
                sign = one if label == pos else zero - one
                u = margin - sign * f
                if mode == HINGE:
                    h = u
                    coef = g0
                elif mode == SQUARED:
                    h = u * u
                    coef = (g0 + g0) * u
                else:
                    beyond = u > gamma
                    if mode == MODIFIED_HUBER:  # scikit-learn's linear piece: −4z, z = t·f
                        linear_piece = scale * (zero - sign * f)
                    else:
                        linear_piece = scale * (u - half_gamma)
                    h = linear_piece if beyond else scale * (u * u * half_inv_gamma)
                    coef = scale * (g0 if beyond else g0 * u * inv_gamma)
                if not u > 0:
                    h = zero
                    coef = zero
                if u == 0 and mode == HINGE:
                    coef = g0 * kink_frac
                if u != u:  # NaN propagates into the loss and the derivative
                    h = u
                    coef = u
                coef = zero - sign * coef
            if mode != EMBEDDING and label != pos and label != neg and label != ignore:
                if k < first_bad:
                    first_bad = float64(k)  # an invalid label: reported by the caller
                h = zero
                coef = zero
            if has_sw:
                h = h * T(sw[k])
            if label == ignore:
                h = zero
                coef = zero
            if want_grad:
                grad[k] = put(coef)
            if want_loss:
                loss_out[k] = h
            acc += float64(h)
            k += step
        store_block_results(buf, mbuf, t, acc, first_bad, partials, bad)

    @cuda.jit
    def rescaling(scores, labels, cw, sw, cost, grad, loss_out, partials, bad, margin, kind,
                  kink_mode, split_ties, g_const, grad_denom, ignore, G):  # fmt: skip
        """Margin/slack rescaling, one row per group of G threads (``_rescaling_row``)."""
        vbuf = cuda.shared.array(TPB, float64)
        ibuf = cuda.shared.array(TPB, int64)
        nbuf = cuda.shared.array(TPB, int64)
        mbuf = cuda.shared.array(TPB, float64)
        t = cuda.threadIdx.x
        lane = t % G
        n_rows = scores.shape[0]
        n_classes = scores.shape[1]
        want_grad = grad.shape[0] > 0
        want_loss = loss_out.shape[0] > 0
        acc = 0.0
        first_bad = float64(2.0**62)
        row0 = int64(cuda.blockIdx.x) * (TPB // G)
        step = int64(cuda.gridDim.x) * (TPB // G)
        while row0 < n_rows:
            i = row0 + t // G
            inside, y, live, first_bad = row_label(labels, i, n_rows, n_classes, ignore, lane,
                                                   first_bad)  # fmt: skip
            loss = rescaling_row(scores, grad, i, i, y, inside, live, t, lane, G, n_classes, vbuf,
                                 ibuf, nbuf, cw, sw, cost, margin, kind, kink_mode, split_ties,
                                 g_const, grad_denom, want_grad)  # fmt: skip
            if lane == 0 and inside:
                if want_loss:
                    loss_out[i] = loss
                acc += float64(loss)
            row0 += step
        store_block_results(vbuf, mbuf, t, acc, first_bad, partials, bad)

    @cuda.jit
    def topk(scores, labels, cw, sw, grad, loss_out, partials, bad, margin, kind, k, kink_frac,
             split_ties, g_const, grad_denom, ignore, G):  # fmt: skip
        """Top-k α/β, one row per group of G threads (see ``_cpu.structured._topk_row``).

        ``tau`` (the k-th largest wrong score, ties counted) takes at most k rounds
        of a group (max, tie count) over the wrong scores below the last round's
        max; rounds stop when every row of the block has its ``tau``. Without
        split ties, the first ``slots`` tied columns (in column order) are found by
        ``slots`` rounds of a group min over the tied columns after the last one.
        """
        vbuf = cuda.shared.array(TPB, float64)
        ibuf = cuda.shared.array(TPB, int64)
        nbuf = cuda.shared.array(TPB, int64)
        mbuf = cuda.shared.array(TPB, float64)
        t = cuda.threadIdx.x
        lane = t % G
        n_rows = scores.shape[0]
        n_classes = scores.shape[1]
        want_grad = grad.shape[0] > 0
        want_loss = loss_out.shape[0] > 0
        acc = 0.0
        first_bad = float64(2.0**62)
        row0 = int64(cuda.blockIdx.x) * (TPB // G)
        step = int64(cuda.gridDim.x) * (TPB // G)
        while row0 < n_rows:  # the same trip count for the whole block
            i = row0 + t // G
            inside, y, live, first_bad = row_label(labels, i, n_rows, n_classes, ignore, lane,
                                                   first_bad)  # fmt: skip
            loss = topk_row(scores, grad, i, i, y, inside, live, t, lane, G, n_classes, vbuf, ibuf,
                            nbuf, cw, sw, margin, kind, k, kink_frac, split_ties, g_const,
                            grad_denom, want_grad)  # fmt: skip
            if lane == 0 and inside:
                if want_loss:
                    loss_out[i] = loss
                acc += float64(loss)
            row0 += step
        store_block_results(vbuf, mbuf, t, acc, first_bad, partials, bad)

    @cuda.jit
    def multilabel_margin(scores, targets, sw, grad, loss_out, partials, margin, kink_frac,
                          drop_nan, g_const, grad_denom, G):  # fmt: skip
        """PyTorch's multilabel margin, one row per group of G threads (``multilabel_row``)."""
        buf = cuda.shared.array(TPB, float64)
        t = cuda.threadIdx.x
        lane = t % G
        n_rows = scores.shape[0]
        n_classes = scores.shape[1]
        want_grad = grad.shape[0] > 0
        want_loss = loss_out.shape[0] > 0
        acc = 0.0
        row0 = int64(cuda.blockIdx.x) * (TPB // G)
        step = int64(cuda.gridDim.x) * (TPB // G)
        while row0 < n_rows:  # the same trip count for the whole block
            i = row0 + t // G
            inside = i < n_rows
            loss = multilabel_row(scores, grad, i, targets, i, inside, t, lane, G, n_classes, buf,
                                  sw, margin, kink_frac, drop_nan, g_const, grad_denom,
                                  want_grad)  # fmt: skip
            if lane == 0 and inside:
                if want_loss:
                    loss_out[i] = loss
                acc += float64(loss)
            row0 += step
        total = block_sum(buf, t, acc)
        if t == 0:
            partials[cuda.blockIdx.x] = total

    return SimpleNamespace(
        load=load,
        put=put,
        label_stats=label_stats,
        weston_watkins=weston_watkins,
        crammer_singer=crammer_singer,
        one_vs_all=one_vs_all,
        one_vs_all_columns=one_vs_all_columns,
        categorical_hinge=categorical_hinge,
        binary=binary,
        topk=topk,
        rescaling=rescaling,
        multilabel_margin=multilabel_margin,
    )
