"""Bands kept transposed in scratch: ``(C, 16)`` tiles walked one column at a time.

A loss that walks its rows more than once (the multilabel margin: once per
target) keeps a band of 16 rows transposed in scratch arrays, so that column
``d`` of the 16 rows is one contiguous 16-lane vector: ``tile[d]``. The walks
below are LLVM IR through ``@intrinsic`` (Numba has no vector types, and a
plain lane loop over several scratch arrays does not vectorise: LLVM cannot
tell them apart), each with a plain-Python twin for ``NUMBA_DISABLE_JIT``. The
lane-wise walks go one register of lanes at a time (W of the 16, ``_Lanes``):
16-lane vectors were two AVX2 registers, and their masks were packed and widened
again at every select.

- ``transpose_in(flat, row_offset, stride, tile)``: rows ``flat[row_offset +
  r·stride :][:stride]`` (r < 16) into ``tile[:stride, r]``, W × W blocks
  transposed in registers (``_tiles._transpose``; W = ``_tiles.band_rows``,
  one register, so a 16 × 16 block is (16/W)² of them); the tile's rows from
  ``stride`` on hold anything. Returns whether a NaN was read.
- ``transpose_out(tile, flat, row_offset, stride)``: the reverse (only the
  ``stride`` real columns are stored).
- ``transpose_block_in(flat, row_offset, stride, length, tile)``,
  ``transpose_block_out(tile, flat, row_offset, stride, length)``: the same for
  a block of ``length`` columns of rows ``stride`` apart.
- ``multilabel_pass(tile, is_target, gtile, g0s, totals, targets, row_offset, t,
  n_targets, n_classes, margin, kink_frac, keep_nan)``: target ``t`` of each lane
  (gathered here from the flattened targets) against every column,
  ``_multilabel_row``'s operations lane-wise and branch-free.
  ``multilabel_block_pass(tile, is_target, gtile, g0s, totals, bases, g_targets, t,
  n_targets, n_cols, margin, kink_frac, keep_nan)``: the same over a block of
  longer rows, each lane's ``margin − s_target`` and ``g_target`` in (16,) arrays.
- ``topk_sink``, ``topk_sums``, ``topk_gradient``: top-k's k largest wrong scores,
  its loss and its gradient, lane-wise (``structured._topk_bands``).
- ``categorical_grad_rows``: Keras' categorical hinge gradient rows of a band,
  row-major (its lanes are ``_tiles.categorical_band``'s).

A boolean argument that would enter the lanes' masks (top-k's ``alpha`` and
``split_ties``, the multilabel ``keep_nan``, the categorical ``split_ties``)
is branched on once, outside the walk, and each branch compiled with it as a
constant (``_for_each_flag``): LLVM had kept such a flag splat in every
select and packed and widened the masks around it.

Scratch arrays have C rows rounded up to a multiple of ``BAND``, so every
block is whole in scratch.
"""

from __future__ import annotations

import functools

import llvmlite.ir as lir
import numba
import numpy as np
from numba.core import cgutils, types
from numba.extending import intrinsic

from ._simd import KTH_IN_REGISTERS, each_k
from ._tiles import (
    CACHE_BYTES,
    CACHE_LINE_BYTES,
    LANES,
    PREFETCH_MAX_ROW_BYTES,
    _int_vector,
    _splat,
    _transpose,
    band_rows,
    staged_block,
    stream_lines,
)

#: Rows of a band (lanes of every vector here), for float32 and float64.
BAND = 16
_I32 = lir.IntType(32)
_I64 = lir.IntType(64)


class _Vectors:  # pragma: no cover (compile-time code)
    """IR helpers over one element type: ``lanes``-lane loads and stores, masked or not."""

    def __init__(self, context, builder, element_type, lanes=BAND):
        self.builder = builder
        element = context.get_data_type(element_type)
        self.align = context.get_abi_sizeof(element)
        self.lanes = lanes
        self.vector = lir.VectorType(element, lanes)
        suffix = f"v{lanes}f{8 * self.align}"
        mask = lir.VectorType(lir.IntType(1), lanes)
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

    def store(self, value, data, index, mask=None, stream=False):
        """``value`` at ``data[index]``, under ``mask``, or non-temporal (``stream``: a line's).

        A streamed store must start a cache line and fill it (one register).
        """
        b = self.builder
        pointer = b.bitcast(b.gep(data, [index]), self.vector.as_pointer())
        if stream:
            store = b.store(value, pointer, align=self.lanes * self.align)
            store.set_metadata("nontemporal", b.module.add_metadata([lir.Constant(_I32, 1)]))
        elif mask is None:
            b.store(value, pointer, align=self.align)
        else:
            b.call(self.masked_store, [value, pointer, lir.Constant(_I32, self.align), mask])


def _each_row(builder, r, stride, mask, access, width):  # pragma: no cover (compile-time code)
    """``access(row_mask)`` for row ``r`` of a band: unmasked unless ``mask`` is given.

    Under ``mask`` (rows shorter than ``width``), a row whose ``width`` entries
    end inside the band (BAND rows) is still read and written whole: it reads
    the next rows (the caller masks what it tests), and the next rows are
    written after it. Only the last rows take the mask. ``stride`` is the
    rows' length when each follows the one before, or ``None`` (blocks of
    longer rows: every row takes the mask). Returns what ``access`` returns (a
    load).
    """
    if mask is None:
        return access(None)
    if stride is None:  # a block of a longer row: the next row does not follow it
        return access(mask)
    b = builder
    end = b.add(b.mul(stride, lir.Constant(_I64, r)), lir.Constant(_I64, width))
    fits = b.icmp_signed("<=", end, b.mul(stride, lir.Constant(_I64, BAND)))
    with b.if_else(fits, likely=True) as (whole, part):
        with whole:
            whole_value, whole_end = access(None), b.basic_block
        with part:
            part_value, part_end = access(mask), b.basic_block
    if whole_value is None:
        return None
    value = b.phi(whole_value.type)
    value.add_incoming(whole_value, whole_end)
    value.add_incoming(part_value, part_end)
    return value


def _row_blocks(builder, stride, body, width):  # pragma: no cover (compile-time code)
    """Call ``body(j0, load_mask, fresh)`` for blocks of ``width`` columns covering a row.

    Whole blocks first (``load_mask`` and ``fresh`` None); the rest of the row as
    the last ``width`` columns again when the row has a whole block (loads and
    stores unmasked, ``fresh`` the lanes not seen before: a transpose writes the
    overlapped columns again, with the same values), else under ``load_mask``
    (``fresh`` the same; a band's transposes take it row by row, ``_each_row``).
    Masked loads and stores cost many times plain ones on AMD cores, and rows of
    10 classes masked every row.
    """
    b, w = builder, lir.Constant(_I64, width)
    whole = b.sdiv(stride, w)
    with cgutils.for_range(b, whole) as loop:
        body(b.mul(loop.index, w), None, None)
    rest = b.srem(stride, w)
    lanes = _int_vector(list(range(width)), 64)
    with b.if_then(b.icmp_signed(">", rest, lir.Constant(_I64, 0))):
        with b.if_else(b.icmp_signed(">", whole, lir.Constant(_I64, 0))) as (overlap, masked):
            with overlap:
                fresh = b.icmp_signed(">=", lanes, _splat(b, b.sub(w, rest), width))
                body(b.sub(stride, w), None, fresh)
            with masked:
                mask = b.icmp_signed("<", lanes, _splat(b, rest, width))
                body(lir.Constant(_I64, 0), mask, mask)


