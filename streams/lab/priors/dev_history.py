"""``roasloop dev --priors-history N``: the simulated tenant gets a past, and the learning cycle runs.

The account's past is N earlier runs of the same market scenario on other seeds (the
:mod:`streams.lab.priors.account` study's premise: same audience, other ad sets), played back to
back before the live run starts and written where the live cycle reads it: every past ad set's
creative as a ``creative_features`` row, its days as ``sampler_entity_days`` (pipeline value
spread over its days in proportion to spend). The live run's own ad sets are described the same
way (their creative, as roasloop would see it), so the sampler can ask about them. Then
:func:`streams.priors.schedule.every` rebuilds once at once (so the first decisions already have
priors) and every ``REBUILD_DAYS`` simulated days on the dev clock: a rebuild takes seconds of CPU,
and daily (every few wall seconds) it starved the stages of the two-core dev machine.

Only a scenario with ``creatives`` (e.g. ``new_ads_creative``) gives the priors anything to learn.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.core.clock import Clock
from streams.core.db import Conn, create_pool
from streams.core.settings import Settings
from streams.core.storage import open_storage
from streams.lab.priors.account import account_history, entity_features, history_seeds
from streams.lab.sandbox.market import Market
from streams.priors.creatives import describe, record
from streams.priors.features import EntityFeatures
from streams.priors.schedule import every

REBUILD_DAYS = 7


class GivenEmbedding:
    """The sandbox creative's own embedding (what a vision/text model would have produced)."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.name = f"sandbox-creative/v1:{dim}"

    def embed(self, entities: Sequence[EntityFeatures]) -> npt.NDArray[np.float32]:
        return np.array([e.embedding or [0.0] * self.dim for e in entities], dtype=np.float32)


async def _describe(conn: Conn, tenant_id: str, group_id: str, feature: EntityFeatures, now: datetime) -> None:
    embedder = GivenEmbedding(len(feature.embedding or ()))
    await record(conn, describe(tenant_id=tenant_id, group_id=group_id, campaign_id=group_id,
                                entity_id=feature.entity_id, features=feature.creative, now=now, embedder=embedder,
                                embedding=feature.embedding))


async def seed_market_history(conn: Conn, market: Market, scenario: str, runs: int, live_start: date,
                              now: datetime) -> dict[str, Any]:
    tenant_id = market.entities().tenant_id
    live = 0
    for adset in market.entities().adsets():
        creative = market.creative(adset.adset_id)
        if creative is not None:
            await _describe(conn, tenant_id, adset.campaign_id, entity_features(adset.adset_id, creative), now)
            live += 1
    if live == 0:
        return {"skipped": f"scenario {scenario!r} has no creatives: nothing for the priors to learn"}
    history = await asyncio.to_thread(account_history, scenario, history_seeds(runs))
    days = sorted({r.day for r in history.rows})
    span = (days[-1] - days[0]).days + 1
    by_seed: dict[str, int] = {}
    for key in history.features:
        by_seed.setdefault(key.split(":", 1)[0], len(by_seed))
    spend_days: dict[str, int] = {}
    for r in history.rows:
        spend_days[r.entity_id] = spend_days.get(r.entity_id, 0) + r.spend_minor
    rows = []
    for r in history.rows:
        shift = timedelta(days=(days[0] - live_start).days + span * (len(by_seed) - by_seed[r.entity_id.split(":")[0]]))
        revenue = history.roas.get(r.entity_id, 0.0) * r.spend_minor
        rows.append((tenant_id, "past", r.entity_id, r.day - shift, r.spend_minor, r.clicks, r.impressions,
                     r.conversions, 0, round(revenue)))
    for feature in history.features.values():
        await _describe(conn, tenant_id, "past", feature, now)
    await conn.executemany(
        """INSERT INTO sampler_entity_days (tenant_id, group_id, entity_id, day, spend_minor, clicks, impressions,
                                            results, deals, revenue_minor)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING""", rows)
    return {"runs": runs, "past_adsets": len(history.features), "past_days": len(rows), "live_adsets": live}


async def start_dev_priors(settings: Settings, market: Market, scenario: str, runs: int, clock: Clock,
                           seconds_per_day: float) -> asyncio.Task[None]:
    """Seed the past, then run the cycle every simulated day (first rebuild before returning)."""
    pool = await create_pool(settings, min_size=1, max_size=2)
    async with pool.acquire() as conn:
        seeded = await seed_market_history(conn, market, scenario, runs, clock.now().date(), clock.now())
    print(f"roasloop dev: priors history {seeded}", file=sys.stderr, flush=True)
    storage = open_storage(settings)
    from streams.priors.schedule import rebuild_all

    for result in await rebuild_all(pool, storage, clock):
        print(f"roasloop dev: priors {result.tenant_id}: {result.status} v{result.version} "
              f"(held-out prior error {result.candidate.get('prior_log_rmse')} vs active "
              f"{result.active.get('prior_log_rmse')}; {result.reason})", file=sys.stderr, flush=True)

    async def cycle() -> None:
        try:
            await asyncio.sleep(seconds_per_day * REBUILD_DAYS)
            await every(pool, storage, clock, 86_400.0 * REBUILD_DAYS)
        finally:
            await pool.close()

    return asyncio.create_task(cycle())


async def priors_summary(settings: Settings, tenant_id: str) -> dict[str, Any]:
    """How the run's decisions used the priors: versions promoted, allocations that carried one."""
    from streams.core.db import connect
    from streams.priors.bundle import model_name_for

    conn = await connect(settings)
    try:
        versions = await conn.fetch("SELECT version, active, metrics FROM model_registry WHERE model_name = $1"
                                    " ORDER BY version", model_name_for(tenant_id))
        allocations = await conn.fetch(
            "SELECT a->>'entity_id' AS entity_id, (a->>'prior_version')::int AS version,"
            " (a->>'prior_mean_roas')::float AS mean_roas, (a->>'prior_strength_minor')::bigint AS strength,"
            " (a->>'prior_winners')::int AS winners"
            " FROM sampler_decisions, jsonb_array_elements(payload->'allocations') AS a WHERE tenant_id = $1",
            tenant_id)
    finally:
        await conn.close()
    with_prior = [a for a in allocations if a["version"] is not None]
    first = versions[0]["metrics"] if versions else {}
    return {
        "versions": len(versions), "promoted": sum(1 for v in versions if v["metrics"].get("promoted")),
        "first_build": {k: first.get(k) for k in ("candidate", "active")},
        "allocations": len(allocations), "allocations_with_prior": len(with_prior),
        "entities_with_prior": len({a["entity_id"] for a in with_prior}),
        "example": dict(with_prior[0]) if with_prior else None,
    }
