"""linear_hinge (fused linear layer + hinge) and the LinearSVM estimator."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import fasthinge as fh

NO_JIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"
slow_without_jit = pytest.mark.skipif(NO_JIT, reason="too slow with NUMBA_DISABLE_JIT=1")
TOL = {np.float32: 2e-5, np.float64: 1e-12}


def problem(n=1003, d=7, c=5, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    W = rng.standard_normal((d, c)).astype(dtype)
    b = rng.standard_normal(c).astype(dtype)
    y = rng.integers(0, c, n)
    return X, W, b, y


# -- linear_hinge -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", ["crammer_singer", "weston_watkins", "one_vs_all"])
@pytest.mark.parametrize("chunk_rows", [1, 64, 1000, None, 5000])
def test_linear_hinge_equals_the_naive_path(dtype, loss, chunk_rows):
    X, W, b, y = problem(dtype=dtype)
    loss_value, dW, db, dX = fh.linear_hinge(
        X, W, y, b=b, loss=loss, chunk_rows=chunk_rows, return_dX=True, p=2, margin=0.5
    )
    ref, G = getattr(fh, loss)(X @ W + b, y, p=2, margin=0.5)
    tol = TOL[dtype]
    assert loss_value.dtype == dtype and dW.dtype == dtype and db.dtype == dtype
    np.testing.assert_allclose(loss_value, ref, rtol=tol)
    np.testing.assert_allclose(dW, X.T @ G, rtol=tol * 10, atol=tol)
    np.testing.assert_allclose(db, G.sum(0), rtol=tol * 10, atol=tol)
    np.testing.assert_allclose(dX, G @ W.T, rtol=tol * 10, atol=tol)


@pytest.mark.parametrize("reduction", ["mean", "sum", "sum_over_batch_size"])
def test_linear_hinge_sample_weight_and_ignore_index(reduction):
    X, W, _, y = problem()
    y = y.copy()
    y[::7] = -100
    w = np.random.default_rng(3).uniform(0.1, 2.0, y.shape[0])
    kw = dict(sample_weight=w, reduction=reduction, ignore_index=-100)
    loss, dW = fh.linear_hinge(X, W, y, chunk_rows=100, **kw)
    ref, G = fh.crammer_singer(X @ W, y, **kw)
    np.testing.assert_allclose(loss, ref, rtol=1e-12)
    np.testing.assert_allclose(dW, X.T @ G, rtol=1e-10, atol=1e-12)


def test_linear_hinge_passes_loss_keywords():
    X, W, _, y = problem(c=6)
    cost = 1.0 - np.eye(6)
    cost[0, 1] = 3.0
    for loss, kw in [("topk_hinge", {"k": 2}), ("structured_hinge", {"cost": cost}),
                     ("weston_watkins", {"class_weight": np.arange(1.0, 7.0), "normalize": False}),
                     ("crammer_singer", {"kink": "half", "ties": "split"})]:  # fmt: skip
        value, dW = fh.linear_hinge(X, W, y, loss=loss, chunk_rows=77, **kw)
        if loss == "topk_hinge":
            ref, G = fh.topk_hinge(X @ W, y, 2)
        elif loss == "structured_hinge":
            ref, G = fh.structured_hinge(X @ W, y, cost)
        else:
            ref, G = getattr(fh, loss)(X @ W, y, **kw)
        np.testing.assert_allclose(value, ref, rtol=1e-12)
        np.testing.assert_allclose(dW, X.T @ G, rtol=1e-10, atol=1e-12)


def test_linear_hinge_is_deterministic_and_leaves_inputs_alone():
    X, W, b, y = problem(n=5000, c=20, dtype=np.float32)
    copies = [a.copy() for a in (X, W, b, y)]
    first = fh.linear_hinge(X, W, y, b=b, chunk_rows=333)
    for n_threads in (1, 2):
        again = fh.linear_hinge(X, W, y, b=b, chunk_rows=333, n_threads=n_threads)
        for a, c in zip(first, again, strict=True):
            np.testing.assert_array_equal(a, c)
    for a, c in zip((X, W, b, y), copies, strict=True):
        np.testing.assert_array_equal(a, c)


def test_linear_hinge_empty_and_all_ignored():
    X, W, _, y = problem(n=0)
    loss, dW = fh.linear_hinge(X, W, y)
    assert np.isnan(loss) and not dW.any()
    X, W, _, y = problem(n=10)
    loss, dW = fh.linear_hinge(X, W, np.full(10, -1), ignore_index=-1)
    assert np.isnan(loss) and not dW.any()


@pytest.mark.parametrize(
    "kwargs, exc, text",
    [
        ({"loss": "hinge"}, ValueError, "loss must be one of"),
        ({"chunk_rows": 0}, ValueError, "chunk_rows must be >= 1, got 0"),
        ({"chunk_rows": 2.5}, TypeError, "chunk_rows must be an int"),
        ({"reduction": "none"}, ValueError, "reduction"),
        ({"out": np.empty(3)}, TypeError, "'out'"),
        ({"b": np.zeros(4)}, ValueError, "b must have shape (5,)"),
        ({"b": np.zeros(5, np.float32)}, TypeError, "b has dtype float32"),
        ({"compact": True}, ValueError, "compact=True"),
        ({"p": 3}, ValueError, "p"),
    ],
)
def test_linear_hinge_bad_arguments(kwargs, exc, text):
    X, W, _, y = problem()
    with pytest.raises(exc, match=None) as info:
        fh.linear_hinge(X, W, y, **kwargs)
    assert text in str(info.value)


def test_linear_hinge_bad_shapes():
    X, W, _, y = problem()
    with pytest.raises(ValueError, match=r"W must have shape \(7, C\)"):
        fh.linear_hinge(X, W[:3], y)
    with pytest.raises(ValueError, match="labels must have shape"):
        fh.linear_hinge(X, W, y[:5])
    with pytest.raises(TypeError, match="W has dtype float32"):
        fh.linear_hinge(X, W.astype(np.float32), y)
    with pytest.raises(TypeError, match="X must be float32 or float64"):
        fh.linear_hinge(X.astype(int), W, y)


@slow_without_jit
def test_linear_hinge_peak_memory_is_per_chunk():
    import tracemalloc

    X, W, _, y = problem(n=200_000, d=8, c=50, dtype=np.float32)
    fh.linear_hinge(X[:2048], W, y[:2048], chunk_rows=1024)  # compile the drivers first
    tracemalloc.start()
    fh.linear_hinge(X, W, y, chunk_rows=1024)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    naive = 2 * X.shape[0] * W.shape[1] * 4  # scores + gradient
    assert peak < naive / 20, (peak, naive)


def test_import_fasthinge_does_not_import_sklearn_or_scipy():
    code = "import sys, fasthinge; print(sorted({'sklearn', 'scipy', 'tqdm'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- LinearSVM --------------------------------------------------------------------------

pytest.importorskip("sklearn")
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from fasthinge.linear import LinearSVM  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    return X[:1200], y[:1200], X[1200:], y[1200:]


@parametrize_with_checks(
    [LinearSVM(random_state=0), LinearSVM(p=2, loss="weston_watkins", random_state=0)]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@slow_without_jit
@pytest.mark.parametrize(
    "loss, p, solver",
    [("crammer_singer", 1, "sgd"), ("weston_watkins", 1, "sgd"), ("one_vs_all", 1, "sgd"),
     ("crammer_singer", 2, "lbfgs"), ("weston_watkins", 2, "lbfgs"), ("one_vs_all", 2, "sgd")],
)  # fmt: skip
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_digits_accuracy(digits, loss, p, solver):
    X, y, X_te, y_te = digits
    clf = LinearSVM(loss=loss, p=p, solver=solver, alpha=1e-3, random_state=0, max_iter=200)
    clf.fit(X, y)
    assert clf.score(X_te, y_te) > 0.88  # LinearSVC(crammer_singer): 0.92 on this split
    assert clf.coef_.shape == (10, 64) and clf.intercept_.shape == (10,)
    assert len(clf.objective_curve_) == clf.n_iter_ == len(clf.loss_curve_)


def test_float32_stays_float32_and_fit_is_deterministic(digits):
    X, y, _, _ = digits
    X32 = X.astype(np.float32)
    a = LinearSVM(random_state=3).fit(X32, y)
    b = LinearSVM(random_state=3).fit(X32, y)
    assert a.coef_.dtype == np.float32 and a.decision_function(X32).dtype == np.float32
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)
    assert a.objective_curve_ == b.objective_curve_


def test_labels_binary_and_sample_weight(digits):
    X, y, X_te, y_te = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])  # fmt: skip
    clf = LinearSVM(random_state=0).fit(X, names[y])
    assert list(clf.classes_) == sorted(names)
    assert clf.score(X_te, names[y_te]) > 0.9
    keep = y < 2
    binary = LinearSVM(random_state=0).fit(X[keep], np.where(y[keep] == 1, "b", "a"))
    assert binary.coef_.shape == (1, 64) and binary.decision_function(X[:5]).shape == (5,)
    assert binary.score(X_te[y_te < 2], np.where(y_te[y_te < 2] == 1, "b", "a")) > 0.95
    w = np.where(y == 3, 5.0, 1.0)
    weighted = LinearSVM(random_state=0).fit(X, y, sample_weight=w)
    assert weighted.score(X_te, y_te) > 0.9


def test_early_stopping_callback_and_progress_bar(digits, capsys):
    X, y, _, _ = digits
    clf = LinearSVM(random_state=0, tol=1.0, n_iter_no_change=1).fit(X, y)
    assert clf.n_iter_ <= 3
    seen = []
    LinearSVM(random_state=0, callback=lambda m, e: seen.append(e) or e == 4).fit(X, y)
    assert seen == [1, 2, 3, 4]
    LinearSVM(random_state=0, max_iter=2, tol=None, verbose=1).fit(X, y)
    err = capsys.readouterr().err
    assert "2/2" in err and "objective=" in err and "accuracy=" in err
    LinearSVM(random_state=0, max_iter=2, tol=None, verbose=0).fit(X, y)
    assert capsys.readouterr().err == ""


def test_convergence_warning(digits):
    from sklearn.exceptions import ConvergenceWarning

    X, y, _, _ = digits
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        LinearSVM(max_iter=1, tol=1e-9).fit(X, y)


@pytest.mark.parametrize(
    "params, exc, text",
    [
        ({"loss": "hinge"}, ValueError, "loss must be one of"),
        ({"p": 3}, ValueError, "p must be 1 or 2, got 3"),
        ({"alpha": 0.0}, ValueError, "alpha must be > 0"),
        ({"alpha": "x"}, TypeError, "alpha must be a real number"),
        ({"solver": "lbfgs"}, ValueError, "solver='lbfgs' needs a smooth loss"),
        ({"solver": "newton"}, ValueError, "solver must be one of"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1, got 0"),
        ({"max_iter": 1.5}, TypeError, "max_iter must be an int"),
        ({"tol": -1.0}, ValueError, "tol must be >= 0"),
        ({"callback": 3}, TypeError, "callback must be callable"),
    ],
)
def test_bad_parameters(params, exc, text):
    X = np.zeros((4, 2))
    with pytest.raises(exc) as info:
        LinearSVM(**params).fit(X, [0, 1, 0, 1])
    assert text in str(info.value)


def test_sample_weight_must_have_a_positive_sum():
    X = np.random.default_rng(0).standard_normal((6, 2))
    with pytest.raises(ValueError, match=r"non-zero|sums to 0"):  # scikit-learn's check, or ours
        LinearSVM().fit(X, [0, 1, 0, 1, 0, 1], sample_weight=np.zeros(6))
    with pytest.raises(ValueError, match=r"[Nn]egative"):
        LinearSVM().fit(X, [0, 1, 0, 1, 0, 1], sample_weight=-np.ones(6))


def test_one_class_is_an_error():
    with pytest.raises(ValueError, match="at least 2 classes"):
        LinearSVM().fit(np.zeros((4, 2)), [1, 1, 1, 1])


# -- the demo ---------------------------------------------------------------------------


def test_demo_quick(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from fasthinge import demo

    png = tmp_path / "loss.png"
    demo.main(["--quick", "--plot", str(png)])
    out = capsys.readouterr().out
    for text in ("digits:", "synthetic:", "LinearSVC", "SGDClassifier", "fasthinge LinearSVM",
                 "time to reach", "faster"):  # fmt: skip
        assert text in out
    assert png.stat().st_size > 10_000
    with pytest.raises(SystemExit):
        demo.main(["--size", "10"])
