"""fasthinge.dask on a real dask.distributed LocalCluster (2 worker processes) = one machine."""

import os

import numpy as np
import pytest

import fasthinge as fh

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
fhd = pytest.importorskip("fasthinge.dask")

N, C, CHUNK = 250, 6, 70  # uneven chunks: 70, 70, 70, 40


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """Two worker processes, one thread each, each with its own Numba cache directory."""
    cache = tmp_path_factory.mktemp("numba-workers")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster, distributed.Client(cluster) as client:  # fmt: skip
        client.register_plugin(fhd.numba_cache_plugin(cache))
        yield client


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    return dict(
        scores=rng.standard_normal((N, C)),
        labels=rng.integers(0, C, N),
        weights=rng.random(N),
        f=rng.standard_normal(N).astype(np.float32),
        t=rng.choice([-1.0, 1.0], N),
        targets=np.where(np.arange(C) < 2, rng.integers(0, C, (N, 1)), -1),
    )


def _cases(d):
    s32 = d["scores"].astype(np.float32)
    return [
        ("crammer_singer", d["scores"], d["labels"], dict(ignore_index=2)),
        ("crammer_singer", s32, d["labels"], dict(sample_weight=d["weights"], p=2)),
        ("weston_watkins", d["scores"], d["labels"],
         dict(reduction="sum", class_weight=np.arange(1.0, C + 1))),
        ("weston_watkins", s32, d["labels"], dict(reduction="sum_over_batch_size")),
        ("binary_hinge", d["f"], d["t"], dict(reduction="none", sample_weight=d["weights"])),
        ("binary_hinge", d["f"], d["t"], {}),
        ("multilabel_margin", d["scores"], d["targets"], {}),
    ]  # fmt: skip


def _check_equal(cases):
    for name, scores, labels, kwargs in cases:
        loss, grad = getattr(fh, name)(scores, labels, **kwargs)
        lazy = fhd.loss_and_grad(da.from_array(scores, chunks=CHUNK), labels, name, **kwargs)
        d_loss, d_grad = dask.compute(*lazy)
        if "sample_weight" in kwargs and kwargs.get("reduction", "mean") == "mean":
            # Σw is added by chunks, not in one pass: the scale may differ in its last bit
            rtol = 1e-15 if scores.dtype == np.float64 else 1e-6
            np.testing.assert_allclose(d_grad, grad, rtol=rtol, err_msg=name)
        else:
            np.testing.assert_array_equal(d_grad, grad, err_msg=name)  # same kernel and scale
        assert d_loss.dtype == scores.dtype
        if kwargs.get("reduction") == "none":
            np.testing.assert_array_equal(d_loss, loss)
        else:  # the same float64 row values, added as a tree over chunks instead of in one
            # pass: float64 may differ in its last bits, hence the float32 rounding by an ulp
            # (two under NUMBA_DISABLE_JIT, whose Python-run kernels add the rows otherwise)
            ulp = 2 * np.spacing(np.abs(loss)) if scores.dtype == np.float32 else 0
            np.testing.assert_allclose(d_loss, loss, rtol=1e-15, atol=ulp, err_msg=name)


def test_loss_and_grad_on_the_cluster_equals_one_machine(client, data):
    """One kernel: each worker compiles it into its own cache (cold in CI: seconds each)."""
    _check_equal(_cases(data)[:1])


def test_every_reduction_and_loss_equals_one_machine(data):
    """The same graphs on the threads scheduler (the cluster adds only transport)."""
    with dask.config.set(scheduler="threads"):
        _check_equal(_cases(data))


def test_labels_and_weights_as_dask_arrays_with_other_chunks(client, data):
    s, y, w = data["scores"], data["labels"], data["weights"]
    lazy = fhd.loss_and_grad(da.from_array(s, chunks=(CHUNK, 2)), da.from_array(y, chunks=100),
                             sample_weight=da.from_array(w, chunks=33))  # fmt: skip
    d_loss, d_grad = dask.compute(*lazy)
    loss, grad = fh.crammer_singer(s, y, sample_weight=w)
    np.testing.assert_allclose(d_loss, loss, rtol=1e-15)
    # Σw over the batch is added in another order, so the scale may differ by an ulp
    np.testing.assert_allclose(d_grad, grad, rtol=1e-15)


def test_workers_use_their_own_numba_caches(client, data):
    dask.compute(*fhd.loss_and_grad(da.from_array(data["scores"], chunks=CHUNK), data["labels"]))
    caches = client.run(lambda: os.environ.get("NUMBA_CACHE_DIR"))
    assert len(set(caches.values())) == 2
    if os.environ.get("NUMBA_DISABLE_JIT") == "1":
        return  # nothing is compiled, so nothing is cached
    for path in caches.values():
        assert any(files for _, _, files in os.walk(path)), f"no Numba cache files in {path}"


