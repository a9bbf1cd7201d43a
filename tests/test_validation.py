"""Every bad argument raises a clear ValueError/TypeError naming it, before any kernel runs."""

import re

import numpy as np
import pytest

import fasthinge as fh
from fasthinge import _validation as v

S = np.arange(12, dtype=np.float64).reshape(4, 3) / 7
Y = np.array([0, 2, 1, 2])
F = np.array([0.5, -1.0, 2.0, 0.0])
T = np.array([1, -1, 1, -1])

MULTICLASS = [fh.weston_watkins, fh.crammer_singer]
ALL = [(fh.weston_watkins, S, Y), (fh.crammer_singer, S, Y), (fh.binary_hinge, F, T)]


def _raises(exc, match, func, *args, **kwargs):
    with pytest.raises(exc, match=match):
        func(*args, **kwargs)


@pytest.mark.parametrize("func,s,y", ALL)
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.float16, np.complex128])
def test_scores_dtype(func, s, y, dtype):
    _raises(
        TypeError,
        f"scores must be float32 or float64, got dtype {np.dtype(dtype)}",
        func,
        s.astype(dtype),
        y,
    )


@pytest.mark.parametrize("func,s,y", ALL)
def test_object_scores(func, s, y):
    _raises(TypeError, "scores must be float32 or float64", func, s.astype(object), y)


@pytest.mark.parametrize("func", MULTICLASS)
def test_multiclass_scores_ndim(func):
    _raises(ValueError, r"scores must be 2-D, got shape \(3,\)", func, S[0], Y[:1])
    _raises(ValueError, r"scores must be 2-D, got shape \(1, 4, 3\)", func, S[None], Y)


def test_binary_scores_ndim():
    _raises(ValueError, r"scores must be 1-D, got shape \(4, 3\)", fh.binary_hinge, S, T)


@pytest.mark.parametrize("func", MULTICLASS)
@pytest.mark.parametrize("bad,idx", [(-1, 1), (3, 2), (100, 0)])
def test_labels_out_of_range(func, bad, idx):
    y = Y.copy()
    y[idx] = bad
    _raises(ValueError, rf"labels must be in \[0, 3\).*labels\[{idx}\] = {bad}", func, S, y)


@pytest.mark.parametrize("func", MULTICLASS)
def test_labels_kind_and_shape(func):
    _raises(TypeError, "labels must be integers", func, S, Y.astype(float))
    _raises(TypeError, "labels must be integers", func, S, Y.astype(bool))
    _raises(ValueError, r"labels must have shape \(4,\)", func, S, Y[:3])
    _raises(ValueError, r"labels must have shape \(4,\)", func, S, Y[None])


def test_ignore_index_allows_only_itself():
    y = np.array([0, -100, 1, 2])
    fh.crammer_singer(S, y, ignore_index=-100)
    _raises(ValueError, r"labels\[1\] = -100", fh.crammer_singer, S, y, ignore_index=-1)
    _raises(TypeError, "ignore_index must be an integer", fh.crammer_singer, S, Y, ignore_index=1.5)
    _raises(TypeError, "ignore_index must be an integer", fh.binary_hinge, F, T, ignore_index=True)
    # beyond int64 (or its minimum, which stands for None) it could not be compared in a kernel
    for big in (2**70, np.uint64(2**63 + 5), -(2**63)):
        _raises(ValueError, rf"ignore_index must be in .*got {big}", fh.crammer_singer, S, Y,
                ignore_index=big)  # fmt: skip
        _raises(ValueError, rf"ignore_index must be in .*got {big}", fh.binary_hinge, F, T,
                ignore_index=big)  # fmt: skip
    assert np.isfinite(fh.crammer_singer(S, Y, ignore_index=2**63 - 1)[0])


