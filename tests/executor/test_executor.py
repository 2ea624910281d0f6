"""The executor core against the real database and the Meta stand-in over HTTP (no Kafka)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from schemas import BudgetChangeSettled
from streams.core.clock import ManualClock
from streams.core.controls.killswitch import pause
from streams.core.controls.limit_overrides import save_override
from streams.core.db import create_pool
from streams.core.settings import Settings
from streams.executor.executor import Executor
from streams.integrations.meta import ApplyResult, MetaClient
from streams.lab.sandbox.meta_state import MetaState
from tests.executor.conftest import executor_settings, request
from tests.meta_standin import TENANT, world


def posts(state: MetaState) -> int:
    return sum(1 for method, _, _ in state.requests if method == "POST")


async def test_fifth_change_of_an_ad_set_within_the_hour_is_blocked_and_allowed_at_the_hour(
    live_executor: Executor, meta_state: MetaState, clock: ManualClock
) -> None:
    world(meta_state, {"as1": 10_000})
    for i in range(4):
        outcome = await live_executor.execute(request("as1", 10_100 + 100 * i))
        assert outcome.outcome == "completed"
        clock.advance(600)
    clock.advance(3599 - 4 * 600)  # one second before the first change is an hour old
    blocked = await live_executor.execute(request("as1", 10_500))
    assert blocked.outcome == "blocked"
    assert [g.name for g in blocked.guardrails if not g.passed] == ["entity_hourly_changes"]
    clock.advance(1)
    allowed = await live_executor.execute(request("as1", 10_500))
    assert allowed.outcome == "completed"
    assert len(meta_state.change_log) == 5 and meta_state.refused == []


async def test_sixteenth_action_in_a_campaign_within_the_hour_is_blocked(
    live_executor: Executor, meta_state: MetaState
) -> None:
    world(meta_state, {f"as{i}": 10_000 for i in range(16)})
    outcomes = [await live_executor.execute(request(f"as{i}", 10_500)) for i in range(16)]
    assert [o.outcome for o in outcomes] == ["completed"] * 15 + ["blocked"]
    assert [g.name for g in outcomes[-1].guardrails if not g.passed] == ["campaign_hourly_actions"]
    assert len(meta_state.change_log) == 15


async def test_campaign_limit_comes_from_the_tenant_row(
    live_executor: Executor, meta_state: MetaState, db_pool: asyncpg.Pool[Any]
) -> None:
    await db_pool.execute("INSERT INTO guardrail_overrides (tenant_id, max_actions_per_campaign_hour) "
                          "VALUES ($1, 2)", TENANT)
    world(meta_state, {f"as{i}": 10_000 for i in range(3)})
    outcomes = [(await live_executor.execute(request(f"as{i}", 10_500))).outcome for i in range(3)]
    assert outcomes == ["completed", "completed", "blocked"]


async def test_change_beyond_twenty_percent_in_six_hours_is_clamped_then_blocked(
    live_executor: Executor, meta_state: MetaState, clock: ManualClock, db_pool: asyncpg.Pool[Any]
) -> None:
    world(meta_state, {"as1": 10_000})
    clamped = await live_executor.execute(request("as1", 12_001))
    assert (clamped.outcome, clamped.applied_budget_minor) == ("clamped", 12_000)
    assert meta_state.budget_of("as1") == 12_000
    clock.advance(3600)
    assert (await live_executor.execute(request("as1", 12_100))).outcome == "blocked"
    clock.advance(5 * 3600)  # the first change leaves the 6 h window
    again = await live_executor.execute(request("as1", 14_400))
    assert (again.outcome, again.applied_budget_minor) == ("completed", 14_400)
    failures = await db_pool.fetch("SELECT guardrail, status FROM executor_guardrail_failures ORDER BY decided_at")
    assert [(r["guardrail"], r["status"]) for r in failures] == [
        ("cumulative_change", "clamped"), ("cumulative_change", "blocked"),
    ]


async def test_a_campaign_with_a_24_hour_window_blocks_what_the_6_hour_default_allows(
    live_executor: Executor, meta_state: MetaState, clock: ManualClock, db_pool: asyncpg.Pool[Any]
) -> None:
    """The velocity window is overridable per campaign; its neighbour keeps the settings' 6 h."""
    async with db_pool.acquire() as conn:
        await save_override(conn, TENANT, "slow", {"change_window_hours": 24}, actor="ops@acme")
    world(meta_state, {"as1": 10_000, "as2": 10_000})
    for entity, campaign in (("as1", "slow"), ("as2", "c1")):
        first = await live_executor.execute(request(entity, 12_000, campaign=campaign))
        assert first.outcome == "completed"
    clock.advance(7 * 3600)  # past 6 h, within 24 h: the first +20% still counts for "slow"
    slow = await live_executor.execute(request("as1", 14_400, campaign="slow"))
    default = await live_executor.execute(request("as2", 14_400, campaign="c1"))
    assert slow.outcome == "blocked"
    assert [g.name for g in slow.guardrails if not g.passed] == ["cumulative_change"]
    assert (default.outcome, default.applied_budget_minor) == ("completed", 14_400)
    assert (meta_state.budget_of("as1"), meta_state.budget_of("as2")) == (12_000, 14_400)


