"""Launching through the operator API, the topic and the launcher, against the Meta stand-in over HTTP:
campaign -> ad set -> video ad created PAUSED and catalogued, a dry run without credentials, a
redelivery that creates nothing twice, Meta's refusal as a failed outcome, each tenant's own token."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas import decode_as
from schemas.launch import CampaignSpec, LaunchRequested, LaunchSettled
from schemas.topics import LAUNCH_OUTCOMES
from streams.assets import AssetLibrary
from streams.core.settings import Settings
from streams.lab.sandbox.meta_state import MetaState
from tests.console.test_api import auth
from tests.helpers import read_records, wait_until
from tests.jwt_issuer import Issuer
from tests.launcher.conftest import Stack, meta_world, stack, store_accounts
from tests.meta_standin import START

TARGETING = {"countries": ["US", "CA"], "age_min": 25, "age_max": 55}


async def launch(s: Stack, issuer: Issuer, body: dict[str, Any], tenant: str = "acme") -> dict[str, Any]:
    r = await s.client.post(f"/v1/tenants/{tenant}/launches", json=body,
                            headers=auth(issuer, "EDITOR", sub="eve", tenants=[tenant]))
    assert r.status_code == 202, r.text
    request_id = r.json()["request_id"]
    row: dict[str, Any] = {}

    async def settled() -> bool:
        got = await s.client.get(f"/v1/tenants/{tenant}/launches/{request_id}",
                                 headers=auth(issuer, "VIEWER", tenants=[tenant]))
        row.update(got.json() if got.status_code == 200 else {})
        return row.get("status") in ("created", "applied", "blocked", "dry_run", "failed")

    await wait_until(settled, timeout=20)
    return row


def campaign(request_id: str, account: str = "act_11") -> dict[str, Any]:
    return {"request_id": request_id, "account_id": account,
            "spec": {"kind": "campaign", "name": "Spring leads", "objective": "OUTCOME_LEADS"}}


def adset(request_id: str, parent: str, budget: int = 5_000, account: str = "act_11") -> dict[str, Any]:
    return {"request_id": request_id, "account_id": account,
            "spec": {"kind": "adset", "name": "US/CA 25-55", "campaign_request_id": parent,
                     "daily_budget_minor": budget, "optimization_goal": "LEAD_GENERATION", "page_id": "77",
                     "targeting": TARGETING}}


def video_ad(request_id: str, parent: str) -> dict[str, Any]:
    return {"request_id": request_id, "account_id": "act_11",
            "spec": {"kind": "ad", "name": "Demo video", "adset_request_id": parent, "asset_id": "vid1",
                     "page_id": "77", "landing_url": "https://acme.test/demo?utm_source=meta",
                     "thumbnail_url": "https://cdn.acme.test/thumb.jpg", "call_to_action": "SIGN_UP"}}


async def test_campaign_adset_and_video_ad_are_created_paused_and_join_the_catalog_and_their_group(
        settings: Settings, jwks_url: str, issuer: Issuer, meta_url: str, meta_state: MetaState,
        library: AssetLibrary, db_pool: Any) -> None:
    meta_world(meta_state)
    await store_accounts(settings, db_pool, ("acme", "act_11"))
    async with stack(settings, jwks_url, meta_url, library) as s:
        c = await launch(s, issuer, campaign("camp-1"))
        a = await launch(s, issuer, adset("set-1", "camp-1"))
        ad = await launch(s, issuer, video_ad("ad-1", "set-1"))
        outcomes = [decode_as(r.value, LaunchSettled) for r in await read_records(settings, LAUNCH_OUTCOMES,
                                                                                  min_count=3)]
    assert [x["status"] for x in (c, a, ad)] == ["created"] * 3, (c["error"], a["error"], ad["error"])
    campaign_id, adset_id, ad_id = c["created"]["campaign_id"], a["created"]["adset_id"], ad["created"]["ad_id"]
    assert meta_state.campaigns[campaign_id].status == "PAUSED"
    assert meta_state.campaigns[campaign_id].objective == "OUTCOME_LEADS"
    assert (meta_state.adsets[adset_id].status, meta_state.adsets[adset_id].daily_budget) == ("PAUSED", 5_000)
    assert meta_state.adsets[adset_id].campaign_id == campaign_id
    assert meta_state.ads[ad_id].status == "PAUSED" and meta_state.ads[ad_id].adset_id == adset_id
    video_id = ad["created"]["video_id"]
    assert meta_state.media.videos[video_id][0] == "11"
    story = meta_state.media.creatives[ad["created"]["creative_id"]].spec
    assert story["video_data"]["video_id"] == video_id
    link = story["video_data"]["call_to_action"]["value"]["link"]
    assert link == "https://go.acme.test/c/acme/{{ad.id}}?url=https%3A%2F%2Facme.test%2Fdemo%3Futm_source%3Dmeta"
    assert await db_pool.fetchrow("SELECT adset_id, campaign_id FROM ad_catalog WHERE ad_id = $1", ad_id) == (
        adset_id, campaign_id)
    assert await db_pool.fetchval("SELECT group_id FROM entity_groups WHERE entity_id = $1", adset_id) == campaign_id
    assert sorted((o.request_id, o.outcome) for o in outcomes) == [
        ("ad-1", "created"), ("camp-1", "created"), ("set-1", "created")]
    audit = await db_pool.fetch("SELECT actor, target FROM operator_audit WHERE action = 'launch_requested'")
    assert sorted(tuple(r) for r in audit) == [("eve", "ad-1"), ("eve", "camp-1"), ("eve", "set-1")]


async def test_without_credentials_a_launch_is_a_dry_run_that_records_what_it_would_send(
        settings: Settings, jwks_url: str, issuer: Issuer, meta_url: str, meta_state: MetaState,
        library: AssetLibrary, db_pool: Any) -> None:
    meta_world(meta_state)
    async with stack(settings, jwks_url, meta_url, library) as s:
        c = await launch(s, issuer, campaign("camp-dry", account="act_99"))
        a = await launch(s, issuer, adset("set-dry", "camp-dry", account="act_99"))
    assert (c["status"], a["status"], c["created"]) == ("dry_run", "dry_run", {})
    sent = json.loads(await db_pool.fetchval("SELECT sent::text FROM launch_requests WHERE request_id = 'set-dry'"))
    assert sent[0]["edge"] == "adsets" and sent[0]["fields"]["status"] == "PAUSED"
    assert sent[0]["fields"]["targeting"]["geo_locations"] == {"countries": ["US", "CA"]}
    assert len(meta_state.campaigns) == 1 and not meta_state.media.created  # only c1 from the world


async def test_a_redelivered_request_creates_nothing_twice_and_settles_once(
        settings: Settings, jwks_url: str, issuer: Issuer, meta_url: str, meta_state: MetaState,
        library: AssetLibrary, db_pool: Any) -> None:
    meta_world(meta_state)
    await store_accounts(settings, db_pool, ("acme", "act_11"))
    request = LaunchRequested(event_id="launch-acme-twice", tenant_id="acme", occurred_at=START, request_id="twice",
                              account_id="act_11", requested_by="eve",
                              spec=CampaignSpec(name="Twice", objective="OUTCOME_TRAFFIC"))
    async with stack(settings, jwks_url, meta_url, library) as s:
        for _ in range(3):
            await s.runner.resources.publisher.publish(request)
        await read_records(settings, LAUNCH_OUTCOMES, min_count=1)
        await s.runner.resources.publisher.publish(request)  # after it settled, too
        # one tenant's requests are one partition, in order: once this one settles, the copies were read
        await s.runner.resources.publisher.publish(request.model_copy(update={"event_id": "launch-acme-after",
                                                                              "request_id": "after"}))
        outcomes = [decode_as(r.value, LaunchSettled).request_id
                    for r in await read_records(settings, LAUNCH_OUTCOMES, min_count=2)]
    assert [e for e, _ in meta_state.media.created] == ["campaigns", "campaigns"]  # "twice" once, "after" once
    assert sorted(outcomes) == ["after", "twice"]


async def test_metas_validation_error_is_a_failed_outcome_with_its_reason(
        settings: Settings, jwks_url: str, issuer: Issuer, meta_url: str, meta_state: MetaState,
        library: AssetLibrary, db_pool: Any) -> None:
    meta_world(meta_state)
    meta_state.accounts["11"].min_daily_budget_minor = 10_000
    await store_accounts(settings, db_pool, ("acme", "act_11"))
    async with stack(settings, jwks_url, meta_url, library) as s:
        await launch(s, issuer, campaign("camp-v"))
        a = await launch(s, issuer, adset("set-v", "camp-v", budget=5_000))
        [outcome] = [o for o in (decode_as(r.value, LaunchSettled) for r in await read_records(
            settings, LAUNCH_OUTCOMES, min_count=2)) if o.request_id == "set-v"]
    assert a["status"] == "failed" and "at least 10000" in a["error"]
    assert outcome.outcome == "failed" and outcome.error == a["error"]


async def test_each_tenant_launches_with_its_own_accounts_token_and_a_revoked_one_fails_and_is_marked(
        settings: Settings, jwks_url: str, issuer: Issuer, meta_url: str, meta_state: MetaState,
        library: AssetLibrary, db_pool: Any, capsys: pytest.CaptureFixture[str]) -> None:
    meta_world(meta_state)
    await store_accounts(settings, db_pool, ("acme", "act_11"), ("acme", "act_12"), ("globex", "act_21"),
                         ("globex", "act_22"))
    meta_state.revoke("EAAB-token-22-secret")
    async with stack(settings, jwks_url, meta_url, library) as s:
        rows = {acc: await launch(s, issuer, campaign(f"c-{acc}", account=acc), tenant=tenant)
                for tenant, acc in (("acme", "act_11"), ("acme", "act_12"), ("globex", "act_21"),
                                    ("globex", "act_22"))}
        stolen = await s.client.post("/v1/tenants/globex/launches", json=campaign("steal", account="act_11"),
                                     headers=auth(issuer, "EDITOR", tenants=["globex"]))
        records = await read_records(settings, LAUNCH_OUTCOMES, min_count=4)
    created = {acc: meta_state.campaigns[r["created"]["campaign_id"]].account_id
               for acc, r in rows.items() if r["status"] == "created"}
    assert created == {"act_11": "11", "act_12": "12", "act_21": "21"}
    assert rows["act_22"]["status"] == "failed" and "190" in rows["act_22"]["error"]
    assert await db_pool.fetchval("SELECT status FROM meta_ad_accounts WHERE account_id = 'act_22'") == "refused"
    assert stolen.status_code == 422 and stolen.json().get("field") == "account_id"
    everything = (" ".join(r.value.decode() for r in records) + json.dumps(rows, default=str)
                  + "".join(capsys.readouterr())
                  + str([dict(r) for r in await db_pool.fetch("SELECT * FROM launch_requests")]))
    assert "EAAB-token" not in everything and "app-secret-" not in everything


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"account_id": "act_11", "spec": {"kind": "campaign", "name": "x"}}, 400, "spec.campaign.objective"),
    ({"account_id": "act_11", "spec": {"kind": "campaign", "name": "x", "objective": "CONVERSIONS"}}, 400,
     "spec.campaign.objective"),
    ({"account_id": "11", "spec": {"kind": "campaign", "name": "x", "objective": "OUTCOME_LEADS"}}, 400,
     "account_id"),
    (adset("s", "nope"), 422, "spec.campaign_request_id"),
    ({**adset("s", "x"), "spec": {**adset("s", "x")["spec"], "campaign_request_id": None, "campaign_id": "c1",
                                  "daily_budget_minor": 50}}, 422, "spec.daily_budget_minor"),
    ({**adset("s", "x"), "spec": {**adset("s", "x")["spec"], "targeting": {"countries": ["usa"]}}}, 400,
     "spec.adset.targeting.countries.0"),
    ({**video_ad("a", "x"), "spec": {**video_ad("a", "x")["spec"], "adset_request_id": None, "adset_id": "9",
                                     "asset_id": "missing"}}, 422, "spec.asset_id"),
    ({**video_ad("a", "x"), "spec": {**video_ad("a", "x")["spec"], "adset_request_id": None, "adset_id": "9",
                                     "thumbnail_url": None}}, 422, "spec.thumbnail_url"),
])
async def test_an_invalid_request_is_a_4xx_naming_the_field_and_publishes_nothing(
        settings: Settings, jwks_url: str, issuer: Issuer, meta_url: str, meta_state: MetaState,
        library: AssetLibrary, db_pool: Any, body: dict[str, Any], status: int, field: str) -> None:
    meta_world(meta_state)
    await store_accounts(settings, db_pool, ("acme", "act_11"))
    async with stack(settings, jwks_url, meta_url, library) as s:
        r = await s.client.post("/v1/tenants/acme/launches", json=body, headers=auth(issuer, "EDITOR"))
    assert r.status_code == status, r.text
    assert r.json().get("field") == field, r.text
    assert await db_pool.fetchval("SELECT count(*) FROM operator_audit") == len(await db_pool.fetch(
        "SELECT 1 FROM operator_audit WHERE action = 'ad_account_saved'"))
