"""The one module that imports ``numba.cuda``: device arrays, streams, allocation.

Every array argument of a call is brought to a Numba device-array *view* (no
copy, no synchronisation: ``cuda.as_cuda_array(x, sync=False)``), work is
launched on the caller's current stream (PyTorch or CuPy), and outputs are
allocated by the caller's library, so they come back as the caller's type on
the same device.

Environment knobs, read once at import:

- ``FASTHINGE_CUDA_THREADS``: threads per block (a power of two in [32, 1024],
  default 256). The simulator tests use 32 so that tiny inputs span several
  blocks and every code path (several rows per block, several warps per row)
  runs.
- ``FASTHINGE_CUDA_MAX_GROUP``: the most threads sharing a row in the row-group kernels
  (a power of two, default 128).
- ``FASTHINGE_CUDA_MAX_BLOCKS``: the most blocks of a launch (default 2048;
  grid-stride loops cover the rest). The simulator tests use 2, so that every
  grid-stride loop takes several trips (and the simulator runs fast).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import config, cuda

#: True under ``NUMBA_ENABLE_CUDASIM=1`` (kernels run as Python threads on the CPU).
SIMULATOR = bool(config.ENABLE_CUDASIM)


def _shared_module_swap() -> None:
    """Make the simulator's ``cuda`` swap safe for device functions of another module.

    The simulator runs a device function with its module's ``cuda`` global replaced
    by the fake module, and puts the real one back when *that call* returns. A kernel
    of ``_tiles`` calling ``_kernels``' block reductions from 32 threads then fails:
    the first thread to return restores the real module under the others, still
    inside (between barriers). Here the swap is counted per module: the first
    entry replaces, the last exit restores.
    """
    import threading
    from contextlib import contextmanager

    from numba.cuda.simulator import kernel

    lock = threading.Lock()
    depth: dict = {}  # id(module globals) -> calls inside
    swapped: dict = {}  # id(module globals) -> the names that held the real module

    @contextmanager
    def swapped_cuda_module(fn: Any, fake_cuda_module: Any) -> Any:
        globs = fn.__globals__
        key = id(globs)
        with lock:
            if depth.get(key, 0) == 0:
                swapped[key] = [name for name, value in globs.items() if value is cuda]
                globs.update(dict.fromkeys(swapped[key], fake_cuda_module))
            depth[key] = depth.get(key, 0) + 1
        try:
            yield
        finally:
            with lock:
                depth[key] -= 1
                if depth[key] == 0:
                    globs.update(dict.fromkeys(swapped.pop(key), cuda))

    kernel.swapped_cuda_module = swapped_cuda_module


if SIMULATOR:
    _shared_module_swap()

INSTALL_HINT = (
    "fasthinge's GPU path needs the numba-cuda package: "
    "pip install 'fasthinge[cuda]' (CUDA 12) or 'fasthinge[cuda13]' (CUDA 13)"
)


def _power_of_two_setting(name: str, default: int, least: int) -> int:
    """The power of two in ``[least, 1024]`` set by environment variable ``name``."""
    text = os.environ.get(name, str(default))
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {text!r}") from None
    if value < least or value > 1024 or value & (value - 1):
        raise ValueError(f"{name} must be a power of two in [{least}, 1024], got {value}")
    return value


#: Threads per block of every kernel (a compile-time constant of the kernels).
TPB = _power_of_two_setting("FASTHINGE_CUDA_THREADS", 256, 32)
#: At most this many threads share a row (``FASTHINGE_CUDA_MAX_GROUP``): a wide row is
#: then swept by 128 threads, two rows a block of 256 (on an H200, Weston–Watkins at
#: C = 1000 took 3.92 ms with groups of 128 against 4.63 with 256; at C = 10⁴, 2.69
#: against 2.61).
MAX_GROUP = _power_of_two_setting("FASTHINGE_CUDA_MAX_GROUP", 128, 1)
#: At most this many blocks (grid-stride loops beyond): the number of partial sums,
#: fixed by the shape only, so the two-stage reduction is deterministic.
MAX_BLOCKS = int(os.environ.get("FASTHINGE_CUDA_MAX_BLOCKS", "2048"))


def require() -> None:
    """Raise ``ImportError`` naming the extra to install when numba-cuda is missing."""
    if not SIMULATOR and importlib.util.find_spec("numba_cuda") is None:
        raise ImportError(INSTALL_HINT)


def blocks_for(units: int, per_block: int) -> int:
    """Blocks for ``units`` work items, ``per_block`` per block and grid-stride pass."""
    return max(1, min(MAX_BLOCKS, -(-units // per_block)))


_TORCH_DTYPES = ("float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64",
                 "uint8", "bool")  # fmt: skip


@dataclass
class Device:
    """The caller's array library, device and stream (taken from the scores)."""

    kind: str  # "torch", "cupy" or "numba"
    device: Any  # torch.device / cupy Device / None
    stream: Any  # a Numba stream (the caller's current stream), or 0 in the simulator
    index: int | None  # CUDA device ordinal, when known

    def empty(self, shape: tuple, dtype: Any) -> tuple:
        """``(caller_array, numba_view)`` of a new uninitialised array on this device.

        ``dtype`` may be ``BFLOAT16``: the view then holds the bits (int16).
        """
        if self.kind == "torch":  # pragma: no cover (GPU only)
            import torch

            name = BFLOAT16 if dtype == BFLOAT16 else np.dtype(dtype).name
            array = torch.empty(shape, dtype=getattr(torch, name), device=self.device)
            return array, view(array)
        if dtype == BFLOAT16:  # a Numba (or simulator) array of ml_dtypes' bfloat16
            import ml_dtypes

            array = cuda.device_array(shape, ml_dtypes.bfloat16, stream=self.stream)
            return array, view(array)
        dtype = np.dtype(dtype)
        if self.kind == "cupy":  # pragma: no cover (GPU only)
            import cupy

            with self.device:
                array = cupy.empty(shape, dtype)
            return array, view(array)
        array = cuda.device_array(shape, dtype, stream=self.stream)
        return array, array

    def context(self) -> Any:
        """A context manager making this device current for Numba (a no-op when unknown)."""
        if SIMULATOR or self.index is None:
            return _Nothing()
        return cuda.gpus[self.index]  # pragma: no cover (GPU only)


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def placeholder(ndim: int, dtype: Any) -> Any:
    """An empty Numba device array of ``ndim`` dimensions (no allocation)."""
    return cuda.device_array((0,) * ndim, np.dtype(dtype))


