"""The operator API with Firebase tokens from a local JWKS: roles, audit, kill switch, budget requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from schemas import BudgetChangeRequested, decode_as
from schemas.topics import BUDGET_REQUESTS
from streams.console.settings import ConsoleSettings
from streams.core.controls import killswitch
from streams.core.settings import Settings
from tests.console.conftest import Console, console
from tests.helpers import read_records
from tests.ingest.conftest import stop_producer
from tests.jwt_issuer import Issuer


@pytest.fixture
async def api(settings: Settings, jwks_url: str) -> AsyncIterator[Console]:
    async with console(settings, jwks_url, ConsoleSettings(publish_timeout_seconds=2)) as con:
        yield con


def auth(issuer: Issuer, role: str | None, sub: str = "op-1", **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(role=role, sub=sub, **claims)}"}


CHANGE = {"campaign_id": "c1", "entity_id": "as1", "daily_budget_minor": 12_500, "reason": "launch push"}


async def test_every_operator_route_refuses_missing_and_bad_tokens_with_401(api: Console, issuer: Issuer) -> None:
    routes = [("GET", "/v1/tenants/acme/campaigns/c1/history"), ("POST", "/v1/tenants/acme/budget-changes"),
              ("GET", "/v1/tenants/acme/stage-values"), ("PUT", "/v1/tenants/acme/stage-values"),
              ("POST", "/v1/tenants/acme/pause"), ("POST", "/v1/tenants/acme/campaigns/c1/resume")]
    for method, path in routes:
        assert (await api.client.request(method, path)).status_code == 401
        response = await api.client.request(method, path, headers={"Authorization": f"Bearer {issuer.alg_none()}"})
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_an_editor_request_is_published_for_the_executor_and_audited(
        api: Console, issuer: Issuer, settings: Settings, db_pool: asyncpg.Pool[Any]) -> None:
    await db_pool.execute("INSERT INTO tenants (tenant_id, currency) VALUES ('acme', 'EUR')")
    response = await api.client.post("/v1/tenants/acme/budget-changes", json=CHANGE,
                                     headers=auth(issuer, "EDITOR", sub="alice"))
    assert response.status_code == 202
    [record] = await read_records(settings, BUDGET_REQUESTS, min_count=1)
    event = decode_as(record.value, BudgetChangeRequested)
    assert (event.source, event.requested_by, event.change_id) == ("operator", "alice", response.json()["change_id"])
    assert (event.group_id, event.entity_id, event.requested_budget.amount_minor, event.requested_budget.currency) == (
        "c1", "as1", 12_500, "EUR")
    row = await db_pool.fetchrow("SELECT actor, action, target FROM operator_audit")
    assert row is not None and dict(row) == {"actor": "alice", "action": "budget_change_requested", "target": "as1"}


async def test_a_viewer_may_not_request_changes_and_an_editor_may_not_pause(api: Console, issuer: Issuer,
                                                                            db_pool: asyncpg.Pool[Any]) -> None:
    viewer = await api.client.post("/v1/tenants/acme/budget-changes", json=CHANGE, headers=auth(issuer, "VIEWER"))
    editor = await api.client.post("/v1/tenants/acme/pause", headers=auth(issuer, "EDITOR"))
    no_role = await api.client.get("/v1/tenants/acme/campaigns/c1/history", headers=auth(issuer, None))
    other_tenant = await api.client.post("/v1/tenants/globex/pause", headers=auth(issuer, "ADMIN", tenants=["acme"]))
    assert [r.status_code for r in (viewer, editor, no_role, other_tenant)] == [403, 403, 403, 403]
    assert await db_pool.fetchval("SELECT count(*) FROM operator_audit") == 0


async def test_invalid_budget_change_gets_400(api: Console, issuer: Issuer) -> None:
    bad = await api.client.post("/v1/tenants/acme/budget-changes", json=CHANGE | {"daily_budget_minor": -1},
                                headers=auth(issuer, "EDITOR"))
    assert bad.status_code == 400 and "daily_budget_minor" in bad.json()["error"]


async def test_a_budget_change_during_a_broker_outage_is_503_and_not_audited(
        api: Console, issuer: Issuer, db_pool: asyncpg.Pool[Any]) -> None:
    await stop_producer(api.runner)
    response = await api.client.post("/v1/tenants/acme/budget-changes", json=CHANGE, headers=auth(issuer, "EDITOR"))
    assert response.status_code == 503
    assert await db_pool.fetchval("SELECT count(*) FROM operator_audit") == 0


async def test_an_admin_pauses_and_resumes_a_campaign_and_the_tenant(api: Console, issuer: Issuer,
                                                                     db_pool: asyncpg.Pool[Any]) -> None:
    admin = auth(issuer, "ADMIN", sub="root")
    paused = await api.client.post("/v1/tenants/acme/campaigns/c1/pause", json={"reason": "anomaly"}, headers=admin)
    assert paused.status_code == 200
    assert await killswitch.is_paused(db_pool, "acme", "c1") and not await killswitch.is_paused(db_pool, "acme", "c2")
    await api.client.post("/v1/tenants/acme/pause", headers=admin)
    assert await killswitch.is_paused(db_pool, "acme", "c2")
    await api.client.post("/v1/tenants/acme/resume", headers=admin)
    resumed = await api.client.post("/v1/tenants/acme/campaigns/c1/resume", headers=admin)
    assert resumed.json()["changed"] is True
    assert not await killswitch.is_paused(db_pool, "acme", "c1")
    actions = [tuple(r) for r in await db_pool.fetch("SELECT actor, action, target FROM operator_audit ORDER BY id")]
    assert actions == [("root", "pause", "c1"), ("root", "pause", ""), ("root", "resume", ""), ("root", "resume", "c1")]


async def test_a_viewer_reads_recent_budget_changes_of_a_campaign(api: Console, issuer: Issuer,
                                                                  db_pool: asyncpg.Pool[Any]) -> None:
    at = datetime(2026, 5, 1, tzinfo=UTC)
    for n in range(3):
        await db_pool.execute(
            "INSERT INTO ad_change_history (change_id, event_id, tenant_id, group_id, campaign_id, entity_id, "
            "entity_level, status, currency, requested_budget_minor, requested_at, decided_at, settled_at) "
            "VALUES ($1, $1, 'acme', 'c1', $2, 'as1', 'adset', 'completed', 'USD', $3, $4, $4, $4)",
            f"ch{n}", "c1" if n < 2 else "c9", 1000 * (n + 1), at.replace(hour=n),
        )
    response = await api.client.get("/v1/tenants/acme/campaigns/c1/history?limit=10", headers=auth(issuer, "VIEWER"))
    assert response.status_code == 200
    body = response.json()
    assert [c["change_id"] for c in body["budget_changes"]] == ["ch1", "ch0"]  # newest first, c1 only
    assert body["decisions"] == []
    assert "platform_response" not in body["budget_changes"][0]  # the executor's raw reply stays in its table
    await db_pool.execute("INSERT INTO sampler_decisions (decision_id, tenant_id, group_id, decided_at, paused, "
                          "requests, payload) VALUES ('d1', 'acme', 'c1', $1, false, 2, '{\"policy\": \"ts\"}')", at)
    again = await api.client.get("/v1/tenants/acme/campaigns/c1/history", headers=auth(issuer, "VIEWER"))
    assert [(d["decision_id"], d["payload"]["policy"]) for d in again.json()["decisions"]] == [("d1", "ts")]


async def test_an_editor_reads_and_edits_stage_values_and_the_edit_is_audited(
        api: Console, issuer: Issuer, db_pool: asyncpg.Pool[Any]) -> None:
    editor = auth(issuer, "EDITOR", sub="bob")
    before = (await api.client.get("/v1/tenants/acme/stage-values", headers=editor)).json()
    assert before["currency"] == "USD" and before["stage_values"]["lead"] == 50_000  # 500 USD default
    put = await api.client.put("/v1/tenants/acme/stage-values", json={"stage_values": {"lead": 70_000}},
                               headers=editor)
    assert put.status_code == 200 and put.json()["stage_values"]["lead"] == 70_000
    after = (await api.client.get("/v1/tenants/acme/stage-values", headers=editor)).json()
    assert after["stage_values"] == put.json()["stage_values"]
    bad_bodies: list[Any] = [{"stage_values": {"lead": -1}}, {"stage_values": {"nope": 1}}, {"stage_values": {}}, [1]]
    for bad in bad_bodies:
        assert (await api.client.put("/v1/tenants/acme/stage-values", json=bad, headers=editor)).status_code == 400
    viewer = await api.client.put("/v1/tenants/acme/stage-values", json={"stage_values": {"lead": 1}},
                                  headers=auth(issuer, "VIEWER"))
    assert viewer.status_code == 403
    assert [r["actor"] for r in await db_pool.fetch("SELECT actor FROM operator_audit")] == ["bob"]


async def test_openapi_describes_every_route(api: Console) -> None:
    schema = (await api.client.get("/openapi.json")).json()
    assert schema["openapi"].startswith("3.")
    assert {"/v1/tenants/{tenant_id}/budget-changes", "/v1/tenants/{tenant_id}/stage-values",
            "/v1/tenants/{tenant_id}/campaigns/{campaign_id}/pause"} <= set(schema["paths"])
