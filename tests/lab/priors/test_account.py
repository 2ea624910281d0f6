"""Priors from the same account's past: creatives as features, past runs as history, no peeking."""

from __future__ import annotations

import numpy as np
import pytest

from streams.lab.priors.account import (
    HISTORY_SEED_BASE,
    AccountHistory,
    account_prior_source,
    creative_features,
    history_seeds,
)
from streams.lab.sandbox.market import Market
from streams.priors.ctr import CtrModel
from streams.priors.features import EntityFeatures, FeatureEncoder
from streams.priors.source import CtrAndWinnersPriorSource
from streams.priors.winners import WinnerIndex

SCENARIO = "new_ads_creative"


@pytest.fixture(scope="module")
def built() -> tuple[CtrAndWinnersPriorSource, CtrModel, WinnerIndex, AccountHistory]:
    return account_prior_source(SCENARIO, history_seeds(6))


def test_a_scenario_without_creatives_has_no_creative_features() -> None:
    assert creative_features("new_ads", 0) == {}
    feats = creative_features(SCENARIO, 0)
    assert len(feats) == 18
    assert all(f.embedding is not None and len(f.embedding) == 16 for f in feats.values())


def test_history_is_the_accounts_past_runs_only(built: tuple[CtrAndWinnersPriorSource, CtrModel,
                                                               WinnerIndex, AccountHistory]) -> None:
    _, model, index, history = built
    seeds = {int(k.split(":")[0]) for k in history.features}
    assert seeds == set(history_seeds(6)) and min(seeds) >= HISTORY_SEED_BASE
    assert {r.entity_id for r in history.rows} <= set(history.features)
    assert 0 < len(index) < len(history.roas)  # winners only
    assert model.encoder.embedding_dim == 16
    assert history.value_per_lead_minor > 0 and history.cpm_minor > 0


def test_priors_from_the_past_rank_new_creatives_by_their_true_roas(
        built: tuple[CtrAndWinnersPriorSource, CtrModel, WinnerIndex, AccountHistory]) -> None:
    source = built[0]
    truth, prior = [], []
    for seed in range(200, 206):  # evaluation markets: creatives the history never saw
        market = Market.from_scenario(SCENARIO, seed)
        feats = creative_features(SCENARIO, seed)
        ids = list(feats)
        answers = source.prior_for([feats[i] for i in ids])
        roas = market.truth(day_index=59).adsets
        truth += [roas[i].pipeline_roas for i in ids]
        prior += [p.mean_roas for p in answers]
        assert all(p.pseudo_spend_minor > 0 and "ctr" in p.source for p in answers)
    corr = float(np.corrcoef(np.log(truth), np.log(prior))[0, 1])
    assert corr > 0.3
    assert abs(float(np.mean(np.log(prior)) - np.mean(np.log(truth)))) < 0.3  # no large level bias


def test_encoder_with_embedding_round_trips_and_old_artifacts_still_load() -> None:
    encoder = FeatureEncoder(embedding_dim=3).fit([EntityFeatures(entity_id="a", creative_type="video")])
    x = encoder.transform([EntityFeatures(entity_id="a", embedding=(0.1, 0.2, 0.3)),
                           EntityFeatures(entity_id="b", embedding=(1.0, 2.0))])
    assert np.allclose(x[0, -3:], [0.1, 0.2, 0.3]) and np.isnan(x[1, -3:]).all()
    again = FeatureEncoder.from_json(encoder.to_json())
    assert again.feature_names == encoder.feature_names
    old = FeatureEncoder().to_json()
    del old["embedding_dim"]
    assert FeatureEncoder.from_json(old).embedding_dim == 0
