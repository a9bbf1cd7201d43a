"""Compact gradients (indices, values) and compact_matmul against the dense path."""

import numpy as np
import pytest
from conftest import grid_scores

import fasthinge as fh


def _densify(indices, values, n_classes):
    dense = np.zeros((indices.shape[0], n_classes), values.dtype)
    for i, (row_idx, row_val) in enumerate(zip(indices, values, strict=True)):
        for j, v in zip(row_idx, row_val, strict=True):
            if j >= 0:
                dense[i, j] += v
    return dense


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kink", ["zero", "full", "half"])
def test_crammer_singer_compact_equals_dense(rng, dtype, kink):
    S = grid_scores(rng, (300, 7), dtype)
    y = rng.integers(0, 7, 300)
    y[::11] = -5
    sw = rng.uniform(0.5, 2, 300)
    kw = dict(kink=kink, ignore_index=-5, sample_weight=sw, reduction="sum", p=2)
    loss, (idx, val) = fh.crammer_singer(S, y, compact=True, **kw)
    dense_loss, dense = fh.crammer_singer(S, y, **kw)
    assert idx.shape == (300, 2) and idx.dtype == np.int64 and val.dtype == dtype
    assert loss == dense_loss
    np.testing.assert_array_equal(_densify(idx, val, 7), dense)
    assert (idx[::11] == -1).all()


@pytest.mark.parametrize("variant", ["alpha", "beta"])
def test_topk_compact_equals_dense(rng, variant):
    S = grid_scores(rng, (200, 9), np.float64)
    y = rng.integers(0, 9, 200)
    loss, (idx, val) = fh.topk_hinge(S, y, 3, variant=variant, compact=True)
    dense_loss, dense = fh.topk_hinge(S, y, 3, variant=variant)
    assert idx.shape == (200, 4)
    assert loss == dense_loss
    np.testing.assert_array_equal(_densify(idx, val, 9), dense)


def test_compact_refuses_unbounded_or_conflicting_requests():
    S, y = np.zeros((2, 3)), np.array([0, 1])
    with pytest.raises(ValueError, match="compact=True needs ties='first'"):
        fh.crammer_singer(S, y, compact=True, ties="split")
    with pytest.raises(ValueError, match="no out"):
        fh.crammer_singer(S, y, compact=True, out=np.empty((2, 3)))
    with pytest.raises(ValueError, match="no out"):
        fh.topk_hinge(S, y, 1, compact=True, return_grad=False)
    with pytest.raises(TypeError, match="compact must be True or False"):
        fh.crammer_singer(S, y, compact="yes")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compact_matmul_is_xt_dot_g(rng, dtype):
    X = rng.standard_normal((400, 600)).astype(dtype)  # several column blocks
    W = rng.standard_normal((600, 12)).astype(dtype)
    y = rng.integers(0, 12, 400)
    _, (idx, val) = fh.crammer_singer(X @ W, y, compact=True)
    _, G = fh.crammer_singer(X @ W, y)
    expected = X.T.astype(np.float64) @ G.astype(np.float64)
    results = [fh.compact_matmul(X, idx, val, 12, n_threads=k) for k in (1, 2)]
    np.testing.assert_array_equal(results[0], results[1])
    assert results[0].shape == (600, 12) and results[0].dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(results[0], expected, rtol=tol, atol=tol)


def test_compact_matmul_validation():
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"indices must be in \[-1, 4\)"):
        fh.compact_matmul(X, np.full((3, 2), 4), np.zeros((3, 2)), 4)
    with pytest.raises(ValueError, match="values must have the shape of indices"):
        fh.compact_matmul(X, np.zeros((3, 2), int), np.zeros((3, 1)), 4)
    with pytest.raises(ValueError, match="indices must be integers"):
        fh.compact_matmul(X, np.zeros((3, 2)), np.zeros((3, 2)), 4)
