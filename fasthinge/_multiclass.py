"""Public multiclass losses: Weston–Watkins and Crammer–Singer (validate, dispatch, reduce)."""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _execution as ex
from . import _validation as v
from ._array_api import array_api
from ._device import on_device, on_gpu
from ._docstrings import shared_doc
from ._small import small_calls


@functools.cache
def drivers(module: str, name: str) -> tuple:
    """The (serial, parallel) drivers ``name`` of ``fasthinge._cpu.<module>``.

    Imports the kernel module (and Numba) on the first call only.
    """
    kernels = importlib.import_module(f"fasthinge._cpu.{module}")
    return getattr(kernels, name + "_serial"), getattr(kernels, name + "_parallel")


def band_drivers(module: str, name: str, call: ex.Call) -> tuple:
    """``drivers(module, name)``, or the ``<name>_staged`` pair where the call's bands stage.

    Bands of some losses stage their gradient blocks beyond the cache
    (``_cpu._rows.stages_gradient``); only the staged drivers compile that
    code, so calls that never take it never compile it.
    """
    from ._cpu._rows import stages_gradient

    staged = stages_gradient(name, call.scores, call.grad)
    return drivers(module, f"{name}_staged" if staged else name)


@dataclass
class Multiclass:
    """A validated multiclass call: the shared part and the loss's common scalars."""

    call: ex.Call
    margin: np.floating
    p: int
    class_weight: np.ndarray
    kink: str
    split_ties: bool


def validate(
    scores: Any,
    labels: Any,
    *,
    margin: Any,
    p: Any,
    class_weight: Any,
    kink: str,
    ties: str,
    ignore_index: Any,
    other_inputs: tuple = (),
    **shared: Any,
) -> Multiclass:
    """Check every argument (before any kernel runs) and allocate the outputs.

    ``other_inputs``: the loss's further input arrays (a cost matrix), which
    ``out`` must not overlap either.
    """
    s = v.as_scores(scores, 2)
    n_rows, n_classes = s.shape
    ignore = v.check_ignore_index(ignore_index)
    n_threads = v.n_threads_of(shared.get("n_threads"))  # the label check's too
    y = v.as_class_labels(labels, n_rows, n_classes, ignore, n_threads)
    m = v.check_margin(margin, s.dtype)
    p = v.check_p(p)
    v.check_choice(kink, "kink", v.KINKS)
    split_ties = v.check_choice(ties, "ties", v.TIES) == "split"
    if class_weight is None:
        w = ex.ones(n_classes, s.dtype)
    else:
        w = v.as_weight(class_weight, "class_weight", n_classes, s.dtype)
    originals = (scores, labels, class_weight, shared.get("sample_weight"), *other_inputs)
    call = ex.prepare(s, y, ignore=ignore, originals=originals, **shared)
    return Multiclass(call, m, p, w, kink, split_ties)


def launch(
    kernels: tuple, mc: Multiclass, loss_params: tuple, weights: tuple | None = None,
    norm: float = 1.0, rows: int | None = None,
) -> Any:  # fmt: skip
    """Run ``kernels`` with the loss's scalars ``loss_params`` and reduce.

    ``weights`` defaults to ``(class_weight, sample_weight)``; ``norm`` divides
    every row (and its gradient); ``rows`` overrides the rows per chunk.
    """
    call = mc.call
    g_const, grad_denom = ex.gradient_denominator(call, norm)
    rows = rows or ex.rows_per_chunk(call.scores.shape[1], min_rows=ex.BAND_ROWS)
    params = (*loss_params, g_const, grad_denom, call.ignore, rows)
    weights = (mc.class_weight, call.sample_weight) if weights is None else weights
    return ex.run(call, kernels, weights, params, rows)


