"""Sampler stage throughput: spend and revenue events ingested per second, as a ratio to the batched pass-through.

The realistic mix: ``--groups`` allocation groups of ``--entities`` ad sets each; per group and
hour, one spend snapshot per ad set and one revenue credit per ad set. The events are on the
topics before the stage starts; the stage (inbox, in-memory group state written behind to
PostgreSQL, one posterior per touched group per batch, decisions when due at the default
``significant_events`` and debounce) is timed from its first applied batch to its last, as the
batched aiokafka pass-through of ``bench.broker_passthrough`` is, in the same run.

    python bench/sampler_stage.py [--events 20000] [--groups 200] [--entities 10] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka import AIOKafkaProducer

from bench.broker_passthrough import bench_settings, measure_batched_passthrough
from schemas.codec import encode
from schemas.envelope import Envelope
from schemas.events import RevenueRecognized, SpendReported
from schemas.money import Money, SignedMoney
from schemas.topics import topic_for
from streams.core.clock import ManualClock
from streams.core.db import connect
from streams.core.naming import topic_name
from streams.core.settings import Settings
from streams.core.stage import StageRunner
from streams.sampler.app import SamplerStage
from streams.sampler.settings import SamplerSettings

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def events(n: int, groups: int, entities: int) -> Iterator[Envelope]:
    """Per hour, per group, per ad set: a spend snapshot and a revenue credit; ``n`` events in all."""
    made = 0
    for hour in range(n // (2 * groups * entities) + 1):
        when = T0 + timedelta(hours=hour)
        for g in range(groups):
            for e in range(entities):
                if made >= n:
                    return
                group, entity = f"g{g}", f"g{g}-e{e}"
                yield SpendReported(event_id=f"s-{entity}-{hour}", tenant_id="bench", occurred_at=when,
                                    group_id=group, campaign_id=group, entity_id=entity, day=when.date(),
                                    spend=Money(amount_minor=1000 * (hour % 24 + 1), currency="USD"),
                                    impressions=1000, clicks=20, daily_budget_minor=50_000)
                yield RevenueRecognized(event_id=f"r-{entity}-{hour}", tenant_id="bench", occurred_at=when,
                                        deal_id=f"d-{entity}-{hour}", group_id=group, campaign_id=group,
                                        adset_id=entity, ad_id=entity, kind="synthetic",
                                        amount=SignedMoney(amount_minor=500 + e, currency="USD"),
                                        credited_total_minor=500 + e, stage_id="lead", confidence=1.0,
                                        conversion_event_id=f"c-{entity}-{hour}",
                                        click_occurred_at=when - timedelta(hours=3))
                made += 2


async def produce(settings: Settings, batch: list[Envelope]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=5)
    await producer.start()
    try:
        acks = []
        for event in batch:
            topic = topic_for(event)
            acks.append(await producer.send(topic_name(settings, topic), encode(event), key=topic.key(event)))
        await asyncio.gather(*acks)
    finally:
        await producer.stop()


async def measure(settings: Settings, n: int, groups: int, entities: int) -> tuple[float, int]:
    """Events ingested per second and the decisions made on the way."""
    batch = list(events(n, groups, entities))
    await produce(settings, batch)
    clock = ManualClock(T0 + timedelta(hours=len(batch) // (2 * groups * entities) + 1))
    runner = StageRunner([SamplerStage(SamplerSettings(draws=500))], settings, clock=clock)
    conn = await connect(settings)
    await runner.start()
    try:
        started = 0.0
        while True:
            done = await conn.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'sampler'")
            if done and not started:
                started = time.perf_counter()
            if done >= len(batch):
                break
            await asyncio.sleep(0.01)
        rate = len(batch) / (time.perf_counter() - started)
        decisions = await conn.fetchval("SELECT count(*) FROM sampler_decisions")
    finally:
        await runner.stop()
        await conn.close()
    return rate, int(decisions)


async def main(n: int, groups: int, entities: int, as_json: bool) -> None:
    from streams.lab.dev.runtime import local_infrastructure

    with local_infrastructure() as (bootstrap, url):
        baseline = await measure_batched_passthrough(bootstrap, 20_000)
        async with bench_settings(bootstrap, url) as settings:
            rate, decisions = await measure(settings, n, groups, entities)
    if as_json:
        print(json.dumps({"benchmark": "sampler_stage", "events": n, "groups": groups, "entities": entities,
                          "batched_baseline": round(baseline), "events_per_s": round(rate),
                          "decisions": decisions, "ratio": round(rate / baseline, 3)}))
        return
    print(f"{'measure':<44}{'msgs/s':>10}{'ratio':>9}")
    print(f"{'batched aiokafka pass-through (baseline)':<44}{baseline:>10.0f}{1:>9.3f}")
    print(f"{'sampler events ingested':<44}{rate:>10.0f}{rate / baseline:>9.3f}")
    print(f"decisions made on the way: {decisions}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--entities", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    asyncio.run(main(args.events, args.groups, args.entities, args.json))
