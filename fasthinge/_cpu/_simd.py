"""Scalar helpers whose LLVM form lets the loop vectoriser do its job.

fastmath stays off in the kernels. Two operations need help to vectorise:

- a floating-point sum: LLVM only vectorises a reduction whose ``fadd``
  allows reassociation. ``add`` carries that one flag (``reassoc``: NaN,
  infinities and signed zeros keep their IEEE meaning). The order of the
  additions is then fixed by the compiled code and the chunk, not by the
  number of threads, so sums stay deterministic.
- a maximum: ``a if a > b else b`` compiles to a ``select`` that LLVM does not
  vectorise, and an ``x != x`` test beside it stops the vectoriser too.
  ``maximum`` calls ``llvm.maximum`` (IEEE 754-2019 ``maximum``: NaN if
  either operand is NaN), which vectorises (``vmaxps`` plus a NaN blend).

A row's max is faster still without ``llvm.maximum`` in the loop:
``wrong_max`` (IR) keeps four vector accumulators of ``vmaxps``-style selects
and tests for NaN apart. And one test LLVM does not vectorise at all: "which
of these 16 entries pass a threshold?". Written as a loop it becomes a branch
per entry or a serial chain of scalar compares. ``above_or_nan`` and ``at_least`` are one
vector load and one vector compare (``BLOCK`` entries of a flat array from
``start``; the caller keeps the block inside the array), giving a bit mask
that ``lowest_bit`` walks. ``kth_largest`` (IR) finds a row's k-th largest
entry (top-k's ``tau``) in one walk: per-lane ``max``/``min`` registers, no branch.
"""

from __future__ import annotations

import math

import llvmlite.ir as lir
import numba
import numpy as np
from numba.core import cgutils, types
from numba.extending import intrinsic

from ._jit import jit
from ._tiles import _splat, band_rows, host_features, vector_bytes

_I32 = lir.IntType(32)
_I64 = lir.IntType(64)


@jit(nogil=True, fastmath={"reassoc"})
def add(acc, x):
    """``acc + x`` with the ``reassoc`` flag only (vectorisable sums)."""
    return acc + x


def _maximum_python(a, b):
    """``maximum`` as plain Python (``NUMBA_DISABLE_JIT=1``, e.g. coverage runs)."""
    return a if (a > b or a != a) else (b if (b > a or b != b) else max(a, b))


@intrinsic
def maximum(typingctx, a, b):  # pragma: no cover (compile-time code; coverage runs no JIT)
    """``llvm.maximum(a, b)``: the larger of two floats, NaN if either is NaN."""
    if a != b:
        return None

    def codegen(context, builder, signature, args):
        ty = args[0].type
        name = "llvm.maximum.f32" if ty == lir.FloatType() else "llvm.maximum.f64"
        fn = cgutils.get_or_insert_function(builder.module, lir.FunctionType(ty, [ty, ty]), name)
        return builder.call(fn, args)

    return a(a, a), codegen


#: Entries one block test reads.
BLOCK = 16


def _above_or_nan_python(flat, start, threshold):
    """``above_or_nan`` as plain Python."""
    return sum(1 << b for b, v in enumerate(flat[start : start + BLOCK]) if not v <= threshold)


def _at_least_python(flat, start, threshold):
    """``at_least`` as plain Python."""
    return sum(1 << b for b, v in enumerate(flat[start : start + BLOCK]) if v >= threshold)


def _lowest_bit_python(mask):
    """``lowest_bit`` as plain Python."""
    mask = int(mask)  # (a NumPy integer after masking with a NumPy index)
    return (mask & -mask).bit_length() - 1


def _block_test(unordered: bool, operator: str):
    """An intrinsic ``(flat, start, threshold) -> int64``: bit b set if ``flat[start + b]`` passes.

    ``operator`` is an LLVM ``fcmp`` predicate, unordered (true for NaN) or not.
    """

    def block_test(typingctx, flat, start, threshold):  # pragma: no cover (compile-time code)
        if not isinstance(flat, types.Array) or flat.ndim != 1 or flat.dtype != threshold:
            return None

        def codegen(context, builder, signature, args):
            array, first, value = args
            data = context.make_array(signature.args[0])(context, builder, array).data
            vector = lir.VectorType(value.type, BLOCK)
            pointer = builder.bitcast(builder.gep(data, [first]), vector.as_pointer())
            entries = builder.load(pointer, align=context.get_abi_sizeof(value.type))
            splat = builder.insert_element(lir.Constant(vector, None), value, lir.Constant(_I32, 0))
            zeros = lir.Constant(lir.VectorType(_I32, BLOCK), None)
            splat = builder.shuffle_vector(splat, splat, zeros)
            compare = builder.fcmp_unordered if unordered else builder.fcmp_ordered
            bits = builder.bitcast(compare(operator, entries, splat), lir.IntType(BLOCK))
            return builder.zext(bits, _I64)

        return types.int64(flat, types.intp, threshold), codegen

    return intrinsic(block_test)


