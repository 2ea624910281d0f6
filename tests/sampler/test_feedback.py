"""Delayed feedback and drift, on the GroupState the stage and simulation share."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np

from streams.sampler.policy import AllocationRequest, Thompson
from streams.sampler.state import GroupState, ModelConfig

START = date(2026, 1, 1)


def at(day: int, hours: float = 12.0) -> datetime:
    return datetime.combine(START, datetime.min.time(), tzinfo=UTC) + timedelta(days=day, hours=hours)


def spend(state: GroupState, entity: str, day: int, amount: int = 1_000) -> None:
    state.record_spend(entity, "c1", START + timedelta(days=day), amount, clicks=amount // 50, impressions=2_000,
                       results=0, daily_budget_minor=amount)


def deal(state: GroupState, entity: str, click_day: int, lead: int, later: int, lag_days: int, now_day: int) -> None:
    """A deal from a click on ``click_day``: ``lead`` credited at once, ``later`` after ``lag_days`` (if by now)."""
    click = at(click_day, 10)
    state.record_revenue(entity, "c1", lead, click + timedelta(hours=2), click, new_deal=True)
    if click_day + lag_days < now_day:
        state.record_revenue(entity, "c1", later, click + timedelta(days=lag_days), click, new_deal=False)


def shares_at(state: GroupState, now: datetime, config: ModelConfig, ids: tuple[str, ...] = ("a", "b")) -> np.ndarray:
    req = AllocationRequest(state, now, ids, np.zeros(len(ids), dtype=np.int64), 2_000)  # shares, no floors
    return Thompson(config, draws=20_000, floor_share=0.0).allocate(req, np.random.default_rng(0)).shares


def test_an_entity_whose_deals_are_in_flight_is_not_starved() -> None:
    """B started five days ago: its deals exist but their value (90% of it) lands after 8 days."""
    now_day = 30
    state = GroupState("t", "g", total_budget_minor=2_000)
    for d in range(now_day):
        spend(state, "a", d)
        for _ in range(2):
            deal(state, "a", d, lead=100, later=900, lag_days=8, now_day=now_day)
    for d in range(now_day - 5, now_day):
        spend(state, "b", d)
        for _ in range(2):
            deal(state, "b", d, lead=100, later=900, lag_days=8, now_day=now_day)
    config = ModelConfig(half_life_days=float("inf"), value_half_life_days=float("inf"))
    now = at(now_day, 0)
    post = state.posterior(("a", "b"), now, config)
    naive_b = sum(f.revenue_minor for f in state.days["b"].values()) / 5_000
    naive_a = sum(f.revenue_minor for f in state.days["a"].values()) / 30_000
    assert naive_b < 0.2 * naive_a  # judged on credits so far, B would look five times worse
    assert post.mean[1] > 0.7 * post.mean[0]  # developed exposure: B looks about as good as A
    assert shares_at(state, now, config)[1] > 0.25  # and keeps a real share of the budget


def test_allocation_follows_a_change_of_the_best_entity_within_the_half_life() -> None:
    """A is best for 30 days, then fatigues while B improves: by one half-life later B leads."""
    half_life = 5.0
    config = ModelConfig(half_life_days=half_life, value_half_life_days=60.0)
    state = GroupState("t", "g", total_budget_minor=2_000)
    change = 30
    end = change + int(half_life)
    history: list[np.ndarray] = []
    for d in range(end):
        for j, entity in enumerate(("a", "b")):  # budgets that move (so delivery is seen to be linear)
            spend(state, entity, d, 1_000 + 300 * ((d + j) % 3 - 1))
        rate_a, rate_b = (3, 1) if d < change else (1, 3)
        for _ in range(rate_a):
            deal(state, "a", d, lead=1_000, later=0, lag_days=0, now_day=end)
        for _ in range(rate_b):
            deal(state, "b", d, lead=1_000, later=0, lag_days=0, now_day=end)
        history.append(shares_at(state, at(d + 1, 0), config))
    assert history[change - 1][0] > 0.9  # A clearly best before the change
    assert history[-1][1] > 0.5  # B best one half-life after it
    slow = ModelConfig(half_life_days=60.0, value_half_life_days=60.0)
    assert shares_at(state, at(end, 0), slow)[1] < 0.5  # a long memory would still back A
