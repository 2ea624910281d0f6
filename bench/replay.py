"""Replay throughput vs a plain aiokafka read of the same topics, measured in the same run.

    .venv/bin/python bench/replay.py [--events 20000] [--groups 40]

Publishes a synthetic spend/revenue/decision log (record timestamps = event times) on a prefix of
its own, then reads it three ways: a plain aiokafka consumer reading every partition to its end
(no decoding: the floor), ``read_range`` (decode, time filter, ordered merge), and the full replay
(``read_range`` + the engine with the ``logged`` and ``equal`` policies through the guardrails).
Uses ``KAFKA_BOOTSTRAP_SERVERS`` when set, else starts the local broker.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.codec import decode, encode
from schemas.envelope import Envelope
from schemas.events import AllocationDecided, EntityAllocation, RevenueRecognized, SpendReported
from schemas.money import Money, SignedMoney
from schemas.topics import topic_for
from streams.core.naming import topic_name
from streams.core.settings import Settings, load_settings
from streams.core.topics_admin import ensure_topics
from streams.lab.backtest.engine import replay_async
from streams.lab.backtest.kafka_source import read_range
from streams.lab.backtest.policies import policy_by_name
from streams.lab.backtest.records import REPLAY_TOPICS, TimeRange, to_ms

T0 = datetime(2026, 3, 1, tzinfo=UTC)
ENTITIES = ("a", "b", "c")


def synthetic(events: int, groups: int) -> Iterator[Envelope]:
    """Per group and hour: 3 spend snapshots, 3 revenue credits and one decision (7 events)."""
    for n in range(events // (7 * groups) + 1):
        when = T0 + timedelta(hours=n)
        for g in range(groups):
            group = f"g{g}"
            for e in ENTITIES:
                yield SpendReported(event_id=f"s{g}{e}{n}", tenant_id="bench", occurred_at=when, group_id=group,
                                    campaign_id=group, entity_id=e, day=when.date(),
                                    spend=Money(amount_minor=1000 * (n % 24 + 1), currency="USD"),
                                    impressions=0, clicks=0)
                yield RevenueRecognized(event_id=f"r{g}{e}{n}", tenant_id="bench", occurred_at=when, deal_id=f"d{n}",
                                        group_id=group, campaign_id=group, adset_id=e, ad_id=e, kind="synthetic",
                                        amount=SignedMoney(amount_minor=500, currency="USD"),
                                        credited_total_minor=500, stage_id="lead", confidence=1.0,
                                        conversion_event_id=f"c{n}")
            yield AllocationDecided(event_id=f"d{g}{n}", tenant_id="bench", occurred_at=when,
                                    decision_id=f"{group}-{n}", group_id=group, campaign_id=group, policy="equal",
                                    seed=1, total_budget=Money(amount_minor=30_000, currency="USD"),
                                    allocations=[EntityAllocation(entity_id=e, share=1 / 3, budget_minor=10_000)
                                                 for e in ENTITIES])


async def publish(settings: Settings, events: int, groups: int) -> tuple[int, datetime]:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=5)
    await producer.start()
    count, last = 0, T0
    try:
        for event in synthetic(events, groups):
            topic = topic_for(event)
            await producer.send(topic_name(settings, topic), encode(event), key=topic.key(event),
                                timestamp_ms=to_ms(event.occurred_at))
            count, last = count + 1, event.occurred_at
        await producer.flush()
    finally:
        await producer.stop()
    return count, last


async def plain_read(settings: Settings, decoding: bool = False) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic_name(settings, t), p) for t in REPLAY_TOPICS for p in range(t.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        remaining = set(tps)
        count = 0
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=500)
            for messages in batch.values():
                count += len(messages)
                if decoding:
                    for message in messages:
                        decode(message.value or b"")
            for tp in list(remaining):
                high = consumer.highwater(tp)
                if high is not None and await consumer.position(tp) >= high:
                    remaining.discard(tp)
        return count
    finally:
        await consumer.stop()


async def main(args: argparse.Namespace, servers: str) -> None:
    settings = load_settings(kafka_bootstrap_servers=servers, topic_prefix=f"bench{uuid.uuid4().hex[:6]}.")
    await ensure_topics(settings)
    published, last = await publish(settings, args.events, args.groups)
    window = TimeRange(T0, last + timedelta(hours=1))

    started = time.perf_counter()
    plain = await plain_read(settings)
    plain_s = time.perf_counter() - started

    started = time.perf_counter()
    decoded = await plain_read(settings, decoding=True)
    decoded_s = time.perf_counter() - started

    started = time.perf_counter()
    read, first_s = 0, 0.0
    async for _ in read_range(settings, window):
        read += 1
        first_s = first_s or time.perf_counter() - started
    read_s = time.perf_counter() - started

    started = time.perf_counter()
    result = await replay_async(read_range(settings, window), [policy_by_name("logged"), policy_by_name("equal")])
    replay_s = time.perf_counter() - started

    assert plain == read == result.events == published, (plain, read, result.events, published)
    base = plain / plain_s
    if args.json:
        print(json.dumps({"benchmark": "replay", "events": published, "plain_read": round(base),
                          "read_decode": round(decoded / decoded_s), "read_range": round(read / read_s),
                          "replay": round(result.events / replay_s), "decisions": len(result.logged),
                          "ratio": round((result.events / replay_s) / (decoded / decoded_s), 3)}))
        return
    print(f"events: {published:,} on {sum(t.partitions for t in REPLAY_TOPICS)} partitions")
    print(f"plain aiokafka read : {base:12,.0f} events/s ({plain_s:.2f}s)")
    print(f"plain read + decode : {decoded / decoded_s:12,.0f} events/s ({decoded_s:.2f}s)  "
          f"ratio {decoded / decoded_s / base:.2f}")
    print(f"read_range          : {read / read_s:12,.0f} events/s ({read_s:.2f}s)  ratio {read / read_s / base:.2f}"
          f"  (first record after {first_s:.2f}s: seeks and end probes)")
    print(f"full replay         : {result.events / replay_s:12,.0f} events/s ({replay_s:.2f}s)  "
          f"ratio {result.events / replay_s / base:.2f}  ({len(result.logged):,} decisions, 2 policies)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--groups", type=int, default=40)
    parser.add_argument("--json", action="store_true", help="one JSON object; ratio = full replay / read + decode")
    options = parser.parse_args()
    with contextlib.ExitStack() as stack:
        servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not servers:
            from streams.lab.dev.broker import LocalBroker

            servers = stack.enter_context(LocalBroker()).bootstrap_servers
        asyncio.run(main(options, servers))
