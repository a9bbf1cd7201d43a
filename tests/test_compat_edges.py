"""The compat layers' own argument handling: legacy PyTorch reductions, 1-D inputs,
module classes, and each peer's error for bad input."""

import itertools

import numpy as np
import pytest

from fasthinge.compat import keras, optax, sklearn, torch, torchmetrics
from fasthinge.compat._common import as_float_array, legacy_reduction

torch_ = pytest.importorskip("torch")


@pytest.mark.parametrize(
    ("size_average", "reduce"), itertools.product([None, True, False], [None, True, False])
)
def test_legacy_size_average_and_reduce_follow_pytorch(size_average, reduce):
    from torch.nn import _reduction

    expected = (
        "mean"
        if size_average is None and reduce is None
        else _reduction.legacy_get_string(size_average, reduce, emit_warning=False)
    )
    assert legacy_reduction(size_average, reduce, "mean") == expected


def test_as_float_array_rejects_integers():
    with pytest.raises(TypeError, match="scores must be float32 or float64, got dtype int64"):
        as_float_array(np.arange(3), "scores")


def test_multi_margin_loss_of_one_row_is_a_scalar_like_pytorch():
    x = np.array([0.1, 0.2, 0.4, 0.8], dtype=np.float32)
    loss, grad = torch.multi_margin_loss(x, np.array(3), return_grad=True)
    xt = torch_.tensor(x, requires_grad=True)
    expected = torch_.nn.functional.multi_margin_loss(xt, torch_.tensor(3))
    expected.backward()
    assert loss.shape == () and loss.tobytes() == expected.detach().numpy().tobytes()
    np.testing.assert_array_equal(grad, xt.grad.numpy())


def test_module_classes_equal_the_functions():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    y = np.array([[3, 0, -1, 1]] * 5)
    module = torch.MultiLabelMarginLoss(reduction="sum")
    for a, b in zip(
        module(x, y, return_grad=True),
        torch.multilabel_margin_loss(x, y, reduction="sum", return_grad=True),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    t = np.where(rng.random(x.shape) > 0.5, 1, -1)
    module = torch.HingeEmbeddingLoss(margin=0.5, reduce=False)
    np.testing.assert_array_equal(
        module(x, t), torch.hinge_embedding_loss(x, t, 0.5, reduction="none")
    )


def test_sklearn_hinge_loss_errors_match_scikit_learn():
    from sklearn import metrics

    s = np.array([[0.5, 0.2, 0.1], [0.1, 0.3, 0.2]])
    cases = [
        ((np.array([], int), np.empty((0, 3))), {}),
        ((np.array([0, 1]), np.array([[np.nan, 0, 0], [0, 0, 0]])), {}),
        ((np.array([0, 1]), s[:, :2]), {"labels": [0, 1, 2]}),
        ((np.array([0, 5]), s), {"labels": [0, 1, 2]}),
    ]
    for args, kwargs in cases:
        with pytest.raises(ValueError) as theirs:
            metrics.hinge_loss(*args, **kwargs)
        with pytest.raises(ValueError) as ours:
            sklearn.hinge_loss(*args, **kwargs)
        assert type(ours.value) is type(theirs.value), (args, kwargs)
    # integer decisions are used as float64, as scikit-learn does
    y, d = np.array([-1, 1, 1]), np.array([0, 2, -1])
    assert sklearn.hinge_loss(y, d) == metrics.hinge_loss(y, d)


def test_torchmetrics_validate_args():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="other than 0 and 1"):
        torchmetrics.binary_hinge_loss(x[:, 0], np.array([0, 2]), validate_args=True)
    with pytest.raises(ValueError, match="multiclass_mode"):
        torchmetrics.multiclass_hinge_loss(x, np.array([0, 1]), 3, multiclass_mode="ova")
    with pytest.raises(ValueError, match="3 classes"):
        torchmetrics.multiclass_hinge_loss(x, np.array([0, 3]), 3, validate_args=True)


def test_keras_and_optax_argument_errors():
    with pytest.raises(ValueError, match="reduction must be one of"):
        keras.Hinge(reduction="avg")
    with pytest.raises(ValueError, match="reduction must be one of"):
        keras._reduction_weights(np.ones(2), None, "avg")
    with pytest.raises(ValueError, match="same shape"):
        optax.perceptron_loss(np.zeros(3), np.ones(2))
