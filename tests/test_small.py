"""Small calls (``fasthinge._small``): ``f(scores, labels)`` runs one compiled entry.

The small path must give the general path's results bit for bit, be taken
exactly when the docstring of ``_small`` says, and leave every other call
(and every error) to the general path.
"""

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import pytest

import fasthinge as fh
from fasthinge import _execution as ex
from fasthinge import _small
from tests.conftest import grid_scores


def topk_hinge(scores, labels, **kwargs):
    """``fh.topk_hinge`` with ``k = min(3, C − 1)`` by position (its small path's form)."""
    return fh.topk_hinge(scores, labels, max(1, min(3, np.shape(scores)[-1] - 1)), **kwargs)


def structured_hinge(scores, labels, **kwargs):
    """``fh.structured_hinge`` with a (C, C) cost of the scores' dtype by position."""
    n_classes = np.shape(scores)[-1]
    cost = np.add.outer(np.arange(n_classes), np.arange(n_classes)) % 3 + 0.5
    cost = (cost * (1 - np.eye(n_classes))).astype(np.asarray(scores).dtype)
    return fh.structured_hinge(scores, labels, cost, **kwargs)


LOSSES = [fh.weston_watkins, fh.crammer_singer, fh.one_vs_all, topk_hinge, structured_hinge]
BINARY = [fh.binary_hinge, fh.perceptron, fh.smooth_hinge, fh.modified_huber, fh.hinge_embedding]
#: One-chunk shapes: a single row and class, rows below/at/above a band of 16,
#: long rows, and the largest one-chunk batches.
SHAPES = [(1, 1), (1, 5), (3, 2), (15, 10), (16, 10), (17, 10), (256, 10), (5, 300),
          (16, 1024), (1638, 10), (4096, 4)]  # fmt: skip
#: Binary: below/at/above a block of 512 elements, and the largest one-chunk batch.
BINARY_SHAPES = [(1,), (5,), (511,), (512,), (513,), (16384,)]
TARGETS = [fh.categorical_hinge, fh.multilabel_margin]  # (N, C) targets
if numba.config.DISABLE_JIT:  # the kernels run as Python (CI's coverage run): small batches
    SHAPES = [shape for shape in SHAPES if np.prod(shape) <= 2560]
    BINARY_SHAPES = [shape for shape in BINARY_SHAPES if np.prod(shape) <= 2560]
CASES = [
    (f, shape)
    for f in LOSSES + TARGETS
    for shape in SHAPES
    if f is not topk_hinge or shape[1] > 1  # top-k needs two classes
] + [(f, shape) for f in BINARY for shape in BINARY_SHAPES]


