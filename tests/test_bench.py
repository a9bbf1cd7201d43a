"""Keep the benchmark code from rotting: the CLI runs, the tables cover every function,
the peers agree with fasthinge, the asv suite's code runs. No timing is asserted."""

import functools
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fasthinge as fh
from fasthinge.bench import baselines, peers, scaling
from fasthinge.bench.__main__ import (
    FUNCTIONS,
    KINDS,
    SIZES,
    SMALL,
    call_kwargs,
    make_inputs,
    workload,
)
from fasthinge.bench.__main__ import main as bench_main

ROOT = Path(__file__).resolve().parents[1]
ASV = ROOT / "asv_benchmarks"
PUBLIC = sorted(name for name in fh.__all__ if callable(getattr(fh, name)))
PEER_LIBRARIES = ("torch", "sklearn", "jax")


def _run(args, **kwargs):
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=ROOT, **kwargs
    )


def _main_table(stdout):
    """The rows of the main table as (function, shape, dtype, pass) plus the header cells."""
    lines = stdout.splitlines()
    start = next(
        i
        for i, line in enumerate(lines)
        if line.split()[:4] == ["function", "shape", "dtype", "pass"]
    )
    rows = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        rows.append(tuple(line.split()[:4]))
    return lines[start], rows


def test_benchmark_table_names_public_functions_and_known_kinds():
    assert set(FUNCTIONS) <= set(PUBLIC)
    assert set(baselines.BASELINES) <= set(FUNCTIONS), "benchmark every NumPy baseline"
    for function in FUNCTIONS:
        kind = workload(function)[0]
        assert kind in KINDS and kind in SMALL
        assert all(kind in shapes for shapes in SIZES.values())
        scores, labels = make_inputs(kind, SMALL[kind], np.float64)
        getattr(fh, function)(scores, labels, **call_kwargs(function, scores, labels))


# linear_hinge takes (X, W, labels), not scores: asv_benchmarks/benchmarks/bench_linear.py
NOT_LOSSES = {"compact_matmul", "linear_hinge", "release_buffers", "empty_gradient", "warmup"}


def test_every_public_loss_is_benchmarked():
    missing = sorted(set(PUBLIC) - set(FUNCTIONS) - NOT_LOSSES)
    assert not missing, f"add to FUNCTIONS (bench/__main__.py and asv common.py): {missing}"


def test_cli_tiny_run_has_a_row_per_function_pass_and_dtype(capsys):
    # in-process, so that the coverage run measures the benchmark code too
    status = bench_main(["--tiny", "--dtype", "both"])
    out, err = capsys.readouterr()
    assert status == 0, out + err
    # the progress display: one plain line per step when stderr is not a terminal
    steps = err.splitlines()
    assert steps[0].startswith("[1/") and steps[-1].endswith("fresh processes")
    assert len(steps) == int(steps[0][3:].split("]")[0])
    header, rows = _main_table(out)
    assert "vs numpy" in header
    for library in PEER_LIBRARIES:
        assert (f"vs {library}" in header) == peers.available(library)
    for function in FUNCTIONS:
        shapes = SIZES["tiny"][workload(function)[0]]
        for dtype in ("float32", "float64"):
            for shape in shapes:
                for pass_ in ("grad->out", "grad", "loss"):
                    shape_text = "x".join(map(str, shape))
                    assert (function, shape_text, dtype, pass_) in rows
    assert len(rows) == sum(3 * 2 * len(SIZES["tiny"][workload(f)[0]]) for f in FUNCTIONS)
    # every 'grad' row of a function with a NumPy baseline has a ratio, not '-'
    numpy_end = header.index("vs numpy") + len("vs numpy")
    for line in out.splitlines():
        cells = line.split()
        if len(cells) > 3 and cells[0] in baselines.BASELINES and cells[3] == "grad":
            assert re.fullmatch(r"[0-9.e+]+x", line[:numpy_end].split()[-1]), line
    small = out.split("small calls")[1]
    for function in FUNCTIONS:
        assert function in small
    assert "import fasthinge, fresh process:" in out
    # the smoke preset times the first function's first result (STARTUP)
    first = next(iter(FUNCTIONS))
    assert re.search(rf"first result, fresh process \(Numba cache warm\): {first} [0-9.]+ m?s$",
                     out, re.MULTILINE)  # fmt: skip
    assert re.search(r"warm: the median of [0-9]+ process(es)?, cold: one\)", out)
    assert re.search(r"Numba's own floor, fresh process: [0-9.]+ m?s ", out)
    # where scipy is installed, the same two again as in fasthinge's own install
    has_scipy = importlib.util.find_spec("scipy") is not None
    assert ("scipy hidden as in fasthinge's own install):" in out) == has_scipy
    assert bool(re.search(r"the same with scipy hidden: [0-9.]+ m?s ", out)) == has_scipy
    assert "machine :" in out and "numba" in out
    assert "PEER PROBLEMS" not in out


def test_cli_rejects_bad_threads():
    done = _run(["-m", "fasthinge.bench", "--tiny", "--threads", "0"], timeout=120)
    assert done.returncode == 2
    assert "--threads" in done.stderr


