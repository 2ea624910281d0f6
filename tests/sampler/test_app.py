"""The sampler stage on the real broker and PostgreSQL: evidence in, decisions and requests out."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import asyncpg
from aiokafka.coordinator.assignors.range import RangePartitionAssignor

from schemas.events import AllocationDecided, BudgetChangeRequested, RevenueRecognized, SpendReported
from schemas.money import Money, SignedMoney
from schemas.topics import BUDGET_REQUESTS, DECISIONS, REVENUE, SPEND
from streams.core.clock import ManualClock
from streams.core.controls.killswitch import pause
from streams.core.naming import topic_name
from streams.core.partitions import group_partition
from streams.core.settings import Settings
from streams.sampler import store
from streams.sampler.app import SamplerStage
from streams.sampler.settings import SamplerSettings
from tests.helpers import read_events, running_stages, wait_until

DAY = date(2026, 5, 1)
NOW = datetime(2026, 5, 2, 6, tzinfo=UTC)
# no change cost: these tests decide on same-day evidence, which could not pay for a move
FAST = SamplerSettings(significant_events=6, debounce_seconds=0, schedule_seconds=3600, draws=1000,
                       change_cost_days=0)


def spend(entity: str, amount: int = 10_000, tenant: str = "acme", n: int = 0) -> SpendReported:
    return SpendReported(event_id=f"sp-{entity}-{n}", tenant_id=tenant, occurred_at=NOW, group_id="g1",
                         campaign_id="g1", entity_id=entity, day=DAY, spend=Money(amount_minor=amount, currency="USD"),
                         impressions=5_000, clicks=50, daily_budget_minor=10_000)


def revenue(entity: str, amount: int, n: int, tenant: str = "acme") -> RevenueRecognized:
    return RevenueRecognized(
        event_id=f"rv-{entity}-{n}", tenant_id=tenant, occurred_at=NOW, deal_id=f"d{n}", group_id="g1",
        campaign_id="g1", adset_id=entity, ad_id=f"{entity}-ad", kind="synthetic",
        amount=SignedMoney(amount_minor=amount, currency="USD"), credited_total_minor=amount,
        stage_id="appointmentscheduled", confidence=1.0, conversion_event_id=f"cv{n}",
        click_occurred_at=datetime(2026, 5, 1, 10, tzinfo=UTC),
    )


async def evidence(runner: Any, tenant: str = "acme") -> None:
    publisher = runner.resources.publisher
    for e in ("a", "b", "c"):
        await publisher.publish(spend(e, tenant=tenant))
    for n in range(3):
        await publisher.publish(revenue("c", 50_000, n, tenant=tenant))


async def test_spend_and_revenue_in_decision_and_requests_out(settings: Settings, db_pool: asyncpg.Pool[Any]) -> None:
    async with running_stages(settings, [SamplerStage(FAST)], clock=ManualClock(NOW)) as runner:
        await evidence(runner)
        decisions = await read_events(settings, DECISIONS, min_count=1, timeout=30)
    decision = decisions[0]
    assert isinstance(decision, AllocationDecided)
    assert decision.policy == "thompson" and not decision.paused
    assert {a.entity_id for a in decision.allocations} == {"a", "b", "c"}
    assert decision.total_budget.amount_minor == 30_000  # the reported daily budgets
    best = max(decision.allocations, key=lambda a: a.share)
    assert best.entity_id == "c" and best.budget_minor > 10_000
    out = await read_events(settings, BUDGET_REQUESTS, min_count=1)
    requests = [r for r in out if isinstance(r, BudgetChangeRequested)]
    assert {r.change_id for r in requests} == {f"{decision.decision_id}:{r.entity_id}" for r in requests}
    assert all(r.decision_id == decision.decision_id for r in requests)
    assert any(r.entity_id == "c" and r.requested_budget.amount_minor > 10_000 for r in requests)
    row = await db_pool.fetchrow("SELECT * FROM sampler_entities WHERE entity_id = 'c'")
    assert row["posterior_mean"] is not None and row["rate_shape"] > 0


async def test_a_decision_logs_how_far_into_each_partition_its_evidence_reached(
    settings: Settings, db_pool: asyncpg.Pool[Any]
) -> None:
    async with running_stages(settings, [SamplerStage(FAST)], clock=ManualClock(NOW)) as runner:
        await evidence(runner)  # three spend and three revenue records: the sixth triggers the decision
        [decision] = await read_events(settings, DECISIONS, min_count=1, timeout=30)
    assert isinstance(decision, AllocationDecided)
    p = group_partition("acme", "g1")
    assert [(m.topic, m.partition, m.next_offset) for m in decision.evidence] == [
        ("revenue.v1", p, 3), ("spend.v1", p, 3)]
    assert decision.settings_digest == FAST.decision_digest() != SamplerSettings().decision_digest()


async def test_the_evidence_mark_never_moves_back_for_a_redelivered_record(db_pool: asyncpg.Pool[Any]) -> None:
    async with db_pool.acquire() as conn:
        for offset in (4, 9, 2):
            await store.touch_group(conn, "acme", "g1", "g1", "USD", NOW, store.Position("spend.v1", 5, offset))
        await store.touch_group(conn, "acme", "g1", "g1", "USD", NOW, store.Position("revenue.v1", 5, 0))
        row = await store.group_row(conn, "acme", "g1")
    assert row is not None and row.evidence == {"spend.v1:5": 10, "revenue.v1:5": 1}


async def test_paused_tenant_gets_a_logged_decision_and_no_requests(settings: Settings,
                                                                     db_pool: asyncpg.Pool[Any]) -> None:
    await pause(db_pool, "acme", None, actor="ops", reason="test")
    async with running_stages(settings, [SamplerStage(FAST)], clock=ManualClock(NOW)) as runner:
        await evidence(runner)
        decisions = await read_events(settings, DECISIONS, min_count=1, timeout=30)
        assert isinstance(decisions[0], AllocationDecided) and decisions[0].paused
        assert "paused" in decisions[0].reason
    assert await read_events(settings, BUDGET_REQUESTS, timeout=1) == []
    assert await db_pool.fetchval("SELECT paused FROM sampler_decisions") is True


async def test_redelivered_events_change_nothing(settings: Settings, db_pool: asyncpg.Pool[Any]) -> None:
    quiet = SamplerSettings(significant_events=1000, schedule_seconds=3600)
    async with running_stages(settings, [SamplerStage(quiet)], clock=ManualClock(NOW)) as runner:
        publisher = runner.resources.publisher
        for _ in range(2):
            await publisher.publish(spend("a"))
            await publisher.publish(revenue("a", 50_000, 1))
        await wait_until(lambda: db_pool.fetchval("SELECT count(*) = 2 FROM inbox WHERE consumer = 'sampler'"))
        # a later snapshot for the same day replaces, never adds
        await publisher.publish(spend("a", amount=7_000, n=1))
        await wait_until(lambda: db_pool.fetchval("SELECT spend_minor = 7000 FROM sampler_entity_days"
                                                  " WHERE entity_id = 'a' AND day = $1", DAY))
    row = await db_pool.fetchrow("SELECT * FROM sampler_entity_days WHERE entity_id = 'a' AND day = $1", DAY)
    assert row["revenue_minor"] == 50_000 and row["deals"] == 1
    assert await db_pool.fetchval("SELECT events_since_decision FROM sampler_groups") == 3


async def test_the_sampler_consumer_joins_with_the_shared_group_settings_and_the_range_assignor(
        settings: Settings) -> None:
    configured = settings.model_copy(update={"kafka_session_timeout_ms": 4_321, "kafka_heartbeat_interval_ms": 1_234})
    async with running_stages(configured, [SamplerStage(FAST)], clock=ManualClock(NOW)) as runner:
        [subscriber] = runner.resources.broker.subscribers
        consumer = subscriber.consumer
        assert consumer is not None
        topics = {topic_name(configured, REVENUE), topic_name(configured, SPEND)}
        await wait_until(lambda: {tp.topic for tp in consumer.assignment()} == topics, timeout=30)
        assert (consumer._session_timeout_ms, consumer._heartbeat_interval_ms) == (4_321, 1_234)
        assert consumer._partition_assignment_strategy == (RangePartitionAssignor,)
        # one member owns partition p of both co-partitioned topics
        by_topic: dict[str, set[int]] = {}
        for tp in consumer.assignment():
            by_topic.setdefault(tp.topic, set()).add(tp.partition)
        assert by_topic[topic_name(configured, REVENUE)] == by_topic[topic_name(configured, SPEND)]
