"""Property tests (hypothesis): every public loss against its loop reference.

Every public loss, with its keywords (reduction, kink, ties, p, margin, weights,
ignore_index, label encodings, NaN policy). Inputs: N in 0..7, C in 1..6,
float32/float64, C- and F-ordered, strided, read-only and byte-swapped arrays,
NaN/±inf, huge and tiny magnitudes, and a coarse grid so that kinks and ties are
frequent. The budget is bounded
(``max_examples``) so CI stays fast; the seed is derandomised for
reproducible CI runs.
"""

import numpy as np
import reference as ref
import reference_topk as ref_topk
from conftest import assert_close
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fasthinge as fh

SETTINGS = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
GRID = [-2.0, -1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0]
SPECIAL = [np.nan, np.inf, -np.inf, 1e30, -1e30, 1e-30]


@st.composite
def score_arrays(draw, ndim, allow_special=True, min_cols=1):
    n = draw(st.integers(0, 7))
    shape = (n,) if ndim == 1 else (n, draw(st.integers(min_cols, 6)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    values = GRID + (SPECIAL if allow_special and draw(st.booleans()) else [])
    flat = draw(
        st.lists(
            st.sampled_from(values), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))
        )
    )
    array = np.array(flat, dtype=dtype).reshape(shape)
    layout = draw(st.sampled_from(["C", "F", "strided", "readonly", "swapped"]))
    if layout == "F":
        array = np.asfortranarray(array)
    elif layout == "strided":
        array = np.repeat(array, 2, axis=-1)[..., ::2]
    elif layout == "readonly":
        array = array.copy()
        array.flags.writeable = False
    elif layout == "swapped":
        array = array.astype(array.dtype.newbyteorder(">"))
    return array


def _check(loss, grad, rows, labels, reduction, dtype, sample_weight=None, ignore_index=None):
    el, eg = ref.reduce(
        *rows, labels, reduction=reduction, sample_weight=sample_weight, ignore_index=ignore_index
    )
    assert_close(loss, el, dtype)
    assert_close(grad, eg, dtype)


reductions = st.sampled_from(["mean", "sum", "none", "sum_over_batch_size"])
kinks = st.sampled_from(["zero", "full", "half"])
ties = st.sampled_from(["first", "split"])


@SETTINGS
@given(
    S=score_arrays(2),
    data=st.data(),
    reduction=reductions,
    kink=kinks,
    p=st.sampled_from([1, 2]),
    normalize=st.booleans(),
    nan=st.sampled_from(["propagate", "drop"]),
)
def test_weston_watkins(S, data, reduction, kink, p, normalize, nan):
    n, c = S.shape
    y = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), int)
    before = S.copy()
    loss, grad = fh.weston_watkins(
        S, y, p=p, kink=kink, normalize=normalize, nan=nan, reduction=reduction
    )
    rows = ref.weston_watkins_rows(S, y, p=p, kink=kink, normalize=normalize, nan=nan)
    _check(loss, grad, rows, y, reduction, S.dtype)
    np.testing.assert_array_equal(S, before)


@SETTINGS
@given(
    S=score_arrays(2),
    data=st.data(),
    reduction=reductions,
    kink=kinks,
    ties=ties,
    p=st.sampled_from([1, 2]),
    weighted=st.booleans(),
)
def test_crammer_singer(S, data, reduction, kink, ties, p, weighted):
    n, c = S.shape
    y = np.array(data.draw(st.lists(st.integers(-1, c - 1), min_size=n, max_size=n)), int)
    w = np.linspace(0.5, 2, n) if weighted else None
    if reduction == "mean" and weighted and not (y != -1).any():
        w = None
    loss, grad = fh.crammer_singer(
        S, y, p=p, kink=kink, ties=ties, sample_weight=w, ignore_index=-1, reduction=reduction
    )
    rows = ref.crammer_singer_rows(S, y, p=p, kink=kink, ties=ties, ignore_index=-1)
    _check(loss, grad, rows, y, reduction, S.dtype, w, -1)


@SETTINGS
@given(
    f=score_arrays(1),
    data=st.data(),
    reduction=reductions,
    kink=kinks,
    p=st.sampled_from([1, 2]),
    margin=st.sampled_from([0.0, 1.0, 0.5]),
)
def test_binary_hinge(f, data, reduction, kink, p, margin):
    n = f.shape[0]
    t = np.array(data.draw(st.lists(st.sampled_from([-1, 1]), min_size=n, max_size=n)))
    loss, grad = fh.binary_hinge(f, t, p=p, margin=margin, kink=kink, reduction=reduction)
    _check(
        loss,
        grad,
        ref.binary_hinge_rows(f, t, p=p, margin=margin, kink=kink),
        t,
        reduction,
        f.dtype,
    )


@SETTINGS
@given(
    f=score_arrays(1), data=st.data(), reduction=reductions, gamma=st.sampled_from([0.5, 1.0, 2.0])
)
def test_smooth_hinge(f, data, reduction, gamma):
    n = f.shape[0]
    t = np.array(data.draw(st.lists(st.sampled_from([-1, 1]), min_size=n, max_size=n)))
    loss, grad = fh.smooth_hinge(f, t, gamma=gamma, reduction=reduction)
    _check(loss, grad, ref.smooth_hinge_rows(f, t, gamma=gamma), t, reduction, f.dtype)


@SETTINGS
@given(
    S=score_arrays(2), data=st.data(), reduction=reductions, kink=kinks, p=st.sampled_from([1, 2])
)
def test_one_vs_all(S, data, reduction, kink, p):
    n, c = S.shape
    y = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), int)
    loss, grad = fh.one_vs_all(S, y, p=p, kink=kink, reduction=reduction)
    _check(loss, grad, ref.one_vs_all_rows(S, y, p=p, kink=kink), y, reduction, S.dtype)


