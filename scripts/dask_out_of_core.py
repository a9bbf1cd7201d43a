"""Measure fasthinge.dask on a problem larger than a worker's memory (docs/dask.md).

Generates the features chunk by chunk on the workers (never materialised whole), and runs
a few gradient-descent iterations of a linear Crammer–Singer SVM with
``fasthinge.dask.linear_loss_and_grad`` (one ``dask.compute`` per iteration). The
label of a row is the argmax of its first C features, computed from the same chunk.

    python scripts/dask_out_of_core.py [--rows 4000000] [--features 128] [--memory 768MiB]
"""

from __future__ import annotations

import argparse
import platform
import threading
import time

import dask
import dask.array as da
import distributed
import numba
import numpy as np

from fasthinge import dask as fhd


def main() -> None:
    """Run the iterations and print the measurements."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--chunk", type=int, default=65_536)
    parser.add_argument("--memory", default="768MiB", help="memory_limit of each worker")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.1, help="gradient-descent step")
    args = parser.parse_args()
    n, d, c = args.rows, args.features, args.classes
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  memory_limit=args.memory, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:  # fmt: skip
        client.register_plugin(fhd.numba_cache_plugin())
        X = da.random.default_rng(0).standard_normal((n, d), chunks=(args.chunk, d),
                                                      dtype=np.float32)  # fmt: skip
        y = X[:, :c].argmax(axis=1)  # learnable labels, from the same generated chunks
        W = np.zeros((d, c), np.float32)
        peak: dict[str, int] = {}
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                for address, info in client.scheduler_info()["workers"].items():
                    peak[address] = max(peak.get(address, 0), info["metrics"]["memory"])
                time.sleep(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start = time.perf_counter()
        dask.compute(X.sum(axis=0), y.sum())  # generating the data alone, for comparison
        generate = time.perf_counter() - start
        times = []
        for step in range(args.iterations):
            start = time.perf_counter()
            loss, dW = fhd.linear_loss_and_grad(X, W, y, "crammer_singer")
            times.append(time.perf_counter() - start)
            W -= np.float32(args.lr) * dW
            print(f"iteration {step}: loss {float(loss):.6f}, {times[-1]:.1f} s", flush=True)
        done.set()
        sampler.join()
        print(
            f"X: {n} x {d} float32 = {X.nbytes / 2**30:.2f} GiB in {X.numblocks[0]} chunks "
            f"of {args.chunk} rows; C = {c}; 2 workers x 1 thread, memory_limit {args.memory}"
        )
        print(
            "peak worker memory (RSS): " + ", ".join(f"{v / 2**20:.0f} MiB" for v in peak.values())
        )
        print(
            f"time per iteration: first {times[0]:.1f} s (includes compiling), "
            f"then {min(times[1:] or times):.1f} s; generating X and y alone (a sum over "
            f"them): {generate:.1f} s"
        )
        print(
            f"Python {platform.python_version()}, NumPy {np.__version__}, "
            f"Numba {numba.__version__}, Dask {dask.__version__}, "
            f"distributed {distributed.__version__}"
        )


if __name__ == "__main__":
    main()
