"""The public functions on device arrays: validate, check labels on the device, launch, reduce.

The flow of a call mirrors the CPU path (``_execution``): validate every
argument (shapes and dtypes from the arrays' metadata; scalars with the CPU
checks) → one small pass over the labels on the device (``label_stats``:
the first invalid label, the kept rows and ``Σ w``; three float64 per block
are copied back, the call's one synchronisation) → allocate the outputs with
the caller's library → the fused kernel → ``finalize`` adds the per-block
partial sums in a fixed order into a 0-d device array. No output leaves the
device.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

import numpy as np
from numba import float32 as nb_float32
from numba import float64 as nb_float64
from numba.core.errors import NumbaPerformanceWarning

from .. import _validation as v
from . import _kernels as k
from . import _runtime as rt
from . import _tiles as tiles

FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
LABEL_ENCODINGS = {"pm1": (1, -1), "01": (1, 0)}
#: Held while a kernel is launched (``Ctx.launch``).
_LAUNCH = threading.Lock()
#: The start of numba-cuda's low-occupancy warning, which every small launch gets.
LOW_OCCUPANCY = "Grid size"
HINGE, SQUARED, SMOOTH, EMBEDDING, MODIFIED_HUBER = 1, 2, 3, 4, 5


def call(name: str, arguments: dict) -> Any:
    """Run public function ``name`` on the GPU with its keyword ``arguments``."""
    rt.require()
    arguments = dict(arguments)
    scores = arguments.pop("scores")
    if not rt.is_device_array(scores):  # a DLPack-only CUDA array: view it through CuPy/torch
        scores = rt.from_dlpack(scores)  # pragma: no cover (GPU only)
    with rt.device_of(scores).context():  # the scores' device is Numba's current one
        return FUNCTIONS[name](scores, **arguments)


# ---------------------------------------------------------------------------------------------
# arguments


class Ctx:
    """One call: the device, the scores' view and dtypes, the compute type."""

    def __init__(self, scores: Any, ndim: int) -> None:
        if not rt.is_device_array(scores):
            raise TypeError(f"scores must be a CUDA array, got {type(scores).__name__}")
        self.dev = rt.device_of(scores)
        self.original = scores
        self.s = rt.view(scores)  # bfloat16: a view of the bits (int16)
        self.bfloat16 = rt.is_bfloat16(scores)
        dtype = rt.BFLOAT16 if self.bfloat16 else np.dtype(self.s.dtype)
        if not self.bfloat16 and dtype not in FLOAT_DTYPES:
            raise TypeError(
                f"scores must be float16, float32 or float64 (or bfloat16 from PyTorch), got "
                f"dtype {dtype}; cast it explicitly"
            )
        if self.s.ndim != ndim:
            raise ValueError(f"scores must be {ndim}-D, got shape {tuple(self.s.shape)}")
        if ndim == 2 and self.s.shape[1] == 0:
            raise ValueError(
                f"scores must have at least one class (column), got shape {tuple(self.s.shape)}"
            )
        #: the caller's dtype: of the gradient, and of the loss as returned
        self.dtype = dtype
        #: the dtype of the kernels' gradient views (bfloat16: its bits)
        self.storage = np.dtype(self.s.dtype)
        double = not self.bfloat16 and dtype == np.float64
        self.np_compute = np.dtype(np.float64 if double else np.float32)
        #: the dtype the kernels write losses in (bfloat16: float32, rounded at the end)
        self.loss_dtype = self.np_compute if self.bfloat16 else dtype
        #: the kernels' compute type (a Numba type)
        self.compute = nb_float64 if double else nb_float32
        self.kernels = k.build(self.compute, self.bfloat16)
        self.inputs: list = [scores]

    @property
    def n_rows(self) -> int:
        return int(self.s.shape[0])

    def scalar(self, value: Any) -> np.floating:
        """``value`` in the compute type (float32 for float16 inputs)."""
        return self.np_compute.type(value)

    def array(self, value: Any, name: str, shape: tuple, kinds: str) -> Any:
        """A device argument of ``shape`` and dtype kind in ``kinds``, as a Numba view."""
        if not (rt.is_device_array(value) or _dlpack_cuda(value)):
            raise TypeError(
                f"{name} is a {type(value).__name__} on the host but scores are on the GPU; "
                f"pass {name} as a device array on the same device (no host/device mixing)"
            )
        if not rt.is_device_array(value):
            value = rt.from_dlpack(value)  # pragma: no cover (GPU only)
        if rt.is_bfloat16(value):
            raise TypeError(f"{name} is bfloat16; pass it as float32 (only scores may be bfloat16)")
        device = getattr(self.original, "device", None)
        other = getattr(value, "device", None)
        if not rt.SIMULATOR and device is not None and other is not None and other != device:
            message = f"{name} is on {other} but scores are on {device}"  # pragma: no cover
            raise ValueError(message)  # pragma: no cover (GPU only)
        array = rt.view(value)
        dtype = np.dtype(array.dtype)
        if dtype.kind not in kinds:
            raise TypeError(f"{name} has dtype {dtype}, which is not allowed here")
        if tuple(array.shape) != shape:
            raise ValueError(f"{name} must have shape {shape}, got {tuple(array.shape)}")
        self.inputs.append(value)
        return array

    def launch(self, kernel: Any, blocks: Any, *args: Any) -> None:
        """Launch ``kernel`` on the caller's stream with ``TPB`` threads per block.

        Small grids (the finalising block, tiny batches) are deliberate: numba-cuda's
        low-occupancy warning is silenced for the launch. ``catch_warnings`` saves and
        restores the process's warning filters, so launches from several threads take
        turns (``_LAUNCH``): interleaved, one thread would put back a list that still
        holds another's filter. A launch only queues the kernel; the simulator, which
        runs it there and then, cannot run two at once anyway.
        """
        with _LAUNCH, self.dev.context(), warnings.catch_warnings():
            warnings.simplefilter("ignore", NumbaPerformanceWarning)
            # numba-cuda 0.30 raises its own class of it (seen on an H200): match the text
            warnings.filterwarnings("ignore", message=LOW_OCCUPANCY)
            kernel[blocks, rt.TPB, self.dev.stream](*args)


