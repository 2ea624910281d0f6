"""Read a time range of topics straight from Kafka, merged in time order, with bounded memory.

Why it is built this way:

- **No group membership.** Partitions are assigned by hand and nothing is committed, so a replay
  can never trigger a rebalance of, or move the offsets of, a live consumer group.
- **Record timestamps decide, not the time index.** ``offsets_for_times`` is only a hint for the
  seek: some brokers (the local Tansu) answer with the first offset whatever the time. Every
  record is checked against ``[from, to)``; a hint that lands early only costs reading time.
- **A fixed end.** Each partition stops at the end offset captured at start (so a replay of a
  busy topic finishes) or, in ``record`` mode, once its timestamps pass ``to + grace``. The end
  is the larger of ListOffsets' answer and the high watermark of a fetch at that offset - 1:
  Tansu answers ListOffsets with the last *batch's* base offset + 1, which would cut a replay
  short by everything after the first record of the last batch.
- **Bounded memory.** A partition whose buffer holds ``buffer`` decoded records is paused until it
  drains to half (one fetch may overshoot by up to ``buffer``), so memory is bounded by
  partitions x 2 x ``buffer`` records while fetches for every other partition stay in flight.
  The merge emits the earliest head only once every unfinished partition has a head, which yields
  global time order
  whenever each partition is itself in time order. A reorder window of ``buffer`` records absorbs
  the small disorder that event times (``time_field="event"``) have inside a partition.

With ``time_field="event"`` the range applies to ``occurred_at``; record timestamps then say
nothing about it (a simulation may publish a month in a second), so partitions are read from
their beginning up to the end offsets.
"""

from __future__ import annotations

import heapq
import uuid
from collections import deque
from collections.abc import AsyncIterator, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.codec import InvalidEvent, decode
from schemas.topics import Topic
from streams.core.broker import client_options
from streams.core.naming import topic_name, unprefixed
from streams.core.settings import Settings
from streams.core.topic_reader import partitions_of, true_end_offsets
from streams.lab.backtest.progress import Progress
from streams.lab.backtest.records import REPLAY_TOPICS, ReplayRecord, TimeField, TimeRange, to_ms

OrderKey = tuple[int, int, int, int]


def replay_client_id() -> str:
    """A unique client id: visible in broker logs, never a group that could be joined."""
    return f"roasloop-replay-{uuid.uuid4().hex[:12]}"


class _Merge:
    """Per-partition buffers plus a heap of their heads."""

    def __init__(self, time_field: TimeField) -> None:
        self.time_field = time_field
        self.buffers: dict[TopicPartition, deque[ReplayRecord]] = {}
        self.heap: list[tuple[OrderKey, TopicPartition]] = []

    def push(self, tp: TopicPartition, record: ReplayRecord) -> None:
        buffer = self.buffers.setdefault(tp, deque())
        buffer.append(record)
        if len(buffer) == 1:
            heapq.heappush(self.heap, (record.order_key(self.time_field), tp))

    def empty(self, tp: TopicPartition) -> bool:
        return not self.buffers.get(tp)

    def pop(self) -> tuple[ReplayRecord, TopicPartition]:
        """The earliest head, and its partition (whose buffer may now be empty)."""
        _, tp = heapq.heappop(self.heap)
        buffer = self.buffers[tp]
        record = buffer.popleft()
        if buffer:
            heapq.heappush(self.heap, (buffer[0].order_key(self.time_field), tp))
        return record, tp


async def _reorder(records: AsyncIterator[ReplayRecord], window: int,
                   time_field: TimeField) -> AsyncIterator[ReplayRecord]:
    """Hold ``window`` records and release the earliest: sorts any disorder shorter than the window."""
    heap: list[tuple[OrderKey, ReplayRecord]] = []
    async for record in records:
        heapq.heappush(heap, (record.order_key(time_field), record))
        if len(heap) > window:
            yield heapq.heappop(heap)[1]
    while heap:
        yield heapq.heappop(heap)[1]


