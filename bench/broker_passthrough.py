"""Baseline throughput: consume -> produce on the local broker, raw and through roasloop.

1. batched (the physical anchor): a plain aiokafka consumer takes up to 500 records at once,
   produces them all, awaits every ack, then commits once - at-least-once, as fast as Python
   can move records on this broker;
2. one at a time: the same guarantee, one send-and-wait per record (what a naive stage does);
3. roasloop: the same pass-through as a stage through ``Resources.consume`` with batching -
   decode, dead-letter rules, inbox claims for the batch, publish the batch, commit once.

Prints the rates and the ratio of the roasloop stage to the batched baseline (``--json``: one
JSON object with ``ratio``). Other benchmarks import :func:`measure_batched_passthrough` as their
baseline, measured in their own run, because absolute numbers on shared machines are noise.

    python bench/broker_passthrough.py [--n 20000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from schemas import AdClicked, SpendReported, encode
from schemas.money import Money
from schemas.topics import CLICKS
from streams.core.db import connect
from streams.core.migrate import migrate
from streams.core.naming import topic_name
from streams.core.process import Consumed, Effects, Processor
from streams.core.settings import Settings, load_settings
from streams.core.stage import Batching, Resources, Stage, StageRunner
from streams.core.topics_admin import ensure_topics

DAY = date(2026, 5, 1)
SPENT = Money(amount_minor=0, currency="USD")


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


async def measure_batched_passthrough(bootstrap: str, n: int = 20_000) -> float:
    """Messages/s of a batched at-least-once pass-through: getmany(500), send all, await all acks, commit."""
    source, sink = f"bench-in-{uuid.uuid4().hex[:8]}", f"bench-out-{uuid.uuid4().hex[:8]}"
    await _create(bootstrap, {source: 6, sink: 6})
    await _fill(bootstrap, source, sample_events(n))
    consumer = AIOKafkaConsumer(source, bootstrap_servers=bootstrap, group_id=f"batched-{source}",
                                auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=500)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2)
    await consumer.start()
    await producer.start()
    try:
        done = 0
        started = 0.0
        while done < n:
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            if batch and not started:
                started = time.perf_counter()  # steady state: the group join is not the pass-through's cost
            acks = [await producer.send(sink, r.value, key=r.key) for records in batch.values() for r in records]
            await asyncio.gather(*acks)
            done += len(acks)
            await consumer.commit()
        return n / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        await producer.stop()


async def measure_roasloop_passthrough(settings: Settings, n: int = 5000) -> float:
    """Messages/s of the same pass-through as a roasloop stage (decode, inbox row, publish, commit)."""
    await _fill(settings.kafka_bootstrap_servers or "", topic_name(settings, CLICKS), sample_events(n))
    done = asyncio.Event()
    count = 0

    class PassThrough(Stage):
        name = "bench"

        async def forward(self, fx: Effects, batch: Sequence[Consumed[AdClicked]]) -> None:
            nonlocal count, started
            started = started or time.perf_counter()  # from the first batch, as the baseline
            for c in batch:  # one derived event out per event in, as a real stage emits
                fx.emit(SpendReported(event_id=f"out-{c.event.event_id}", tenant_id=c.event.tenant_id,
                                      occurred_at=c.event.occurred_at, group_id=c.event.tenant_id,
                                      campaign_id="c1", entity_id=c.event.ad_id, day=DAY, spend=SPENT,
                                      impressions=0, clicks=1))
            count += len(batch)

        async def after(self, _: None) -> None:
            if count >= n:
                done.set()

        def subscribe(self, res: Resources) -> None:
            res.consume(CLICKS, group="bench", processor=Processor("bench", self.forward, after=self.after),
                        batching=Batching())

    runner = StageRunner([PassThrough()], settings)
    started = 0.0
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
    await ensure_topics(settings)
    yield settings


async def main(n: int, as_json: bool) -> None:
    from streams.lab.dev.runtime import local_infrastructure

    with local_infrastructure() as (bootstrap, url):
        batched = await measure_batched_passthrough(bootstrap, n)
        single = await measure_raw_passthrough(bootstrap, min(n, 2_000))
        async with bench_settings(bootstrap, url) as settings:
            ours = await measure_roasloop_passthrough(settings, n)
    if as_json:
        print(json.dumps({"benchmark": "broker_passthrough", "n": n, "batched_baseline": round(batched),
                          "one_at_a_time": round(single), "stage": round(ours), "ratio": round(ours / batched, 3)}))
        return
    print(f"{'pass-through':<44}{'msgs/s':>10}{'ratio':>9}")
    print(f"{'batched aiokafka (baseline)':<44}{batched:>10.0f}{1:>9.3f}")
    print(f"{'aiokafka one at a time':<44}{single:>10.0f}{single / batched:>9.3f}")
    print(f"{'roasloop stage (decode, inbox, publish)':<44}{ours:>10.0f}{ours / batched:>9.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    asyncio.run(main(args.n, args.json))
