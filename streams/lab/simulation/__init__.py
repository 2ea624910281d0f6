"""Allocation policies against the sandbox market, offline, with known ground truth (``roasloop simulate``)."""
