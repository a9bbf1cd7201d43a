"""fasthinge: fused hinge-family losses and their gradients, on parallel Numba kernels.

Importing the package compiles nothing and imports neither Numba nor CUDA;
each kernel is compiled (or loaded from Numba's cache) on its first call.

>>> import numpy as np, fasthinge as fh
>>> scores = np.array([[0.1, 0.2, 0.4, 0.8]], dtype=np.float32)
>>> loss, grad = fh.weston_watkins(scores, np.array([3]))
>>> float(loss)
0.32499998807907104
"""

from ._binary import binary_hinge, hinge_embedding, modified_huber, perceptron, smooth_hinge
from ._buffers import empty_gradient, release_buffers
from ._compact import compact_matmul
from ._family import (
    categorical_hinge,
    multilabel_margin,
    one_vs_all,
    structured_hinge,
    topk_hinge,
)
from ._linear_hinge import linear_hinge
from ._multiclass import crammer_singer, weston_watkins
from ._warmup import warmup

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "binary_hinge",
    "categorical_hinge",
    "compact_matmul",
    "crammer_singer",
    "empty_gradient",
    "hinge_embedding",
    "linear_hinge",
    "modified_huber",
    "multilabel_margin",
    "one_vs_all",
    "perceptron",
    "release_buffers",
    "smooth_hinge",
    "structured_hinge",
    "topk_hinge",
    "warmup",
    "weston_watkins",
]
