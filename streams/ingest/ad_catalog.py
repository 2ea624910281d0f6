"""Which ad set and campaign an ad belongs to, from attribution's ``ad_catalog`` table (sql 0002).

Clicks arrive with only the ad id; a catalogued ad's click carries its hierarchy, an unknown ad's
ids stay None and attribution resolves them later.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from streams.core.db import Conn


async def lookup_ad(conn: Conn | asyncpg.Pool[Any], tenant_id: str, ad_id: str) -> tuple[str | None, str | None]:
    row = await conn.fetchrow(
        "SELECT adset_id, campaign_id FROM ad_catalog WHERE tenant_id = $1 AND ad_id = $2 LIMIT 1", tenant_id, ad_id,
    )
    if row is None:
        return None, None
    return (str(row["adset_id"]) if row["adset_id"] else None,
            str(row["campaign_id"]) if row["campaign_id"] else None)
