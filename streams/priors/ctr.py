"""LightGBM models of an ad's click-through rate and platform conversion rate, from its features.

A new ad has no pipeline history, but ads *like it* have a click and conversion history. Two
binary classifiers learn from aggregated counts (a row of n impressions and k clicks is the
pair label 1 / weight k, label 0 / weight n - k): CTR = P(click | impression) and
CVR = P(platform conversion | click). Validation is a **time split**: the model is judged on
the days after the ones it learned from, which is how it will be used. Metrics recorded with
each version: AUC, log loss (and the same for a constant-rate baseline), calibration.

An artifact is one JSON document: both boosters (LightGBM's text format), the feature
vocabulary, and the metrics - self-describing and loadable without the training code's state.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from streams.priors.features import EntityFeatures, FeatureEncoder
from streams.priors.history import AdDayRow
from streams.priors.metrics import (
    binomial_samples,
    calibration,
    weighted_auc,
    weighted_log_loss,
)

ARTIFACT_FORMAT = "roasloop.ctr/1"
CONTENT_TYPE = "application/json"

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_sum_hessian_in_leaf": 5.0,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.9,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "cat_smooth": 10.0,
    "num_threads": 2,
    "deterministic": True,
    "verbose": -1,
}


class NotEnoughData(ValueError):
    """Too little history to train or to validate on."""


@dataclass(frozen=True)
class Split:
    train: list[AdDayRow]
    valid: list[AdDayRow]
    cutoff: date  # first validation day


def time_split(rows: Sequence[AdDayRow], validation_fraction: float = 0.2) -> Split:
    """The last ``validation_fraction`` of the days (not rows) is held out."""
    if not 0 < validation_fraction < 1:
        raise ValueError("validation_fraction must be between 0 and 1")
    days = sorted({r.day for r in rows})
    if len(days) < 2:
        raise NotEnoughData(f"a time split needs at least 2 distinct days of history, got {len(days)}")
    cut_index = min(max(1, round(len(days) * (1 - validation_fraction))), len(days) - 1)
    cutoff = days[cut_index]
    return Split([r for r in rows if r.day < cutoff], [r for r in rows if r.day >= cutoff], cutoff)


@dataclass
class CtrModel:
    encoder: FeatureEncoder
    ctr_booster: lgb.Booster
    cvr_booster: lgb.Booster | None
    metrics: dict[str, Any] = field(default_factory=dict)

    def predict(self, entities: Sequence[EntityFeatures], batch_size: int = 8192
                ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(CTR, CVR) for each entity, computed in batches. CVR is NaN without a CVR model."""
        ctr = np.empty(len(entities), dtype=np.float64)
        cvr = np.full(len(entities), np.nan, dtype=np.float64)
        for start in range(0, len(entities), batch_size):
            x = self.encoder.transform(entities[start:start + batch_size])
            ctr[start:start + len(x)] = np.asarray(self.ctr_booster.predict(x), dtype=np.float64)
            if self.cvr_booster is not None:
                cvr[start:start + len(x)] = np.asarray(self.cvr_booster.predict(x), dtype=np.float64)
        return ctr, cvr

    def to_bytes(self) -> bytes:
        return json.dumps({
            "format": ARTIFACT_FORMAT,
            "encoder": self.encoder.to_json(),
            "ctr_model": self.ctr_booster.model_to_string(),
            "cvr_model": self.cvr_booster.model_to_string() if self.cvr_booster is not None else None,
            "metrics": self.metrics,
        }).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> CtrModel:
        doc = json.loads(data)
        if doc.get("format") != ARTIFACT_FORMAT:
            found = doc.get("format")
            raise ValueError(f"not a CTR model artifact (format {found!r}, want {ARTIFACT_FORMAT!r})")
        cvr = doc.get("cvr_model")
        return cls(
            encoder=FeatureEncoder.from_json(doc["encoder"]),
            ctr_booster=lgb.Booster(model_str=doc["ctr_model"]),
            cvr_booster=lgb.Booster(model_str=cvr) if cvr else None,
            metrics=doc.get("metrics", {}),
        )


def _fit_rate(x: npt.NDArray[np.float32], trials: npt.NDArray[np.float64], successes: npt.NDArray[np.float64],
              stop_x: npt.NDArray[np.float32], stop_trials: npt.NDArray[np.float64],
              stop_successes: npt.NDArray[np.float64], params: dict[str, Any], categorical: list[str],
              names: list[str], rounds: int) -> lgb.Booster:
    idx, y, w = binomial_samples(trials, successes)
    train = lgb.Dataset(x[idx], label=y, weight=w, feature_name=names, categorical_feature=categorical,
                        free_raw_data=True)
    callbacks: list[Callable[..., Any]] = [lgb.log_evaluation(0)]
    valid_sets = []
    if len(stop_trials) and stop_successes.sum() > 0:
        sidx, sy, sw = binomial_samples(stop_trials, stop_successes)
        valid_sets = [lgb.Dataset(stop_x[sidx], label=sy, weight=sw, reference=train)]
        callbacks.append(lgb.early_stopping(30, verbose=False))
    return lgb.train(params, train, num_boost_round=rounds, valid_sets=valid_sets, callbacks=callbacks)


