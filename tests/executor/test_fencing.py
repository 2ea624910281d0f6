"""A partition moving between two executor instances while a change waits out its jitter.

Two request consumers share the real database and the Meta stand-in; the partition moves by the
new owner claiming it (as its assignment callback does) while the old owner never heard of the
revoke - the late, zombie case the epoch exists for.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from aiokafka import TopicPartition
from structlog.testing import capture_logs

from schemas import BudgetChangeRequested
from streams.core.clock import WallClock
from streams.executor.consumer import RequestConsumer
from streams.executor.executor import Executor
from streams.integrations.meta import MetaClient
from streams.lab.sandbox.meta_state import MetaState
from tests.executor.conftest import executor_settings, request
from tests.executor.test_executor import posts
from tests.meta_standin import world

TP = TopicPartition("budget.requests.v1", 3)


def instance(pool: asyncpg.Pool[Any], meta: MetaClient, jitter_s: float) -> RequestConsumer:
    clock = WallClock()
    settings = executor_settings()
    jitter: Any = lambda _r: jitter_s  # noqa: E731
    return RequestConsumer(Executor(pool, clock, settings, meta), clock, settings, jitter)


async def row_of(pool: asyncpg.Pool[Any], req: BudgetChangeRequested) -> asyncpg.Record:
    row: asyncpg.Record | None = await pool.fetchrow("SELECT * FROM ad_change_history WHERE change_id = $1",
                                                      req.change_id)
    assert row is not None
    return row


async def test_a_change_in_its_jitter_as_its_partition_moves_is_applied_once_by_the_new_owner_the_old_call_refused(
    db_pool: asyncpg.Pool[Any], meta_state: MetaState, meta_client: MetaClient,
) -> None:
    world(meta_state, {"as1": 10_000})
    req = request("as1", 10_200)
    old, new = instance(db_pool, meta_client, 0.3), instance(db_pool, meta_client, 0.0)
    await old.on_partitions_assigned({TP})
    late = old.schedule(req, TP, 7)  # waits out its jitter
    await new.on_partitions_assigned({TP})  # the partition moved; the old owner was never told
    with capture_logs() as logs:
        await old.scheduler.idle()  # wakes, decides, and is refused at the Meta call
    assert late.fenced and posts(meta_state) == 0
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["meta_call_fenced"]
    unsent = await row_of(db_pool, req)
    assert (unsent["status"], unsent["sent_at"]) == ("executing", None)
    assert old.tracker.committable() == {TP: 7}  # the old owner never commits past the refused record

    new.schedule(req, TP, 7)  # the new owner reads the uncommitted record again
    await new.scheduler.idle()
    applied = await row_of(db_pool, req)
    assert (applied["status"], applied["sent_epoch"]) == ("completed", new.epochs[TP])
    assert applied["sent_epoch"] > old.epochs[TP]
    assert posts(meta_state) == 1 and meta_state.budget_of("as1") == 10_200


async def test_an_old_owner_waking_after_the_new_owner_applied_the_change_does_not_call_meta_again(
    db_pool: asyncpg.Pool[Any], meta_state: MetaState, meta_client: MetaClient,
) -> None:
    world(meta_state, {"as1": 10_000})
    req = request("as1", 10_200)
    old, new = instance(db_pool, meta_client, 0.3), instance(db_pool, meta_client, 0.0)
    await old.on_partitions_assigned({TP})
    old.schedule(req, TP, 7)
    await new.on_partitions_assigned({TP})
    new.schedule(req, TP, 7)
    await new.scheduler.idle()
    await old.scheduler.idle()
    assert (await row_of(db_pool, req))["status"] == "completed"
    assert posts(meta_state) == 1 and meta_state.budget_of("as1") == 10_200
