"""Public binary hinge: validate, dispatch, reduce."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _execution as ex
from . import _validation as v
from ._docstrings import shared_doc

#: label_encoding -> (positive label, negative label)
LABEL_ENCODINGS = {"pm1": (1, -1), "01": (1, 0)}


def _kernels() -> tuple:
    from ._cpu import binary  # imports Numba: only on the first call

    return binary.binary_serial, binary.binary_parallel


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
    s = v.as_scores(scores, 1)
    ignore = v.check_ignore_index(ignore_index)
    pos, neg = LABEL_ENCODINGS[v.check_choice(label_encoding, "label_encoding", LABEL_ENCODINGS)]
    t = v.as_binary_labels(labels, s.shape[0], pos, neg, ignore)
    dtype = s.dtype
    m = v.check_margin(margin, dtype)
    p = v.check_p(p)
    v.check_choice(kink, "kink", v.KINKS)
    v.check_choice(ties, "ties", v.TIES)
    call = ex.prepare(
        s,
        t,
        sample_weight=sample_weight,
        reduction=reduction,
        ignore=ignore,
        return_grad=return_grad,
        out=out,
        n_threads=n_threads,
        originals=(scores, labels, sample_weight),
    )
    g_const, grad_denom = ex.gradient_denominator(call)
    chunk = ex.CHUNK_ELEMENTS
    params = (m, p, dtype.type(v.KINK_FRACTIONS[kink]), pos, g_const, grad_denom, ignore, chunk)
    return ex.run(call, _kernels(), (call.sample_weight,), params, chunk)
