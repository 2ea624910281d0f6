"""What a replay yields: an event with where and when the broker stored it, and the time range asked for.

A record keeps its topic (catalog name, without the deployment prefix), partition, offset and
record timestamp next to the decoded event, so an export can be replayed in exactly the order a
Kafka replay would have produced and a reader can always find the original message again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from schemas.envelope import Envelope
from schemas.topics import DECISIONS, REVENUE, SPEND, Topic

REPLAY_TOPICS: tuple[Topic, ...] = (SPEND, REVENUE, DECISIONS)
# At one timestamp, facts (spend, revenue) come before the decision that may have seen them.
TOPIC_RANK: dict[str, int] = {t.name: i for i, t in enumerate(REPLAY_TOPICS)}
TimeField = Literal["record", "event"]


def to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("time range bounds must be timezone-aware")
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class TimeRange:
    """``[start, end)``; which timestamp it applies to is the reader's ``time_field``."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if to_ms(self.end) <= to_ms(self.start):
            raise ValueError(f"empty time range: --to {self.end.isoformat()} is not after --from")

    @property
    def start_ms(self) -> int:
        return to_ms(self.start)

    @property
    def end_ms(self) -> int:
        return to_ms(self.end)

    def contains_ms(self, ms: int) -> bool:
        return self.start_ms <= ms < self.end_ms


@dataclass(frozen=True)
class ReplayRecord:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    event: Envelope

    def order_key(self, time_field: TimeField = "record") -> tuple[int, int, int, int]:
        """Merge order: time, then facts before decisions, then partition and offset (stable)."""
        ms = self.timestamp_ms if time_field == "record" else to_ms(self.event.occurred_at)
        return (ms, TOPIC_RANK.get(self.topic, len(TOPIC_RANK)), self.partition, self.offset)
