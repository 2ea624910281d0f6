"""What operators set at run time, per tenant, and every stage obeys: the one source of each rule.

Process settings come from the environment (:mod:`streams.core.settings`); these come from
PostgreSQL and change while the stages run: the kill switch, pipeline stage values, guardrail
limits. A stage reads them here; the operator API writes them here; offline tools (backtest,
simulation) build the same values through the same functions.
"""
