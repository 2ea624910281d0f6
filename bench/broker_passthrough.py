"""Baseline throughput: consume -> produce on the local broker, raw and through roasloop.

1. raw: a plain aiokafka consumer reads N events and a plain producer writes each to an output
   topic - the fastest a Python pass-through can go on this broker;
2. roasloop: the same pass-through as a stage - broker factory, FastStream subscriber with
   commit-after-effect, dead-letter middleware, event decoding, and the PostgreSQL inbox row
   per event.

Prints both rates and their ratio. Other benchmarks import :func:`measure_raw_passthrough` as
their baseline, measured in their own run, because absolute numbers on shared machines are noise.

    python bench/broker_passthrough.py [--n 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from schemas import AdClicked, encode
from schemas.topics import CLICKS
from streams.core import inbox
from streams.core.db import connect
from streams.core.migrate import migrate
from streams.core.naming import topic_name
from streams.core.settings import Settings, load_settings
from streams.core.stage import Resources, Stage, StageRunner
from streams.core.topics_admin import ensure_topics


def sample_events(n: int) -> list[bytes]:
    at = datetime(2026, 5, 1, tzinfo=UTC)
    return [
        encode(AdClicked(event_id=f"e{i}", tenant_id=f"t{i % 50}", occurred_at=at, click_id=f"c{i}", ad_id="ad1"))
        for i in range(n)
    ]


async def _fill(bootstrap: str, topic: str, payloads: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, p, key=str(i % 50).encode()) for i, p in enumerate(payloads)]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _create(bootstrap: str, topics: dict[str, int]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, p, 1) for t, p in topics.items()])
    finally:
        await admin.close()


async def measure_raw_passthrough(bootstrap: str, n: int = 5000) -> float:
    """Messages/s of a plain aiokafka consume -> produce loop (the baseline)."""
    source, sink = f"bench-in-{uuid.uuid4().hex[:8]}", f"bench-out-{uuid.uuid4().hex[:8]}"
    await _create(bootstrap, {source: 6, sink: 6})
    await _fill(bootstrap, source, sample_events(n))
    consumer = AIOKafkaConsumer(source, bootstrap_servers=bootstrap, group_id=f"raw-{source}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2)
    await consumer.start()
    await producer.start()
    try:
        done = 0
        started = time.perf_counter()
        while done < n:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    await producer.send_and_wait(sink, record.value, key=record.key)
                    done += 1
            await consumer.commit()
        return n / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        await producer.stop()


async def measure_roasloop_passthrough(settings: Settings, n: int = 5000) -> float:
    """Messages/s of the same pass-through as a roasloop stage (decode, inbox row, publish, commit)."""
    await _fill(settings.kafka_bootstrap_servers or "", topic_name(settings, CLICKS), sample_events(n))
    sink = topic_name(settings, "bench.out")
    done = asyncio.Event()
    count = 0

    class PassThrough(Stage):
        name = "bench"

        def subscribe(self, res: Resources) -> None:
            @res.subscriber(CLICKS, group="bench")
            async def handle(event: AdClicked) -> None:
                nonlocal count
                async with res.pool.acquire() as conn, conn.transaction():
                    if await inbox.claim(conn, "bench", event.event_id):
                        await res.broker.publish(encode(event), topic=sink, key=event.tenant_id.encode())
                count += 1
                if count >= n:
                    done.set()

    runner = StageRunner([PassThrough()], settings)
    started = time.perf_counter()
    await runner.start()
    try:
        await done.wait()
        return n / (time.perf_counter() - started)
    finally:
        await runner.stop()


@contextlib.asynccontextmanager
async def bench_settings(bootstrap: str, database_url: str) -> AsyncIterator[Settings]:
    suffix = uuid.uuid4().hex[:8]
    settings = load_settings(kafka_bootstrap_servers=bootstrap, database_url=database_url,
                             database_schema=f"bench_{suffix}", topic_prefix=f"bench{suffix}.")
    conn = await connect(settings)
    try:
        await migrate(conn, settings.database_schema)
    finally:
        await conn.close()
    await ensure_topics(settings, {topic_name(settings, "bench.out"): 6})
    yield settings


async def main(n: int) -> None:
    from streams.lab.dev.runtime import local_infrastructure

    with local_infrastructure() as (bootstrap, url):
        raw = await measure_raw_passthrough(bootstrap, n)
        async with bench_settings(bootstrap, url) as settings:
            ours = await measure_roasloop_passthrough(settings, n)
    print(f"{'pass-through':<34}{'msgs/s':>10}")
    print(f"{'raw aiokafka (baseline)':<34}{raw:>10.0f}")
    print(f"{'roasloop stage (DLQ + inbox)':<34}{ours:>10.0f}")
    print(f"ratio roasloop/raw: {ours / raw:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    asyncio.run(main(parser.parse_args().n))
