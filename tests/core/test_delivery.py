"""Delivery semantics on the real broker and database: routing, commits, dead letters, inbox."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from faststream.kafka import KafkaMessage

from schemas import AdClicked, decode_as, encode
from schemas.topics import CLICKS
from streams.core import inbox
from streams.core.naming import group_name, topic_name
from streams.core.settings import Settings
from streams.core.stage import Resources, Stage
from tests.helpers import numbered_click as click
from tests.helpers import raw_producer, read_records, running_stages, wait_until

GROUP = "spec"



class Recording(Stage):
    """Records (click id, partition, offset) of every click it handles; refuses the ones in ``fail_on``."""

    name = "spec"
    needs_database = False

    def __init__(self, seen: list[tuple[str, int, int]], fail_on: set[str] | None = None) -> None:
        self.seen = seen
        self.fail_on = fail_on if fail_on is not None else set()

    def subscribe(self, res: Resources) -> None:
        @res.subscriber(CLICKS, group=GROUP)
        async def handle(event: AdClicked, msg: KafkaMessage) -> None:
            if event.click_id in self.fail_on:
                raise ValueError(f"handler refuses {event.click_id}")
            self.seen.append((event.click_id, msg.raw_message.partition, msg.raw_message.offset))


async def committed(settings: Settings, partition: int) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers,
                                group_id=group_name(settings, GROUP), enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(topic_name(settings, CLICKS), partition))
    finally:
        await consumer.stop()


async def test_publisher_routes_by_catalog_key_like_any_kafka_client(settings: Settings) -> None:
    seen: list[tuple[str, int, int]] = []
    async with running_stages(settings, [Recording(seen)]) as runner:
        for n, tenant in enumerate(["acme", "globex", "initech", "umbrella"]):
            await runner.resources.publisher.publish(click(n, tenant))
        await wait_until(lambda: len(seen) == 4)
    records = await read_records(settings, CLICKS, min_count=4)
    partitioner = DefaultPartitioner()
    for record in records:
        event = decode_as(record.value, AdClicked)
        assert record.key == event.tenant_id.encode()
        assert record.partition == partitioner(record.key, list(range(CLICKS.partitions)), [])


async def test_offset_is_not_committed_while_the_handler_fails(settings: Settings) -> None:
    seen: list[tuple[str, int, int]] = []
    async with running_stages(settings, [Recording(seen, fail_on={"c1"})]) as runner:
        await runner.resources.publisher.publish(click(0))
        await wait_until(lambda: len(seen) == 1)
        await runner.resources.publisher.publish(click(1))
        await asyncio.sleep(1.0)  # several failed attempts, within the retry budget
        partition = seen[0][1]
        assert await committed(settings, partition) == 1  # past c0, not past c1


async def test_poison_message_goes_to_dlq_with_origin_and_the_next_one_is_processed(settings: Settings) -> None:
    seen: list[tuple[str, int, int]] = []
    async with running_stages(settings, [Recording(seen)]) as runner:
        async with raw_producer(settings) as producer:
            await producer.send_and_wait(topic_name(settings, CLICKS), b'{"event_type": "AdClicked"}',
                                         key=b"acme", headers=[("traceparent", b"00-abc-def-01")])
        await runner.resources.publisher.publish(click(7))
        await wait_until(lambda: [c for c, _, _ in seen] == ["c7"])
    dead = await read_records(settings, CLICKS.dlq, min_count=1)
    assert len(dead) == 1
    headers = dict(dead[0].headers)
    assert dead[0].value == b'{"event_type": "AdClicked"}'
    assert dead[0].key == b"acme"
    assert headers["x-dlq-origin-topic"] == topic_name(settings, CLICKS).encode()
    assert headers["x-dlq-origin-offset"] == b"0"
    assert headers["x-dlq-error-type"] == b"InvalidEvent"
    assert b"event_id" in headers["x-dlq-error-message"]
    assert headers["traceparent"] == b"00-abc-def-01"


async def test_a_handler_that_keeps_failing_is_dead_lettered_after_bounded_retries(settings: Settings) -> None:
    seen: list[tuple[str, int, int]] = []
    async with running_stages(settings, [Recording(seen, fail_on={"c1"})]) as runner:
        await runner.resources.publisher.publish(click(1))
        await runner.resources.publisher.publish(click(2))
        await wait_until(lambda: [c for c, _, _ in seen] == ["c2"], timeout=30)
    dead = await read_records(settings, CLICKS.dlq, min_count=1)
    assert [decode_as(r.value, AdClicked).click_id for r in dead] == ["c1"]
    assert dict(dead[0].headers)["x-dlq-attempts"] == b"5"


async def test_inbox_makes_a_redelivered_event_a_no_op(settings: Settings, db_pool: asyncpg.Pool[Any]) -> None:
    await db_pool.execute("CREATE TABLE counted (event_id text, n int)")

    async def apply(event_id: str) -> bool:
        async with db_pool.acquire() as conn, conn.transaction():
            if not await inbox.claim(conn, "counter", event_id):
                return False
            await conn.execute("INSERT INTO counted VALUES ($1, 1)", event_id)
            return True

    assert await apply("e-1") is True
    assert await apply("e-1") is False
    assert await apply("e-2") is True
    assert await db_pool.fetchval("SELECT count(*) FROM counted") == 2


async def test_inbox_claim_refuses_to_run_outside_a_transaction(db_pool: asyncpg.Pool[Any]) -> None:
    async with db_pool.acquire() as conn:
        try:
            await inbox.claim(conn, "counter", "e-1")
        except RuntimeError as exc:
            assert "transaction" in str(exc)
        else:
            raise AssertionError("claim outside a transaction must fail")


def test_encoded_click_round_trips() -> None:
    original = click(3)
    assert decode_as(encode(original), AdClicked) == original


async def test_consumer_lag_is_observed_per_partition_and_drains_to_zero(settings: Settings) -> None:
    from streams.core.lag import observe_lag

    seen: list[tuple[str, int, int]] = []
    async with running_stages(settings, [Recording(seen)]) as runner:
        for n in range(5):
            await runner.resources.publisher.publish(click(n))
        await wait_until(lambda: len(seen) == 5)
        await wait_until(lambda: any(True for _ in observe_lag(runner.resources.broker)))
        lags = observe_lag(runner.resources.broker)
    assert {topic for _, topic, _ in lags} == {topic_name(settings, CLICKS)}
    assert set(lags.values()) == {0}
