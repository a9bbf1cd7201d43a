"""The GPU path under Numba's CUDA simulator, compared with the CPU path on tiny inputs.

Runs with ``NUMBA_ENABLE_CUDASIM=1`` (``tests/test_gpu.py`` starts it in a
subprocess with that variable), or on a real GPU with ``FASTHINGE_GPU_HARDWARE_TESTS=1``
(``scripts/gpu_session.sh``). Each call's rows are independent, so one call
carries many cases at once (ties, kinks, NaN, ignored rows).
"""

import os

# Blocks of 32 threads and at most 2 blocks (read when fasthinge._cuda is first
# imported): tiny inputs then take several grid-stride trips and several rows per
# block, and the simulator stays fast.
os.environ.setdefault("FASTHINGE_CUDA_THREADS", "32")
os.environ.setdefault("FASTHINGE_CUDA_MAX_BLOCKS", "2")

import numba
import numpy as np
import pytest
from fast_simulator import simulator_without_busy_loop  # noqa: F401 (autouse fixture)

import fasthinge as fh

#: The simulator (CI), or a real GPU when asked for (``FASTHINGE_GPU_HARDWARE_TESTS=1``).
RUNS = bool(numba.config.ENABLE_CUDASIM) or os.environ.get("FASTHINGE_GPU_HARDWARE_TESTS") == "1"
pytestmark = pytest.mark.skipif(
    not RUNS,
    reason="needs NUMBA_ENABLE_CUDASIM=1 (tests/test_gpu.py) or FASTHINGE_GPU_HARDWARE_TESTS=1",
)

if RUNS:
    from fasthinge._cuda._runtime import TPB, cuda, is_device_array
    from fasthinge.bench import gpu_check

TOL = {np.float16: (2e-3, 2e-3), np.float32: (2e-5, 1e-6), np.float64: (1e-12, 1e-12)}
BFLOAT16 = np.dtype("bfloat16") if "bfloat16" in np.sctypeDict else None
try:  # ml_dtypes (installed with jax) gives NumPy a bfloat16 dtype
    import ml_dtypes

    BFLOAT16 = ml_dtypes.bfloat16
    TOL[BFLOAT16] = (8e-3, 8e-3)  # one bfloat16 rounding (8 significant bits)
except ImportError:  # pragma: no cover
    ml_dtypes = None


def dev(x):
    """A device copy of a host array (bfloat16 travels as its int16 bits: numba-cuda's
    transfers use the buffer protocol, which has no bfloat16 on real hardware)."""
    if not isinstance(x, np.ndarray):
        return x
    if BFLOAT16 is not None and x.dtype == BFLOAT16:
        return cuda.to_device(np.ascontiguousarray(x).view(np.int16)).view(BFLOAT16)
    return cuda.to_device(np.ascontiguousarray(x))


def host(x):
    """A host copy of a device array (bfloat16 as ``dev`` sends it)."""
    if not hasattr(x, "copy_to_host"):
        return np.asarray(x)
    if BFLOAT16 is not None and x.dtype == BFLOAT16:  # flat first: numba-cuda 0.30 cannot
        bits = x.reshape((x.size,)).view(np.int16).copy_to_host()  # view a 0-d device array
        return bits.view(BFLOAT16).reshape(x.shape)
    return x.copy_to_host()


def grid(rng, shape, dtype, nan_at=None):
    scores = (rng.integers(-8, 9, size=shape) / 4).astype(dtype)
    if nan_at is not None and scores.size:
        scores[nan_at] = np.nan
    return scores


def compare(fn, *args, dtype=np.float32, cpu_dtype=None, **kw):
    """Call ``fn`` on host and device copies of the arguments; assert equal results."""
    cpu_args = [a.astype(cpu_dtype) if cpu_dtype and i == 0 else a for i, a in enumerate(args)]
    expected = fn(*cpu_args, **kw)
    got = fn(*[dev(a) for a in args], **{k: dev(v) for k, v in kw.items()})
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = got if isinstance(got, tuple) else (got,)
    assert len(got) == len(expected)
    rtol, atol = TOL[dtype]
    for g, e in zip(got, expected, strict=True):
        assert is_device_array(g)  # stays on the device
        g = host(g)
        assert g.shape == np.shape(e)
        assert g.dtype == np.dtype(dtype)
        np.testing.assert_allclose(g.astype(float), np.asarray(e, float), rtol=rtol, atol=atol,
                                   equal_nan=True)  # fmt: skip
    return got


