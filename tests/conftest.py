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
    np.testing.assert_allclose(
        np.asarray(actual, float), np.asarray(expected, float), **TOL[np.dtype(dtype).type]
    )
