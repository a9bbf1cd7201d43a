"""Helpers shared by the compat modules."""

from __future__ import annotations

from typing import Any

import numpy as np

import fasthinge as fh


def legacy_reduction(size_average: Any, reduce: Any, reduction: str) -> str:
    """PyTorch's rule for the deprecated ``size_average``/``reduce`` arguments."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def finish(loss: Any, grad: Any, return_grad: bool, shape: tuple | None = None) -> Any:
    """``loss`` or ``(loss, grad)``, the gradient reshaped to ``shape``."""
    if not return_grad:
        return loss
    return loss, (grad if shape is None else grad.reshape(shape))


def elementwise_hinge(f: np.ndarray, t: np.ndarray, margin: float, power: int) -> tuple:
    """``max(0, m − t·f)^p`` and its ``jax.grad`` (½ at the kink, 0 at NaN), elementwise.

    Fused (``fasthinge.binary_hinge``) when every ``t`` is ±1; any other real
    target, which optax and Keras accept, takes the same formula in NumPy.
    """
    if np.isin(t, (-1, 1)).all():
        loss, grad = fh.binary_hinge(f, t, margin=margin, p=power, kink="half", reduction="none")
    else:
        u = margin - t * f
        slope = np.where(u > 0, 1.0, np.where(u == 0, 0.5, 0.0)) if power == 1 else (
            2 * np.maximum(u, 0))  # fmt: skip
        loss, grad = np.maximum(u, 0) ** power, (-t * slope).astype(f.dtype)
    if power == 1:  # jax's maximum passes no gradient through NaN (squared: 2·NaN stays)
        grad[np.isnan(f) | np.isnan(t)] = 0
    return loss, grad


def as_float_array(x: Any, name: str) -> np.ndarray:
    """A float32/float64 array (other dtypes raise, as the core API does)."""
    array = np.asarray(x)
    if array.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must be float32 or float64, got dtype {array.dtype}")
    return array
