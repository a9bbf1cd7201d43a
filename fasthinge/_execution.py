"""What every public function does around its kernel: shared keywords, buffers, reduction.

The flow of a call: validate every argument (``_validation``) → allocate or
check the gradient buffer → run the serial or parallel driver (``_threading``)
→ add the per-chunk partial sums (``np.sum``: a fixed pairwise order) → reduce.
What ``run`` hands the driver besides the arrays is a ``Launch``; a
default-keyword call of a shape seen before reuses it (``_small``).
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from . import _threading
from . import _validation as v
from ._buffers import new_gradient

#: Rows are grouped in chunks of about this many elements (fixed by the shape,
#: never by the thread count, so the sums are deterministic).
CHUNK_ELEMENTS = 1 << 14
#: Chunks of kernels that take rows in SIMD bands hold whole bands: a multiple
#: of the widest band's rows (``_cpu._tiles.LANES``), at least one, so long rows
#: take the bands too and no chunk leaves rows to the scalar row code but the
#: matrix's last (a chunk of 23 rows at C = 700 left 7 of them: Weston–Watkins,
#: float32, 10⁷ elements, one thread, 1.72 ns an element against 0.46 at C = 10³).
BAND_ROWS = 16

#: When a batch is computed in pieces (``fasthinge.dask``): the whole batch's
#: "mean" denominator, used for each piece's gradient instead of its own.
BATCH_DENOMINATOR: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "fasthinge_batch_denominator", default=None
)


class Launch(NamedTuple):
    """What a call hands its driver besides the arrays: ``(kernels, weights, params, n_chunks)``.

    ``kernels`` is ``(serial, parallel)``. For a given function and keywords
    it depends only on the scores' dtype and shape (``_small`` reuses it).
    """

    kernels: tuple
    weights: tuple
    params: tuple
    n_chunks: int


#: While a list (``recorded``), each ``run`` appends its ``Launch`` to it.
RECORDING: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "fasthinge_recording", default=None
)


@dataclass
class Call:
    """The validated shared arguments of one call."""

    scores: np.ndarray
    labels: np.ndarray
    sample_weight: np.ndarray  # (N,) in the scores' dtype, or empty
    reduction: str
    ignore: int
    denominator: float  # what "mean" divides by
    grad: np.ndarray  # the gradient buffer, or an empty placeholder
    loss_out: np.ndarray  # per-row losses for "none", or an empty placeholder
    n_threads: int | None
    return_grad: bool


@functools.lru_cache(maxsize=64)
def empty(dtype: np.dtype, ndim: int = 1) -> np.ndarray:
    """An empty placeholder ("no sample weights", "no gradient"), made once.

    Writeable like every other kernel argument (a read-only array is another
    Numba type, hence another compilation); having no elements, nothing can
    write into it.
    """
    return np.empty((0,) * ndim, dtype)


@functools.lru_cache(maxsize=64)
def ones(n: int, dtype: np.dtype) -> np.ndarray:
    """A vector of ones (the default class weights), made once per size and dtype.

    Shared between calls: kernels only read weights, and it never leaves fasthinge.
    """
    return np.ones(n, dtype)


def prepare(
    scores: np.ndarray,
    labels: np.ndarray,
    *,
    sample_weight: Any,
    reduction: str,
    ignore: int,
    return_grad: Any,
    out: Any,
    n_threads: Any,
    originals: tuple,
) -> Call:
    """Check the shared keywords and allocate the outputs."""
    v.check_choice(reduction, "reduction", v.REDUCTIONS)
    return_grad = v.check_flag(return_grad, "return_grad")
    n_threads = v.check_n_threads(n_threads, _threading.max_threads)
    n_rows, dtype = scores.shape[0], scores.dtype
    if sample_weight is None:
        weights = empty(dtype)
    else:
        weights = v.as_weight(sample_weight, "sample_weight", n_rows, dtype)
    if out is not None and not return_grad:
        raise ValueError("out was given with return_grad=False; no gradient is written")
    if out is not None:
        grad = v.check_out(out, scores.shape, dtype, originals)
    elif return_grad:
        grad = new_gradient(scores.shape, dtype, scores)
    else:
        grad = empty(dtype, scores.ndim)
    loss_out = np.empty(n_rows, dtype) if reduction == "none" else empty(dtype)
    mean_divisor = BATCH_DENOMINATOR.get()
    if mean_divisor is None:
        mean_divisor = denominator(labels, ignore, weights, reduction)
    return Call(
        scores,
        labels,
        weights,
        reduction,
        ignore,
        mean_divisor,
        grad,
        loss_out,
        n_threads,
        return_grad,
    )


def denominator(labels: np.ndarray, ignore: int, weights: np.ndarray, reduction: str) -> float:
    """N kept rows ("sum_over_batch_size", unweighted "mean"), Σw over them ("mean"), or 1."""
    if reduction in ("sum", "none"):
        return 1.0
    kept = None if ignore == v.NO_IGNORE else labels != ignore
    if reduction == "sum_over_batch_size" or weights.shape[0] == 0:
        return float(labels.shape[0] if kept is None else np.count_nonzero(kept))
    total = float(np.sum(weights if kept is None else weights[kept], dtype=np.float64))
    if total == 0 and (kept is None or kept.any()):
        raise ValueError(
            "sample_weight sums to 0 over the kept rows, so the weighted mean is undefined; "
            "use reduction='sum' or reduction='sum_over_batch_size'"
        )
    return total


def gradient_denominator(call: Call, norm: float = 1.0) -> tuple:
    """``(g_const, grad_denom)``: each row's gradient is scaled by ``w_i / grad_denom``.

    ``g_const = dtype(1 / grad_denom)`` is that scale when there are no sample
    weights (PyTorch: ``T(1. / (N * C))``).
    """
    grad_denom = (call.denominator or 1.0) * norm
    return call.scores.dtype.type(1.0 / grad_denom), grad_denom


def run(call: Call, kernels: tuple, weights: tuple, params: tuple, rows_per_chunk: int) -> Any:
    """Run the driver over fixed chunks and return what the public function returns."""
    launch = Launch(kernels, weights, params, -(-call.scores.shape[0] // rows_per_chunk))
    recording = RECORDING.get()
    if recording is not None:
        recording.append(launch)
    arrays = (call.scores, call.labels, call.grad, call.loss_out)
    partials = run_chunks(launch, *arrays, call.n_threads)
    loss = _reduce(call, partials)
    return (loss, call.grad) if call.return_grad else loss


def run_chunks(
    launch: Launch, scores: np.ndarray, labels: np.ndarray, grad: np.ndarray,
    loss_out: np.ndarray, n_threads: int | None,
) -> np.ndarray:  # fmt: skip
    """Run ``launch`` on these arrays (``_threading.launch``); the chunks' float64 loss sums."""
    partials = np.empty(launch.n_chunks, np.float64)
    args = (scores, labels, launch.weights, launch.params, grad, loss_out, partials)
    serial, parallel = launch.kernels
    _threading.launch(serial, parallel, args, scores.size, n_threads)
    return partials


