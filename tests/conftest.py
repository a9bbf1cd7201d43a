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