def test_linear_gradient_one_task_per_chunk(client, data):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((N, 4))
    W = rng.standard_normal((4, C))
    y, w = data["labels"], data["weights"]
    S = X @ W
    loss, G = fh.crammer_singer(S, y, sample_weight=w, ignore_index=2)
    with distributed.get_task_stream(client) as stream:
        d_loss, dW = fhd.linear_loss_and_grad(
            da.from_array(X, chunks=CHUNK), W, y, sample_weight=w, ignore_index=2, split_every=2
        )
    chunk_tasks = [t for t in stream.data if "_chunk_linear" in str(t["key"])]
    assert len(chunk_tasks) == 4  # X·W, the kernel and Xᵀ·G: once per chunk, in one compute
    # matmuls by blocks and Xᵀ·G added over chunks (in float64): equal within rounding
    np.testing.assert_allclose(d_loss, loss, rtol=1e-13)
    np.testing.assert_allclose(dW, X.T @ G, rtol=1e-12, atol=1e-15)
    assert dW.dtype == np.float64 and dW.shape == W.shape


def test_linear_binary_float32(data):
    """A binary loss (W of shape (D,)) in float32, on the threads scheduler."""
    rng = np.random.default_rng(3)
    X32, W, t = rng.standard_normal((N, 4)).astype(np.float32), rng.standard_normal(4), data["t"]
    w32 = W.astype(np.float32)
    loss, g = fh.binary_hinge(X32 @ w32, t, reduction="sum")
    with dask.config.set(scheduler="threads"):
        d_loss, dW = fhd.linear_loss_and_grad(da.from_array(X32, chunks=CHUNK), w32, t,
                                              "binary_hinge", reduction="sum")  # fmt: skip
    assert dW.dtype == np.float32 and dW.shape == (4,)
    np.testing.assert_allclose(d_loss, loss, rtol=1e-6)
    np.testing.assert_allclose(dW, X32.T @ g, rtol=1e-5, atol=1e-6)


def test_errors(data):
    s, y = data["scores"], data["labels"]
    ds = da.from_array(s, chunks=CHUNK)
    with pytest.raises(ValueError, match="loss must be one of"):
        fhd.loss_and_grad(ds, y, "nope")
    with pytest.raises(TypeError, match=r"scores must be a dask\.array\.Array, got ndarray"):
        fhd.loss_and_grad(s, y)
    with pytest.raises(ValueError, match=r"labels must have 250 rows .* got shape \(10,\)"):
        fhd.loss_and_grad(ds, y[:10])
    with pytest.raises(ValueError, match="split_every must be an integer >= 2"):
        fhd.loss_and_grad(ds, y, split_every=1)
    with pytest.raises(ValueError, match="reduction='none' has no gradient"):
        fhd.linear_loss_and_grad(ds, np.ones((C, 2)), y, reduction="none")
    with pytest.raises(ValueError, match=r"W must have shape \(6, C\)"):
        fhd.linear_loss_and_grad(ds, np.ones((3, 2)), y)
    with pytest.raises(TypeError, match="return_grad, out and compact are not accepted"):
        fhd.loss_and_grad(ds, y, return_grad=False)
    with pytest.raises(ValueError, match=r"scores must be 1-D or 2-D, got shape \(250, 6, 1\)"):
        fhd.loss_and_grad(ds[:, :, None], y)
    with pytest.raises(ValueError, match="reduction must be one of"):
        fhd.loss_and_grad(ds, y, reduction="per_class")
    with pytest.raises(TypeError, match=r"X must be a 2-D dask\.array\.Array, got ndarray"):
        fhd.linear_loss_and_grad(s, np.ones((C, 2)), y)


def test_mean_edge_cases_match_one_machine(data):
    """Threads scheduler (no cluster needed): all rows ignored, zero weights."""
    s, y = data["scores"], np.full(N, 1)
    with dask.config.set(scheduler="threads"):
        loss, grad = dask.compute(*fhd.loss_and_grad(da.from_array(s, chunks=CHUNK), y,
                                                     ignore_index=1))  # fmt: skip
        assert np.isnan(loss) and not grad.any()
        assert np.isnan(fh.crammer_singer(s, y, ignore_index=1)[0])
        lazy = fhd.loss_and_grad(da.from_array(s, chunks=CHUNK), y, sample_weight=np.zeros(N))
        with pytest.raises(ValueError, match="sample_weight sums to 0"):
            dask.compute(*lazy)
