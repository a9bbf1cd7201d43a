"""The row math of every multiclass loss, shared by two layouts.

- The **row-group** kernels (``_kernels``) give a row to a group of ``G`` threads: lane
  ``l`` takes columns ``l, l + G, …`` of ``scores[i]`` and writes ``grad[i]``, and the
  group combines the lanes' parts (``group_sum``, ``group_argmax``).
- The **tile** kernels (``_tiles``) stage a block of rows in shared memory and give each
  row to one thread (``lane = 0``, ``G = 1``): the parts below then read and write the
  same tile row in place, and no group step is needed.

The row functions of structured hinge, top-k, the categorical hinge and the multilabel
margin take the row ``r`` of ``src``/``dst`` apart from the sample ``i`` (labels, weights,
targets), and do their own group steps: every thread of the block calls them.

Each part reads ``src[i, j]`` through ``load`` and writes ``dst[i, j]`` through ``put``
(``make_rows`` binds them: the caller's array conversion for the row groups, the
identity for a tile, which already holds compute-type values). In place is safe: every
part reads an entry before it writes it, and reads the true class's score before any
write.
"""

from __future__ import annotations

import functools
import math
from types import SimpleNamespace
from typing import Any

from numba import float64, int32, int64

from ._kernels import (
    KINK_HALF,
    KINK_ZERO,
    SLACK_RESCALING,
    TOPK_ALPHA,
    TOPK_BETA,
    group_argmax,
    group_min,
    group_sum,
    merge,
)
from ._runtime import cuda


@cuda.jit(device=True)
def same(x):
    """The identity (``load`` and ``put`` of a tile that holds compute-type values)."""
    return x


