"""Kernels that take rows in SIMD blocks give exactly the row-at-a-time results.

A call on one row always takes the row code (a chunk of one row holds no block),
so each row of a many-row call is compared bit for bit with that row alone:
ties, kinks, NaN, infinities, ignored rows, weights, every option.
"""

import functools
import os

import numba
import numpy as np
import pytest

import fasthinge as fh
from fasthinge import _validation as v
from fasthinge._cpu._simd import COMPRESS, kth_largest, list_at_least
from fasthinge._cpu._transposed import topk_sink
from fasthinge._cpu.targets import MULTILABEL_BAND_MAX_CLASSES
from fasthinge._execution import BAND_ROWS, CHUNK_ELEMENTS, rows_per_chunk

slow_without_jit = pytest.mark.skipif(
    os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="too slow with NUMBA_DISABLE_JIT=1"
)

IGNORE = -100


def _row_by_row(fn, scores, labels, kw):
    rows = []
    for i in range(scores.shape[0]):
        row_kw = {k: (v[i : i + 1] if k == "sample_weight" else v) for k, v in kw.items()}
        rows.append(fn(scores[i : i + 1], labels[i : i + 1], reduction="none", **row_kw))
    return np.concatenate([r[0] for r in rows]), np.concatenate([r[1] for r in rows])


def _cases(rng, n_rows, n_classes, dtype):
    scores = (rng.integers(-6, 7, size=(n_rows, n_classes)) / 4).astype(dtype)  # many ties
    labels = rng.integers(0, n_classes, n_rows)
    scores[5, 1 % n_classes] = np.nan
    scores[17, :] = 0  # every score tied
    scores[30, :] = -np.inf
    scores[31, 0] = np.inf
    labels[7] = IGNORE
    weights = rng.random(n_rows).astype(dtype), rng.random(n_classes).astype(dtype)
    return scores, labels, weights


def _check_bands_match_rows(fn, scores, labels, kw, ignore=True, min_rows=BAND_ROWS):
    """Every output of a many-row call equals that of each row alone, bit for bit
    (``min_rows``: the function's least rows per chunk, for the expected sum)."""
    kw = dict(kw, ignore_index=IGNORE) if ignore else kw
    loss_rows, grad_rows = _row_by_row(fn, scores, labels, kw)
    loss, grad = fn(scores, labels, reduction="none", **kw)
    np.testing.assert_array_equal(grad, grad_rows)
    assert np.array_equal(np.signbit(grad), np.signbit(grad_rows))  # signed zeros too
    np.testing.assert_array_equal(loss, loss_rows)
    only = fn(scores, labels, reduction="none", return_grad=False, **kw)
    np.testing.assert_array_equal(only, loss_rows)
    out = np.full_like(grad, 7.0)
    total, _ = fn(scores, labels, reduction="sum", out=out, **kw)
    np.testing.assert_array_equal(out, grad_rows)  # "sum" scales each row by 1, as "none" does
    expected = _kernel_sum(loss_rows, scores.shape[1], min_rows)
    assert np.array_equal(total, expected, equal_nan=True)
    only_total = fn(scores, labels, reduction="sum", return_grad=False, **kw)
    assert np.array_equal(only_total, expected, equal_nan=True)  # the loss-only paths' sums
    # the cases' NaN and inf rows make those sums NaN: the sums again without them
    finite = np.nan_to_num(scores, nan=0.0, posinf=0.0, neginf=0.0)
    losses = fn(finite, labels, reduction="none", return_grad=False, **kw)
    expected = _kernel_sum(losses, scores.shape[1], min_rows)
    assert np.isfinite(expected)
    for return_grad in (True, False):
        total = fn(finite, labels, reduction="sum", return_grad=return_grad, **kw)
        assert np.array_equal(total if return_grad is False else total[0], expected)


def _kernel_sum(losses, n_classes, min_rows):
    """The kernels' sum of row losses: float64, in row order within each fixed chunk, the
    chunk sums added pairwise (``np.add.reduce``), rounded once to the losses' dtype."""
    rows = rows_per_chunk(n_classes, min_rows=min_rows)
    partials = []
    for start in range(0, len(losses), rows):
        acc = 0.0
        for loss in losses[start : start + rows]:
            acc += float(loss)
        partials.append(acc)
    with np.errstate(invalid="ignore"):  # inf - inf with negative weights
        return losses.dtype.type(np.add.reduce(np.array(partials)))


