"""Create the catalog's topics (and their DLQs) with the right partition counts."""

from __future__ import annotations

import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.core.naming import catalog_topics
from streams.core.settings import Settings


async def ensure_topics(settings: Settings, extra: dict[str, int] | None = None) -> dict[str, int]:
    """Create missing topics; existing ones are left alone. Returns what the catalog wants."""
    wanted = {**catalog_topics(settings), **(extra or {})}
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(name, partitions, 1) for name, partitions in wanted.items() if name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # created concurrently elsewhere: fine
                await admin.create_topics(missing)
    finally:
        await admin.close()
    return wanted
