"""One allocation group: every ad set's money, belief and budget, and how they moved over the period.

Per ad set: spend, credited pipeline revenue (by stage and by kind: synthetic / actual / reversal),
pipeline ROAS observed and as the model believes it (posterior median with its 80% interval, and
P(best) - the share the sampler gave it, which is the probability it is best), the budget it has
now and its share, floor and cap. Over time: the budget share each decision gave every ad set,
the pipeline-ROAS band, daily spend against pipeline revenue, and how deals were attributed.

The page costs a fixed number of queries whatever the group's size (a test counts them); the
per-day decision series takes the last decision of each day, so 90 days are 90 decisions.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from starlette.responses import Response

from schemas.pipeline import canonical_stage
from streams.console.endpoint import Call, not_found
from streams.console.period import Period, period_of
from streams.console.render import answer, roas
from streams.console.tenants import currency_of, today
from streams.core.controls.automation import automation_for
from streams.core.controls.group_budgets import group_budget
from streams.core.controls.stage_values import get_stage_mappings
from streams.core.db import Conn

ENTITIES_SQL = """
WITH ids AS (
    SELECT entity_id, campaign_id FROM sampler_entities WHERE tenant_id = $1 AND group_id = $2
    UNION SELECT DISTINCT entity_id, campaign_id FROM spend_daily WHERE tenant_id = $1 AND group_id = $2
)
SELECT DISTINCT ON (ids.entity_id) ids.entity_id, ids.campaign_id, s.min_budget_minor,
       s.daily_budget_minor AS reported_budget_minor, b.daily_budget_minor AS budget_minor, b.source AS budget_source,
       l.floor_minor, l.cap_minor, l.version AS bounds_version
