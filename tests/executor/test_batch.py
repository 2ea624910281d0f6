"""The batch path decides many requests in one transaction exactly as the one-request path would."""

from __future__ import annotations

from typing import Any

import asyncpg

from schemas import BudgetChangeSettled
from streams.core.clock import ManualClock
from streams.executor.batch import Item, settle_batch
from streams.executor.executor import Executor
from streams.integrations.meta import MetaClient
from streams.lab.sandbox.meta_state import MetaState
from tests.executor.conftest import executor_settings, request
from tests.meta_standin import world


def dry_executor(pool: asyncpg.Pool[Any], clock: ManualClock, published: list[BudgetChangeSettled]) -> Executor:
    async def publish_many(events: list[BudgetChangeSettled]) -> None:
        published.extend(events)

    return Executor(pool, clock, executor_settings(), None, publish_many=publish_many)


async def test_one_campaigns_requests_in_one_batch_count_toward_its_limit_in_order(
    db_pool: asyncpg.Pool[Any], clock: ManualClock
) -> None:
    published: list[BudgetChangeSettled] = []
    requests = [request(f"as{i}", 10_500, previous=10_000) for i in range(16)]
    results = await settle_batch(dry_executor(db_pool, clock, published), [[Item(r, None) for r in requests]])
    assert results[0].done == 16 and results[0].intent is None and not results[0].single
    assert [(e.change_id, e.outcome) for e in published] == \
        [(r.change_id, "dry_run") for r in requests[:15]] + [(requests[15].change_id, "blocked")]
    assert [g.name for g in published[-1].guardrails if not g.passed] == ["campaign_hourly_actions"]
    assert await db_pool.fetchval("SELECT count(*) FROM entity_budgets WHERE source = 'dry_run'") == 15


async def test_a_change_seen_twice_is_recorded_once_and_its_repeat_takes_the_one_request_path(
    db_pool: asyncpg.Pool[Any], clock: ManualClock
) -> None:
    published: list[BudgetChangeSettled] = []
    executor = dry_executor(db_pool, clock, published)
    req = request("as1", 10_500, previous=10_000)
    again = req.model_copy(update={"event_id": req.event_id + "-again"})
    first = await settle_batch(executor, [[Item(req, None), Item(again, None)]])
    assert (first[0].done, first[0].single) == (1, False)
    second = await settle_batch(executor, [[Item(again, None)]])
    assert (second[0].done, second[0].single) == (0, True)
    assert await db_pool.fetchval("SELECT count(*) FROM ad_change_history") == 1
    assert [e.change_id for e in published] == [req.change_id]


async def test_a_decision_to_send_ends_its_campaigns_part_of_the_batch_until_it_is_sent(
    db_pool: asyncpg.Pool[Any], clock: ManualClock, meta_state: MetaState, meta_client: MetaClient
) -> None:
    world(meta_state, {"as1": 10_000, "as2": 10_000})
    await db_pool.execute(
        "INSERT INTO entity_budgets (tenant_id, entity_id, entity_level, campaign_id, group_id, currency, "
        "daily_budget_minor, source, updated_at) SELECT $1, e, 'adset', 'c1', 'c1', 'USD', 10000, 'meta', $2 "
        "FROM unnest(ARRAY['as1', 'as2']) AS e", request("x", 1).tenant_id, clock.now())
    live = Executor(db_pool, clock, executor_settings(), meta_client)
    first, second = request("as1", 10_500), request("as2", 10_500)
    results = await settle_batch(live, [[Item(first, None), Item(second, None)]])
    assert results[0].done == 0 and results[0].intent is not None
    assert results[0].intent["change_id"] == first.change_id and results[0].intent["sent_at"] is None
    assert meta_state.change_log == []  # nothing sent inside the batch: the campaign's worker sends, fenced
    assert await db_pool.fetchval("SELECT count(*) FROM ad_change_history WHERE change_id = $1",
                                  second.change_id) == 0
    outcome = await live.send_intent(first, None)
    assert outcome.outcome == "completed" and meta_state.budget_of("as1") == 10_500
