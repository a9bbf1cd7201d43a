"""scikit-learn's ``sklearn.metrics.hinge_loss``, quirks included (NumPy in, float out).

- Multiclass (more than two labels in ``labels``, or in ``y_true`` without
  ``labels``): Crammer–Singer, columns in the order of the **sorted** labels,
  ``np.average`` with ``sample_weight``.
- Binary: ``LabelBinarizer(neg_label=-1)`` fitted on ``y_true`` alone maps the
  larger label to +1; when ``y_true`` holds a single class every sample is
  encoded −1, even a 1 and even with ``labels=[-1, 1]`` (scikit-learn #4546).
- The gradient (``return_grad=True``) is the active slope, full at the kink
  (as scikit-learn's SGD ``Hinge`` takes it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import fasthinge as fh

from ._common import finish


def _weights_sum(sample_weight: Any, n: int) -> None:
    if sample_weight is not None and n and float(np.sum(sample_weight)) == 0:
        raise ZeroDivisionError("Weights sum to zero, can't be normalized")


def hinge_loss(
    y_true: Any,
    pred_decision: Any,
    *,
    labels: Any = None,
    sample_weight: Any = None,
    return_grad: bool = False,
) -> Any:
    """``sklearn.metrics.hinge_loss`` with scikit-learn's label handling.

    Parameters
    ----------
    y_true : array_like of shape (N,)
        True labels (any sortable values).
    pred_decision : array_like of shape (N,) or (N, C)
        Decision values; for multiclass, columns follow the sorted labels.
    labels : array_like, optional
        All the labels (decides binary vs multiclass and the column order).
    sample_weight : array_like of shape (N,), optional
        Weights of the average.
    return_grad : bool, default False
        Also return the gradient with respect to ``pred_decision``.

    Returns
    -------
    loss : float
    grad : ndarray
        With ``return_grad=True``.

    Examples
    --------
    >>> from fasthinge.compat.sklearn import hinge_loss
    >>> round(hinge_loss([-1, 1, 1], [-2.18, 2.36, 0.09]), 6)
    0.303333
    >>> hinge_loss([1, 1, 1], [0.5, 0.5, 2.0])  # a single class: all encoded -1
    2.0
    """
    y = np.asarray(y_true)
    pred = np.asarray(pred_decision)
    if pred.dtype not in (np.float32, np.float64):
        pred = pred.astype(np.float64)
    if y.shape[0] == 0:
        raise ValueError("Found array with 0 sample(s) while a minimum of 1 is required.")
    if not np.isfinite(pred).all():
        raise ValueError("Input contains NaN or infinity.")
    classes = np.unique(labels if labels is not None else y)
    _weights_sum(sample_weight, y.shape[0])
    if classes.size > 2:
        if pred.ndim != 2 or pred.shape[1] != classes.size:
            raise ValueError(f"pred_decision must have shape (n_samples, {classes.size}), "
                             f"got {pred.shape}")  # fmt: skip
        missing = np.setdiff1d(np.unique(y), classes)
        if missing.size:
            raise ValueError(f"y_true contains values {missing} not in labels {classes}")
        columns = np.searchsorted(classes, y)
        loss, grad = fh.crammer_singer(pred, columns, sample_weight=sample_weight, kink="full")
        return finish(float(loss), grad, return_grad)
    if pred.ndim != 1:
        raise ValueError(f"y should be a 1d array, got an array of shape {pred.shape} instead.")
    present = np.unique(y)
    t = np.where(y == present[-1], 1, -1) if present.size == 2 else np.full(y.shape, -1)
    loss, grad = fh.binary_hinge(pred, t, sample_weight=sample_weight, kink="full")
    return finish(float(loss), grad, return_grad)
