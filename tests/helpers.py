"""Small tools the specifications share: wait for a condition, read a topic, run stages."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from schemas import AdClicked
from schemas.codec import decode
from schemas.envelope import Envelope
from schemas.topics import Topic
from streams.core.clock import Clock, WallClock
from streams.core.naming import topic_name
from streams.core.settings import Settings
from streams.core.stage import Stage, StageRunner
from streams.core.topic_reader import read_topic


async def wait_until(
    predicate: Callable[[], Awaitable[bool] | bool], timeout: float = 20.0, interval: float = 0.05
) -> None:
    """Poll until ``predicate`` is true; fail the test with a timeout otherwise."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = predicate()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


async def read_records(settings: Settings, topic: Topic | str, *, min_count: int = 0,
                       timeout: float = 10.0) -> list[Any]:
    """Every record on a topic (all partitions, from the start), waiting up to ``timeout`` for ``min_count``."""
    name = topic if isinstance(topic, str) and topic.startswith(settings.topic_prefix) else topic_name(settings, topic)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        records = await read_topic(settings, name)
        if len(records) >= min_count:
            return records
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{name}: {len(records)} records, expected at least {min_count}")
        await asyncio.sleep(0.2)


async def read_events(settings: Settings, topic: Topic, *, min_count: int = 0, timeout: float = 10.0) -> list[Envelope]:
    return [decode(r.value) for r in await read_records(settings, topic, min_count=min_count, timeout=timeout)]


@contextlib.asynccontextmanager
async def raw_producer(settings: Settings) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def running_stages(settings: Settings, stages: Sequence[Stage], clock: Clock | None = None
                         ) -> AsyncIterator[StageRunner]:
    runner = StageRunner(list(stages), settings, clock=clock or WallClock())
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop()


def numbered_click(n: int, tenant: str = "acme") -> AdClicked:
    """Click number ``n``: event id ``click-n``, click id ``cn``, for specifications of the stage machinery."""
    return AdClicked(event_id=f"click-{n}", tenant_id=tenant, occurred_at=datetime(2026, 5, 1, tzinfo=UTC),
                     click_id=f"c{n}", ad_id="ad1")
