"""The daily report's numbers: one tenant, one local day and the seven days ending with it.

Read from the stages' own tables - spend (``spend_daily``), credited revenue (``revenue_ledger``),
the sampler's latest posterior per ad set (``sampler_decisions``), the executor's changes
(``ad_change_history``) and the alerts raised (``alert_notices``) - in a fixed number of queries,
whatever the number of campaigns. Days are the tenant's (``tenants.time_zone``); spend days are the
ad account's, which is the tenant's in every sane setup.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schemas.money import format_money
from schemas.pipeline import canonical_stage
from streams.core.controls.stage_values import get_stage_mappings
from streams.core.db import Conn

DAYS = 7
MADE = ("completed", "clamped", "dry_run")
STAGE_COLUMNS = ("lead", "appointment", "won", "lost")


@dataclass
class Line:
    """One ad set (or campaign-level entity): yesterday and the week."""

    campaign_id: str
    entity_id: str
    spend: list[int] = field(default_factory=lambda: [0] * DAYS)
    revenue: list[int] = field(default_factory=lambda: [0] * DAYS)
    by_stage: Counter[str] = field(default_factory=Counter)
    posterior: tuple[float, float, float] | None = None
    budget_minor: int | None = None
    changes_day: Counter[str] = field(default_factory=Counter)
    changes_week: Counter[str] = field(default_factory=Counter)

    def roas(self, days: int) -> float | None:
        spend = sum(self.spend[-days:])
        return sum(self.revenue[-days:]) / spend if spend > 0 else None


@dataclass(frozen=True)
class Move:
    campaign_id: str
    entity_id: str
    previous_minor: int
    applied_minor: int
    status: str
    why: str


@dataclass
class DailyReport:
    tenant_id: str
    day: date
    currency: str
    time_zone: str
    lines: dict[tuple[str, str], Line] = field(default_factory=dict)
    moves: list[Move] = field(default_factory=list)
    waiting: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def days(self) -> list[date]:
        return [self.day - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]

    def line(self, campaign_id: str, entity_id: str) -> Line:
        return self.lines.setdefault((campaign_id, entity_id), Line(campaign_id, entity_id))

    def campaigns(self) -> dict[str, list[Line]]:
        grouped: dict[str, list[Line]] = defaultdict(list)
        for (campaign, _), line in sorted(self.lines.items()):
            grouped[campaign].append(line)
        return dict(grouped)

    def total(self, what: str, days: int = DAYS) -> int:
        return sum(sum(getattr(line, what)[-days:]) for line in self.lines.values())

    def changes(self, period: str) -> Counter[str]:
        total: Counter[str] = Counter()
        for line in self.lines.values():
            total.update(line.changes_day if period == "day" else line.changes_week)
        return total

    def money(self, minor: int) -> str:
        return format_money(minor, self.currency)

    def summary(self) -> str:
        """A few lines for a chat message or an e-mail's plain-text part."""
        spend, revenue = self.total("spend", 1), self.total("revenue", 1)
        roas = f"{revenue / spend:.2f}" if spend else "n/a"
        day = self.changes("day")
        return "\n".join([
            f"Daily report for {self.tenant_id}, {self.day.isoformat()} ({self.time_zone})", "",
            f"Spend {self.money(spend)}, pipeline revenue {self.money(revenue)}, pipeline ROAS {roas}.",
            f"Last 7 days: spend {self.money(self.total('spend'))}, "
            f"pipeline revenue {self.money(self.total('revenue'))}.",
            f"Budget changes: {sum(day[s] for s in MADE)} made, {day['blocked']} blocked, {day['failed']} failed, "
            f"{self.waiting} waiting for approval. Alerts raised: {len(self.alerts)}.",
        ])


def time_zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


async def build_report(conn: Conn, tenant_id: str, day: date, default_currency: str = "USD") -> DailyReport:
    tenant = await conn.fetchrow("SELECT currency, time_zone FROM tenants WHERE tenant_id = $1", tenant_id)
    tz_name = tenant["time_zone"] if tenant is not None else "UTC"
    tz = time_zone(tz_name)
    report = DailyReport(tenant_id, day, (tenant["currency"].strip() if tenant is not None else default_currency),
                         tz.key)
    first = day - timedelta(days=DAYS - 1)
    start = datetime.combine(first, time(), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)
    index = {d: i for i, d in enumerate(report.days)}
    for r in await conn.fetch("SELECT campaign_id, entity_id, day, spend_minor FROM spend_daily WHERE tenant_id = $1"
                              " AND day BETWEEN $2 AND $3", tenant_id, first, day):
        report.line(r["campaign_id"], r["entity_id"]).spend[index[r["day"]]] += int(r["spend_minor"])
    await _revenue(conn, report, tz_name, start, end, index)
    await _posteriors(conn, report, end)
    await _changes(conn, report, start, end)
    report.alerts = [dict(r) for r in await conn.fetch(
        "SELECT n.occurred_at, n.rule, n.title, a.severity FROM alert_notices n JOIN alerts a USING (alert_id)"
        " WHERE n.tenant_id = $1 AND n.notice = 'raised' AND n.occurred_at >= $2 AND n.occurred_at < $3"
        " ORDER BY n.occurred_at", tenant_id, start, end)]
    return report


