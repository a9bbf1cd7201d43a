"""fasthinge.compat against vectors written by running the real peers (tests/golden/compat_*)."""

import numpy as np
import pytest
from golden_data import cases

import fasthinge as fh
from fasthinge.compat import keras as fk
from fasthinge.compat import optax as fo
from fasthinge.compat import sklearn as fs
from fasthinge.compat import torch as ft
from fasthinge.compat import torchmetrics as ftm


def _opt(case, name):
    value = case.get(name)
    return None if value is None or value.size == 0 else value


def _torch(case, kw):
    fn = kw["function"].rsplit(".", 1)[1]
    if fn == "multilabel_margin_loss":
        return ft.multilabel_margin_loss(
            case["input"], case["target"], reduction=kw["reduction"], return_grad=True
        )
    if fn == "hinge_embedding_loss":
        return ft.hinge_embedding_loss(
            case["input"],
            case["target"],
            margin=kw["margin"],
            reduction=kw["reduction"],
            return_grad=True,
        )
    module = ft.MultiMarginLoss(
        p=kw["p"], margin=kw["margin"], weight=_opt(case, "class_weight"), reduction=kw["reduction"]
    )
    return module(case["input"], case["target"], return_grad=True)


def _torchmetrics(case, kw):
    if kw["function"].endswith("binary_hinge_loss"):
        return ftm.binary_hinge_loss(
            case["preds"],
            case["target"],
            squared=kw.get("squared", False),
            ignore_index=kw.get("ignore_index"),
            return_grad=True,
        )
    return ftm.multiclass_hinge_loss(
        case["preds"],
        case["target"],
        kw["num_classes"],
        squared=kw.get("squared", False),
        multiclass_mode=kw["multiclass_mode"],
        ignore_index=kw.get("ignore_index"),
        return_grad=True,
    )


def _keras(case, kw):
    fn = kw["function"].rsplit(".", 1)[1]
    if fn[0].islower():
        return getattr(fk, fn)(case["y_true"], case["y_pred"], return_grad=True)
    dtype = np.float32 if kw["dtype_arg"] is None else np.dtype(kw["dtype_arg"])
    loss = getattr(fk, fn)(reduction=kw["reduction"], dtype=dtype)
    return loss(
        case["y_true"], case["y_pred"], sample_weight=_opt(case, "sample_weight"), return_grad=True
    )


def _optax(case, kw):
    fn = kw["function"].rsplit(".", 1)[1]
    if fn.startswith("multiclass"):
        return getattr(fo, fn)(case["scores"], case["labels"], return_grad=True)
    return getattr(fo, fn)(case["predictor_outputs"], case["targets"], return_grad=True)


def _sklearn(case, kw):
    fn = kw["function"].rsplit(".", 1)[1]
    if fn == "hinge_loss":
        loss = fs.hinge_loss(
            case["y_true"],
            case["pred_decision"],
            labels=kw["labels"],
            sample_weight=_opt(case, "sample_weight"),
        )
        return loss, None
    f, y = case["p"], case["y"]  # SGD loss objects: elementwise values and derivatives
    if fn == "Hinge":
        return fh.binary_hinge(f, y, margin=kw["threshold"], kink="full", reduction="none")
    if fn == "SquaredHinge":
        return fh.binary_hinge(f, y, margin=kw["threshold"], p=2, reduction="none")
    return fh.modified_huber(f, y, reduction="none")


RUNNERS = {
    "torch": _torch,
    "torchmetrics": _torchmetrics,
    "keras": _keras,
    "optax": _optax,
    "sklearn": _sklearn,
}
ALL = [(peer, name, case) for peer in RUNNERS for name, case in cases(f"compat_{peer}")]


