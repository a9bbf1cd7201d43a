"""Every public loss × every shared argument × each wrong kind of value.

Each bad call must raise the documented exception with a message naming the
argument, and leave ``out`` and every input untouched.
"""

import numpy as np
import pytest

import fasthinge as fh

S = (np.arange(15, dtype=np.float64).reshape(5, 3) - 7) / 4
Y = np.array([0, 2, 1, 2, 0])
F = np.array([0.5, -1.0, 2.0, 0.0, 1.0])
T = np.array([1, -1, 1, -1, 1])
ONE_HOT = np.eye(3)[Y]
MULTILABEL = np.array([[0, -1, -1], [2, 1, -1], [1, -1, -1], [2, -1, -1], [0, 1, 2]])

#: name -> (function, scores, labels, extra positional arguments, keywords it takes)
LOSSES = {
    "weston_watkins": (fh.weston_watkins, S, Y, (), {"p", "margin", "kink", "ties"}),
    "crammer_singer": (fh.crammer_singer, S, Y, (), {"p", "margin", "kink", "ties"}),
    "one_vs_all": (fh.one_vs_all, S, Y, (), {"p", "margin", "kink"}),
    "structured_hinge": (fh.structured_hinge, S, Y, (1 - np.eye(3),), {"margin", "kink", "ties"}),
    "topk_hinge": (fh.topk_hinge, S, Y, (2,), {"margin", "kink", "ties"}),
    "categorical_hinge": (fh.categorical_hinge, S, ONE_HOT, (), {"margin", "kink", "ties"}),
    "multilabel_margin": (fh.multilabel_margin, S, MULTILABEL, (), {"margin", "kink"}),
    "binary_hinge": (fh.binary_hinge, F, T, (), {"p", "margin", "kink", "ties"}),
    "perceptron": (fh.perceptron, F, T, (), {"kink"}),
    "smooth_hinge": (fh.smooth_hinge, F, T, (), {"margin"}),
    "modified_huber": (fh.modified_huber, F, T, (), set()),
    "hinge_embedding": (fh.hinge_embedding, F, T.astype(float), (), {"margin", "kink"}),
}


def _bad_calls(name):
    _func, s, y, _extra, takes = LOSSES[name]
    n = s.shape[0]
    yield "scores", TypeError, (s.astype(np.int64), y), {}
    yield "scores", TypeError, (s.astype(np.float16), y), {}
    yield "scores", TypeError, (s.astype(complex), y), {}
    yield "scores", ValueError, (s[None], y), {}
    label_name = "targets" if name in ("categorical_hinge", "multilabel_margin") else "labels"
    yield label_name, ValueError, (s, y[:-1]), {}
    yield "sample_weight", ValueError, (s, y), {"sample_weight": np.ones(n + 1)}
    yield "sample_weight", TypeError, (s, y), {"sample_weight": np.ones(n, complex)}
    yield "reduction", ValueError, (s, y), {"reduction": "average"}
    yield "return_grad", TypeError, (s, y), {"return_grad": "no"}
    yield "n_threads", ValueError, (s, y), {"n_threads": 0}
    yield "n_threads", TypeError, (s, y), {"n_threads": 1.5}
    yield "out", ValueError, (s, y), {"out": np.empty((n + 1, *s.shape[1:]))}
    yield "out", TypeError, (s, y), {"out": np.empty(s.shape, np.float32)}
    yield "out", ValueError, (s, y), {"out": np.empty(s.shape), "return_grad": False}
    if "p" in takes:
        yield "p", ValueError, (s, y), {"p": 3}
    if "margin" in takes:
        yield "margin", ValueError, (s, y), {"margin": np.nan}
        yield "margin", TypeError, (s, y), {"margin": "1"}
    if "kink" in takes:
        yield "kink", ValueError, (s, y), {"kink": "left"}
    if "ties" in takes:
        yield "ties", ValueError, (s, y), {"ties": "last"}


CASES = [
    (name, argument, exc, args, kwargs)
    for name in LOSSES
    for argument, exc, args, kwargs in _bad_calls(name)
]


@pytest.mark.parametrize(
    "name,argument,exc,args,kwargs",
    CASES,
    ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CASES)],
)
def test_bad_argument_raises_naming_it_and_touches_nothing(name, argument, exc, args, kwargs):
    func, _, _, extra, _ = LOSSES[name]
    originals = [np.array(a, copy=True) for a in args]
    out = kwargs.get("out")
    out_before = None if out is None else out.copy()
    with pytest.raises(exc, match=argument):
        func(*args, *extra, **kwargs)
    for before, after in zip(originals, args, strict=True):
        np.testing.assert_array_equal(np.asarray(after), before)
    if out is not None:
        np.testing.assert_array_equal(out, out_before)


@pytest.mark.parametrize("name", list(LOSSES))
def test_out_aliasing_an_input_is_refused(name):
    func, s, y, extra, _ = LOSSES[name]
    scores = s.copy()
    before = scores.copy()
    with pytest.raises(ValueError, match="out must not share memory"):
        func(scores, y, *extra, out=scores)
    np.testing.assert_array_equal(scores, before)


@pytest.mark.parametrize("name", list(LOSSES))
def test_valid_call_of_the_matrix_baseline(name):
    """The baseline arguments above are valid: each bad call differs in one argument."""
    func, s, y, extra, _ = LOSSES[name]
    loss, grad = func(s, y, *extra)
    assert np.isfinite(loss) and grad.shape == s.shape
