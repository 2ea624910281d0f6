"""The simulated market: deterministic, Meta-like delivery, deals that follow the funnel, true ROAS."""

from __future__ import annotations

from collections import defaultdict

import pytest

from schemas import encode
from schemas.pipeline import HUBSPOT_STAGES
from streams.lab.sandbox.market import Market
from streams.lab.sandbox.market_events import outcome_events, webhook_events
from streams.lab.sandbox.market_scenario import Scenario, list_scenarios
from streams.lab.sandbox.market_types import ALL_STAGES, STAGE_ORDER


def _run(name: str, seed: int, days: int) -> list[bytes]:
    market = Market.from_scenario(name, seed=seed)
    stream: list[bytes] = []
    for _ in range(days):
        stream.extend(encode(e) for e in outcome_events(market.step()))
    return stream


def test_same_scenario_and_seed_give_identical_event_streams() -> None:
    first, second = _run("fast_small", 11, 6), _run("fast_small", 11, 6)
    assert len(first) > 500
    assert first == second


def test_another_seed_gives_another_stream() -> None:
    assert _run("fast_small", 11, 3) != _run("fast_small", 12, 3)


def test_every_shipped_scenario_validates_and_steps() -> None:
    names = {p.stem for p in list_scenarios()}
    assert {"basic", "many_adsets", "value_skew", "long_delays", "drift", "new_ads"} <= names
    for path in list_scenarios():
        market = Market.from_scenario(path, seed=1)
        outcome = market.step()
        assert outcome.day == Scenario.load(path).start_date
    sizes = [len(Market.from_scenario(p, seed=1).entities().adsets()) for p in list_scenarios()]
    assert min(sizes) >= 3 and max(sizes) == 50


def test_spend_is_noisy_but_never_above_125_percent_of_budget() -> None:
    market = Market.from_scenario("basic", seed=3)
    ratios = []
    for _ in range(40):
        for d in market.step().delivery:
            assert d.spend_minor <= d.daily_budget_minor * 125 // 100
            ratios.append(d.spend_minor / d.daily_budget_minor)
    assert len(set(ratios)) > 10  # noisy
    assert 0.9 < sum(ratios) / len(ratios) < 1.1  # but on budget on average


def test_budgets_drive_spend_and_clicks() -> None:
    market = Market.from_scenario("basic", seed=5)
    ids = [a.adset_id for a in market.entities().adsets()]
    market.set_budgets({ids[0]: 500, ids[1]: 500, ids[2]: 44_000})
    outcome = market.step()
    by_id = {d.adset_id: d for d in outcome.delivery}
    assert by_id[ids[2]].spend_minor > 20 * by_id[ids[0]].spend_minor
    assert by_id[ids[2]].clicks > by_id[ids[0]].clicks
    assert sum(1 for c in outcome.clicks if c.adset_id == ids[2]) == by_id[ids[2]].clicks


def test_deals_move_forward_through_hubspot_default_stages() -> None:
    market = Market.from_scenario("fast_small", seed=2)
    history: dict[str, list[str]] = defaultdict(list)
    amounts = []
    for _ in range(10):
        for s in market.step().stage_changes:
            history[s.deal_id].append(s.stage_id)
            if s.stage_id == "closedwon":
                assert s.amount_minor is not None and s.amount_minor > 0
                amounts.append(s.amount_minor)
            else:
                assert s.amount_minor is None
    assert amounts, "a fast market closes deals within ten days"
    for stages in history.values():
        assert stages[0] == "appointmentscheduled"
        assert all(s in ALL_STAGES for s in stages)
        body = [s for s in stages if s != "closedlost"]
        assert body == list(STAGE_ORDER[: len(body)])  # forward, one step at a time, never skipping
        assert stages.count("closedlost") <= 1 and (stages[-1] == "closedlost" or "closedlost" not in stages)


