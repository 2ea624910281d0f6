"""The click index: batches of ``AdClicked`` into PostgreSQL, one transaction per batch.

Clicks are the high-volume topic, so they are written in batches (one multi-row ``INSERT ...
SELECT FROM unnest`` per batch) instead of a transaction per click. Idempotence is the primary
key ``(tenant_id, click_id)``: a redelivered or duplicated click is skipped by ``ON CONFLICT DO
NOTHING``, the first one seen wins. Clicks that carry their ad set and campaign teach the
``ad_catalog`` where their ad sits, so clicks from the redirect (which only knows the ad) can
be credited to an ad set too.

After the batch is written, waiting deals the new clicks (or newly catalogued ads) may match are
re-checked in the same transaction (see :func:`streams.attribution.resolver.recheck`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from schemas.events import AdClicked
from streams.core.db import Conn

INSERT_CLICKS = """
INSERT INTO clicks (tenant_id, click_id, ad_id, occurred_at, fbclid, email_hash, device_id, ip_hash,
                    user_agent_hash, event_id)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::text[], $10::text[])
ON CONFLICT DO NOTHING
RETURNING tenant_id, click_id
"""

UPSERT_CATALOG = """
INSERT INTO ad_catalog (tenant_id, ad_id, adset_id, campaign_id, learned_at)
SELECT t, a, s, c, $5 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(t, a, s, c)
ON CONFLICT (tenant_id, ad_id) DO UPDATE
   SET adset_id = EXCLUDED.adset_id, campaign_id = EXCLUDED.campaign_id, learned_at = EXCLUDED.learned_at
   WHERE (ad_catalog.adset_id, ad_catalog.campaign_id) IS DISTINCT FROM (EXCLUDED.adset_id, EXCLUDED.campaign_id)
RETURNING tenant_id, ad_id
"""


def click_row(click: AdClicked) -> tuple[Any, ...]:
    """The column values of one click, in ``INSERT_CLICKS`` / COPY order."""
    return (
        click.tenant_id, click.click_id, click.ad_id, click.occurred_at, click.fbclid, click.email_hash,
        click.device_id, click.ip_hash, click.user_agent_hash, click.event_id,
    )


CLICK_COLUMNS = (
    "tenant_id", "click_id", "ad_id", "occurred_at", "fbclid", "email_hash", "device_id", "ip_hash",
    "user_agent_hash", "event_id",
)


async def index_clicks(
    conn: Conn, clicks: Sequence[AdClicked], now: datetime
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Insert a batch; return ``(new clicks, newly catalogued ads)`` as (tenant, id) pairs."""
    if not clicks:
        return [], []
    columns = list(zip(*(click_row(c) for c in clicks), strict=True))
    inserted = await conn.fetch(INSERT_CLICKS, *[list(col) for col in columns])
    hierarchy: dict[tuple[str, str], tuple[str, str]] = {}
    for click in clicks:
        if click.adset_id and click.campaign_id:
            hierarchy[(click.tenant_id, click.ad_id)] = (click.adset_id, click.campaign_id)
    learned: list[asyncpg.Record] = []
    if hierarchy:
        keys = list(hierarchy)
        learned = await conn.fetch(
            UPSERT_CATALOG,
            [t for t, _ in keys], [a for _, a in keys],
            [hierarchy[k][0] for k in keys], [hierarchy[k][1] for k in keys], now,
        )
    return ([(r["tenant_id"], r["click_id"]) for r in inserted], [(r["tenant_id"], r["ad_id"]) for r in learned])


async def learn_group(conn: Conn, tenant_id: str, entity_id: str, group_id: str,
                      campaign_id: str) -> None:
    """Remember the allocation group of an ad set or campaign (from ``spend.v1``)."""
    await conn.execute(
        "INSERT INTO entity_groups (tenant_id, entity_id, group_id, campaign_id) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (tenant_id, entity_id) DO UPDATE SET group_id = $3, campaign_id = $4",
        tenant_id, entity_id, group_id, campaign_id,
    )


async def prune(conn: Conn, now: datetime, default_window_days: int, margin_days: int,
                limit: int = 10_000) -> int:
    """Delete up to ``limit`` clicks older than their tenant's window plus the margin; returns how many.

    Nothing older than the window can match (see :mod:`streams.attribution.matching`), so keeping
    it only slows the index. The margin covers deals still waiting for a decision.
    """
    status = await conn.execute(
        """
        DELETE FROM clicks WHERE ctid IN (
            SELECT c.ctid FROM clicks c LEFT JOIN tenants t ON t.tenant_id = c.tenant_id
            WHERE c.occurred_at < $1::timestamptz - make_interval(days => 1 + $3)
              AND c.occurred_at < $1::timestamptz - make_interval(days => coalesce(t.attribution_window_days, $2) + $3)
            LIMIT $4)
        """,
        now, default_window_days, margin_days, limit,
    )
    return int(status.split()[-1])
