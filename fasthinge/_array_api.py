"""Array-API inputs: the public functions take any array-API array and return the caller's type.

A call whose ``scores`` is a NumPy array (or a list, or a scalar) goes straight
to the function: one ``isinstance`` test, and ``array_api_compat`` is never
imported. Any other array object (one with ``__dlpack__`` or
``__array_namespace__``: PyTorch CPU tensors, JAX arrays, ...) is read on the
host without a copy where its library allows it (``np.asarray``, else
``np.from_dlpack``; JAX's buffers are read-only, which the kernels accept), and
the results are returned through the caller's namespace
(``array_api_compat.array_namespace(scores).asarray``, on ``scores``' device).

Device (CUDA) scores go to the GPU path (``_device``); a device array beside
host scores raises ``TypeError`` (arrays are never moved between devices).
Without ``array_api_compat`` installed (the ``array-api`` extra), such inputs
go through ``np.asarray`` and NumPy arrays come back, as before.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from ._device import on_device

F = TypeVar("F", bound=Callable[..., Any])

#: DLPack device types that are host memory: kDLCPU, kDLCUDAHost (pinned), kDLROCMHost.
_HOST_DEVICES = (1, 3, 11)


def is_foreign_array(value: Any) -> bool:
    """Whether ``value`` is an array of another library (not NumPy, not a list or scalar)."""
    return not isinstance(value, (np.ndarray, np.generic)) and (
        hasattr(value, "__dlpack__") or hasattr(value, "__array_namespace__")
    )


def check_host(value: Any, name: str) -> None:
    """Raise ``TypeError`` if ``value`` lives on a device (CUDA, ROCm, ...), not the host."""
    on_device = hasattr(value, "__cuda_array_interface__")
    if not on_device and hasattr(value, "__dlpack_device__"):
        try:
            on_device = int(value.__dlpack_device__()[0]) not in _HOST_DEVICES
        except Exception:  # a library whose __dlpack_device__ fails: let np.asarray decide
            on_device = False
    if on_device:
        raise TypeError(
            f"{name} is a device (CUDA) array but scores are on the host; "
            "pass every array on the same device"
        )


def to_numpy(value: Any, name: str) -> np.ndarray:
    """A host array of another library as a NumPy array, sharing its memory where possible."""
    check_host(value, name)
    if getattr(value, "requires_grad", False):
        raise TypeError(
            f"{name} is a tensor that requires grad; use fasthinge.torch for autograd, "
            f"or pass {name}.detach()"
        )
    try:
        return np.asarray(value) if hasattr(value, "__array__") else np.from_dlpack(value)
    except Exception as exc:
        raise TypeError(f"{name} could not be read as a host array: {exc}") from exc


def _namespace(scores: Any) -> Any:
    """``(xp, device)`` of ``scores``, or ``None`` without ``array_api_compat``."""
    try:
        import array_api_compat
    except ImportError:
        return None
    if not array_api_compat.is_array_api_obj(scores):
        return None
    return array_api_compat.array_namespace(scores), array_api_compat.device(scores)


def _back(result: Any, xp: Any, device: Any) -> Any:
    """NumPy results (nested in tuples) as arrays of ``xp`` on ``device``."""
    if isinstance(result, tuple):
        return tuple(_back(r, xp, device) for r in result)
    if isinstance(result, (np.ndarray, np.generic)):
        return xp.asarray(np.asarray(result), device=device)
    return result


def array_api(func: F) -> F:
    """Let ``func`` take array-API arrays and return ``scores``' array type."""
    names = func.__code__.co_varnames[: func.__code__.co_argcount]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        scores = args[0] if args else kwargs.get(names[0])
        if isinstance(scores, np.ndarray) or not is_foreign_array(scores) or on_device(scores):
            return func(*args, **kwargs)  # NumPy, array-likes, and device arrays (GPU path)
        space = _namespace(scores)
        if space is None:  # no array_api_compat: NumPy in, NumPy out, as before
            check_host(scores, names[0])
            return func(*args, **kwargs)
        args = tuple(
            to_numpy(a, names[i] if i < len(names) else "argument") if is_foreign_array(a) else a
            for i, a in enumerate(args)
        )
        out = kwargs.get("out")
        kwargs = {k: to_numpy(a, k) if is_foreign_array(a) else a for k, a in kwargs.items()}
        result = _back(func(*args, **kwargs), *space)
        if out is not None and is_foreign_array(out) and isinstance(result, tuple):
            result = (result[0], out)  # the gradient was written into the caller's buffer
        return result

    return wrapper  # type: ignore[return-value]
