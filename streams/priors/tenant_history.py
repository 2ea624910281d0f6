"""A tenant's own past, as the rebuild job learns from it: ad-set days joined with their creatives.

The rows are the sampler's facts (``sampler_entity_days``: spend.v1 snapshots and the pipeline
value credited to each day's clicks) - the same numbers the live posterior uses, read-only here -
joined with ``creative_features``. An ad set without a description cannot be learned from (the
model could not describe the next one like it) and is left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from streams.core.db import Conn
from streams.priors.creatives import load_features
from streams.priors.features import EntityFeatures
from streams.priors.history import AdDayRow


@dataclass(frozen=True)
class EntityDay:
    entity_id: str
    day: date
    spend_minor: int
    revenue_minor: int


@dataclass
class TenantHistory:
    tenant_id: str
    rows: list[AdDayRow] = field(default_factory=list)
    """Ad-set days with impressions: the CTR/CVR model's training data."""
    money: list[EntityDay] = field(default_factory=list)
    """Spend and pipeline value per ad-set day: ROAS for winners and for evaluation."""
    features: dict[str, EntityFeatures] = field(default_factory=dict)

    def roas_between(self, first: date | None, last: date | None, min_spend_minor: int
                     ) -> dict[str, tuple[float, int]]:
        """(pipeline ROAS, spend) per ad set over days in [first, last], where it spent enough."""
        spend: dict[str, int] = {}
        revenue: dict[str, int] = {}
        for d in self.money:
            if (first is None or d.day >= first) and (last is None or d.day <= last):
                spend[d.entity_id] = spend.get(d.entity_id, 0) + d.spend_minor
                revenue[d.entity_id] = revenue.get(d.entity_id, 0) + d.revenue_minor
        return {e: (revenue[e] / s, s) for e, s in spend.items() if s >= max(min_spend_minor, 1)}


async def load_history(conn: Conn, tenant_id: str, embedder: str) -> TenantHistory:
    features = await load_features(conn, tenant_id, embedder=embedder)
    records = await conn.fetch(
        """SELECT entity_id, day, sum(spend_minor) AS spend, sum(impressions) AS impressions,
                  sum(clicks) AS clicks, sum(results) AS results, sum(revenue_minor) AS revenue
           FROM sampler_entity_days WHERE tenant_id = $1 GROUP BY entity_id, day ORDER BY day, entity_id""",
        tenant_id)
    history = TenantHistory(tenant_id, features=features)
    for r in records:
        entity = features.get(r["entity_id"])
        if entity is None:
            continue
        history.money.append(EntityDay(r["entity_id"], r["day"], int(r["spend"]), int(r["revenue"])))
        impressions = int(r["impressions"])
        if impressions > 0:
            clicks = min(int(r["clicks"]), impressions)
            history.rows.append(AdDayRow(r["entity_id"], r["day"], entity, impressions, clicks,
                                         min(int(r["results"]), clicks), int(r["spend"])))
    return history