def test_binary_labels():
    _raises(
        ValueError,
        r"labels must be -1 or 1.*labels\[0\] = 0",
        fh.binary_hinge,
        F,
        np.array([0, 1, 1, -1]),
    )
    _raises(
        ValueError,
        r"labels must be 0 or 1.*labels\[1\] = -1",
        fh.binary_hinge,
        F,
        np.array([0, -1, 1, 1]),
        label_encoding="01",
    )
    _raises(ValueError, "labels must be -1 or 1", fh.binary_hinge, F, np.array([1, 0.5, 1, 1]))
    _raises(TypeError, "labels must be integer or float", fh.binary_hinge, F, T.astype(bool))
    _raises(
        ValueError, "label_encoding must be one of", fh.binary_hinge, F, T, label_encoding="auto"
    )


@pytest.fixture
def small_chunks(monkeypatch):
    """Label checks in chunks of 64, on the parallel driver, for any number of labels."""
    from fasthinge import _threading

    monkeypatch.setattr(v, "LABEL_CHUNK", 64)
    monkeypatch.setattr(v, "SMALL_LABELS", 0)
    monkeypatch.setattr(_threading, "PARALLEL_MIN_ELEMENTS", 0)
    return 64


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("ignore", [None, -1, -100, 3])
def test_class_labels_checked_in_every_chunk(dtype, ignore, small_chunks):
    """The check's chunked sweeps (an unsigned max without ignore_index or with −1)."""
    n, n_classes = 3 * small_chunks + 5, 7  # four chunks, the last one short
    s = np.zeros((n, n_classes), np.float32)
    y = np.resize(np.arange(n_classes, dtype=dtype), n)
    if ignore is not None:
        y[[5, small_chunks + 1, n - 1]] = ignore
    no_ignore = v.NO_IGNORE if ignore is None else ignore
    v.as_class_labels(y, n, n_classes, no_ignore)  # valid
    pos = 2 * small_chunks + 7
    info = np.iinfo(dtype)
    for bad in (-1, -2, -100, n_classes, 100, info.min, info.max):
        if bad == ignore:
            continue
        y[pos], y[pos + 3] = bad, bad
        _raises(ValueError, rf"labels\[{pos}\] = {bad}$", fh.crammer_singer, s, y,
                ignore_index=ignore)  # fmt: skip
        y[pos + 3] = 0
        y[pos] = 1
    y[-2] = n_classes
    _raises(ValueError, rf"labels\[{n - 2}\] = {n_classes}$", fh.crammer_singer, s, y,
            ignore_index=ignore)  # fmt: skip


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_multilabel_targets_checked_in_every_chunk(dtype, small_chunks):
    n, n_classes = 3 * small_chunks // 8 + 3, 8  # (N, C) targets: four chunks
    s = np.zeros((n, n_classes), np.float32)
    t = np.resize(np.arange(-1, n_classes - 1, dtype=dtype), (n, n_classes))
    assert v.as_multilabel_targets(t, t.shape) is t  # valid, and read as it is
    for bad in (-2, n_classes, np.iinfo(dtype).min, np.iinfo(dtype).max):
        t[n - 2, 5] = bad
        _raises(ValueError, rf"got targets\[{n - 2}, 5\] = {bad}$", fh.multilabel_margin, s, t)
        t[n - 2, 5] = 0


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8, np.float64])
def test_binary_labels_checked_in_every_chunk(dtype, small_chunks):
    """The check's chunked sweeps (a signed integer dtype has its own): the first bad label."""
    n = 3 * small_chunks + 5  # four chunks, the last one short
    f = np.zeros(n, np.float32)
    pos = 2 * small_chunks + 7
    low = np.iinfo(dtype).min if np.dtype(dtype).kind == "i" else -1e300
    bad_values = [0, 2, 3] if dtype == np.uint8 else [0, 2, -2, low, 100]
    for encoding, (neg, good) in {"pm1": (-1, (-1, 1)), "01": (0, (0, 1))}.items():
        if dtype == np.uint8 and neg < 0:
            continue
        t = np.resize(np.array(good, dtype), n)
        v.as_binary_labels(t, n, 1, neg, v.NO_IGNORE)  # valid
        t[pos] = 100
        v.as_binary_labels(t, n, 1, neg, 100)
        for bad in bad_values:
            if bad in good:
                continue
            t[pos], t[pos + 3] = bad, bad
            _raises(ValueError, rf"labels\[{pos}\] = {re.escape(str(t[pos]))}$", fh.binary_hinge,
                    f, t, label_encoding=encoding)  # fmt: skip
            t[pos + 3] = good[0]
        t[-1] = bad_values[-1]
        t[pos] = good[1]
        _raises(ValueError, rf"labels\[{n - 1}\] = ", fh.binary_hinge, f, t,
                label_encoding=encoding)  # fmt: skip


