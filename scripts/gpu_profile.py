"""Launch the GPU kernels worth profiling, each twice, for Nsight Compute (``ncu``).

``scripts/gpu_profile.sh`` runs this under ``ncu`` on a lent GPU; alone it only calls
each case twice (the first call compiles) and prints what it ran:

    python scripts/gpu_profile.py                       # the default cases
    NUMBA_ENABLE_CUDASIM=1 FASTHINGE_CUDA_THREADS=32 python scripts/gpu_profile.py --rows 64

Cases: the tile kernels at C = 10 (Weston–Watkins, top-k) and C = 100 (top-k), the row
groups at C = 1000 (Weston–Watkins) and the binary hinge (one thread an element), all
over 4·10⁸ float32 scores by default; ``--rows`` scales N.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fasthinge as fh

#: (name, function, classes, extra arguments); N = rows x 10 / classes.
CASES = [
    ("weston_watkins tiles C=10", fh.weston_watkins, 10, ()),
    ("topk_hinge tiles C=10", fh.topk_hinge, 10, (2,)),
    ("topk_hinge tiles C=100", fh.topk_hinge, 100, (2,)),
    ("weston_watkins row groups C=1000", fh.weston_watkins, 1000, ()),
]


def device(array: np.ndarray):
    """A device copy through PyTorch when it has CUDA, else a Numba device array."""
    try:
        import torch

        if torch.cuda.is_available():
            return torch.from_numpy(array).cuda()
    except ImportError:  # pragma: no cover
        pass
    from fasthinge._cuda._runtime import cuda

    return cuda.to_device(array)


def synchronize() -> None:
    """Wait for the device (a no-op under the simulator)."""
    from fasthinge._cuda._runtime import SIMULATOR, cuda

    if not SIMULATOR:
        cuda.synchronize()


def main(argv: list | None = None) -> int:
    """Call every case twice; print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40_000_000, help="N at C = 10")
    options = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    for name, fn, n_classes, extra in CASES:
        n_rows = max(1, options.rows * 10 // n_classes)
        scores = device(rng.normal(size=(n_rows, n_classes)).astype(np.float32))
        labels = device(rng.integers(0, n_classes, n_rows))
        for _ in range(2):
            fn(scores, labels, *extra)
        synchronize()
        print(f"{name}: ({n_rows}, {n_classes})", flush=True)
    flat = device(rng.normal(size=options.rows * 10).astype(np.float32))
    signs = device(np.where(rng.random(options.rows * 10) < 0.5, 1, -1))
    for _ in range(2):
        fh.binary_hinge(flat, signs)
    synchronize()
    print(f"binary_hinge: {options.rows * 10} elements", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
