"""Gradient buffers handed out again only when nothing references them (``_buffers.py``)."""

from __future__ import annotations

import subprocess
import sys
import threading
import weakref

import numpy as np
import pytest

import fasthinge as fh
from fasthinge import _buffers

SHAPE = (64, 5)


@pytest.fixture
def reuse(monkeypatch):
    """Reuse on for any size (the general path's small arrays), with no remembered buffers."""
    monkeypatch.setattr(_buffers, "MIN_BYTES", 1)
    monkeypatch.setattr(_buffers, "ENABLED", True)
    fh.release_buffers()
    yield
    fh.release_buffers()


def _scores(seed: int = 0, dtype=np.float32) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(SHAPE).astype(dtype)


LABELS = np.arange(SHAPE[0]) % SHAPE[1]


def _grad(scores: np.ndarray) -> np.ndarray:
    """A gradient by the general path (an explicit default keyword skips the small path)."""
    return fh.weston_watkins(scores, LABELS, sample_weight=None)[1]


def _expected(scores: np.ndarray) -> np.ndarray:
    return fh.weston_watkins(scores, LABELS, out=np.empty_like(scores))[1]


def test_a_dropped_gradient_is_handed_out_again_with_the_new_values(reuse):
    first = _grad(_scores(0))
    address = first.ctypes.data
    del first
    again = _grad(_scores(1))
    assert again.ctypes.data == address
    np.testing.assert_array_equal(again, _expected(_scores(1)))


@pytest.mark.parametrize(
    ("hold", "array_of"),
    [
        (lambda g: g, lambda kept: kept),
        (lambda g: g[::2], lambda kept: kept.base),  # a view holds its base
        (lambda g: [g], lambda kept: kept[0]),
        (memoryview, np.asarray),
        (weakref.ref, lambda kept: kept()),  # alive: the slot holds it
    ],
    ids=["name", "view", "list", "memoryview", "weakref"],
)
def test_a_gradient_still_referenced_is_never_reused(reuse, hold, array_of):
    first = _grad(_scores(0))
    kept, before, address = hold(first), first.copy(), first.ctypes.data
    del first
    second = _grad(_scores(1))
    assert second.ctypes.data != address
    original = array_of(kept)
    assert original.ctypes.data == address
    np.testing.assert_array_equal(original, before)  # not overwritten by the second call


def test_a_training_loop_alternates_between_two_buffers(reuse):
    addresses = set()
    for step in range(6):
        _loss, grad = fh.weston_watkins(_scores(step), LABELS, sample_weight=None)
        np.testing.assert_array_equal(grad, _expected(_scores(step)))
        addresses.add(grad.ctypes.data)
    assert len(addresses) == 2


def test_another_shape_or_dtype_gets_a_new_array(reuse):
    first = _grad(_scores(0))
    address = first.ctypes.data
    del first
    other_dtype = _grad(_scores(0, np.float64))
    assert other_dtype.dtype == np.float64 and other_dtype.ctypes.data != address
    wider = fh.weston_watkins(np.zeros((64, 6), np.float32), LABELS, sample_weight=None)[1]
    assert wider.shape == (64, 6) and wider.ctypes.data != address


def test_release_buffers_counts_only_unreferenced_ones(reuse):
    held = _grad(_scores(0))
    dropped = _grad(_scores(1))
    nbytes = dropped.nbytes
    del dropped
    assert fh.release_buffers() == nbytes
    assert fh.release_buffers() == 0  # forgotten: nothing left to count
    again = _grad(_scores(2))
    assert not np.shares_memory(again, held)
    assert again is not held


def test_small_gradients_and_reuse_off_allocate_every_time(reuse, monkeypatch):
    monkeypatch.setattr(_buffers, "MIN_BYTES", _grad(_scores(0)).nbytes + 1)
    fh.release_buffers()
    _grad(_scores(0))
    assert _buffers._slots == []
    monkeypatch.setattr(_buffers, "MIN_BYTES", 1)
    monkeypatch.setattr(_buffers, "ENABLED", False)
    first = _grad(_scores(0))
    assert _buffers._slots == []
    del first