@functools.cache
def make_rows(T: Any, load: Any, put: Any, quad: bool) -> SimpleNamespace:
    """The row parts computing in ``T``, reading with ``load`` and writing with ``put``.

    With ``quad`` (the row groups), a lane takes its columns four a trip (``four``: four
    loads in flight); without (the tiles, in shared memory), one at a time. The order of
    the sums and merges is the same either way. On an H200 the four-column trips ran the
    row groups of C = 1000 and 10⁴ 1.4x faster (groups of 256); tiles with them and a
    register prefetch of the next tile ran 1.1–1.35x slower (the two were not timed apart).
    """

    @cuda.jit(device=True)
    def clear(dst, i, lane, G, n_classes, zero):
        """A zero gradient row (an ignored row, or one with an invalid label)."""
        for j in range(lane, n_classes, G):
            dst[i, j] = put(zero)

    @cuda.jit(device=True)
    def four(src, i, j, G, n_classes, zero):
        """``src[i, j + u·G]`` for u = 0..3 (``zero`` past the row): four loads in flight."""
        x1, x2, x3 = zero, zero, zero
        x0 = load(src[i, j])
        if j + G < n_classes:
            x1 = load(src[i, j + G])
        if j + 2 * G < n_classes:
            x2 = load(src[i, j + 2 * G])
        if j + 3 * G < n_classes:
            x3 = load(src[i, j + 3 * G])
        return x0, x1, x2, x3

    @cuda.jit(device=True)
    def ww_column(dst, i, j, y, s, base, zero, hinge, keep_nan, w_y, g0, slope, kink_coef,
                  want_grad, total, coefs):  # fmt: skip
        """Column ``j`` (score ``s``) of ``ww_part``: the sums with its term and coefficient."""
        z = base + s
        term = (z if hinge else z * z) * w_y
        coef = slope if hinge else ((g0 + g0) * z) * w_y
        if not z > 0:
            term = zero
            coef = zero
        if z == 0 and hinge:
            coef = kink_coef
        if z != z and keep_nan:  # NaN propagates into loss and gradient
            term = z
            coef = z
        if j == y:
            term = zero
            coef = zero
        if want_grad and j != y:
            dst[i, j] = put(coef)
        return total + term, coefs + coef

    @cuda.jit(device=True)
    def ww_part(src, dst, i, y, lane, G, n_classes, margin, hinge, keep_nan, w_y, g0,
                kink_frac, want_grad):  # fmt: skip
        """Weston–Watkins over the lane's columns: ``(Σ terms, Σ coefficients)`` in float64.

        Writes the gradient of every wrong class; the caller writes ``−Σ coefficients``
        at the true class once the lanes' sums are combined. Columns go four a trip
        (``four``), summed in column order.
        """
        zero = margin - margin
        base = margin - load(src[i, y])
        slope = g0 * w_y
        kink_coef = g0 * kink_frac * w_y
        total = 0.0
        coefs = 0.0
        if not quad:
            for j in range(lane, n_classes, G):
                total, coefs = ww_column(dst, i, j, y, load(src[i, j]), base, zero, hinge,
                                         keep_nan, w_y, g0, slope, kink_coef, want_grad, total,
                                         coefs)  # fmt: skip
            return total, coefs
        j = lane
        while j < n_classes:
            x0, x1, x2, x3 = four(src, i, j, G, n_classes, zero)
            total, coefs = ww_column(dst, i, j, y, x0, base, zero, hinge, keep_nan, w_y, g0, slope,
                                     kink_coef, want_grad, total, coefs)  # fmt: skip
            if j + G < n_classes:
                total, coefs = ww_column(dst, i, j + G, y, x1, base, zero, hinge, keep_nan, w_y, g0,
                                         slope, kink_coef, want_grad, total, coefs)  # fmt: skip
            if j + 2 * G < n_classes:
                total, coefs = ww_column(dst, i, j + 2 * G, y, x2, base, zero, hinge, keep_nan, w_y,
                                         g0, slope, kink_coef, want_grad, total, coefs)  # fmt: skip
            if j + 3 * G < n_classes:
                total, coefs = ww_column(dst, i, j + 3 * G, y, x3, base, zero, hinge, keep_nan, w_y,
                                         g0, slope, kink_coef, want_grad, total, coefs)  # fmt: skip
            j += 4 * G
        return total, coefs

    @cuda.jit(device=True)
    def cs_column(bv, bi, bn, x, j, y, n_classes):
        """``merge`` of column ``j`` (score ``x``) when it is a wrong class of the row."""
        if j < n_classes and j != y:
            return merge(bv, bi, bn, float64(x), int64(j), int64(1))
        return bv, bi, bn

    @cuda.jit(device=True)
    def cs_max(src, i, y, lane, G, n_classes):
        """(max wrong score, its first column, its tie count) over the lane's columns."""
        bv = -math.inf
        bi = int64(n_classes)
        bn = int64(0)
        if not quad:
            for j in range(lane, n_classes, G):
                bv, bi, bn = cs_column(bv, bi, bn, load(src[i, j]), j, y, n_classes)
            return bv, bi, bn
        j = lane
        while j < n_classes:  # four columns a trip (``four``), merged in column order
            x0, x1, x2, x3 = four(src, i, j, G, n_classes, T(0.0))
            bv, bi, bn = cs_column(bv, bi, bn, x0, j, y, n_classes)
            bv, bi, bn = cs_column(bv, bi, bn, x1, j + G, y, n_classes)
            bv, bi, bn = cs_column(bv, bi, bn, x2, j + 2 * G, y, n_classes)
            bv, bi, bn = cs_column(bv, bi, bn, x3, j + 3 * G, y, n_classes)
            j += 4 * G
        return bv, bi, bn

    @cuda.jit(device=True)
    def cs_coef(src, i, y, n_classes, margin, p, kink_mode, split_ties, w_y, g0, bv, bn):
        """Crammer–Singer's ``(loss, coefficient, tie count, best wrong score)`` of a row."""
        zero = margin - margin
        best = T(bv)
        loss = zero
        coef = zero
        k = int64(1)
        if n_classes > 1:  # a row of one class has no wrong class: loss 0
            z = margin - (load(src[i, y]) - best)
            if z > 0:
                loss = (z if p == 1 else z * z) * w_y
                coef = (g0 if p == 1 else (g0 + g0) * z) * w_y
            elif z != z:  # NaN propagates into the loss and the gradient
                loss = z
                coef = z
            elif z == 0 and p == 1 and kink_mode != KINK_ZERO:
                coef = g0 * w_y
            if split_ties:
                k = bn
            if z == 0 and kink_mode == KINK_HALF:  # jax: y joins the max's tie set
                coef = coef * T(k) / T(k + 1)
        return loss, coef, k, best

    @cuda.jit(device=True)
    def cs_grad(src, dst, i, y, lane, G, n_classes, coef, k, bi, best, zero):
        """Crammer–Singer's gradient over the lane's columns."""
        share = coef / T(k)
        active = coef != zero or coef != coef
        for j in range(lane, n_classes, G):
            g = zero
            if active:
                if j == y:
                    g = zero - coef
                elif k > 1:
                    if load(src[i, j]) == best:
                        g = share
                elif j == bi:
                    g = share
            dst[i, j] = put(g)

    @cuda.jit(device=True)
    def ova_column(dst, i, j, y, s, n_classes, margin, hinge, g0, kink_frac, want_grad, total):
        """Column ``j`` (score ``s``) of ``ova_part``, if inside the row: the sum with its term."""
        if j >= n_classes:
            return total
        zero = margin - margin
        positive = j == y
        u = margin - (s if positive else zero - s)
        h = zero
        coef = zero
        if u > 0:
            h = u if hinge else u * u
            coef = g0 if hinge else (g0 + g0) * u
        if u == 0 and hinge:
            coef = g0 * kink_frac
        if u != u:  # NaN propagates into the loss and the gradient
            h = u
            coef = u
        if want_grad:
            dst[i, j] = put((zero - coef) if positive else coef)
        return total + h

    @cuda.jit(device=True)
    def ova_part(src, dst, i, y, lane, G, n_classes, margin, hinge, g0, kink_frac, want_grad):
        """One-vs-all over the lane's columns: the float64 sum of the terms; writes the gradient."""
        zero = margin - margin
        total = 0.0
        if not quad:
            for j in range(lane, n_classes, G):
                total = ova_column(dst, i, j, y, load(src[i, j]), n_classes, margin, hinge, g0,
                                   kink_frac, want_grad, total)  # fmt: skip
            return total
        j = lane
        while j < n_classes:  # four columns a trip (``four``), summed in column order
            x0, x1, x2, x3 = four(src, i, j, G, n_classes, zero)
            total = ova_column(dst, i, j, y, x0, n_classes, margin, hinge, g0, kink_frac,
                               want_grad, total)  # fmt: skip
            total = ova_column(dst, i, j + G, y, x1, n_classes, margin, hinge, g0, kink_frac,
                               want_grad, total)  # fmt: skip
            total = ova_column(dst, i, j + 2 * G, y, x2, n_classes, margin, hinge, g0, kink_frac,
                               want_grad, total)  # fmt: skip
            total = ova_column(dst, i, j + 3 * G, y, x3, n_classes, margin, hinge, g0, kink_frac,
                               want_grad, total)  # fmt: skip
            j += 4 * G
        return total

    @cuda.jit(device=True)
    def rescaling_value(src, cost, r, y, j, margin, slack, s_y):
        """Margin rescaling ``Δ[y, j] + s_j``; slack ``Δ[y, j]·(m + s_j − s_y)_+`` (NaN kept)."""
        s = load(src[r, j])
        if slack:
            u = margin + s - s_y
            if not (u > 0 or u != u):
                u = margin - margin
            return T(cost[y, j]) * u
        return T(cost[y, j]) + s

    @cuda.jit(device=True)
    def rescaling_row(src, dst, r, i, y, inside, live, t, lane, G, n_classes, vbuf, ibuf, nbuf, cw,
                      sw, cost, margin, kind, kink_mode, split_ties, g_const, grad_denom,
                      want_grad):  # fmt: skip
        """Margin/slack rescaling of one row (``_cpu``'s ``_rescaling_row``): its loss.

        Every thread of the block calls (group steps); row ``r`` of ``src``/``dst`` is
        sample ``i``. Writes the whole gradient row of an ``inside`` row when ``want_grad``.
        """
        has_sw = sw.shape[0] > 0
        zero = margin - margin
        one = zero + T(1.0)
        slack = kind == SLACK_RESCALING
        bv = -math.inf
        bi = int64(n_classes)
        bn = int64(0)
        kink_j = float64(n_classes)
        s_y = zero
        if live:
            s_y = load(src[r, y])
            for j in range(lane, n_classes, G):
                if j != y:
                    v = rescaling_value(src, cost, r, y, j, margin, slack, s_y)
                    bv, bi, bn = merge(bv, bi, bn, float64(v), int64(j), int64(1))
                    at_kink = T(cost[y, j]) != 0 and margin + load(src[r, j]) - s_y == 0
                    if slack and at_kink and j < kink_j:
                        kink_j = float64(j)
        bv, bi, bn = group_argmax(vbuf, ibuf, nbuf, t, lane, G, bv, bi, bn)
        kink_j = group_min(vbuf, t, lane, G, kink_j)
        loss = zero
        coefs = 0.0
        z = zero
        best = T(bv)
        nan_row = False
        active = False
        frac = one
        split = False
        j_kink = bi
        w_y = zero
        g0 = g_const
        if live and n_classes > 1:
            w_y = T(cw[y]) if cw.shape[0] > 0 else one
            g0 = T(T(sw[i]) / grad_denom) if has_sw else g_const
            z = best if slack else best - s_y
            if z != z:  # NaN: the loss, and the gradient of y and of the first NaN entry
                nan_row = True
                loss = z
            elif z >= 0:
                k = bn if split_ties else int64(1)
                usable = True
                if z == 0:  # the kink
                    if slack:
                        j_kink = int64(kink_j)
                        k = int64(1)
                    if kink_mode == KINK_ZERO or j_kink == n_classes:
                        usable = False
                if usable:
                    active = True
                    frac = one / T(k)
                    if z == 0 and kink_mode == KINK_HALF:
                        frac = one / T(k + 1)
                    split = split_ties and not (z == 0 and slack)
                    loss = z * w_y
        if inside and want_grad:
            for j in range(lane, n_classes, G):
                g = zero
                if nan_row:
                    if j == y or j == bi:
                        g = z
                elif active and j != y:
                    v = rescaling_value(src, cost, r, y, j, margin, slack, s_y)
                    if j == j_kink or (split and v == best):
                        slope = T(cost[y, j]) if slack else one
                        g = g0 * w_y * slope * frac
                        coefs += float64(g)
                if j != y or not active:
                    dst[r, j] = put(g)
        coefs = group_sum(vbuf, t, lane, G, coefs)
        if lane == 0 and active and want_grad:
            dst[r, y] = put(zero - T(coefs))
        if live and has_sw:
            loss = loss * T(sw[i])
        return loss

    @cuda.jit(device=True)
    def topk_tau(src, r, y, live, nan_row, t, lane, G, n_classes, vbuf, ibuf, nbuf, k):
        """Top-k's ``(tau, above, n_tied)``: the k-th largest wrong score, by rounds.

        Each round takes a group (max, tie count) over the wrong scores below the last
        round's max; rounds stop when every row of the block has its ``tau``.
        """
        done = not live or nan_row
        tau = T(0.0)
        above = int64(0)  # wrong scores > tau
        n_tied = int64(0)  # wrong scores == tau
        bound = math.inf
        for rnd in range(k):
            if cuda.syncthreads_or(int32(0 if done else 1)) == 0:
                break  # every row of the block has its tau
            bv = -math.inf
            bi = int64(n_classes)
            bn = int64(0)
            if not done:
                for j in range(lane, n_classes, G):
                    s = float64(load(src[r, j]))
                    if j != y and (rnd == 0 or s < bound):
                        bv, bi, bn = merge(bv, bi, bn, s, int64(j), int64(1))
            bv, bi, bn = group_argmax(vbuf, ibuf, nbuf, t, lane, G, bv, bi, bn)
            if not done:
                if above + bn >= k:
                    tau = T(bv)
                    n_tied = bn
                    done = True
                else:
                    above += bn
                    bound = bv
        return tau, above, n_tied

    @cuda.jit(device=True)
    def topk_cut(src, r, y, pick, slots, tau, t, lane, G, n_classes, vbuf, k):
        """Without split ties: the column of the ``slots``-th tied entry (``C`` if unpicked)."""
        cut = int64(n_classes)
        if pick:
            cut = int64(-1)
        for rnd in range(k):
            picking = pick and rnd < slots
            if cuda.syncthreads_or(int32(1 if picking else 0)) == 0:
                break
            nxt = float64(n_classes)
            if picking:
                for j in range(lane, n_classes, G):
                    if j > cut and j != y and load(src[r, j]) == tau:
                        nxt = float64(j)  # the lane's first: its columns ascend
                        break
            nxt = group_min(vbuf, t, lane, G, nxt)
            if picking:
                cut = int64(nxt)
        return cut

    @cuda.jit(device=True)
    def topk_row(src, dst, r, i, y, inside, live, t, lane, G, n_classes, vbuf, ibuf, nbuf, cw, sw,
                 margin, kind, k, kink_frac, split_ties, g_const, grad_denom,
                 want_grad):  # fmt: skip
        """Top-k α/β of one row (``_cpu.structured._topk_row``): its loss (as ``rescaling_row``)."""
        has_sw = sw.shape[0] > 0
        zero = margin - margin
        one = zero + T(1.0)
        nans = 0.0
        if live:
            for j in range(lane, n_classes, G):
                s = load(src[r, j])
                if s != s:
                    nans += 1.0
        nans = group_sum(vbuf, t, lane, G, nans)
        nan_row = live and nans > 0  # NaN anywhere in the row: NaN loss and gradient row
        tau, above, n_tied = topk_tau(
            src, r, y, live, nan_row, t, lane, G, n_classes, vbuf, ibuf, nbuf, k
        )
        slots = k - above  # how many of the tied entries belong to the top k
        inv_k = one / T(k)
        base = zero
        total = 0.0
        if live and not nan_row:
            base = margin - load(src[r, y])
            for j in range(lane, n_classes, G):
                s = load(src[r, j])
                if j != y and s > tau:
                    h = base + s
                    total += float64(h if (kind == TOPK_ALPHA or not h <= 0) else zero)
        total = group_sum(vbuf, t, lane, G, total)
        h_tau = base + tau
        tied_term = h_tau if (kind == TOPK_ALPHA or not h_tau <= 0) else zero
        loss = (T(total) + tied_term * T(slots)) * inv_k
        fill = zero  # the whole gradient row: NaN rows
        ordinary = live and not nan_row
        if live and nan_row:
            loss = zero + T(math.nan)
            fill = loss
        elif ordinary and loss != loss:  # inf − inf: NaN loss and gradient row
            fill = loss
            ordinary = False
        scale = one
        if ordinary and kind == TOPK_ALPHA:
            if loss > 0:
                scale = one
            elif loss == 0:
                scale = kink_frac
            else:
                scale = zero
            loss = loss if loss > 0 else zero
        # without split ties: the tied columns up to `cut` (the slots-th one) are members
        pick = want_grad and ordinary and not split_ties and n_tied > slots
        cut = topk_cut(src, r, y, pick, slots, tau, t, lane, G, n_classes, vbuf, k)
        coefs = 0.0
        w_y = one
        if ordinary:
            w_y = T(cw[y]) if cw.shape[0] > 0 else one
        if inside and want_grad:
            share_tied = one
            g_scale = zero
            if ordinary:
                share_tied = T(slots) / T(n_tied)
                g0 = T(T(sw[i]) / grad_denom) if has_sw else g_const
                g_scale = g0 * w_y * inv_k
            for j in range(lane, n_classes, G):
                g = fill
                if ordinary:
                    s = load(src[r, j])
                    member = one
                    if j == y or s < tau:
                        member = zero
                    elif s == tau:
                        if split_ties:
                            member = share_tied
                        elif j > cut:
                            member = zero
                    if member != zero:
                        sc = scale
                        if kind == TOPK_BETA:
                            h = base + s
                            if h > 0:
                                sc = one
                            elif h == 0:
                                sc = kink_frac
                            else:
                                sc = zero
                        g = g_scale * member * sc
                        coefs += float64(g)
                if j != y or not ordinary:
                    dst[r, j] = put(g)
        if want_grad:
            coefs = group_sum(vbuf, t, lane, G, coefs)
        if lane == 0 and ordinary and want_grad:
            dst[r, y] = put(zero - T(coefs))
        if not live:
            return zero
        if ordinary:
            loss = loss * w_y
        if has_sw:
            loss = loss * T(sw[i])
        return loss

    @cuda.jit(device=True)
    def categorical_row(src, dst, r, targets, tr, i, inside, t, lane, G, n_classes, vbuf, ibuf,
                        nbuf, sw, margin, kink_frac, split_ties, g_const, grad_denom,
                        want_grad):  # fmt: skip
        """Keras' categorical hinge of one row (``_cpu.targets._categorical_row``): its loss.

        Scores and gradient at row ``r`` of ``src``/``dst``, targets at row ``tr``.
        """
        has_sw = sw.shape[0] > 0
        zero = margin - margin
        one = zero + T(1.0)
        pos = 0.0
        bv = -math.inf
        bi = int64(n_classes)
        bn = int64(0)
        if inside:
            for c in range(lane, n_classes, G):
                s = load(src[r, c])
                tc = T(targets[tr, c])
                pos += float64(tc * s)
                bv, bi, bn = merge(bv, bi, bn, float64((one - tc) * s), int64(c), int64(1))
        pos = group_sum(vbuf, t, lane, G, pos)
        bv, bi, bn = group_argmax(vbuf, ibuf, nbuf, t, lane, G, bv, bi, bn)
        loss = zero
        if inside:
            neg = T(bv)
            if neg != neg:  # NaN: no index equals the max
                bi = int64(n_classes)
                bn = int64(0)
            g0 = T(T(sw[i]) / grad_denom) if has_sw else g_const
            z = neg - T(pos) + margin
            scale = zero
            active = True
            if z > 0:
                scale = g0
            elif z != z:
                scale = z
            elif z == 0:
                scale = g0 * kink_frac
            else:
                active = False
            if active:
                loss = z if (z > 0 or z != z) else zero
            share = scale
            if split_ties and bn > 1:
                share = scale / T(bn)
            if want_grad:
                for c in range(lane, n_classes, G):
                    g = zero
                    if active:
                        s = load(src[r, c])
                        tc = T(targets[tr, c])
                        wins = c == bi
                        if split_ties:
                            wins = (one - tc) * s == neg
                        g = (share * (one - tc) if wins else zero) - scale * tc
                    dst[r, c] = put(g)
            if has_sw:
                loss = loss * T(sw[i])
        return loss

    @cuda.jit(device=True)
    def multilabel_row(src, dst, r, targets, i, inside, t, lane, G, n_classes, buf, sw, margin,
                       kink_frac, drop_nan, g_const, grad_denom, want_grad):  # fmt: skip
        """PyTorch's multilabel margin of one row (``_cpu``'s ``_multilabel_row``): its loss.

        ``dst`` must not be ``src``: the gradient row adds up over the targets while the
        scores are read again. For each target ``q`` in order (rounds stop when no row of
        the block has a ``q``-th target), lane ``l`` adds the coefficients of its
        non-target columns; their group sum leaves the target's gradient (lane 0).
        """
        has_sw = sw.shape[0] > 0
        zero = margin - margin
        end = float64(0)  # the targets end at the first negative entry
        g0 = g_const
        if inside:
            g0 = T(T(sw[i]) / grad_denom) if has_sw else g_const
            end = float64(n_classes)
            for j in range(lane, n_classes, G):
                if targets[i, j] < 0:
                    end = float64(j)  # the lane's first: its columns ascend
                    break
            if want_grad:
                for j in range(lane, n_classes, G):
                    dst[r, j] = put(zero)
        n_targets = int64(group_min(buf, t, lane, G, end))  # barrier: the zeros are written
        total = 0.0  # PyTorch sums a row in double
        for q in range(n_classes):
            active = q < n_targets
            if cuda.syncthreads_or(int32(1 if active else 0)) == 0:
                break  # no row of the block has a q-th target
            coefs = 0.0
            target = int64(0)
            if active:
                target = int64(targets[i, q])
                base = margin - load(src[r, target])
                for d in range(lane, n_classes, G):
                    is_target = False
                    for p in range(n_targets):
                        if targets[i, p] == d:
                            is_target = True
                            break
                    if is_target:
                        continue
                    z = base + load(src[r, d])
                    coef = zero
                    if z > 0:
                        coef = g0
                    elif z == 0:
                        coef = g0 * kink_frac
                    keep_nan = z != z and not drop_nan
                    if keep_nan:
                        coef = z
                    if z > 0 or keep_nan:
                        total += float64(z)
                    if want_grad:
                        dst[r, d] = put(load(dst[r, d]) + coef)
                        coefs += float64(coef)
            if want_grad:  # the group barrier orders every lane's writes before lane 0's
                coefs = group_sum(buf, t, lane, G, coefs)
                if active and lane == 0:
                    dst[r, target] = put(load(dst[r, target]) - T(coefs))
        total = group_sum(buf, t, lane, G, total)
        loss = T(total) / T(n_classes)
        if has_sw and inside:
            loss = loss * T(sw[i])
        return loss

    return SimpleNamespace(clear=clear, ww_part=ww_part, cs_max=cs_max, cs_coef=cs_coef,
                           cs_grad=cs_grad, ova_part=ova_part, rescaling_row=rescaling_row,
                           topk_row=topk_row, categorical_row=categorical_row,
                           multilabel_row=multilabel_row)  # fmt: skip
