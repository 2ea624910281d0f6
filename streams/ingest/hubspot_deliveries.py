"""What the webhook endpoint remembers in PostgreSQL: which portal is which tenant, what was delivered.

Delivery keys are written *after* the broker acked the events they stand for (see
:mod:`streams.ingest.webhooks`), without waiting for the WAL flush: losing the last keys in a
database crash only lets a retry publish a duplicate with the same ``event_id``, which downstream
inboxes drop - the fsync would cost every delivery for a case already handled.
"""

from __future__ import annotations

import time

from streams.core.stage import Resources
from streams.ingest import context

PORTAL_CACHE_S = 30.0


async def tenants_by_portal(ctx: context.IngestContext, portals: set[int]) -> dict[int, str]:
    """Tenant per portal. Known mappings are cached briefly (one query less per delivery); an
    unmapped portal is never cached, so a mapping added for it applies to the very next delivery."""
    now = time.monotonic()
    cache = ctx.portal_tenants
    found = {p: cache[p][0] for p in portals if p in cache and now - cache[p][1] < PORTAL_CACHE_S}
    missing = [p for p in portals if p not in found]
    if missing:
        rows = await ctx.res.pool.fetch(
            "SELECT portal_id, tenant_id FROM hubspot_portals WHERE portal_id = ANY($1::bigint[])", missing
        )
        for row in rows:
            found[int(row["portal_id"])] = str(row["tenant_id"])
            cache[int(row["portal_id"])] = (str(row["tenant_id"]), now)
    default = ctx.config.hubspot_default_tenant
    return {p: tenant for p in portals if (tenant := found.get(p) or default)}


async def already_delivered(res: Resources, keys: list[str]) -> set[str]:
    rows = await res.pool.fetch("SELECT delivery_key FROM hubspot_deliveries WHERE delivery_key = ANY($1)", keys)
    return {str(r["delivery_key"]) for r in rows}


async def record_delivered(res: Resources, rows: list[tuple[str, str, str]]) -> None:
    """Remember published deliveries: (delivery key, tenant, event id)."""
    if not rows:
        return
    async with res.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL synchronous_commit TO off")
        await conn.execute(
            "INSERT INTO hubspot_deliveries (delivery_key, tenant_id, event_id) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING",
            [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
        )
