"""The stop-loss evaluation sees the very posterior Thompson allocated with, every day, and knows the losers."""

from __future__ import annotations

from streams.lab.sandbox.market import Market
from streams.lab.simulation.simulate import run
from streams.sampler.policy import Allocation, AllocationRequest


def test_observe_sees_each_days_request_and_posterior_of_every_delivering_group() -> None:
    seen: list[tuple[int, tuple[str, ...], tuple[str, ...]]] = []

    def observe(day: int, request: AllocationRequest, allocation: Allocation) -> None:
        assert allocation.posterior is not None
        seen.append((day, request.entity_ids, allocation.posterior.entity_ids))

    run("money_loser", "thompson", seed=1, days=4, drain_days=0, observe=observe)
    assert [day for day, _, _ in seen] == [1, 2, 3]  # day 0: nothing has reported spend yet
    assert all(ids == judged and len(ids) == 4 for _, ids, judged in seen)


def test_the_money_loser_scenario_has_exactly_one_ad_set_below_break_even() -> None:
    truth = Market.from_scenario("money_loser", seed=0).truth(0).adsets
    below = [a for a, t in truth.items() if t.pipeline_roas < 1.0]
    assert len(below) == 1
    assert max(truth.values(), key=lambda t: t.pipeline_roas).pipeline_roas > 5 * truth[below[0]].pipeline_roas
