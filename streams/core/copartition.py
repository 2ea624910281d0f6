"""Records on the wrong partition are moved to the right one, never applied where they landed.

A stage that joins co-partitioned topics (the sampler: ``revenue.v1`` with ``spend.v1`` per
``tenant:group``) relies on every producer hashing keys as Kafka's Java client does (murmur2 of the
key, :mod:`streams.core.partitions`). A producer whose client partitions otherwise (librdkafka's
default is ``consistent_random``, CRC32) puts a group's records on another partition, and a second
instance would then hold half of the group's facts and decide on them. So per record, before its
inbox row is claimed: if its key does not hash to the partition it arrived on, the event is
re-published (same ``event_id``, same key; roasloop's producer puts it where murmur2 says), counted
in ``roasloop_misplaced_records_total`` and logged, and left out of this batch. The owner applies it
once it arrives there; a crash before the ack re-publishes it again, which the owner's inbox drops.

:class:`CoPartitioned` does this for stages on the shared :class:`Processor` shape; a stage that
consumes otherwise (the executor, which schedules before it acks) asks :func:`misplaced` per record
and publishes the event itself before it lets the offset go, so the rule and its metric stay one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import structlog

from schemas.envelope import Envelope
from schemas.topics import BY_NAME
from streams.core.metrics import MISPLACED_RECORDS
from streams.core.partitions import partition_for
from streams.core.process import Consumed, Effects, Processor

E = TypeVar("E", bound=Envelope)
R = TypeVar("R")
log = structlog.get_logger("roasloop.copartition")


def right_partition(topic_name: str, event: Envelope) -> int:
    """Where ``event``'s key belongs on catalog topic ``topic_name`` (its key and partition count)."""
    topic = BY_NAME[topic_name]
    return partition_for(topic.key(event), topic.partitions)


def misplaced(topic_name: str, partition: int, offset: int, event: Envelope) -> bool:
    """Whether ``event`` arrived on a partition its key does not hash to; if so it is counted and logged.

    The caller then re-publishes ``event`` (roasloop's producer puts it where murmur2 says) and does
    not apply it here; only after the publish is acknowledged may the record's offset be committed.
    """
    right = right_partition(topic_name, event)
    if right == partition:
        return False
    MISPLACED_RECORDS.labels(topic=topic_name).inc()
    log.warning("record_misplaced", topic=topic_name, partition=partition, offset=offset,
                right_partition=right, event_id=event.event_id, tenant_id=event.tenant_id)
    return True


@dataclass(frozen=True)
class CoPartitioned(Processor[E, R]):
    """A :class:`Processor` that first moves misplaced records to their partition (see the module)."""

    async def fresh(self, fx: Effects, batch: Sequence[Consumed[E]]) -> list[Consumed[E]]:
        placed: list[Consumed[E]] = []
        for record in batch:
            if misplaced(record.topic, record.partition, record.offset, record.event):
                fx.emit(record.event)  # published before the batch commits and the offset is acked
            else:
                placed.append(record)
        return await super().fresh(fx, placed) if placed else []
