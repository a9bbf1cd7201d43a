"""Public multiclass family: one-vs-all, cost matrices, top-k, categorical and multilabel."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _execution as ex
from . import _validation as v
from ._array_api import array_api
from ._device import on_device, on_gpu
from ._docstrings import shared_doc
from ._multiclass import (
    Multiclass,
    band_drivers,
    check_compact,
    compact_buffers,
    drivers,
    launch,
    validate,
)
from ._small import small_calls, structured_cost, topk_k

MARGIN_RESCALING, SLACK_RESCALING, TOPK_ALPHA, TOPK_BETA = 0, 1, 2, 3  # = _cpu.structured
#: One-vs-all per-class sums use at most this many row chunks (memory: chunks × C).
PER_CLASS_MAX_CHUNKS = 64


@small_calls("one_vs_all")
@array_api
@shared_doc
def one_vs_all(
    scores: Any,
    labels: Any,
    *,
    margin: float = 1.0,
    p: int = 1,
    normalize: bool = False,
    sample_weight: Any = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    kink: str = "zero",
    return_grad: bool = True,
    out: np.ndarray | None = None,
    n_threads: int | None = None,
) -> Any:
    """One-vs-all multiclass hinge: a binary hinge per class, +1 for the label, −1 elsewhere.

    For row ``i`` with label ``y`` and ``t_c = +1 if c = y else −1``::

        ℓ_i = Σ_c max(0, m − t_c·s_c)^p          (÷ C with normalize=True)

    ``reduction="per_class"`` returns the (C,) vector ``Σ_i w_i ℓ_ic / Σ_i w_i``
    of per-class means (torchmetrics' ``multiclass_mode="one-vs-all"``); its
    gradient is that of the vector's sum.

    Parameters
    ----------
    scores : array_like of shape (N, C), float32 or float64
        Class scores.
    labels : array_like of shape (N,), integer
        True class of each row, in ``[0, C)`` (or ``ignore_index``).
    margin : float, default 1.0
        The margin ``m``.
    p : {1, 2}, default 1
        1 for the hinge, 2 for the squared hinge.
    normalize : bool, default False
        Divide each row by ``C``: the mean over classes, as
        ``keras.losses.hinge(one_hot(y), s)`` computes it.
    {shared_keywords}
        ``reduction`` also accepts ``"per_class"`` here. ``ties`` is not a
        keyword here (there is no max).

    Returns
    -------
    {returns}

    Examples
    --------
    >>> import numpy as np, fasthinge as fh
    >>> loss, grad = fh.one_vs_all(np.array([[2.0, 0.5, -1.0]]), np.array([0]))
    >>> float(loss), grad.tolist()
    (1.5, [[0.0, 1.0, 0.0]])
    """
    if type(scores) is not np.ndarray and on_device(scores):
        return on_gpu("one_vs_all", locals())
    per_class = reduction == "per_class"
    normalize = v.check_flag(normalize, "normalize")
    mc = validate(
        scores, labels, margin=margin, p=p, class_weight=None, kink=kink, ties="first",
        ignore_index=ignore_index, sample_weight=sample_weight,
        reduction="mean" if per_class else reduction, return_grad=return_grad, out=out,
        n_threads=n_threads,
    )  # fmt: skip
    s = mc.call.scores
    n_rows, n_classes = s.shape
    norm = float(n_classes) if normalize else 1.0
    rows = ex.rows_per_chunk(n_classes, min_rows=ex.BAND_ROWS)
    if per_class:  # a bounded number of chunks, each with a float64 row of column sums
        rows = max(rows, -(-n_rows // PER_CLASS_MAX_CHUNKS))
        columns = np.zeros((-(-n_rows // rows), n_classes))
    else:
        columns = np.zeros((0, 0))
    kink_frac = s.dtype.type(v.KINK_FRACTIONS[kink])
    loss_params = (mc.margin, mc.p, s.dtype.type(norm), kink_frac)
    weights = (mc.call.sample_weight, columns)
    kernels = band_drivers("one_vs_all", "one_vs_all", mc.call)
    result = launch(kernels, mc, loss_params, weights, norm, rows)
    if not per_class:
        return result
    denominator = mc.call.denominator
    totals = columns.sum(axis=0) / denominator if denominator else np.full(n_classes, np.nan)
    totals = totals.astype(s.dtype)
    return (totals, result[1]) if mc.call.return_grad else totals


def _max_type(kind: int, scores: Any, labels: Any, *, margin: Any, k: int, cost: Any,
              compact: bool = False, **keywords: Any) -> Any:  # fmt: skip
    """Validate and run one of the ``_cpu.structured`` losses."""
    if compact:
        keywords["return_grad"] = False
    other_inputs = () if cost is None else (cost,)
    mc: Multiclass = validate(scores, labels, p=1, margin=margin, other_inputs=other_inputs,
                              **keywords)  # fmt: skip
    s = mc.call.scores
    n_classes = s.shape[1]
    if cost is None:
        cost_matrix = np.empty((0, 0), s.dtype)
    else:
        call = mc.call
        cost_matrix = v.as_cost_matrix(cost, n_classes, s.dtype, call.labels, call.ignore,
                                       call.n_threads)  # fmt: skip
    kink_mode = v.KINKS.index(mc.kink)
    kink_frac = s.dtype.type(v.KINK_FRACTIONS[mc.kink])
    loss_params = (mc.margin, kind, k, kink_mode, kink_frac, mc.split_ties)
    indices, values = compact_buffers(mc, k + 1 if compact else 0)
    weights = (mc.class_weight, mc.call.sample_weight, cost_matrix, indices, values)
    if kind in (TOPK_ALPHA, TOPK_BETA):  # each compiles its own walks
        kernels = drivers("structured", "topk")
    elif kind == MARGIN_RESCALING:  # bands (ties "first", not compact) may stage
        kernels = band_drivers("structured", "rescaling", mc.call)
    else:
        kernels = drivers("structured", "rescaling")
    result = launch(kernels, mc, loss_params, weights)
    return (result, (indices, values)) if compact else result


@small_calls("structured_hinge", extra=structured_cost, extra_name="cost", remember=False)
@array_api
@shared_doc
def structured_hinge(
    scores: Any,
    labels: Any,
    cost: Any,
    *,
    rescaling: str = "margin",
    margin: float = 1.0,
    class_weight: Any = None,
    sample_weight: Any = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    kink: str = "zero",
    ties: str = "first",
    return_grad: bool = True,
    out: np.ndarray | None = None,
    n_threads: int | None = None,
) -> Any:
    """Multiclass structured-SVM hinge with a task-loss (cost) matrix Δ.

    Tsochantaridis et al. (2005), for row ``i`` with label ``y``::

        margin rescaling:  ℓ_i = max(0, max_{j≠y} (Δ[y, j] + s_j) − s_y)
        slack rescaling:   ℓ_i = max_{j≠y} Δ[y, j] · max(0, m + s_j − s_y)

    A 0/1 cost (``1 − eye(C)``) with margin rescaling is Crammer–Singer. The
    subgradient is ``+1`` (slack: ``+Δ[y, j*]``) on the maximising ``j*`` and
    its opposite on ``y``.

    Parameters
    ----------
    scores : array_like of shape (N, C), float32 or float64
        Class scores.
    labels : array_like of shape (N,), integer
        True class of each row, in ``[0, C)`` (or ``ignore_index``).
    cost : array_like of shape (C, C)
        ``Δ[y, j]``: the cost of predicting ``j`` for true class ``y``; finite,
        ≥ 0, with a zero diagonal (checked in the rows the labels select, the
        only ones read).
    rescaling : {"margin", "slack"}, default "margin"
        How the cost enters the hinge (see above).
    margin : float, default 1.0
        The ``m`` of slack rescaling (margin rescaling takes its margins from Δ).
    class_weight : array_like of shape (C,), optional
        The weight of the true class multiplies the row's loss.
    {shared_keywords}

    Returns
    -------
    {returns}

    Examples
    --------
    >>> import numpy as np, fasthinge as fh
    >>> cost = np.array([[0.0, 1.0, 4.0], [1.0, 0.0, 1.0], [4.0, 1.0, 0.0]])
    >>> loss, grad = fh.structured_hinge(np.array([[1.0, 0.5, -2.0]]), np.array([0]), cost)
    >>> float(loss), grad.tolist()
    (1.0, [[-1.0, 0.0, 1.0]])
    """
    if type(scores) is not np.ndarray and on_device(scores):
        return on_gpu("structured_hinge", locals())
    kind = {"margin": MARGIN_RESCALING, "slack": SLACK_RESCALING}[
        v.check_choice(rescaling, "rescaling", ("margin", "slack"))
    ]
    return _max_type(
        kind, scores, labels, margin=margin, k=0, cost=cost, class_weight=class_weight,
        kink=kink, ties=ties, ignore_index=ignore_index, sample_weight=sample_weight,
        reduction=reduction, return_grad=return_grad, out=out, n_threads=n_threads,
    )  # fmt: skip


@small_calls("topk_hinge", extra=topk_k, extra_name="k")
@array_api
@shared_doc
def topk_hinge(
    scores: Any,
    labels: Any,
    k: int,
    *,
    variant: str = "alpha",
    margin: float = 1.0,
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
    """Top-k multiclass SVM losses of Lapin, Hein & Schiele, α and β.

    With ``h_j = m + s_j − s_y`` over the **wrong** classes only (``j ≠ y``)
    and ``T`` the ``k`` largest of them::

        α (NIPS 2015, "top-k SVM"):      ℓ = max(0, (1/k) Σ_{j∈T} h_j)
        β (CVPR 2016, "top-k SVM^β"):    ℓ = (1/k) Σ_{j∈T} max(0, h_j)

    Both equal Crammer–Singer at ``k = 1`` (gradients too, except at a kink
    with ``kink="half"``: here the kink takes ½ of the active subgradient, as
    the top-k hinge's own ``max(0, ·)`` does under ``jax.grad``, where
    ``crammer_singer`` lets the true class join a tie set); β ≥ α. The definitions follow the
    authors' code (mlapin/libsdca, ``l2_hinge_topk.h`` and
    ``l2_topk_hinge.h``: the true class is excluded from the sort). The
    subgradient puts ``+1/k`` (β: on active entries only) on each ``j ∈ T``
    and the opposite total on ``y``. A NaN score, or ``inf − inf`` from
    infinite scores, makes the row's loss and gradient NaN.

    Parameters
    ----------
    scores : array_like of shape (N, C), float32 or float64
        Class scores.
    labels : array_like of shape (N,), integer
        True class of each row, in ``[0, C)`` (or ``ignore_index``).
    k : int
        How many wrong classes count, ``1 ≤ k ≤ C − 1``.
    variant : {"alpha", "beta"}, default "alpha"
        α: hinge of the top-k mean; β: top-k mean of the hinges.
    margin : float, default 1.0
        The margin ``m``.
    class_weight : array_like of shape (C,), optional
        The weight of the true class multiplies the row's loss.
    {shared_keywords}
        ``ties`` decides membership of ``T`` when the k-th largest wrong score
        is tied: the lowest indices first, or an equal share each.
    compact : bool, default False
        Return the gradient as ``(indices, values)``, two (N, k + 1) arrays of
        each row's non-zero entries (index −1 marks an unused slot); needs
        ``ties="first"`` and no ``out``. See ``compact_matmul``.

    Returns
    -------
    {returns}

    Examples
    --------
    >>> import numpy as np, fasthinge as fh
    >>> S = np.array([[0.0, 4.0, -4.0]])
    >>> float(fh.topk_hinge(S, np.array([0]), 2, return_grad=False))
    1.0
    >>> float(fh.topk_hinge(S, np.array([0]), 2, variant="beta", return_grad=False))
    2.5
    """
    if type(scores) is not np.ndarray and on_device(scores):
        return on_gpu("topk_hinge", locals())
    kind = {"alpha": TOPK_ALPHA, "beta": TOPK_BETA}[
        v.check_choice(variant, "variant", ("alpha", "beta"))
    ]
    n_classes = np.shape(scores)[-1] if np.ndim(scores) == 2 else None
    k = v.check_k(k, n_classes)
    compact = check_compact(compact, ties, out, return_grad)
    return _max_type(
        kind, scores, labels, margin=margin, k=k, cost=None, compact=compact,
        class_weight=class_weight,
        kink=kink, ties=ties, ignore_index=ignore_index, sample_weight=sample_weight,
        reduction=reduction, return_grad=return_grad, out=out, n_threads=n_threads,
    )  # fmt: skip


@small_calls("categorical_hinge", targets="matrix")
@array_api
@shared_doc
def categorical_hinge(
    scores: Any,
    targets: Any,
    *,
    margin: float = 1.0,
    sample_weight: Any = None,
    reduction: str = "mean",
    kink: str = "half",
    ties: str = "split",
    return_grad: bool = True,
    out: np.ndarray | None = None,
    n_threads: int | None = None,
) -> Any:
    """Keras' categorical hinge on (N, C) targets (one-hot or soft), floor included.

    Exactly ``keras.losses.categorical_hinge``::

        pos = Σ_c t_c s_c,   neg = max_c (1 − t_c) s_c,   ℓ = max(0, neg − pos + m)

    With one-hot targets the true class enters ``neg`` as ``0·s_y = 0``, so
    ``neg = max(0, max_{j≠y} s_j)``: this equals Crammer–Singer only when the
    best wrong score is ≥ 0 (keras-team/keras#8083). Use ``crammer_singer``
    for the unfloored loss.

    Parameters
    ----------
    scores : array_like of shape (N, C), float32 or float64
        Class scores.
    targets : array_like of shape (N, C), real
        One-hot or soft targets (cast to the scores' dtype).
    margin : float, default 1.0
        The constant ``m`` (Keras uses 1).
    {shared_keywords}
        The defaults ``kink="half"``, ``ties="split"`` give ``jax.grad``'s
        gradient (Keras on JAX). There is no ``ignore_index``.

    Returns
    -------
    {returns}

    Examples
    --------
    >>> import numpy as np, fasthinge as fh
    >>> loss = fh.categorical_hinge(np.array([[-3.0, -5.0]]), np.array([[1.0, 0.0]]),
    ...                             return_grad=False)
    >>> float(loss)  # keras-team/keras#8083; crammer_singer gives 0
    4.0
    """
    if type(scores) is not np.ndarray and on_device(scores):
        return on_gpu("categorical_hinge", locals())
    s = v.as_scores(scores, 2)
    t = v.as_target_matrix(targets, s.shape, s.dtype)
    m = v.check_margin(margin, s.dtype)
    v.check_choice(kink, "kink", v.KINKS)
    split_ties = v.check_choice(ties, "ties", v.TIES) == "split"
    call = ex.prepare(
        s, t, sample_weight=sample_weight, reduction=reduction, ignore=v.NO_IGNORE,
        return_grad=return_grad, out=out, n_threads=n_threads,
        originals=(scores, targets, sample_weight),
    )  # fmt: skip
    g_const, grad_denom = ex.gradient_denominator(call)
    rows = ex.rows_per_chunk(s.shape[1], min_rows=ex.BAND_ROWS)
    kink_frac = s.dtype.type(v.KINK_FRACTIONS[kink])
    params = (m, kink_frac, split_ties, g_const, grad_denom, rows)
    kernels = band_drivers("targets", "categorical_hinge", call)
    return ex.run(call, kernels, (call.sample_weight,), params, rows)


@small_calls("multilabel_margin", targets="int64 matrix")
@array_api
@shared_doc
def multilabel_margin(
    scores: Any,
    targets: Any,
    *,
    margin: float = 1.0,
    nan: str = "propagate",
    sample_weight: Any = None,
    reduction: str = "mean",
    kink: str = "zero",
    return_grad: bool = True,
    out: np.ndarray | None = None,
    n_threads: int | None = None,
) -> Any:
    """PyTorch ``MultiLabelMarginLoss``: every target class against every non-target class.

    For row ``i`` with target classes ``T`` (read from ``targets[i]`` up to the
    first −1, as PyTorch does)::

        ℓ_i = Σ_{t ∈ T} Σ_{d ∉ T} max(0, m − s_t + s_d) / C

    computed in PyTorch's order (``(m − s_t) + s_d``, targets in their order,
    classes ascending), so values and gradients match PyTorch's CPU kernel.

    Parameters
    ----------
    scores : array_like of shape (N, C), float32 or float64
        Class scores.
    targets : array_like of shape (N, C), integer
        Target class indices, ended by −1 (entries after it are ignored but
        must still lie in ``[−1, C)``). int32 and int64 are read as they are
        (int32 halves the targets' traffic); other integer dtypes are copied
        to int64.
    margin : float, default 1.0
        The margin ``m`` (PyTorch: 1).
    nan : {"propagate", "drop"}, default "propagate"
        ``"drop"`` skips NaN terms (loss 0, no gradient), as PyTorch does.
    {shared_keywords}
        There is no ``ignore_index`` or ``ties`` here.

    Returns
    -------
    {returns}

    Examples
    --------
    >>> import numpy as np, fasthinge as fh
    >>> x = np.array([[0.1, 0.2, 0.4, 0.8]], dtype=np.float32)
    >>> y = np.array([[3, 0, -1, 1]])
    >>> round(float(fh.multilabel_margin(x, y, return_grad=False)), 6)  # PyTorch's docstring: 0.85
    0.85
    """
    if type(scores) is not np.ndarray and on_device(scores):
        return on_gpu("multilabel_margin", locals())
    s = v.as_scores(scores, 2)
    t = v.as_multilabel_targets(targets, s.shape, v.n_threads_of(n_threads))
    m = v.check_margin(margin, s.dtype)
    v.check_choice(kink, "kink", v.KINKS)
    drop_nan = v.check_choice(nan, "nan", ("propagate", "drop")) == "drop"
    call = ex.prepare(
        s, t, sample_weight=sample_weight, reduction=reduction, ignore=v.NO_IGNORE,
        return_grad=return_grad, out=out, n_threads=n_threads,
        originals=(scores, targets, sample_weight),
    )  # fmt: skip
    g_const, grad_denom = ex.gradient_denominator(call, float(max(1, s.shape[1])))
    rows = ex.rows_per_chunk(s.shape[1], min_rows=ex.BAND_ROWS)  # long rows: bands too
    params = (m, s.dtype.type(v.KINK_FRACTIONS[kink]), drop_nan, g_const, grad_denom, rows)
    long_rows = s.shape[1] > _multilabel_band_max_classes()  # drivers with column blocks
    if long_rows:
        kernels = drivers("targets", "multilabel_margin_long")
    else:
        kernels = band_drivers("targets", "multilabel_margin", call)
    return ex.run(call, kernels, (call.sample_weight,), params, rows)


def _multilabel_band_max_classes() -> int:
    """``_cpu.targets.MULTILABEL_BAND_MAX_CLASSES`` (the module is imported by then)."""
    from ._cpu.targets import MULTILABEL_BAND_MAX_CLASSES

    return MULTILABEL_BAND_MAX_CLASSES
