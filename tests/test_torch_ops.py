"""fasthinge.torch: custom ops (opcheck), values and autograd against PyTorch, torch.compile."""

import numpy as np
import pytest

import fasthinge as fh

torch = pytest.importorskip("torch")
ft = pytest.importorskip("fasthinge.torch")
F = torch.nn.functional


def _scores(rng, n, c, dtype=torch.float64):
    return torch.tensor(rng.standard_normal((n, c)) * 2, dtype=dtype)


# ------------------------------------------------------------------ opcheck, every op


def _op_cases(rng):
    """(name, args, kwargs) for each op: positional tensors, then keyword options."""
    s = _scores(rng, 7, 5).requires_grad_()
    y = torch.tensor(rng.integers(0, 5, 7))
    f = torch.tensor(rng.standard_normal(7)).requires_grad_()
    t = torch.tensor(rng.choice([-1.0, 1.0], 7))
    cost = torch.tensor(1 - np.eye(5))
    multilabel = torch.tensor([[3, 0, -1, 1, 2]] * 7)
    onehot = F.one_hot(y, 5).double()
    w, sw = torch.rand(5, dtype=torch.float64), torch.rand(7, dtype=torch.float64)
    return [
        ("weston_watkins", (s, y, w, sw), dict(p=2, reduction="none")),
        ("crammer_singer", (s, y), dict(margin=0.5, ignore_index=2)),
        ("one_vs_all", (s, y), dict(reduction="per_class")),
        ("structured_hinge", (s, y, cost), dict(reduction="sum")),
        ("topk_hinge", (s, y, 2), {}),
        ("categorical_hinge", (s, onehot), {}),
        ("multilabel_margin", (s, multilabel), {}),
        ("binary_hinge", (f, t, None), dict(p=2)),
        ("perceptron", (f, t), dict(reduction="none")),
        ("smooth_hinge", (f, t), dict(gamma=0.5)),
        ("modified_huber", (f, t), {}),
        ("hinge_embedding", (f, t), {}),
        ("multi_margin_loss", (s, y, w), dict(p=1, margin=0.7, reduction="sum")),
        ("multilabel_margin_loss", (s, multilabel), dict(reduction="none")),
        ("hinge_embedding_loss", (f, t), {}),
        ("hinge_loss", (f, t), {}),
        ("perceptron_loss", (f, t), {}),
        ("multiclass_hinge_loss", (s, y), {}),
        ("multiclass_perceptron_loss", (s, y), {}),
    ]


def test_every_op_passes_opcheck(rng):
    """torch.library.opcheck: schema, fake tensor, autograd registration, AOT dispatch."""
    cases = _op_cases(rng)
    assert sorted(name for name, _, _ in cases) == sorted(ft.OPS)
    for name, args, kwargs in cases:
        torch.library.opcheck(ft.OPS[name], args, kwargs)
    s, y = cases[0][1][:2]
    torch.library.opcheck(ft.OPS["crammer_singer"], (s.detach(), y), dict(compute_grad=False))


# ------------------------------------------------------------------ PyTorch's own losses


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_multi_margin_loss_equals_pytorch_autograd(rng, dtype, p, reduction):
    s = torch.tensor(rng.integers(-8, 9, (40, 6)) / 4, dtype=dtype)  # ties and exact kinks
    y = torch.tensor(rng.integers(0, 6, 40))
    w = torch.rand(6, dtype=dtype)
    upstream = torch.rand(40, dtype=dtype) if reduction == "none" else torch.tensor(1.7).to(dtype)
    for weight in (None, w):
        a, b = s.clone().requires_grad_(), s.clone().requires_grad_()
        ours = ft.multi_margin_loss(a, y, p=p, margin=0.9, weight=weight, reduction=reduction)
        theirs = F.multi_margin_loss(b, y, p=p, margin=0.9, weight=weight, reduction=reduction)
        ours.backward(upstream)
        theirs.backward(upstream)
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        if reduction == "none":
            assert torch.equal(ours, theirs)
        else:  # rows in PyTorch's order; the float64 sum of the rows in another order
            torch.testing.assert_close(ours, theirs, rtol=1e-6 if dtype == torch.float32 else 1e-12,
                                       atol=0)  # fmt: skip
        assert torch.equal(a.grad, b.grad)  # the fused gradient × upstream: bit-identical


