"""Determinism for any thread count, and safety under concurrent Python threads."""

import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import fasthinge as fh
from fasthinge import _threading

N, C = 6000, 17  # above the serial threshold: the parallel driver runs


def _calls(rng):
    s = rng.standard_normal((N, C)).astype(np.float32)
    y = rng.integers(0, C, N)
    f = rng.standard_normal(N * C)
    t = rng.choice([-1, 1], N * C)
    return [(fh.weston_watkins, s, y), (fh.crammer_singer, s, y), (fh.binary_hinge, f, t)]


def test_inputs_are_large_enough_for_the_parallel_driver():
    assert N * C >= _threading.PARALLEL_MIN_ELEMENTS


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bit_identical_for_any_thread_count(rng, reduction):
    for func, s, y in _calls(rng):
        results = [func(s, y, reduction=reduction, n_threads=k) for k in (1, 2, 1, 2)]
        for loss, grad in results[1:]:
            assert loss.tobytes() == results[0][0].tobytes()
            np.testing.assert_array_equal(grad, results[0][1])


def test_n_threads_restores_the_callers_setting(rng):
    import numba

    before = numba.get_num_threads()
    func, s, y = _calls(rng)[0]
    func(s, y, n_threads=1)
    func(s, y, n_threads=min(2, _threading.max_threads()))
    assert numba.get_num_threads() == before


def test_eight_python_threads_at_once(rng):
    calls = _calls(rng) * 8
    serial = [func(s, y, n_threads=1) for func, s, y in calls]
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(func, s, y) for func, s, y in calls]
        concurrent = [f.result() for f in futures]
    for (l1, g1), (l2, g2) in zip(serial, concurrent, strict=False):
        assert l1.tobytes() == l2.tobytes()
        np.testing.assert_array_equal(g1, g2)


SCRIPT = textwrap.dedent("""
    import numpy as np, numba, fasthinge as fh
    from concurrent.futures import ThreadPoolExecutor
    rng = np.random.default_rng(0)
    s = rng.standard_normal((6000, 17)); y = rng.integers(0, 17, 6000)
    ref = fh.crammer_singer(s, y, n_threads=1)[0]
    with ThreadPoolExecutor(8) as pool:
        out = list(pool.map(lambda _: fh.crammer_singer(s, y)[0], range(64)))
    assert all(o == ref for o in out), out
    print(numba.threading_layer())
""")


@pytest.mark.parametrize("layer", ["workqueue", "omp"])
def test_threading_layers_survive_concurrent_calls(layer, tmp_path):
    env = {"NUMBA_THREADING_LAYER": layer, "PATH": "/usr/bin:/bin"}
    import os

    env.update(
        {k: os.environ[k] for k in ("HOME", "PYTHONPATH", "NUMBA_CACHE_DIR") if k in os.environ}
    )
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    if layer != "workqueue" and "No threading layer could be loaded" in run.stderr:
        pytest.skip(f"threading layer {layer} is not installed here")
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == layer


def test_import_compiles_nothing_and_skips_numba():
    code = "import sys, fasthinge; print('numba' in sys.modules, 'numba.cuda' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def _child_loss(args):
    s, y = args
    return float(fh.crammer_singer(s, y, n_threads=1, return_grad=False))


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
