"""The simulator's yardstick: expected value of the budgets set, against an oracle under the same guardrails."""

from __future__ import annotations

from streams.lab.simulation.simulate import run, simulate


def test_no_policy_beats_the_guarded_oracle_in_expectation_even_on_a_drifting_market() -> None:
    oracle = run("drift", "oracle", 0, days=30, drain_days=0)
    for policy in ("thompson", "equal", "greedy"):
        mine = run("drift", policy, 0, days=30, drain_days=0)
        assert mine.expected_pipeline_value_minor <= oracle.expected_pipeline_value_minor


def test_every_group_keeps_at_least_98_percent_of_its_total_in_force_every_day() -> None:
    for scenario in ("many_adsets", "value_skew"):
        result = run(scenario, "thompson", 1, days=25, drain_days=0)
        assert result.min_budget_share >= 0.98, scenario


def test_simulate_reports_expected_share_spend_share_and_budget_changes() -> None:
    out = simulate("fast_small", "equal", 0, days=8)
    assert 0 < out["expected_share_of_oracle"] <= 1.0
    assert out["spend_share"] > 0.9
    assert out["budget_changes"] == 0  # an equal split from an equal start never moves
    assert out["min_budget_share"] >= 0.98
