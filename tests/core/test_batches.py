"""Batches end to end on the real broker and database: one transaction, one publish round, one commit.

A batch is applied in one transaction; when one record in it can never succeed, that record alone
goes to the dead-letter topic and every neighbour is applied exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas import AdClicked, decode_as
from schemas.topics import CLICKS
from streams.core.errors import PoisonMessage
from streams.core.naming import group_name, topic_name
from streams.core.process import Consumed, Effects, Processor
from streams.core.settings import Settings
from streams.core.stage import Batching, Resources, Stage
from tests.helpers import numbered_click as click
from tests.helpers import read_records, running_stages, wait_until

GROUP = "batches"



class Counting(Stage):
    """Writes one row per click it applies, in batches; ``poison`` clicks raise PoisonMessage, ``broken`` ValueError."""

    name = "batches"

    def __init__(self, poison: frozenset[str] = frozenset(), broken: frozenset[str] = frozenset()) -> None:
        self.poison, self.broken = poison, broken
        self.batch_sizes: list[int] = []

    async def apply(self, fx: Effects, batch: Sequence[Consumed[AdClicked]]) -> None:
        self.batch_sizes.append(len(batch))
        for record in batch:
            if record.event.click_id in self.poison:
                raise PoisonMessage(f"{record.event.click_id} can never apply")
            if record.event.click_id in self.broken:
                raise ValueError(f"{record.event.click_id} breaks the handler")
            await fx.conn.execute("INSERT INTO applied VALUES ($1)", record.event.click_id)

    def subscribe(self, res: Resources) -> None:
        res.consume(CLICKS, group=GROUP, processor=Processor(GROUP, self.apply),
                    batching=Batching(max_records=100, timeout_ms=500))


async def committed(settings: Settings, partition: int) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers,
                                group_id=group_name(settings, GROUP), enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(topic_name(settings, CLICKS), partition))
    finally:
        await consumer.stop()


async def applied(pool: asyncpg.Pool[Any]) -> list[str]:
    return [r["click_id"] for r in await pool.fetch("SELECT click_id FROM applied ORDER BY click_id")]


async def test_publish_many_keeps_the_emission_order_of_one_key(settings: Settings) -> None:
    async with running_stages(settings, []) as runner:
        await runner.resources.publisher.publish_many([click(n) for n in range(200)])
    records = await read_records(settings, CLICKS, min_count=200)
    assert [decode_as(r.value, AdClicked).click_id for r in records] == [f"c{n}" for n in range(200)]
    assert len({r.partition for r in records}) == 1


async def test_a_poison_record_goes_alone_to_its_dlq_and_its_batch_neighbours_apply_once(
        settings: Settings, db_pool: asyncpg.Pool[Any]) -> None:
    await db_pool.execute("CREATE TABLE applied (click_id text PRIMARY KEY)")
    stage = Counting(poison=frozenset({"c3"}))
    async with running_stages(settings, []) as runner:
        await runner.resources.publisher.publish_many([click(n) for n in range(10)])
    async with running_stages(settings, [stage]):
        await wait_until(lambda: _count(db_pool, 9))
        dead = await read_records(settings, CLICKS.dlq, min_count=1)
        partition = (await read_records(settings, CLICKS))[0].partition
        await wait_until(lambda: _committed_is(settings, partition, 10))
    assert await applied(db_pool) == sorted(f"c{n}" for n in range(10) if n != 3)
    assert [decode_as(r.value, AdClicked).click_id for r in dead] == ["c3"]
    assert stage.batch_sizes[0] == 10  # the ten arrived as one batch, then went one by one


async def test_a_record_that_keeps_breaking_is_dead_lettered_alone_after_bounded_retries(
        settings: Settings, db_pool: asyncpg.Pool[Any]) -> None:
    await db_pool.execute("CREATE TABLE applied (click_id text PRIMARY KEY)")
    async with running_stages(settings, []) as runner:
        await runner.resources.publisher.publish_many([click(n) for n in range(6)])
    async with running_stages(settings, [Counting(broken=frozenset({"c2"}))]):
        await wait_until(lambda: _count(db_pool, 5), timeout=40)
        dead = await read_records(settings, CLICKS.dlq, min_count=1, timeout=30)
    assert await applied(db_pool) == ["c0", "c1", "c3", "c4", "c5"]
    assert [decode_as(r.value, AdClicked).click_id for r in dead] == ["c2"]
    assert dict(dead[0].headers)["x-dlq-attempts"] == b"5"


async def _count(pool: asyncpg.Pool[Any], n: int) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM applied") == n)


async def _committed_is(settings: Settings, partition: int, offset: int) -> bool:
    return await committed(settings, partition) == offset
