"""What operators read: recent budget changes and allocation decisions per campaign.

The tables belong to other stages (``ad_change_history`` is the executor's; decisions are the
sampler's) and may not exist in a deployment yet, so each source is looked up with
``to_regclass`` and reported as unavailable rather than failing the request.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from streams.core.db import Conn

CHANGES_TABLE = "ad_change_history"
DECISION_TABLES = ("sampler_decisions", "allocation_decisions", "decisions")
TIME_COLUMNS = ("decided_at", "settled_at", "occurred_at", "created_at", "requested_at", "at")


async def _exists(conn: Conn, table: str) -> bool:
    return await conn.fetchval("SELECT to_regclass($1)", table) is not None


async def _columns(conn: Conn, table: str) -> tuple[str, str] | None:
    """(campaign column, time column) of a table, or None when it cannot be read per campaign.

    The sampler keys decisions by allocation group, which is the campaign in the common case
    (ad-set budgets), so ``group_id`` stands in where there is no ``campaign_id``.
    """
    columns = {r["column_name"] for r in await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = $1 "
        "AND table_schema = current_schema()", table)}
    campaign = next((c for c in ("campaign_id", "group_id") if c in columns), None)
    if "tenant_id" not in columns or campaign is None:
        return None
    return campaign, next((c for c in TIME_COLUMNS if c in columns), "tenant_id")


async def _recent(conn: Conn, table: str, tenant_id: str, campaign_id: str, limit: int
                  ) -> list[dict[str, Any]] | None:
    found = await _columns(conn, table)
    if found is None:
        return None
    campaign, order = found
    # identifiers come from the fixed lists above and information_schema, never from the request
    rows = await conn.fetch(
        f'SELECT to_jsonb(t) AS row FROM "{table}" t WHERE tenant_id = $1 AND "{campaign}" = $2 '
        f'ORDER BY "{order}" DESC NULLS LAST LIMIT $3', tenant_id, campaign_id, limit,
    )
    return [dict(r["row"]) for r in rows]


async def campaign_history(pool: asyncpg.Pool[Any], tenant_id: str, campaign_id: str, limit: int
                           ) -> dict[str, Any]:
    """``{"budget_changes": [...] | None, "decisions": [...] | None, "unavailable": [...]}``."""
    out: dict[str, Any] = {"budget_changes": None, "decisions": None, "unavailable": []}
    async with pool.acquire() as conn:
        if await _exists(conn, CHANGES_TABLE):
            out["budget_changes"] = await _recent(conn, CHANGES_TABLE, tenant_id, campaign_id, limit)
        if out["budget_changes"] is None:
            out["unavailable"].append("budget_changes")
        for table in DECISION_TABLES:
            if await _exists(conn, table) and (rows := await _recent(conn, table, tenant_id, campaign_id, limit)
                                               ) is not None:
                out["decisions"] = rows
                break
        else:
            out["unavailable"].append("decisions")
    return out