@pytest.mark.parametrize("func,s,y", ALL)
def test_p_margin_reduction_kink_ties(func, s, y):
    for p in (0, 3, 1.0, True, "1"):
        _raises(ValueError, f"p must be 1 or 2, got {p!r}", func, s, y, p=p)
    for margin in (np.nan, np.inf, -np.inf):
        _raises(ValueError, "margin must be finite", func, s, y, margin=margin)
    for margin in ("1", None, True, 1j):
        _raises(TypeError, "margin must be a real number", func, s, y, margin=margin)
    _raises(ValueError, "reduction must be one of .* got 'avg'", func, s, y, reduction="avg")
    _raises(ValueError, "reduction must be one of", func, s, y, reduction=None)
    _raises(ValueError, "kink must be one of .* got 'left'", func, s, y, kink="left")
    _raises(ValueError, "ties must be one of .* got 'last'", func, s, y, ties="last")
    _raises(TypeError, "return_grad must be True or False", func, s, y, return_grad="yes")


def test_nan_and_normalize_keywords():
    _raises(ValueError, "nan must be one of .* got 'raise'", fh.weston_watkins, S, Y, nan="raise")
    _raises(TypeError, "normalize must be True or False", fh.weston_watkins, S, Y, normalize=1)


@pytest.mark.parametrize("func,s,y", ALL)
def test_sample_weight(func, s, y):
    _raises(
        ValueError,
        r"sample_weight must have shape \(4,\), got \(3,\)",
        func,
        s,
        y,
        sample_weight=np.ones(3),
    )
    _raises(
        TypeError,
        "sample_weight must be real numbers",
        func,
        s,
        y,
        sample_weight=np.ones(4, complex),
    )
    _raises(ValueError, "sample_weight sums to 0", func, s, y, sample_weight=np.zeros(4))
    # "sum" needs no denominator
    assert func(s, y, sample_weight=np.zeros(4), reduction="sum", return_grad=False) == 0


@pytest.mark.parametrize("func", MULTICLASS)
def test_class_weight(func):
    _raises(
        ValueError,
        r"class_weight must have shape \(3,\), got \(4,\)",
        func,
        S,
        Y,
        class_weight=np.ones(4),
    )
    _raises(
        TypeError, "class_weight must be real numbers", func, S, Y, class_weight=["a", "b", "c"]
    )


@pytest.mark.parametrize("func,s,y", ALL)
def test_out(func, s, y):
    _raises(ValueError, "out must have shape", func, s, y, out=np.empty((*s.shape, 1)))
    _raises(TypeError, "out must have dtype float64", func, s, y, out=np.empty(s.shape, np.float32))
    _raises(TypeError, "out must be a NumPy array", func, s, y, out=[0.0] * s.size)
    ro = np.empty(s.shape)
    ro.flags.writeable = False
    _raises(ValueError, "out must be C-contiguous and writeable", func, s, y, out=ro)
    if s.ndim == 2:
        _raises(ValueError, "C-contiguous", func, s, y, out=np.empty(s.shape[::-1]).T)
    alias = s.copy()
    _raises(ValueError, "out must not share memory with an input", func, alias, y, out=alias)
    _raises(
        ValueError,
        "out was given with return_grad=False",
        func,
        s,
        y,
        out=np.empty(s.shape),
        return_grad=False,
    )


@pytest.mark.parametrize("func,s,y", ALL)
def test_n_threads(func, s, y):
    for bad in (0, -1, 10**6):
        _raises(ValueError, "n_threads must be in", func, s, y, n_threads=bad)
    for bad in (1.5, "2"):
        _raises(TypeError, "n_threads must be an integer or None", func, s, y, n_threads=bad)