def _dlpack_cuda(value: Any) -> bool:
    from .._device import on_device

    return on_device(value)


class Shared:
    """The validated shared keywords of one call and its outputs."""

    def __init__(self, ctx: Ctx, *, reduction: str, return_grad: Any, out: Any, n_threads: Any,
                 sample_weight: Any, choices: tuple = v.REDUCTIONS) -> None:  # fmt: skip
        v.check_choice(reduction, "reduction", choices)
        self.reduction = reduction
        self.return_grad = v.check_flag(return_grad, "return_grad")
        if n_threads is not None:
            raise ValueError(
                f"n_threads sets CPU threads and has no meaning on the GPU; got {n_threads!r}"
            )
        n = ctx.n_rows
        self.sw = (rt.placeholder(1, ctx.np_compute) if sample_weight is None
                   else ctx.array(sample_weight, "sample_weight", (n,), "iuf"))  # fmt: skip
        self.has_sw = sample_weight is not None
        if out is not None and not self.return_grad:
            raise ValueError("out was given with return_grad=False; no gradient is written")
        self.writes_callers_out = out is not None
        shape = tuple(ctx.s.shape)
        if out is not None:
            self.grad, self.grad_view = _check_out(ctx, out, shape)
        elif self.return_grad:
            self.grad, self.grad_view = ctx.dev.empty(shape, ctx.dtype)
        else:
            self.grad, self.grad_view = None, rt.placeholder(len(shape), ctx.storage)
        if reduction == "none":
            self.loss, self.loss_view = ctx.dev.empty((n,), ctx.loss_dtype)
        else:
            self.loss, self.loss_view = None, rt.placeholder(1, ctx.loss_dtype)
        self.denominator = 1.0
        #: ``(labels, message)`` when the loss kernel itself checks the labels
        self.pending: tuple | None = None

    def needs_stats(self, has_ignore: bool) -> bool:
        """Whether the labels get their own pass before the loss kernel.

        When the denominator needs it (kept rows, or Σw), and when the gradient
        goes into the caller's ``out``: an invalid label must raise before
        anything is written there (into a buffer of our own, the loss kernel's
        check suffices: the buffer is dropped with the exception).
        """
        counted = self.reduction in ("mean", "sum_over_batch_size")
        return (
            (has_ignore and counted)
            or (self.has_sw and self.reduction == "mean")
            or self.writes_callers_out
        )

    def set_denominator(self, kept: float, wsum: float, has_ignore: bool) -> None:
        """What "mean" divides by (see ``_execution._denominator``)."""
        if self.reduction in ("sum", "none", "per_class_sum"):
            self.denominator = 1.0
        elif self.reduction == "sum_over_batch_size" or not self.has_sw:
            self.denominator = float(kept)
        elif wsum == 0 and (not has_ignore or kept > 0):
            raise ValueError(
                "sample_weight sums to 0 over the kept rows, so the weighted mean is undefined; "
                "use reduction='sum' or reduction='sum_over_batch_size'"
            )
        else:
            self.denominator = float(wsum)

    def scales(self, ctx: Ctx, norm: float = 1.0) -> tuple:
        """``(g_const, grad_denom)`` (see ``_execution.gradient_denominator``)."""
        grad_denom = (self.denominator or 1.0) * norm
        return ctx.scalar(1.0 / grad_denom), grad_denom

    def finish(self, ctx: Ctx, partials: tuple, n_partials: int) -> Any:
        """Reduce the partials on the device and return what the public function returns.

        ``partials = (loss partials, first invalid label per block)``. When the loss
        kernel checked the labels, the second is copied back (the call's one
        synchronisation) and an invalid label raises ``ValueError``.
        """
        sums, bad = partials
        if self.reduction == "none":
            loss = _as_callers_dtype(ctx, self.loss, self.loss_view)
        else:
            loss, loss_view = ctx.dev.empty((1,), ctx.loss_dtype)
            mean = self.reduction != "sum"
            ctx.launch(k.finalize, 1, sums, n_partials, mean, self.denominator, loss_view)
            loss = _as_callers_dtype(ctx, loss, loss_view).reshape(())
        if self.pending is not None and n_partials:
            first = int(rt.to_host(bad, ctx.dev.stream).min())
            labels, message = self.pending
            if first < labels.shape[0]:
                raise ValueError(message(first, _label_value(labels, first)))
        return (loss, self.grad) if self.return_grad else loss


