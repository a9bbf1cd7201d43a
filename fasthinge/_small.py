"""Fast paths for calls with default keywords: small ones compiled, larger ones remembered.

A call with (nearly) every keyword at its default pays, on the general path, about
15 µs of Python (validation, buffers, dispatch of seven arguments) around a
kernel that needs 2–4 µs at (256, 10), and a fifth of a (256, 10³) call. The
``small_calls`` decorator takes such a call off the general path when all of
this holds:

- ``(scores, labels)`` by position (``topk_hinge``: and ``k``, by position or
  name, a plain int in ``[1, C − 1]``; ``structured_hinge``: and ``cost``, a (C, C)
  array of the scores' dtype, C-contiguous, aligned and writeable, its values checked
  in the entry), and no other keyword but ``out``, ``reduction`` (``"mean"``,
  ``"sum"`` or ``"sum_over_batch_size"``), ``return_grad`` (``True`` or
  ``False``, not with ``out``) and ``n_threads`` (``None`` or an int the general
  path accepts);
- ``scores`` is an ``np.ndarray`` of dtype float32 or float64 (native byte
  order), 2-D (1-D for the binary losses), C-contiguous, aligned and
  writeable, with ``N·C > 0``;
- ``labels`` is an int64 ``np.ndarray`` of shape (N,) (for the categorical
  hinge: (N, C) targets of the scores' dtype; for the multilabel margin: (N, C)
  int64 targets), C-contiguous, aligned and writeable;
- ``out``, if given, is an ``np.ndarray`` of the scores' shape and dtype,
  C-contiguous, aligned and writeable, sharing no memory with the inputs;
- no ``fasthinge.dask`` batch denominator is in effect.

Then:

- **Small calls** (``N·C ≤ CHUNK_ELEMENTS``, one chunk: the general path would
  run it serially too) with a gradient go to the loss's compiled entry
  (``_cpu.small``), which checks the labels and runs the one chunk.
- **Other calls** reuse a remembered launch: what the general path hands the
  driver besides the arrays (``_execution.Launch``: kernels, weights, parameter
  tuples, chunks) depends only on the function, the scores' dtype and shape,
  the reduction's denominator, ``return_grad`` and top-k's ``k``. The first
  call of each such key goes the general way and its launch is recorded
  (``_execution.recorded``); later ones check the labels (the general path's
  label kernels) and ``out``, then run it (~4 µs of Python instead of ~15).
  Not for ``structured_hinge``'s cost, an array the general path validates.

Anything else, and a call whose labels are out of range (so that the error
is the general path's), goes the general way. All ways run the same
compiled chunk function with the same parameters: the results are bit
for bit the same (``tests/test_small.py``, ``tests/test_launches.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from . import _execution as ex
from . import _threading
from . import _validation as v
from ._buffers import new_gradient

F = TypeVar("F", bound=Callable[..., Any])

_FLOAT32, _FLOAT64, _INT64 = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64)
#: dtype -> its 1.0, whose product with a Python float is that float rounded to the
#: dtype (NumPy 2's promotion, NEP 50): ~0.09 µs, where ``dtype.type(x)`` takes
#: ~0.25. Empty under NumPy 1's promotion (the product would be float64).
ONES = {d: d.type(1.0) for d in (_FLOAT32, _FLOAT64) if type(np.float32(1.0) * 0.5) is np.float32}


@functools.cache
def entry(name: str) -> Callable[..., tuple]:
    """The compiled entry ``<name>_small`` (imports Numba on the first call only)."""
    from ._cpu import small

    return getattr(small, name + "_small")


#: What the second argument of each kind of entry is: its dtype (``None``: the
#: scores'), whether it has the scores' shape (else it is (N,)) and the check of
#: its values on a remembered launch (``None``: any value), ``check(labels,
#: n_classes, n_threads)`` → the first bad index or −1.
TARGETS: dict[str, tuple] = {
    "labels": (_INT64, False, lambda y, c, n: v.first_bad_class(y, c, v.NO_IGNORE, n)),
    "signs": (_INT64, False, lambda t, c, n: v.first_bad_binary(t, 1, -1, v.NO_IGNORE, n)),
    "numbers": (_INT64, False, None),
    "matrix": (None, True, None),
    "int64 matrix": (_INT64, True, lambda t, c, n: v.first_bad_target(t, n)),
}
#: name -> its entry, once looked up (a dict lookup: ``entry``'s cache took ~0.1 µs a call).
COMPILED: dict[str, Callable[..., tuple]] = {}
#: The keywords a call on the fast paths may have.
KEYWORDS = frozenset(("out", "reduction", "return_grad", "n_threads"))
#: The reductions a fast call may ask for, and whether their denominator is N
#: (else 1): with no sample weights and no ignored rows both of N's are N.
REDUCTIONS = {"mean": True, "sum_over_batch_size": True, "sum": False}
#: (function, dtype, shape, per-row denominator, return_grad, third argument) -> the
#: ``_execution.Launch`` its general call ran.
LAUNCHES: dict[tuple, ex.Launch] = {}
#: When this many are remembered, all are forgotten.
MAX_LAUNCHES = 256


#: What ``extra`` returns for a third argument the general path must check.
DECLINED = object()


def structured_cost(scores: np.ndarray, cost: Any) -> Any:
    """``cost`` for ``structured_hinge_small``, or ``DECLINED``.

    The cost must be a (C, C) array of the scores' dtype, C-contiguous, aligned
    and writeable; the entry checks its values.
    """
    n_classes = scores.shape[-1]
    usable = (
        type(cost) is np.ndarray
        and cost.dtype is scores.dtype
        and cost.shape == (n_classes, n_classes)
        and cost.flags.carray
    )
    return cost if usable else DECLINED


def topk_k(scores: np.ndarray, k: Any) -> Any:
    """``k`` for ``topk_hinge_small`` if it is a plain int in ``[1, C − 1]``, or ``DECLINED``."""
    return k if type(k) is int and 0 < k < scores.shape[-1] else DECLINED


def _valid_threads(n_threads: Any) -> bool:
    """Whether ``n_threads`` is one the general path accepts (``None`` or 1…max)."""
    return n_threads is None or (
        type(n_threads) is int and 1 <= n_threads <= _threading.max_threads()
    )


def small_path(
    name: str,
    constants: tuple = (),
    ndim: int = 2,
    targets: str = "labels",
    extra: Callable[..., Any] | None = None,
    remember: bool = True,
) -> Callable[..., Any]:
    """``run(func, scores, labels, value, kwargs)``: what ``func`` returns, or ``None``.

    ``func`` is called as ``func(scores, labels, **kwargs)``, or
    ``func(scores, labels, value, **kwargs)`` for a function with a third
    argument (``value`` is ignored for the others), and ``kwargs`` has no key
    but those of ``KEYWORDS``. ``None`` when the call is not for the fast paths
    (see the module's docstring) or a label is invalid. ``ndim`` is the
    scores', ``targets`` (a ``TARGETS`` key) what the second argument is, and
    ``constants`` follow the arrays in the entry's arguments (the binary
    losses' mode and parameters). ``extra``, for the function with a third
    argument, maps ``(scores, value)`` to the entry's last argument, or to
    ``DECLINED`` for a value the general path must check. ``remember``:
    whether larger calls reuse launches (not when the third argument is an
    array).
    """
    labels_dtype, full_shape, check_labels = TARGETS[targets]
    max_size = ex.CHUNK_ELEMENTS
    batch_denominator = ex.BATCH_DENOMINATOR.get
    ndarray = np.ndarray
    ones = ONES

    def run(func: Callable[..., Any], scores: Any, labels: Any, value: Any, kwargs: dict) -> Any:
        out, per_row, return_grad, n_threads = None, True, True, None
        if kwargs:
            out = kwargs.get("out")
            reduction = kwargs.get("reduction", "mean")
            if type(reduction) is not str or reduction not in REDUCTIONS:
                return None
            per_row = REDUCTIONS[reduction]
            return_grad, n_threads = kwargs.get("return_grad", True), kwargs.get("n_threads")
            if return_grad is not True and (return_grad is not False or out is not None):
                return None
            if n_threads is not None and not _valid_threads(n_threads):
                return None
        if type(scores) is not ndarray or type(labels) is not ndarray:
            return None
        dtype, shape = scores.dtype, scores.shape
        if len(shape) != ndim or (dtype is not _FLOAT32 and dtype is not _FLOAT64):
            return None
        n_rows, size = shape[0], scores.size
        if (
            labels.dtype is not (labels_dtype or dtype)
            or labels.shape != (shape if full_shape else (n_rows,))
            or not size
            or not scores.flags.carray
            or not labels.flags.carray
            or batch_denominator() is not None
            or (out is not None and not _usable_out(out, scores))
        ):
            return None
        if extra is not None:
            value = extra(scores, value)
            if value is DECLINED:
                return None
        denominator = float(n_rows) if per_row else 1.0
        if size <= max_size and return_grad:
            grad = np.empty(shape, dtype) if out is None else out
            compiled = COMPILED.get(name)
            if compiled is None:  # the first call (imports Numba)
                compiled = COMPILED[name] = entry(name)
            if constants:
                total, first_bad = compiled(scores, labels, grad, denominator, *constants)
            elif extra is not None:
                total, first_bad = compiled(scores, labels, grad, denominator, value)
            else:
                total, first_bad = compiled(scores, labels, grad, denominator)
            if first_bad != -1:  # a bad label, or out sharing memory with an input
                return None
            loss = float(total) / denominator  # (a NumPy float64 when run without the JIT)
            return (ones[dtype] * loss if ones else dtype.type(loss)), grad
        if not remember:
            return None
        key = (func, dtype, shape, per_row, return_grad, value if extra is not None else None)
        launch = LAUNCHES.get(key)
        if launch is None:  # the general path, once: its launch is remembered
            args = (scores, labels) if extra is None else (scores, labels, value)
            result, launch = ex.recorded(func, args, kwargs)
            if launch is not None:
                if len(LAUNCHES) >= MAX_LAUNCHES:
                    LAUNCHES.clear()
                LAUNCHES[key] = launch
            return result
        if check_labels is not None and check_labels(labels, shape[-1], n_threads) != -1:
            return None
        return _replay(launch, scores, labels, out, return_grad, n_threads, denominator)

    return run


def _replay(
    launch: ex.Launch, scores: np.ndarray, labels: np.ndarray, out: np.ndarray | None,
    return_grad: bool, n_threads: int | None, denominator: float,
) -> Any:  # fmt: skip
    """Run a remembered launch on checked inputs: what the public function returns.

    ``None`` (the general path raises) when ``out`` shares memory with an input.
    """
    dtype = scores.dtype
    if out is not None:
        if np.may_share_memory(out, scores) or np.may_share_memory(out, labels):
            return None
        grad = out
    elif return_grad:
        grad = new_gradient(scores.shape, dtype, scores)
    else:
        grad = ex.empty(dtype, scores.ndim)
    partials = ex.run_chunks(launch, scores, labels, grad, ex.empty(dtype), n_threads)
    loss = ex.chunk_total(partials) / denominator
    loss = ONES[dtype] * loss if ONES else dtype.type(loss)
    return (loss, grad) if return_grad else loss


def _usable_out(out: Any, scores: np.ndarray) -> bool:
    """Whether ``out`` has the type, dtype, shape and layout ``_validation.check_out`` asks for.

    Whether it shares memory with an input is the entry's test (compiled, it
    costs nothing; ``np.may_share_memory`` costs ~0.3 µs an input).
    """
    return (
        type(out) is np.ndarray
        and out.dtype is scores.dtype
        and out.shape == scores.shape
        and out.flags.carray
    )


def small_calls(
    name: str,
    *constants: float,
    ndim: int = 2,
    targets: str = "labels",
    extra: Callable[..., Any] | None = None,
    extra_name: str | None = None,
    remember: bool = True,
) -> Callable[[F], F]:
    """Send ``func(scores, labels)`` calls to the fast paths: small ones to the entry ``name``.

    ``constants`` are passed to the entry after the arrays; ``ndim`` is the
    scores' and ``targets`` (a ``TARGETS`` key) what the second argument is;
    a function with a third argument (``extra_name``: top-k's ``k``, by
    position or by name) maps it with ``extra`` (see ``small_path``);
    ``remember=False`` leaves larger calls to the general path.
    """
    run_fast = small_path(name, constants, ndim, targets, extra, remember)

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def two_arrays(*args: Any, **kwargs: Any) -> Any:
            if len(args) == 2 and (not kwargs or kwargs.keys() <= KEYWORDS):
                result = run_fast(func, args[0], args[1], None, kwargs)
                if result is not None:
                    return result
            return func(*args, **kwargs)

        @functools.wraps(func)
        def three(*args: Any, **kwargs: Any) -> Any:
            if len(args) == 3:
                small_kwargs, value = kwargs, args[2]
            elif len(args) == 2 and extra_name in kwargs:  # by name
                if len(kwargs) == 1:  # alone: no dict to copy
                    small_kwargs, value = {}, kwargs[extra_name]
                else:
                    small_kwargs = kwargs.copy()
                    value = small_kwargs.pop(extra_name)
            else:
                return func(*args, **kwargs)
            if not small_kwargs or small_kwargs.keys() <= KEYWORDS:
                result = run_fast(func, args[0], args[1], value, small_kwargs)
                if result is not None:
                    return result
            return func(*args, **kwargs)

        return three if extra_name else two_arrays  # type: ignore[return-value]

    return decorate