@small_calls("weston_watkins")
@array_api
@shared_doc
def weston_watkins(
    scores: Any,
    labels: Any,
    *,
    margin: float = 1.0,
    p: int = 1,
    class_weight: Any = None,
    normalize: bool = True,
    nan: str = "propagate",
    sample_weight: Any = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    kink: str = "zero",
    ties: str = "first",
    return_grad: bool = True,
    out: np.ndarray | None = None,
    n_threads: int | None = None,
) -> Any:
    """Weston–Watkins multiclass hinge (PyTorch ``MultiMarginLoss``, CS231n SVM) and its gradient.

    For row ``i`` with label ``y`` and ``z_j = (m − s_y) + s_j``::

        ℓ_i = w[y] · Σ_{j ≠ y} max(0, z_j)^p  / C      (normalize=True, PyTorch)
        ℓ_i = w[y] · Σ_{j ≠ y} max(0, z_j)^p           (normalize=False, CS231n)

    The gradient is ``w[y]·(1 or 2 z_j)`` (÷C) on each violating ``j`` and
    minus their sum on ``y``; loss and gradient come from one pass over the
    scores.

    Parameters
    ----------
    scores : array_like of shape (N, C), float32 or float64
        Class scores. Other dtypes raise ``TypeError``; non-contiguous or
        byte-swapped arrays are copied. The result has the same dtype.
    labels : array_like of shape (N,), integer
        True class of each row, in ``[0, C)`` (or ``ignore_index``).
    margin : float, default 1.0
        The margin ``m``, rounded to the scores' dtype (as PyTorch does).
    p : {1, 2}, default 1
        1 for the hinge, 2 for the squared hinge.
    class_weight : array_like of shape (C,), optional
        ``w``: the weight of the **true** class multiplies the row's terms,
        after the power (PyTorch's ``weight``).
    normalize : bool, default True
        Divide each row by ``C`` (PyTorch) or not (CS231n, Weston & Watkins).
    nan : {"propagate", "drop"}, default "propagate"
        ``"propagate"``: a NaN score makes its row's loss and gradient NaN.
        ``"drop"``: a NaN term counts as satisfied (0), as PyTorch eager does
        because it tests ``z > 0``.
    {shared_keywords}

    Returns
    -------
    {returns}

    See Also
    --------
    crammer_singer : the max-violator form.

    Notes
    -----
    With the defaults this is ``torch.nn.functional.multi_margin_loss`` with
    the same ``p``, ``margin``, ``weight=class_weight`` and ``reduction``, loss
    and gradient, computed in the same order (bit-identical rows; the mean is
    accumulated in float64 as PyTorch's CPU kernel does). PyTorch returns
    uninitialised memory for an empty batch; here ``"mean"`` is NaN.

    Examples
    --------
    >>> import numpy as np, fasthinge as fh
    >>> loss, grad = fh.weston_watkins(np.array([[0.1, 0.2, 0.4, 0.8]]), np.array([3]))
    >>> float(loss), grad.tolist()
    (0.32499999999999996, [[0.25, 0.25, 0.25, -0.75]])
    """
    if type(scores) is not np.ndarray and on_device(scores):
        return on_gpu("weston_watkins", locals())
    v.check_choice(nan, "nan", ("propagate", "drop"))
    normalize = v.check_flag(normalize, "normalize")
    mc = validate(
        scores, labels, margin=margin, p=p, class_weight=class_weight, kink=kink, ties=ties,
        ignore_index=ignore_index, sample_weight=sample_weight, reduction=reduction,
        return_grad=return_grad, out=out, n_threads=n_threads,
    )  # fmt: skip
    dtype = mc.call.scores.dtype
    norm = float(mc.call.scores.shape[1]) if normalize else 1.0
    kink_frac = dtype.type(v.KINK_FRACTIONS[kink])
    loss_params = (mc.margin, mc.p, dtype.type(norm), kink_frac, nan == "drop")
    return launch(band_drivers("multiclass", "weston_watkins", mc.call), mc, loss_params, norm=norm)


