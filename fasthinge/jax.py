"""JAX: fasthinge's fused losses as differentiable JAX functions (``jax.custom_vjp``).

Each function runs the NumPy-level loss on the host through
``jax.pure_callback``, so it works inside ``jax.jit``, ``jax.grad`` and
``jax.vmap`` (one callback per batch element). Under ``jax.grad`` the forward
calls the fused kernel once for the loss and the gradient, keeps the gradient
as the residual, and the backward multiplies it by the upstream cotangent.

The cost: every call leaves XLA for Python and comes back (the inputs are
read in place, read-only; the outputs are copied into JAX buffers), and XLA
cannot fuse across the call. On a CPU, JAX's own compiled code for a hinge
loss was as fast or faster at every size measured (``docs/jax.md``): use this
module for the losses and conventions JAX lacks, not for speed. CPU only:
JAX arrays on a GPU are moved to the host by the callback.

Functions: every public loss (``crammer_singer``, ``weston_watkins``, ...,
with the arguments of the NumPy function, less ``return_grad``, ``out``,
``n_threads`` and ``compact``; options are static) and optax's
``hinge_loss``, ``perceptron_loss``, ``multiclass_hinge_loss`` and
``multiclass_perceptron_loss`` (optax's values and ``jax.grad`` gradients,
from ``fasthinge.compat.optax``). Labels and weights get no gradient.

Examples
--------
>>> import jax, jax.numpy as jnp, fasthinge.jax as fj
>>> s = jnp.array([[0.1, 0.2, 0.4, 0.8]], dtype=jnp.float32)  # float32 even under x64
>>> float(fj.weston_watkins(s, jnp.array([3])))
0.32499998807907104
>>> jax.jit(jax.grad(fj.weston_watkins))(s, jnp.array([3])).tolist()
[[0.25, 0.25, 0.25, -0.75]]
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _bridge as b

__all__ = [
    "binary_hinge",
    "call",
    "categorical_hinge",
    "crammer_singer",
    "hinge_embedding",
    "hinge_loss",
    "modified_huber",
    "multiclass_hinge_loss",
    "multiclass_perceptron_loss",
    "multilabel_margin",
    "one_vs_all",
    "perceptron",
    "perceptron_loss",
    "smooth_hinge",
    "structured_hinge",
    "topk_hinge",
    "weston_watkins",
]


@functools.cache
def _differentiable(name: str, options: tuple, arrays: tuple) -> Callable[..., Any]:
    """The custom_vjp function of the loss ``name`` for fixed scalar ``options``.

    It takes the arrays named ``arrays`` (scores first), in that order.
    """
    spec = b.spec(name)
    fixed = dict(options)

    def host(need_grad: bool) -> Callable[..., Any]:
        def run(*values: Any) -> Any:
            named = {k: np.asarray(v) for k, v in zip(arrays, values, strict=True)}
            loss, grad = b.host_call(spec, {**fixed, **named}, need_grad)
            return (loss, grad) if need_grad else loss

        return run

    def shapes(scores: Any) -> tuple:
        shape, _ = b.loss_shape(spec, scores.shape, fixed)
        return jax.ShapeDtypeStruct(shape, scores.dtype), jax.ShapeDtypeStruct(
            scores.shape, scores.dtype
        )

    @jax.custom_vjp
    def loss(*values: Any) -> Any:
        return jax.pure_callback(host(False), shapes(values[0])[0], *values,
                                 vmap_method="sequential")  # fmt: skip

    def forward(*values: Any) -> tuple:
        value, grad = jax.pure_callback(host(True), shapes(values[0]), *values,
                                        vmap_method="sequential")  # fmt: skip
        return value, (grad, len(values))

    def backward(residual: tuple, upstream: Any) -> tuple:
        grad, count = residual
        shape, leading = b.loss_shape(spec, grad.shape, fixed)
        scaled = grad * jnp.reshape(upstream, b.upstream_shape(grad.ndim, shape, leading))
        return (scaled,) + (None,) * (count - 1)

    loss.defvjp(forward, backward)
    return loss


def call(name: str, *args: Any, **kwargs: Any) -> Any:
    """The loss ``name`` (a ``fasthinge`` or optax function name) as a JAX function.

    Parameters
    ----------
    name : str
        ``"crammer_singer"``, ``"multiclass_hinge_loss"``, ... (see the module).
    *args, **kwargs
        The arguments of the NumPy-level function. Arrays may be traced;
        the scalar options are static (each new value compiles anew).

    Returns
    -------
    jax.Array
        The loss, differentiable with respect to the scores.

    Examples
    --------
    >>> import jax.numpy as jnp, fasthinge.jax as fj
    >>> float(fj.call("crammer_singer", jnp.array([[2.0, 0.5, -1.0]]), jnp.array([1])))
    2.5
    """
    spec = b.spec(name)
    given = spec.bind(args, kwargs)
    names = spec.arrays + spec.optional_arrays
    arrays = tuple(n for n in names if given[n] is not None)
    options = tuple((n, given[n]) for n in (*spec.required, *spec.options))
    try:
        hash(options)
    except TypeError:
        raise TypeError(f"{name}(): the options must be scalars, got {dict(options)}") from None
    return _differentiable(name, options, arrays)(*(jnp.asarray(given[n]) for n in arrays))


def _function(name: str) -> Callable[..., Any]:
    """``call`` bound to one loss, documented after the NumPy-level function."""

    def function(*args: Any, **kwargs: Any) -> Any:
        return call(name, *args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = (
        f"``{b.LOSSES[name][0]}.{name}`` as a JAX function (``jax.custom_vjp`` over a\n"
        "host callback): usable in ``jax.jit`` and ``jax.grad``. Arguments as in the\n"
        "NumPy-level function (without ``return_grad``, ``out``, ``n_threads``, ``compact``)."
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
hinge_loss = _function("hinge_loss")
perceptron_loss = _function("perceptron_loss")
multiclass_hinge_loss = _function("multiclass_hinge_loss")
multiclass_perceptron_loss = _function("multiclass_perceptron_loss")
