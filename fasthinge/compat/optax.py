"""optax's hinge losses with optax's names and values, ``jax.grad``'s gradients (NumPy in and out).

All are per-sample (no reduction), as in optax. ``jax.grad`` gives ½ at a
kink and splits a max's gradient equally among tied entries.
``multiclass_hinge_loss`` is optax's unclamped formula
``max_j(s_j + 1 − o_j) − Σ_j s_j o_j``, computed in optax's order, so rounding
can leave tiny non-zero values where the hinge is satisfied, and a label
outside ``[0, C)`` gives a zero one-hot row (``1 + max s``) instead of an
error, exactly as optax does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._common import as_float_array, elementwise_hinge, finish


def _binary(f: Any, t: Any, margin: float, return_grad: bool) -> Any:
    """``max(0, m − f·t)`` elementwise, fused when every ``t`` is ±1."""
    scores = as_float_array(f, "predictor_outputs")
    targets = np.broadcast_to(np.asarray(t, dtype=scores.dtype), scores.shape)
    flat_t = targets.reshape(-1)
    loss, grad = elementwise_hinge(scores.reshape(-1), flat_t, margin, 1)
    return finish(loss.reshape(scores.shape), grad, return_grad, scores.shape)


def hinge_loss(predictor_outputs: Any, targets: Any, *, return_grad: bool = False) -> Any:
    """``optax.losses.hinge_loss``: ``max(0, 1 − f·t)`` per element (targets ±1, used as given).

    Parameters
    ----------
    predictor_outputs : array_like
        Decision values ``f``.
    targets : array_like
        Targets ``t``; optax does not convert {0, 1} (t = 0 gives a loss of 1).
    return_grad : bool, default False
        Also return ``jax.grad`` of the summed loss.

    Returns
    -------
    loss : ndarray, the shape of ``predictor_outputs``
    grad : ndarray
        With ``return_grad=True``.

    Examples
    --------
    >>> from fasthinge.compat.optax import hinge_loss
    >>> hinge_loss([0.5, 1.0, -2.0], [1, 1, 1], return_grad=True)[1].tolist()
    [-1.0, -0.5, -1.0]
    """
    return _binary(predictor_outputs, targets, 1.0, return_grad)


def perceptron_loss(predictor_outputs: Any, targets: Any, *, return_grad: bool = False) -> Any:
    """``optax.losses.perceptron_loss``: ``max(0, −f·t)`` per element.

    Parameters
    ----------
    predictor_outputs : array_like
        Decision values ``f``.
    targets : array_like
        Targets ``t`` (±1).
    return_grad : bool, default False
        Also return ``jax.grad`` of the summed loss (−t/2 at f = 0).

    Returns
    -------
    loss : ndarray
    grad : ndarray
        With ``return_grad=True``.

    Examples
    --------
    >>> from fasthinge.compat.optax import perceptron_loss
    >>> perceptron_loss([0.0, -1.0], [1, 1]).tolist()
    [0.0, 1.0]
    """
    f = as_float_array(predictor_outputs, "predictor_outputs")
    if np.shape(targets) != f.shape:
        raise ValueError(f"predictor_outputs and targets must have the same shape, "
                         f"got {f.shape} and {np.shape(targets)}")  # fmt: skip
    return _binary(f, targets, 0.0, return_grad)


def _max_minus_label(scores: Any, labels: Any, offset: float, return_grad: bool) -> Any:
    """``max_j(s_j + offset·(1 − o_j)) − Σ_j s_j o_j`` in optax's order; jax.grad's gradient."""
    s = as_float_array(scores, "scores")
    y = np.asarray(labels)
    with np.errstate(invalid="ignore"):  # inf·0 in the one-hot product is NaN, as in optax
        return _max_minus_label_values(s, y, offset, return_grad)


def _max_minus_label_values(s: np.ndarray, y: np.ndarray, offset: float, return_grad: bool) -> Any:
    n_classes = s.shape[-1]
    one_hot = (y[..., None] == np.arange(n_classes)).astype(s.dtype)
    shifted = (s + s.dtype.type(offset)) - s.dtype.type(offset) * one_hot if offset else s
    best = shifted.max(axis=-1, keepdims=True)
    loss = best[..., 0] - (s * one_hot).sum(axis=-1)
    if not return_grad:
        return loss
    winners = (shifted == best).astype(s.dtype)
    winners = np.where(np.isnan(best), np.nan, winners)
    return loss, winners / winners.sum(axis=-1, keepdims=True) - one_hot


def multiclass_hinge_loss(scores: Any, labels: Any, *, return_grad: bool = False) -> Any:
    """``optax.losses.multiclass_hinge_loss``: ``max_j(s_j + 1 − o_j) − s_y``, unclamped.

    Parameters
    ----------
    scores : array_like of shape (..., C)
        Scores.
    labels : array_like of shape (...), integer
        Labels; one outside ``[0, C)`` gives a zero one-hot row (no error).
    return_grad : bool, default False
        Also return ``jax.grad`` of the summed loss (ties split equally, the
        true class included).

    Returns
    -------
    loss : ndarray of shape (...)
    grad : ndarray
        With ``return_grad=True``.

    Notes
    -----
    For the clamped loss with exact zeros use ``fasthinge.crammer_singer``
    (``kink="half", ties="split"`` gives the same gradients wherever optax's
    rounding does not make a tie).

    Examples
    --------
    >>> from fasthinge.compat.optax import multiclass_hinge_loss
    >>> multiclass_hinge_loss([[1.0, 0.0, 0.0]], [0], return_grad=True)[1].tolist()
    [[-0.6666666666666667, 0.3333333333333333, 0.3333333333333333]]
    """
    return _max_minus_label(scores, labels, 1.0, return_grad)


def multiclass_perceptron_loss(scores: Any, labels: Any, *, return_grad: bool = False) -> Any:
    """``optax.losses.multiclass_perceptron_loss``: ``max_j s_j − s_y``.

    Parameters
    ----------
    scores : array_like of shape (..., C)
        Scores.
    labels : array_like of shape (...), integer
        Labels.
    return_grad : bool, default False
        Also return ``jax.grad`` of the summed loss.

    Returns
    -------
    loss : ndarray of shape (...)
    grad : ndarray
        With ``return_grad=True``.

    Examples
    --------
    >>> from fasthinge.compat.optax import multiclass_perceptron_loss
    >>> multiclass_perceptron_loss([[0.5, 2.0]], [0]).tolist()
    [1.5]
    """
    return _max_minus_label(scores, labels, 0.0, return_grad)
