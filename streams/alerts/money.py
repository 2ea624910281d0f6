"""The rules about money: changes that do not go through, Meta in trouble, ROAS that collapsed,
spend that brings nothing, budget that is not spent.

Each rule judges one key (a campaign, a group, an ad set, a tenant) from the facts of
:mod:`.facts` at a moment ``at``: the event time of what was just consumed, or the clock's now
when the sweep re-judges firing alerts whose window has slid. An event older than the rule's
window cannot raise it (that window is over: a consumer catching up on last week does not page
anyone now), but can still clear it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from schemas.events import AllocationDecided
from schemas.money import format_money
from streams.alerts.store import Alerting, Condition
from streams.core.controls.alert_thresholds import Thresholds
from streams.core.process import Effects

CHANGE_FAILURES, META_TROUBLE, ROAS_COLLAPSE = "change_failures", "meta_trouble", "roas_collapse"
NO_REVENUE, BUDGET_UNSPENT = "no_revenue", "budget_unspent"
META = "meta"


def span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes / 60
    return f"{hours:.0f} h" if hours < 72 else f"{hours / 24:.1f} days"


async def change_failures(alerting: Alerting, fx: Effects, th: Thresholds, tenant_id: str, campaign_id: str,
                          at: datetime) -> None:
    """N blocked or failed budget changes in a campaign within the window; clears when the window holds none.

    Clearing at zero rather than below N keeps a campaign whose guardrails block now and then from
    raising and resolving every few changes.
    """
    window = th.seconds("change_failures_window_seconds")
    row = await fx.conn.fetchrow(
        "SELECT count(*) FILTER (WHERE outcome = 'blocked') AS blocked, count(*) FILTER (WHERE outcome = 'failed')"
        " AS failed FROM alert_outcomes WHERE tenant_id = $1 AND campaign_id = $2 AND outcome IN ('blocked', 'failed')"
        " AND occurred_at > $3 AND occurred_at <= $4", tenant_id, campaign_id, at - window, at)
    assert row is not None  # an aggregate always answers one row
    blocked, failed = int(row["blocked"]), int(row["failed"])
    if blocked + failed >= th.change_failures_count and at > fx.now - window:
        await alerting.hold(fx, Condition(
            tenant_id, CHANGE_FAILURES, campaign_id, "warning",
            f"Campaign {campaign_id}: {blocked + failed} budget changes blocked or failed in {span(window)}",
            f"Guardrails blocked {blocked} and {failed} failed (Meta or the executor). Budgets are not moving as "
            "the sampler decided: check the campaign's guardrail limits and the executor's audit trail.",
            {"campaign_id": campaign_id, "blocked": blocked, "failed": failed,
             "window_hours": window / timedelta(hours=1)}))
    elif blocked + failed == 0:
        await alerting.clear(fx, tenant_id, CHANGE_FAILURES, campaign_id,
                             f"no change blocked or failed in the last {span(window)}")


async def meta_trouble(alerting: Alerting, fx: Effects, th: Thresholds, tenant_id: str, at: datetime) -> None:
    """Meta answering errors or throttling, without a clean success in between, for longer than X."""
    limit = th.seconds("meta_trouble_seconds")
    row = await fx.conn.fetchrow(
        "WITH clean AS (SELECT max(occurred_at) AS at FROM alert_outcomes WHERE tenant_id = $1 AND meta_clean"
        " AND occurred_at <= $2)"
        " SELECT count(*) AS n, min(o.occurred_at) AS first, max(o.occurred_at) AS last,"
        " count(*) FILTER (WHERE throttled) AS throttled, count(*) FILTER (WHERE outcome = 'failed') AS failed"
        " FROM alert_outcomes o, clean WHERE o.tenant_id = $1 AND o.meta_trouble AND o.occurred_at <= $2"
        " AND o.occurred_at > coalesce(clean.at, '-infinity')", tenant_id, at)
    assert row is not None  # an aggregate always answers one row
    n = int(row["n"])
    quiet = n == 0 or row["last"] <= at - limit
    if n and not quiet and row["last"] - row["first"] >= limit and at > fx.now - limit:
        lasting = row["last"] - row["first"]
        what = "throttling" if row["throttled"] == n else ("errors and throttling" if row["throttled"] else "errors")
        await alerting.hold(fx, Condition(
            tenant_id, META_TROUBLE, META, "critical", f"Meta has been answering {what} for {span(lasting)}",
            f"{n} budget changes met Meta errors since the last clean one ({row['failed']} failed for good). "
            "Budgets may be stuck where they are; the executor keeps retrying within its backoff.",
            {"changes_affected": n, "failed": int(row["failed"]), "throttled": int(row["throttled"]),
             "minutes": round(lasting / timedelta(minutes=1), 1)}))
    elif quiet:
        note = "Meta took a change at the first attempt again" if n == 0 else f"no Meta errors for {span(limit)}"
        await alerting.clear(fx, tenant_id, META_TROUBLE, META, note)


async def roas_collapse(alerting: Alerting, fx: Effects, th: Thresholds, decision: AllocationDecided) -> None:
    """An ad set whose whole 90% posterior interval is below the threshold: confident, not one bad day.

    It clears only when the posterior mean is back above the threshold, so an interval hovering at
    the line does not raise and resolve on every decision.
    """
    threshold = th.roas_threshold
    seen = set()
    for a in decision.allocations:
        mean, low, high = a.posterior_mean, a.posterior_low, a.posterior_high
        if mean is None or low is None or high is None:
            continue
        seen.add(a.entity_id)
        if high < threshold:
            await alerting.hold(fx, Condition(
                decision.tenant_id, ROAS_COLLAPSE, a.entity_id, "warning",
                f"Ad set {a.entity_id}: pipeline ROAS {mean:.2f} (90% interval {low:.2f}-{high:.2f}) is below "
                f"{threshold:g}",
                "Even the optimistic end of its posterior is below the threshold, so this is not one noisy day. "
                "The sampler is already moving budget away; consider pausing or replacing its ads.",
                {"entity_id": a.entity_id, "group_id": decision.group_id, "campaign_id": decision.campaign_id,
                 "posterior_mean": round(mean, 4), "posterior_low": round(low, 4), "posterior_high": round(high, 4),
                 "threshold": threshold, "share": round(a.share, 4), "budget_minor": a.budget_minor,
                 "decision_id": decision.decision_id}))
        elif mean >= threshold:
            await alerting.clear(fx, decision.tenant_id, ROAS_COLLAPSE, a.entity_id,
                                 f"pipeline ROAS {mean:.2f} ({low:.2f}-{high:.2f}) is back above {threshold:g}")
    for row in await alerting.firing(fx.conn, ROAS_COLLAPSE, decision.tenant_id):
        if row["facts"].get("group_id") == decision.group_id and row["subject"] not in seen:
            await alerting.clear(fx, decision.tenant_id, ROAS_COLLAPSE, row["subject"], "no longer allocated")


async def no_revenue(alerting: Alerting, fx: Effects, th: Thresholds, tenant_id: str, group_id: str) -> None:
    """Spend on each of the last N reported days and no pipeline revenue, in a group that used to convert."""
    days, lookback = int(th.no_revenue_days), int(th.no_revenue_lookback_days)
    row = await fx.conn.fetchrow(
        "WITH ref AS (SELECT max(day) AS day FROM alert_spend WHERE tenant_id = $1 AND group_id = $2)"
        " SELECT ref.day,"
        " (SELECT count(DISTINCT day) FROM alert_spend WHERE tenant_id = $1 AND group_id = $2 AND spend_minor > 0"
        "  AND day > ref.day - $3::int AND day <= ref.day) AS spend_days,"
        " (SELECT coalesce(sum(spend_minor), 0) FROM alert_spend WHERE tenant_id = $1 AND group_id = $2"
        "  AND day > ref.day - $3::int AND day <= ref.day) AS spend,"
        " (SELECT max(currency) FROM alert_spend WHERE tenant_id = $1 AND group_id = $2) AS currency,"
        " (SELECT coalesce(sum(credited_minor), 0) FROM alert_revenue WHERE tenant_id = $1 AND group_id = $2"
        "  AND day > ref.day - $3::int) AS revenue,"
        " (SELECT coalesce(sum(credited_minor), 0) FROM alert_revenue WHERE tenant_id = $1 AND group_id = $2"
        "  AND day > ref.day - $3::int - $4::int AND day <= ref.day - $3::int) AS before"
        " FROM ref", tenant_id, group_id, days, lookback)
    if row is None or row["day"] is None:
        return
    spend, revenue, before = int(row["spend"]), int(row["revenue"]), int(row["before"])
    if row["spend_days"] >= days and revenue == 0 and before > 0:
        await alerting.hold(fx, Condition(
            tenant_id, NO_REVENUE, group_id, "warning",
            f"Group {group_id}: {days} days of spend ({format_money(spend, row['currency'])}) without pipeline revenue",
            f"It brought {format_money(before, row['currency'])} of pipeline revenue in the {lookback} days before. "
            "Check the CRM connection and click tracking (webhooks, landing pages) before blaming the ads.",
            {"group_id": group_id, "days": days, "spend_minor": spend, "revenue_before_minor": before,
             "through_day": row["day"].isoformat()}))
    elif revenue > 0 or spend == 0:
        await alerting.clear(fx, tenant_id, NO_REVENUE, group_id,
                             "pipeline revenue is coming in again" if revenue > 0 else "the group stopped spending")


async def budget_unspent(alerting: Alerting, fx: Effects, th: Thresholds, tenant_id: str, group_id: str) -> None:
    """The group's last complete day (the day before its latest report) spent under a share of its total."""
    row = await fx.conn.fetchrow(
        "WITH d AS (SELECT max(day) - 1 AS day FROM alert_spend WHERE tenant_id = $1 AND group_id = $2)"
        " SELECT g.total_budget_minor AS total, g.currency, d.day, count(s.entity_id) AS reports,"
        " coalesce(sum(s.spend_minor), 0) AS spend FROM alert_groups g CROSS JOIN d"
        " LEFT JOIN alert_spend s ON s.tenant_id = g.tenant_id AND s.group_id = g.group_id AND s.day = d.day"
        " WHERE g.tenant_id = $1 AND g.group_id = $2 GROUP BY g.total_budget_minor, g.currency, d.day",
        tenant_id, group_id)
    if row is None or row["day"] is None or not row["reports"] or not row["total"]:
        return
    spend, total, share = int(row["spend"]), int(row["total"]), float(th.unspent_fraction)
    pct = 100.0 * spend / total
    if spend < share * total:
        await alerting.hold(fx, Condition(
            tenant_id, BUDGET_UNSPENT, group_id, "warning",
            f"Group {group_id} spent {format_money(spend, row['currency'])} of its "
            f"{format_money(total, row['currency'])} daily budget on {row['day']} ({pct:.0f}%)",
            "Budget left unspent means Meta did not deliver: check the ad sets' delivery status, audiences, bids "
            "and the ad account's payment method.",
            {"group_id": group_id, "day": row["day"].isoformat(), "spend_minor": spend, "total_minor": total,
             "share": round(spend / total, 4), "threshold": share}))
    else:
        await alerting.clear(fx, tenant_id, BUDGET_UNSPENT, group_id, f"spent {pct:.0f}% of the budget on {row['day']}")