async def read_range(
    settings: Settings,
    time_range: TimeRange,
    *,
    topics: Sequence[Topic] = REPLAY_TOPICS,
    tenant: str | None = None,
    time_field: TimeField = "record",
    buffer: int = 500,
    grace_ms: int = 0,
    progress: Progress | None = None,
    fetch_timeout_ms: int = 200,
) -> AsyncIterator[ReplayRecord]:
    """Yield the range's records of ``topics`` in time order (see the module docstring)."""
    if buffer < 1:
        raise ValueError("buffer must be at least 1")
    consumer = AIOKafkaConsumer(
        **client_options(settings),
        client_id=replay_client_id(),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=1024 * 1024,
        fetch_max_bytes=16 * 1024 * 1024,
        # Replays read history: a long poll only delays the probe and the seek back after it.
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    try:
        names = [topic_name(settings, t) for t in topics]
        tps = await partitions_of(consumer, names, wait_s=10.0)
        consumer.assign(tps)
        begin = await consumer.beginning_offsets(tps)
        end = await true_end_offsets(consumer, tps)
        starts = dict(begin)
        if time_field == "record":
            hints = await consumer.offsets_for_times({tp: time_range.start_ms for tp in tps})
            for tp, hint in hints.items():
                # A hint past the records would lose data on a broker with a bad index: only move forward
                # from the beginning when the broker gives an offset; None falls back to a full scan.
                if hint is not None:
                    starts[tp] = min(max(hint.offset, begin[tp]), end[tp])
        for tp in tps:
            consumer.seek(tp, starts[tp])
        if progress is not None:
            progress.total = sum(end[tp] - starts[tp] for tp in tps)
        active = {tp for tp in tps if starts[tp] < end[tp]}
        merge = _Merge(time_field)
        stop_ms = time_range.end_ms + grace_ms
        merged = _merged(consumer, merge, active, end, time_range, stop_ms, tenant, time_field, buffer,
                         progress, fetch_timeout_ms, settings)
        source = merged if time_field == "record" else _reorder(merged, buffer, time_field)
        async for record in source:
            yield record
        if progress is not None:
            progress.done()
    finally:
        await consumer.stop()


async def _merged(consumer: AIOKafkaConsumer, merge: _Merge, active: set[TopicPartition],
                  end: dict[TopicPartition, int], time_range: TimeRange, stop_ms: int, tenant: str | None,
                  time_field: TimeField, buffer: int, progress: Progress | None, fetch_timeout_ms: int,
                  settings: Settings) -> AsyncIterator[ReplayRecord]:
    start_ms, end_ms = time_range.start_ms, time_range.end_ms
    hungry = set(active)  # active partitions with an empty buffer: the merge must wait for them
    paused: set[TopicPartition] = set()

    def settle(tp: TopicPartition) -> None:
        """Fetch only for partitions still in play whose buffer has room: memory stays bounded."""
        full = tp not in active or len(merge.buffers.get(tp, ())) >= buffer
        if full and tp not in paused:
            consumer.pause(tp)
            paused.add(tp)
        elif not full and tp in paused:
            consumer.resume(tp)
            paused.discard(tp)

    for tp in end:
        settle(tp)
    while active or merge.heap:
        if hungry:
            # Every fetchable partition, not only the hungry ones: fetches for all of them stay in
            # flight, so a partition that drains finds its next records already on the way.
            batch = await consumer.getmany(timeout_ms=fetch_timeout_ms, max_records=buffer)
            scanned = kept = 0
            for tp, messages in batch.items():
                for message in messages:
                    if tp not in active or message.offset >= end[tp]:
                        active.discard(tp)
                        continue
                    scanned += 1
                    if message.offset + 1 >= end[tp]:
                        active.discard(tp)
                    if time_field == "record":
                        if message.timestamp >= stop_ms:
                            active.discard(tp)
                            continue
                        if not start_ms <= message.timestamp < end_ms:
                            continue
                    try:
                        event = decode(message.value or b"")
                    except InvalidEvent:
                        continue  # poison on the topic: the DLQ saw it live; a replay skips it
                    if tenant is not None and event.tenant_id != tenant:
                        continue
                    if time_field == "event" and not start_ms <= to_ms(event.occurred_at) < end_ms:
                        continue
                    kept += 1
                    merge.push(tp, ReplayRecord(unprefixed(settings, tp.topic), tp.partition, message.offset,
                                                message.timestamp, event))
                settle(tp)
            for tp in list(hungry):
                if tp in active and not batch.get(tp) and await consumer.position(tp) >= end[tp]:
                    active.discard(tp)
                    settle(tp)
            hungry = {tp for tp in hungry if tp in active and merge.empty(tp)}
            if progress is not None:
                progress.tick(scanned, kept)
            continue
        record, tp = merge.pop()
        if tp in paused and tp in active and len(merge.buffers[tp]) <= buffer // 2:
            settle(tp)
        if tp in active and merge.empty(tp):
            hungry.add(tp)
        yield record
