"""A topic with another partition count than the catalog's stops a stage before it consumes."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from schemas.topics import SPEND
from streams.core.broker import client_options
from streams.core.partition_check import PartitionsMismatch, check_partitions
from streams.core.settings import Settings
from streams.core.stage import Stage, StageRunner
from streams.core.topics_admin import ensure_topics


class _Idle(Stage):
    name = "idle"
    needs_database = False


async def _own_prefix_with_spend_of(settings: Settings, partitions: int) -> Settings:
    own = settings.model_copy(update={"topic_prefix": "mis" + settings.topic_prefix})
    admin = AIOKafkaAdminClient(**client_options(own))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(own.topic_prefix + SPEND.name, partitions, 1)])
    finally:
        await admin.close()
    return own


async def test_a_stage_refuses_to_start_on_a_topic_with_another_partition_count(settings: Settings) -> None:
    own = await _own_prefix_with_spend_of(settings, 3)
    runner = StageRunner([_Idle()], own)
    with pytest.raises(PartitionsMismatch) as refused:
        await runner.open()
    message = str(refused.value)
    assert f"topic '{own.topic_prefix}spend.v1' has 3 partitions, the catalog says {SPEND.partitions}" in message
    assert "revenue.v1" not in message  # only the topic that differs is named (missing ones are not)
    await runner.close()


async def test_creating_the_catalog_over_a_mismatched_topic_is_refused_too(settings: Settings) -> None:
    own = await _own_prefix_with_spend_of(settings, 5)
    with pytest.raises(PartitionsMismatch, match=r"spend.v1' has 5 partitions, the catalog says 12"):
        await ensure_topics(own)


async def test_the_catalog_as_created_passes_the_check(settings: Settings) -> None:
    await check_partitions(settings)  # the fixture created every topic with ensure_topics
    runner = StageRunner([_Idle()], settings)
    await runner.open()
    await runner.stop()
