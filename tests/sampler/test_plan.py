"""Planning budget moves inside the guardrails keeps the group's total (the whole budget is spent)."""

from __future__ import annotations

import numpy as np

from streams.sampler.allocation import change_pays, guardrail_box, plan_budgets


def _ints(*xs: int) -> np.ndarray:
    return np.array(xs, dtype=np.int64)


def test_cuts_and_raises_are_planned_together_so_the_total_is_kept_under_the_velocity_limit() -> None:
    # thirty ad sets, all but one cut to the minimum: clamped one by one the total would shrink to ~80%
    current = np.full(30, 1_000, dtype=np.int64)
    target = np.full(30, 100, dtype=np.int64)
    target[0] = 30_000 - 29 * 100
    planned = plan_budgets(target, current, np.full(30, 100, dtype=np.int64), 30_000,
                           max_change_fraction=0.2, hysteresis=0.05)
    low, high = guardrail_box(current, np.full(30, 100, dtype=np.int64), 0.2)
    assert int(planned.sum()) == 30_000
    assert np.all(planned >= low) and np.all(planned <= high)
    assert planned[0] == 1_200  # the favourite rises as far as allowed; the others are cut only as far as that pays


def test_small_moves_are_dropped_without_leaking_the_total() -> None:
    current = _ints(10_000, 10_000, 10_000)
    planned = plan_budgets(_ints(10_300, 12_000, 7_700), current, _ints(100, 100, 100), 30_000,
                           max_change_fraction=0.2, hysteresis=0.05)
    assert planned[0] == 10_000  # a 3% move is not worth a request
    assert int(planned.sum()) == 30_000


def test_a_target_inside_the_box_is_requested_as_is() -> None:
    planned = plan_budgets(_ints(11_500, 8_500), _ints(10_000, 10_000), _ints(100, 100), 20_000,
                           max_change_fraction=0.2, hysteresis=0.05)
    assert planned.tolist() == [11_500, 8_500]


def test_a_box_that_cannot_hold_the_total_ends_at_its_edge() -> None:
    # budgets far below the total: everyone rises by the most one change allows
    planned = plan_budgets(_ints(10_000, 10_000), _ints(1_000, 1_000), _ints(100, 100), 20_000,
                           max_change_fraction=0.2, hysteresis=0.05)
    assert planned.tolist() == [1_200, 1_200]


def test_a_move_is_made_only_when_its_gain_beats_the_change_cost() -> None:
    rng = np.random.default_rng(0)
    current, planned = _ints(10_000, 10_000), _ints(12_000, 8_000)
    clear = np.column_stack([rng.normal(3.0, 0.2, 500), rng.normal(1.0, 0.2, 500)])  # the first is 3x better
    noise = np.column_stack([rng.normal(1.05, 0.3, 500), rng.normal(1.0, 0.3, 500)])  # alike, means differ by noise

    def pays(draws: np.ndarray, cost_days: float = 0.25) -> bool:
        return change_pays(draws, current, planned, cost_days=cost_days, horizon_days=14, confidence=0.8)

    assert pays(clear)
    assert not pays(noise)
    assert pays(noise, cost_days=0.0)  # no cost: any move goes
    assert not pays(clear, cost_days=30.0)  # a cost no gain covers


def test_a_plan_that_restores_the_groups_total_is_made_whatever_the_change_cost() -> None:
    # a new ad set joined with its own budget: the group runs 50% over its total until the plan cuts it back
    draws = np.ones((200, 3))
    assert change_pays(draws, _ints(10_000, 10_000, 10_000), _ints(8_000, 8_000, 4_000), cost_days=0.25,
                       horizon_days=14, confidence=0.8)
