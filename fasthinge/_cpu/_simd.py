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
"""

from __future__ import annotations

import llvmlite.ir as lir
import numba
from numba.core import cgutils
from numba.extending import intrinsic

from ._jit import _CACHE


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


if numba.config.DISABLE_JIT:  # intrinsics only exist compiled
    maximum = _maximum_python
