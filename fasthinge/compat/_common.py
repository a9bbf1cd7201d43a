"""Helpers shared by the compat modules."""

from __future__ import annotations

from typing import Any

import numpy as np


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


def as_float_array(x: Any, name: str) -> np.ndarray:
    """A float32/float64 array (other dtypes raise, as the core API does)."""
    array = np.asarray(x)
    if array.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must be float32 or float64, got dtype {array.dtype}")
    return array
