"""Determinism for any thread count, and safety under concurrent Python threads."""

import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import fasthinge as fh
from fasthinge import _threading

N, C = 2000, 17  # 34 000 elements, above the serial threshold: the parallel driver runs


def _calls(rng=None, dtype=np.float32):
    """``(function, scores, labels, kwargs)`` for every public loss, parallel-sized."""
    from fasthinge.bench.__main__ import FUNCTIONS, call_kwargs, make_inputs, workload

    calls = []
    for i, name in enumerate(FUNCTIONS):
        kind = workload(name)[0]
        shape = (N * C,) if kind == "binary" else (N, C)
        s, y = make_inputs(kind, shape, dtype, seed=i)
        calls.append((getattr(fh, name), s, y, call_kwargs(name, s, y)))
    return calls


def test_inputs_are_large_enough_for_the_parallel_driver():
    assert N * C >= _threading.PARALLEL_MIN_ELEMENTS
    # linear_hinge takes (X, W, labels); its thread-count invariance is in test_linear.py
    not_losses = {
        "compact_matmul",
        "linear_hinge",
        "release_buffers",
        "empty_gradient",
        "warmup",
        "__version__",
    }
    assert len(_calls()) == len(set(fh.__all__) - not_losses)


def _same(a, b):
    """Bit-identical ``(loss, grad)`` results."""
    assert a[0].tobytes() == b[0].tobytes()
    assert a[1].tobytes() == b[1].tobytes()


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bit_identical_for_any_thread_count(reduction, dtype):
    for func, s, y, kw in _calls(dtype=dtype):
        results = [func(s, y, reduction=reduction, n_threads=k, **kw) for k in (1, 2, 1, 2)]
        for result in results[1:]:
            _same(result, results[0])


def test_parallel_driver_equals_serial_driver(monkeypatch):
    """The same fixed chunks whichever driver runs (the serial one below the threshold)."""
    calls = _calls(dtype=np.float64)
    serial = [func(s, y, n_threads=1, **kw) for func, s, y, kw in calls]
    monkeypatch.setattr(_threading, "PARALLEL_MIN_ELEMENTS", 0)
    for (func, s, y, kw), expected in zip(calls, serial, strict=True):
        _same(func(s, y, n_threads=2, **kw), expected)
        small = func(s[:3], y[:3], reduction="none", n_threads=2, **kw)  # fewer chunks than threads
        _same(small, func(s[:3], y[:3], reduction="none", n_threads=1, **kw))


def test_n_threads_restores_the_callers_setting():
    import numba

    before = numba.get_num_threads()
    func, s, y, kw = _calls()[0]
    func(s, y, n_threads=1, **kw)
    func(s, y, n_threads=min(2, _threading.max_threads()), **kw)
    assert numba.get_num_threads() == before


def test_eight_python_threads_at_once():
    calls = _calls() * 8
    serial = [func(s, y, n_threads=1, **kw) for func, s, y, kw in calls]
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(func, s, y, **kw) for func, s, y, kw in calls]
        concurrent = [f.result() for f in futures]
    for expected, result in zip(serial, concurrent, strict=True):
        _same(result, expected)


SCRIPT = textwrap.dedent("""
    import sys, numba
    sys.path.insert(0, {tests!r})
    from concurrent.futures import ThreadPoolExecutor
    from test_threads import _calls
    calls = _calls() * 4
    serial = [func(s, y, n_threads=1, **kw) for func, s, y, kw in calls]
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(func, s, y, **kw) for func, s, y, kw in calls]
        for f, (loss, grad) in zip(futures, serial):
            got = f.result()
            assert got[0].tobytes() == loss.tobytes() and got[1].tobytes() == grad.tobytes()
    print(numba.threading_layer())
""")


@pytest.mark.parametrize("layer", ["workqueue", "omp", "tbb"])
def test_threading_layers_survive_concurrent_calls(layer):
    """Every function from 8 Python threads at once on each layer: no abort, same bits.

    On ``workqueue`` (not thread-safe) concurrent calls fall back to the serial driver.
    """
    import os

    env = {"NUMBA_THREADING_LAYER": layer, "PATH": "/usr/bin:/bin"}
    env.update(
        {k: os.environ[k] for k in ("HOME", "PYTHONPATH", "NUMBA_CACHE_DIR") if k in os.environ}
    )
    script = SCRIPT.format(tests=str(Path(__file__).parent))
    run = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    if layer != "workqueue" and "No threading layer could be loaded" in run.stderr:
        pytest.skip(f"the {layer} threading layer is not installed here")
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == layer


def test_import_compiles_nothing_and_skips_numba():
    code = "import sys, fasthinge; print('numba' in sys.modules, 'numba.cuda' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def _child_loss(args):
    s, y = args
    return float(fh.crammer_singer(s, y, n_threads=1, return_grad=False))


# JAX (in the test extra) warns on any fork once its backend started in this process
# (tests/test_bench.py, tests/test_jax.py); the child here runs no JAX code.
@pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")
def test_after_fork_the_serial_path_works(rng):
    """After the parent ran parallel regions, a forked child computes with n_threads=1.

    GNU OpenMP is not fork-safe: a forked child must not enter a parallel region
    (docs/conventions.md). The serial driver needs no thread pool.
    """
    import multiprocessing

    s = rng.standard_normal((N, C))
    y = rng.integers(0, C, N)
    expected = float(fh.crammer_singer(s, y, return_grad=False))  # parallel in the parent
    with multiprocessing.get_context("fork").Pool(1) as pool:
        got = pool.apply_async(_child_loss, ((s, y),)).get(timeout=120)
    assert got == expected


def test_n_threads_1_opens_no_parallel_region(monkeypatch, rng):
    """``n_threads=1``: the label checks run on one thread too, as the kernels do."""
    regions = []
    run_parallel = _threading._run_parallel

    def recorded(parallel, args, n_threads):
        regions.append(parallel)
        return run_parallel(parallel, args, n_threads)

    monkeypatch.setattr(_threading, "_run_parallel", recorded)
    n = 4 * 2**14  # more labels than a short vector: the parallel-sized check
    long_labels = (fh.weston_watkins, rng.standard_normal((n, 2)), rng.integers(0, 2, n), {})
    for func, s, y, kw in [*_calls(), long_labels]:
        func(s, y, n_threads=1, **kw)
    assert regions == []
    long_labels[0](*long_labels[1:3])  # n_threads=None: Numba's setting
    assert len(regions) == 2  # the label check, the kernel
