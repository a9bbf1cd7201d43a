"""Compile every GPU kernel to PTX without a GPU (NVVM only), through the real call path.

Each public function is called with NumPy arrays standing in for device arrays; the
launches are intercepted and each kernel is compiled for the argument types it would
get (``cuda.compile_ptx``, compute capability 9.0 by default). This checks typing and
lowering, which the simulator does not: it runs kernels as Python.

    python scripts/gpu_compile_check.py [--cc 9.0] [--registers]

Needs libnvvm (the CUDA toolkit's, or the ``nvidia-cuda-nvcc`` wheels'); no driver.
``--registers`` also assembles each kernel with ``ptxas -v`` (from a CUDA toolkit) and
prints its registers a thread, spills and static shared memory: with 256 threads a
block, 64 registers allow 4 blocks on a multiprocessor (half its 2048 threads), 72 only
3, 96 only 2. The GPU kernels are latency-bound (docs/performance.md), so this is the
first number to look at after a change.
"""

from __future__ import annotations

import argparse
import inspect
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ml_dtypes
import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fasthinge as fh
from fasthinge._cuda import _runtime as rt
from fasthinge._cuda import api

COMPILED: dict = {}
PTX: dict = {}
BFLOAT16 = ml_dtypes.bfloat16


class HostDevice(rt.Device):
    """A "device" whose arrays are NumPy arrays (nothing runs)."""

    def empty(self, shape, dtype):
        """Zeros standing in for a device allocation (float64: "no invalid label")."""
        if dtype == rt.BFLOAT16:
            array = np.zeros(shape, BFLOAT16)
            return array, array.view(np.int16)
        array = np.full(shape, 2.0**62 if np.dtype(dtype) == np.float64 else 0, dtype)
        return array, array


def fake_launch(self, kernel, blocks, *args):
    """Compile ``kernel`` for the types of ``args`` instead of launching it."""
    types = tuple(numba.typeof(a) for a in args)
    module = kernel.py_func.__module__.rpartition(".")[2]  # _kernels or _tiles: same names
    key = (f"{module}.{kernel.py_func.__name__}", types)
    if key not in COMPILED:
        start = time.perf_counter()
        PTX[key], _ = rt.cuda.compile_ptx(kernel.py_func, types, cc=CC)
        COMPILED[key] = time.perf_counter() - start
    name = kernel.py_func.__name__
    if name == "label_stats":  # pretend every label is valid
        args[-1][:, 0] = args[0].shape[0]
        args[-1][:, 1] = args[0].shape[0]
        args[-1][:, 2] = 1.0
    if name == "first_bad_entry":  # every entry valid
        args[-1][:] = args[0].size


def patch() -> None:
    """Make NumPy arrays pass for device arrays and launches compile only."""
    rt.is_device_array = lambda a: isinstance(a, np.ndarray)
    rt.view = lambda a: a.view(np.int16) if rt.is_bfloat16(a) else a
    rt.device_of = lambda a: HostDevice("numba", None, 0, None)
    rt.placeholder = lambda ndim, dtype: np.empty((0,) * ndim, np.dtype(dtype))
    rt.to_host = lambda a, stream: np.asarray(a)
    rt.require = lambda: None
    api.Ctx.launch = fake_launch
    # device functions compile for "the current device": there is none here
    from types import SimpleNamespace

    import numba.cuda.dispatcher as dispatcher

    dispatcher.get_current_device = lambda: SimpleNamespace(compute_capability=CC)


def on_gpu(fn, args, kwargs):
    """Call public ``fn`` the way its device branch does: ``api.call(name, locals())``."""
    bound = inspect.signature(fn).bind(*args, **kwargs)
    bound.apply_defaults()
    return api.call(fn.__name__, dict(bound.arguments))


