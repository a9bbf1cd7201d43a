"""Rows as SIMD lanes: tiles of the scores transposed in registers.

A Weston–Watkins row sum must be added in index order (PyTorch's order, for
bit-identical results), so one row is a chain of dependent additions that no
vectoriser may reorder. ``W`` rows side by side are ``W`` independent chains:
lane ``r`` of a vector holds row ``r``. ``ww_band`` walks a band of W rows in
tiles of W columns: W contiguous row loads (masked for the last, partial
tile), a transpose by ``shufflevector`` (log2 W stages), then column after
column into the lanes, each lane in its row's index order with the row code's
operations. The loaded rows also give the gradient rows (a compare and a
select per element), stored as W contiguous (masked) vectors. Numba has no
vector types, hence LLVM IR through ``@intrinsic``.

W is 16 for float32 and 8 for float64 (512-bit vectors; LLVM splits them
where the CPU has narrower ones). Lane state lives in a ``(5, LANES)`` array
of the scores' dtype (rows ``BASE``, ``WEIGHT``, ``SLOPE``, ``TOTAL``,
``G_Y``; the first W columns are used) and the lanes' labels in a
``(LANES,)`` int64 array.
"""

from __future__ import annotations

import llvmlite.ir as lir
import numba
import numpy as np
from numba.core import cgutils, types
from numba.extending import intrinsic

#: Columns of the lane arrays: the widest band (float32).
LANES = 16
BASE, WEIGHT, SLOPE, TOTAL, G_Y = range(5)
#: Rows up to this many bytes are prefetched one band ahead.
SHORT_ROW_BYTES = 2048

_I32 = lir.IntType(32)
_I64 = lir.IntType(64)


def band_rows(dtype: np.dtype) -> int:
    """W: the rows of a band (and columns of a tile) for scores of ``dtype``."""
    return 16 if np.dtype(dtype).itemsize == 4 else 8


def _int_vector(values: list[int], bits: int = 32) -> lir.Constant:  # pragma: no cover
    kind = lir.IntType(bits)
    return lir.Constant(lir.VectorType(kind, len(values)), [lir.Constant(kind, v) for v in values])


def _transpose_masks(width: int) -> list[tuple[int, list[int], list[int]]]:  # pragma: no cover
    """Shuffle masks of each stage: stage ``b`` swaps bit ``b`` of the row and column indices."""
    stages = []
    b = 1
    while b < width:
        low = [k if not k & b else width + k - b for k in range(width)]
        high = [k + b if not k & b else width + k for k in range(width)]
        stages.append((b, low, high))
        b *= 2
    return stages


def _transpose(builder, rows: list) -> list:  # pragma: no cover (compile-time code)
    """The columns of the W×W matrix whose rows are the vectors ``rows``."""
    for b, low, high in _transpose_masks(len(rows)):
        new = list(rows)
        for r in range(len(rows)):
            if not r & b:
                new[r] = builder.shuffle_vector(rows[r], rows[r + b], _int_vector(low))
                new[r + b] = builder.shuffle_vector(rows[r], rows[r + b], _int_vector(high))
        rows = new
    return rows


def _splat(builder, value, width: int):  # pragma: no cover (compile-time code)
    vector = lir.VectorType(value.type, width)
    v = builder.insert_element(lir.Constant(vector, None), value, lir.Constant(_I32, 0))
    return builder.shuffle_vector(v, v, _int_vector([0] * width))


