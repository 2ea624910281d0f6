"""The prior source: CTR model and nearest winners blended into a mean ROAS and a strength."""

from __future__ import annotations

import numpy as np
import pytest

from streams.lab.priors.synthetic import SyntheticAd, SyntheticHistory
from streams.priors import (
    CtrAndWinnersPriorSource,
    EntityFeatures,
    NullPriorSource,
    Prior,
    PriorConfig,
    PriorSource,
    WinnerIndex,
)
from streams.priors.ctr import CtrModel, train_ctr_model
from streams.priors.embedder import FeatureHashingEmbedder, embeddings_for


@pytest.fixture(scope="module")
def history() -> SyntheticHistory:
    return SyntheticHistory(n_ads=500, days=80, seed=5, embedding_dim=32)


@pytest.fixture(scope="module")
def model(history: SyntheticHistory) -> CtrModel:
    return train_ctr_model(history.rows())


def _true_roas(ad: SyntheticAd, cfg: PriorConfig) -> float:
    return ad.true_ctr * ad.true_cvr * cfg.value_per_conversion_minor / (ad.cpm_minor / 1000)


def test_both_sources_satisfy_the_protocol(model: CtrModel) -> None:
    assert isinstance(NullPriorSource(), PriorSource)
    assert isinstance(CtrAndWinnersPriorSource(model), PriorSource)


def test_null_source_gives_zero_strength_priors() -> None:
    priors = NullPriorSource(mean_roas=1.5).prior_for([EntityFeatures(entity_id="a"), EntityFeatures(entity_id="b")])
    assert priors == [Prior(1.5, 0, "none"), Prior(1.5, 0, "none")]


def test_without_models_the_source_falls_back() -> None:
    cfg = PriorConfig(fallback_mean_roas=0.7, fallback_pseudo_spend_minor=100)
    priors = CtrAndWinnersPriorSource(config=cfg).prior_for([EntityFeatures(entity_id="a")])
    assert (priors[0].mean_roas, priors[0].pseudo_spend_minor, priors[0].source) == (0.7, 100, "default")
    assert CtrAndWinnersPriorSource().prior_for([]) == []


def test_ctr_prior_ranks_new_ads_like_their_true_roas(model: CtrModel, history: SyntheticHistory) -> None:
    cfg = PriorConfig()
    source = CtrAndWinnersPriorSource(model, config=cfg)
    ads = history.ads[:300]
    priors = source.prior_for([a.features for a in ads])
    assert all(p.source == "ctr" and 0 < p.pseudo_spend_minor <= cfg.ctr_pseudo_spend_minor for p in priors)
    means = np.array([p.mean_roas for p in priors])
    truth = np.array([_true_roas(a, cfg) for a in ads])
    rank_corr = np.corrcoef(np.argsort(np.argsort(means)), np.argsort(np.argsort(truth)))[0, 1]
    assert rank_corr > 0.4


def test_nearest_winners_pull_the_prior_and_add_strength(model: CtrModel, history: SyntheticHistory) -> None:
    cfg = PriorConfig()
    past, new = history.ads[:400], history.ads[400:]
    truth = {a.features.entity_id: _true_roas(a, cfg) for a in history.ads}
    winners = sorted(past, key=lambda a: -truth[a.features.entity_id])[:80]
    index = WinnerIndex(32)
    index.add([a.features.entity_id for a in winners], [a.features.embedding or () for a in winners],
              [truth[a.features.entity_id] for a in winners])
    ctr_only = CtrAndWinnersPriorSource(model, config=cfg).prior_for([a.features for a in new])
    blended = CtrAndWinnersPriorSource(model, index, config=cfg).prior_for([a.features for a in new])
    with_winners = [i for i, p in enumerate(blended) if "winners" in p.source]
    assert len(with_winners) > len(new) // 4
    for i in with_winners:
        assert blended[i].pseudo_spend_minor > ctr_only[i].pseudo_spend_minor
        assert blended[i].pseudo_spend_minor <= cfg.max_pseudo_spend_minor
        low, high = sorted((blended[i].details["ctr_roas"], blended[i].details["winners_roas"]))
        assert low - 1e-9 <= blended[i].mean_roas <= high + 1e-9


def test_identical_winner_dominates_a_weak_model() -> None:
    index = WinnerIndex(3)
    index.add(["twin", "far"], [[1, 0, 0], [0, 1, 0]], [4.0, 0.1])
    cfg = PriorConfig(winner_discount=1.0)
    priors = CtrAndWinnersPriorSource(None, index, config=cfg).prior_for(
        [EntityFeatures(entity_id="n", embedding=(1.0, 0.0, 0.0)), EntityFeatures(entity_id="m")])
    assert priors[0].source == "winners"
    assert priors[0].mean_roas == pytest.approx(4.0)
    assert priors[0].pseudo_spend_minor == cfg.winner_pseudo_spend_minor
    assert priors[1].source == "default"  # no embedding and no embedder: no neighbours


def test_embedder_fills_in_missing_embeddings() -> None:
    embedder = FeatureHashingEmbedder(dim=16)
    a = EntityFeatures(entity_id="a", creative_type="video", placement="reels", audience="lookalike")
    b = a.model_copy(update={"entity_id": "b"})
    c = EntityFeatures(entity_id="c", creative_type="text", placement="audience_network", audience="broad")
    vectors, present = embeddings_for([a, b, c], 16, embedder)
    assert present.all()
    np.testing.assert_array_equal(vectors[0], vectors[1])
    with pytest.raises(ValueError, match="dimension 16"):
        embeddings_for([a], 8, embedder)
    index = WinnerIndex(16)
    index.add(["a"], embedder.embed([a]), [2.0])
    priors = CtrAndWinnersPriorSource(None, index, embedder).prior_for([b, c])
    assert priors[0].source == "winners" and priors[0].details["winner_weight"] == pytest.approx(1.0)
    assert priors[1].pseudo_spend_minor < priors[0].pseudo_spend_minor
