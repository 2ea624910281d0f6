"""Executor fixtures: settings without jitter, an executor against the Meta stand-in, requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import pytest

from schemas import BudgetChangeRequested, Money
from streams.core.clock import ManualClock
from streams.executor.executor import Executor
from streams.executor.settings import ExecutorSettings
from streams.integrations.meta import MetaClient
from tests.meta_standin import START, TENANT


def executor_settings(**overrides: Any) -> ExecutorSettings:
    return ExecutorSettings(jitter_min_seconds=0, jitter_max_seconds=0, **overrides)


@pytest.fixture
def live_executor(db_pool: asyncpg.Pool[Any], clock: ManualClock, meta_client: MetaClient) -> Executor:
    return Executor(db_pool, clock, executor_settings(), meta_client)


_seq = iter(range(1, 10**9))


def request(entity: str, budget: int, *, campaign: str = "c1", group: str | None = None,
            change_id: str | None = None, at: datetime | None = None, tenant: str = TENANT,
            currency: str = "USD", previous: int | None = None) -> BudgetChangeRequested:
    n = next(_seq)
    cid = change_id or f"chg-{n}"
    return BudgetChangeRequested(
        event_id=f"req-{cid}", tenant_id=tenant, occurred_at=at or START, change_id=cid,
        group_id=group or campaign, campaign_id=campaign, entity_id=entity,
        requested_budget=Money(amount_minor=budget, currency=currency), previous_budget_minor=previous,
    )
