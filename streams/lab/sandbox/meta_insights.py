"""The Insights edge of the Meta stand-in: ``GET /{version}/{object_id}/insights``.

Rows are stored per ad and day (:class:`InsightsRow`) and rolled up to the requested ``level``
and ``time_increment``. Output follows Meta's shapes: every number is a string, ``spend`` is in
the account currency's *major* units with decimals ("12.34"), conversions come as an ``actions``
array of ``{"action_type", "value"}``, and results are paged with base64 cursors and a ``next`` URL.
"""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from schemas.money import MINOR_UNIT_EXPONENT
from streams.lab.sandbox.market_types import AdSetDay
from streams.lab.sandbox.meta_errors import MetaApiError, invalid_parameter
from streams.lab.sandbox.meta_state import InsightsRow, MetaState

LEVELS = ("account", "campaign", "adset", "ad")
DEFAULT_FIELDS = ("spend", "impressions", "clicks")
KNOWN_FIELDS = {
    "account_id",
    "account_currency",
    "campaign_id",
    "campaign_name",
    "adset_id",
    "adset_name",
    "ad_id",
    "ad_name",
    "spend",
    "impressions",
    "clicks",
    "inline_link_clicks",
    "cpc",
    "ctr",
    "cpm",
    "actions",
    "date_start",
    "date_stop",
    "reach",
    "frequency",
}


def split_delivery(d: AdSetDay, account_id: str) -> list[InsightsRow]:
    """Spread an ad set's day over its ads in proportion to their clicks (remainders to the first ad)."""
    ads = d.clicks_by_ad or ((f"{d.adset_id}0001", d.clicks),)
    total_clicks = sum(c for _, c in ads)
    weights = [c / total_clicks if total_clicks else (1.0 if i == 0 else 0.0) for i, (_, c) in enumerate(ads)]
    spend = [int(d.spend_minor * w) for w in weights]
    impressions = [int(d.impressions * w) for w in weights]
    spend[0] += d.spend_minor - sum(spend)
    impressions[0] += d.impressions - sum(impressions)
    leads = [0] * len(ads)
    leads[0] = d.leads
    return [
        InsightsRow(d.day, account_id, d.campaign_id, d.adset_id, ad_id, spend[i], impressions[i], clicks, leads[i])
        for i, (ad_id, clicks) in enumerate(ads)
    ]


def _object_level(state: MetaState, object_id: str) -> tuple[str, str]:
    if object_id.startswith("act_"):
        return "account", object_id[4:]
    for level, table in (("campaign", state.campaigns), ("adset", state.adsets), ("ad", state.ads)):
        if object_id in table:
            return level, object_id
    raise KeyError(object_id)


def _parse_range(params: Mapping[str, str], today: date) -> tuple[date, date]:
    if "time_range" in params:
        try:
            tr = json.loads(params["time_range"])
            since, until = date.fromisoformat(tr["since"]), date.fromisoformat(tr["until"])
        except (ValueError, KeyError, TypeError) as exc:
            raise invalid_parameter("time_range must be {'since':'YYYY-MM-DD','until':'YYYY-MM-DD'}") from exc
        if since > until:
            raise invalid_parameter("time_range since must not be after until")
        return since, until
    preset = params.get("date_preset", "last_30d")
    presets = {
        "today": (0, 0),
        "yesterday": (1, 1),
        "last_7d": (7, 1),
        "last_14d": (14, 1),
        "last_30d": (30, 1),
        "maximum": (3650, 0),
    }
    if preset not in presets:
        raise invalid_parameter(f"date_preset {preset!r} is not supported by the sandbox")
    back, end = presets[preset]
    return today - timedelta(days=back), today - timedelta(days=end)


def _buckets(since: date, until: date, increment: str) -> list[tuple[date, date]]:
    if increment in ("all_days", ""):
        return [(since, until)]
    if increment == "monthly":
        raise invalid_parameter("time_increment=monthly is not supported by the sandbox")
    try:
        n = int(increment)
    except ValueError as exc:
        raise invalid_parameter("time_increment must be an integer 1..90, 'monthly' or 'all_days'") from exc
    if not 1 <= n <= 90:
        raise invalid_parameter("time_increment must be between 1 and 90")
    out, cur = [], since
    while cur <= until:
        stop = min(until, cur + timedelta(days=n - 1))
        out.append((cur, stop))
        cur = stop + timedelta(days=1)
    return out


def _money(minor: int, currency: str) -> str:
    exp = MINOR_UNIT_EXPONENT[currency]
    return f"{Decimal(minor).scaleb(-exp):.{exp}f}"


