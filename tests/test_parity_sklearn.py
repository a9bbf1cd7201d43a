"""crammer_singer / binary_hinge against scikit-learn's hinge_loss: golden vectors and live."""

import numpy as np
import pytest
from golden_data import cases

import fasthinge as fh

SKLEARN = cases("sklearn")


def _tol(dtype):
    return dict(rtol=1e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-12, atol=0)


@pytest.mark.parametrize("name,case", SKLEARN, ids=[n for n, _ in SKLEARN])
def test_golden(name, case):
    kw = dict(case["kwargs"])
    kind = kw.pop("kind")
    w = case["sample_weight"]
    func = fh.crammer_singer if kind == "multiclass" else fh.binary_hinge
    loss = func(
        case["scores"], case["labels"], sample_weight=w if w.size else None, return_grad=False, **kw
    )
    np.testing.assert_allclose(loss, case["loss"], **_tol(case["scores"].dtype))


sklearn_metrics = pytest.importorskip("sklearn.metrics")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(5))
def test_live_multiclass(dtype, seed):
    rng = np.random.default_rng(seed)
    n, c = rng.integers(1, 300), rng.integers(3, 30)
    s = (rng.standard_normal((n, c)) * rng.uniform(0.1, 5)).astype(dtype)
    y = rng.integers(0, c, n)
    w = rng.uniform(0, 3, n) if seed % 2 else None
    expected = sklearn_metrics.hinge_loss(y, s, labels=np.arange(c), sample_weight=w)
    loss = fh.crammer_singer(s, y, sample_weight=w, return_grad=False)
    np.testing.assert_allclose(loss, expected, **_tol(dtype))


@pytest.mark.parametrize("seed", range(4))
def test_live_binary(seed):
    rng = np.random.default_rng(seed)
    f = rng.standard_normal(101)
    t = rng.choice([0, 1], 101)
    w = rng.uniform(0, 3, 101)
    expected = sklearn_metrics.hinge_loss(t, f, sample_weight=w)
    loss = fh.binary_hinge(f, t, label_encoding="01", sample_weight=w, return_grad=False)
    np.testing.assert_allclose(loss, expected, rtol=1e-12)
