"""The row math of Weston–Watkins, Crammer–Singer and one-vs-all, shared by two layouts.

- The **row-group** kernels (``_kernels``) give a row to a group of ``G`` threads: lane
  ``l`` takes columns ``l, l + G, …`` of ``scores[i]`` and writes ``grad[i]``, and the
  group combines the lanes' parts (``group_sum``, ``group_argmax``).
- The **tile** kernels (``_tiles``) stage a block of rows in shared memory and give each
  row to one thread (``lane = 0``, ``G = 1``): the parts below then read and write the
  same tile row in place, and no group step is needed.

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

from numba import float64, int64

from ._kernels import KINK_HALF, KINK_ZERO, merge
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

    return SimpleNamespace(clear=clear, ww_part=ww_part, cs_max=cs_max, cs_coef=cs_coef,
                           cs_grad=cs_grad, ova_part=ova_part)  # fmt: skip
