"""Linear multiclass SVMs trained with fasthinge's fused kernels: :class:`LinearSVM`.

This module needs scikit-learn ≥ 1.6 (and scipy ≥ 1.11 for ``solver="lbfgs"``,
tqdm for ``verbose``): ``pip install "fasthinge[linear]"``. ``import fasthinge`` does
not import it.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, validate_data

from ._linear_hinge import linear_hinge

__all__ = ["LinearSVM"]

LOSSES = ("crammer_singer", "weston_watkins", "one_vs_all")
SOLVERS = ("auto", "sgd", "lbfgs")
#: Extra keywords of each loss: Weston–Watkins without PyTorch's ``/C``.
_LOSS_KWARGS = {"weston_watkins": {"normalize": False}}
_GAMMA = 3.0


class LinearSVM(LinearClassifierMixin, ClassifierMixin, BaseEstimator):
    """Multiclass linear SVM: L2-regularised hinge loss, fused kernels, BLAS.

    Minimises, over ``W`` (D, C) and the intercept ``b`` (C,)::

        alpha/2 · ‖W‖²  +  Σ_i w_i ℓ(x_i·W + b, y_i) / Σ_i w_i

    where ``ℓ`` is ``loss`` with power ``p`` (``p=2``: squared hinge) and
    ``w_i`` the sample weights (1 by default). The intercept is not
    regularised. ``LinearSVC(C=C, multi_class="crammer_singer")`` on ``N``
    samples minimises the same objective (times ``C·N``, and with a
    regularised intercept) for ``alpha = 1 / (C·N)``.

    Every loss and gradient comes from :func:`fasthinge.linear_hinge`
    (BLAS for ``X·W`` and ``Xᵀ·G``, the fused kernel for the hinge).

    Parameters
    ----------
    loss : {"crammer_singer", "weston_watkins", "one_vs_all"}, default "crammer_singer"
        Multiclass hinge: max violator (liblinear's ``crammer_singer``), sum
        over violators (Weston–Watkins, not divided by C), or a binary hinge
        per class (``one_vs_all``, what ``SGDClassifier(loss="hinge")`` and
        ``LinearSVC`` optimise class by class).
    p : {1, 2}, default 1
        1: hinge; 2: squared hinge (smooth, so ``solver="lbfgs"`` applies).
    alpha : float, default 1e-4
        L2 regularisation strength ``λ`` (> 0).
    margin : float, default 1.0
        The margin of the hinge.
    fit_intercept : bool, default True
        Learn an (unregularised) intercept per class.
    solver : {"auto", "sgd", "lbfgs"}, default "auto"
        ``"sgd"``: minibatch SGD with Pegasos step sizes
        ``η_t = 1/(alpha·(t + t0))``, ``t0 = 1/(alpha·eta0)``, and iterate
        averaging. ``"lbfgs"``: full-batch L-BFGS (scipy), ``p=2`` only.
        ``"auto"``: ``"lbfgs"`` for ``p=2``, else ``"sgd"``.
    batch_size : int, default 256
        Rows per minibatch (``"sgd"``).
    eta0 : float or "auto", default "auto"
        First step size of ``"sgd"`` (the steps then decay as ``1/(alpha·t)``).
        ``"auto"``: 0.5 for the hinge (``p=1``, bounded gradients); for the
        squared hinge, whose gradient grows with the scores, ``1/(k·(r² + 1))``
        with ``r²`` the mean squared row norm of X and ``k`` 2 for
        Crammer–Singer, ``C/2`` for the others (a step the curvature allows).
    average : bool, default True
        ``"sgd"`` returns the average of the iterates from the second epoch
        on (Polyak–Ruppert), usually more accurate than the last iterate.
    max_iter : int, default 100
        Epochs (``"sgd"``) or L-BFGS iterations.
    tol : float or None, default 1e-3
        ``"sgd"``: stop when the epoch's training objective has not improved
        by ``tol`` for ``n_iter_no_change`` epochs. ``"lbfgs"``: the
        projected-gradient tolerance (``gtol``). None: run ``max_iter``.
    n_iter_no_change : int, default 3
        See ``tol``.
    random_state : int, RandomState instance or None, default None
        Seeds the shuffling of ``"sgd"``; fixed, the fit is deterministic.
    n_threads : int or None, default None
        Threads of the hinge kernels and of BLAS during ``solver="lbfgs"``
        (None: their defaults). ``"sgd"`` always runs on one thread, BLAS
        included: its minibatch steps are too small to share, and thread
        pools waiting for busy cores cost more than they gain.
    verbose : int, default 0
        > 0 shows a progress bar (tqdm) with epoch, objective and training
        accuracy (on at most 2000 rows).
    callback : callable or None, default None
        Called as ``callback(self, epoch)`` after each epoch (iteration for
        ``"lbfgs"``), with ``coef_`` and ``intercept_`` set to the current
        model; returning True stops training.

    Attributes
    ----------
    classes_ : ndarray of shape (C,)
        The class labels (any values; sorted).
    coef_ : ndarray of shape (C, D), or (1, D) for two classes
        Weights, in X's dtype. For two classes, the difference of the two
        columns (``decision_function`` is then 1-D, as scikit-learn expects).
    intercept_ : ndarray of shape (C,), or (1,) for two classes
        Intercepts.
    n_iter_ : int
        Epochs (or L-BFGS iterations) run.
    objective_curve_ : list of float
        The training objective of the current model (for ``"sgd"``, the
        averaged one) after each epoch or iteration.
    loss_curve_ : list of float
        The loss part of ``objective_curve_``.
    n_features_in_ : int
        Number of features seen during ``fit``.

    See Also
    --------
    fasthinge.linear_hinge : the fused loss and gradients used by ``fit``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fasthinge.linear import LinearSVM
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = LinearSVM(alpha=1e-3, random_state=0).fit(X / 16, y)
    >>> clf.score(X / 16, y) > 0.97
    True
    """

    def __init__(
        self,
        loss: str = "crammer_singer",
        *,
        p: int = 1,
        alpha: float = 1e-4,
        margin: float = 1.0,
        fit_intercept: bool = True,
        solver: str = "auto",
        batch_size: int = 256,
        eta0: float | str = "auto",
        average: bool = True,
        max_iter: int = 100,
        tol: float | None = 1e-3,
        n_iter_no_change: int = 3,
        random_state: Any = None,
        n_threads: int | None = None,
        verbose: int = 0,
        callback: Callable | None = None,
    ):
        self.loss = loss
        self.p = p
        self.alpha = alpha
        self.margin = margin
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.batch_size = batch_size
        self.eta0 = eta0
        self.average = average
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose
        self.callback = callback

    # -- validation -------------------------------------------------------------------

    def _check_params(self) -> str:
        """Check every hyper-parameter; return the solver to use."""
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if isinstance(self.p, bool) or self.p not in (1, 2):
            raise ValueError(f"p must be 1 or 2, got {self.p!r}")
        _positive(self.alpha, "alpha")
        _positive(self.margin, "margin")
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        solver = self.solver if self.solver != "auto" else ("lbfgs" if self.p == 2 else "sgd")
        if solver == "lbfgs" and self.p != 2:
            raise ValueError(
                f"solver='lbfgs' needs a smooth loss (p=2, the squared hinge), got p={self.p}; "
                "use solver='sgd' for p=1"
            )
        _positive_int(self.batch_size, "batch_size")
        _positive_int(self.max_iter, "max_iter")
        _positive_int(self.n_iter_no_change, "n_iter_no_change")
        if not (isinstance(self.eta0, str) and self.eta0 == "auto"):
            _positive(self.eta0, "eta0")
        if self.tol is not None:
            _positive(self.tol, "tol", strict=False)
        if self.n_threads is not None:
            _positive_int(self.n_threads, "n_threads")
        if self.callback is not None and not callable(self.callback):
            raise TypeError(f"callback must be callable or None, got {self.callback!r}")
        return solver

    # -- fit --------------------------------------------------------------------------

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> LinearSVM:
        """Fit the model.

        Parameters
        ----------
        X : array_like of shape (N, D)
            Training data; float32 stays float32, anything else becomes float64.
        y : array_like of shape (N,)
            Class labels (at least two distinct values).
        sample_weight : array_like of shape (N,), optional
            Weight of each sample.

        Returns
        -------
        self : LinearSVM
            The fitted estimator.
        """
        solver = self._check_params()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], order="C")
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        if self.classes_.shape[0] < 2:
            raise ValueError(
                f"LinearSVM needs samples of at least 2 classes; got 1 class: {self.classes_[0]!r}"
            )
        sw = None
        if sample_weight is not None:
            sw = _check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)
            if not np.sum(sw, dtype=np.float64) > 0:
                raise ValueError("sample_weight sums to 0; at least one sample needs a weight > 0")
        n_classes = self.classes_.shape[0]
        W = np.zeros((X.shape[1], n_classes), X.dtype)
        b = np.zeros(n_classes, X.dtype)
        self.objective_curve_: list[float] = []
        self.loss_curve_: list[float] = []
        # Minibatch steps are too small to share among threads: run them on one thread
        # (BLAS included); threads spinning for work steal the core from the others.
        threads = 1 if solver == "sgd" else self.n_threads
        with _blas_threads(threads), self._progress() as bar:
            fit = self._fit_sgd if solver == "sgd" else self._fit_lbfgs
            W, b = fit(X, y_enc.astype(np.intp), sw, W, b, bar)
        self._set_model(W, b)
        return self

    def _loss_kwargs(self, n_threads: int | None) -> dict:
        return {"loss": self.loss, "p": self.p, "margin": self.margin,
                "n_threads": n_threads, **_LOSS_KWARGS.get(self.loss, {})}  # fmt: skip

    def _fit_sgd(self, X, y, sw, W, b, bar) -> tuple:
        n = X.shape[0]
        rng = check_random_state(self.random_state)
        alpha = float(self.alpha)
        t0 = 1.0 / (alpha * self._eta0(X, W.shape[1]))
        mean_w = 1.0 if sw is None else float(np.mean(sw, dtype=np.float64))
        kwargs = self._loss_kwargs(1)
        W_avg, b_avg, n_avg = W.copy(), b.copy(), 0
        best, no_change, t = np.inf, 0, 0
        eval_rows = self._eval_rows(n, rng)
        self.n_iter_ = 0
        for epoch in range(1, self.max_iter + 1):
            order = rng.permutation(n)
            for start in range(0, n, self.batch_size):
                rows = order[start : start + self.batch_size]
                t += 1
                eta = 1.0 / (alpha * (t + t0))
                swb = None if sw is None else sw[rows]
                _, dW, db = linear_hinge(
                    X[rows], W, y[rows], b=b, sample_weight=swb, reduction="sum", **kwargs
                )
                scale = X.dtype.type(eta / (rows.shape[0] * mean_w))
                W *= X.dtype.type(1.0 - eta * alpha)
                W -= scale * dW
                if self.fit_intercept:
                    b -= scale * db
                if self.average and epoch > 1:
                    n_avg += 1
                    rate = X.dtype.type((1 + _GAMMA) / (n_avg + _GAMMA))
                    W_avg += rate * (W - W_avg)
                    b_avg += rate * (b - b_avg)
            model = (W_avg, b_avg) if n_avg else (W, b)
            # the objective of the model fit() would return: one full pass, by BLAS
            loss_value, objective = self._objective(X, y, sw, *model, kwargs)
            self.n_iter_ = epoch
            if self._end_epoch(epoch, loss_value, objective, model, X, y, eval_rows, bar):
                return model
            if self.tol is not None:
                if objective > best - self.tol:
                    no_change += 1
                else:
                    no_change = 0
                best = min(best, objective)
                if no_change >= self.n_iter_no_change:
                    return model
        self._warn_max_iter()
        return model

    def _fit_lbfgs(self, X, y, sw, W, b, bar) -> tuple:
        from scipy.optimize import minimize

        alpha = float(self.alpha)
        kwargs = self._loss_kwargs(self.n_threads)
        if self.loss == "crammer_singer":
            # the max over classes is not smooth at ties (W = 0 is all ties): the split
            # subgradient is the descent direction L-BFGS needs there; elsewhere it changes nothing
            kwargs["ties"] = "split"
        n_w = W.size
        shape = W.shape
        fit_b = self.fit_intercept
        last: dict = {}

        def objective(theta: np.ndarray) -> tuple:
            W = theta[:n_w].reshape(shape).astype(X.dtype)
            b = theta[n_w:].astype(X.dtype) if fit_b else np.zeros(shape[1], X.dtype)
            loss, dW, db = linear_hinge(X, W, y, b=b, sample_weight=sw, **kwargs)
            value = float(loss) + 0.5 * alpha * float(np.vdot(W, W))
            grad = np.concatenate([(dW + alpha * W).ravel(), db if fit_b else []])
            last["loss"], last["objective"] = float(loss), value
            return value, grad.astype(np.float64)

        state = {"epoch": 0, "stop": False}

        def callback(intermediate_result: Any) -> None:
            state["epoch"] += 1
            theta = intermediate_result.x
            model = _unpack(theta, n_w, shape, X.dtype, fit_b)
            self.n_iter_ = state["epoch"]
            if self._end_epoch(state["epoch"], last["loss"], last["objective"], model, X, y,
                               self._eval_rows(X.shape[0], None), bar):  # fmt: skip
                raise StopIteration

        theta0 = np.zeros(n_w + (shape[1] if fit_b else 0))
        self.n_iter_ = 0
        result = minimize(
            objective, theta0, jac=True, method="L-BFGS-B", callback=callback,
            options={"maxiter": self.max_iter, "gtol": 0.0 if self.tol is None else self.tol,
                     "ftol": 64 * np.finfo(X.dtype).eps},
        )  # fmt: skip
        self.n_iter_ = max(1, int(result.nit))
        if result.status == 1:  # iteration limit
            self._warn_max_iter()
        return _unpack(result.x, n_w, shape, X.dtype, fit_b)

    # -- helpers ----------------------------------------------------------------------

    def _eta0(self, X: np.ndarray, n_classes: int) -> float:
        if not isinstance(self.eta0, str):
            return float(self.eta0)
        if self.p == 1:
            return 0.5
        rows = X[:: max(1, X.shape[0] // 10_000)]  # a sample is enough for the mean
        r2 = float(np.mean(np.einsum("ij,ij->i", rows, rows, dtype=np.float64)))
        k = 2.0 if self.loss == "crammer_singer" else n_classes / 2.0
        return min(0.5, 1.0 / (k * (r2 + 1.0)))

    def _objective(self, X, y, sw, W, b, kwargs) -> tuple:
        """(mean loss, objective) of the model (W, b) on the whole training set."""
        loss = float(linear_hinge(X, W, y, b=b, sample_weight=sw, **kwargs)[0])
        return loss, loss + 0.5 * float(self.alpha) * float(np.vdot(W, W))

    def _eval_rows(self, n: int, rng: Any) -> np.ndarray | None:
        if not self.verbose:
            return None
        if n <= 2000:
            return np.arange(n)
        return np.random.default_rng(0).choice(n, 2000, replace=False)

    def _end_epoch(self, epoch, loss, objective, model, X, y, eval_rows, bar) -> bool:
        """Record the curves, update the bar, run the callback; True stops."""
        self.loss_curve_.append(loss)
        self.objective_curve_.append(objective)
        if bar is not None:
            W, b = model
            accuracy = float(np.mean((X[eval_rows] @ W + b).argmax(1) == y[eval_rows]))
            bar.set_postfix(objective=f"{objective:.4g}", accuracy=f"{accuracy:.4f}")
            bar.update(1)
        if self.callback is not None:
            self._set_model(*model)
            return bool(self.callback(self, epoch))
        return False

    def _set_model(self, W: np.ndarray, b: np.ndarray) -> None:
        if W.shape[1] == 2:  # binary: scikit-learn's 1-D decision function, positive = classes_[1]
            self.coef_ = (W[:, 1] - W[:, 0])[None, :].copy()
            self.intercept_ = np.array([b[1] - b[0]], W.dtype)
        else:
            self.coef_ = np.ascontiguousarray(W.T)
            self.intercept_ = b.copy()

    def _progress(self) -> Any:
        if not self.verbose:
            return _Null()
        from tqdm.auto import tqdm

        unit = "epoch" if self._check_params() == "sgd" else "iter"
        return tqdm(total=self.max_iter, unit=unit, desc=f"LinearSVM({self.loss})", leave=True)

    def _warn_max_iter(self) -> None:
        if self.tol is not None:
            warnings.warn(
                f"LinearSVM reached max_iter={self.max_iter} before converging (tol={self.tol}); "
                "increase max_iter",
                ConvergenceWarning,
                stacklevel=3,
            )

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


def _unpack(theta: np.ndarray, n_w: int, shape: tuple, dtype: np.dtype, fit_b: bool) -> tuple:
    W = theta[:n_w].reshape(shape).astype(dtype)
    b = theta[n_w:].astype(dtype) if fit_b else np.zeros(shape[1], dtype)
    return W, b


def _positive(value: Any, name: str, strict: bool = True) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not np.isfinite(value) or (value <= 0 if strict else value < 0):
        raise ValueError(f"{name} must be {'> 0' if strict else '>= 0'} and finite, got {value!r}")


def _positive_int(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")


class _Null:
    """A do-nothing context manager standing in for the progress bar."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


class _blas_threads:
    """Limit BLAS to ``n`` threads inside the block (no limit for None)."""

    def __init__(self, n: int | None):
        self.n = n
        self.limiter: Any = None

    def __enter__(self) -> None:
        if self.n is not None:
            from threadpoolctl import threadpool_limits

            self.limiter = threadpool_limits(self.n, user_api="blas")

    def __exit__(self, *exc: object) -> None:
        if self.limiter is not None:
            self.limiter.unregister()
