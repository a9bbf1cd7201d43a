"""Benchmarking helpers: clean NumPy baselines, the copy roofline and timers.

Used by the demo, ``python -m fasthinge.bench`` and ``asv_benchmarks``.
"""
