"""JSONL exports of replayable records: one record per line, in merge order.

An export lets an analyst replay a range offline, or hand it to someone without broker access.
Each line is ``{"topic", "partition", "offset", "timestamp_ms", "event"}`` with the event in its
wire JSON, so reading it back goes through the same validating decoder as a Kafka replay.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Iterator
from pathlib import Path
from typing import Any

from schemas.codec import InvalidEvent, decode
from streams.lab.backtest.records import ReplayRecord, TimeField, TimeRange, to_ms


async def write_jsonl(records: AsyncIterable[ReplayRecord], path: Path) -> int:
    """Write every record; returns how many."""
    count = 0
    with path.open("w", encoding="utf-8") as out:
        async for record in records:
            line = {"topic": record.topic, "partition": record.partition, "offset": record.offset,
                    "timestamp_ms": record.timestamp_ms, "event": record.event.model_dump(mode="json")}
            out.write(json.dumps(line, separators=(",", ":")) + "\n")
            count += 1
    return count


def read_jsonl(path: Path, time_range: TimeRange | None = None, *, tenant: str | None = None,
               time_field: TimeField = "record") -> Iterator[ReplayRecord]:
    """Records of an export, filtered like a Kafka replay; a bad line fails naming its number."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                raw: dict[str, Any] = json.loads(line)
                record = ReplayRecord(topic=str(raw["topic"]), partition=int(raw["partition"]),
                                      offset=int(raw["offset"]), timestamp_ms=int(raw["timestamp_ms"]),
                                      event=decode(json.dumps(raw["event"])))
            except (ValueError, KeyError, TypeError, InvalidEvent) as exc:
                raise ValueError(f"{path}:{number}: not a replay record ({exc})") from exc
            if tenant is not None and record.event.tenant_id != tenant:
                continue
            ms = record.timestamp_ms if time_field == "record" else to_ms(record.event.occurred_at)
            if time_range is None or time_range.contains_ms(ms):
                yield record
