"""Peer implementations that fasthinge is timed against: NumPy, PyTorch, scikit-learn, JAX.

Each peer computes what one fasthinge function computes with its defaults
(margin 1, ``p=1``, ``reduction="mean"``), written the way a user of that
library would write it:

- **numpy** (loss + gradient): the vectorised ``fasthinge.bench.baselines``.
- **torch** (loss + gradient: forward and ``backward()``; loss only: the same
  forward under ``torch.no_grad()``): ``F.multi_margin_loss`` for
  ``weston_watkins``, ``relu(1 - (s_y - max_{j != y} s_j)).mean()`` for
  ``crammer_singer``, ``relu(1 - t * f).mean()`` for ``binary_hinge``.
- **sklearn** (loss only): ``sklearn.metrics.hinge_loss`` for
  ``crammer_singer`` (C >= 3) and ``binary_hinge``.
- **jax** (loss + gradient: ``jax.jit(jax.value_and_grad(loss))``; loss only:
  ``jax.jit(loss)``): the same expressions as for PyTorch.

Nothing here imports a peer library when the module is imported: a peer looks
for its library with :func:`importlib.util.find_spec` and imports it inside
:meth:`Peer.prepare`, which returns ``None`` when the library is missing (or
the peer does not apply to the input), so callers skip it cleanly. Adding a
peer for a new function is one line in ``_TORCH``, ``_JAX`` or ``_SKLEARN``
(the NumPy peer comes from ``baselines.BASELINES``).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

#: The two passes a peer can time.
LOSS_GRAD = "loss+grad"
LOSS = "loss"

#: Column order of the libraries; the distribution whose version is reported.
LIBRARIES = {"numpy": "numpy", "torch": "torch", "sklearn": "scikit-learn", "jax": "jax"}


class Prepared(NamedTuple):
    """A peer bound to one input: ``run()`` is what is timed.

    ``result(run())`` converts what ``run`` returned (in the peer library's
    types) to ``(loss as float, gradient as ndarray or None)``.
    """

    run: Callable[[], Any]
    result: Callable[[Any], tuple]


#: ``build(scores, labels, n_threads) -> Prepared | None`` (None: does not apply).
Builder = Callable[[np.ndarray, np.ndarray, "int | None"], "Prepared | None"]


@dataclass(frozen=True)
class Peer:
    """One peer implementation of one fasthinge function, for one pass.

    Attributes
    ----------
    library : str
        Import name of the peer library (``"numpy"``, ``"torch"``,
        ``"sklearn"``, ``"jax"``); also the column label.
    function : str
        The fasthinge function it reproduces.
    mode : str
        ``LOSS_GRAD`` (returns the loss and the gradient) or ``LOSS``.
    build : callable
        ``build(scores, labels, n_threads)``: imports the library and returns
        a :class:`Prepared`, or ``None`` when the peer does not apply.
    """

    library: str
    function: str
    mode: str
    build: Builder

    @property
    def name(self) -> str:
        """``"library:function:mode"``, e.g. ``"torch:weston_watkins:loss+grad"``."""
        return f"{self.library}:{self.function}:{self.mode}"

    def available(self) -> bool:
        """Whether the peer's library is installed (looked up without importing it).

        Returns
        -------
        bool
            ``True`` when the library can be imported.
        """
        return available(self.library)

    def prepare(
        self, scores: np.ndarray, labels: np.ndarray, n_threads: int | None = None
    ) -> Prepared | None:
        """Bind the peer to an input (conversions happen here, outside the timed call).

        Parameters
        ----------
        scores : ndarray
            ``(N, C)`` scores, or ``(N,)`` decision values for ``binary_hinge``.
        labels : ndarray
            ``(N,)`` integer labels (``±1`` for ``binary_hinge``).
        n_threads : int, optional
            Intra-op threads for libraries that take a per-process setting
            (PyTorch); NumPy, scikit-learn and JAX use their defaults.

        Returns
        -------
        Prepared or None
            ``None`` when the library is not installed or the peer does not
            apply to this input (e.g. scikit-learn's multiclass hinge for C < 3).
        """
        if not self.available():
            return None
        return self.build(scores, labels, n_threads)


def available(library: str) -> bool:
    """Whether ``library`` can be imported, without importing it.

    Parameters
    ----------
    library : str
        An import name, e.g. ``"torch"``.

    Returns
    -------
    bool
        ``True`` when the module is found.
    """
    try:
        return importlib.util.find_spec(library) is not None
    except (ImportError, ValueError):
        return False


def versions() -> dict:
    """The installed version of each peer library (``None`` when missing), without imports.

    Returns
    -------
    dict
        ``{library: version or None}`` in column order.
    """
    out = {}
    for library, distribution in LIBRARIES.items():
        try:
            out[library] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            out[library] = None
    return out


def compare(ours: tuple, theirs: tuple, dtype: Any) -> str | None:
    """Check a peer's ``(loss, grad)`` against fasthinge's.

    Parameters
    ----------
    ours, theirs : tuple
        ``(loss, grad or None)``; the gradient is compared when both have one.
    dtype : dtype
        The scores' dtype; float32 allows ``1e-5`` relative error, float64 ``1e-10``.

    Returns
    -------
    str or None
        ``None`` when they agree, else a message naming the largest difference.
    """
    rtol = 1e-5 if np.dtype(dtype) == np.float32 else 1e-10
    loss, ref = float(ours[0]), float(theirs[0])
    if not np.isclose(loss, ref, rtol=rtol, atol=0):
        return f"loss {loss!r} != {ref!r}"
    grad, ref_grad = ours[1], theirs[1]
    if grad is None or ref_grad is None:
        return None
    ref_grad = np.asarray(ref_grad, dtype=np.float64)
    grad = np.asarray(grad, dtype=np.float64)
    if grad.shape != ref_grad.shape:
        return f"gradient shape {grad.shape} != {ref_grad.shape}"
    scale = float(np.max(np.abs(ref_grad), initial=0.0))
    if not np.allclose(grad, ref_grad, rtol=rtol, atol=rtol * scale):
        worst = float(np.max(np.abs(grad - ref_grad)))
        return f"gradient differs by up to {worst:.3g} (largest |grad| {scale:.3g})"
    return None


def peers_for(function: str, mode: str, installed_only: bool = True) -> list:
    """The peers of ``function`` for pass ``mode``, in column order.

    Parameters
    ----------
    function : str
        A fasthinge function name.
    mode : str
        ``LOSS_GRAD`` or ``LOSS``.
    installed_only : bool, default True
        Leave out peers whose library is missing.

    Returns
    -------
    list of Peer
    """
    return [
        p
        for p in PEERS
        if p.function == function and p.mode == mode and (p.available() or not installed_only)
    ]


# --- NumPy: the clean baselines -------------------------------------------------------


def _numpy(function: str) -> Builder:
    def build(scores: np.ndarray, labels: np.ndarray, n_threads: int | None) -> Prepared:
        from .baselines import BASELINES

        baseline = BASELINES[function]
        return Prepared(lambda: baseline(scores, labels), lambda r: (float(r[0]), r[1]))

    return build


# --- PyTorch ----------------------------------------------------------------------------


def _torch_weston_watkins(x: Any, y: Any) -> Any:
    import torch.nn.functional as F

    return F.multi_margin_loss(x, y)


def _torch_crammer_singer(x: Any, y: Any) -> Any:
    import torch

    true = x.gather(1, y[:, None])[:, 0]
    best_wrong = x.scatter(1, y[:, None], float("-inf")).max(dim=1).values
    return torch.relu(1 - (true - best_wrong)).mean()


def _torch_binary_hinge(f: Any, t: Any) -> Any:
    import torch

    return torch.relu(1 - t * f).mean()


def _torch(loss: Callable[[Any, Any], Any], binary: bool, grad: bool) -> Builder:
    def build(scores: np.ndarray, labels: np.ndarray, n_threads: int | None) -> Prepared:
        import torch

        if n_threads is not None:
            torch.set_num_threads(n_threads)
        x = torch.from_numpy(scores)  # shares memory: no copy
        if binary:
            y = torch.from_numpy(labels.astype(scores.dtype))  # targets as ±1.0, once
        else:
            y = torch.from_numpy(labels.astype(np.int64, copy=False))
        if grad:
            x.requires_grad_(True)

            def run() -> Any:
                x.grad = None
                value = loss(x, y)
                value.backward()
                return value.detach(), x.grad

            return Prepared(run, lambda r: (float(r[0]), r[1].numpy()))

        def run_loss() -> Any:
            with torch.no_grad():
                return loss(x, y)

        return Prepared(run_loss, lambda r: (float(r), None))

    return build


# --- scikit-learn -----------------------------------------------------------------------


def _sklearn_crammer_singer(scores: np.ndarray, labels: np.ndarray) -> Callable | None:
    from sklearn.metrics import hinge_loss

    if scores.shape[1] < 3:  # scikit-learn treats two classes as a binary problem
        return None
    classes = np.arange(scores.shape[1])
    return lambda: hinge_loss(labels, scores, labels=classes)


def _sklearn_binary_hinge(f: np.ndarray, t: np.ndarray) -> Callable | None:
    from sklearn.metrics import hinge_loss

    return lambda: hinge_loss(t, f)


def _sklearn(make: Callable[[np.ndarray, np.ndarray], Callable | None]) -> Builder:
    def build(scores: np.ndarray, labels: np.ndarray, n_threads: int | None) -> Prepared | None:
        run = make(scores, labels)
        return None if run is None else Prepared(run, lambda r: (float(r), None))

    return build


# --- JAX --------------------------------------------------------------------------------


def _jax_weston_watkins(s: Any, y: Any) -> Any:
    import jax
    import jax.numpy as jnp

    n, c = s.shape
    true = jnp.take_along_axis(s, y[:, None], axis=1)
    z = jax.nn.relu(s - true + 1)
    z = jnp.where(jnp.arange(c)[None, :] == y[:, None], 0, z)
    return z.sum() / (n * c)


def _jax_crammer_singer(s: Any, y: Any) -> Any:
    import jax
    import jax.numpy as jnp

    c = s.shape[1]
    true = jnp.take_along_axis(s, y[:, None], axis=1)[:, 0]
    best_wrong = jnp.where(jnp.arange(c)[None, :] == y[:, None], -jnp.inf, s).max(axis=1)
    return jax.nn.relu(1 - (true - best_wrong)).mean()


def _jax_binary_hinge(f: Any, t: Any) -> Any:
    import jax

    return jax.nn.relu(1 - t * f).mean()


def _jax(loss: Callable[[Any, Any], Any], binary: bool, grad: bool) -> Builder:
    def build(scores: np.ndarray, labels: np.ndarray, n_threads: int | None) -> Prepared:
        import jax

        if scores.dtype == np.float64:
            jax.config.update("jax_enable_x64", True)  # else JAX silently computes in float32
        s = jax.device_put(scores)
        y = jax.device_put(labels.astype(scores.dtype if binary else np.int32))
        if grad:
            fn = jax.jit(jax.value_and_grad(loss))

            def run() -> Any:
                return jax.block_until_ready(fn(s, y))

            return Prepared(run, lambda r: (float(r[0]), np.asarray(r[1])))
        fn_loss = jax.jit(loss)
        return Prepared(lambda: jax.block_until_ready(fn_loss(s, y)), lambda r: (float(r), None))

    return build


# --- The table --------------------------------------------------------------------------

#: fasthinge function -> (PyTorch loss expression, binary?). One line per function.
_TORCH = {
    "weston_watkins": (_torch_weston_watkins, False),
    "crammer_singer": (_torch_crammer_singer, False),
    "binary_hinge": (_torch_binary_hinge, True),
}
#: fasthinge function -> (JAX loss expression, binary?).
_JAX = {
    "weston_watkins": (_jax_weston_watkins, False),
    "crammer_singer": (_jax_crammer_singer, False),
    "binary_hinge": (_jax_binary_hinge, True),
}
#: fasthinge function -> scikit-learn loss-only call.
_SKLEARN = {
    "crammer_singer": _sklearn_crammer_singer,
    "binary_hinge": _sklearn_binary_hinge,
}


def _table() -> tuple:
    from .baselines import BASELINES

    peers = [Peer("numpy", f, LOSS_GRAD, _numpy(f)) for f in BASELINES]
    for f, (loss, binary) in _TORCH.items():
        peers.append(Peer("torch", f, LOSS_GRAD, _torch(loss, binary, grad=True)))
        peers.append(Peer("torch", f, LOSS, _torch(loss, binary, grad=False)))
    peers += [Peer("sklearn", f, LOSS, _sklearn(make)) for f, make in _SKLEARN.items()]
    for f, (loss, binary) in _JAX.items():
        peers.append(Peer("jax", f, LOSS_GRAD, _jax(loss, binary, grad=True)))
        peers.append(Peer("jax", f, LOSS, _jax(loss, binary, grad=False)))
    order = list(LIBRARIES)
    return tuple(sorted(peers, key=lambda p: order.index(p.library)))


#: Every peer, in column order (numpy, torch, sklearn, jax).
PEERS: tuple = _table()