def _tol(case, kw):
    single = kw.get("dtype") == "float32" or (kw.get("dtype_arg", "x") is None)
    single |= (
        kw["function"].startswith("keras.losses.")
        and kw["function"][13].islower()
        and ("hinge" in kw["function"] and "categorical" not in kw["function"])
    )  # float32 ops.mean
    return dict(rtol=1e-6, atol=1e-6) if single else dict(rtol=1e-12, atol=1e-12)


def test_every_peer_is_covered():
    assert {peer for peer, _, _ in ALL} == set(RUNNERS)
    assert len(ALL) > 300


@pytest.mark.parametrize("peer,name,case", ALL, ids=[f"{p}-{n}" for p, n, _ in ALL])
def test_compat_equals_peer(peer, name, case):
    kw = case["kwargs"]
    if "error" in kw:  # the peer raised: so must we
        with pytest.raises(Exception):  # noqa: B017 - the peer's own exception types vary
            RUNNERS[peer](case, kw)
        return
    loss, grad = RUNNERS[peer](case, kw)
    tol = _tol(case, kw)
    expected_loss, expected_grad = case.get("loss"), case.get("grad")
    if kw["function"].startswith("sklearn.linear_model._sgd_fast"):
        # SGD maps a NaN score to loss 0 (Hinge) or dloss -4y (ModifiedHuber); fasthinge
        # propagates NaN instead (documented): compare elsewhere, and check the NaN.
        nan = np.isnan(case["p"])
        assert np.isnan(loss[nan]).all() and np.isnan(grad[nan]).all()
        loss, grad = loss[~nan], grad[~nan]
        expected_loss, expected_grad = expected_loss[~nan], expected_grad[~nan]
    if "loss_undefined" not in kw:
        assert np.shape(loss) == np.shape(expected_loss)
        if kw.get("kind") != "float32_under_x64":  # optax's float64 one-hot under jax x64
            assert np.asarray(loss).dtype == np.asarray(expected_loss).dtype or np.ndim(loss) == 0
        np.testing.assert_allclose(
            np.asarray(loss, float), np.asarray(expected_loss, float), equal_nan=True, **tol
        )
    if grad is not None and expected_grad is not None:
        assert np.shape(grad) == np.shape(expected_grad)
        if kw.get("kind") != "float32_under_x64":
            assert grad.dtype == expected_grad.dtype
        np.testing.assert_allclose(
            np.asarray(grad, float), np.asarray(expected_grad, float), equal_nan=True, **tol
        )


torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(4))
def test_compat_torch_live_on_fresh_random_inputs(dtype, seed):
    """compat.torch against running PyTorch on random shapes, grids (kinks, ties) included."""
    rng = np.random.default_rng(500 + seed)
    n, c = int(rng.integers(1, 60)), int(rng.integers(2, 12))
    x = (rng.integers(-6, 7, (n, c)) / 4 if seed % 2 else rng.standard_normal((n, c))).astype(dtype)
    targets = np.full((n, c), -1)
    for i in range(n):
        chosen = rng.choice(c, rng.integers(0, c), replace=False)
        targets[i, : len(chosen)] = chosen
    signs = rng.choice([-1.0, 1.0, 0.0], (n, c)).astype(dtype)
    tol = dict(rtol=1e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    for reduction in ("mean", "sum", "none"):
        calls = [
            (ft.multilabel_margin_loss, torch.nn.functional.multilabel_margin_loss, targets, {}),
            (
                ft.hinge_embedding_loss,
                torch.nn.functional.hinge_embedding_loss,
                signs,
                {"margin": 0.75},
            ),
        ]
        for ours_fn, torch_fn, target, kw in calls:
            xt = torch.tensor(x, requires_grad=True)
            out = torch_fn(xt, torch.tensor(target), reduction=reduction, **kw)
            (out.sum() if reduction == "none" else out).backward()
            loss, grad = ours_fn(x, target, reduction=reduction, return_grad=True, **kw)
            np.testing.assert_allclose(loss, out.detach().numpy(), **tol)
            np.testing.assert_allclose(grad, xt.grad.numpy(), **tol)
