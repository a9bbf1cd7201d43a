"""perceptron, smooth_hinge, modified_huber, hinge_embedding: references and scikit-learn."""

import itertools

import numba
import numpy as np
import pytest
import reference as ref
from conftest import assert_close, grid_scores

import fasthinge as fh

DTYPES = [np.float32, np.float64]
REDUCTIONS = ["mean", "sum", "none", "sum_over_batch_size"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_smooth_hinge_and_modified_huber(rng, dtype, reduction):
    f = grid_scores(rng, 61, dtype) * 2
    t = rng.choice([-1, 1], 61)
    for gamma, margin, weighted, ignore in itertools.product(
        [1.0, 0.5, 2.0, 3.25], [1.0, 0.0, 1.5], [False, True], [None, 5]
    ):
        tt = t.copy()
        if ignore is not None:
            tt[::4] = ignore
        sw = rng.uniform(0.5, 2, 61).astype(dtype) if weighted else None
        loss, grad = fh.smooth_hinge(
            f,
            tt,
            gamma=gamma,
            margin=margin,
            sample_weight=sw,
            reduction=reduction,
            ignore_index=ignore,
        )
        rl, rg = ref.smooth_hinge_rows(f, tt, gamma=gamma, margin=margin, ignore_index=ignore)
        el, eg = ref.reduce(rl, rg, tt, reduction=reduction, sample_weight=sw, ignore_index=ignore)
        assert grad.dtype == dtype
        assert_close(loss, el, dtype)
        assert_close(grad, eg, dtype)
    loss, grad = fh.modified_huber(f, t, reduction=reduction)
    rl, rg = ref.smooth_hinge_rows(f, t, gamma=2.0, scale=4.0)
    el, eg = ref.reduce(rl, rg, t, reduction=reduction)
    assert_close(loss, el, dtype)
    assert_close(grad, eg, dtype)


def test_rennie_srebro_formula():
    z = np.array([-2.0, -0.5, 0.0, 0.25, 0.5, 0.75, 1.0, 3.0])
    expected = np.where(z <= 0, 0.5 - z, np.where(z < 1, 0.5 * (1 - z) ** 2, 0.0))
    loss = fh.smooth_hinge(z, np.ones(8), reduction="none", return_grad=False)
    np.testing.assert_allclose(loss, expected, rtol=1e-15)


def test_smooth_hinge_tends_to_the_hinge(rng):
    f = rng.standard_normal(100)
    t = rng.choice([-1, 1], 100)
    hinge = fh.binary_hinge(f, t, return_grad=False)
    smooth = fh.smooth_hinge(f, t, gamma=1e-9, return_grad=False)
    np.testing.assert_allclose(smooth, hinge, atol=1e-8)


@pytest.mark.parametrize("dtype", DTYPES)
def test_perceptron_is_binary_hinge_with_zero_margin(rng, dtype):
    f = grid_scores(rng, 40, dtype)
    t = rng.choice([-1, 1], 40)
    for kink in ("zero", "full", "half"):
        a = fh.perceptron(f, t, kink=kink, reduction="none")
        b = fh.binary_hinge(f, t, margin=0.0, kink=kink, reduction="none")
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    assert (f == 0).any()  # the grid puts some scores exactly on the kink


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_embedding(rng, dtype, reduction):
    x = grid_scores(rng, 50, dtype)
    t = rng.choice([-1, 1, 0, 2], 50).astype(dtype)
    for margin, kink, ignore in itertools.product([1.0, 0.5, 0.0], ["zero", "full"], [None, 2]):
        loss, grad = fh.hinge_embedding(
            x, t, margin=margin, kink=kink, reduction=reduction, ignore_index=ignore
        )
        rl, rg = ref.hinge_embedding_rows(x, t, margin=margin, kink=kink, ignore_index=ignore)
        el, eg = ref.reduce(rl, rg, t, reduction=reduction, ignore_index=ignore)
        assert_close(loss, el, dtype)
        assert_close(grad, eg, dtype)


def test_gamma_validation():
    for bad in (0, -1.0, np.inf, np.nan):
        with pytest.raises(ValueError, match="gamma must be finite and > 0"):
            fh.smooth_hinge(np.zeros(3), np.ones(3), gamma=bad)
    with pytest.raises(TypeError, match="gamma must be a real number"):
        fh.smooth_hinge(np.zeros(3), np.ones(3), gamma="1")


def test_hinge_embedding_accepts_any_real_target():
    loss = fh.hinge_embedding(np.array([0.7]), np.array([0.0]), return_grad=False)
    assert float(loss) == pytest.approx(1.0)  # x + (1 - x)_+ (hinge-semantics.md §7.3)
    with pytest.raises(TypeError, match="labels must be integer or float"):
        fh.hinge_embedding(np.array([0.7]), np.array(["a"]))


sgd_fast = pytest.importorskip("sklearn.linear_model._sgd_fast")


@pytest.mark.parametrize("threshold", [1.0, 0.0, 0.5])
def test_sklearn_sgd_hinge_objects(threshold):
    """SGD's Hinge(threshold): loss, and dloss = -y at the kink (kink='full')."""
    z = np.array([-2.0, -0.25, 0.0, 0.5, 1.0, 1.5]) + (threshold - 1.0)
    for y in (-1.0, 1.0):
        f = z * y
        loss_obj = sgd_fast.Hinge(threshold)
        expected = [loss_obj.py_loss(p, y) for p in f]
        dexpected = [loss_obj.py_dloss(p, y) for p in f]
        loss, grad = fh.binary_hinge(
            f, np.full(6, y), margin=threshold, kink="full", reduction="none"
        )
        np.testing.assert_allclose(loss, expected, rtol=1e-15)
        np.testing.assert_allclose(grad, dexpected, rtol=1e-15)


def test_sklearn_sgd_squared_hinge_and_modified_huber():
    f = np.array([-3.0, -1.0, -0.25, 0.0, 0.5, 1.0, 2.0])
    for y in (-1.0, 1.0):
        sq, mh = sgd_fast.SquaredHinge(1.0), sgd_fast.ModifiedHuber()
        loss, grad = fh.binary_hinge(f, np.full(7, y), p=2, reduction="none")
        np.testing.assert_allclose(loss, [sq.py_loss(p, y) for p in f], rtol=1e-15)
        np.testing.assert_allclose(grad, [sq.py_dloss(p, y) for p in f], rtol=1e-15)
        loss, grad = fh.modified_huber(f, np.full(7, y), reduction="none")
        np.testing.assert_allclose(loss, [mh.py_loss(p, y) for p in f], rtol=1e-15)
        np.testing.assert_allclose(grad, [mh.py_dloss(p, y) for p in f], rtol=1e-15)


PLAIN_LOOP = (  # (function, keywords, margin m: its kink is where t·s = m)
    (fh.binary_hinge, {}, 1.0),
    (fh.binary_hinge, {"p": 2}, 1.0),
    (fh.perceptron, {}, 0.0),
    (fh.smooth_hinge, {}, 1.0),
    (fh.smooth_hinge, {"gamma": 0.5}, 1.0),
    (fh.modified_huber, {}, 1.0),
)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
# 33 001: the parallel driver's chunks; without the JIT a Python loop like the serial one
# (6.8 s a dtype there, and 16 385 has two chunks already)
@pytest.mark.parametrize("n", [1, 7, 513, 16385] + ([] if numba.config.DISABLE_JIT else [33_001]))
def test_plain_loop_equals_the_general_loop(dtype, n):
    # without sample weights, ignore_index or a hinge kink other than "zero" the margin
    # losses take their own loop (_cpu.binary._plain_margin_block); sample weights of
    # ones, an ignore_index no label has, or kink "half" where no margin is exactly 0
    # take the general loop: the same losses, gradient and sum, bit for bit (kinks,
    # the smooth pieces' joints, NaN and ±inf included)
    rng = np.random.default_rng(n)
    s = rng.standard_normal(n).astype(dtype)
    t = np.where(rng.random(n) > 0.5, 1, -1)
    s[::97] = t[::97]  # t·s = 1: the hinge's kink
    s[3::89] = -t[3::89]  # u = 2: modified Huber's joint
    s[5::211] = np.inf
    for func, kwargs, margin in PLAIN_LOOP:
        default = func(s, t, reduction="none", **kwargs)
        for general in (
            func(s, t, reduction="none", sample_weight=np.ones(n), **kwargs),
            func(s, t, reduction="none", ignore_index=7, **kwargs),
        ):
            assert general[0].tobytes() == default[0].tobytes(), func
            assert general[1].tobytes() == default[1].tobytes(), func
        mean = func(s, t, **kwargs)[0]
        assert mean.tobytes() == func(s, t, ignore_index=7, **kwargs)[0].tobytes(), func
        sum_ = func(s, t, reduction="sum", return_grad=False, **kwargs)
        weighted = func(s, t, reduction="sum", sample_weight=np.ones(n), **kwargs)[0]
        assert sum_.tobytes() == weighted.tobytes(), func
        if func is fh.binary_hinge and not kwargs and (t * s != margin).all():
            half = func(s, t, kink="half", reduction="none")
            assert half[1].tobytes() == default[1].tobytes()
    s[n // 2] = np.nan
    for func, kwargs, _ in PLAIN_LOOP:
        nan_default = func(s, t, reduction="none", **kwargs)
        nan_general = func(s, t, reduction="none", ignore_index=7, **kwargs)
        assert nan_default[1].tobytes() == nan_general[1].tobytes(), func
        assert np.isnan(nan_default[1][n // 2]) and np.isnan(nan_default[0][n // 2]), func
