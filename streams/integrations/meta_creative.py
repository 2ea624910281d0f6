"""A Meta ad set and its ad's creative, as Graph API objects, read as :class:`CreativeFeatures`.

Why one reader for two producers: the insights poller reads the objects back from the Graph API
(``GET /{adset}?fields=...`` and ``GET /{adset}/ads?fields=creative{...}``) and the launcher has
the same objects in hand as the parameters it sent; reading both through this module means an ad
set created by roasloop and the same ad set discovered later are described identically (same
features, same embedding, same digest), so the second description is a no-op.

Only what the objects say is taken; anything Meta's shapes leave open stays ``None`` (missing to
the model, never a guess). A custom audience in the targeting, for instance, may be a lookalike
or a retargeting list - the targeting does not say which - so the audience is then unknown. The
copy (headline and body) comes back as text for the embedder and is never put in the features.
A creative made from an existing post (``object_story_id``) or from an asset feed has no
``object_story_spec``; it is still described from ``object_type``, ``call_to_action_type``,
``title`` and ``body``, whichever Meta returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schemas.creatives import AudienceKind, CallToAction, CreativeFeatures, CreativeType, Objective, Placement

# What the poller asks for: the fields read below, nothing more (no names, no page or link).
ADSET_FIELDS = "campaign_id,optimization_goal,targeting,campaign{objective}"
AD_FIELDS = "id,creative{id,object_type,call_to_action_type,title,body,object_story_spec}"

CALLS_TO_ACTION: dict[str, CallToAction] = {
    "LEARN_MORE": "learn_more", "SIGN_UP": "sign_up", "SUBSCRIBE": "sign_up", "APPLY_NOW": "sign_up",
    "BOOK_NOW": "book_demo", "BOOK_A_CONSULTATION": "book_demo", "GET_QUOTE": "get_quote",
    "CONTACT_US": "contact_us", "DOWNLOAD": "download",
}
OBJECTIVES: dict[str, Objective] = {"OUTCOME_LEADS": "leads", "OUTCOME_TRAFFIC": "traffic",
                                    "OUTCOME_SALES": "conversions"}
OBJECT_TYPES: dict[str, CreativeType] = {"VIDEO": "video", "PHOTO": "image", "SHARE": "image", "STATUS": "text"}
POSITIONS: dict[str, Placement] = {"feed": "feed", "story": "stories", "instagram_stories": "stories",
                                   "facebook_reels": "reels", "reels": "reels"}


@dataclass(frozen=True)
class Described:
    features: CreativeFeatures
    text: str
    """The ad's headline and body, for the embedder only."""


def _story(creative: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    spec = creative.get("object_story_spec")
    if not isinstance(spec, dict):
        return None, {}
    for key in ("video_data", "link_data", "photo_data", "text_data"):
        if isinstance(spec.get(key), dict):
            return key, dict(spec[key])
    return None, {}


def _creative_type(creative: Mapping[str, Any], kind: str | None, data: Mapping[str, Any]) -> CreativeType | None:
    if kind == "video_data":
        return "video"
    if kind == "link_data":
        return "carousel" if data.get("child_attachments") else "image"
    if kind == "photo_data":
        return "image"
    if kind == "text_data":
        return "text"
    return OBJECT_TYPES.get(str(creative.get("object_type") or ""))


def _call_to_action(creative: Mapping[str, Any], data: Mapping[str, Any]) -> CallToAction | None:
    cta = data.get("call_to_action")
    raw = cta.get("type") if isinstance(cta, dict) else creative.get("call_to_action_type")
    return CALLS_TO_ACTION.get(str(raw or ""))


def _placement(targeting: Mapping[str, Any]) -> Placement | None:
    platforms = targeting.get("publisher_platforms")
    positions = [p for key in ("facebook_positions", "instagram_positions") for p in targeting.get(key) or []]
    if not platforms and not positions:
        return "auto"  # Advantage+ placements: Meta chooses
    if platforms == ["audience_network"]:
        return "audience_network"
    kinds = {POSITIONS.get(str(p)) for p in positions}
    return kinds.pop() if len(kinds) == 1 else None


def _audience(targeting: Mapping[str, Any]) -> AudienceKind | None:
    if targeting.get("custom_audiences"):
        return None  # a lookalike or a retargeting list: the targeting does not say which
    flexible = targeting.get("flexible_spec") or []
    narrowed = targeting.get("interests") or targeting.get("behaviors") or any(
        isinstance(f, dict) and (f.get("interests") or f.get("behaviors")) for f in flexible)
    return "interest" if narrowed else "broad"


def _device(targeting: Mapping[str, Any]) -> Any:
    platforms = set(targeting.get("device_platforms") or [])
    return "all" if platforms in (set(), {"mobile", "desktop"}) else platforms.pop() if len(platforms) == 1 else None


def _age(targeting: Mapping[str, Any], key: str) -> int | None:
    value = targeting.get(key)
    return min(max(int(value), 13), 65) if isinstance(value, int) else None


def describe_graph(adset: Mapping[str, Any], creative: Mapping[str, Any], *, objective: str | None = None,
                   video_duration_s: float | None = None, aspect_ratio: float | None = None) -> Described:
    """Features of an ad set (``targeting``, its campaign's ``objective``) running ``creative``
    (``object_story_spec``, ``object_type``, ``call_to_action_type``). What the Graph objects do
    not carry (a video's length, the media's shape) may be given by a producer that knows it."""
    targeting = adset.get("targeting") if isinstance(adset.get("targeting"), dict) else {}
    assert isinstance(targeting, dict)
    campaign = adset.get("campaign")
    objective = objective or (str(campaign.get("objective")) if isinstance(campaign, dict) else None)
    kind, data = _story(creative)
    headline = str(data.get("title") or data.get("name") or creative.get("title") or "")
    body = str(data.get("message") or creative.get("body") or "")
    countries = (targeting.get("geo_locations") or {}).get("countries") or []
    features = CreativeFeatures(
        creative_type=_creative_type(creative, kind, data), call_to_action=_call_to_action(creative, data),
        headline_length=len(headline) if kind or headline else None, video_duration_s=video_duration_s,
        aspect_ratio=aspect_ratio, objective=OBJECTIVES.get(objective or ""),
        placement=_placement(targeting) if targeting else None, audience=_audience(targeting) if targeting else None,
        age_min=_age(targeting, "age_min"), age_max=_age(targeting, "age_max"),
        country=str(countries[0]) if len(countries) == 1 else None, device=_device(targeting) if targeting else None)
    return Described(features, " ".join(t for t in (headline, body) if t))