def calls(dtype):
    """``(function, args, kwargs)`` covering every kernel and its argument types."""
    rng = np.random.default_rng(0)
    s = rng.normal(size=(6, 4)).astype(dtype)
    y = rng.integers(0, 4, 6)
    weights = np.float32 if dtype == BFLOAT16 else dtype  # only scores may be bfloat16
    w = rng.random(6).astype(weights)
    cw = rng.random(4).astype(weights)
    f = s[:, 0].copy()
    t = np.where(f > 0, 1, -1)
    yield fh.weston_watkins, (s, y), dict(class_weight=cw, sample_weight=w, reduction="none")
    yield fh.weston_watkins, (s, y), dict(return_grad=False)
    yield fh.crammer_singer, (s, y), dict(class_weight=cw, sample_weight=w)
    yield fh.crammer_singer, (s, y.astype(np.int32)), dict(reduction="none", return_grad=False)
    yield fh.one_vs_all, (s, y), dict(reduction="per_class", sample_weight=w)
    yield fh.structured_hinge, (s, y, 1 - np.eye(4, dtype=weights)), {}
    yield fh.topk_hinge, (s, y, 2), dict(sample_weight=w, class_weight=cw)
    yield fh.categorical_hinge, (s, np.eye(4, dtype=weights)[y]), dict(sample_weight=w)
    yield fh.multilabel_margin, (s, np.full((6, 4), -1)), dict(sample_weight=w)
    for fn in (fh.binary_hinge, fh.perceptron, fh.smooth_hinge, fh.modified_huber,
               fh.hinge_embedding):  # fmt: skip
        yield fn, (f, t), dict(sample_weight=w, reduction="none")
        yield fn, (f, t.astype(np.float32)), dict(return_grad=False)


def registers(ptx: str) -> str:
    """``ptxas -v``'s registers, spill stores and shared memory of one kernel's PTX."""
    with tempfile.NamedTemporaryFile("w", suffix=".ptx") as source:
        source.write(ptx)
        source.flush()
        arch = f"-arch=sm_{CC[0]}{CC[1]}"
        report = subprocess.run(["ptxas", arch, "-v", source.name, "-o", os.devnull],
                                capture_output=True, text=True, check=True).stderr  # fmt: skip
    found = {key: re.search(pattern, report) for key, pattern in
             (("regs", r"Used (\d+) registers"), ("spill", r"(\d+) bytes spill stores"),
              ("smem", r"(\d+) bytes smem"))}  # fmt: skip
    regs, spill, smem = (int(m.group(1)) if m else 0 for m in found.values())
    return f"{regs:3d} regs {spill:4d} B spilled {smem:6d} B smem  "


def main() -> int:
    """Compile everything and print one line per kernel signature."""
    global CC
    parser = argparse.ArgumentParser()
    parser.add_argument("--cc", default="9.0")
    parser.add_argument("--registers", action="store_true", help="ptxas -v of every kernel")
    options = parser.parse_args()
    CC = tuple(int(x) for x in options.cc.split("."))
    patch()
    from fasthinge._cuda import _kernels, _tiles

    tiled = (fh.weston_watkins, fh.crammer_singer, fh.one_vs_all, fh.structured_hinge,
             fh.topk_hinge, fh.categorical_hinge, fh.multilabel_margin)  # fmt: skip
    for dtype in (np.float16, np.float32, np.float64, BFLOAT16):
        for fn, args, kwargs in calls(dtype):
            on_gpu(fn, args, kwargs)  # 4 classes: tiles where a function has them
        _tiles.MAX_CLASSES, saved = 0, _tiles.MAX_CLASSES  # and their row groups
        for fn, args, kwargs in calls(dtype):
            if fn in tiled:
                on_gpu(fn, args, kwargs)
        _tiles.MAX_CLASSES = saved

    rt.cuda.compile_ptx(_kernels.read_pass.py_func, (numba.float32[::1], numba.float64[::1]),
                        cc=CC)  # fmt: skip
    COMPILED["_kernels.read_pass", ()] = 0.0
    for (name, types), seconds in sorted(COMPILED.items(), key=lambda kv: kv[0][0]):
        usage = registers(PTX[name, types]) if options.registers and (name, types) in PTX else ""
        print(f"{seconds:6.2f} s  {usage}{name}{types}")
    print(f"{len(COMPILED)} kernel signatures compiled to PTX for sm_{CC[0]}{CC[1]}")
    return 0


CC = (9, 0)

if __name__ == "__main__":
    raise SystemExit(main())
