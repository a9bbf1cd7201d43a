"""Argument checks, run in Python before any kernel: ``ValueError``/``TypeError``.

Every message names the argument and the offending value. No check modifies
its input; a conversion (a non-contiguous or byte-swapped array) makes a copy.
"""

from __future__ import annotations

import functools
import math
import numbers
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _threading

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
#: Class labels of these dtypes go to the kernels as they are; others become int64.
INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))
REDUCTIONS = ("mean", "sum", "none", "sum_over_batch_size")
KINKS = ("zero", "full", "half")  # kink_mode 0, 1, 2 in the kernels
#: The share of the active slope taken at a kink.
KINK_FRACTIONS = {"zero": 0.0, "full": 1.0, "half": 0.5}
TIES = ("first", "split")
#: Labels never equal this, so it stands for ``ignore_index=None``.
NO_IGNORE = np.iinfo(np.int64).min
#: Up to this many class labels one serial pass checks them; above, the parallel kernel.
SMALL_LABELS = 1 << 14
#: Labels a chunk of the parallel label checks (each chunk reports its first bad one).
LABEL_CHUNK = 1 << 16


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def as_array(value: Any, name: str) -> np.ndarray:
    """``value`` as a NumPy array (array-likes are converted, never copied needlessly)."""
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "__cuda_array_interface__"):
        raise TypeError(f"{name} is a CUDA array; the CPU functions take NumPy arrays")
    try:
        return np.asarray(value)
    except Exception as exc:  # ragged lists, objects without __array__
        raise TypeError(f"{name} could not be converted to an array: {exc}") from exc


def as_scores(scores: Any, ndim: int, name: str = "scores") -> np.ndarray:
    """A native-endian, C-contiguous float32/float64 array of ``ndim`` dimensions.

    Integers, booleans, float16 and complex values are rejected (cast them
    yourself); non-contiguous and byte-swapped arrays are copied.
    """
    array = as_array(scores, name)
    if array.dtype not in FLOAT_DTYPES and array.dtype.newbyteorder("=") not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must be float32 or float64, got dtype {array.dtype}; "
            f"cast it explicitly (e.g. {name}.astype(np.float32))"
        )
    if array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {array.shape}")
    if ndim == 2 and array.shape[1] == 0:
        raise ValueError(f"{name} must have at least one class (column), got shape {array.shape}")
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    return np.ascontiguousarray(array)


def as_class_labels(
    labels: Any, n_rows: int, n_classes: int, ignore: int, n_threads: int | None = None
) -> np.ndarray:
    """Integer class indices (N,), each in ``[0, n_classes)`` or equal to ``ignore``.

    ``n_threads`` (checked, ``check_n_threads``) runs the check as the call's kernel runs.
    """
    array = as_array(labels, "labels")
    if array.dtype.kind not in "iu":
        raise TypeError(f"labels must be integers (class indices), got dtype {array.dtype}")
    if array.shape != (n_rows,):
        raise ValueError(f"labels must have shape ({n_rows},) to match scores, got {array.shape}")
    if array.dtype not in INDEX_DTYPES:
        array = array.astype(np.int64)
    array = np.ascontiguousarray(array)
    first = first_bad_class(array, n_classes, ignore, n_threads)
    if first >= 0:
        raise ValueError(
            f"labels must be in [0, {n_classes}) (or ignore_index), "
            f"got labels[{first}] = {array[first]}"
        )
    return array


def first_bad_class(labels: np.ndarray, n_classes: int, ignore: int, n_threads: int | None) -> int:
    """Index of the first int32/int64 label outside ``[0, n_classes)`` and not ``ignore``, or -1."""
    if labels.shape[0] <= SMALL_LABELS:  # one serial pass beats a parallel launch
        return _label_kernels().first_bad_class(labels, n_classes, ignore, ignore != NO_IGNORE)
    return _first_bad_label("class", labels, (n_classes, ignore, ignore != NO_IGNORE), n_threads)


