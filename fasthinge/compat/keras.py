"""Keras 3's hinge losses (JAX backend) with Keras' names, label conversion and reductions.

- ``hinge`` / ``squared_hinge``: if **every** entry of ``y_true`` is 0 or 1, all
  are mapped by ``2y − 1`` (one −1 anywhere disables the conversion for the
  whole batch); then ``mean(max(1 − y·p, 0)[^2], axis=−1)``. On the JAX
  backend that mean is taken in float32 even for float64 inputs; so is it here.
- ``categorical_hinge``: ``max(0, max_c (1 − t_c)p_c − Σ_c t_c p_c + 1)``,
  floor included (keras-team/keras#8083), no label conversion.
- The classes take ``reduction`` in ``"sum_over_batch_size"`` (default, =
  ``"mean"``: ``Σ w·ℓ / number of values``), ``"sum"``,
  ``"mean_with_sample_weight"`` (``Σ w·ℓ / Σ w``) and ``"none"``.

Gradients are ``jax.grad``'s: ½ at a kink, ties in a max split equally.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import fasthinge as fh

from ._common import as_float_array, finish

REDUCTIONS = ("sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", "none", None)


def _hinge_values(y_true: Any, y_pred: Any, power: int) -> tuple:
    """Per-sample Keras hinge values (mean over the last axis) and their gradient."""
    p = as_float_array(y_pred, "y_pred")
    t = np.asarray(y_true).astype(p.dtype)
    if t.size and np.isin(t, (0, 1)).all():  # batch-global {0, 1} -> {-1, +1}
        t = 2 * t - 1
    t = np.broadcast_to(t, p.shape)
    flat_p, flat_t = p.reshape(-1), t.reshape(-1)
    if np.isin(flat_t, (-1, 1)).all():
        h, g = fh.binary_hinge(flat_p, flat_t, p=power, kink="half", reduction="none")
    else:  # real-valued targets: Keras' formula in NumPy
        u = 1 - flat_t * flat_p
        slope = (
            np.where(u > 0, 1.0, np.where(u == 0, 0.5, 0.0)) if power == 1 else 2 * np.maximum(u, 0)
        )
        h, g = np.maximum(u, 0) ** power, (-flat_t * slope).astype(p.dtype)
    width = p.shape[-1] if p.ndim else 1
    per_sample = h.reshape((*p.shape[:-1], width)).astype(np.float32).mean(axis=-1)
    grad = (g / p.dtype.type(width)).reshape(p.shape)
    return per_sample.astype(p.dtype), grad


def hinge(y_true: Any, y_pred: Any, *, return_grad: bool = False) -> Any:
    """``keras.losses.hinge``: per-sample ``mean(max(1 − y_true·y_pred, 0), axis=−1)``.

    Parameters
    ----------
    y_true : array_like
        Targets, −1/1 (or all 0/1, converted for the whole batch).
    y_pred : array_like
        Predictions.
    return_grad : bool, default False
        Also return ``jax.grad`` of the summed values.

    Returns
    -------
    values : ndarray of shape ``y_pred.shape[:-1]``
    grad : ndarray
        With ``return_grad=True``.

    Examples
    --------
    >>> from fasthinge.compat.keras import hinge
    >>> hinge([[0, 1], [1, 0]], [[0.6, 0.4], [0.4, 0.6]]).round(4).tolist()
    [1.1, 1.1]
    """
    values, grad = _hinge_values(y_true, y_pred, 1)
    return finish(values, grad, return_grad)


def squared_hinge(y_true: Any, y_pred: Any, *, return_grad: bool = False) -> Any:
    """``keras.losses.squared_hinge``: per-sample ``mean(max(1 − y_true·y_pred, 0)², axis=−1)``.

    Parameters
    ----------
    y_true : array_like
        Targets, −1/1 (or all 0/1, converted for the whole batch).
    y_pred : array_like
        Predictions.
    return_grad : bool, default False
        Also return ``jax.grad`` of the summed values.

    Returns
    -------
    values : ndarray of shape ``y_pred.shape[:-1]``
    grad : ndarray
        With ``return_grad=True``.

    Examples
    --------
    >>> from fasthinge.compat.keras import squared_hinge
    >>> squared_hinge([[0, 1]], [[0.6, 0.4]]).round(4).tolist()
    [1.46]
    """
    values, grad = _hinge_values(y_true, y_pred, 2)
    return finish(values, grad, return_grad)


def categorical_hinge(y_true: Any, y_pred: Any, *, return_grad: bool = False) -> Any:
    """``keras.losses.categorical_hinge``: per-sample, floor included.

    Parameters
    ----------
    y_true : array_like of shape (N, C)
        One-hot (or soft) targets; not converted.
    y_pred : array_like of shape (N, C)
        Predictions.
    return_grad : bool, default False
        Also return ``jax.grad`` of the summed values.

    Returns
    -------
    values : ndarray of shape (N,)
    grad : ndarray
        With ``return_grad=True``.

    Examples
    --------
    >>> from fasthinge.compat.keras import categorical_hinge
    >>> categorical_hinge([[1.0, 0.0]], [[-3.0, -5.0]]).tolist()
    [4.0]
    """
    p = as_float_array(y_pred, "y_pred")
    values, grad = fh.categorical_hinge(p, y_true, reduction="none", kink="half", ties="split")
    return finish(values, grad, return_grad)


def _reduce(values: np.ndarray, grad: np.ndarray, sample_weight: Any, reduction: Any) -> tuple:
    """Keras' reductions of per-sample ``values`` (and the matching gradient scale)."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {list(REDUCTIONS)}, got {reduction!r}")
    w = np.ones_like(values) if sample_weight is None else np.broadcast_to(
        np.asarray(sample_weight, values.dtype), values.shape)  # fmt: skip
    weighted = values * w
    shape = w.shape + (1,) * (grad.ndim - w.ndim)
    grad = grad * w.reshape(shape)
    if reduction in (None, "none"):
        return weighted, grad
    total = weighted.sum(dtype=np.float64)
    if reduction == "sum":
        return values.dtype.type(total), grad
    denom = float(w.sum()) if reduction == "mean_with_sample_weight" else float(values.size)
    return values.dtype.type(total / denom if denom else 0.0), grad / denom if denom else grad * 0


class _Loss:
    """A Keras loss class: ``reduction`` and ``__call__(y_true, y_pred, sample_weight)``."""

    function = staticmethod(hinge)

    def __init__(self, reduction: Any = "sum_over_batch_size", name: str | None = None):
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {list(REDUCTIONS)}, got {reduction!r}")
        self.reduction, self.name = reduction, name

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None, *,
                 return_grad: bool = False) -> Any:  # fmt: skip
        """The reduced loss (and the gradient with respect to ``y_pred``)."""
        values, grad = self.function(y_true, y_pred, return_grad=True)
        loss, grad = _reduce(values, grad, sample_weight, self.reduction)
        return finish(loss, grad, return_grad)


class Hinge(_Loss):
    """``keras.losses.Hinge(reduction=...)``.

    Examples
    --------
    >>> from fasthinge.compat.keras import Hinge
    >>> round(float(Hinge()([[0, 1], [1, 0]], [[0.6, 0.4], [0.4, 0.6]])), 4)
    1.1
    """

    function = staticmethod(hinge)


class SquaredHinge(_Loss):
    """``keras.losses.SquaredHinge(reduction=...)``."""

    function = staticmethod(squared_hinge)


class CategoricalHinge(_Loss):
    """``keras.losses.CategoricalHinge(reduction=...)``."""

    function = staticmethod(categorical_hinge)