async def _revenue(conn: Conn, report: DailyReport, tz_name: str, start: datetime, end: datetime,
                   index: dict[date, int]) -> None:
    mappings = await get_stage_mappings(conn, report.tenant_id)
    rows = await conn.fetch(
        "SELECT campaign_id, adset_id, stage_id, (occurred_at AT TIME ZONE $4)::date AS day,"
        " sum(amount_minor) AS amount"
        " FROM revenue_ledger WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3"
        " GROUP BY campaign_id, adset_id, stage_id, 4", report.tenant_id, start, end, time_zone(tz_name).key)
    for r in rows:
        line = report.line(r["campaign_id"], r["adset_id"])
        amount = int(r["amount"])
        if r["day"] in index:
            line.revenue[index[r["day"]]] += amount
        line.by_stage[canonical_stage(r["stage_id"], mappings) or "other"] += amount


async def _posteriors(conn: Conn, report: DailyReport, end: datetime) -> None:
    """Each ad set's pipeline ROAS posterior (mean, 90% interval) as the group's last decision saw it."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (group_id) group_id, payload FROM sampler_decisions WHERE tenant_id = $1"
        " AND decided_at < $2 ORDER BY group_id, decided_at DESC", report.tenant_id, end)
    for r in rows:
        payload = r["payload"] if isinstance(r["payload"], dict) else {}
        campaign = str(payload.get("campaign_id") or r["group_id"])
        for a in payload.get("allocations") or []:
            line = report.line(campaign, str(a["entity_id"]))
            line.budget_minor = a.get("budget_minor")
            if None not in (a.get("posterior_mean"), a.get("posterior_low"), a.get("posterior_high")):
                line.posterior = (float(a["posterior_mean"]), float(a["posterior_low"]), float(a["posterior_high"]))


async def _changes(conn: Conn, report: DailyReport, start: datetime, end: datetime) -> None:
    day_start = end - timedelta(days=1)
    rows = await conn.fetch(
        "SELECT campaign_id, entity_id, status, previous_budget_minor AS previous, applied_budget_minor AS applied,"
        " reason, guardrails, decision_id, coalesce(settled_at, decided_at) AS at FROM ad_change_history"
        " WHERE tenant_id = $1 AND coalesce(settled_at, decided_at) >= $2 AND coalesce(settled_at, decided_at) < $3",
        report.tenant_id, start, end)
    report.waiting = int(await conn.fetchval(
        "SELECT count(*) FROM ad_change_history WHERE tenant_id = $1 AND status = 'awaiting_approval'",
        report.tenant_id))
    moved = []
    for r in rows:
        line = report.line(r["campaign_id"], r["entity_id"])
        status = r["status"]
        if status in MADE and (r["applied"] is None or r["applied"] == r["previous"]):
            status = "unchanged"
        line.changes_week[status] += 1
        if r["at"] >= day_start:
            line.changes_day[status] += 1
            if status in MADE and r["previous"] is not None:
                moved.append(r)
    moved.sort(key=lambda r: abs(int(r["applied"]) - int(r["previous"])), reverse=True)
    for r in moved[:5]:
        report.moves.append(Move(r["campaign_id"], r["entity_id"], int(r["previous"]), int(r["applied"]), r["status"],
                                 _why(report, r)))


def _why(report: DailyReport, row: Any) -> str:
    parts = [str(row["reason"] or "requested by an operator")]
    line = report.lines.get((row["campaign_id"], row["entity_id"]))
    if line is not None and line.posterior is not None:
        mean, low, high = line.posterior
        parts.append(f"pipeline ROAS {mean:.2f} ({low:.2f}-{high:.2f})")
    limited = [g.get("detail") or g.get("name") for g in (row["guardrails"] or []) if not g.get("passed", True)]
    if limited:
        parts.append("limited by " + "; ".join(str(x) for x in limited))
    return "; ".join(parts)
