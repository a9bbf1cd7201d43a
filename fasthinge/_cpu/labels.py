"""Label checks, run before any loss kernel: the first invalid label of each chunk.

Each chunk writes the index of its first invalid label (or the number of
labels if there is none) into ``first_bad``; the caller takes the minimum.
One pass over the labels, in parallel, instead of NumPy's several temporaries.
"""

from __future__ import annotations

import numba
import numpy as np

from ._jit import parallel_jit, row_jit, serial_jit
from ._simd import add

#: ``ignore_index=None``: no label equals it. A copy of ``_validation.NO_IGNORE``
#: (a test keeps them equal): Numba's cache is keyed on ``_cpu``'s sources only, so a
#: kernel takes no constant from outside ``_cpu``.
NO_IGNORE = np.iinfo(np.int64).min


@row_jit
def _class_chunk(c, labels, n_classes, ignore, has_ignore, chunk):
    """First ``i`` in chunk ``c`` with ``labels[i]`` outside ``[0, n_classes)`` and ≠ ignore.

    A branch-free (vectorised) sweep finds whether there is one; only then a
    second sweep finds where. The sweep indexes a slice from 0: with ``i`` from
    ``range(lo, hi)`` Numba's negative-index fix-up stays in the loop and LLVM
    vectorises the loads as gathers. Without an ignored value, or with −1
    (multilabel targets), the sweep is an unsigned max (``_class_max``).
    """
    lo = c * chunk
    hi = min(labels.shape[0], lo + chunk)
    part = labels[lo:hi]
    if not has_ignore or ignore == -1:
        shift = np.int64(1 if has_ignore else 0)  # −1 → 0, [0, C) → [1, C]
        n_bad = _class_max(part, shift) >= np.uint64(n_classes + shift)
    else:
        n_bad = 0  # a count, not a bool: an integer sum vectorises without mask registers
        for k in range(part.shape[0]):  # k >= 0 is provable: no negative-index fix-up
            y = part[k]
            n_bad += ((y < 0) | (y >= n_classes)) & (y != ignore)
    if n_bad:
        for i in range(lo, hi):
            y = labels[i]
            if (y < 0 or y >= n_classes) and (y != ignore or not has_ignore):
                return i
    return labels.shape[0]


@row_jit
def _class_max(part, shift):
    """The largest ``labels + shift`` as unsigned (a negative label is larger than any class).

    A max, not a compare a label: compares into mask registers all issue on
    one port of Intel cores.
    """
    top = np.uint64(0)
    for k in range(part.shape[0]):
        top = max(top, np.uint64(np.int64(part[k]) + shift))
    return top


@row_jit
def _binary_chunk(c, labels, pos, neg, ignore, has_ignore, chunk):
    """First ``i`` in chunk ``c`` with ``labels[i]`` not ``pos``, ``neg`` or ``ignore``, or N."""
    n = labels.shape[0]
    lo = c * chunk
    hi = min(n, lo + chunk)
    n_bad = 0
    part = labels[lo:hi]
    for k in range(part.shape[0]):
        t = part[k]
        n_bad += (t != pos) & (t != neg) & ((t != ignore) | (not has_ignore))
    return _first_not_binary(labels, lo, hi, pos, neg, ignore, has_ignore) if n_bad else n


@row_jit
def _binary_int_chunk(c, labels, pos, neg, ignore, has_ignore, chunk):
    """``_binary_chunk`` for signed integer labels, without a compare per label.

    A label is valid when ``t ^ pos``, ``t ^ neg`` or ``t ^ ignore`` is 0, that
    is when their unsigned minimum is: the sweep ORs the minima (integer ALU
    operations; compares into mask registers all issue on one port of Intel
    cores). 10⁷ int64 labels, two threads: 1.42–1.51× the time of a plain
    parallel read with three compares a label, 1.22–1.28× with this sweep.
    Without ``ignore_index`` the label encodings take ``_two_values_bits``
    (AVX2 has no unsigned minimum: one thread, 2·10⁵ int64 labels on an AMD
    EPYC, 0.58 ns a label with the minima, 0.17 without).
    """
    n = labels.shape[0]
    lo = c * chunk
    hi = min(n, lo + chunk)
    part = labels[lo:hi]
    gap = pos - neg
    if gap > 0 and not gap & (gap - 1) and not has_ignore:
        bits = _two_values_bits(part, neg, gap)
    else:
        bits = np.uint64(0)
        other = ignore if has_ignore else pos
        for k in range(part.shape[0]):
            t = np.int64(part[k])
            either = min(np.uint64(t ^ pos), np.uint64(t ^ neg))
            bits |= min(either, np.uint64(t ^ other))
    return _first_not_binary(labels, lo, hi, pos, neg, ignore, has_ignore) if bits else n


