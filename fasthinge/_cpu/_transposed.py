"""Bands kept transposed in scratch: ``(C, 16)`` tiles walked one column at a time.

A loss that walks its rows more than once (the multilabel margin: once per
target) keeps a band of 16 rows transposed in scratch arrays, so that column
``d`` of the 16 rows is one contiguous 16-lane vector: ``tile[d]``. The walks
below are LLVM IR through ``@intrinsic`` (Numba has no vector types, and a
plain lane loop over several scratch arrays does not vectorise: LLVM cannot
tell them apart), each with a plain-Python twin for ``NUMBA_DISABLE_JIT``.

- ``transpose_in(flat, row_offset, stride, tile)``: rows ``flat[row_offset +
  r·stride :][:stride]`` (r < 16) into ``tile[:stride, r]``, 16 × 16 blocks
  transposed in registers (``_tiles._transpose``); the last block's missing
  columns read as 0.
- ``transpose_out(tile, flat, row_offset, stride)``: the reverse (only the
  ``stride`` real columns are stored).
- ``multilabel_pass(tile, is_target, gtile, lanes, totals, kink_frac, keep_nan)``:
  one target of each lane against every column, ``_multilabel_row``'s
  operations lane-wise and branch-free.

Scratch arrays have C rows rounded up to a multiple of ``BAND``, so every
block is whole in scratch.
"""

from __future__ import annotations

import llvmlite.ir as lir
import numba
import numpy as np
from numba.core import cgutils, types
from numba.extending import intrinsic

from ._tiles import _int_vector, _splat, _transpose

#: Rows of a band (lanes of every vector here), for float32 and float64.
BAND = 16
_I32 = lir.IntType(32)
_I64 = lir.IntType(64)


class _Vectors:  # pragma: no cover (compile-time code)
    """IR helpers over one element type: 16-lane loads and stores, masked or not."""

    def __init__(self, context, builder, element_type):
        self.builder = builder
        element = context.get_data_type(element_type)
        self.align = context.get_abi_sizeof(element)
        self.vector = lir.VectorType(element, BAND)
        suffix = f"v{BAND}f{8 * self.align}"
        mask = lir.VectorType(lir.IntType(1), BAND)
        pointer = self.vector.as_pointer()
        self.masked_load = cgutils.get_or_insert_function(
            builder.module,
            lir.FunctionType(self.vector, [pointer, _I32, mask, self.vector]),
            f"llvm.masked.load.{suffix}.p0{suffix}",
        )
        self.masked_store = cgutils.get_or_insert_function(
            builder.module,
            lir.FunctionType(lir.VoidType(), [self.vector, pointer, _I32, mask]),
            f"llvm.masked.store.{suffix}.p0{suffix}",
        )

    def load(self, data, index, mask=None):
        b = self.builder
        pointer = b.bitcast(b.gep(data, [index]), self.vector.as_pointer())
        if mask is None:
            return b.load(pointer, align=self.align)
        zero = lir.Constant(self.vector, None)
        return b.call(self.masked_load, [pointer, lir.Constant(_I32, self.align), mask, zero])

    def store(self, value, data, index, mask=None):
        b = self.builder
        pointer = b.bitcast(b.gep(data, [index]), self.vector.as_pointer())
        if mask is None:
            b.store(value, pointer, align=self.align)
        else:
            b.call(self.masked_store, [value, pointer, lir.Constant(_I32, self.align), mask])


def _blocks(builder, stride, body):  # pragma: no cover (compile-time code)
    """Call ``body(j0, mask)`` for each block of BAND columns of rows ``stride`` long."""
    b = builder
    n_blocks = b.sdiv(b.add(stride, lir.Constant(_I64, BAND - 1)), lir.Constant(_I64, BAND))
    with cgutils.for_range(b, n_blocks) as loop:
        j0 = b.mul(loop.index, lir.Constant(_I64, BAND))
        columns = b.add(_int_vector(list(range(BAND)), 64), _splat(b, j0, BAND))
        body(j0, b.icmp_signed("<", columns, _splat(b, stride, BAND)))