def _band_arrays(context, builder, signature, args, flat_at, tile_at):  # pragma: no cover
    """A transpose's ``_Vectors`` (one register), the arrays' data and the rows' starts.

    ``row_offset`` and ``stride`` (the rows' distance) are the two arguments after
    the flat array.
    """
    flat, tile = (
        context.make_array(signature.args[at])(context, builder, args[at]).data
        for at in (flat_at, tile_at)
    )
    offset, length = args[flat_at + 1], args[flat_at + 2]
    b, dtype = builder, signature.args[flat_at].dtype
    starts = [b.add(offset, b.mul(length, lir.Constant(_I64, r))) for r in range(BAND)]
    width = band_rows(np.dtype(str(dtype)))  # W × W blocks: one register a row
    return _Vectors(context, builder, dtype, width), flat, tile, starts


def _transpose_in_python(flat, row_offset, stride, tile):
    """``transpose_in`` as plain Python."""
    return _transpose_block_in_python(flat, row_offset, stride, stride, tile)


def _transpose_block_in_python(flat, row_offset, stride, length, tile):
    """``transpose_block_in`` as plain Python."""
    for r in range(BAND):
        start = row_offset + r * stride
        tile[:length, r] = flat[start : start + length]
        tile[length:, r] = 0
    return bool(np.isnan(tile).any())


