"""The executor stage end to end: real broker, real database, the Meta stand-in over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas import BudgetChangeRequested, BudgetChangeReviewed, BudgetChangeSettled
from schemas.topics import BUDGET_OUTCOMES, BUDGET_REQUESTS, group_key
from streams.core.controls.automation import save_automation
from streams.core.naming import group_name, topic_name
from streams.core.partitions import group_partition
from streams.core.settings import Settings
from streams.core.stage import Resources, Stage
from streams.executor.app import GROUP, ExecutorStage
from streams.executor.executor import MetaGateway
from streams.executor.settings import ExecutorSettings
from streams.lab.sandbox.meta_state import MetaState, wall_clock
from tests.executor.conftest import executor_settings, request
from tests.executor.test_properties import assert_guardrails_held
from tests.helpers import raw_producer, read_events, read_records, running_stages, wait_until
from tests.meta_standin import TENANT, make_client, world


def live_stage(meta_url: str, state: MetaState, jitter: Callable[[BudgetChangeRequested], float] | None = None,
               settings: ExecutorSettings | None = None) -> Stage:
    state.clock = wall_clock

    def meta(res: Resources, _: ExecutorSettings) -> MetaGateway:
        return make_client(meta_url, state, res.clock)  # type: ignore[arg-type]

    return ExecutorStage(settings or executor_settings(commit_interval_seconds=0.05), meta=meta, jitter=jitter)


def partition_of(group: str) -> int:
    return group_partition(TENANT, group)


def same_partition_groups() -> tuple[str, str]:
    first = "slow"
    for i in range(1000):
        if partition_of(f"fast{i}") == partition_of(first):
            return first, f"fast{i}"
    raise AssertionError("no colliding key found")


async def committed(settings: Settings, partition: int) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers,
                                group_id=group_name(settings, GROUP), enable_auto_commit=False)
    await consumer.start()
    try:
        offset = await consumer.committed(TopicPartition(topic_name(settings, BUDGET_REQUESTS), partition))
        return int(offset) if offset is not None else None
    finally:
        await consumer.stop()


async def status(pool: asyncpg.Pool[Any], change_id: str) -> str | None:
    value = await pool.fetchval("SELECT status FROM ad_change_history WHERE change_id = $1", change_id)
    return str(value) if value is not None else None


async def test_requests_are_executed_and_outcomes_published(
    settings: Settings, db_pool: asyncpg.Pool[Any], meta_url: str, meta_state: MetaState
) -> None:
    world(meta_state, {"as1": 10_000, "as2": 20_000})
    requests = [request("as1", 11_000), request("as2", 21_000)]
    async with running_stages(settings, [live_stage(meta_url, meta_state)]) as runner:
        for req in requests:
            await runner.resources.publisher.publish(req)
        outcomes = await read_events(settings, BUDGET_OUTCOMES, min_count=2, timeout=20)
    assert sorted((o.change_id, o.outcome) for o in outcomes if isinstance(o, BudgetChangeSettled)) == \
        sorted((r.change_id, "completed") for r in requests)
    assert (meta_state.budget_of("as1"), meta_state.budget_of("as2")) == (11_000, 21_000)
    assert await committed(settings, partition_of("c1")) == 2


async def test_jitter_of_one_campaign_does_not_hold_up_another_in_the_same_partition(
    settings: Settings, db_pool: asyncpg.Pool[Any], meta_url: str, meta_state: MetaState
) -> None:
    slow, fast = same_partition_groups()
    world(meta_state, {"s1": 10_000}, campaign=slow)
    world(meta_state, {"f1": 10_000}, campaign=fast)
    waiting = request("s1", 11_000, campaign=slow)
    quick = request("f1", 11_000, campaign=fast)
    stage = live_stage(meta_url, meta_state, jitter=lambda r: 60.0 if r.campaign_id == slow else 0.0)
    async with running_stages(settings, [stage]) as runner:
        await runner.resources.publisher.publish(waiting)
        await runner.resources.publisher.publish(quick)
        await wait_until(lambda: _both_settled(db_pool, quick.change_id), timeout=20)
        assert await status(db_pool, quick.change_id) == "completed"
        assert await status(db_pool, waiting.change_id) is None
        await wait_until(lambda: _committed_is(settings, partition_of(slow), 0), timeout=5)
    assert meta_state.budget_of("f1") == 11_000 and meta_state.budget_of("s1") == 10_000


async def _committed_is(settings: Settings, partition: int, offset: int) -> bool:
    return await committed(settings, partition) == offset


async def test_newer_request_supersedes_an_older_one_still_waiting(
    settings: Settings, db_pool: asyncpg.Pool[Any], meta_url: str, meta_state: MetaState
) -> None:
    world(meta_state, {"as1": 10_000})
    older, newer = request("as1", 11_000), request("as1", 11_500)
    stage = live_stage(meta_url, meta_state, jitter=lambda r: 30.0 if r.change_id == older.change_id else 0.0)
    async with running_stages(settings, [stage]) as runner:
        await runner.resources.publisher.publish(older)
        await runner.resources.publisher.publish(newer)
        await wait_until(lambda: _both_settled(db_pool, older.change_id, newer.change_id), timeout=20)
    assert await status(db_pool, older.change_id) == "superseded"
    assert await status(db_pool, newer.change_id) == "completed"
    assert [c.new_budget_minor for c in meta_state.change_log] == [11_500]


async def _both_settled(pool: asyncpg.Pool[Any], *change_ids: str) -> bool:
    for change_id in change_ids:
        if await status(pool, change_id) in (None, "executing"):
            return False
    return True


async def test_intent_left_executing_is_reconciled_when_the_stage_starts(
    settings: Settings, db_pool: asyncpg.Pool[Any], meta_url: str, meta_state: MetaState
) -> None:
    world(meta_state, {"as1": 11_000})  # Meta applied it; the process died before recording that
    await db_pool.execute(
        "INSERT INTO ad_change_history (change_id, event_id, tenant_id, group_id, campaign_id, entity_id, "
        "entity_level, status, currency, requested_budget_minor, target_budget_minor, previous_budget_minor, "
        "counts_as_change, requested_at, decided_at, applied_at, sent_at) VALUES ('lost-1', 'req-lost-1', $1, 'c1', "
        "'c1', 'as1', 'adset', 'executing', 'USD', 11000, 11000, 10000, true, now(), now(), now(), now())", TENANT)
    async with running_stages(settings, [live_stage(meta_url, meta_state)]):
        pass
    assert await status(db_pool, "lost-1") == "completed"
    outcomes = await read_events(settings, BUDGET_OUTCOMES, min_count=1)
    assert [(o.change_id, o.outcome) for o in outcomes if isinstance(o, BudgetChangeSettled)] == \
        [("lost-1", "completed")]
    assert meta_state.change_log == []


async def test_undecodable_request_is_dead_lettered_and_the_next_one_executes(
    settings: Settings, db_pool: asyncpg.Pool[Any], meta_url: str, meta_state: MetaState
) -> None:
    world(meta_state, {"as1": 10_000})
    good = request("as1", 10_900)
    async with running_stages(settings, [live_stage(meta_url, meta_state)]) as runner:
        async with raw_producer(settings) as producer:
            await producer.send_and_wait(topic_name(settings, BUDGET_REQUESTS), b'{"event_type": "nope"}',
                                         key=group_key(TENANT, "c1"))
        await runner.resources.publisher.publish(good)
        await wait_until(lambda: _both_settled(db_pool, good.change_id), timeout=20)
        await wait_until(lambda: _committed_is(settings, partition_of("c1"), 2), timeout=5)
    dead = await read_records(settings, BUDGET_REQUESTS.dlq, min_count=1)
    assert dead[0].value == b'{"event_type": "nope"}'


async def test_a_burst_with_duplicates_through_kafka_keeps_every_limit_and_applies_each_change_once(
    settings: Settings, db_pool: asyncpg.Pool[Any], meta_url: str, meta_state: MetaState
) -> None:
    world(meta_state, {"as1": 10_000, "as2": 10_000})
    burst = [request(entity, budget) for budget in (10_600, 11_200, 9_400, 12_500, 8_000, 11_900)
             for entity in ("as1", "as2")]
    async with running_stages(settings, [live_stage(meta_url, meta_state)]) as runner:
        for req in burst:
            await runner.resources.publisher.publish(req)
            await runner.resources.publisher.publish(req.model_copy(update={"event_id": req.event_id + "-again"}))
        await wait_until(lambda: _both_settled(db_pool, *[r.change_id for r in burst]), timeout=30)
    assert meta_state.refused == []
    assert_guardrails_held(meta_state.change_log)
    rows = await db_pool.fetch("SELECT entity_id, applied_budget_minor FROM ad_change_history "
                               "WHERE counts_as_change AND status IN ('completed', 'clamped') ORDER BY applied_at")
    assert [(r["entity_id"], r["applied_budget_minor"]) for r in rows] == \
        [(c.entity_id, c.new_budget_minor) for c in meta_state.change_log]
    outcomes = await read_events(settings, BUDGET_OUTCOMES, min_count=len(burst))
    assert {o.change_id for o in outcomes if isinstance(o, BudgetChangeSettled)} == {r.change_id for r in burst}


async def test_a_second_instance_joining_takes_over_partitions_without_double_changes(
    settings: Settings, db_pool: asyncpg.Pool[Any], meta_url: str, meta_state: MetaState
) -> None:
    groups = [f"g{i}" for i in range(12)]
    for group in groups:
        world(meta_state, {f"{group}-as": 10_000}, campaign=group)
    burst = [request(f"{g}-as", 10_000 + 100 * k, campaign=g) for k in (1, 2) for g in groups]
    jitter: Callable[[BudgetChangeRequested], float] = lambda _r: 1.5  # noqa: E731 - in flight during the rebalance
    async with running_stages(settings, [live_stage(meta_url, meta_state, jitter=jitter)]) as first:
        for req in burst:
            await first.resources.publisher.publish(req)
        await wait_until(lambda: _any_settled(db_pool), timeout=20)
        async with running_stages(settings, [live_stage(meta_url, meta_state, jitter=jitter)]):
            await wait_until(lambda: _both_settled(db_pool, *[r.change_id for r in burst]), timeout=40)
    assert meta_state.refused == []
    per_entity: dict[str, list[int]] = {}
    for change in meta_state.change_log:
        per_entity.setdefault(change.entity_id, []).append(change.new_budget_minor)
    rows = await db_pool.fetch("SELECT entity_id, status FROM ad_change_history")
    assert len(rows) == len(burst)
    posts: dict[str, int] = {}
    for method, path, _ in meta_state.requests:
        if method == "POST":
            posts[path.rsplit("/", 1)[-1]] = posts.get(path.rsplit("/", 1)[-1], 0) + 1
    for group in groups:  # one Meta call per executed change, and the group's last request is what Meta has
        executed = sum(1 for r in rows if r["entity_id"] == f"{group}-as" and r["status"] == "completed")
        assert posts.get(f"{group}-as", 0) == executed == len(per_entity.get(f"{group}-as", []))
        assert meta_state.budget_of(f"{group}-as") == 10_200


async def _any_settled(pool: asyncpg.Pool[Any]) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM ad_change_history WHERE status <> 'executing'"))


async def test_without_meta_credentials_the_stage_runs_dry(
    settings: Settings, db_pool: asyncpg.Pool[Any], meta_state: MetaState
) -> None:
    assert settings.meta_dry_run
    req = request("as1", 12_500, previous=10_000)
    async with running_stages(settings, [ExecutorStage(executor_settings())]) as runner:
        await runner.resources.publisher.publish(req)
        outcomes = await read_events(settings, BUDGET_OUTCOMES, min_count=1, timeout=20)
    assert [(o.change_id, o.outcome, o.applied_budget_minor) for o in outcomes
            if isinstance(o, BudgetChangeSettled)] == [(req.change_id, "dry_run", 12_000)]
    assert meta_state.requests == []


async def test_the_request_trace_reaches_the_meta_call(
    settings: Settings, db_pool: asyncpg.Pool[Any], meta_url: str, meta_state: MetaState
) -> None:
    from schemas import encode
    from streams.core import tracing

    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    world(meta_state, {"as1": 10_000})
    req = request("as1", 11_000)
    async with running_stages(settings, [live_stage(meta_url, meta_state)]):
        async with raw_producer(settings) as producer:
            await producer.send_and_wait(topic_name(settings, BUDGET_REQUESTS), encode(req),
                                         key=group_key(TENANT, req.group_id),
                                         headers=[("traceparent", parent.encode())])
        await read_events(settings, BUDGET_OUTCOMES, min_count=1, timeout=20)
    traced = {tracing.trace_id(t) for t in meta_state.traceparents if t}
    assert traced == {tracing.trace_id(parent)}


async def test_a_change_waiting_for_approval_is_sent_once_a_person_approves_it_through_kafka(
    settings: Settings, db_pool: asyncpg.Pool[Any], meta_url: str, meta_state: MetaState
) -> None:
    world(meta_state, {"as1": 10_000, "as2": 10_000})
    async with db_pool.acquire() as conn:
        await save_automation(conn, TENANT, "c1", "approval", "admin", approval_threshold_pct=5)
    raise_, cut = request("as1", 12_000, change_id="raise"), request("as2", 8_000, change_id="cut")
    async with running_stages(settings, [live_stage(meta_url, meta_state)]) as runner:
        for req in (raise_, cut):
            await runner.resources.publisher.publish(req)
        await wait_until(lambda: _statuses_are(db_pool, {"raise": "awaiting_approval", "cut": "awaiting_approval"}),
                         timeout=20)
        assert meta_state.change_log == []
        for change_id, entity, verdict in (("raise", "as1", "approve"), ("cut", "as2", "reject")):
            await runner.resources.publisher.publish(BudgetChangeReviewed(
                event_id=f"review-{change_id}", tenant_id=TENANT, occurred_at=raise_.occurred_at,
                change_id=change_id, group_id="c1", campaign_id="c1", entity_id=entity, verdict=verdict,
                reviewed_by="alice"))
        outcomes = await read_events(settings, BUDGET_OUTCOMES, min_count=4, timeout=20)
    by_change = sorted((o.change_id, o.outcome) for o in outcomes if isinstance(o, BudgetChangeSettled))
    assert by_change == [("cut", "awaiting_approval"), ("cut", "rejected"),
                         ("raise", "awaiting_approval"), ("raise", "completed")]
    assert (meta_state.budget_of("as1"), meta_state.budget_of("as2")) == (12_000, 10_000)


async def _statuses_are(pool: asyncpg.Pool[Any], wanted: dict[str, str]) -> bool:
    return all([await status(pool, change_id) == s for change_id, s in wanted.items()])
