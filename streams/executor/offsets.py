"""Which offset each partition may commit when its messages finish out of order.

Requests of different campaigns in one partition run concurrently and finish in any order, so
"the last message handled" is not a safe commit point. Per partition we keep the offsets still
in flight; the committable position is the lowest of them (everything below is done), or one
past the highest offset seen when nothing is in flight. After a crash or a rebalance the next
owner starts from there and redoes at most the in-flight requests - safe, because every
effect is idempotent on ``change_id``.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Generic, TypeVar

P = TypeVar("P")  # a partition handle: aiokafka's TopicPartition in production


@dataclass
class _Partition:
    in_flight: set[int] = field(default_factory=set)
    heap: list[int] = field(default_factory=list)
    next_offset: int | None = None  # one past the highest offset seen
    committed: int | None = None

    def position(self) -> int | None:
        while self.heap and self.heap[0] not in self.in_flight:
            heapq.heappop(self.heap)
        return self.heap[0] if self.heap else self.next_offset


class OffsetTracker(Generic[P]):
    def __init__(self) -> None:
        self._parts: dict[P, _Partition] = {}

    def track(self, partition: P, offset: int) -> None:
        part = self._parts.setdefault(partition, _Partition())
        if offset in part.in_flight:
            return
        part.in_flight.add(offset)
        heapq.heappush(part.heap, offset)
        if part.next_offset is None or offset + 1 > part.next_offset:
            part.next_offset = offset + 1

    def done(self, partition: P, offset: int) -> None:
        part = self._parts.get(partition)
        if part is not None:
            part.in_flight.discard(offset)

    def in_flight(self, partition: P) -> int:
        part = self._parts.get(partition)
        return len(part.in_flight) if part else 0

    def committable(self) -> dict[P, int]:
        """Positions that moved past what was last committed."""
        ready: dict[P, int] = {}
        for partition, part in self._parts.items():
            position = part.position()
            if position is not None and (part.committed is None or position > part.committed):
                ready[partition] = position
        return ready

    def mark_committed(self, partition: P, position: int) -> None:
        part = self._parts.get(partition)
        if part is not None and (part.committed is None or position > part.committed):
            part.committed = position

    def forget(self, partitions: set[P] | list[P]) -> None:
        for partition in partitions:
            self._parts.pop(partition, None)
