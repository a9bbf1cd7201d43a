"""The tables every benchmark module is built from: functions, inputs and parameters.

Adding a public function to every benchmark is one line in ``FUNCTIONS`` (plus
its NumPy baseline in ``fasthinge.bench.baselines`` for ``bench_peers``).

Parameters are the cartesian product ``case x dtype x threads`` where a case
is ``"<function> <shape>"``. The full grid takes a long time; set
``FASTHINGE_ASV_QUICK=1`` (``smoke.sh`` does) for a reduced grid: one large
and one small shape per function, float32, one thread count. Combinations that
measure nothing new raise ``NotImplementedError`` in ``setup`` (asv shows them
as skipped): threads above what Numba may use, and any thread count but the
first on inputs small enough for fasthinge's serial driver.

This module imports only NumPy: fasthinge (and Numba) are imported in the
benchmarks' ``setup``, so ``bench_compile`` can time a cold import.
"""

import functools
import os

import numpy as np

QUICK = os.environ.get("FASTHINGE_ASV_QUICK", "") not in ("", "0")


def _multiclass_inputs(shape, dtype, rng):
    return rng.standard_normal(shape, dtype=dtype), rng.integers(0, shape[1], shape[0])


def _binary_inputs(shape, dtype, rng):
    return rng.standard_normal(shape, dtype=dtype), rng.integers(0, 2, shape[0]) * 2 - 1


def _onehot_inputs(shape, dtype, rng):
    scores, labels = _multiclass_inputs(shape, dtype, rng)
    return scores, np.eye(shape[1], dtype=dtype)[labels]


def _multilabel_inputs(shape, dtype, rng):
    scores, labels = _multiclass_inputs(shape, dtype, rng)
    targets = np.full(shape, -1)
    targets[:, 0] = labels
    targets[:, 1] = (labels + 1) % shape[1]
    return scores, targets


def _zero_one_cost(scores, labels):
    return 1 - np.eye(scores.shape[1], dtype=scores.dtype)


#: kind of input -> make(shape, dtype, rng) -> (scores, labels).
KINDS = {
    "multiclass": _multiclass_inputs,
    "onehot": _onehot_inputs,
    "multilabel": _multilabel_inputs,
    "binary": _binary_inputs,
}

#: fasthinge function -> kind of input, or (kind, keyword arguments) where a value
#: may be a callable of (scores, labels), e.g. "topk_hinge": ("multiclass", {"k": 5}).
#: One line per function.
FUNCTIONS = {
    "weston_watkins": "multiclass",
    "crammer_singer": "multiclass",
    "one_vs_all": "multiclass",
    "topk_hinge": ("multiclass", {"k": 5}),
    "structured_hinge": ("multiclass", {"cost": _zero_one_cost}),
    "categorical_hinge": "onehot",
    "multilabel_margin": "multilabel",
    "binary_hinge": "binary",
    "perceptron": "binary",
    "smooth_hinge": "binary",
    "modified_huber": "binary",
    "hinge_embedding": "binary",
}


def workload(function):
    """(kind, keyword arguments) of a function of FUNCTIONS."""
    spec = FUNCTIONS[function]
    return (spec, {}) if isinstance(spec, str) else (spec[0], dict(spec[1]))


#: kind -> group -> shapes. Multiclass shapes are (N, C); binary ones (N,).
SHAPES = {
    "multiclass": {
        "large": [(10**6, 10), (10**5, 100), (10**4, 10**3), (10**3, 10**4)],
        "cache": [(256, 10**3), (4096, 10**3)],
        "small": [(256, 10)],
    },
    "binary": {
        "large": [(10**7,)],
        "cache": [(256_000,), (4_096_000,)],
        "small": [(256,)],
    },
}
QUICK_SHAPES = {
    "multiclass": {"large": [(10**4, 100)], "small": [(256, 10)]},
    "binary": {"large": [(10**6,)], "small": [(256,)]},
}
#: Kinds of input with the shapes of another kind (target matrices: as multiclass).
for _alias in ("onehot", "multilabel"):
    SHAPES[_alias] = SHAPES["multiclass"]
    QUICK_SHAPES[_alias] = QUICK_SHAPES["multiclass"]


def _cpus():
    try:
        return len(os.sched_getaffinity(0))  # what Numba's default thread count uses
    except AttributeError:
        return os.cpu_count() or 1


DTYPES = ("float32",) if QUICK else ("float32", "float64")
THREADS = (min(2, _cpus()),) if QUICK else (1, 2)

#: Below this many elements fasthinge runs its serial driver (``_threading``).
PARALLEL_MIN_ELEMENTS = 1 << 15


def shape_text(shape):
    return "x".join(str(d) for d in shape)


def _cases(groups):
    shapes = QUICK_SHAPES if QUICK else SHAPES
    return [
        f"{function} {shape_text(shape)}"
        for function in FUNCTIONS
        for group in groups
        for shape in shapes[workload(function)[0]].get(group, ())
    ]


#: Every case, and the cases the (slow) peers are timed on.
CASES = _cases(("large", "cache", "small"))
PEER_CASES = _cases(("large",)) if QUICK else CASES

#: Element counts of the copy roofline (the sizes of the cases' scores).
ROOF_ELEMENTS = (10**6, 256 * 10) if QUICK else (10**7, 4096 * 10**3, 256 * 10**3, 256 * 10)


def parse_case(case):
    """ "weston_watkins 1000x10" -> ("weston_watkins", (1000, 10))."""
    function, shape = case.split(" ")
    return function, tuple(int(d) for d in shape.split("x"))


@functools.lru_cache(maxsize=2)
def make_inputs(kind, shape, dtype, seed=0):
    """Random inputs of one kind (cached: asv re-runs setup before every sample)."""
    return KINDS[kind](tuple(shape), np.dtype(dtype), np.random.default_rng(seed))


def case_inputs(function, shape, dtype):
    """(scores, labels, keyword arguments) of one call of function; imports no fasthinge."""
    kind, kwargs = workload(function)
    scores, labels = make_inputs(kind, tuple(shape), dtype)
    kwargs = {k: v(scores, labels) if callable(v) else v for k, v in kwargs.items()}
    return scores, labels, kwargs


def check_threads(threads, n_elements=None):
    """Raise ``NotImplementedError`` (asv: skip) for thread counts that measure nothing new."""
    import numba

    if threads > numba.config.NUMBA_NUM_THREADS:
        raise NotImplementedError(f"{threads} threads > NUMBA_NUM_THREADS")
    if n_elements is not None and n_elements < PARALLEL_MIN_ELEMENTS and threads != THREADS[0]:
        raise NotImplementedError("serial driver: the thread count does not matter")


def load_case(case, dtype, threads=None):
    """(function name, fasthinge function with its extra keywords bound, scores, labels).

    The skip checks run first, before any input is made.
    """
    function, shape = parse_case(case)
    if threads is not None:
        check_threads(threads, int(np.prod(shape)))
    import fasthinge

    scores, labels, kwargs = case_inputs(function, shape, dtype)
    return function, functools.partial(getattr(fasthinge, function), **kwargs), scores, labels
