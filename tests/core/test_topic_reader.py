"""Reading topics to their true end, even where the broker's end offset undercounts."""

from __future__ import annotations

import asyncio

from schemas.topics import CLICKS
from streams.core.naming import topic_name
from streams.core.settings import Settings
from streams.core.topic_reader import message_counts, read_topic
from tests.helpers import raw_producer


async def test_a_tail_batch_of_many_records_is_counted_and_read_in_full(settings: Settings) -> None:
    name = topic_name(settings, CLICKS)
    async with raw_producer(settings) as producer:
        # One key, one partition, sent without waiting: the producer packs them into one batch.
        futures = [await producer.send(name, f"r{i}".encode(), key=b"same") for i in range(8)]
        await asyncio.gather(*futures)
    counts = await message_counts(settings, [name, topic_name(settings, CLICKS.dlq)])
    records = await read_topic(settings, name)
    assert counts == {name: 8, topic_name(settings, CLICKS.dlq): 0}
    assert [r.value for r in records] == [f"r{i}".encode() for i in range(8)]


async def test_catalog_topics_are_created_with_their_partition_counts(settings: Settings) -> None:
    from collections import Counter

    from aiokafka import AIOKafkaConsumer

    from schemas.topics import CATALOG
    from streams.core.topic_reader import partitions_of

    wanted = {topic_name(settings, t) + suffix: t.partitions for t in CATALOG for suffix in ("", ".dlq")}
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = await partitions_of(consumer, list(wanted))
        consumer.assign(tps)  # aiokafka's stop() trips over a consumer that never fetched with an assignment
        await consumer.getmany(timeout_ms=10)
        found = Counter(tp.topic for tp in tps)
    finally:
        await consumer.stop()
    assert dict(found) == wanted
