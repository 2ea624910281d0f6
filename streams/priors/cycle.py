"""The learning cycle's pure part: build a tenant's priors on a time split and judge them on held-out days.

:func:`build` learns from the days before the cutoff only - the CTR/CVR model (its own time split,
the same cutoff), the winner index (ad sets that spent enough before the cutoff, top fraction by
pipeline ROAS), value per platform conversion and cost per impression - and returns the
:class:`Holdout`: the days from the cutoff on. :func:`evaluate` scores any bundle (the candidate
and the active one alike) on that same holdout, so "not worse" compares like with like:

- ``prior_log_rmse``: spend-weighted RMSE between log prior mean ROAS and log held-out ROAS
  (smoothed towards the past mean by ``smoothing_spend_minor`` of spend, so an ad set that spent
  little and closed nothing is not an infinite error), on ad sets new in the held-out days when
  there are enough of them (the cold starts the priors are for), else on all that spent;
- ``ctr_auc`` / ``cvr_auc``: the model's weighted AUC on the held-out ad-set days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from streams.priors.bundle import PriorBundle
from streams.priors.ctr import NotEnoughData, time_split, train_ctr_model
from streams.priors.features import EntityFeatures
from streams.priors.history import AdDayRow
from streams.priors.metrics import binomial_samples, weighted_auc
from streams.priors.source import PriorConfig
from streams.priors.tenant_history import TenantHistory
from streams.priors.winners import WinnerIndex

# A tenant's history is a few hundred ad sets: small, strongly regularised trees generalise to new
# creatives better than LightGBM's defaults (the lab's account study chose these).
SMALL_HISTORY_PARAMS: dict[str, Any] = {"num_leaves": 4, "min_data_in_leaf": 500, "lambda_l2": 10.0}


class CycleConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    validation_fraction: float = Field(0.2, gt=0, lt=1, description="Latest share of days held out")
    min_winner_spend_minor: int = Field(20_000, ge=0, description="Spend before an ad set's ROAS counts")
    top_fraction: float = Field(0.5, gt=0, le=1, description="Share of resolved ad sets that are winners")
    min_eval_spend_minor: int = Field(5_000, ge=0)
    min_new_entities: int = Field(5, ge=1, description="New held-out ad sets needed to judge on them alone")
    smoothing_spend_minor: int = Field(20_000, ge=0)
    tolerance: float = Field(0.01, ge=0, description="How much worse still counts as 'not worse'")
    ctr_params: dict[str, Any] = Field(default_factory=lambda: dict(SMALL_HISTORY_PARAMS))
    priors: PriorConfig = PriorConfig(ctr_pseudo_spend_minor=150_000, winner_pseudo_spend_minor=2_000,
                                      max_pseudo_spend_minor=100_000)


@dataclass
class Holdout:
    cutoff: date
    rows: list[AdDayRow]
    actual: dict[str, tuple[float, int]]
    features: dict[str, EntityFeatures]
    past_roas: float
    new_entities: set[str] = field(default_factory=set)


def _winners(past: dict[str, tuple[float, int]], features: dict[str, EntityFeatures],
             top_fraction: float) -> WinnerIndex | None:
    ranked = [e for e in past if features[e].embedding is not None]
    if not ranked:
        return None
    cut = float(np.quantile([past[e][0] for e in ranked], 1.0 - top_fraction))
    top = [e for e in ranked if past[e][0] >= cut]
    dims = {len(features[e].embedding or ()) for e in top}
    if len(dims) != 1:
        return None
    index = WinnerIndex(dims.pop())
    index.add(top, np.array([features[e].embedding for e in top], dtype=np.float32), [past[e][0] for e in top])
    return index


def build(history: TenantHistory, config: CycleConfig, embedder: str) -> tuple[PriorBundle, Holdout]:
    """The candidate bundle, learned from the days before the cutoff, and the held-out days."""
    if not history.rows:
        raise NotEnoughData(f"tenant {history.tenant_id!r} has no described ad-set days to learn from")
    split = time_split(sorted(history.rows, key=lambda r: r.day), config.validation_fraction)
    before = split.cutoff - timedelta(days=1)
    try:
        ctr = train_ctr_model(history.rows, config.validation_fraction, params=config.ctr_params)
    except NotEnoughData:
        ctr = None
    past = history.roas_between(None, before, config.min_winner_spend_minor)
    winners = _winners(past, history.features, config.top_fraction)
    spend = sum(r.spend_minor for r in split.train)
    revenue = sum(d.revenue_minor for d in history.money if d.day <= before)
    conversions = sum(r.conversions for r in split.train)
    impressions = sum(r.impressions for r in split.train)
    past_roas = revenue / spend if spend > 0 else config.priors.fallback_mean_roas
    update: dict[str, Any] = {"fallback_mean_roas": past_roas}
    if conversions > 0 and revenue > 0:
        update["value_per_conversion_minor"] = max(1, round(revenue / conversions))
    if impressions > 0 and spend > 0:
        update["cpm_minor"] = max(1, round(spend * 1000 / impressions))
    if winners is not None and past:
        winners_mean = float(np.mean([past[e][0] for e in past if e in winners]))
        everyone = float(np.mean([r for r, _ in past.values()]))
        update["winner_discount"] = float(np.clip(everyone / winners_mean, 0.05, 1.0)) if winners_mean > 0 else 1.0
    bundle = PriorBundle(ctr, winners, config.priors.model_copy(update=update), embedder)
    first_day = {e: min(d.day for d in history.money if d.entity_id == e) for e in history.features
                 if any(d.entity_id == e for d in history.money)}
    holdout = Holdout(split.cutoff, split.valid, history.roas_between(split.cutoff, None, config.min_eval_spend_minor),
                      history.features, past_roas, {e for e, d in first_day.items() if d >= split.cutoff})
    return bundle, holdout


def _auc(bundle: PriorBundle, rows: list[AdDayRow]) -> dict[str, float]:
    if bundle.ctr is None or not rows:
        return {}
    ctr, cvr = bundle.ctr.predict([r.features for r in rows])
    out: dict[str, float] = {}
    for name, pred, trials, successes in (
            ("ctr_auc", ctr, [r.impressions for r in rows], [r.clicks for r in rows]),
            ("cvr_auc", cvr, [r.clicks for r in rows], [r.conversions for r in rows])):
        if np.isnan(pred).all():
            continue
        idx, y, w = binomial_samples(trials, successes)
        auc = weighted_auc(pred[idx], y, w)
        if np.isfinite(auc):
            out[name] = auc
    return out


def evaluate(bundle: PriorBundle | None, holdout: Holdout, config: CycleConfig) -> dict[str, Any]:
    """Scores of ``bundle`` on the held-out days (None: priors off, i.e. the past mean for all)."""
    new = [e for e in holdout.actual if e in holdout.new_entities]
    judged = new if len(new) >= config.min_new_entities else list(holdout.actual)
    if not judged:
        raise NotEnoughData("no ad set spent enough in the held-out days to judge the priors on")
    if bundle is None:
        predicted = np.full(len(judged), holdout.past_roas)
    else:
        priors = bundle.source().prior_for([holdout.features[e] for e in judged])
        predicted = np.array([p.mean_roas for p in priors])
    s = float(config.smoothing_spend_minor)
    actual = np.array([(holdout.actual[e][0] * holdout.actual[e][1] + holdout.past_roas * s)
                       / (holdout.actual[e][1] + s) for e in judged])
    weights = np.array([holdout.actual[e][1] for e in judged], dtype=np.float64)
    error = np.log(np.maximum(predicted, 1e-3)) - np.log(np.maximum(actual, 1e-3))
    scores: dict[str, Any] = {
        "prior_log_rmse": float(np.sqrt((weights * error ** 2).sum() / weights.sum())),
        "judged_entities": len(judged), "judged_on": "new" if judged is new else "all",
        "holdout_from": str(holdout.cutoff),
    }
    if bundle is not None:
        scores.update(_auc(bundle, holdout.rows))
    return scores


def not_worse(candidate: dict[str, Any], active: dict[str, Any], tolerance: float) -> tuple[bool, str]:
    """The promotion rule: the prior error no higher, the CTR/CVR ranking no lower (within tolerance)."""
    if candidate["prior_log_rmse"] > active["prior_log_rmse"] + tolerance:
        return False, f"prior error {candidate['prior_log_rmse']:.4f} > active {active['prior_log_rmse']:.4f}"
    for key in ("ctr_auc", "cvr_auc"):
        if key in active and candidate.get(key, 0.5) < active[key] - tolerance:
            return False, f"{key} {candidate.get(key, 0.5):.4f} < active {active[key]:.4f}"
    return True, "not worse than the active version on the same held-out days"
