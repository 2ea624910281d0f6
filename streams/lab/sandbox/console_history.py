"""A tenant's history written straight into the tables the console reads: spend, revenue, decisions, deals.

The console's tests and `bench/console.py` need groups of known size and known sums without
running a market for simulated months; every figure here is deterministic, so a test can recompute it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg

from schemas.events import AllocationDecided, EntityAllocation
from schemas.money import Money

STAGES = ("appointmentscheduled", "presentationscheduled", "closedwon", "closedlost")


@dataclass
class Seeded:
    tenant: str
    group: str
    adsets: list[str]
    days: list[date]
    spend: dict[str, int] = field(default_factory=dict)
    revenue: dict[str, int] = field(default_factory=dict)
    decisions: list[str] = field(default_factory=list)


async def seed_group(pool: asyncpg.Pool[Any], tenant: str = "acme", group: str = "c1", adsets: int = 3,
                     days: int = 10, last_day: date = date(2026, 5, 10), decisions_per_day: int = 1) -> Seeded:
    ids = [f"{group}-as{i}" for i in range(adsets)]
    all_days = [last_day - timedelta(days=days - 1 - d) for d in range(days)]
    seeded = Seeded(tenant, group, ids, all_days)
    await pool.execute("INSERT INTO tenants (tenant_id, currency) VALUES ($1, 'USD') ON CONFLICT DO NOTHING", tenant)
    await pool.executemany(
        "INSERT INTO sampler_entities (tenant_id, group_id, entity_id, campaign_id, min_budget_minor,"
        " daily_budget_minor) VALUES ($1, $2, $3, $2, 100, 10000)", [(tenant, group, e) for e in ids])
    spend_rows, revenue_rows = [], []
    for i, entity in enumerate(ids):
        for d, day in enumerate(all_days):
            amount = 1_000 + 37 * i + 11 * d
            spend_rows.append((tenant, entity, day, group, amount))
            seeded.spend[entity] = seeded.spend.get(entity, 0) + amount
            stage = STAGES[(i + d) % len(STAGES)]
            credit = (-1 if stage == "closedlost" else 1) * (2_000 + 101 * i + 7 * d)
            revenue_rows.append((f"rev-{tenant}-{group}-{entity}-{d}", tenant, f"deal-{entity}-{d}", group, entity,
                                 "reversal" if credit < 0 else "synthetic", credit, stage,
                                 datetime.combine(day, time(12), tzinfo=UTC), day))
            seeded.revenue[entity] = seeded.revenue.get(entity, 0) + credit
    await pool.executemany(
        "INSERT INTO spend_daily (tenant_id, entity_id, day, entity_level, group_id, campaign_id, spend_minor,"
        " currency, impressions, clicks, reported_at) VALUES ($1, $2, $3, 'adset', $4, $4, $5, 'USD', 1000, 10, now())",
        spend_rows)
    await pool.executemany(
        "INSERT INTO revenue_ledger (event_id, tenant_id, deal_id, group_id, campaign_id, adset_id, ad_id, kind,"
        " amount_minor, currency, credited_total_minor, stage_id, confidence, conversion_event_id, occurred_at, day)"
        " VALUES ($1, $2, $3, $4, $4, $5, $5 || '-ad', $6, $7, 'USD', 0, $8, 1.0, $1, $9, $10)", revenue_rows)
    await pool.executemany(
        "INSERT INTO deal_attributions (tenant_id, deal_id, method, matched_on, confidence, group_id, conversion_at,"
        " decided_at) VALUES ($1, $2, $3, 'x', 1.0, $4, $5, $5)",
        [(tenant, f"deal-{group}-{n}", ("url", "probabilistic", "fingerprint")[n % 3], group,
          datetime.combine(all_days[n % days], time(9), tzinfo=UTC)) for n in range(7)])
    for d, day in enumerate(all_days):
        for k in range(decisions_per_day):
            at = datetime.combine(day, time(6 + k % 12), tzinfo=UTC)
            seeded.decisions.append(await _decision(pool, tenant, group, ids, at, d + k))
    return seeded


async def _decision(pool: asyncpg.Pool[Any], tenant: str, group: str, ids: list[str], at: datetime, n: int) -> str:
    shares = [float(i + 1 + n % 3) for i in range(len(ids))]
    total = sum(shares)
    decision_id = f"dec-{tenant}-{group}-{at:%m%d%H%M}"
    decision = AllocationDecided(
        event_id=decision_id, tenant_id=tenant, occurred_at=at, decision_id=decision_id,
        group_id=group, campaign_id=group, policy="thompson", seed=n,
        total_budget=Money(amount_minor=10_000 * len(ids), currency="USD"), reason=f"decision {n}",
        allocations=[EntityAllocation(
            entity_id=e, share=s / total, budget_minor=round(10_000 * len(ids) * s / total),
            previous_budget_minor=10_000,
            posterior_mean=1.0 + i, posterior_low=0.5 + i, posterior_high=1.6 + i, posterior_median=0.95 + i,
            posterior_p10=0.7 + i, posterior_p90=1.3 + i) for i, (e, s) in enumerate(zip(ids, shares, strict=True))],
    )
    await pool.execute(
        "INSERT INTO sampler_decisions (decision_id, tenant_id, group_id, decided_at, paused, requests, payload)"
        " VALUES ($1, $2, $3, $4, false, $5, $6)", decision.decision_id, tenant, group, at, len(ids),
        decision.model_dump(mode="json"))
    return decision.decision_id
