"""Alerts in the operator API: list, acknowledge, thresholds and channels (refused with a clear 4xx
when malformed, never answered with a secret), and the daily report page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from streams.console.settings import ConsoleSettings
from streams.core.settings import Settings
from tests.console.conftest import Console, console
from tests.console.test_api import auth
from tests.jwt_issuer import Issuer

AT = datetime(2026, 5, 1, 12, tzinfo=UTC)
HOOK = "https://hooks.slack.com/services/T000/B000/very-secret-token"


@pytest.fixture
async def api(settings: Settings, jwks_url: str) -> AsyncIterator[Console]:
    async with console(settings, jwks_url, ConsoleSettings(publish_timeout_seconds=2)) as con:
        yield con


async def firing(db_pool: asyncpg.Pool[Any], alert_id: str = "kill_switch-1", tenant: str = "acme") -> None:
    await db_pool.execute(
        "INSERT INTO alerts (alert_id, tenant_id, rule, subject, severity, status, title, raised_at, last_seen_at,"
        " last_notified_at, notices) VALUES ($1, $2, 'kill_switch', 'c1', 'info', 'firing', 'Automation paused',"
        " $3, $3, $3, 1)", alert_id, tenant, AT)


async def test_a_viewer_lists_alerts_and_an_editor_acknowledges_one(api: Console, issuer: Issuer,
                                                                   db_pool: asyncpg.Pool[Any]) -> None:
    await firing(db_pool)
    await firing(db_pool, "kill_switch-2", tenant="globex")
    listed = await api.client.get("/v1/tenants/acme/alerts", headers=auth(issuer, "VIEWER"))
    assert listed.status_code == 200
    body = listed.json()
    assert [a["alert_id"] for a in body["alerts"]] == ["kill_switch-1"]  # the tenant's own only
    assert {c["kind"]: c["source"] for c in body["channels"]} == {"webhook": None, "email": None}
    path = "/v1/tenants/acme/alerts/kill_switch-1/acknowledge"
    assert (await api.client.post(path, headers=auth(issuer, "VIEWER"))).status_code == 403
    acked = await api.client.post(path, headers=auth(issuer, "EDITOR", sub="carol"))
    assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "carol"
    assert (await api.client.post("/v1/tenants/acme/alerts/kill_switch-2/acknowledge",
                                  headers=auth(issuer, "EDITOR"))).status_code == 404  # globex's
    await db_pool.execute("UPDATE alerts SET status = 'resolved'")
    assert (await api.client.post(path, headers=auth(issuer, "EDITOR"))).status_code == 409
    assert (await api.client.get("/v1/tenants/acme/alerts?status=nope", headers=auth(issuer, "VIEWER"))
            ).status_code == 400
    assert [r["action"] for r in await db_pool.fetch("SELECT action FROM operator_audit")] == ["alert.acknowledge"]


async def test_threshold_overrides_are_validated_versioned_and_shown_with_their_layer(
        api: Console, issuer: Issuer) -> None:
    editor = auth(issuer, "EDITOR")
    url = "/v1/tenants/acme/alert-thresholds"
    before = (await api.client.get(url, headers=auth(issuer, "VIEWER"))).json()
    assert before["thresholds"]["roas_threshold"] == 1.0 and before["sources"]["roas_threshold"] == "settings"
    put = await api.client.put(url, json={"thresholds": {"roas_threshold": 0.8, "change_failures_count": 5},
                                          "expected_version": 0}, headers=editor)
    assert put.status_code == 200
    assert put.json()["thresholds"]["change_failures_count"] == 5
    assert put.json()["sources"]["roas_threshold"] == "tenant"
    stale = await api.client.put(url, json={"thresholds": {"roas_threshold": 0.5}, "expected_version": 0},
                                 headers=editor)
    assert stale.status_code == 409
    bad: list[tuple[Any, str]] = [
        ({"thresholds": {"roas_threshold": -1}}, "thresholds.roas_threshold"),
        ({"thresholds": {"change_failures_count": 2.5}}, "thresholds.change_failures_count"),
        ({"thresholds": {"unspent_fraction": 3}}, "thresholds.unspent_fraction"),
        ({"thresholds": {"nope": 1}}, "thresholds"),
        ({"thresholds": {"roas_threshold": "high"}}, "thresholds.roas_threshold"),
        ({"thresholds": {}}, "thresholds"),
    ]
    for payload, field in bad:
        response = await api.client.put(url, json=payload, headers=editor)
        assert response.status_code == 400, payload
        assert response.json()["field"].startswith(field), (payload, response.json())
    cleared = await api.client.put(url, json={"thresholds": {"roas_threshold": None}}, headers=editor)
    assert cleared.json()["sources"]["roas_threshold"] == "settings"
    assert (await api.client.put(url, json={"thresholds": {"roas_threshold": 2}},
                                 headers=auth(issuer, "VIEWER"))).status_code == 403


async def test_channels_are_checked_sealed_and_never_answered_in_clear(
        api: Console, issuer: Issuer, db_pool: asyncpg.Pool[Any]) -> None:
    admin = auth(issuer, "ADMIN")
    for url in ("http://hooks.slack.com/x", "https://10.0.0.5/hook", "https://user:pw@hooks.slack.com/x",
                "https://127.0.0.1/hook", "ftp://x", "not a url", ""):
        response = await api.client.put("/v1/tenants/acme/alert-channels/webhook", json={"webhook_url": url},
                                        headers=admin)
        assert response.status_code == 400 and response.json()["field"] == "webhook_url", (url, response.json())
    editor = await api.client.put("/v1/tenants/acme/alert-channels/webhook", json={"webhook_url": HOOK},
                                  headers=auth(issuer, "EDITOR"))
    assert editor.status_code == 403
    saved = await api.client.put("/v1/tenants/acme/alert-channels/webhook", json={"webhook_url": HOOK}, headers=admin)
    assert saved.status_code == 200
    email = await api.client.put("/v1/tenants/acme/alert-channels/email",
                                 json={"recipients": ["ops@example.com", "cfo@example.com"]}, headers=admin)
    views = {c["kind"]: c for c in email.json()["channels"]}
    assert views["webhook"]["hint"] == "https://hooks.slack.com/..." and views["webhook"]["source"] == "tenant"
    assert views["email"]["hint"] == "o…@example.com, +1"
    bad_email = await api.client.put("/v1/tenants/acme/alert-channels/email", json={"recipients": ["nobody"]},
                                     headers=admin)
    assert bad_email.status_code == 400 and bad_email.json()["field"] == "recipients.0"
    everything = str([dict(r) for r in await db_pool.fetch("SELECT * FROM alert_channels")])
    everything += str([dict(r) for r in await db_pool.fetch("SELECT * FROM operator_audit")])
    everything += email.text + (await api.client.get("/v1/tenants/acme/alerts", headers=admin)).text
    for secret in ("very-secret-token", "ops@example.com", "cfo@example.com"):
        assert secret not in everything
    removed = await api.client.delete("/v1/tenants/acme/alert-channels/webhook", headers=admin)
    assert {c["kind"]: c["source"] for c in removed.json()["channels"]} == {"webhook": None, "email": "tenant"}
    assert (await api.client.delete("/v1/tenants/acme/alert-channels/pager", headers=admin)).status_code == 404


async def test_the_daily_report_is_served_as_a_self_contained_page(api: Console, issuer: Issuer,
                                                                  db_pool: asyncpg.Pool[Any]) -> None:
    await db_pool.execute("INSERT INTO tenants (tenant_id, currency, time_zone) VALUES ('acme', 'EUR', 'Europe/Paris')")
    await db_pool.execute("INSERT INTO spend_daily (tenant_id, entity_id, day, entity_level, group_id, campaign_id,"
                          " spend_minor, currency, impressions, clicks, reported_at) VALUES ('acme', 'as1', $1,"
                          " 'adset', 'c1', 'c1', 12345, 'EUR', 10, 1, $2)", date(2026, 5, 1), AT)
    page = await api.client.get("/v1/tenants/acme/reports/daily/2026-05-01", headers=auth(issuer, "VIEWER"))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "123.45 EUR" in page.text and "<svg" in page.text and "Europe/Paris" in page.text
    assert "<script" not in page.text and "http://" not in page.text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    bad = await api.client.get("/v1/tenants/acme/reports/daily/yesterday", headers=auth(issuer, "VIEWER"))
    assert bad.status_code == 400 and bad.json()["field"] == "day"


async def test_openapi_describes_the_alert_routes(api: Console) -> None:
    paths = (await api.client.get("/openapi.json")).json()["paths"]
    assert {"/v1/tenants/{tenant_id}/alerts", "/v1/tenants/{tenant_id}/alert-thresholds",
            "/v1/tenants/{tenant_id}/alert-channels/webhook",
            "/v1/tenants/{tenant_id}/reports/daily/{day}"} <= set(paths)
