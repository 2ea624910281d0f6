"""The Graph API stand-in through a real HTTP client: shapes, auth, limits, usage headers, faults."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest

from streams.lab.sandbox.meta import create_meta_app
from streams.lab.sandbox.meta_state import InsightsRow, MetaState, appsecret_proof
from streams.lab.sandbox.meta_usage import DEVELOPMENT_TIER
from tests.lab.sandbox.sandbox_fakes import FakeClock

V = "v26.0"


@pytest.fixture
async def client(meta_state: MetaState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_meta_app(meta_state))
    async with httpx.AsyncClient(transport=transport, base_url="http://graph.test") as c:
        yield c


def auth(state: MetaState) -> dict[str, str]:
    return {"access_token": state.access_token, "appsecret_proof": appsecret_proof(state.access_token, "shh")}


async def test_reads_an_ad_set_with_numbers_as_strings(client: httpx.AsyncClient, meta_state: MetaState) -> None:
    fields = "daily_budget,name,status,effective_status,campaign_id"
    r = await client.get(f"/{V}/301", params={"fields": fields, **auth(meta_state)})
    assert r.status_code == 200
    assert r.json() == {
        "id": "301",
        "daily_budget": "10000",
        "name": "Ad set one",
        "status": "ACTIVE",
        "effective_status": "ACTIVE",
        "campaign_id": "200",
    }


async def test_budget_update_by_form_is_applied_and_logged(
    client: httpx.AsyncClient, meta_state: MetaState, clock: FakeClock
) -> None:
    r = await client.post(f"/{V}/301", data={"daily_budget": "12345", **auth(meta_state)})
    assert r.status_code == 200 and r.json() == {"success": True}
    assert meta_state.budget_of("301") == 12_345
    [change] = meta_state.change_log
    assert (change.entity_id, change.old_budget_minor, change.new_budget_minor, change.at) == (
        "301",
        10_000,
        12_345,
        clock.now,
    )


async def test_credentials_in_query_string_work_too(client: httpx.AsyncClient, meta_state: MetaState) -> None:
    r = await client.post(f"/{V}/302", params=auth(meta_state), data={"daily_budget": "15000"})
    assert r.status_code == 200
    assert meta_state.budget_of("302") == 15_000


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"access_token": "nope", "appsecret_proof": "x"}, 190),
        ({"access_token": "tok-123"}, 100),
        ({"access_token": "tok-123", "appsecret_proof": "0" * 64}, 100),
        ({}, 104),
    ],
)
async def test_bad_credentials_are_refused_in_metas_shape(
    client: httpx.AsyncClient, params: dict[str, str], code: int
) -> None:
    r = await client.get(f"/{V}/301", params=params)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == code
    assert set(error) >= {"message", "type", "code", "is_transient", "fbtrace_id"}
    assert error["is_transient"] is False


async def test_unknown_object_and_bad_budget_are_code_100(client: httpx.AsyncClient, meta_state: MetaState) -> None:
    r = await client.get(f"/{V}/999", params=auth(meta_state))
    assert r.status_code == 400 and r.json()["error"]["code"] == 100 and r.json()["error"]["error_subcode"] == 33
    r = await client.post(f"/{V}/301", data={"daily_budget": "12.50", **auth(meta_state)})
    assert r.json()["error"]["code"] == 100
    r = await client.post(f"/{V}/301", data={"daily_budget": "50", **auth(meta_state)})
    assert r.json()["error"]["code"] == 100 and r.json()["error"]["error_subcode"] == 1885272
    assert meta_state.budget_of("301") == 10_000 and not meta_state.change_log


async def test_fifth_budget_change_in_an_hour_is_refused_and_blocks_the_ad_set(
    client: httpx.AsyncClient, meta_state: MetaState, clock: FakeClock
) -> None:
    for i in range(4):
        r = await client.post(f"/{V}/301", data={"daily_budget": str(11_000 + i), **auth(meta_state)})
        assert r.status_code == 200
        clock.advance(minutes=5)
    r = await client.post(f"/{V}/301", data={"daily_budget": "20000", **auth(meta_state)})
    assert r.status_code == 400
    error = r.json()["error"]
    assert (error["code"], error["error_subcode"], error["is_transient"]) == (17, 2446079, True)
    buc = json.loads(r.headers["X-Business-Use-Case-Usage"])["555"][0]
    assert buc["estimated_time_to_regain_access"] == 60
    # the other ad set is not affected
    assert (await client.post(f"/{V}/302", data={"daily_budget": "1000", **auth(meta_state)})).status_code == 200
    # blocked for an hour even though the first changes age out of the window
    clock.advance(minutes=50)
    r = await client.post(f"/{V}/301", data={"daily_budget": "20000", **auth(meta_state)})
    assert r.json()["error"]["code"] == 17
    clock.advance(minutes=11)
    assert (await client.post(f"/{V}/301", data={"daily_budget": "20000", **auth(meta_state)})).status_code == 200
    assert [c.new_budget_minor for c in meta_state.changes_of("301")] == [11_000, 11_001, 11_002, 11_003, 20_000]
    assert [r.reason for r in meta_state.refused] == ["more than 4 budget changes in an hour", "ad set blocked"]


async def test_setting_the_same_budget_is_not_a_change(client: httpx.AsyncClient, meta_state: MetaState) -> None:
    r = await client.post(f"/{V}/301", data={"daily_budget": "10000", **auth(meta_state)})
    assert r.json() == {"success": True} and meta_state.change_log == []


async def test_usage_headers_rise_with_use_and_throttle_at_the_limit(clock: FakeClock) -> None:
    state = MetaState(access_token="t", app_secret="s", clock=clock, tier=DEVELOPMENT_TIER)
    state.add_account("9", "EUR")
    state.add_campaign("20", "9")
    state.add_adset("30", "20", 5_000)
    transport = httpx.ASGITransport(app=create_meta_app(state))
    params = {"access_token": "t", "appsecret_proof": state.proof(), "fields": "daily_budget"}
    seen = []
    async with httpx.AsyncClient(transport=transport, base_url="http://g") as c:
        for _ in range(70):
            r = await c.get(f"/{V}/30", params=params)
            if r.status_code != 200:
                break
            seen.append(json.loads(r.headers["X-Ad-Account-Usage"])["acc_id_util_pct"])
        assert seen == sorted(seen) and seen[-1] > 90
        assert r.status_code == 400
        assert (r.json()["error"]["code"], r.json()["error"]["error_subcode"]) == (17, 2446079)
        buc = json.loads(r.headers["X-Business-Use-Case-Usage"])["9"][0]
        assert buc["type"] == "ads_management" and buc["estimated_time_to_regain_access"] == 5
        assert json.loads(r.headers["X-App-Usage"])["call_count"] >= 0
        clock.advance(seconds=301)
        r = await c.get(f"/{V}/30", params=params)
        assert r.status_code == 200
        assert json.loads(r.headers["X-Business-Use-Case-Usage"])["9"][0]["estimated_time_to_regain_access"] == 0


@pytest.mark.parametrize(
    ("kind", "status", "code", "subcode"),
    [
        ("http_500", 500, 1, 99),
        ("http_503", 503, 2, None),
        ("throttle_17", 400, 17, 2446079),
        ("throttle_613", 400, 613, 1487742),
        ("throttle_80004", 400, 80004, 2446079),
    ],
)
async def test_injected_faults_answer_like_meta(
    client: httpx.AsyncClient, meta_state: MetaState, kind: str, status: int, code: int, subcode: int | None
) -> None:
    meta_state.faults.fail_next(kind, 2, method="POST")  # type: ignore[arg-type]
    for _ in range(2):
        r = await client.post(f"/{V}/301", data={"daily_budget": "15000", **auth(meta_state)})
        assert r.status_code == status
        error = r.json()["error"]
        assert (error["code"], error.get("error_subcode"), error["is_transient"]) == (code, subcode, True)
    assert meta_state.budget_of("301") == 10_000
    r = await client.post(f"/{V}/301", data={"daily_budget": "15000", **auth(meta_state)})
    assert r.status_code == 200 and meta_state.budget_of("301") == 15_000


async def test_fault_rates_are_seeded(meta_state: MetaState) -> None:
    meta_state.faults.set_rate("http_500", 0.5)
    app = create_meta_app(meta_state)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as c:
        statuses = [(await c.get(f"/{V}/301", params=auth(meta_state))).status_code for _ in range(40)]
    assert 5 < statuses.count(500) < 35
    assert len(meta_state.faults.injected) == statuses.count(500)


async def test_minimum_budgets(client: httpx.AsyncClient, meta_state: MetaState) -> None:
    r = await client.get(f"/{V}/act_555/minimum_budgets", params=auth(meta_state))
    assert r.status_code == 200
    [row] = r.json()["data"]
    assert row["currency"] == "USD" and row["min_daily_budget_imp"] == 100


async def test_insights_roll_up_by_level_and_day_with_paging(client: httpx.AsyncClient, meta_state: MetaState) -> None:
    meta_state.add_ad("402", "302")
    for day in (1, 2, 3):
        for ad, adset in (("401", "301"), ("402", "302")):
            meta_state.record_insights(
                InsightsRow(date(2025, 3, day), "555", "200", adset, ad, 1234 * day, 1000, 10, 1)
            )
    params = {
        "fields": "adset_id,spend,impressions,clicks,actions",
        "level": "adset",
        "time_range": json.dumps({"since": "2025-03-01", "until": "2025-03-03"}),
        "time_increment": "1",
        "limit": "4",
        **auth(meta_state),
    }
    r = await client.get(f"/{V}/act_555/insights", params=params)
    assert r.status_code == 200
    body = r.json()
    assert len(body["data"]) == 4
    first = body["data"][0]
    assert first == {
        "adset_id": "301",
        "spend": "12.34",
        "impressions": "1000",
        "clicks": "10",
        "actions": [
            {"action_type": "link_click", "value": "10"},
            {"action_type": "lead", "value": "1"},
            {"action_type": "offsite_conversion.fb_pixel_lead", "value": "1"},
        ],
        "date_start": "2025-03-01",
        "date_stop": "2025-03-01",
    }
    nxt = httpx.URL(body["paging"]["next"])
    r2 = await client.get(nxt.path, params=dict(nxt.params))
    assert [row["adset_id"] for row in r2.json()["data"]] == ["302", "302"]
    assert "next" not in r2.json()["paging"]
    total = {**params, "time_increment": "all_days", "level": "campaign", "fields": "campaign_id,spend"}
    r3 = await client.get(f"/{V}/act_555/insights", params=total)
    assert r3.json()["data"] == [
        {"campaign_id": "200", "spend": "148.08", "date_start": "2025-03-01", "date_stop": "2025-03-03"}
    ]
    assert (await client.get(f"/{V}/301/insights", params={**params, "level": "campaign"})).status_code == 400