def _transpose_in_python(flat, row_offset, stride, tile):
    """``transpose_in`` as plain Python."""
    for r in range(BAND):
        start = row_offset + r * stride
        tile[:stride, r] = flat[start : start + stride]
        tile[stride:, r] = 0


@intrinsic
def _transpose_in(typingctx, flat, row_offset, stride, tile):  # pragma: no cover
    """Rows ``row_offset + r·stride`` (r < 16, ``stride`` long) of ``flat`` into ``tile``."""
    if not isinstance(tile, types.Array) or tile.dtype != flat.dtype:
        return None

    def codegen(context, builder, signature, args):
        src, offset, length, dst = args
        vectors = _Vectors(context, builder, signature.args[0].dtype)
        src_data = context.make_array(signature.args[0])(context, builder, src).data
        dst_data = context.make_array(signature.args[3])(context, builder, dst).data
        b = builder
        starts = [b.add(offset, b.mul(length, lir.Constant(_I64, r))) for r in range(BAND)]

        def body(j0, mask):
            rows = [vectors.load(src_data, b.add(start, j0), mask) for start in starts]
            for jj, column in enumerate(_transpose(b, rows)):
                index = b.mul(b.add(j0, lir.Constant(_I64, jj)), lir.Constant(_I64, BAND))
                vectors.store(column, dst_data, index)

        _blocks(b, length, body)
        return context.get_dummy_value()

    return types.none(flat, row_offset, stride, tile), codegen


def _transpose_out_python(tile, flat, row_offset, stride):
    """``transpose_out`` as plain Python."""
    for r in range(BAND):
        start = row_offset + r * stride
        flat[start : start + stride] = tile[:stride, r]


@intrinsic
def _transpose_out(typingctx, tile, flat, row_offset, stride):  # pragma: no cover
    """``tile``'s first ``stride`` rows back into rows ``row_offset + r·stride`` of ``flat``."""
    if not isinstance(tile, types.Array) or tile.dtype != flat.dtype:
        return None

    def codegen(context, builder, signature, args):
        src, dst, offset, length = args
        vectors = _Vectors(context, builder, signature.args[0].dtype)
        src_data = context.make_array(signature.args[0])(context, builder, src).data
        dst_data = context.make_array(signature.args[1])(context, builder, dst).data
        b = builder
        starts = [b.add(offset, b.mul(length, lir.Constant(_I64, r))) for r in range(BAND)]

        def body(j0, mask):
            columns = []
            for jj in range(BAND):
                index = b.mul(b.add(j0, lir.Constant(_I64, jj)), lir.Constant(_I64, BAND))
                columns.append(vectors.load(src_data, index))
            for start, row in zip(starts, _transpose(b, columns), strict=True):
                vectors.store(row, dst_data, b.add(start, j0), mask)

        _blocks(b, length, body)
        return context.get_dummy_value()

    return types.none(tile, flat, row_offset, stride), codegen


#: Rows of ``multilabel_pass``'s ``lanes`` argument.
G0, BASE, G_TARGET, ACTIVE = range(4)


def _multilabel_pass_python(tile, is_target, gtile, lanes, totals, n_classes, kink_frac,
                            keep_nan):  # fmt: skip
    """``multilabel_pass`` as plain Python, lane after lane (the same operations)."""
    zero = tile.dtype.type(0.0)
    for r in range(BAND):
        active = lanes[ACTIVE, r] != 0
        g0, base, g_target = lanes[G0, r], lanes[BASE, r], lanes[G_TARGET, r]
        for d in range(n_classes):
            on = active and not is_target[d, r]
            z = base + tile[d, r]
            coef = g0 if z > 0 else (g0 * kink_frac if z == 0 else zero)
            nan_kept = z != z and keep_nan
            coef = z if nan_kept else coef
            coef = coef if on else zero
            totals[r] += np.float64(z) if on and (z > 0 or nan_kept) else 0.0
            g_target -= coef
            gtile[d, r] += coef
        lanes[G_TARGET, r] = g_target


