"""A linear multiclass SVM trained by minibatch Pegasos, written in user ``@njit`` code.

The optimiser calls ``fasthinge.nb.crammer_singer_row`` for each sample of a
minibatch inside its own ``@njit(parallel=True)`` loop: scores ``x·W``, the
row's hinge loss and gradient, and the update ``W ← (1 − ηλ)W − η Xᵀ·G`` with
Pegasos' step size ``η_t = 1/(λ t)``. Run it::

    python examples/pegasos_njit.py
"""

from __future__ import annotations

import numba
import numpy as np

from fasthinge import nb


@numba.njit(parallel=True, nogil=True)
def minibatch_gradient(X, y, W, rows, G, S):
    """Crammer–Singer loss of ``rows`` and its gradient with respect to W (mean over rows)."""
    n = rows.shape[0]
    scale = W.dtype.type(1.0 / n)
    margin = W.dtype.type(1.0)
    Xb = X[rows]  # (n, D): the minibatch
    S[:n] = Xb @ W  # BLAS
    losses = np.empty(n)
    for k in numba.prange(n):  # each row writes its own G[k] and losses[k]: no race
        losses[k] = nb.crammer_singer_row(S[k], y[rows[k]], margin, 1, scale, G[k])
    return losses.sum() / n, Xb.T @ G[:n]


@numba.njit(nogil=True)
def pegasos(X, y, n_classes, lam, epochs, batch, seed):
    """Minibatch Pegasos; returns W (D, C) and the loss of each step."""
    np.random.seed(seed)  # noqa: NPY002 - inside @njit: Numba's own per-thread generator
    W = np.zeros((X.shape[1], n_classes), X.dtype)
    G = np.empty((batch, n_classes), X.dtype)
    S = np.empty((batch, n_classes), X.dtype)
    steps = epochs * (X.shape[0] // batch)
    history = np.empty(steps)
    for t in range(1, steps + 1):
        rows = np.random.randint(0, X.shape[0], batch)  # noqa: NPY002
        loss, grad_w = minibatch_gradient(X, y, W, rows, G, S)
        eta = 1.0 / (lam * t)
        W = (1 - eta * lam) * W - eta * grad_w
        history[t - 1] = loss + 0.5 * lam * (W * W).sum()
    return W, history


def main() -> None:
    """Train on scikit-learn's digits and print the test accuracy."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = np.hstack([X / 16.0, np.ones((X.shape[0], 1))])  # a bias column
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0)
    W, history = pegasos(X_tr, y_tr, 10, 1e-4, 20, 64, 0)
    accuracy = float(((X_te @ W).argmax(1) == y_te).mean())
    print(f"objective {history[0]:.3f} -> {history[-1]:.3f}; test accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
