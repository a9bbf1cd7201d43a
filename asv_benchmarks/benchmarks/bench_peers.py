"""The peers fasthinge is measured against, and the memory roofline.

- ``NumpyBaseline``: ``fasthinge.bench.baselines`` (always).
- ``PeerLossGrad`` / ``PeerLossOnly``: PyTorch (``F.multi_margin_loss`` and the
  Crammer-Singer / binary expressions, forward + backward or forward only),
  scikit-learn ``hinge_loss`` (loss only) and jitted JAX (``value_and_grad``),
  from ``fasthinge.bench.peers``. A peer whose library is not installed, or
  that has no implementation of the case's function, raises
  ``NotImplementedError`` in ``setup``: asv shows it as skipped. Peers run with
  their libraries' default thread counts.
- ``CopyRoofline``: the parallel Numba copy and read-only pass of
  ``fasthinge.bench._copy`` over as many elements as the cases' scores.
"""

import numpy as np

from .common import DTYPES, PEER_CASES, ROOF_ELEMENTS, THREADS, check_threads, load_case

#: Peer libraries (columns of fasthinge.bench.peers); missing ones are skipped.
LOSS_GRAD_LIBRARIES = ["torch", "jax"]
LOSS_ONLY_LIBRARIES = ["torch", "sklearn", "jax"]


class NumpyBaseline:
    params = (PEER_CASES, list(DTYPES))
    param_names = ("case", "dtype")
    timeout = 300

    def setup(self, case, dtype):
        from fasthinge.bench.baselines import BASELINES

        function, _, self.scores, self.labels = load_case(case, dtype)
        if function not in BASELINES:
            raise NotImplementedError(f"no NumPy baseline for {function}")
        self.baseline = BASELINES[function]
        self.baseline(self.scores, self.labels)

    def time_loss_grad(self, case, dtype):
        self.baseline(self.scores, self.labels)


def _prepare_peer(library, mode, case, dtype):
    """The ``fasthinge.bench.peers`` entry bound to the case's inputs, or skip."""
    try:
        from fasthinge.bench import peers
    except ImportError as exc:  # an older fasthinge without the peers module
        raise NotImplementedError(str(exc)) from exc
    function, _, scores, labels = load_case(case, dtype)
    found = peers.peers_for(function, getattr(peers, mode), installed_only=False)
    found = [p for p in found if p.library == library]
    if not found:
        raise NotImplementedError(f"no {library} peer of {function} ({mode})")
    if not found[0].available():
        raise NotImplementedError(f"{library} is not installed")
    prepared = found[0].prepare(scores, labels)
    if prepared is None:
        raise NotImplementedError(f"the {library} peer does not apply to {case}")
    prepared.run()  # jit compilation, first-call allocations
    return prepared.run


class PeerLossGrad:
    params = (LOSS_GRAD_LIBRARIES, PEER_CASES, list(DTYPES))
    param_names = ("library", "case", "dtype")
    timeout = 300

    def setup(self, library, case, dtype):
        self.run = _prepare_peer(library, "LOSS_GRAD", case, dtype)

    def time_peer(self, library, case, dtype):
        self.run()


class PeerLossOnly:
    params = (LOSS_ONLY_LIBRARIES, PEER_CASES, list(DTYPES))
    param_names = ("library", "case", "dtype")
    timeout = 300

    def setup(self, library, case, dtype):
        self.run = _prepare_peer(library, "LOSS", case, dtype)

    def time_peer(self, library, case, dtype):
        self.run()


class CopyRoofline:
    params = (list(ROOF_ELEMENTS), list(DTYPES), list(THREADS))
    param_names = ("elements", "dtype", "threads")

    def setup(self, elements, dtype, threads):
        check_threads(threads)
        import numba

        from fasthinge.bench._copy import parallel_copy, parallel_read

        self.copy, self.read = parallel_copy, parallel_read
        numba.set_num_threads(threads)  # this process only; the timed calls run here
        self.src = np.ones(elements, dtype)
        self.dst = np.empty_like(self.src)
        self.copy(self.src, self.dst)
        self.read(self.src)

    def time_copy(self, elements, dtype, threads):
        self.copy(self.src, self.dst)

    def time_read(self, elements, dtype, threads):
        self.read(self.src)