def as_binary_labels(
    labels: Any, n_rows: int, pos: int, neg: int, ignore: int, n_threads: int | None = None
) -> np.ndarray:
    """Binary targets (N,), each equal to ``pos``, ``neg`` or ``ignore`` (on ``n_threads``)."""
    array = as_real_labels(labels, n_rows)
    if ignore in (pos, neg):
        raise ValueError(f"ignore_index must not be a class label ({neg} or {pos}), got {ignore}")
    first = first_bad_binary(array, pos, neg, ignore, n_threads)
    if first >= 0:
        raise ValueError(
            f"labels must be {neg} or {pos} (label_encoding), got labels[{first}] = {array[first]}"
        )
    return array


def first_bad_binary(labels: np.ndarray, pos: int, neg: int, ignore: int,
                     n_threads: int | None) -> int:  # fmt: skip
    """Index of the first real label equal to neither ``pos``, ``neg`` nor ``ignore``, or -1."""
    kind = "binary_int" if labels.dtype.kind == "i" else "binary"  # (signed: t ^ pos is an int)
    return _first_bad_label(kind, labels, (pos, neg, ignore, ignore != NO_IGNORE), n_threads)


def as_real_labels(labels: Any, n_rows: int) -> np.ndarray:
    """Real-valued targets (N,), any value (``hinge_embedding``)."""
    array = as_array(labels, "labels")
    if array.dtype.kind not in "iuf":
        raise TypeError(f"labels must be integer or float, got dtype {array.dtype}")
    if array.shape != (n_rows,):
        raise ValueError(f"labels must have shape ({n_rows},) to match scores, got {array.shape}")
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    return np.ascontiguousarray(array)


