"""Reading a Meta ad set and creative as features: only what the objects say, the copy kept out."""

from __future__ import annotations

from typing import Any

import pytest

from streams.integrations.meta_creative import describe_graph

LINK = {"link": "https://acme.test", "name": "Get a quote today", "message": "Fast quotes",
        "call_to_action": {"type": "GET_QUOTE", "value": {"link": "https://acme.test"}}}


def adset(**targeting: Any) -> dict[str, Any]:
    return {"campaign_id": "c1", "campaign": {"id": "c1", "objective": "OUTCOME_SALES"},
            "targeting": {"geo_locations": {"countries": ["FR"]}, "age_min": 18, "age_max": 65} | targeting}


def test_a_link_ad_with_automatic_placements_and_no_narrowing_is_broad_and_auto() -> None:
    seen = describe_graph(adset(), {"object_story_spec": {"page_id": "1", "link_data": LINK}})
    f = seen.features
    assert (f.creative_type, f.call_to_action, f.objective, f.placement, f.audience, f.device, f.country) == (
        "image", "get_quote", "conversions", "auto", "broad", "all", "FR")
    assert f.headline_length == len("Get a quote today")
    assert seen.text == "Get a quote today Fast quotes"
    assert "Fast quotes" not in f.model_dump_json()


@pytest.mark.parametrize(("targeting", "placement", "audience"), [
    ({"custom_audiences": [{"id": "6001"}]}, "auto", None),  # lookalike or retargeting: the spec does not say
    ({"flexible_spec": [{"interests": [{"id": "600", "name": "CRM"}]}]}, "auto", "interest"),
    ({"publisher_platforms": ["audience_network"]}, "audience_network", "broad"),
    ({"publisher_platforms": ["facebook", "instagram"], "facebook_positions": ["feed"],
      "instagram_positions": ["story"]}, None, "broad"),  # several kinds of placement: not one
])
def test_targeting_says_placement_and_audience_only_when_it_is_unambiguous(
        targeting: dict[str, Any], placement: str | None, audience: str | None) -> None:
    f = describe_graph(adset(**targeting), {"object_story_spec": {"link_data": LINK}}).features
    assert (f.placement, f.audience) == (placement, audience)


def test_a_carousel_and_an_unknown_call_to_action_and_a_creative_without_a_story() -> None:
    carousel = {**LINK, "child_attachments": [{"link": "https://a"}, {"link": "https://b"}],
                "call_to_action": {"type": "PLAY_GAME"}}
    f = describe_graph(adset(), {"object_story_spec": {"link_data": carousel}}).features
    assert (f.creative_type, f.call_to_action) == ("carousel", None)
    bare = describe_graph({}, {"object_type": "VIDEO", "call_to_action_type": "CONTACT_US"}).features
    assert (bare.creative_type, bare.call_to_action, bare.headline_length, bare.placement, bare.objective) == (
        "video", "contact_us", None, None, None)


def test_a_creative_from_an_existing_post_is_described_from_its_own_fields() -> None:
    seen = describe_graph(adset(), {"object_story_id": "9_10", "object_type": "PHOTO", "call_to_action_type": "SIGN_UP",
                                    "title": "Join the beta", "body": "Early access"})
    assert (seen.features.creative_type, seen.features.call_to_action, seen.features.headline_length) == (
        "image", "sign_up", len("Join the beta"))
    assert seen.text == "Join the beta Early access"
