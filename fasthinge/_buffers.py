"""Reuse of large gradient buffers that nothing references any more.

A new gradient array of tens of megabytes costs its page faults on first
touch: a (10⁶, 10) float32 gradient (40 MB) took 4.9 ms to allocate and fill
against 2.4 ms to refill one already touched, and 28–57 ms in one call of
four while the kernel compacted memory for the huge pages NumPy asks for
(AMD EPYC VM, 2 threads, numba 0.68, NumPy 2.4). In a training loop
(``loss, g = fh.weston_watkins(S, y)``) that is most of the step.

So a gradient of at least :data:`MIN_BYTES` that fasthinge allocates is
remembered (the last :data:`SLOTS` of them, a reference each), and a later
call asking for the same shape and dtype gets one of them back **only when
nothing else references it**: no name, container, view (a view holds its
base), ``torch.from_numpy`` tensor, buffer export or weak reference. That is
when NumPy would have freed it. An array the caller still holds is never
handed out again; two slots let the usual loop, which still holds the last
step's gradient while the next one is computed, alternate between two.

The cost is memory held after the caller dropped it: up to ``SLOTS``
gradients (of the latest shapes), until :func:`release_buffers` or the end of
the process. ``FASTHINGE_REUSE_GRADIENTS=0`` turns reuse off (read at
import). With ``out=`` none of this happens: nothing is allocated.
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
import threading
import weakref

import numpy as np

#: Smaller gradients are allocated each call (they come from the heap, without
#: page faults, and the refcount checks would cost more than they save).
MIN_BYTES = 4 << 20
#: Gradients remembered: two, so a loop that holds one step's gradient while
#: computing the next reuses the one before.
SLOTS = 2
#: ``FASTHINGE_REUSE_GRADIENTS=0`` allocates every gradient anew.
ENABLED = os.environ.get("FASTHINGE_REUSE_GRADIENTS", "1") != "0"

_lock = threading.Lock()
_slots: list[np.ndarray] = []
#: Gradients of at least this many bytes start ``PAGE_SHIFT`` bytes past the
#: scores' offset in a page, at the cache line there (``_placed``).
PLACED_MIN_BYTES = 256 << 10
PAGE_BYTES = 4096
PAGE_SHIFT = 1024
LINE_BYTES = 64

#: ``sys.getrefcount`` of a slot's array that nothing else holds: the list, the
#: local name in ``_take`` and the call's argument.
_UNHELD = 3


def _address(array: np.ndarray) -> int:
    """Where ``array``'s data starts.

    A ctypes view of the buffer takes ~0.3 µs where ``array.ctypes.data`` takes ~1.6
    (two of them were most of a new (256, 10³) gradient's 3.7 µs of Python); a buffer
    that is read-only, not contiguous or empty takes ``ctypes.data``.
    """
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(array))
    except (TypeError, ValueError, BufferError):
        return array.ctypes.data


def _placed(shape: tuple, dtype: np.dtype, scores: np.ndarray | None) -> np.ndarray:
    """A new gradient array, placed ``PAGE_SHIFT`` bytes past ``scores`` in a page.

    It starts at a cache line's start (NumPy's large arrays start 16 bytes into
    one): the bands store gradient rows that start on lines past the cache
    without reading the lines first (non-temporal stores, ``_cpu._tiles``).

    NumPy puts every large array at the same offset in a page (16 bytes in), so a
    gradient row sat in the same L1 set as its score row; with rows a multiple
    of 4 KB long (C = 1024, 2048, 4096 float32) the bands' W score rows and W
    gradient rows then took one set of 8 ways, and Weston–Watkins ran 1.8–2.1x
    the time an element of C = 1000 (one thread, float32; ``out`` placed 1 KB
    apart: (256, 1024) 0.72 → 0.40 ns an element, (8192, 1024) 0.86 → 0.60).
    """
    nbytes = math.prod(shape) * dtype.itemsize
    if scores is None or nbytes < PLACED_MIN_BYTES:
        return np.empty(shape, dtype)
    raw = np.empty(nbytes + PAGE_BYTES, np.uint8)
    want = (_address(scores) + PAGE_SHIFT) % PAGE_BYTES // LINE_BYTES * LINE_BYTES
    start = (want - _address(raw)) % PAGE_BYTES
    return raw[start : start + nbytes].view(dtype).reshape(shape)


def empty_gradient(scores: np.ndarray) -> np.ndarray:
    """An uninitialised buffer for ``out=``: the scores' shape and dtype, placed for speed.

    The same as ``np.empty_like(scores)`` (C-contiguous, writeable), except where
    it starts in memory: about 1 KB past the scores' offset in a 4 KB page, at
    the start of a cache line, as the gradients fasthinge allocates itself.
    NumPy starts every large array at the same offset in a page, so with rows a
    multiple of 4 KB long (1024, 2048, 4096 … float32 classes) a band's score
    rows and gradient rows fall in one L1 cache set, and Weston–Watkins and
    one-vs-all took up to twice the time into ``out=np.empty_like(scores)`` (see
    the Performance page); and beyond the cache, gradient rows that start on
    lines are stored without reading the lines first. Arrays under 256 KB come
    from ``np.empty``. The buffer is a view of a slightly larger one (4 KB more).

    Parameters
    ----------
    scores : ndarray
        The scores the buffer will take the gradient of.

    Returns
    -------
    ndarray
        Uninitialised, of ``scores.shape`` and ``scores.dtype``.

    Examples
    --------
    >>> import numpy as np, fasthinge as fh
    >>> scores = np.zeros((256, 1024), np.float32)
    >>> out = fh.empty_gradient(scores)
    >>> gap = (out.ctypes.data - scores.ctypes.data) % 4096
    >>> out.shape, out.dtype, 960 < gap <= 1024, out.ctypes.data % 64
    ((256, 1024), dtype('float32'), True, 0)
    >>> fh.weston_watkins(scores, np.zeros(256, np.int64), out=out)[1] is out
    True
    """
    if not isinstance(scores, np.ndarray):
        raise TypeError(f"scores must be a NumPy array, got {type(scores).__name__}")
    return _placed(scores.shape, scores.dtype, scores)


def _take(shape: tuple, dtype: np.dtype) -> np.ndarray | None:
    """A remembered array of ``shape`` and ``dtype`` that nothing else holds (under the lock)."""
    for k in range(len(_slots)):
        array = _slots[k]
        if (
            array.shape == shape
            and array.dtype == dtype
            and sys.getrefcount(array) == _UNHELD
            and weakref.getweakrefcount(array) == 0
        ):
            _slots.append(_slots.pop(k))  # most recently used last
            return array
    return None


def new_gradient(shape: tuple, dtype: np.dtype, scores: np.ndarray | None = None) -> np.ndarray:
    """An uninitialised C-contiguous array of ``shape`` and ``dtype`` for a gradient.

    A remembered one that nothing references, or a new one (remembered when
    it has at least ``MIN_BYTES``). A new one is placed apart from ``scores`` in
    a page when they are given (``_placed``). Thread-safe.
    """
    dtype = np.dtype(dtype)
    if not ENABLED or math.prod(shape) * dtype.itemsize < MIN_BYTES:  # (np.prod: 3.9 µs)
        return _placed(shape, dtype, scores)
    with _lock:
        array = _take(tuple(shape), dtype)
        if array is None:
            array = _placed(tuple(shape), dtype, scores)
            _slots.append(array)
            del _slots[:-SLOTS]
        return array


def release_buffers() -> int:
    """Forget the gradient buffers kept for reuse; return the bytes no longer held.

    fasthinge keeps the last two gradients of at least 4 MiB it allocated
    and hands one out again, instead of a new array, to a later call of the
    same shape and dtype once nothing else references it (a new array's page
    faults cost more than the kernel at these sizes). Arrays still referenced
    elsewhere stay alive there; the bytes of the others go back to the
    allocator. Set ``FASTHINGE_REUSE_GRADIENTS=0`` before importing
    fasthinge to allocate every gradient anew.

    Returns
    -------
    int
        Bytes of the forgotten buffers that nothing else referenced.

    Examples
    --------
    >>> import fasthinge as fh
    >>> freed = fh.release_buffers()  # e.g. after training, before other work
    >>> freed >= 0
    True
    """
    freed = 0
    with _lock:
        for k in range(len(_slots)):
            array = _slots[k]
            if sys.getrefcount(array) == _UNHELD and weakref.getweakrefcount(array) == 0:
                freed += array.nbytes
        _slots.clear()
    return freed