def query_insights(state: MetaState, object_id: str, params: Mapping[str, str], base_url: str) -> dict[str, Any]:
    """Answer an insights request; raises :class:`MetaApiError` for bad parameters."""
    try:
        obj_level, obj_key = _object_level(state, object_id)
    except KeyError as exc:
        raise MetaApiError("unknown object") from exc
    level = params.get("level", obj_level)
    if level not in LEVELS or LEVELS.index(level) < LEVELS.index(obj_level):
        raise invalid_parameter(f"level must be one of {', '.join(LEVELS[LEVELS.index(obj_level) :])}")
    fields = [f for f in params.get("fields", ",".join(DEFAULT_FIELDS)).split(",") if f]
    unknown = [f for f in fields if f not in KNOWN_FIELDS]
    if unknown:
        raise invalid_parameter(f"(#100) {unknown[0]} is not valid for fields param.")
    since, until = _parse_range(params, state.now().date())
    buckets = _buckets(since, until, params.get("time_increment", "all_days"))
    key_attr = {"account": "account_id", "campaign": "campaign_id", "adset": "adset_id", "ad": "ad_id"}
    filter_attr = key_attr[obj_level]
    agg: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    with state.lock:
        rows = list(state.insights)
    for row in rows:
        if getattr(row, filter_attr) != obj_key or not since <= row.day <= until:
            continue
        bucket = next(b for b in buckets if b[0] <= row.day <= b[1])
        acc = agg[(getattr(row, key_attr[level]), bucket[0])]
        acc[0] += row.spend_minor
        acc[1] += row.impressions
        acc[2] += row.clicks
        acc[3] += row.leads
    bucket_end = dict(buckets)
    data = [
        _row(state, level, entity, start, bucket_end[start], totals, fields)
        for (entity, start), totals in sorted(agg.items())
    ]
    return _page(data, params, base_url)


def _row(
    state: MetaState, level: str, entity: str, start: date, stop: date, t: list[int], fields: list[str]
) -> dict[str, Any]:
    spend, impressions, clicks, leads = t
    ids = _ids(state, level, entity)
    currency = state.accounts[ids["account_id"]].currency if ids["account_id"] in state.accounts else "USD"
    exp = MINOR_UNIT_EXPONENT[currency]
    values: dict[str, Any] = {
        **ids,
        "account_currency": currency,
        "spend": _money(spend, currency),
        "impressions": str(impressions),
        "reach": str(int(impressions * 0.8)),
        "frequency": f"{(impressions / max(1, int(impressions * 0.8))):.6f}",
        "clicks": str(clicks),
        "inline_link_clicks": str(clicks),
        "cpc": f"{spend / clicks / 10**exp:.6f}" if clicks else None,
        "ctr": f"{100 * clicks / impressions:.6f}" if impressions else None,
        "cpm": f"{1000 * spend / impressions / 10**exp:.6f}" if impressions else None,
        "actions": [
            {"action_type": "link_click", "value": str(clicks)},
            {"action_type": "lead", "value": str(leads)},
            {"action_type": "offsite_conversion.fb_pixel_lead", "value": str(leads)},
        ],
    }
    out = {f: values[f] for f in fields if f in values and values[f] is not None}
    if "actions" in out and not clicks and not leads:
        del out["actions"]  # Meta omits actions when none happened
    out["date_start"] = start.isoformat()
    out["date_stop"] = stop.isoformat()
    return out


def _ids(state: MetaState, level: str, entity: str) -> dict[str, str]:
    ids: dict[str, str] = {}
    if level == "ad":
        ad = state.ads.get(entity)
        ids |= {"ad_id": entity, "ad_name": ad.name if ad else entity}
        entity, level = (ad.adset_id if ad else ""), "adset"
    if level == "adset":
        s = state.adsets.get(entity)
        ids |= {"adset_id": entity, "adset_name": s.name if s else entity}
        entity, level = (s.campaign_id if s else ""), "campaign"
    if level == "campaign":
        c = state.campaigns.get(entity)
        ids |= {"campaign_id": entity, "campaign_name": c.name if c else entity}
        entity = c.account_id if c else ""
    ids["account_id"] = entity
    return ids


def _cursor(i: int) -> str:
    return base64.b64encode(f"idx:{i}".encode()).decode()


def _page(data: list[dict[str, Any]], params: Mapping[str, str], base_url: str) -> dict[str, Any]:
    try:
        limit = max(1, min(500, int(params.get("limit", "25"))))
        start = int(base64.b64decode(params["after"]).decode().split(":")[1]) + 1 if "after" in params else 0
    except (ValueError, IndexError) as exc:
        raise invalid_parameter("bad limit or paging cursor") from exc
    page = data[start : start + limit]
    body: dict[str, Any] = {"data": page}
    if page:
        end = start + len(page) - 1
        paging: dict[str, Any] = {"cursors": {"before": _cursor(start), "after": _cursor(end)}}
        if end + 1 < len(data):
            query = {k: v for k, v in params.items() if k != "after"} | {"after": _cursor(end)}
            paging["next"] = f"{base_url}?{urlencode(query)}"
        body["paging"] = paging
    return body
