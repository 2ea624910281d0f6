"""The stand-in's creation edges: ``POST /act_<id>/{campaigns,adsets,adimages,advideos,adcreatives,ads}``.

Why it validates as much as it does: roasloop's launcher is only as good as the errors it has been
tested against, so the common mistakes get Meta's own answer shape (code 100, a subcode where
Meta documents one, ``error_user_msg`` naming the parameter): a missing ``objective`` or
``special_ad_categories``, a daily budget below the account's minimum, a targeting spec without
``geo_locations``, an unknown ``optimization_goal``/``billing_event``, a creative pointing at an
image hash or video id the account never uploaded. Objects are created with the ``status`` asked
for (Meta's default, ``ACTIVE``, when none is sent); the launcher always sends one.

Shapes follow the Marketing API reference: objects answer ``{"id": ...}``; ``adimages`` takes
``bytes`` (base64) and answers ``{"images": {<name>: {"hash", "url"}}}``; ``advideos`` takes a
multipart ``source`` file (or ``file_url``) and answers ``{"id"}``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
from collections.abc import Mapping
from typing import Any

from streams.lab.sandbox.meta_errors import MetaApiError, budget_too_low, invalid_parameter
from streams.lab.sandbox.meta_state import MetaAd, MetaAdSet, MetaCreative, MetaState

OBJECTIVES = frozenset({"OUTCOME_AWARENESS", "OUTCOME_TRAFFIC", "OUTCOME_ENGAGEMENT", "OUTCOME_LEADS",
                        "OUTCOME_APP_PROMOTION", "OUTCOME_SALES"})
SPECIAL_AD_CATEGORIES = frozenset({"NONE", "EMPLOYMENT", "HOUSING", "FINANCIAL_PRODUCTS_SERVICES",
                                   "ISSUES_ELECTIONS_POLITICS", "ONLINE_GAMBLING_AND_GAMING"})
OPTIMIZATION_GOALS = frozenset({"NONE", "APP_INSTALLS", "IMPRESSIONS", "LEAD_GENERATION", "QUALITY_LEAD",
                                "LINK_CLICKS", "OFFSITE_CONVERSIONS", "PAGE_LIKES", "POST_ENGAGEMENT", "REACH",
                                "LANDING_PAGE_VIEWS", "VALUE", "THRUPLAY", "CONVERSATIONS"})
BILLING_EVENTS = frozenset({"IMPRESSIONS", "LINK_CLICKS", "APP_INSTALLS", "PAGE_LIKES", "POST_ENGAGEMENT",
                            "THRUPLAY"})
BID_STRATEGIES = frozenset({"LOWEST_COST_WITHOUT_CAP", "LOWEST_COST_WITH_BID_CAP", "COST_CAP",
                            "LOWEST_COST_WITH_MIN_ROAS"})
STATUSES = frozenset({"ACTIVE", "PAUSED"})
_ids = itertools.count(120_000_000_000_000)


def required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name, "").strip()
    if not value:
        raise MetaApiError(f"(#100) The parameter {name} is required", code=100,
                           error_user_msg=f"The parameter {name} is required")
    return value


def _json(params: Mapping[str, str], name: str) -> Any:
    try:
        return json.loads(params[name])
    except (KeyError, ValueError):
        raise invalid_parameter(f"{name} must be valid JSON", subcode=1487079) from None


def _enum(params: Mapping[str, str], name: str, allowed: frozenset[str], default: str | None = None) -> str:
    value = params.get(name) or default
    if value is None:
        return required(params, name)
    if value not in allowed:
        raise invalid_parameter(f"{name} must be one of {', '.join(sorted(allowed))}; got {value!r}")
    return value


def _budget(state: MetaState, account_id: str, params: Mapping[str, str], name: str = "daily_budget") -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not raw.strip().isdigit():
        raise invalid_parameter(f"{name} must be a whole number of minor units, got {raw!r}")
    acc = state.accounts[account_id]
    if int(raw) < acc.min_daily_budget_minor:
        raise budget_too_low(acc.min_daily_budget_minor, acc.currency)
    if int(raw) > state.max_daily_budget_minor:
        raise invalid_parameter("The daily budget is above the maximum allowed.", subcode=1885261)
    return int(raw)


def create(state: MetaState, account_id: str, edge: str, params: Mapping[str, str],
           files: Mapping[str, bytes]) -> dict[str, Any]:
    """Create under ``act_<account_id>``; raise :class:`MetaApiError` as Meta would."""
    if account_id not in state.accounts:
        raise invalid_parameter(f"ad account {account_id} does not exist")
    handler = {"campaigns": _campaign, "adsets": _adset, "adimages": _image, "advideos": _video,
               "adcreatives": _creative, "ads": _ad}.get(edge)
    if handler is None:
        raise MetaApiError(f"Unknown path components: /act_{account_id}/{edge}", code=2500)
    with state.lock:
        body = handler(state, account_id, params, files)
        state.media.created.append((edge, str(body.get("id") or next(iter(body.get("images", {"": 0}))))))
        return body


def _campaign(state: MetaState, account_id: str, params: Mapping[str, str], _f: Mapping[str, bytes]) -> dict[str, Any]:
    name = required(params, "name")
    objective = _enum(params, "objective", OBJECTIVES)
    categories = _json(params, "special_ad_categories") if "special_ad_categories" in params else None
    if categories is None:
        required(params, "special_ad_categories")
    if not isinstance(categories, list) or any(c not in SPECIAL_AD_CATEGORIES for c in categories):
        raise invalid_parameter("special_ad_categories must be an array of "
                                + ", ".join(sorted(SPECIAL_AD_CATEGORIES)), subcode=1885315)
    status = _enum(params, "status", STATUSES, "ACTIVE")
    budget = _budget(state, account_id, params)
    campaign_id = str(next(_ids))
    c = state.add_campaign(campaign_id, account_id, name, daily_budget=budget)
    c.status, c.objective = status, objective
    return {"id": campaign_id}


def _targeting(params: Mapping[str, str]) -> dict[str, Any]:
    required(params, "targeting")
    spec: Any = _json(params, "targeting")
    geo = spec.get("geo_locations") if isinstance(spec, dict) else None
    if not isinstance(geo, dict) or not any(geo.get(k) for k in ("countries", "regions", "cities", "zips")):
        raise invalid_parameter("Your audience is missing a location. Add a country, region or city in "
                                "targeting.geo_locations.", subcode=1885364, user_title="Invalid Targeting Spec")
    age_min, age_max = spec.get("age_min", 18), spec.get("age_max", 65)
    if not (isinstance(age_min, int) and isinstance(age_max, int) and 13 <= age_min <= age_max <= 65):
        raise invalid_parameter("targeting age_min must be >= 13, age_max <= 65 and age_min <= age_max",
                                subcode=1885364, user_title="Invalid Targeting Spec")
    return dict(spec)


def _adset(state: MetaState, account_id: str, params: Mapping[str, str], _f: Mapping[str, bytes]) -> dict[str, Any]:
    name = required(params, "name")
    campaign = state.campaigns.get(required(params, "campaign_id"))
    if campaign is None or campaign.account_id != account_id:
        raise invalid_parameter(f"campaign_id {params['campaign_id']} is not a campaign of this ad account")
    _enum(params, "optimization_goal", OPTIMIZATION_GOALS)
    _enum(params, "billing_event", BILLING_EVENTS)
    if "bid_strategy" in params:
        _enum(params, "bid_strategy", BID_STRATEGIES)
    if params.get("bid_strategy") in ("LOWEST_COST_WITH_BID_CAP", "COST_CAP") and not params.get("bid_amount"):
        raise invalid_parameter("bid_amount is required for bid_strategy " + params["bid_strategy"],
                                subcode=1815857)
    targeting = _targeting(params)
    budget = _budget(state, account_id, params)
    if budget is None and campaign.daily_budget is None and not params.get("lifetime_budget"):
        raise invalid_parameter("An ad set needs daily_budget or lifetime_budget when its campaign has no "
                                "campaign budget.", subcode=1885621)
    status = _enum(params, "status", STATUSES, "ACTIVE")
    adset_id = str(next(_ids))
    s: MetaAdSet = state.add_adset(adset_id, campaign.campaign_id, budget, name)
    s.status, s.bid_strategy = status, params.get("bid_strategy")
    s.bid_amount = int(params["bid_amount"]) if params.get("bid_amount", "").isdigit() else None
    s.optimization_goal, s.targeting = params["optimization_goal"], targeting
    return {"id": adset_id}


def _image(state: MetaState, account_id: str, params: Mapping[str, str], _f: Mapping[str, bytes]) -> dict[str, Any]:
    try:
        data = base64.b64decode(required(params, "bytes"), validate=True)
    except binascii.Error:
        raise invalid_parameter("bytes must be the image, base64-encoded", subcode=1487242) from None
    if not data:
        raise invalid_parameter("The image is empty", subcode=1487242)
    image_hash = hashlib.md5(data, usedforsecurity=False).hexdigest()
    state.media.images[image_hash] = (account_id, len(data))
    name = params.get("name") or "image.png"
    return {"images": {name: {"hash": image_hash, "url": f"https://scontent.example/{image_hash}.jpg"}}}


def _video(state: MetaState, account_id: str, params: Mapping[str, str], files: Mapping[str, bytes]) -> dict[str, Any]:
    data = files.get("source")
    if data is None and not params.get("file_url"):
        required(params, "source")
    video_id = str(next(_ids))
    state.media.videos[video_id] = (account_id, len(data or b""))
    return {"id": video_id}


def _creative(state: MetaState, account_id: str, params: Mapping[str, str],
              _f: Mapping[str, bytes]) -> dict[str, Any]:
    name = params.get("name") or "Creative"
    spec = _json(params, "object_story_spec") if "object_story_spec" in params else required(
        params, "object_story_spec")
    if not isinstance(spec, dict) or not spec.get("page_id"):
        raise invalid_parameter("object_story_spec needs a page_id", subcode=1443048)
    media = state.media
    link, video = spec.get("link_data"), spec.get("video_data")
    if isinstance(link, dict):
        if not link.get("link"):
            raise invalid_parameter("object_story_spec.link_data needs a link", subcode=1443048)
        if link.get("image_hash") and media.images.get(link["image_hash"], ("",))[0] != account_id:
            raise invalid_parameter(f"Image with hash {link['image_hash']} does not exist in this ad account",
                                    subcode=1487242)
    elif isinstance(video, dict):
        if media.videos.get(str(video.get("video_id")), ("",))[0] != account_id:
            raise invalid_parameter(f"Video {video.get('video_id')} does not exist in this ad account",
                                    subcode=1487242)
        if not (video.get("image_url") or video.get("image_hash")):
            raise invalid_parameter("video_data needs a thumbnail: image_url or image_hash", subcode=1443226)
        cta = video.get("call_to_action")
        if not (isinstance(cta, dict) and isinstance(cta.get("value"), dict) and cta["value"].get("link")):
            raise invalid_parameter("video_data.call_to_action.value.link is required", subcode=1443048)
    else:
        raise invalid_parameter("object_story_spec needs link_data or video_data", subcode=1443048)
    creative_id = str(next(_ids))
    media.creatives[creative_id] = MetaCreative(creative_id, account_id, name, spec)
    return {"id": creative_id}


def _ad(state: MetaState, account_id: str, params: Mapping[str, str], _f: Mapping[str, bytes]) -> dict[str, Any]:
    name = required(params, "name")
    adset = state.adsets.get(required(params, "adset_id"))
    if adset is None or adset.account_id != account_id:
        raise invalid_parameter(f"adset_id {params['adset_id']} is not an ad set of this ad account")
    creative = _json(params, "creative") if "creative" in params else required(params, "creative")
    creative_id = str(creative.get("creative_id")) if isinstance(creative, dict) else ""
    found = state.media.creatives.get(creative_id)
    if found is None or found.account_id != account_id:
        raise invalid_parameter(f"creative {creative_id or '?'} does not exist in this ad account", subcode=1487242)
    status = _enum(params, "status", STATUSES, "ACTIVE")
    ad_id = str(next(_ids))
    ad: MetaAd = state.add_ad(ad_id, adset.adset_id, name)
    ad.status, ad.creative_id = status, creative_id
    return {"id": ad_id}


