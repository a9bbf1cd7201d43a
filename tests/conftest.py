import os
import uuid

import numpy as np
import pytest

TOL = {np.float32: dict(rtol=1e-6, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-12)}


def grid_scores(rng, shape, dtype):
    """Scores on a coarse grid (multiples of 1/4): frequent ties and exact kinks."""
    return (rng.integers(-8, 9, size=shape) / 4).astype(dtype)


@pytest.fixture
def rng():
    return np.random.default_rng(20261128)


def assert_close(actual, expected, dtype):
    """Equal within the dtype's tolerance, NaN == NaN; ``expected`` is rounded to the
    dtype first (a float64 reference beyond float32's range is inf in float32)."""
    with np.errstate(over="ignore"):
        expected = np.asarray(expected, float).astype(dtype).astype(float)
    np.testing.assert_allclose(
        np.asarray(actual, float), expected, equal_nan=True, **TOL[np.dtype(dtype).type]
    )


SIMULATOR_SUITE = "test_gpu.py::test_simulator_suite"


def pytest_collection_modifyitems(items):
    """Run the GPU simulator suite's check last: it runs beside the session (test_gpu.py)."""
    items.sort(key=lambda item: item.nodeid.endswith(SIMULATOR_SUITE))  # stable: others keep order


def pytest_configure(config):
    """One id per test session, the same in every pytest-xdist worker."""
    workerinput = getattr(config, "workerinput", None)
    config.simulator_run_id = workerinput["testrunuid"] if workerinput else uuid.uuid4().hex


def pytest_collection_finish(session):
    """Start the GPU simulator suite early, in a subprocess beside the session.

    Under pytest-xdist every worker collects: the first one starts it, and
    ``test_simulator_suite`` waits for its result on whichever worker runs it.
    """
    if os.environ.get("PYTEST_XDIST_WORKER", "gw0") != "gw0":
        return
    for item in session.items:
        if item.nodeid.endswith(SIMULATOR_SUITE):
            run_dir = item.module.simulator_run_dir(session.config.simulator_run_id)
            item.module.start_simulator_suite(run_dir)
            session.config.simulator_module = item.module
            break


def pytest_sessionfinish(session, exitstatus):
    """Reap the simulator suite: wait for it, or kill it when the session was cut short."""
    module = getattr(session.config, "simulator_module", None)
    if module is not None:
        module.stop_simulator_suite(interrupted=exitstatus == pytest.ExitCode.INTERRUPTED)
