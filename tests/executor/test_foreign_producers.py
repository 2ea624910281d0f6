"""A producer in another language (librdkafka, as kcat uses it) cannot give a campaign two executors.

Two executor instances share the consumer group. librdkafka produces budget requests with its
default partitioner (``consistent_random``: CRC32, not Kafka's murmur2), for groups chosen so that
CRC32 and murmur2 put them in different halves of the partitions - the range assignor gives each of
two members one half, so such a record lands on the instance that does *not* own its group. Two more
groups land where murmur2 says either way. Every request must be applied once, by its group's owner
(the intent is sent under the murmur2 partition's fence), reach Meta once and have one outcome;
each misplaced one is moved once and counted, the others not at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
from confluent_kafka import Producer

from schemas import BudgetChangeRequested, BudgetChangeSettled, encode
from schemas.topics import BUDGET_OUTCOMES, BUDGET_REQUESTS, GROUP_PARTITIONS
from streams.core.metrics import MISPLACED_RECORDS
from streams.core.naming import topic_name
from streams.core.partitions import group_partition
from streams.core.settings import Settings
from streams.executor.app import ExecutorStage
from streams.lab.sandbox.meta_state import MetaState
from tests.executor.conftest import request
from tests.executor.test_app import live_stage
from tests.helpers import read_events, running_stages, wait_until
from tests.meta_standin import TENANT, world

HALF = GROUP_PARTITIONS // 2


def _crc32_partition(group: str) -> int:
    """Where librdkafka's default partitioner puts a key (only to pick groups; the test reads where they landed)."""
    return zlib.crc32(f"{TENANT}:{group}".encode()) % GROUP_PARTITIONS


def _groups() -> tuple[list[str], list[str]]:
    """Four groups CRC32 sends to the other half than murmur2, two it sends where murmur2 does."""
    crossing: list[str] = []
    placed: list[str] = []
    for n in range(10_000):
        group = f"fg{n}"
        right, crc = group_partition(TENANT, group), _crc32_partition(group)
        if (right < HALF) != (crc < HALF) and len(crossing) < 4:
            crossing.append(group)
        elif right == crc and len(placed) < 2:
            placed.append(group)
        if len(crossing) == 4 and len(placed) == 2:
            return crossing, placed
    raise AssertionError("no groups found")


def _produce_with_librdkafka(settings: Settings, requests: list[BudgetChangeRequested]) -> dict[str, int]:
    """Produce as kcat would (default partitioner); return the partition each change landed on."""
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers})
    landed: dict[str, int] = {}

    def delivered(change_id: str) -> Callable[[Any, Any], None]:
        def report(err: Any, msg: Any) -> None:
            assert err is None, err
            landed[change_id] = msg.partition()
        return report

    for req in requests:
        producer.produce(topic_name(settings, BUDGET_REQUESTS), encode(req), key=BUDGET_REQUESTS.key(req),
                         on_delivery=delivered(req.change_id))
    assert producer.flush(30) == 0
    return landed


def _owned(stage: ExecutorStage) -> set[int]:
    return set(stage.consumer.assigned) if stage.consumer is not None else set()


@contextlib.asynccontextmanager
async def _two_executors(settings: Settings, meta_url: str, meta_state: MetaState
                         ) -> AsyncIterator[tuple[ExecutorStage, ExecutorStage]]:
    first, second = live_stage(meta_url, meta_state), live_stage(meta_url, meta_state)
    assert isinstance(first, ExecutorStage) and isinstance(second, ExecutorStage)
    async with running_stages(settings, [first]), running_stages(settings, [second]):
        await wait_until(lambda: bool(_owned(first)) and bool(_owned(second))
                         and _owned(first) | _owned(second) == set(range(GROUP_PARTITIONS))
                         and not _owned(first) & _owned(second), timeout=60)
        yield first, second


async def _settled(pool: asyncpg.Pool[Any], change_ids: list[str]) -> bool:
    return await pool.fetchval("SELECT count(*) FROM ad_change_history WHERE change_id = ANY($1) "
                               "AND status <> 'executing'", change_ids) == len(change_ids)


async def test_a_misplaced_budget_request_is_moved_and_applied_once_by_its_groups_owner(
        settings: Settings, db_pool: asyncpg.Pool[Any], meta_url: str, meta_state: MetaState) -> None:
    crossing, placed = _groups()
    groups = crossing + placed
    for group in groups:
        world(meta_state, {f"{group}-as": 10_000}, campaign=group)
    requests = [request(f"{group}-as", 11_000, campaign=group) for group in groups]
    by_change = {r.change_id: r for r in requests}
    before = MISPLACED_RECORDS.labels(topic=BUDGET_REQUESTS.name)._value.get()
    async with _two_executors(settings, meta_url, meta_state) as (first, second):
        landed = await asyncio.to_thread(_produce_with_librdkafka, settings, requests)
        await wait_until(lambda: _settled(db_pool, list(by_change)), timeout=60)
        owners = {p: s for s in (first, second) for p in _owned(s)}
    rows = await db_pool.fetch("SELECT change_id, status, sent_partition FROM ad_change_history "
                               "WHERE change_id = ANY($1)", list(by_change))
    assert len(rows) == len(requests)
    for row in rows:
        req = by_change[row["change_id"]]
        right = group_partition(TENANT, req.group_id)
        assert row["status"] == "completed", dict(row)
        assert row["sent_partition"] == right  # sent under the fence of its group's partition, by its owner
        assert meta_state.budget_of(req.entity_id) == 11_000
    misplaced = [cid for cid, p in landed.items() if p != group_partition(TENANT, by_change[cid].group_id)]
    assert sorted(by_change[cid].group_id for cid in misplaced) == sorted(crossing)
    for cid in misplaced:  # it landed on the other instance's half: that one moved it, the owner applied it
        assert owners[landed[cid]] is not owners[group_partition(TENANT, by_change[cid].group_id)]
    assert MISPLACED_RECORDS.labels(topic=BUDGET_REQUESTS.name)._value.get() - before == len(misplaced)
    posts = Counter(path.rsplit("/", 1)[-1] for method, path, _ in meta_state.requests if method == "POST")
    assert {f"{g}-as": posts[f"{g}-as"] for g in groups} == {f"{g}-as": 1 for g in groups}
    outcomes = await read_events(settings, BUDGET_OUTCOMES, min_count=len(requests), timeout=20)
    per_change = Counter(o.change_id for o in outcomes if isinstance(o, BudgetChangeSettled))
    assert per_change == Counter({cid: 1 for cid in by_change})
