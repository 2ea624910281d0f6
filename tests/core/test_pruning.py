"""Bounded state: the pruning job deletes dedupe rows past the window and audit rows past the period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from streams.core.pruning import LOCK_KEY, dedupe_window, prune
from streams.core.settings import Settings

NOW = datetime(2026, 6, 1, tzinfo=UTC)


async def test_rows_past_the_dedupe_window_and_the_audit_period_go_and_the_rest_stay(
        settings: Settings, db_pool: asyncpg.Pool[Any]) -> None:
    kept = settings.model_copy(update={"dedupe_window_days": 7, "audit_retention_days": 30})
    await _dedupe_rows_aged_by_the_database(db_pool, {"old": 8, "new": 6})
    for age_days, name in ((31, "old"), (29, "new")):
        await db_pool.execute("INSERT INTO operator_audit (tenant_id, actor, action, target, at)"
                              " VALUES ('t', 'ops', 'pause', $1, $2)", name, NOW - timedelta(days=age_days))
    deleted = await prune(db_pool, kept, NOW)
    assert deleted is not None
    assert (deleted["inbox"], deleted["hubspot_deliveries"], deleted["operator_audit"]) == (1, 1, 1)
    assert await db_pool.fetchval("SELECT array_agg(event_id) FROM inbox") == ["new"]
    assert await db_pool.fetchval("SELECT array_agg(delivery_key) FROM hubspot_deliveries") == ["new"]
    assert await db_pool.fetchval("SELECT array_agg(target) FROM operator_audit") == ["new"]


async def test_a_stage_clock_far_ahead_of_the_database_prunes_no_dedupe_row_a_duplicate_can_still_match(
        settings: Settings, db_pool: asyncpg.Pool[Any]) -> None:
    kept = settings.model_copy(update={"dedupe_window_days": 7})
    await _dedupe_rows_aged_by_the_database(db_pool, {"fresh": 0})
    deleted = await prune(db_pool, kept, datetime.now(UTC) + timedelta(days=3650))  # a sped-up dev clock
    assert deleted is not None and (deleted["inbox"], deleted["hubspot_deliveries"]) == (0, 0)


async def _dedupe_rows_aged_by_the_database(db_pool: asyncpg.Pool[Any], ages_in_days: dict[str, int]) -> None:
    """Dedupe rows are stamped by the database's now() when written; so are these."""
    for name, age_days in ages_in_days.items():
        await db_pool.execute("INSERT INTO inbox (consumer, event_id, processed_at)"
                              " VALUES ('c', $1, now() - make_interval(days => $2))", name, age_days)
        await db_pool.execute("INSERT INTO hubspot_deliveries (delivery_key, tenant_id, event_id, received_at)"
                              " VALUES ($1, 't', 'e', now() - make_interval(days => $2))", name, age_days)


async def test_a_second_pruner_stands_aside_while_one_runs(settings: Settings, db_pool: asyncpg.Pool[Any]) -> None:
    async with db_pool.acquire() as holder:
        await holder.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
        try:
            assert await prune(db_pool, settings, NOW) is None
        finally:
            await holder.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)


def test_the_default_dedupe_window_is_the_longest_topic_retention(settings: Settings) -> None:
    assert dedupe_window(settings) == timedelta(days=365)
