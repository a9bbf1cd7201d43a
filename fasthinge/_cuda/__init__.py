"""The GPU path: fused hinge kernels on numba-cuda, for arrays that live on an NVIDIA GPU.

Imported only when a public function receives a device array (see
``fasthinge._device``). ``_runtime`` is the only module that imports
``numba.cuda``; ``_kernels`` holds the kernels, ``api`` the per-function
validation and launches. See ``docs/gpu.md``.
"""