def _inputs(func, shape, dtype, rng):
    """Scores on a grid (ties, exact kinks) with a NaN, and valid labels for ``func``."""
    scores = grid_scores(rng, shape, dtype)
    scores[(shape[0] // 2,) + (0,) * (len(shape) - 1)] = np.nan
    if func is fh.categorical_hinge:  # one-hot rows, and soft ones
        targets = np.eye(shape[1], dtype=dtype)[rng.integers(0, shape[1], shape[0])]
        targets[::3] = rng.random((len(targets[::3]), shape[1]))
        return scores, targets
    if func is fh.multilabel_margin:  # PyTorch's form: target indices, then -1
        targets = rng.integers(0, shape[1], shape)
        ends = rng.integers(0, min(shape[1], 5), shape[0])  # up to 4 targets a row
        targets[np.arange(shape[0]), ends] = -1
        return scores, targets
    if func not in BINARY:
        return scores, rng.integers(0, shape[1], shape[0])
    labels = rng.choice([-1, 1], shape[0])
    if func is fh.hinge_embedding:  # any target: PyTorch's rule for others
        labels[::3] = 0
    return scores, labels


class _Calls(list):
    """Names of the compiled entries called; ``ran``: those that did not decline (−1)."""

    def __init__(self) -> None:
        super().__init__()
        self.ran = []


@pytest.fixture
def entry_calls(monkeypatch):
    """Names of the compiled entries called during the test (``_Calls``)."""
    calls = _Calls()
    entry = _small.entry

    def spy(name):
        kernel = entry(name)

        def counted(*args):
            calls.append(name)
            result = kernel(*args)
            if result[1] == -1:
                calls.ran.append(name)
            return result

        return counted

    monkeypatch.setattr(_small, "entry", spy)
    monkeypatch.setattr(_small, "COMPILED", {})  # looked up again, through the spy
    return calls


def _general(func, scores, labels, **kwargs):
    """The same call through the general path (an explicit keyword at its default)."""
    return func(scores, labels, sample_weight=None, **kwargs)


def _assert_same(small, general):
    assert type(small[0]) is type(general[0])
    assert small[0].tobytes() == general[0].tobytes()
    assert small[1].dtype == general[1].dtype
    assert small[1].tobytes() == general[1].tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("func", "shape"), CASES, ids=lambda x: getattr(x, "__name__", str(x)))
def test_small_path_equals_the_general_path(func, shape, dtype, rng, entry_calls):
    assert np.prod(shape) <= ex.CHUNK_ELEMENTS
    scores, labels = _inputs(func, shape, dtype, rng)
    before = scores.copy(), labels.copy()
    small = func(scores, labels)
    assert len(entry_calls) == 1
    _assert_same(small, _general(func, scores, labels))
    out = np.full_like(scores, 7.0)
    with_out = func(scores, labels, out=out)
    assert with_out[1] is out
    _assert_same(with_out, small)
    for reduction in ("mean", "sum", "sum_over_batch_size"):
        got = func(scores, labels, reduction=reduction)
        _assert_same(got, _general(func, scores, labels, reduction=reduction))
        _assert_same(func(scores, labels, out=out, reduction=reduction), got)
    assert len(entry_calls) == 8
    np.testing.assert_array_equal(scores, before[0])  # inputs are never modified
    np.testing.assert_array_equal(labels, before[1])


@pytest.mark.parametrize("func", LOSSES, ids=lambda f: f.__name__)
def test_random_scores_match(func, rng, entry_calls):
    for dtype in (np.float32, np.float64):
        scores = rng.standard_normal((200, 12)).astype(dtype)
        labels = rng.integers(0, 12, 200)
        _assert_same(func(scores, labels), _general(func, scores, labels))
    assert len(entry_calls) == 2


def _not_small_cases(rng):
    """``(why, scores, labels, kwargs)`` that must take the general path."""
    s = rng.standard_normal((64, 10)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    read_only = s.copy()
    read_only.flags.writeable = False
    big = rng.standard_normal((ex.CHUNK_ELEMENTS // 10 + 1, 10)).astype(np.float32)
    shared = np.zeros((64, 10), np.float32)  # labels 0 in its first bytes
    return [
        ("int32 labels", s, y.astype(np.int32), {}),
        ("uint8 labels", s, y.astype(np.uint8), {}),
        ("list labels", s, y.tolist(), {}),
        ("list scores", s.tolist(), y, {}),
        ("strided scores", np.asfortranarray(s), y, {}),
        ("strided labels", s, np.repeat(y, 2)[::2], {}),
        ("read-only scores", read_only, y, {}),
        ("byte-swapped scores", s.astype(">f4"), y, {}),
        ("more than one chunk", big, rng.integers(0, 10, big.shape[0]), {}),
        ("another keyword", s, y, {"sample_weight": None}),
        ("another reduction", s, y, {"reduction": "none"}),
        ("no such reduction", s, y, {"reduction": "average"}),
        ("a reduction that is no string", s, y, {"reduction": ["mean"]}),
        ("out and another keyword", s, y, {"out": np.empty_like(s), "sample_weight": None}),
        ("a bad n_threads", s, y, {"n_threads": 0}),
        ("a bad return_grad", s, y, {"return_grad": 1}),
        ("out of another dtype", s, y, {"out": np.empty(s.shape)}),
        ("strided out", s, y, {"out": np.empty((64, 20), np.float32)[:, ::2]}),
        ("out that is the scores", s.copy(), y, "scores"),
        ("out that holds the labels", s, shared.reshape(-1).view(np.int64)[:64], {"out": shared}),
        ("no rows", s[:0], y[:0], {}),
    ]


def _not_small_binary_cases(rng):
    """``(why, scores, labels, kwargs)`` of a binary loss that must take the general path."""
    s = rng.standard_normal(64).astype(np.float32)
    t = rng.choice([-1, 1], 64)
    big = rng.standard_normal(ex.CHUNK_ELEMENTS + 1).astype(np.float32)
    return [
        ("float labels", s, t.astype(np.float64), {}),
        ("int32 labels", s, t.astype(np.int32), {}),
        ("2-D scores", s.reshape(8, 8), t[:8], {}),
        ("strided scores", s[::2], t[:32], {}),
        ("more than one chunk", big, rng.choice([-1, 1], big.shape[0]), {}),
        ("another keyword", s, t, {"sample_weight": np.ones(64)}),
        ("out that is the scores", s.copy(), t, "scores"),
        ("out that holds the labels", s, t, {"out": t.view(np.float32)[:64]}),
    ]


def _not_small_target_cases(rng):
    """The same for the (N, C) targets of the categorical and multilabel losses."""
    s = rng.standard_normal((64, 10)).astype(np.float32)
    t = rng.integers(-1, 10, (64, 10))
    t_bytes = t.view(np.float32).reshape(-1)  # the targets' memory as float32
    return [
        ("targets of another dtype", s, t.astype(np.float64), {}),
        ("(N,) targets", s, t[:, 0], {}),
        ("strided targets", s, np.asfortranarray(t), {}),
        ("strided float32 targets", s, np.asfortranarray(t.astype(np.float32)), {}),
        ("another keyword", s, t, {"reduction": "none"}),
        ("out that is the targets", s, t.astype(np.float32), "targets"),
        ("out that holds the targets", s, t, {"out": t_bytes[:640].reshape(64, 10)}),
    ]


@pytest.mark.parametrize("func", LOSSES + BINARY + TARGETS, ids=lambda f: f.__name__)
def test_other_calls_take_the_general_path(func, rng, entry_calls):
    cases = _not_small_binary_cases if func in BINARY else _not_small_cases
    cases = _not_small_target_cases if func in TARGETS else cases
    for why, scores, labels, kwargs in cases(rng):
        if kwargs in ("scores", "targets"):
            kwargs = {"out": scores if kwargs == "scores" else labels}
        try:
            func(scores, labels, **kwargs)
        except (TypeError, ValueError):
            pass  # the general path's checks raise as they always did
        assert entry_calls.ran == [], why  # (an entry may decline: out sharing memory)


@pytest.mark.parametrize("bad", [-2, 6, np.iinfo(np.int64).min])
def test_multilabel_targets_out_of_range_raise_and_write_nothing(bad, rng, entry_calls):
    s = rng.standard_normal((40, 6)).astype(np.float32)
    t = rng.integers(-1, 6, (40, 6))
    t[7, 2] = t[30, 1] = bad
    out = np.full_like(s, 3.0)
    with pytest.raises(ValueError, match=rf"got targets\[7, 2\] = {bad}$"):
        fh.multilabel_margin(s, t, out=out)
    assert entry_calls == ["multilabel_margin"]
    assert (out == 3.0).all()


@pytest.mark.parametrize("bad", [0, 2, np.iinfo(np.int64).min])
@pytest.mark.parametrize("func", BINARY[:-1], ids=lambda f: f.__name__)
def test_binary_labels_other_than_pm1_raise(func, bad, rng, entry_calls):
    s = rng.standard_normal(40).astype(np.float32)
    t = rng.choice([-1, 1], 40)
    t[[7, 30]] = bad
    out = np.full_like(s, 3.0)
    with pytest.raises(ValueError, match=rf"got labels\[7\] = {bad}$"):
        func(s, t, out=out)
    assert entry_calls == ["binary"]
    assert (out == 3.0).all()


@pytest.mark.parametrize("func", LOSSES, ids=lambda f: f.__name__)
def test_general_path_errors_are_unchanged(func, rng):
    s = rng.standard_normal((8, 4)).astype(np.float32)
    with pytest.raises(ValueError, match=r"out must not share memory"):
        func(s, np.zeros(8, np.int64), out=s)
    with pytest.raises(TypeError, match=r"out must have dtype float32"):
        func(s, np.zeros(8, np.int64), out=np.empty((8, 4)))
    with pytest.raises(ValueError, match=r"labels must have shape \(8,\)"):
        func(s, np.zeros(9, np.int64))


def test_topk_k_other_than_a_plain_valid_int_takes_the_general_path(rng, entry_calls):
    s = rng.standard_normal((64, 10)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    expected = fh.topk_hinge(s, y, 3, sample_weight=None)
    _assert_same(fh.topk_hinge(s, y, np.int64(3)), expected)
    for k in (3.0, True):
        with pytest.raises(TypeError, match="k must be an integer"):
            fh.topk_hinge(s, y, k)
        with pytest.raises(TypeError, match="k must be an integer"):
            fh.topk_hinge(s, y, k=k)
    for k in (0, 10, -1):
        with pytest.raises(ValueError, match=r"k must be in \[1, 9\]"):
            fh.topk_hinge(s, y, k)
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'k'"):
        fh.topk_hinge(s, y)
    assert entry_calls == []
    _assert_same(fh.topk_hinge(s, y, 3), expected)
    _assert_same(fh.topk_hinge(s, y, k=3), expected)  # by name too
    _assert_same(
        fh.topk_hinge(s, y, k=3, reduction="sum"),
        fh.topk_hinge(s, y, 3, reduction="sum", sample_weight=None),
    )
    assert entry_calls == ["topk_hinge"] * 3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_structured_cost_checks_and_forms(dtype, rng, entry_calls):
    s = rng.standard_normal((40, 4)).astype(dtype)
    y = rng.integers(0, 4, 40)
    cost = (1 - np.eye(4, dtype=dtype)) * 2
    out = np.full_like(s, 3.0)
    bad_costs = [
        ("must be finite and >= 0", -cost),
        ("must be finite and >= 0", np.where(cost > 0, np.inf, 0).astype(dtype)),
        ("must be finite and >= 0", np.where(cost > 0, np.nan, 0).astype(dtype)),
        ("must have a zero diagonal", cost + np.eye(4, dtype=dtype)),
    ]
    for message, bad in bad_costs:
        with pytest.raises(ValueError, match=f"cost {message}"):
            fh.structured_hinge(s, y, bad, out=out)
    assert entry_calls == ["structured_hinge"] * 4  # the entry found it; the general path raised
    assert (out == 3.0).all()
    square = rng.standard_normal((4, 4)).astype(dtype)  # out = the cost: N = C
    for kwargs in ({}, {"sample_weight": None}):  # the small path and the general one
        shared = cost.copy()
        with pytest.raises(ValueError, match="out must not share memory with an input"):
            fh.structured_hinge(square, y[:4], shared, out=shared, **kwargs)
        np.testing.assert_array_equal(shared, cost)  # inputs are never modified
    expected = fh.structured_hinge(s, y, cost, sample_weight=None)
    for other in (cost.astype(np.float16), cost.tolist(), np.asfortranarray(cost + cost.T)):
        fh.structured_hinge(s, y, other)  # converted by the general path
    _assert_same(fh.structured_hinge(s, y, cost=cost), expected)  # by name too
    assert entry_calls == ["structured_hinge"] * 6  # the out = cost call: the entry declined
    assert entry_calls.ran == ["structured_hinge"]  # by name


@pytest.mark.parametrize("bad", [-1, 4, 2**40, np.iinfo(np.int64).min])
@pytest.mark.parametrize("func", LOSSES, ids=lambda f: f.__name__)
def test_out_of_range_labels_raise_and_write_nothing(func, bad, rng, entry_calls):
    s = rng.standard_normal((40, 4)).astype(np.float32)
    y = rng.integers(0, 4, 40)
    y[[7, 30]] = bad
    out = np.full_like(s, 3.0)
    with pytest.raises(ValueError, match=rf"got labels\[7\] = {bad}$"):
        func(s, y, out=out)
    assert entry_calls == [func.__name__]  # the entry found it; the general path raised
    assert (out == 3.0).all()


def test_a_dask_batch_denominator_takes_the_general_path(rng, entry_calls):
    s = rng.standard_normal((8, 4)).astype(np.float32)
    y = rng.integers(0, 4, 8)
    token = ex.BATCH_DENOMINATOR.set(16.0)
    try:
        loss, grad = fh.weston_watkins(s, y)
    finally:
        ex.BATCH_DENOMINATOR.reset(token)
    assert entry_calls == []
    full, full_grad = fh.weston_watkins(s, y, reduction="sum")
    np.testing.assert_allclose(loss, float(full) / 16, rtol=1e-6)
    np.testing.assert_allclose(grad, full_grad / 16, rtol=1e-6)


def test_concurrent_small_calls_agree(rng):
    scores = [rng.standard_normal((256, 10)).astype(np.float32) for _ in range(8)]
    labels = [rng.integers(0, 10, 256) for _ in range(8)]
    expected = [_general(fh.crammer_singer, s, y) for s, y in zip(scores, labels, strict=True)]
    with ThreadPoolExecutor(8) as pool:
        for _ in range(3):
            got = list(pool.map(fh.crammer_singer, scores, labels))
            for g, e in zip(got, expected, strict=True):
                _assert_same(g, e)


def _general_params(func, scores, labels, monkeypatch):
    """The ``(weights, params)`` the general path passes to its driver."""
    from fasthinge import _threading

    seen, launch = [], _threading.launch

    def spy(serial, parallel, args, n_elements, n_threads):
        seen.append(args[2:4])
        launch(serial, parallel, args, n_elements, n_threads)

    monkeypatch.setattr(_threading, "launch", spy)
    func(scores, labels, sample_weight=None)
    return seen[-1]  # the loss's driver runs last (after any label check)


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="compiled specialisations only")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_entries_pass_the_general_paths_types(dtype, rng, monkeypatch):
    """The entries' weights and parameters have the general path's Numba types.

    A constant written as a bare ``1`` or ``False`` is ``Literal[...]`` to Numba:
    the chunk function would be compiled again for the small path instead of
    reusing the general path's (int64, bool) specialisation.
    """
    from fasthinge._cpu import small

    scores, labels = rng.standard_normal((8, 3)).astype(dtype), rng.integers(0, 3, 8)
    binary = (1, 1.0, 1.0, 1.0, 0.0)
    cases = [(fh.weston_watkins, small._ww_defaults, ()),
             (fh.crammer_singer, small._cs_defaults, ()),
             (fh.one_vs_all, small._ova_defaults, ()),
             (topk_hinge, small._topk_defaults, (2,)),
             (structured_hinge, small._max_type_defaults, (0, 0, np.zeros((3, 3), dtype))),
             (fh.binary_hinge, small._binary_defaults, binary)]  # fmt: skip
    for func, helper, constants in cases:
        s = scores[:, 0].copy() if constants is binary else scores
        y = np.where(labels % 2, 1, -1) if constants is binary else labels
        weights, params = _general_params(func, s, y, monkeypatch)
        argtypes = (numba.typeof(s), numba.float64, *map(numba.typeof, constants))
        helper.compile(argtypes)  # or loads it from the cache
        small_weights, small_params, _ = helper.overloads[argtypes].signature.return_type
        assert small_params == numba.typeof(params), func
        assert small_weights == numba.typeof(weights), func


def test_the_kernels_no_ignore_is_the_validations():
    from fasthinge import _validation
    from fasthinge._cpu import labels, small

    assert small.NO_IGNORE == labels.NO_IGNORE == _validation.NO_IGNORE
