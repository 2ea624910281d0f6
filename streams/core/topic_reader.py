"""Reading a topic from the start to "now", correctly on every broker.

Two broker quirks shape this module. Tansu (the local broker) answers ``ListOffsets`` for the
latest offset with the *first offset of the last record batch* + 1, so ``end_offsets`` can
undercount a partition whose tail is one multi-record batch; the fetch response's high
watermark is right, so :func:`true_end_offsets` takes the larger of the two. And topics may not
be in the client's metadata yet right after creation, so :func:`partitions_of` waits for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.core.broker import client_options
from streams.core.settings import Settings


async def partitions_of(consumer: AIOKafkaConsumer, names: Iterable[str], wait_s: float = 10.0
                        ) -> list[TopicPartition]:
    """Every partition of ``names``; raise LookupError for a topic that does not show up."""
    deadline = asyncio.get_running_loop().time() + wait_s
    tps: list[TopicPartition] = []
    for name in names:
        parts = consumer.partitions_for_topic(name)
        while not parts:
            if asyncio.get_running_loop().time() > deadline:
                raise LookupError(f"topic {name!r} not found on the broker")
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(name)
            if not parts:
                await asyncio.sleep(0.1)
        tps.extend(TopicPartition(name, p) for p in sorted(parts))
    return tps


async def true_end_offsets(consumer: AIOKafkaConsumer, tps: list[TopicPartition], wait_s: float = 10.0
                           ) -> dict[TopicPartition, int]:
    """End offsets, corrected with the high watermark of a fetch at the reported end - 1.

    The consumer must have ``tps`` assigned; positions are left wherever the probe put them.
    """
    begin = await consumer.beginning_offsets(tps)
    end = await consumer.end_offsets(tps)
    probe = [tp for tp in tps if end[tp] > begin[tp]]
    for tp in probe:
        consumer.seek(tp, end[tp] - 1)
    deadline = asyncio.get_running_loop().time() + wait_s
    waiting = set(probe)
    while waiting and asyncio.get_running_loop().time() < deadline:
        await consumer.getmany(*waiting, timeout_ms=50)
        waiting = {tp for tp in waiting if consumer.highwater(tp) is None}
    return {tp: max(end[tp], consumer.highwater(tp) or 0) for tp in tps}


async def read_topic(settings: Settings, name: str, wait_s: float = 10.0) -> list[Any]:
    """Every record on a topic up to its end when called, all partitions, in offset order per partition.

    Meant for small dev runs, tests and audits; replays of long ranges use the backtest reader.
    """
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        tps = await partitions_of(consumer, [name], wait_s)
        consumer.assign(tps)
        ends = await true_end_offsets(consumer, tps)
        await consumer.seek_to_beginning(*tps)
        starts = {tp: await consumer.position(tp) for tp in tps}
        remaining = {tp for tp in tps if ends[tp] > starts[tp]}
        records: list[Any] = []
        deadline = asyncio.get_running_loop().time() + wait_s
        while remaining and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(*remaining, timeout_ms=200)
            for tp, recs in batch.items():
                records.extend(r for r in recs if r.offset < ends[tp])
                if recs and recs[-1].offset >= ends[tp] - 1:
                    remaining.discard(tp)
        if remaining:
            raise TimeoutError(f"{name}: could not read to the end of {sorted(tp.partition for tp in remaining)}")
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


async def message_counts(settings: Settings, names: Iterable[str]) -> dict[str, int]:
    """Messages per topic: true end offset minus beginning offset, summed over partitions."""
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        wanted = list(names)
        tps = await partitions_of(consumer, wanted)  # before assign(): it narrows the metadata to the assigned
        consumer.assign(tps)
        begin = await consumer.beginning_offsets(tps)
        ends = await true_end_offsets(consumer, tps)
        counts = dict.fromkeys(wanted, 0)
        for tp in tps:
            counts[tp.topic] += ends[tp] - begin[tp]
        return counts
    finally:
        await consumer.stop()
