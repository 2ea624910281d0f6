"""Helpers of ``bench/chaos.py``: the workload, the stage processes, the end-of-run checks."""
