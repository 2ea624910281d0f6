"""The CTR/CVR model: honest time-split validation, beating a constant rate, round-tripping."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from streams.lab.priors.synthetic import SyntheticHistory
from streams.priors.ctr import CtrModel, NotEnoughData, time_split, train_ctr_model
from streams.priors.features import EntityFeatures, FeatureEncoder
from streams.priors.history import AdDayRow
from streams.priors.metrics import calibration, weighted_auc, weighted_log_loss


@pytest.fixture(scope="module")
def history() -> SyntheticHistory:
    return SyntheticHistory(n_ads=500, days=80, seed=11)


@pytest.fixture(scope="module")
def model(history: SyntheticHistory) -> CtrModel:
    return train_ctr_model(history.rows(), validation_fraction=0.25)


def test_model_beats_a_constant_rate_on_held_out_later_days(model: CtrModel) -> None:
    for part in ("ctr", "cvr"):
        m = model.metrics[part]
        assert m["auc"] > m["baseline_auc"] + 0.05, part
        assert m["log_loss"] < m["baseline_log_loss"], part
    assert model.metrics["valid_days"][0] > model.metrics["train_days"][1]  # validation strictly later


def test_calibration_is_recorded_and_close(model: CtrModel) -> None:
    cal = model.metrics["ctr"]["calibration"]
    assert len(cal["bins"]) == 10
    assert cal["ece"] < 0.003
    assert 0.8 < cal["observed_over_predicted"] < 1.25
    predicted = [b["predicted"] for b in cal["bins"]]
    assert predicted == sorted(predicted)


def test_predictions_track_the_hidden_true_rates(model: CtrModel, history: SyntheticHistory) -> None:
    ctr, cvr = model.predict([a.features for a in history.ads])
    assert np.corrcoef(ctr, [a.true_ctr for a in history.ads])[0, 1] > 0.6
    assert np.corrcoef(cvr, [a.true_cvr for a in history.ads])[0, 1] > 0.5


def test_batched_prediction_equals_one_batch(model: CtrModel, history: SyntheticHistory) -> None:
    entities = [a.features for a in history.ads[:101]]
    whole = model.predict(entities)
    batched = model.predict(entities, batch_size=7)
    np.testing.assert_allclose(whole[0], batched[0])
    np.testing.assert_allclose(whole[1], batched[1])


def test_artifact_round_trips(model: CtrModel, history: SyntheticHistory) -> None:
    again = CtrModel.from_bytes(model.to_bytes())
    entities = [a.features for a in history.ads[:20]]
    np.testing.assert_allclose(again.predict(entities)[0], model.predict(entities)[0])
    assert again.metrics == model.metrics
    with pytest.raises(ValueError, match="not a CTR model artifact"):
        CtrModel.from_bytes(b'{"format": "other"}')


def test_unknown_and_missing_features_still_predict(model: CtrModel) -> None:
    ctr, cvr = model.predict([EntityFeatures(entity_id="bare"), EntityFeatures(entity_id="x", country="NZ")])
    assert np.all((ctr > 0) & (ctr < 1)) and np.all((cvr > 0) & (cvr < 1))


def test_time_split_holds_out_the_last_days() -> None:
    f = EntityFeatures(entity_id="a")
    rows = [AdDayRow("a", date(2025, 1, 1) + timedelta(days=d), f, 100, 1) for d in range(10) for _ in range(3)]
    split = time_split(rows, 0.2)
    assert split.cutoff == date(2025, 1, 9)
    assert max(r.day for r in split.train) < min(r.day for r in split.valid)
    with pytest.raises(NotEnoughData):
        time_split(rows[:3], 0.2)


def test_counts_must_be_consistent() -> None:
    with pytest.raises(ValueError, match="clicks"):
        AdDayRow("a", date(2025, 1, 1), EntityFeatures(entity_id="a"), impressions=5, clicks=6)


def test_weighted_metrics_match_per_impression_definitions() -> None:
    # two rows: (10 impressions, 2 clicks) scored 0.3 and (10, 8) scored 0.6
    auc = weighted_auc([0.3, 0.6, 0.3, 0.6], [1, 1, 0, 0], [2, 8, 8, 2])
    # positives: 2 at 0.3, 8 at 0.6; negatives: 8 at 0.3, 2 at 0.6 -> (8*8 + 0.5*(2*8 + 8*2)) / 100
    assert auc == pytest.approx((64 + 16) / 100)
    assert weighted_auc([0.1, 0.2], [0, 1], [1, 1]) == 1.0
    ll = weighted_log_loss([0.5, 0.5], [1, 0], [3, 1])
    assert ll == pytest.approx(np.log(2))
    cal = calibration([0.1, 0.5], [100, 100], [10, 50], bins=2)
    assert cal["ece"] == pytest.approx(0.0)


def test_encoder_refuses_an_artifact_with_another_layout() -> None:
    data = FeatureEncoder().to_json()
    data["feature_names"] = ["something_else"]
    with pytest.raises(ValueError, match="retrain"):
        FeatureEncoder.from_json(data)
