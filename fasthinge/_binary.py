"""Public binary hinge: validate, dispatch, reduce."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from . import _execution as ex
from . import _validation as v
from ._array_api import array_api
from ._device import on_device, on_gpu
from ._docstrings import shared_doc
from ._small import small_calls

#: label_encoding -> (positive label, negative label)
LABEL_ENCODINGS = {"pm1": (1, -1), "01": (1, 0)}


HINGE, SQUARED, SMOOTH, EMBEDDING, MODIFIED_HUBER = 1, 2, 3, 4, 5  # = _cpu.binary modes


@functools.cache
def _kernels() -> tuple:
    from ._cpu import binary  # imports Numba: only on the first call

    return binary.binary_serial, binary.binary_parallel


def _run(
    mode: int,
    scores: Any,
    labels: Any,
    *,
    margin: Any = 1.0,
    label_encoding: str = "pm1",
    gamma: Any = 1.0,
    scale: float = 1.0,
    kink: str = "zero",
    ignore_index: Any = None,
    **shared: Any,
) -> Any:
    """Validate, allocate, run the elementwise driver in ``mode`` and reduce."""
    s = v.as_scores(scores, 1)
    dtype = s.dtype
    ignore = v.check_ignore_index(ignore_index)
    encoding = v.check_choice(label_encoding, "label_encoding", LABEL_ENCODINGS)
    pos, neg = LABEL_ENCODINGS[encoding]
    if mode == EMBEDDING:  # any real target is valid (see hinge_embedding)
        t = v.as_real_labels(labels, s.shape[0])
    else:
        n_threads = v.n_threads_of(shared.get("n_threads"))  # the label check's too
        t = v.as_binary_labels(labels, s.shape[0], pos, neg, ignore, n_threads)
    m = v.check_margin(margin, dtype)
    g = v.check_positive(gamma, "gamma", dtype)
    v.check_choice(kink, "kink", v.KINKS)
    originals = (scores, labels, shared.get("sample_weight"))
    call = ex.prepare(s, t, ignore=ignore, originals=originals, **shared)
    g_const, grad_denom = ex.gradient_denominator(call)
    chunk = ex.CHUNK_ELEMENTS
    kink_frac = dtype.type(v.KINK_FRACTIONS[kink])
    params = (m, mode, kink_frac, g, dtype.type(scale), pos, neg, g_const, grad_denom, ignore,
              chunk)  # fmt: skip
    return ex.run(call, _kernels(), (call.sample_weight,), params, chunk)


# small calls: mode, margin, gamma, scale and kink fraction (each function's defaults)
@small_calls("binary", HINGE, 1.0, 1.0, 1.0, 0.0, ndim=1, targets="signs")
@array_api
@shared_doc
def binary_hinge(
    scores: Any,
    labels: Any,
    *,
    margin: float = 1.0,
    p: int = 1,
    label_encoding: str = "pm1",
    sample_weight: Any = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    kink: str = "zero",
    ties: str = "first",
    return_grad: bool = True,
    out: np.ndarray | None = None,
    n_threads: int | None = None,
) -> Any:
    """Binary hinge ``max(0, m − t·f)^p`` and its derivative, in one pass.

    ``p=1`` is the hinge (SVM), ``p=2`` the squared hinge (``LinearSVC``'s
    default), ``margin=0`` the perceptron. The derivative with respect to
    ``f`` is ``−t`` (or ``−2t·(m − t f)``) where the hinge is active.

    Parameters
    ----------
    scores : array_like of shape (N,), float32 or float64
        Decision values ``f``. Other dtypes raise ``TypeError``.
    labels : array_like of shape (N,), integer or float
        Targets ``t``: ``−1`` / ``+1`` with ``label_encoding="pm1"``, ``0`` /
        ``1`` with ``label_encoding="01"`` (0 means ``t = −1``). Any other
        value raises ``ValueError``; the encoding is never guessed from data.
    margin : float, default 1.0
        The margin ``m`` (scikit-learn SGD's ``threshold``), rounded to the
        scores' dtype. ``0`` gives the perceptron loss.
    p : {1, 2}, default 1
        1 for the hinge, 2 for the squared hinge.
    label_encoding : {"pm1", "01"}, default "pm1"
        How ``labels`` encode the two classes.
    {shared_keywords}
        (``ties`` has no effect here: there is no max.)

    Returns
    -------
    {returns}

    Notes
    -----
    ``binary_hinge(f, t, sample_weight=w)`` equals scikit-learn's binary
    ``hinge_loss(t, f, sample_weight=w)`` when both classes occur in ``t``.
    At the kink (``t·f = m``) scikit-learn's SGD uses ``kink="full"`` and
    optax ``kink="half"``. A NaN score gives a NaN loss and derivative.

    Examples
    --------
    >>> import numpy as np, fasthinge as fh
    >>> loss, grad = fh.binary_hinge(np.array([-2.18, 2.36, 0.09]), np.array([-1, 1, 1]))
    >>> round(float(loss), 6), grad.tolist()
    (0.303333, [0.0, 0.0, -0.3333333333333333])
    """
    if type(scores) is not np.ndarray and on_device(scores):
        return on_gpu("binary_hinge", locals())
    v.check_choice(ties, "ties", v.TIES)
    mode = SQUARED if v.check_p(p) == 2 else HINGE
    return _run(
        mode, scores, labels, margin=margin, label_encoding=label_encoding, kink=kink,
        ignore_index=ignore_index, sample_weight=sample_weight, reduction=reduction,
        return_grad=return_grad, out=out, n_threads=n_threads,
    )  # fmt: skip


@small_calls("binary", HINGE, 0.0, 1.0, 1.0, 0.0, ndim=1, targets="signs")
@array_api
@shared_doc
def perceptron(
    scores: Any,
    labels: Any,
    *,
    label_encoding: str = "pm1",
    sample_weight: Any = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    kink: str = "zero",
    return_grad: bool = True,
    out: np.ndarray | None = None,
    n_threads: int | None = None,
) -> Any:
    """Perceptron loss ``max(0, −t·f)`` and its derivative: ``binary_hinge(margin=0)``.

    Parameters
    ----------
    scores : array_like of shape (N,), float32 or float64
        Decision values ``f``.
    labels : array_like of shape (N,), integer or float
        Targets, encoded as ``label_encoding`` says (see ``binary_hinge``).
    label_encoding : {"pm1", "01"}, default "pm1"
        How ``labels`` encode the two classes.
    {shared_keywords}

    Returns
    -------
    {returns}

    Notes
    -----
    At ``f = 0`` scikit-learn's SGD (``Hinge(0.0)``) counts a mistake
    (``kink="full"``) and optax's ``perceptron_loss`` gives ``−t/2``
    (``kink="half"``).

    Examples
    --------
    >>> import numpy as np, fasthinge as fh
    >>> loss, grad = fh.perceptron(np.array([0.5, -2.0, 0.0]), np.array([1, 1, -1]),
    ...                            reduction="sum", kink="full")
    >>> float(loss), grad.tolist()
    (2.0, [0.0, -1.0, 1.0])
    """
    if type(scores) is not np.ndarray and on_device(scores):
        return on_gpu("perceptron", locals())
    return _run(
        HINGE, scores, labels, margin=0.0, label_encoding=label_encoding, kink=kink,
        ignore_index=ignore_index, sample_weight=sample_weight, reduction=reduction,
        return_grad=return_grad, out=out, n_threads=n_threads,
    )  # fmt: skip


@small_calls("binary", SMOOTH, 1.0, 1.0, 1.0, 0.0, ndim=1, targets="signs")
@array_api
@shared_doc
def smooth_hinge(
    scores: Any,
    labels: Any,
    *,
    gamma: float = 1.0,
    margin: float = 1.0,
    label_encoding: str = "pm1",
    sample_weight: Any = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    return_grad: bool = True,
    out: np.ndarray | None = None,
    n_threads: int | None = None,
) -> Any:
    """Quadratically smoothed hinge (Zhang 2004) with parameter γ; γ = 1 is Rennie–Srebro.

    With ``u = m − t·f``::

        ℓ = 0                 if u ≤ 0
        ℓ = u² / (2γ)         if 0 < u ≤ γ
        ℓ = u − γ/2           if u > γ

    ``dℓ/du`` is ``0``, ``u/γ`` and ``1``: continuous, so there is no kink.
    With ``γ = 1, m = 1`` this is the smooth hinge of Rennie & Srebro (2005):
    ``½ − z`` for ``z ≤ 0``, ``½(1 − z)²`` for ``0 < z < 1``, 0 beyond
    (``z = t·f``). As ``γ → 0`` it tends to the hinge.

    Parameters
    ----------
    scores : array_like of shape (N,), float32 or float64
        Decision values ``f``.
    labels : array_like of shape (N,), integer or float
        Targets, encoded as ``label_encoding`` says (see ``binary_hinge``).
    gamma : float, default 1.0
        Width γ > 0 of the quadratic piece.
    margin : float, default 1.0
        The margin ``m``.
    label_encoding : {"pm1", "01"}, default "pm1"
        How ``labels`` encode the two classes.
    {smooth_keywords}

    Returns
    -------
    {returns}

    See Also
    --------
    modified_huber : ``4·smooth_hinge(gamma=2)``, scikit-learn's ``modified_huber``.

    Examples
    --------
    >>> import numpy as np, fasthinge as fh
    >>> loss, grad = fh.smooth_hinge(np.array([-1.0, 0.5, 2.0]), np.ones(3), reduction="none")
    >>> loss.tolist(), grad.tolist()
    ([1.5, 0.125, 0.0], [-1.0, -0.5, 0.0])
    """
    if type(scores) is not np.ndarray and on_device(scores):
        return on_gpu("smooth_hinge", locals())
    return _run(
        SMOOTH, scores, labels, margin=margin, gamma=gamma, label_encoding=label_encoding,
        ignore_index=ignore_index, sample_weight=sample_weight, reduction=reduction,
        return_grad=return_grad, out=out, n_threads=n_threads,
    )  # fmt: skip


@small_calls("binary", MODIFIED_HUBER, 1.0, 2.0, 4.0, 0.0, ndim=1, targets="signs")
@array_api
@shared_doc
def modified_huber(
    scores: Any,
    labels: Any,
    *,
    label_encoding: str = "pm1",
    sample_weight: Any = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    return_grad: bool = True,
    out: np.ndarray | None = None,
    n_threads: int | None = None,
) -> Any:
    """Modified Huber loss, exactly scikit-learn's ``SGDClassifier(loss="modified_huber")``.

    With ``z = t·f``::

        ℓ = 0            if z ≥ 1
        ℓ = (1 − z)²     if −1 ≤ z < 1
        ℓ = −4 z         if z < −1

    and ``dℓ/df = −2t(1 − z)`` or ``−4t``. It is ``4·smooth_hinge(gamma=2)``
    (scikit-learn's docstring calls it a "quadratically smoothed" hinge with
    γ = 2, without the factor 4); the boundary at ``z = −1`` belongs to the
    quadratic piece, as in scikit-learn.

    Parameters
    ----------
    scores : array_like of shape (N,), float32 or float64
        Decision values ``f``.
    labels : array_like of shape (N,), integer or float
        Targets, encoded as ``label_encoding`` says (see ``binary_hinge``).
    label_encoding : {"pm1", "01"}, default "pm1"
        How ``labels`` encode the two classes.
    {smooth_keywords}

    Returns
    -------
    {returns}

    Examples
    --------
    >>> import numpy as np, fasthinge as fh
    >>> loss, grad = fh.modified_huber(np.array([2.0, 0.5, -3.0]), np.ones(3), reduction="none")
    >>> loss.tolist(), grad.tolist()
    ([0.0, 0.25, 12.0], [0.0, -1.0, -4.0])
    """
    if type(scores) is not np.ndarray and on_device(scores):
        return on_gpu("modified_huber", locals())
    return _run(
        MODIFIED_HUBER, scores, labels, gamma=2.0, scale=4.0, label_encoding=label_encoding,
        ignore_index=ignore_index, sample_weight=sample_weight, reduction=reduction,
        return_grad=return_grad, out=out, n_threads=n_threads,
    )  # fmt: skip


@small_calls("binary", EMBEDDING, 1.0, 1.0, 1.0, 1.0, ndim=1, targets="numbers")  # kink "full"
@array_api
@shared_doc
def hinge_embedding(
    scores: Any,
    labels: Any,
    *,
    margin: float = 1.0,
    sample_weight: Any = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    kink: str = "full",
    return_grad: bool = True,
    out: np.ndarray | None = None,
    n_threads: int | None = None,
) -> Any:
    """PyTorch ``HingeEmbeddingLoss``: ``x`` for target 1, ``max(0, m − x)`` for −1.

    Elementwise, with PyTorch's exact rule for other targets::

        ℓ = [t ≠ −1]·x + [t ≠ 1]·max(0, m − x)

    so a target that is neither 1 nor −1 (e.g. 0) adds both terms, as PyTorch
    does. ``scores`` are typically distances.

    Parameters
    ----------
    scores : array_like of shape (N,), float32 or float64
        The inputs ``x``.
    labels : array_like of shape (N,), integer or float
        Targets; any real value is accepted (see the rule above).
    margin : float, default 1.0
        The margin ``m``.
    {shared_keywords}
        (``kink`` defaults to ``"full"`` here: PyTorch's ``clamp_min`` passes
        the gradient at ``x = m``; ``ties`` is not a keyword here.)

    Returns
    -------
    {returns}

    Examples
    --------
    >>> import numpy as np, fasthinge as fh
    >>> loss, grad = fh.hinge_embedding(np.array([0.3, 0.3, 0.7]), np.array([1, -1, 0]),
    ...                                 reduction="none")
    >>> loss.tolist(), grad.tolist()
    ([0.3, 0.7, 1.0], [1.0, -1.0, 0.0])
    """
    if type(scores) is not np.ndarray and on_device(scores):
        return on_gpu("hinge_embedding", locals())
    return _run(
        EMBEDDING, scores, labels, margin=margin, kink=kink, ignore_index=ignore_index,
        sample_weight=sample_weight, reduction=reduction, return_grad=return_grad, out=out,
        n_threads=n_threads,
    )  # fmt: skip
