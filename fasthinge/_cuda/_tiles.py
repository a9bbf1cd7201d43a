"""Tile kernels for few classes: every multiclass loss, one thread per row of a tile.

A row group (``_kernels``) spends ``log2(G)`` barriers of shared-memory reduction on each
row and waits for each row's loads one after the other; with C ≤ 128 classes a row is too
short to hide that (0.01–0.07 of copy bandwidth at C = 10 and 100 on an H200). Here a
block works through **tiles** of consecutive rows:

1. Each thread reads its row's label (row ``t`` of the tile), then the block copies the
   tile's rows × C scores, which are contiguous, into shared memory: consecutive
   threads read consecutive elements (coalesced), ``UNROLL`` loads in flight per thread
   before any is stored.
2. Thread ``t`` computes row ``t`` alone with the row functions of ``_rows`` (``lane =
   0``, ``G = 1``: each group step is a thread's own), writing the gradient over the
   scores in the tile.
3. The block copies the gradient tile out, again coalesced.

Two kernels hold two tiles a block (``TWO_TILES``, half the rows each): the categorical
hinge copies its targets into the second one, and the multilabel margin adds its gradient
up there, since it reads the scores again for every target.

The tile's row stride ``width`` is odd (17, 33, 65 or 129 ≥ C + 1), so the threads of a
warp, each walking its own row, hit 32 different shared-memory banks. A thread walks the
tile's elements with an incremental (row, column) pair: a few divisions per tile, none
per element. Everything here is shared memory and ``syncthreads``: the simulator runs
every line.
"""

from __future__ import annotations

import functools
import os
from types import SimpleNamespace
from typing import Any

from numba import float64, int64

from . import _kernels as k
from ._rows import make_rows, same
from ._runtime import TPB, cuda

#: Shared memory of a tile: 32 KB, so that seven blocks fit on an H100/H200 multiprocessor.
TILE_BYTES = 32 * 1024
#: Odd row strides of the tiles (conflict-free banks). By default C ≤ 128 takes a tile;
#: the wider ones are there for ``FASTHINGE_CUDA_TILE_MAX_CLASSES`` up to 1024.
WIDTHS = (17, 33, 65, 129, 257, 513, 1025)
DEFAULT_MAX_CLASSES = 128
#: Loads each thread issues before it stores them into the tile.
UNROLL = 8
#: The tile kernels with two tiles a block (half the rows): the categorical hinge's
#: targets, the multilabel margin's gradient (it adds up while the scores are read again).
TWO_TILES = ("categorical_hinge", "multilabel_margin")


def _max_classes() -> int:
    text = os.environ.get("FASTHINGE_CUDA_TILE_MAX_CLASSES", str(DEFAULT_MAX_CLASSES))
    try:
        value = int(text)
    except ValueError:
        raise ValueError(
            f"FASTHINGE_CUDA_TILE_MAX_CLASSES must be an integer, got {text!r}"
        ) from None
    return min(value, WIDTHS[-1] - 1)


#: Up to this many classes, the multiclass losses take tiles
#: (``FASTHINGE_CUDA_TILE_MAX_CLASSES``, read at import; 0 turns tiles off).
MAX_CLASSES = _max_classes()


def width_for(n_classes: int) -> int:
    """The tile row stride for ``n_classes`` classes, or 0 where rows take row groups."""
    if n_classes > MAX_CLASSES:
        return 0
    return next(width for width in WIDTHS if width > n_classes)