def _as_callers_dtype(ctx: Ctx, loss: Any, loss_view: Any) -> Any:
    """A 1-D loss output in the scores' dtype (bfloat16: rounded from float32 on the device)."""
    if not ctx.bfloat16:
        return loss
    rounded, bits = ctx.dev.empty(tuple(loss_view.shape), rt.BFLOAT16)
    n = int(loss_view.shape[0])
    ctx.launch(k.to_bfloat16, rt.blocks_for(n, rt.TPB), loss_view, bits)
    return rounded


def _check_out(ctx: Ctx, out: Any, shape: tuple) -> tuple:
    """A C-contiguous device buffer of ``shape`` and the scores' dtype sharing no input's memory."""
    if not rt.is_device_array(out):
        raise TypeError(
            f"out must be a device array on the scores' device, got {type(out).__name__}"
        )
    view = rt.view(out)
    if tuple(view.shape) != shape:
        raise ValueError(f"out must have shape {shape}, got {tuple(view.shape)}")
    dtype = rt.BFLOAT16 if rt.is_bfloat16(out) else np.dtype(view.dtype)
    if dtype != ctx.dtype:
        raise TypeError(f"out must have dtype {ctx.dtype} (the scores' dtype), got {dtype}")
    contiguous = view._ary.flags.c_contiguous if rt.SIMULATOR else view.is_c_contiguous()
    if not contiguous:
        raise ValueError("out must be C-contiguous and writeable")
    low, high = rt.address_range(view)
    for array in ctx.inputs:
        a_low, a_high = rt.address_range(rt.view(array))
        if low < a_high and a_low < high:
            raise ValueError("out must not share memory with an input")
    return out, view


def _group(n_classes: int) -> int:
    """Threads per row: the power of two ≥ C, at most ``MAX_GROUP`` and a block."""
    group = 1
    while group < n_classes and group < min(rt.TPB, rt.MAX_GROUP):
        group *= 2
    return group


def _stats(ctx: Ctx, sh: Shared, labels: Any, kind: int, n_classes: int = 0, pos: int = 1,
           neg: int = -1, ignore: int = v.NO_IGNORE) -> tuple:  # fmt: skip
    """Run ``label_stats`` and copy its per-block numbers back: (first_bad, kept, Σw)."""
    n = int(labels.shape[0])
    has_ignore = ignore != v.NO_IGNORE
    if n == 0:
        return -1, 0.0, 0.0
    blocks = rt.blocks_for(n, rt.TPB)
    _, stats = ctx.dev.empty((blocks, 3), np.float64)
    ctx.launch(ctx.kernels.label_stats, blocks, labels, sh.sw, kind, n_classes, pos, neg, ignore,
               has_ignore, stats)  # fmt: skip
    host = rt.to_host(stats, ctx.dev.stream)
    first = int(host[:, 0].min())
    return (first if first < n else -1), float(host[:, 1].sum()), float(np.sum(host[:, 2]))


