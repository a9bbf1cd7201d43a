"""Remembered launches (``fasthinge._small``): default-keyword calls past one chunk.

The first call of a shape goes the general way and its launch (kernels,
weights, parameters) is remembered; later calls check only the inputs and
reuse it. They must give the general path's results bit for bit, with new
inputs, for every keyword they accept, and leave every error to the general
path.
"""

import re
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import pytest

import fasthinge as fh
from fasthinge import _execution as ex
from fasthinge import _small
from fasthinge import _validation as v
from tests.test_small import BINARY, TARGETS, _assert_same, _inputs, topk_hinge

FUNCTIONS = [fh.weston_watkins, fh.crammer_singer, fh.one_vs_all, topk_hinge, *TARGETS, *BINARY]
#: Past one chunk (the small entries' limit); JIT-free, the kernels run as Python:
#: a few rows, which the launches take for loss-only calls.
BIG = not numba.config.DISABLE_JIT
SHAPE = (ex.CHUNK_ELEMENTS // 10 + 7, 10) if BIG else (30, 4)


def _shape(func):
    return (SHAPE[0] * SHAPE[1],) if func in BINARY else SHAPE


def _general(func, scores, labels, **kwargs):
    """The same call through the general path (an explicit keyword at its default)."""
    return func(scores, labels, sample_weight=None, **kwargs)


@pytest.fixture(autouse=True)
def no_launches(monkeypatch):
    """Each test starts with nothing remembered."""
    monkeypatch.setattr(_small, "LAUNCHES", {})


@pytest.fixture
def validations(monkeypatch):
    """How many calls ran the general path's validation of the scores."""
    calls = []
    as_scores = v.as_scores

    def counted(*args, **kwargs):
        calls.append(1)
        return as_scores(*args, **kwargs)

    monkeypatch.setattr(v, "as_scores", counted)
    return calls


def _variants():
    """Keyword sets of the remembered path (one thread, two, or Numba's setting)."""
    grad_variants = [{}, {"reduction": "sum"}, {"reduction": "sum_over_batch_size", "n_threads": 1}]
    loss_only = [{"return_grad": False}, {"return_grad": False, "reduction": "sum", "n_threads": 2}]
    return (grad_variants if BIG else []) + loss_only


@pytest.mark.parametrize("nan", [False, True], ids=["finite", "a NaN"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("func", FUNCTIONS, ids=lambda f: f.__name__)
def test_remembered_launches_equal_the_general_path(func, dtype, nan, rng, validations):
    shape = _shape(func)
    for kwargs in _variants():
        first = _inputs(func, shape, dtype, rng)
        func(*first, **kwargs)  # the general path, remembered
        before = len(validations)
        scores, labels = _inputs(func, shape, dtype, rng)  # new inputs, same shape
        if not nan:  # (a NaN loss would hide a wrong reduction)
            scores[np.isnan(scores)] = 0.25
        kept = scores.copy(), labels.copy()
        got = func(scores, labels, **kwargs)
        assert len(validations) == before, kwargs  # no validation: the launch was reused
        expected = _general(func, scores, labels, **kwargs)
        assert nan or np.isfinite(expected[0] if isinstance(expected, tuple) else expected)
        if kwargs.get("return_grad", True):
            _assert_same(got, expected)
            out = np.full_like(scores, 7.0)
            with_out = func(scores, labels, out=out, **kwargs)
            assert with_out[1] is out
            _assert_same(with_out, expected)
        else:
            assert type(got) is type(expected) and got.tobytes() == expected.tobytes()
        np.testing.assert_array_equal(scores, kept[0])  # inputs are never modified
        np.testing.assert_array_equal(labels, kept[1])


@pytest.mark.parametrize("func", [fh.weston_watkins, topk_hinge, fh.multilabel_margin,
                                  fh.binary_hinge], ids=lambda f: f.__name__)  # fmt: skip
def test_bad_labels_after_a_remembered_launch_raise_the_general_error(func, rng):
    shape = _shape(func)
    scores, labels = _inputs(func, shape, np.float32, rng)
    func(scores, labels, return_grad=False)  # remembered
    bad = labels.copy()
    bad.reshape(-1)[7] = 10**6
    out = np.full_like(scores, 3.0)
    where = f"targets[{', '.join(map(str, np.unravel_index(7, shape)))}]"
    message = r"must be .* got (labels\[7\]|" + re.escape(where) + ") = 1000000$"
    with pytest.raises(ValueError, match=message):
        func(scores, bad, return_grad=False)
    func(scores, labels, out=out)  # remembered too
    out[...] = 3.0
    with pytest.raises(ValueError, match=message):
        func(scores, bad, out=out)
    assert (out == 3.0).all()
    with pytest.raises(ValueError, match="out must not share memory with an input"):
        func(scores, labels, out=scores)


def test_a_failing_first_call_remembers_nothing(rng, validations):
    scores, labels = _inputs(fh.crammer_singer, SHAPE, np.float64, rng)
    bad = labels.copy()
    bad[3] = -1
    with pytest.raises(ValueError, match=r"got labels\[3\] = -1$"):
        fh.crammer_singer(scores, bad, return_grad=False, reduction="sum")
    fh.crammer_singer(scores, labels, return_grad=False, reduction="sum")
    assert len(validations) == 2  # remembered only now
    fh.crammer_singer(scores, labels, return_grad=False, reduction="sum")
    assert len(validations) == 2


def test_other_keywords_and_arguments_are_never_remembered(rng, validations):
    scores, labels = _inputs(fh.weston_watkins, SHAPE, np.float32, rng)
    for kwargs in ({"margin": 1.0}, {"reduction": "none"}, {"n_threads": 0}, {"return_grad": 1}):
        for _ in range(2):
            try:
                fh.weston_watkins(scores, labels, **kwargs)
            except (TypeError, ValueError):
                pass  # the general path's checks
    assert len(validations) == 8
    cost = (1 - np.eye(SHAPE[1])).astype(np.float32)
    for _ in range(2):
        fh.structured_hinge(scores, labels, cost, return_grad=False)  # an array argument
    assert len(validations) == 10


def test_launches_are_per_shape_and_bounded(rng, validations, monkeypatch):
    monkeypatch.setattr(_small, "MAX_LAUNCHES", 3)
    scores, labels = _inputs(fh.one_vs_all, SHAPE, np.float32, rng)
    calls = [(scores[:n], labels[:n]) for n in (5, 6, 7, 8)]
    for s, y in calls[:3] * 2:
        fh.one_vs_all(s, y, return_grad=False)
    assert len(validations) == 3  # three shapes, each validated once
    fh.one_vs_all(*calls[3], return_grad=False)  # a fourth: the others are forgotten
    fh.one_vs_all(*calls[0], return_grad=False)
    assert len(validations) == 5


def test_concurrent_remembered_calls_agree(rng):
    shape = _shape(fh.crammer_singer)
    inputs = [_inputs(fh.crammer_singer, shape, np.float32, rng) for _ in range(6)]
    expected = [_general(fh.crammer_singer, s, y, return_grad=False) for s, y in inputs]

    def call(pair):
        return fh.crammer_singer(*pair, return_grad=False)

    with ThreadPoolExecutor(6) as pool:
        for _ in range(3):
            for got, want in zip(pool.map(call, inputs), expected, strict=True):
                assert got.tobytes() == want.tobytes()
