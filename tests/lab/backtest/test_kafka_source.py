"""Replaying a time range straight from the broker: filtered on record timestamps, merged in order."""

from __future__ import annotations

import io
from pathlib import Path

from schemas.envelope import Envelope
from streams.core.settings import Settings
from streams.lab.backtest.export import read_jsonl, write_jsonl
from streams.lab.backtest.kafka_source import read_range
from streams.lab.backtest.progress import Progress
from streams.lab.backtest.records import ReplayRecord, TimeRange
from tests.helpers import raw_producer
from tests.lab.backtest.factories import at, decision, publish, revenue, spend

RANGE = TimeRange(at(10), at(20))


def _events() -> list[Envelope]:
    out: list[Envelope] = []
    for h in (2, 9, 10, 12, 15, 19, 20, 25):  # 10..19 are inside [10, 20)
        for g in ("g1", "g2", "g3"):
            out.append(spend("a", at(h), 100 * h, group=g))
            out.append(revenue("a", at(h), 10 * h, group=g, deal=f"d{h}"))
        out.append(decision(at(h), {"a": 0.5, "b": 0.5}, {"a": 50, "b": 50}, group="g1"))
    out.append(spend("a", at(11), 1, group="g9", tenant="other"))
    return out


async def _collect(settings: Settings, **kwargs: object) -> list[ReplayRecord]:
    return [r async for r in read_range(settings, RANGE, **kwargs)]  # type: ignore[arg-type]


async def test_replay_keeps_only_records_inside_the_range_in_time_order(settings: Settings) -> None:
    async with raw_producer(settings) as producer:
        await publish(producer, settings, _events())
    records = await _collect(settings, buffer=3)
    hours = sorted({(r.timestamp_ms - at(0).timestamp() * 1000) / 3_600_000 for r in records})
    assert hours == [10, 11, 12, 15, 19]  # 11: the other tenant
    assert len(records) == 4 * (3 + 3 + 1) + 1
    keys = [r.order_key() for r in records]
    assert keys == sorted(keys)
    # at one instant, spend and revenue come before the decision that may have used them
    at_ten = [r.topic for r in records if r.timestamp_ms == records[0].timestamp_ms]
    assert at_ten[-1] == "decisions.v1"


async def test_tenant_filter_and_small_buffer_still_read_everything(settings: Settings) -> None:
    async with raw_producer(settings) as producer:
        await publish(producer, settings, _events())
    records = await _collect(settings, tenant="acme", buffer=1)
    assert len(records) == 4 * 7
    assert all(r.event.tenant_id == "acme" for r in records)


async def test_event_time_mode_filters_on_occurred_at_whatever_the_record_time(settings: Settings) -> None:
    async with raw_producer(settings) as producer:  # a simulation publishes a month in one instant
        await publish(producer, settings, _events(), record_time=at(500))
    assert await _collect(settings) == []
    records = await _collect(settings, time_field="event")
    assert {r.event.occurred_at for r in records} == {at(10), at(12), at(15), at(19), at(11)}
    keys = [r.order_key("event") for r in records]
    assert keys == sorted(keys)


async def test_export_round_trips_and_reports_progress(settings: Settings, tmp_path: Path) -> None:
    async with raw_producer(settings) as producer:
        await publish(producer, settings, _events())
    stderr = io.StringIO()
    path = tmp_path / "range.jsonl"
    written = await write_jsonl(read_range(settings, RANGE, progress=Progress(stderr)), path)
    back = list(read_jsonl(path, RANGE))
    assert written == len(back) == 29
    assert back == await _collect(settings)
    assert "records read" in stderr.getvalue() and "done" in stderr.getvalue()
    assert [r.event.tenant_id for r in read_jsonl(path, tenant="other")] == ["other"]


async def test_records_published_after_the_replay_started_are_not_read(settings: Settings) -> None:
    async with raw_producer(settings) as producer:
        await publish(producer, settings, _events())
        source = read_range(settings, RANGE, buffer=1)
        first = await anext(source)
        await publish(producer, settings, [spend("late", at(11), 5, group=g) for g in ("g1", "g2", "g3")])
        rest = [r async for r in source]
    entities = {getattr(r.event, "entity_id", None) for r in [first, *rest]}
    assert "late" not in entities
    assert len(rest) + 1 == 29


async def test_a_replay_leaves_no_consumer_group_behind(settings: Settings) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    async with raw_producer(settings) as producer:
        await publish(producer, settings, _events())
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        before = {g[0] for g in await admin.list_consumer_groups()}
        assert len(await _collect(settings)) == 29
        after = {g[0] for g in await admin.list_consumer_groups()}
    finally:
        await admin.close()
    assert after == before
