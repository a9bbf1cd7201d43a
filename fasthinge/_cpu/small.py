"""Small calls: one compiled entry per loss that checks the labels and runs its one chunk.

``fasthinge._small`` sends a call ``f(scores, labels)`` (no keyword but ``out``
and ``reduction``) whose scores fit in one chunk here, instead of through the
Python validation and the serial driver: three arrays and a number cross into
Numba instead of seven arguments, and the label check runs in the same call.

The entries::

    weston_watkins_small(scores, labels, grad, denominator) -> (total, first_bad)
    crammer_singer_small, one_vs_all_small: the same
    topk_hinge_small(scores, labels, grad, denominator, k): the same, 1 ≤ k < C
    structured_hinge_small(scores, labels, grad, denominator, cost): the same, cost (C, C)
    categorical_hinge_small(scores, targets, grad, denominator) -> (total, -1)
    multilabel_margin_small(scores, targets, grad, denominator) -> (total, first_bad)
    binary_small(scores, labels, grad, denominator, mode, margin, gamma, scale, kink)
        -> (total, first_bad)

- ``scores`` (N, C), or (N,) for ``binary_small``, ``0 < N·C ≤ CHUNK_ELEMENTS``,
  checked by the caller (float32/float64, C-contiguous, aligned, writeable);
  ``labels`` (N,) int64, not yet checked; ``grad`` like ``scores``, written in place.
- ``denominator``: the reduction's (N for "mean" and "sum_over_batch_size", 1 for
  "sum"), which scales each gradient as the general path's ``grad_denom`` does.
- ``binary_small`` runs the binary losses of ``_cpu.binary``: ``mode`` and the
  public function's fixed ``margin, gamma, scale`` and kink fraction (Python
  numbers, rounded to the dtype here as the general path rounds them); labels ±1.
- ``categorical_hinge_small`` takes (N, C) targets in the scores' dtype (any
  value), ``multilabel_margin_small`` (N, C) int64 targets, each in ``[−1, C)``.
- ``first_bad``: ``OUT_SHARES_MEMORY`` (−2) when ``grad`` (the caller's ``out``)
  shares memory with an input; else the index of the first invalid label
  (outside ``[0, C)``, or not ±1; a hinge embedding and the categorical hinge
  take any target; for multilabel targets a flat index), or −1. When it is
  not −1 nothing else ran (``grad`` is untouched, ``total`` is 0): the caller
  then goes the general way, which raises the error.
- ``total``: the float64 sum of the row losses, the chunk sum the serial
  driver would have written into ``partials[0]``; the caller divides it by
  ``denominator`` and rounds once to the dtype.

The loss's other parameters are the public defaults, built here with the types
the general path passes (so the chunk function is the same compiled
specialisation, and the results are the general path's bit for bit).
"""

from __future__ import annotations

import numpy as np

from ._jit import serial_jit
from .binary import EMBEDDING, _binary_chunk
from .labels import NO_IGNORE, cost_rows_chunk, first_bad_class, mark_classes
from .labels import _binary_int_chunk as _binary_labels
from .multiclass import _cs_chunk, _ww_chunk
from .one_vs_all import _ova_chunk
from .structured import MARGIN_RESCALING, RESCALING, TOPK, TOPK_ALPHA, _structured_chunk
from .targets import SHORT_ROWS, _categorical_chunk, _multilabel_chunk

#: ``first_bad`` of an entry whose ``grad`` shares memory with an input.
OUT_SHARES_MEMORY = -2

# Constants passed on are wrapped (``np.int64(1)``, ``np.bool_(False)``): a bare ``1``
# has Numba's type ``Literal[int](1)``, and the chunk function would be compiled
# again for it instead of reusing the general path's (int64, bool) specialisation.


@serial_jit
def _overlaps(a, b):
    """Whether two C-contiguous arrays share bytes (``np.may_share_memory``'s bounds test).

    Compiled into the entries: in Python the test costs ~0.3 µs an input.
    """
    a0, b0 = a.ctypes.data, b.ctypes.data
    return a.size > 0 and b.size > 0 and a0 < b0 + b.nbytes and b0 < a0 + a.nbytes


@serial_jit
def _shares_memory(grad, scores, targets):
    """Whether ``grad`` shares memory with the scores or the labels (targets)."""
    return _overlaps(grad, scores) or _overlaps(grad, targets)


@serial_jit
def _bad_class(scores, labels, grad):
    """``first_bad`` of an entry taking class labels in ``[0, C)``."""
    if _shares_memory(grad, scores, labels):
        return np.int64(OUT_SHARES_MEMORY)
    return first_bad_class(labels, scores.shape[1], np.int64(NO_IGNORE), np.bool_(False))


@serial_jit
def _first_not_pm1(labels):
    """Index of the first label that is neither +1 nor −1, or −1."""
    n = labels.shape[0]
    no, one = np.int64(0), np.int64(1)
    first = _binary_labels(no, labels, one, -one, no, np.bool_(False), n)
    return first if first < n else -1