@pytest.mark.parametrize("n_classes", [1, 10, 100, 160, 520, 700, 1000, 1025, 10**4, 10**6])
def test_a_band_chunk_holds_whole_bands(n_classes):
    # a chunk of 23 rows (C = 700) left 7 rows of each chunk to the scalar row code
    rows = rows_per_chunk(n_classes, min_rows=BAND_ROWS)
    assert rows % BAND_ROWS == 0
    assert BAND_ROWS <= rows <= max(BAND_ROWS, CHUNK_ELEMENTS // n_classes)
    assert rows_per_chunk(n_classes) == max(1, CHUNK_ELEMENTS // n_classes)  # no rounding asked


OPTIONS = [{}, {"p": 2}, {"kink": "half"}, {"kink": "full", "margin": 0.5}, "weights"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [1, 2, 3, 10, 16, 17, 33, 64, 100, 512, 513])
@pytest.mark.parametrize("option", range(len(OPTIONS)))
def test_crammer_singer_blocks_match_rows(dtype, n_classes, option):
    # rows take vector sweeps instead of bands from LONG_ROW (512) classes on, and for
    # the loss alone from LONG_ROW_LOSS (64)
    rng = np.random.default_rng(n_classes * 10 + option)
    scores, labels, (sample_weight, class_weight) = _cases(rng, 203, n_classes, dtype)
    kw = OPTIONS[option]
    if kw == "weights":
        kw = {"sample_weight": sample_weight, "class_weight": class_weight}
    _check_bands_match_rows(fh.crammer_singer, scores, labels, kw)


def test_crammer_singer_takes_rows_apart_out_of_cache():
    from fasthinge._cpu import multiclass as m

    beyond = m.CACHE_BYTES // 2 + 1  # scores and gradient together beyond the cache
    assert m.long_rows(m.LONG_ROW_OUT_OF_CACHE, beyond, True)
    assert not m.long_rows(m.LONG_ROW_OUT_OF_CACHE, beyond - 1, True)
    assert not m.long_rows(m.LONG_ROW_OUT_OF_CACHE - 1, beyond, True)
    assert m.long_rows(m.LONG_ROW, 1, True)
    assert m.long_rows(m.LONG_ROW_LOSS, 1, False) and not m.long_rows(63, beyond, False)


@slow_without_jit
def test_crammer_singer_rows_out_of_cache_are_the_bands_results():
    from fasthinge._cpu import multiclass as m

    n_classes = m.LONG_ROW_OUT_OF_CACHE + 4
    n_rows = m.CACHE_BYTES // (2 * 4 * n_classes) + 37  # float32 scores beyond half the cache
    rng = np.random.default_rng(5)
    scores = rng.standard_normal((n_rows, n_classes), dtype=np.float32)
    labels = rng.integers(0, n_classes, n_rows)
    scores[7, 3] = np.nan
    losses, grad = fh.crammer_singer(scores, labels, reduction="none")
    for lo in range(0, n_rows, n_rows // 5):  # in-cache slices: bands
        part = slice(lo, lo + 4096)
        expected = fh.crammer_singer(scores[part], labels[part], reduction="none")
        np.testing.assert_array_equal(losses[part], expected[0])
        np.testing.assert_array_equal(grad[part], expected[1])


@slow_without_jit
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("func", "entries"), [(fh.crammer_singer, 2), (functools.partial(fh.topk_hinge, k=2), 3)]
)
def test_streamed_zeros_are_the_in_cache_results(func, entries, dtype):
    """Beyond the cache, rows of ``entries`` · ``STREAM_ROW_BYTES_AN_ENTRY`` bytes or more have
    their gradient's zeros streamed a chunk at a time (``stream_zeros``), on any thread
    count, into a gradient at any place: the bits of the in-cache row code."""
    from fasthinge._cpu import multiclass as m

    itemsize = np.dtype(dtype).itemsize
    n_classes = entries * m.STREAM_ROW_BYTES_AN_ENTRY // itemsize + 3  # rows not whole lines
    n_rows = m.CACHE_BYTES // (2 * itemsize * n_classes) + 37
    nbytes = n_rows * n_classes * itemsize
    assert m.streams_zeros(n_classes, itemsize, nbytes, entries)
    assert not m.streams_zeros(n_classes - 4, itemsize, nbytes, entries)
    assert not m.streams_zeros(n_classes, itemsize, nbytes, entries + 1)
    rng = np.random.default_rng(8)
    scores = rng.standard_normal((n_rows, n_classes)).astype(dtype)
    labels = rng.integers(0, n_classes, n_rows)
    labels[5] = -100
    scores[9, 3] = np.nan
    scores[11] = 0.0  # every wrong score ties: an inactive row with a label of 5
    scores[11, labels[11]] = 5.0
    kwargs = dict(reduction="none", ignore_index=-100)
    expected = [np.empty_like(scores), np.empty(n_rows, dtype)]
    for lo in range(0, n_rows, 2048):  # in-cache slices: the rows zeroed with plain stores
        part = slice(lo, lo + 2048)
        loss, grad = func(scores[part], labels[part], **kwargs)
        expected[0][part], expected[1][part] = grad, loss
    for n_threads, at in ((1, 0), (2, 8), (2, 2056)):
        out = np.full(nbytes + at, 255, np.uint8)[at:].view(dtype)
        out = out.reshape(n_rows, n_classes)  # an odd place: streamed from a register's middle
        loss, grad = func(scores, labels, out=out, n_threads=n_threads, **kwargs)
        np.testing.assert_array_equal(grad, expected[0])
        np.testing.assert_array_equal(loss, expected[1])


@slow_without_jit
@pytest.mark.parametrize("func", [fh.weston_watkins, fh.one_vs_all])
def test_long_row_bands_beyond_the_cache_are_the_in_cache_results(func):
    """Rows longer than ``PREFETCH_MAX_ROW_BYTES`` walk their tiles with prefetches only
    beyond the cache (``_tiles._Band.run`` emits the tile loop twice): both give the
    same bits."""
    from fasthinge._cpu import _tiles

    n_classes = _tiles.PREFETCH_MAX_ROW_BYTES // 4 + 19  # float32 rows past the limit
    n_rows = _tiles.CACHE_BYTES // (2 * 4 * n_classes) + 37  # scores + gradient beyond it
    rng = np.random.default_rng(6)
    scores = rng.standard_normal((n_rows, n_classes), dtype=np.float32)
    labels = rng.integers(0, n_classes, n_rows)
    losses, grad = func(scores, labels, reduction="none")
    for lo in range(0, n_rows, n_rows // 4):  # in-cache slices
        part = slice(lo, lo + 512)
        expected = func(scores[part], labels[part], reduction="none")
        np.testing.assert_array_equal(losses[part], expected[0])
        np.testing.assert_array_equal(grad[part], expected[1])


def _structured_01(scores, labels, **kwargs):
    """Margin rescaling with a 0/1 cost (its bands write zero rows and two entries)."""
    cost = 1 - np.eye(scores.shape[1], dtype=scores.dtype)
    return fh.structured_hinge(scores, labels, cost, **kwargs)


@slow_without_jit
@pytest.mark.parametrize("extra_bytes", [128, 32])  # rows of whole lines, of odd half lines
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("func", [fh.weston_watkins, fh.one_vs_all, _structured_01])
def test_bands_streaming_gradient_rows_are_the_in_cache_results(func, dtype, extra_bytes):
    """Beyond the cache, long gradient rows that all start on cache lines (whole lines
    long, a gradient from ``empty_gradient``) are stored with non-temporal stores
    (``_tiles._Band.stream``); rows of odd half lines, or elsewhere, plain stores:
    the same bits as in cache, on any thread count."""
    from fasthinge._cpu import _tiles

    itemsize = np.dtype(dtype).itemsize
    n_classes = (_tiles.PREFETCH_MAX_ROW_BYTES + extra_bytes) // itemsize
    _beyond_cache_is_in_cache(func, dtype, n_classes)


def _beyond_cache_is_in_cache(func, dtype, n_classes, **kwargs):
    """``func`` on a matrix beyond the cache gives its in-cache slices' bits.

    On one and two threads, into ``empty_gradient`` (on cache lines) and into
    ``np.empty_like`` (16 bytes into one); with an ignored row and a NaN row.
    """
    from fasthinge._cpu import _tiles

    itemsize = np.dtype(dtype).itemsize
    n_rows = _tiles.CACHE_BYTES // (2 * itemsize * n_classes) + 37
    rng = np.random.default_rng(9)
    scores = rng.standard_normal((n_rows, n_classes)).astype(dtype)
    labels = rng.integers(0, n_classes, n_rows)
    labels[3] = -100
    scores[20, 7] = np.nan
    kwargs = dict(kwargs, reduction="none", ignore_index=-100)
    if "sample_weight" in kwargs:
        kwargs["sample_weight"] = rng.uniform(0.5, 2.0, n_rows).astype(dtype)
    expected = [np.empty_like(scores), np.empty(n_rows, dtype)]
    for lo in range(0, n_rows, 512):  # in-cache slices
        part = slice(lo, lo + 512)
        part_kwargs = {k: v[part] if k == "sample_weight" else v for k, v in kwargs.items()}
        loss, grad = func(scores[part], labels[part], **part_kwargs)
        expected[0][part], expected[1][part] = grad, loss
    for n_threads, out in ((1, fh.empty_gradient(scores)), (2, fh.empty_gradient(scores)),
                           (2, np.empty_like(scores))):  # fmt: skip
        loss, grad = func(scores, labels, out=out, n_threads=n_threads, **kwargs)
        np.testing.assert_array_equal(grad, expected[0])
        np.testing.assert_array_equal(loss, expected[1])


def _from_labels(func, scores, labels, ignore_index=None, **kwargs):
    """``func`` (categorical or multilabel) with targets made from ``labels``.

    The categorical hinge: one-hot; the multilabel margin: the label and the next
    class. An ignored label: no target.
    """
    rows = np.flatnonzero(labels != ignore_index)
    if func is fh.categorical_hinge:
        targets = np.zeros(scores.shape, scores.dtype)
        targets[rows, labels[rows]] = 1
    else:
        targets = np.full(scores.shape, -1, np.int64)
        targets[rows, 0], targets[rows, 1] = labels[rows], (labels[rows] + 1) % scores.shape[1]
    return func(scores, targets, **kwargs)


def _with_cost(scores, labels, **kwargs):
    """Margin rescaling with a cost matrix of varied entries (a zero diagonal)."""
    n_classes = scores.shape[1]
    cost = (1 + np.arange(n_classes * n_classes).reshape(n_classes, -1) % 3) / 2
    cost = (cost * (1 - np.eye(n_classes))).astype(scores.dtype)
    return fh.structured_hinge(scores, labels, cost, **kwargs)


@slow_without_jit
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(
    "dtype, n_classes",
    [(np.float32, 48), (np.float32, 100), (np.float32, 101), (np.float32, 512),
     (np.float64, 16), (np.float64, 100), (np.float64, 256)],
)  # fmt: skip
@pytest.mark.parametrize(
    "func",
    [fh.weston_watkins, fh.one_vs_all, fh.crammer_singer,
     pytest.param(_with_cost, id="margin-rescaling"),
     pytest.param(functools.partial(_from_labels, fh.categorical_hinge), id="categorical"),
     pytest.param(functools.partial(_from_labels, fh.multilabel_margin), id="multilabel")],
)  # fmt: skip
def test_staged_gradient_blocks_are_the_in_cache_results(func, dtype, n_classes, weighted):
    """Beyond the cache, bands of short rows stage their gradient block in a stack
    scratch and stream it out (``_tiles._Band.stage``), where the block starts and
    ends on a line (an odd C: every other band, float32; ``np.empty_like``: none)."""
    kwargs = {"sample_weight": True} if weighted else {}
    _beyond_cache_is_in_cache(func, dtype, n_classes, **kwargs)


@pytest.mark.parametrize(
    "loss, dtype, n_classes, rows, staged",
    [("weston_watkins", np.float32, 48, "beyond", True),
     ("weston_watkins", np.float32, 47, "beyond", False),
     ("weston_watkins", np.float32, 512, "beyond", True),
     ("weston_watkins", np.float32, 513, "beyond", False),
     ("weston_watkins", np.float64, 16, "beyond", True),
     ("weston_watkins", np.float64, 257, "beyond", False),
     ("weston_watkins", np.float64, 100, "in", False),
     ("weston_watkins", np.float32, 100, "no gradient", False),
     ("one_vs_all", np.float32, 100, "beyond", True),
     ("one_vs_all", np.float32, 23, "beyond", False),
     ("one_vs_all", np.float32, 24, "beyond", True),
     ("one_vs_all", np.float64, 7, "beyond", False),
     ("one_vs_all", np.float64, 8, "beyond", True),
     ("crammer_singer", np.float32, 31, "beyond", False),
     ("crammer_singer", np.float32, 32, "beyond", True),
     ("crammer_singer", np.float32, 128, "beyond", True),
     ("crammer_singer", np.float32, 129, "beyond", False),
     ("crammer_singer", np.float64, 31, "beyond", False),
     ("crammer_singer", np.float64, 32, "beyond", True),
     ("crammer_singer", np.float64, 128, "beyond", True),
     ("crammer_singer", np.float64, 129, "beyond", False),
     ("rescaling", np.float32, 63, "beyond", False),
     ("rescaling", np.float32, 64, "beyond", True),
     ("rescaling", np.float64, 128, "beyond", True),
     ("rescaling", np.float64, 129, "beyond", False),
     ("categorical_hinge", np.float32, 127, "beyond", False),
     ("categorical_hinge", np.float32, 128, "beyond", True),
     ("multilabel_margin", np.float32, 15, "beyond", False),
     ("multilabel_margin", np.float32, 16, "beyond", True),
     ("multilabel_margin", np.float32, 384, "beyond", True),
     ("multilabel_margin", np.float32, 385, "beyond", False),
     ("multilabel_margin", np.float64, 10, "beyond", True)],
)  # fmt: skip
def test_which_bands_stage_their_gradient(loss, dtype, n_classes, rows, staged):
    """And only then the staged drivers, which alone compile the staged bands."""
    from collections import namedtuple

    from fasthinge._cpu import _rows, _tiles, multiclass, one_vs_all, structured, targets
    from fasthinge._multiclass import band_drivers

    itemsize = np.dtype(dtype).itemsize
    n_rows = _tiles.CACHE_BYTES // (2 * itemsize * n_classes) + (1 if rows != "in" else -1)
    scores = np.empty((n_rows, n_classes), dtype)
    grad = np.empty((0, 0), dtype) if rows == "no gradient" else scores
    assert _rows.stages_gradient(loss, scores, grad) is staged
    module = {"weston_watkins": multiclass, "crammer_singer": multiclass,
              "one_vs_all": one_vs_all, "rescaling": structured}.get(loss, targets)  # fmt: skip
    name = loss + "_staged" if staged else loss
    expected = (getattr(module, name + "_serial"), getattr(module, name + "_parallel"))
    call = namedtuple("Call", "scores grad")(scores, grad)
    assert band_drivers(module.__name__.rsplit(".", 1)[1], loss, call) == expected


@slow_without_jit
@pytest.mark.parametrize("ties", ["split", "first"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_categorical_streamed_gradient_rows_are_the_in_cache_results(dtype, ties):
    """The categorical hinge's gradient rows (``categorical_grad_rows``), streamed beyond
    the cache where rows of whole lines start on lines: the in-cache bits, ties split
    over several columns (a row written twice) included."""
    from fasthinge._cpu import _tiles

    itemsize = np.dtype(dtype).itemsize
    n_classes = (_tiles.PREFETCH_MAX_ROW_BYTES + 128) // itemsize  # whole lines
    n_rows = _tiles.CACHE_BYTES // (2 * itemsize * n_classes) + 37
    rng = np.random.default_rng(10)
    scores = rng.standard_normal((n_rows, n_classes)).astype(dtype)
    targets = np.eye(n_classes, dtype=dtype)[rng.integers(0, n_classes, n_rows)]
    scores[4, :3] = 9.0  # three tied maxima of the wrong scores
    targets[4] = 0.0
    targets[4, 5] = 1.0
    targets[6] = 0.0  # no target: a row of zeros
    kwargs = dict(reduction="none", ties=ties)
    expected = [np.empty_like(scores), np.empty(n_rows, dtype)]
    for lo in range(0, n_rows, 512):  # in-cache slices
        part = slice(lo, lo + 512)
        loss, grad = fh.categorical_hinge(scores[part], targets[part], **kwargs)
        expected[0][part], expected[1][part] = grad, loss
    for n_threads, out in ((1, fh.empty_gradient(scores)), (2, fh.empty_gradient(scores)),
                           (2, np.empty_like(scores))):  # fmt: skip
        loss, grad = fh.categorical_hinge(scores, targets, out=out, n_threads=n_threads,
                                          **kwargs)  # fmt: skip
        np.testing.assert_array_equal(grad, expected[0])
        np.testing.assert_array_equal(loss, expected[1])


WW_OPTIONS = [{}, {"margin": 0.5}, {"margin": 0.0}, "weights", {"p": 2}, {"nan": "drop"}]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [1, 2, 3, 7, 8, 10, 16, 17, 33])
@pytest.mark.parametrize("option", range(len(WW_OPTIONS)))
def test_weston_watkins_bands_match_rows(dtype, n_classes, option):
    rng = np.random.default_rng(n_classes * 10 + option)
    scores, labels, (sample_weight, class_weight) = _cases(rng, 203, n_classes, dtype)
    scores[40, -1] = np.inf
    scores[-1, -1] = np.nan  # the last band's partial tile
    kw = WW_OPTIONS[option]
    if kw == "weights":
        kw = {"sample_weight": sample_weight, "class_weight": class_weight}
    _check_bands_match_rows(fh.weston_watkins, scores, labels, kw)


OVA_OPTIONS = [{}, {"margin": 0.5}, {"kink": "half"}, {"normalize": True}, "weights", {"p": 2}]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [1, 2, 7, 10, 16, 17, 33])
@pytest.mark.parametrize("option", range(len(OVA_OPTIONS)))
def test_one_vs_all_bands_match_rows(dtype, n_classes, option):
    rng = np.random.default_rng(n_classes * 10 + option)
    scores, labels, (sample_weight, _) = _cases(rng, 203, n_classes, dtype)
    scores[60, :] = -1.0  # u == 0 on every wrong column (margin 1): the kink
    scores[150, -1] = np.nan  # the row code takes the rest of a chunk after a NaN row
    kw = OVA_OPTIONS[option]
    if kw == "weights":
        kw = {"sample_weight": (sample_weight - 0.3)}  # negative weights too: g0 · 0 = -0
    _check_bands_match_rows(fh.one_vs_all, scores, labels, kw)


CATEGORICAL_OPTIONS = [{}, {"margin": 0.5}, {"kink": "zero"}, {"ties": "first"}, "weights"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [1, 2, 7, 10, 16, 17, 33])
@pytest.mark.parametrize("option", range(len(CATEGORICAL_OPTIONS)))
@pytest.mark.parametrize("soft", [False, True])
def test_categorical_hinge_bands_match_rows(dtype, n_classes, option, soft):
    rng = np.random.default_rng(n_classes * 10 + option)
    scores, labels, (sample_weight, _) = _cases(rng, 203, n_classes, dtype)
    targets = np.eye(n_classes, dtype=dtype)[np.where(labels == IGNORE, 0, labels)]
    if soft:
        targets = (rng.integers(0, 5, targets.shape) / 4).astype(dtype)  # ties in (1 - t)·s too
    scores[60, :] = scores[60, 0]  # a row whose max is tied everywhere
    kw = CATEGORICAL_OPTIONS[option]
    if kw == "weights":
        kw = {"sample_weight": sample_weight}
    _check_bands_match_rows(fh.categorical_hinge, scores, targets, kw, ignore=False)


STRUCTURED_OPTIONS = [{}, {"kink": "half"}, {"kink": "full"}, "weights", {"ties": "split"}]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [1, 2, 7, 10, 16, 17, 33, 64, 512, 513])
@pytest.mark.parametrize("option", range(len(STRUCTURED_OPTIONS)))
def test_structured_hinge_bands_match_rows(dtype, n_classes, option):
    # margin rescaling takes long rows instead of bands as Crammer-Singer does
    rng = np.random.default_rng(n_classes * 10 + option)
    scores, labels, (sample_weight, class_weight) = _cases(rng, 203, n_classes, dtype)
    cost = (rng.integers(0, 3, (n_classes, n_classes)) / 2).astype(dtype)  # ties in Δ + s too
    np.fill_diagonal(cost, 0)
    scores[60, :] = 0  # Δ + s ties with s_y: z == 0, the kink
    kw = STRUCTURED_OPTIONS[option]
    if kw == "weights":
        kw = {"sample_weight": sample_weight, "class_weight": class_weight}

    def structured(s, y, **kw):
        return fh.structured_hinge(s, y, cost, **kw)

    _check_bands_match_rows(structured, scores, labels, kw)


def _topk_hinge(scores, labels, k, **kw):
    return fh.topk_hinge(scores, labels, k, **kw)


#: Fewer under NUMBA_DISABLE_JIT (CI's coverage run), where the bands run as Python.
TOPK_CLASSES = [2, 10] if numba.config.DISABLE_JIT else [2, 3, 10, 17, 63, 64, 72, 73, 80, 81,
                                                         96, 97, 100, 101, 128, 129, 256,
                                                         257]  # fmt: skip
TOPK_OPTIONS = [
    {},
    {"variant": "beta"},
    {"ties": "split"},
    {"variant": "beta", "ties": "split", "kink": "half"},
    {"kink": "full", "margin": 0.5},
    "weights",
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", TOPK_CLASSES)
@pytest.mark.parametrize("option", range(len(TOPK_OPTIONS)))
def test_topk_hinge_bands_match_rows(dtype, n_classes, option):
    """Bands of 16 rows (up to ``structured.topk_band_max_classes``: 63–96 classes for
    k ≤ 8 by k and dtype, 100–256 without a gradient, 1024 for k > 8) against the row
    code (from 64 classes, k ≤ 8: ``_simd.kth_largest``), k = 1, 2, C/2 and C − 1; past
    the limit both sides are rows."""
    rng = np.random.default_rng(n_classes * 10 + option)
    scores, labels, (sample_weight, class_weight) = _cases(rng, 203, n_classes, dtype)
    scores[60, :] = scores[60, labels[60]]  # every wrong score ties with s_y: h = m
    kw = TOPK_OPTIONS[option]
    if kw == "weights":
        kw = {"sample_weight": sample_weight, "class_weight": class_weight}
    for k in sorted({1, min(2, n_classes - 1), n_classes // 2, n_classes - 1}):
        _check_bands_match_rows(functools.partial(_topk_hinge, k=k), scores, labels, kw)


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="wide bands: slow as Python")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [1024, 1025])
def test_topk_hinge_large_k_bands_up_to_1024_classes(dtype, n_classes):
    """k > 8 takes bands up to 1024 classes (the row code above); k = 8 the row code."""
    rng = np.random.default_rng(n_classes)
    scores, labels, _ = _cases(rng, 48, n_classes, dtype)
    for k in (8, 9, 40):
        _check_bands_match_rows(functools.partial(_topk_hinge, k=k), scores, labels, {})


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="compiled signatures need the JIT")
@pytest.mark.skipif(bool(numba.config.BOUNDSCHECK), reason="typing, the same with bounds checks")
def test_structured_families_reach_the_chunk_with_a_constant_marker(rng, monkeypatch):
    """Top-k and the rescaling losses compile apart: the shared chunk and row code get
    ``TOPK`` as ``Literal[bool](True)`` and ``RESCALING`` as ``none``, on which Numba prunes
    the other family's walks. Passed through a tuple or after a star, the marker would
    arrive as a plain ``bool`` and both families would compile on a first call."""
    from numba.core import types
    from numba.core.caching import NullCache

    from fasthinge._cpu import small, structured

    # a fresh, uncached chunk, compiled here for what the callers pass it: typing it
    # registers the row code's signatures (a chunk loaded from the cache would not)
    chunk = numba.njit(nogil=True)(structured._structured_chunk.py_func)
    monkeypatch.setattr(structured, "_structured_chunk", chunk)
    monkeypatch.setattr(small, "_structured_chunk", chunk)
    for caller in (small.topk_hinge_small, small.structured_hinge_small):  # compiled again
        monkeypatch.setattr(caller, "_cache", NullCache())  # (not loaded): they call it
        caller.recompile()
    scores = rng.standard_normal((40, 12)).astype(np.float32)
    labels = rng.integers(0, 12, 40)
    fh.topk_hinge(scores, labels, 3)  # the small entries (the drivers pass the marker alike)
    fh.structured_hinge(scores, labels, 1 - np.eye(12, dtype=np.float32))
    for kernel, at in ((chunk, 7), (structured._structured_rows, -1)):  # (chunk: then staging)
        markers = {signature[at] for signature in kernel.signatures}
        assert {types.none, types.literal(True)} <= markers <= {types.none, types.literal(True)}


MULTILABEL_CLASSES = [1, 2, 10, 17] + ([] if numba.config.DISABLE_JIT else [129])  # longer: below
MULTILABEL_OPTIONS = [{}, {"kink": "half"}, {"kink": "full", "margin": 0.5}, {"nan": "drop"},
                      "weights"]  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", MULTILABEL_CLASSES)
@pytest.mark.parametrize("option", range(len(MULTILABEL_OPTIONS)))
def test_multilabel_margin_bands_match_rows(dtype, n_classes, option):
    """Bands of 16 rows against the row code: rows with no target, every class a target,
    repeated targets, entries after the first −1, NaN and ±inf."""
    rng = np.random.default_rng(n_classes * 10 + option)
    scores, labels, (sample_weight, _) = _cases(rng, 203, n_classes, dtype)
    targets = rng.integers(-1, n_classes, size=(203, n_classes))
    targets[:, 0] = labels % n_classes  # at least one target, mostly
    targets[3, 0] = -1  # no target
    targets[9] = rng.permutation(n_classes)  # every class a target
    targets[11, : min(3, n_classes)] = n_classes - 1  # a repeated target
    scores[40:56, :] = scores[40, 0]  # a whole band of ties: z == margin
    kw = MULTILABEL_OPTIONS[option]
    if kw == "weights":
        kw = {"sample_weight": sample_weight}
    _check_bands_match_rows(fh.multilabel_margin, scores, targets, kw, ignore=False)


@pytest.mark.parametrize("n_classes", [10] if numba.config.DISABLE_JIT else [10, 129, 1025])
def test_multilabel_margin_reads_int32_targets_as_they_are(n_classes):
    """int32 targets go to the kernels uncopied (the bands' gather widens them) and give
    the int64 targets' results bit for bit; int16 ones become int64."""
    rng = np.random.default_rng(n_classes)
    scores, _, (sample_weight, _) = _cases(rng, 40, n_classes, np.float32)
    targets = rng.integers(-1, n_classes, size=(40, n_classes))
    targets[:, 0] = rng.integers(0, n_classes, 40)
    narrow = targets.astype(np.int32)
    assert v.as_multilabel_targets(narrow, narrow.shape) is narrow
    assert v.as_multilabel_targets(narrow.astype(np.int16), narrow.shape).dtype == np.int64
    for kw in ({}, {"nan": "drop", "sample_weight": sample_weight}, {"reduction": "none"}):
        wide = fh.multilabel_margin(scores, targets, **kw)
        for other in (narrow, narrow.astype(np.int16)):
            got = fh.multilabel_margin(scores, other, **kw)
            assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(got, wide, strict=True))


# 1024: the widest whole band; 1025: two column blocks (513, 512); 3001: three (1001, 1001,
# 999). Without the JIT (plain-Python lanes) one band of two blocks (550 each), for time.
LONG_MULTILABEL = [(16, 1100, [{}])] if numba.config.DISABLE_JIT else [
    (40, n_classes, MULTILABEL_OPTIONS) for n_classes in (1024, 1025, 3001)]  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("n_rows", "n_classes", "options"), LONG_MULTILABEL,
                         ids=[f"{case[1]}" for case in LONG_MULTILABEL])  # fmt: skip
