"""Outputs, buffers, layouts, empty input, NaN, gradients by finite differences."""

import numpy as np
import pytest

import fasthinge as fh

MULTICLASS = [fh.weston_watkins, fh.crammer_singer]


def _multiclass(rng, n=50, c=6, dtype=np.float64):
    return rng.standard_normal((n, c)).astype(dtype), rng.integers(0, c, n)


@pytest.mark.parametrize("func", MULTICLASS)
def test_out_buffer_is_written_and_returned(rng, func):
    s, y = _multiclass(rng)
    out = np.full_like(s, np.nan)
    loss, grad = func(s, y, out=out)
    assert grad is out
    expected_loss, expected_grad = func(s, y)
    np.testing.assert_array_equal(out, expected_grad)
    assert loss == expected_loss


def test_binary_out_buffer(rng):
    f, t = rng.standard_normal(40), rng.choice([-1, 1], 40)
    out = np.full(40, np.nan)
    _, grad = fh.binary_hinge(f, t, out=out)
    assert grad is out and not np.isnan(out).any()


@pytest.mark.parametrize("func", MULTICLASS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_return_grad_false_gives_the_same_loss(rng, func, reduction):
    s, y = _multiclass(rng)
    loss = func(s, y, reduction=reduction, return_grad=False)
    assert not isinstance(loss, tuple)
    np.testing.assert_array_equal(loss, func(s, y, reduction=reduction)[0])


@pytest.mark.parametrize("func", MULTICLASS)
def test_inputs_are_never_modified_and_layouts_agree(rng, func):
    s, y = _multiclass(rng, 30, 5)
    expected = func(s, y, reduction="none")
    fortran = np.asfortranarray(s)
    strided = np.repeat(s, 2, axis=1)[:, ::2]
    swapped = s.astype(s.dtype.newbyteorder(">"))
    readonly = s.copy()
    readonly.flags.writeable = False
    y32 = y.astype(np.int32)
    y_u8 = y.astype(np.uint8)
    for variant, labels in [
        (fortran, y),
        (strided, y),
        (swapped, y),
        (readonly, y32),
        (s.tolist(), y_u8),
        (s, y.tolist()),
    ]:
        before = np.array(variant, copy=True)
        loss, grad = func(variant, labels, reduction="none")
        np.testing.assert_array_equal(loss, expected[0])
        np.testing.assert_array_equal(grad, expected[1])
        np.testing.assert_array_equal(np.asarray(variant), before)


@pytest.mark.parametrize("func", MULTICLASS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_empty_input(func, dtype):
    s, y = np.empty((0, 4), dtype), np.empty(0, np.int64)
    loss, grad = func(s, y, reduction="none")
    assert loss.shape == (0,) and grad.shape == (0, 4) and grad.dtype == dtype
    assert func(s, y, reduction="sum", return_grad=False) == 0
    mean = func(s, y, return_grad=False)
    assert np.isnan(mean) and mean.dtype == dtype
    assert np.isnan(fh.binary_hinge(np.empty(0, dtype), np.empty(0), return_grad=False))


@pytest.mark.parametrize("func", MULTICLASS)
def test_all_rows_ignored(rng, func):
    s, _ = _multiclass(rng, 8, 3)
    loss, grad = func(s, np.full(8, -1), ignore_index=-1)
    assert np.isnan(loss)
    assert (grad == 0).all()
    assert func(s, np.full(8, -1), ignore_index=-1, reduction="sum", return_grad=False) == 0


def test_ignored_rows_are_zeroed_in_a_dirty_out(rng):
    s, y = _multiclass(rng, 10, 4)
    y[::3] = 99
    out = np.full_like(s, 5.0)
    for func in MULTICLASS:
        loss, grad = func(s, y, ignore_index=99, out=out, reduction="none")
        assert (grad[::3] == 0).all() and (loss[::3] == 0).all()


def test_nan_propagates_by_default():
    s = np.array([[0.0, np.nan, 0.5], [0.0, 0.1, 0.2]])
    y = np.array([0, 0])
    loss, grad = fh.weston_watkins(s, y, reduction="none")
    assert np.isnan(loss[0]) and np.isnan(grad[0, [0, 1]]).all() and grad[0, 2] != 0
    assert np.isfinite(loss[1]) and np.isfinite(grad[1]).all()
    assert np.isnan(fh.weston_watkins(s, y, return_grad=False))
    loss, grad = fh.crammer_singer(s, y, reduction="none")
    assert np.isnan(loss[0]) and np.isnan(grad[0, [0, 1]]).all() and grad[0, 2] == 0
    loss, grad = fh.binary_hinge(np.array([np.nan, 0.0]), np.array([1, 1]), reduction="none")
    assert np.isnan(loss[0]) and np.isnan(grad[0]) and loss[1] == 1


def test_nan_drop_is_torch_eager():
    s = np.array([[0.0, np.nan, 0.5], [np.nan, 0.1, 0.2]])
    loss, grad = fh.weston_watkins(s, np.array([0, 0]), nan="drop", reduction="none")
    np.testing.assert_array_equal(loss, [1.5 / 3, 0.0])
    np.testing.assert_array_equal(grad, [[-1 / 3, 0, 1 / 3], [0, 0, 0]])


def test_infinities():
    s = np.array([[0.0, np.inf, 0.0], [np.inf, 5.0, 1.0], [0.0, -np.inf, -2.0]])
    y = np.array([0, 0, 0])
    loss, grad = fh.crammer_singer(s, y, reduction="none")
    assert loss[0] == np.inf and grad[0, 1] == 1 and grad[0, 0] == -1
    assert loss[1] == 0 and loss[2] == 0
    loss, grad = fh.weston_watkins(s, y, reduction="none", normalize=False)
    assert loss[0] == np.inf and loss[1] == 0 and loss[2] == 0


def test_crammer_singer_exact_zero_for_satisfied_rows(rng):
    s = rng.standard_normal((200, 5))
    y = rng.integers(0, 5, 200)
    s[np.arange(200), y] += 10
    loss, grad = fh.crammer_singer(s, y, reduction="none")
    assert (loss == 0).all() and (grad == 0).all()
    assert not np.signbit(grad).any()


def test_kinks_and_ties_conventions():
    s = np.array([[1.0, 0.0, 0.0]])  # y=0: the two wrong scores tie exactly at the kink
    y = np.array([0])
    g = {
        (k, t): fh.crammer_singer(s, y, kink=k, ties=t, reduction="sum")[1][0].tolist()
        for k in ("zero", "full", "half")
        for t in ("first", "split")
    }
    assert g["zero", "first"] == [0, 0, 0]
    assert g["full", "first"] == [-1, 1, 0]
    assert g["full", "split"] == [-1, 0.5, 0.5]
    assert g["half", "first"] == [-0.5, 0.5, 0]
    np.testing.assert_allclose(g["half", "split"], [-2 / 3, 1 / 3, 1 / 3])  # jax.grad
    _, gw = fh.weston_watkins(np.array([[0.0, -1.0, 0.5]]), y, kink="full", reduction="sum")
    np.testing.assert_allclose(gw, [[-2 / 3, 1 / 3, 1 / 3]])  # torch.compile's decomposition


@pytest.mark.parametrize("func", [fh.weston_watkins, fh.crammer_singer, fh.binary_hinge])
@pytest.mark.parametrize("p", [1, 2])
def test_gradient_matches_finite_differences(rng, func, p):
    if func is fh.binary_hinge:
        s, y = rng.standard_normal(30), rng.choice([-1, 1], 30)
    else:
        s, y = _multiclass(rng, 12, 5)
    w = rng.uniform(0.5, 2, s.shape[0])
    kw = dict(p=p, margin=0.7, sample_weight=w)
    _, grad = func(s, y, **kw)
    eps = 1e-6
    numeric = np.zeros_like(s)
    for idx in np.ndindex(s.shape):
        hi, lo = s.copy(), s.copy()
        hi[idx] += eps
        lo[idx] -= eps
        numeric[idx] = (
            func(hi, y, return_grad=False, **kw) - func(lo, y, return_grad=False, **kw)
        ) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("func", MULTICLASS)
def test_none_gradient_is_gradient_of_the_sum(rng, func):
    s, y = _multiclass(rng)
    w = rng.uniform(0, 2, 50)
    loss_none, g_none = func(s, y, reduction="none", sample_weight=w)
    loss_sum, g_sum = func(s, y, reduction="sum", sample_weight=w)
    np.testing.assert_array_equal(g_none, g_sum)
    np.testing.assert_allclose(loss_none.sum(), loss_sum, rtol=1e-13)


def test_weighted_mean_conventions(rng):
    s, y = _multiclass(rng, 20, 4)
    w = rng.uniform(0, 2, 20)
    total = fh.crammer_singer(s, y, sample_weight=w, reduction="sum", return_grad=False)
    mean = fh.crammer_singer(s, y, sample_weight=w, return_grad=False)
    per_batch = fh.crammer_singer(
        s, y, sample_weight=w, reduction="sum_over_batch_size", return_grad=False
    )
    np.testing.assert_allclose(mean, total / w.sum(), rtol=1e-14)
    np.testing.assert_allclose(per_batch, total / 20, rtol=1e-14)