async def test_block_policy_refuses_the_change_at_one_unit_over(
    live_executor: Executor, meta_state: MetaState, db_pool: asyncpg.Pool[Any]
) -> None:
    await db_pool.execute("INSERT INTO guardrail_overrides (tenant_id, policy) VALUES ($1, 'block')", TENANT)
    world(meta_state, {"as1": 10_000, "as2": 10_000})
    assert (await live_executor.execute(request("as1", 12_001))).outcome == "blocked"
    assert (await live_executor.execute(request("as2", 12_000))).outcome == "completed"
    assert meta_state.budget_of("as1") == 10_000


async def test_floor_cap_and_platform_minimum_bound_the_applied_budget(
    live_executor: Executor, meta_state: MetaState, db_pool: asyncpg.Pool[Any]
) -> None:
    await db_pool.execute("INSERT INTO executor_entity_limits (tenant_id, entity_id, floor_minor, cap_minor) "
                          "VALUES ($1, 'as1', 9500, 10500)", TENANT)
    await db_pool.execute("INSERT INTO guardrail_overrides (tenant_id, max_change_fraction) VALUES ($1, 5)",
                          TENANT)
    world(meta_state, {"as1": 10_000, "as2": 110})
    capped = await live_executor.execute(request("as1", 10_501))
    assert (capped.outcome, capped.applied_budget_minor) == ("clamped", 10_500)
    floored = await live_executor.execute(request("as1", 9_499))
    assert (floored.outcome, floored.applied_budget_minor) == ("clamped", 9_500)
    minimum = await live_executor.execute(request("as2", 99))
    assert (minimum.outcome, minimum.applied_budget_minor) == ("clamped", 100)
    assert meta_state.refused == []


async def test_kill_switch_blocks_without_calling_meta(
    live_executor: Executor, meta_state: MetaState, db_pool: asyncpg.Pool[Any]
) -> None:
    world(meta_state, {"as1": 10_000})
    await pause(db_pool, TENANT, "c1", actor="ops@acme")
    outcome = await live_executor.execute(request("as1", 10_500))
    assert outcome.outcome == "blocked"
    assert not next(g for g in outcome.guardrails if g.name == "kill_switch").passed
    assert posts(meta_state) == 0


async def test_redelivered_request_never_calls_meta_twice(
    live_executor: Executor, meta_state: MetaState
) -> None:
    world(meta_state, {"as1": 10_000})
    req = request("as1", 11_000)
    first = await live_executor.execute(req)
    second = await live_executor.execute(req)
    assert first.model_dump(exclude={"produced_at"}) == second.model_dump(exclude={"produced_at"})
    assert first.event_id == f"settled:{req.change_id}"
    assert posts(meta_state) == 1


async def test_an_older_request_arriving_after_a_newer_one_was_executed_is_superseded(
    live_executor: Executor, meta_state: MetaState, clock: ManualClock
) -> None:
    world(meta_state, {"as1": 10_000})
    older = request("as1", 10_500, at=clock.now())
    newer = request("as1", 11_000, at=clock.now().replace(minute=5))
    assert (await live_executor.execute(newer)).outcome == "completed"
    late = await live_executor.execute(older)
    assert late.outcome == "superseded" and newer.change_id in (late.error or "")
    assert meta_state.budget_of("as1") == 11_000


async def test_dry_run_records_what_it_would_do_and_obeys_the_guardrails(
    db_pool: asyncpg.Pool[Any], clock: ManualClock, meta_state: MetaState
) -> None:
    published: list[BudgetChangeSettled] = []

    async def publish(event: BudgetChangeSettled) -> None:
        published.append(event)

    dry = Executor(db_pool, clock, executor_settings(), None, publish)
    first = await dry.execute(request("as1", 12_500, previous=10_000))
    assert (first.outcome, first.applied_budget_minor, first.previous_budget_minor) == ("dry_run", 12_000, 10_000)
    row = await db_pool.fetchrow("SELECT daily_budget_minor, source FROM entity_budgets WHERE entity_id = 'as1'")
    assert row is not None and (row["daily_budget_minor"], row["source"]) == (12_000, "dry_run")
    assert (await dry.execute(request("as1", 12_100))).outcome == "blocked"  # allowance used up
    assert [e.outcome for e in published] == ["dry_run", "blocked"]
    assert meta_state.requests == []