def test_truth_ranks_ad_sets_differently_and_oracle_favours_the_best() -> None:
    market = Market.from_scenario("basic", seed=1)
    truth = market.truth()
    roas = sorted(t.pipeline_roas for t in truth.adsets.values())
    assert roas[-1] > 2.5 * roas[0]
    group = market.entities().groups[0]
    split = market.oracle_allocation(group.group_id)
    assert sum(split.values()) == group.total_budget_minor
    best = truth.best_adset(group.group_id)
    assert split[best] == max(split.values())
    assert all(split[a.adset_id] >= a.min_budget_minor for a in group.adsets)
    even = {a.adset_id: group.total_budget_minor // 3 for a in group.adsets}
    assert market.expected_value(group.group_id, split) > market.expected_value(group.group_id, even)


def test_oracle_spreads_budget_when_ad_sets_saturate() -> None:
    market = Market.from_scenario("many_adsets", seed=1)
    group = market.entities().groups[1]
    split = market.oracle_allocation(group.group_id)
    above_minimum = [i for i, b in split.items() if b > 500]
    assert sum(split.values()) == group.total_budget_minor
    assert len(above_minimum) > 1


def test_realised_pipeline_value_matches_true_roas() -> None:
    """Credit stage values as roasloop's revenue stage would and compare with ``truth()``."""
    market = Market.from_scenario("fast_small", seed=9)
    values = market.truth().stage_values_minor
    expected = {k: t.pipeline_roas for k, t in market.truth().adsets.items()}
    credited: dict[str, int] = {}
    deal_adset: dict[str, str] = {}
    spend: dict[str, int] = defaultdict(int)
    for day in range(40):
        outcome = market.step()
        if day < 25:
            for d in outcome.delivery:
                spend[d.adset_id] += d.spend_minor
        else:
            market.set_budgets(dict.fromkeys(expected, 0))  # stop buying; let open deals finish
        for s in outcome.stage_changes:
            deal_adset[s.deal_id] = s.adset_id
            category = HUBSPOT_STAGES[s.stage_id]
            if category == "lost":
                credited[s.deal_id] = 0
            elif category == "won":
                credited[s.deal_id] = s.amount_minor or 0
            else:
                credited[s.deal_id] = max(credited.get(s.deal_id, 0), values[category])
    realised: dict[str, int] = defaultdict(int)
    for deal, value in credited.items():
        realised[deal_adset[deal]] += value
    for adset_id, roas in expected.items():
        assert realised[adset_id] / spend[adset_id] == pytest.approx(roas, rel=0.25)


def test_new_ads_and_ad_sets_appear_over_time() -> None:
    market = Market.from_scenario("new_ads", seed=1)
    first = market.entities()
    late = [a for a in first.adsets() if a.launch_day > 0]
    assert late and all(not any(d.adset_id == a.adset_id for d in market.step().delivery) for a in late)
    for _ in range(12):
        market.step()
    later = market.entities()
    assert sum(len(a.ads) for a in later.adsets()) > sum(len(a.ads) for a in first.adsets())
    assert any(d.adset_id == late[0].adset_id for d in market.step().delivery)


def test_drift_changes_the_truth() -> None:
    market = Market.from_scenario("drift", seed=1)
    fatiguing = next(a.adset_id for a in market.entities().adsets() if "fatigues" in a.name)
    before, after = market.truth(day_index=10), market.truth(day_index=40)
    assert after.adsets[fatiguing].pipeline_roas < 0.5 * before.adsets[fatiguing].pipeline_roas


def test_webhook_events_carry_hubspot_fields() -> None:
    market = Market.from_scenario("fast_small", seed=4)
    outcome = next(o for o in (market.step() for _ in range(5)) if o.stage_changes)
    events = webhook_events(outcome, portal_id=62515)
    assert len(events) == len(outcome.stage_changes)
    e = events[0]
    assert e["subscriptionType"] == "deal.propertyChange" and e["propertyName"] == "dealstage"
    assert e["objectId"] == int(outcome.stage_changes[0].deal_id) and e["portalId"] == 62515
    assert e["propertyValue"] == outcome.stage_changes[0].stage_id
    assert isinstance(e["occurredAt"], int) and isinstance(e["eventId"], int)
