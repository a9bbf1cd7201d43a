"""Rows as SIMD lanes: tiles of the scores transposed in registers.

A Weston–Watkins row sum must be added in index order (PyTorch's order, for
bit-identical results), so one row is a chain of dependent additions that no
vectoriser may reorder. ``W`` rows side by side are ``W`` independent chains:
lane ``r`` of a vector holds row ``r``. A band walk (``_Band``) takes W rows
in tiles of W columns: W contiguous row loads, a transpose by
``shufflevector`` (log2 W stages), then column after column into the lanes,
each lane in its row's index order with the row code's operations. The
loaded rows also give the gradient rows, stored as W contiguous vectors. A
row's last columns take a narrower tile (``_Band.last_columns``), or, in a
row shorter than W, one tile under a mask. Numba has no vector types, hence
LLVM IR through ``@intrinsic``; each intrinsic has a plain-Python twin for
``NUMBA_DISABLE_JIT``.

One lane class per loss supplies the per-column ``step``: Weston–Watkins
(``ww_rows``), Crammer–Singer (``cs_rows``), margin rescaling
(``structured_rows``: Crammer–Singer over ``Δ[y, j] + s_j``), one-vs-all
(``ova_rows``) and Keras' categorical hinge (``categorical_band``, scores and
targets walked together). The ``*_rows`` intrinsics also set up and finish
each row (``_Rows``): they read the band's labels, gather ``s_y`` and the
weights, and write ``g[y]``, the losses and the chunk's sum.

W is one vector register of the scores' dtype on the CPU Numba compiles for
(``vector_bytes``): 16 float32 or 8 float64 rows with AVX-512, 8 or 4 with
AVX2, 4 or 2 without AVX. Bands wider than the registers cost up to 1.5x:
on an AVX2 machine (AMD EPYC, two threads, float32, into ``out``) 512-bit
bands took Weston–Watkins (10⁶, 10) 9.4 ms against 6.2 with 256-bit ones,
Crammer–Singer and one-vs-all 0.65–0.67x at (10⁶, 10) too (a 16 × 16 tile
is 32 AVX2 registers of a 16-register file). The bands give the row code's
results bit for bit at any W (``tests/test_row_blocks.py``), so W changes no
result. Lane state lives in ``(k, LANES)`` arrays (the first W columns are
used); ``categorical_band`` takes the lanes' labels in a ``(LANES,)`` int64
array.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import llvmlite.binding as llvm
import llvmlite.ir as lir
import numba
import numpy as np
from numba.core import cgutils, codegen, config, types
from numba.extending import intrinsic

#: Columns of the lane arrays: the widest band (float32).
LANES = 16
BASE, WEIGHT, SLOPE, TOTAL, G_Y = range(5)
#: Rows of up to this many bytes are prefetched one band ahead; longer rows
#: ``LONG_ROW_PREFETCH_BYTES`` ahead in the same rows. Without a gradient, a walk
#: of the scores alone (half the streams) takes the band ahead up to
#: ``PREFETCH_MAX_ROW_BYTES_LOSS``.
PREFETCH_MAX_ROW_BYTES = 2048
PREFETCH_MAX_ROW_BYTES_LOSS = 4096
LONG_ROW_PREFETCH_BYTES = 256
#: Bytes of a cache line (what one prefetch brings in).
CACHE_LINE_BYTES = 64
#: The longest rows whose bands stage their gradient block (``_Band.stage``): the stack
#: scratch holds W of them. Which calls stage: ``_rows.STAGED_CLASSES``.
STAGE_MAX_ROW_BYTES = 2048

_I32 = lir.IntType(32)
_I64 = lir.IntType(64)


def host_features() -> set:
    """The CPU features Numba compiles for (``NUMBA_CPU_FEATURES`` when set), as a set."""
    features = config.CPU_FEATURES
    if features is None:
        features = codegen.get_host_cpu_features()
    return set(features.split(","))


@functools.cache
def vector_bytes() -> int:
    """Bytes of a SIMD register of the CPU Numba compiles for: 64, 32 or 16.

    Read from Numba's own target features (``NUMBA_CPU_FEATURES`` when set, else
    the host's, without AVX under ``NUMBA_ENABLE_AVX=0``), so the band width
    follows the machine code a cached kernel was built for (Numba keys its cache
    on those features). ``FASTHINGE_VECTOR_BYTES`` (16, 32 or 64) overrides it,
    for tests of the other widths; the cache stamp includes it (``_cache.py``).

    AMD Zen cores (LLVM's ``znver*``; ``NUMBA_CPU_NAME`` when set) take 32-byte
    bands even with AVX-512 (``ZEN_VECTOR_BYTES``).
    """
    forced = os.environ.get("FASTHINGE_VECTOR_BYTES", "")
    if forced:
        if forced not in ("16", "32", "64"):
            raise ValueError(f"FASTHINGE_VECTOR_BYTES must be 16, 32 or 64, got {forced!r}")
        return int(forced)
    enabled = host_features()
    widest = 64 if "+avx512f" in enabled else 32 if "+avx" in enabled else 16
    name = config.CPU_NAME or llvm.get_host_cpu_name()
    return min(widest, ZEN_VECTOR_BYTES) if name.startswith("znver") else widest


#: Band width on AMD Zen cores, which run 512-bit instructions as two 256-bit
#: halves: a 16-row float32 band is 32 streams (16 rows read, 16 written) for no more
#: arithmetic a cycle. On an AMD EPYC (znver4) guest with AVX-512, two threads,
#: float32, x a same-process copy, 64-byte against 32-byte bands (paired):
#: Weston–Watkins (10⁵, 100) 2.32–2.66 → 1.56–1.73, (10⁴, 10³) 1.62–2.07 → 1.48–1.52,
#: (4096, 10³) 2.28–2.47 → 1.66–1.75, (10⁶, 10) even; one-vs-all (4096, 10³)
#: 2.09–2.33 → 1.66–1.95; Crammer–Singer (10⁵, 100) 2.02 → 1.48; categorical hinge
#: (10⁶, 10) 3.20 → 2.50, (10⁵, 100) 2.70 → 2.21. It gives up the bands' streamed
#: gradient rows (a register must be a line): Weston–Watkins (5000, 2000) 0.97–1.14 →
#: 1.13–1.25, (10³, 10⁴) 0.91–0.93 → 1.02–1.03.
ZEN_VECTOR_BYTES = 32


#: The last-level cache assumed where Linux's sysfs does not say (the AMD EPYC VM's).
DEFAULT_CACHE_BYTES = 32 << 20


@functools.cache
def cache_bytes(root: str = "/sys/devices/system/cpu/cpu0/cache") -> int:
    """Bytes of the largest CPU cache (cpu0's, from Linux's sysfs), else ``DEFAULT_CACHE_BYTES``.

    Kernels that walk inputs larger than this choose their access pattern for
    memory, not for the cache (``multiclass.long_rows``). Frozen into the
    compiled kernels: the cache stamp includes it (``_cache.py``).
    """
    largest = 0
    for index in Path(root).glob("index*"):
        try:
            text = (index / "size").read_text().strip()
        except OSError:
            continue
        units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
        number, unit = (text[:-1], text[-1]) if text[-1:] in units else (text, "")
        if number.isdigit():
            largest = max(largest, int(number) * units.get(unit, 1))
    return largest or DEFAULT_CACHE_BYTES


#: ``cache_bytes()``, read once at import (a compile-time constant of the kernels,
#: in their cache stamp).
CACHE_BYTES = cache_bytes()


def band_rows(dtype: np.dtype) -> int:
    """W: the rows of a band (and columns of a tile) for scores of ``dtype``."""
    return min(LANES, vector_bytes() // np.dtype(dtype).itemsize)


def _int_vector(values: list[int], bits: int = 32) -> lir.Constant:  # pragma: no cover
    kind = lir.IntType(bits)
    return lir.Constant(lir.VectorType(kind, len(values)), [lir.Constant(kind, v) for v in values])


def _transpose_masks(width: int) -> list[tuple[int, list[int], list[int]]]:
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


def _narrow_columns(builder, rows: list, lanes: int) -> list:  # pragma: no cover
    """The ``lanes`` columns of the W × ``lanes`` matrix whose rows are ``rows``.

    The rows are concatenated pairwise into one vector (row-major), from which
    each column is one shuffle.
    """
    width, joined = len(rows), list(rows)
    while len(joined) > 1:
        n = joined[0].type.count
        pairs = zip(joined[::2], joined[1::2], strict=True)
        joined = [builder.shuffle_vector(a, c, _int_vector(list(range(2 * n)))) for a, c in pairs]
    whole = joined[0]
    return [
        builder.shuffle_vector(whole, whole, _int_vector([r * lanes + k for r in range(width)]))
        for k in range(lanes)
    ]


def _splat(builder, value, width: int):  # pragma: no cover (compile-time code)
    vector = lir.VectorType(value.type, width)
    v = builder.insert_element(lir.Constant(vector, None), value, lir.Constant(_I32, 0))
    return builder.shuffle_vector(v, v, _int_vector([0] * width))


def stream_lines(builder, src, dest, n_items, item, src_align):  # pragma: no cover
    """``n_items`` elements (whole cache lines) from ``src`` to ``dest`` (on a line).

    Line after line, non-temporal (no read of each line before it is written),
    each line's stores back to back so that they fill it. ``item``: the
    elements' bytes; ``src_align``: what ``src`` is aligned to.
    """
    b = builder
    per_line = lir.Constant(_I64, CACHE_LINE_BYTES // item)
    line = lir.VectorType(src.type.pointee, per_line.constant).as_pointer()
    hint = b.module.add_metadata([lir.Constant(_I32, 1)])
    with cgutils.for_range(b, b.sdiv(n_items, per_line)) as loop:
        at = b.mul(loop.index, per_line)
        value = b.load(b.bitcast(b.gep(src, [at]), line), align=src_align)
        store = b.store(value, b.bitcast(b.gep(dest, [at]), line), align=CACHE_LINE_BYTES)
        store.set_metadata("nontemporal", hint)


def staged_block(builder, n_classes, item, width, first_byte):  # pragma: no cover
    """Whether a band's gradient block may be staged (the caller adds: beyond the cache).

    Rows up to ``STAGE_MAX_ROW_BYTES`` (``item``: the elements' bytes), the block
    (``width`` rows from ``first_byte``) on whole lines.
    """
    b = builder
    row_bytes = b.mul(n_classes, lir.Constant(_I64, item))
    block_bytes = b.mul(row_bytes, lir.Constant(_I64, width))
    off_line = b.and_(b.or_(first_byte, block_bytes), lir.Constant(_I64, CACHE_LINE_BYTES - 1))
    fits = b.icmp_signed("<=", row_bytes, lir.Constant(_I64, STAGE_MAX_ROW_BYTES))
    return b.and_(fits, b.icmp_signed("==", off_line, lir.Constant(_I64, 0)))


class _Band:  # pragma: no cover (compile-time code)
    """IR of one band: W rows from ``flat[row_offset]``, ``stride`` apart, walked in tiles.

    A loss subclass keeps its lane state and supplies ``columns`` (the
    transposed tile, column by column) and ``gradient_row`` (one loaded row).
    """

    #: Whether the tiles store gradient rows (``gradient_row``).
    writes_grad = True
    #: Whether this walk is for calls without a gradient (``step`` may then skip
    #: lane state only the gradient needs).
    reading = False
    #: Matrices a band walks row by row besides the gradient (the scores; the
    #: categorical hinge's targets and margin rescaling's cost rows add one).
    walked_sources = 1
    #: Whether bands of short rows beyond the cache stage their gradient block in a
    #: stack scratch and stream it out whole lines at a time (``stream_out``).
    stages = False
    #: A subclass whose gradient has a kink coefficient sets ``kink_flag`` (an i1:
    #: whether any lane's is not +0.0); ``run`` then walks under each value, with
    #: ``kinked`` (read by ``gradient_row``) the constant of the branch.
    kink_flag = None
    kinked = True

    def __init__(self, context, builder, sig, args):
        flat, self.row_offset, self.stride = args[:3]
        labels, grad = args[-2:]
        self.context, self.builder = context, builder
        self.src = context.make_array(sig.args[0])(context, builder, flat).data
        self.sources = [self.src]  # matrices walked together (the same shape)
        self.lane_sources = []  # (data, [row start of each lane]): walked after them
        self.grad = context.make_array(sig.args[-1])(context, builder, grad)
        element = context.get_data_type(sig.args[0].dtype)
        self.width = band_rows(np.dtype(str(sig.args[0].dtype)))
        self.align = context.get_abi_sizeof(element)
        self.vector = lir.VectorType(element, self.width)
        self.index_vector = lir.VectorType(_I32, self.width)
        self.zero = lir.Constant(self.vector, None)
        suffix = f"v{self.width}f{8 * self.align}"
        mask_type = lir.VectorType(lir.IntType(1), self.width)
        pointer = self.vector.as_pointer()
        module = builder.module
        self.masked_load = cgutils.get_or_insert_function(
            module,
            lir.FunctionType(self.vector, [pointer, _I32, mask_type, self.vector]),
            f"llvm.masked.load.{suffix}.p0{suffix}",
        )
        self.masked_store = cgutils.get_or_insert_function(
            module,
            lir.FunctionType(lir.VoidType(), [self.vector, pointer, _I32, mask_type]),
            f"llvm.masked.store.{suffix}.p0{suffix}",
        )
        self.prefetch = cgutils.get_or_insert_function(
            module,
            lir.FunctionType(lir.VoidType(), [lir.IntType(8).as_pointer(), _I32, _I32, _I32]),
            "llvm.prefetch.p0i8",
        )
        # Short rows make W short, interleaved streams that the hardware prefetcher
        # follows late: prefetch the next band (measured 2x at C = 100 and 1.4x at
        # C = 10, float32, out of cache). For long rows a band ahead is too far
        # (slower at C = 10000), and their 2W streams (W rows read, W written) are
        # more than the prefetcher keeps up with: prefetch a few lines ahead in the
        # same rows (Weston–Watkins, float32, two threads, time with the gradient and
        # loss only: (10⁴, 10³) 0.79–0.81x and 0.89x, (10³, 10⁴) 0.85x and 0.86x; one-vs-all
        # (10⁴, 10³) 0.96x and 0.95x; 512 bytes ahead: no gain at (10⁴, 10³)).
        # Without a gradient a one-source walk has W streams, not 2W, and the next
        # band pays for longer rows: Weston–Watkins loss only, float32, one thread,
        # 10⁷ elements, x a same-process copy, paired: C = 700 1.44–1.62 →
        # 1.11–1.29, C = 10³ 1.26–1.39 → 1.14–1.32, but C = 2000 0.93–1.10 →
        # 1.14–1.19; with the gradient C = 600–10³ are slower so (1.70–2.36 →
        # 2.13–2.68), and so is the categorical hinge's loss alone (two sources:
        # C = 10³ 1.89–1.90 → 2.50–2.65).
        self.has_grad = builder.icmp_signed(">", self.grad.nitems, lir.Constant(_I64, 0))
        no_grad = builder.or_(
            lir.Constant(lir.IntType(1), self.reading), builder.not_(self.has_grad)
        )
        limit = builder.select(
            builder.and_(no_grad, lir.Constant(lir.IntType(1), self.walked_sources == 1)),
            lir.Constant(_I64, PREFETCH_MAX_ROW_BYTES_LOSS),
            lir.Constant(_I64, PREFETCH_MAX_ROW_BYTES),
        )
        row_bytes = builder.mul(self.stride, lir.Constant(_I64, self.align))
        next_band = builder.icmp_signed("<=", row_bytes, limit)
        short_rows = builder.icmp_signed(
            "<=", row_bytes, lir.Constant(_I64, PREFETCH_MAX_ROW_BYTES)
        )
        # Rows longer than a cache line: the next band's block line after line (its
        # rows' starts are lines apart), as many lines a tile as the tile reads
        # (``tile_lines``; float32 on AVX2: 4), so tile t prefetches the lines that
        # tile t of the next band will read, one band ahead all along. Against one
        # prefetch per row start, two threads, float32, into ``out``: (10⁵, 100)
        # Weston–Watkins 0.81x (float64 0.81x), one-vs-all 0.79x, loss only 0.87x.
        # Against W lines a tile (twice the rate read, from one band ahead at the
        # first tile to two at the last), Weston–Watkins, float32, 10⁷ elements, one
        # thread: C = 64 / 100 / 160 / 256 0.79 / 0.78 / 0.74 / 0.89x, C = 512
        # unchanged (3 lines a tile falls behind, 5 or 6 run ahead: both slower); two
        # threads, time ÷ a same-process copy: C = 100 1.60–1.85 → 1.19–1.27, C = 256
        # 1.58–1.78 → 1.26–1.30, C = 512 1.51–1.59 → 1.28–1.39. Shorter rows keep one
        # prefetch a row (their starts are the block's lines already; line after
        # line, C = 10 took 1.21x).
        line_elements = lir.Constant(_I64, CACHE_LINE_BYTES // self.align)
        self.by_lines = builder.and_(
            next_band, builder.icmp_signed(">", self.stride, line_elements)
        )
        self.line_elements = line_elements
        #: Lines a tile reads from one source: W rows of one vector each.
        self.tile_lines = max(1, self.width * self.width * self.align // CACHE_LINE_BYTES)
        self.ahead = builder.select(
            next_band,
            builder.mul(self.stride, lir.Constant(_I64, self.width)),
            lir.Constant(_I64, LONG_ROW_PREFETCH_BYTES // self.align),
        )
        # Prefetching ahead in the same rows pays only from beyond the cache: with the
        # scores and the gradient in it, none is faster (two threads, float32, into
        # ``out``, paired: (256, 10³) Weston–Watkins 0.91x, one-vs-all 0.95x;
        # (4096, 10³) 0.89x, 0.91x; beyond it, (10⁴, 10³), unchanged).
        nitems = context.make_array(sig.args[0])(context, builder, flat).nitems
        nbytes = builder.mul(nitems, lir.Constant(_I64, 2 * self.align))  # and the gradient
        beyond_cache = builder.icmp_signed(">", nbytes, lir.Constant(_I64, CACHE_BYTES))
        # (in cache, rows longer than PREFETCH_MAX_ROW_BYTES prefetch nothing even
        # without a gradient: loss only at (256, 10³) 1.94–1.96 → 2.11–2.20 x the copy)
        self.prefetching = builder.or_(short_rows, beyond_cache)
        self.with_prefetch = True  # whether ``tile`` emits them (``run``: not when in cache)
        # Beyond the cache, long rows whose gradient rows start on cache lines store
        # them with non-temporal stores (no read of each line before it is written).
        first_byte = builder.add(
            builder.ptrtoint(self.grad.data, _I64),
            builder.mul(self.row_offset, lir.Constant(_I64, self.align)),
        )
        off_boundary = builder.and_(
            builder.or_(first_byte, row_bytes), lir.Constant(_I64, CACHE_LINE_BYTES - 1)
        )
        self.streams = builder.and_(
            builder.and_(self.has_grad, builder.and_(beyond_cache, builder.not_(short_rows))),
            builder.icmp_signed("==", off_boundary, lir.Constant(_I64, 0)),
        )
        self.streaming = False  # whether ``tile`` streams the gradient (``run``)
        self.stream_hint = module.add_metadata([lir.Constant(_I32, 1)])
        #: Whether the band may stream its gradient rows: it writes them, and a
        #: register is a whole line (AVX-512). Streamed in halves, lines were slower:
        #: AVX2-wide bands (``FASTHINGE_VECTOR_BYTES=32``), Weston–Watkins, two
        #: threads, x the copy: (10³, 10⁴) 1.15–1.19 → 2.49–2.59, (5000, 2000)
        #: 1.20–1.24 → 1.18–2.56. Staging a band of rows that straddle lines in a
        #: stack scratch and streaming it out whole was slower too: (10⁴, 10³)
        #: 1.56–1.71 → 1.89–1.97.
        self.can_stream = self.writes_grad and not self.reading
        self.can_stream &= self.width * self.align >= CACHE_LINE_BYTES
        self.stage(element, first_byte, beyond_cache)
        # column indices and labels as int32 (the caller keeps n_classes < 2**31): one
        # compare per column on one register
        self.labels = self.lane_labels(sig.args[-2], labels)

    def stage(self, element, first_byte, beyond_cache):
        """Where the gradient stores go: ``grad_base[offset]`` is the gradient's ``offset``.

        Without ``stages``, the gradient itself. With it (the staged drivers,
        which ``_rows.stages_gradient`` picks), and where the band's block
        qualifies (``stage_block``: a gradient beyond the cache, rows up to
        ``STAGE_MAX_ROW_BYTES``, the block starting and ending on a cache line),
        a stack scratch that ``stream_out`` writes out after the band: the tiles'
        and the finish's stores all land in it.
        """
        b = self.builder
        self.grad_base, self.stage_block = self.grad.data, None
        if not (self.stages and self.writes_grad and not self.reading):
            return
        size = lir.Constant(_I64, self.width * STAGE_MAX_ROW_BYTES // self.align)
        self.scratch = cgutils.alloca_once(b, element, size=size)
        self.scratch.align = CACHE_LINE_BYTES
        block = staged_block(b, self.stride, self.align, self.width, first_byte)
        self.stage_block = b.and_(b.and_(self.has_grad, beyond_cache), block)
        shifted = b.gep(self.scratch, [b.neg(self.row_offset)])  # scratch[offset − row_offset]
        self.grad_base = b.select(self.stage_block, shifted, self.grad.data)

    def lane_labels(self, array_type, array):
        """The lanes' labels (int32): the ``(LANES,)`` int64 labels argument."""
        return self.load_indices(array_type, array, 0)

    def array(self, array_type, value):
        """The array structure of an argument (or of a tuple's member)."""
        return self.context.make_array(array_type)(self.context, self.builder, value)

    def lane_offsets(self, columns):
        """Each lane's ``row_offset + r · stride + columns[r]`` (an int32 vector)."""
        b = self.builder
        return [
            b.add(
                b.add(self.row_offset, b.mul(self.stride, lir.Constant(_I64, r))),
                b.sext(b.extract_element(columns, lir.Constant(_I32, r)), _I64),
            )
            for r in range(self.width)
        ]

    def gather(self, data, indices):
        """``data[indices[r]]`` in lane ``r`` (scalar loads: one per lane)."""
        b, vector = self.builder, lir.Constant(self.vector, None)
        for r, index in enumerate(indices):
            vector = b.insert_element(vector, b.load(b.gep(data, [index])), lir.Constant(_I32, r))
        return vector

    def splat_constant(self, value):
        """``value`` in every lane, in the scores' dtype."""
        return lir.Constant(self.vector, [lir.Constant(self.vector.element, value)] * self.width)

    def state(self, array_type, array, row):
        """Pointer to row ``row`` of a ``(k, LANES)`` state array, and its first W values."""
        data = self.context.make_array(array_type)(self.context, self.builder, array).data
        pointer = self.builder.gep(data, [lir.Constant(_I64, row * LANES)])
        return pointer, self.load(pointer)

    def load_indices(self, array_type, array, row):
        """Row ``row`` of a ``(k, LANES)`` int64 array (or a ``(LANES,)`` one) as int32 lanes."""
        data = self.context.make_array(array_type)(self.context, self.builder, array).data
        pointer = self.builder.gep(data, [lir.Constant(_I64, row * LANES)])
        vector = lir.VectorType(_I64, self.width)
        wide = self.builder.load(self.builder.bitcast(pointer, vector.as_pointer()), align=8)
        return self.builder.trunc(wide, self.index_vector)

    def store_indices(self, value, array_type, array, row):
        data = self.context.make_array(array_type)(self.context, self.builder, array).data
        pointer = self.builder.gep(data, [lir.Constant(_I64, row * LANES)])
        vector = lir.VectorType(_I64, self.width)
        wide = self.builder.sext(value, vector)
        self.builder.store(wide, self.builder.bitcast(pointer, vector.as_pointer()), align=8)

    def _prefetch(self, data, start, write):
        """Prefetch ``self.ahead`` elements past ``start`` (the next band, or along the row)."""
        b = self.builder
        pointer = b.bitcast(b.gep(data, [b.add(start, self.ahead)]), lir.IntType(8).as_pointer())
        flags = [lir.Constant(_I32, int(write)), lir.Constant(_I32, 3), lir.Constant(_I32, 1)]
        b.call(self.prefetch, [pointer, *flags])

    def load(self, pointer, mask=None, lanes=None):
        """A vector of W (or ``lanes``) elements from ``pointer``, under ``mask`` if given."""
        b = self.builder
        if lanes is not None:
            kind = lir.VectorType(self.vector.element, lanes)
            return b.load(b.bitcast(pointer, kind.as_pointer()), align=self.align)
        pointer = b.bitcast(pointer, self.vector.as_pointer())
        if mask is None:
            return b.load(pointer, align=self.align)
        return b.call(self.masked_load, [pointer, lir.Constant(_I32, self.align), mask, self.zero])

    def store(self, value, pointer, mask=None):
        b = self.builder
        pointer = b.bitcast(pointer, value.type.as_pointer())
        if mask is None:
            b.store(value, pointer, align=self.align)
        else:
            b.call(self.masked_store, [value, pointer, lir.Constant(_I32, self.align), mask])

    def stream(self, value, pointer):
        """``value`` to ``pointer`` (at a whole register of a cache line), non-temporal."""
        b = self.builder
        store = b.store(
            value, b.bitcast(pointer, value.type.as_pointer()), align=self.width * self.align
        )
        store.set_metadata("nontemporal", self.stream_hint)

    def columns(self, columns, labels, j0, width, skip):
        """Each column into the lane state (``self.slots``), in index order.

        ``columns`` holds the transposed tile of each source; ``step`` gets a
        column of the only source, or a tuple with one column of each.

        A partial tile stops at ``width``, an overlapping last tile starts at
        column ``skip`` (its first columns were the previous tile's): a branch
        per column (the same way in every band, so predicted) rather than a
        select on the chains.
        """
        b = self.builder
        for jj, column in enumerate(zip(*columns, strict=True)):
            column = column[0] if len(column) == 1 else column
            if width is None and skip is None:
                self._step(column, labels, j0, jj)
                continue
            index = lir.Constant(_I64, jj)
            taken = (
                b.icmp_signed("<", index, width)
                if skip is None
                else b.icmp_signed(">=", index, skip)
            )
            with b.if_then(taken, likely=True):
                self._step(column, labels, j0, jj)

    def _step(self, column, labels, j0, jj):
        state = [self.builder.load(slot) for slot in self.slots]
        for slot, value in zip(self.slots, self.step(state, column, labels, j0, jj), strict=True):
            self.builder.store(value, slot)

    def tile(self, j0, width=None, skip=None, lanes=None):
        """Columns ``j0 ..``: all W, the first ``width`` under a mask, or those from ``skip``.

        An overlapping tile (``skip``) loads and stores whole vectors: its
        gradient stores write the previous tile's last columns again, with the
        same values (a gradient row depends on its row only). A narrow tile
        (``lanes`` < W columns, the last of a row, ``last_columns``) loads and
        stores vectors of ``lanes`` and prefetches nothing.
        """
        b, w = self.builder, self.width
        mask = None
        if width is not None:
            mask = b.icmp_signed("<", _int_vector(list(range(w)), 64), _splat(b, width, w))
        first = b.add(self.row_offset, j0)
        starts = [b.add(first, b.mul(self.stride, lir.Constant(_I64, r))) for r in range(w)]
        loaded = [[self.load(b.gep(src, [s]), mask, lanes) for s in starts] for src in self.sources]
        for src, lane_starts in self.lane_sources:  # row r at its own offset (e.g. cost[y_r])
            lane_rows = [b.add(start, j0) for start in lane_starts]
            loaded.append([self.load(b.gep(src, [s]), mask, lanes) for s in lane_rows])
        rows = loaded[0]
        # the next band's block, line after line, ``tile_lines`` a tile (see __init__;
        # where they are fewer than W, the rest repeat them: one prefetch slot a row)
        first_line = b.mul(b.sdiv(j0, lir.Constant(_I64, w)), lir.Constant(_I64, self.tile_lines))
        line_of = [b.add(first_line, lir.Constant(_I64, r % self.tile_lines)) for r in range(w)]
        lines = [b.add(self.row_offset, b.mul(line, self.line_elements)) for line in line_of]
        ahead = [
            b.select(self.by_lines, line, start) for line, start in zip(lines, starts, strict=True)
        ]
        for src in self.sources if lanes is None and self.with_prefetch else ():
            for s in ahead:
                self._prefetch(src, s, write=False)
        labels = b.sub(self.labels, _splat(b, b.trunc(j0, _I32), w))  # the label's column from j0
        if lanes is None:
            transposed = [_transpose(b, source_rows) for source_rows in loaded]
        else:
            transposed = [_narrow_columns(b, source_rows, lanes) for source_rows in loaded]
        self.columns(transposed, labels, j0, width, skip)
        if not self.writes_grad or self.reading:
            return
        streaming = self.streaming and mask is None and lanes is None and skip is None
        with b.if_then(self.has_grad):
            for r in range(w):
                value = self.gradient_row(r, rows[r])
                if streaming:
                    self.stream(value, b.gep(self.grad.data, [starts[r]]))
                else:
                    self.store(value, b.gep(self.grad_base, [starts[r]]), mask)
            for s in ahead if lanes is None and self.with_prefetch and not streaming else ():
                self._prefetch(self.grad_base, s, write=True)

    def last_columns(self, rest, lanes=1):
        """The last ``rest`` (1 ≤ rest < W) columns of rows at least W long.

        In the narrowest tile of a power-of-two width that holds them, or, for
        more than W/2, in a whole tile over the last W columns (not under a mask:
        masked loads and stores cost up to 2x a band on AMD EPYC, AVX2).
        A narrow tile's first ``lanes − rest`` columns are the tile before's.
        Against the whole overlapping tile for every rest (two threads, float32,
        into ``out``, paired): (10⁶, 10) Weston–Watkins 0.81x, Crammer–Singer
        0.83x, margin rescaling 0.83x, one-vs-all 0.90x, categorical 0.90x,
        float64 Weston–Watkins 0.91x; (10⁵, 100) Weston–Watkins 0.97x.
        """
        b, w = self.builder, lir.Constant(_I64, self.width)
        if lanes >= self.width:
            self.tile(b.sub(self.stride, w), skip=b.sub(w, rest))
            return
        width = lir.Constant(_I64, lanes)
        with b.if_else(b.icmp_signed("<=", rest, width)) as (fits, wider):
            with fits:
                self.tile(b.sub(self.stride, width), skip=b.sub(width, rest), lanes=lanes)
            with wider:
                self.last_columns(rest, 2 * lanes)

    def tiles(self, count):
        """The first ``count`` whole tiles of the band."""
        with cgutils.for_range(self.builder, count) as loop:
            self.tile(self.builder.mul(loop.index, lir.Constant(_I64, self.width)))

    def whole_tiles(self, count):
        """The band's ``count`` whole tiles: prefetching or not, streamed or not."""
        b = self.builder
        if self.stages:  # staged: short rows beyond the cache (prefetching, never streams)
            self.tiles(count)
            return
        with b.if_else(self.prefetching, likely=True) as (ahead, in_cache):
            with ahead:
                if self.can_stream:
                    with b.if_else(self.streams) as (past, plain):
                        with past:  # the gradient rows streamed past the cache, then a fence
                            self.streaming = True
                            self.tiles(count)
                            self.streaming = False
                            b.fence("seq_cst")
                        with plain:
                            self.tiles(count)
                else:
                    self.tiles(count)
            with in_cache:  # the same tiles without prefetches (a branch a tile cost 5 %)
                self.with_prefetch = False
                self.tiles(count)
                self.with_prefetch = True

    def run(self):
        """Every tile of the band, then the lane state back to memory."""
        if self.kink_flag is None:
            self.walk()
        else:
            with self.builder.if_else(self.kink_flag) as (kinked, plain):
                with kinked:
                    self.walk()
                with plain:  # the default kink "zero": no kink's compare and select
                    self.kinked = False
                    self.walk()
                    self.kinked = True
        result = self.finish()
        if self.stage_block is not None:
            with self.builder.if_then(self.stage_block):
                self.stream_out()
        return self.context.get_dummy_value() if result is None else result

    def walk(self):
        """Every tile of the band: the whole ones, then the last columns."""
        b = self.builder
        w = lir.Constant(_I64, self.width)
        full_tiles = b.sdiv(self.stride, w)
        self.whole_tiles(full_tiles)
        rest = b.srem(self.stride, w)
        with b.if_then(b.icmp_signed(">", rest, lir.Constant(_I64, 0))):
            # the last columns, or, in rows shorter than W, one tile under a mask
            with b.if_else(b.icmp_signed(">", full_tiles, lir.Constant(_I64, 0))) as (over, mask):
                with over:
                    self.last_columns(rest)
                with mask:
                    self.tile(lir.Constant(_I64, 0), rest)

    def stream_out(self):
        """The staged block (W rows of ``stride``: whole lines, from a line) to the gradient."""
        b = self.builder
        n_items = b.mul(self.stride, lir.Constant(_I64, self.width))
        dest = b.gep(self.grad.data, [self.row_offset])
        stream_lines(b, self.scratch, dest, n_items, self.align, CACHE_LINE_BYTES)


class _WestonWatkinsBand(_Band):  # pragma: no cover (compile-time code)
    """Lanes: ``total += z · weight`` and ``g_y −= slope`` over the kept columns."""

    def __init__(self, context, builder, sig, args):
        super().__init__(context, builder, sig, args)
        self.lane_ptr = [self.state(sig.args[3], args[3], k)[0] for k in range(5)]
        self.lane = self.start_lanes(sig, args)
        self.total = cgutils.alloca_once_value(builder, self.lane[TOTAL])
        self.g_y = cgutils.alloca_once_value(builder, self.lane[G_Y])
        self.slots = [self.total, self.g_y]

    def start_lanes(self, sig, args):
        """The five state rows ``BASE`` … ``G_Y``: here as the caller set them."""
        return [self.load(pointer) for pointer in self.lane_ptr]

    def step(self, state, column, labels, j0, jj):
        b, (total, g_y) = self.builder, state
        z = b.fadd(self.lane[BASE], column)
        keep = b.fcmp_unordered(">", z, self.zero)  # not z <= 0: a NaN z is kept
        keep = b.and_(keep, b.icmp_signed("!=", labels, _int_vector([jj] * self.width)))
        total = b.fadd(total, b.select(keep, b.fmul(z, self.lane[WEIGHT]), self.zero))
        if not self.reading:
            g_y = b.fsub(g_y, b.select(keep, self.lane[SLOPE], self.zero))
        return total, g_y

    def lane_value(self, kind, r, lanes=None):
        """Lane ``r``'s value of state row ``kind``, in every lane (W, or ``lanes``)."""
        value = self.builder.extract_element(self.lane[kind], lir.Constant(_I32, r))
        return _splat(self.builder, value, lanes or self.width)

    def gradient_row(self, r, row):
        b, n, zero = self.builder, row.type.count, lir.Constant(row.type, None)
        keep = b.fcmp_unordered(">", b.fadd(self.lane_value(BASE, r, n), row), zero)
        return b.select(keep, self.lane_value(SLOPE, r, n), zero)

    def finish(self):
        self.store(self.builder.load(self.total), self.lane_ptr[TOTAL])
        self.store(self.builder.load(self.g_y), self.lane_ptr[G_Y])


class _Rows:  # pragma: no cover (compile-time code)
    """Mixin: a band's per-row set-up and finish in the same IR as its walk.

    The intrinsic's arguments end with ``weights, scalars, acc, loss_out,
    labels, grad``: ``weights`` holds the class weights (at
    ``class_weight_at``, if any) and the sample weights (at
    ``sample_weight_at``), ``scalars = (first_row, margin, g_const,
    grad_denom, ignore, …)`` (the chunk function's), ``acc`` (1,) float64 the
    chunk's running sum, ``loss_out`` per-row losses or empty, ``labels`` the
    (N,) labels. The band's labels are read here; an ignored one walks as
    ``ignored_label`` and reads its row's column 0.
    """

    class_weight_at, sample_weight_at, ignored_label = 0, 1, 0

    def __init__(self, context, builder, sig, args):
        b, k = builder, len(args) - 6
        scalars = [b.extract_value(args[k + 1], i) for i in range(len(sig.args[k + 1]))]
        self.first_row, self.margin, self.g_const, self.grad_denom, self.ignore = scalars[:5]
        self.extra = scalars[5:]
        self.weights = [
            context.make_array(kind)(context, builder, b.extract_value(args[k], i))
            for i, kind in enumerate(sig.args[k].types)
        ]
        self.acc_data = context.make_array(sig.args[k + 2])(context, builder, args[k + 2]).data
        self.loss_out = context.make_array(sig.args[k + 3])(context, builder, args[k + 3])
        super().__init__(context, builder, sig, args)

    def lane_labels(self, array_type, array):
        b, w = self.builder, self.width
        data = self.array(array_type, array).data
        kind = lir.VectorType(data.type.pointee, w)
        pointer = b.bitcast(b.gep(data, [self.first_row]), kind.as_pointer())
        loaded = b.load(pointer, align=kind.element.width // 8)
        wide = b.sext(loaded, lir.VectorType(_I64, w)) if kind.element.width < 64 else loaded
        self.ignored = b.icmp_signed("==", wide, _splat(b, self.ignore, w))
        column = b.select(self.ignored, lir.Constant(wide.type, None), wide)
        column = b.trunc(column, self.index_vector)
        self.label_columns = [b.extract_element(column, lir.Constant(_I32, r)) for r in range(w)]
        self.label_offsets = self.lane_offsets(column)
        walked = b.select(self.ignored, _int_vector([self.ignored_label] * w, 64), wide)
        return b.trunc(walked, self.index_vector)

    def label_scores(self):
        """``s_y`` of each lane."""
        return self.gather(self.src, self.label_offsets)

    def label_weights(self):
        """``w_y`` of each lane."""
        columns = [self.builder.sext(c, _I64) for c in self.label_columns]
        return self.gather(self.weights[self.class_weight_at].data, columns)

    def sample_scale(self):
        """``g0`` of each lane: ``sample_weight / grad_denom`` (rounded), or ``g_const``."""
        b, w = self.builder, self.width
        sample_weight = self.weights[self.sample_weight_at]
        self.has_sw = b.icmp_signed(">", sample_weight.nitems, lir.Constant(_I64, 0))
        with b.if_else(self.has_sw) as (weighted, plain):
            with weighted:
                sw = self.load(b.gep(sample_weight.data, [self.first_row]))
                double = lir.VectorType(lir.DoubleType(), w)
                g0 = b.fdiv(self.widen(sw, double), _splat(b, self.grad_denom, w))
                g0 = b.fptrunc(g0, self.vector) if g0.type != self.vector else g0
                weighted_end = b.basic_block
            with plain:
                plain_g0 = _splat(b, self.g_const, w)
                plain_end = b.basic_block
        self.sw = b.phi(self.vector)
        self.sw.add_incoming(sw, weighted_end)
        self.sw.add_incoming(self.zero, plain_end)
        g0_lanes = b.phi(self.vector)
        g0_lanes.add_incoming(g0, weighted_end)
        g0_lanes.add_incoming(plain_g0, plain_end)
        return g0_lanes

    def widen(self, value, double):
        """``value`` as doubles (a no-op for float64 lanes)."""
        return value if value.type == double else self.builder.fpext(value, double)

    def store_at(self, offsets, values):
        """``grad[offsets[r]] = values[r]`` for each lane, unless ``grad`` is empty."""
        b = self.builder
        with b.if_then(self.has_grad):
            for r, offset in enumerate(offsets):
                value = b.extract_element(values, lir.Constant(_I32, r))
                b.store(value, b.gep(self.grad_base, [offset]))

    def finish_rows(self, loss, special):
        """Store the losses (times the sample weights) and add them to ``acc`` in row order.

        Returns the bit mask of ``special`` or ignored lanes; with any, ``acc``
        is left for the caller.
        """
        b, w = self.builder, self.width
        loss = b.select(self.has_sw, b.fmul(loss, self.sw), loss)
        has_loss_out = b.icmp_signed(">", self.loss_out.nitems, lir.Constant(_I64, 0))
        with b.if_then(has_loss_out):
            self.store(loss, b.gep(self.loss_out.data, [self.first_row]))
        special = b.or_(self.ignored, special)
        mask = b.zext(b.bitcast(special, lir.IntType(w)), _I64)
        with b.if_then(b.icmp_signed("==", mask, lir.Constant(_I64, 0)), likely=True):
            acc = b.load(self.acc_data)
            for r in range(w):  # in row order, as the row loop adds them
                value = b.extract_element(loss, lir.Constant(_I32, r))
                acc = b.fadd(acc, self.widen(value, lir.DoubleType()))
            b.store(acc, self.acc_data)
        return mask


class _WestonWatkinsRows(_Rows, _WestonWatkinsBand):  # pragma: no cover (compile-time code)
    """``_WestonWatkinsBand`` with each row's set-up and finish (``_Rows``).

    ``scalars`` end with ``norm``; the lanes start as the row code: ``base =
    m − s_y``, ``slope = g0 · w_y``. A NaN loss is left to the caller.
    """

    def start_lanes(self, sig, args):
        b, w_y = self.builder, self.label_weights()
        base = b.fsub(_splat(b, self.margin, self.width), self.label_scores())
        return [base, w_y, b.fmul(self.sample_scale(), w_y), self.zero, self.zero]

    def finish(self):
        super().finish()
        b = self.builder
        total = b.load(self.total)
        self.store_at(self.label_offsets, b.load(self.g_y))  # an ignored row is the caller's
        loss = b.fdiv(total, _splat(b, self.extra[0], self.width))
        return self.finish_rows(loss, b.fcmp_unordered("uno", total, total))


class _WestonWatkinsLossRows(_WestonWatkinsRows):  # pragma: no cover (compile-time code)
    """``_WestonWatkinsRows`` for calls without a gradient: no ``g_y`` chain, no stores.

    Loss only, float32, against the same walk with ``g_y``: one thread
    (2000, 10³) 0.81–0.83x, (2·10⁴, 10) 0.90x; two threads (10⁴, 10³) 0.94x.
    """

    reading = True


class _CrammerSingerBand(_Band):  # pragma: no cover (compile-time code)
    """Lanes: the max of the wrong scores, its first column, and whether one was NaN.

    Two chains of (max, column): the even columns of each tile and the odd ones,
    merged in ``finish`` (the larger, of equals the first column). One chain
    waited on each column's compare and select (and on the label's compare, which
    LLVM folded into it as a masked compare). Against one chain, into ``out``, one
    thread, in cache, paired: float32 (4096, 10) 0.89x, (2048, 100) 0.70x, (1024,
    300) 0.70x; float64 (2048, 100) 0.68x; margin rescaling (2048, 100) 0.84x;
    loss only (4096, 10) 0.87x; beyond the cache (two threads, (10⁵, 100)) 1.0x.
    """

    #: Where the lane-state arguments (``best``, ``index``) start.
    state_arg = 3

    def __init__(self, context, builder, sig, args):
        super().__init__(context, builder, sig, args)
        k = self.state_arg
        self.best_type, self.best_array = sig.args[k], args[k]
        self.index_type, self.index_array = sig.args[k + 1], args[k + 1]
        self.best_ptr, best = self.state(self.best_type, self.best_array, 0)
        self.best = cgutils.alloca_once_value(builder, best)
        self.j_best = cgutils.alloca_once_value(
            builder, self.load_indices(self.index_type, self.index_array, 0)
        )
        self.nan = cgutils.alloca_once_value(
            builder, self.load_indices(self.index_type, self.index_array, 1)
        )
        self.odd_best = cgutils.alloca_once_value(builder, self.splat_constant(float("-inf")))
        self.odd_j_best = cgutils.alloca_once_value(builder, _int_vector([-1] * self.width))
        self.slots = [self.best, self.j_best, self.nan, self.odd_best, self.odd_j_best]

    def restart(self):
        """Start every lane afresh: (−inf, −1, no NaN), not from the state arrays."""
        b = self.builder
        for best, j_best in ((self.best, self.j_best), (self.odd_best, self.odd_j_best)):
            b.store(self.splat_constant(float("-inf")), best)
            b.store(_int_vector([-1] * self.width), j_best)
        b.store(lir.Constant(self.index_vector, None), self.nan)

    def step(self, state, column, labels, j0, jj):
        b, w, nan = self.builder, self.width, state[2]
        best, j_best = state[3:] if jj % 2 else state[:2]  # the column's chain
        wrong = b.icmp_signed("!=", labels, _int_vector([jj] * w))
        take = b.and_(wrong, b.fcmp_ordered(">", column, best))  # strictly: ties keep the first
        j = _splat(b, b.trunc(b.add(j0, lir.Constant(_I64, jj)), _I32), w)
        # any NaN in the row (the label's too: then z is NaN) sends it to the row code
        nan = b.or_(nan, b.zext(b.fcmp_unordered("uno", column, column), self.index_vector))
        j_best = j_best if self.reading else b.select(take, j, j_best)  # see ``finish``
        chain = (b.select(take, column, best), j_best)
        return (*state[:2], nan, *chain) if jj % 2 else (*chain, nan, *state[3:])

    def merge_chains(self):
        """The odd columns' chain into the even one's: the larger, of equals the first column."""
        b = self.builder
        best, odd = b.load(self.best), b.load(self.odd_best)
        j_best, odd_j = b.load(self.j_best), b.load(self.odd_j_best)
        first = b.icmp_signed("<", odd_j, j_best)
        if self.reading:  # no column walked: equal maxima are the same value
            first = lir.Constant(lir.VectorType(lir.IntType(1), self.width), None)
        # (a −1 column is a −inf max, never larger, and equal only to another −inf)
        odd_wins = b.or_(
            b.fcmp_ordered(">", odd, best), b.and_(b.fcmp_ordered("==", odd, best), first)
        )
        b.store(b.select(odd_wins, odd, best), self.best)
        b.store(b.select(odd_wins, odd_j, j_best), self.j_best)

    def gradient_row(self, r, row):
        return lir.Constant(row.type, None)  # the caller writes the two non-zero entries

    def finish(self):
        b = self.builder
        self.merge_chains()
        best = b.load(self.best)
        if self.reading:  # no index walked: −1 where no column was taken (best is −inf), else 0
            taken = b.fcmp_ordered(">", best, self.splat_constant(float("-inf")))
            first, none = lir.Constant(self.index_vector, None), _int_vector([-1] * self.width)
            b.store(b.select(taken, first, none), self.j_best)
        self.store(best, self.best_ptr)
        self.store_indices(b.load(self.j_best), self.index_type, self.index_array, 0)
        self.store_indices(b.load(self.nan), self.index_type, self.index_array, 1)


class _CrammerSingerRows(_Rows, _CrammerSingerBand):  # pragma: no cover (compile-time code)
    """``_CrammerSingerBand`` with each row's set-up and finish (``_Rows``).

    ``scalars`` end with ``p, kink_mode, half``. The lanes start at (−inf,
    −1, no NaN); the finish is the row code's: ``z = m − (s_y − best)``, the
    loss and ``coef`` on the best column, ``−coef`` on the label. A lane
    with a NaN or no wrong score above −inf is left to the caller.
    """

    def __init__(self, context, builder, sig, args):
        super().__init__(context, builder, sig, args)
        self.restart()

    def finish(self):
        super().finish()
        b, w, zero = self.builder, self.width, self.zero
        p, kink_mode, half = self.extra
        best, j_best, nan = b.load(self.best), b.load(self.j_best), b.load(self.nan)
        s_y, w_y, g0 = self.label_scores(), self.label_weights(), self.sample_scale()
        z = b.fsub(_splat(b, self.margin, w), b.fsub(s_y, best))
        hinge = b.icmp_signed("==", p, lir.Constant(p.type, 1))
        coef = b.fmul(b.select(hinge, g0, b.fmul(b.fadd(g0, g0), z)), w_y)
        loss = b.fmul(b.select(hinge, z, b.fmul(z, z)), w_y)
        kinked = b.and_(hinge, b.icmp_signed("!=", kink_mode, lir.Constant(kink_mode.type, 0)))
        at_kink = b.and_(b.fcmp_ordered("==", z, zero), _splat(b, kinked, w))
        kink_coef = b.fmul(b.fmul(g0, w_y), _splat(b, half, w))
        active = b.fcmp_ordered(">", z, zero)
        coef = b.select(active, coef, b.select(at_kink, kink_coef, zero))
        loss = b.select(active, loss, zero)
        # the band zeroed the rows: the two non-zero entries, best column first
        nonzero = b.fcmp_ordered("!=", coef, zero)
        no_best = b.icmp_signed("<", j_best, lir.Constant(self.index_vector, None))
        self.store_at(
            self.lane_offsets(b.select(no_best, self.labels, j_best)),
            b.select(nonzero, coef, zero),
        )
        self.store_at(self.label_offsets, b.select(nonzero, b.fsub(zero, coef), zero))
        special = b.or_(b.icmp_signed("!=", nan, lir.Constant(self.index_vector, None)), no_best)
        return self.finish_rows(loss, b.or_(special, b.fcmp_unordered("uno", z, z)))


class _StructuredRows(_Rows, _CrammerSingerBand):  # pragma: no cover (compile-time code)
    """Margin rescaling, ties "first": Crammer–Singer lanes over ``Δ[y, j] + s_j`` (``_Rows``).

    Lane ``r`` walks row ``y_r`` of the cost matrix beside its scores row
    (the row code's sum). ``weights = (class_weight, sample_weight, cost,
    …)``, ``scalars`` end with ``kink_mode``. The finish is the row code's:
    ``z = best − s_y``; an active row (``z > 0``, or ``z == 0`` with a kink
    mode) gets ``coef = g0 · w_y · 1 · frac`` on the best column and ``0 −
    coef`` on the label, and the loss ``z · w_y``.
    """

    state_arg = 4
    walked_sources = 2

    def __init__(self, context, builder, sig, args):
        super().__init__(context, builder, sig, args)
        cost = context.make_array(sig.args[3])(context, builder, args[3]).data
        rows = [builder.mul(builder.sext(c, _I64), self.stride) for c in self.label_columns]
        self.lane_sources.append((cost, rows))
        self.restart()

    def step(self, state, column, labels, j0, jj):
        s, cost = column
        return super().step(state, self.builder.fadd(cost, s), labels, j0, jj)

    def finish(self):
        super().finish()
        b, w, zero = self.builder, self.width, self.zero
        (kink_mode,) = self.extra
        best, j_best, nan = b.load(self.best), b.load(self.j_best), b.load(self.nan)
        s_y, w_y, g0 = self.label_scores(), self.label_weights(), self.sample_scale()
        z = b.fsub(best, s_y)
        no_kink = b.icmp_signed("==", kink_mode, lir.Constant(kink_mode.type, 0))
        half = b.icmp_signed("==", kink_mode, lir.Constant(kink_mode.type, 2))
        at_zero = b.fcmp_ordered("==", z, zero)
        inactive = b.or_(b.fcmp_ordered("<", z, zero), b.and_(at_zero, _splat(b, no_kink, w)))
        frac = b.select(
            b.and_(at_zero, _splat(b, half, w)), self.splat_constant(0.5), self.splat_constant(1.0)
        )
        coef = b.fmul(b.fmul(b.fmul(g0, w_y), self.splat_constant(1.0)), frac)
        coef = b.select(inactive, zero, coef)
        no_best = b.icmp_signed("<", j_best, lir.Constant(self.index_vector, None))
        self.store_at(self.lane_offsets(b.select(no_best, self.labels, j_best)), coef)
        self.store_at(self.label_offsets, b.select(inactive, zero, b.fsub(zero, coef)))
        loss = b.select(inactive, zero, b.fmul(z, w_y))
        special = b.or_(b.icmp_signed("!=", nan, lir.Constant(self.index_vector, None)), no_best)
        return self.finish_rows(loss, b.or_(special, b.fcmp_unordered("uno", z, z)))


class _OneVsAllBand(_WestonWatkinsBand):  # pragma: no cover (compile-time code)
    """Lanes: ``total += h`` over every column, ``h = u`` where ``not u <= 0``, else 0.

    ``u = m − (s if the label's column else 0 − s)`` (the row code's operations;
    lane rows: ``BASE`` = m, ``SLOPE`` = g0, ``WEIGHT`` = g0 · kink fraction).
    """

    def step(self, state, column, labels, j0, jj):
        b, (total, g_y) = self.builder, state
        label = b.icmp_signed("==", labels, _int_vector([jj] * self.width))
        u = b.fsub(self.lane[BASE], b.select(label, column, b.fsub(self.zero, column)))
        # h = 0 > u ? 0 : u: u where not u <= 0 (a NaN is kept), one x86 max with u
        # second (a −0.0 u adds nothing to a total that is never −0.0)
        h = b.select(b.fcmp_ordered(">", self.zero, u), self.zero, u)
        return b.fadd(total, h), g_y

    def gradient_row(self, r, row):
        b, n, zero = self.builder, row.type.count, lir.Constant(row.type, None)
        u = b.fsub(self.lane_value(BASE, r, n), b.fsub(zero, row))
        coef = b.select(b.fcmp_ordered(">", u, zero), self.lane_value(SLOPE, r, n), zero)
        if not self.kinked:  # WEIGHT (g0 · kink_frac) is +0.0 in every lane
            return coef
        return b.select(b.fcmp_ordered("==", u, zero), self.lane_value(WEIGHT, r, n), coef)


class _OneVsAllRows(_Rows, _OneVsAllBand):  # pragma: no cover (compile-time code)
    """``_OneVsAllBand`` with each row's set-up and finish (``_Rows``).

    ``weights = (sample_weight, per_class)``, ``scalars`` end with ``norm,
    kink_frac``; an ignored row walks with no positive column. The finish
    is the row code's ``g[y] = 0 − coef`` with ``u = m − s_y``.
    """

    class_weight_at, sample_weight_at, ignored_label = None, 0, -1

    def start_lanes(self, sig, args):
        b, w = self.builder, self.width
        g0 = self.sample_scale()
        kink = b.fmul(g0, _splat(b, self.extra[1], w))
        # a kink's coefficient other than +0.0 in some lane (−0.0 where g0 < 0 counts)
        bits = lir.IntType(w * 8 * self.align)
        self.kink_flag = b.icmp_unsigned("!=", b.bitcast(kink, bits), bits(0))
        return [_splat(b, self.margin, w), kink, g0, self.zero, self.zero]

    def finish(self):
        super().finish()
        b, w, zero = self.builder, self.width, self.zero
        total = b.load(self.total)
        u = b.fsub(_splat(b, self.margin, w), self.label_scores())
        coef = b.select(b.fcmp_ordered(">", u, zero), self.lane[SLOPE], zero)
        coef = b.select(b.fcmp_ordered("==", u, zero), self.lane[WEIGHT], coef)
        self.store_at(self.label_offsets, b.fsub(zero, coef))  # an ignored row is the caller's
        loss = b.fdiv(total, _splat(b, self.extra[0], w))
        return self.finish_rows(loss, b.fcmp_unordered("uno", total, total))


class _CategoricalBand(_Band):  # pragma: no cover (compile-time code)
    """Keras' categorical hinge lanes: ``pos += t·s`` (in order) and the max of ``(1 − t)·s``.

    A second source (the targets) is walked with the scores; the gradient rows
    need the row's final scale, so the caller writes them.
    """

    writes_grad = False
    walked_sources = 2

    def __init__(self, context, builder, sig, args):
        super().__init__(context, builder, sig, args)
        self.sources.append(context.make_array(sig.args[3])(context, builder, args[3]).data)
        self.sums_type, self.sums_array = sig.args[4], args[4]
        self.nan_type, self.nan_array = sig.args[5], args[5]
        self.pos_ptr, _ = self.state(self.sums_type, self.sums_array, 0)
        self.neg_ptr, _ = self.state(self.sums_type, self.sums_array, 1)
        self.pos = cgutils.alloca_once_value(builder, self.zero)
        self.neg = cgutils.alloca_once_value(builder, self.splat_constant(float("-inf")))
        self.nan = cgutils.alloca_once_value(builder, lir.Constant(self.index_vector, None))
        self.slots = [self.pos, self.neg, self.nan]

    def step(self, state, column, labels, j0, jj):
        b, (pos, neg, nan) = self.builder, state
        s, t = column
        v = b.fmul(b.fsub(self.splat_constant(1.0), t), s)
        is_nan = b.fcmp_unordered("uno", v, v)
        new_neg = b.select(b.fcmp_ordered(">", v, neg), v, neg)
        pos = b.fadd(pos, b.fmul(t, s))
        return pos, new_neg, b.or_(nan, b.zext(is_nan, self.index_vector))

    def finish(self):
        b = self.builder
        self.store(b.load(self.pos), self.pos_ptr)
        self.store(b.load(self.neg), self.neg_ptr)
        self.store_indices(b.load(self.nan), self.nan_type, self.nan_array, 0)


@intrinsic
def categorical_band(  # pragma: no cover (compile-time code)
    typingctx, flat, row_offset, n_classes, flat_targets, sums, nan, labels, grad
):
    """Keras' categorical hinge: per lane ``Σ t·s`` in order, and the max of ``(1 − t)·s``.

    ``flat_targets`` is the targets flattened like ``flat``. Writes ``sums``
    ``(2, LANES)`` (``pos``, then the max) and ``nan`` ``(1, LANES)`` int64
    (1 where a ``(1 − t)·s`` of the row is NaN). ``labels`` is unused (pass
    −1s); nothing is written to ``grad``.
    """
    sig = types.none(flat, row_offset, n_classes, flat_targets, sums, nan, labels, grad)
    return sig, lambda *a: _CategoricalBand(*a).run()


@intrinsic
def structured_rows(  # pragma: no cover (compile-time code)
    typingctx, flat, row_offset, n_classes, flat_cost, best, index, weights, scalars, acc,
    loss_out, labels, grad,
):  # fmt: skip
    """Margin rescaling (ties "first") of the W rows from ``flat[row_offset]``, finished.

    The walk of ``cs_rows`` over ``Δ[y, j] + s_j`` (``flat_cost`` the (C, C)
    cost matrix flattened; lane ``r`` walks row ``y_r``), then each row as
    the row code: ``z = best − s_y``; an active row (``z > 0``, or ``z == 0``
    with ``kink_mode`` not 0) gets ``coef = g0 · w_y · frac`` (``frac`` ½ at
    a kink with ``kink_mode`` 2) on the best column, ``0 − coef`` on the
    label, and the loss ``z · w_y``. ``weights = (class_weight,
    sample_weight, …)``, ``scalars = (first_row, margin, g_const,
    grad_denom, ignore, kink_mode)``; returns the mask of lanes the caller
    finishes, as ``cs_rows`` does.
    """
    sig = types.int64(flat, row_offset, n_classes, flat_cost, best, index, weights, scalars, acc,
                      loss_out, labels, grad)  # fmt: skip
    return sig, lambda *a: _StructuredRows(*a).run()


@intrinsic
def structured_staged_rows(  # pragma: no cover (compile-time code)
    typingctx, flat, row_offset, n_classes, flat_cost, best, index, weights, scalars, acc,
    loss_out, labels, grad,
):  # fmt: skip
    """``structured_rows``, the gradient staged and streamed (``_staged``)."""
    args = (flat, row_offset, n_classes, flat_cost, best, index, weights, scalars, acc, loss_out,
            labels, grad)  # fmt: skip
    return types.int64(*args), _staged(_StructuredRows)


class _StructuredLossRows(_StructuredRows):  # pragma: no cover (compile-time code)
    """``_StructuredRows`` for calls without a gradient: the max alone, no stores."""

    reading = True


@intrinsic
def structured_loss_rows(  # pragma: no cover (compile-time code)
    typingctx, flat, row_offset, n_classes, flat_cost, best, index, weights, scalars, acc,
    loss_out, labels, grad,
):  # fmt: skip
    """``structured_rows`` for an empty ``grad``: the losses only.

    ``index[0]`` as ``cs_loss_rows`` leaves it: −1 where no value is above −inf, else 0.
    """
    sig = types.int64(flat, row_offset, n_classes, flat_cost, best, index, weights, scalars, acc,
                      loss_out, labels, grad)  # fmt: skip
    return sig, lambda *a: _StructuredLossRows(*a).run()


@intrinsic
def ova_rows(  # pragma: no cover (compile-time code)
    typingctx, flat, row_offset, n_classes, lanes, weights, scalars, acc, loss_out, labels, grad
):
    """One-vs-all (hinge, p = 1) of the W rows from ``flat[row_offset]``, finished.

    Each lane starts as the row code (``g0`` from the sample weight, ``g0 ·
    kink_frac`` at a kink) and adds ``h = u`` where ``not u <= 0`` over every
    column in index order, ``u = m − (s if the label's column else 0 − s)``.
    The gradient entries are those of the wrong columns (``g0`` where ``u >
    0``, ``g0 · kink`` where ``u == 0``, else 0), then ``g[y] = 0 − coef``.
    ``weights = (sample_weight, per_class)``, ``scalars = (first_row,
    margin, g_const, grad_denom, ignore, norm, kink_frac)``; losses
    ``total / norm`` (times the sample weight) into ``loss_out`` and, in row
    order, onto ``acc[0]``. Returns the bit mask of lanes the caller
    finishes (ignored, a NaN loss; then ``acc`` is unchanged and the
    ``TOTAL`` row of ``lanes`` holds the sums).
    """
    sig = types.int64(
        flat, row_offset, n_classes, lanes, weights, scalars, acc, loss_out, labels, grad
    )
    return sig, lambda *a: _OneVsAllRows(*a).run()


@intrinsic
def ww_rows(  # pragma: no cover (compile-time code)
    typingctx, flat, row_offset, n_classes, lanes, weights, scalars, acc, loss_out, labels, grad
):
    """Weston–Watkins (p = 1, kink "zero", NaN kept) of the W rows from ``flat[row_offset]``.

    Rows are ``n_classes`` apart in ``flat`` (the scores, flattened); ``grad``
    is the gradient flattened the same way, or empty (loss only).
    ``weights = (class_weight, sample_weight)`` and ``scalars = (first_row,
    margin, g_const, grad_denom, ignore, norm)`` are the chunk function's;
    ``labels`` the (N,) labels. Each lane starts as the row code: ``base = m
    − s_y``, ``slope = g0 · w_y``. For each column in index order and each
    lane: ``z = base + s``, kept when ``not z <= 0`` and the column is not
    the lane's label; ``total += z · w_y`` and ``g_y −= slope`` for a kept
    column (the row code's operations). The gradient entries are ``slope``
    where ``not z <= 0``, else 0, and ``g_y`` on the label. Each loss is
    ``total / norm`` (times the sample weight), stored in ``loss_out`` (if
    not empty) and added to ``acc[0]`` in row order.

    Returns the bit mask of lanes the caller finishes (an ignored label, a
    NaN loss); when it is not 0, ``acc`` is unchanged and the lanes' ``TOTAL``
    and ``G_Y`` rows of ``lanes`` hold the sums.
    """
    sig = types.int64(
        flat, row_offset, n_classes, lanes, weights, scalars, acc, loss_out, labels, grad
    )
    return sig, lambda *a: _WestonWatkinsRows(*a).run()


@intrinsic
def ww_loss_rows(  # pragma: no cover (compile-time code)
    typingctx, flat, row_offset, n_classes, lanes, weights, scalars, acc, loss_out, labels, grad
):
    """``ww_rows`` for an empty ``grad`` (a call without a gradient): the losses only.

    The ``G_Y`` row of ``lanes`` is left at 0 (``g_y`` is not summed).
    """
    sig = types.int64(
        flat, row_offset, n_classes, lanes, weights, scalars, acc, loss_out, labels, grad
    )
    return sig, lambda *a: _WestonWatkinsLossRows(*a).run()


@intrinsic
def cs_rows(  # pragma: no cover (compile-time code)
    typingctx, flat, row_offset, n_classes, best, index, weights, scalars, acc, loss_out, labels,
    grad,
):  # fmt: skip
    """Crammer–Singer (ties "first") of the W rows from ``flat[row_offset]``, finished.

    The walk (``_CrammerSingerBand``): ``best`` ``(1, LANES)`` in the scores'
    dtype and ``index`` ``(2, LANES)`` int64 (``j_best``, then a NaN flag)
    start at (−inf, −1, 0); column by column in index order, a wrong column
    ``j`` is taken when ``s > best`` (so ties keep the first), and any NaN in
    the row sets the flag; the gradient rows are zeroed. Then each row as the
    row code:
    ``z = m − (s_y − best)``; when ``z > 0`` the loss ``w_y·z^p`` and ``coef
    = w_y·(g0 or 2·g0·z)``, at a kink (``z == 0``, p = 1, ``kink_mode`` not
    0) ``coef = g0·w_y·half``; ``coef`` goes on the best column and ``0 −
    coef`` on the label. ``weights = (class_weight, sample_weight, …)``,
    ``scalars = (first_row, margin, g_const, grad_denom, ignore, p,
    kink_mode, half)``; losses into ``loss_out`` and, in row order, onto
    ``acc[0]``. Returns the bit mask of lanes the caller finishes (ignored,
    a NaN, or no wrong score above −inf; then ``acc`` is unchanged and
    ``best``/``index`` hold the walk's state).
    """
    sig = types.int64(
        flat, row_offset, n_classes, best, index, weights, scalars, acc, loss_out, labels, grad
    )
    return sig, lambda *a: _CrammerSingerRows(*a).run()


class _CrammerSingerLossRows(_CrammerSingerRows):  # pragma: no cover (compile-time code)
    """``_CrammerSingerRows`` for calls without a gradient: the max alone, no stores."""

    reading = True


@intrinsic
def cs_loss_rows(  # pragma: no cover (compile-time code)
    typingctx, flat, row_offset, n_classes, best, index, weights, scalars, acc, loss_out, labels,
    grad,
):  # fmt: skip
    """``cs_rows`` for an empty ``grad`` (a call without a gradient): the losses only.

    No column index is walked: ``index[0]`` is −1 in a lane where no wrong
    score is above −inf (as ``cs_rows``'s), else 0.
    """
    sig = types.int64(
        flat, row_offset, n_classes, best, index, weights, scalars, acc, loss_out, labels, grad
    )
    return sig, lambda *a: _CrammerSingerLossRows(*a).run()


def _sample_scale_python(flat, row, sample_weight, scalars):
    """``_Rows.sample_scale`` of one row as plain Python."""
    if not sample_weight.shape[0]:
        return scalars[2]
    return flat.dtype.type(sample_weight[row] / scalars[3])  # as the row code runs in Python


def _row_start_python(flat, row_offset, n_classes, r, weights, scalars, labels):
    """Lane ``r``'s row, label (an ignored one as 0), ``s_y``, ``w_y`` and ``g0`` (``_Rows``)."""
    row, start = scalars[0] + r, row_offset + r * n_classes
    y = 0 if labels[row] == scalars[4] else int(labels[row])
    g0 = _sample_scale_python(flat, row, weights[1], scalars)
    return row, start, y, flat[start + y], weights[0][y], g0


def _finish_rows_python(losses, special, sample_weight, scalars, acc, loss_out, labels):
    """``_Rows.finish_rows`` as plain Python: returns the mask of special or ignored lanes."""
    first_row, ignore = scalars[0], scalars[4]
    mask = 0
    for r, loss in enumerate(losses):
        row = first_row + r
        loss = loss * sample_weight[row] if sample_weight.shape[0] else loss
        if loss_out.shape[0]:
            loss_out[row] = loss
        mask |= int(special[r] or labels[row] == ignore) << r
        losses[r] = loss
    if not mask:
        for loss in losses:
            acc[0] += float(loss)
    return mask


def _ww_rows_python(
    flat, row_offset, n_classes, lanes, weights, scalars, acc, loss_out, labels, grad
):
    """``ww_rows`` as plain Python (``NUMBA_DISABLE_JIT=1``), the same operations per lane."""
    zero, norm = flat.dtype.type(0), scalars[5]
    losses, special = [], []
    for r in range(band_rows(flat.dtype)):
        _, start, y, s_y, weight, g0 = _row_start_python(
            flat, row_offset, n_classes, r, weights, scalars, labels
        )
        base, slope, total, g_y = scalars[1] - s_y, g0 * weight, zero, zero
        for j in range(n_classes):
            z = base + flat[start + j]
            keep = (not z <= 0) and j != y
            total += z * weight if keep else zero
            g_y -= slope if keep else zero
            if grad.shape[0]:
                grad[start + j] = slope if not z <= 0 else zero
        if grad.shape[0]:
            grad[start + y] = g_y
        lanes[TOTAL, r], lanes[G_Y, r] = total, g_y
        losses.append(total / norm)
        special.append(total != total)
    return _finish_rows_python(losses, special, weights[1], scalars, acc, loss_out, labels)


def _restart_python(labels, scalars, width, best, index):
    """The band's lane labels (an ignored one as 0), with the max-type state restarted."""
    lane_labels = np.zeros(LANES, np.int64)
    for r in range(width):
        row = scalars[0] + r
        lane_labels[r] = 0 if labels[row] == scalars[4] else labels[row]
    best[0, :], index[0, :], index[1, :] = -np.inf, -1, 0
    return lane_labels


def _cs_rows_python(
    flat, row_offset, n_classes, best, index, weights, scalars, acc, loss_out, labels, grad
):
    """``cs_rows`` as plain Python (``NUMBA_DISABLE_JIT=1``), the same operations per lane."""
    width, zero = band_rows(flat.dtype), flat.dtype.type(0)
    margin, p, kink_mode, half = scalars[1], scalars[5], scalars[6], scalars[7]
    lane_labels = _restart_python(labels, scalars, width, best, index)
    _cs_band_python(flat, row_offset, n_classes, best, index, lane_labels, grad)
    losses, special = [], []
    for r in range(width):
        _, start, y, s_y, w_y, g0 = _row_start_python(
            flat, row_offset, n_classes, r, weights, scalars, labels
        )
        z = margin - (s_y - best[0, r])
        loss, coef = zero, zero
        if z > 0:
            coef = (g0 if p == 1 else (g0 + g0) * z) * w_y
            loss = (z if p == 1 else z * z) * w_y
        elif z == 0 and p == 1 and kink_mode != 0:
            coef = g0 * w_y * half
        if grad.shape[0] and coef != 0 and index[0, r] >= 0:
            grad[start + index[0, r]] = coef
            grad[start + y] = zero - coef
        losses.append(loss)
        special.append(bool(index[1, r]) or index[0, r] < 0 or z != z)
    return _finish_rows_python(losses, special, weights[1], scalars, acc, loss_out, labels)


def _ova_rows_python(
    flat, row_offset, n_classes, lanes, weights, scalars, acc, loss_out, labels, grad
):
    """``ova_rows`` as plain Python (``NUMBA_DISABLE_JIT=1``), the same operations per lane."""
    zero, margin, norm, kink_frac = flat.dtype.type(0), scalars[1], scalars[5], scalars[6]
    losses, special = [], []
    for r in range(band_rows(flat.dtype)):
        row, start = scalars[0] + r, row_offset + r * n_classes
        y = -1 if labels[row] == scalars[4] else int(labels[row])
        slope = _sample_scale_python(flat, row, weights[0], scalars)
        kink, total = slope * kink_frac, zero
        for j in range(n_classes):
            s = flat[start + j]
            u = margin - (s if j == y else zero - s)
            total += u if not u <= 0 else zero
            if grad.shape[0]:
                u = margin - (zero - s)
                grad[start + j] = kink if u == 0 else (slope if u > 0 else zero)
        if grad.shape[0] and y >= 0:
            u = margin - flat[start + y]
            coef = kink if u == 0 else (slope if u > 0 else zero)
            grad[start + y] = zero - coef
        lanes[TOTAL, r] = total
        losses.append(total / norm)
        special.append(total != total)
    return _finish_rows_python(losses, special, weights[0], scalars, acc, loss_out, labels)


def _categorical_band_python(flat, row_offset, n_classes, flat_targets, sums, nan, labels, grad):
    """``categorical_band`` as plain Python (``NUMBA_DISABLE_JIT=1``)."""
    one = flat.dtype.type(1.0)
    for r in range(band_rows(flat.dtype)):
        start = row_offset + r * n_classes
        pos, neg, any_nan = flat.dtype.type(0), flat.dtype.type(-np.inf), 0
        for j in range(n_classes):
            s, t = flat[start + j], flat_targets[start + j]
            v = (one - t) * s
            neg = v if v > neg else neg
            any_nan |= v != v
            pos += t * s
        sums[0, r], sums[1, r], nan[0, r] = pos, neg, any_nan


def _structured_rows_python(
    flat, row_offset, n_classes, flat_cost, best, index, weights, scalars, acc, loss_out, labels,
    grad,
):  # fmt: skip
    """``structured_rows`` as plain Python (``NUMBA_DISABLE_JIT=1``), the same operations."""
    width, zero, one = band_rows(flat.dtype), flat.dtype.type(0), flat.dtype.type(1.0)
    lane_labels = _restart_python(labels, scalars, width, best, index)
    cost_rows = lane_labels * n_classes
    _cs_band_python(
        flat, row_offset, n_classes, best, index, lane_labels, grad, flat_cost, cost_rows
    )
    losses, special = [], []
    for r in range(width):
        _, start, y, s_y, w_y, g0 = _row_start_python(
            flat, row_offset, n_classes, r, weights, scalars, labels
        )
        z = best[0, r] - s_y
        loss = zero
        if not (z < 0 or (z == 0 and scalars[5] == 0)):
            frac = one / flat.dtype.type(2 if z == 0 and scalars[5] == 2 else 1)
            coef = g0 * w_y * one * frac
            if grad.shape[0] and index[0, r] >= 0:
                grad[start + index[0, r]] = coef
                grad[start + y] = zero - coef
            loss = z * w_y
        losses.append(loss)
        special.append(bool(index[1, r]) or index[0, r] < 0 or z != z)
    return _finish_rows_python(losses, special, weights[1], scalars, acc, loss_out, labels)


def _cs_band_python(flat, row_offset, n_classes, best, index, labels, grad, cost=None, rows=None):
    """The Crammer–Singer walk as plain Python; over ``Δ[y, j] + s_j`` with a cost."""
    for r in range(band_rows(flat.dtype)):
        start = row_offset + r * n_classes
        for j in range(n_classes):
            v = flat[start + j] if cost is None else cost[rows[r] + j] + flat[start + j]
            if j != labels[r] and v > best[0, r]:
                best[0, r] = v
                index[0, r] = j
            if v != v:
                index[1, r] = 1
            if grad.shape[0]:
                grad[start + j] = 0


def _staged(rows_class: type):  # pragma: no cover (compile-time code)
    """The intrinsic's code generator for ``rows_class`` with ``stages`` on.

    Where the band's gradient block qualifies (``_Band.stage_block``) it is
    written to a stack scratch first and then streamed out whole lines at a
    time (``_Band.stream_out``); the arguments and results are the plain
    intrinsic's.
    """
    staged = type(rows_class.__name__ + "Staged", (rows_class,), {"stages": True})
    return lambda *a: staged(*a).run()


@intrinsic
def ww_staged_rows(  # pragma: no cover (compile-time code)
    typingctx, flat, row_offset, n_classes, lanes, weights, scalars, acc, loss_out, labels, grad
):
    """``ww_rows``, the gradient staged and streamed (``_staged``)."""
    args = (flat, row_offset, n_classes, lanes, weights, scalars, acc, loss_out, labels, grad)
    return types.int64(*args), _staged(_WestonWatkinsRows)


@intrinsic
def ova_staged_rows(  # pragma: no cover (compile-time code)
    typingctx, flat, row_offset, n_classes, lanes, weights, scalars, acc, loss_out, labels, grad
):
    """``ova_rows``, the gradient staged and streamed (``_staged``)."""
    args = (flat, row_offset, n_classes, lanes, weights, scalars, acc, loss_out, labels, grad)
    return types.int64(*args), _staged(_OneVsAllRows)


@intrinsic
def cs_staged_rows(  # pragma: no cover (compile-time code)
    typingctx, flat, row_offset, n_classes, best, index, weights, scalars, acc, loss_out, labels,
    grad,
):  # fmt: skip
    """``cs_rows``, the gradient staged and streamed (``_staged``)."""
    args = (flat, row_offset, n_classes, best, index, weights, scalars, acc, loss_out, labels, grad)
    return types.int64(*args), _staged(_CrammerSingerRows)


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
    ww_rows = ww_loss_rows = ww_staged_rows = _ww_rows_python
    ova_rows = ova_staged_rows = _ova_rows_python
    categorical_band = _categorical_band_python
    cs_rows = cs_loss_rows = cs_staged_rows = _cs_rows_python
    structured_rows = structured_loss_rows = structured_staged_rows = _structured_rows_python
    tile_rows = _tile_rows_python
