"""Fused linear + hinge (``fasthinge.linear_hinge``) against the naive path, and LinearSVM.fit.

The naive path materialises the (N, C) scores and their gradient:
``S = X @ W + b; loss, G = fh.crammer_singer(S, y); dW = X.T @ G``. The fused
path keeps two (chunk, C) buffers, so its peak memory is O(chunk × C)
instead of O(N × C): compare ``peakmem_fused`` with ``peakmem_naive`` (the
process's peak RSS, which also holds X, W and the labels: about N·D·4 bytes).
"""

import numpy as np

from .common import QUICK

#: "N x D x C": rows, features, classes.
SHAPES = ["20000x32x1000"] if QUICK else ["20000x32x1000", "100000x64x1000", "200000x100x20"]


def _inputs(shape, dtype):
    n, d, c = (int(v) for v in shape.split("x"))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d), dtype=dtype)
    W = (0.1 * rng.standard_normal((d, c))).astype(dtype)
    b = np.zeros(c, dtype)
    return X, W, b, rng.integers(0, c, n)


class LinearHinge:
    params = (SHAPES, ["float32"] if QUICK else ["float32", "float64"])
    param_names = ("shape", "dtype")
    timeout = 300

    def setup(self, shape, dtype):
        import fasthinge as fh

        self.fh = fh
        self.X, self.W, self.b, self.y = _inputs(shape, np.dtype(dtype))
        fh.linear_hinge(self.X[:100], self.W, self.y[:100], b=self.b)  # compile / load cache

    def _fused(self):
        return self.fh.linear_hinge(self.X, self.W, self.y, b=self.b)

    def _naive(self):
        S = self.X @ self.W + self.b
        loss, G = self.fh.crammer_singer(S, self.y)
        return loss, self.X.T @ G, G.sum(axis=0)

    def time_linear_hinge_fused(self, shape, dtype):
        self._fused()

    def time_linear_hinge_naive(self, shape, dtype):
        self._naive()

    def peakmem_linear_hinge_fused(self, shape, dtype):
        self._fused()

    def peakmem_linear_hinge_naive(self, shape, dtype):
        self._naive()


class LinearSVMFit:
    """Five epochs of minibatch SGD (no early stopping) on a synthetic problem."""

    params = (["20000x100x20"] if QUICK else ["20000x100x20", "200000x100x20"],)
    param_names = ("shape",)
    timeout = 600

    def setup(self, shape):
        from fasthinge.demo import make_problem
        from fasthinge.linear import LinearSVM

        n, _, _ = (int(v) for v in shape.split("x"))
        self.X, self.y, _, _ = make_problem(n, 10)
        self.model = LinearSVM(alpha=1e-3, max_iter=5, tol=None, random_state=0)
        LinearSVM(max_iter=1, tol=None).fit(self.X[:500], self.y[:500])  # compile

    def time_fit(self, shape):
        self.model.fit(self.X, self.y)
