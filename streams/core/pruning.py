"""Bounded state: dedupe rows are kept only while a duplicate can still arrive, audit history for a period.

The inbox grows by a row per event per consumer, webhook delivery keys by a row per delivery, and
the audit tables by a row per decision or change - forever, unless something deletes them. A
duplicate can only arrive while its record is still on a topic (or a sender still retries), so
dedupe rows older than the dedupe window (``dedupe_window_days``, by default the longest topic
retention) can never match again; audit history is kept ``audit_retention_days``.

The job runs in every process that has a database pool (so in the stack and in ``roasloop dev``)
every ``prune_interval_seconds``; a session advisory lock lets one process at a time do it. It
deletes in chunks of :data:`CHUNK` rows, each its own short transaction, so it never holds locks
long or competes with a stage's batch for more than a moment.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import structlog

from schemas.topics import CATALOG
from streams.core.clock import Clock
from streams.core.settings import Settings

log = structlog.get_logger("roasloop.pruning")

CHUNK = 10_000
LOCK_KEY = 0x726F61735F707275  # "roas_pru": one pruner at a time across processes


@dataclass(frozen=True)
class Rule:
    """Rows of ``table`` whose ``column`` is older than the cutoff of ``kind`` are deleted."""

    table: str
    column: str
    kind: str  # "dedupe" or "audit"


RULES = (
    Rule("inbox", "processed_at", "dedupe"),
    Rule("hubspot_deliveries", "received_at", "dedupe"),
    Rule("operator_audit", "at", "audit"),
    Rule("sampler_decisions", "decided_at", "audit"),
    Rule("ad_change_history", "settled_at", "audit"),  # settled only: an executing change is never pruned
)


def dedupe_window(settings: Settings) -> timedelta:
    return timedelta(days=settings.dedupe_window_days or max(t.retention_days for t in CATALOG))


def cutoffs(settings: Settings, now: datetime, database_now: datetime) -> dict[str, datetime]:
    """Dedupe rows are stamped by the database's ``now()`` when written, so their window is measured on the
    database's clock; audit rows carry the stage's (event) time, so theirs on the stage's clock. Mixing the
    two would let a sped-up or replaying clock delete dedupe rows a duplicate can still match."""
    return {"dedupe": database_now - dedupe_window(settings),
            "audit": now - timedelta(days=settings.audit_retention_days)}


async def prune(pool: asyncpg.Pool[Any], settings: Settings, now: datetime) -> dict[str, int] | None:
    """Delete what is past its keeping; rows deleted per table, or None if another process is pruning."""
    async with pool.acquire() as conn:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
            return None
        try:
            limits = cutoffs(settings, now, await conn.fetchval("SELECT now()"))
            deleted: dict[str, int] = {}
            for rule in RULES:
                deleted[rule.table] = await _prune_table(conn, rule, limits[rule.kind])
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
    if any(deleted.values()):
        log.info("pruned", **deleted)
    return deleted


async def _prune_table(conn: Any, rule: Rule, cutoff: datetime) -> int:
    sql = (f"DELETE FROM {rule.table} WHERE ctid IN"
           f" (SELECT ctid FROM {rule.table} WHERE {rule.column} < $1 LIMIT {CHUNK})")
    total = 0
    while True:
        status = await conn.execute(sql, cutoff)
        count = int(status.rsplit(" ", 1)[-1])
        total += count
        if count < CHUNK:
            return total


async def prune_loop(pool: asyncpg.Pool[Any], settings: Settings, clock: Clock) -> None:
    """Prune now and every ``prune_interval_seconds``; a failed run is logged and tried again next time."""
    while True:
        try:
            await prune(pool, settings, clock.now())
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("prune_failed", error_type=type(exc).__name__, error=str(exc)[:300])
        await asyncio.sleep(settings.prune_interval_seconds)