def test_multilabel_margin_long_rows_match_rows(dtype, n_rows, n_classes, options):
    """Long rows, up to five targets each: above 1024 classes bands walk them in column
    blocks, each target's pass carrying its sums, ``base`` and ``g_target`` across them.
    Targets on the blocks' edges, a row with many targets, a repeated one, none, NaN and
    ±inf; each option."""
    rng = np.random.default_rng(n_classes)
    scores, _, (sample_weight, _) = _cases(rng, 40, n_classes, dtype)
    scores = scores[:n_rows]
    targets = np.full((n_rows, n_classes), -1)
    for row in range(n_rows):
        count = rng.integers(1, 6)
        targets[row, :count] = rng.choice(n_classes, count, replace=False)
    blocks = -(-n_classes // MULTILABEL_BAND_MAX_CLASSES)
    block = -(-n_classes // blocks)
    second = min(block, n_classes - 1)  # (one block: the last column again)
    targets[0, :4] = [0, block - 1, second, n_classes - 1]  # the blocks' edges
    targets[2, :64] = rng.choice(n_classes, 64, replace=False)  # many targets
    targets[4, :3] = [second, second, 7]  # a repeated target
    targets[6, 0] = -1  # none
    targets[8, 1:3] = [-1, 5]  # an entry after the first −1
    for kw in options:
        kw = {"sample_weight": sample_weight[:n_rows]} if kw == "weights" else kw
        _check_bands_match_rows(fh.multilabel_margin, scores, targets, kw, ignore=False)


def test_multilabel_rows_longer_than_a_band_take_the_drivers_with_column_blocks(monkeypatch):
    """Rows up to ``MULTILABEL_BAND_MAX_CLASSES`` classes run drivers without the column
    blocks (``SHORT_ROWS``: cheaper to compile), longer rows the ``_long`` ones."""
    from fasthinge import _family, _multiclass

    asked, original = [], _family.drivers

    def drivers(module, name):
        asked.append(name)
        return original(module, name)

    monkeypatch.setattr(_family, "drivers", drivers)
    monkeypatch.setattr(_multiclass, "drivers", drivers)  # (``band_drivers``'s)
    for n_classes in (MULTILABEL_BAND_MAX_CLASSES, MULTILABEL_BAND_MAX_CLASSES + 1):
        scores = np.zeros((17, n_classes), np.float64)  # beyond the small path
        targets = np.full(scores.shape, -1)
        targets[:, 0] = 3
        asked.clear()
        losses = fh.multilabel_margin(scores, targets, reduction="none")[0]  # the general path
        long = n_classes > MULTILABEL_BAND_MAX_CLASSES
        assert asked == ["multilabel_margin_long" if long else "multilabel_margin"]
        np.testing.assert_array_equal(losses, np.float64(n_classes - 1) / n_classes)


@pytest.mark.parametrize("width", [2, 4, 8, 16])
def test_transpose_masks_transpose(width):
    """The shuffle stages of the band tiles, applied as LLVM's shufflevector does, transpose."""
    from fasthinge._cpu._tiles import _transpose_masks

    matrix = np.arange(width * width).reshape(width, width)
    rows = list(matrix)
    for b, low, high in _transpose_masks(width):
        new = list(rows)
        for r in range(width):
            if not r & b:
                both = np.concatenate([rows[r], rows[r + b]])  # shufflevector's index space
                new[r], new[r + b] = both[low], both[high]
        rows = new
    np.testing.assert_array_equal(np.array(rows), matrix.T)


@pytest.fixture
def band_width(monkeypatch):
    """``_tiles.vector_bytes`` re-read under the test's settings, and again after it."""
    from fasthinge._cpu import _tiles

    _tiles.vector_bytes.cache_clear()
    yield _tiles
    monkeypatch.undo()
    _tiles.vector_bytes.cache_clear()


@pytest.mark.parametrize(
    ("name", "features", "expected"),
    [
        ("skylake-avx512", "+avx512f,+avx2,+avx,+sse4.2", 64),
        ("znver4", "+avx512f,+avx2,+avx,+sse4.2", 32),  # AMD Zen: 32-byte bands
        ("znver3", "-avx512f,+avx2,+avx,+fma", 32),  # AMD EPYC under KVM: no AVX-512
        ("x86-64", "-avx512f,-avx2,-avx,+sse4.2", 16),
        ("generic", "", 16),  # NUMBA_CPU_NAME=generic, no features
    ],
)
def test_bands_are_one_register_of_the_target_cpu(band_width, monkeypatch, name, features,
                                                  expected):  # fmt: skip
    monkeypatch.delenv("FASTHINGE_VECTOR_BYTES", raising=False)
    monkeypatch.setattr(numba.config, "CPU_FEATURES", features)
    monkeypatch.setattr(numba.config, "CPU_NAME", name)
    assert band_width.vector_bytes() == expected
    assert band_width.band_rows(np.float32) == expected // 4
    assert band_width.band_rows(np.float64) == expected // 8


@pytest.mark.parametrize("forced", ["16", "32", "64"])
def test_fasthinge_vector_bytes_forces_the_band_width(band_width, monkeypatch, forced):
    monkeypatch.setattr(numba.config, "CPU_FEATURES", "+avx512f,+avx2,+avx")
    monkeypatch.setenv("FASTHINGE_VECTOR_BYTES", forced)
    assert band_width.vector_bytes() == int(forced)
    assert band_width.band_rows(np.float32) == int(forced) // 4


@pytest.mark.parametrize("bad", ["8", "128", "avx2", " 32"])
def test_a_bad_fasthinge_vector_bytes_is_a_clear_error(band_width, monkeypatch, bad):
    monkeypatch.setenv("FASTHINGE_VECTOR_BYTES", bad)
    with pytest.raises(
        ValueError, match=f"FASTHINGE_VECTOR_BYTES must be 16, 32 or 64, got {bad!r}"
    ):
        band_width.vector_bytes()


@numba.njit
def _kth(flat, start, n, skip, k):
    return kth_largest(flat, start, n, skip, k)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kth_largest_is_the_kth_of_the_sorted_wrong_entries(dtype):
    """``_simd.kth_largest`` against sorting, k = 1 … 8 and rows of one register … 70
    entries (with a last overlapping vector): ties, zeros of both signs, −inf, and a NaN
    anywhere (the skipped entry's too) making it NaN."""
    from fasthinge._cpu._simd import KTH_IN_REGISTERS
    from fasthinge._cpu._tiles import band_rows

    rng = np.random.default_rng(11)
    lanes = band_rows(np.dtype(dtype))  # its rows have at least a register's entries
    for trial in range(400):
        n, k = int(rng.integers(lanes, 71)), int(rng.integers(1, KTH_IN_REGISTERS + 1))
        skip, start = int(rng.integers(-1, n)), int(rng.integers(0, 9))
        flat = rng.standard_normal(n + 20).astype(dtype)
        row = rng.integers(-2, 3, n) * 1.0 if trial % 3 == 0 else rng.standard_normal(n)
        flat[start : start + n] = row * np.where(rng.random(n) < 0.5, -1.0, 1.0)
        if trial % 5 == 0:
            flat[start + int(rng.integers(0, n))] = -np.inf
        if trial % 7 == 0:
            flat[start + (skip if trial % 2 and skip >= 0 else int(rng.integers(0, n)))] = np.nan
        got = _kth(flat, start, n, skip, k)
        row = flat[start : start + n]
        wrong = sorted((row[j] for j in range(n) if j != skip), reverse=True)
        kth = wrong[k - 1] if k <= len(wrong) else -np.inf  # (−inf: fewer than k)
        expected = np.nan if np.isnan(row).any() else kth
        assert got == expected or (np.isnan(got) and np.isnan(expected)), (n, k, skip)


@numba.njit
def _listed(flat, start, tau, columns, n, j0, skip):
    return list_at_least(flat, start, tau, columns, n, j0, skip)


@pytest.mark.skipif(not COMPRESS and not numba.config.DISABLE_JIT, reason="needs AVX-512")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_list_at_least_packs_a_blocks_passing_columns_in_order(dtype):
    """``_simd.list_at_least`` against a list: ties at the threshold pass, NaN does not,
    ``skip`` inside and outside the block, and nothing written past the block's 16."""
    rng = np.random.default_rng(12)
    for trial in range(300):
        flat = (rng.integers(-3, 4, 40) / 2).astype(dtype)
        if trial % 4 == 0:
            flat[int(rng.integers(0, 40))] = np.nan
        start = int(rng.integers(0, 24))
        tau = dtype(flat[start + int(rng.integers(0, 16))]) if trial % 3 else dtype(0.25)
        n = int(rng.integers(0, 9))
        j0 = n + int(rng.integers(0, 9))
        skip = j0 + int(rng.integers(-3, 19))
        columns = np.full(j0 + 16 + 8, -7, np.int64)
        columns[:n] = np.arange(n)
        expected = [*range(n)] + [j0 + b for b in range(16)
                                  if flat[start + b] >= tau and j0 + b != skip]  # fmt: skip
        got = _listed(flat, start, tau, columns, n, j0, skip)
        assert got == len(expected) and list(columns[:got]) == expected, trial
        assert (columns[j0 + 16 :] == -7).all()


@numba.njit
def _sink(tile, counts, top, n_classes):
    topk_sink(tile, counts, top, n_classes)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [1, 2, 3, 4, 17])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6, 7, 8, 9, 12])