class _Band:  # pragma: no cover (compile-time code)
    """IR builder of one ``ww_band`` call: the band's lanes and its tiles."""

    def __init__(self, context, builder, sig, args):
        flat, self.row_offset, self.stride, lanes, labels, grad = args
        self.builder = builder
        self.src = context.make_array(sig.args[0])(context, builder, flat).data
        self.grad = context.make_array(sig.args[5])(context, builder, grad)
        element = context.get_data_type(sig.args[0].dtype)
        self.width = band_rows(np.dtype(str(sig.args[0].dtype)))
        self.align = context.get_abi_sizeof(element)
        self.vector = lir.VectorType(element, self.width)
        self.zero = lir.Constant(self.vector, None)
        suffix = f"v{self.width}f{8 * self.align}"
        mask_type = lir.VectorType(lir.IntType(1), self.width)
        pointer = self.vector.as_pointer()
        self.masked_load = cgutils.get_or_insert_function(
            builder.module,
            lir.FunctionType(self.vector, [pointer, _I32, mask_type, self.vector]),
            f"llvm.masked.load.{suffix}.p0{suffix}",
        )
        self.masked_store = cgutils.get_or_insert_function(
            builder.module,
            lir.FunctionType(lir.VoidType(), [self.vector, pointer, _I32, mask_type]),
            f"llvm.masked.store.{suffix}.p0{suffix}",
        )
        self.prefetch = cgutils.get_or_insert_function(
            builder.module,
            lir.FunctionType(lir.VoidType(), [lir.IntType(8).as_pointer(), _I32, _I32, _I32]),
            "llvm.prefetch.p0i8",
        )
        # Short rows make W short, interleaved streams that the hardware prefetcher
        # misses: prefetch the next band (measured 2x at C = 100, float32). Long rows
        # are long streams it follows, and a band ahead would be too far (slower at
        # C = 10000): there the "prefetch" is of the current tile, a no-op.
        short = builder.icmp_signed(
            "<=",
            builder.mul(self.stride, lir.Constant(_I64, self.align)),
            lir.Constant(_I64, SHORT_ROW_BYTES),
        )
        ahead = builder.mul(self.stride, lir.Constant(_I64, self.width))
        self.ahead = builder.select(short, ahead, lir.Constant(_I64, 0))
        lane_data = context.make_array(sig.args[3])(context, builder, lanes).data
        self.lane_ptr = [builder.gep(lane_data, [lir.Constant(_I64, k * LANES)]) for k in range(5)]
        self.lane = [self._load(p) for p in self.lane_ptr]
        label_data = context.make_array(sig.args[4])(context, builder, labels).data
        labels64 = builder.load(
            builder.bitcast(label_data, lir.VectorType(_I64, self.width).as_pointer()), align=8
        )
        # column indices and labels as int32 (the caller keeps n_classes < 2**31): one
        # compare per column on one register
        self.labels = builder.trunc(labels64, lir.VectorType(_I32, self.width))
        self.total = cgutils.alloca_once_value(builder, self.lane[TOTAL])
        self.g_y = cgutils.alloca_once_value(builder, self.lane[G_Y])
        self.has_grad = builder.icmp_signed(">", self.grad.nitems, lir.Constant(_I64, 0))

    def _prefetch(self, data, start, write):
        """Prefetch the same tile row of the next band (short rows only)."""
        b = self.builder
        pointer = b.bitcast(b.gep(data, [b.add(start, self.ahead)]), lir.IntType(8).as_pointer())
        flags = [lir.Constant(_I32, int(write)), lir.Constant(_I32, 3), lir.Constant(_I32, 1)]
        b.call(self.prefetch, [pointer, *flags])

    def _load(self, pointer, mask=None):
        b = self.builder
        pointer = b.bitcast(pointer, self.vector.as_pointer())
        if mask is None:
            return b.load(pointer, align=self.align)
        return b.call(self.masked_load, [pointer, lir.Constant(_I32, self.align), mask, self.zero])

    def _store(self, value, pointer, mask=None):
        b = self.builder
        pointer = b.bitcast(pointer, self.vector.as_pointer())
        if mask is None:
            b.store(value, pointer, align=self.align)
        else:
            b.call(self.masked_store, [value, pointer, lir.Constant(_I32, self.align), mask])

    def tile(self, j0, width=None):
        """Columns ``j0 ..`` (all W, or the first ``width`` under a mask)."""
        b, w = self.builder, self.width
        mask = None
        if width is not None:
            mask = b.icmp_signed("<", _int_vector(list(range(w)), 64), _splat(b, width, w))
        first = b.add(self.row_offset, j0)
        starts = [b.add(first, b.mul(self.stride, lir.Constant(_I64, r))) for r in range(w)]
        rows = [self._load(b.gep(self.src, [s]), mask) for s in starts]
        for s in starts:
            self._prefetch(self.src, s, write=False)
        columns = _transpose(b, rows)
        labels = b.sub(self.labels, _splat(b, b.trunc(j0, _I32), w))  # the label's column from j0
        total, g_y = b.load(self.total), b.load(self.g_y)
        for jj in range(w):
            z = b.fadd(self.lane[BASE], columns[jj])
            keep = b.fcmp_unordered(">", z, self.zero)  # not z <= 0: a NaN z is kept
            keep = b.and_(keep, b.icmp_signed("!=", labels, _int_vector([jj] * w)))
            new_total = b.fadd(total, b.select(keep, b.fmul(z, self.lane[WEIGHT]), self.zero))
            new_g_y = b.fsub(g_y, b.select(keep, self.lane[SLOPE], self.zero))
            if width is None:
                total, g_y = new_total, new_g_y
            else:
                inside = b.icmp_signed("<", lir.Constant(_I64, jj), width)
                total, g_y = b.select(inside, new_total, total), b.select(inside, new_g_y, g_y)
        b.store(total, self.total)
        b.store(g_y, self.g_y)
        with b.if_then(self.has_grad):
            for r in range(w):
                index = lir.Constant(_I32, r)
                base = _splat(b, b.extract_element(self.lane[BASE], index), w)
                slope = _splat(b, b.extract_element(self.lane[SLOPE], index), w)
                keep = b.fcmp_unordered(">", b.fadd(base, rows[r]), self.zero)
                value = b.select(keep, slope, self.zero)
                self._store(value, b.gep(self.grad.data, [starts[r]]), mask)
                self._prefetch(self.grad.data, starts[r], write=True)

    def finish(self):
        self._store(self.builder.load(self.total), self.lane_ptr[TOTAL])
        self._store(self.builder.load(self.g_y), self.lane_ptr[G_Y])