MULTICLASS = [fh.weston_watkins, fh.crammer_singer, fh.one_vs_all]


@pytest.fixture(params=["tiles", "row groups", "groups of 8"])
def layout(request, monkeypatch):
    """Both layouts of the multiclass functions (``_cuda._tiles``, ``_cuda._kernels``).

    Up to ``_tiles.MAX_CLASSES`` classes they take tiles; "row groups" sets that to 0;
    "groups of 8" also caps the group size (``FASTHINGE_CUDA_MAX_GROUP``) at 8, so
    that lanes take several columns, four a trip, and a block several rows.
    """
    if request.param != "tiles":
        monkeypatch.setattr("fasthinge._cuda._tiles.MAX_CLASSES", 0)
    if request.param == "groups of 8":
        monkeypatch.setattr("fasthinge._cuda._runtime.MAX_GROUP", 8)
    return request.param


#: C = 130: more than four columns a lane in a row group of 32 (the suite's blocks), and
#: more classes than a tile takes.
SHAPE_CASES = [(np.float32, 1), (np.float32, 2), (np.float64, 3), (np.float32, 17),
               (np.float64, 40), (np.float64, 130)]  # fmt: skip


@pytest.mark.parametrize("fn", MULTICLASS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(("dtype", "n_classes"), SHAPE_CASES)
def test_shapes(fn, dtype, n_classes, rng, layout):
    n_rows = 6 if n_classes < 17 else 3
    scores = grid(rng, (n_rows, n_classes), dtype, nan_at=(1, n_classes - 1))
    labels = rng.integers(0, n_classes, n_rows)
    compare(fn, scores, labels, dtype=dtype, reduction="none")


@pytest.mark.parametrize("fn", MULTICLASS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("n_rows", [0, 1])
def test_tiny_batches(fn, n_rows, rng, layout):
    scores = grid(rng, (n_rows, 4), np.float64)
    labels = rng.integers(0, 4, n_rows)
    for reduction in ("mean", "sum"):
        compare(fn, scores, labels, dtype=np.float64, reduction=reduction)


@pytest.mark.parametrize("fn", MULTICLASS, ids=lambda f: f.__name__)
def test_tiles_over_several_blocks_and_trips(fn, rng):
    """More rows than a tile (32 with the suite's blocks of 32 threads) times the blocks:
    each block takes several tiles, the last one partial; ignored rows among them."""
    from fasthinge._cuda import _tiles
    from fasthinge._cuda._runtime import MAX_BLOCKS

    n_rows = _tiles.rows_per_tile(17, 4) * min(8 * MAX_BLOCKS, 16) + 45  # the suite: 16 blocks
    scores = grid(rng, (n_rows, 3), np.float32, nan_at=(n_rows - 2, 1))
    labels = rng.integers(0, 3, n_rows)
    assert _tiles.width_for(3) == 17
    compare(fn, scores, labels, reduction="none", ignore_index=2)
    compare(fn, scores, labels, reduction="sum", return_grad=False)


def test_row_functions_in_tiles_over_several_blocks_and_trips(rng):
    """Structured hinge, top-k, the categorical hinge (two tiles a block: scores and targets)
    and the multilabel margin (scores and gradient) over several tiles a block, the last one
    partial, with ignored rows, NaN and ties."""
    from fasthinge._cuda import _tiles
    from fasthinge._cuda._runtime import MAX_BLOCKS

    n_rows = _tiles.rows_per_tile(17, 4) * min(8 * MAX_BLOCKS, 16) + 45  # the suite: 16 blocks
    scores = grid(rng, (n_rows, 4), np.float32, nan_at=(n_rows - 2, 1))
    labels = rng.integers(0, 4, n_rows)
    w = rng.random(n_rows).astype(np.float32)
    cost = (1 - np.eye(4, dtype=np.float32)) * 2
    compare(fh.structured_hinge, scores, labels, cost, reduction="none", ignore_index=2)
    compare(fh.topk_hinge, scores, labels, 2, ties="first", reduction="none", ignore_index=2)
    compare(fh.topk_hinge, scores, labels, 2, reduction="sum", return_grad=False)
    compare(fh.categorical_hinge, scores, np.eye(4, dtype=np.float32)[labels], sample_weight=w)
    targets = np.full((n_rows, 4), -1)
    targets[:, 0] = labels
    targets[::3, 1] = (labels[::3] + 1) % 4
    compare(fh.multilabel_margin, scores, targets, reduction="none", sample_weight=w)
    compare(fh.multilabel_margin, scores, targets, reduction="sum", return_grad=False)


def _keyword_cases(rng, n_rows, n_classes):
    w = rng.random(n_rows).astype(np.float32)
    cw = rng.random(n_classes).astype(np.float32)
    return w, cw


def test_weston_watkins_keywords(rng, layout):
    scores = grid(rng, (9, 5), np.float32, nan_at=(2, 3))
    labels = rng.integers(0, 5, 9)
    w, cw = _keyword_cases(rng, 9, 5)
    compare(fh.weston_watkins, scores, labels, p=2, margin=0.5, class_weight=cw,
            sample_weight=w, ignore_index=1, reduction="sum")  # fmt: skip
    compare(fh.weston_watkins, scores, labels, kink="half", nan="drop", normalize=False)
    compare(fh.weston_watkins, scores, labels, kink="full", sample_weight=w,
            reduction="sum_over_batch_size", return_grad=False)  # fmt: skip


def test_crammer_singer_keywords(rng, layout):
    scores = grid(rng, (9, 5), np.float32, nan_at=(2, 3))
    labels = rng.integers(0, 5, 9)
    w, cw = _keyword_cases(rng, 9, 5)
    compare(fh.crammer_singer, scores, labels, ties="split", kink="half", reduction="none")
    compare(fh.crammer_singer, scores, labels, p=2, class_weight=cw, sample_weight=w,
            ignore_index=0)  # fmt: skip
    compare(fh.crammer_singer, scores, labels, kink="full", return_grad=False, reduction="sum")


def test_one_vs_all_keywords(rng, layout):
    scores = grid(rng, (9, 5), np.float32, nan_at=(2, 3))
    labels = rng.integers(0, 5, 9)
    w, _ = _keyword_cases(rng, 9, 5)
    compare(fh.one_vs_all, scores, labels, reduction="per_class", sample_weight=w, ignore_index=4)
    compare(fh.one_vs_all, scores, labels, p=2, kink="full", normalize=True, sample_weight=w)


def test_structured_and_topk(rng, layout):
    scores = grid(rng, (9, 5), np.float32, nan_at=(2, 3))
    labels = rng.integers(0, 5, 9)
    w, cw = _keyword_cases(rng, 9, 5)
    cost = ((1 - np.eye(5)) * rng.integers(1, 4, size=(5, 5))).astype(np.float32)
    compare(fh.structured_hinge, scores, labels, cost, reduction="none")
    compare(fh.structured_hinge, scores, labels, cost, rescaling="slack", kink="half",
            ties="split", class_weight=cw, sample_weight=w)  # fmt: skip
    compare(fh.topk_hinge, scores, labels, 2, reduction="none", ignore_index=3)
    compare(fh.topk_hinge, scores, labels, 3, variant="beta", ties="split", kink="half",
            reduction="none")  # fmt: skip
    scores[4, :] = [np.inf, -np.inf, np.inf, 0.0, 1.0]  # inf - inf: a NaN row
    compare(fh.topk_hinge, scores, labels, 1, variant="alpha", kink="full", sample_weight=w)


def test_target_matrices(rng, layout):
    scores = grid(rng, (9, 5), np.float32, nan_at=(2, 3))
    labels = rng.integers(0, 5, 9)
    w, _ = _keyword_cases(rng, 9, 5)
    onehot = np.eye(5, dtype=np.float32)[labels]
    soft = rng.random((9, 5)).astype(np.float64)
    compare(fh.categorical_hinge, scores, onehot, reduction="none")
    compare(fh.categorical_hinge, scores, soft, ties="first", kink="zero", sample_weight=w)
    targets = np.full((9, 5), -1)
    targets[:, 0] = labels
    targets[::2, 1] = (labels[::2] + 1) % 5
    targets[1, 3] = 2  # after the first -1: ignored
    compare(fh.multilabel_margin, scores, targets, reduction="none")
    compare(fh.multilabel_margin, scores, targets, nan="drop", kink="half", sample_weight=w)


# Tiles and row groups against the CPU: in row groups G < C (C = 40 > TPB = 32: two columns a
# lane), G = 16 > C = 10, G = 4 > C = 3. The grid's quarter steps give many ties; row 3 is all ties.
ROW_GROUP_CASES = [(np.float32, 3), (np.float64, 10), (np.float32, 40)]


def _row_group_scores(rng, dtype, n_classes):
    n_rows = 6 if n_classes < 40 else 4
    scores = grid(rng, (n_rows, n_classes), dtype, nan_at=(1, n_classes - 1))
    scores[3] = 0.5
    return scores, rng.random(n_rows).astype(dtype)


@pytest.mark.parametrize(("dtype", "n_classes"), ROW_GROUP_CASES)
def test_topk_shapes(dtype, n_classes, rng, layout):
    scores, w = _row_group_scores(rng, dtype, n_classes)
    labels = rng.integers(0, n_classes, scores.shape[0])
    labels[2] = -1  # ignored
    k = min(3, n_classes - 1)
    compare(fh.topk_hinge, scores, labels, 1, dtype=dtype, reduction="none", ignore_index=-1)
    compare(fh.topk_hinge, scores, labels, k, dtype=dtype, variant="alpha", ties="first",
            kink="half", sample_weight=w, ignore_index=-1, reduction="none")  # fmt: skip
    compare(fh.topk_hinge, scores, labels, k, dtype=dtype, variant="beta", ties="first",
            kink="full", ignore_index=-1, reduction="sum")  # fmt: skip
    # k = C - 1 up to C = 10 (each of the k largest is a round of every thread of a block)
    compare(fh.topk_hinge, scores, labels, min(n_classes - 1, 9), dtype=dtype, variant="beta",
            ties="split", sample_weight=w, ignore_index=-1, return_grad=False)  # fmt: skip


@pytest.mark.parametrize(("dtype", "n_classes"), ROW_GROUP_CASES)
def test_multilabel_margin_shapes(dtype, n_classes, rng, layout):
    scores, w = _row_group_scores(rng, dtype, n_classes)
    n_rows = scores.shape[0]
    targets = rng.integers(-1, n_classes, size=(n_rows, n_classes))  # read up to the first -1
    targets[0, :] = rng.permutation(n_classes)  # every class a target: no term
    targets[1, min(2, n_classes - 1)] = -1
    targets[2, 0] = -1  # no target
    targets[4 % n_rows, :2] = [n_classes - 1, n_classes - 1]  # a repeated target
    if n_classes >= 10:  # at most 4 targets a row: each target is a round of every thread
        targets[:, 4:] = -1  # (the simulator runs threads as Python threads: slow)
    compare(fh.multilabel_margin, scores, targets, dtype=dtype, reduction="none")
    compare(fh.multilabel_margin, scores, targets, dtype=dtype, nan="drop", kink="half",
            sample_weight=w, reduction="none")  # fmt: skip
    compare(fh.multilabel_margin, scores, targets, dtype=dtype, kink="full", sample_weight=w)
    compare(fh.multilabel_margin, scores, targets, dtype=dtype, reduction="sum", return_grad=False)


BINARY = [fh.binary_hinge, fh.perceptron, fh.smooth_hinge, fh.modified_huber, fh.hinge_embedding]


@pytest.mark.parametrize("fn", BINARY, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_family(fn, dtype, rng):
    f = grid(rng, 70, dtype, nan_at=5)
    t = np.where(rng.random(70) < 0.5, 1, -1)
    w = rng.random(70)
    compare(fn, f, t, dtype=dtype, reduction="none")
    compare(fn, f, t, dtype=dtype, sample_weight=w, ignore_index=None)


@pytest.mark.parametrize("extra", [1, 2, 3, 4])
def test_binary_grid_stride_trips(extra, rng):
    """Five to eight grid-stride trips (a trip covers ``step`` = all threads), the last one
    partial; an invalid label in the last element, NaN in the middle."""
    from fasthinge._cuda._runtime import MAX_BLOCKS, TPB

    if MAX_BLOCKS > 8:
        pytest.skip("a grid of MAX_BLOCKS blocks is too many elements for this test")
    step = TPB * MAX_BLOCKS  # the grid: its size is capped at MAX_BLOCKS for these lengths
    n = (3 + extra) * step + 3  # the last trip: threads 0..2 only
    f = grid(rng, n, np.float32, nan_at=n // 2)
    t = np.where(rng.random(n) < 0.5, 1, -1)
    compare(fh.binary_hinge, f, t, reduction="none")
    compare(fh.smooth_hinge, f, t, sample_weight=rng.random(n), reduction="sum")
    t[-1] = 0
    with pytest.raises(ValueError, match=rf"labels\[{n - 1}\] = 0"):
        fh.binary_hinge(dev(f), dev(t))


def test_binary_keywords(rng):
    f = grid(rng, 40, np.float64)
    t01 = (rng.random(40) < 0.5).astype(np.int8)
    t01[3] = 7
    w = rng.random(40)
    compare(fh.binary_hinge, f, t01, dtype=np.float64, label_encoding="01", p=2, kink="full",
            ignore_index=7, sample_weight=w)  # fmt: skip
    compare(fh.smooth_hinge, f, t01, dtype=np.float64, label_encoding="01", gamma=0.5,
            ignore_index=7, reduction="sum")  # fmt: skip
    compare(fh.hinge_embedding, f, np.where(t01 == 1, 1.0, 0.0), dtype=np.float64, margin=0.5,
            kink="half", reduction="none")  # fmt: skip
    compare(fh.perceptron, f, t01, dtype=np.float64, label_encoding="01", ignore_index=7,
            return_grad=False)  # fmt: skip


@pytest.mark.parametrize("fn", [fh.weston_watkins, fh.crammer_singer], ids=lambda f: f.__name__)
def test_float16_accumulates_in_float32(fn, rng, layout):
    scores = (rng.normal(size=(7, 6))).astype(np.float16)
    labels = rng.integers(0, 6, 7)
    compare(fn, scores, labels, dtype=np.float16, cpu_dtype=np.float32, reduction="none")
    compare(fn, scores, labels, dtype=np.float16, cpu_dtype=np.float32)


needs_bfloat16 = pytest.mark.skipif(ml_dtypes is None, reason="needs ml_dtypes (test extra)")


@needs_bfloat16
def test_bfloat16_rounding_is_round_to_nearest_even():
    """``to_bfloat16`` rounds exactly as ml_dtypes (NumPy's bfloat16) does, bit for bit."""
    from fasthinge._cuda import _kernels

    rng = np.random.default_rng(3)
    words = rng.integers(0, 2**32, 4000, dtype=np.uint64).astype(np.uint32)
    words[:4] = [0x3F808000, 0x3F818000, 0x7F7FFFFF, 0xFF800000]  # ties to even; overflow; -inf
    values = words.view(np.float32)
    values[4:6] = [np.nan, -0.0]
    bits = cuda.device_array(values.shape, np.int16)
    _kernels.to_bfloat16[2, TPB](dev(values), bits)  # the kernels stride by TPB
    with np.errstate(invalid="ignore"):  # NaN payloads
        expected = values.astype(BFLOAT16)
    got = host(bits).view(BFLOAT16)
    finite = ~np.isnan(expected.astype(np.float32))
    np.testing.assert_array_equal(got.view(np.int16)[finite], expected.view(np.int16)[finite])
    assert np.isnan(got.astype(np.float32)[~finite]).all()


@needs_bfloat16
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_bfloat16_scores_without_a_copy(reduction, rng, layout):
    """bfloat16 scores are read as bits and widened in the kernel; outputs are bfloat16."""
    scores = grid(rng, (9, 5), BFLOAT16, nan_at=(4, 2))
    labels = rng.integers(0, 5, 9)
    kw = dict(dtype=BFLOAT16, cpu_dtype=np.float32, reduction=reduction)
    for fn in (fh.weston_watkins, fh.crammer_singer, fh.one_vs_all, fh.topk_hinge):
        extra = (2,) if fn is fh.topk_hinge else ()
        compare(fn, scores, labels, *extra, **kw)
    compare(fh.structured_hinge, scores, labels, 1 - np.eye(5), **kw)
    compare(fh.categorical_hinge, scores, np.eye(5, dtype=np.float32)[labels], **kw)
    compare(fh.binary_hinge, scores[:, 0].copy(), np.where(labels < 2, 1, -1), **kw)
    targets = np.full((9, 5), -1)
    targets[:, 0] = labels
    compare(fh.multilabel_margin, scores, targets, **kw)
    compare(fh.one_vs_all, scores, labels, dtype=BFLOAT16, cpu_dtype=np.float32,
            reduction="per_class")  # fmt: skip


@needs_bfloat16
def test_bfloat16_out_and_errors(rng):
    scores = dev(grid(rng, (6, 4), BFLOAT16))
    labels = dev(rng.integers(0, 4, 6))
    out = cuda.device_array((6, 4), BFLOAT16)
    loss, grad = fh.crammer_singer(scores, labels, out=out)
    assert grad is out and host(loss).dtype == BFLOAT16
    expected = fh.crammer_singer(host(scores).astype(np.float32), host(labels))[1]
    np.testing.assert_array_equal(host(out), expected.astype(BFLOAT16))  # ±1/6 rounded once
    with pytest.raises(TypeError, match="out must have dtype bfloat16"):
        fh.crammer_singer(scores, labels, out=cuda.device_array((6, 4), np.int16))
    with pytest.raises(TypeError, match="out must have dtype float32"):
        fh.crammer_singer(dev(host(scores).astype(np.float32)), labels, out=out)
    with pytest.raises(TypeError, match="sample_weight is bfloat16; pass it as float32"):
        fh.weston_watkins(scores, labels, sample_weight=dev(np.ones(6, BFLOAT16)))


def test_binary_float16(rng):
    f = rng.normal(size=50).astype(np.float16)
    t = np.where(rng.random(50) < 0.5, 1, -1)
    compare(fh.binary_hinge, f, t, dtype=np.float16, cpu_dtype=np.float32)


def test_out_and_return_types(rng):
    scores = grid(rng, (6, 4), np.float32)
    labels = rng.integers(0, 4, 6)
    out = cuda.device_array((6, 4), np.float32)
    loss, grad = fh.crammer_singer(dev(scores), dev(labels), out=out)
    assert grad is out
    assert loss.shape == ()
    np.testing.assert_allclose(host(out), fh.crammer_singer(scores, labels)[1])
    only = fh.weston_watkins(dev(scores), dev(labels), return_grad=False)
    assert only.shape == () and not isinstance(only, tuple)


def test_overlap_check_reads_strides():
    from fasthinge._cuda._runtime import address_range

    base = cuda.to_device(np.zeros((4, 6), np.float32))
    start, end = address_range(base)
    assert end - start == 96
    assert address_range(cuda.device_array((0, 3), np.float32))[0] == address_range(
        cuda.device_array((0, 3), np.float32))[1]  # fmt: skip
    strided = base[:, ::-2]  # a view: negative strides
    low, high = address_range(strided)
    assert start <= low < high <= end


def test_deterministic(rng):
    scores = rng.normal(size=(40, 3)).astype(np.float32)
    labels = rng.integers(0, 3, 40)
    first = host(fh.weston_watkins(dev(scores), dev(labels), return_grad=False))
    again = host(fh.weston_watkins(dev(scores), dev(labels), return_grad=False))
    assert first.tobytes() == again.tobytes()


def test_out_of_range_label_raises(rng, layout):
    scores = grid(rng, (5, 3), np.float32)
    bad = dev(np.array([0, 1, 3, 0, -1]))
    out = cuda.to_device(np.full((5, 3), 7.0, np.float32))
    # checked before the loss kernel (ignore_index needs the kept rows): nothing written
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\).*labels\[2\] = 3"):
        fh.weston_watkins(dev(scores), bad, out=out, ignore_index=1)
    assert (host(out) == 7).all()
    # into the caller's out, the labels are always checked first: out stays untouched
    for fn in (fh.weston_watkins, fh.crammer_singer, fh.one_vs_all):
        with pytest.raises(ValueError, match=r"labels\[2\] = 3"):
            fn(dev(scores), bad, out=out)
        assert (host(out) == 7).all()
    f_out = cuda.to_device(np.full(5, 7.0, np.float32))
    with pytest.raises(ValueError, match=r"labels must be -1 or 1"):
        fh.binary_hinge(dev(scores[:, 0].copy()), dev(np.array([1, 0, 1, 1, 1])), out=f_out)
    assert (host(f_out) == 7).all()
    # checked by the loss kernel itself (no extra pass), raised after it
    for fn in (fh.weston_watkins, fh.crammer_singer, fh.one_vs_all):
        with pytest.raises(ValueError, match=r"labels\[2\] = 3"):
            fn(dev(scores), bad)
    with pytest.raises(ValueError, match=r"labels\[2\] = 3"):
        fh.topk_hinge(dev(scores), bad, 1, reduction="sum")
    with pytest.raises(ValueError, match=r"labels\[0\] = -1"):
        fh.crammer_singer(dev(scores), dev(np.array([-1, 1, 2, 0, 0])), ignore_index=-2)
    with pytest.raises(ValueError, match=r"labels\[4\] = -1"):
        fh.one_vs_all(dev(scores), bad, reduction="per_class", ignore_index=3)
    f = dev(scores[:, 0].copy())
    t = dev(np.array([1.0, 0.0, 1, 1, 1]))
    with pytest.raises(ValueError, match=r"labels must be -1 or 1.*labels\[1\] = 0"):
        fh.binary_hinge(f, t)
    with pytest.raises(ValueError, match=r"labels must be -1 or 1.*labels\[1\] = 0"):
        fh.smooth_hinge(f, t, sample_weight=dev(np.ones(5)))
    with pytest.raises(ValueError, match=r"targets must be in \[-1, 3\)"):
        fh.multilabel_margin(dev(scores), dev(np.full((5, 3), 3)))


def test_argument_errors(rng):
    scores = dev(grid(rng, (5, 3), np.float32))
    labels = dev(np.array([0, 1, 2, 0, 1]))
    with pytest.raises(TypeError, match="labels is a ndarray on the host"):
        fh.weston_watkins(scores, np.array([0, 1, 2, 0, 1]))
    with pytest.raises(TypeError, match="sample_weight is a ndarray on the host"):
        fh.crammer_singer(scores, labels, sample_weight=np.ones(5))
    with pytest.raises(ValueError, match="sample_weight sums to 0"):
        fh.crammer_singer(scores, labels, sample_weight=dev(np.zeros(5)))
    with pytest.raises(ValueError, match="n_threads"):
        fh.one_vs_all(scores, labels, n_threads=1)
    with pytest.raises(ValueError, match="compact=True is not available on the GPU"):
        fh.topk_hinge(scores, labels, 1, compact=True)
    with pytest.raises(ValueError, match="out must not share memory"):
        fh.weston_watkins(scores, labels, out=scores)
    with pytest.raises(TypeError, match="out must have dtype float32"):
        fh.weston_watkins(scores, labels, out=cuda.device_array((5, 3), np.float64))
    with pytest.raises(TypeError, match="scores must be float16, float32 or float64"):
        fh.weston_watkins(dev(np.ones((2, 2), np.int32)), labels[:2])
    with pytest.raises(ValueError, match="reduction must be one of"):
        fh.weston_watkins(scores, labels, reduction="avg")
    with pytest.raises(ValueError, match=r"cost must have a zero diagonal, got cost\[0, 0\] = 1"):
        fh.structured_hinge(scores, labels, dev(np.ones((3, 3))))


@pytest.mark.parametrize(
    ("entry", "value", "message"),
    [((1, 2), -1.0, "be finite and >= 0"), ((2, 0), np.nan, "be finite and >= 0"),
     ((0, 1), np.inf, "be finite and >= 0"), ((1, 1), 2.0, "have a zero diagonal"),
     ((2, 2), -3.0, "be finite and >= 0")],
)  # fmt: skip
def test_cost_checked_on_the_device(entry, value, message):
    """The cost matrix is checked by a device pass; only the bad entry comes back."""
    scores = dev(grid(np.random.default_rng(0), (5, 3), np.float32))
    labels = dev(np.array([0, 1, 2, 0, 1]))
    cost = 1 - np.eye(3)
    cost[entry] = value
    pattern = rf"cost must {message}, got cost\[{entry[0]}, {entry[1]}\] = {value}"
    with pytest.raises(ValueError, match=pattern):
        fh.structured_hinge(scores, labels, dev(cost))
    integer_cost = dev((1 - np.eye(3, dtype=np.int32)) * 2)  # integer costs are checked too
    expected = fh.structured_hinge(host(scores), host(labels), 2 * (1 - np.eye(3)))
    np.testing.assert_allclose(host(fh.structured_hinge(scores, labels, integer_cost)[0]),
                               expected[0], rtol=1e-6)  # fmt: skip


def test_device_cost_rows_no_label_selects_are_not_checked():
    """As on the CPU: a bad entry in a row no label selects raises nothing."""
    rng = np.random.default_rng(1)
    scores = grid(rng, (5, 3), np.float32)
    labels = np.array([0, 1, 1, 0, 1])
    cost = 1 - np.eye(3)
    cost[2, 0], cost[2, 2] = np.nan, 5.0
    expected = fh.structured_hinge(scores, labels, cost)
    result = fh.structured_hinge(dev(scores), dev(labels), dev(cost))
    assert host(result[0]) == expected[0]
    np.testing.assert_array_equal(host(result[1]), expected[1])
    labels[3] = 2
    with pytest.raises(ValueError, match=r"cost must be finite and >= 0, got cost\[2, 0\] = nan"):
        fh.structured_hinge(dev(scores), dev(labels), dev(cost))


def test_gpu_check_script_runs(capsys):
    functions = "crammer_singer,perceptron"
    assert gpu_check.main(["--quick", "--repeat", "1", "--functions", functions]) == 0
    printed = capsys.readouterr().out
    assert "D2D copy" in printed and "crammer_singer" in printed and "FAIL" not in printed


KINK_ROWS = np.array([[1.0, 0.0, 0.0], [2.0, 1.0, 0.0], [0.0, 1.0, 1.0], [np.inf, np.inf, 0.0],
                      [0.5, 0.5, -0.5]])  # fmt: skip
KINK_LABELS = np.array([0, 0, 0, 0, 1])


@pytest.mark.filterwarnings("ignore:.*invalid value:RuntimeWarning")  # NumPy scalars: inf - inf
@pytest.mark.parametrize("kink", ["full", "half"])
def test_kinks_ties_and_infinities(kink, layout):
    """Rows exactly at the kink (z = 0), tied maxima and inf − inf, every max-type loss."""
    s, y = KINK_ROWS, KINK_LABELS
    compare(fh.crammer_singer, s, y, dtype=np.float64, kink=kink, ties="split", reduction="none")
    compare(fh.structured_hinge, s, y, 1 - np.eye(3), dtype=np.float64, rescaling="slack",
            kink=kink, ties="split", reduction="none")  # fmt: skip
    compare(fh.topk_hinge, s, y, 1, dtype=np.float64, kink=kink, reduction="none")
    compare(fh.categorical_hinge, s, np.eye(3)[y], dtype=np.float64, kink=kink, ties="split",
            reduction="none")  # fmt: skip


@pytest.mark.parametrize("n_classes", [2, 40])
@pytest.mark.parametrize("rescaling", ["margin", "slack"])
def test_structured_hinge_shapes(n_classes, rescaling, rng, layout):
    scores = grid(rng, (4, n_classes), np.float64, nan_at=(1, n_classes - 1))
    labels = rng.integers(0, n_classes, 4)
    cost = (1 - np.eye(n_classes)) * rng.integers(1, 3, size=(n_classes, n_classes))
    compare(fh.structured_hinge, scores, labels, cost, dtype=np.float64, rescaling=rescaling,
            ties="split", kink="full", reduction="none")  # fmt: skip


def test_shape_and_dtype_errors(rng):
    s = dev(grid(rng, (5, 3), np.float32))
    y = dev(np.array([0, 1, 2, 0, 1]))
    out, wrong_out = cuda.device_array((5, 3), np.float32), cuda.device_array((3, 5), np.float32)
    f32 = np.float32
    cases = [
        (ValueError, "scores must be 2-D", fh.weston_watkins, (dev(np.ones(3, f32)), y), {}),
        (ValueError, "at least one class", fh.crammer_singer, (dev(np.ones((5, 0), f32)), y), {}),
        (TypeError, "labels has dtype float64", fh.one_vs_all, (s, dev(np.zeros(5))), {}),
        (ValueError, r"labels must have shape \(5,\)", fh.weston_watkins, (s, y[:4]), {}),
        (TypeError, "out must be a device array", fh.weston_watkins, (s, y),
         {"out": np.zeros((5, 3), f32)}),
        (ValueError, r"out must have shape \(5, 3\)", fh.crammer_singer, (s, y),
         {"out": wrong_out}),
        (ValueError, "out was given with return_grad=False", fh.crammer_singer, (s, y),
         {"out": out, "return_grad": False}),
        (ValueError, "compact=True is not available", fh.crammer_singer, (s, y), {"compact": True}),
        (ValueError, "ignore_index must not be a class label", fh.binary_hinge,
         (dev(np.ones(5, f32)), dev(np.ones(5))), {"ignore_index": 1}),
        (TypeError, "targets has dtype float64", fh.multilabel_margin, (s, dev(np.zeros((5, 3)))),
         {}),
        (ValueError, r"k must be in \[1, 2\]", fh.topk_hinge, (s, y, 3), {}),
        (ValueError, "p must be 1 or 2", fh.weston_watkins, (s, y), {"p": 3}),
    ]  # fmt: skip
    for error, match, fn, args, kwargs in cases:
        with pytest.raises(error, match=match):
            fn(*args, **kwargs)


def test_concurrent_calls_leave_the_warning_filters_as_they_were(rng):
    """Launches silence numba-cuda's low-occupancy warning for their own small grids only:
    calls from several threads at once must not leave that filter installed (a
    ``catch_warnings`` per launch, interleaved between threads, would), and must all
    succeed (the simulator runs one kernel at a time: without the launch lock, three of
    the four threads failed with "concurrent simulated kernel not supported")."""
    import threading
    import warnings

    scores = dev(grid(rng, (5, 3), np.float32))
    labels = dev(rng.integers(0, 3, 5))
    before = list(warnings.filters)
    errors = []

    def work():
        try:
            for _ in range(6):
                fh.crammer_singer(scores, labels)
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert list(warnings.filters) == before
