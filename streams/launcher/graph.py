"""A launch spec as Graph API parameters, and the tracking URL an ad's link carries.

Why the link goes through roasloop's click redirect: attribution needs the click id (``rl_cid``),
which the redirect (``GET /c/{tenant}/{ad_id}?url=...``) mints and appends to the landing URL
before sending the visitor on. The ad's own id is not known when its creative is made, so the
path carries Meta's dynamic URL parameter ``{{ad.id}}``, which Meta replaces at click time.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from schemas.launch import AdSetSpec, AdSpec, CampaignSpec

META_AD_ID = "{{ad.id}}"


def tracking_url(click_base: str, tenant_id: str, landing_url: str) -> str:
    return f"{click_base.rstrip('/')}/c/{quote(tenant_id)}/{META_AD_ID}?url={quote(landing_url, safe='')}"


def campaign_fields(spec: CampaignSpec, status: str) -> dict[str, Any]:
    return {"name": spec.name, "objective": spec.objective, "special_ad_categories": list(spec.special_ad_categories),
            "status": status, "daily_budget": spec.daily_budget_minor,
            "bid_strategy": "LOWEST_COST_WITHOUT_CAP" if spec.daily_budget_minor else None}


def adset_fields(spec: AdSetSpec, campaign_id: str, status: str) -> dict[str, Any]:
    promoted: dict[str, Any] = {}
    if spec.pixel_id:
        promoted = {"pixel_id": spec.pixel_id, "custom_event_type": "LEAD"}
    elif spec.page_id:
        promoted = {"page_id": spec.page_id}
    targeting = {"geo_locations": {"countries": list(spec.targeting.countries)},
                 "age_min": spec.targeting.age_min, "age_max": spec.targeting.age_max}
    return {"name": spec.name, "campaign_id": campaign_id, "daily_budget": spec.daily_budget_minor,
            "optimization_goal": spec.optimization_goal, "billing_event": spec.billing_event,
            "targeting": targeting, "status": status, "bid_strategy": spec.bid_strategy,
            "bid_amount": spec.bid_amount_minor, "promoted_object": promoted or None,
            "start_time": spec.start_time.isoformat() if spec.start_time else None,
            "end_time": spec.end_time.isoformat() if spec.end_time else None}


def creative_fields(spec: AdSpec, link: str, *, image_hash: str | None = None,
                    video_id: str | None = None) -> dict[str, Any]:
    cta = {"type": spec.call_to_action, "value": {"link": link}}
    story: dict[str, Any] = {"page_id": spec.page_id}
    if video_id is not None:
        story["video_data"] = {"video_id": video_id, "message": spec.message, "title": spec.headline,
                               "image_url": spec.thumbnail_url, "call_to_action": cta}
    else:
        story["link_data"] = {"link": link, "message": spec.message, "name": spec.headline,
                              "image_hash": image_hash, "call_to_action": cta}
    return {"name": f"{spec.name} creative", "object_story_spec": story}


def ad_fields(spec: AdSpec, adset_id: str, creative_id: str, status: str) -> dict[str, Any]:
    return {"name": spec.name, "adset_id": adset_id, "creative": {"creative_id": creative_id}, "status": status}