def test_multi_margin_loss_one_row_and_seed_example():
    x = torch.tensor([0.1, 0.2, 0.4, 0.8], requires_grad=True)
    loss = ft.multi_margin_loss(x, torch.tensor(3), reduction="none")
    loss.backward()
    assert loss.shape == () and loss.item() == 0.32499998807907104
    assert x.grad.tolist() == [0.25, 0.25, 0.25, -0.75]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_multilabel_margin_loss_equals_pytorch_autograd(rng, reduction):
    s = _scores(rng, 30, 6, torch.float32)
    t = torch.full((30, 6), -1)
    for i in range(30):
        k = int(rng.integers(0, 5))
        t[i, :k] = torch.tensor(rng.permutation(6)[:k])
    a, b = s.clone().requires_grad_(), s.clone().requires_grad_()
    ours = ft.multilabel_margin_loss(a, t, reduction=reduction)
    theirs = F.multilabel_margin_loss(b, t, reduction=reduction)
    upstream = torch.rand(30) if reduction == "none" else torch.tensor(0.5)
    ours.backward(upstream)
    theirs.backward(upstream)
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=0)
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_hinge_embedding_loss_equals_pytorch_autograd(rng, reduction):
    x = torch.tensor(rng.integers(-8, 9, (4, 5)) / 4)  # kinks at the margin
    t = torch.tensor(rng.choice([-1.0, 1.0, 0.0], (4, 5)))
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours = ft.hinge_embedding_loss(a, t, margin=0.5, reduction=reduction)
    theirs = F.hinge_embedding_loss(b, t, margin=0.5, reduction=reduction)
    (ours * 3).sum().backward()
    (theirs * 3).sum().backward()
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=0)
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-12, atol=0)


def test_modules_equal_pytorch_modules(rng):
    s, y = _scores(rng, 25, 7), torch.tensor(rng.integers(0, 7, 25))
    w = torch.rand(7, dtype=torch.float64)
    pairs = [
        (ft.MultiMarginLoss(p=2, margin=0.5, weight=w, reduction="sum"),
         torch.nn.MultiMarginLoss(p=2, margin=0.5, weight=w, reduction="sum"), y),
        (ft.MultiMarginLoss(size_average=False), torch.nn.MultiMarginLoss(reduction="sum"), y),
        (ft.MultiLabelMarginLoss(), torch.nn.MultiLabelMarginLoss(), torch.tensor([[1, 4, -1, 0,
                                                                    0, 0, 0]] * 25)),
        (ft.HingeEmbeddingLoss(margin=2.0, reduction="none"),
         torch.nn.HingeEmbeddingLoss(margin=2.0, reduction="none"),
         torch.tensor(rng.choice([-1.0, 1.0], (25, 7)))),
    ]  # fmt: skip
    for ours, theirs, target in pairs:
        a, b = s.clone().requires_grad_(), s.clone().requires_grad_()
        la, lb = ours(a, target), theirs(b, target)
        la.sum().backward()
        lb.sum().backward()
        torch.testing.assert_close(la, lb, rtol=1e-12, atol=0)
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-12, atol=1e-15)
    module = ft.MultiMarginLoss(weight=w)
    assert torch.equal(module.state_dict()["weight"], w)
    assert module.to(torch.float32).weight.dtype == torch.float32


# ------------------------------------------------------------------ every loss against NumPy


def _numpy_cases(rng):
    s = rng.standard_normal((20, 6))
    y = rng.integers(0, 6, 20)
    f, t = rng.standard_normal(20), rng.choice([-1.0, 1.0], 20)
    return [
        ("weston_watkins", (s, y), dict(normalize=False, reduction="none")),
        ("crammer_singer", (s, y), dict(p=2, sample_weight=rng.random(20))),
        ("one_vs_all", (s, y), dict(reduction="per_class")),
        ("structured_hinge", (s, y, rng.random((6, 6)) * (1 - np.eye(6))), {}),
        ("topk_hinge", (s, y, 3), dict(variant="beta")),
        ("categorical_hinge", (s, np.eye(6)[y]), dict(reduction="sum_over_batch_size")),
        ("multilabel_margin", (s, np.where(np.arange(6) < 2, y[:, None], -1)), {}),
        ("binary_hinge", (f, t), dict(kink="half")),
        ("perceptron", (f, t), {}),
        ("smooth_hinge", (f, t), dict(reduction="none")),
        ("modified_huber", (f, t), dict(reduction="sum")),
        ("hinge_embedding", (f, t), {}),
    ]


