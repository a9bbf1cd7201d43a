"""Kernel table: loss and gradient of the main functions on large synthetic data.

Run ``python -m fasthinge.bench.table`` (``--help`` for options). For each function
and shape it prints the median time of one fused loss+gradient call, the
memory traffic it implies (read scores and labels, write the gradient) in
GB/s, and the speed-up over a clean vectorised NumPy implementation
(``fasthinge.bench.baselines``), after checking that both agree.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

import fasthinge as fh

from . import baselines
from .timing import median_seconds


def _problems(n_elements: int, dtype: np.dtype, rng: np.random.Generator) -> list:
    out = []
    for n_classes in (10, 1000):
        n = n_elements // n_classes
        scores = rng.standard_normal((n, n_classes)).astype(dtype)
        labels = rng.integers(0, n_classes, n)
        out += [("weston_watkins", scores, labels), ("crammer_singer", scores, labels)]
    f = rng.standard_normal(n_elements).astype(dtype)
    t = rng.choice(np.array([-1, 1]), n_elements)
    out.append(("binary_hinge", f, t))
    return out


def _row(name: str, scores: np.ndarray, labels: np.ndarray) -> str:
    func = getattr(fh, name)
    out = np.empty_like(scores)
    start = time.perf_counter()
    func(scores, labels, out=out)  # first call: compile or load from cache
    first = time.perf_counter() - start
    ours = median_seconds(lambda: func(scores, labels, out=out))
    numpy = median_seconds(lambda: baselines.BASELINES[name](scores, labels), repeat=3)
    loss, grad = func(scores, labels)
    ref_loss, ref_grad = baselines.BASELINES[name](scores, labels)
    tol = 1e-5 if scores.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(grad, ref_grad, rtol=tol, atol=tol)
    np.testing.assert_allclose(loss, ref_loss, rtol=tol)
    traffic = 2 * scores.nbytes + labels.nbytes
    shape = "x".join(str(d) for d in scores.shape)
    return (
        f"{name:<15} {shape:>12} {scores.dtype.name:>8} {first * 1e3:>9.0f} "
        f"{ours * 1e3:>9.2f} {traffic / ours / 1e9:>7.1f} {numpy * 1e3:>9.1f} "
        f"{numpy / ours:>8.1f}x"
    )


def main(argv: list[str] | None = None) -> None:
    """Print the demo table."""
    parser = argparse.ArgumentParser(prog="python -m fasthinge.bench.table", description=__doc__)
    parser.add_argument(
        "--elements", type=float, default=1e7, help="scores per problem (default 1e7)"
    )
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = parser.parse_args(argv)
    import numba

    print(
        f"fasthinge {fh.__version__}, numba {numba.__version__}, numpy {np.__version__}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{numba.get_num_threads()} threads ({platform.machine()})"
    )
    print(
        "time = median of one loss+gradient call into a preallocated `out`; "
        "GB/s = (read scores + labels, write gradient) / time\n"
    )
    print(
        f"{'function':<15} {'shape':>12} {'dtype':>8} {'1st ms':>9} {'ms':>9} {'GB/s':>7} "
        f"{'NumPy ms':>9} {'speed-up':>9}"
    )
    rng = np.random.default_rng(0)
    for name, scores, labels in _problems(int(args.elements), np.dtype(args.dtype), rng):
        print(_row(name, scores, labels), flush=True)
    print("\n'1st ms' is the first call: compilation, or loading Numba's on-disk cache.")


if __name__ == "__main__":
    main()
