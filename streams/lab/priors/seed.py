"""A tenant's past, written where the live cycle reads it: described ad sets and their days.

``roasloop dev --priors-history N`` and the rebuild tests need an account with history before the
first rebuild. This writes N past ad sets - each launched on its own day, run for two to five
weeks - as ``creative_features`` rows (through :func:`streams.priors.creatives.describe` and
``record``, the live path) and ``sampler_entity_days`` facts. The account has a hidden *taste*
(fixed by ``taste_seed``, like a real audience): format and placement move click-through, call to
action and audience move leads per click, so a creative's features predict its pipeline ROAS to
the extent ``noise`` allows. ``seed`` draws the ad sets; nothing else is random.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, get_args

import numpy as np

from schemas.creatives import AudienceKind, CallToAction, CreativeFeatures, CreativeType, Placement
from streams.core.db import Conn
from streams.priors.creatives import describe, record

TYPES, CTAS = get_args(CreativeType), get_args(CallToAction)
PLACEMENTS, AUDIENCES = get_args(Placement), get_args(AudienceKind)
WORDS = ("demo", "pipeline", "revenue", "free", "trial", "guide", "save", "team", "fast", "report", "crm", "growth")


@dataclass(frozen=True)
class Taste:
    ctr: dict[str, float]
    cvr: dict[str, float]

    @classmethod
    def of(cls, seed: int) -> Taste:
        rng = np.random.default_rng(seed)
        return cls({f"t={v}": rng.normal(0, 0.5) for v in TYPES} | {f"p={v}": rng.normal(0, 0.25) for v in PLACEMENTS},
                   {f"c={v}": rng.normal(0, 0.5) for v in CTAS} | {f"a={v}": rng.normal(0, 0.3) for v in AUDIENCES})


def _creative(rng: np.random.Generator) -> tuple[CreativeFeatures, str]:
    kind = str(rng.choice(TYPES))
    headline = " ".join(str(w) for w in rng.choice(WORDS, size=int(rng.integers(3, 7))))
    return CreativeFeatures(
        creative_type=kind, call_to_action=str(rng.choice(CTAS)), placement=str(rng.choice(PLACEMENTS)),
        audience=str(rng.choice(AUDIENCES)), headline_length=len(headline), objective="leads",
        video_duration_s=float(rng.integers(6, 60)) if kind == "video" else None), headline


def true_rates(taste: Taste, f: CreativeFeatures, rng: np.random.Generator, noise: float) -> tuple[float, float]:
    ctr = 0.01 * np.exp(taste.ctr[f"t={f.creative_type}"] + taste.ctr[f"p={f.placement}"] + rng.normal(0, noise))
    cvr = 0.05 * np.exp(taste.cvr[f"c={f.call_to_action}"] + taste.cvr[f"a={f.audience}"] + rng.normal(0, noise))
    return float(min(ctr, 0.2)), float(min(cvr, 0.9))


async def seed_history(conn: Conn, tenant_id: str, group_id: str, adsets: int, end: date, days: int = 90,
                       seed: int = 0, taste_seed: int = 0, noise: float = 0.2, daily_spend_minor: int = 20_000,
                       cpm_minor: int = 1_000, value_per_lead_minor: int = 5_000) -> dict[str, Any]:
    """Write ``adsets`` past ad sets over the ``days`` before ``end``; returns a summary."""
    rng, taste = np.random.default_rng(seed), Taste.of(taste_seed)
    start = end - timedelta(days=days)
    n_days = 0
    for i in range(adsets):
        entity_id = f"past-{seed}-{i:04d}"
        features, headline = _creative(rng)
        launched = start + timedelta(days=int(rng.integers(0, days - 7)))
        run = min(int(rng.integers(14, 36)), (end - launched).days)
        event = describe(tenant_id=tenant_id, group_id=group_id, campaign_id=group_id, entity_id=entity_id,
                         features=features, text=headline,
                         now=datetime.combine(launched, time(0), UTC))
        await record(conn, event)
        ctr, cvr = true_rates(taste, features, rng, noise)
        rows = []
        for d in range(run):
            impressions = int(daily_spend_minor * 1000 / cpm_minor)
            clicks = int(rng.binomial(impressions, ctr))
            leads = int(rng.binomial(clicks, cvr))
            deals = int(rng.binomial(leads, 0.2))
            rows.append((tenant_id, group_id, entity_id, launched + timedelta(days=d), daily_spend_minor, clicks,
                         impressions, leads, deals, deals * value_per_lead_minor * 5))
        await conn.executemany(
            """INSERT INTO sampler_entity_days (tenant_id, group_id, entity_id, day, spend_minor, clicks,
                                                impressions, results, deals, revenue_minor)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING""", rows)
        n_days += len(rows)
    return {"tenant_id": tenant_id, "adsets": adsets, "days": n_days, "from": str(start), "to": str(end)}
