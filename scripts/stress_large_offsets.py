"""Stress run (not a CI test): one call with N·C > 2³¹ scores, checked against a chunked run.

PyTorch's CUDA kernel indexes with 32-bit ``int`` and gets the sign of the mean
wrong beyond 2³¹ elements (hinge-semantics.md §2.5). fasthinge's kernels use
64-bit offsets; this script proves it on the CPU:

1. one ``weston_watkins`` and one ``crammer_singer`` call (loss + gradient
   into a preallocated ``out``) on a float32 (N, C) matrix with
   N·C = 2.2e9 > 2³¹ (about 8.8 GB of scores and 8.8 GB of gradient);
2. the same rows in chunks of far fewer than 2³¹ elements, each its own call:
   the per-row losses must agree exactly, and the gradient rows past element
   2³¹ must equal the chunked ones bit for bit.

Run by hand (needs about 19 GB of free memory; a few minutes on 2 cores)::

    python scripts/stress_large_offsets.py [--elements 2.2e9] [--classes 100]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import fasthinge as fh


def _fill(scores: np.ndarray, labels: np.ndarray, rows_per_block: int) -> None:
    """Deterministic pseudo-random scores, block by block (no second full-size copy)."""
    rng = np.random.default_rng(0)
    for lo in range(0, scores.shape[0], rows_per_block):
        hi = min(scores.shape[0], lo + rows_per_block)
        scores[lo:hi] = rng.standard_normal((hi - lo, scores.shape[1]), dtype=np.float32)
    labels[:] = rng.integers(0, scores.shape[1], scores.shape[0])


def main() -> None:
    """Run the stress check and print what it measured."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elements", type=float, default=2.2e9)
    parser.add_argument("--classes", type=int, default=100)
    args = parser.parse_args()
    n_classes = args.classes
    n_rows = int(args.elements) // n_classes
    total = n_rows * n_classes
    print(f"N = {n_rows:,}, C = {n_classes}, N·C = {total:,} (2^31 = {2**31:,}): "
          f"{'above' if total > 2**31 else 'BELOW'} the int32 range")  # fmt: skip
    scores = np.empty((n_rows, n_classes), np.float32)
    labels = np.empty(n_rows, np.int64)
    _fill(scores, labels, 1 << 20)
    grad = np.empty_like(scores)
    first_big_row = 2**31 // n_classes  # rows at and after this one start past 2^31
    chunk_rows = 2**24 // n_classes
    for func in (fh.weston_watkins, fh.crammer_singer):
        start = time.perf_counter()
        loss_rows, _ = func(scores, labels, reduction="none", out=grad)
        one_call = time.perf_counter() - start
        mean = func(scores, labels, return_grad=False)
        start = time.perf_counter()
        mismatched_rows = 0
        chunk_sum = 0.0
        for lo in range(0, n_rows, chunk_rows):
            hi = min(n_rows, lo + chunk_rows)
            part_loss, part_grad = func(scores[lo:hi], labels[lo:hi], reduction="none")
            mismatched_rows += int(np.count_nonzero(part_loss != loss_rows[lo:hi]))
            chunk_sum += float(part_loss.sum(dtype=np.float64))
            if hi > first_big_row:  # bit-identical gradient rows beyond element 2^31
                np.testing.assert_array_equal(part_grad, grad[lo:hi])
        chunked = time.perf_counter() - start
        expected_mean = chunk_sum / n_rows
        rate = 2 * scores.nbytes / one_call / 1e9
        rel = abs(float(mean) - expected_mean) / abs(expected_mean)
        print(f"{func.__name__}: one call {one_call:.1f} s ({rate:.1f} GB/s), chunked reference"
              f" {chunked:.1f} s; rows that differ: {mismatched_rows}; mean {float(mean):.9g}"
              f" vs chunked {expected_mean:.9g} (rel. diff {rel:.1e})")  # fmt: skip
        assert mismatched_rows == 0
        assert abs(float(mean) - expected_mean) <= 1e-6 * abs(expected_mean)
        assert float(mean) > 0  # PyTorch's int32 CUDA kernel returns a negative mean here
    print("OK: 64-bit offsets, identical to the chunked run")


if __name__ == "__main__":
    main()