def _transpose_in_codegen(length_at):  # pragma: no cover (compile-time code)
    """``transpose_in``'s codegen.

    ``length_at``: the argument with the rows' length, if not the stride (a
    block of longer rows: its rows are not contiguous, so a block narrower than
    W is masked row by row).
    """

    def codegen(context, builder, signature, args):
        tile_at = 3 if length_at is None else 4
        vectors, src_data, dst_data, starts = _band_arrays(context, builder, signature, args, 0,
                                                           tile_at)  # fmt: skip
        b, width = builder, vectors.lanes
        length = args[2 if length_at is None else length_at]
        contiguous = length if length_at is None else None  # (for ``_each_row``)
        flags = lir.VectorType(lir.IntType(1), width)
        nan = cgutils.alloca_once_value(b, lir.Constant(flags, None))

        def body(j0, mask):  # the 16 rows in groups of W: W × W transposes
            for group in range(BAND // width):
                rows = []
                for r in range(group * width, (group + 1) * width):  # a short row reads on
                    at = b.add(starts[r], j0)
                    load = lambda m, at=at: vectors.load(src_data, at, m)  # noqa: E731
                    rows.append(_each_row(b, r, contiguous, mask, load, width))
                seen = b.load(nan)
                for row in rows:  # past the row (a short row's next rows) is not tested
                    is_nan = b.fcmp_unordered("uno", row, row)
                    seen = b.or_(seen, is_nan if mask is None else b.and_(is_nan, mask))
                b.store(seen, nan)
                for jj, column in enumerate(_transpose(b, rows)):
                    column_at = b.mul(b.add(j0, lir.Constant(_I64, jj)), lir.Constant(_I64, BAND))
                    vectors.store(
                        column, dst_data, b.add(column_at, lir.Constant(_I64, group * width))
                    )

        _row_blocks(b, length, lambda j0, mask, fresh: body(j0, mask), width)
        bits = b.bitcast(b.load(nan), lir.IntType(width))
        return b.icmp_unsigned("!=", bits, lir.Constant(lir.IntType(width), 0))

    return codegen


@intrinsic
def _transpose_in(typingctx, flat, row_offset, stride, tile):  # pragma: no cover
    """Rows ``row_offset + r·stride`` (r < 16, ``stride`` long) of ``flat`` into ``tile``.

    Returns whether any of them holds a NaN.
    """
    if not isinstance(tile, types.Array) or tile.dtype != flat.dtype:
        return None
    return types.boolean(flat, row_offset, stride, tile), _transpose_in_codegen(None)


@intrinsic
def _transpose_block_in(typingctx, flat, row_offset, stride, length, tile):  # pragma: no cover
    """``transpose_in`` of a block: ``length`` entries of rows ``stride`` apart."""
    if not isinstance(tile, types.Array) or tile.dtype != flat.dtype:
        return None
    return types.boolean(flat, row_offset, stride, length, tile), _transpose_in_codegen(3)


def _transpose_out_python(tile, flat, row_offset, stride):
    """``transpose_out`` as plain Python."""
    _transpose_block_out_python(tile, flat, row_offset, stride, stride)


def _transpose_block_out_python(tile, flat, row_offset, stride, length):
    """``transpose_block_out`` as plain Python."""
    for r in range(BAND):
        start = row_offset + r * stride
        flat[start : start + length] = tile[:length, r]


def _transpose_out_codegen(length_at):  # pragma: no cover (compile-time code)
    """``transpose_out``'s codegen (``length_at``: as ``_transpose_in_codegen``'s)."""

    def codegen(context, builder, signature, args):
        vectors, dst_data, src_data, starts = _band_arrays(context, builder, signature, args, 1, 0)
        b, width = builder, vectors.lanes
        length = args[3 if length_at is None else length_at]
        contiguous = length if length_at is None else None  # (for ``_each_row``)

        def body(j0, mask):  # in row order: a whole short row spills into the next rows
            for group in range(BAND // width):
                columns = []
                for jj in range(width):
                    column_at = b.mul(b.add(j0, lir.Constant(_I64, jj)), lir.Constant(_I64, BAND))
                    at = b.add(column_at, lir.Constant(_I64, group * width))
                    columns.append(vectors.load(src_data, at))
                for k, row in enumerate(_transpose(b, columns)):
                    r = group * width + k
                    at = b.add(starts[r], j0)

                    def store(m, row=row, at=at):
                        vectors.store(row, dst_data, at, m)

                    _each_row(b, r, contiguous, mask, store, width)

        _row_blocks(b, length, lambda j0, mask, fresh: body(j0, mask), width)
        return context.get_dummy_value()

    return codegen


@intrinsic
def _transpose_out(typingctx, tile, flat, row_offset, stride):  # pragma: no cover
    """``tile``'s first ``stride`` rows back into rows ``row_offset + r·stride`` of ``flat``."""
    if not isinstance(tile, types.Array) or tile.dtype != flat.dtype:
        return None
    return types.none(tile, flat, row_offset, stride), _transpose_out_codegen(None)


@intrinsic
def _transpose_block_out(typingctx, tile, flat, row_offset, stride, length):  # pragma: no cover
    """``transpose_out`` of a block: ``tile``'s first ``length`` rows, rows ``stride`` apart."""
    if not isinstance(tile, types.Array) or tile.dtype != flat.dtype:
        return None
    return types.none(tile, flat, row_offset, stride, length), _transpose_out_codegen(4)


def _multilabel_pass_python(tile, is_target, gtile, g0s, totals, targets, row_offset, t,
                            n_targets, n_classes, margin, kink_frac, keep_nan):  # fmt: skip
    """``multilabel_pass`` as plain Python, lane after lane (the same operations)."""
    zero = tile.dtype.type(0.0)
    for r in range(BAND):
        active = t < n_targets[r]
        target = targets[row_offset + r * n_classes + t] if active else 0
        g0, base, g_target = g0s[r], margin - tile[target, r], gtile[target, r]
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
        gtile[target, r] = g_target


def _multilabel_block_pass_python(tile, is_target, gtile, g0s, totals, bases, g_targets, t,
                                  n_targets, n_cols, margin, kink_frac, keep_nan):  # fmt: skip
    """``multilabel_block_pass`` as plain Python, lane after lane (the same operations)."""
    zero = tile.dtype.type(0.0)
    for r in range(BAND):
        on_lane = t < n_targets[r]
        g0, base, g_target = g0s[r], bases[r], g_targets[r]
        for d in range(n_cols):
            on = on_lane and not is_target[d, r]
            z = base + tile[d, r]
            coef = g0 if z > 0 else (g0 * kink_frac if z == 0 else zero)
            nan_kept = z != z and keep_nan
            coef = z if nan_kept else coef
            coef = coef if on else zero
            totals[r] += np.float64(z) if on and (z > 0 or nan_kept) else 0.0
            g_target -= coef
            gtile[d, r] += coef
        g_targets[r] = g_target


@intrinsic
def _multilabel_block_pass(  # pragma: no cover (compile-time code)
    typingctx, tile, is_target, gtile, g0s, totals, bases, g_targets, t, n_targets, n_cols,
    margin, kink_frac, keep_nan,
):  # fmt: skip
    """``multilabel_pass`` over a block of ``n_cols`` columns of longer rows.

    The lanes' ``base = margin − s_target`` and ``g_target`` come from the (16,)
    arrays ``bases`` and ``g_targets`` (the target may be in another block), and
    ``g_target`` goes back there; ``is_target`` marks the block's target columns.
    """
    if not isinstance(tile, types.Array) or tile.dtype != kink_frac:
        return None

    def codegen(context, builder, signature, args):
        lanes = band_rows(np.dtype(str(signature.args[0].dtype)))
        for first in range(0, BAND, lanes):
            _multilabel_lanes(context, builder, signature, args, first, lanes, from_lanes=True)
        return context.get_dummy_value()

    signature = types.none(tile, is_target, gtile, g0s, totals, bases, g_targets, t, n_targets,
                           n_cols, margin, kink_frac, keep_nan)  # fmt: skip
    return signature, codegen


@intrinsic
def _multilabel_pass(  # pragma: no cover (compile-time code)
    typingctx, tile, is_target, gtile, g0s, totals, targets, row_offset, t, n_targets, n_classes,
    margin, kink_frac, keep_nan,
):  # fmt: skip
    """Target ``t`` of each lane against columns ``0..n_classes``, in order.

    Lane ``r`` is the row at ``row_offset + r·n_classes`` of the flattened
    ``targets``; it is active when ``t < n_targets[r]``, and its target's
    ``base = margin − s_target`` and ``g_target`` (from ``gtile``) are gathered
    here and ``g_target`` stored back. Per lane, as ``_multilabel_row``: ``z =
    base + s_d``; a column that is one of the lane's targets (or an inactive
    lane, which walks with target 0 and stores its ``gtile[0]`` back unchanged)
    adds ``±0.0`` to the float64 ``totals`` and ``+0.0`` to ``gtile[d]``, and
    subtracts ``+0.0`` from ``g_target`` (no change: none is ever −0.0).
    """
    if not isinstance(tile, types.Array) or tile.dtype != kink_frac:
        return None

    def codegen(context, builder, signature, args):
        lanes = band_rows(np.dtype(str(signature.args[0].dtype)))
        for first in range(0, BAND, lanes):  # one register of lanes at a time (see _Lanes)
            _multilabel_lanes(context, builder, signature, args, first, lanes)
        return context.get_dummy_value()

    signature = types.none(tile, is_target, gtile, g0s, totals, targets, row_offset, t,
                           n_targets, n_classes, margin, kink_frac, keep_nan)  # fmt: skip
    return signature, codegen


def _multilabel_lanes(  # pragma: no cover (compile-time code)
    context, builder, signature, args, first, lanes, from_lanes=False
):
    """``multilabel_pass`` for lanes ``first..first + lanes`` (compile-time code).

    ``from_lanes``: ``multilabel_block_pass``'s ``bases`` and ``g_targets`` arrays.
    """
    row_offset, t = args[6:8]
    n_cols, margin, kink, keep = args[9:]
    b = builder
    vectors = _Vectors(context, builder, signature.args[0].dtype, lanes)
    doubles = _Vectors(context, builder, types.float64, lanes)
    flags = lir.VectorType(lir.IntType(8), lanes)
    arrays = (0, 1, 2, 3, 4, 5, 8)
    data = [context.make_array(signature.args[a])(context, builder, args[a]).data for a in arrays]
    tile_d, target_d, gtile_d, g0_d, totals_d, targets_d, n_targets_d = data
    first_lane = lir.Constant(_I64, first)
    n_targets = lir.VectorType(_I64, lanes)
    n_targets = b.load(b.bitcast(b.gep(n_targets_d, [first_lane]), n_targets.as_pointer()), align=8)
    active = b.icmp_signed("<", _splat(b, t, lanes), n_targets)
    at = []  # each lane's gtile[target, r]: gathered, and stored back after the walk
    if from_lanes:
        g_targets_d = context.make_array(signature.args[6])(context, builder, args[6]).data
        base, g_start = vectors.load(targets_d, first_lane), vectors.load(g_targets_d, first_lane)
    else:
        base = g_start = lir.Constant(vectors.vector, None)
    for r in range(0 if from_lanes else lanes):
        lane = lir.Constant(_I32, r)
        row = b.add(row_offset, b.mul(lir.Constant(_I64, first + r), n_cols))
        target = b.load(b.gep(targets_d, [b.add(row, t)]))  # in the row: t < C
        target = target if target.type == _I64 else b.sext(target, _I64)  # int32 targets
        target = b.select(b.extract_element(active, lane), target, lir.Constant(_I64, 0))
        at.append(b.add(b.mul(target, lir.Constant(_I64, BAND)), lir.Constant(_I64, first + r)))
        base = b.insert_element(base, b.load(b.gep(tile_d, [at[-1]])), lane)
        g_start = b.insert_element(g_start, b.load(b.gep(gtile_d, [at[-1]])), lane)
    if not from_lanes:
        base = b.fsub(_splat(b, margin, lanes), base)
    g0 = vectors.load(g0_d, first_lane)
    zero = lir.Constant(vectors.vector, None)
    g0_kink = b.fmul(g0, _splat(b, kink, lanes))
    g_target = cgutils.alloca_once_value(b, g_start)
    total = cgutils.alloca_once_value(b, doubles.load(totals_d, first_lane))
    element = vectors.vector.element
    minus_inf = lir.Constant(vectors.vector, [lir.Constant(element, -np.inf)] * lanes)
    of_two = lir.FunctionType(vectors.vector, [vectors.vector] * 2)
    suffix = f"v{lanes}f{8 * vectors.align}"
    maxnum = cgutils.get_or_insert_function(b.module, of_two, f"llvm.maxnum.{suffix}")

    def walk(keep_nan, kinked):  # a loop for each value of the flags: none in the lanes' masks
        # kinked: kink_frac ≠ 0 (a z == 0 column gets g0·kink; at 0, the default, it gets 0)
        with cgutils.for_range(b, n_cols) as loop:
            index = b.add(b.mul(loop.index, lir.Constant(_I64, BAND)), lir.Constant(_I64, first))
            pointer = b.bitcast(b.gep(target_d, [index]), flags.as_pointer())
            is_target = b.icmp_unsigned("!=", b.load(pointer, align=1), lir.Constant(flags, None))
            on = b.and_(active, b.not_(is_target))
            # an off lane walks −inf: no coefficient, no term (±0.0 added everywhere)
            z = b.select(on, b.fadd(base, vectors.load(tile_d, index)), minus_inf)
            coef = b.select(b.fcmp_ordered("==", z, zero), g0_kink, zero) if kinked else zero
            coef = b.select(b.fcmp_ordered(">", z, zero), g0, coef)
            if keep_nan:
                coef = b.select(b.fcmp_unordered("uno", z, z), z, coef)
            # the term: z where z > 0 (or NaN, kept), else ±0.0, which adds nothing to a
            # total that is never −0.0. Kept NaN: 0 > z ? 0 : z, one x86 max with z second
            # (llvm.maximum took a max, a NaN test and a blend: with the kink's flag, the
            # walk 0.86–0.94x the time); dropped: maxnum
            if keep_nan:
                term = b.select(b.fcmp_ordered(">", zero, z), zero, z)
            else:
                term = b.call(maxnum, [z, zero])
            wide = b.fpext(term, doubles.vector) if term.type != doubles.vector else term
            b.store(b.fadd(b.load(total), wide), total)
            b.store(b.fsub(b.load(g_target), coef), g_target)
            vectors.store(b.fadd(vectors.load(gtile_d, index), coef), gtile_d, index)

    kinked = b.fcmp_unordered("une", kink, kink.type(0.0))
    _for_each_flag(b, [keep, kinked], lambda flags: walk(*flags))
    g_end = b.load(g_target)
    if from_lanes:
        vectors.store(g_end, g_targets_d, first_lane)
    for r, index in enumerate(at):
        b.store(b.extract_element(g_end, lir.Constant(_I32, r)), b.gep(gtile_d, [index]))
    doubles.store(b.load(total), totals_d, first_lane)


#: Rows of the top-k lane arrays: ``lanes`` (scores' dtype) and ``counts`` (int64).
TAU, TK_BASE, TOTAL, LOSS, SCALE, G_SCALE, G_Y = range(7)
LABEL, ABOVE, TIED, TIED_LEFT = range(4)


class _Lanes:  # pragma: no cover (compile-time code)
    """IR of a top-k lane walk over one register of a band's lanes, column by column.

    ``first`` is the group's first lane, ``lanes`` one register's worth
    (``_tiles.band_rows``): the walks run once for each group. Sixteen lanes at
    once took two AVX2 registers a vector, and LLVM packed every 16-lane mask
    into bytes and widened it again for each select (top-k, (4096, 10), k = 5:
    ~30 % of the call in those shuffles).
    """

    def __init__(self, context, builder, signature, args, first, lanes):
        self.b, self.first, self.lanes = builder, first, lanes
        self.vectors = _Vectors(context, builder, signature.args[0].dtype, lanes)
        self.data = [
            context.make_array(kind)(context, builder, value).data
            if isinstance(kind, types.Array)
            else None
            for kind, value in zip(signature.args, args, strict=True)
        ]
        self.zero = lir.Constant(self.vector, None)
        # counts in lanes as wide as the scores' (int64 lanes took four AVX2
        # registers a vector for float32, and each mask widened to them)
        self.wide = lir.VectorType(lir.IntType(8 * self.vectors.align), lanes)
        self.in_memory = lir.VectorType(_I64, lanes)

    @property
    def vector(self):
        return self.vectors.vector

    def get(self, data, at):
        """The group's lanes of the row starting at flat index ``at`` (an i64 value)."""
        return self.vectors.load(data, self.b.add(at, lir.Constant(_I64, self.first)))

    def put(self, value, data, at):
        self.vectors.store(value, data, self.b.add(at, lir.Constant(_I64, self.first)))

    def row(self, data, row):
        return self.get(data, lir.Constant(_I64, row * BAND))

    def set_row(self, value, data, row):
        self.put(value, data, lir.Constant(_I64, row * BAND))

    def column(self, tile, j):
        return self.get(tile, self.b.mul(j, lir.Constant(_I64, BAND)))

    def counts(self, data, row):
        """Row ``row`` of the int64 ``counts``, in lanes of ``wide``."""
        pointer = self.b.gep(data, [lir.Constant(_I64, row * BAND + self.first)])
        value = self.b.load(self.b.bitcast(pointer, self.in_memory.as_pointer()), align=8)
        return value if self.wide == self.in_memory else self.b.trunc(value, self.wide)

    def set_counts(self, value, data, row):
        pointer = self.b.gep(data, [lir.Constant(_I64, row * BAND + self.first)])
        value = value if self.wide == self.in_memory else self.b.sext(value, self.in_memory)
        self.b.store(value, self.b.bitcast(pointer, self.in_memory.as_pointer()), align=8)

    def int64(self, value):
        """A lane of ``wide`` as an int64 scalar."""
        return value if value.type == _I64 else self.b.sext(value, _I64)

    def index(self, value):
        """An int64 scalar (a column, k: below 2³¹ here) in every lane of ``wide``."""
        narrow = self.wide.element
        return self.splat(value if narrow == value.type else self.b.trunc(value, narrow))

    def constant(self, value):
        return lir.Constant(self.vector, [lir.Constant(self.vector.element, value)] * self.lanes)

    def splat(self, value):
        return _splat(self.b, value, self.lanes)

    def flag(self, value):
        """A Python bool (a flag ``_for_each_flag`` made a constant), in every lane (i1)."""
        mask = lir.VectorType(lir.IntType(1), self.lanes)
        return lir.Constant(mask, [int(value)] * self.lanes)

    def count(self, mask):
        return self.b.zext(mask, self.wide)


def _walk_together(builder, n_cols, walks):  # pragma: no cover (compile-time code)
    """Lane walks in one loop over columns ``0..n_cols``.

    Each walk is a generator: it sets up, yields ``column(j)`` (the loop body for
    column ``j``) and, resumed after the loop, finishes. A band's register groups
    are independent; in one loop one group's chains can overlap the other's. Top-k's
    gradient walk (a running ``g_y`` and a countdown): (2·10⁴, 10), k = 5, one thread,
    0.95–0.96× against a loop per group (three pairs of processes). Its sink and sums
    walks taken together as well read 0.97–0.99× (four pairs, against 0.95–0.96× for
    the gradient alone), the multilabel pass 0.99–1.10×: they keep a loop per group.
    """
    columns = [next(walk) for walk in walks]
    with cgutils.for_range(builder, n_cols) as loop:
        for column in columns:
            column(loop.index)
    for walk in walks:
        next(walk, None)  # the finish


def _for_each_flag(builder, flags, emit, chosen=()):  # pragma: no cover (compile-time code)
    """``emit(values)`` under each combination of the boolean arguments ``flags`` (IR values).

    ``values`` are the combination's Python bools: each branch is compiled with
    its flags as constants (a flag splat into the lanes' masks cost ~25 % of a
    top-k band at C = 10).
    """
    if not flags:
        emit(chosen)
        return
    with builder.if_else(builder.icmp_unsigned("!=", flags[0], flags[0].type(0))) as (on, off):
        with on:
            _for_each_flag(builder, flags[1:], emit, (*chosen, True))
        with off:
            _for_each_flag(builder, flags[1:], emit, (*chosen, False))


def _registers(context, builder, signature, args):  # pragma: no cover (compile-time code)
    """A ``_Lanes`` for each register-wide group of a band's lanes (the scores' dtype first)."""
    lanes = band_rows(np.dtype(str(signature.args[0].dtype)))
    return [
        _Lanes(context, builder, signature, args, first, lanes) for first in range(0, BAND, lanes)
    ]


def _leading(context, builder, signature, args, at):  # pragma: no cover (compile-time code)
    """The first dimension of array argument ``at``."""
    shape = context.make_array(signature.args[at])(context, builder, args[at]).shape
    return builder.extract_value(shape, 0)


def _topk_sink_python(tile, counts, top, n_classes):
    """``topk_sink`` as plain Python (in ``top``'s first half only)."""
    k = top.shape[0] // 2
    for p in range(k):
        top[p, :] = -np.inf
    for j in range(n_classes):
        for r in range(BAND):
            v = tile[j, r] if j != counts[LABEL, r] else tile.dtype.type(-np.inf)
            for p in range(k):
                t = top[p, r]
                top[p, r] = t if t >= v else v
                v = v if t >= v else t


@intrinsic
def _topk_sink(typingctx, tile, counts, top, n_classes):  # pragma: no cover
    """Each lane's k largest wrong scores into ``top[:k]`` ((k, 16), descending, as the row code).

    Column after column, the column (−inf at the lane's label) sinks through
    the k by k compare-exchanges (``t >= v`` keeps ``t``), one register of
    lanes at a time. Up to ``KTH_IN_REGISTERS`` levels they stay in registers
    (``_sink_registers``); above, ``top`` is (2k, 16) in memory and each column
    reads one half and writes the other (``_sink_memory``: stored back where
    ``t`` was loaded, ``select(t >= v, t, v)`` became a masked store, which AMD
    cores run many times slower). Only the first k rows of ``top`` are the result.
    """
    if not isinstance(tile, types.Array) or top.dtype != tile.dtype:
        return None

    def codegen(context, builder, signature, args):
        b = builder
        k = b.sdiv(_leading(context, builder, signature, args, 2), lir.Constant(_I64, 2))
        half = b.mul(k, lir.Constant(_I64, BAND))
        for w in _registers(context, builder, signature, args):
            _sink_lanes(w, k, half, args[3])
        return context.get_dummy_value()

    return types.none(tile, counts, top, n_classes), codegen


def _sink_lanes(w, k, half, n_cols):  # pragma: no cover (compile-time code)
    """``topk_sink``'s walk for one group of lanes (``half``: where ``top``'s second half is)."""
    b = w.b
    with b.if_else(b.icmp_signed("<=", k, lir.Constant(_I64, KTH_IN_REGISTERS))) as (few, many):
        with few:
            each_k(b, k, lambda levels: _sink_registers(w, levels, n_cols))
        with many:
            _sink_memory(w, k, half, n_cols)


def _sink_registers(w, k, n_cols):  # pragma: no cover (compile-time code)
    """The sink with ``top``'s k rows as registers (k a Python int), written out at the end.

    No NaN reaches the sink (its band was left to the row code), so
    ``select(t >= v, t, v)`` is ``select(v > t, v, t)``, x86's ``max(v, t)``, and
    the value going on, ``select(t >= v, v, t)``, is ``min(t, v)``: the same
    values, ±0 included, in two instructions instead of a compare and two
    blends. In memory, each column's k steps waited on the stores of the last.
    """
    b, (tile_d, counts_d, top_d) = w.b, w.data[:3]
    neg_inf = w.constant(float("-inf"))
    levels = [cgutils.alloca_once_value(b, neg_inf) for _ in range(k)]
    label = w.counts(counts_d, LABEL)
    with cgutils.for_range(b, n_cols) as loop:
        j = loop.index
        v = b.select(b.icmp_signed("==", label, w.index(j)), neg_inf, w.column(tile_d, j))
        for level in levels:
            t = b.load(level)
            b.store(b.select(b.fcmp_ordered(">", v, t), v, t), level)
            v = b.select(b.fcmp_ordered("<", t, v), t, v)
    for p, level in enumerate(levels):
        w.put(b.load(level), top_d, lir.Constant(_I64, p * BAND))


def _sink_memory(w, k, half, n_cols):  # pragma: no cover (compile-time code)
    """The sink with ``top`` in memory, each column reading one half and writing the other."""
    b, (tile_d, counts_d, top_d) = w.b, w.data[:3]
    neg_inf = w.constant(float("-inf"))
    with cgutils.for_range(b, k) as level:
        w.put(neg_inf, top_d, b.mul(level.index, lir.Constant(_I64, BAND)))
    label = w.counts(counts_d, LABEL)
    with cgutils.for_range(b, n_cols) as loop:
        j = loop.index
        odd = b.and_(j, lir.Constant(_I64, 1))
        src = b.mul(odd, half)  # column j reads half j % 2 and writes the other
        dst = b.sub(half, src)
        sink = cgutils.alloca_once_value(
            b, b.select(b.icmp_signed("==", label, w.index(j)), neg_inf, w.column(tile_d, j))
        )
        with cgutils.for_range(b, k) as level:
            at = b.mul(level.index, lir.Constant(_I64, BAND))
            t, v = w.get(top_d, b.add(src, at)), b.load(sink)
            keep = b.fcmp_ordered(">=", t, v)
            w.put(b.select(keep, t, v), top_d, b.add(dst, at))
            b.store(b.select(keep, v, t), sink)
    with b.if_then(b.trunc(n_cols, lir.IntType(1))):  # an odd count ends in the second half
        with cgutils.for_range(b, k) as level:
            at = b.mul(level.index, lir.Constant(_I64, BAND))
            w.put(w.get(top_d, b.add(half, at)), top_d, at)


def _topk_sums_python(tile, counts, lanes, top, n_classes, alpha, margin, kink_frac):
    """``topk_sums`` as plain Python."""
    dtype = tile.dtype.type
    zero, one, k = dtype(0.0), dtype(1.0), top.shape[0]
    special = False
    for r in range(BAND):
        lanes[TAU, r] = top[k - 1, r]
        lanes[TK_BASE, r] = margin - tile[counts[LABEL, r], r]
        counts[ABOVE, r] = counts[TIED, r] = 0
        total = zero
        for j in range(n_classes):
            s, tau, wrong = tile[j, r], lanes[TAU, r], j != counts[LABEL, r]
            counts[ABOVE, r] += wrong & (s > tau)
            counts[TIED, r] += wrong & (s == tau)
            h = lanes[TK_BASE, r] + s
            term = h if alpha or not h <= 0 else zero
            total += term if wrong and s > tau else zero  # + 0.0: no change
        h_tau = lanes[TK_BASE, r] + lanes[TAU, r]
        tied_term = h_tau if alpha or not h_tau <= 0 else zero
        loss = (total + tied_term * dtype(k - counts[ABOVE, r])) * (one / dtype(k))
        special |= loss != loss
        scale = one
        if alpha:
            scale = one if loss > 0 else (kink_frac if loss == 0 else zero)
            loss = loss if loss > 0 else zero
        lanes[LOSS, r], lanes[SCALE, r], lanes[G_Y, r] = loss, scale, zero
        counts[TIED_LEFT, r] = k - counts[ABOVE, r]  # tied columns still to take
    return special


@intrinsic
def _topk_sums(typingctx, tile, counts, lanes, top, n_classes, alpha, margin,
               kink_frac):  # fmt: skip  # pragma: no cover
    """Each lane's loss, and whether one is NaN (``inf − inf``: the band is redone).

    ``tau`` (the last of ``top``), the counts above and at ``tau``, the top-k
    sum of the columns above (in order) plus the tied share, α's hinge and its
    kink scale; ``g_y`` starts at 0 and the ties countdown at the free slots.
    """
    if not isinstance(tile, types.Array) or lanes.dtype != tile.dtype:
        return None

    def codegen(context, builder, signature, args):
        b, k = builder, _leading(context, builder, signature, args, 3)
        n_cols, alpha, margin, kink = args[4:]
        groups = _registers(context, builder, signature, args)
        special = cgutils.alloca_once(b, lir.IntType(1))

        def emit(flags):
            lanes = [_sums_lanes(w, k, n_cols, *flags, margin, kink) for w in groups]
            b.store(functools.reduce(b.or_, lanes), special)

        _for_each_flag(b, [alpha], emit)
        return b.load(special)

    signature = types.boolean(tile, counts, lanes, top, n_classes, alpha, margin, kink_frac)
    return signature, codegen


def _sums_lanes(w, k, n_cols, alpha, margin, kink):  # pragma: no cover (compile-time code)
    """``topk_sums``' walk for one group of lanes; whether a lane's loss is NaN (i1)."""
    b, (tile_d, counts_d, lanes_d, top_d) = w.b, w.data[:4]
    one = w.constant(1.0)
    label = w.counts(counts_d, LABEL)
    tau = w.get(top_d, b.mul(b.sub(k, lir.Constant(_I64, 1)), lir.Constant(_I64, BAND)))
    s_y = lir.Constant(w.vector, None)
    for r in range(w.lanes):  # tile[y_r, r]: one scalar load a lane
        lane = lir.Constant(_I32, r)
        y = w.int64(b.extract_element(label, lane))
        at = b.add(b.mul(y, lir.Constant(_I64, BAND)), lir.Constant(_I64, w.first + r))
        s_y = b.insert_element(s_y, b.load(b.gep(tile_d, [at])), lane)
    base = b.fsub(w.splat(margin), s_y)
    keep_all = w.flag(alpha)
    zeros = lir.Constant(w.wide, None)
    above = cgutils.alloca_once_value(b, zeros)
    tied = cgutils.alloca_once_value(b, zeros)
    total = cgutils.alloca_once_value(b, w.zero)
    with cgutils.for_range(b, n_cols) as loop:
        s = w.column(tile_d, loop.index)
        wrong = b.icmp_signed("!=", label, w.index(loop.index))
        is_above = b.and_(wrong, b.fcmp_ordered(">", s, tau))
        b.store(b.add(b.load(above), w.count(is_above)), above)
        is_tied = b.and_(wrong, b.fcmp_ordered("==", s, tau))
        b.store(b.add(b.load(tied), w.count(is_tied)), tied)
        h = b.fadd(base, s)
        term = b.select(b.or_(keep_all, b.fcmp_unordered(">", h, w.zero)), h, w.zero)
        b.store(b.fadd(b.load(total), b.select(is_above, term, w.zero)), total)
    above = b.load(above)
    h_tau = b.fadd(base, tau)
    tied_term = b.select(b.or_(keep_all, b.fcmp_unordered(">", h_tau, w.zero)), h_tau, w.zero)
    slots = b.sub(w.index(k), above)
    loss = b.fadd(b.load(total), b.fmul(tied_term, b.sitofp(slots, w.vector)))
    inv_k = b.fdiv(one, b.sitofp(w.index(k), w.vector))
    loss = b.fmul(loss, inv_k)
    special = b.fcmp_unordered("uno", loss, loss)
    positive = b.fcmp_ordered(">", loss, w.zero)
    kinked = b.select(b.fcmp_ordered("==", loss, w.zero), w.splat(kink), w.zero)
    scale = b.select(keep_all, b.select(positive, one, kinked), one)
    loss = b.select(b.and_(keep_all, b.not_(positive)), w.zero, loss)
    w.set_row(tau, lanes_d, TAU)
    w.set_row(base, lanes_d, TK_BASE)
    w.set_row(loss, lanes_d, LOSS)
    w.set_row(scale, lanes_d, SCALE)
    w.set_row(w.zero, lanes_d, G_Y)
    w.set_counts(above, counts_d, ABOVE)
    w.set_counts(b.load(tied), counts_d, TIED)
    w.set_counts(slots, counts_d, TIED_LEFT)
    bits = b.bitcast(special, lir.IntType(w.lanes))
    return b.icmp_unsigned("!=", bits, lir.Constant(lir.IntType(w.lanes), 0))


def _topk_gradient_python(tile, counts, lanes, gtile, n_classes, k, alpha, split_ties,
                          kink_frac):  # fmt: skip
    """``topk_gradient`` as plain Python."""
    one, zero = tile.dtype.type(1.0), tile.dtype.type(0.0)
    for j in range(n_classes):
        for r in range(BAND):
            s, tau, y = tile[j, r], lanes[TAU, r], counts[LABEL, r]
            slots, n_tied = k - counts[ABOVE, r], counts[TIED, r]
            tied = s == tau
            first = counts[TIED_LEFT, r] > 0
            counts[TIED_LEFT, r] -= (j != y) & tied & first
            share = tile.dtype.type(slots) / tile.dtype.type(n_tied) if split_ties else one
            member = one if s > tau else (share if tied and (split_ties or first) else zero)
            member = zero if j == y else member
            h = lanes[TK_BASE, r] + s
            beta_scale = one if h > 0 else (kink_frac if h == 0 else zero)
            sc = lanes[SCALE, r] if alpha else beta_scale
            coef = lanes[G_SCALE, r] * member * sc
            coef = coef if member != zero else zero
            gtile[j, r] = coef
            lanes[G_Y, r] -= coef  # - 0.0 off T: no change


@intrinsic
def _topk_gradient(typingctx, tile, counts, lanes, gtile, n_classes, k, alpha, split_ties,
                   kink_frac):  # fmt: skip  # pragma: no cover
    """Each lane's gradient columns into ``gtile`` and ``g_y`` (ties "first": a countdown)."""
    if not isinstance(tile, types.Array) or kink_frac != tile.dtype:
        return None

    def codegen(context, builder, signature, args):
        groups = _registers(context, builder, signature, args)
        n_cols, k, alpha, split, kink = args[4:]

        def emit(flags):
            _walk_together(builder, n_cols, [_gradient_lanes(w, k, *flags, kink) for w in groups])

        _for_each_flag(builder, [alpha, split], emit)
        return context.get_dummy_value()

    signature = types.none(tile, counts, lanes, gtile, n_classes, k, alpha, split_ties, kink_frac)
    return signature, codegen


def _gradient_lanes(w, k, alpha, split, kink):  # pragma: no cover (compile-time code)
    """``topk_gradient``'s walk for one group of lanes (``_walk_together``)."""
    b, (tile_d, counts_d, lanes_d, gtile_d) = w.b, w.data[:4]
    one = w.constant(1.0)
    label, tau = w.counts(counts_d, LABEL), w.row(lanes_d, TAU)
    base, scale = w.row(lanes_d, TK_BASE), w.row(lanes_d, SCALE)
    g_scale = w.row(lanes_d, G_SCALE)
    above, n_tied = w.counts(counts_d, ABOVE), w.counts(counts_d, TIED)
    alpha, split = w.flag(alpha), w.flag(split)
    slots = b.sub(w.index(k), above)
    share = b.fdiv(b.sitofp(slots, w.vector), b.sitofp(n_tied, w.vector))
    share = b.select(split, share, one)
    kink = w.splat(kink)
    # the countdown as a count of the tied columns seen: one add a column on the chain
    # ("left > 0" then "left −= taken" put a compare, a mask and an add on it; k = 5, one
    # thread: (8192, 10) and (1024, 96) 1.03x the time, the small call 1.02–1.03x)
    free = w.counts(counts_d, TIED_LEFT)
    seen = cgutils.alloca_once_value(b, lir.Constant(w.wide, None))
    g_y = cgutils.alloca_once_value(b, w.row(lanes_d, G_Y))

    def column(j):
        s = w.column(tile_d, j)
        is_label = b.icmp_signed("==", label, w.index(j))
        tied = b.fcmp_ordered("==", s, tau)
        before = b.load(seen)
        first = b.icmp_signed("<", before, free)  # among the first ``free`` tied columns
        b.store(b.add(before, w.count(b.and_(b.not_(is_label), tied))), seen)
        member = b.select(b.and_(tied, b.or_(split, first)), share, w.zero)
        member = b.select(b.fcmp_ordered(">", s, tau), one, member)
        member = b.select(is_label, w.zero, member)
        h = b.fadd(base, s)
        beta = b.select(b.fcmp_ordered("==", h, w.zero), kink, w.zero)
        beta = b.select(b.fcmp_ordered(">", h, w.zero), one, beta)
        coef = b.fmul(b.fmul(g_scale, member), b.select(alpha, scale, beta))
        coef = b.select(b.fcmp_unordered("!=", member, w.zero), coef, w.zero)
        w.put(coef, gtile_d, b.mul(j, lir.Constant(_I64, BAND)))
        b.store(b.fsub(b.load(g_y), coef), g_y)

    yield column
    left = b.sub(free, b.load(seen))  # the countdown's end: never below 0
    left = b.select(
        b.icmp_signed("<", left, lir.Constant(w.wide, None)), lir.Constant(w.wide, None), left
    )
    w.set_counts(left, counts_d, TIED_LEFT)
    w.set_row(b.load(g_y), lanes_d, G_Y)


transpose_in, transpose_out, multilabel_pass = _transpose_in, _transpose_out, _multilabel_pass
transpose_block_in, transpose_block_out = _transpose_block_in, _transpose_block_out
multilabel_block_pass = _multilabel_block_pass
#: ``modes`` of ``categorical_grad_rows``: a row left alone, zeroed, or active.
ROW_DONE, ROW_ZERO, ROW_ACTIVE = 0, 1, 2


@intrinsic
def categorical_grad_rows(typingctx, flat, flat_targets, row_offset, n_classes, sums, scales,
                          modes, grad, split_ties):  # fmt: skip  # pragma: no cover
    """Keras' categorical hinge: the gradient rows of a band, row-major (``_categorical_grad``).

    Row ``r`` (``r < modes.shape[0]``) from ``row_offset + r·C``: ``ROW_ZERO``
    zeroes it, ``ROW_ACTIVE`` puts ``scales[r]`` on the max ``sums[1, r]`` of
    ``(1 − t)·s`` (split among ties, or on the first) minus ``scales[r]·t``
    everywhere, in vectors of one register (``_tiles.band_rows``; the last one
    overlaps the one before, or is masked in a row shorter than a register);
    ``ROW_DONE`` is left alone. Beyond the cache, rows longer than
    ``PREFETCH_MAX_ROW_BYTES`` that all start on cache lines are stored with
    non-temporal stores (whole blocks), then a fence. The plain-Python twin is
    ``targets._categorical_grad_rows_python``.
    """
    if not isinstance(flat, types.Array) or scales.dtype != flat.dtype:
        return None
    sig = types.none(flat, flat_targets, row_offset, n_classes, sums, scales, modes, grad,
                     split_ties)  # fmt: skip
    return sig, _categorical_grad_codegen(staged=False)


@intrinsic
def categorical_staged_grad_rows(  # pragma: no cover (compile-time code)
    typingctx, flat, flat_targets, row_offset, n_classes, sums, scales, modes, grad,
    split_ties, scratch,
):  # fmt: skip
    """``categorical_grad_rows``, staged where the band's block qualifies.

    Beyond the cache, a block that ``_tiles.staged_block`` accepts is written
    into ``scratch`` (at least the block's size) and streamed out whole lines
    (``_tiles.stream_lines``); the caller fences after its bands. No row of
    ``modes`` may be ``ROW_DONE`` (its row would be overwritten).
    """
    if not isinstance(flat, types.Array) or scales.dtype != flat.dtype:
        return None
    sig = types.none(flat, flat_targets, row_offset, n_classes, sums, scales, modes, grad,
                     split_ties, scratch)  # fmt: skip
    return sig, _categorical_grad_codegen(staged=True)


def _categorical_grad_codegen(staged):  # pragma: no cover (compile-time code)
    """``categorical_grad_rows``' codegen, or its staged variant's."""

    def codegen(context, builder, signature, args):
        b = builder
        width = band_rows(np.dtype(str(signature.args[0].dtype)))  # one register
        vectors = _Vectors(context, builder, signature.args[0].dtype, width)
        arrays = [context.make_array(kind)(context, builder, value)
                  for kind, value in zip(signature.args, args, strict=True)
                  if isinstance(kind, types.Array)]  # fmt: skip
        src, targets, sums, scales, modes, grad = arrays[:6]
        offset, n_cols = args[2], args[3]
        element = vectors.vector.element
        one = lir.Constant(vectors.vector, [lir.Constant(element, 1.0)] * width)
        zero = lir.Constant(vectors.vector, None)
        n_rows = b.extract_value(modes.shape, 0)
        cttz = cgutils.get_or_insert_function(
            b.module, lir.FunctionType(_I32, [_I32, lir.IntType(1)]), "llvm.cttz.i32"
        )
        ctpop = cgutils.get_or_insert_function(
            b.module, lir.FunctionType(_I32, [_I32]), "llvm.ctpop.i32"
        )

        # Beyond the cache, rows longer than PREFETCH_MAX_ROW_BYTES that all start on
        # cache lines are stored non-temporally where a register is a line (as the
        # bands' gradient rows, ``_tiles._Band.stream``): whole blocks only.
        item = vectors.align
        row_bytes = b.mul(n_cols, lir.Constant(_I64, item))
        first_byte = b.add(b.ptrtoint(grad.data, _I64), b.mul(offset, lir.Constant(_I64, item)))
        on_lines = b.icmp_signed("==", b.and_(b.or_(first_byte, row_bytes),
                                               lir.Constant(_I64, CACHE_LINE_BYTES - 1)),
                                 lir.Constant(_I64, 0))  # fmt: skip
        nbytes = b.mul(src.nitems, lir.Constant(_I64, 2 * item))  # and the gradient
        beyond = b.icmp_signed(">", nbytes, lir.Constant(_I64, CACHE_BYTES))
        long_rows = b.icmp_signed(">", row_bytes, lir.Constant(_I64, PREFETCH_MAX_ROW_BYTES))
        streams = b.and_(b.and_(on_lines, beyond), long_rows)
        if width * item < CACHE_LINE_BYTES:
            streams = lir.Constant(lir.IntType(1), 0)
        out = grad.data  # where the rows go: ``out[offset + …]``
        if staged:  # the band's block into the scratch (never with ``streams``: longer rows)
            block = staged_block(b, n_cols, item, width, first_byte)
            stage = b.and_(
                b.and_(beyond, block), b.icmp_signed("==", n_rows, lir.Constant(_I64, width))
            )
            out = b.select(stage, b.gep(arrays[6].data, [b.neg(offset)]), grad.data)

        def row_loop(split, stream):  # once for each value of the flags: none in the masks
            with cgutils.for_range(b, n_rows) as rows:
                r = rows.index
                mode = b.load(b.gep(modes.data, [r]))
                start = b.add(offset, b.mul(r, n_cols))
                is_zero = b.icmp_signed("==", mode, lir.Constant(mode.type, ROW_ZERO))
                is_active = b.icmp_signed("==", mode, lir.Constant(mode.type, ROW_ACTIVE))
                with b.if_then(is_zero):

                    def zeros(j0, mask, fresh):
                        whole = stream and mask is None and fresh is None
                        vectors.store(zero, out, b.add(start, j0), mask, whole)

                    _row_blocks(b, n_cols, zeros, width)
                with b.if_then(is_active):
                    active_row(r, start, split, stream)
            if stream:
                b.fence("seq_cst")  # the streamed rows, before another thread reads them

        def active_row(r, start, split, stream):
            neg = b.load(b.gep(sums.data, [b.add(lir.Constant(_I64, LANES), r)]))  # sums[1, r]
            neg = _splat(b, neg, width)
            scale = b.load(b.gep(scales.data, [r]))
            first = cgutils.alloca_once_value(b, n_cols)
            ties = cgutils.alloca_once_value(b, lir.Constant(_I64, 0))

            def hits(j0, mask):
                s = vectors.load(src.data, b.add(start, j0), mask)
                t = vectors.load(targets.data, b.add(start, j0), mask)
                v = b.fmul(b.fsub(one, t), s)
                return t, b.fcmp_ordered("==", v, neg)

            scale_v = _splat(b, scale, width)

            def write(j0, mask, fresh, t, hit, share):
                if split:
                    wins = hit
                else:
                    columns = b.add(_int_vector(list(range(width)), 64), _splat(b, j0, width))
                    wins = b.icmp_signed("==", columns, _splat(b, b.load(first), width))
                g = b.select(wins, b.fmul(share, b.fsub(one, t)), zero)
                whole = stream and mask is None and fresh is None
                g = b.fsub(g, b.fmul(scale_v, t))
                vectors.store(g, out, b.add(start, j0), mask, whole)

            def count_and_write(j0, mask, fresh):
                # the blocks go in column order, so the first tied column is known
                # when its block is written; the share assumes one tie (rewritten if not)
                t, hit = hits(j0, mask)
                counted = hit if fresh is None else b.and_(hit, fresh)
                bits = b.zext(b.bitcast(counted, lir.IntType(width)), _I32)
                if split:
                    b.store(b.add(b.load(ties), b.zext(b.call(ctpop, [bits]), _I64)), ties)
                else:
                    found = b.icmp_unsigned("!=", bits, lir.Constant(_I32, 0))
                    lowest = b.call(cttz, [bits, lir.Constant(lir.IntType(1), 1)])
                    at = b.add(j0, b.zext(lowest, _I64))
                    seen = b.load(first)
                    earlier = b.and_(found, b.icmp_signed("<", at, seen))
                    b.store(b.select(earlier, at, seen), first)
                write(j0, mask, fresh, t, hit, scale_v)

            _row_blocks(b, n_cols, count_and_write, width)
            if not split:
                return
            n_ties = b.load(ties)
            with b.if_then(b.icmp_signed(">", n_ties, lir.Constant(_I64, 1)), likely=False):
                share = _splat(b, b.fdiv(scale, b.sitofp(n_ties, element)), width)

                def rewrite(j0, mask, fresh):  # ties split: scale / n_ties each
                    write(j0, mask, fresh, *hits(j0, mask), share)

                _row_blocks(b, n_cols, rewrite, width)

        _for_each_flag(b, [args[8], streams], lambda flags: row_loop(*flags))  # split_ties
        if staged:
            with b.if_then(stage):
                n_items = b.mul(n_cols, lir.Constant(_I64, width))
                dest = b.gep(grad.data, [offset])
                stream_lines(b, arrays[6].data, dest, n_items, item, item)
        return context.get_dummy_value()

    return codegen


def _stream_copy_python(src, dst, start, n):
    """``stream_copy`` as plain Python."""
    dst[start : start + n] = src[:n]


@intrinsic
def stream_copy(typingctx, src, dst, start, n):  # pragma: no cover (compile-time code)
    """``dst[start : start + n] = src[:n]``, whole cache lines, non-temporal (``stream_lines``).

    ``dst[start]`` starts a line and ``n`` elements fill whole lines; the
    caller fences (``_simd.store_fence``) before anything else reads them.
    """
    if not isinstance(dst, types.Array) or dst.dtype != src.dtype or not dst.mutable:
        return None

    def codegen(context, builder, signature, args):
        arrays = [context.make_array(kind)(context, builder, value)
                  for kind, value in zip(signature.args[:2], args[:2], strict=True)]  # fmt: skip
        item = context.get_abi_sizeof(context.get_data_type(signature.args[0].dtype))
        dest = builder.gep(arrays[1].data, [args[2]])
        stream_lines(builder, arrays[0].data, dest, args[3], item, item)
        return context.get_dummy_value()

    return types.none(src, dst, types.int64, types.int64), codegen


topk_sink, topk_sums, topk_gradient = _topk_sink, _topk_sums, _topk_gradient
if numba.config.DISABLE_JIT:  # intrinsics only exist compiled
    topk_sink = _topk_sink_python
    topk_sums = _topk_sums_python
    topk_gradient = _topk_gradient_python
    transpose_in = _transpose_in_python
    transpose_out = _transpose_out_python
    stream_copy = _stream_copy_python
    multilabel_pass = _multilabel_pass_python
    transpose_block_in = _transpose_block_in_python
    transpose_block_out = _transpose_block_out_python
    multilabel_block_pass = _multilabel_block_pass_python
