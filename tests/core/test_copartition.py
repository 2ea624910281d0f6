"""A record a foreign producer put on the wrong partition is moved to its own, and applied once there."""

from __future__ import annotations

from typing import Any

import asyncpg

from schemas.codec import encode
from schemas.topics import SPEND
from streams.core.clock import ManualClock
from streams.core.copartition import right_partition
from streams.core.metrics import MISPLACED_RECORDS
from streams.core.naming import topic_name
from streams.core.partitions import group_partition
from streams.core.settings import Settings
from streams.sampler.app import SamplerStage
from streams.sampler.settings import SamplerSettings
from tests.helpers import raw_producer, read_records, running_stages, wait_until
from tests.sampler.test_app import DAY, NOW, spend

QUIET = SamplerSettings(significant_events=1000, schedule_seconds=3600)


def test_the_right_partition_is_the_group_keys_murmur2() -> None:
    event = spend("a")
    assert right_partition("spend.v1", event) == group_partition("acme", "g1") == group_partition(
        event.tenant_id, event.group_id)


async def test_a_misplaced_spend_record_is_republished_to_its_partition_and_applied_once(
        settings: Settings, db_pool: asyncpg.Pool[Any]) -> None:
    event = spend("a", amount=4_200)
    right = group_partition("acme", "g1")
    wrong = (right + 1) % SPEND.partitions
    before = MISPLACED_RECORDS.labels(topic="spend.v1")._value.get()
    async with running_stages(settings, [SamplerStage(QUIET)], clock=ManualClock(NOW)):
        async with raw_producer(settings) as producer:
            await producer.send_and_wait(topic_name(settings, SPEND), encode(event), key=SPEND.key(event),
                                         partition=wrong)
        await wait_until(lambda: db_pool.fetchval("SELECT count(*) = 1 FROM sampler_entity_days"
                                                  " WHERE entity_id = 'a' AND day = $1", DAY))
        records = await read_records(settings, SPEND, min_count=2)
    assert sorted(r.partition for r in records) == sorted([wrong, right])
    assert {r.value for r in records} == {encode(event)}  # the same event, event_id and all
    assert MISPLACED_RECORDS.labels(topic="spend.v1")._value.get() == before + 1
    assert await db_pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'sampler'") == 1
    assert await db_pool.fetchval("SELECT spend_minor FROM sampler_entity_days WHERE entity_id = 'a'") == 4_200