def test_the_environment_variable_turns_reuse_off():
    code = "import fasthinge._buffers as b; print(b.ENABLED)"
    env = {"FASTHINGE_REUSE_GRADIENTS": "0", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_threads_never_share_a_gradient(reuse):
    held, errors = [], []

    def work(seed):
        try:
            for step in range(20):
                scores = _scores(seed * 100 + step)
                grad = _grad(scores)
                np.testing.assert_array_equal(grad, _expected(scores))
                held.append(grad)  # every gradient stays referenced
        except Exception as error:  # pragma: no cover (reported below)
            errors.append(error)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({g.ctypes.data for g in held}) == len(held) == 80


def test_a_tensor_made_from_a_gradient_keeps_it(reuse):
    torch = pytest.importorskip("torch")
    tensor = torch.from_numpy(_grad(_scores(0)))
    before = tensor.clone()
    second = _grad(_scores(1))
    assert second.ctypes.data != tensor.data_ptr()
    assert torch.equal(tensor, before)


@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("offset", [0, 8, 2048, 4088])
def test_a_new_gradient_starts_apart_from_the_scores_in_a_page(dtype, offset, readonly):
    """Rows a multiple of 4 KB long: score and gradient rows in different L1 sets (the
    scores' address read through a ctypes view, or ``ctypes.data`` when read-only)."""
    itemsize = np.dtype(dtype).itemsize
    n_rows, n_classes = 80, 1024  # 320 or 640 KB: placed (PLACED_MIN_BYTES)
    raw = np.empty(n_rows * n_classes * itemsize + 2 * _buffers.PAGE_BYTES, np.uint8)
    start = (offset - raw.ctypes.data) % _buffers.PAGE_BYTES
    scores = raw[start : start + n_rows * n_classes * itemsize].view(dtype)
    scores = scores.reshape(n_rows, n_classes)
    scores[:] = np.random.default_rng(3).standard_normal(scores.shape)
    scores.flags.writeable = not readonly
    labels = np.arange(n_rows) % n_classes
    before = scores.copy()
    for grad in (
        fh.weston_watkins(scores, labels)[1],  # a remembered launch's way, or the general one
        fh.weston_watkins(scores, labels, sample_weight=None)[1],  # the general path
        _buffers.new_gradient(scores.shape, np.dtype(dtype), scores),
        fh.empty_gradient(scores),
    ):
        gap = (grad.ctypes.data - scores.ctypes.data) % _buffers.PAGE_BYTES
        assert gap == _buffers.PAGE_SHIFT - offset % _buffers.LINE_BYTES  # at a line's start
        assert grad.ctypes.data % _buffers.LINE_BYTES == 0
        assert grad.dtype == dtype and grad.shape == scores.shape
        assert grad.flags.c_contiguous and grad.flags.writeable and grad.flags.aligned
    expected = fh.weston_watkins(scores, labels, out=np.empty_like(scores))
    loss, grad = fh.weston_watkins(scores, labels)
    assert loss == expected[0]
    np.testing.assert_array_equal(grad, expected[1])
    np.testing.assert_array_equal(scores, before)


def test_a_small_gradient_is_a_plain_array():
    scores = np.zeros((4, 1024), np.float32)  # 16 KB: below PLACED_MIN_BYTES
    for grad in (
        _buffers.new_gradient(scores.shape, scores.dtype, scores),
        fh.empty_gradient(scores),
    ):
        assert grad.base is None and grad.flags.owndata
        assert grad.shape == scores.shape and grad.dtype == scores.dtype


def test_empty_gradient_takes_an_array_and_is_a_valid_out():
    with pytest.raises(TypeError, match="scores must be a NumPy array, got list"):
        fh.empty_gradient([[0.0, 1.0]])
    scores = np.random.default_rng(4).standard_normal((300, 512)).astype(np.float32)  # 600 KB
    labels = np.arange(300) % 512
    out = fh.empty_gradient(scores)
    assert out.base is not None and not np.may_share_memory(out, scores)
    loss, grad = fh.crammer_singer(scores, labels, out=out)
    assert grad is out
    expected = fh.crammer_singer(scores, labels)
    assert loss == expected[0]
    np.testing.assert_array_equal(out, expected[1])