def _first_bad_label(kind: str, labels: np.ndarray, args: tuple, n_threads: int | None) -> int:
    """Index of the first invalid label (one pass on ``n_threads``, ``_cpu.labels``), or -1."""
    kernels = _label_kernels()
    chunk = LABEL_CHUNK
    first_bad = np.empty(-(-labels.shape[0] // chunk), np.int64)
    serial = getattr(kernels, kind + "_labels_serial")
    parallel = getattr(kernels, kind + "_labels_parallel")
    _threading.launch(serial, parallel, (labels, *args, chunk, first_bad), labels.size, n_threads)
    n_chunks = first_bad.shape[0]  # (one chunk: no reduction, ~1 µs)
    first = int(first_bad[0] if n_chunks == 1 else first_bad.min()) if n_chunks else labels.shape[0]
    return first if first < labels.shape[0] else -1


@functools.cache
def _label_kernels() -> Any:
    """``fasthinge._cpu.labels``, imported (with Numba) on the first call only.

    An import statement in a function costs about 1 µs a call, this lookup 0.06 µs.
    """
    from ._cpu import labels

    return labels


def as_cost_matrix(
    cost: Any,
    n_classes: int,
    dtype: np.dtype,
    labels: np.ndarray,
    ignore: int = NO_IGNORE,
    n_threads: int | None = None,
) -> np.ndarray:
    """A (C, C) cost matrix in ``dtype``, its rows that ``labels`` select checked.

    The loss reads row ``Δ[y]`` for each label ``y`` (checked, in ``[0, C)``,
    or ``ignore``), and only those rows must be finite and ``>= 0`` with a zero
    diagonal entry (``first_bad_cost``); the error names the first bad entry
    of those rows in row-major order, as the GPU path's does.
    """
    array = as_array(cost, "cost")
    if array.dtype.kind not in "iuf":
        raise TypeError(f"cost must be real numbers, got dtype {array.dtype}")
    if array.shape != (n_classes, n_classes):
        raise ValueError(f"cost must have shape ({n_classes}, {n_classes}), got {array.shape}")
    array = np.ascontiguousarray(array, dtype=dtype)
    first = first_bad_cost(array, labels, ignore, n_threads)
    if first >= 0:
        raise cost_error(array, first)
    return array


def cost_error(cost: np.ndarray, first: int) -> ValueError:
    """The error for the invalid entry ``first`` (a flat index) of a (C, C) ``cost``."""
    i, j = divmod(first, cost.shape[1])
    value = cost[i, j]
    rule = "have a zero diagonal" if i == j and value >= 0 else "be finite and >= 0"
    return ValueError(f"cost must {rule}, got cost[{i}, {j}] = {value}")


def first_bad_cost(
    cost: np.ndarray, labels: np.ndarray, ignore: int = NO_IGNORE, n_threads: int | None = None
) -> int:
    """Flat index of the first invalid entry in the rows of ``cost`` that ``labels`` select, or -1.

    Invalid: not finite and ``>= 0``, or off zero on the diagonal. The rows
    are marked by one walk over the labels that stops once every class is
    seen (``_cpu.labels.mark_classes``), then read in parallel. With at least
    C² labels the whole matrix is read first (no more than a walk over the
    labels), and the labels only if it has an invalid entry. A (10³, 10⁴)
    call reads its ≤ 10³ rows, not 10⁸ entries (12 ms here).
    """
    kernels = _label_kernels()
    n_classes = cost.shape[0]
    if not n_classes:
        return -1
    all_rows = np.empty(0, np.bool_)
    if n_classes * n_classes <= labels.shape[0] and _first_bad_row(cost, all_rows, n_threads) < 0:
        return -1
    used = np.zeros(n_classes, np.bool_)
    kernels.mark_classes(labels, n_classes, ignore, used)
    return _first_bad_row(cost, used, n_threads)


def _first_bad_row(cost: np.ndarray, used: np.ndarray, n_threads: int | None) -> int:
    """``first_bad_cost`` over the rows ``used`` marks (all rows if it is empty)."""
    kernels = _label_kernels()
    n_classes = cost.shape[0]
    chunk = -(-LABEL_CHUNK // n_classes)  # rows of about LABEL_CHUNK entries
    first_bad = np.empty(-(-n_classes // chunk), np.int64)
    n_entries = cost.size if not used.size else n_classes * int(np.count_nonzero(used))
    args = (cost, used, chunk, first_bad)
    _threading.launch(kernels.cost_rows_serial, kernels.cost_rows_parallel, args, n_entries,
                      n_threads)  # fmt: skip
    first = int(first_bad.min())
    return first if first < cost.size else -1


def as_target_matrix(targets: Any, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """Real (N, C) targets (one-hot or soft) in ``dtype``."""
    array = as_array(targets, "targets")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"targets must be real numbers, got dtype {array.dtype}")
    if array.shape != shape:
        raise ValueError(f"targets must have shape {shape} to match scores, got {array.shape}")
    return np.ascontiguousarray(array, dtype=dtype)


def as_multilabel_targets(targets: Any, shape: tuple, n_threads: int | None = None) -> np.ndarray:
    """(N, C) class indices ended by −1, each in ``[−1, C)`` (checked on ``n_threads``).

    int32 and int64 go to the kernels as they are (C-contiguous: a copy only
    when they are not); other integer dtypes become int64, as class labels do.
    """
    array = as_array(targets, "targets")
    if array.dtype.kind not in "iu":
        raise TypeError(f"targets must be integers (class indices), got dtype {array.dtype}")
    if array.shape != shape:
        raise ValueError(f"targets must have shape {shape} to match scores, got {array.shape}")
    if array.dtype not in INDEX_DTYPES:
        array = array.astype(np.int64)
    array = np.ascontiguousarray(array)
    first = first_bad_target(array, n_threads)
    if first >= 0:
        where = [int(i) for i in np.unravel_index(first, shape)]
        raise ValueError(f"targets must be in [-1, {shape[1]}), got targets{where} = "
                         f"{array[tuple(where)]}")  # fmt: skip
    return array


def first_bad_target(targets: np.ndarray, n_threads: int | None) -> int:
    """Flat index of the first of C-contiguous int32/int64 (N, C) ``targets`` not in [-1, C), or -1.

    One pass, no temporaries: class indices in ``[0, C)``, ``-1`` as the "ignored" value.
    """
    flat = targets.reshape(-1)
    return _first_bad_label("class", flat, (targets.shape[1], -1, True), n_threads)


def check_k(k: Any, n_classes: int | None) -> int:
    """The ``k`` of a top-k loss: an integer in ``[1, C − 1]``."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an integer, got {_shown(k)}")
    if n_classes is not None and n_classes < 2:
        raise ValueError(f"top-k needs at least 2 classes, got C = {n_classes}")
    if n_classes is not None and not 1 <= k <= n_classes - 1:
        raise ValueError(f"k must be in [1, {n_classes - 1}] (C - 1), got {k}")
    return int(k)


def check_margin(margin: Any, dtype: np.dtype) -> np.floating:
    """A finite real margin, rounded to ``dtype`` (as PyTorch rounds it)."""
    if type(margin) is float and math.isfinite(margin):  # the common case, without ABC checks
        return dtype.type(margin)
    if isinstance(margin, bool) or not isinstance(margin, numbers.Real):
        raise TypeError(f"margin must be a real number, got {_shown(margin)}")
    if not math.isfinite(margin):
        raise ValueError(f"margin must be finite, got {margin}")
    return dtype.type(margin)


def check_positive(value: Any, name: str, dtype: np.dtype) -> np.floating:
    """A finite real number > 0, rounded to ``dtype``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_shown(value)}")
    if not (np.isfinite(float(value)) and value > 0):
        raise ValueError(f"{name} must be finite and > 0, got {value}")
    return dtype.type(value)


def check_p(p: Any) -> int:
    """The power ``p``: 1 (hinge) or 2 (squared hinge)."""
    if type(p) is int and p in (1, 2):
        return p
    if isinstance(p, bool) or not isinstance(p, numbers.Integral) or p not in (1, 2):
        raise ValueError(f"p must be 1 or 2, got {_shown(p)}")
    return int(p)


def check_choice(value: Any, name: str, choices: tuple | dict) -> Any:
    """``value`` if it is one of ``choices`` (strings)."""
    if type(value) is not str or value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {_shown(value)}")
    return value


def check_ignore_index(ignore_index: Any) -> int:
    """An integer label to skip, or ``NO_IGNORE`` for ``None``."""
    if ignore_index is None:
        return NO_IGNORE
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
        raise TypeError(f"ignore_index must be an integer or None, got {_shown(ignore_index)}")
    value = int(ignore_index)
    if not NO_IGNORE < value <= np.iinfo(np.int64).max:  # the kernels compare int64 labels
        raise ValueError(
            f"ignore_index must be in [{NO_IGNORE + 1}, {np.iinfo(np.int64).max}], got {value}"
        )
    return value


def as_weight(weight: Any, name: str, length: int, dtype: np.dtype) -> np.ndarray:
    """A real (length,) weight vector in ``dtype`` (a copy only when needed)."""
    array = as_array(weight, name)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be real numbers, got dtype {array.dtype}")
    if array.shape != (length,):
        raise ValueError(f"{name} must have shape ({length},), got {array.shape}")
    return np.ascontiguousarray(array, dtype=dtype)


def check_out(out: Any, shape: tuple, dtype: np.dtype, inputs: tuple) -> np.ndarray:
    """A writeable C-contiguous buffer of ``shape`` and ``dtype`` sharing no input's memory."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a NumPy array, got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"out must have shape {shape}, got {out.shape}")
    if out.dtype != dtype:
        raise TypeError(f"out must have dtype {dtype} (the scores' dtype), got {out.dtype}")
    flags = out.flags
    if not flags.c_contiguous or not flags.writeable:
        raise ValueError("out must be C-contiguous and writeable")
    for array in inputs:
        if array is not None and np.may_share_memory(out, array):
            raise ValueError("out must not share memory with an input")
    return out


def n_threads_of(n_threads: Any) -> int | None:
    """``check_n_threads`` against this process's threads (the label checks run on them too)."""
    return check_n_threads(n_threads, _threading.max_threads)


def check_n_threads(n_threads: Any, max_threads: Callable[[], int]) -> int | None:
    """``None`` (Numba's current setting) or an int in ``[1, max_threads()]``."""
    if n_threads is None:
        return None
    return check_count(n_threads, "n_threads", max_threads(), "an integer or None")


def check_count(value: Any, name: str, high: int | None = None, kind: str = "an integer") -> int:
    """An integer (not a bool) in ``[1, high]`` (``high=None``: no upper bound)."""
    try:
        count = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be {kind}, got {_shown(value)}") from None
    if isinstance(value, bool) or count < 1 or (high is not None and count > high):
        bounds = f"in [1, {high}]" if high is not None else ">= 1"
        raise ValueError(f"{name} must be {bounds}, got {_shown(value)}")
    return count


def check_flag(value: Any, name: str) -> bool:
    """A Python or NumPy boolean."""
    if value is True or value is False:
        return value
    if not isinstance(value, np.bool_):
        raise TypeError(f"{name} must be True or False, got {_shown(value)}")
    return bool(value)
