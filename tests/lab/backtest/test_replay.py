"""Replaying a logged run with its own policy and seed reproduces every logged decision exactly."""

from __future__ import annotations

import pytest

from schemas.events import AllocationDecided
from streams.core.settings import Settings
from streams.lab.backtest.engine import replay_async
from streams.lab.backtest.kafka_source import read_range
from streams.lab.backtest.policies import policy_by_name
from streams.lab.backtest.records import TimeRange
from tests.helpers import raw_producer
from tests.lab.backtest.factories import T0, at, publish
from tests.lab.backtest.synthetic import synthetic_run

POLICIES = ["thompson", "bernoulli-ts"]


@pytest.mark.parametrize("policy", POLICIES)
async def test_replay_with_the_logged_policy_and_seed_reproduces_the_logged_decisions(
    settings: Settings, policy: str
) -> None:
    log = synthetic_run(11, policy=policy)
    async with raw_producer(settings) as producer:
        await publish(producer, settings, log)
    records = read_range(settings, TimeRange(T0, at(24 * 30)), buffer=4)
    result = await replay_async(records, [policy_by_name("logged"), policy_by_name(policy),
                                          policy_by_name(f"{policy}@12345")])
    logged = [e for e in log if isinstance(e, AllocationDecided)]
    assert [d.event for d in result.logged] == logged
    same, other = result.runs[1].decisions, result.runs[2].decisions
    expected = [(tuple(a.share for a in d.allocations), tuple(a.budget_minor for a in d.allocations)) for d in logged]
    assert [(d.choice.shares, d.choice.budgets) for d in same] == expected
    assert [(d.choice.shares, d.choice.budgets) for d in other] != expected  # the seed matters
    assert [(d.choice.shares, d.choice.budgets) for d in result.runs[0].decisions] == expected


async def test_replay_of_part_of_the_range_sees_only_its_decisions(settings: Settings) -> None:
    log = synthetic_run(11, policy="bernoulli-ts")
    async with raw_producer(settings) as producer:
        await publish(producer, settings, log)
    result = await replay_async(read_range(settings, TimeRange(at(30), at(60))), [policy_by_name("logged")])
    assert [d.event.occurred_at for d in result.logged] == [at(36), at(48)]
