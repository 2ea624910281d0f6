"""Random request sequences never break a guardrail or apply a change twice - judged by Meta's own log.

Hypothesis drives the executor core directly (no Kafka, for speed) against the real database and
the Meta stand-in over HTTP: new requests, duplicates from the producer (same change_id, new
event_id), redeliveries, crashes mid-change, Meta faults (timeouts that still apply, 5xx,
throttling) and forward clock jumps. The stand-in's ``change_log`` is then checked against every
limit in Meta's time, and against the audit trail entity by entity.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from schemas import BudgetChangeRequested
from streams.core.clock import ManualClock
from streams.executor.executor import Executor
from streams.integrations.meta import ApplyResult, MetaClient
from streams.lab.sandbox.meta_state import BudgetChange, MetaState
from streams.lab.sandbox.serve import BackgroundServer
from tests.executor.conftest import executor_settings, request
from tests.meta_standin import START, TENANT, make_client, world

ENTITIES = ("as0", "as1", "as2")
CAMPAIGN_LIMIT = 5

steps = st.lists(
    st.one_of(
        st.tuples(st.just("request"), st.sampled_from(ENTITIES), st.integers(5_000, 16_000)),
        st.tuples(st.just("redeliver"), st.integers(0, 50), st.just(0)),
        st.tuples(st.just("duplicate"), st.integers(0, 50), st.just(0)),
        st.tuples(st.just("jump"), st.sampled_from([30, 600, 1800, 3599, 3600, 3 * 3600, 6 * 3600]), st.just(0)),
        st.tuples(st.just("fault"), st.sampled_from(["timeout", "http_500", "throttle_17"]), st.just(0)),
        st.tuples(st.just("crash"), st.sampled_from(ENTITIES), st.integers(5_000, 16_000)),
    ),
    min_size=5,
    max_size=22,
)


class _Crash:
    def __init__(self, real: MetaClient) -> None:
        self.real = real

    async def get_daily_budget(self, entity_id: str) -> int | None:
        return await self.real.get_daily_budget(entity_id)

    async def apply_budget(self, entity_id: str, target_minor: int) -> ApplyResult:
        with contextlib.suppress(Exception):  # a queued fault may refuse it: a crash either way
            await self.real.set_daily_budget(entity_id, target_minor)
        raise asyncio.CancelledError("killed around the Graph API call")


def _in(changes: list[BudgetChange], end: Any, span: timedelta) -> list[BudgetChange]:
    return [c for c in changes if end - span < c.at <= end]


def assert_guardrails_held(log: list[BudgetChange]) -> None:
    by_entity: dict[str, list[BudgetChange]] = defaultdict(list)
    for change in log:
        by_entity[change.entity_id].append(change)
    for change in log:
        assert len(_in(log, change.at, timedelta(hours=1))) <= CAMPAIGN_LIMIT, "campaign hourly actions"
        mine = by_entity[change.entity_id]
        assert len(_in(mine, change.at, timedelta(hours=1))) <= 4, "ad set hourly changes"
        window = sorted(_in(mine, change.at, timedelta(hours=6)), key=lambda c: c.seq)
        base = window[0].old_budget_minor
        assert base is not None
        moved = sum(abs(c.new_budget_minor - (c.old_budget_minor or 0)) for c in window)
        assert moved * 5 <= base, f"cumulative change {moved} over 20% of {base}"


@pytest.mark.slow
@settings(max_examples=30, deadline=None, derandomize=True, phases=[Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(script=steps, block=st.booleans(), dithered=st.booleans())
async def test_no_guardrail_is_ever_exceeded_and_no_change_applied_twice(
    script: list[tuple[str, Any, int]], block: bool, dithered: bool,
    db_pool: asyncpg.Pool[Any], _meta_server: tuple[BackgroundServer, dict[str, MetaState]],
) -> None:
    await db_pool.execute("TRUNCATE ad_change_history, entity_budgets, guardrail_overrides")
    await db_pool.execute(
        "INSERT INTO guardrail_overrides (tenant_id, max_actions_per_campaign_hour, policy) VALUES ($1, $2, $3)",
        TENANT, CAMPAIGN_LIMIT, "block" if block else "clamp",
    )
    server, holder = _meta_server
    assert server.base_url is not None
    clock = ManualClock(START)
    state = MetaState(clock=clock.now)
    state.faults.timeout_seconds = 0.25
    world(state, dict.fromkeys(ENTITIES, 10_000))
    holder["state"] = state
    client = make_client(server.base_url, state, clock, timeout=0.1, max_attempts=3)
    executor = Executor(db_pool, clock, executor_settings(dither=dithered), client)
    sent: list[BudgetChangeRequested] = []
    try:
        for kind, arg, budget in script:
            if kind == "request":
                sent.append(request(arg, budget, at=clock.now()))
                await executor.execute(sent[-1])
            elif kind in ("redeliver", "duplicate") and sent:
                original = sent[arg % len(sent)]
                again = original if kind == "redeliver" else original.model_copy(
                    update={"event_id": original.event_id + "-dup"})
                await executor.execute(again)
            elif kind == "jump":
                clock.advance(arg)
            elif kind == "fault":
                state.faults.fail_next(arg, method="POST", apply_effect=arg == "timeout",
                                       retry_after_seconds=0 if arg == "http_500" else 30)
            elif kind == "crash":
                sent.append(request(arg, budget, at=clock.now()))
                crashing = Executor(db_pool, clock, executor_settings(dither=dithered), _Crash(client))
                with contextlib.suppress(asyncio.CancelledError):  # blocked / no-op changes never reach Meta
                    await crashing.execute(sent[-1])
                await executor.reconcile()  # the restarted process
            clock.advance(1)
        clock.advance(executor_settings().reconcile_grace_seconds)  # a crashed sender never settles its intent
        await executor.reconcile()
    finally:
        await client.aclose()

    assert state.refused == [], "Meta refused a change: our limits let one through that Meta's would not"
    assert_guardrails_held(state.change_log)
    rows = await db_pool.fetch(
        "SELECT entity_id, applied_budget_minor FROM ad_change_history WHERE counts_as_change "
        "AND status IN ('completed', 'clamped') ORDER BY applied_at, settled_at")
    audited: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        audited[row["entity_id"]].append(row["applied_budget_minor"])
    applied: dict[str, list[int]] = defaultdict(list)
    for change in state.change_log:
        applied[change.entity_id].append(change.new_budget_minor)
    assert applied == audited, "Meta's log and the audit trail disagree: a change applied twice or lost"
    assert await db_pool.fetchval("SELECT count(*) FROM ad_change_history WHERE status = 'executing'") == 0
