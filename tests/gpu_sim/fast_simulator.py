"""Numba's CUDA simulator without its busy loop, for this suite (when it is on).

``test_sim_gpu`` imports the autouse fixture ``simulator_without_busy_loop``
(not a ``conftest.py``: the tests import helpers from ``tests/conftest.py`` by name).

The simulator runs each CUDA thread as a Python thread; its block manager
(``BlockManager.run``) polls them in a loop that never sleeps, so at Python's
GIL switch interval (5 ms) it holds the GIL for most of each slice while the
CUDA threads wait to run. ``_run_block`` is numba 0.68's ``BlockManager.run``
with one change: the manager sleeps for 20 µs after each poll, which hands the
GIL to the CUDA threads (measured on the project's 2-core machine: ``tests/gpu_sim``
251 s → 20–27 s, five runs).

A smaller switch interval would do as well, but the simulator is only safe at
coarse interleaving: at 10 µs, its ``cuda.shared.array`` (a lookup-or-create
without a lock) gave two threads of a block two different "shared" arrays, and
its device-function calls, which swap the ``cuda`` global of the module for each
call, failed with "dictionary changed size during iteration". Here the CUDA
threads still switch only where they block (a barrier) or every 5 ms.
"""

from __future__ import annotations

import inspect
import time

import numba
import numpy as np
import pytest

#: How long the manager sleeps after each poll of its threads.
POLL_SLEEP = 2e-5


def _run_block(self, grid_point, *args):
    """``BlockManager.run`` of numba 0.68 plus a sleep after each poll."""
    from numba.cuda.simulator.kernel import BlockThread

    threads = set()
    livethreads = set()
    blockedthreads = set()
    for block_point in np.ndindex(*self._block_dim):

        def target():
            self._f(*args)

        t = BlockThread(target, self, grid_point, block_point, self._debug)
        t.start()
        threads.add(t)
        livethreads.add(t)
    while livethreads:
        for t in livethreads:
            if t.syncthreads_blocked:
                blockedthreads.add(t)
            elif t.exception:
                for t_other in threads:  # abort the others, as the simulator does
                    t_other.abort = True
                    t_other.syncthreads_blocked = False
                    t_other.syncthreads_event.set()
                raise t.exception[0].with_traceback(t.exception[1])
        if livethreads == blockedthreads:
            for t in blockedthreads:
                t.syncthreads_blocked = False
                t.syncthreads_event.set()
            blockedthreads = set()
        livethreads = set([t for t in livethreads if t.is_alive()])
        time.sleep(POLL_SLEEP)  # the only change: the CUDA threads run meanwhile
    for t in threads:
        if t.exception:
            raise t.exception[0].with_traceback(t.exception[1])


#: The lines of numba 0.68's ``BlockManager.run`` that ``_run_block`` copies (its loop's
#: conditions): a simulator whose manager reads differently is left as it is.
_KNOWN_LINES = (
    "if t.syncthreads_blocked:",
    "if livethreads == blockedthreads:",
    "livethreads = set([ t for t in livethreads if t.is_alive() ])",
)


@pytest.fixture(autouse=True)
def simulator_without_busy_loop(monkeypatch):
    """Every test of this directory: ``_run_block`` in place of the simulator's manager loop."""
    if numba.config.ENABLE_CUDASIM:
        from numba.cuda.simulator import kernel

        source = inspect.getsource(kernel.BlockManager.run)
        if all(line in source for line in _KNOWN_LINES):
            monkeypatch.setattr(kernel.BlockManager, "run", _run_block)
    yield
