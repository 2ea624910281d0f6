"""Which ad set and campaign an ad belongs to, from attribution's ``ad_catalog`` table (sql 0002).

Clicks arrive with only the ad id. If a catalog table exists (``tenant_id, ad_id, adset_id,
campaign_id``) the click carries its hierarchy; otherwise the ids stay None and attribution
resolves them later. Whether the table exists is checked per lookup through ``to_regclass``,
which is cheap, so a catalog that lands later is used without a restart.
"""

from __future__ import annotations

from typing import Any

import asyncpg


async def lookup_ad(pool: asyncpg.Pool[Any], tenant_id: str, ad_id: str) -> tuple[str | None, str | None]:
    async with pool.acquire() as conn:
        if await conn.fetchval("SELECT to_regclass('ad_catalog')") is None:
            return None, None
        try:
            row = await conn.fetchrow(
                "SELECT adset_id, campaign_id FROM ad_catalog WHERE tenant_id = $1 AND ad_id = $2 LIMIT 1",
                tenant_id, ad_id,
            )
        except asyncpg.PostgresError:  # a catalog of another shape: better no hierarchy than no click
            return None, None
    if row is None:
        return None, None
    return (str(row["adset_id"]) if row["adset_id"] else None,
            str(row["campaign_id"]) if row["campaign_id"] else None)
