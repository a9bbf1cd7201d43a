"""``fasthinge.warmup``: what it compiles, in this process or in warm-up processes."""

import json
import os
import subprocess
import sys

import numba
import pytest

import fasthinge as fh
from fasthinge import _threading, _warmup

# In a fresh process with an empty cache: warm two families in two processes, then call
# them as a training loop would and record what Numba still compiles.
SCRIPT = """
import json, sys
import numpy as np
from numba.core import event
import fasthinge as fh

fh.warmup(("float64",), functions=("crammer_singer", "perceptron"), processes=2)
dispatchers = [obj for name, module in list(sys.modules.items()) if name.startswith("fasthinge.")
               for obj in vars(module).values() if hasattr(obj, "stats")]
misses = sum(sum(d.stats.cache_misses.values()) for d in dispatchers)  # compiled here
hits = sum(sum(d.stats.cache_hits.values()) for d in dispatchers)
rng = np.random.default_rng(0)
calls = []
for n, c in ((8, 5), (5000, 5), (20_000, 5), (40_000, 5), (200, 300)):  # (see warm_family)
    s, y = rng.standard_normal((n, c)), rng.integers(0, c, n)
    calls += [(fh.crammer_singer, s, y, {}), (fh.crammer_singer, s, y, {"return_grad": False}),
              (fh.crammer_singer, s, y, {"out": fh.empty_gradient(s)})]
for n in (8, 20_000, 100_000):
    f, t = rng.standard_normal(n), np.where(rng.random(n) < 0.5, 1, -1)
    calls += [(fh.perceptron, f, t, {}), (fh.perceptron, f, t, {"return_grad": False})]
with event.install_recorder("numba:compile") as after:
    for func, a, b, kw in calls:
        func(a, b, **kw)
names = sorted({str(ev.data.get("dispatcher")) for _, ev in after.buffer if ev.is_start})
print(json.dumps({"after": names, "misses_here": misses, "loaded": hits > 0}))
"""


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="compiles in fresh processes")
def test_warmup_processes_leave_nothing_to_compile(tmp_path):
    """Two warm-up processes fill an empty cache; this process only loads from it, and
    the calls that follow (small, parallel, long rows, loss only, into ``out``) compile
    nothing."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, check=False, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result == {"after": [], "misses_here": 0, "loaded": True}
    assert any(tmp_path.rglob("*.nbi")) and any(tmp_path.rglob("*.nbc"))


#: Public names that are not loss kernels of their own (``linear_hinge`` runs the kernels
#: of the loss it wraps).
NOT_WARMED = {"__version__", "empty_gradient", "linear_hinge", "release_buffers", "warmup"}
#: The binary driver's modes that ``warm_family("binary")`` calls (the other two share it).
BINARY_CALLED = {"binary_hinge", "smooth_hinge", "hinge_embedding"}


def test_warm_family_calls_each_function_of_its_family(monkeypatch):
    """Every public loss is in one family, whose warm-up calls it with and without the
    gradient (``compact_matmul``: after a compact gradient), small and (``parallel``)
    above the parallel threshold."""
    assert set(_warmup.FAMILY_OF) == set(fh.__all__) - NOT_WARMED
    seen = []

    def recorder(name):
        def record(scores, *args, **kwargs):
            seen.append((name, scores.dtype.name, scores.size, kwargs.get("return_grad", True)))
            return 0.0, (None, None)  # (what compact_matmul's warm-up unpacks)

        return record

    for name in _warmup.FAMILY_OF:
        monkeypatch.setattr(fh, name, recorder(name))
    for family in _warmup.FAMILIES:
        seen.clear()
        _warmup.warm_family("float32", family, True)
        members = {n for n, f in _warmup.FAMILY_OF.items() if f == family}
        called = {entry[0] for entry in seen}
        assert called == (members & BINARY_CALLED if family == "binary" else members) | (
            {"crammer_singer"} if family == "compact_matmul" else set()
        )
        for name in called:
            mine = [entry for entry in seen if entry[0] == name]
            assert {entry[1] for entry in mine} == {"float32"}
            if family != "compact_matmul":
                assert {entry[3] for entry in mine} == {True, False}
            sizes = [entry[2] for entry in mine]
            assert min(sizes) <= 16 and max(sizes) >= _threading.PARALLEL_MIN_ELEMENTS


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"processes": 0}, ValueError, r"processes must be >= 1, got 0"),
        ({"processes": True}, ValueError, r"processes must be >= 1, got True"),
        ({"processes": "2"}, TypeError, r"processes must be an integer, got '2'"),
        ({"functions": "weston_watkins"}, TypeError, r"functions must be a tuple of names"),
        ({"functions": ("weston",)}, ValueError, r"unknown function 'weston'; expected one of"),
        ({"dtypes": ("float16",)}, ValueError, r"dtypes must be float32 or float64, got 'float16'"),
        ({"dtypes": ("floaty",)}, TypeError, r"dtypes must hold NumPy dtypes, got 'floaty'"),
        ({"parallel": "yes"}, TypeError, r"parallel must be True or False, got 'yes'"),
    ],
)
def test_warmup_rejects_bad_arguments_before_compiling(kwargs, error, message):
    with pytest.raises(error, match=message):
        fh.warmup(**kwargs)


def test_a_failing_warmup_process_raises_with_its_error():
    """The warm-up processes' errors reach the caller (here: an unknown family)."""
    with pytest.raises(RuntimeError, match=r"warm-up process failed(.|\n)*KeyError: 'nope'"):
        _warmup._compile_in_process([["float64", "nope", False]])
