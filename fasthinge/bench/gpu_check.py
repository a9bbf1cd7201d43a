"""GPU check for issue #5: correctness against the CPU path and PyTorch, timings against a copy.

On a machine with an NVIDIA GPU, numba-cuda and a CUDA build of PyTorch::

    python -m fasthinge.bench.gpu_check                 # the four shapes, float32 and float64
    python -m fasthinge.bench.gpu_check --quick         # one tiny shape (a smoke test)
    NUMBA_ENABLE_CUDASIM=1 FASTHINGE_CUDA_THREADS=32 FASTHINGE_CUDA_MAX_BLOCKS=2 \
        python -m fasthinge.bench.gpu_check --quick --repeat 1      # no GPU

It (a) checks every public function on fresh random device inputs against the
CPU path and, where PyTorch has the loss (or a short expression of it),
against PyTorch on the same device; (b) times every function, loss+gradient
and loss only, against a device-to-device copy of the same bytes (loss only:
a read-only pass over them), and times PyTorch's ``F.multi_margin_loss``
forward+backward and a PyTorch Crammer–Singer expression; (c) prints one
table. "of copy" is copy time / function time: the share of copy bandwidth
reached (issue #5 asks for ≥ 0.80). Timings are wall-clock means after one
warm-up call, with the device synchronised before and after, so they include
launch overheads and the label check's one synchronisation.

Without PyTorch (or with a CPU-only PyTorch) the arrays are Numba device
arrays and the PyTorch comparisons run on the CPU (or are skipped). Under
the simulator the timings mean nothing; the run proves the code paths.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import fasthinge as fh

#: (N, C) of issue #5: the same 4e8 elements each.
SHAPES = [(40_000_000, 10), (4_000_000, 100), (400_000, 1_000), (40_000, 10_000)]
QUICK_SHAPES = [(8, 10)]
MULTICLASS = ("weston_watkins", "crammer_singer", "one_vs_all", "structured_hinge", "topk_hinge",
              "categorical_hinge", "multilabel_margin")  # fmt: skip
BINARY = ("binary_hinge", "perceptron", "smooth_hinge", "modified_huber", "hinge_embedding")
TOLERANCE = {"float32": (2e-5, 2e-6), "float64": (1e-11, 1e-12)}


class Backend:
    """Device arrays through PyTorch (CUDA) when available, else Numba device arrays."""

    def __init__(self) -> None:
        from fasthinge._cuda._runtime import SIMULATOR, cuda

        self.cuda = cuda
        self.simulator = SIMULATOR
        self.torch = None
        if importlib.util.find_spec("torch") is not None:
            import torch

            self.torch = torch
        self.torch_cuda = bool(self.torch is not None and not SIMULATOR
                               and self.torch.cuda.is_available())  # fmt: skip
        self.name = "torch (CUDA)" if self.torch_cuda else "numba device arrays"
        if SIMULATOR:
            self.name += ", CUDA simulator"

    def to_device(self, array: np.ndarray) -> Any:
        """A device copy of a host array."""
        if self.torch_cuda:  # pragma: no cover (GPU only)
            return self.torch.from_numpy(np.ascontiguousarray(array)).cuda()
        return self.cuda.to_device(np.ascontiguousarray(array))

    def to_host(self, array: Any) -> np.ndarray:
        """A host copy of a device array (bfloat16 comes back as float32)."""
        if self.torch_cuda:  # pragma: no cover (GPU only)
            if array.dtype == self.torch.bfloat16:
                array = array.float()
            return array.detach().cpu().numpy()
        if array.dtype.name == "bfloat16":  # numba-cuda's copies have no bfloat16: the bits
            return array.view(np.int16).copy_to_host().view(array.dtype).astype(np.float32)
        return array.copy_to_host()

    def to_bfloat16(self, array: np.ndarray) -> Any:
        """A bfloat16 device copy of float32 ``array`` (None without a bfloat16 to use)."""
        if self.torch_cuda:  # pragma: no cover (GPU only)
            return self.torch.from_numpy(np.ascontiguousarray(array)).cuda().bfloat16()
        if importlib.util.find_spec("ml_dtypes") is None:  # pragma: no cover
            return None
        import ml_dtypes

        bits = np.ascontiguousarray(array).astype(ml_dtypes.bfloat16).view(np.int16)
        return self.cuda.to_device(bits).view(ml_dtypes.bfloat16)

    def empty_like(self, array: Any) -> Any:
        """A new device array like ``array``."""
        if self.torch_cuda:  # pragma: no cover (GPU only)
            return self.torch.empty_like(array)
        return self.cuda.device_array(array.shape, array.dtype)

    def copy(self, dst: Any, src: Any) -> None:
        """Device-to-device copy of ``src`` into ``dst``."""
        if self.torch_cuda:  # pragma: no cover (GPU only)
            dst.copy_(src)
        else:
            dst.copy_to_device(src)

    def sync(self) -> None:
        """Wait for the device."""
        if self.torch_cuda:  # pragma: no cover (GPU only)
            self.torch.cuda.synchronize()
        elif not self.simulator:  # pragma: no cover (GPU only)
            self.cuda.synchronize()

    def read_pass(self, array: Any, flag: Any) -> None:
        """A read-only pass over ``array`` (the loss-only roofline)."""
        from fasthinge._cuda._kernels import read_pass
        from fasthinge._cuda._runtime import TPB, blocks_for, view

        flat = view(array).reshape(-1) if self.simulator else view(array).ravel()
        read_pass[blocks_for(flat.shape[0], TPB), TPB](flat, view(flag))


def make_inputs(name: str, n_rows: int, n_classes: int, dtype: str, rng: Any) -> tuple:
    """Host ``(args, kwargs)`` for public function ``name`` (scores first)."""
    if name in BINARY:
        size = n_rows * n_classes
        scores = rng.normal(size=size).astype(dtype)
        labels = np.where(rng.random(size) < 0.5, 1, -1).astype(np.int64)
        return (scores, labels), {}
    scores = rng.normal(size=(n_rows, n_classes)).astype(dtype)
    labels = rng.integers(0, n_classes, n_rows)
    if name == "structured_hinge":
        cost = (1 - np.eye(n_classes)).astype(dtype)
        return (scores, labels, cost), {}
    if name == "topk_hinge":
        return (scores, labels, min(2, max(1, n_classes - 1))), {}
    if name == "categorical_hinge":
        return (scores, np.eye(n_classes, dtype=dtype)[labels]), {}
    if name == "multilabel_margin":
        targets = np.full((n_rows, n_classes), -1)
        targets[:, 0] = labels
        return (scores, targets), {}
    return (scores, labels), {}


def device_inputs(backend: Backend, name: str, n_rows: int, n_classes: int, dtype: str,
                  rng: Any) -> list:  # fmt: skip
    """Device arguments for public function ``name``.

    Drawn on the GPU by PyTorch when it can (fast at 4e8 elements), else drawn
    on the host and copied.
    """
    if not backend.torch_cuda:
        args, _ = make_inputs(name, n_rows, n_classes, dtype, rng)
        return [backend.to_device(a) if isinstance(a, np.ndarray) else a for a in args]
    return _torch_inputs(backend.torch, name, (n_rows, n_classes), dtype)  # pragma: no cover


def _torch_inputs(torch: Any, name: str, shape: tuple, dtype: str) -> list:  # pragma: no cover
    """``device_inputs`` drawn on the GPU by PyTorch (GPU only)."""
    n_rows, n_classes = shape
    kind = getattr(torch, dtype)
    if name in BINARY:
        size = n_rows * n_classes
        scores = torch.randn(size, dtype=kind, device="cuda")
        return [scores, torch.randint(0, 2, (size,), device="cuda") * 2 - 1]
    scores = torch.randn(n_rows, n_classes, dtype=kind, device="cuda")
    labels = torch.randint(0, n_classes, (n_rows,), device="cuda")
    if name == "structured_hinge":
        return [scores, labels, 1 - torch.eye(n_classes, dtype=kind, device="cuda")]
    if name == "topk_hinge":
        return [scores, labels, min(2, max(1, n_classes - 1))]
    if name == "categorical_hinge":
        return [scores, torch.nn.functional.one_hot(labels, n_classes).to(kind)]
    if name == "multilabel_margin":
        targets = torch.full((n_rows, n_classes), -1, device="cuda")
        targets[:, 0] = labels
        return [scores, targets]
    return [scores, labels]


def _as_tuple(result: Any) -> tuple:
    return result if isinstance(result, tuple) else (result,)


def check_cpu(backend: Backend, name: str, shape: tuple, dtype: str, rng: Any) -> str:
    """Loss and gradient on the device vs the CPU path, every reduction: "ok" or a message."""
    fn = getattr(fh, name)
    args, _ = make_inputs(name, *shape, dtype, rng)
    device_args = [backend.to_device(a) if isinstance(a, np.ndarray) else a for a in args]
    rtol, atol = TOLERANCE[dtype]
    for reduction in ("mean", "none"):
        expected = _as_tuple(fn(*args, reduction=reduction))
        got = _as_tuple(fn(*device_args, reduction=reduction))
        for g, e in zip(got, expected, strict=True):
            g = backend.to_host(g)
            if g.shape != np.shape(e) or not np.allclose(g, e, rtol=rtol, atol=atol):
                return f"FAIL ({reduction})"
    return "ok"


def check_bfloat16(backend: Backend, name: str, shape: tuple, rng: Any) -> str:
    """bfloat16 scores on the device vs the CPU path on their float32 values, rounded once.

    The kernels read the bfloat16 bits, compute in float32 and round each output
    to bfloat16: the results must agree with the CPU's float32 results to one
    bfloat16 rounding (8 significant bits).
    """
    fn = getattr(fh, name)
    args, _ = make_inputs(name, *shape, "float32", rng)
    scores = backend.to_bfloat16(args[0])
    if scores is None:  # pragma: no cover (no ml_dtypes)
        return "—"
    values = backend.to_host(scores)  # the bfloat16 values, as float32
    others = [backend.to_device(a) if isinstance(a, np.ndarray) else a for a in args[1:]]
    for reduction in ("mean", "none"):
        expected = _as_tuple(fn(values, *args[1:], reduction=reduction))
        got = _as_tuple(fn(scores, *others, reduction=reduction))
        for g, e in zip(got, expected, strict=True):
            g = backend.to_host(g)
            if g.shape != np.shape(e) or not np.allclose(g, e, rtol=8e-3, atol=8e-3):
                return f"FAIL ({reduction})"
    return "ok"


def _torch_reference(torch: Any, name: str, args: tuple) -> Callable | None:
    """A PyTorch loss (mean) of the host ``args``, or None when PyTorch has none."""
    F = torch.nn.functional
    if name == "weston_watkins":
        return lambda s, y: F.multi_margin_loss(s, y)
    if name == "crammer_singer":
        return lambda s, y: _torch_crammer_singer(torch, s, y)
    if name == "one_vs_all":
        return lambda s, y: (1 - (2 * F.one_hot(y, s.shape[1]) - 1) * s).clamp(min=0).sum(1).mean()
    if name == "categorical_hinge":
        return lambda s, t: (((1 - t) * s).max(1).values - (t * s).sum(1) + 1).clamp(min=0).mean()
    if name == "multilabel_margin":
        return lambda s, t: F.multilabel_margin_loss(s, t)
    if name == "binary_hinge":
        return lambda f, t: (1 - t * f).clamp(min=0).mean()
    if name == "perceptron":
        return lambda f, t: (-t * f).clamp(min=0).mean()
    if name == "hinge_embedding":
        return lambda f, t: F.hinge_embedding_loss(f, t.to(f.dtype))
    return None


def _torch_crammer_singer(torch: Any, s: Any, y: Any) -> Any:
    true = s.gather(1, y[:, None]).squeeze(1)
    best = s.scatter(1, y[:, None], float("-inf")).max(1).values
    return (1 + best - true).clamp(min=0).mean()


def check_torch(backend: Backend, name: str, shape: tuple, dtype: str, rng: Any) -> str:
    """Loss and gradient ("mean") vs PyTorch on the same device: "ok", "—" or a message."""
    torch = backend.torch
    if torch is None:
        return "—"
    args, _ = make_inputs(name, *shape, dtype, rng)
    reference = _torch_reference(torch, name, args)
    if reference is None:
        return "—"
    device = "cuda" if backend.torch_cuda else "cpu"
    s = torch.from_numpy(args[0]).to(device).requires_grad_(True)
    other = torch.from_numpy(args[1]).to(device)
    if name in BINARY:
        other = other.to(s.dtype)
    loss = reference(s, other)
    loss.backward()
    device_args = [backend.to_device(a) if isinstance(a, np.ndarray) else a for a in args]
    got_loss, got_grad = getattr(fh, name)(*device_args)
    rtol, atol = TOLERANCE[dtype]
    same = np.allclose(backend.to_host(got_loss), loss.detach().cpu().numpy(), rtol=rtol, atol=atol)
    same &= np.allclose(backend.to_host(got_grad), s.grad.cpu().numpy(), rtol=rtol, atol=atol)
    return "ok" if same else "FAIL"


def timed(backend: Backend, run: Callable, repeat: int) -> float:
    """Mean milliseconds of ``run()`` after one warm-up call, device synchronised around."""
    run()
    backend.sync()
    start = time.perf_counter()
    for _ in range(repeat):
        run()
    backend.sync()
    return (time.perf_counter() - start) / repeat * 1e3


def time_shape(backend: Backend, shape: tuple, dtype: str, repeat: int, rng: Any,
               functions: tuple) -> list:  # fmt: skip
    """Table rows for one shape and dtype."""
    n_rows, n_classes = shape
    scores = device_inputs(backend, "crammer_singer", n_rows, n_classes, dtype, rng)[0]
    target = backend.empty_like(scores)
    flag = backend.to_device(np.array([0.0, np.nan]))
    copy_ms = timed(backend, lambda: backend.copy(target, scores), repeat)
    read_ms = timed(backend, lambda: backend.read_pass(scores, flag), repeat)
    rows = [(shape, dtype, "D2D copy of the scores", "copy", copy_ms, 1.0, ""),
            (shape, dtype, "read-only pass", "read", read_ms, copy_ms / read_ms, "")]  # fmt: skip
    for name in functions:
        device_args = device_inputs(backend, name, n_rows, n_classes, dtype, rng)
        fn = getattr(fh, name)
        both = timed(backend, lambda fn=fn, a=device_args: fn(*a), repeat)
        loss = timed(backend, lambda fn=fn, a=device_args: fn(*a, return_grad=False), repeat)
        rows.append((shape, dtype, name, "loss+grad", both, copy_ms / both, ""))
        rows.append((shape, dtype, name, "loss", loss, read_ms / loss, "vs read"))
    if backend.torch_cuda:  # pragma: no cover (GPU only)
        torch = backend.torch
        s = scores.clone().requires_grad_(True)
        y = torch.from_numpy(rng.integers(0, n_classes, n_rows)).cuda()

        def torch_ww() -> None:
            s.grad = None
            torch.nn.functional.multi_margin_loss(s, y).backward()

        def torch_cs() -> None:
            s.grad = None
            _torch_crammer_singer(torch, s, y).backward()

        baselines = (("torch multi_margin_loss", torch_ww), ("torch CS expression", torch_cs))
        for label, run in baselines:
            ms = timed(backend, run, repeat)
            rows.append((shape, dtype, label, "fwd+bwd", ms, copy_ms / ms, ""))
        del s
    return rows


def versions(backend: Backend) -> str:
    """The card, its threads-per-block setting and the versions that matter, in one line."""
    import numba

    from fasthinge._cuda._runtime import MAX_BLOCKS, TPB

    parts = [f"numpy {np.__version__}", f"numba {numba.__version__}"]
    if importlib.util.find_spec("numba_cuda") is not None:  # pragma: no cover (GPU only)
        import numba_cuda

        parts.append(f"numba-cuda {numba_cuda.__version__}")
    if backend.torch is not None:
        parts.append(f"torch {backend.torch.__version__}")
    name = "the simulator"
    if not backend.simulator:  # pragma: no cover (GPU only)
        device = backend.cuda.get_current_device()
        name = device.name.decode() if isinstance(device.name, bytes) else str(device.name)
    return f"{name}; {', '.join(parts)}; {TPB} threads a block, at most {MAX_BLOCKS} blocks"


def main(argv: list | None = None) -> int:
    """Run the checks and print the table; returns 1 if a correctness check failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one tiny shape, float32 only")
    parser.add_argument("--repeat", type=int, default=20, help="timed calls per measurement")
    parser.add_argument("--functions", default="", help="comma-separated subset (default: all)")
    parser.add_argument("--dtypes", default="", help="comma-separated subset of float32,float64")
    parser.add_argument("--shapes", default="", help="comma-separated NxC (default: issue #5's)")
    options = parser.parse_args(argv)
    backend = Backend()
    rng = np.random.default_rng(20261128)
    shapes = QUICK_SHAPES if options.quick else SHAPES
    if options.shapes:
        texts = options.shapes.split(",")
        shapes = [tuple(int(float(n)) for n in text.split("x")) for text in texts]
    dtypes = ("float32",) if options.quick else ("float32", "float64")
    if options.dtypes:
        dtypes = tuple(options.dtypes.split(","))
    functions = tuple(name for name in (*MULTICLASS, *BINARY)
                      if not options.functions or name in options.functions.split(","))  # fmt: skip
    print(f"fasthinge {fh.__version__} GPU check on {backend.name}")
    print(versions(backend))
    print("\nCorrectness on fresh random inputs (CPU path: 'mean' and 'none'; PyTorch: 'mean')")
    print(f"{'function':<20} {'dtype':<8} {'vs CPU':<14} {'vs PyTorch':<10}")
    failed = False
    check_shape = (5, 4) if options.quick else (64, 10)
    for dtype in dtypes:
        for name in functions:
            cpu = check_cpu(backend, name, check_shape, dtype, rng)
            ref = check_torch(backend, name, check_shape, dtype, rng)
            failed |= "FAIL" in cpu or "FAIL" in ref
            print(f"{name:<20} {dtype:<8} {cpu:<14} {ref:<10}")
    for name in functions:  # bfloat16 scores: read as bits, no float32 copy
        bf16 = check_bfloat16(backend, name, check_shape, rng)
        failed |= "FAIL" in bf16
        print(f"{name:<20} {'bfloat16':<8} {bf16:<14} {'—':<10}")
    print("\nTimings (ms, mean of --repeat calls); 'of copy' = copy ms / ms (target >= 0.80)")
    print(f"{'shape':<16} {'dtype':<8} {'what':<24} {'pass':<10} {'ms':>10} {'of copy':>8}")
    for shape in shapes:
        for dtype in dtypes:
            for row in time_shape(backend, shape, dtype, options.repeat, rng, functions):
                shape_text = f"({row[0][0]}, {row[0][1]})"
                print(f"{shape_text:<16} {row[1]:<8} {row[2]:<24} {row[3]:<10} {row[4]:>10.3f} "
                      f"{row[5]:>8.2f} {row[6]}")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
