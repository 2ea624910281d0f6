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
from streams.attribution.context import Context, lock_tenants
from streams.attribution.settings import AttributionSettings
from streams.attribution.stage_batch import resolve_waiting
from streams.core.clock import Clock
from streams.core.stage import Resources

log = structlog.get_logger("roasloop.attribution.sweeper")


async def expire_pending(res: Resources, config: AttributionSettings, limit: int = 500) -> int:
    """Decide every deal whose earliest pending deadline passed (match if one exists now, else none)."""
    now = res.clock.now()
    due = await res.pool.fetch(
        "SELECT tenant_id, deal_id FROM pending_stage_events GROUP BY tenant_id, deal_id"
        " HAVING min(deadline) <= $1 ORDER BY min(deadline) LIMIT $2",
        now, limit,
    )
    if not due:
        return 0
    keys = [(r["tenant_id"], r["deal_id"]) for r in due]
    try:
        return await _expire(res, config, keys)  # one transaction for the lot, as a batch of stage events
    except Exception:
        log.exception("attribution_sweep_batch_failed", deals=len(keys))
    # One deal that cannot be decided must not hold back the others, as a poison record does not in a
    # stage batch: alone, each either lands or is logged and tried again at the next sweep.
    expired = 0
    for key in keys:
        try:
            expired += await _expire(res, config, [key])
        except Exception:
            log.exception("attribution_sweep_deal_failed", tenant_id=key[0], deal_id=key[1])
    return expired


async def _expire(res: Resources, config: AttributionSettings, keys: list[tuple[str, str]]) -> int:
    async with res.effects() as fx:
        await lock_tenants(fx.conn, [t for t, _ in keys])
        return await resolve_waiting(Context(fx, config), keys, final=True)


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


async def run(res: Resources, config: AttributionSettings) -> None:
    """Forever: expire pending deals every ``sweep_interval_seconds``, prune every ``retention_interval``."""
    loop = asyncio.get_running_loop()
    next_prune = loop.time()
    while True:
        try:
            expired = await expire_pending(res, config)
            if expired:
                log.info("pending_deals_expired", count=expired)
            if loop.time() >= next_prune:
                pruned = await prune_clicks(res.pool, config, res.clock)
                next_prune = loop.time() + config.retention_interval_seconds
                if pruned:
                    log.info("clicks_pruned", count=pruned)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("attribution_sweep_failed")
        await asyncio.sleep(config.sweep_interval_seconds)
