"""CPU kernels: pure ``@njit`` functions that write into preallocated outputs.

Importing this package imports Numba (it is imported lazily by the public API,
on the first call, never by ``import fasthinge``).
"""