def library(array: Any) -> str:
    """``"torch"``, ``"cupy"`` or ``"numba"`` (any other CUDA array interface)."""
    module = type(array).__module__.split(".")[0]
    return module if module in ("torch", "cupy") else "numba"


def from_dlpack(array: Any) -> Any:  # pragma: no cover (GPU only)
    """A CuPy or PyTorch view of a DLPack-only CUDA array (whichever is installed)."""
    for name in ("cupy", "torch"):
        if importlib.util.find_spec(name) is not None:
            module = importlib.import_module(name)
            return module.from_dlpack(array)
    raise TypeError(
        f"{type(array).__name__} exposes only __dlpack__; install CuPy or PyTorch to pass it, "
        "or pass an array with __cuda_array_interface__"
    )


def device_of(scores: Any) -> Device:
    """The library, device and current stream of ``scores``."""
    kind = library(scores)
    if SIMULATOR:
        return Device(kind, getattr(scores, "device", None), 0, None)
    if kind == "torch":  # pragma: no cover (GPU only)
        import torch

        index = scores.device.index
        handle = torch.cuda.current_stream(scores.device).cuda_stream
        return Device(kind, scores.device, _stream(handle), index)
    if kind == "cupy":  # pragma: no cover (GPU only)
        import cupy

        handle = cupy.cuda.get_current_stream().ptr
        return Device(kind, scores.device, _stream(handle), scores.device.id)
    return Device(kind, None, cuda.default_stream(), None)  # pragma: no cover (GPU only)


def _stream(handle: int) -> Any:  # pragma: no cover (GPU only)
    return cuda.external_stream(handle) if handle else cuda.default_stream()


#: The dtype name of bfloat16 arrays (PyTorch's, or ml_dtypes' in NumPy-based arrays).
BFLOAT16 = "bfloat16"


def is_bfloat16(array: Any) -> bool:
    """Whether ``array`` holds bfloat16 values (``torch.bfloat16`` or ml_dtypes' ``bfloat16``)."""
    return str(getattr(array, "dtype", "")).rpartition(".")[2] == BFLOAT16


def view(array: Any) -> Any:
    """A Numba device-array view of a CUDA array: no copy and no synchronisation.

    Numba has no bfloat16 type: a bfloat16 array is viewed as its bits (int16).
    """
    if is_bfloat16(array):
        if library(array) == "torch":  # pragma: no cover (GPU only)
            import torch

            return view(array.view(torch.int16))
        return array.view(np.int16)  # a Numba device array of ml_dtypes' bfloat16
    if SIMULATOR or isinstance(array, cuda.devicearray.DeviceNDArray):
        return array
    if library(array) == "torch":  # pragma: no cover (GPU only)
        array = array.detach()  # a tensor that requires grad has no array interface
    return cuda.as_cuda_array(array, sync=False)  # pragma: no cover (GPU only)


def is_device_array(array: Any) -> bool:
    """Whether ``array`` is a device array Numba can view (simulator arrays included)."""
    if SIMULATOR:
        return type(array).__module__.startswith("numba.cuda.simulator")
    if library(array) == "torch":  # pragma: no cover (GPU only)
        return bool(array.is_cuda)
    return hasattr(array, "__cuda_array_interface__")


def address_range(array: Any) -> tuple:
    """``(start, end)`` byte addresses spanned by a device array (for overlap checks)."""
    if SIMULATOR:
        interface = array._ary.__array_interface__  # the simulator's host buffer
        shape, strides = array.shape, array._ary.strides
    else:  # pragma: no cover (GPU only)
        interface = array.__cuda_array_interface__
        shape = tuple(interface["shape"])
        strides = interface.get("strides")
    itemsize = np.dtype(interface["typestr"]).itemsize
    if strides is None:  # C-contiguous
        strides = tuple(int(np.prod(shape[k + 1 :])) * itemsize for k in range(len(shape)))
    start = interface["data"][0]
    if 0 in shape:
        return start, start
    low = start + sum((n - 1) * s for n, s in zip(shape, strides, strict=True) if s < 0)
    high = start + sum((n - 1) * s for n, s in zip(shape, strides, strict=True) if s > 0) + itemsize
    return low, high


def to_host(array: Any, stream: Any) -> np.ndarray:
    """Copy a small device array to the host (this synchronises ``stream``)."""
    if SIMULATOR:
        return array.copy_to_host()
    host = array.copy_to_host(stream=stream)  # pragma: no cover (GPU only)
    stream.synchronize()  # pragma: no cover (GPU only)
    return host  # pragma: no cover (GPU only)


__all__ = ["BFLOAT16", "MAX_BLOCKS", "SIMULATOR", "TPB", "Device", "cuda"]