@pytest.mark.parametrize("func,s,y", ALL)
def test_failures_leave_out_and_inputs_untouched(func, s, y):
    out = np.full(s.shape, 7.0)
    s0, y0 = s.copy(), y.copy()
    with pytest.raises(ValueError):
        func(s, y, out=out, reduction="bogus")
    with pytest.raises(ValueError):
        func(s, y, out=out, sample_weight=np.ones(2))
    assert (out == 7.0).all()
    np.testing.assert_array_equal(s, s0)
    np.testing.assert_array_equal(y, y0)


def test_cuda_like_arrays_go_to_the_gpu_path(monkeypatch):
    """CUDA scores are routed to ``fasthinge._cuda`` (issue #5), never converted by NumPy;
    CUDA labels with NumPy scores are refused by the CPU path."""
    from fasthinge._cuda import api

    class FakeCuda:
        __cuda_array_interface__ = None

    monkeypatch.setattr(api, "call", lambda name, arguments: ("gpu", name, arguments["labels"]))
    assert fh.crammer_singer(FakeCuda(), Y) == ("gpu", "crammer_singer", Y)
    _raises(TypeError, "labels is a CUDA array", fh.crammer_singer, np.zeros((3, 2)), FakeCuda())


def test_ragged_lists_are_a_type_error():
    _raises(TypeError, "scores could not be converted", fh.crammer_singer, [[1.0], [1.0, 2.0]], Y)


def test_crammer_singer_single_class_never_writes_past_the_row():
    """C = 1 with a NaN or -inf true score used to write one element past the row."""
    for value in (np.nan, -np.inf, 0.5):
        big = np.full((2, 1), 7.0)
        loss, grad = fh.crammer_singer(np.array([[value]]), [0], out=big[:1], reduction="none")
        assert loss[0] == 0 and grad[0, 0] == 0
        assert big[1, 0] == 7.0


@pytest.mark.parametrize("func", MULTICLASS)
def test_the_no_ignore_sentinel_is_not_a_valid_label(func):
    sentinel = np.iinfo(np.int64).min
    _raises(ValueError, "labels must be in", func, np.zeros((1, 2)), np.array([sentinel]))
    _raises(
        ValueError,
        "labels must be -1 or 1",
        fh.binary_hinge,
        np.zeros(1),
        np.array([float(sentinel)]),
    )


@pytest.mark.parametrize("func", MULTICLASS)
def test_zero_classes(func):
    _raises(
        ValueError, "scores must have at least one class", func, np.zeros((0, 0)), np.zeros(0, int)
    )


def test_binary_ignore_index_must_not_be_a_class():
    _raises(
        ValueError, "ignore_index must not be a class label", fh.binary_hinge, F, T, ignore_index=-1
    )
    _raises(
        ValueError,
        "ignore_index must not be a class label",
        fh.binary_hinge,
        F,
        np.array([0, 1, 1, 0]),
        label_encoding="01",
        ignore_index=0,
    )


@pytest.mark.parametrize("dtype", [">i8", ">i4", "<i4"])
def test_labels_of_any_byte_order_give_the_same_result(dtype):
    s = np.array([[0.5, 0.2, 0.9], [0.1, 0.3, 0.2]])
    y = np.array([2, 1])
    for func in (fh.crammer_singer, fh.weston_watkins):
        expected = func(s, y)
        got = func(s, y.astype(dtype))
        assert got[0] == expected[0] and np.array_equal(got[1], expected[1])
    f, t = s.ravel(), np.array([1, -1, 1, 1, -1, -1])
    for func in (fh.binary_hinge, fh.hinge_embedding):
        assert func(f, t.astype(dtype))[0] == func(f, t)[0]
        assert func(f, t.astype(">f8"))[0] == func(f, t)[0]


def test_cost_and_targets_must_be_real_numbers():
    s = np.zeros((2, 3))
    _raises(TypeError, "cost must be real numbers", fh.structured_hinge, s, [0, 1],
            np.ones((3, 3), complex))  # fmt: skip
    _raises(TypeError, "targets must be real numbers", fh.categorical_hinge, s,
            np.ones((2, 3), complex))  # fmt: skip
