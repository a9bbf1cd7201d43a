"""weston_watkins against vectors written by running PyTorch's F.multi_margin_loss."""

import numpy as np
import pytest
from golden_data import cases

import fasthinge as fh

TORCH = cases("torch")


def test_golden_file_covers_the_conventions():
    assert len(TORCH) > 400
    kinds = {(c["kwargs"]["p"], c["kwargs"]["reduction"], c["scores"].dtype.name) for _, c in TORCH}
    assert len(kinds) == 2 * 3 * 2


@pytest.mark.parametrize("name,case", TORCH, ids=[n for n, _ in TORCH])
def test_weston_watkins_equals_torch(name, case):
    kw = dict(case["kwargs"])
    w = case["class_weight"]
    loss, grad = fh.weston_watkins(
        case["scores"], case["labels"], class_weight=w if w.size else None, **kw
    )
    # Rows are computed in PyTorch's order of operations: bit-identical.
    np.testing.assert_array_equal(grad, case["grad"])
    if kw["reduction"] == "none":
        np.testing.assert_array_equal(loss, case["loss"])
    else:  # both accumulate the rows in float64; only the order of additions differs
        rtol = 1e-6 if case["scores"].dtype == np.float32 else 1e-12
        np.testing.assert_allclose(loss, case["loss"], rtol=rtol)
    assert np.asarray(loss).dtype == case["scores"].dtype


def test_seed_example_float32_bits():
    s = np.array([[0.1, 0.2, 0.4, 0.8]], dtype=np.float32)
    loss, grad = fh.weston_watkins(s, np.array([3]))
    assert loss.tobytes() == bytes.fromhex("6666a63e")  # 0.32499998807907104
    assert float(loss) == 0.32499998807907104
    np.testing.assert_array_equal(grad, [[0.25, 0.25, 0.25, -0.75]])
    assert float(fh.weston_watkins([[0.1, 0.2, 0.4, 0.8]], [3], return_grad=False)) == (
        0.32499999999999996
    )
    assert float(fh.weston_watkins(s, [3], p=2, return_grad=False)) == pytest.approx(0.1525)
    assert float(
        fh.weston_watkins(s, [3], class_weight=[1, 2, 3, 4], return_grad=False)
    ) == pytest.approx(1.3)


def test_cs231n_is_torch_times_c():
    rng = np.random.default_rng(0)
    s = rng.standard_normal((20, 7))
    y = rng.integers(0, 7, 20)
    a = fh.weston_watkins(s, y, return_grad=False)
    b = fh.weston_watkins(s, y, normalize=False, return_grad=False)
    np.testing.assert_allclose(b, 7 * a, rtol=1e-14)


torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(6))
def test_live_random_inputs(dtype, seed):
    """Fresh random shapes and keywords against running torch: loss and autograd gradient."""
    rng = np.random.default_rng(1000 + seed)
    n, c = int(rng.integers(1, 400)), int(rng.choice([2, 3, 10, 100, 1000]))
    s = (rng.standard_normal((n, c)) * rng.uniform(0.1, 5)).astype(dtype)
    y = rng.integers(0, c, n)
    p, margin = int(rng.choice([1, 2])), float(rng.choice([1.0, 0.1, 2.5]))
    weight = rng.uniform(0.1, 3, c).astype(dtype) if seed % 2 else None
    for reduction in ("mean", "sum", "none"):
        x = torch.tensor(s, requires_grad=True)
        out = torch.nn.functional.multi_margin_loss(
            x,
            torch.tensor(y),
            p=p,
            margin=margin,
            reduction=reduction,
            weight=None if weight is None else torch.tensor(weight),
        )
        (out.sum() if reduction == "none" else out).backward()
        loss, grad = fh.weston_watkins(
            s, y, p=p, margin=margin, class_weight=weight, reduction=reduction
        )
        np.testing.assert_array_equal(grad, x.grad.numpy())  # PyTorch's order: bit-identical
        rtol = 1e-6 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(loss, out.detach().numpy(), rtol=rtol)
