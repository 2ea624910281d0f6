"""What a person sees: a tenant's groups and a group's ad sets, their numbers equal to the database's."""

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
from tests.jwt_issuer import Issuer

TODAY = date(2026, 5, 10)
START_OF_WINDOW = datetime(2026, 5, 4, tzinfo=UTC)


@pytest.fixture
async def api(settings: Settings, jwks_url: str) -> AsyncIterator[Console]:
    async with console(settings, jwks_url, clock=ManualClock(datetime.combine(TODAY, time(18), tzinfo=UTC))) as con:
        yield con


def viewer(issuer: Issuer, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(role='VIEWER', sub='vera', **claims)}"}


async def test_the_overview_adds_up_every_group_as_the_database_does(
        api: Console, issuer: Issuer, db_pool: asyncpg.Pool[Any]) -> None:
    first = await seed_group(db_pool, group="c1", adsets=3, days=10)
    second = await seed_group(db_pool, group="c2", adsets=2, days=10)
    body = (await api.client.get("/v1/tenants/acme/overview?days=7", headers=viewer(issuer))).json()
    window = (date(2026, 5, 4), TODAY)
    spend = await db_pool.fetchval("SELECT sum(spend_minor) FROM spend_daily WHERE tenant_id = 'acme'"
                                   " AND day BETWEEN $1 AND $2", *window)
    revenue = await db_pool.fetchval("SELECT sum(amount_minor) FROM revenue_ledger WHERE tenant_id = 'acme'"
                                     " AND day BETWEEN $1 AND $2", *window)
    assert (body["totals"]["spend_minor"], body["totals"]["revenue_minor"]) == (spend, revenue)
    assert body["totals"]["roas"] == round(int(revenue) / int(spend), 4)
    assert [g["group_id"] for g in body["groups"]] == ["c1", "c2"]
    assert [g["adsets"] for g in body["groups"]] == [len(first.adsets), len(second.adsets)]
    assert len(body["daily"]) == 7 and sum(d["spend_minor"] for d in body["daily"]) == spend
    deals = await db_pool.fetchval("SELECT count(*) FROM deal_attributions WHERE conversion_at >= $1", START_OF_WINDOW)
    assert sum(body["attribution_mix"].values()) == deals > 0


async def test_a_group_page_shows_each_ad_sets_money_belief_and_budget(
        api: Console, issuer: Issuer, db_pool: asyncpg.Pool[Any]) -> None:
    seeded = await seed_group(db_pool, group="c1", adsets=3, days=10)
    body = (await api.client.get("/v1/tenants/acme/groups/c1?days=10", headers=viewer(issuer))).json()
    by_id = {a["entity_id"]: a for a in body["adsets"]}
    assert set(by_id) == set(seeded.adsets)
    for entity in seeded.adsets:
        assert by_id[entity]["spend_minor"] == seeded.spend[entity]
        assert by_id[entity]["revenue_minor"] == seeded.revenue[entity]
        assert sum(by_id[entity]["revenue_by_kind"].values()) == seeded.revenue[entity]
        assert sum(by_id[entity]["revenue_by_stage"].values()) == seeded.revenue[entity]
    first = by_id[seeded.adsets[0]]
    assert first["revenue_by_stage"]["lost"] < 0 and "won" in first["revenue_by_stage"]  # HubSpot ids, canonical
    assert first["posterior"] == {"median": 0.95, "p10": 0.7, "p90": 1.3, "mean": 1.0}  # the latest decision's
    assert abs(sum(a["p_best"] for a in body["adsets"]) - 1.0) < 1e-9
    assert body["series"]["days"][0] == "2026-05-01" and len(body["series"]["decisions"]) == 10
    point = body["series"]["decisions"][-1]
    assert abs(sum(point["budget_share"].values()) - 1.0) < 1e-3 and len(point["roas"][first["entity_id"]]) == 3
    assert body["latest_decision"]["decision_id"] == seeded.decisions[-1]


async def test_a_tenant_the_token_does_not_cover_and_an_unknown_group_are_refused(
        api: Console, issuer: Issuer, db_pool: asyncpg.Pool[Any]) -> None:
    await seed_group(db_pool, group="c1")
    other = await api.client.get("/v1/tenants/acme/groups/c1", headers=viewer(issuer, tenants=["globex"]))
    missing = await api.client.get("/v1/tenants/acme/groups/nope", headers=viewer(issuer))
    bad_days = await api.client.get("/v1/tenants/acme/groups/c1?days=abc", headers=viewer(issuer))
    bad_range = await api.client.get("/v1/tenants/acme/overview?from=2026-05-09&to=2026-05-01",
                                     headers=viewer(issuer))
    assert (other.status_code, missing.status_code, bad_days.status_code, bad_range.status_code) == (403, 404, 400, 400)
    assert bad_days.json()["field"] == "days" and bad_range.json()["field"] == "from"


