"""The stand-in's creation edges over HTTP: campaign -> ad set -> image/video -> creative -> ad,
Meta's validation errors for the common mistakes, tokens limited to their accounts and revoked ones."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from streams.lab.sandbox.meta import create_meta_app
from streams.lab.sandbox.meta_state import MetaState, appsecret_proof

V = "v26.0"
TARGETING = json.dumps({"geo_locations": {"countries": ["US"]}, "age_min": 25, "age_max": 55})


@pytest.fixture
async def client(meta_state: MetaState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_meta_app(meta_state))
    async with httpx.AsyncClient(transport=transport, base_url="http://graph.test") as c:
        yield c


def auth(state: MetaState) -> dict[str, str]:
    return {"access_token": state.access_token, "appsecret_proof": appsecret_proof(state.access_token, "shh")}


async def post(client: httpx.AsyncClient, state: MetaState, path: str, **data: str) -> httpx.Response:
    return await client.post(f"/{V}/{path}", data={**data, **auth(state)})


def error_of(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 400, r.text
    error: dict[str, Any] = r.json()["error"]
    return error


async def test_campaign_adset_video_creative_and_ad_are_created_paused(
    client: httpx.AsyncClient, meta_state: MetaState
) -> None:
    r = await post(client, meta_state, "act_555/campaigns", name="Launch", objective="OUTCOME_LEADS",
                   special_ad_categories="[]", status="PAUSED")
    campaign_id = r.json()["id"]
    r = await post(client, meta_state, "act_555/adsets", name="US 25-55", campaign_id=campaign_id,
                   daily_budget="5000", optimization_goal="LEAD_GENERATION", billing_event="IMPRESSIONS",
                   targeting=TARGETING, status="PAUSED")
    adset_id = r.json()["id"]
    r = await client.post(f"/{V}/act_555/advideos", data={"name": "clip", **auth(meta_state)},
                          files={"source": ("clip.mp4", b"\x00\x00\x00\x18ftypmp42", "video/mp4")})
    video_id = r.json()["id"]
    spec = {"page_id": "77", "video_data": {"video_id": video_id, "image_url": "https://x.test/t.jpg",
                                            "call_to_action": {"type": "SIGN_UP",
                                                               "value": {"link": "https://l.test/?rl_cid=1"}}}}
    r = await post(client, meta_state, "act_555/adcreatives", name="c", object_story_spec=json.dumps(spec))
    creative_id = r.json()["id"]
    r = await post(client, meta_state, "act_555/ads", name="ad", adset_id=adset_id,
                   creative=json.dumps({"creative_id": creative_id}), status="PAUSED")
    ad_id = r.json()["id"]
    assert meta_state.campaigns[campaign_id].status == "PAUSED"
    assert meta_state.adsets[adset_id].daily_budget == 5000 and meta_state.adsets[adset_id].status == "PAUSED"
    assert meta_state.ads[ad_id].status == "PAUSED" and meta_state.ads[ad_id].adset_id == adset_id
    assert meta_state.media.videos[video_id] == ("555", 12)
    assert [e for e, _ in meta_state.media.created] == ["campaigns", "adsets", "advideos", "adcreatives", "ads"]


async def test_an_image_upload_answers_its_hash_and_a_creative_can_use_it(
    client: httpx.AsyncClient, meta_state: MetaState
) -> None:
    r = await post(client, meta_state, "act_555/adimages", bytes=base64.b64encode(b"PNG...").decode(), name="a.png")
    image_hash = r.json()["images"]["a.png"]["hash"]
    spec = {"page_id": "77", "link_data": {"link": "https://l.test/", "image_hash": image_hash}}
    r = await post(client, meta_state, "act_555/adcreatives", object_story_spec=json.dumps(spec))
    assert r.status_code == 200 and r.json()["id"]
    spec["link_data"]["image_hash"] = "0" * 32  # type: ignore[index]
    assert error_of(await post(client, meta_state, "act_555/adcreatives",
                               object_story_spec=json.dumps(spec)))["error_subcode"] == 1487242


@pytest.mark.parametrize(
    ("path", "data", "names"),
    [
        ("campaigns", {"name": "x", "special_ad_categories": "[]"}, "objective"),
        ("campaigns", {"name": "x", "objective": "OUTCOME_LEADS"}, "special_ad_categories"),
        ("campaigns", {"name": "x", "objective": "CONVERSIONS", "special_ad_categories": "[]"}, "objective"),
        ("adsets", {"name": "x", "campaign_id": "200", "daily_budget": "50", "optimization_goal": "REACH",
                    "billing_event": "IMPRESSIONS", "targeting": TARGETING}, "budget"),
        ("adsets", {"name": "x", "campaign_id": "200", "daily_budget": "5000", "optimization_goal": "REACH",
                    "billing_event": "IMPRESSIONS", "targeting": '{"age_min": 20}'}, "location"),
        ("adsets", {"name": "x", "campaign_id": "200", "daily_budget": "5000", "optimization_goal": "CLICKS",
                    "billing_event": "IMPRESSIONS", "targeting": TARGETING}, "optimization_goal"),
    ],
)
async def test_common_mistakes_get_metas_code_100_naming_the_problem(
    client: httpx.AsyncClient, meta_state: MetaState, path: str, data: dict[str, str], names: str
) -> None:
    before = (len(meta_state.campaigns), len(meta_state.adsets))
    error = error_of(await post(client, meta_state, f"act_555/{path}", **data))
    assert error["code"] == 100 and names in (error.get("error_user_msg") or error["message"]).lower()
    assert (len(meta_state.campaigns), len(meta_state.adsets)) == before


async def test_a_token_sees_only_its_accounts_and_a_revoked_one_gets_190(
    client: httpx.AsyncClient, meta_state: MetaState
) -> None:
    meta_state.add_account("666")
    meta_state.grant("tok-a", "sec-a", "act_666")
    mine = {"access_token": "tok-a", "appsecret_proof": appsecret_proof("tok-a", "sec-a")}
    ok = await client.post(f"/{V}/act_666/campaigns", data={"name": "a", "objective": "OUTCOME_TRAFFIC",
                                                             "special_ad_categories": "[]", **mine})
    assert ok.status_code == 200
    assert error_of(await client.post(f"/{V}/act_555/campaigns", data={
        "name": "a", "objective": "OUTCOME_TRAFFIC", "special_ad_categories": "[]", **mine}))["code"] == 200
    assert error_of(await client.get(f"/{V}/301", params=mine))["error_subcode"] == 33
    wrong_secret = {"access_token": "tok-a", "appsecret_proof": appsecret_proof("tok-a", "shh")}
    assert error_of(await client.get(f"/{V}/act_666", params=wrong_secret))["code"] == 100
    meta_state.revoke("tok-a")
    error = error_of(await client.get(f"/{V}/act_666", params=mine))
    assert (error["code"], error["error_subcode"]) == (190, 460)


async def test_an_ad_can_be_paused_and_resumed(client: httpx.AsyncClient, meta_state: MetaState) -> None:
    assert (await post(client, meta_state, "401", status="PAUSED")).json() == {"success": True}
    assert meta_state.ads["401"].status == "PAUSED"
    await post(client, meta_state, "401", status="ACTIVE")
    assert meta_state.ads["401"].status == "ACTIVE"