class _CrashingGateway:
    """Stands for a process that dies mid-change: optionally lets Meta apply it first."""

    def __init__(self, real: MetaClient, apply_first: bool) -> None:
        self.real = real
        self.apply_first = apply_first

    async def get_daily_budget(self, entity_id: str) -> int | None:
        return await self.real.get_daily_budget(entity_id)

    async def apply_budget(self, entity_id: str, target_minor: int) -> ApplyResult:
        if self.apply_first:
            await self.real.set_daily_budget(entity_id, target_minor)
        raise asyncio.CancelledError("process killed")


@pytest.mark.parametrize("applied", [True, False])
async def test_crash_between_intent_and_completion_is_reconciled_on_restart(
    db_pool: asyncpg.Pool[Any], clock: ManualClock, meta_state: MetaState, meta_client: MetaClient,
    applied: bool,
) -> None:
    world(meta_state, {"as1": 10_000})
    req = request("as1", 11_000)
    crashing = Executor(db_pool, clock, executor_settings(), _CrashingGateway(meta_client, applied))
    with pytest.raises(asyncio.CancelledError):
        await crashing.execute(req)
    assert await db_pool.fetchval("SELECT status FROM ad_change_history WHERE change_id = $1", req.change_id) \
        == "executing"

    published: list[BudgetChangeSettled] = []

    async def publish(event: BudgetChangeSettled) -> None:
        published.append(event)

    restarted = Executor(db_pool, clock, executor_settings(), meta_client, publish)
    if not applied:  # sent, Meta not at target: the sender may still settle it, so it waits a grace first
        assert await restarted.reconcile() == 0
        clock.advance(executor_settings().reconcile_grace_seconds)
    assert await restarted.reconcile() == 1
    assert [e.outcome for e in published] == ["completed" if applied else "failed"]
    redelivered = await restarted.execute(req)
    assert redelivered.outcome == published[0].outcome
    assert posts(meta_state) == (1 if applied else 0)
    assert meta_state.budget_of("as1") == (11_000 if applied else 10_000)


async def test_restart_while_meta_throttles_defers_the_intent_instead_of_failing_to_start(
    db_pool: asyncpg.Pool[Any], clock: ManualClock, meta_state: MetaState, meta_client: MetaClient,
) -> None:
    world(meta_state, {"as1": 10_000})
    req = request("as1", 11_000)
    with pytest.raises(asyncio.CancelledError):
        await Executor(db_pool, clock, executor_settings(), _CrashingGateway(meta_client, True)).execute(req)
    meta_state.faults.fail_next("throttle_80004", method="GET")

    restarted = Executor(db_pool, clock, executor_settings(), meta_client)
    assert await restarted.reconcile() == 0  # Meta throttled the read: deferred, not a crash at start
    assert await db_pool.fetchval("SELECT status FROM ad_change_history WHERE change_id = $1", req.change_id) \
        == "executing"
    redelivered = await restarted.execute(req)  # the uncommitted request comes back and settles it
    assert redelivered.outcome == "completed"
    assert posts(meta_state) == 1 and meta_state.budget_of("as1") == 11_000


async def test_unknown_entity_fails_with_metas_message(live_executor: Executor, meta_state: MetaState) -> None:
    world(meta_state, {})
    outcome = await live_executor.execute(request("nope", 11_000))
    assert outcome.outcome == "failed" and "does not exist" in (outcome.error or "")


async def test_every_outcome_row_keeps_its_guardrail_results_and_timing(
    live_executor: Executor, meta_state: MetaState, db_pool: asyncpg.Pool[Any]
) -> None:
    world(meta_state, {"as1": 10_000})
    req = request("as1", 10_800)
    await live_executor.execute(req)
    row = await db_pool.fetchrow("SELECT * FROM ad_change_history WHERE change_id = $1", req.change_id)
    assert row is not None and row["status"] == "completed" and row["attempts"] == 1
    assert {g["name"] for g in row["guardrails"]} >= {"kill_switch", "entity_hourly_changes", "cumulative_change"}
    assert row["requested_at"] <= row["decided_at"] <= row["applied_at"] <= row["settled_at"]
    activity = await db_pool.fetchrow("SELECT * FROM executor_campaign_activity WHERE campaign_id = 'c1'")
    assert activity is not None and (activity["requests"], activity["changes"], activity["completed"]) == (1, 1, 1)
    budget = await db_pool.fetchrow("SELECT daily_budget_minor, source FROM entity_budgets WHERE entity_id = 'as1'")
    assert budget is not None and (budget["daily_budget_minor"], budget["source"]) == (10_800, "meta")


async def test_many_campaigns_at_once_do_not_exhaust_a_small_pool(settings: Settings, clock: ManualClock) -> None:
    pool = await create_pool(settings, min_size=1, max_size=2)
    try:
        dry = Executor(pool, clock, executor_settings(), None)
        batch = [request(f"as{i}", 10_500, campaign=f"c{i}", previous=10_000) for i in range(20)]
        outcomes = await asyncio.wait_for(asyncio.gather(*(dry.execute(r) for r in batch)), timeout=15)
        assert {o.outcome for o in outcomes} == {"dry_run"}
    finally:
        await pool.close()
