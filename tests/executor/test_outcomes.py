"""Every request ends in exactly one recorded outcome, also when it is invalid or hits a bug."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiokafka import TopicPartition

from schemas import BudgetChangeRequested, BudgetChangeSettled
from schemas.money import MAX_BUDGET_MINOR, Money
from streams.core.clock import WallClock
from streams.executor.consumer import RequestConsumer
from streams.executor.executor import Executor
from streams.integrations.meta import ApplyResult, MetaClient
from streams.lab.sandbox.meta_state import MetaState
from tests.executor.conftest import executor_settings, request
from tests.executor.test_executor import posts
from tests.meta_standin import world


async def test_a_budget_above_the_ceiling_fails_naming_the_field_and_never_reaches_meta(
    db_pool: asyncpg.Pool[Any], live_executor: Executor, meta_state: MetaState,
) -> None:
    """The decoder dead-letters such a record from the wire (schemas.bounds); this is the executor's own
    guard for one built in-process without validation."""
    world(meta_state, {"as1": 10_000})
    outcome = await live_executor.execute(_over_the_ceiling(request("as1", 100)))
    assert outcome.outcome == "failed"
    assert outcome.error is not None and outcome.error.startswith("requested_budget.amount_minor:")
    assert str(MAX_BUDGET_MINOR) in outcome.error
    again = await live_executor.execute(_over_the_ceiling(request("as1", 100, change_id=outcome.change_id)))
    assert (again.event_id, again.outcome, again.error) == (outcome.event_id, outcome.outcome, outcome.error)
    assert posts(meta_state) == 0 and meta_state.budget_of("as1") == 10_000


def _over_the_ceiling(valid: BudgetChangeRequested) -> BudgetChangeRequested:
    return valid.model_copy(update={"requested_budget": Money.model_construct(amount_minor=10**30, currency="USD")})


class _BuggyMeta:
    """A gateway whose read hits a bug (not a Meta error): the request can never run."""

    async def get_daily_budget(self, entity_id: str) -> int | None:
        raise KeyError("daily_budget")

    async def apply_budget(self, entity_id: str, target_minor: int) -> ApplyResult:
        raise AssertionError("never reached")


async def test_a_request_that_keeps_hitting_a_bug_ends_failed_with_the_error_instead_of_silence(
    db_pool: asyncpg.Pool[Any], meta_client: MetaClient,
) -> None:
    published: list[BudgetChangeSettled] = []

    async def publish(event: BudgetChangeSettled) -> None:
        published.append(event)

    clock, settings = WallClock(), executor_settings()
    consumer = RequestConsumer(Executor(db_pool, clock, settings, _BuggyMeta(), publish), clock, settings)
    req = request("as1", 11_000)
    consumer.schedule(req, TopicPartition("budget.requests.v1", 0), 0)
    await consumer.scheduler.idle()
    assert [(e.change_id, e.outcome) for e in published] == [(req.change_id, "failed")]
    assert published[0].error is not None and "KeyError" in published[0].error
