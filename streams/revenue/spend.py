"""Spend per entity and day, the denominator of pipeline ROAS.

``SpendReported`` is a snapshot of a day's spend so far, re-polled until the day settles: a
later report *replaces* the earlier one. The upsert keeps the newest report by event time, so a
redelivered or late old snapshot can never roll a day's spend back.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas.events import SpendReported
from streams.core.db import Conn

_UPSERT = (
    "INSERT INTO spend_daily (tenant_id, entity_id, day, entity_level, group_id, campaign_id, spend_minor,"
    " currency, impressions, clicks, reported_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    " ON CONFLICT (tenant_id, entity_id, day) DO UPDATE SET entity_level = EXCLUDED.entity_level,"
    " group_id = EXCLUDED.group_id, campaign_id = EXCLUDED.campaign_id, spend_minor = EXCLUDED.spend_minor,"
    " currency = EXCLUDED.currency, impressions = EXCLUDED.impressions, clicks = EXCLUDED.clicks,"
    " reported_at = EXCLUDED.reported_at WHERE spend_daily.reported_at <= EXCLUDED.reported_at"
)


def _row(event: SpendReported) -> tuple[object, ...]:
    return (event.tenant_id, event.entity_id, event.day, event.entity_level, event.group_id, event.campaign_id,
            event.spend.amount_minor, event.spend.currency, event.impressions, event.clicks, event.occurred_at)


async def record_spend(conn: Conn, event: SpendReported) -> bool:
    """Upsert the day's snapshot; False when a newer report for that day is already stored."""
    status = await conn.execute(_UPSERT, *_row(event))
    return status.endswith(" 1")


async def record_spends(conn: Conn, events: Sequence[SpendReported]) -> None:
    """Upsert a batch of snapshots in one pipelined ``executemany``: the newest report of a day wins
    whatever their order, so the batch needs no sorting and no answer per row."""
    if events:
        await conn.executemany(_UPSERT, [_row(e) for e in events])