def test_every_loss_equals_the_numpy_function(rng):
    for name, args, kwargs in _numpy_cases(rng):
        loss, grad = getattr(fh, name)(*args, **kwargs)
        x = torch.tensor(args[0], requires_grad=True)
        rest = [torch.tensor(a) if isinstance(a, np.ndarray) else a for a in args[1:]]
        out = getattr(ft, name)(x, *rest, **kwargs)
        upstream = torch.rand(out.shape, dtype=out.dtype)
        out.backward(upstream)
        assert torch.equal(out, torch.from_numpy(np.asarray(loss))), name
        u = upstream.numpy()
        expected = grad * (u[None, :] if kwargs.get("reduction") == "per_class" else
                           u.reshape(u.shape + (1,) * (grad.ndim - u.ndim)))  # fmt: skip
        np.testing.assert_array_equal(x.grad.numpy(), expected, err_msg=name)


def test_generic_module_and_errors(rng):
    s, y = _scores(rng, 9, 4), torch.tensor(rng.integers(0, 4, 9))
    w = torch.rand(4, dtype=torch.float64)
    criterion = ft.HingeLoss("weston_watkins", p=2, class_weight=w, reduction="sum")
    assert "weston_watkins" in repr(criterion) and "class_weight" in criterion.state_dict()
    expected = fh.weston_watkins(s.numpy(), y.numpy(), p=2, class_weight=w.numpy(),
                                 reduction="sum", return_grad=False)  # fmt: skip
    assert criterion(s, y).item() == float(expected)
    with pytest.raises(TypeError, match="unexpected or repeated argument 'weight'"):
        ft.HingeLoss("crammer_singer", weight=w)
    with pytest.raises(ValueError, match="name must be one of"):
        ft.call("nope", s, y)
    with pytest.raises(TypeError, match=r"scores must be a torch.Tensor, got ndarray"):
        ft.crammer_singer(s.numpy(), y)
    with pytest.raises(ValueError, match="p must be 1 or 2"):
        ft.crammer_singer(s, y, p=3)
    with pytest.raises(TypeError, match=r"missing required argument\(s\): labels"):
        ft.crammer_singer(s)


def test_no_gradient_without_requires_grad(rng):
    s, y = _scores(rng, 9, 4), torch.tensor(rng.integers(0, 4, 9))
    _, grad = ft.OPS["crammer_singer"](s, y, compute_grad=False)
    assert grad.numel() == 0
    assert ft.crammer_singer(s, y).item() == float(fh.crammer_singer(s.numpy(), y.numpy())[0])
    with torch.no_grad():
        assert ft.crammer_singer(s.clone().requires_grad_(), y).grad_fn is None


def test_cpu_tensors_are_not_copied(rng):
    s = _scores(rng, 9, 4)
    assert np.shares_memory(ft._to_host(s), s.numpy())  # the op reads the tensor's memory
    assert np.shares_memory(ft._to_tensor(grad := np.ones(3), s.device).numpy(), grad)


# ------------------------------------------------------------------ torch.compile


def test_torch_compile_aot_eager_matches_eager(rng):
    s0 = _scores(rng, 32, 5, torch.float32)
    y, w = torch.tensor(rng.integers(0, 5, 32)), torch.rand(5)

    def objective(x):
        return ft.multi_margin_loss(x, y, p=2, weight=w) + ft.crammer_singer(x, y, reduction="sum")

    compiled = torch.compile(objective, backend="aot_eager", fullgraph=True)
    a, b = s0.clone().requires_grad_(), s0.clone().requires_grad_()
    compiled(a).backward()
    objective(b).backward()
    assert torch.equal(a.grad, b.grad)
    a.grad = None
    assert torch.equal(compiled(a), objective(b))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensors_go_to_the_gpu_path(rng):
    s = _scores(rng, 9, 4).cuda().requires_grad_()
    y = torch.tensor(rng.integers(0, 4, 9)).cuda()
    try:
        loss = ft.crammer_singer(s, y)
    except TypeError as exc:  # until fasthinge has its GPU path
        assert "GPU path" in str(exc)
    else:
        loss.backward()
        assert s.grad.device == s.device
