"""The inbox: how an at-least-once stream gets exactly-once effects.

A processor claims ``(consumer, event_id)`` in the *same transaction* as its state change. The
first delivery inserts the row and does the work; a redelivery finds the row, skips the work,
and the offset commit that was lost the first time is simply made again. ``event_id`` is the
producer's, stable across retries, so duplicates from the producer side are caught too.
"""

from __future__ import annotations

from streams.core.db import Conn
from streams.core.metrics import INBOX_DUPLICATES


async def claim(conn: Conn, consumer: str, event_id: str) -> bool:
    """Record that ``consumer`` handles ``event_id``; False if it already did.

    Must run inside the transaction that applies the effect, or the guarantee is void.
    """
    if not conn.is_in_transaction():
        raise RuntimeError("inbox.claim must run inside the effect's transaction")
    inserted = await conn.fetchval(
        "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
        consumer,
        event_id,
    )
    if not inserted:
        INBOX_DUPLICATES.labels(consumer=consumer).inc()
    return bool(inserted)


async def claim_many(conn: Conn, consumer: str, event_ids: list[str]) -> set[str]:
    """Batch form of :func:`claim`: returns the ids that were new (to be processed)."""
    if not conn.is_in_transaction():
        raise RuntimeError("inbox.claim_many must run inside the effect's transaction")
    rows = await conn.fetch(
        "INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::text[]) "
        "ON CONFLICT DO NOTHING RETURNING event_id",
        consumer,
        event_ids,
    )
    fresh = {r["event_id"] for r in rows}
    duplicates = len(set(event_ids)) - len(fresh)
    if duplicates:
        INBOX_DUPLICATES.labels(consumer=consumer).inc(duplicates)
    return fresh