def _evaluate(pred: npt.NDArray[np.float64], trials: npt.NDArray[np.float64],
              successes: npt.NDArray[np.float64], baseline_rate: float) -> dict[str, Any]:
    idx, y, w = binomial_samples(trials, successes)
    return {
        "auc": weighted_auc(pred[idx], y, w),
        "log_loss": weighted_log_loss(pred[idx], y, w),
        "baseline_auc": 0.5,
        "baseline_log_loss": weighted_log_loss(np.full(len(idx), baseline_rate), y, w),
        "baseline_rate": baseline_rate,
        "calibration": calibration(pred, trials, successes),
        "trials": int(trials.sum()),
        "successes": int(successes.sum()),
    }


def _counts(rows: Sequence[AdDayRow]) -> tuple[npt.NDArray[np.float64], ...]:
    impressions = np.array([r.impressions for r in rows], dtype=np.float64)
    clicks = np.array([r.clicks for r in rows], dtype=np.float64)
    conversions = np.array([r.conversions for r in rows], dtype=np.float64)
    return impressions, clicks, conversions


def train_ctr_model(rows: Iterable[AdDayRow], validation_fraction: float = 0.2,
                    params: dict[str, Any] | None = None, rounds: int = 400,
                    embedding_dim: int = 0) -> CtrModel:
    """Train CTR and CVR models on the early days, validate on the late days, record metrics.

    The last tenth of the training days is used for early stopping, so the validation days are
    never seen while fitting (their metrics are honest). ``embedding_dim`` > 0 adds the creative
    embedding's coordinates to the features (rows whose embedding has another size: missing).
    """
    all_rows = sorted(rows, key=lambda r: r.day)
    split = time_split(all_rows, validation_fraction)
    inner = time_split(split.train, 0.1) if len({r.day for r in split.train}) >= 4 else None
    fit_rows, stop_rows = (inner.train, inner.valid) if inner else (split.train, [])
    if not fit_rows or not split.valid:
        raise NotEnoughData("not enough rows on each side of the time split")
    p = {**DEFAULT_PARAMS, **(params or {})}
    encoder = FeatureEncoder(embedding_dim=embedding_dim).fit([r.features for r in split.train])
    names, categorical = encoder.feature_names, encoder.categorical_names

    def encode(part: Sequence[AdDayRow]) -> npt.NDArray[np.float32]:
        return encoder.transform([r.features for r in part])

    x_fit, x_stop, x_valid = encode(fit_rows), encode(stop_rows), encode(split.valid)
    (imp_f, clk_f, conv_f), (imp_s, clk_s, conv_s) = _counts(fit_rows), _counts(stop_rows)
    imp_v, clk_v, conv_v = _counts(split.valid)
    if clk_f.sum() == 0:
        raise NotEnoughData("the training days have no clicks")
    imp_t, clk_t, conv_t = _counts(split.train)

    ctr_booster = _fit_rate(x_fit, imp_f, clk_f, x_stop, imp_s, clk_s, p, categorical, names, rounds)
    ctr_valid = np.asarray(ctr_booster.predict(x_valid), dtype=np.float64)
    metrics: dict[str, Any] = {
        "train_rows": len(split.train), "valid_rows": len(split.valid),
        "train_days": [str(split.train[0].day), str(split.train[-1].day)],
        "valid_days": [str(split.valid[0].day), str(split.valid[-1].day)],
        "ctr": _evaluate(ctr_valid, imp_v, clk_v, float(clk_t.sum() / imp_t.sum())),
        "ctr_best_iteration": ctr_booster.best_iteration or ctr_booster.current_iteration(),
    }
    cvr_booster = None
    if conv_f.sum() > 0 and clk_f.sum() > conv_f.sum():
        cvr_booster = _fit_rate(x_fit, clk_f, conv_f, x_stop, clk_s, conv_s, p, categorical, names, rounds)
        if conv_v.sum() > 0:
            cvr_valid = np.asarray(cvr_booster.predict(x_valid), dtype=np.float64)
            metrics["cvr"] = _evaluate(cvr_valid, clk_v, conv_v, float(conv_t.sum() / max(clk_t.sum(), 1)))
        metrics["cvr_best_iteration"] = cvr_booster.best_iteration or cvr_booster.current_iteration()
    return CtrModel(encoder, ctr_booster, cvr_booster, metrics)