#: Bit b (b < BLOCK) set where ``flat[start + b]`` is ``> threshold`` or NaN
#: (``not v <= threshold``).
above_or_nan = _block_test(True, ">")
#: Bit b set where ``flat[start + b] >= threshold`` (NaN is not), b < BLOCK.
at_least = _block_test(False, ">=")


@intrinsic
def lowest_bit(typingctx, mask):  # pragma: no cover (compile-time code)
    """The index of the lowest set bit of a non-zero int64 (``llvm.cttz``)."""
    if mask != types.int64:
        return None

    def codegen(context, builder, signature, args):
        fn_type = lir.FunctionType(_I64, [_I64, lir.IntType(1)])
        fn = cgutils.get_or_insert_function(builder.module, fn_type, "llvm.cttz.i64")
        return builder.call(fn, [args[0], lir.Constant(lir.IntType(1), 1)])

    return types.int64(mask), codegen


def _list_at_least_python(flat, start, threshold, columns, n, j0, skip):
    """``list_at_least`` as plain Python."""
    for b in range(BLOCK):
        if flat[start + b] >= threshold and j0 + b != skip:
            columns[n] = j0 + b
            n += 1
    return n


#: Whether the CPU compresses vectors (AVX-512 ``vpcompressq``): ``list_at_least``.
COMPRESS = "+avx512f" in host_features()


