"""Create the catalog's topics (and their DLQs) with the right partitions, replicas and retention."""

from __future__ import annotations

import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from schemas.topics import CATALOG, DLQ_SUFFIX
from streams.core.broker import client_options
from streams.core.naming import catalog_topics, topic_name
from streams.core.partition_check import check_partitions
from streams.core.settings import Settings

DAY_MS = 24 * 3600 * 1000


def retention_ms(settings: Settings) -> dict[str, int]:
    """Retention per topic name: the catalog's days; DLQs keep their messages as long as the origin."""
    wanted: dict[str, int] = {}
    for topic in CATALOG:
        wanted[topic_name(settings, topic)] = topic.retention_days * DAY_MS
        wanted[topic_name(settings, topic) + DLQ_SUFFIX] = topic.retention_days * DAY_MS
    return wanted


async def ensure_topics(settings: Settings, extra: dict[str, int] | None = None) -> dict[str, int]:
    """Create missing topics; existing ones are left alone unless their partition count differs
    (:class:`~streams.core.partition_check.PartitionsMismatch`). Returns what the catalog wants."""
    wanted = {**catalog_topics(settings), **(extra or {})}
    retention = retention_ms(settings)
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name, partitions, settings.topic_replication_factor,
                topic_configs={"retention.ms": str(retention[name])} if name in retention else None,
            )
            for name, partitions in wanted.items()
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # created concurrently elsewhere: fine
                await admin.create_topics(missing)
    finally:
        await admin.close()
    await check_partitions(settings, wanted)  # an existing topic with another count is refused
    return wanted