def rows_per_tile(width: int, itemsize: int) -> int:
    """Rows of a tile (one thread each): as many as ``TILE_BYTES`` hold, at most a block."""
    return min(TPB, TILE_BYTES // (width * itemsize))


@cuda.jit(device=True)
def advance(r, j, dr, dj, n_classes):
    """The (row, column) ``TPB`` elements after ``(r, j)`` in a tile of ``n_classes`` columns."""
    j += dj
    r += dr
    if j >= n_classes:
        j -= n_classes
        r += 1
    return r, j


def as_type(T: Any) -> Any:
    """The device function ``x ↦ T(x)``."""

    @cuda.jit(device=True)
    def convert(x):
        return T(x)

    return convert


@functools.cache
def make_fill(T: Any, load: Any) -> Any:
    """The device function filling a tile from rows of a matrix, each value through ``load``."""

    @cuda.jit(device=True)
    def fill(tile, matrix, row0, count, n_classes):
        """``tile[:count, :C]`` = ``matrix[row0:row0 + count]``, coalesced, UNROLL loads a time."""
        t = cuda.threadIdx.x
        dr, dj = TPB // n_classes, TPB % n_classes
        r, j = t // n_classes, t % n_classes
        held = cuda.local.array(UNROLL, T)
        while r < count:
            r_next, j_next = r, j
            for u in range(UNROLL):
                if r_next < count:
                    held[u] = load(matrix[row0 + r_next, j_next])
                r_next, j_next = advance(r_next, j_next, dr, dj, n_classes)
            for u in range(UNROLL):
                if r < count:
                    tile[r, j] = held[u]
                r, j = advance(r, j, dr, dj, n_classes)

    return fill


@functools.cache
def build(T: Any, bfloat16: bool, width: int) -> SimpleNamespace:
    """The tile kernels computing in ``T`` with row stride ``width``."""
    base = k.build(T, bfloat16)
    put = base.put
    parts = make_rows(T, same, same, False)  # a tile holds values of the compute type
    clear, ww_part, ova_part = parts.clear, parts.ww_part, parts.ova_part
    cs_max, cs_coef, cs_grad = parts.cs_max, parts.cs_coef, parts.cs_grad
    rescaling_row, topk_row = parts.rescaling_row, parts.topk_row
    categorical_row, multilabel_row = parts.categorical_row, parts.multilabel_row
    n_rows_tile = rows_per_tile(width, T.bitwidth // 8)
    n_rows_pair = rows_per_tile(width, 2 * T.bitwidth // 8)  # two tiles a block
    fill = make_fill(T, base.load)
    fill_values = make_fill(T, as_type(T))  # categorical targets, converted to T

    @cuda.jit(device=True)
    def drain(grad, tile, row0, count, n_classes):
        """``grad[row0:row0 + count]`` = ``tile[:count, :C]``, coalesced."""
        t = cuda.threadIdx.x
        dr, dj = TPB // n_classes, TPB % n_classes
        r, j = t // n_classes, t % n_classes
        while r < count:
            grad[row0 + r, j] = put(tile[r, j])
            r, j = advance(r, j, dr, dj, n_classes)

    @cuda.jit(device=True)
    def open_tile(tile, scores, labels, row0, ignore, first_bad):
        """The tile at ``row0`` in shared memory: ``(count, i, inside, y, live, first_bad)``.

        ``count`` rows; the thread's row ``i`` = ``row0 + t``, its label ``y``, whether
        it is a row of the tile (``inside``) with a valid, kept label (``live``).
        """
        n_rows = scores.shape[0]
        n_classes = scores.shape[1]
        count = n_rows - row0 if n_rows - row0 < n_rows_tile else int64(n_rows_tile)
        i = row0 + cuda.threadIdx.x
        inside, y, live, first_bad = k.row_label(labels, i, row0 + count, n_classes, ignore, 0,
                                                 first_bad)  # fmt: skip
        fill(tile, scores, row0, count, n_classes)
        cuda.syncthreads()
        return count, i, inside, y, live, first_bad

    @cuda.jit(device=True)
    def open_rows(tile, scores, row0, per_tile):
        """The scores' tile of ``per_tile`` rows at ``row0``: ``(count, i, inside)``.

        For the losses without labels; the caller's barrier follows the fill.
        """
        n_rows = scores.shape[0]
        count = n_rows - row0 if n_rows - row0 < per_tile else int64(per_tile)
        i = row0 + cuda.threadIdx.x
        fill(tile, scores, row0, count, scores.shape[1])
        return count, i, i < row0 + count

    @cuda.jit(device=True)
    def close_tile(tile, grad, loss_out, row0, count, n_classes, i, inside, live, loss, acc,
                   zero):  # fmt: skip
        """The thread's row done: its loss out and into ``acc`` (returned), the gradient out.

        A row of the tile without a live label gets a zero gradient and loss.
        """
        if inside and not live:
            clear(tile, cuda.threadIdx.x, 0, 1, n_classes, zero)
        if inside:
            if loss_out.shape[0] > 0:
                loss_out[i] = loss
            acc += float64(loss)
        cuda.syncthreads()
        if grad.shape[0] > 0:
            drain(grad, tile, row0, count, n_classes)
            cuda.syncthreads()
        return acc

    @cuda.jit
    def weston_watkins(scores, labels, cw, sw, grad, loss_out, partials, bad, margin, p, norm,
                       kink_frac, drop_nan, g_const, grad_denom, ignore):  # fmt: skip
        """Weston–Watkins, one thread per row of a shared-memory tile."""
        tile = cuda.shared.array((n_rows_tile, width), T)
        buf = cuda.shared.array(TPB, float64)
        mbuf = cuda.shared.array(TPB, float64)
        t = cuda.threadIdx.x
        n_rows = scores.shape[0]
        n_classes = scores.shape[1]
        has_sw = sw.shape[0] > 0
        want_grad = grad.shape[0] > 0
        zero = margin - margin
        hinge = p == 1
        keep_nan = not drop_nan
        acc = 0.0
        first_bad = float64(2.0**62)
        row0 = int64(cuda.blockIdx.x) * n_rows_tile
        while row0 < n_rows:  # the same trip count for the whole block
            count, i, inside, y, live, first_bad = open_tile(tile, scores, labels, row0, ignore,
                                                             first_bad)  # fmt: skip
            loss = zero
            if live:
                w_y = T(cw[y]) if cw.shape[0] > 0 else zero + T(1.0)
                g0 = T(T(sw[i]) / grad_denom) if has_sw else g_const
                total, coefs = ww_part(tile, tile, t, y, 0, 1, n_classes, margin, hinge, keep_nan,
                                       w_y, g0, kink_frac, want_grad)  # fmt: skip
                tile[t, y] = zero - T(coefs)
                loss = T(total) / norm
                if has_sw:
                    loss = loss * T(sw[i])
            acc = close_tile(tile, grad, loss_out, row0, count, n_classes, i, inside, live, loss,
                             acc, zero)  # fmt: skip
            row0 += int64(cuda.gridDim.x) * n_rows_tile
        k.store_block_results(buf, mbuf, t, acc, first_bad, partials, bad)

    @cuda.jit
    def crammer_singer(scores, labels, cw, sw, grad, loss_out, partials, bad, margin, p,
                       kink_mode, split_ties, g_const, grad_denom, ignore):  # fmt: skip
        """Crammer–Singer, one thread per row of a shared-memory tile."""
        tile = cuda.shared.array((n_rows_tile, width), T)
        buf = cuda.shared.array(TPB, float64)
        mbuf = cuda.shared.array(TPB, float64)
        t = cuda.threadIdx.x
        n_rows = scores.shape[0]
        n_classes = scores.shape[1]
        has_sw = sw.shape[0] > 0
        want_grad = grad.shape[0] > 0
        zero = margin - margin
        acc = 0.0
        first_bad = float64(2.0**62)
        row0 = int64(cuda.blockIdx.x) * n_rows_tile
        while row0 < n_rows:  # the same trip count for the whole block
            count, i, inside, y, live, first_bad = open_tile(tile, scores, labels, row0, ignore,
                                                             first_bad)  # fmt: skip
            loss = zero
            if live:
                bv, bi, bn = cs_max(tile, t, y, 0, 1, n_classes)
                w_y = T(cw[y]) if cw.shape[0] > 0 else zero + T(1.0)
                g0 = T(T(sw[i]) / grad_denom) if has_sw else g_const
                loss, coef, ties, best = cs_coef(tile, t, y, n_classes, margin, p, kink_mode,
                                                 split_ties, w_y, g0, bv, bn)  # fmt: skip
                if want_grad:
                    cs_grad(tile, tile, t, y, 0, 1, n_classes, coef, ties, bi, best, zero)
                if has_sw:
                    loss = loss * T(sw[i])
            acc = close_tile(tile, grad, loss_out, row0, count, n_classes, i, inside, live, loss,
                             acc, zero)  # fmt: skip
            row0 += int64(cuda.gridDim.x) * n_rows_tile
        k.store_block_results(buf, mbuf, t, acc, first_bad, partials, bad)

    @cuda.jit
    def one_vs_all(scores, labels, sw, grad, loss_out, partials, bad, margin, p, norm,
                   kink_frac, g_const, grad_denom, ignore):  # fmt: skip
        """One-vs-all, one thread per row of a shared-memory tile."""
        tile = cuda.shared.array((n_rows_tile, width), T)
        buf = cuda.shared.array(TPB, float64)
        mbuf = cuda.shared.array(TPB, float64)
        t = cuda.threadIdx.x
        n_rows = scores.shape[0]
        n_classes = scores.shape[1]
        has_sw = sw.shape[0] > 0
        want_grad = grad.shape[0] > 0
        zero = margin - margin
        hinge = p == 1
        acc = 0.0
        first_bad = float64(2.0**62)
        row0 = int64(cuda.blockIdx.x) * n_rows_tile
        while row0 < n_rows:  # the same trip count for the whole block
            count, i, inside, y, live, first_bad = open_tile(tile, scores, labels, row0, ignore,
                                                             first_bad)  # fmt: skip
            loss = zero
            if live:
                g0 = T(T(sw[i]) / grad_denom) if has_sw else g_const
                total = ova_part(tile, tile, t, y, 0, 1, n_classes, margin, hinge, g0, kink_frac,
                                 want_grad)  # fmt: skip
                loss = T(total) / norm
                if has_sw:
                    loss = loss * T(sw[i])
            acc = close_tile(tile, grad, loss_out, row0, count, n_classes, i, inside, live, loss,
                             acc, zero)  # fmt: skip
            row0 += int64(cuda.gridDim.x) * n_rows_tile
        k.store_block_results(buf, mbuf, t, acc, first_bad, partials, bad)

    @cuda.jit
    def rescaling(scores, labels, cw, sw, cost, grad, loss_out, partials, bad, margin, kind,
                  kink_mode, split_ties, g_const, grad_denom, ignore):  # fmt: skip
        """Margin/slack rescaling, one thread per row of a shared-memory tile."""
        tile = cuda.shared.array((n_rows_tile, width), T)
        vbuf = cuda.shared.array(TPB, float64)
        ibuf = cuda.shared.array(TPB, int64)
        nbuf = cuda.shared.array(TPB, int64)
        mbuf = cuda.shared.array(TPB, float64)
        t = cuda.threadIdx.x
        n_rows = scores.shape[0]
        n_classes = scores.shape[1]
        want_grad = grad.shape[0] > 0
        zero = margin - margin
        acc = 0.0
        first_bad = float64(2.0**62)
        row0 = int64(cuda.blockIdx.x) * n_rows_tile
        while row0 < n_rows:  # the same trip count for the whole block
            count, i, inside, y, live, first_bad = open_tile(tile, scores, labels, row0, ignore,
                                                             first_bad)  # fmt: skip
            loss = rescaling_row(tile, tile, t, i, y, inside, live, t, 0, 1, n_classes, vbuf, ibuf,
                                 nbuf, cw, sw, cost, margin, kind, kink_mode, split_ties, g_const,
                                 grad_denom, want_grad)  # fmt: skip
            acc = close_tile(tile, grad, loss_out, row0, count, n_classes, i, inside, live, loss,
                             acc, zero)  # fmt: skip
            row0 += int64(cuda.gridDim.x) * n_rows_tile
        k.store_block_results(vbuf, mbuf, t, acc, first_bad, partials, bad)

    @cuda.jit
    def topk(scores, labels, cw, sw, grad, loss_out, partials, bad, margin, kind, k_top,
             kink_frac, split_ties, g_const, grad_denom, ignore):  # fmt: skip
        """Top-k α/β, one thread per row of a shared-memory tile."""
        tile = cuda.shared.array((n_rows_tile, width), T)
        vbuf = cuda.shared.array(TPB, float64)
        ibuf = cuda.shared.array(TPB, int64)
        nbuf = cuda.shared.array(TPB, int64)
        mbuf = cuda.shared.array(TPB, float64)
        t = cuda.threadIdx.x
        n_rows = scores.shape[0]
        n_classes = scores.shape[1]
        want_grad = grad.shape[0] > 0
        zero = margin - margin
        acc = 0.0
        first_bad = float64(2.0**62)
        row0 = int64(cuda.blockIdx.x) * n_rows_tile
        while row0 < n_rows:  # the same trip count for the whole block
            count, i, inside, y, live, first_bad = open_tile(tile, scores, labels, row0, ignore,
                                                             first_bad)  # fmt: skip
            loss = topk_row(tile, tile, t, i, y, inside, live, t, 0, 1, n_classes, vbuf, ibuf, nbuf,
                            cw, sw, margin, kind, k_top, kink_frac, split_ties, g_const, grad_denom,
                            want_grad)  # fmt: skip
            acc = close_tile(tile, grad, loss_out, row0, count, n_classes, i, inside, live, loss,
                             acc, zero)  # fmt: skip
            row0 += int64(cuda.gridDim.x) * n_rows_tile
        k.store_block_results(vbuf, mbuf, t, acc, first_bad, partials, bad)

    @cuda.jit
    def categorical_hinge(scores, targets, sw, grad, loss_out, partials, margin, kink_frac,
                          split_ties, g_const, grad_denom):  # fmt: skip
        """Keras' categorical hinge, one thread per row of two tiles (scores, targets)."""
        tile = cuda.shared.array((n_rows_pair, width), T)
        tiled_targets = cuda.shared.array((n_rows_pair, width), T)
        vbuf = cuda.shared.array(TPB, float64)
        ibuf = cuda.shared.array(TPB, int64)
        nbuf = cuda.shared.array(TPB, int64)
        t = cuda.threadIdx.x
        n_rows = scores.shape[0]
        n_classes = scores.shape[1]
        want_grad = grad.shape[0] > 0
        zero = margin - margin
        acc = 0.0
        row0 = int64(cuda.blockIdx.x) * n_rows_pair
        while row0 < n_rows:  # the same trip count for the whole block
            count, i, inside = open_rows(tile, scores, row0, n_rows_pair)
            fill_values(tiled_targets, targets, row0, count, n_classes)
            cuda.syncthreads()
            loss = categorical_row(tile, tile, t, tiled_targets, t, i, inside, t, 0, 1, n_classes,
                                   vbuf, ibuf, nbuf, sw, margin, kink_frac, split_ties, g_const,
                                   grad_denom, want_grad)  # fmt: skip
            acc = close_tile(tile, grad, loss_out, row0, count, n_classes, i, inside, inside,
                             loss, acc, zero)  # fmt: skip
            row0 += int64(cuda.gridDim.x) * n_rows_pair
        total = k.block_sum(vbuf, t, acc)
        if t == 0:
            partials[cuda.blockIdx.x] = total

    @cuda.jit
    def multilabel_margin(scores, targets, sw, grad, loss_out, partials, margin, kink_frac,
                          drop_nan, g_const, grad_denom):  # fmt: skip
        """PyTorch's multilabel margin, one thread per row of two tiles (scores, gradient)."""
        tile = cuda.shared.array((n_rows_pair, width), T)
        tiled_grad = cuda.shared.array((n_rows_pair, width), T)
        buf = cuda.shared.array(TPB, float64)
        t = cuda.threadIdx.x
        n_rows = scores.shape[0]
        n_classes = scores.shape[1]
        want_grad = grad.shape[0] > 0
        zero = margin - margin
        acc = 0.0
        row0 = int64(cuda.blockIdx.x) * n_rows_pair
        while row0 < n_rows:  # the same trip count for the whole block
            count, i, inside = open_rows(tile, scores, row0, n_rows_pair)
            cuda.syncthreads()
            loss = multilabel_row(tile, tiled_grad, t, targets, i, inside, t, 0, 1, n_classes, buf,
                                  sw, margin, kink_frac, drop_nan, g_const, grad_denom,
                                  want_grad)  # fmt: skip
            acc = close_tile(tiled_grad, grad, loss_out, row0, count, n_classes, i, inside,
                             inside, loss, acc, zero)  # fmt: skip
            row0 += int64(cuda.gridDim.x) * n_rows_pair
        total = k.block_sum(buf, t, acc)
        if t == 0:
            partials[cuda.blockIdx.x] = total

    return SimpleNamespace(rows=n_rows_tile, pair_rows=n_rows_pair, weston_watkins=weston_watkins,
                           crammer_singer=crammer_singer, one_vs_all=one_vs_all,
                           rescaling=rescaling, topk=topk, categorical_hinge=categorical_hinge,
                           multilabel_margin=multilabel_margin)  # fmt: skip
