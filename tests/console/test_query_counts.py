"""The console stays fast at real sizes: a page costs the same number of queries for 3 ad sets or 1,000."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time
from typing import Any

import asyncpg
import pytest

from streams.core.clock import ManualClock
from streams.core.settings import Settings
from streams.lab.sandbox.console_history import seed_group
from tests.console.conftest import Console, console
from tests.console.counting import CountingPool
from tests.jwt_issuer import Issuer

TODAY = date(2026, 5, 10)


@pytest.fixture
async def api(settings: Settings, jwks_url: str) -> AsyncIterator[Console]:
    async with console(settings, jwks_url, clock=ManualClock(datetime.combine(TODAY, time(18), tzinfo=UTC))) as con:
        yield con


async def statements(api: Console, issuer: Issuer, path: str) -> int:
    counting = CountingPool(api.runner.resources.pool)
    api.runner.resources._pool = counting  # type: ignore[assignment]
    try:
        response = await api.client.get(path, headers={"Authorization": f"Bearer {issuer.token(role='VIEWER')}"})
    finally:
        api.runner.resources._pool = counting.pool
    assert response.status_code == 200, response.text
    return len(counting.statements)


@pytest.mark.slow
async def test_a_campaign_page_of_50_ad_sets_and_90_days_runs_as_many_queries_as_one_of_3(
        api: Console, issuer: Issuer, db_pool: asyncpg.Pool[Any]) -> None:
    await seed_group(db_pool, tenant="small", group="g", adsets=3, days=5, last_day=TODAY)
    await seed_group(db_pool, tenant="large", group="g", adsets=50, days=90, last_day=TODAY, decisions_per_day=4)
    small = await statements(api, issuer, "/v1/tenants/small/groups/g?days=90")
    large = await statements(api, issuer, "/v1/tenants/large/groups/g?days=90")
    assert 5 <= small == large <= 15


@pytest.mark.slow
async def test_a_tenant_page_of_1000_ad_sets_runs_as_many_queries_as_one_of_3(
        api: Console, issuer: Issuer, db_pool: asyncpg.Pool[Any]) -> None:
    await seed_group(db_pool, tenant="small", group="g", adsets=3, days=3, last_day=TODAY)
    for n in range(20):
        await seed_group(db_pool, tenant="large", group=f"g{n:02d}", adsets=50, days=3, last_day=TODAY)
    small = await statements(api, issuer, "/v1/tenants/small/overview?days=30")
    large = await statements(api, issuer, "/v1/tenants/large/overview?days=30")
    assert 5 <= small == large <= 15
