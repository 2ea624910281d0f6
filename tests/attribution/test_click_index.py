"""The click index: batched, idempotent on click id, bad items dead-lettered alone, pruned by window."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg

from schemas import encode
from schemas.topics import CLICKS
from streams.attribution import click_index
from streams.attribution.app import AttributionStage
from streams.core.clock import ManualClock
from streams.core.naming import topic_name
from streams.core.settings import Settings
from tests.attribution.factories import FAST, T0, click
from tests.helpers import raw_producer, read_records, running_stages, wait_until


async def test_duplicates_are_indexed_once_and_a_bad_click_is_dead_lettered_alone(
    settings: Settings, db_pool: asyncpg.Pool[Any]
) -> None:
    good = [click(f"c{n}", f"ad{n % 3}", email_hash=f"e{n}") for n in range(40)]
    again = click("c0", "ad-other", hierarchy=False)  # same click id, other content: the first seen wins
    async with raw_producer(settings) as producer:
        topic = topic_name(settings, CLICKS)
        for n, c in enumerate(good):
            await producer.send(topic, encode(c), key=b"acme")
            if n == 20:
                await producer.send(topic, b'{"event_type": "AdClicked", "tenant_id": "acme"}', key=b"acme")
        for c in [*good[:10], again]:
            await producer.send(topic, encode(c), key=b"acme")
        await producer.flush()
    async with running_stages(settings, [AttributionStage(FAST)], clock=ManualClock(T0)):
        await wait_until(lambda: db_pool.fetchval("SELECT count(*) = 40 FROM clicks"))
        dead = await read_records(settings, CLICKS.dlq, min_count=1)
    assert len(dead) == 1 and dead[0].value.startswith(b'{"event_type": "AdClicked", "tenant_id"')
    assert dict(dead[0].headers)["x-dlq-error-type"] == b"InvalidEvent"
    assert await db_pool.fetchval("SELECT count(*) FROM clicks") == 40
    assert await db_pool.fetchval("SELECT ad_id FROM clicks WHERE click_id = 'c0'") == "ad0"
    assert await db_pool.fetchval("SELECT count(*) FROM ad_catalog") == 3


async def test_clicks_past_the_tenant_window_and_margin_are_pruned(db_pool: asyncpg.Pool[Any]) -> None:
    await db_pool.execute("INSERT INTO tenants (tenant_id, attribution_window_days) VALUES ('short', 1)")
    ages = {"fresh": 1, "edge": 7, "stale": 9}
    clicks = [click(f"{tenant}-{name}", at=T0 - timedelta(days=days, minutes=1), tenant=tenant)
              for tenant in ("acme", "short") for name, days in ages.items()]
    async with db_pool.acquire() as conn, conn.transaction():
        await click_index.index_clicks(conn, clicks, T0)
    async with db_pool.acquire() as conn:
        pruned = await click_index.prune(conn, T0, default_window_days=7, margin_days=1)
    kept = {r["click_id"] for r in await db_pool.fetch("SELECT click_id FROM clicks")}
    # acme keeps 7 + 1 days; short keeps 1 + 1 days
    assert kept == {"acme-fresh", "acme-edge", "short-fresh"}
    assert pruned == 3