FROM ids
LEFT JOIN sampler_entities s ON s.tenant_id = $1 AND s.group_id = $2 AND s.entity_id = ids.entity_id
LEFT JOIN entity_budgets b ON b.tenant_id = $1 AND b.entity_id = ids.entity_id
LEFT JOIN executor_entity_limits l ON l.tenant_id = $1 AND l.entity_id = ids.entity_id
ORDER BY ids.entity_id
"""


async def group_page(call: Call) -> Response:
    res = call.context_of().res
    tenant, group = call.tenant_id, call.path("group_id")
    period = period_of(call, today(call))
    async with res.pool.acquire() as conn:
        entities = await conn.fetch(ENTITIES_SQL, tenant, group)
        if not entities:
            raise not_found(f"group {group}")
        currency = await currency_of(conn, tenant, res.settings.default_currency)
        campaign = str(entities[0]["campaign_id"])
        spend = await conn.fetch(
            "SELECT entity_id, day, spend_minor FROM spend_daily WHERE tenant_id = $1 AND group_id = $2"
            " AND day BETWEEN $3 AND $4", tenant, group, period.first, period.last)
        revenue = await conn.fetch(
            "SELECT adset_id, day, stage_id, kind, sum(amount_minor) AS amount FROM revenue_ledger"
            " WHERE tenant_id = $1 AND group_id = $2 AND day BETWEEN $3 AND $4 GROUP BY 1, 2, 3, 4",
            tenant, group, period.first, period.last)
        decisions = await _daily_decisions(conn, tenant, group, period)
        mix = await conn.fetch(
            "SELECT method, count(*) AS deals FROM deal_attributions WHERE tenant_id = $1 AND group_id = $2"
            " AND conversion_at >= $3 AND conversion_at < $4 GROUP BY method", tenant, group, period.start, period.end)
        mappings = await get_stage_mappings(conn, tenant)
        budget = await group_budget(conn, tenant, group)
        mode = await automation_for(conn, tenant, campaign)
        paused = await conn.fetchval(
            "SELECT string_agg(reason, '; ') FROM automation_pauses WHERE tenant_id = $1 AND campaign_id IN ('', $2)"
            " HAVING count(*) > 0", tenant, campaign)
        waiting = await conn.fetchval("SELECT count(*) FROM ad_change_history WHERE tenant_id = $1 AND group_id = $2"
                                      " AND status = 'awaiting_approval'", tenant, group)
    latest = decisions[-1]["payload"] if decisions else None
    adsets = _adsets(entities, spend, revenue, mappings, latest)
    budgeted = sum(a["budget_minor"] or 0 for a in adsets)
    for a in adsets:
        a["budget_share"] = round((a["budget_minor"] or 0) / budgeted, 4) if budgeted else None
    return answer("group", {
        "tenant_id": tenant, "group_id": group, "campaign_id": campaign, "currency": currency,
        "period": period.as_dict(),
        "total_budget": {"minor": budget.total_daily_budget_minor if budget else None,
                         "version": budget.version if budget else 0,
                         "source": "operator" if budget else "reported budgets", "budgeted_minor": budgeted},
        "automation": mode.as_dict(),
        "paused": paused is not None, "paused_reason": paused, "awaiting_approval": int(waiting),
        "latest_decision": _decision_head(latest),
        "adsets": adsets,
        "series": _series(period, adsets, spend, revenue, decisions),
        "attribution_mix": {r["method"]: r["deals"] for r in mix},
    })


async def _daily_decisions(conn: Conn, tenant: str, group: str, period: Period) -> list[dict[str, Any]]:
    """The last decision of each day in the period, oldest first (and the latest before it if none)."""
    rows = await conn.fetch(
        "SELECT * FROM (SELECT DISTINCT ON (decided_at::date) decided_at, payload FROM sampler_decisions"
        "  WHERE tenant_id = $1 AND group_id = $2 AND decided_at >= $3 AND decided_at < $4"
        "  ORDER BY decided_at::date, decided_at DESC) daily"
        " UNION ALL (SELECT decided_at, payload FROM sampler_decisions WHERE tenant_id = $1 AND group_id = $2"
        "  AND decided_at < $3 ORDER BY decided_at DESC LIMIT 1) ORDER BY decided_at",
        tenant, group, period.start, period.end)
    return [dict(r) for r in rows]


def _decision_head(payload: dict[str, Any] | None) -> dict[str, Any] | None:
    if payload is None:
        return None
    return {k: payload.get(k) for k in ("decision_id", "occurred_at", "reason", "paused", "policy")} | {
        "total_budget_minor": payload["total_budget"]["amount_minor"]}


def _adsets(entities: list[Any], spend: list[Any], revenue: list[Any], mappings: dict[str, Any],
            latest: dict[str, Any] | None) -> list[dict[str, Any]]:
    spent: dict[str, int] = defaultdict(int)
    for r in spend:
        spent[r["entity_id"]] += int(r["spend_minor"])
    by_stage: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_kind: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in revenue:
        amount = int(r["amount"])
        by_stage[r["adset_id"]][canonical_stage(r["stage_id"], mappings) or "unmapped"] += amount
        by_kind[r["adset_id"]][r["kind"]] += amount
    believed = {a["entity_id"]: a for a in (latest or {}).get("allocations", [])}
    out = []
    for e in entities:
        entity = e["entity_id"]
        credited = sum(by_kind[entity].values())
        belief = believed.get(entity, {})
        out.append({
            "entity_id": entity, "campaign_id": e["campaign_id"],
            "spend_minor": spent[entity], "revenue_minor": credited, "roas": roas(credited, spent[entity]),
            "revenue_by_stage": dict(by_stage[entity]), "revenue_by_kind": dict(by_kind[entity]),
            "posterior": {"median": belief.get("posterior_median"), "p10": belief.get("posterior_p10"),
                          "p90": belief.get("posterior_p90"), "mean": belief.get("posterior_mean")},
            "p_best": belief.get("share"),
            "budget_minor": e["budget_minor"] if e["budget_minor"] is not None else e["reported_budget_minor"],
            "budget_source": e["budget_source"] or ("reported" if e["reported_budget_minor"] is not None else None),
            "min_budget_minor": e["min_budget_minor"],
            "floor_minor": e["floor_minor"], "cap_minor": e["cap_minor"], "bounds_version": e["bounds_version"] or 0,
        })
    return out


def _series(period: Period, adsets: list[dict[str, Any]], spend: list[Any], revenue: list[Any],
            decisions: list[dict[str, Any]]) -> dict[str, Any]:
    days = [d.isoformat() for d in period.days()]
    index = {d: i for i, d in enumerate(days)}
    spend_by_day, revenue_by_day = [0] * len(days), [0] * len(days)
    for r in spend:
        spend_by_day[index[r["day"].isoformat()]] += int(r["spend_minor"])
    for r in revenue:
        revenue_by_day[index[r["day"].isoformat()]] += int(r["amount"])
    ids = [a["entity_id"] for a in adsets]
    points = []
    for d in decisions:
        allocations = {a["entity_id"]: a for a in d["payload"]["allocations"]}
        total = sum(a["budget_minor"] for a in allocations.values()) or 1
        points.append({
            "at": d["decided_at"].isoformat(),
            "budget_share": {e: round(allocations[e]["budget_minor"] / total, 4) for e in ids if e in allocations},
            "roas": {e: [allocations[e].get("posterior_p10"), allocations[e].get("posterior_median"),
                         allocations[e].get("posterior_p90")] for e in ids if e in allocations},
        })
    return {"days": days, "spend_minor": spend_by_day, "revenue_minor": revenue_by_day, "decisions": points}