@row_jit
def _two_values_bits(part, neg, gap):  # pragma: no cover (NUMBA_DISABLE_JIT: the twin)
    """``OR((t − neg) & ~gap)``: 0 iff every ``t`` is ``neg`` or ``neg + gap``.

    In uint64, wrapping; ``gap`` is a power of two. Both label encodings have
    such a gap (``pm1``: 2, ``01``: 1), so without ``ignore_index`` a label
    costs a subtraction, an AND and an OR: the unsigned minima of
    ``_binary_int_chunk``'s other sweep have no AVX2 instruction.
    """
    base, off_gap = np.uint64(np.int64(neg)), ~np.uint64(np.int64(gap))
    bits = np.uint64(0)
    for k in range(part.shape[0]):
        bits |= (np.uint64(np.int64(part[k])) - base) & off_gap
    return bits


def _two_values_bits_python(part, neg, gap):
    """``_two_values_bits`` as plain Python (NumPy's scalars warn where Numba wraps)."""
    bits = 0
    for t in part:
        bits |= (int(t) - int(neg)) % 2**64 & ~int(gap)
    return np.uint64(bits)


if numba.config.DISABLE_JIT:
    _two_values_bits = _two_values_bits_python


@row_jit
def _first_not_binary(labels, lo, hi, pos, neg, ignore, has_ignore):
    """First ``i`` in ``lo..hi`` with ``labels[i]`` not ``pos``, ``neg`` or ``ignore``, or N."""
    for i in range(lo, hi):
        t = labels[i]
        if t != pos and t != neg and (t != ignore or not has_ignore):
            return i
    return labels.shape[0]


@row_jit
def cost_chunk(c, flat, chunk):  # pragma: no cover (NUMBA_DISABLE_JIT: the twin)
    """First ``i`` in chunk ``c`` with ``flat[i]`` not finite and ``>= 0`` (NaN is not), or N.

    A cost matrix's row (``cost_rows_chunk``; the diagonal is checked
    apart). First a sum, in any order (``add``), of ``(x − x) +
    min(x, 0)``: NaN if an entry is NaN or infinite, below 0 if one is
    negative (the terms are never positive, so nothing cancels), else 0. Then,
    only if it is not 0, where. The sum vectorises: 0.09 ns an entry on one
    thread of an AMD EPYC, against 0.36 for a count of the compares (LLVM's
    integer form of them) and 0.11 for NumPy's ``min`` and ``max`` together.
    """
    n = flat.shape[0]
    lo = c * chunk
    hi = min(n, lo + chunk)
    part = flat[lo:hi]
    zero = flat.dtype.type(0)
    total = zero
    for k in range(part.shape[0]):
        x = part[k]
        total = add(total, (x - x) + min(x, zero))
    if total != 0:
        for k in range(part.shape[0]):
            if not (part[k] >= 0 and part[k] < np.inf):
                return lo + k
    return n


def _cost_chunk_python(c, flat, chunk):
    """``cost_chunk`` with NumPy (``NUMBA_DISABLE_JIT=1``: a Python loop over C² is slow)."""
    lo = c * chunk
    part = flat[lo : lo + chunk]
    bad = ~((part >= 0) & (part < np.inf))
    return lo + int(np.argmax(bad)) if bad.any() else flat.shape[0]


if numba.config.DISABLE_JIT:  # (the same results; the tests run both)
    cost_chunk = _cost_chunk_python


