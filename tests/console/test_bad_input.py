"""What the fuzzer found in the operator API answered 500; each now gets a 400 naming the field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from streams.console.settings import ConsoleSettings
from streams.core.settings import Settings
from tests.console.conftest import Console, console
from tests.jwt_issuer import Issuer


@pytest.fixture
async def api(settings: Settings, jwks_url: str) -> AsyncIterator[Console]:
    async with console(settings, jwks_url, ConsoleSettings(publish_timeout_seconds=2)) as con:
        yield con


def editor(issuer: Issuer) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(role='ADMIN', sub='fuzz')}"}


CHANGE = {"campaign_id": "c1", "entity_id": "as1", "daily_budget_minor": 100}


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("PUT", "/v1/tenants/acme/stage-values", {"stage_values": {"lead": 2**63}}, "stage_values.lead"),
    ("POST", "/v1/tenants/acme/budget-changes", CHANGE | {"daily_budget_minor": 10**20}, "daily_budget_minor"),
    ("POST", "/v1/tenants/f%23/budget-changes", CHANGE, "tenant_id"),
    ("GET", "/v1/tenants/acme/campaigns/c%001/history", None, "campaign_id"),
    ("POST", "/v1/tenants/acme/budget-changes", CHANGE | {"reason": "stop\x00"}, "reason"),
    ("POST", "/v1/tenants/acme/pause", {"reason": "a\x00b"}, "reason"),
])
async def test_values_postgresql_or_the_event_schema_would_refuse_are_400_naming_the_field(
        api: Console, issuer: Issuer, db_pool: asyncpg.Pool[Any], method: str, path: str, body: Any,
        field: str) -> None:
    answer = await api.client.request(method, path, json=body, headers=editor(issuer))
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == field and field.split(".")[0] in answer.json()["error"]
    assert await db_pool.fetchval("SELECT count(*) FROM operator_audit") == 0