@SETTINGS
@given(
    S=score_arrays(2, allow_special=False),
    data=st.data(),
    kink=kinks,
    ties=ties,
    rescaling=st.sampled_from(["margin", "slack"]),
)
def test_structured_hinge(S, data, kink, ties, rescaling):
    n, c = S.shape
    y = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), int)
    cost = np.array(
        data.draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0]), min_size=c * c, max_size=c * c))
    ).reshape(c, c)
    np.fill_diagonal(cost, 0)
    loss, grad = fh.structured_hinge(
        S, y, cost, rescaling=rescaling, kink=kink, ties=ties, reduction="none"
    )
    rows = ref.structured_rows(S, y, cost, rescaling=rescaling, kink=kink, ties=ties)
    _check(loss, grad, rows, y, "none", S.dtype)


@SETTINGS
@given(
    S=score_arrays(2, min_cols=2),
    data=st.data(),
    kink=kinks,
    variant=st.sampled_from(["alpha", "beta"]),
)
def test_topk_hinge(S, data, kink, variant):
    n, c = S.shape
    y = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), int)
    k = data.draw(st.integers(1, c - 1))
    loss, grad = fh.topk_hinge(S, y, k, variant=variant, kink=kink, reduction="none")
    rows_fn = ref_topk.topk_alpha_rows if variant == "alpha" else ref_topk.topk_beta_rows
    if n:
        rl, rg = rows_fn(S.astype(np.float64), y, k, kink=kink)
        assert_close(loss, rl, S.dtype)
        assert_close(grad, rg, S.dtype)


@SETTINGS
@given(S=score_arrays(2), data=st.data(), reduction=reductions, kink=kinks, ties=ties)
def test_categorical_hinge(S, data, reduction, kink, ties):
    n, c = S.shape
    y = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), int)
    T = np.eye(c)[y]
    loss, grad = fh.categorical_hinge(S, T, kink=kink, ties=ties, reduction=reduction)
    rows = ref.categorical_hinge_rows(S, T.astype(S.dtype), kink=kink, ties=ties)
    _check(loss, grad, rows, y, reduction, S.dtype)


@SETTINGS
@given(x=score_arrays(1), data=st.data(), reduction=reductions, kink=kinks)
def test_hinge_embedding(x, data, reduction, kink):
    n = x.shape[0]
    t = np.array(data.draw(st.lists(st.sampled_from([-1.0, 1.0, 0.0]), min_size=n, max_size=n)))
    loss, grad = fh.hinge_embedding(x, t, kink=kink, reduction=reduction)
    _check(loss, grad, ref.hinge_embedding_rows(x, t, kink=kink), t, reduction, x.dtype)


binary_labels = st.sampled_from(["pm1", "01"])


def _binary_targets(data, n, encoding, ignore=None):
    values = [-1, 1] if encoding == "pm1" else [0, 1]
    t = np.array(data.draw(st.lists(st.sampled_from(values + [ignore] * (ignore is not None)),
                                    min_size=n, max_size=n)), dtype=np.int64)  # fmt: skip
    pm1 = np.where(t == 1, 1, -1)  # what the references read
    return t, np.where(t == ignore, 7, pm1) if ignore is not None else pm1


@SETTINGS
@given(f=score_arrays(1), data=st.data(), reduction=reductions, kink=kinks, encoding=binary_labels,
       weighted=st.booleans())  # fmt: skip
def test_perceptron(f, data, reduction, kink, encoding, weighted):
    n = f.shape[0]
    t, pm1 = _binary_targets(data, n, encoding, ignore=5)
    w = np.linspace(0.5, 2, n) if weighted else None
    loss, grad = fh.perceptron(f, t, label_encoding=encoding, kink=kink, ignore_index=5,
                               sample_weight=w, reduction=reduction)  # fmt: skip
    rows = ref.binary_hinge_rows(f, pm1, margin=0.0, kink=kink, ignore_index=7)
    _check(loss, grad, rows, pm1, reduction, f.dtype, w, 7)


@SETTINGS
@given(f=score_arrays(1), data=st.data(), reduction=reductions, encoding=binary_labels,
       weighted=st.booleans())  # fmt: skip
def test_modified_huber(f, data, reduction, encoding, weighted):
    n = f.shape[0]
    t, pm1 = _binary_targets(data, n, encoding, ignore=5)
    w = np.linspace(0.5, 2, n) if weighted else None
    loss, grad = fh.modified_huber(f, t, label_encoding=encoding, ignore_index=5,
                                   sample_weight=w, reduction=reduction)  # fmt: skip
    rows = ref.smooth_hinge_rows(f, pm1, gamma=2.0, scale=4.0, ignore_index=7)
    _check(loss, grad, rows, pm1, reduction, f.dtype, w, 7)


@SETTINGS
@given(S=score_arrays(2), data=st.data(), reduction=reductions, kink=kinks,
       nan=st.sampled_from(["propagate", "drop"]),
       margin=st.sampled_from([0.0, 1.0, 0.5]))  # fmt: skip
def test_multilabel_margin(S, data, reduction, kink, nan, margin):
    n, c = S.shape
    targets = np.array(
        data.draw(st.lists(st.integers(-1, c - 1), min_size=n * c, max_size=n * c)), np.int64
    ).reshape(n, c)
    before = targets.copy()
    loss, grad = fh.multilabel_margin(S, targets, margin=margin, kink=kink, nan=nan,
                                      reduction=reduction)  # fmt: skip
    rows = ref.multilabel_margin_rows(S, targets, margin=margin, kink=kink, nan=nan)
    _check(loss, grad, rows, np.zeros(n), reduction, S.dtype)
    np.testing.assert_array_equal(targets, before)
