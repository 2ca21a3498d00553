"""Benchmarks: the worker against a bare aiokafka + River loop, on the same
broker, data and machine, in one run (``scripts/bench.sh``)."""
