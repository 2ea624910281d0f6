"""A group's state gives the same posterior however its facts were ordered on the way in."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np

from streams.sampler.state import GroupState, ModelConfig

NOW = datetime(2026, 5, 20, 6, tzinfo=UTC)
CONFIG = ModelConfig()


def facts() -> list[tuple[str, date, int, int, int]]:
    """(entity, day, spend, clicks, revenue) over three weeks, uneven on purpose."""
    rng = np.random.default_rng(3)
    return [(e, date(2026, 5, 1) + timedelta(days=d), int(rng.integers(1_000, 90_000)), int(rng.integers(5, 400)),
             int(rng.integers(0, 3)) * 37_113)
            for e in ("a", "b", "c") for d in range(19)]


def state_of(rows: list[tuple[str, date, int, int, int]]) -> GroupState:
    state = GroupState.for_model("t", "g", CONFIG, total_budget_minor=150_000)
    for entity, day, spent, clicks, value in rows:
        state.record_spend(entity, "c1", day, spent, clicks, clicks * 40, 0, 50_000)
        if value:
            click = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
            state.record_revenue(entity, "c1", value, click + timedelta(hours=30), click, new_deal=True)
    return state


def test_the_posterior_is_bit_identical_whatever_order_the_days_arrived_in() -> None:
    """PostgreSQL returns rows in no particular order and a replay applies events as they come: the
    decision must not change in its last bit (its shares are compared exactly on replay)."""
    rows = facts()
    forward, backward = state_of(rows), state_of(rows[::-1])
    ids = ["a", "b", "c"]
    one, other = forward.posterior(ids, NOW, CONFIG), backward.posterior(ids, NOW, CONFIG)
    assert np.array_equal(one.mean, other.mean)
    assert np.array_equal(one.rate_shape, other.rate_shape) and np.array_equal(one.value_rate, other.value_rate)
    curves, again = forward.response(ids, NOW, CONFIG, 50_000.0), backward.response(ids, NOW, CONFIG, 50_000.0)
    assert all(np.array_equal(x, y) for x, y in [(curves.mean, again.mean), (curves.cov, again.cov),
                                                 (curves.typical_x, again.typical_x)])
