"""A producer in another language (librdkafka, as kcat uses it) cannot split a group between samplers.

Two sampler instances share the consumer group; librdkafka produces ``spend.v1`` records for eight
groups, once with its default partitioner (``consistent_random``: CRC32, not Kafka's murmur2) and
once with ``murmur2_random`` (the Java client's), while roasloop's own producer credits revenue to
the same groups. Either way every record of a group is applied by one instance: with murmur2 each
lands where it belongs; with the default, the misplaced ones are moved there first
(``streams.core.copartition``) and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import pytest
from confluent_kafka import Producer

from schemas.codec import encode
from schemas.topics import SPEND
from streams.core.clock import ManualClock
from streams.core.metrics import MISPLACED_RECORDS
from streams.core.naming import topic_name
from streams.core.partitions import group_partition
from streams.core.process import Consumed, Effects
from streams.core.settings import Settings
from streams.sampler.app import Fact, GroupKey, SamplerStage
from streams.sampler.settings import SamplerSettings
from tests.helpers import running_stages, wait_until
from tests.sampler.test_app import NOW, revenue, spend

QUIET = SamplerSettings(significant_events=1000, schedule_seconds=3600)
GROUPS = [f"g{n}" for n in range(8)]
PER_GROUP = 3


class _Recording(SamplerStage):
    """A sampler that remembers which groups' records it applied."""

    def __init__(self) -> None:
        super().__init__(QUIET)
        self.applied: dict[str, int] = defaultdict(int)

    async def ingest(self, fx: Effects, batch: Sequence[Consumed[Fact]]) -> dict[GroupKey, int]:
        counts = await super().ingest(fx, batch)
        for record in batch:
            self.applied[record.event.group_id] += 1
        return counts


@contextlib.asynccontextmanager
async def _two_samplers(settings: Settings) -> AsyncIterator[tuple[_Recording, _Recording]]:
    first, second = _Recording(), _Recording()
    async with running_stages(settings, [first], clock=ManualClock(NOW)), \
            running_stages(settings, [second], clock=ManualClock(NOW)):
        await wait_until(lambda: bool(first.assigned) and bool(second.assigned)
                         and first.assigned | second.assigned == set(range(SPEND.partitions))
                         and not first.assigned & second.assigned, timeout=60)
        yield first, second


def _produce_with_librdkafka(settings: Settings, partitioner: str | None) -> list[tuple[str, int]]:
    """Produce every group's spend as kcat would; return each record's group and the partition it landed on."""
    config: dict[str, Any] = {"bootstrap.servers": settings.kafka_bootstrap_servers}
    if partitioner:
        config["partitioner"] = partitioner
    producer = Producer(config)
    landed: list[tuple[str, int]] = []

    def delivered(err: Any, msg: Any) -> None:
        assert err is None, err
        landed.append((msg.key().decode().split(":")[1], msg.partition()))

    for group in GROUPS:
        for n in range(PER_GROUP):
            event = spend(f"{group}-s{n}", tenant="acme").model_copy(
                update={"group_id": group, "campaign_id": group, "event_id": f"sp-{partitioner}-{group}-{n}"})
            producer.produce(topic_name(settings, SPEND), encode(event), key=SPEND.key(event), on_delivery=delivered)
    assert producer.flush(30) == 0
    return landed


@pytest.mark.parametrize("partitioner", ["murmur2_random", None], ids=["murmur2_random", "librdkafka_default"])
async def test_every_spend_record_of_a_group_is_applied_by_one_sampler_whatever_the_partitioner(
        settings: Settings, db_pool: asyncpg.Pool[Any], partitioner: str | None) -> None:
    before = MISPLACED_RECORDS.labels(topic="spend.v1")._value.get()
    async with _two_samplers(settings) as (first, second):
        landed = await asyncio.to_thread(_produce_with_librdkafka, settings, partitioner)
        for group in GROUPS:  # and roasloop's own producer (murmur2) credits revenue to the same groups
            await first.running().publisher.publish(revenue(f"{group}-s0", 50_000, 0).model_copy(
                update={"group_id": group, "campaign_id": group, "event_id": f"rv-{partitioner}-{group}"}))
        total = len(GROUPS) * (PER_GROUP + 1)
        await wait_until(lambda: sum(first.applied.values()) + sum(second.applied.values()) == total, timeout=60)
    for group in GROUPS:
        owners = [s for s in (first, second) if s.applied.get(group)]
        assert len(owners) == 1, (group, first.applied.get(group), second.applied.get(group))
        assert owners[0].applied[group] == PER_GROUP + 1  # its spend and its revenue
        assert group_partition("acme", group) in owners[0].assigned
    misplaced = sum(partition != group_partition("acme", group) for group, partition in landed)
    moved = MISPLACED_RECORDS.labels(topic="spend.v1")._value.get() - before
    assert moved == misplaced  # each misplaced record moved once, none of the others
    if partitioner == "murmur2_random":
        assert misplaced == 0  # librdkafka's murmur2_random is Kafka's murmur2
    else:
        assert misplaced > 0  # CRC32 put some groups elsewhere
    assert await db_pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'sampler'") == total
