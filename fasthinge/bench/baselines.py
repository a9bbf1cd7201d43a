"""Clean, vectorised NumPy implementations: the baselines that fasthinge is timed against.

Each returns ``(mean loss, gradient)`` with the defaults of the fasthinge
function of the same name (margin 1, p = 1, ``reduction="mean"``). They are
what a careful NumPy user writes (CS231n style), not strawmen: no Python loops,
in the input dtype.
"""

from __future__ import annotations

import numpy as np


def weston_watkins(scores: np.ndarray, labels: np.ndarray) -> tuple:
    """PyTorch ``MultiMarginLoss`` (÷C, mean over rows) and its gradient."""
    n, c = scores.shape
    rows = np.arange(n)
    z = scores - scores[rows, labels][:, None] + scores.dtype.type(1)
    z[rows, labels] = 0
    active = z > 0
    loss = np.where(active, z, 0).sum(dtype=np.float64) / (n * c)
    grad = active.astype(scores.dtype)
    grad[rows, labels] = -grad.sum(axis=1)
    grad *= scores.dtype.type(1 / (n * c))
    return scores.dtype.type(loss), grad


def crammer_singer(scores: np.ndarray, labels: np.ndarray) -> tuple:
    """scikit-learn's multiclass ``hinge_loss`` (mean over rows) and its gradient."""
    n = scores.shape[0]
    rows = np.arange(n)
    masked = scores.copy()
    masked[rows, labels] = -np.inf
    best = masked.argmax(axis=1)
    z = 1 - (scores[rows, labels] - masked[rows, best])
    active = z > 0
    loss = np.where(active, z, 0).sum(dtype=np.float64) / n
    grad = np.zeros_like(scores)
    step = scores.dtype.type(1 / n)
    grad[rows[active], best[active]] = step
    grad[rows[active], labels[active]] = -step
    return scores.dtype.type(loss), grad


def binary_hinge(scores: np.ndarray, labels: np.ndarray) -> tuple:
    """Mean binary hinge with ±1 labels and its derivative."""
    n = scores.shape[0]
    t = labels.astype(scores.dtype)
    z = 1 - t * scores
    active = z > 0
    loss = np.where(active, z, 0).sum(dtype=np.float64) / n
    grad = np.where(active, -t / n, 0).astype(scores.dtype)
    return scores.dtype.type(loss), grad


BASELINES = {
    "weston_watkins": weston_watkins,
    "crammer_singer": crammer_singer,
    "binary_hinge": binary_hinge,
}
