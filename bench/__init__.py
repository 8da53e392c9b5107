"""Benchmark of the data plane against a per-record baseline and a pyarrow floor (python -m bench)."""
