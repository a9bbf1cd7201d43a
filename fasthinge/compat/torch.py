"""PyTorch's hinge losses with PyTorch's names, signatures and values (NumPy in and out).

``multi_margin_loss``, ``multilabel_margin_loss`` and ``hinge_embedding_loss``
(and the ``MultiMarginLoss``, ``MultiLabelMarginLoss`` and
``HingeEmbeddingLoss`` modules) reproduce ``torch.nn.functional`` on the CPU,
eager: NaN terms are dropped by ``multi_margin_loss`` (its ``z > 0`` test),
the kink gets a zero gradient in the native kernels and the full slope in
``hinge_embedding_loss`` (``clamp_min``). Unlike PyTorch, an empty batch gives
NaN for ``"mean"`` (PyTorch returns uninitialised memory) and an
out-of-range target raises ``ValueError``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import fasthinge as fh

from ._common import as_float_array, finish, legacy_reduction


def multi_margin_loss(
    input: Any,
    target: Any,
    p: int = 1,
    margin: float = 1.0,
    weight: Any = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    *,
    return_grad: bool = False,
) -> Any:
    """``torch.nn.functional.multi_margin_loss``: ``fasthinge.weston_watkins`` with ``nan="drop"``.

    Parameters
    ----------
    input : array_like of shape (N, C) or (C,)
        Scores (float32 or float64).
    target : array_like of shape (N,) or ()
        Class indices.
    p, margin, weight, size_average, reduce, reduction
        As in PyTorch (``weight`` is the per-class weight of the true class).
    return_grad : bool, default False
        Also return the gradient PyTorch's autograd gives (of the sum for
        ``"none"``).

    Returns
    -------
    loss : ndarray
        0-d for ``"mean"``/``"sum"`` (and for a (C,) input), else (N,).
    grad : ndarray
        With ``return_grad=True``: the gradient, shaped like ``input``.

    Examples
    --------
    >>> from fasthinge.compat import torch as ft
    >>> float(ft.multi_margin_loss([[0.1, 0.2, 0.4, 0.8]], [3]))
    0.32499999999999996
    """
    x = as_float_array(input, "input")
    y = np.asarray(target)
    reduction = legacy_reduction(size_average, reduce, reduction)
    scores = x.reshape(1, -1) if x.ndim <= 1 else x
    loss, grad = fh.weston_watkins(
        scores, y.reshape(-1), p=p, margin=margin, class_weight=weight, nan="drop",
        reduction=reduction,
    )  # fmt: skip
    if x.ndim <= 1:
        loss = np.asarray(loss).reshape(())
    return finish(np.asarray(loss), grad, return_grad, x.shape)


def multilabel_margin_loss(
    input: Any,
    target: Any,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    *,
    return_grad: bool = False,
) -> Any:
    """``torch.nn.functional.multilabel_margin_loss``: ``fasthinge.multilabel_margin``.

    Parameters
    ----------
    input : array_like of shape (N, C) or (C,)
        Scores.
    target : array_like, same shape, integer
        Target class indices, ended by −1.
    size_average, reduce, reduction
        As in PyTorch.
    return_grad : bool, default False
        Also return PyTorch's autograd gradient.

    Returns
    -------
    loss : ndarray
        0-d for ``"mean"``/``"sum"`` and for a (C,) input, else (N,).
    grad : ndarray
        With ``return_grad=True``.

    Examples
    --------
    >>> from fasthinge.compat import torch as ft
    >>> round(float(ft.multilabel_margin_loss([[0.1, 0.2, 0.4, 0.8]], [[3, 0, -1, 1]])), 6)
    0.85
    """
    x = as_float_array(input, "input")
    t = np.asarray(target)
    reduction = legacy_reduction(size_average, reduce, reduction)
    scores = x.reshape(1, -1) if x.ndim <= 1 else x
    loss, grad = fh.multilabel_margin(scores, t.reshape(scores.shape), nan="drop",
                                      reduction=reduction)  # fmt: skip
    if x.ndim <= 1:
        loss = np.asarray(loss).reshape(())
    return finish(np.asarray(loss), grad, return_grad, x.shape)


def hinge_embedding_loss(
    input: Any,
    target: Any,
    margin: float = 1.0,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    *,
    return_grad: bool = False,
) -> Any:
    """``torch.nn.functional.hinge_embedding_loss``: ``fasthinge.hinge_embedding``, any shape.

    Parameters
    ----------
    input : array_like, any shape
        The inputs ``x``.
    target : array_like, same shape
        1, −1 or (as PyTorch allows) anything else, which adds both terms.
    margin, size_average, reduce, reduction
        As in PyTorch.
    return_grad : bool, default False
        Also return PyTorch's autograd gradient.

    Returns
    -------
    loss : ndarray
        0-d for ``"mean"``/``"sum"``, else ``input``'s shape.
    grad : ndarray
        With ``return_grad=True``.

    Examples
    --------
    >>> from fasthinge.compat import torch as ft
    >>> float(ft.hinge_embedding_loss([0.3, 0.7], [1.0, 0.0], reduction="sum"))
    1.3
    """
    x = as_float_array(input, "input")
    t = np.broadcast_to(np.asarray(target), x.shape)
    reduction = legacy_reduction(size_average, reduce, reduction)
    flat_x, flat_t = x.reshape(-1), t.reshape(-1)
    loss, grad = fh.hinge_embedding(flat_x, flat_t, margin=margin, kink="full",
                                    reduction=reduction)  # fmt: skip
    # autograd at a NaN input: the linear term passes its slope, clamp_min's mask 0
    nan_at = np.isnan(flat_x)
    slope = 1 / max(1, flat_x.size) if reduction == "mean" else 1
    grad[nan_at] = np.where(flat_t[nan_at] != -1, grad.dtype.type(slope), 0)
    loss = np.asarray(loss).reshape(x.shape) if reduction == "none" else np.asarray(loss)
    return finish(loss, grad, return_grad, x.shape)


class MultiMarginLoss:
    """``torch.nn.MultiMarginLoss(p, margin, weight, reduction)`` semantics.

    Examples
    --------
    >>> from fasthinge.compat.torch import MultiMarginLoss
    >>> float(MultiMarginLoss()([[0.1, 0.2, 0.4, 0.8]], [3]))
    0.32499999999999996
    """

    def __init__(
        self,
        p: int = 1,
        margin: float = 1.0,
        weight: Any = None,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
    ):
        self.p, self.margin, self.weight = p, margin, weight
        self.reduction = legacy_reduction(size_average, reduce, reduction)

    def __call__(self, input: Any, target: Any, *, return_grad: bool = False) -> Any:
        """The loss (and gradient) of ``input`` against ``target``."""
        return multi_margin_loss(input, target, self.p, self.margin, self.weight,
                                 reduction=self.reduction, return_grad=return_grad)  # fmt: skip


class MultiLabelMarginLoss:
    """``torch.nn.MultiLabelMarginLoss(reduction)`` semantics."""

    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean"):
        self.reduction = legacy_reduction(size_average, reduce, reduction)

    def __call__(self, input: Any, target: Any, *, return_grad: bool = False) -> Any:
        """The loss (and gradient) of ``input`` against ``target``."""
        return multilabel_margin_loss(input, target, reduction=self.reduction,
                                      return_grad=return_grad)  # fmt: skip


class HingeEmbeddingLoss:
    """``torch.nn.HingeEmbeddingLoss(margin, reduction)`` semantics."""

    def __init__(self, margin: float = 1.0, size_average: Any = None, reduce: Any = None,
                 reduction: str = "mean"):  # fmt: skip
        self.margin = margin
        self.reduction = legacy_reduction(size_average, reduce, reduction)

    def __call__(self, input: Any, target: Any, *, return_grad: bool = False) -> Any:
        """The loss (and gradient) of ``input`` against ``target``."""
        return hinge_embedding_loss(input, target, self.margin, reduction=self.reduction,
                                    return_grad=return_grad)  # fmt: skip