@row_jit
def mark_classes(labels, n_classes, ignore, used):
    """Set ``used[y]`` for each label ``y`` in ``[0, C)`` other than ``ignore``; their count.

    ``used`` (C,) bool, cleared by the caller. The walk stops once every class
    is marked: with N ≫ C (and every class present) after a few times C labels.
    """
    seen = 0
    for i in range(labels.shape[0]):
        y = labels[i]
        if y != ignore and 0 <= y < n_classes and not used[y]:
            used[y] = True
            seen += 1
            if seen == n_classes:
                break
    return seen


@row_jit
def cost_rows_chunk(c, cost, used, chunk):
    """First flat index of an invalid entry of a (C, C) cost in the rows of chunk ``c``, or C².

    Invalid: not finite and ``>= 0`` (``cost_chunk``), or off zero on the
    diagonal. Only the rows ``used`` marks are read (all rows if it is empty).
    """
    n = cost.shape[0]
    flat = cost.reshape(cost.size)
    for r in range(c * chunk, min(n, (c + 1) * chunk)):
        if used.shape[0] and not used[r]:
            continue
        first = cost_chunk(r, flat, n)  # chunk r of n entries: row r
        if cost[r, r] != 0 and r * n + r < first:  # (NaN too)
            first = r * n + r
        if first < flat.shape[0]:
            return first
    return flat.shape[0]


@serial_jit
def cost_rows_serial(cost, used, chunk, first_bad):
    """Serial check of a cost matrix's rows."""
    for c in range(first_bad.shape[0]):
        first_bad[c] = cost_rows_chunk(c, cost, used, chunk)


@parallel_jit
def cost_rows_parallel(cost, used, chunk, first_bad):
    """Parallel check of a cost matrix's rows."""
    for c in numba.prange(first_bad.shape[0]):
        first_bad[c] = cost_rows_chunk(c, cost, used, chunk)


@serial_jit
def first_bad_class(labels, n_classes, ignore, has_ignore):
    """Index of the first label outside ``[0, n_classes)`` and ≠ ignore, or −1: one serial pass.

    For a short vector of labels (a small call), where a parallel launch or a
    NumPy reduction would cost more than the pass.
    """
    n_rows = labels.shape[0]
    first = _class_chunk(np.int64(0), labels, n_classes, ignore, has_ignore, n_rows)
    return first if first < n_rows else -1


@serial_jit
def class_labels_serial(labels, n_classes, ignore, has_ignore, chunk, first_bad):
    """Serial check of class labels."""
    for c in range(first_bad.shape[0]):
        first_bad[c] = _class_chunk(c, labels, n_classes, ignore, has_ignore, chunk)


@parallel_jit
def class_labels_parallel(labels, n_classes, ignore, has_ignore, chunk, first_bad):
    """Parallel check of class labels."""
    for c in numba.prange(first_bad.shape[0]):
        first_bad[c] = _class_chunk(c, labels, n_classes, ignore, has_ignore, chunk)


@serial_jit
def binary_labels_serial(labels, pos, neg, ignore, has_ignore, chunk, first_bad):
    """Serial check of binary labels."""
    for c in range(first_bad.shape[0]):
        first_bad[c] = _binary_chunk(c, labels, pos, neg, ignore, has_ignore, chunk)


@parallel_jit
def binary_labels_parallel(labels, pos, neg, ignore, has_ignore, chunk, first_bad):
    """Parallel check of binary labels."""
    for c in numba.prange(first_bad.shape[0]):
        first_bad[c] = _binary_chunk(c, labels, pos, neg, ignore, has_ignore, chunk)


@serial_jit
def binary_int_labels_serial(labels, pos, neg, ignore, has_ignore, chunk, first_bad):
    """Serial check of binary labels of a signed integer dtype."""
    for c in range(first_bad.shape[0]):
        first_bad[c] = _binary_int_chunk(c, labels, pos, neg, ignore, has_ignore, chunk)


@parallel_jit
def binary_int_labels_parallel(labels, pos, neg, ignore, has_ignore, chunk, first_bad):
    """Parallel check of binary labels of a signed integer dtype."""
    for c in numba.prange(first_bad.shape[0]):
        first_bad[c] = _binary_int_chunk(c, labels, pos, neg, ignore, has_ignore, chunk)
