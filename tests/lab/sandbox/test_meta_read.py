"""Reading creatives from the Graph API stand-in: field expansion, the ad set's ads, Meta's errors."""

from __future__ import annotations

import httpx
import pytest

from streams.lab.sandbox.meta_state import MetaCreative, MetaState
from tests.lab.sandbox.test_meta import V, auth, client  # noqa: F401  (the fixture)

STORY = {"page_id": "9", "link_data": {"link": "https://acme.test", "name": "Hi", "message": "Body",
                                       "call_to_action": {"type": "GET_QUOTE", "value": {"link": "https://acme.test"}}}}


@pytest.fixture
def with_creatives(meta_state: MetaState) -> MetaState:
    meta_state.media.creatives["cr1"] = MetaCreative("cr1", "555", "Creative one", STORY)
    meta_state.ads["401"].creative_id = "cr1"
    meta_state.add_ad("402", "301", "Ad two")  # newer, no creative
    meta_state.adsets["301"].targeting = {"geo_locations": {"countries": ["US"]}}
    meta_state.adsets["301"].optimization_goal = "LEAD_GENERATION"
    return meta_state


async def test_an_ad_expands_its_creative_and_an_ad_set_its_campaign(
        client: httpx.AsyncClient, with_creatives: MetaState) -> None:  # noqa: F811
    r = await client.get(f"/{V}/401", params={"fields": "creative{object_type,call_to_action_type,object_story_spec}",
                                              **auth(with_creatives)})
    assert r.json() == {"id": "401", "creative": {"id": "cr1", "object_type": "SHARE",
                                                  "call_to_action_type": "GET_QUOTE", "object_story_spec": STORY}}
    plain = await client.get(f"/{V}/401", params={"fields": "creative", **auth(with_creatives)})
    assert plain.json() == {"id": "401", "creative": {"id": "cr1"}}
    s = await client.get(f"/{V}/301", params={"fields": "targeting,optimization_goal,campaign{objective}",
                                              **auth(with_creatives)})
    assert s.json() == {"id": "301", "optimization_goal": "LEAD_GENERATION", "campaign": {"id": "200",
                        "objective": "OUTCOME_LEADS"},
                        "targeting": {"age_min": 18, "age_max": 65, "geo_locations": {"countries": ["US"]}}}


async def test_an_ad_sets_ads_come_newest_first_in_pages_and_unset_fields_are_absent(
        client: httpx.AsyncClient, with_creatives: MetaState) -> None:  # noqa: F811
    r = await client.get(f"/{V}/301/ads", params={"fields": "id,creative{id}", "limit": "1", **auth(with_creatives)})
    body = r.json()
    assert body["data"] == [{"id": "402"}]  # no creative: the field is absent, not null
    nxt = await client.get(body["paging"]["next"])
    assert nxt.json()["data"] == [{"id": "401", "creative": {"id": "cr1"}}] and "next" not in nxt.json()["paging"]


async def test_a_field_the_node_type_lacks_is_refused_as_meta_does(
        client: httpx.AsyncClient, with_creatives: MetaState) -> None:  # noqa: F811
    r = await client.get(f"/{V}/cr1", params={"fields": "object_story_spec,colour", **auth(with_creatives)})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == 100 and "(colour) on node type (AdCreative)" in r.json()["error"][
        "error_user_msg"]
    gone = await client.get(f"/{V}/999/ads", params=auth(with_creatives))
    assert gone.status_code == 400 and gone.json()["error"]["error_subcode"] == 33
