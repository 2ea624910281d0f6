"""How many messages each topic holds: the summary ``roasloop dev`` prints when it stops."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.core.naming import catalog_topics
from streams.core.settings import Settings


async def topic_counts(settings: Settings) -> dict[str, int]:
    """Messages per catalog topic (end offset minus beginning offset, summed over partitions)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        counts: dict[str, int] = {}
        for name in catalog_topics(settings):
            partitions = consumer.partitions_for_topic(name)
            if partitions is None:
                await consumer.force_metadata_update()
                partitions = consumer.partitions_for_topic(name) or set()
            tps = [TopicPartition(name, p) for p in sorted(partitions)]
            if not tps:
                counts[name] = 0
                continue
            ends = await consumer.end_offsets(tps)
            starts = await consumer.beginning_offsets(tps)
            counts[name] = sum(ends[tp] - starts[tp] for tp in tps)
        return counts
    finally:
        await consumer.stop()


def format_table(counts: dict[str, int]) -> str:
    width = max((len(n) for n in counts), default=10)
    lines = [f"{'topic'.ljust(width)}  messages", f"{'-' * width}  --------"]
    lines += [f"{name.ljust(width)}  {count:>8}" for name, count in counts.items()]
    return "\n".join(lines)
