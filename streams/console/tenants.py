"""Who am I, which tenants may I see, and a tenant at a glance: its groups, money in and out, what waits.

Every figure is aggregated in PostgreSQL, a query per source whatever the number of groups and ad
sets, so a tenant with a thousand ad sets answers as fast as one with three.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from starlette.responses import Response

from streams.console.endpoint import Call
from streams.console.period import Period, period_of
from streams.console.render import answer, roas
from streams.core.controls.automation import automation_for
from streams.core.db import Conn


async def me(call: Call) -> Response:
    who = call.who
    return answer("me", {"sub": who.sub, "role": who.role,
                         "tenants": None if who.tenants is None else sorted(who.tenants)})


async def tenant_ids(conn: Conn) -> list[str]:
    rows = await conn.fetch("SELECT tenant_id FROM tenants UNION SELECT tenant_id FROM sampler_groups"
                            " UNION SELECT tenant_id FROM group_budgets ORDER BY 1")
    return [r["tenant_id"] for r in rows]


async def tenants(call: Call) -> Response:
    async with call.context_of().res.pool.acquire() as conn:
        known = await tenant_ids(conn)
    visible = [t for t in known if call.who.tenants is None or t in call.who.tenants]
    return answer("tenants", {"tenants": visible})


async def currency_of(conn: Conn, tenant_id: str, default: str) -> str:
    currency = await conn.fetchval("SELECT currency FROM tenants WHERE tenant_id = $1", tenant_id)
    return str(currency).strip() if currency else default


def today(call: Call) -> date:
    return call.context_of().res.clock.now().date()


async def overview(call: Call) -> Response:
    """Per group: ad sets, spend, pipeline revenue and ROAS over the period, the budget it splits,
    its automation mode, kill switch and waiting changes, and its latest decision."""
    res = call.context_of().res
    tenant = call.tenant_id
    period = period_of(call, today(call))
    async with res.pool.acquire() as conn:
        currency = await currency_of(conn, tenant, res.settings.default_currency)
        groups = await _groups(conn, tenant, period)
        mode = await automation_for(conn, tenant, "")
        paused = await conn.fetchval("SELECT reason FROM automation_pauses WHERE tenant_id = $1 AND campaign_id = ''",
                                     tenant)
        mix = await conn.fetch("SELECT method, count(*) AS deals FROM deal_attributions WHERE tenant_id = $1"
                               " AND conversion_at >= $2 AND conversion_at < $3 GROUP BY method",
                               tenant, period.start, period.end)
        daily = await _daily(conn, tenant, period)
    spend = sum(g["spend_minor"] for g in groups)
    revenue = sum(g["revenue_minor"] for g in groups)
    return answer("overview", {
        "tenant_id": tenant, "currency": currency, "period": period.as_dict(),
        "automation": mode.as_dict(),
        "paused": paused is not None, "paused_reason": paused,
        "totals": {"spend_minor": spend, "revenue_minor": revenue, "roas": roas(revenue, spend),
                   "adsets": sum(g["adsets"] for g in groups),
                   "awaiting_approval": sum(g["awaiting_approval"] for g in groups)},
        "attribution_mix": {r["method"]: r["deals"] for r in mix},
        "daily": daily,
        "groups": groups,
    })


async def _groups(conn: Conn, tenant: str, period: Period) -> list[dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "campaign_id": None, "adsets": 0, "spend_minor": 0, "revenue_minor": 0, "total_budget_minor": None,
        "budgeted_minor": 0, "mode": None, "paused": False, "awaiting_approval": 0, "last_decision_at": None,
        "last_reason": None})
    for r in await conn.fetch(
            "SELECT group_id, min(campaign_id) AS campaign_id, count(*) AS adsets, sum(daily_budget_minor) AS budgeted"
            " FROM sampler_entities WHERE tenant_id = $1 GROUP BY group_id", tenant):
        g = groups[r["group_id"]]
        g.update(campaign_id=r["campaign_id"], adsets=r["adsets"], budgeted_minor=int(r["budgeted"] or 0))
    for r in await conn.fetch(
            "SELECT group_id, min(campaign_id) AS campaign_id, count(DISTINCT entity_id) AS adsets,"
            " sum(spend_minor) AS spend FROM spend_daily WHERE tenant_id = $1 AND day BETWEEN $2 AND $3"
            " GROUP BY group_id", tenant, period.first, period.last):
        g = groups[r["group_id"]]
        g["spend_minor"] = int(r["spend"])
        g["campaign_id"] = g["campaign_id"] or r["campaign_id"]
        g["adsets"] = max(g["adsets"], r["adsets"])
    for r in await conn.fetch("SELECT group_id, sum(amount_minor) AS revenue FROM revenue_ledger WHERE tenant_id = $1"
                              " AND day BETWEEN $2 AND $3 GROUP BY group_id", tenant, period.first, period.last):
        groups[r["group_id"]]["revenue_minor"] = int(r["revenue"])
    for r in await conn.fetch("SELECT group_id, total_daily_budget_minor FROM group_budgets WHERE tenant_id = $1",
                              tenant):
        groups[r["group_id"]]["total_budget_minor"] = int(r["total_daily_budget_minor"])
    for r in await conn.fetch("SELECT group_id, count(*) AS waiting FROM ad_change_history WHERE tenant_id = $1"
                              " AND status = 'awaiting_approval' GROUP BY group_id", tenant):
        groups[r["group_id"]]["awaiting_approval"] = int(r["waiting"])
    for r in await conn.fetch(
            "SELECT DISTINCT ON (group_id) group_id, decided_at, payload->>'reason' AS reason FROM sampler_decisions"
            " WHERE tenant_id = $1 ORDER BY group_id, decided_at DESC", tenant):
        groups[r["group_id"]].update(last_decision_at=r["decided_at"].isoformat(), last_reason=r["reason"])
    modes = {r["campaign_id"]: r["mode"] for r in await conn.fetch(
        "SELECT campaign_id, mode FROM automation_modes WHERE tenant_id = $1", tenant)}
    paused = {r["campaign_id"] for r in await conn.fetch(
        "SELECT campaign_id FROM automation_pauses WHERE tenant_id = $1", tenant)}
    out = []
    for group_id, g in sorted(groups.items()):
        campaign = g["campaign_id"] or group_id
        g["mode"] = modes.get(campaign, modes.get("", "autopilot"))
        g["paused"] = bool({"", campaign} & paused)
        g["roas"] = roas(g["revenue_minor"], g["spend_minor"])
        out.append({"group_id": group_id, **g, "campaign_id": campaign})
    return out


async def _daily(conn: Conn, tenant: str, period: Period) -> list[dict[str, Any]]:
    spend = {r["day"]: int(r["spend"]) for r in await conn.fetch(
        "SELECT day, sum(spend_minor) AS spend FROM spend_daily WHERE tenant_id = $1 AND day BETWEEN $2 AND $3"
        " GROUP BY day", tenant, period.first, period.last)}
    revenue = {r["day"]: int(r["revenue"]) for r in await conn.fetch(
        "SELECT day, sum(amount_minor) AS revenue FROM revenue_ledger WHERE tenant_id = $1"
        " AND day BETWEEN $2 AND $3 GROUP BY day", tenant, period.first, period.last)}
    return [{"day": d.isoformat(), "spend_minor": spend.get(d, 0), "revenue_minor": revenue.get(d, 0)}
            for d in period.days()]