def test_importing_the_bench_modules_imports_no_peer_library():
    code = (
        "import sys, fasthinge.bench, fasthinge.bench.peers, fasthinge.bench.__main__\n"
        "loaded = {'torch', 'jax', 'sklearn', 'numba'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
        "assert fasthinge.bench.peers.PEERS"
    )
    done = _run(["-c", code], timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("peer", peers.PEERS, ids=[p.name for p in peers.PEERS])
def test_peer_agrees_with_fasthinge(peer, dtype):
    if not peer.available():
        pytest.skip(f"{peer.library} is not installed")
    kind = workload(peer.function)[0]
    scores, labels = make_inputs(kind, (57, 7) if kind == "multiclass" else (131,), dtype, seed=3)
    prepared = peer.prepare(scores, labels)
    assert prepared is not None
    theirs = prepared.result(prepared.run())
    func = functools.partial(
        getattr(fh, peer.function), **call_kwargs(peer.function, scores, labels)
    )
    if peer.mode == peers.LOSS_GRAD:
        ours = func(scores, labels)
        assert theirs[1] is not None and theirs[1].shape == scores.shape
    else:
        ours = (func(scores, labels, return_grad=False), None)
    assert peers.compare(ours, theirs, dtype) is None
    assert 0 < ours[0]  # random scores: some rows violate the margin


def test_compare_reports_differences():
    g = np.array([[0.5, -0.5]])
    assert peers.compare((1.0, g), (1.0, g.copy()), np.float64) is None
    assert "loss" in peers.compare((1.0, g), (1.1, g), np.float64)
    assert "gradient" in peers.compare((1.0, g), (1.0, -g), np.float64)
    assert peers.compare((1.0, None), (1.0 + 1e-7, g), np.float32) is None


def test_peer_table_and_versions():
    names = [p.name for p in peers.PEERS]
    assert len(names) == len(set(names))
    assert {p.library for p in peers.PEERS} <= set(peers.LIBRARIES)
    assert {p.function for p in peers.PEERS} <= set(FUNCTIONS)
    for function in baselines.BASELINES:  # the NumPy baseline comes first
        assert next(p.library for p in peers.peers_for(function, peers.LOSS_GRAD)) == "numpy"
    versions = peers.versions()
    assert versions["numpy"] == np.__version__
    for library in PEER_LIBRARIES:
        assert (versions[library] is not None) == peers.available(library)


_ASV_SMOKE = """
import inspect, sys
sys.path.insert(0, {root!r})
from benchmarks import bench_compile, bench_linear, bench_losses, bench_peers, common
from fasthinge.bench.__main__ import FUNCTIONS, workload
cli = {{f: workload(f)[0] for f in FUNCTIONS}}
asv = {{f: common.workload(f)[0] for f in common.FUNCTIONS}}
assert cli == asv, ("the asv and CLI tables differ", cli, asv)
for case in common.CASES:
    function, shape = common.parse_case(case)
    assert getattr(__import__("fasthinge"), function)
for function in common.FUNCTIONS:
    for warm in (False, True):
        statement, setup = bench_compile.first_call_code(function, "serial", warm)
        compile(statement, "statement", "exec"); compile(setup, "setup", "exec")
        assert chr(92) not in setup and '\"\"\"' not in setup
ran = skipped = 0
for module in (bench_losses, bench_peers, bench_linear):
    for _, cls in inspect.getmembers(module, inspect.isclass):
        if cls.__module__ != module.__name__:
            continue
        methods = [m for m in vars(cls) if m.startswith(("time_", "peakmem_"))]
        grid = [()]
        for values in cls.params:
            grid = [g + (v,) for g in grid for v in values]
        for params in grid:
            bench = cls()
            try:
                bench.setup(*params)
            except NotImplementedError:
                skipped += 1
                continue
            for method in methods:
                getattr(bench, method)(*params)
                ran += 1
print(ran, skipped)
"""


def test_asv_suite_runs_on_the_quick_grid():
    env = {**os.environ, "FASTHINGE_ASV_QUICK": "1"}
    done = _run(["-c", _ASV_SMOKE.format(root=str(ASV))], timeout=600, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    ran, skipped = map(int, done.stdout.split()[-2:])
    assert skipped > 0  # jax, sklearn without a WW peer, serial cases with more threads
    assert ran > 20


def test_scaling_run_times_every_series_at_every_size_and_draws_the_plot(tmp_path, capsys):
    path = tmp_path / "scaling.png"
    status = scaling.main(["--max-elements", "3000", "--repeat", "1", "--plot", str(path)])
    out, _ = capsys.readouterr()
    assert status == 0
    assert scaling.sizes(3000) == [1000, 3000]
    lines = out.splitlines()
    assert lines[1].split() == ["elements", "1e3", "3e3"]
    for label in scaling.SERIES:
        times = next(line for line in lines if line.strip().startswith(label + "  "))
        assert [float(t) > 0 for t in times.strip()[len(label) :].split()] == [True, True], times
        fit = [line for line in lines if line.strip().startswith(label + "  a = ")]
        assert len(fit) == 1 and "slope nan" in fit[0]  # no size reaches 10^5
    assert path.stat().st_size > 10_000 and path.read_bytes()[:4] == b"\x89PNG"


def test_scaling_fits_recover_a_known_line():
    n = np.array([1e3, 3e3, 1e5, 1e6, 1e8])
    a, b, worst = scaling.fit_linear(n, 4e-6 + 0.5e-9 * n)
    assert abs(a - 4e-6) < 1e-12 and abs(b - 0.5e-9) < 1e-18 and worst < 1e-9
    assert abs(scaling.log_slope(n, 0.5e-9 * n**1.1) - 1.1) < 1e-9
    assert scaling.sizes(10**8)[-2:] == [3 * 10**7, 10**8]
