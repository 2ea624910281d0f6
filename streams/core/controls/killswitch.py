"""The kill switch, read by the sampler (log but don't request) and the executor (block)."""

from __future__ import annotations

from typing import Any

import asyncpg

from streams.core.db import Conn


async def is_paused(conn: Conn | asyncpg.Pool[Any], tenant_id: str, campaign_id: str) -> bool:
    """True when automation is paused for the tenant as a whole or for this campaign."""
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM automation_pauses WHERE tenant_id = $1 AND campaign_id IN ('', $2))",
            tenant_id,
            campaign_id,
        )
    )


async def pause(conn: Conn | asyncpg.Pool[Any], tenant_id: str, campaign_id: str | None,
                actor: str, reason: str = "") -> None:
    await conn.execute(
        "INSERT INTO automation_pauses (tenant_id, campaign_id, paused_by, reason) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (tenant_id, campaign_id) DO UPDATE SET paused_by = $3, reason = $4, paused_at = now()",
        tenant_id, campaign_id or "", actor, reason,
    )


async def resume(conn: Conn | asyncpg.Pool[Any], tenant_id: str, campaign_id: str | None) -> bool:
    status = await conn.execute(
        "DELETE FROM automation_pauses WHERE tenant_id = $1 AND campaign_id = $2", tenant_id, campaign_id or ""
    )
    return bool(status.endswith(" 1"))
