"""Array-API inputs: the public functions take torch/JAX arrays and return the caller's type."""

import subprocess
import sys

import numpy as np
import pytest

import fasthinge as fh

pytest.importorskip("array_api_compat")


def _case(rng, dtype=np.float32):
    return rng.standard_normal((40, 5)).astype(dtype), rng.integers(0, 5, 40)


def test_torch_cpu_tensors_come_back_as_tensors(rng):
    torch = pytest.importorskip("torch")
    s, y = _case(rng)
    loss, grad = fh.crammer_singer(s, y, reduction="none")
    t_loss, t_grad = fh.crammer_singer(torch.from_numpy(s), torch.from_numpy(y), reduction="none")
    assert isinstance(t_loss, torch.Tensor) and isinstance(t_grad, torch.Tensor)
    assert t_loss.dtype == torch.float32 and t_grad.shape == (40, 5)
    np.testing.assert_array_equal(t_loss.numpy(), loss)
    np.testing.assert_array_equal(t_grad.numpy(), grad)
    scalar = fh.weston_watkins(torch.from_numpy(s), y, return_grad=False)
    assert isinstance(scalar, torch.Tensor) and scalar.shape == ()
    assert scalar.item() == float(fh.weston_watkins(s, y, return_grad=False))


def test_torch_out_buffer_and_compact_form(rng):
    torch = pytest.importorskip("torch")
    s, y = _case(rng)
    out = torch.empty(40, 5)
    _, grad = fh.crammer_singer(torch.from_numpy(s), y, out=out)
    assert grad is out
    np.testing.assert_array_equal(out.numpy(), fh.crammer_singer(s, y)[1])
    _, (indices, values) = fh.crammer_singer(torch.from_numpy(s), y, compact=True)
    assert isinstance(indices, torch.Tensor) and isinstance(values, torch.Tensor)
    matmul = fh.compact_matmul(torch.from_numpy(s[:, :3].copy()), indices, values, 5)
    assert isinstance(matmul, torch.Tensor) and matmul.shape == (3, 5)


def test_tensor_requiring_grad_points_to_fasthinge_torch(rng):
    torch = pytest.importorskip("torch")
    s, y = _case(rng)
    with pytest.raises(TypeError, match=r"requires grad; use fasthinge.torch"):
        fh.crammer_singer(torch.from_numpy(s).requires_grad_(), y)


def test_jax_arrays_read_only_come_back_as_jax_arrays(rng):
    jax = pytest.importorskip("jax")
    s, y = _case(rng)
    js, jy = jax.numpy.asarray(s), jax.numpy.asarray(y, dtype=jax.numpy.int32)
    assert not np.asarray(js).flags.writeable  # JAX hands out read-only buffers
    loss, grad = fh.crammer_singer(js, jy)
    assert isinstance(loss, jax.Array) and isinstance(grad, jax.Array)
    assert loss.dtype == jax.numpy.float32 and loss.shape == ()
    expected = fh.crammer_singer(s, y)
    assert float(loss) == float(expected[0])
    np.testing.assert_array_equal(grad, expected[1])
    np.testing.assert_array_equal(js, s)  # inputs untouched


def test_read_only_numpy_inputs(rng):
    s, y = _case(rng)
    expected = fh.crammer_singer(s, y)
    s.setflags(write=False)
    y.setflags(write=False)
    loss, grad = fh.crammer_singer(s, y)
    assert loss == expected[0]
    np.testing.assert_array_equal(grad, expected[1])


class _FakeDeviceArray:
    """Looks like a CUDA array to the array API (no real device needed)."""

    def __init__(self, interface: bool):
        if interface:
            self.__cuda_array_interface__ = {"shape": (2, 3), "typestr": "<f4", "version": 3}

    def __dlpack__(self, **kwargs):
        raise AssertionError("a device array must not be copied to the host")

    def __dlpack_device__(self):
        return (2, 0)  # kDLCUDA


@pytest.mark.parametrize("interface", [True, False])
def test_a_cuda_array_beside_host_scores_is_not_moved(interface):
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"labels is a device \(CUDA\) array but scores are on"):
        fh.crammer_singer(torch.zeros((2, 3)), _FakeDeviceArray(interface))


@pytest.mark.parametrize("interface", [True, False])
def test_cuda_scores_take_the_gpu_path(interface, monkeypatch):
    from fasthinge import _device

    seen = {}
    monkeypatch.setattr(_device, "on_gpu", lambda name, arguments: seen.setdefault(name, 1))
    for module in ("_multiclass", "_family", "_binary"):
        monkeypatch.setattr(f"fasthinge.{module}.on_gpu", _device.on_gpu)
    fh.crammer_singer(_FakeDeviceArray(interface), np.zeros(2, int))
    assert seen == {"crammer_singer": 1}


def test_without_array_api_compat_numpy_comes_back(rng, monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setitem(sys.modules, "array_api_compat", None)  # import fails
    s, y = _case(rng)
    loss, grad = fh.crammer_singer(torch.from_numpy(s), torch.from_numpy(y))
    assert isinstance(loss, np.float32) and isinstance(grad, np.ndarray)


def test_the_numpy_path_imports_no_framework():
    code = (
        "import sys, numpy as np, fasthinge as fh\n"
        "fh.crammer_singer(np.zeros((3, 4)), np.zeros(3, int))\n"
        "fh.crammer_singer([[0.0, 1.0]], [1])\n"
        "print(sorted({'torch', 'jax', 'dask', 'array_api_compat'} & set(sys.modules)))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"
