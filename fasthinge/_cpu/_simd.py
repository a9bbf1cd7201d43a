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

And one test LLVM does not vectorise at all: "which of these 16 entries
pass a threshold?". Written as a loop it becomes a branch per entry or a
serial chain of scalar compares. ``above_or_nan`` and ``at_least`` are one
vector load and one vector compare (``BLOCK`` entries of a flat array from
``start``; the caller keeps the block inside the array), giving a bit mask
that ``lowest_bit`` walks.
"""

from __future__ import annotations

import llvmlite.ir as lir
import numba
from numba.core import cgutils, types
from numba.extending import intrinsic

from ._jit import _CACHE

_I32 = lir.IntType(32)
_I64 = lir.IntType(64)


@numba.njit(cache=_CACHE, nogil=True, fastmath={"reassoc"})
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


if numba.config.DISABLE_JIT:  # intrinsics only exist compiled
    maximum = _maximum_python
    above_or_nan = _above_or_nan_python
    at_least = _at_least_python
    lowest_bit = _lowest_bit_python