def recorded(func: Callable[..., Any], args: tuple, kwargs: dict) -> tuple[Any, Launch | None]:
    """``func(*args, **kwargs)``, and the ``Launch`` of its ``run`` (None unless exactly one)."""
    token = RECORDING.set([])
    try:
        result = func(*args, **kwargs)
        launches = RECORDING.get()
    finally:
        RECORDING.reset(token)
    return result, launches[0] if len(launches) == 1 else None


def chunk_total(partials: np.ndarray) -> float:
    """The sum of the chunk sums: ``np.sum``'s fixed pairwise order, one chunk as it is."""
    return float(partials[0] if partials.shape[0] == 1 else np.add.reduce(partials))


def _reduce(call: Call, partials: np.ndarray) -> Any:
    """Add the chunk sums (float64, NumPy's fixed pairwise order) and round once to the dtype."""
    dtype = call.scores.dtype
    if call.reduction == "none":
        return call.loss_out
    total = chunk_total(partials)
    if call.reduction == "sum":
        return dtype.type(total)
    return dtype.type(total / call.denominator if call.denominator else np.nan)


def rows_per_chunk(n_columns: int, min_rows: int = 1) -> int:
    """Rows in one fixed chunk of a (N, n_columns) matrix: a multiple of ``min_rows``.

    About ``CHUNK_ELEMENTS`` elements, rounded down to a multiple of
    ``min_rows`` (at least ``min_rows``). Depends on the shape only.
    """
    rows = CHUNK_ELEMENTS // max(1, n_columns)
    return max(min_rows, rows - rows % min_rows)
