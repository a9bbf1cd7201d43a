"""torchmetrics' hinge losses, batch-global sigmoid/softmax included (NumPy in and out).

torchmetrics computes hinge losses on **probabilities**: rows whose target is
``ignore_index`` are dropped first, then, if any remaining prediction lies
outside [0, 1] (or is NaN), the whole batch goes through a sigmoid (binary) or
a softmax over classes (multiclass). The core fasthinge API never does this;
these functions do, so that torchmetrics' numbers are reproduced. Gradients
are PyTorch autograd's: through the sigmoid/softmax, full slope at the kink
(``clamp(min=0)``), and the first index for tied maxima (``torch.max``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import fasthinge as fh

from ._common import as_float_array, finish


def _needs_normalizing(x: np.ndarray) -> bool:
    return bool(x.size) and not bool(np.all((x >= 0) & (x <= 1)))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _softmax(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # inf − inf: NaN, as in torch.softmax
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


def binary_hinge_loss(
    preds: Any,
    target: Any,
    squared: bool = False,
    ignore_index: int | None = None,
    validate_args: bool = False,
    *,
    return_grad: bool = False,
) -> Any:
    """``torchmetrics.functional.classification.binary_hinge_loss``.

    Parameters
    ----------
    preds : array_like, any shape
        Probabilities, or logits (then the batch is sigmoided).
    target : array_like, same shape
        0/1 targets; with ``validate_args=False`` any nonzero value is positive.
    squared : bool, default False
        Square the clamped measure.
    ignore_index : int, optional
        Targets equal to it are dropped before anything else.
    validate_args : bool, default False
        Check that targets are 0, 1 or ``ignore_index``.
    return_grad : bool, default False
        Also return PyTorch's autograd gradient with respect to ``preds``.

    Returns
    -------
    loss : ndarray (0-d)
        NaN when every element is ignored.
    grad : ndarray
        With ``return_grad=True``, shaped like ``preds``.

    Examples
    --------
    >>> from fasthinge.compat.torchmetrics import binary_hinge_loss
    >>> round(float(binary_hinge_loss([0.25, 0.25, 0.55, 0.75, 0.75], [0, 0, 1, 1, 1])), 4)
    0.69
    """
    p = as_float_array(preds, "preds")
    t = np.asarray(target).reshape(-1)
    flat = p.reshape(-1)
    kept = np.ones(flat.shape, bool) if ignore_index is None else t != ignore_index
    if validate_args and not np.isin(t[kept], (0, 1)).all():
        raise ValueError("Detected values in `target` other than 0 and 1 (or ignore_index)")
    q = flat[kept]
    sigmoid = _needs_normalizing(q)
    if sigmoid:
        q = _sigmoid(q)
    signs = np.where(t[kept].astype(bool), 1, -1)
    loss, g = fh.binary_hinge(q, signs, p=2 if squared else 1, kink="full")
    grad = np.zeros_like(flat)
    with np.errstate(invalid="ignore"):
        grad[kept] = g * q * (1 - q) if sigmoid else g
    return finish(np.asarray(loss), grad, return_grad, p.shape)


def multiclass_hinge_loss(
    preds: Any,
    target: Any,
    num_classes: int,
    squared: bool = False,
    multiclass_mode: str = "crammer-singer",
    ignore_index: int | None = None,
    validate_args: bool = False,
    *,
    return_grad: bool = False,
) -> Any:
    """``torchmetrics.functional.classification.multiclass_hinge_loss``.

    Parameters
    ----------
    preds : array_like of shape (N, C, ...)
        Probabilities, or logits (then the batch is softmaxed over C).
    target : array_like of shape (N, ...)
        Class indices.
    num_classes : int
        C (used for validation).
    squared : bool, default False
        Square the clamped measure.
    multiclass_mode : {"crammer-singer", "one-vs-all"}
        Crammer–Singer (a scalar) or one-vs-all (a (C,) vector of per-class
        means).
    ignore_index : int, optional
        Rows with this target are dropped before anything else.
    validate_args : bool, default False
        Check shapes and target values.
    return_grad : bool, default False
        Also return PyTorch's autograd gradient (of the sum of the output).

    Returns
    -------
    loss : ndarray
        0-d (Crammer–Singer) or (C,) (one-vs-all).
    grad : ndarray
        With ``return_grad=True``, shaped like ``preds``.

    Examples
    --------
    >>> import numpy as np
    >>> from fasthinge.compat.torchmetrics import multiclass_hinge_loss
    >>> preds = np.array([[0.25, 0.20, 0.55], [0.55, 0.05, 0.40],
    ...                   [0.10, 0.30, 0.60], [0.90, 0.05, 0.05]])
    >>> round(float(multiclass_hinge_loss(preds, [0, 1, 2, 0], 3)), 4)
    0.9125
    """
    p = as_float_array(preds, "preds")
    if multiclass_mode not in ("crammer-singer", "one-vs-all"):
        raise ValueError(f"multiclass_mode must be 'crammer-singer' or 'one-vs-all', "
                         f"got {multiclass_mode!r}")  # fmt: skip
    rows = np.moveaxis(p, 1, -1).reshape(-1, p.shape[1])  # (N·..., C)
    y = np.asarray(target).reshape(-1)
    kept = np.ones(y.shape, bool) if ignore_index is None else y != ignore_index
    if validate_args and (
        p.shape[1] != num_classes or ((y[kept] < 0) | (y[kept] >= num_classes)).any()
    ):
        raise ValueError(f"preds must have {num_classes} classes and targets in [0, {num_classes})")
    if not kept.any() and multiclass_mode == "crammer-singer":
        raise ValueError("no row left (empty, or all ignored): torchmetrics raises here")
    q = rows[kept]
    softmax = _needs_normalizing(q)
    if softmax:
        q = _softmax(q)
    power = 2 if squared else 1
    if multiclass_mode == "crammer-singer":
        loss, g = fh.crammer_singer(q, y[kept], p=power, kink="full")
    else:
        loss, g = fh.one_vs_all(q, y[kept], p=power, kink="full", reduction="per_class")
    if softmax:  # back through the softmax: q ⊙ (g − Σ g·q)
        with np.errstate(invalid="ignore"):
            g = q * (g - (g * q).sum(axis=1, keepdims=True))
    grad_rows = np.zeros_like(rows)
    grad_rows[kept] = g
    moved = np.moveaxis(p, 1, -1).shape
    grad = np.moveaxis(grad_rows.reshape(moved), -1, 1)
    return finish(np.asarray(loss), grad, return_grad)
