"""The background loop: give up waiting for late clicks, and forget clicks past their window.

The loop's cadence is wall time (``asyncio.sleep``) because it only decides how often to look;
*what* has expired is judged by the injected clock, so a replay or a test with a manual clock
expires deals exactly when event time says so.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import structlog

from streams.attribution import click_index
from streams.attribution.resolver import Context, lock_tenant, resolve_waiting
from streams.attribution.settings import AttributionSettings
from streams.core.clock import Clock
from streams.core.publish import Publisher

log = structlog.get_logger("roasloop.attribution.sweeper")


async def expire_pending(pool: asyncpg.Pool[Any], publisher: Publisher, config: AttributionSettings,
                         clock: Clock, limit: int = 500) -> int:
    """Decide every deal whose earliest pending deadline passed (match if one exists now, else none)."""
    now = clock.now()
    due = await pool.fetch(
        "SELECT tenant_id, deal_id FROM pending_stage_events GROUP BY tenant_id, deal_id"
        " HAVING min(deadline) <= $1 ORDER BY min(deadline) LIMIT $2",
        now, limit,
    )
    decided = 0
    for row in due:
        async with pool.acquire() as conn, conn.transaction():
            await lock_tenant(conn, row["tenant_id"])
            ctx = Context(conn, publisher, config, now)
            if await resolve_waiting(ctx, row["tenant_id"], row["deal_id"], final=True) is not None:
                decided += 1
    return decided


async def prune_clicks(pool: asyncpg.Pool[Any], config: AttributionSettings, clock: Clock) -> int:
    """Delete clicks past retention, in bounded chunks so no transaction grows large."""
    total = 0
    while True:
        async with pool.acquire() as conn:
            deleted = await click_index.prune(
                conn, clock.now(), config.default_window_days, config.retention_margin_days
            )
        total += deleted
        if deleted == 0:
            return total


async def run(pool: asyncpg.Pool[Any], publisher: Publisher, config: AttributionSettings, clock: Clock) -> None:
    """Forever: expire pending deals every ``sweep_interval_seconds``, prune every ``retention_interval``."""
    loop = asyncio.get_running_loop()
    next_prune = loop.time()
    while True:
        try:
            expired = await expire_pending(pool, publisher, config, clock)
            if expired:
                log.info("pending_deals_expired", count=expired)
            if loop.time() >= next_prune:
                pruned = await prune_clicks(pool, config, clock)
                next_prune = loop.time() + config.retention_interval_seconds
                if pruned:
                    log.info("clicks_pruned", count=pruned)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("attribution_sweep_failed")
        await asyncio.sleep(config.sweep_interval_seconds)
