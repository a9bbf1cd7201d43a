"""Where the scores live: the one check the CPU path pays, and the route to the GPU path.

Nothing here imports Numba or CUDA. A public function calls ``on_device`` on
its scores only when they are not a NumPy array, so a NumPy call pays one
``type(...) is`` test; the GPU package (``fasthinge._cuda``) is imported on
the first device call only.
"""

from __future__ import annotations

from typing import Any

#: DLPack device types of CUDA memory (kDLCUDA, kDLCUDAManaged).
DLPACK_CUDA = (2, 13)


def on_device(array: Any) -> bool:
    """Whether ``array`` lives on an NVIDIA GPU.

    True for objects exposing ``__cuda_array_interface__`` (CuPy, PyTorch CUDA
    tensors, Numba device arrays), a ``__dlpack__`` on a CUDA device, and the
    device arrays of Numba's CUDA simulator.
    """
    module = type(array).__module__
    if module.startswith("torch"):  # its __cuda_array_interface__ raises when requires_grad
        return bool(getattr(array, "is_cuda", False))
    if hasattr(array, "__cuda_array_interface__"):
        return True
    if module.startswith("numba.cuda.simulator"):
        return True
    dlpack_device = getattr(array, "__dlpack_device__", None)
    if dlpack_device is not None and hasattr(array, "__dlpack__"):
        try:
            return int(dlpack_device()[0]) in DLPACK_CUDA
        except Exception:  # a host array whose __dlpack_device__ misbehaves
            return False
    return False


def on_gpu(name: str, arguments: dict) -> Any:
    """Run the public function ``name`` with ``arguments`` (its ``locals()``) on the GPU."""
    from ._cuda import api  # imports Numba's CUDA target: only for device arrays

    return api.call(name, arguments)
