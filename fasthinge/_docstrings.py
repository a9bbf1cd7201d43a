"""Parameter descriptions shared by the public docstrings.

A public docstring writes ``{shared_keywords}`` (or ``{smooth_keywords}`` for
a loss without a kink, and ``{returns}``) alone on a line, indented as its
other parameters, and ``@shared_doc`` puts the text there.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)

WEIGHTS_AND_REDUCTION = """\
sample_weight : array_like of shape (N,), optional
    Per-row weights, multiplying each row's loss (and its gradient).
reduction : {"mean", "sum", "none", "sum_over_batch_size"}, default "mean"
    ``"mean"`` is ``Σ w_i ℓ_i / Σ w_i`` over the kept rows (``/ N_kept``
    without ``sample_weight``; scikit-learn's and NumPy's weighted average).
    ``"sum_over_batch_size"`` is ``Σ w_i ℓ_i / N_kept`` (Keras' default).
    ``"sum"`` is ``Σ w_i ℓ_i``; ``"none"`` returns the (N,) row losses
    ``w_i ℓ_i``. Sums are taken in float64 and rounded once to the dtype.
    With no kept rows (N = 0, or all ignored) ``"mean"`` is NaN and ``"sum"``
    is 0. A zero ``Σ w_i`` over kept rows raises ``ValueError`` for ``"mean"``.
ignore_index : int, optional
    Rows whose label equals it are left out of the loss, the gradient (zero
    rows) and the mean's denominator. Default: no row is ignored."""

KINK_AND_TIES = """\
kink : {"zero", "full", "half"}, default "zero"
    Subgradient where a hinge is exactly at its kink (``z = 0``): ``"zero"``
    as PyTorch eager, ``"full"`` the active slope (torch.compile,
    torchmetrics, scikit-learn SGD), ``"half"`` as ``jax.grad`` (optax,
    Keras on JAX). Irrelevant for ``p=2``, whose slope is 0 there.
ties : {"first", "split"}, default "first"
    Which of several tied maximal scores receives a max's subgradient: the
    first index (``torch.max``) or an equal share each (``jax.grad``)."""

OUTPUTS = """\
return_grad : bool, default True
    Return ``(loss, grad)``. With ``False`` only the loss is computed and no
    gradient is allocated.
out : ndarray, optional
    A C-contiguous, writeable buffer of the scores' shape and dtype that
    receives the gradient (and is returned). It must not overlap an input.
    ``fasthinge.empty_gradient(scores)`` makes one placed for speed.
n_threads : int, optional
    Threads for this call (default: Numba's current setting). Results are
    bit-identical for any thread count."""

#: Every shared keyword (the hinge losses).
SHARED_KEYWORDS = "\n".join((WEIGHTS_AND_REDUCTION, KINK_AND_TIES, OUTPUTS))
#: The shared keywords of a loss without a kink (smooth losses).
SMOOTH_KEYWORDS = "\n".join((WEIGHTS_AND_REDUCTION, OUTPUTS))

RETURNS = """\
loss : numpy scalar of the scores' dtype, or ndarray of shape (N,)
    The reduced loss, or the row losses for ``reduction="none"``.
grad : ndarray of the scores' shape and dtype
    The (sub)gradient of ``loss`` (of its sum for ``"none"``) with respect to
    ``scores``. Only with ``return_grad=True``."""


def shared_doc(func: F) -> F:
    """Put the shared parameter and return descriptions into ``func.__doc__``."""
    doc = func.__doc__ or ""
    keys = (("{shared_keywords}", SHARED_KEYWORDS), ("{smooth_keywords}", SMOOTH_KEYWORDS),
            ("{returns}", RETURNS))  # fmt: skip
    for key, text in keys:
        line = next((ln for ln in doc.splitlines() if ln.strip() == key), None)
        if line is not None:
            indent = line[: len(line) - len(line.lstrip())]
            doc = doc.replace(line, textwrap.indent(text, indent))
    func.__doc__ = doc
    return func
