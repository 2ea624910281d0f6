"""Automation modes in the executor: shadow sends nothing, approval waits for a person, each change one outcome."""

from __future__ import annotations

from typing import Any

import asyncpg

from schemas import BudgetChangeReviewed, BudgetChangeSettled
from streams.core.clock import ManualClock
from streams.core.controls.automation import save_automation
from streams.core.controls.killswitch import pause
from streams.executor import approvals
from streams.executor.executor import Executor
from streams.lab.sandbox.meta_state import MetaState
from tests.executor.conftest import request
from tests.meta_standin import START, TENANT, world


async def mode(db_pool: asyncpg.Pool[Any], name: str, campaign: str = "c1", **options: Any) -> None:
    async with db_pool.acquire() as conn:
        await save_automation(conn, TENANT, campaign, name, "admin@acme", **options)


def verdict(change_id: str, approve: bool, who: str = "alice", reason: str = "") -> BudgetChangeReviewed:
    return BudgetChangeReviewed(event_id=f"review-{change_id}-{who}", tenant_id=TENANT, occurred_at=START,
                                change_id=change_id, group_id="c1", campaign_id="c1", entity_id="as1",
                                verdict="approve" if approve else "reject", reviewed_by=who, reason=reason)


class Announced:
    """Every outcome the executor publishes, in order."""

    def __init__(self, executor: Executor) -> None:
        self.events: list[BudgetChangeSettled] = []

        async def publish(event: BudgetChangeSettled) -> None:
            self.events.append(event)

        executor.publish = publish

    def outcomes(self, change_id: str) -> list[str]:
        return [e.outcome for e in self.events if e.change_id == change_id]


async def test_shadow_mode_records_what_would_happen_and_sends_nothing(
        live_executor: Executor, meta_state: MetaState, db_pool: asyncpg.Pool[Any]) -> None:
    world(meta_state, {"as1": 10_000})
    await mode(db_pool, "shadow")
    outcome = await live_executor.execute(request("as1", 15_000, change_id="big"))
    assert outcome.outcome == "shadow" and outcome.final
    assert [g.name for g in outcome.guardrails if not g.passed] == ["cumulative_change"]  # what it would clamp
    assert meta_state.change_log == []
    assert await db_pool.fetchval("SELECT target_budget_minor FROM ad_change_history WHERE change_id = 'big'") == 12_000
    assert await db_pool.fetchval("SELECT count(*) FROM entity_budgets") == 0  # the known budget did not move


async def test_a_large_change_waits_for_a_person_and_an_approval_sends_it(
        live_executor: Executor, meta_state: MetaState, db_pool: asyncpg.Pool[Any]) -> None:
    world(meta_state, {"as1": 10_000})
    await mode(db_pool, "approval", approval_threshold_pct=10)
    seen = Announced(live_executor)
    waiting = await live_executor.execute(request("as1", 11_500, change_id="raise"))
    assert waiting.outcome == "awaiting_approval" and not waiting.final
    assert meta_state.change_log == []
    settled = await approvals.review(live_executor, verdict("raise", approve=True, reason="launch week"))
    assert settled is not None and settled.outcome == "completed" and settled.reviewed_by == "alice"
    assert [(c.old_budget_minor, c.new_budget_minor) for c in meta_state.change_log] == [(10_000, 11_500)]
    assert seen.outcomes("raise") == ["awaiting_approval", "completed"]
    assert len({e.event_id for e in seen.events}) == 2  # two events, each with its own id
    row = await db_pool.fetchrow("SELECT reviewed_by, review_reason FROM ad_change_history WHERE change_id = 'raise'")
    assert dict(row) == {"reviewed_by": "alice", "review_reason": "launch week"}


