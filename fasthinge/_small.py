"""Small calls: ``f(scores, labels)`` on a small NumPy batch in one compiled call.

A call with (nearly) every keyword at its default pays, on the general path, about
15 µs of Python (validation, buffers, dispatch of seven arguments) around a
kernel that needs 2–4 µs at (256, 10). The ``small_calls`` decorator sends
such a call straight to the loss's compiled entry (``_cpu.small``), which
checks the labels and runs the one chunk, when all of this holds:

- ``(scores, labels)`` by position (``topk_hinge``: and ``k``, by position or
  name, a plain int in ``[1, C − 1]``; ``structured_hinge``: and ``cost``, a (C, C)
  array of the scores' dtype, C-contiguous, aligned and writeable, its values checked
  in the entry), and no other keyword but ``out`` and ``reduction``
  (``"mean"``, ``"sum"`` or ``"sum_over_batch_size"``);
- ``scores`` is an ``np.ndarray`` of dtype float32 or float64 (native byte
  order), 2-D (1-D for the binary losses), C-contiguous, aligned and
  writeable, with ``0 < N·C ≤ CHUNK_ELEMENTS`` (one chunk: the general path
  would run it serially too);
- ``labels`` is an int64 ``np.ndarray`` of shape (N,) (for the categorical
  hinge: (N, C) targets of the scores' dtype; for the multilabel margin: (N, C)
  int64 targets), C-contiguous, aligned and writeable;
- ``out``, if given, is an ``np.ndarray`` of the scores' shape and dtype,
  C-contiguous, aligned and writeable, sharing no memory with the inputs;
- no ``fasthinge.dask`` batch denominator is in effect.

Anything else, and a call whose labels are out of range (so that the error
is the general path's), goes the general way. Both ways run the same
compiled chunk function with the same parameters: the results are bit
for bit the same (``tests/test_small.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from . import _execution as ex

F = TypeVar("F", bound=Callable[..., Any])

_FLOAT32, _FLOAT64, _INT64 = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64)


@functools.cache
def entry(name: str) -> Callable[..., tuple]:
    """The compiled entry ``<name>_small`` (imports Numba on the first call only)."""
    from ._cpu import small

    return getattr(small, name + "_small")


#: What the second argument of each kind of entry is: its dtype (``None``: the
#: scores') and whether it has the scores' shape (else it is (N,)).
TARGETS = {"labels": (_INT64, False), "matrix": (None, True), "int64 matrix": (_INT64, True)}
#: name -> its entry, once looked up (a dict lookup: ``entry``'s cache took ~0.1 µs a call).
COMPILED: dict[str, Callable[..., tuple]] = {}
#: The keywords a small call may have.
KEYWORDS = frozenset(("out", "reduction"))
#: The reductions a small call may ask for, and whether their denominator is N
#: (else 1): with no sample weights and no ignored rows both of N's are N.
REDUCTIONS = {"mean": True, "sum_over_batch_size": True, "sum": False}


def structured_cost(scores: np.ndarray, cost: Any) -> tuple | None:
    """``(cost,)`` for ``structured_hinge_small``, or ``None``.

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
    return (cost,) if usable else None


def topk_k(scores: np.ndarray, k: Any) -> tuple | None:
    """``(k,)`` for ``topk_hinge_small`` if ``k`` is a plain int in ``[1, C − 1]``, or ``None``."""
    return (k,) if type(k) is int and 0 < k < scores.shape[-1] else None


