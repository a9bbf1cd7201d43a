"""Measure what docs/torch.md and docs/jax.md state: saved vs recomputed gradient, JAX callbacks.

    python scripts/measure_integrations.py

Timings are the best of ``--repeat`` runs (the machine is shared; the minimum is the
least disturbed run).
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import fasthinge as fh


def best(func: Callable[[], Any], repeat: int) -> float:
    """The fastest of ``repeat`` runs of ``func`` (after one warm-up run), in seconds."""
    func()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def torch_backward(n: int, c: int, repeat: int) -> None:
    """Saved gradient (one fused pass) against recomputing it in the backward."""
    import torch

    import fasthinge.torch as ft

    rng = np.random.default_rng(0)
    s = rng.standard_normal((n, c), dtype=np.float32)
    y = rng.integers(0, c, n)
    x, yt = torch.from_numpy(s).requires_grad_(), torch.from_numpy(y)
    up = torch.tensor(1.0)

    def saved() -> Any:  # forward: loss + gradient in one pass; backward: grad * upstream
        _, g = fh.weston_watkins(s, y)
        return torch.from_numpy(g) * up

    def recomputed() -> Any:  # forward: loss only; backward: the pass again, then * upstream
        fh.weston_watkins(s, y, return_grad=False)
        _, g = fh.weston_watkins(s, y)
        return torch.from_numpy(g) * up

    def op() -> None:
        x.grad = None
        ft.weston_watkins(x, yt).backward()

    def native() -> None:
        x.grad = None
        torch.nn.functional.multi_margin_loss(x, yt).backward()

    print(f"torch, weston_watkins {n}x{c} float32, forward+backward: "
          f"saved {best(saved, repeat) * 1e3:.2f} ms, "
          f"recomputed {best(recomputed, repeat) * 1e3:.2f} ms; "
          f"fasthinge.torch op {best(op, repeat) * 1e3:.2f} ms, "
          f"F.multi_margin_loss {best(native, repeat) * 1e3:.2f} ms", flush=True)  # fmt: skip


def jax_callback(repeat: int) -> None:
    """fasthinge.jax under jit(value_and_grad) against the NumPy-level call and pure JAX."""
    import jax
    import jax.numpy as jnp

    import fasthinge.jax as fj

    def pure_jax(s: Any, y: Any) -> Any:
        true = jnp.take_along_axis(s, y[:, None], 1)[:, 0]
        wrong = jnp.where(jax.nn.one_hot(y, s.shape[1], dtype=bool), -jnp.inf, s).max(1)
        return jax.nn.relu(1 - (true - wrong)).mean()

    ours = jax.jit(jax.value_and_grad(fj.crammer_singer))
    theirs = jax.jit(jax.value_and_grad(pure_jax))
    for n, c in ((64, 10), (1_000, 100), (100_000, 100)):
        rng = np.random.default_rng(0)
        s = rng.standard_normal((n, c), dtype=np.float32)
        y = rng.integers(0, c, n).astype(np.int32)
        sj, yj = jnp.asarray(s), jnp.asarray(y)
        read_only = s.copy()
        read_only.setflags(write=False)
        t_np = best(lambda s=read_only, y=y: fh.crammer_singer(s, y), repeat)
        t_fj = best(lambda s=sj, y=yj: jax.block_until_ready(ours(s, y)), repeat)
        t_jx = best(lambda s=sj, y=yj: jax.block_until_ready(theirs(s, y)), repeat)
        print(f"jax, crammer_singer {n}x{c} float32, loss+grad: NumPy-level call "
              f"{t_np * 1e6:.0f} us, fasthinge.jax jit(value_and_grad) {t_fj * 1e6:.0f} us "
              f"(+{(t_fj - t_np) * 1e6:.0f} us), pure-JAX jit(value_and_grad) "
              f"{t_jx * 1e6:.0f} us", flush=True)  # fmt: skip


def main() -> None:
    """Run both measurements and print the versions."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    for n, c in ((100_000, 100), (2_000, 100)):
        torch_backward(n, c, args.repeat)
    jax_callback(args.repeat)
    import jax
    import numba
    import torch

    print(f"Python {platform.python_version()}, NumPy {np.__version__}, Numba "
          f"{numba.__version__}, torch {torch.__version__}, jax {jax.__version__}")  # fmt: skip


if __name__ == "__main__":
    main()
