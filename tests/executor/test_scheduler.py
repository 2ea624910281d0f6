"""Per-key queues: order within a key, concurrency across keys, supersede, rebalance drops."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from streams.core.clock import WallClock
from streams.executor.scheduler import Job, KeyedScheduler
from tests.executor.conftest import request


def job(entity: str, delay: float = 0.0, campaign: str = "c1", partition: int = 0) -> Job:
    now = WallClock().now()
    return Job(request(entity, 10_000, campaign=campaign), received_at=now, due=now + timedelta(seconds=delay),
               partition=partition)


async def test_jobs_of_one_key_run_in_order_and_other_keys_do_not_wait() -> None:
    ran: list[str] = []

    async def run(j: Job) -> None:
        ran.append(j.request.entity_id)

    scheduler = KeyedScheduler(run, WallClock())
    scheduler.submit("k1", job("a", delay=0.3))
    scheduler.submit("k1", job("b"))
    scheduler.submit("k2", job("c"))
    await asyncio.sleep(0.1)
    assert ran == ["c"]
    await scheduler.idle()
    assert ran == ["c", "a", "b"]
    assert scheduler.size == 0


async def test_newer_job_for_an_entity_supersedes_and_wakes_the_waiting_one() -> None:
    seen: list[tuple[str, str | None]] = []

    async def run(j: Job) -> None:
        seen.append((j.request.change_id, j.superseded_by))

    scheduler = KeyedScheduler(run, WallClock())
    old, other, new = job("a", delay=30), job("b"), job("a")
    for j in (old, other, new):
        scheduler.submit("k1", j)
    await asyncio.wait_for(scheduler.idle(), timeout=2)  # not 30 s: the superseded one was woken
    assert seen == [(old.request.change_id, new.request.change_id), (other.request.change_id, None),
                    (new.request.change_id, None)]


async def test_a_running_job_is_not_superseded() -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    seen: list[str | None] = []

    async def run(j: Job) -> None:
        started.set()
        await release.wait()
        seen.append(j.superseded_by)

    scheduler = KeyedScheduler(run, WallClock())
    scheduler.submit("k1", job("a"))
    await started.wait()
    scheduler.submit("k1", job("a"))
    release.set()
    await scheduler.idle()
    assert seen == [None, None]


async def test_dropping_a_partition_cancels_only_its_work() -> None:
    done: list[str] = []

    async def run(j: Job) -> None:
        done.append(j.request.entity_id)

    scheduler = KeyedScheduler(run, WallClock())
    scheduler.submit("k1", job("a", delay=30, partition=0))
    scheduler.submit("k2", job("b", delay=0.05, partition=1))
    assert await scheduler.drop({0}) == 1
    await scheduler.idle()
    assert done == ["b"] and scheduler.size == 0
