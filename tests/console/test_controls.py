"""What a person changes through the API: each rule's role, clear 4xx for bad input, 409 for a stale save."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from schemas import BudgetChangeReviewed, decode_as
from schemas.topics import BUDGET_REVIEWS
from streams.core.settings import Settings
from streams.lab.sandbox.console_history import seed_group
from tests.console.conftest import Console, console
from tests.helpers import read_records
from tests.jwt_issuer import Issuer


@pytest.fixture
async def api(settings: Settings, jwks_url: str) -> AsyncIterator[Console]:
    async with console(settings, jwks_url) as con:
        yield con


def as_(issuer: Issuer, role: str, sub: str = "op") -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(role=role, sub=sub)}"}


async def test_an_admin_sets_a_group_budget_and_a_second_stale_save_is_a_conflict(
        api: Console, issuer: Issuer, db_pool: asyncpg.Pool[Any]) -> None:
    await seed_group(db_pool, group="c1", adsets=3)
    url, admin = "/v1/tenants/acme/groups/c1/budget", as_(issuer, "ADMIN", "ada")
    first = await api.client.put(url, json={"total_daily_budget_minor": 45_000, "expected_version": 0}, headers=admin)
    assert first.status_code == 200 and first.json() == {"version": 1}
    stale = await api.client.put(url, json={"total_daily_budget_minor": 50_000, "expected_version": 0}, headers=admin)
    assert stale.status_code == 409 and stale.json()["field"] == "expected_version"
    assert await db_pool.fetchval("SELECT total_daily_budget_minor FROM group_budgets") == 45_000
    editor = await api.client.put(url, json={"total_daily_budget_minor": 1}, headers=as_(issuer, "EDITOR"))
    assert editor.status_code == 403
    assert await db_pool.fetchval("SELECT actor FROM operator_audit WHERE action = 'group_budget.set'") == "ada"


@pytest.mark.parametrize("body, field", [
    ({"total_daily_budget_minor": "abc"}, "total_daily_budget_minor"),
    ({"total_daily_budget_minor": -5}, "total_daily_budget_minor"),
    ({"total_daily_budget_minor": 10**30}, "total_daily_budget_minor"),
    ({"total_daily_budget_minor": 250}, "total_daily_budget_minor"),  # below three ad sets' platform minimums
    ({"total_daily_budget_minor": 30_000, "surprise": 1}, "surprise"),
])
async def test_a_bad_group_budget_is_refused_naming_the_field(
        api: Console, issuer: Issuer, db_pool: asyncpg.Pool[Any], body: dict[str, Any], field: str) -> None:
    await seed_group(db_pool, group="c1", adsets=3)
    response = await api.client.put("/v1/tenants/acme/groups/c1/budget", json=body, headers=as_(issuer, "ADMIN"))
    assert 400 <= response.status_code < 500 and response.json()["field"] == field
    assert await db_pool.fetchval("SELECT count(*) FROM group_budgets") == 0


async def test_a_floor_above_the_cap_and_a_bad_limit_are_refused(api: Console, issuer: Issuer) -> None:
    admin = as_(issuer, "ADMIN")
    bounds = await api.client.put("/v1/tenants/acme/entities/as1/bounds", json={"floor_minor": 900, "cap_minor": 500},
                                  headers=admin)
    assert bounds.status_code == 422 and bounds.json()["field"] == "floor_minor"
    window = await api.client.put("/v1/tenants/acme/campaigns/c1/limits", json={"change_window_hours": 0},
                                  headers=admin)
    assert window.status_code == 400 and window.json()["field"] == "change_window_hours"
    ok = await api.client.put("/v1/tenants/acme/campaigns/c1/limits", json={"change_window_hours": 24},
                              headers=admin)
    shown = (await api.client.get("/v1/tenants/acme/campaigns/c1/limits", headers=as_(issuer, "VIEWER"))).json()
    assert ok.status_code == 200 and shown["effective"]["change_window_hours"] == 24
    assert shown["sources"]["change_window_hours"] == "campaign" and shown["version"] == 1


async def test_an_editor_switches_a_campaign_to_approval_and_back_to_the_tenants_mode(
        api: Console, issuer: Issuer) -> None:
    editor = as_(issuer, "EDITOR")
    url = "/v1/tenants/acme/campaigns/c1/automation"
    put = await api.client.put(url, json={"mode": "approval", "approval_threshold_pct": 5}, headers=editor)
    assert put.status_code == 200
    shown = (await api.client.get(url, headers=as_(issuer, "VIEWER"))).json()
    assert (shown["mode"], shown["scope"], shown["approval_threshold_pct"]) == ("approval", "campaign", 5.0)
    bad = await api.client.put(url, json={"mode": "yolo"}, headers=editor)
    assert bad.status_code == 400 and bad.json()["field"] == "mode"
    assert (await api.client.delete(url, headers=editor)).json() == {"removed": True}
    assert (await api.client.get(url, headers=editor)).json()["mode"] == "autopilot"
    viewer = await api.client.put(url, json={"mode": "shadow"}, headers=as_(issuer, "VIEWER"))
    assert viewer.status_code == 403


async def test_stage_values_saved_by_two_people_from_the_same_page_conflict(api: Console, issuer: Issuer) -> None:
    editor = as_(issuer, "EDITOR")
    shown = (await api.client.get("/v1/tenants/acme/stage-values", headers=editor)).json()
    first = await api.client.put("/v1/tenants/acme/stage-values", headers=editor,
                                 json={"stage_values": {"lead": 700_00}, "expected_version": shown["version"]})
    second = await api.client.put("/v1/tenants/acme/stage-values", headers=editor,
                                  json={"stage_values": {"lead": 900_00}, "expected_version": shown["version"]})
    assert (first.status_code, second.status_code) == (200, 409)
    assert first.json()["stage_values"]["lead"] == 700_00
    unknown = await api.client.put("/v1/tenants/acme/stage-values", headers=editor,
                                   json={"stage_values": {"signed": 1}})
    assert unknown.status_code == 400 and unknown.json()["field"].startswith("stage_values")


async def test_a_verdict_on_a_waiting_change_is_published_for_the_executor_and_audited(
        api: Console, issuer: Issuer, settings: Settings, db_pool: asyncpg.Pool[Any]) -> None:
    await db_pool.execute(
        "INSERT INTO ad_change_history (change_id, event_id, tenant_id, group_id, campaign_id, entity_id, entity_level,"
        " status, currency, requested_budget_minor, target_budget_minor, previous_budget_minor, requested_at,"
        " decided_at, expires_at) VALUES ('chg-1', 'chg-1', 'acme', 'c1', 'c1', 'as1', 'adset', 'awaiting_approval',"
        " 'USD', 12000, 12000, 10000, now(), now(), now() + interval '1 day')")
    waiting = (await api.client.get("/v1/tenants/acme/approvals", headers=as_(issuer, "VIEWER"))).json()["waiting"]
    assert [w["change_id"] for w in waiting] == ["chg-1"]
    viewer = await api.client.post("/v1/tenants/acme/approvals/chg-1", json={"verdict": "approve"},
                                   headers=as_(issuer, "VIEWER"))
    approved = await api.client.post("/v1/tenants/acme/approvals/chg-1", json={"verdict": "approve", "reason": "ok"},
                                     headers=as_(issuer, "EDITOR", "eve"))
    unknown = await api.client.post("/v1/tenants/acme/approvals/chg-2", json={"verdict": "approve"},
                                    headers=as_(issuer, "EDITOR"))
    assert (viewer.status_code, approved.status_code, unknown.status_code) == (403, 202, 404)
    [record] = await read_records(settings, BUDGET_REVIEWS, min_count=1)
    verdict = decode_as(record.value, BudgetChangeReviewed)
    assert (verdict.change_id, verdict.verdict, verdict.reviewed_by, record.key) == ("chg-1", "approve", "eve",
                                                                                      b"acme:c1")
    assert await db_pool.fetchval("SELECT actor FROM operator_audit WHERE action = 'change.approve'") == "eve"


async def test_a_verdict_on_a_change_a_newer_decision_superseded_is_a_conflict_that_says_so(
        api: Console, issuer: Issuer, db_pool: asyncpg.Pool[Any]) -> None:
    await db_pool.execute(
        "INSERT INTO ad_change_history (change_id, event_id, tenant_id, group_id, campaign_id, entity_id, entity_level,"
        " status, superseded_by, currency, requested_budget_minor, target_budget_minor, previous_budget_minor,"
        " requested_at, decided_at) VALUES ('chg-old', 'chg-old', 'acme', 'c1', 'c1', 'as1', 'adset', 'superseded',"
        " 'chg-new', 'USD', 12000, 12000, 10000, now(), now())")
    late = await api.client.post("/v1/tenants/acme/approvals/chg-old", json={"verdict": "approve"},
                                 headers=as_(issuer, "EDITOR"))
    assert late.status_code == 409 and late.json()["field"] == "change_id"
    assert "superseded by chg-new" in late.json()["error"]


async def test_an_operator_budget_change_above_the_ceiling_or_not_an_integer_is_refused(
        api: Console, issuer: Issuer) -> None:
    editor = as_(issuer, "EDITOR")
    change = {"campaign_id": "c1", "entity_id": "as1"}
    for budget in (10**30, False, "100", 12.5):
        response = await api.client.post("/v1/tenants/acme/budget-changes", headers=editor,
                                         json=change | {"daily_budget_minor": budget})
        assert response.status_code == 400 and response.json()["field"] == "daily_budget_minor", budget
