"""PyTorch autograd ops: fasthinge's fused losses as ``torch.library`` custom ops.

``import fasthinge.torch`` registers one op per loss, ``torch.ops.fasthinge.<name>``
(``torch.library.custom_op`` with a fake implementation for ``torch.compile``
and an autograd formula). Each op returns ``(loss, grad)``: the forward runs
the fused kernel once and keeps the gradient; the backward only multiplies it
by the upstream gradient (one scalar, or one value per row for
``reduction="none"``). The functions below call the op and return the loss::

    loss = fasthinge.torch.crammer_singer(scores, labels)
    loss.backward()                    # scores.grad: the fused gradient

CPU tensors are read and written without a copy (``Tensor.numpy()`` and
``torch.from_numpy``). A tensor on another device is handed to the
NumPy-level function as it is, so the ops follow fasthinge's GPU path once it
exists; until then a CUDA tensor raises ``TypeError``.

When ``scores`` does not require grad (or under ``torch.no_grad()``), no
gradient is computed or stored. ``class_weight``, ``sample_weight`` and
``weight`` get no gradient, and the backward is not itself differentiable
(no double backward).

Functions: every public loss (``weston_watkins``, ``crammer_singer``,
``one_vs_all``, ``structured_hinge``, ``topk_hinge``, ``categorical_hinge``,
``multilabel_margin``, ``binary_hinge``, ``perceptron``, ``smooth_hinge``,
``modified_huber``, ``hinge_embedding``) with the same arguments as in
``fasthinge`` (less ``return_grad``, ``out``, ``n_threads``, ``compact``);
PyTorch's ``multi_margin_loss``, ``multilabel_margin_loss`` and
``hinge_embedding_loss`` (eager CPU semantics, from ``fasthinge.compat.torch``)
and the modules ``MultiMarginLoss``, ``MultiLabelMarginLoss``,
``HingeEmbeddingLoss`` and :class:`HingeLoss`.

Examples
--------
>>> import torch, fasthinge.torch as ft
>>> x = torch.tensor([[0.1, 0.2, 0.4, 0.8]], requires_grad=True)
>>> loss = ft.MultiMarginLoss()(x, torch.tensor([3]))
>>> loss.backward()
>>> loss.item(), x.grad.tolist()
(0.32499998807907104, [[0.25, 0.25, 0.25, -0.75]])
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from . import _bridge as b
from .compat._common import legacy_reduction

__all__ = [
    "HingeEmbeddingLoss",
    "HingeLoss",
    "MultiLabelMarginLoss",
    "MultiMarginLoss",
    "binary_hinge",
    "categorical_hinge",
    "crammer_singer",
    "hinge_embedding",
    "hinge_embedding_loss",
    "modified_huber",
    "multi_margin_loss",
    "multilabel_margin",
    "multilabel_margin_loss",
    "one_vs_all",
    "perceptron",
    "smooth_hinge",
    "structured_hinge",
    "topk_hinge",
    "weston_watkins",
]

#: The schema type of a scalar option, from its default.
_SCHEMA_TYPES = {bool: "bool", int: "int", float: "float", str: "str"}


def _schema(spec: b.Spec) -> tuple[str, tuple[str, ...]]:
    """The op's schema and its argument names, in order.

    Tensors come first and are positional (custom ops take no keyword-only
    tensors); the options follow as keywords, then ``compute_grad``.
    """
    arguments = [f"Tensor {n}" for n in spec.arrays] + [f"int {n}" for n in spec.required]
    arguments += [f"Tensor? {n}=None" for n in spec.optional_arrays]
    options = []
    for name, default in spec.options.items():
        kind = "int?" if default is None else _SCHEMA_TYPES[type(default)]
        shown = json.dumps(default) if isinstance(default, str) else repr(default)
        options.append(f"{kind} {name}={shown}")
    keywords = ", ".join([*options, "bool compute_grad=True"])
    schema = f"({', '.join(arguments)}, *, {keywords})"
    names = (*spec.arrays, *spec.required, *spec.optional_arrays, *spec.options, "compute_grad")
    return schema + " -> (Tensor, Tensor)", names


def _to_host(value: Any) -> Any:
    """A CPU tensor as a NumPy array sharing its memory; anything else unchanged."""
    if isinstance(value, torch.Tensor) and value.device.type == "cpu":
        return value.detach().numpy()
    return value


def _to_tensor(value: Any, device: torch.device) -> torch.Tensor:
    """A result as a tensor on ``device`` (a NumPy result without a copy)."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    return torch.as_tensor(value, device=device)