@pytest.mark.parametrize("ties", [False, True])
def test_topk_sink_leaves_the_k_largest_wrong_scores_in_the_first_half(dtype, n_classes, k, ties):
    """Up to k = 8 the sink keeps ``top`` in registers (one copy of the walk for each k);
    above, it reads one half of ``top`` and writes the other, column after column, and an
    odd count of columns ends in the second half, which is copied back. Both keep the
    row code's compare-exchanges: equal values (±0 among them) land where the Python
    twin puts them. (The band-vs-row tests do not see a stale first half: the sum above
    ``tau`` tolerates a ``tau`` that misses one column.)"""
    from fasthinge._cpu._transposed import BAND, LABEL, _topk_sink_python

    rng = np.random.default_rng(n_classes * 10 + k)
    tile = np.zeros((max(n_classes, BAND), BAND), dtype)
    if ties:  # few values, zeros of both signs
        tile[:n_classes] = rng.integers(-2, 3, (n_classes, BAND)) * rng.choice([-1.0, 1.0])
        tile[:n_classes] *= np.where(rng.random((n_classes, BAND)) < 0.5, -1.0, 1.0)
    else:
        tile[:n_classes] = rng.permutation(n_classes * BAND).reshape(n_classes, BAND)
    counts = np.zeros((4, BAND), np.int64)
    counts[LABEL] = rng.integers(0, n_classes, BAND)
    top = np.full((2 * k, BAND), 7.5, dtype)
    twin = top.copy()
    _sink(tile, counts, top, n_classes)
    _topk_sink_python(tile, counts, twin, n_classes)
    np.testing.assert_array_equal(np.signbit(top[:k]), np.signbit(twin[:k]))  # ±0 too
    for r in range(BAND):
        wrong = [tile[j, r] for j in range(n_classes) if j != counts[LABEL, r]]
        expected = sorted(wrong, reverse=True)[:k] + [-np.inf] * max(0, k - len(wrong))
        np.testing.assert_array_equal(top[:k, r], expected)


def test_kernel_modules_hold_no_intrinsic_without_the_jit():
    """Under ``NUMBA_DISABLE_JIT=1`` (the coverage run) the kernels run as Python and an
    intrinsic cannot be called: each one a kernel module uses is swapped for its Python
    twin at import (``cs_staged_rows`` once missed its twin). Checked in a fresh process
    with the JIT off, whatever this one runs with."""
    import subprocess
    import sys

    code = (
        "import importlib, pkgutil, fasthinge._cpu as cpu\n"
        "from numba.core.extending import _Intrinsic\n"
        "for m in pkgutil.iter_modules(cpu.__path__):\n"
        "    if not m.name.startswith('_'):\n"
        "        mod = importlib.import_module('fasthinge._cpu.' + m.name)\n"
        "        for name, value in vars(mod).items():\n"
        "            if isinstance(value, _Intrinsic):\n"
        "                print(m.name, name)\n"
    )
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, check=True)  # fmt: skip
    assert done.stdout == ""
