"""Creatives in the simulated market: optional, deterministic, and partly predictive of true rates."""

from __future__ import annotations

import math

import numpy as np

from streams.lab.sandbox.market import Market
from streams.lab.sandbox.market_creative import AccountTaste
from streams.lab.sandbox.market_scenario import Scenario


def test_a_scenario_without_creatives_keeps_its_specs_and_has_no_creatives() -> None:
    market = Market.from_scenario("new_ads", seed=3)
    scenario = Scenario.load("new_ads")
    specs = [a for g in scenario.groups for a in g.adsets]
    for spec, adset in zip(specs, market.entities().adsets(), strict=True):
        assert market.spec(adset.adset_id) == spec
        assert market.creative(adset.adset_id) is None


def test_creatives_are_deterministic_per_seed_and_new_in_another_seed() -> None:
    ids = [a.adset_id for a in Market.from_scenario("new_ads_creative", 1).entities().adsets()]
    one, again = Market.from_scenario("new_ads_creative", 1), Market.from_scenario("new_ads_creative", 1)
    other = Market.from_scenario("new_ads_creative", 2)
    assert [one.creative(i) for i in ids] == [again.creative(i) for i in ids]
    assert [one.spec(i) for i in ids] == [again.spec(i) for i in ids]
    assert all(one.creative(i) != other.creative(i) for i in ids)
    creative = one.creative(ids[0])
    assert creative is not None and len(creative.embedding) == 16


def test_the_creative_explains_the_lead_rate_through_the_hidden_account_taste() -> None:
    scenario = Scenario.load("new_ads_creative")
    assert scenario.creatives is not None
    taste = AccountTaste.draw(scenario.creatives)
    explained, actual = [], []
    for seed in range(20):
        market = Market.from_scenario(scenario, seed)
        for adset in market.entities().adsets():
            creative, effect = market.creative(adset.adset_id), market.creative_effect(adset.adset_id)
            assert creative is not None and effect is not None
            explained.append(float(taste.weights["lead"] @ np.array(creative.embedding)))
            actual.append(effect.lead)
            base = scenario.groups[0].adsets[0].funnel.lead_rate
            assert math.isclose(market.spec(adset.adset_id).funnel.lead_rate, min(1.0, base * math.exp(effect.lead)))
    corr = float(np.corrcoef(explained, actual)[0, 1])
    assert 0.4 < corr < 0.9  # partly predictable: the embedding carries some, categories and noise the rest