@intrinsic
def list_at_least(typingctx, flat, start, threshold, columns, n, j0, skip):  # pragma: no cover
    """Append ``j0 + b`` (b < BLOCK) where ``flat[start + b] >= threshold``, ``j0 + b != skip``.

    To ``columns[n:]`` (int64), in order; returns the new ``n``. No branch: the
    passing columns are packed in registers (``vpcompressq``, two halves of 8), and
    each half is stored whole, 8 entries, of which the next half or block overwrites
    what did not pass. So ``columns[n : n + BLOCK]`` must exist: a row's list never
    outgrows the columns read, so it does where ``j0 + BLOCK <= len(columns)`` and
    ``n <= j0``. Needs AVX-512 (``COMPRESS``).
    """
    if not isinstance(flat, types.Array) or flat.ndim != 1 or flat.dtype != threshold:
        return None
    if not isinstance(columns, types.Array) or columns.dtype != types.int64:
        return None

    def codegen(context, builder, signature, args):
        b = builder
        array, first, value, out, count, column, skipped = args
        data = context.make_array(signature.args[0])(context, b, array).data
        vector = lir.VectorType(value.type, BLOCK)
        pointer = b.bitcast(b.gep(data, [first]), vector.as_pointer())
        entries = b.load(pointer, align=context.get_abi_sizeof(value.type))
        passing = b.fcmp_ordered(">=", entries, _splat(b, value, BLOCK))
        lanes = lir.Constant(lir.VectorType(_I64, BLOCK), list(range(BLOCK)))
        passing = b.and_(passing, b.icmp_signed("!=", lanes, _splat(b, b.sub(skipped, column),
                                                                     BLOCK)))  # fmt: skip
        indices = b.add(lanes, _splat(b, column, BLOCK))
        half = lir.VectorType(_I64, BLOCK // 2)
        half_mask = lir.VectorType(lir.IntType(1), BLOCK // 2)
        compress = cgutils.get_or_insert_function(
            b.module, lir.FunctionType(half, [half, half, half_mask]),
            f"llvm.x86.avx512.mask.compress.v{BLOCK // 2}i64",
        )  # fmt: skip
        popcount = cgutils.get_or_insert_function(
            b.module, lir.FunctionType(_I64, [_I64]), "llvm.ctpop.i64")  # fmt: skip
        slots = context.make_array(signature.args[3])(context, b, out).data
        for h in range(2):
            picks = lir.Constant(lir.VectorType(_I32, BLOCK // 2),
                                 [h * BLOCK // 2 + i for i in range(BLOCK // 2)])  # fmt: skip
            part = b.shuffle_vector(indices, indices, picks)
            mask = b.shuffle_vector(passing, passing, picks)
            packed = b.call(compress, [part, lir.Constant(half, None), mask])
            target = b.bitcast(b.gep(slots, [count]), half.as_pointer())
            b.store(packed, target, align=8)
            bits = b.zext(b.bitcast(mask, lir.IntType(BLOCK // 2)), _I64)
            count = b.add(count, b.call(popcount, [bits]))
        return count

    return types.int64(flat, types.intp, threshold, columns, types.int64, types.int64,
                       types.int64), codegen  # fmt: skip


def _wrong_max_python(flat, start, n, skip, zeroed, addend, addend_start):
    """``wrong_max`` as plain Python."""
    if zeroed.shape[0]:
        zeroed[start : start + n] = 0
    best = -math.inf
    for j in range(n):
        value = flat[start + j] if addend is None else addend[addend_start + j] + flat[start + j]
        if j != skip:
            best = _maximum_python(best, value)
    return flat.dtype.type(best)


#: Blocks ``wrong_max`` walks at once (its independent accumulators).
_WAYS = 4


@intrinsic
def wrong_max(typingctx, flat, start, n, skip, zeroed, addend, addend_start):  # pragma: no cover
    """The max of ``flat[start + j]``, ``0 <= j < n``, ``j != skip``: −inf if none, NaN if any is.

    With an ``addend`` array (not ``None``), the max of ``addend[addend_start + j] +
    flat[start + j]`` (margin rescaling's ``Δ[y, j] + s_j``), each sum rounded once.

    ``zeroed``, unless empty, gets zeros at the same entries, as they are read
    (a gradient row: writing it beside the reads, not in a second pass, keeps
    two streams in flight, which a long row out of cache needs).

    ``BLOCK`` entries a step (the last block masked: nothing is read past
    ``start + n``) into ``_WAYS`` independent accumulators, each step one
    ``vmaxps``-style select (``v > acc``: a NaN is never taken) and one NaN
    test; the NaN tests are OR-ed. 0.06–0.08 ns an entry (float32 rows of
    10³, in L1 or L2, one thread; 0.2 at 10² entries, where the final
    reduction counts); the same loop with ``llvm.maximum`` on the vectors (a
    chain of several instructions a step) took 0.13–0.19.
    The sign of a zero max may differ from ``llvm.maximum``'s (+0): the
    Crammer–Singer row that uses it cannot tell (``z = m − (s_y − max)`` only
    changes the sign of a zero ``z``, which no result depends on).
    """
    arrays = (flat, zeroed)
    if not all(isinstance(a, types.Array) and a.ndim == 1 for a in arrays):
        return None
    if zeroed.dtype != flat.dtype or not zeroed.mutable:  # flat may be read-only
        return None
    adding = not isinstance(addend, types.NoneType)
    if adding and (not isinstance(addend, types.Array) or addend.dtype != flat.dtype):
        return None

    def codegen(context, builder, signature, args):
        b = builder
        array, first, count, skip, zeroed_array, addend_array, addend_first = args
        data = context.make_array(signature.args[0])(context, builder, array).data
        if adding:
            extra = context.make_array(signature.args[5])(context, builder, addend_array).data
        zeroed = context.make_array(signature.args[4])(context, builder, zeroed_array)
        has_zeroed = b.icmp_signed(">", zeroed.nitems, lir.Constant(_I64, 0))
        element = data.type.pointee
        vector = lir.VectorType(element, BLOCK)
        width = context.get_abi_sizeof(element)
        index_type = lir.VectorType(_I64, BLOCK)
        mask_type = lir.VectorType(lir.IntType(1), BLOCK)
        iota = lir.Constant(index_type, [lir.Constant(_I64, k) for k in range(BLOCK)])
        low = lir.Constant(vector, [lir.Constant(element, -math.inf)] * BLOCK)
        suffix = f"v{BLOCK}f{8 * width}"
        masked_load = cgutils.get_or_insert_function(
            b.module,
            lir.FunctionType(vector, [vector.as_pointer(), _I32, mask_type, vector]),
            f"llvm.masked.load.{suffix}.p0{suffix}",
        )
        masked_store = cgutils.get_or_insert_function(
            b.module,
            lir.FunctionType(lir.VoidType(), [vector, vector.as_pointer(), _I32, mask_type]),
            f"llvm.masked.store.{suffix}.p0{suffix}",
        )
        zeros = lir.Constant(vector, None)

        def splat(value):
            one = b.insert_element(lir.Constant(index_type, None), value, lir.Constant(_I32, 0))
            return b.shuffle_vector(one, one, lir.Constant(lir.VectorType(_I32, BLOCK), None))

        # The column test in lanes as wide as the elements (i32 for float32, not
        # i64: half the compares), and for float32 the NaN flags too (an i1
        # vector costs AVX2 packing at every block). Float64's flags stay bits:
        # its 16 lanes are four AVX2 registers a flag vector, and with them the
        # loop spills (float32, one thread, (512, 10³) in L2, whole call: 0.955x,
        # loss only 0.835x; float64 flags as lanes: 1.07x).
        lane_int = lir.IntType(8 * width)
        lane_ints = lir.VectorType(lane_int, BLOCK)
        columns = lir.Constant(lane_ints, [lir.Constant(lane_int, k) for k in range(BLOCK)])
        flags = lane_ints if width == 4 else mask_type
        best = [cgutils.alloca_once_value(b, low) for _ in range(_WAYS)]
        nan = cgutils.alloca_once_value(b, lir.Constant(flags, None))

        def lanes_of(value):
            """``value`` (an i64) in every lane of ``lane_ints`` (truncated: rows < 2**31)."""
            value = b.trunc(value, lane_int) if lane_int.width < 64 else value
            one = b.insert_element(lir.Constant(lane_ints, None), value, lir.Constant(_I32, 0))
            return b.shuffle_vector(one, one, lir.Constant(lir.VectorType(_I32, BLOCK), None))

        def take(k, j0, zeroing, mask=None):
            """Block ``j0`` into accumulator ``k`` (and zeros into ``zeroed``)."""
            pointer = b.bitcast(b.gep(data, [b.add(first, j0)]), vector.as_pointer())
            target = b.bitcast(b.gep(zeroed.data, [b.add(first, j0)]), vector.as_pointer())
            align = lir.Constant(_I32, width)
            if mask is None:
                values = b.load(pointer, align=width)
                if zeroing:
                    b.store(zeros, target, align=width)
            else:
                values = b.call(masked_load, [pointer, align, mask, low])
                if zeroing:
                    b.call(masked_store, [zeros, target, align, mask])
            if adding:  # addend + value (a masked-off lane: 0 + −inf)
                where = b.gep(extra, [b.add(addend_first, j0)])
                where = b.bitcast(where, vector.as_pointer())
                if mask is None:
                    more = b.load(where, align=width)
                else:
                    more = b.call(masked_load, [where, align, mask, zeros])
                values = b.fadd(more, values)
            values = b.select(b.icmp_signed("==", columns, lanes_of(b.sub(skip, j0))), low, values)
            is_nan = b.fcmp_unordered("uno", values, values)
            is_nan = b.sext(is_nan, flags) if flags is lane_ints else is_nan
            b.store(b.or_(b.load(nan), is_nan), nan)
            acc = b.load(best[k])
            b.store(b.select(b.fcmp_ordered(">", values, acc), values, acc), best[k])

        def walk(zeroing):
            """Every block of the row: ``_WAYS`` at a time, then one at a time, then masked."""
            step = lir.Constant(_I64, BLOCK)
            rounds = b.sdiv(count, lir.Constant(_I64, _WAYS * BLOCK))
            with cgutils.for_range(b, rounds) as loop:
                j0 = b.mul(loop.index, lir.Constant(_I64, _WAYS * BLOCK))
                for k in range(_WAYS):
                    take(k, b.add(j0, lir.Constant(_I64, k * BLOCK)), zeroing)
            done = b.mul(rounds, lir.Constant(_I64, _WAYS * BLOCK))
            whole = b.sdiv(b.sub(count, done), step)
            with cgutils.for_range(b, whole) as loop:
                take(0, b.add(done, b.mul(loop.index, step)), zeroing)
            done = b.add(done, b.mul(whole, step))
            tail = b.sub(count, done)
            with b.if_then(b.icmp_signed(">", tail, lir.Constant(_I64, 0))):
                take(1, done, zeroing, b.icmp_signed("<", iota, splat(tail)))

        with b.if_else(has_zeroed) as (zeroing, reading):  # two loops, no branch inside
            with zeroing:
                walk(True)
            with reading:
                walk(False)
        total = b.load(best[0])
        for k in range(1, _WAYS):
            other = b.load(best[k])
            total = b.select(b.fcmp_ordered(">", other, total), other, total)
        lanes = BLOCK
        while lanes > 1:  # halve: the upper half against the lower
            lanes //= 2
            upper = [lir.Constant(_I32, k + lanes) for k in range(lanes)]
            upper += [lir.Constant(_I32, 0)] * (BLOCK - lanes)
            order = lir.Constant(lir.VectorType(_I32, BLOCK), upper)
            shifted = b.shuffle_vector(total, total, order)
            total = b.select(b.fcmp_ordered(">", shifted, total), shifted, total)
        result = b.extract_element(total, lir.Constant(_I32, 0))
        nan_lanes = b.load(nan)
        if flags is lane_ints:
            nan_lanes = b.icmp_unsigned("!=", nan_lanes, lir.Constant(lane_ints, None))
        any_nan = b.icmp_unsigned("!=", b.bitcast(nan_lanes, lir.IntType(BLOCK)),
                                  lir.Constant(lir.IntType(BLOCK), 0))  # fmt: skip
        return b.select(any_nan, lir.Constant(element, math.nan), result)

    signature = flat.dtype(flat, types.intp, types.intp, types.intp, zeroed, addend, types.intp)
    return signature, codegen


#: The top-k walks keep up to this many levels in registers (``kth_largest``,
#: ``_transposed``'s sink): one copy of the walk for each k.
KTH_IN_REGISTERS = 8


def each_k(builder, k, walk):  # pragma: no cover (compile-time code)
    """``walk(levels)`` under ``k == levels``, for each ``levels`` in 1 … ``KTH_IN_REGISTERS``.

    ``k`` is an i64 value; a k above the limit runs none of them.
    """
    for levels in range(1, KTH_IN_REGISTERS + 1):
        with builder.if_then(builder.icmp_signed("==", k, lir.Constant(_I64, levels))):
            walk(levels)


def _kth_largest_python(flat, start, n, skip, k):
    """``kth_largest`` as plain Python."""
    row = flat[start : start + n]
    if np.isnan(row).any():
        return flat.dtype.type(np.nan)
    wrong = sorted((row[j] for j in range(n) if j != skip), reverse=True)
    return flat.dtype.type(wrong[k - 1] if k <= len(wrong) else -math.inf)


@intrinsic
def kth_largest(typingctx, flat, start, n, skip, k):  # pragma: no cover (compile-time code)
    """The k-th largest of ``flat[start + j]``, ``0 <= j < n``, ``j != skip``; NaN if any is NaN.

    ``1 <= k <= KTH_IN_REGISTERS`` and ``n >=`` one register of lanes
    (``_tiles.band_rows``), checked by the caller. Each lane keeps the k largest
    of its columns (``j`` mod lanes) in k registers, a column sinking through
    them by ``max``/``min`` (two instructions a level, no branch); the last
    columns go in a vector overlapping the one before (its repeated lanes as
    −inf). Then the lanes' lists merge pairwise down to one (``_fold_lanes``):
    its k-th is the result. −inf if fewer than k columns are not
    ``skip``; a NaN anywhere (``skip``'s too) makes it NaN, as the row code's
    search. Of zeros of both signs it may return either; the top-k row cannot
    tell (``tau`` enters compares and ``m − s_y + tau``, whose zero sign no
    result keeps).
    """
    if not isinstance(flat, types.Array) or flat.ndim != 1:
        return None

    def codegen(context, builder, signature, args):
        b = builder
        array, first, count, skip, k = args
        data = context.make_array(signature.args[0])(context, builder, array).data
        element = data.type.pointee
        lanes = band_rows(np.dtype(str(signature.args[0].dtype)))
        width = context.get_abi_sizeof(element)
        vector = lir.VectorType(element, lanes)
        lane_int = lir.IntType(8 * width)
        lane_ints = lir.VectorType(lane_int, lanes)
        columns = lir.Constant(lane_ints, [lir.Constant(lane_int, j) for j in range(lanes)])
        low = lir.Constant(vector, [lir.Constant(element, -math.inf)] * lanes)
        nan = cgutils.alloca_once_value(b, lir.Constant(lane_ints, None))
        result = cgutils.alloca_once_value(b, lir.Constant(element, -math.inf))

        def lanes_of(value):  # an i64 (a column, < 2**31 here) in every lane of lane_ints
            return _splat(b, b.trunc(value, lane_int) if lane_int.width < 64 else value, lanes)

        def take(levels, j0, fresh=None):
            pointer = b.bitcast(b.gep(data, [b.add(first, j0)]), vector.as_pointer())
            v = b.load(pointer, align=width)  # (NaN tested before skip's lane goes)
            b.store(b.or_(b.load(nan), b.sext(b.fcmp_unordered("uno", v, v), lane_ints)), nan)
            v = b.select(b.icmp_signed("==", columns, lanes_of(b.sub(skip, j0))), low, v)
            if fresh is not None:
                v = b.select(fresh, v, low)
            for level in levels:  # v > t ? v : t stays, t < v ? t : v goes on (no NaN kept)
                t = b.load(level)
                b.store(b.select(b.fcmp_ordered(">", v, t), v, t), level)
                v = b.select(b.fcmp_ordered("<", t, v), t, v)

        def walk(k_value):
            levels = [cgutils.alloca_once_value(b, low) for _ in range(k_value)]
            step = lir.Constant(_I64, lanes)
            whole = b.sdiv(count, step)
            with cgutils.for_range(b, whole) as loop:
                take(levels, b.mul(loop.index, step))
            rest = b.srem(count, step)
            with b.if_then(b.icmp_signed(">", rest, lir.Constant(_I64, 0))):
                fresh = b.icmp_signed(">=", columns, lanes_of(b.sub(step, rest)))
                take(levels, b.sub(count, step), fresh)
            heads = [b.load(level) for level in levels]
            b.store(b.extract_element(_fold_lanes(b, heads), lir.Constant(_I32, 0)), result)

        each_k(b, k, walk)
        any_nan = b.icmp_unsigned(
            "!=", b.bitcast(b.icmp_unsigned("!=", b.load(nan), lir.Constant(lane_ints, None)),
                            lir.IntType(lanes)), lir.Constant(lir.IntType(lanes), 0),
        )  # fmt: skip
        return b.select(any_nan, lir.Constant(element, math.nan), b.load(result))

    return flat.dtype(flat, types.intp, types.intp, types.intp, types.intp), codegen


def _merge_pairs(n: int, lo: int = 0, step: int = 1) -> list[tuple[int, int]]:
    """Batcher's odd-even merge of ``n`` (a power of two) entries whose halves are sorted.

    The compare-exchanges ``(i, j)``, in order: afterwards ``i`` holds the larger.
    """
    if 2 * step >= n:
        return [(lo, lo + step)]
    pairs = _merge_pairs(n, lo, 2 * step) + _merge_pairs(n, lo + step, 2 * step)
    return pairs + [(i, i + step) for i in range(lo + step, lo + n - step, 2 * step)]


def _fold_lanes(builder, heads):  # pragma: no cover (compile-time code)
    """The k-th largest entry over all lanes of ``heads``, in lane 0 of the vector returned.

    ``heads[p]`` holds each lane's (p+1)-th largest (every lane's list sorted,
    largest first). Lane i's list merges with lane i + half's, halving the lanes
    until one is left: a merge is Batcher's odd-even network over the two lists
    (padded with −inf to a power of two), its compare-exchanges ``max``/``min``
    on every lane pair at once; only the first k of each merge go on (LLVM drops
    the rest of the network). Log₂(lanes) merges, against k rounds of taking the
    largest head out (a horizontal max, the lane's index, a shift of its list:
    each round waiting on the one before).
    """
    b, k = builder, len(heads)
    lanes = heads[0].type.count
    element = heads[0].type.element
    m = 1 << (k - 1).bit_length()  # the lists' padded length
    while lanes > 1:
        half = lanes // 2
        low = lir.Constant(lir.VectorType(element, half), [lir.Constant(element, -math.inf)] * half)
        first, second = (
            lir.Constant(lir.VectorType(_I32, half), [lir.Constant(_I32, j) for j in lanes_from])
            for lanes_from in (range(half), range(half, lanes))
        )
        merged = [b.shuffle_vector(v, v, first) for v in heads] + [low] * (m - k)
        merged += [b.shuffle_vector(v, v, second) for v in heads] + [low] * (m - k)
        for i, j in _merge_pairs(2 * m):  # v > t ? v : t up, t < v ? t : v down
            x, y = merged[i], merged[j]
            merged[i] = b.select(b.fcmp_ordered(">", y, x), y, x)
            merged[j] = b.select(b.fcmp_ordered("<", y, x), y, x)
        heads, lanes = merged[:k], half
    return heads[k - 1]


def _stream_zeros_python(flat, start, n):
    """``stream_zeros`` as plain Python."""
    flat[start : start + n] = 0


@intrinsic
def stream_zeros(typingctx, flat, start, n):  # pragma: no cover (compile-time code)
    """``flat[start : start + n] = 0`` with stores that bypass the cache (non-temporal).

    A plain store to a line out of cache reads the line first (a read for
    ownership); a non-temporal one writes whole lines without reading them
    (a 40 MB float32 copy took 0.50x the time with them, two threads). The
    entries up to the first SIMD-register boundary and after the last whole
    register are plain stores. The caller orders the streamed stores before
    anything else reads them (``store_fence``): other threads may not see
    them until then.
    """
    if not isinstance(flat, types.Array) or flat.ndim != 1 or not flat.mutable:
        return None

    def codegen(context, builder, signature, args):
        b = builder
        array, first, count = args
        data = context.make_array(signature.args[0])(context, builder, array).data
        element = data.type.pointee
        width = context.get_abi_sizeof(element)
        lanes = max(1, vector_bytes() // width)
        vector = lir.VectorType(element, lanes)
        zero, zeros = lir.Constant(element, 0), lir.Constant(vector, None)
        begin = b.gep(data, [first])
        below = lir.Constant(_I64, lanes * width - 1)  # the bytes' offset in a register
        to_boundary = b.and_(b.sub(lir.Constant(_I64, 0), b.ptrtoint(begin, _I64)), below)
        head = b.udiv(to_boundary, lir.Constant(_I64, width))  # entries before a boundary
        head = b.select(b.icmp_signed("<", count, head), count, head)
        with cgutils.for_range(b, head) as loop:
            b.store(zero, b.gep(begin, [loop.index]))
        whole = b.sdiv(b.sub(count, head), lir.Constant(_I64, lanes))
        body = b.gep(begin, [head])
        hint = b.module.add_metadata([lir.Constant(_I32, 1)])
        with cgutils.for_range(b, whole) as loop:
            at = b.gep(body, [b.mul(loop.index, lir.Constant(_I64, lanes))])
            store = b.store(zeros, b.bitcast(at, vector.as_pointer()), align=lanes * width)
            store.set_metadata("nontemporal", hint)
        done = b.add(head, b.mul(whole, lir.Constant(_I64, lanes)))
        with cgutils.for_range(b, b.sub(count, done)) as loop:
            b.store(zero, b.gep(begin, [b.add(done, loop.index)]))
        return context.get_dummy_value()

    return types.none(flat, types.intp, types.intp), codegen


def _store_fence_python():
    """``store_fence`` as plain Python (nothing to order)."""


@intrinsic
def store_fence(typingctx):  # pragma: no cover (compile-time code)
    """A full memory fence: the non-temporal stores before it are visible after it."""

    def codegen(context, builder, signature, args):
        builder.fence("seq_cst")
        return context.get_dummy_value()

    return types.none(), codegen


@jit(nogil=True, error_model="numpy")
def first_at_least(flat, start, n, skip, value):
    """The first ``j`` in ``[0, n)``, ``j != skip``, with ``flat[start + j] >= value``, or −1.

    Whole blocks of the row by a vector compare (``at_least``), then the rest.
    """
    j0 = 0
    while j0 + BLOCK <= n:
        bits = at_least(flat, start + j0, value)
        if 0 <= skip - j0 < BLOCK:
            bits &= ~(1 << (skip - j0))
        if bits:
            return j0 + lowest_bit(bits)
        j0 += BLOCK
    for j in range(j0, n):
        if j != skip and flat[start + j] >= value:
            return j
    return -1


if numba.config.DISABLE_JIT:  # intrinsics only exist compiled
    maximum = _maximum_python
    above_or_nan = _above_or_nan_python
    at_least = _at_least_python
    list_at_least = _list_at_least_python
    lowest_bit = _lowest_bit_python
    wrong_max = _wrong_max_python
    kth_largest = _kth_largest_python
    stream_zeros = _stream_zeros_python
    store_fence = _store_fence_python