async def test_a_decision_is_explained_with_its_changes_and_a_sentence(
        api: Console, issuer: Issuer, db_pool: asyncpg.Pool[Any]) -> None:
    seeded = await seed_group(db_pool, group="c1", adsets=3, days=2)
    decision_id = seeded.decisions[-1]
    await db_pool.execute(
        "INSERT INTO ad_change_history (change_id, event_id, tenant_id, group_id, campaign_id, entity_id, entity_level,"
        " decision_id, status, currency, requested_budget_minor, target_budget_minor, previous_budget_minor,"
        " applied_budget_minor, clamped, guardrails, requested_at, decided_at, settled_at) VALUES ($1, $1, 'acme',"
        " 'c1', 'c1', $2, 'adset', $3, 'clamped', 'USD', 15000, 12000, 10000, 12000, true, $4, now(), now(), now())",
        f"{decision_id}:{seeded.adsets[2]}", seeded.adsets[2], decision_id,
        [{"name": "cumulative_change", "passed": False, "detail": "0+5000 > 2000 of 10000: clamped to 12000",
          "limit": 2000, "observed": 5000}])
    body = (await api.client.get(f"/v1/tenants/acme/decisions/{decision_id}", headers=viewer(issuer))).json()
    assert body["sentence"].startswith("moved ")
    assert f"to {seeded.adsets[2]}" in body["sentence"] and "capped at ±20% in 6 h" in body["sentence"]
    clamped = next(a for a in body["adsets"] if a["entity_id"] == seeded.adsets[2])
    assert clamped["change"]["status"] == "clamped" and clamped["change"]["guardrails"][0]["limit"] == 2000
    assert (await api.client.get("/v1/tenants/acme/decisions/nope", headers=viewer(issuer))).status_code == 404


async def test_the_audit_trail_filters_by_outcome_and_pages_by_time(
        api: Console, issuer: Issuer, db_pool: asyncpg.Pool[Any]) -> None:
    for n in range(5):
        await db_pool.execute(
            "INSERT INTO ad_change_history (change_id, event_id, tenant_id, group_id, campaign_id, entity_id,"
            " entity_level, status, currency, requested_budget_minor, requested_at, decided_at, platform_response)"
            " VALUES ($1, $1, 'acme', 'c1', 'c1', $2, 'adset', $3, 'USD', 100, now(), $4, '{\"secret\": 1}')",
            f"ch{n}", f"as{n % 2}", "blocked" if n % 2 else "completed",
            datetime(2026, 5, 9, n, tzinfo=UTC))
    first = (await api.client.get("/v1/tenants/acme/changes?limit=2", headers=viewer(issuer))).json()
    assert [c["change_id"] for c in first["changes"]] == ["ch4", "ch3"] and first["next_before"]
    rest = (await api.client.get("/v1/tenants/acme/changes", params={"limit": 2, "before": first["next_before"]},
                                 headers=viewer(issuer))).json()
    assert [c["change_id"] for c in rest["changes"]] == ["ch2", "ch1"]
    blocked = (await api.client.get("/v1/tenants/acme/changes?outcome=blocked", headers=viewer(issuer))).json()
    assert {c["change_id"] for c in blocked["changes"]} == {"ch1", "ch3"}
    assert "platform_response" not in blocked["changes"][0]
    wrong = await api.client.get("/v1/tenants/acme/changes?outcome=teleported", headers=viewer(issuer))
    assert wrong.status_code == 400 and wrong.json()["field"] == "outcome"


async def test_health_shows_lag_dead_letters_and_changes_left_executing(
        api: Console, issuer: Issuer, db_pool: asyncpg.Pool[Any]) -> None:
    at = datetime(2026, 5, 10, 12, tzinfo=UTC)
    await db_pool.executemany("INSERT INTO alert_lag_samples (group_name, observed_at, lag) VALUES ($1, $2, $3)",
                              [("sampler", at, 5), ("sampler", at.replace(hour=13), 250), ("revenue", at, 0)])
    await db_pool.executemany(
        "INSERT INTO alert_dead_letters (dlq_topic, dlq_partition, dlq_offset, tenant_id, origin_topic, error_type,"
        " seen_at) VALUES ('spend.v1.dlq', 0, $1, $2, 'spend.v1', 'InvalidEvent', $3)",
        [(0, "acme", at), (1, None, at), (2, "globex", at)])
    await db_pool.execute(
        "INSERT INTO ad_change_history (change_id, event_id, tenant_id, group_id, campaign_id, entity_id, entity_level,"
        " status, currency, requested_budget_minor, requested_at, decided_at) VALUES ('x', 'x', 'acme', 'c1', 'c1',"
        " 'as1', 'adset', 'executing', 'USD', 100, $1, $1)", at)
    body = (await api.client.get("/v1/tenants/acme/health", headers=viewer(issuer))).json()
    assert {g["group_name"]: g["lag"] for g in body["consumer_lag"]} == {"sampler": 250, "revenue": 0}
    assert body["dead_letters"] == [{"origin_topic": "spend.v1", "dead_letters": 2, "last_at": at.isoformat()}]
    assert body["executing"] == {"changes": 1, "oldest": at.isoformat()}
