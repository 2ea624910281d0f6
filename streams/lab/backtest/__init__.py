"""Backtest: replay topics, run policies with a replay clock, estimate their value off-policy, report."""
