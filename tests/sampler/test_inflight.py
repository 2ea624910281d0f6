"""Value in flight: open deals count at what peers open at the same stage and age became, not at
their early credits; resolved deals at what they resolved to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from streams.sampler.inflight import DealCredit, eventual_values
from streams.sampler.state import GroupState, ModelConfig

NOW = datetime(2026, 5, 30, 6, tzinfo=UTC)
LEAD, APPOINTMENT, WHALE = 50_000, 150_000, 6_000_000
CONFIG = ModelConfig()


Step = tuple[float, str, str, int]


def deal(state: GroupState, entity: str, deal_id: str, click: datetime, path: list[Step]) -> None:
    """Feed a deal's credits: (days after the click, kind, stage id, credited total after)."""
    total = 0
    for days, kind, stage, after in path:
        at = click + timedelta(days=days)
        state.record_revenue(entity, "c1", after - total, at, click, new_deal=total == 0 < after,
                             deal=DealCredit(deal_id, kind, stage, after))
        total = after


def lead(days: float = 0.1) -> tuple[float, str, str, int]:
    return days, "synthetic", "appointmentscheduled", LEAD


def appointment(days: float) -> tuple[float, str, str, int]:
    return days, "synthetic", "presentationscheduled", APPOINTMENT


def won(days: float, amount: int) -> tuple[float, str, str, int]:
    return days, "actual", "closedwon", amount


def lost(days: float) -> tuple[float, str, str, int]:
    return days, "reversal", "closedlost", 0


def whale_history(state: GroupState) -> None:
    """Old whale deals: some lost early from the lead stage, the rest won big after an appointment."""
    start = NOW - timedelta(days=40)
    for n in range(6):
        click = start + timedelta(days=n)
        if n % 3 == 0:
            deal(state, "whale", f"w{n}", click, [lead(), lost(2.0)])
        else:
            deal(state, "whale", f"w{n}", click, [lead(), appointment(4.0), won(20.0, WHALE)])


def test_an_open_deal_is_valued_at_what_its_resolved_peers_at_its_stage_and_age_became() -> None:
    state = GroupState.for_model("t", "g", CONFIG)
    whale_history(state)
    deal(state, "whale", "open", NOW - timedelta(days=8), [lead(), appointment(4.0)])
    v = eventual_values(state.deals, ["whale"], NOW, CONFIG.horizon_days, entity_pseudo=3.0,
                        lookahead_days=CONFIG.in_flight_lookahead_days)
    open_value = v.value[-1]  # open deals come after the resolved ones
    assert open_value > 10 * APPOINTMENT  # not its credit so far
    assert open_value < WHALE  # shrunk towards the group (here the same deals) and its own credit
    assert v.value_sq[-1] > open_value ** 2  # the spread of what it may become is kept


def test_a_young_open_deal_is_not_judged_by_its_quick_losing_peers_alone() -> None:
    state = GroupState.for_model("t", "g", CONFIG)
    whale_history(state)
    deal(state, "whale", "young", NOW - timedelta(hours=12), [lead(0.01)])
    deal(state, "whale", "older", NOW - timedelta(days=3.5), [lead()])
    v = eventual_values(state.deals, ["whale"], NOW, CONFIG.horizon_days, entity_pseudo=3.0,
                        lookahead_days=CONFIG.in_flight_lookahead_days)
    # ordering of open deals is by deal id: "older" < "young"
    older, young = v.value[-2], v.value[-1]
    assert older > young  # by 3 days the quick losses are out of the comparison


def test_a_deal_open_past_the_horizon_has_stalled_and_counts_at_its_credit() -> None:
    state = GroupState.for_model("t", "g", CONFIG)
    whale_history(state)
    deal(state, "whale", "stalled", NOW - timedelta(days=CONFIG.horizon_days + 1), [lead()])
    v = eventual_values(state.deals, ["whale"], NOW, CONFIG.horizon_days, entity_pseudo=3.0,
                        lookahead_days=CONFIG.in_flight_lookahead_days)
    assert LEAD in v.value.tolist()


def test_large_deals_still_open_raise_the_value_posterior_above_the_credits_so_far() -> None:
    """The value_skew failure: a sparse ad set with huge deals, most of them still open."""
    def group(in_flight: bool) -> float:
        config = ModelConfig(value_in_flight=in_flight)
        state = GroupState.for_model("t", "g", config, total_budget_minor=20_000)
        for d in range(40):
            day = (NOW - timedelta(days=d)).date()
            state.record_spend("whale", "c1", day, 10_000, 20, 2_000, 0, 10_000)
            state.record_spend("smb", "c1", day, 10_000, 50, 5_000, 0, 10_000)
        start = NOW - timedelta(days=35)  # one whale won so far, two lost early
        deal(state, "whale", "w0", start, [lead(), appointment(4.0), won(20.0, WHALE)])
        deal(state, "whale", "w1", start, [lead(), lost(2.0)])
        deal(state, "whale", "w2", start, [lead(), lost(2.0)])
        for n in range(8):  # recent whale deals, at appointment, not closed yet
            deal(state, "whale", f"r{n}", NOW - timedelta(days=6 + n), [lead(), appointment(3.0)])
        for n in range(60):  # many small SMB deals, mostly resolved small
            click = NOW - timedelta(days=1 + n * 0.5)
            deal(state, "smb", f"s{n:02d}", click, [lead(), lost(1.0)] if n % 2 else [lead(), won(2.0, APPOINTMENT)])
        post = state.posterior(["whale", "smb"], NOW, config)
        return float(post.value_shape[0] / post.value_rate[0])

    assert group(in_flight=True) > 2 * group(in_flight=False)


def test_the_kinds_and_stages_say_which_deals_are_resolved() -> None:
    assert DealCredit("d", "actual", "closedwon", 10).resolves
    assert DealCredit("d", "reversal", "closedlost", 0).resolves
    assert DealCredit("d", "synthetic", "closedwon", 10).resolves  # won without an amount
    assert not DealCredit("d", "synthetic", "appointmentscheduled", 10).resolves
    assert DealCredit("d", "synthetic", "presentationscheduled", 10).appointment


def test_the_same_deals_in_any_order_give_the_same_values() -> None:
    def values(order: int) -> np.ndarray:
        state = GroupState.for_model("t", "g", CONFIG)
        ids = list(range(6))
        if order:
            ids.reverse()
        for n in ids:
            click = NOW - timedelta(days=30 - n)
            deal(state, "e", f"d{n}", click, [lead(), appointment(3.0)] + ([won(15.0, WHALE)] if n % 2 else []))
        return eventual_values(state.deals, ["e"], NOW, CONFIG.horizon_days, 3.0,
                              CONFIG.in_flight_lookahead_days).value

    assert np.array_equal(values(0), values(1))


def test_without_watched_peers_an_open_deal_is_worth_its_credit_developed_by_the_groups_curve() -> None:
    state = GroupState.for_model("t", "g", CONFIG)
    deal(state, "e", "young", NOW - timedelta(days=2), [lead()])

    def half(ages: np.ndarray) -> np.ndarray:
        return np.full_like(ages, 0.5)

    v = eventual_values(state.deals, ["e"], NOW, CONFIG.horizon_days, 3.0, CONFIG.in_flight_lookahead_days, half)
    assert v.value.tolist() == [2 * LEAD]
    without = eventual_values(state.deals, ["e"], NOW, CONFIG.horizon_days, 3.0, CONFIG.in_flight_lookahead_days)
    assert without.value.tolist() == [LEAD]
