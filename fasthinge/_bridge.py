"""What ``fasthinge.torch`` and ``fasthinge.jax`` share: the losses, their arguments, result shapes.

Each framework wraps a NumPy-level function that returns ``(loss, grad)``
(a public ``fasthinge`` loss, or a ``fasthinge.compat`` drop-in for a peer).
``spec(name)`` reads the function's signature once: which arguments are
arrays, which are scalar options and their defaults. ``loss_shape`` says what
shape the loss has (and so how an upstream gradient multiplies the saved
gradient), and ``host_call`` runs the function on NumPy arrays.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The public fasthinge losses (``compact_matmul`` is not a loss).
CORE = (
    "weston_watkins", "crammer_singer", "one_vs_all", "structured_hinge", "topk_hinge",
    "categorical_hinge", "multilabel_margin", "binary_hinge", "perceptron", "smooth_hinge",
    "modified_huber", "hinge_embedding",
)  # fmt: skip
#: Every loss the frameworks wrap: name -> (module, function).
LOSSES = {
    **{name: ("fasthinge", name) for name in CORE},
    "multi_margin_loss": ("fasthinge.compat.torch", "multi_margin_loss"),
    "multilabel_margin_loss": ("fasthinge.compat.torch", "multilabel_margin_loss"),
    "hinge_embedding_loss": ("fasthinge.compat.torch", "hinge_embedding_loss"),
    "hinge_loss": ("fasthinge.compat.optax", "hinge_loss"),
    "perceptron_loss": ("fasthinge.compat.optax", "perceptron_loss"),
    "multiclass_hinge_loss": ("fasthinge.compat.optax", "multiclass_hinge_loss"),
    "multiclass_perceptron_loss": ("fasthinge.compat.optax", "multiclass_perceptron_loss"),
}

#: Arguments with a ``None`` default that are arrays (the rest with ``None`` are integers).
OPTIONAL_ARRAYS = ("class_weight", "weight", "sample_weight")
#: Arguments the frameworks do not expose (outputs, threads, PyTorch's legacy reductions).
HIDDEN = ("return_grad", "out", "n_threads", "compact", "size_average", "reduce")
#: Losses whose loss has the shape of the scores (elementwise) or of all but the last axis.
ELEMENTWISE = ("hinge_loss", "perceptron_loss")
PER_SAMPLE = ("multiclass_hinge_loss", "multiclass_perceptron_loss")


@dataclass(frozen=True)
class Spec:
    """The arguments of one wrapped loss."""

    name: str
    func: Callable[..., Any]
    arrays: tuple[str, ...]  # required array arguments, in order (scores, labels[, cost])
    required: tuple[str, ...]  # required integer arguments (topk_hinge's k)
    optional_arrays: tuple[str, ...]  # array arguments that default to None
    options: dict[str, Any]  # scalar options and their defaults

    def bind(self, args: tuple, kwargs: dict) -> dict[str, Any]:
        """Every argument by name, defaults filled in (``TypeError`` for an unknown one)."""
        names = self.arrays + self.required
        if len(args) > len(names):
            raise TypeError(
                f"{self.name}() takes {len(names)} positional arguments "
                f"({', '.join(names)}), got {len(args)}"
            )
        bound = dict(zip(names, args, strict=False))
        defaults = {**dict.fromkeys(self.optional_arrays), **self.options}
        for key, value in kwargs.items():
            if key in bound or (key not in defaults and key not in names):
                known = ", ".join((*names, *defaults))
                raise TypeError(f"{self.name}() got an unexpected or repeated argument {key!r}; "
                                f"its arguments are {known}")  # fmt: skip
            bound[key] = value
        missing = [n for n in names if n not in bound]
        if missing:
            raise TypeError(f"{self.name}() missing required argument(s): {', '.join(missing)}")
        return {**defaults, **bound}


@functools.cache
def spec(name: str) -> Spec:
    """The :class:`Spec` of the loss ``name`` (a key of :data:`LOSSES`)."""
    if name not in LOSSES:
        raise ValueError(f"loss must be one of {list(LOSSES)}, got {name!r}")
    module, attribute = LOSSES[name]
    func = getattr(importlib.import_module(module), attribute)
    arrays, required, optional, options = [], [], [], {}
    for param in inspect.signature(func).parameters.values():
        if param.name in HIDDEN:
            continue
        if param.default is inspect.Parameter.empty:
            (required if param.name == "k" else arrays).append(param.name)
        elif param.name in OPTIONAL_ARRAYS:
            optional.append(param.name)
        else:
            options[param.name] = param.default
    return Spec(name, func, tuple(arrays), tuple(required), tuple(optional), options)


def loss_shape(spec: Spec, scores_shape: tuple, options: dict) -> tuple[tuple, bool]:
    """``(shape, leading)``: the loss's shape, and whether it indexes the scores' leading axes.

    ``leading`` is True when the loss is a scalar, one value per row or one
    per element (an upstream gradient ``u`` multiplies the saved gradient as
    ``u[..., None, ...]``), False for one value per class (``"per_class"``:
    ``u`` lines up with the last axis).
    """
    shape = tuple(scores_shape)
    if spec.name in ELEMENTWISE:
        return shape, True
    if spec.name in PER_SAMPLE:
        return shape[:-1], True
    reduction = options.get("reduction", "mean")
    if reduction == "none":
        return shape[:1], True
    if reduction == "per_class":
        return shape[-1:], False
    return (), True


def upstream_shape(scores_ndim: int, shape: tuple, leading: bool) -> tuple:
    """The shape to give an upstream gradient of ``shape`` so it broadcasts over the scores."""
    return shape + (1,) * (scores_ndim - len(shape)) if leading else shape


def host_call(spec: Spec, arguments: dict, need_grad: bool) -> tuple[Any, Any]:
    """Run the loss: ``(loss, grad or None)``, a NumPy loss as an ndarray of the scores' dtype.

    Device arrays (not NumPy) pass through unchanged, for fasthinge's GPU path.
    """
    result = spec.func(**arguments, return_grad=need_grad)
    loss, grad = result if need_grad else (result, None)
    scores = arguments[spec.arrays[0]]
    if isinstance(loss, (np.ndarray, np.generic)) and isinstance(scores, np.ndarray):
        loss = np.asarray(loss, dtype=scores.dtype)
    return loss, grad
