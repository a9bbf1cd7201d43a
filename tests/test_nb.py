"""fasthinge.nb row kernels called from user @njit code (parallel on and off)."""

import importlib.util
import pathlib

import numba
import numpy as np
import pytest

import fasthinge as fh
from fasthinge import nb


@numba.njit
def _serial(S, y, G, p, which):
    total = np.empty(S.shape[0])
    one = S.dtype.type(1.0)
    for i in range(S.shape[0]):
        if which == 0:
            total[i] = nb.crammer_singer_row(S[i], y[i], one, p, one, G[i])
        else:
            total[i] = nb.weston_watkins_row(S[i], y[i], one, p, one, G[i])
    return total


@numba.njit(parallel=True)
def _parallel(S, y, G, p, which):
    total = np.empty(S.shape[0])
    one = S.dtype.type(1.0)
    for i in numba.prange(S.shape[0]):
        if which == 0:
            total[i] = nb.crammer_singer_row(S[i], y[i], one, p, one, G[i])
        else:
            total[i] = nb.weston_watkins_row(S[i], y[i], one, p, one, G[i])
    return total


@pytest.mark.parametrize("driver", [_serial, _parallel], ids=["njit", "njit-parallel"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [1, 2])
def test_row_kernels_match_the_python_api(rng, driver, dtype, p):
    S = (rng.integers(-6, 7, (300, 7)) / 4).astype(dtype)  # kinks and ties
    y = rng.integers(0, 7, 300)
    G = np.empty_like(S)
    loss = driver(S, y, G, p, 0)
    expected = fh.crammer_singer(S, y, p=p, reduction="none")
    np.testing.assert_array_equal(loss.astype(dtype), expected[0])
    np.testing.assert_array_equal(G, expected[1])
    loss = driver(S, y, G, p, 1)
    expected = fh.weston_watkins(S, y, p=p, normalize=False, reduction="none")
    np.testing.assert_array_equal(loss.astype(dtype), expected[0])
    np.testing.assert_array_equal(G, expected[1])


def _example():
    path = pathlib.Path(__file__).parents[1] / "examples" / "pegasos_njit.py"
    spec = importlib.util.spec_from_file_location("pegasos_njit", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_minibatch_gradient_equals_the_python_api(rng):
    example = _example()
    X = rng.standard_normal((200, 12))
    y = rng.integers(0, 5, 200)
    W = rng.standard_normal((12, 5))
    rows = rng.integers(0, 200, 32)
    G, S = np.empty((32, 5)), np.empty((32, 5))
    loss, grad_w = example.minibatch_gradient(X, y, W, rows, G, S)
    expected_loss, expected_g = fh.crammer_singer(X[rows] @ W, y[rows])
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-12)
    np.testing.assert_allclose(grad_w, X[rows].T @ expected_g, rtol=1e-12, atol=1e-15)


def test_example_pegasos_learns_digits():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    X, y = sklearn_datasets.load_digits(return_X_y=True)
    X = np.hstack([X / 16.0, np.ones((X.shape[0], 1))])
    W, history = _example().pegasos(X[:1200], y[:1200], 10, 1e-4, 10, 64, 0)
    assert history[-1] < history[len(history) // 10]
    assert ((X[1200:] @ W).argmax(1) == y[1200:]).mean() > 0.85
