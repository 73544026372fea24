"""Benchmark scripts: each prints the throughput of one hot path (run with ``python -m``)."""