def small_path(
    name: str,
    constants: tuple = (),
    ndim: int = 2,
    targets: str = "labels",
    extra: Callable[..., tuple | None] | None = None,
) -> Callable[..., tuple | None]:
    """``run(args, kwargs)``: ``(loss, grad)`` of ``f(*args, **kwargs)``, or ``None``.

    ``args`` is ``(scores, labels)``, or ``(scores, labels, value)`` for a
    function with a third argument, ``kwargs`` has no key but ``out`` and
    ``reduction``. ``None`` when the call is not small (see the module's
    docstring) or a label is invalid. ``ndim`` is the scores', ``targets`` (a
    ``TARGETS`` key) what the second argument is, and ``constants`` follow the
    arrays in the entry's arguments (the binary losses' mode and parameters).
    ``extra``, for the function with a third argument (top-k's ``k``), maps
    ``(scores, value)`` to the entry's arguments before ``constants``, or to
    ``None`` for a value the general path must check.
    """
    labels_dtype, full_shape = TARGETS[targets]
    max_size = ex.CHUNK_ELEMENTS
    batch_denominator = ex.BATCH_DENOMINATOR.get
    ndarray = np.ndarray

    def run(args: tuple, kwargs: dict) -> tuple | None:
        scores, labels = args[0], args[1]
        out, per_row = None, True
        if kwargs:
            out = kwargs.get("out")
            reduction = kwargs.get("reduction", "mean")
            if type(reduction) is not str or reduction not in REDUCTIONS:
                return None
            per_row = REDUCTIONS[reduction]
        if type(scores) is not ndarray or type(labels) is not ndarray:
            return None
        dtype, shape = scores.dtype, scores.shape
        if len(shape) != ndim or (dtype is not _FLOAT32 and dtype is not _FLOAT64):
            return None
        n_rows = shape[0]
        if (
            labels.dtype is not (labels_dtype or dtype)
            or labels.shape != (shape if full_shape else (n_rows,))
            or not 0 < scores.size <= max_size
            or not scores.flags.carray
            or not labels.flags.carray
            or batch_denominator() is not None
        ):
            return None
        if out is None:
            grad = np.empty(shape, dtype)
        elif _usable_out(out, scores):
            grad = out  # the entry checks that it shares no memory with an input
        else:
            return None
        compiled = COMPILED.get(name)
        if compiled is None:  # the first call (imports Numba)
            compiled = COMPILED[name] = entry(name)
        denominator = float(n_rows) if per_row else 1.0
        if extra is None and not constants:  # (no argument tuple to build: ~0.1 µs)
            total, first_bad = compiled(scores, labels, grad, denominator)
        else:
            arguments = extra(scores, args[2]) if extra is not None else ()
            if arguments is None:
                return None
            total, first_bad = compiled(scores, labels, grad, denominator, *arguments, *constants)
        if first_bad != -1:  # a bad label, or out sharing memory with an input
            return None
        return dtype.type(total / denominator), grad

    return run


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
    extra: Callable[..., tuple | None] | None = None,
    extra_name: str | None = None,
) -> Callable[[F], F]:
    """Send ``func(scores, labels)`` calls on small batches to the compiled entry ``name``.

    ``constants`` are passed to the entry after the arrays; ``ndim`` is the
    scores' and ``targets`` (a ``TARGETS`` key) what the second argument is;
    a function with a third argument (``extra_name``: top-k's ``k``, by
    position or by name) maps it with ``extra`` (see ``small_path``).
    """
    run_small = small_path(name, constants, ndim, targets, extra)

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def two_arrays(*args: Any, **kwargs: Any) -> Any:
            if len(args) == 2 and (not kwargs or kwargs.keys() <= KEYWORDS):
                result = run_small(args, kwargs)
                if result is not None:
                    return result
            return func(*args, **kwargs)

        @functools.wraps(func)
        def three(*args: Any, **kwargs: Any) -> Any:
            small_args, small_kwargs = args, kwargs
            if len(args) == 2 and extra_name in kwargs:  # by name
                if len(kwargs) == 1:  # alone: no dict to copy
                    small_args, small_kwargs = (*args, kwargs[extra_name]), {}
                else:
                    small_kwargs = kwargs.copy()
                    small_args = (*args, small_kwargs.pop(extra_name))
            if len(small_args) == 3 and (not small_kwargs or small_kwargs.keys() <= KEYWORDS):
                result = run_small(small_args, small_kwargs)
                if result is not None:
                    return result
            return func(*args, **kwargs)

        return three if extra_name else two_arrays  # type: ignore[return-value]

    return decorate