@serial_jit
def weston_watkins_small(scores, labels, grad, denominator):
    """Weston–Watkins with the defaults (``margin=1, p=1, normalize=True``)."""
    bad = _bad_class(scores, labels, grad)
    weights, params, no_rows = _ww_defaults(scores, denominator)
    first = np.int64(0)  # the one chunk
    total = _ww_chunk(first, scores, labels, weights, params, grad, no_rows) if bad == -1 else 0.0
    return total, bad


@serial_jit
def crammer_singer_small(scores, labels, grad, denominator):
    """Crammer–Singer with the defaults (``margin=1, p=1``, ties "first")."""
    bad = _bad_class(scores, labels, grad)
    weights, params, no_rows = _cs_defaults(scores, denominator)
    first = np.int64(0)  # the one chunk
    total = _cs_chunk(first, scores, labels, weights, params, grad, no_rows) if bad == -1 else 0.0
    return total, bad


@serial_jit
def one_vs_all_small(scores, labels, grad, denominator):
    """One-vs-all with the defaults (``margin=1, p=1, normalize=False``)."""
    bad = _bad_class(scores, labels, grad)
    weights, params, no_rows = _ova_defaults(scores, denominator)
    first = np.int64(0)  # the one chunk
    total = _ova_chunk(first, scores, labels, weights, params, grad, no_rows) if bad == -1 else 0.0
    return total, bad


@serial_jit
def topk_hinge_small(scores, labels, grad, denominator, k):
    """Top-k α with the defaults (``margin=1``, kink "zero", ties "first"), ``1 ≤ k < C``."""
    bad = _bad_class(scores, labels, grad)
    weights, params, no_rows = _topk_defaults(scores, denominator, k)
    first = np.int64(0)  # the one chunk
    if bad != -1:
        return 0.0, bad
    # the marker as written (in a tuple, or after a star, it would lose its constant type)
    return _structured_chunk(first, scores, labels, weights, params, grad, no_rows, TOPK), bad


@serial_jit
def structured_hinge_small(scores, labels, grad, denominator, cost):
    """Margin rescaling with the defaults (kink "zero", ties "first"); ``cost`` (C, C).

    A cost whose rows that the labels select are not finite and ``>= 0`` with
    a zero diagonal entry counts as a bad label (0): the general path raises
    its error.
    """
    bad = _bad_class(scores, labels, grad)
    bad = np.int64(OUT_SHARES_MEMORY) if bad == -1 and _overlaps(grad, cost) else bad
    bad = bad if bad != -1 or _valid_cost(cost, labels) else np.int64(0)
    weights, params, no_rows = _max_type_defaults(scores, denominator, MARGIN_RESCALING, 0, cost)
    first = np.int64(0)  # the one chunk
    if bad != -1:
        return 0.0, bad
    # the marker as written (in a tuple, or after a star, it would lose its constant type)
    return _structured_chunk(first, scores, labels, weights, params, grad, no_rows, RESCALING), bad


@serial_jit
def _valid_cost(cost, labels):
    """Whether the rows of ``cost`` the labels select pass ``_validation.first_bad_cost``."""
    n_classes = cost.shape[0]
    used = np.zeros(n_classes, np.bool_)
    mark_classes(labels, n_classes, np.int64(NO_IGNORE), used)
    return cost_rows_chunk(np.int64(0), cost, used, n_classes) == cost.size


@serial_jit
def _topk_defaults(scores, denominator, k):
    """``(weights, params, empty)`` of ``topk_hinge(scores, labels, k)``."""
    return _max_type_defaults(scores, denominator, TOPK_ALPHA, k, np.empty((0, 0), scores.dtype))


@serial_jit
def _max_type_defaults(scores, denominator, kind, k, cost):
    """``(weights, params, empty)`` of a ``_cpu.structured`` loss with the defaults."""
    n_rows, n_classes = scores.shape
    dtype = scores.dtype.type
    grad_denom = denominator
    params = (dtype(1.0), np.int64(kind), np.int64(k), np.int64(0), dtype(0.0), np.bool_(False),
              dtype(1.0 / grad_denom), grad_denom, np.int64(NO_IGNORE), n_rows)  # fmt: skip
    empty = np.empty(0, scores.dtype)
    no_compact = (np.empty((0, 0), np.int64), np.empty((0, 0), scores.dtype))
    return (np.ones(n_classes, scores.dtype), empty, cost, *no_compact), params, empty