def _codegen_ww_band(context, builder, sig, args):  # pragma: no cover (compile-time code)
    band = _Band(context, builder, sig, args)
    stride = args[2]
    w = lir.Constant(_I64, band.width)
    full_tiles = builder.sdiv(stride, w)
    with cgutils.for_range(builder, full_tiles) as loop:
        band.tile(builder.mul(loop.index, w))
    rest = builder.srem(stride, w)
    with builder.if_then(builder.icmp_signed(">", rest, lir.Constant(_I64, 0))):
        band.tile(builder.mul(full_tiles, w), rest)
    band.finish()
    return context.get_dummy_value()


@intrinsic
def ww_band(typingctx, flat, row_offset, n_classes, lanes, labels, grad):  # pragma: no cover
    """Weston–Watkins sums and gradient rows of the W rows from ``flat[row_offset]``.

    Rows are ``n_classes`` apart in ``flat`` (the scores, flattened); ``grad``
    is the gradient flattened the same way, or empty (loss only). For each
    column in index order and each lane: ``z = base + s``, kept when ``not z
    <= 0`` and the column is not the lane's label; ``total += z · weight``
    and ``g_y −= slope`` for a kept column (the row code's operations). The
    gradient entries are ``slope`` where ``not z <= 0``, else 0; the label's
    entry is the caller's to overwrite with ``G_Y``.
    """
    sig = types.none(flat, row_offset, n_classes, lanes, labels, grad)
    return sig, _codegen_ww_band


def _ww_band_python(flat, row_offset, n_classes, lanes, labels, grad):
    """``ww_band`` as plain Python (``NUMBA_DISABLE_JIT=1``), the same operations per lane."""
    zero = flat.dtype.type(0)
    for r in range(band_rows(flat.dtype)):
        base, weight, slope = lanes[BASE, r], lanes[WEIGHT, r], lanes[SLOPE, r]
        start = row_offset + r * n_classes
        for j in range(n_classes):
            z = base + flat[start + j]
            keep = (not z <= 0) and j != labels[r]
            lanes[TOTAL, r] += z * weight if keep else zero
            lanes[G_Y, r] -= slope if keep else zero
            if grad.shape[0]:
                grad[start + j] = slope if not z <= 0 else zero


@intrinsic
def tile_rows(typingctx, scores):  # pragma: no cover (compile-time code)
    """W for ``scores``' dtype (a compile-time constant)."""
    width = band_rows(np.dtype(str(scores.dtype)))

    def codegen(context, builder, sig, args):
        return context.get_constant(types.intp, width)

    return types.intp(scores), codegen


def _tile_rows_python(scores):
    return band_rows(scores.dtype)


if numba.config.DISABLE_JIT:  # intrinsics only exist compiled
    ww_band = _ww_band_python
    tile_rows = _tile_rows_python