def _register(name: str) -> Any:
    """Define ``torch.ops.fasthinge.<name>`` with its fake and autograd implementations."""
    spec = b.spec(name)
    schema, names = _schema(spec)

    defaults = {**dict.fromkeys(spec.optional_arrays), **spec.options, "compute_grad": True}

    def arguments(args: tuple, kwargs: dict) -> dict:  # the dispatcher may omit defaults
        return {**defaults, **dict(zip(names, args, strict=False)), **kwargs}

    def forward(*args: Any, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        given = arguments(args, kwargs)
        need_grad = given.pop("compute_grad")
        scores = given[spec.arrays[0]]
        host = {k: _to_host(v) for k, v in given.items()}
        loss, grad = b.host_call(spec, host, need_grad)
        grad = scores.new_empty(0) if grad is None else _to_tensor(grad, scores.device)
        return _to_tensor(loss, scores.device), grad

    op = torch.library.custom_op(f"fasthinge::{name}", forward, mutates_args=(), schema=schema)

    @op.register_fake
    def _(*args: Any, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        given = arguments(args, kwargs)
        scores = given[spec.arrays[0]]
        shape, _ = b.loss_shape(spec, tuple(scores.shape), given)
        grad_shape = scores.shape if given["compute_grad"] else (0,)
        return scores.new_empty(shape), scores.new_empty(grad_shape)

    def setup_context(ctx: Any, inputs: tuple, keyword_only_inputs: dict, output: tuple) -> None:
        given = arguments(inputs, keyword_only_inputs)
        scores, grad = given[spec.arrays[0]], output[1]
        shape, leading = b.loss_shape(spec, tuple(scores.shape), given)
        ctx.upstream_shape = b.upstream_shape(scores.dim(), shape, leading)
        ctx.had_grad, ctx.n_inputs = given["compute_grad"], len(inputs)
        ctx.mark_non_differentiable(grad)
        ctx.save_for_backward(grad)

    def backward(ctx: Any, d_loss: torch.Tensor, d_grad: Any) -> tuple:
        if not ctx.had_grad:
            raise RuntimeError(f"fasthinge::{name} ran with compute_grad=False; "
                               "it has no gradient to propagate")  # fmt: skip
        (grad,) = ctx.saved_tensors
        return (grad * d_loss.reshape(ctx.upstream_shape),) + (None,) * (ctx.n_inputs - 1)

    op.register_autograd(backward, setup_context=setup_context)
    return op


#: ``torch.ops.fasthinge.<name>`` for every loss, by name.
OPS = {name: _register(name) for name in b.LOSSES}
_SPECS = {name: b.spec(name) for name in b.LOSSES}  # read once: torch.compile traces ``call``


def call(name: str, *args: Any, **kwargs: Any) -> torch.Tensor:
    """The loss ``name`` (a ``fasthinge`` or peer function name) as a differentiable tensor.

    Parameters
    ----------
    name : str
        ``"crammer_singer"``, ``"multi_margin_loss"``, ... (see the module).
    *args, **kwargs
        The arguments of the NumPy-level function; arrays may be tensors,
        NumPy arrays or lists (moved to ``scores``' device).

    Returns
    -------
    torch.Tensor
        The loss; its ``backward()`` uses the gradient from the same fused pass.

    Examples
    --------
    >>> import torch, fasthinge.torch as ft
    >>> x = torch.tensor([[2.0, 0.5, -1.0]], requires_grad=True)
    >>> ft.call("crammer_singer", x, [0]).item()
    0.0
    """
    if name not in OPS:
        raise ValueError(f"name must be one of {list(OPS)}, got {name!r}")
    spec = _SPECS[name]
    given = spec.bind(args, kwargs)
    scores = given[spec.arrays[0]]
    if not isinstance(scores, torch.Tensor):
        raise TypeError(f"{spec.arrays[0]} must be a torch.Tensor, got {type(scores).__name__}")

    def tensor(value: Any) -> Any:
        return value if value is None else torch.as_tensor(value, device=scores.device)

    positional = [tensor(given[n]) for n in spec.arrays] + [given[n] for n in spec.required]
    positional += [tensor(given[n]) for n in spec.optional_arrays]
    options = {n: given[n] for n in spec.options}
    need_grad = torch.is_grad_enabled() and scores.requires_grad
    return OPS[name](*positional, **options, compute_grad=need_grad)[0]


def _function(name: str) -> Callable[..., torch.Tensor]:
    """``call`` bound to one loss, documented after the NumPy-level function."""

    def function(*args: Any, **kwargs: Any) -> torch.Tensor:
        return call(name, *args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = (
        f"``fasthinge.{name}`` as a PyTorch op: returns the loss tensor; ``.backward()``\n"
        f"uses the gradient of the same fused pass. Arguments as in ``fasthinge.{name}``\n"
        "(without ``return_grad``, ``out``, ``n_threads``, ``compact``)."
    )
    return function


weston_watkins = _function("weston_watkins")
crammer_singer = _function("crammer_singer")
one_vs_all = _function("one_vs_all")
structured_hinge = _function("structured_hinge")
topk_hinge = _function("topk_hinge")
categorical_hinge = _function("categorical_hinge")
multilabel_margin = _function("multilabel_margin")
binary_hinge = _function("binary_hinge")
perceptron = _function("perceptron")
smooth_hinge = _function("smooth_hinge")
modified_huber = _function("modified_huber")
hinge_embedding = _function("hinge_embedding")


def _as_rows(input: torch.Tensor, target: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """PyTorch's one-sample form as one row: a (C,) input becomes (1, C), its target (1, ...)."""
    target = torch.as_tensor(target, device=input.device)
    if input.dim() >= 2:
        return input, target
    return input.reshape(1, -1), target.reshape(1, -1)


def multi_margin_loss(
    input: torch.Tensor,
    target: Any,
    p: int = 1,
    margin: float = 1.0,
    weight: torch.Tensor | None = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """``torch.nn.functional.multi_margin_loss``, CPU eager semantics, as one fused op.

    Parameters
    ----------
    input : Tensor of shape (N, C) or (C,)
        Scores (float32 or float64).
    target : Tensor of shape (N,) or ()
        Class indices.
    p, margin, weight, size_average, reduce, reduction
        As in PyTorch (``weight``: the per-class weight of the true class).

    Returns
    -------
    Tensor
        0-d for ``"mean"``/``"sum"`` and for a (C,) input, else (N,).

    Examples
    --------
    >>> import torch, fasthinge.torch as ft
    >>> ft.multi_margin_loss(torch.tensor([[0.1, 0.2, 0.4, 0.8]]), torch.tensor([3])).item()
    0.32499998807907104
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    x, y = _as_rows(input, target)
    loss = call("multi_margin_loss", x, y.reshape(-1), p=p, margin=margin, weight=weight,
                reduction=reduction)  # fmt: skip
    return loss.reshape(()) if input.dim() < 2 else loss


def multilabel_margin_loss(
    input: torch.Tensor,
    target: Any,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """``torch.nn.functional.multilabel_margin_loss``, CPU eager semantics, as one fused op.

    Parameters
    ----------
    input : Tensor of shape (N, C) or (C,)
        Scores.
    target : Tensor of the same shape, integer
        Target class indices, ended by −1.
    size_average, reduce, reduction
        As in PyTorch.

    Returns
    -------
    Tensor
        0-d for ``"mean"``/``"sum"`` and for a (C,) input, else (N,).

    Examples
    --------
    >>> import torch, fasthinge.torch as ft
    >>> x = torch.tensor([[0.1, 0.2, 0.4, 0.8]])
    >>> round(ft.multilabel_margin_loss(x, torch.tensor([[3, 0, -1, 1]])).item(), 6)
    0.85
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    x, t = _as_rows(input, target)
    loss = call("multilabel_margin_loss", x, t.reshape(x.shape), reduction=reduction)
    return loss.reshape(()) if input.dim() < 2 else loss


def hinge_embedding_loss(
    input: torch.Tensor,
    target: Any,
    margin: float = 1.0,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """``torch.nn.functional.hinge_embedding_loss`` (values and autograd) as one fused op.

    Parameters
    ----------
    input : Tensor, any shape
        The inputs ``x``.
    target : Tensor, broadcastable to ``input``
        1, −1 (or anything else, which adds both terms, as in PyTorch).
    margin, size_average, reduce, reduction
        As in PyTorch.

    Returns
    -------
    Tensor
        0-d for ``"mean"``/``"sum"``, else ``input``'s shape.

    Examples
    --------
    >>> import torch, fasthinge.torch as ft
    >>> x = torch.tensor([0.3, 0.7], dtype=torch.float64)
    >>> ft.hinge_embedding_loss(x, torch.tensor([1.0, 0.0]), reduction="sum").item()
    1.3
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    target = torch.broadcast_to(torch.as_tensor(target, device=input.device), input.shape)
    loss = call("hinge_embedding_loss", input.reshape(-1), target.reshape(-1), margin=margin,
                reduction=reduction)  # fmt: skip
    return loss.reshape(input.shape) if reduction == "none" else loss


class MultiMarginLoss(torch.nn.Module):
    """``torch.nn.MultiMarginLoss(p, margin, weight, reduction)`` on the fused kernel.

    ``weight`` is a buffer (it follows ``.to()`` and the ``state_dict``), as
    in PyTorch.

    Examples
    --------
    >>> import torch, fasthinge.torch as ft
    >>> ft.MultiMarginLoss(p=2)(torch.tensor([[0.1, 0.2, 0.4, 0.8]]), torch.tensor([3])).item()
    0.1525000035762787
    """

    weight: torch.Tensor | None

    def __init__(
        self,
        p: int = 1,
        margin: float = 1.0,
        weight: torch.Tensor | None = None,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
    ):
        super().__init__()
        self.p, self.margin = p, margin
        self.reduction = legacy_reduction(size_average, reduce, reduction)
        self.register_buffer("weight", weight)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss of ``input`` against ``target``."""
        return multi_margin_loss(input, target, self.p, self.margin, self.weight,
                                 reduction=self.reduction)  # fmt: skip


class MultiLabelMarginLoss(torch.nn.Module):
    """``torch.nn.MultiLabelMarginLoss(reduction)`` on the fused kernel."""

    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean"):
        super().__init__()
        self.reduction = legacy_reduction(size_average, reduce, reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss of ``input`` against ``target``."""
        return multilabel_margin_loss(input, target, reduction=self.reduction)


class HingeEmbeddingLoss(torch.nn.Module):
    """``torch.nn.HingeEmbeddingLoss(margin, reduction)`` on the fused kernel."""

    def __init__(self, margin: float = 1.0, size_average: Any = None, reduce: Any = None,
                 reduction: str = "mean"):  # fmt: skip
        super().__init__()
        self.margin = margin
        self.reduction = legacy_reduction(size_average, reduce, reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss of ``input`` against ``target``."""
        return hinge_embedding_loss(input, target, self.margin, reduction=self.reduction)


class HingeLoss(torch.nn.Module):
    """Any fasthinge loss as a module: ``HingeLoss("crammer_singer", margin=0.5)``.

    Tensor options (``class_weight``, ``cost``, ...) are buffers; the others
    are fixed at construction.

    Parameters
    ----------
    loss : str
        A fasthinge loss (``"crammer_singer"``, ``"weston_watkins"``, ...).
    **options
        Its keyword arguments (``margin``, ``p``, ``reduction``, ``class_weight``, ...).

    Examples
    --------
    >>> import torch, fasthinge.torch as ft
    >>> criterion = ft.HingeLoss("crammer_singer", reduction="sum")
    >>> criterion(torch.tensor([[0.0, 0.5, -1.0]]), torch.tensor([0])).item()
    1.5
    """

    def __init__(self, loss: str, **options: Any):
        super().__init__()
        spec = b.spec(loss)
        spec.bind((None,) * len(spec.arrays), options)  # check the names now
        self.loss = loss
        self.options = {}
        for key, value in options.items():
            if isinstance(value, torch.Tensor):
                self.register_buffer(key, value)
            else:
                self.options[key] = value

    def forward(self, scores: torch.Tensor, labels: Any, *args: Any) -> torch.Tensor:
        """The loss of ``scores`` against ``labels`` (then any further positional argument)."""
        buffers = {k: v for k, v in self._buffers.items() if v is not None}
        return call(self.loss, scores, labels, *args, **self.options, **buffers)

    def extra_repr(self) -> str:
        """The loss and its options."""
        return ", ".join([repr(self.loss), *(f"{k}={v!r}" for k, v in self.options.items())])