@small_calls("crammer_singer")
@array_api
@shared_doc
def crammer_singer(
    scores: Any,
    labels: Any,
    *,
    margin: float = 1.0,
    p: int = 1,
    class_weight: Any = None,
    sample_weight: Any = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    kink: str = "zero",
    ties: str = "first",
    return_grad: bool = True,
    out: np.ndarray | None = None,
    n_threads: int | None = None,
    compact: bool = False,
) -> Any:
    """Crammer–Singer multiclass hinge (scikit-learn ``hinge_loss``, liblinear) and its gradient.

    For row ``i`` with label ``y``::

        ℓ_i = w[y] · max(0, m − (s_y − max_{j ≠ y} s_j))^p

    Satisfied rows are exactly 0. When the row is active the gradient is
    ``+w[y]·(1 or 2ℓ)`` on the best wrong class and the opposite on ``y``.

    Parameters
    ----------
    scores : array_like of shape (N, C), float32 or float64
        Class scores. Other dtypes raise ``TypeError``; non-contiguous or
        byte-swapped arrays are copied. The result has the same dtype.
    labels : array_like of shape (N,), integer
        True class of each row, in ``[0, C)`` (or ``ignore_index``).
    margin : float, default 1.0
        The margin ``m`` (scikit-learn and liblinear use 1), rounded to the
        scores' dtype.
    p : {1, 2}, default 1
        1 for the hinge, 2 for the squared hinge.
    class_weight : array_like of shape (C,), optional
        The weight of the true class multiplies the row's loss.
    {shared_keywords}
    compact : bool, default False
        Return the gradient as ``(indices, values)``, two (N, 2) arrays holding
        each row's non-zero entries (index −1 marks an unused slot) instead
        of an (N, C) matrix: a third of the memory traffic. Needs
        ``ties="first"`` and no ``out``. See ``compact_matmul`` for ``Xᵀ·G``.

    Returns
    -------
    {returns}

    See Also
    --------
    weston_watkins : the sum-over-violators form.
    compact_matmul : ``Xᵀ·G`` from a compact gradient.

    Notes
    -----
    ``crammer_singer(S, y, sample_weight=w)`` equals
    ``sklearn.metrics.hinge_loss(y, S, labels=np.arange(C), sample_weight=w)``
    for ``C ≥ 3`` (scikit-learn computes ``1 − (s_y − max)`` in the same
    order). NaN in a row makes its loss NaN and puts NaN on the gradient of
    ``y`` and of the max's index (the first NaN wrong score if there is one,
    else the best wrong class). A row of a single class (C = 1) has loss 0.
    ``kink="half"`` counts ``y`` as one more member of the tie set of the
    max, as ``jax.grad`` does: ½ with one best wrong class, ``k/(k+1)`` with
    ``ties="split"`` and ``k`` tied ones.

    Examples
    --------
    >>> import numpy as np, fasthinge as fh
    >>> S = np.array([[2.0, 1.5, -1.0], [0.0, 3.0, 1.0]])
    >>> loss, grad = fh.crammer_singer(S, np.array([0, 1]), reduction="none")
    >>> loss.tolist(), grad.tolist()
    ([0.5, 0.0], [[-1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    """
    if type(scores) is not np.ndarray and on_device(scores):
        return on_gpu("crammer_singer", locals())
    compact = check_compact(compact, ties, out, return_grad)
    mc = validate(
        scores, labels, margin=margin, p=p, class_weight=class_weight, kink=kink, ties=ties,
        ignore_index=ignore_index, sample_weight=sample_weight, reduction=reduction,
        return_grad=False if compact else return_grad, out=out, n_threads=n_threads,
    )  # fmt: skip
    kink_mode = v.KINKS.index(kink)
    loss_params = (mc.margin, mc.p, kink_mode, mc.split_ties)
    kernels = band_drivers("multiclass", "crammer_singer", mc.call)
    if not compact:
        weights = (mc.class_weight, mc.call.sample_weight, *compact_buffers(mc, 0))
        return launch(kernels, mc, loss_params, weights)
    indices, values = compact_buffers(mc, 2)
    weights = (mc.class_weight, mc.call.sample_weight, indices, values)
    return launch(kernels, mc, loss_params, weights), (indices, values)


def check_compact(compact: Any, ties: str, out: Any, return_grad: Any) -> bool:
    """Whether a compact gradient is asked for, and legal with the other keywords."""
    if not v.check_flag(compact, "compact"):
        return False
    if ties != "first":
        raise ValueError(
            f"compact=True needs ties='first' (split ties have no bound), got {ties!r}"
        )
    if out is not None or return_grad is not True:
        raise ValueError("compact=True returns its own (indices, values): no out, return_grad=True")
    return True


def compact_buffers(mc: Multiclass, width: int) -> tuple:
    """(indices, values) of ``width`` slots per row, or (0, 0) placeholders for ``width=0``."""
    n_rows = mc.call.scores.shape[0] if width else 0
    return np.empty((n_rows, width), np.int64), np.empty((n_rows, width), mc.call.scores.dtype)
