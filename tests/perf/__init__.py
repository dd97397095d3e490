"""Benchmarks: run as ``python -m tests.perf.bench_<name>``; never collected as tests."""