def _first_bad_entry(ctx: Ctx, matrix: Any, kind: int) -> tuple | None:
    """``(i, j), value`` of the first invalid entry of a device matrix, checked on the device.

    One pass (``first_bad_entry``) writes one float64 per block; only those, and
    on the error path the offending entry, are copied back.
    """
    n_rows, n_cols = (int(size) for size in matrix.shape)
    if n_rows * n_cols == 0:
        return None
    blocks = rt.blocks_for(n_rows * n_cols, rt.TPB)
    _, stats = ctx.dev.empty((blocks,), np.float64)
    ctx.launch(k.first_bad_entry, blocks, matrix, kind, stats)
    first = int(rt.to_host(stats, ctx.dev.stream).min())
    if first >= n_rows * n_cols:
        return None
    i, j = divmod(first, n_cols)
    return (i, j), matrix[i : i + 1].copy_to_host()[0, j]


def _check_cost_rows(ctx: Ctx, cost: Any, labels: Any, ignore: int) -> None:
    """Raise the CPU path's error if a row of the device ``cost`` that ``labels`` select is bad.

    The whole matrix is checked on the device (``first_bad_entry``); only if it
    has a bad entry do the cost and the labels come back, and the rows the
    labels select are checked as on the CPU (``_validation.first_bad_cost``).
    """
    if _first_bad_entry(ctx, cost, k.COST_ENTRIES) is None:
        return
    host = rt.to_host(cost, ctx.dev.stream)
    labels_host = rt.to_host(labels, ctx.dev.stream).astype(np.int64)
    first = v.first_bad_cost(host.astype(np.float64), labels_host, ignore)
    if first >= 0:
        raise v.cost_error(host, first)


def _label_value(labels: Any, index: int) -> Any:
    """``labels[index]`` read back for an error message (the error path only)."""
    return labels[index : index + 1].copy_to_host()[0]


def _class_labels(ctx: Ctx, sh: Shared, labels: Any, ignore: int) -> Any:
    """(N,) class labels on the device; the denominator; their check.

    When the denominator needs the kept rows or ``Σw`` (``ignore_index`` or
    sample weights with a mean), ``label_stats`` checks the labels first and an
    invalid one raises before any output is written. Otherwise the loss kernel
    checks them as it reads them (no extra pass) and ``Shared.finish`` raises.
    """
    n, n_classes = ctx.n_rows, int(ctx.s.shape[1])
    y = ctx.array(labels, "labels", (n,), "iu")

    def message(first: int, value: Any) -> str:
        return (
            f"labels must be in [0, {n_classes}) (or ignore_index), got labels[{first}] = {value}"
        )

    has_ignore = ignore != v.NO_IGNORE
    if not sh.needs_stats(has_ignore):
        sh.set_denominator(float(n), 0.0, False)
        sh.pending = (y, message)
        return y
    first, kept, wsum = _stats(ctx, sh, y, k.CLASS_LABELS, n_classes, ignore=ignore)
    if first >= 0:
        raise ValueError(message(first, _label_value(y, first)))
    sh.set_denominator(kept, wsum, has_ignore)
    return y


