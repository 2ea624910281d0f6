"""Reading nodes from the Meta stand-in: ``GET /{id}?fields=...`` with field expansion, and ``/{adset}/ads``.

Why expansion: the insights poller describes an ad set it discovers from the objects themselves,
and Meta's way to get an ad's creative (or an ad set's campaign) in one call is a nested field,
``fields=id,creative{object_story_spec,call_to_action_type}``. As on Meta, an expanded reference
always carries its ``id``, a plain reference field is just ``{"id": ...}``, a field the node type
does not have answers code 100 ("Tried accessing nonexisting field"), and a field it has but this
object leaves unset is simply absent. Numbers that Meta sends as strings (budgets) are strings.
The ``ads`` edge lists an ad set's ads newest first, ``limit`` at a time, Meta's cursor shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from streams.lab.sandbox.meta_errors import invalid_parameter, unknown_object
from streams.lab.sandbox.meta_state import MetaCreative, MetaState

# Fields Meta's node types have that the stand-in leaves unset: asked for, they are just absent.
UNSET: dict[str, frozenset[str]] = {
    "Campaign": frozenset({"daily_budget"}),
    "AdSet": frozenset({"daily_budget", "optimization_goal", "targeting", "bid_amount", "bid_strategy",
                        "start_time", "end_time", "promoted_object"}),
    "AdCreative": frozenset({"title", "body", "image_hash", "image_url", "video_id", "thumbnail_url",
                             "asset_feed_spec", "link_url"}),
    "Ad": frozenset({"creative", "created_time", "updated_time"}),
}
STORY_OBJECT_TYPES = {"video_data": "VIDEO", "link_data": "SHARE", "photo_data": "PHOTO", "text_data": "STATUS"}
Fields = dict[str, "Fields | None"]


def parse_fields(raw: str) -> Fields:
    """``a,b{c,d{e}}`` -> ``{"a": None, "b": {"c": None, "d": {"e": None}}}``."""
    out: Fields = {}
    depth, start, name = 0, 0, ""
    for i, ch in enumerate(raw + ","):
        if ch == "{":
            if depth == 0:
                name, start = raw[start:i].strip(), i + 1
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                raise invalid_parameter(f"(#100) Syntax error in fields: {raw!r}")
            if depth == 0:
                out[name] = parse_fields(raw[start:i])
                start = i + 1
        elif ch == "," and depth == 0:
            plain = raw[start:i].strip()
            if plain:
                if "." in plain or "(" in plain:
                    raise invalid_parameter(f"field modifiers ({plain}) are not supported by the sandbox")
                out[plain] = None
            start = i + 1
    if depth != 0:
        raise invalid_parameter(f"(#100) Syntax error in fields: {raw!r}")
    return out


def _creative(c: MetaCreative) -> dict[str, Any]:
    kind = next((k for k in STORY_OBJECT_TYPES if isinstance(c.spec.get(k), dict)), None)
    fields: dict[str, Any] = {"id": c.creative_id, "account_id": c.account_id, "name": c.name, "status": "ACTIVE",
                              "object_story_spec": c.spec}
    if kind is not None:
        fields["object_type"] = STORY_OBJECT_TYPES[kind]
        cta = c.spec[kind].get("call_to_action")
        if isinstance(cta, dict) and cta.get("type"):
            fields["call_to_action_type"] = cta["type"]
    return fields


def node(state: MetaState, object_id: str) -> tuple[str, dict[str, Any]]:
    """The node's type name and every field the stand-in knows, Meta-style (numbers as strings);
    references to other nodes as ``{"id": ...}``."""
    with state.lock:
        if object_id.startswith("act_") and object_id[4:] in state.accounts:
            a = state.accounts[object_id[4:]]
            return "AdAccount", {
                "id": object_id, "account_id": a.account_id, "name": a.name, "currency": a.currency,
                "account_status": 1, "timezone_name": a.timezone_name,
            }  # fmt: skip
        if object_id in state.campaigns:
            c = state.campaigns[object_id]
            fields: dict[str, Any] = {
                "id": c.campaign_id, "name": c.name, "status": c.status, "effective_status": c.status,
                "configured_status": c.status, "account_id": c.account_id, "objective": c.objective,
            }  # fmt: skip
            if c.daily_budget is not None:
                fields["daily_budget"] = str(c.daily_budget)
            return "Campaign", fields
        if object_id in state.adsets:
            s = state.adsets[object_id]
            camp = state.campaigns[s.campaign_id]
            effective = s.status if camp.status == "ACTIVE" else "CAMPAIGN_PAUSED"
            fields = {"id": s.adset_id, "name": s.name, "status": s.status, "effective_status": effective,
                      "configured_status": s.status, "campaign_id": s.campaign_id, "account_id": s.account_id,
                      "lifetime_budget": "0", "budget_remaining": str(s.daily_budget or 0),
                      "campaign": {"id": s.campaign_id}}  # fmt: skip
            if s.daily_budget is not None:
                fields["daily_budget"] = str(s.daily_budget)
            if s.optimization_goal is not None:
                fields["optimization_goal"] = s.optimization_goal
            if s.targeting is not None:  # Meta answers with its defaults filled in
                fields["targeting"] = {"age_min": 18, "age_max": 65, **s.targeting}
            return "AdSet", fields
        if object_id in state.ads:
            ad = state.ads[object_id]
            fields = {
                "id": ad.ad_id, "name": ad.name, "status": ad.status, "effective_status": ad.status,
                "adset_id": ad.adset_id, "campaign_id": ad.campaign_id, "account_id": ad.account_id,
                "adset": {"id": ad.adset_id}, "campaign": {"id": ad.campaign_id},
            }  # fmt: skip
            if ad.creative_id is not None:
                fields["creative"] = {"id": ad.creative_id}
            return "Ad", fields
        if object_id in state.media.creatives:
            return "AdCreative", _creative(state.media.creatives[object_id])
    raise unknown_object(object_id)


def _select(state: MetaState, node_type: str, known: Mapping[str, Any], wanted: Fields) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f, sub in (wanted or {"name": None}).items():
        if f not in known and f not in UNSET.get(node_type, ()):
            raise invalid_parameter(f"(#100) Tried accessing nonexisting field ({f}) on node type ({node_type})")
        if f not in known:
            continue
        value = known[f]
        if sub is not None and isinstance(value, dict) and set(value) == {"id"}:  # a reference: expand it
            ref_type, ref = node(state, str(value["id"]))
            value = _select(state, ref_type, ref, sub)
        out[f] = value
    out["id"] = known["id"]
    return out


def read(state: MetaState, object_id: str, fields: str) -> dict[str, Any]:
    node_type, known = node(state, object_id)
    return _select(state, node_type, known, parse_fields(fields))


def read_ads(state: MetaState, adset_id: str, params: Mapping[str, str], url: str) -> dict[str, Any]:
    """``GET /{adset}/ads``: the ad set's ads, newest first, ``limit`` (default 25) per page."""
    if adset_id not in state.adsets:
        raise unknown_object(adset_id)
    try:
        limit, after = int(params.get("limit") or 25), int(params.get("after") or 0)
    except ValueError:
        raise invalid_parameter("bad limit or paging cursor") from None
    wanted = parse_fields(params.get("fields") or "id")
    with state.lock:
        ids = [ad_id for ad_id, ad in reversed(state.ads.items()) if ad.adset_id == adset_id]
    page = [_select(state, "Ad", node(state, ad_id)[1], wanted) for ad_id in ids[after:after + limit]]
    paging: dict[str, Any] = {"cursors": {"before": str(after), "after": str(after + len(page))}}
    if after + limit < len(ids):
        paging["next"] = f"{url}?{urlencode({**params, 'after': str(after + limit)})}"
    return {"data": page, "paging": paging}
