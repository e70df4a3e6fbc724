"""The benchmark harness (issue 5): `python bench/run.py --events 1M`; see docs/performance.md."""
