"""Benchmarking helpers: clean NumPy baselines, peers, timers (imported by the demo,
the benchmark command and ``asv_benchmarks``)."""
