"""The pure guardrails at their exact boundaries (the stage tests repeat the key ones end to end)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

from schemas.events import GuardrailResult
from streams.core.controls.limits import Limits
from streams.executor.guardrails import PastChange, Proposal, dither, evaluate, window_start_budget

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def change(at: datetime, prev: int, new: int, entity: str = "as1", campaign: str = "c1") -> PastChange:
    return PastChange(entity, campaign, at, prev, new)


def proposal(target: int, current: int | None = 10_000, entity: str = "as1") -> Proposal:
    return Proposal(entity, "c1", "USD", target, current, "USD" if current is not None else None)


def check(decision_checks: tuple[GuardrailResult, ...], name: str) -> bool:
    return next(c.passed for c in decision_checks if c.name == name)


def test_fifth_change_within_an_hour_is_blocked_and_allowed_once_the_first_is_an_hour_old() -> None:
    small = [change(ago(3599), 10_000, 10_010)] + [change(ago(60 * i), 10_000, 10_010) for i in (1, 2, 3)]
    blocked = evaluate(proposal(10_020), small, Limits(), NOW, paused=False)
    assert blocked.action == "blocked"
    assert not check(blocked.checks, "entity_hourly_changes")
    exactly_an_hour = [change(ago(3600), 10_000, 10_010), *small[1:]]
    allowed = evaluate(proposal(10_020), exactly_an_hour, Limits(), NOW, paused=False)
    assert allowed.action == "apply"
    assert check(allowed.checks, "entity_hourly_changes")


def test_sixteenth_action_in_a_campaign_hour_is_blocked() -> None:
    history = [change(ago(100 + i), 10_000, 10_001, entity=f"other{i}") for i in range(15)]
    assert evaluate(proposal(10_010), history, Limits(), NOW, paused=False).action == "blocked"
    assert evaluate(proposal(10_010), history[:14], Limits(), NOW, paused=False).action == "apply"


def test_campaign_limit_is_per_tenant_configurable() -> None:
    history = [change(ago(10 + i), 10_000, 10_001, entity=f"o{i}") for i in range(3)]
    limits = Limits(max_actions_per_campaign_hour=3)
    assert evaluate(proposal(10_010), history, limits, NOW, paused=False).action == "blocked"


def test_cumulative_change_of_exactly_twenty_percent_passes() -> None:
    decision = evaluate(proposal(12_000), [], Limits(), NOW, paused=False)
    assert (decision.action, decision.target_minor, decision.clamped) == ("apply", 12_000, False)


def test_one_minor_unit_over_twenty_percent_is_clamped_to_the_boundary() -> None:
    decision = evaluate(proposal(12_001), [], Limits(), NOW, paused=False)
    assert (decision.action, decision.target_minor, decision.clamped) == ("apply", 12_000, True)
    assert not check(decision.checks, "cumulative_change")


def test_one_minor_unit_over_twenty_percent_is_blocked_under_block_policy() -> None:
    decision = evaluate(proposal(12_001), [], Limits(policy="block"), NOW, paused=False)
    assert decision.action == "blocked"


def test_cumulative_counts_changes_in_both_directions_from_the_window_start_budget() -> None:
    # 10_000 -> 11_000 -> 10_500: 1_500 of the 2_000 allowance used; 500 left.
    history = [change(ago(5 * 3600), 10_000, 11_000), change(ago(3 * 3600), 11_000, 10_500)]
    decision = evaluate(proposal(11_500, current=10_500), history, Limits(), NOW, paused=False)
    assert (decision.action, decision.target_minor) == ("apply", 11_000)
    down = evaluate(proposal(10_000, current=10_500), history, Limits(), NOW, paused=False)
    assert (down.action, down.target_minor, down.clamped) == ("apply", 10_000, False)


def test_changes_older_than_six_hours_leave_the_window() -> None:
    history = [change(ago(6 * 3600), 10_000, 12_000)]
    decision = evaluate(proposal(14_400, current=12_000), history, Limits(), NOW, paused=False)
    assert (decision.action, decision.target_minor) == ("apply", 14_400)
    inside = [change(ago(6 * 3600 - 1), 10_000, 12_000)]
    assert evaluate(proposal(14_400, current=12_000), inside, Limits(), NOW, paused=False).action == "blocked"


def test_exhausted_allowance_blocks_even_under_clamp() -> None:
    history = [change(ago(600), 10_000, 12_000)]
    decision = evaluate(proposal(12_500, current=12_000), history, Limits(), NOW, paused=False)
    assert decision.action == "blocked"


def test_window_start_budget_is_the_budget_before_the_first_change_in_the_window() -> None:
    history = [change(ago(100), 11_000, 12_000), change(ago(5000), 10_000, 11_000)]
    assert window_start_budget(history, 12_000) == 10_000
    assert window_start_budget([], 12_000) == 12_000


def test_platform_minimum_clamps_up_or_blocks() -> None:
    limits = Limits(platform_min_budget_minor=100, max_change_fraction=Fraction(10))
    assert evaluate(proposal(99, current=110), [], limits, NOW, paused=False).target_minor == 100
    assert evaluate(proposal(100, current=110), [], limits, NOW, paused=False).clamped is False
    blocking = Limits(platform_min_budget_minor=100, policy="block", max_change_fraction=Fraction(10))
    assert evaluate(proposal(99, current=110), [], blocking, NOW, paused=False).action == "blocked"


def test_entity_floor_and_cap_bound_the_target() -> None:
    limits = Limits(floor_minor=9_000, cap_minor=11_000)
    assert evaluate(proposal(8_999), [], limits, NOW, paused=False).target_minor == 9_000
    assert evaluate(proposal(11_001), [], limits, NOW, paused=False).target_minor == 11_000
    at_cap = evaluate(proposal(11_000), [], limits, NOW, paused=False)
    assert (at_cap.target_minor, at_cap.clamped) == (11_000, False)


def test_kill_switch_blocks_whatever_else_passes() -> None:
    decision = evaluate(proposal(10_100), [], Limits(), NOW, paused=True)
    assert decision.action == "blocked"
    assert not check(decision.checks, "kill_switch")


def test_target_equal_to_current_is_a_noop_that_costs_no_change() -> None:
    history = [change(ago(60 * i), 10_000, 10_000 + i) for i in range(1, 5)]
    assert evaluate(proposal(10_000), history, Limits(), NOW, paused=False).action == "noop"


def test_currency_mismatch_blocks() -> None:
    p = Proposal("as1", "c1", "EUR", 10_100, 10_000, "USD")
    assert evaluate(p, [], Limits(), NOW, paused=False).action == "blocked"


def test_unknown_current_budget_sets_the_baseline() -> None:
    decision = evaluate(proposal(50_000, current=None), [], Limits(), NOW, paused=False)
    assert (decision.action, decision.target_minor) == ("apply", 50_000)


def test_every_check_is_reported() -> None:
    decision = evaluate(proposal(10_100), [], Limits(floor_minor=1, cap_minor=10**9), NOW, paused=False)
    assert [c.name for c in decision.checks] == [
        "kill_switch", "currency", "platform_minimum", "entity_floor", "entity_cap",
        "entity_hourly_changes", "campaign_hourly_actions", "cumulative_change",
    ]


def test_dither_is_bounded_and_the_same_for_the_same_change() -> None:
    values = {dither(10_000, f"c{i}", 0.03) for i in range(200)}
    assert all(9_700 <= v <= 10_300 for v in values)
    assert len(values) > 50
    assert dither(10_000, "c1", 0.03) == dither(10_000, "c1", 0.03)
    assert dither(10_000, "c1", 0.0) == 10_000


def test_dithered_target_still_obeys_the_cumulative_limit() -> None:
    for i in range(100):
        target = dither(12_000, f"d{i}", 0.03)
        decision = evaluate(proposal(target), [], Limits(), NOW, paused=False)
        assert decision.target_minor is not None and decision.target_minor <= 12_000