def _row_groups(ctx: Ctx, n_rows: int, n_classes: int) -> tuple:
    """``(group, blocks, partials)`` of a launch with a group of threads per row."""
    group = _group(n_classes)
    blocks = rt.blocks_for(n_rows, rt.TPB // group)
    return group, blocks, _partials(ctx, blocks)


def _tiles_or_groups(ctx: Ctx, name: str) -> tuple:
    """``(kernel, blocks, partials, extra)`` of kernel ``name`` for the scores' shape.

    Up to ``_tiles.MAX_CLASSES`` classes, the tile kernel (a thread per row of a
    shared-memory tile; up to 8 × ``MAX_BLOCKS`` blocks, so that the last wave of blocks
    is a small part of the launch); above, the row-group kernel, whose last argument
    ``extra`` is the group size.
    """
    n_rows, n_classes = ctx.n_rows, int(ctx.s.shape[1])
    width = tiles.width_for(n_classes)
    if not width:
        group, blocks, partials = _row_groups(ctx, n_rows, n_classes)
        return getattr(ctx.kernels, name), blocks, partials, (group,)
    kernels = tiles.build(ctx.compute, ctx.bfloat16, width)
    rows = kernels.pair_rows if name in tiles.TWO_TILES else kernels.rows
    blocks = max(1, min(8 * rt.MAX_BLOCKS, -(-n_rows // rows)))
    return getattr(kernels, name), blocks, _partials(ctx, blocks), ()


def _partials(ctx: Ctx, blocks: int) -> tuple:
    """Per-block loss sums and first invalid label index (float64 each)."""
    return ctx.dev.empty((blocks,), np.float64)[1], ctx.dev.empty((blocks,), np.float64)[1]


# ---------------------------------------------------------------------------------------------
# multiclass


def _multiclass_common(scores: Any, labels: Any, *, margin: Any, p: Any, class_weight: Any,
                       kink: str, ties: str, ignore_index: Any, sample_weight: Any,
                       reduction: str, return_grad: Any, out: Any, n_threads: Any,
                       reductions: tuple = v.REDUCTIONS) -> tuple:  # fmt: skip
    ctx = Ctx(scores, 2)
    ignore = v.check_ignore_index(ignore_index)
    m = v.check_margin(margin, ctx.np_compute)
    p = v.check_p(p)
    v.check_choice(kink, "kink", v.KINKS)
    split_ties = v.check_choice(ties, "ties", v.TIES) == "split"
    n_classes = int(ctx.s.shape[1])
    if class_weight is None:  # the kernels read an empty class_weight as ones
        cw = rt.placeholder(1, ctx.np_compute)
    else:
        cw = ctx.array(class_weight, "class_weight", (n_classes,), "iuf")
    sh = Shared(ctx, reduction=reduction, return_grad=return_grad, out=out, n_threads=n_threads,
                sample_weight=sample_weight, choices=reductions)  # fmt: skip
    y = _class_labels(ctx, sh, labels, ignore)
    return ctx, sh, y, m, p, cw, split_ties, ignore


def weston_watkins(scores: Any, labels: Any, *, margin: Any, p: Any, class_weight: Any,
                   normalize: Any, nan: str, sample_weight: Any, reduction: str,
                   ignore_index: Any, kink: str, ties: str, return_grad: Any, out: Any,
                   n_threads: Any) -> Any:  # fmt: skip
    """``fasthinge.weston_watkins`` on the GPU."""
    v.check_choice(nan, "nan", ("propagate", "drop"))
    normalize = v.check_flag(normalize, "normalize")
    ctx, sh, y, m, p, cw, _, ignore = _multiclass_common(
        scores, labels, margin=margin, p=p, class_weight=class_weight, kink=kink, ties=ties,
        ignore_index=ignore_index, sample_weight=sample_weight, reduction=reduction,
        return_grad=return_grad, out=out, n_threads=n_threads,
    )  # fmt: skip
    n, n_classes = ctx.n_rows, int(ctx.s.shape[1])
    norm = float(n_classes) if normalize else 1.0
    g_const, grad_denom = sh.scales(ctx, norm)
    kernel, blocks, partials, extra = _tiles_or_groups(ctx, "weston_watkins")
    if n:
        ctx.launch(kernel, blocks, ctx.s, y, cw, sh.sw, sh.grad_view, sh.loss_view, *partials, m,
                   p, ctx.scalar(norm), ctx.scalar(v.KINK_FRACTIONS[kink]), nan == "drop",
                   g_const, grad_denom, ignore, *extra)  # fmt: skip
    return sh.finish(ctx, partials, blocks if n else 0)


def crammer_singer(scores: Any, labels: Any, *, margin: Any, p: Any, class_weight: Any,
                   sample_weight: Any, reduction: str, ignore_index: Any, kink: str, ties: str,
                   return_grad: Any, out: Any, n_threads: Any, compact: Any) -> Any:  # fmt: skip
    """``fasthinge.crammer_singer`` on the GPU (no compact gradient)."""
    if v.check_flag(compact, "compact"):
        raise ValueError("compact=True is not available on the GPU; use compact=False")
    ctx, sh, y, m, p, cw, split_ties, ignore = _multiclass_common(
        scores, labels, margin=margin, p=p, class_weight=class_weight, kink=kink, ties=ties,
        ignore_index=ignore_index, sample_weight=sample_weight, reduction=reduction,
        return_grad=return_grad, out=out, n_threads=n_threads,
    )  # fmt: skip
    n = ctx.n_rows
    g_const, grad_denom = sh.scales(ctx)
    kernel, blocks, partials, extra = _tiles_or_groups(ctx, "crammer_singer")
    if n:
        ctx.launch(kernel, blocks, ctx.s, y, cw, sh.sw, sh.grad_view, sh.loss_view, *partials, m,
                   p, v.KINKS.index(kink), split_ties, g_const, grad_denom, ignore,
                   *extra)  # fmt: skip
    return sh.finish(ctx, partials, blocks if n else 0)


def one_vs_all(scores: Any, labels: Any, *, margin: Any, p: Any, normalize: Any,
               sample_weight: Any, reduction: str, ignore_index: Any, kink: str,
               return_grad: Any, out: Any, n_threads: Any) -> Any:  # fmt: skip
    """``fasthinge.one_vs_all`` on the GPU (``reduction="per_class"`` included)."""
    per_class = reduction == "per_class"
    normalize = v.check_flag(normalize, "normalize")
    ctx, sh, y, m, p, _, _, ignore = _multiclass_common(
        scores, labels, margin=margin, p=p, class_weight=None, kink=kink, ties="first",
        ignore_index=ignore_index, sample_weight=sample_weight,
        reduction="mean" if per_class else reduction, return_grad=return_grad, out=out,
        n_threads=n_threads,
    )  # fmt: skip
    n, n_classes = ctx.n_rows, int(ctx.s.shape[1])
    norm = float(n_classes) if normalize else 1.0
    g_const, grad_denom = sh.scales(ctx, norm)
    kernel, blocks, partials, extra = _tiles_or_groups(ctx, "one_vs_all")
    if n:
        ctx.launch(kernel, blocks, ctx.s, y, sh.sw, sh.grad_view, sh.loss_view, *partials, m, p,
                   ctx.scalar(norm), ctx.scalar(v.KINK_FRACTIONS[kink]), g_const, grad_denom,
                   ignore, *extra)  # fmt: skip
    if not per_class:
        return sh.finish(ctx, partials, blocks if n else 0)
    sh.reduction = "none"  # the row losses are not reduced: only check the labels
    sh.finish(ctx, partials, blocks if n else 0)
    rows = max(1, -(-n // 64))  # at most 64 chunks of rows, each summed in order
    chunks = max(1, -(-n // rows))
    _, columns = ctx.dev.empty((chunks, n_classes), np.float64)
    column_blocks = -(-n_classes // rt.TPB)
    ctx.launch(ctx.kernels.one_vs_all_columns, (column_blocks, chunks), ctx.s, y, sh.sw, columns,
               m, p, ctx.scalar(norm), ignore, rows)  # fmt: skip
    totals, totals_view = ctx.dev.empty((n_classes,), ctx.loss_dtype)
    ctx.launch(k.finalize_columns, column_blocks, columns, sh.denominator, totals_view)
    totals = _as_callers_dtype(ctx, totals, totals_view)
    return (totals, sh.grad) if sh.return_grad else totals


def _max_type(kind: int, scores: Any, labels: Any, *, margin: Any, k_top: int, cost: Any,
              compact: Any, class_weight: Any, kink: str, ties: str, ignore_index: Any,
              sample_weight: Any, reduction: str, return_grad: Any, out: Any,
              n_threads: Any) -> Any:  # fmt: skip
    if v.check_flag(compact, "compact"):
        raise ValueError("compact=True is not available on the GPU; use compact=False")
    ctx, sh, y, m, _, cw, split_ties, ignore = _multiclass_common(
        scores, labels, margin=margin, p=1, class_weight=class_weight, kink=kink, ties=ties,
        ignore_index=ignore_index, sample_weight=sample_weight, reduction=reduction,
        return_grad=return_grad, out=out, n_threads=n_threads,
    )  # fmt: skip
    n, n_classes = ctx.n_rows, int(ctx.s.shape[1])
    if cost is None:
        cost_view = rt.placeholder(2, ctx.np_compute)
    else:
        cost_view = ctx.array(cost, "cost", (n_classes, n_classes), "iuf")
        _check_cost_rows(ctx, cost_view, y, ignore)
    g_const, grad_denom = sh.scales(ctx)
    rescaling = kind in (k.MARGIN_RESCALING, k.SLACK_RESCALING)
    kernel, blocks, partials, extra = _tiles_or_groups(ctx, "rescaling" if rescaling else "topk")
    if n and rescaling:
        ctx.launch(kernel, blocks, ctx.s, y, cw, sh.sw, cost_view, sh.grad_view, sh.loss_view,
                   *partials, m, kind, v.KINKS.index(kink), split_ties, g_const, grad_denom,
                   ignore, *extra)  # fmt: skip
    elif n:
        ctx.launch(kernel, blocks, ctx.s, y, cw, sh.sw, sh.grad_view, sh.loss_view, *partials, m,
                   kind, k_top, ctx.scalar(v.KINK_FRACTIONS[kink]), split_ties, g_const,
                   grad_denom, ignore, *extra)  # fmt: skip
    return sh.finish(ctx, partials, blocks if n else 0)


def structured_hinge(
    scores: Any, labels: Any, cost: Any, *, rescaling: str, **keywords: Any
) -> Any:
    """``fasthinge.structured_hinge`` on the GPU (row groups)."""
    kind = {"margin": k.MARGIN_RESCALING, "slack": k.SLACK_RESCALING}[
        v.check_choice(rescaling, "rescaling", ("margin", "slack"))
    ]
    return _max_type(kind, scores, labels, k_top=0, cost=cost, compact=False, **keywords)


def topk_hinge(scores: Any, labels: Any, k: int, *, variant: str, **keywords: Any) -> Any:
    """``fasthinge.topk_hinge`` on the GPU (row groups)."""
    kind = {"alpha": TOPK[0], "beta": TOPK[1]}[
        v.check_choice(variant, "variant", ("alpha", "beta"))
    ]
    shape = getattr(scores, "shape", ())
    k_top = v.check_k(k, int(shape[1]) if len(shape) == 2 else None)
    return _max_type(kind, scores, labels, k_top=k_top, cost=None, **keywords)


TOPK = (k.TOPK_ALPHA, k.TOPK_BETA)


# ---------------------------------------------------------------------------------------------
# (N, C) targets


def _weight_sum(ctx: Ctx, sh: Shared) -> None:
    """The denominator of a call without labels: N, or Σw for a weighted mean."""
    if sh.has_sw and sh.reduction == "mean":
        _, kept, wsum = _stats(ctx, sh, sh.sw, k.ANY_LABELS)
        sh.set_denominator(kept, wsum, False)
    else:
        sh.set_denominator(float(ctx.n_rows), 0.0, False)


def _targets_common(scores: Any, targets: Any, kinds: str, *, margin: Any, kink: str,
                    sample_weight: Any, reduction: str, return_grad: Any, out: Any,
                    n_threads: Any) -> tuple:  # fmt: skip
    """``(ctx, shared, targets view, margin)`` of a call with an (N, C) target matrix."""
    ctx = Ctx(scores, 2)
    t = ctx.array(targets, "targets", tuple(int(size) for size in ctx.s.shape), kinds)
    m = v.check_margin(margin, ctx.np_compute)
    v.check_choice(kink, "kink", v.KINKS)
    sh = Shared(ctx, reduction=reduction, return_grad=return_grad, out=out, n_threads=n_threads,
                sample_weight=sample_weight)  # fmt: skip
    return ctx, sh, t, m


def categorical_hinge(scores: Any, targets: Any, *, margin: Any, sample_weight: Any,
                      reduction: str, kink: str, ties: str, return_grad: Any, out: Any,
                      n_threads: Any) -> Any:  # fmt: skip
    """``fasthinge.categorical_hinge`` on the GPU."""
    split_ties = v.check_choice(ties, "ties", v.TIES) == "split"
    ctx, sh, t, m = _targets_common(
        scores, targets, "biuf", margin=margin, kink=kink, sample_weight=sample_weight,
        reduction=reduction, return_grad=return_grad, out=out, n_threads=n_threads,
    )  # fmt: skip
    n = ctx.n_rows
    _weight_sum(ctx, sh)
    g_const, grad_denom = sh.scales(ctx)
    kernel, blocks, partials, extra = _tiles_or_groups(ctx, "categorical_hinge")
    if n:
        ctx.launch(kernel, blocks, ctx.s, t, sh.sw, sh.grad_view, sh.loss_view, partials[0], m,
                   ctx.scalar(v.KINK_FRACTIONS[kink]), split_ties, g_const, grad_denom,
                   *extra)  # fmt: skip
    return sh.finish(ctx, partials, blocks if n else 0)


def multilabel_margin(scores: Any, targets: Any, *, margin: Any, nan: str, sample_weight: Any,
                      reduction: str, kink: str, return_grad: Any, out: Any,
                      n_threads: Any) -> Any:  # fmt: skip
    """``fasthinge.multilabel_margin`` on the GPU (row groups)."""
    drop_nan = v.check_choice(nan, "nan", ("propagate", "drop")) == "drop"
    ctx, sh, t, m = _targets_common(
        scores, targets, "iu", margin=margin, kink=kink, sample_weight=sample_weight,
        reduction=reduction, return_grad=return_grad, out=out, n_threads=n_threads,
    )  # fmt: skip
    n, n_classes = ctx.n_rows, int(ctx.s.shape[1])
    bad = _first_bad_entry(ctx, t, k.TARGET_ENTRIES)
    if bad is not None:
        (i, j), value = bad
        raise ValueError(f"targets must be in [-1, {n_classes}), got targets[{i}, {j}] = {value}")
    _weight_sum(ctx, sh)
    g_const, grad_denom = sh.scales(ctx, float(max(1, n_classes)))
    kernel, blocks, partials, extra = _tiles_or_groups(ctx, "multilabel_margin")
    if n:
        ctx.launch(kernel, blocks, ctx.s, t, sh.sw, sh.grad_view, sh.loss_view, partials[0], m,
                   ctx.scalar(v.KINK_FRACTIONS[kink]), drop_nan, g_const, grad_denom,
                   *extra)  # fmt: skip
    return sh.finish(ctx, partials, blocks if n else 0)


# ---------------------------------------------------------------------------------------------
# binary


def _binary(mode: int, scores: Any, labels: Any, *, margin: Any = 1.0, label_encoding: str = "pm1",
            gamma: Any = 1.0, scale: float = 1.0, kink: str = "zero", ignore_index: Any = None,
            sample_weight: Any, reduction: str, return_grad: Any, out: Any,
            n_threads: Any) -> Any:  # fmt: skip
    ctx = Ctx(scores, 1)
    n = ctx.n_rows
    ignore = v.check_ignore_index(ignore_index)
    encoding = v.check_choice(label_encoding, "label_encoding", LABEL_ENCODINGS)
    pos, neg = LABEL_ENCODINGS[encoding]
    t = ctx.array(labels, "labels", (n,), "iuf")
    m = v.check_margin(margin, ctx.np_compute)
    g = v.check_positive(gamma, "gamma", ctx.np_compute)
    v.check_choice(kink, "kink", v.KINKS)
    sh = Shared(ctx, reduction=reduction, return_grad=return_grad, out=out, n_threads=n_threads,
                sample_weight=sample_weight)  # fmt: skip
    has_ignore = ignore != v.NO_IGNORE
    if mode == EMBEDDING:
        if has_ignore or (sh.has_sw and reduction == "mean"):
            _, kept, wsum = _stats(ctx, sh, t, k.ANY_LABELS, ignore=ignore)
            sh.set_denominator(kept, wsum, has_ignore)
        else:
            sh.set_denominator(float(n), 0.0, False)
    else:
        if ignore in (pos, neg):
            raise ValueError(
                f"ignore_index must not be a class label ({neg} or {pos}), got {ignore}"
            )

        def message(first: int, value: Any) -> str:
            return f"labels must be {neg} or {pos} (label_encoding), got labels[{first}] = {value}"

        if sh.needs_stats(has_ignore):
            first, kept, wsum = _stats(ctx, sh, t, k.BINARY_LABELS, 0, pos, neg, ignore)
            if first >= 0:
                raise ValueError(message(first, _label_value(t, first)))
            sh.set_denominator(kept, wsum, has_ignore)
        else:
            sh.set_denominator(float(n), 0.0, False)
            sh.pending = (t, message)
    g_const, grad_denom = sh.scales(ctx)
    blocks = rt.blocks_for(n, rt.TPB)
    partials = _partials(ctx, blocks)
    if n:
        ctx.launch(ctx.kernels.binary, blocks, ctx.s, t, sh.sw, sh.grad_view, sh.loss_view,
                   *partials, m, mode, ctx.scalar(v.KINK_FRACTIONS[kink]), g, ctx.scalar(scale),
                   pos, neg, g_const, grad_denom, ignore)  # fmt: skip
    return sh.finish(ctx, partials, blocks if n else 0)


def binary_hinge(scores: Any, labels: Any, *, p: Any, ties: str, **keywords: Any) -> Any:
    """``fasthinge.binary_hinge`` on the GPU."""
    v.check_choice(ties, "ties", v.TIES)
    mode = SQUARED if v.check_p(p) == 2 else HINGE
    return _binary(mode, scores, labels, **keywords)


def perceptron(scores: Any, labels: Any, **keywords: Any) -> Any:
    """``fasthinge.perceptron`` on the GPU."""
    return _binary(HINGE, scores, labels, margin=0.0, **keywords)


def smooth_hinge(scores: Any, labels: Any, **keywords: Any) -> Any:
    """``fasthinge.smooth_hinge`` on the GPU."""
    return _binary(SMOOTH, scores, labels, **keywords)


def modified_huber(scores: Any, labels: Any, **keywords: Any) -> Any:
    """``fasthinge.modified_huber`` on the GPU."""
    return _binary(MODIFIED_HUBER, scores, labels, gamma=2.0, scale=4.0, **keywords)


def hinge_embedding(scores: Any, labels: Any, **keywords: Any) -> Any:
    """``fasthinge.hinge_embedding`` on the GPU."""
    return _binary(EMBEDDING, scores, labels, **keywords)


FUNCTIONS = {
    "weston_watkins": weston_watkins,
    "crammer_singer": crammer_singer,
    "one_vs_all": one_vs_all,
    "structured_hinge": structured_hinge,
    "topk_hinge": topk_hinge,
    "categorical_hinge": categorical_hinge,
    "multilabel_margin": multilabel_margin,
    "binary_hinge": binary_hinge,
    "perceptron": perceptron,
    "smooth_hinge": smooth_hinge,
    "modified_huber": modified_huber,
    "hinge_embedding": hinge_embedding,
}
