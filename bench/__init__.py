"""Benchmarks: `make bench` (python -m bench) prints figures and same-run ratios; never part of CI."""