async def test_a_small_change_and_a_persons_own_change_do_not_wait(
        live_executor: Executor, meta_state: MetaState, db_pool: asyncpg.Pool[Any]) -> None:
    world(meta_state, {"as1": 10_000, "as2": 10_000})
    await mode(db_pool, "approval", approval_threshold_pct=10)
    small = await live_executor.execute(request("as1", 10_900))
    manual = request("as2", 11_900)
    manual = manual.model_copy(update={"source": "operator", "requested_by": "bob"})
    assert (small.outcome, (await live_executor.execute(manual)).outcome) == ("completed", "completed")


async def test_a_rejected_change_is_never_sent_and_a_second_verdict_changes_nothing(
        live_executor: Executor, meta_state: MetaState, db_pool: asyncpg.Pool[Any]) -> None:
    world(meta_state, {"as1": 10_000})
    await mode(db_pool, "approval")
    await live_executor.execute(request("as1", 8_500, change_id="cut"))
    rejected = await approvals.review(live_executor, verdict("cut", approve=False, who="carol"))
    assert rejected is not None and (rejected.outcome, rejected.reviewed_by) == ("rejected", "carol")
    late = await approvals.review(live_executor, verdict("cut", approve=True, who="dave"))
    assert late is not None and late.outcome == "rejected"  # the first verdict stands
    assert meta_state.change_log == []


async def test_an_approval_passes_the_guardrails_as_they_are_when_a_person_approves(
        live_executor: Executor, meta_state: MetaState, db_pool: asyncpg.Pool[Any]) -> None:
    world(meta_state, {"as1": 10_000})
    await mode(db_pool, "approval")
    await live_executor.execute(request("as1", 11_500, change_id="raise"))
    await pause(db_pool, TENANT, "c1", actor="ops", reason="incident")
    settled = await approvals.review(live_executor, verdict("raise", approve=True))
    assert settled is not None and settled.outcome == "blocked"
    assert [g.name for g in settled.guardrails if not g.passed] == ["kill_switch"]
    assert meta_state.change_log == []


async def test_an_unanswered_change_expires_and_a_newer_request_supersedes_a_waiting_one(
        live_executor: Executor, meta_state: MetaState, db_pool: asyncpg.Pool[Any], clock: ManualClock) -> None:
    world(meta_state, {"as1": 10_000, "as2": 10_000})
    await mode(db_pool, "approval", approval_ttl_hours=2)
    seen = Announced(live_executor)
    await live_executor.execute(request("as1", 11_500, change_id="old"))
    await live_executor.execute(request("as2", 11_500, change_id="lonely"))
    clock.advance(600)
    await live_executor.execute(request("as1", 11_600, change_id="new"))
    assert seen.outcomes("old") == ["awaiting_approval", "superseded"]
    clock.advance(2 * 3600)
    assert await approvals.expire_due(live_executor, owns=lambda tenant, group: False) == 0  # not this one's
    assert await approvals.expire_due(live_executor, owns=lambda tenant, group: True) == 2
    assert seen.outcomes("lonely") == ["awaiting_approval", "expired"]
    assert seen.outcomes("new") == ["awaiting_approval", "expired"]
    assert await approvals.expire_due(live_executor, owns=lambda tenant, group: True) == 0
    assert meta_state.change_log == []
    statuses = await db_pool.fetch("SELECT change_id, status FROM ad_change_history ORDER BY change_id")
    assert {r["change_id"]: r["status"] for r in statuses} == {"lonely": "expired", "new": "expired",
                                                               "old": "superseded"}


async def test_a_verdict_for_an_unknown_or_foreign_change_changes_nothing(
        live_executor: Executor, meta_state: MetaState, db_pool: asyncpg.Pool[Any]) -> None:
    world(meta_state, {"as1": 10_000})
    await mode(db_pool, "approval")
    await live_executor.execute(request("as1", 11_500, change_id="raise"))
    assert await approvals.review(live_executor, verdict("nope", approve=True)) is None
    foreign = verdict("raise", approve=True).model_copy(update={"tenant_id": "globex"})
    assert await approvals.review(live_executor, foreign) is None
    assert await db_pool.fetchval("SELECT status FROM ad_change_history WHERE change_id = 'raise'") == \
        "awaiting_approval"
