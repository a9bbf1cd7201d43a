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

from ._common import as_float_array, elementwise_hinge, finish

REDUCTIONS = ("sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", "none", None)


def _hinge_values(y_true: Any, y_pred: Any, power: int, cotangent: Any = 1.0) -> tuple:
    """Per-sample Keras hinge values (mean over the last axis) and ``jax.grad`` of ``Σ c·ℓ``.

    ``cotangent`` (one per sample) is the upstream gradient. The mean runs in
    float32 on the JAX backend even for float64 input, so the cotangent
    reaching the elements is rounded to float32 there, as in Keras.
    """
    p = as_float_array(y_pred, "y_pred")
    t = np.asarray(y_true).astype(p.dtype)
    if t.size and np.isin(t, (0, 1)).all():  # batch-global {0, 1} -> {-1, +1}
        t = 2 * t - 1
    t = np.broadcast_to(t, p.shape)
    h, g = elementwise_hinge(p.reshape(-1), t.reshape(-1), 1.0, power)
    width = p.shape[-1] if p.ndim else 1
    with np.errstate(over="ignore"):  # float64 beyond float32's range: inf, as in Keras
        per_sample = h.reshape((*p.shape[:-1], width)).astype(np.float32).mean(axis=-1)
    upstream = np.broadcast_to(np.asarray(cotangent, np.float32), per_sample.shape)
    upstream = (upstream / np.float32(width)).astype(p.dtype)[..., None]
    grad = (g.reshape((*p.shape[:-1], width)) * upstream).reshape(p.shape)
    return per_sample.astype(p.dtype), grad


def hinge(y_true: Any, y_pred: Any, *, return_grad: bool = False, cotangent: Any = 1.0) -> Any:
    """``keras.losses.hinge``: per-sample ``mean(max(1 − y_true·y_pred, 0), axis=−1)``.

    Parameters
    ----------
    y_true : array_like
        Targets, −1/1 (or all 0/1, converted for the whole batch).
    y_pred : array_like
        Predictions.
    return_grad : bool, default False
        Also return ``jax.grad`` of the summed values.
    cotangent : float or array_like, default 1.0
        Upstream gradient per sample (what the loss classes pass).

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
    values, grad = _hinge_values(y_true, y_pred, 1, cotangent)
    return finish(values, grad, return_grad)


def squared_hinge(
    y_true: Any, y_pred: Any, *, return_grad: bool = False, cotangent: Any = 1.0
) -> Any:
    """``keras.losses.squared_hinge``: per-sample ``mean(max(1 − y_true·y_pred, 0)², axis=−1)``.

    Parameters
    ----------
    y_true : array_like
        Targets, −1/1 (or all 0/1, converted for the whole batch).
    y_pred : array_like
        Predictions.
    return_grad : bool, default False
        Also return ``jax.grad`` of the summed values.
    cotangent : float or array_like, default 1.0
        Upstream gradient per sample (what the loss classes pass).

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
    values, grad = _hinge_values(y_true, y_pred, 2, cotangent)
    return finish(values, grad, return_grad)


def categorical_hinge(
    y_true: Any, y_pred: Any, *, return_grad: bool = False, cotangent: Any = 1.0
) -> Any:
    """``keras.losses.categorical_hinge``: per-sample, floor included.

    Parameters
    ----------
    y_true : array_like of shape (N, C)
        One-hot (or soft) targets; not converted.
    y_pred : array_like of shape (N, C)
        Predictions.
    return_grad : bool, default False
        Also return ``jax.grad`` of the summed values.
    cotangent : float or array_like, default 1.0
        Upstream gradient per sample (what the loss classes pass).

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
    t = np.asarray(y_true).astype(p.dtype)
    values, grad = fh.categorical_hinge(p, t, reduction="none", kink="half", ties="split")
    bad = ~np.isfinite(p).all(axis=-1)
    if bad.any():  # jax.grad's rules where inf·0 or NaN enters: recompute those rows
        grad[bad] = _categorical_jax_grad(p[bad], t[bad])
    c = np.broadcast_to(np.asarray(cotangent, p.dtype), values.shape)[..., None]
    return finish(values, grad * c, return_grad)


def _categorical_jax_grad(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``jax.grad`` of ``max(neg − pos + 1, 0)`` row by row, as JAX composes it."""
    with np.errstate(invalid="ignore"):
        product = (1 - t) * p
        neg = product.max(axis=-1, keepdims=True)
        z = neg - (t * p).sum(axis=-1, keepdims=True) + 1
        factor = np.where(z > 0, 1.0, np.where(z == 0, 0.5, 0.0))
        winners = (product == neg).astype(p.dtype)
        share = winners / winners.sum(axis=-1, keepdims=True)
        return (factor * ((1 - t) * share - t)).astype(p.dtype)


def _reduction_weights(values: np.ndarray, sample_weight: Any, reduction: Any) -> tuple:
    """Keras' reduction of per-sample ``values``: (reduced value, d value / d ℓ_i)."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {list(REDUCTIONS)}, got {reduction!r}")
    w = np.ones_like(values) if sample_weight is None else np.broadcast_to(
        np.asarray(sample_weight, values.dtype), values.shape)  # fmt: skip
    weighted = values * w
    if reduction in (None, "none"):
        return weighted, w
    total = weighted.sum(dtype=np.float64)
    if reduction == "sum":
        return values.dtype.type(total), w
    denom = float(w.sum()) if reduction == "mean_with_sample_weight" else float(values.size)
    if not denom:  # Keras divides with divide_no_nan
        return values.dtype.type(0.0), w * 0
    return values.dtype.type(total / denom), w / values.dtype.type(denom)


class _Loss:
    """A Keras loss class: ``reduction`` and ``__call__(y_true, y_pred, sample_weight)``."""

    function = staticmethod(hinge)

    def __init__(self, reduction: Any = "sum_over_batch_size", name: str | None = None,
                 dtype: Any = None):  # fmt: skip
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {list(REDUCTIONS)}, got {reduction!r}")
        self.reduction, self.name = reduction, name
        self.dtype = np.dtype(np.float32 if dtype is None else dtype)  # Keras: floatx

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None, *,
                 return_grad: bool = False) -> Any:  # fmt: skip
        """The reduced loss (and the gradient with respect to ``y_pred``).

        As in Keras: the inputs are cast to the loss's ``dtype`` (floatx, float32,
        by default), the gradient comes back in the input's dtype, and an empty
        batch gives an empty result whatever the reduction.
        """
        given = np.asarray(y_pred)
        y_pred = given.astype(self.dtype)
        values = self.function(y_true, y_pred)
        loss, cotangent = _reduction_weights(values, sample_weight, self.reduction)
        if values.size == 0:
            loss = values.reshape(-1)
        if not return_grad:
            return loss
        grad = self.function(y_true, y_pred, return_grad=True, cotangent=cotangent)[1]
        return loss, grad.astype(given.dtype)


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