@intrinsic
def _multilabel_pass(typingctx, tile, is_target, gtile, lanes, totals, n_classes, kink_frac,
                     keep_nan):  # fmt: skip  # pragma: no cover
    """One target of each active lane against columns ``0..n_classes``, in order.

    Per lane, as ``_multilabel_row``: ``z = base + s_d``; a column that is one
    of the lane's targets (or an inactive lane) adds ``+0.0`` to the float64
    ``totals`` and to ``gtile[d]``, and subtracts it from ``g_target`` (no
    change: neither starts from −0.0).
    """
    if not isinstance(tile, types.Array) or tile.dtype != kink_frac:
        return None

    def codegen(context, builder, signature, args):
        n_cols, kink, keep = args[5:]
        b = builder
        vectors = _Vectors(context, builder, signature.args[0].dtype)
        doubles = _Vectors(context, builder, types.float64)
        flags = lir.VectorType(lir.IntType(8), BAND)
        data = [
            context.make_array(kind)(context, builder, value).data
            for kind, value in zip(signature.args[:5], args[:5], strict=True)
        ]
        tile_d, target_d, gtile_d, lanes_d, totals_d = data
        g0 = vectors.load(lanes_d, lir.Constant(_I64, G0 * BAND))
        base = vectors.load(lanes_d, lir.Constant(_I64, BASE * BAND))
        active = vectors.load(lanes_d, lir.Constant(_I64, ACTIVE * BAND))
        active = b.fcmp_unordered("!=", active, lir.Constant(vectors.vector, None))
        zero = lir.Constant(vectors.vector, None)
        g0_kink = b.fmul(g0, _splat(b, kink, BAND))
        keep_nan = _splat(b, b.icmp_unsigned("!=", keep, lir.Constant(keep.type, 0)), BAND)
        g_target = cgutils.alloca_once_value(
            b, vectors.load(lanes_d, lir.Constant(_I64, G_TARGET * BAND))
        )
        total = cgutils.alloca_once_value(b, doubles.load(totals_d, lir.Constant(_I64, 0)))
        with cgutils.for_range(b, n_cols) as loop:
            index = b.mul(loop.index, lir.Constant(_I64, BAND))
            pointer = b.bitcast(b.gep(target_d, [index]), flags.as_pointer())
            is_target = b.icmp_unsigned("!=", b.load(pointer, align=1), lir.Constant(flags, None))
            on = b.and_(active, b.not_(is_target))
            z = b.fadd(base, vectors.load(tile_d, index))
            positive = b.fcmp_ordered(">", z, zero)
            coef = b.select(b.fcmp_ordered("==", z, zero), g0_kink, zero)
            coef = b.select(positive, g0, coef)
            nan_kept = b.and_(b.fcmp_unordered("uno", z, z), keep_nan)
            coef = b.select(nan_kept, z, coef)
            coef = b.select(on, coef, zero)
            adds = b.and_(on, b.or_(positive, nan_kept))
            wide = b.fpext(z, doubles.vector) if z.type != doubles.vector else z
            term = b.select(adds, wide, lir.Constant(doubles.vector, None))
            b.store(b.fadd(b.load(total), term), total)
            b.store(b.fsub(b.load(g_target), coef), g_target)
            vectors.store(b.fadd(vectors.load(gtile_d, index), coef), gtile_d, index)
        vectors.store(b.load(g_target), lanes_d, lir.Constant(_I64, G_TARGET * BAND))
        doubles.store(b.load(total), totals_d, lir.Constant(_I64, 0))
        return context.get_dummy_value()

    signature = types.none(tile, is_target, gtile, lanes, totals, n_classes, kink_frac, keep_nan)
    return signature, codegen


transpose_in, transpose_out, multilabel_pass = _transpose_in, _transpose_out, _multilabel_pass
if numba.config.DISABLE_JIT:  # intrinsics only exist compiled
    transpose_in = _transpose_in_python
    transpose_out = _transpose_out_python
    multilabel_pass = _multilabel_pass_python