@serial_jit
def _ww_defaults(scores, denominator):
    """``(weights, params, empty)`` of ``weston_watkins(scores, labels)``."""
    n_rows, n_classes = scores.shape
    dtype = scores.dtype.type
    grad_denom = denominator * float(n_classes)  # the reduction's, and ÷C per row
    params = (dtype(1.0), np.int64(1), dtype(n_classes), dtype(0.0), np.bool_(False),
              dtype(1.0 / grad_denom), grad_denom, np.int64(NO_IGNORE), n_rows)  # fmt: skip
    empty = np.empty(0, scores.dtype)
    return (np.ones(n_classes, scores.dtype), empty), params, empty


@serial_jit
def _cs_defaults(scores, denominator):
    """``(weights, params, empty)`` of ``crammer_singer(scores, labels)``."""
    n_rows, n_classes = scores.shape
    dtype = scores.dtype.type
    grad_denom = denominator
    params = (dtype(1.0), np.int64(1), np.int64(0), np.bool_(False), dtype(1.0 / grad_denom),
              grad_denom, np.int64(NO_IGNORE), n_rows)  # fmt: skip
    empty = np.empty(0, scores.dtype)
    no_compact = (np.empty((0, 0), np.int64), np.empty((0, 0), scores.dtype))
    return (np.ones(n_classes, scores.dtype), empty, *no_compact), params, empty


@serial_jit
def _ova_defaults(scores, denominator):
    """``(weights, params, empty)`` of ``one_vs_all(scores, labels)``."""
    n_rows = scores.shape[0]
    dtype = scores.dtype.type
    grad_denom = denominator
    params = (dtype(1.0), np.int64(1), dtype(1.0), dtype(0.0), dtype(1.0 / grad_denom),
              grad_denom, np.int64(NO_IGNORE), n_rows)  # fmt: skip
    empty = np.empty(0, scores.dtype)
    return (empty, np.zeros((0, 0))), params, empty


@serial_jit
def binary_small(scores, labels, grad, denominator, mode, margin, gamma, scale, kink):
    """A binary loss of ``_cpu.binary`` (``mode``) with its function's defaults, ±1 labels."""
    if _shares_memory(grad, scores, labels):
        bad = np.int64(OUT_SHARES_MEMORY)
    else:
        bad = -1 if mode == EMBEDDING else _first_not_pm1(labels)
    constants = (mode, margin, gamma, scale, kink)
    weights, params, no_rows = _binary_defaults(scores, denominator, *constants)
    first = np.int64(0)  # the one chunk
    args = (scores, labels, weights, params, grad, no_rows)
    total = _binary_chunk(first, *args) if bad == -1 else 0.0
    return total, bad


@serial_jit
def _binary_defaults(scores, denominator, mode, margin, gamma, scale, kink):
    """``(weights, params, empty)`` of a binary loss: no sample weights, no ignored rows."""
    n = scores.shape[0]
    dtype = scores.dtype.type
    grad_denom = denominator
    pos, neg = np.int64(1), np.int64(-1)
    params = (dtype(margin), mode, dtype(kink), dtype(gamma), dtype(scale), pos, neg,
              dtype(1.0 / grad_denom), grad_denom, np.int64(NO_IGNORE), n)  # fmt: skip
    empty = np.empty(0, scores.dtype)
    return (empty,), params, empty


@serial_jit
def categorical_hinge_small(scores, targets, grad, denominator):
    """Keras' categorical hinge with the defaults (``margin=1``, kink "half", ties "split")."""
    if _shares_memory(grad, scores, targets):
        return 0.0, np.int64(OUT_SHARES_MEMORY)
    n_rows = scores.shape[0]
    dtype = scores.dtype.type
    grad_denom = denominator
    params = (dtype(1.0), dtype(0.5), np.bool_(True), dtype(1.0 / grad_denom), grad_denom, n_rows)
    empty = np.empty(0, scores.dtype)
    first = np.int64(0)  # the one chunk
    return _categorical_chunk(first, scores, targets, (empty,), params, grad, empty), np.int64(-1)


@serial_jit
def multilabel_margin_small(scores, targets, grad, denominator):
    """PyTorch's multilabel margin with the defaults (``margin=1``, kink "zero", NaN propagates)."""
    if _shares_memory(grad, scores, targets):
        return 0.0, np.int64(OUT_SHARES_MEMORY)
    n_rows, n_classes = scores.shape
    bad = first_bad_class(targets.reshape(targets.size), n_classes, np.int64(-1), np.bool_(True))
    if bad != -1:
        return 0.0, bad
    dtype = scores.dtype.type
    grad_denom = denominator * float(max(1, n_classes))  # the reduction's, and ÷C per row
    params = (dtype(1.0), dtype(0.0), np.bool_(False), dtype(1.0 / grad_denom), grad_denom, n_rows)
    empty = np.empty(0, scores.dtype)
    first = np.int64(0)  # the one chunk
    # one chunk holds no 16 rows of more than 1024 classes (the marker as written: see there)
    total = _multilabel_chunk(first, scores, targets, (empty,), params, grad, empty, SHORT_ROWS)
    return total, np.int64(-1)
