"""Every keyword combination of the public functions against the loop references."""

import itertools

import numpy as np
import pytest
import reference as ref
from conftest import assert_close, grid_scores

import fasthinge as fh

DTYPES = [np.float32, np.float64]
REDUCTIONS = ["mean", "sum", "none", "sum_over_batch_size"]


def _weights(rng, n, dtype, use):
    return rng.uniform(0.5, 2.0, n).astype(dtype) if use else None


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted,ignore", [(False, None), (True, None), (True, 2), (False, 0)])
def test_weston_watkins(rng, dtype, reduction, weighted, ignore):
    S = grid_scores(rng, (37, 5), dtype)
    y = rng.integers(0, 5, 37)
    sw = _weights(rng, 37, dtype, weighted)
    cw = rng.uniform(0.5, 2, 5)
    for p, margin, normalize, kink, class_weight in itertools.product(
        [1, 2], [1.0, 0.5, 0.0], [True, False], ["zero", "full", "half"], [None, cw]
    ):
        kw = dict(margin=margin, p=p, class_weight=class_weight, kink=kink)
        loss, grad = fh.weston_watkins(
            S,
            y,
            normalize=normalize,
            sample_weight=sw,
            reduction=reduction,
            ignore_index=ignore,
            **kw,
        )
        rl, rg = ref.weston_watkins_rows(S, y, normalize=normalize, ignore_index=ignore, **kw)
        el, eg = ref.reduce(rl, rg, y, reduction=reduction, sample_weight=sw, ignore_index=ignore)
        assert grad.dtype == dtype and np.asarray(loss).dtype == dtype
        assert_close(loss, el, dtype)
        assert_close(grad, eg, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted,ignore", [(False, None), (True, None), (True, 1), (False, 3)])
def test_crammer_singer(rng, dtype, reduction, weighted, ignore):
    S = grid_scores(rng, (41, 6), dtype)
    y = rng.integers(0, 6, 41)
    sw = _weights(rng, 41, dtype, weighted)
    cw = rng.uniform(0.5, 2, 6)
    for p, margin, kink, ties, class_weight in itertools.product(
        [1, 2], [1.0, 0.25, 0.0], ["zero", "full", "half"], ["first", "split"], [None, cw]
    ):
        kw = dict(margin=margin, p=p, class_weight=class_weight, kink=kink, ties=ties)
        loss, grad = fh.crammer_singer(
            S, y, sample_weight=sw, reduction=reduction, ignore_index=ignore, **kw
        )
        rl, rg = ref.crammer_singer_rows(S, y, ignore_index=ignore, **kw)
        el, eg = ref.reduce(rl, rg, y, reduction=reduction, sample_weight=sw, ignore_index=ignore)
        assert_close(loss, el, dtype)
        assert_close(grad, eg, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("encoding", ["pm1", "01"])
def test_binary_hinge(rng, dtype, reduction, encoding):
    f = grid_scores(rng, 53, dtype)
    t = rng.choice([-1, 1] if encoding == "pm1" else [0, 1], 53)
    for p, margin, kink, weighted, ignore in itertools.product(
        [1, 2], [1.0, 0.0, 0.75], ["zero", "full", "half"], [False, True], [None, 7]
    ):
        tt = t.copy()
        if ignore is not None:
            tt[::5] = ignore
        sw = _weights(rng, 53, dtype, weighted)
        kw = dict(margin=margin, p=p, kink=kink, label_encoding=encoding, ignore_index=ignore)
        loss, grad = fh.binary_hinge(f, tt, sample_weight=sw, reduction=reduction, **kw)
        rl, rg = ref.binary_hinge_rows(f, np.where(tt == 0, -1, tt), **kw)
        el, eg = ref.reduce(rl, rg, tt, reduction=reduction, sample_weight=sw, ignore_index=ignore)
        assert grad.dtype == dtype
        assert_close(loss, el, dtype)
        assert_close(grad, eg, dtype)


@pytest.mark.parametrize("func", [fh.weston_watkins, fh.crammer_singer])
@pytest.mark.parametrize("n_classes", [1, 2, 3, 40])
def test_multiclass_shapes(rng, func, n_classes):
    S = rng.standard_normal((23, n_classes))
    y = rng.integers(0, n_classes, 23)
    rows = ref.weston_watkins_rows if func is fh.weston_watkins else ref.crammer_singer_rows
    loss, grad = func(S, y, reduction="sum")
    rl, rg = rows(S, y)
    assert_close(loss, rl.sum(), np.float64)
    assert_close(grad, rg, np.float64)


def test_large_chunked_input_matches_reference(rng):
    """More rows than one chunk, and the parallel driver."""
    S = rng.standard_normal((5000, 13))
    y = rng.integers(0, 13, 5000)
    for func, rows in [
        (fh.weston_watkins, ref.weston_watkins_rows),
        (fh.crammer_singer, ref.crammer_singer_rows),
    ]:
        loss, grad = func(S, y)
        rl, rg = rows(S, y)
        el, eg = ref.reduce(rl, rg, y)
        assert_close(loss, el, np.float64)
        assert_close(grad, eg, np.float64)
